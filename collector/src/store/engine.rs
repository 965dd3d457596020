//! The engine contract besides reads and writes: what the [`Store`](super::Store) asks of an
//! engine over its life. An engine is a folder that implements [`Engine`] (with
//! [`Reads`](super::read::Reads)) on its store and [`Writer`](super::writer::Writer) on its
//! writer thread.

use std::time::Duration;

use async_trait::async_trait;

use super::alerts::AlertBook;
use super::delete::{Deleted, Subject};
use super::error::StoreError;
use super::read::{Reads, Scope};

/// What an engine does besides answering reads and draining its write queue.
#[async_trait]
pub(crate) trait Engine: Reads {
    /// Runs the correlation step for about `budget` (or until nothing waits for it, if
    /// sooner); whether nothing waits any more.
    async fn catch_up(&self, budget: Duration) -> Result<bool, StoreError>;

    /// Deletes `subject`'s data within `scope`, and what was derived from it
    /// ([`super::delete`]), after every batch acknowledged before the call.
    async fn delete(&self, scope: &Scope, subject: &Subject) -> Result<Deleted, StoreError>;

    /// Where the alert engine's records live.
    fn alert_book(&self) -> &dyn AlertBook;

    /// Waits for the writer and the background work to finish, once the write queue is
    /// closed. Idempotent.
    async fn shutdown(&self) -> Result<(), StoreError>;
}
