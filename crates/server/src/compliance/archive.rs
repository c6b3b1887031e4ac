//! A streaming writer for stored (uncompressed) ZIP archives, used to pack
//! one `.eml` file per message into a few large files.
//!
//! Each entry's size and CRC-32 are known before it is written, so every
//! local header is complete and no data descriptors are used: streaming
//! readers (Java's `ZipInputStream`, `bsdtar`) read the archive as well as
//! readers that start from the central directory. The central directory is
//! built while entries are written, a few dozen bytes per entry.
//!
//! The writer never seeks and never uses ZIP64: callers keep an archive
//! under [`MAX_ENTRIES`] entries and 4 GiB, which is what
//! [`StoredZip::fits`] checks. It must not be used for untrusted names.

use std::io::{self, Read, Write};

/// The most entries an archive without ZIP64 can count.
pub const MAX_ENTRIES: u32 = u16::MAX as u32;

const LOCAL_HEADER: u64 = 30;
const CENTRAL_HEADER: u64 = 46;
const END_OF_CENTRAL_DIRECTORY: u64 = 22;
/// Version 1.0: stored entries without data descriptors or ZIP64.
const VERSION_NEEDED: u16 = 10;
/// Made by Unix (3), specification 2.0, so the external attributes carry
/// Unix permissions.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// A regular file, `rw-r--r--`.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;

/// A stored ZIP archive being written to `out`.
pub struct StoredZip<W: Write> {
    out: W,
    offset: u64,
    central: Vec<u8>,
    entries: u32,
}

impl<W: Write> StoredZip<W> {
    pub fn new(out: W) -> StoredZip<W> {
        StoredZip {
            out,
            offset: 0,
            central: Vec::new(),
            entries: 0,
        }
    }

    pub fn entries(&self) -> u32 {
        self.entries
    }

    /// Bytes the archive will have once finished with nothing more added.
    pub fn finished_size(&self) -> u64 {
        self.offset + self.central.len() as u64 + END_OF_CENTRAL_DIRECTORY
    }

    /// Whether an entry of `len` bytes named `name_len` bytes can still be
    /// added without ZIP64.
    pub fn fits(&self, name_len: usize, len: u64) -> bool {
        let grown = self.finished_size() + LOCAL_HEADER + CENTRAL_HEADER + 2 * name_len as u64;
        self.entries < MAX_ENTRIES
            && name_len <= usize::from(u16::MAX)
            && grown.saturating_add(len) <= u64::from(u32::MAX)
    }

    /// Adds an entry holding `content`.
    pub fn add(
        &mut self,
        name: &str,
        modified_unix_seconds: i64,
        content: &[u8],
    ) -> io::Result<()> {
        let crc = crc32fast::hash(content);
        self.header(name, modified_unix_seconds, crc, content.len() as u64)?;
        self.out.write_all(content)?;
        self.offset += content.len() as u64;
        Ok(())
    }

    /// Adds an entry of `len` bytes read from `content`, whose CRC-32 the
    /// caller computed while producing it. Fails, leaving the archive
    /// unusable, when `content` does not hold exactly `len` bytes.
    pub fn add_from(
        &mut self,
        name: &str,
        modified_unix_seconds: i64,
        crc: u32,
        len: u64,
        content: &mut impl Read,
    ) -> io::Result<()> {
        self.header(name, modified_unix_seconds, crc, len)?;
        let copied = io::copy(&mut content.take(len), &mut self.out)?;
        self.offset += copied;
        if copied != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("archive entry {name} ended after {copied} of {len} bytes"),
            ));
        }
        Ok(())
    }

    /// Writes the central directory and answers the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        let directory_offset = self.offset;
        self.out.write_all(&self.central)?;
        let mut end = Vec::with_capacity(END_OF_CENTRAL_DIRECTORY as usize);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // this disk
        end.extend_from_slice(&0u16.to_le_bytes()); // disk with the directory
        end.extend_from_slice(&narrow16(self.entries)?.to_le_bytes());
        end.extend_from_slice(&narrow16(self.entries)?.to_le_bytes());
        end.extend_from_slice(&narrow32(self.central.len() as u64)?.to_le_bytes());
        end.extend_from_slice(&narrow32(directory_offset)?.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.out.write_all(&end)?;
        Ok(self.out)
    }

    fn header(
        &mut self,
        name: &str,
        modified_unix_seconds: i64,
        crc: u32,
        len: u64,
    ) -> io::Result<()> {
        if !self.fits(name.len(), len) {
            return Err(io::Error::other(format!(
                "archive entry {name} ({len} bytes) does not fit a ZIP archive without ZIP64"
            )));
        }
        let (time, date) = dos_time(modified_unix_seconds);
        let size = narrow32(len)?;
        let name_len = u16::try_from(name.len()).map_err(io::Error::other)?;
        let offset = narrow32(self.offset)?;

        let mut local = [0u8; LOCAL_HEADER as usize];
        put32(&mut local, 0, 0x0403_4b50);
        put16(&mut local, 4, VERSION_NEEDED);
        // 6: flags, 8: method "stored", both zero.
        put16(&mut local, 10, time);
        put16(&mut local, 12, date);
        put32(&mut local, 14, crc);
        put32(&mut local, 18, size);
        put32(&mut local, 22, size);
        put16(&mut local, 26, name_len);
        // 28: no extra field.
        self.out.write_all(&local)?;
        self.out.write_all(name.as_bytes())?;
        self.offset += LOCAL_HEADER + name.len() as u64;

        let mut central = [0u8; CENTRAL_HEADER as usize];
        put32(&mut central, 0, 0x0201_4b50);
        put16(&mut central, 4, VERSION_MADE_BY);
        put16(&mut central, 6, VERSION_NEEDED);
        put16(&mut central, 12, time);
        put16(&mut central, 14, date);
        put32(&mut central, 16, crc);
        put32(&mut central, 20, size);
        put32(&mut central, 24, size);
        put16(&mut central, 28, name_len);
        // 30: extra, 32: comment, 34: disk, 36: internal attributes, all zero.
        put32(&mut central, 38, EXTERNAL_ATTRIBUTES);
        put32(&mut central, 42, offset);
        self.central.extend_from_slice(&central);
        self.central.extend_from_slice(name.as_bytes());
        self.entries += 1;
        Ok(())
    }
}

fn put16(buffer: &mut [u8], at: usize, value: u16) {
    buffer[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

fn put32(buffer: &mut [u8], at: usize, value: u32) {
    buffer[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn narrow16(value: u32) -> io::Result<u16> {
    u16::try_from(value)
        .map_err(|_| io::Error::other("too many archive entries for ZIP without ZIP64"))
}

fn narrow32(value: u64) -> io::Result<u32> {
    u32::try_from(value).map_err(|_| io::Error::other("archive too large for ZIP without ZIP64"))
}

/// MS-DOS time and date (local time by the format's definition; UTC here),
/// clamped to the years the format can hold, 1980 to 2107.
fn dos_time(unix_seconds: i64) -> (u16, u16) {
    let civil = Civil::from_unix_seconds(unix_seconds);
    if civil.year < 1980 {
        return (0, (1 << 5) | 1);
    }
    if civil.year > 2107 {
        return ((23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31);
    }
    let time = (civil.hour << 11) | (civil.minute << 5) | (civil.second / 2);
    let date = (((civil.year - 1980) as u32) << 9) | (civil.month << 5) | civil.day;
    (time as u16, date as u16)
}

/// A UTC calendar time, computed without a time zone database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 is Sunday.
    pub weekday: u32,
}

impl Civil {
    /// The proleptic Gregorian calendar date of a Unix time, after Howard
    /// Hinnant's `civil_from_days`.
    pub fn from_unix_seconds(unix_seconds: i64) -> Civil {
        let days = unix_seconds.div_euclid(86_400);
        let second_of_day = unix_seconds.rem_euclid(86_400) as u32;
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        } as u32;
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: second_of_day / 3_600,
            minute: second_of_day / 60 % 60,
            second: second_of_day % 60,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_the_time_crate() {
        for seconds in [
            0,
            -1,
            951_782_400, // 2000-02-29
            1_700_000_000,
            4_102_444_800, // 2100-01-01
            -62_135_596_800,
            253_402_300_799,
        ] {
            let expected = time::OffsetDateTime::from_unix_timestamp(seconds).unwrap();
            let civil = Civil::from_unix_seconds(seconds);
            assert_eq!(
                (
                    civil.year,
                    civil.month,
                    civil.day,
                    civil.hour,
                    civil.minute,
                    civil.second,
                    civil.weekday
                ),
                (
                    i64::from(expected.year()),
                    u32::from(u8::from(expected.month())),
                    u32::from(expected.day()),
                    u32::from(expected.hour()),
                    u32::from(expected.minute()),
                    u32::from(expected.second()),
                    u32::from(expected.weekday().number_days_from_sunday())
                ),
                "{seconds}"
            );
        }
    }

    #[test]
    fn a_standard_reader_reads_every_entry_back() {
        let mut archive = StoredZip::new(Vec::new());
        archive.add("a/1.eml", 1_700_000_000, b"first").unwrap();
        archive.add("a/2.eml", 0, b"").unwrap();
        let spooled = b"second, added from a reader".to_vec();
        archive
            .add_from(
                "b/3.eml",
                4_200_000_000,
                crc32fast::hash(&spooled),
                spooled.len() as u64,
                &mut spooled.as_slice(),
            )
            .unwrap();
        assert_eq!(archive.entries(), 3);
        let expected_size = archive.finished_size();
        let bytes = archive.finish().unwrap();
        assert_eq!(bytes.len() as u64, expected_size);

        let mut reader = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut seen = Vec::new();
        for index in 0..reader.len() {
            let mut entry = reader.by_index(index).unwrap();
            assert_eq!(entry.compression(), zip::CompressionMethod::Stored);
            let mut content = Vec::new();
            // Reading to the end checks the CRC-32.
            entry.read_to_end(&mut content).unwrap();
            seen.push((entry.name().unwrap().to_string(), content));
        }
        assert_eq!(
            seen,
            vec![
                ("a/1.eml".to_string(), b"first".to_vec()),
                ("a/2.eml".to_string(), Vec::new()),
                ("b/3.eml".to_string(), spooled),
            ]
        );
        let modified = reader.by_name("a/1.eml").unwrap().last_modified().unwrap();
        // 2023-11-14 22:13:20 UTC.
        assert_eq!(
            (
                modified.year(),
                modified.month(),
                modified.day(),
                modified.hour(),
                modified.minute()
            ),
            (2023, 11, 14, 22, 13)
        );
    }

    #[test]
    fn a_short_reader_is_an_error_not_a_corrupt_entry() {
        let mut archive = StoredZip::new(Vec::new());
        let error = archive
            .add_from("x.eml", 0, 0, 10, &mut &b"short"[..])
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn fits_refuses_what_needs_zip64() {
        let archive = StoredZip::new(Vec::new());
        assert!(archive.fits(10, 1_000_000));
        assert!(!archive.fits(10, u64::from(u32::MAX)));
    }
}
