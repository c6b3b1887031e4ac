//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP: HMAC-SHA-1,
//! 30-second steps, 6 digits — what every authenticator app speaks) and
//! single-use recovery codes.
//!
//! This module only computes and checks codes; remembering which step was
//! used (so a code works once) is the store's job.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Seconds per TOTP time step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps either side of now that are still accepted, for clock drift.
pub const DRIFT_STEPS: i64 = 1;
/// Bytes of a new shared secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
/// Recovery codes handed out at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// Letters and digits that cannot be mistaken for one another.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// HOTP (RFC 4226) with `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // Dynamic truncation: the low nibble of the last byte picks 4 bytes.
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    binary % 10u32.pow(digits)
}

/// The time step that `unix_millis` falls in.
pub fn step_at(unix_millis: i64) -> i64 {
    unix_millis.div_euclid(1_000).div_euclid(STEP_SECS)
}

/// The code for one time step, zero-padded.
pub fn code_for_step(secret: &[u8], step: i64) -> String {
    let counter = u64::try_from(step).unwrap_or(0);
    format!(
        "{:0width$}",
        hotp(secret, counter, DIGITS),
        width = DIGITS as usize
    )
}

/// Checks a code typed by a person (spaces allowed) against the steps around
/// `now_millis`. Answers the matching step, which the caller must record as
/// used before accepting it.
pub fn verify(secret: &[u8], code: &str, now_millis: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(now_millis);
    // Check every candidate, so timing does not tell which one matched.
    let mut matched = None;
    for step in (now - DRIFT_STEPS..=now + DRIFT_STEPS).filter(|step| *step >= 0) {
        if constant_time_eq(code_for_step(secret, step).as_bytes(), code.as_bytes()) {
            matched = Some(step);
        }
    }
    matched
}

/// Whether `text` has the shape of a TOTP code (rather than a recovery
/// code).
pub fn looks_like_totp(text: &str) -> bool {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit())
}

pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill(&mut secret[..]);
    secret
}

/// The secret as authenticator apps take it: base32 without padding.
pub fn encode_secret(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` URI that authenticator apps read from a QR code
/// (Google Authenticator's key URI format).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let label = format!("{issuer}:{account}");
    format!(
        "otpauth://totp/{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        percent_encode(&label),
        encode_secret(secret),
        percent_encode(issuer)
    )
}

/// Fresh recovery codes, shown to the user once, as `xxxxx-xxxxx` (50 bits
/// each).
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let letters: String = (0..10)
                .map(|_| {
                    char::from(RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())])
                })
                .collect();
            format!("{}-{}", &letters[..5], &letters[5..])
        })
        .collect()
}

/// What is stored instead of a recovery code. The codes are random with 50
/// bits each, so a fast hash suffices; case, spaces and dashes are ignored.
pub fn recovery_code_hash(code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn percent_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits), and RFC 4226 appendix D.
    #[test]
    fn rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (unix_secs, expected) in [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(secret, unix_secs / 30, 8), expected, "T = {unix_secs}");
            let six = format!("{:06}", expected % 1_000_000);
            assert_eq!(
                code_for_step(secret, step_at(i64::try_from(unix_secs).unwrap() * 1000)),
                six
            );
        }
        let rfc4226 = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, expected) in rfc4226.iter().enumerate() {
            assert_eq!(hotp(secret, counter as u64, 6), *expected);
        }
    }

    #[test]
    fn verify_accepts_one_step_of_drift_only() {
        let secret = new_secret();
        let now = 1_700_000_000_000;
        let step = step_at(now);
        assert_eq!(
            verify(&secret, &code_for_step(&secret, step), now),
            Some(step)
        );
        assert_eq!(
            verify(&secret, &code_for_step(&secret, step - 1), now),
            Some(step - 1)
        );
        assert_eq!(
            verify(&secret, &code_for_step(&secret, step + 1), now),
            Some(step + 1)
        );
        assert_eq!(
            verify(&secret, &code_for_step(&secret, step - 2), now),
            None
        );
        let spaced = code_for_step(&secret, step);
        assert_eq!(
            verify(&secret, &format!("{} {}", &spaced[..3], &spaced[3..]), now),
            Some(step)
        );
        assert_eq!(verify(&secret, "12345", now), None);
        assert_eq!(verify(&secret, "abcdef", now), None);
    }

    #[test]
    fn secrets_uris_and_recovery_codes() {
        let secret = b"12345678901234567890";
        assert_eq!(encode_secret(secret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let uri = otpauth_uri("Conclave Corp", "ann@example.com", secret);
        assert_eq!(
            uri,
            "otpauth://totp/Conclave%20Corp%3Aann%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Conclave%20Corp&algorithm=SHA1&digits=6&period=30"
        );
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(
            codes
                .iter()
                .all(|code| code.len() == 11 && code.as_bytes()[5] == b'-')
        );
        assert_eq!(
            recovery_code_hash(&codes[0]),
            recovery_code_hash(&codes[0].to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_code_hash(&codes[0]), recovery_code_hash(&codes[1]));
        assert!(looks_like_totp("123 456") && !looks_like_totp(&codes[0]));
    }
}
