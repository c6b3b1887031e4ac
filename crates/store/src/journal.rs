//! The hash chain over the event log. Each event's hash covers the previous
//! event's hash and the event's canonical content, so altering, removing or
//! reordering any stored event is detected by recomputing the chain.

use conclave_domain::Event;
use sha2::{Digest, Sha256};

/// The hash before the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical bytes of an event: its position, time, audience and the
/// payload's JSON, joined with a separator no JSON can contain unescaped.
pub fn canonical_bytes(event: &Event, payload_json: &str) -> Vec<u8> {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        event.position,
        event.created_at,
        event.channel_id.map_or(String::new(), |id| id.to_string()),
        event.subject_user_id.map_or(String::new(), |id| id.to_string()),
        u8::from(event.private),
        payload_json
    )
    .into_bytes()
}

/// The chain hash of `event` after `previous_hash`, hex encoded.
pub fn chain_hash(previous_hash: &str, event: &Event, payload_json: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous_hash.as_bytes());
    hasher.update(canonical_bytes(event, payload_json));
    hex::encode(hasher.finalize())
}
