//! Wall-clock times as WhatsApp writes them.
//!
//! An export carries the phone's local time with no zone or offset, so a
//! parsed time is only a calendar date and a clock reading. Turning it into an
//! instant needs the UTC offset the phone was in, which the caller must supply
//! (from the custodian's statement, the import command, or a default). This
//! module does no zone lookups and knows nothing about daylight saving.

use std::fmt;

/// A local date and time read from a message header, without zone.
///
/// Field order makes the derived ordering chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTimestamp {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl LocalTimestamp {
    /// Builds a timestamp, or `None` when the date does not exist (31 April,
    /// 29 February in a common year) or the clock reading is out of range.
    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<Self> {
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour <= 23
            && minute <= 59
            && second <= 59;
        valid.then_some(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// Seconds since 1970-01-01T00:00:00Z, taking this wall-clock time to be
    /// `utc_offset_seconds` ahead of UTC (e.g. `3600` for CET, `-18000` for EST).
    pub fn unix_seconds(&self, utc_offset_seconds: i32) -> i64 {
        let days = days_since_unix_epoch(i64::from(self.year), self.month, self.day);
        let seconds_of_day =
            i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second);
        days * 86_400 + seconds_of_day - i64::from(utc_offset_seconds)
    }
}

impl fmt::Display for LocalTimestamp {
    /// ISO 8601 without offset, e.g. `2023-12-31T21:41:05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date, counting in
/// 400-year eras so that leap rules fall out of the arithmetic.
fn days_since_unix_epoch(year: i64, month: u8, day: u8) -> i64 {
    // Counting years from March puts the leap day at the end of the year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 is the number of days from 0000-03-01 to 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_match_known_instants() {
        let cases = [
            ((1970, 1, 1, 0, 0, 0), 0, 0),
            ((2000, 2, 29, 12, 0, 0), 0, 951_825_600),
            ((2023, 12, 31, 21, 41, 5), 0, 1_704_058_865),
            ((2023, 12, 31, 21, 41, 5), 3600, 1_704_055_265),
            ((2024, 3, 1, 0, 0, 0), -18_000, 1_709_269_200),
            ((2100, 3, 1, 0, 0, 0), 0, 4_107_542_400),
        ];
        for ((y, mo, d, h, mi, s), offset, expected) in cases {
            let timestamp = LocalTimestamp::new(y, mo, d, h, mi, s).unwrap();
            assert_eq!(
                timestamp.unix_seconds(offset),
                expected,
                "{timestamp} @ {offset}"
            );
        }
    }

    #[test]
    fn impossible_dates_are_rejected() {
        assert!(LocalTimestamp::new(2023, 2, 29, 0, 0, 0).is_none());
        assert!(LocalTimestamp::new(2024, 2, 29, 0, 0, 0).is_some());
        assert!(LocalTimestamp::new(1900, 2, 29, 0, 0, 0).is_none());
        assert!(LocalTimestamp::new(2000, 2, 29, 0, 0, 0).is_some());
        assert!(LocalTimestamp::new(2023, 4, 31, 0, 0, 0).is_none());
        assert!(LocalTimestamp::new(2023, 13, 1, 0, 0, 0).is_none());
        assert!(LocalTimestamp::new(2023, 1, 1, 24, 0, 0).is_none());
        assert!(LocalTimestamp::new(2023, 1, 0, 0, 0, 0).is_none());
    }
}
