//! The hash chain over the event log. Each event's hash covers the previous
//! event's hash and the event's canonical content, so altering, removing or
//! reordering any stored event is detected by recomputing the chain.

use conclave_domain::Event;
use sha2::{Digest, Sha256};

/// The hash before the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical bytes of an event: its position, time, audience and the
/// SHA-256 digest of the payload's JSON, joined with a separator no JSON can
/// contain unescaped. Chaining over the payload's digest rather than the
/// payload itself lets retention and erasure replace a payload with a
/// redacted stub while the chain stays verifiable: the original digest is
/// kept beside the stub (`journal_redactions`).
pub fn canonical_bytes_with_digest(event: &Event, payload_digest: &str) -> Vec<u8> {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}sha256:{}",
        event.position,
        event.created_at,
        event.channel_id.map_or(String::new(), |id| id.to_string()),
        event
            .subject_user_id
            .map_or(String::new(), |id| id.to_string()),
        u8::from(event.private),
        payload_digest
    )
    .into_bytes()
}

/// The hex SHA-256 of a payload's JSON text.
pub fn payload_digest(payload_json: &str) -> String {
    hex::encode(Sha256::digest(payload_json.as_bytes()))
}

/// The chain hash of `event` after `previous_hash`, hex encoded.
pub fn chain_hash(previous_hash: &str, event: &Event, payload_json: &str) -> String {
    chain_hash_with_digest(previous_hash, event, &payload_digest(payload_json))
}

/// The chain hash given the payload's digest instead of its text.
pub fn chain_hash_with_digest(previous_hash: &str, event: &Event, payload_digest: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous_hash.as_bytes());
    hasher.update(canonical_bytes_with_digest(event, payload_digest));
    hex::encode(hasher.finalize())
}

/// The first chain format, which hashed the payload text directly. Journals
/// written before digests were introduced verify with it; their entries
/// cannot be redacted verifiably.
pub fn legacy_chain_hash(previous_hash: &str, event: &Event, payload_json: &str) -> String {
    let canonical = format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        event.position,
        event.created_at,
        event.channel_id.map_or(String::new(), |id| id.to_string()),
        event
            .subject_user_id
            .map_or(String::new(), |id| id.to_string()),
        u8::from(event.private),
        payload_json
    );
    let mut hasher = Sha256::new();
    hasher.update(previous_hash.as_bytes());
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// Checks one stored journal row. `redacted_digest` is the digest recorded
/// when the row's payload was replaced by a stub.
pub fn row_is_intact(
    previous_hash: &str,
    event: &Event,
    payload_json: &str,
    redacted_digest: Option<&str>,
    stored_hash: &str,
) -> bool {
    match redacted_digest {
        Some(digest) => chain_hash_with_digest(previous_hash, event, digest) == stored_hash,
        None => {
            chain_hash(previous_hash, event, payload_json) == stored_hash
                || legacy_chain_hash(previous_hash, event, payload_json) == stored_hash
        }
    }
}
