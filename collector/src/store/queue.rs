//! The bounded queue between ingest and a store's writer. Capacity is counted in items (spans
//! plus log records) through a semaphore, so a handler never waits: it gets a place or an
//! immediate [`SubmitError::Full`] that ingest turns into a retryable 503.

use std::sync::Arc;

use tokio::sync::{Semaphore, TryAcquireError, mpsc, oneshot};

use super::error::StoreError;
use super::writer::{Command, Pending};
use crate::live::{LiveFeed, LiveSpan};
use crate::model::{Batch, LogRecord};

/// Why a batch was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The queue holds as many items as it may; try again later.
    #[error("the write queue is full")]
    Full,
    /// The collector is shutting down.
    #[error("the collector is shutting down")]
    Closed,
}

/// The sending side of a store's write queue. Cheap to clone.
#[derive(Clone)]
pub struct WriteQueue {
    commands: Arc<dyn Commands>,
    permits: Arc<Semaphore>,
    capacity: usize,
    live: LiveFeed,
}

/// A queued batch; await [`Receipt::durable`] to learn when it is committed.
pub struct Receipt {
    answer: oneshot::Receiver<Result<(), StoreError>>,
    /// The batch's spans, announced on the live feed once durable (only built while watched).
    announce: Option<(LiveFeed, Vec<LiveSpan>)>,
    /// The batch's log records, likewise.
    announce_logs: Option<(LiveFeed, Vec<LogRecord>)>,
}

impl Receipt {
    /// Resolves once the batch is durable in the store, or with the error that kept it out.
    pub async fn durable(self) -> Result<(), StoreError> {
        self.answer.await.unwrap_or(Err(StoreError::WriterGone))?;
        if let Some((feed, spans)) = self.announce {
            feed.publish(spans);
        }
        if let Some((feed, logs)) = self.announce_logs {
            feed.publish_logs(logs);
        }
        Ok(())
    }
}

impl WriteQueue {
    /// A queue holding at most `capacity` items, a sender for the engine's own tasks (which
    /// its writer runs in order with the batches), and the receiving end for the writer.
    pub(crate) fn new<T: Send + 'static>(
        capacity: usize,
    ) -> (
        Self,
        mpsc::UnboundedSender<Command<T>>,
        mpsc::UnboundedReceiver<Command<T>>,
    ) {
        let capacity = capacity.clamp(1, Semaphore::MAX_PERMITS);
        let (commands, receiver) = mpsc::unbounded_channel();
        let queue = Self {
            commands: Arc::new(commands.clone()),
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
            live: LiveFeed::default(),
        };
        (queue, commands, receiver)
    }

    /// Queues a batch without waiting. A batch larger than the whole queue takes all of it.
    pub fn try_submit(&self, batch: Batch) -> Result<Receipt, SubmitError> {
        let wanted = batch.len().clamp(1, self.capacity);
        let permit = self
            .permits
            .clone()
            .try_acquire_many_owned(u32::try_from(wanted).unwrap_or(u32::MAX))
            .map_err(|e| match e {
                TryAcquireError::Closed => SubmitError::Closed,
                TryAcquireError::NoPermits => SubmitError::Full,
            })?;
        let announce = self.live.watched().then(|| {
            (
                self.live.clone(),
                batch.spans.iter().map(LiveSpan::from).collect(),
            )
        });
        let announce_logs = (self.live.logs_watched() && !batch.logs.is_empty())
            .then(|| (self.live.clone(), batch.logs.clone()));
        let (ack, answer) = oneshot::channel();
        if !self.commands.write(Pending::new(batch, ack, permit)) {
            return Err(SubmitError::Closed);
        }
        Ok(Receipt {
            answer,
            announce,
            announce_logs,
        })
    }

    /// Items queued or being written.
    pub fn depth(&self) -> usize {
        self.capacity
            .saturating_sub(self.permits.available_permits())
    }

    /// The most items the queue holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The feed that announces durable spans.
    pub fn live(&self) -> &LiveFeed {
        &self.live
    }

    /// Refuses new batches; the writer finishes what is queued and stops.
    pub(crate) fn close(&self) {
        self.permits.close();
        self.commands.stop();
    }
}

/// The sending end of a writer's commands, whatever its engine's tasks are.
trait Commands: Send + Sync {
    /// Queues a batch; false when the writer is gone.
    fn write(&self, pending: Pending) -> bool;
    /// Asks the writer to stop once everything before is handled.
    fn stop(&self);
}

impl<T: Send> Commands for mpsc::UnboundedSender<Command<T>> {
    fn write(&self, pending: Pending) -> bool {
        self.send(Command::Write(pending)).is_ok()
    }

    fn stop(&self) {
        let _ = self.send(Command::Stop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogRecord;

    fn batch(items: usize) -> Batch {
        let log = LogRecord {
            tenant: String::new(),
            timestamp_ns: 0,
            observed_ns: 0,
            trace_id: String::new(),
            span_id: String::new(),
            trace_flags: 0,
            severity_text: String::new(),
            severity_number: 0,
            service_name: String::new(),
            body: String::new(),
            scope_name: String::new(),
            scope_version: String::new(),
            resource_attributes: Default::default(),
            log_attributes: Default::default(),
            event_name: String::new(),
        };
        Batch {
            logs: vec![log; items],
            ..Default::default()
        }
    }

    #[test]
    fn full_queue_refuses_at_once_and_frees_space_when_written() {
        let (queue, _, mut writer) = WriteQueue::new::<()>(10);
        let _first = queue.try_submit(batch(6)).expect("room");
        assert_eq!(queue.depth(), 6);
        assert_eq!(queue.try_submit(batch(5)).err(), Some(SubmitError::Full));
        drop(writer.try_recv().expect("queued command"));
        assert_eq!(queue.depth(), 0);
        assert!(queue.try_submit(batch(5)).is_ok());
    }

    #[test]
    fn oversized_batch_takes_the_whole_queue() {
        let (queue, _, _writer) = WriteQueue::new::<()>(4);
        assert!(queue.try_submit(batch(100)).is_ok());
        assert_eq!(queue.try_submit(batch(1)).err(), Some(SubmitError::Full));
    }

    #[test]
    fn spans_are_prepared_for_the_live_feed_only_while_watched() {
        let (queue, _, _writer) = WriteQueue::new::<()>(10);
        assert!(queue.try_submit(batch(1)).expect("room").announce.is_none());
        let _watcher = queue.live().subscribe();
        assert!(queue.try_submit(batch(1)).expect("room").announce.is_some());
    }

    #[test]
    fn log_records_are_kept_for_the_live_feed_only_while_watched() {
        let (queue, _, _writer) = WriteQueue::new::<()>(10);
        assert!(
            queue
                .try_submit(batch(1))
                .expect("room")
                .announce_logs
                .is_none()
        );
        let _watcher = queue.live().subscribe_logs();
        assert!(
            queue
                .try_submit(batch(1))
                .expect("room")
                .announce_logs
                .is_some()
        );
    }

    #[test]
    fn closed_queue_refuses_with_closed() {
        let (queue, _, _writer) = WriteQueue::new::<()>(4);
        queue.close();
        assert_eq!(queue.try_submit(batch(1)).err(), Some(SubmitError::Closed));
    }
}
