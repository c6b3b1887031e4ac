//! Group commit: concurrent writers hand their commands to one task, which
//! applies whatever has queued up as one durable transaction, publishes the
//! resulting events in position order, and only then answers each writer.
//!
//! One fsync per batch instead of per message is what lets durable sends
//! reach thousands per second; one writer is also what makes the published
//! event stream strictly ordered, which reconnect-with-position relies on.

use std::sync::Arc;

use async_trait::async_trait;
use conclave_domain::{Command, Event, Outcome};
use tokio::sync::{mpsc, oneshot};

use crate::{Store, StoreError, StoreResult};

#[derive(Debug, Clone, Copy)]
pub struct GroupCommitterConfig {
    /// Most commands in one transaction.
    pub max_batch: usize,
    /// Most commands waiting; senders beyond it wait for room (back-pressure).
    pub queue_capacity: usize,
}

impl Default for GroupCommitterConfig {
    fn default() -> Self {
        GroupCommitterConfig {
            max_batch: 512,
            queue_capacity: 16 * 1024,
        }
    }
}

type Reply = oneshot::Sender<StoreResult<Outcome>>;

/// Where committed events go: the real-time hub in the server, a no-op in
/// command-line tools.
#[async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// Called once per batch, with its events in position order, after the
    /// batch is durable and before any of its writers is answered.
    async fn publish(&self, events: &[Event]);
}

/// An [`EventSink`] that drops everything.
pub struct NoEvents;

#[async_trait]
impl EventSink for NoEvents {
    async fn publish(&self, _events: &[Event]) {}
}

/// The handle writers use. Cloning is cheap; the writer task stops when the
/// last handle is dropped, after finishing what was queued.
#[derive(Clone)]
pub struct GroupCommitter {
    queue: mpsc::Sender<(Command, Reply)>,
}

impl GroupCommitter {
    /// Starts the writer task, which hands each batch's events to `sink`.
    pub fn start(
        store: Arc<dyn Store>,
        config: GroupCommitterConfig,
        sink: Arc<dyn EventSink>,
    ) -> GroupCommitter {
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        tokio::spawn(run_writer(store, config, sink, receiver));
        GroupCommitter { queue }
    }

    /// Applies one command; answers once it is durable and published.
    pub async fn submit(&self, command: Command) -> StoreResult<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((command, reply))
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the writer stopped before answering".into()))?
    }
}

async fn run_writer(
    store: Arc<dyn Store>,
    config: GroupCommitterConfig,
    sink: Arc<dyn EventSink>,
    mut receiver: mpsc::Receiver<(Command, Reply)>,
) {
    let max_batch = config.max_batch.max(1);
    let mut pending: Vec<(Command, Reply)> = Vec::with_capacity(max_batch);
    loop {
        if receiver.recv_many(&mut pending, max_batch).await == 0 {
            break;
        }
        let (commands, replies): (Vec<Command>, Vec<Reply>) = pending.drain(..).unzip();
        let count = commands.len();
        match store.apply(commands).await {
            Ok(outcomes) => {
                let events: Vec<Event> = outcomes
                    .iter()
                    .filter_map(|outcome| outcome.as_ref().ok())
                    .flat_map(|outcome| outcome.events.iter().cloned())
                    .collect();
                if !events.is_empty() {
                    sink.publish(&events).await;
                }
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A writer that gave up waiting is no error of ours.
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(%error, batch = count, "group commit failed; nothing in the batch was acknowledged");
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}
