//! Writing: the contract of an engine's writer ([`Writer`]) and the loop its thread runs
//! ([`drain`]). The loop takes commands from the write queue in order, groups consecutive
//! batches (up to [`MAX_GROUP`]) so the engine makes them durable together, runs the engine's
//! own tasks between groups, and gives the engine its idle turns while the queue is empty.

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::error::StoreError;
use crate::model::Batch;

/// Most queued batches an engine makes durable together.
pub(crate) const MAX_GROUP: usize = 64;

/// What a writer is asked to do, in order.
pub(crate) enum Command<T> {
    /// Make a batch durable, then answer it.
    Write(Pending),
    /// An engine's own task (SQLite: retention, correlation turns).
    Task(T),
    /// Everything before this has been handled: stop.
    Stop,
}

/// A queued batch waiting to be made durable.
pub(crate) struct Pending {
    /// The batch.
    pub batch: Batch,
    ack: oneshot::Sender<Result<(), StoreError>>,
    /// Frees the batch's place in the queue once dropped.
    _permit: OwnedSemaphorePermit,
}

impl Pending {
    pub(super) fn new(
        batch: Batch,
        ack: oneshot::Sender<Result<(), StoreError>>,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        Self {
            batch,
            ack,
            _permit: permit,
        }
    }

    /// Answers the batch's receipt (and frees its place in the queue).
    pub(crate) fn answer(self, result: Result<(), StoreError>) {
        let _ = self.ack.send(result);
    }
}

/// An engine's writer: what its thread does with the commands of its write queue.
pub(crate) trait Writer {
    /// The engine's own tasks.
    type Task;

    /// Makes a group of batches durable and answers each one ([`Pending::answer`]).
    fn write(&mut self, group: Vec<Pending>);

    /// Runs one of the engine's tasks.
    fn run(&mut self, task: Self::Task);

    /// Whether the writer has work of its own to do while the queue is empty.
    fn has_idle_work(&self) -> bool {
        false
    }

    /// One turn of that work; called only while [`Writer::has_idle_work`].
    fn idle(&mut self) {}

    /// The writer's queue is drained and it stops.
    fn stopped(&mut self) {}
}

/// Runs `writer` on `commands` until [`Command::Stop`] (or until every sender is gone): every
/// batch queued before the stop is written and answered.
pub(crate) fn drain<W: Writer>(mut writer: W, mut commands: UnboundedReceiver<Command<W::Task>>) {
    let mut next = None;
    loop {
        let command = match next.take() {
            Some(command) => command,
            None if writer.has_idle_work() => match commands.try_recv() {
                Ok(command) => command,
                Err(TryRecvError::Empty) => {
                    writer.idle();
                    continue;
                }
                Err(TryRecvError::Disconnected) => break,
            },
            None => match commands.blocking_recv() {
                Some(command) => command,
                None => break,
            },
        };
        match command {
            Command::Write(first) => {
                let mut group = Vec::with_capacity(MAX_GROUP);
                group.push(first);
                while group.len() < MAX_GROUP {
                    match commands.try_recv() {
                        Ok(Command::Write(pending)) => group.push(pending),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                writer.write(group);
            }
            Command::Task(task) => writer.run(task),
            Command::Stop => break,
        }
    }
    writer.stopped();
}
