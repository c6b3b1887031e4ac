//! The hash chain over the event log. Each event's hash covers the previous
//! event's hash and the event's canonical content, so altering, removing or
//! reordering any stored event is detected by recomputing the chain.
//!
//! A bulk import entry (`messages_imported`) is chained over a digest of its
//! records' digests instead of its text, so retention and erasure can blank
//! single records inside it while every other record stays covered.

use conclave_domain::event::ImportedRecord;
use conclave_domain::{ChannelId, Event, EventPayload};
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
    chain_hash_with_digest(
        previous_hash,
        event,
        &chained_digest(&event.payload, payload_json),
    )
}

/// The payload digest the chain covers: the digest of the payload's JSON,
/// except for a bulk import entry, whose digest is built from its records'
/// digests ([`bulk_import_digest`]) and so survives their redaction.
pub fn chained_digest(payload: &EventPayload, payload_json: &str) -> String {
    match payload {
        EventPayload::MessagesImported {
            channel_id,
            messages,
        } => bulk_import_digest(*channel_id, messages),
        _ => payload_digest(payload_json),
    }
}

/// The digest of one imported record as first journalled; a redacted
/// record carries it.
pub fn imported_record_digest(record: &ImportedRecord) -> String {
    match &record.redacted_sha256 {
        Some(digest) => digest.clone(),
        None => {
            // A struct serialises its fields in declaration order, and the
            // redaction marker is skipped while absent: the same record
            // always gives the same bytes.
            let json = serde_json::to_string(record).unwrap_or_default();
            payload_digest(&json)
        }
    }
}

/// The digest of a `messages_imported` entry: its kind, channel and the
/// digest of each record, in order.
pub fn bulk_import_digest(channel_id: ChannelId, messages: &[ImportedRecord]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("messages_imported\u{1f}{channel_id}").as_bytes());
    for record in messages {
        hasher.update(b"\x1f");
        hasher.update(imported_record_digest(record).as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Blanks a record of a bulk import entry (retention, erasure), keeping
/// its first digest; a record blanked before is left as it is.
pub fn redact_imported_record(record: &mut ImportedRecord) {
    if record.redacted_sha256.is_none() {
        record.redacted_sha256 = Some(imported_record_digest(record));
        record.text.clear();
        record.attachment_ids.clear();
    }
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
    if let EventPayload::MessagesImported {
        channel_id,
        messages,
    } = &event.payload
    {
        // The chain covers every record, blanked or not; a blanked record
        // without a redaction entry, or an entry that disagrees, is a
        // forgery.
        let digest = bulk_import_digest(*channel_id, messages);
        let blanked = messages
            .iter()
            .any(|record| record.redacted_sha256.is_some());
        return match redacted_digest {
            Some(recorded) if recorded != digest => false,
            None if blanked => false,
            _ => chain_hash_with_digest(previous_hash, event, &digest) == stored_hash,
        };
    }
    match redacted_digest {
        Some(digest) => chain_hash_with_digest(previous_hash, event, digest) == stored_hash,
        None => {
            chain_hash(previous_hash, event, payload_json) == stored_hash
                || legacy_chain_hash(previous_hash, event, payload_json) == stored_hash
        }
    }
}
