//! The export counters of [`Tracewire::stats`](super::super::Tracewire::stats).

/// Export counters since start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Items accepted by the collector.
    pub exported: u32,
    /// Items waiting in the queue.
    pub queued: u32,
    /// Items handed to the browser at page exit (keepalive fetches that succeeded, beacons the
    /// browser accepted).
    pub exported_on_exit: u32,
    /// Items dropped because the queue was full.
    pub dropped_queue_full: u32,
    /// Items dropped because export failed for good (non-retryable status or retries used up).
    pub dropped_export_failed: u32,
    /// Export requests sent, retries included.
    pub requests: u32,
    /// Export requests sent gzip-compressed.
    pub compressed_requests: u32,
    /// Page-exit keepalive fetches sent.
    pub keepalive_requests: u32,
    /// Page-exit keepalive fetches that failed (the browser refused or the network failed).
    pub keepalive_failures: u32,
    /// Highest total body bytes of keepalive fetches in flight at once.
    pub keepalive_max_bytes_in_flight: u32,
    /// Highest number of keepalive fetches in flight at once.
    pub keepalive_max_in_flight: u32,
    /// Page-exit beacons the browser accepted.
    pub beacons: u32,
    /// Page-exit beacons the browser refused.
    pub beacon_failures: u32,
    /// Items of page-exit requests the browser refused, kept in `localStorage` for the next
    /// page load instead of being lost.
    pub carried_over: u32,
    /// Items carried over by a previous page load and sent by this one.
    pub carried_in: u32,
    /// Keepalive bytes currently in flight.
    pub keepalive_bytes_in_flight: usize,
    /// Keepalive fetches currently in flight.
    pub keepalive_in_flight: usize,
}

impl Stats {
    /// The counters under their JavaScript names (`TracewireStats`).
    pub fn fields(&self) -> [(&'static str, f64); 17] {
        [
            ("exported", f64::from(self.exported)),
            ("queued", f64::from(self.queued)),
            ("exportedOnExit", f64::from(self.exported_on_exit)),
            ("droppedQueueFull", f64::from(self.dropped_queue_full)),
            ("droppedExportFailed", f64::from(self.dropped_export_failed)),
            ("requests", f64::from(self.requests)),
            ("compressedRequests", f64::from(self.compressed_requests)),
            ("keepaliveRequests", f64::from(self.keepalive_requests)),
            ("keepaliveFailures", f64::from(self.keepalive_failures)),
            (
                "keepaliveMaxBytesInFlight",
                f64::from(self.keepalive_max_bytes_in_flight),
            ),
            (
                "keepaliveMaxInFlight",
                f64::from(self.keepalive_max_in_flight),
            ),
            ("beacons", f64::from(self.beacons)),
            ("beaconFailures", f64::from(self.beacon_failures)),
            ("carriedOver", f64::from(self.carried_over)),
            ("carriedIn", f64::from(self.carried_in)),
            (
                "keepaliveBytesInFlight",
                self.keepalive_bytes_in_flight as f64,
            ),
            ("keepaliveInFlight", self.keepalive_in_flight as f64),
        ]
    }
}
