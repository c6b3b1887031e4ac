//! The real-time hub: who is connected, and delivery of committed events and
//! ephemeral signals (typing, presence) to their sockets.
//!
//! Each connection owns a bounded queue. Delivery never waits: a full queue
//! means the client cannot keep up, and it is closed with code 4008 so it
//! reconnects and resumes from its last position instead of growing memory.
//!
//! Channel membership for fan-out comes from a cache kept in commit order by
//! the group committer (see [`HubSink`]), so a member list is read from the
//! store at most once per channel.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use conclave_domain::{ChannelId, Event, EventPayload, Position, SessionId, UserId};
use conclave_store::{EventSink, Store};
use tokio::sync::{Notify, mpsc};

/// One queued frame: the event position it carries (0 for ephemeral
/// frames), and its JSON, shared by every recipient.
#[derive(Debug, Clone)]
pub struct Frame {
    pub position: Position,
    pub text: Arc<str>,
}

/// Close codes sent to clients.
pub mod close_code {
    /// The session was revoked or the user deactivated.
    pub const REVOKED: u16 = 4001;
    /// The client fell too far behind.
    pub const TOO_SLOW: u16 = 4008;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// The client sent a frame larger than the server accepts.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// A new acceptable-use policy was published: the user must accept it
    /// (REST answers 403 `policy_acceptance_required` until then).
    pub const POLICY_ACCEPTANCE_REQUIRED: u16 = 4031;
    /// MFA became required and the user has not enrolled (REST answers
    /// 403 `mfa_enrolment_required` until then).
    pub const MFA_ENROLMENT_REQUIRED: u16 = 4032;

    /// The reason sent with `code`: the REST error code for the
    /// restrictions, so a client can branch on either.
    pub fn reason(code: u16) -> &'static str {
        match code {
            REVOKED => "session revoked",
            TOO_SLOW => "too slow; reconnect with since",
            MESSAGE_TOO_BIG => "frame too large",
            POLICY_ACCEPTANCE_REQUIRED => "policy_acceptance_required",
            MFA_ENROLMENT_REQUIRED => "mfa_enrolment_required",
            _ => "server shutting down",
        }
    }
}

/// Lets the hub tell a connection to close, with a code.
#[derive(Debug, Default)]
pub struct CloseSignal {
    code: AtomicU16,
    notify: Notify,
}

impl CloseSignal {
    pub fn close(&self, code: u16) {
        if self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.notify.notify_one();
        }
    }

    /// The close code, once [`CloseSignal::close`] was called.
    pub fn code(&self) -> Option<u16> {
        match self.code.load(Ordering::Acquire) {
            0 => None,
            code => Some(code),
        }
    }

    pub async fn closed(&self) -> u16 {
        loop {
            if let Some(code) = self.code() {
                return code;
            }
            self.notify.notified().await;
        }
    }
}

struct Connection {
    id: u64,
    session_id: SessionId,
    queue: mpsc::Sender<Frame>,
    close: Arc<CloseSignal>,
}

/// What a new connection gets from [`Hub::register`].
pub struct Registration {
    pub id: u64,
    pub frames: mpsc::Receiver<Frame>,
    pub close: Arc<CloseSignal>,
}

pub struct Hub {
    connections: Mutex<HashMap<UserId, Vec<Connection>>>,
    /// Who asked to hear a user's presence: watched user → (connection id →
    /// watching user). Presence goes to conversation partners and to these,
    /// never to everyone, so connecting is not quadratic in the workspace.
    watchers: Mutex<HashMap<UserId, HashMap<u64, UserId>>>,
    members: Mutex<HashMap<ChannelId, Arc<HashSet<UserId>>>>,
    next_id: AtomicU64,
    queue_frames: usize,
    /// Open sockets per user and per client address, for the caps.
    socket_counts: Arc<Mutex<SocketCounts>>,
    /// Bumped whenever the access gate's organisation-wide facts change (a
    /// policy published, MFA required), so a socket that authenticated
    /// before the change but registered after it checks again.
    gate_epoch: AtomicU64,
    /// Deliveries made, for metrics and benchmarks.
    pub delivered: AtomicU64,
}

#[derive(Default)]
struct SocketCounts {
    users: HashMap<UserId, usize>,
    addresses: HashMap<String, usize>,
}

/// Which cap a new socket would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketCapExceeded {
    User,
    Address,
}

/// One socket's place under the per-user and per-address caps, held for
/// the socket's life; dropping it gives the place back.
pub struct SocketSlot {
    counts: Arc<Mutex<SocketCounts>>,
    user_id: UserId,
    address: Option<String>,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        release(&mut counts.users, self.user_id);
        if let Some(address) = self.address.take() {
            release(&mut counts.addresses, address);
        }
    }
}

fn release<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: K) {
    if let Entry::Occupied(mut entry) = counts.entry(key) {
        *entry.get_mut() -= 1;
        if *entry.get() == 0 {
            entry.remove();
        }
    }
}

impl Hub {
    pub fn new(queue_frames: usize) -> Hub {
        Hub {
            connections: Mutex::new(HashMap::new()),
            watchers: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            queue_frames: queue_frames.max(16),
            socket_counts: Arc::default(),
            gate_epoch: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        }
    }

    /// Takes a place for a new socket of `user_id` from `address`, unless
    /// that would exceed `max_per_user` or `max_per_address` (0: no cap).
    /// Checked and taken in one step, so concurrent upgrades cannot
    /// overshoot.
    pub fn take_socket_slot(
        &self,
        user_id: UserId,
        address: Option<&str>,
        max_per_user: usize,
        max_per_address: usize,
    ) -> Result<SocketSlot, SocketCapExceeded> {
        let mut counts = lock(&self.socket_counts);
        let by_user = counts.users.get(&user_id).copied().unwrap_or(0);
        if max_per_user > 0 && by_user >= max_per_user {
            return Err(SocketCapExceeded::User);
        }
        if let Some(address) = address {
            let by_address = counts.addresses.get(address).copied().unwrap_or(0);
            if max_per_address > 0 && by_address >= max_per_address {
                return Err(SocketCapExceeded::Address);
            }
            *counts.addresses.entry(address.to_string()).or_default() += 1;
        }
        *counts.users.entry(user_id).or_default() += 1;
        Ok(SocketSlot {
            counts: Arc::clone(&self.socket_counts),
            user_id,
            address: address.map(str::to_string),
        })
    }

    /// See the field's documentation.
    pub fn gate_epoch(&self) -> u64 {
        self.gate_epoch.load(Ordering::Acquire)
    }

    pub fn bump_gate_epoch(&self) {
        self.gate_epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Adds a connection for `user_id`. Answers whether it is the user's
    /// first (so presence turned online).
    pub fn register(&self, user_id: UserId, session_id: SessionId) -> (Registration, bool) {
        let (queue, frames) = mpsc::channel(self.queue_frames);
        let close = Arc::new(CloseSignal::default());
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut connections = lock(&self.connections);
        let list = connections.entry(user_id).or_default();
        let first = list.is_empty();
        list.push(Connection {
            id,
            session_id,
            queue,
            close: Arc::clone(&close),
        });
        (Registration { id, frames, close }, first)
    }

    /// Replaces what `connection_id` (of `watcher`) watches with `users`.
    pub fn watch_presence(&self, connection_id: u64, watcher: UserId, users: &[UserId]) {
        let mut watchers = lock(&self.watchers);
        watchers.retain(|_, by| {
            by.remove(&connection_id);
            !by.is_empty()
        });
        for user in users {
            watchers
                .entry(*user)
                .or_default()
                .insert(connection_id, watcher);
        }
    }

    /// Queues a presence frame for `user_id`'s conversation `partners` and
    /// for every connection watching them.
    pub fn announce_presence(&self, user_id: UserId, partners: &[UserId], frame: &Frame) {
        self.deliver(partners.iter(), Some(user_id), frame);
        let watching: Vec<(u64, UserId)> = lock(&self.watchers)
            .get(&user_id)
            .map(|by| {
                by.iter()
                    .map(|(connection, watcher)| (*connection, *watcher))
                    .collect()
            })
            .unwrap_or_default();
        if watching.is_empty() {
            return;
        }
        let connections = lock(&self.connections);
        for (connection_id, watcher) in watching {
            if partners.contains(&watcher) {
                continue;
            }
            for connection in connections.get(&watcher).into_iter().flatten() {
                if connection.id == connection_id {
                    let _ = connection.queue.try_send(frame.clone());
                }
            }
        }
    }

    /// Removes a connection. Answers whether it was the user's last.
    pub fn unregister(&self, user_id: UserId, connection_id: u64) -> bool {
        self.watch_presence(connection_id, user_id, &[]);
        let mut connections = lock(&self.connections);
        let Some(list) = connections.get_mut(&user_id) else {
            return false;
        };
        list.retain(|connection| connection.id != connection_id);
        if list.is_empty() {
            connections.remove(&user_id);
            true
        } else {
            false
        }
    }

    pub fn is_online(&self, user_id: UserId) -> bool {
        lock(&self.connections).contains_key(&user_id)
    }

    pub fn online_users(&self) -> Vec<UserId> {
        lock(&self.connections).keys().copied().collect()
    }

    pub fn connection_count(&self) -> usize {
        lock(&self.connections).values().map(Vec::len).sum()
    }

    /// Closes every connection of `user_id`.
    pub fn close_user(&self, user_id: UserId, code: u16) -> usize {
        let connections = lock(&self.connections);
        connections.get(&user_id).map_or(0, |list| {
            for connection in list {
                connection.close.close(code);
            }
            list.len()
        })
    }

    /// Closes the connections opened with one session.
    pub fn close_session(&self, session_id: SessionId, code: u16) {
        let connections = lock(&self.connections);
        for connection in connections.values().flatten() {
            if connection.session_id == session_id {
                connection.close.close(code);
            }
        }
    }

    pub fn close_all(&self, code: u16) {
        for connection in lock(&self.connections).values().flatten() {
            connection.close.close(code);
        }
    }

    /// Queues `frame` for every connection of each user in `recipients`,
    /// except `skip`.
    pub fn deliver<'a>(
        &self,
        recipients: impl IntoIterator<Item = &'a UserId>,
        skip: Option<UserId>,
        frame: &Frame,
    ) {
        let connections = lock(&self.connections);
        let mut count = 0u64;
        for user_id in recipients {
            if Some(*user_id) == skip {
                continue;
            }
            let Some(list) = connections.get(user_id) else {
                continue;
            };
            for connection in list {
                match connection.queue.try_send(frame.clone()) {
                    Ok(()) => count += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        connection.close.close(close_code::TOO_SLOW)
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
        self.delivered.fetch_add(count, Ordering::Relaxed);
    }

    /// Queues `frame` for everyone connected.
    pub fn broadcast(&self, frame: &Frame) {
        let users: Vec<UserId> = self.online_users();
        self.deliver(users.iter(), None, frame);
    }

    /// The cached members of a channel, if known.
    pub fn cached_members(&self, channel_id: ChannelId) -> Option<Arc<HashSet<UserId>>> {
        lock(&self.members).get(&channel_id).cloned()
    }

    fn cache_members(
        &self,
        channel_id: ChannelId,
        members: HashSet<UserId>,
    ) -> Arc<HashSet<UserId>> {
        let members = Arc::new(members);
        lock(&self.members).insert(channel_id, Arc::clone(&members));
        members
    }

    /// Applies a committed membership change to the cache, if cached.
    fn update_members(&self, event: &Event) {
        let mut members = lock(&self.members);
        match &event.payload {
            EventPayload::ChannelCreated {
                channel,
                member_ids,
            } => {
                members.insert(channel.id, Arc::new(member_ids.iter().copied().collect()));
            }
            EventPayload::MemberJoined {
                channel_id,
                user_id,
                ..
            } => {
                if let Some(set) = members.get_mut(channel_id) {
                    Arc::make_mut(set).insert(*user_id);
                }
            }
            EventPayload::MemberLeft {
                channel_id,
                user_id,
                ..
            } => {
                if let Some(set) = members.get_mut(channel_id) {
                    Arc::make_mut(set).remove(user_id);
                }
            }
            _ => {}
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain maps behind; keep serving.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The JSON frame for an event, as members see it.
pub fn event_frame(event: &Event) -> Frame {
    let visible = Event {
        payload: event.payload.clone().redacted_for_members(),
        ..event.clone()
    };
    let text = serde_json::json!({
        "type": "event",
        "position": event.position,
        "event": crate::api::event_json(&visible),
    })
    .to_string();
    Frame {
        position: event.position,
        text: text.into(),
    }
}

/// Publishes committed events to the hub, in order.
pub struct HubSink {
    pub hub: Arc<Hub>,
    pub store: Arc<dyn Store>,
}

#[async_trait]
impl EventSink for HubSink {
    async fn publish(&self, events: &[Event]) {
        for event in events {
            let frame = event_frame(event);
            if event.private {
                if let Some(subject) = event.subject_user_id {
                    self.hub.deliver([subject].iter(), None, &frame);
                }
                continue;
            }
            self.hub.update_members(event);
            if let Some(channel_id) = event.channel_id {
                let members = match self.hub.cached_members(channel_id) {
                    Some(members) => members,
                    None => match self.store.channel_member_ids(channel_id).await {
                        Ok(ids) => self
                            .hub
                            .cache_members(channel_id, ids.into_iter().collect()),
                        Err(error) => {
                            // Clients recover the event on their next resume.
                            tracing::error!(%error, channel_id, "cannot load channel members for delivery");
                            continue;
                        }
                    },
                };
                self.hub.deliver(members.iter(), None, &frame);
                // A subject who is not (or no longer) a member still hears of it.
                if let Some(subject) = event
                    .subject_user_id
                    .filter(|subject| !members.contains(subject))
                {
                    self.hub.deliver([subject].iter(), None, &frame);
                }
            } else if let Some(subject) = event.subject_user_id {
                self.hub.deliver([subject].iter(), None, &frame);
            }
            if let EventPayload::UserDeactivated { user } = &event.payload {
                self.hub.close_user(user.id, close_code::REVOKED);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(position: Position) -> Frame {
        Frame {
            position,
            text: Arc::from("{}"),
        }
    }

    #[tokio::test]
    async fn delivers_to_every_connection_of_each_recipient() {
        let hub = Hub::new(16);
        let (mut a1, first) = hub.register(1, 10);
        assert!(first);
        let (mut a2, first) = hub.register(1, 11);
        assert!(!first);
        let (mut b, _) = hub.register(2, 12);
        hub.deliver([1, 2, 3].iter(), Some(2), &frame(5));
        assert_eq!(a1.frames.recv().await.unwrap().position, 5);
        assert_eq!(a2.frames.recv().await.unwrap().position, 5);
        assert!(b.frames.try_recv().is_err(), "skipped");
        assert!(!hub.unregister(1, a1.id));
        assert!(hub.unregister(1, a2.id));
        assert!(!hub.is_online(1));
    }

    #[tokio::test]
    async fn a_full_queue_closes_the_connection_as_too_slow() {
        let hub = Hub::new(16);
        let (registration, _) = hub.register(1, 1);
        for position in 0..17 {
            hub.deliver([1].iter(), None, &frame(position));
        }
        assert_eq!(registration.close.code(), Some(close_code::TOO_SLOW));
        assert_eq!(registration.close.closed().await, close_code::TOO_SLOW);
    }

    #[tokio::test]
    async fn presence_reaches_partners_and_watchers_only() {
        let hub = Hub::new(16);
        let (mut partner, _) = hub.register(2, 1);
        let (mut watcher, _) = hub.register(3, 2);
        let (mut stranger, _) = hub.register(4, 3);
        hub.watch_presence(watcher.id, 3, &[1, 9]);
        hub.announce_presence(1, &[2], &frame(0));
        assert!(partner.frames.try_recv().is_ok());
        assert!(watcher.frames.try_recv().is_ok());
        assert!(stranger.frames.try_recv().is_err(), "nobody else hears it");
        hub.watch_presence(watcher.id, 3, &[9]);
        hub.announce_presence(1, &[2], &frame(0));
        assert!(watcher.frames.try_recv().is_err(), "no longer watching");
        assert!(hub.unregister(3, watcher.id));
        assert!(
            lock(&hub.watchers)
                .values()
                .all(|by| !by.contains_key(&watcher.id))
        );
    }

    #[test]
    fn socket_slots_are_capped_per_user_and_per_address_and_given_back() {
        let hub = Hub::new(16);
        let first = hub.take_socket_slot(1, Some("10.0.0.1"), 2, 3).unwrap();
        let _second = hub.take_socket_slot(1, Some("10.0.0.1"), 2, 3).unwrap();
        assert_eq!(
            hub.take_socket_slot(1, Some("10.0.0.2"), 2, 3).err(),
            Some(SocketCapExceeded::User)
        );
        let _third = hub.take_socket_slot(2, Some("10.0.0.1"), 2, 3).unwrap();
        assert_eq!(
            hub.take_socket_slot(3, Some("10.0.0.1"), 2, 3).err(),
            Some(SocketCapExceeded::Address)
        );
        drop(first);
        assert!(hub.take_socket_slot(1, Some("10.0.0.2"), 2, 3).is_ok());
        assert!(
            hub.take_socket_slot(4, None, 0, 0).is_ok(),
            "0 means no cap"
        );
    }

    #[test]
    fn closing_by_user_and_by_session() {
        let hub = Hub::new(16);
        let (a, _) = hub.register(1, 100);
        let (b, _) = hub.register(1, 101);
        hub.close_session(101, close_code::REVOKED);
        assert_eq!(a.close.code(), None);
        assert_eq!(b.close.code(), Some(close_code::REVOKED));
        assert_eq!(hub.close_user(1, close_code::REVOKED), 2);
        assert_eq!(a.close.code(), Some(close_code::REVOKED));
    }
}
