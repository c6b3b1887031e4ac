//! Where sealed content is opened: at the store's boundary. Inside a
//! backend, message text, versions and the text inside journal payloads
//! are the sealed strings as stored (so the journal's content check compares
//! them as they are, without keys); everything a backend answers through
//! [`crate::Store`] passes through these helpers first.

use conclave_domain::command::OutcomeValue;
use conclave_domain::compliance::ArchivedMessage;
use conclave_domain::external::WhatsAppMessageRecord;
use conclave_domain::{Event, EventPayload, Message, MessageVersion, Outcome};
pub use conclave_keys::{KeyError, Keyring};

use crate::StoreError;

impl From<KeyError> for StoreError {
    fn from(error: KeyError) -> StoreError {
        StoreError::Backend(error.to_string())
    }
}

pub fn open_message(keyring: &Keyring, message: &mut Message) {
    keyring.open_in_place(&mut message.text);
}

pub fn open_messages(keyring: &Keyring, messages: &mut [Message]) {
    for message in messages {
        open_message(keyring, message);
    }
}

pub fn open_versions(keyring: &Keyring, versions: &mut [MessageVersion]) {
    for version in versions {
        keyring.open_in_place(&mut version.text);
    }
}

pub fn open_archived(keyring: &Keyring, archived: &mut ArchivedMessage) {
    open_message(keyring, &mut archived.message);
    open_versions(keyring, &mut archived.versions);
}

pub fn open_payload(keyring: &Keyring, payload: &mut EventPayload) {
    match payload {
        EventPayload::MessageCreated { message } => open_message(keyring, message),
        EventPayload::MessageEdited {
            message,
            previous_text,
        } => {
            open_message(keyring, message);
            keyring.open_in_place(previous_text);
        }
        EventPayload::MessagesImported { messages, .. } => {
            for record in messages {
                keyring.open_in_place(&mut record.text);
            }
        }
        _ => {}
    }
}

pub fn open_events(keyring: &Keyring, events: &mut [Event]) {
    for event in events {
        open_payload(keyring, &mut event.payload);
    }
}

/// The request body kept for a queued WhatsApp reply holds its text.
pub fn open_whatsapp_record(keyring: &Keyring, record: &mut WhatsAppMessageRecord) {
    if let Some(request) = &mut record.request {
        keyring.open_in_place(request);
    }
}

pub fn open_outcome(keyring: &Keyring, outcome: &mut Outcome) {
    if let OutcomeValue::Message(message) = &mut outcome.result {
        open_message(keyring, message);
    }
    open_events(keyring, &mut outcome.events);
}
