//! The soak's report: answers and acknowledgement latency per stretch of the run.

use std::time::Duration;

use crate::config::Settings;
use crate::load::{Answer, Attempt};

/// Answers seen in one stretch.
#[derive(Debug, Default, Clone)]
pub struct Window {
    /// Attempts answered 200.
    pub ok: u64,
    /// 503 (or 429, 502, 504) with `Retry-After`.
    pub retry_with_after: u64,
    /// A retryable status without `Retry-After`.
    pub retry_without_after: u64,
    /// No answer (connection refused or reset, timeout).
    pub network: u64,
    /// Statuses a client does not retry (a 500 among them would lose data).
    pub refused: u64,
    /// Milliseconds of each 200 attempt.
    pub attempt_ms: Vec<f64>,
    /// Milliseconds from each acknowledged batch's first attempt to its 200.
    pub ack_ms: Vec<f64>,
}

impl Window {
    fn add(&mut self, attempt: &Attempt) {
        match attempt.answer {
            Answer::Ok => {
                self.ok += 1;
                self.attempt_ms.push(attempt.took.as_secs_f64() * 1e3);
                self.ack_ms.push(attempt.since_first.as_secs_f64() * 1e3);
            }
            Answer::Retry {
                retry_after: true, ..
            } => self.retry_with_after += 1,
            Answer::Retry { .. } => self.retry_without_after += 1,
            Answer::Network => self.network += 1,
            Answer::Refused(_) => self.refused += 1,
        }
    }
}

/// The attempts split into `count` equal stretches of the run (late ones in the last).
pub fn windows(attempts: &[Attempt], duration: Duration, count: u32) -> Vec<Window> {
    let mut windows = vec![Window::default(); count as usize];
    let width = duration.as_secs_f64() / f64::from(count);
    for attempt in attempts {
        let i = ((attempt.at.as_secs_f64() / width) as usize).min(windows.len() - 1);
        windows[i].add(attempt);
    }
    windows
}

/// The answers seen while the disks were full.
pub fn during(attempts: &[Attempt], (from, to): (Duration, Duration)) -> Window {
    let mut window = Window::default();
    for attempt in attempts.iter().filter(|a| a.at >= from && a.at < to) {
        window.add(attempt);
    }
    window
}

/// The `q` quantile (0 to 1) of `values`, 0 when empty.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let i = ((values.len() - 1) as f64 * q).round() as usize;
    values[i]
}

/// Prints one store's table.
pub fn print(store: &str, settings: &Settings, windows: &mut [Window]) {
    let width = settings.duration.as_secs_f64() / windows.len() as f64;
    println!(
        "soak: {store}: {:>9} {:<15} {:>6} {:>7} {:>8} {:>7} {:>7} {:>17} {:>17}",
        "window",
        "faults",
        "200",
        "503+RA",
        "503-RA",
        "no-ans",
        "refused",
        "attempt p50/p99",
        "ack p50/p99 ms"
    );
    for (i, w) in windows.iter_mut().enumerate() {
        let from = width * i as f64;
        let phase = settings.phase(Duration::from_secs_f64(from + width / 2.0));
        println!(
            "soak: {store}: {:>4.0}-{:<4.0} {:<15} {:>6} {:>7} {:>8} {:>7} {:>7} {:>8.1}/{:<8.1} {:>8.1}/{:<8.1}",
            from,
            from + width,
            phase,
            w.ok,
            w.retry_with_after,
            w.retry_without_after,
            w.network,
            w.refused,
            quantile(&mut w.attempt_ms, 0.5),
            quantile(&mut w.attempt_ms, 0.99),
            quantile(&mut w.ack_ms, 0.5),
            quantile(&mut w.ack_ms, 0.99),
        );
    }
}
