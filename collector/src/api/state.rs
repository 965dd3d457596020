//! What the API handlers share.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::guard::Guard;
use super::shared::SharedReads;
use crate::alerts::Alerts;
use crate::metrics::Metrics;
use crate::store::Store;

/// What the API handlers share.
#[derive(Clone)]
pub struct Api {
    /// The store to read from.
    pub store: Arc<Store>,
    /// The collector's counters, for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// False while starting and once shutting down; `/readyz` reports it.
    pub ready: Arc<AtomicBool>,
    /// Aggregate reads that concurrent requests share.
    pub reads: Arc<SharedReads>,
    /// The Host, Origin and read-token checks every request passes first.
    pub guard: Arc<Guard>,
    /// The alert engine: its rules and channels.
    pub alerts: Arc<Alerts>,
}
