//! Group commit: concurrent writers hand their commands to one task, which
//! applies whatever has queued up as one durable transaction, publishes the
//! resulting events in position order, and only then answers each writer.
//!
//! One fsync per batch instead of per message is what lets durable sends
//! reach thousands per second; one writer is also what makes the published
//! event stream strictly ordered, which reconnect-with-position relies on.

use std::sync::Arc;

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

/// The handle writers use. Cloning is cheap; the writer task stops when the
/// last handle is dropped, after finishing what was queued.
#[derive(Clone)]
pub struct GroupCommitter {
    queue: mpsc::Sender<(Command, Reply)>,
}

impl GroupCommitter {
    /// Starts the writer task. `publish` is called with each batch's events,
    /// in position order, after the batch is durable and before any writer
    /// of that batch is answered.
    pub fn start(
        store: Arc<dyn Store>,
        config: GroupCommitterConfig,
        publish: Arc<dyn Fn(&[Event]) + Send + Sync>,
    ) -> GroupCommitter {
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        tokio::spawn(run_writer(store, config, publish, receiver));
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
    publish: Arc<dyn Fn(&[Event]) + Send + Sync>,
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
                    publish(&events);
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
