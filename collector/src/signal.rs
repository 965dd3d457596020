//! The OTLP signals the collector takes, as data: every layer that handles each signal
//! (counting, spooling, shipping, storing, pruning) loops over [`Signal::ALL`] and keeps one
//! value per signal in a [`PerSignal`], instead of a code path per signal. Adding a signal is a
//! variant here, its decoder, its rows and a table per engine.

use std::ops::{Index, IndexMut};

/// Which OTLP signal an item belongs to.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Log records.
    Logs,
    /// Metric data points (gauge, sum, histogram, exponential histogram and summary points).
    Metrics,
}

impl Signal {
    /// How many signals there are.
    pub const COUNT: usize = 3;
    /// Every signal, in [`Signal::index`] order.
    pub const ALL: [Self; Self::COUNT] = [Self::Traces, Self::Logs, Self::Metrics];

    /// The signal's place in [`Signal::ALL`] (and in a [`PerSignal`]).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The signal's name, as in OTLP's `/v1/<name>` paths and the metrics' `signal` label.
    pub fn name(self) -> &'static str {
        ["traces", "logs", "metrics"][self.index()]
    }

    /// What its records are called in one word (SQLite's tables and the spool's files are named
    /// so).
    pub fn records(self) -> &'static str {
        ["spans", "logs", "datapoints"][self.index()]
    }

    /// What its items are called in messages to clients.
    pub fn items(self) -> &'static str {
        ["spans", "log records", "data points"][self.index()]
    }
}

/// One value per signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerSignal<T>([T; Signal::COUNT]);

impl<T> PerSignal<T> {
    /// The value of each signal, made by `f`.
    pub fn from_fn(mut f: impl FnMut(Signal) -> T) -> Self {
        Self(Signal::ALL.map(&mut f))
    }

    /// Each signal with its value, in [`Signal::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Signal, &T)> {
        Signal::ALL.into_iter().zip(self.0.iter())
    }

    /// The values, in [`Signal::ALL`] order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }
}

impl<T> Index<Signal> for PerSignal<T> {
    type Output = T;

    fn index(&self, signal: Signal) -> &T {
        &self.0[signal.index()]
    }
}

impl<T> IndexMut<Signal> for PerSignal<T> {
    fn index_mut(&mut self, signal: Signal) -> &mut T {
        &mut self.0[signal.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_has_its_place_and_names() {
        for (i, signal) in Signal::ALL.into_iter().enumerate() {
            assert_eq!(signal.index(), i);
            assert!(!signal.name().is_empty() && !signal.records().is_empty());
        }
        let mut counts = PerSignal::from_fn(|s| s.index() * 10);
        counts[Signal::Logs] += 1;
        assert_eq!(counts.values().copied().collect::<Vec<_>>(), [0, 11, 20]);
    }
}
