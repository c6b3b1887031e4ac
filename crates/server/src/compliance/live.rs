//! Tells open clients what an erasure or a retention purge removed, so
//! other people's screens stop showing it without a reload.
//!
//! Erasure and purges run beside the group-commit writer (they rewrite
//! history rather than append to it), so their journal entries are private
//! and reach no socket. These ephemeral frames (position 0) fill that gap:
//! a client applies them to what it holds, and a client that was offline
//! reads the already-changed history when it reloads.

use conclave_domain::User;
use conclave_domain::compliance::PurgeReport;

use crate::hub::{Frame, Hub, close_code};

/// Everyone online learns that `user` (already anonymised) was erased: the
/// client removes their messages and shows the anonymous name. The erased
/// person's own sockets are closed.
pub fn announce_erasure(hub: &Hub, user: &User) {
    hub.close_user(user.id, close_code::REVOKED);
    let text = serde_json::json!({
        "type": "user_erased",
        "user": crate::api::UserDto::from(user),
    })
    .to_string();
    hub.broadcast(&Frame {
        position: 0,
        text: text.into(),
    });
}

/// Everyone online learns that retention removed messages: the client
/// reloads what it shows. Nothing is sent when nothing was removed.
pub fn announce_purge(hub: &Hub, report: &PurgeReport) {
    if report.messages == 0 {
        return;
    }
    let text = serde_json::json!({
        "type": "messages_purged",
        "messages": report.messages,
    })
    .to_string();
    hub.broadcast(&Frame {
        position: 0,
        text: text.into(),
    });
}
