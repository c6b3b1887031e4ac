//! The WebSocket: resume from a position, then live events, typing,
//! presence, heartbeats, and sends.
//!
//! Exactly-once resume: the connection registers with the hub *before*
//! reading the backlog, so nothing published meanwhile is missed; live
//! frames at or below the last backlog position are then skipped, so
//! nothing is sent twice. The single group-commit writer publishes in
//! position order, so live frames arrive in order too.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use conclave_domain::{Position, User, permissions};
use futures_util::SinkExt;
use serde::Deserialize;
use serde_json::json;

use crate::api::{MessageDto, PostMessageRequest, UserDto};
use crate::auth::{Authed, ClientAddress};
use crate::error::ApiError;
use crate::hub::{Frame, SocketCapExceeded, SocketSlot, close_code, event_frame};
use crate::routes::{ApiQuery, readable_channel};
use crate::state::AppState;

/// Largest message a client may send; a larger one closes the socket with
/// 1009 ("message too big").
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// Largest frame read at all. Frames between this and the message limit
/// are read and discarded, so the close that answers them completes a
/// clean closing handshake instead of a TCP reset; larger ones are
/// answered with the same close before the connection is dropped unread.
const MAX_CLIENT_FRAME: usize = 4 * MAX_CLIENT_MESSAGE;
/// How long, and for how many frames, a closed socket waits for the
/// peer's answering close before it is dropped.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
const CLOSE_LINGER_FRAMES: usize = 16;
/// Events read from the store per backlog page.
const BACKLOG_PAGE: i64 = 500;

#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    pub token: Option<String>,
    pub since: Option<Position>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Send {
        client_id: Option<String>,
        channel_id: i64,
        #[serde(default)]
        text: String,
        thread_id: Option<i64>,
        #[serde(default)]
        attachment_ids: Vec<i64>,
    },
    Typing {
        channel_id: i64,
        thread_id: Option<i64>,
    },
    /// Replaces the set of users whose presence this connection hears
    /// (beyond conversation partners, which it always hears).
    PresenceSubscribe {
        user_ids: Vec<i64>,
    },
    Ping,
    Pong,
}

/// Upgrades to the real-time socket; the token comes in the query because
/// browsers cannot set headers on a WebSocket. An upgrade over the
/// per-user or per-address socket cap answers 429 `too_many_sockets`.
pub async fn connect(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiQuery(query): ApiQuery<ConnectQuery>,
    headers: axum::http::HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_string);
    let token = query
        .token
        .or(header_token)
        .ok_or(ApiError::Unauthenticated)?;
    // Read before the access gate is consulted: see `run`.
    let gate_epoch = state.hub.gate_epoch();
    let authed = Authed::from_token(&state, &token).await?;
    if state
        .shutting_down
        .load(std::sync::atomic::Ordering::Acquire)
    {
        return Err(ApiError::Unavailable("the server is shutting down".into()));
    }
    let caps = &state.config.websocket;
    let slot = state
        .hub
        .take_socket_slot(
            authed.user.id,
            address.as_deref(),
            caps.max_per_user,
            caps.max_per_address,
        )
        .map_err(|exceeded| {
            ApiError::TooManySockets(match exceeded {
                SocketCapExceeded::User => format!(
                    "at most {} sockets may be open for one user; close one first",
                    caps.max_per_user
                ),
                SocketCapExceeded::Address => format!(
                    "at most {} sockets may be open from one address",
                    caps.max_per_address
                ),
            })
        })?;
    let since = query.since;
    // Small buffers keep idle connections cheap.
    Ok(upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| {
            run(
                state,
                Connecting {
                    authed,
                    since,
                    gate_epoch,
                    slot,
                },
                socket,
            )
        }))
}

/// What an accepted upgrade carries into the socket's task.
struct Connecting {
    authed: Authed,
    since: Option<Position>,
    /// The hub's gate epoch before the access gate let this socket in.
    gate_epoch: u64,
    /// Its place under the socket caps, given back when the socket ends.
    slot: SocketSlot,
}

async fn run(state: AppState, connecting: Connecting, mut socket: WebSocket) {
    let Connecting {
        authed,
        since,
        gate_epoch,
        slot: _slot,
    } = connecting;
    let user = authed.user;
    // Presence goes to conversation partners (and explicit watchers), not to
    // everyone: announcing to the whole workspace is quadratic.
    let partners = state
        .store
        .conversation_partner_ids(user.id)
        .await
        .unwrap_or_default();
    let (mut registration, first) = state.hub.register(user.id, authed.session.id);
    // A policy published (or MFA required) after the gate let this socket
    // in but before it registered was not seen by the sweep that closes
    // restricted sockets: check again, with the facts as they are now.
    if state.hub.gate_epoch() != gate_epoch {
        match state.auth.gate.restriction_now(&state, user.id).await {
            Ok(Some(restriction)) => registration.close.close(restriction.close_code()),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(user_id = user.id, %error, "cannot check the access gate");
                registration.close.close(close_code::GOING_AWAY);
            }
        }
    }
    if first {
        state
            .hub
            .announce_presence(user.id, &partners, &presence_frame(user.id, "online"));
    }
    let outcome = serve(
        &state,
        &user,
        &partners,
        since,
        &mut socket,
        &mut registration,
    )
    .await;
    let code = match outcome {
        Ok(code) => code,
        Err(error) => {
            tracing::debug!(user_id = user.id, %error, "socket ended");
            None
        }
    };
    if let Some((code, reason)) = code {
        let sent = socket
            .send(WsMessage::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            })))
            .await;
        if sent.is_ok() {
            await_closing_reply(&mut socket).await;
        }
    }
    if state.hub.unregister(user.id, registration.id) {
        state
            .hub
            .announce_presence(user.id, &partners, &presence_frame(user.id, "offline"));
    }
}

/// Reads (and discards) what the peer still sends until its answering
/// close, for a bounded time: a socket dropped with unread data ends in a
/// TCP reset, which can destroy the close frame before the client reads it.
async fn await_closing_reply(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        for _ in 0..CLOSE_LINGER_FRAMES {
            match socket.recv().await {
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
}

/// The close that answers a failed read: 1009 for a frame over the limit,
/// 1002 or 1007 for a protocol or encoding fault, none when the connection
/// itself is gone.
fn close_for_read_error(error: axum::Error) -> CloseReason {
    use tungstenite::Error as WsError;
    match error.into_inner().downcast::<WsError>().map(|error| *error) {
        Ok(WsError::Capacity(_)) => Some((
            close_code::MESSAGE_TOO_BIG,
            close_code::reason(close_code::MESSAGE_TOO_BIG),
        )),
        Ok(WsError::Protocol(_)) => Some((1002, "protocol error")),
        Ok(WsError::Utf8(_)) => Some((1007, "text frames must be UTF-8")),
        Ok(error) => {
            tracing::debug!(%error, "socket read failed");
            None
        }
        Err(error) => {
            tracing::debug!(%error, "socket read failed");
            None
        }
    }
}

fn presence_frame(user_id: i64, status: &str) -> Frame {
    Frame {
        position: 0,
        text: json!({"type": "presence", "user_id": user_id, "status": status})
            .to_string()
            .into(),
    }
}

async fn send_text(socket: &mut WebSocket, text: &str) -> Result<(), axum::Error> {
    socket.send(WsMessage::Text(Utf8Bytes::from(text))).await
}

type CloseReason = Option<(u16, &'static str)>;

/// Sends over one socket that may be in flight at once; more wait, which
/// pushes back on a client that floods.
const MAX_SENDS_IN_FLIGHT: usize = 64;
/// Frames written before one flush when a backlog has built up.
const MAX_FRAMES_PER_FLUSH: usize = 256;

async fn serve(
    state: &AppState,
    user: &User,
    partners: &[i64],
    since: Option<Position>,
    socket: &mut WebSocket,
    registration: &mut crate::hub::Registration,
) -> Result<CloseReason, axum::Error> {
    // Closed before it began: deactivated, or restricted by the gate.
    if let Some(code) = registration.close.code() {
        return Ok(Some((code, close_code::reason(code))));
    }
    let head = match state.store.head_position().await {
        Ok(head) => head,
        Err(error) => {
            tracing::error!(%error, "reading the head position failed");
            return Ok(Some((1011, "backlog unavailable")));
        }
    };
    let online: Vec<i64> = partners
        .iter()
        .copied()
        .filter(|id| state.hub.is_online(*id))
        .collect();
    let hello = json!({
        "type": "hello",
        "user": UserDto::from(user),
        "position": head,
        "heartbeat_ms": state.config.websocket.heartbeat_secs * 1000,
        "online_user_ids": online,
    });
    send_text(socket, &hello.to_string()).await?;

    // The backlog: everything after `since` that this user may see. A
    // `since` beyond the newest position comes from another history (a
    // restored backup, another deployment): resuming from it would skip
    // every live event up to it, so the client is told to start again
    // from the newest position instead.
    let mut last_sent = since.unwrap_or(head);
    if let Some(ahead) = since.filter(|since| *since > head) {
        send_text(
            socket,
            &json!({"type": "reset", "position": head, "requested_since": ahead}).to_string(),
        )
        .await?;
        last_sent = head;
    } else if since.is_some() {
        loop {
            let page = match state
                .store
                .events_for_user(user.id, last_sent, BACKLOG_PAGE)
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(%error, "reading the backlog failed");
                    return Ok(Some((1011, "backlog unavailable")));
                }
            };
            let full = page.len() as i64 == BACKLOG_PAGE;
            for event in &page {
                socket
                    .feed(WsMessage::Text(Utf8Bytes::from(&*event_frame(event).text)))
                    .await?;
                last_sent = event.position;
            }
            socket.flush().await?;
            if !full {
                break;
            }
        }
    }
    send_text(
        socket,
        &json!({"type": "caught_up", "position": last_sent}).to_string(),
    )
    .await?;

    // Replies to sends come back here from their own tasks, so one socket
    // pipelines many sends and the idle connection stays small.
    let (replies, mut reply_queue) = tokio::sync::mpsc::channel::<String>(MAX_SENDS_IN_FLIGHT);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_SENDS_IN_FLIGHT));
    let heartbeat = Duration::from_secs(state.config.websocket.heartbeat_secs.max(1));
    let mut ticker = tokio::time::interval(heartbeat);
    ticker.tick().await;
    let mut missed_heartbeats = 0u32;
    loop {
        tokio::select! {
            code = registration.close.closed() => {
                return Ok(Some((code, close_code::reason(code))));
            }
            frame = registration.frames.recv() => {
                let Some(frame) = frame else { return Ok(None) };
                // Write whatever has queued up, then flush once.
                let mut next = Some(frame);
                let mut written = 0;
                while let Some(frame) = next.take() {
                    if frame.position == 0 || frame.position > last_sent {
                        socket.feed(WsMessage::Text(Utf8Bytes::from(&*frame.text))).await?;
                        if frame.position != 0 {
                            last_sent = frame.position;
                        }
                        written += 1;
                    }
                    if written < MAX_FRAMES_PER_FLUSH {
                        next = registration.frames.try_recv().ok();
                    }
                }
                socket.flush().await?;
            }
            reply = reply_queue.recv() => {
                if let Some(reply) = reply {
                    send_text(socket, &reply).await?;
                }
            }
            incoming = socket.recv() => {
                let Some(incoming) = incoming else { return Ok(None) };
                missed_heartbeats = 0;
                let incoming = match incoming {
                    Ok(incoming) => incoming,
                    Err(error) => return Ok(close_for_read_error(error)),
                };
                match incoming {
                    WsMessage::Text(text) => {
                        let reply = handle_client_frame(state, user, registration.id, text.as_str(), &replies, &in_flight).await;
                        if let Some(reply) = reply {
                            send_text(socket, &reply).await?;
                        }
                    }
                    WsMessage::Close(_) => return Ok(None),
                    WsMessage::Binary(_) => {
                        send_text(socket, &error_frame("invalid_request", "frames are JSON text")).await?;
                    }
                    WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                }
            }
            _ = ticker.tick() => {
                missed_heartbeats += 1;
                if missed_heartbeats > 3 {
                    return Ok(Some((1001, "heartbeat timeout")));
                }
                send_text(socket, r#"{"type":"ping"}"#).await?;
            }
        }
    }
}

fn error_frame(code: &str, message: &str) -> String {
    json!({"type": "error", "code": code, "message": message}).to_string()
}

/// Most users one connection may watch the presence of.
const MAX_PRESENCE_WATCH: usize = 500;

async fn handle_client_frame(
    state: &AppState,
    user: &User,
    connection_id: u64,
    text: &str,
    replies: &tokio::sync::mpsc::Sender<String>,
    in_flight: &Arc<tokio::sync::Semaphore>,
) -> Option<String> {
    let frame: ClientFrame = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(error) => return Some(error_frame("invalid_request", &error.to_string())),
    };
    match frame {
        ClientFrame::Ping => Some(r#"{"type":"pong"}"#.to_string()),
        ClientFrame::Pong => None,
        ClientFrame::Typing {
            channel_id,
            thread_id,
        } => match readable_channel(state, user, channel_id).await {
            Ok((channel, membership))
                if permissions::can_post(user, &channel, membership.as_ref()) =>
            {
                if let Ok(members) = state.store.channel_member_ids(channel_id).await {
                    let frame = Frame {
                            position: 0,
                            text: json!({"type": "typing", "channel_id": channel_id, "user_id": user.id, "thread_id": thread_id})
                                .to_string()
                                .into(),
                        };
                    state.hub.deliver(members.iter(), Some(user.id), &frame);
                }
                None
            }
            _ => Some(error_frame("not_found", "channel not found")),
        },
        ClientFrame::PresenceSubscribe { user_ids } => {
            if user_ids.len() > MAX_PRESENCE_WATCH {
                return Some(error_frame(
                    "invalid_request",
                    &format!("watch at most {MAX_PRESENCE_WATCH} users"),
                ));
            }
            // Guests hear only the people they share a channel with.
            let user_ids: Vec<i64> = match crate::routes::users::visible_people(state, user).await {
                Ok(None) => user_ids,
                Ok(Some(people)) => user_ids
                    .into_iter()
                    .filter(|id| people.contains(id))
                    .collect(),
                Err(_) => return Some(error_frame("unavailable", "try again shortly")),
            };
            state.hub.watch_presence(connection_id, user.id, &user_ids);
            let online: Vec<i64> = user_ids
                .iter()
                .copied()
                .filter(|id| state.hub.is_online(*id))
                .collect();
            Some(json!({"type": "presence_snapshot", "online_user_ids": online}).to_string())
        }
        ClientFrame::Send {
            client_id,
            channel_id,
            text,
            thread_id,
            attachment_ids,
        } => {
            let request = PostMessageRequest {
                text,
                thread_id,
                attachment_ids,
                client_id: client_id.clone(),
            };
            // Waits when too many sends are in flight: back-pressure.
            let permit = Arc::clone(in_flight).acquire_owned().await.ok()?;
            let state = state.clone();
            let user = user.clone();
            let replies = replies.clone();
            tokio::spawn(async move {
                let reply = match crate::routes::messages::post_message(
                    &state, &user, channel_id, request,
                )
                .await
                {
                    Ok(message) => {
                        json!({"type": "ack", "client_id": client_id, "message": MessageDto::for_members(&message)})
                    }
                    Err(error) => {
                        let body = error.body();
                        json!({"type": "nack", "client_id": client_id, "code": body.code, "message": body.message})
                    }
                };
                let _ = replies.send(reply.to_string()).await;
                drop(permit);
            });
            None
        }
    }
}
