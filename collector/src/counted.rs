//! Messages the browser SDK counted instead of tracing, from its `ws.message_rate` records
//! (`docs/semantic-conventions.md`), and the items it dropped, from its `tracewire.dropped`
//! records. Beyond a socket's allowance of spans per message type the SDK only counts messages;
//! the WebSocket dashboard (`/api/ws/*`) and the alert engine's WebSocket conditions add the
//! counts of a window into their [`Rollups`] ([`add_counted`]) so their counts, error counts and
//! send-to-reply percentiles cover every message, and [`Rollup::counted`] says which part was
//! counted. Stored rollups stay of round trips only: counts are added when read.
//!
//! Only records of browser resources ([`Source::Browser`]) count. A record with a damaged
//! attribute (a count it adds up that is not an integer from 0 to [`MAX_RECORD_COUNT`], a
//! `ws.counted.rtt` pair that is not `bin:count` of a histogram bin) is left out whole and the
//! request is answered without it: one bad record must not take the dashboard down, and a
//! part of a record would count its messages without their latencies or the other way round.

use tracewire_semconv::{attribute, event};

use crate::correlate::{BinError, Rollup, Rollups, Source};
use crate::model::{EventQuery, LogRecord, RollupQuery};
use crate::store::{Reader, StoreError};

/// Records read for one window at most (the newest).
pub const MAX_COUNTED_RECORDS: usize = 100_000;

/// The most messages (or round trips, or dropped items) one record may count; more is damage.
/// It keeps sums over [`MAX_COUNTED_RECORDS`] records far from overflowing.
pub const MAX_RECORD_COUNT: u64 = u32::MAX as u64;

/// What made a `ws.message_rate` record unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountedError {
    /// A count attribute is not a non-negative integer up to [`MAX_RECORD_COUNT`].
    #[error("{attribute} is not a count: {value:?}")]
    NotACount {
        /// The attribute.
        attribute: &'static str,
        /// Its value as stored.
        value: String,
    },
    /// A pair of `ws.counted.rtt` is not `bin:count`.
    #[error("ws.counted.rtt pair {0:?} is not bin:count")]
    NotABinPair(String),
    /// A pair of `ws.counted.rtt` names a bin the latency histogram does not have.
    #[error("ws.counted.rtt: {0}")]
    Bin(#[from] BinError),
    /// The round trips of `ws.counted.rtt` add up to more than [`MAX_RECORD_COUNT`].
    #[error("ws.counted.rtt counts more than {MAX_RECORD_COUNT} round trips")]
    TooManyRoundTrips,
}

/// One `ws.message_rate` record as the dashboard adds it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedMessages {
    /// The record's time: the end of the span of time it counted, unix nanoseconds.
    pub time_ns: i64,
    /// `ws.message.type`; empty when the messages had none.
    pub message_type: String,
    /// `count` and `counted` are the sends without a span (`ws.counted.sent`), `errors` the
    /// counted receives whose listener threw, `total` the round-trip times of counted sends
    /// (`ws.counted.rtt`); nothing else, as the legs of a message without spans are unknown.
    pub rollup: Rollup,
}

fn count(record: &LogRecord, attribute: &'static str) -> Result<u64, CountedError> {
    let Some(value) = record.log_attributes.get(attribute) else {
        return Ok(0);
    };
    value
        .parse::<u64>()
        .ok()
        .filter(|&n| n <= MAX_RECORD_COUNT)
        .ok_or_else(|| CountedError::NotACount {
            attribute,
            value: value.clone(),
        })
}

impl CountedMessages {
    /// Reads one `ws.message_rate` record; a missing count is 0.
    pub fn of_record(record: &LogRecord) -> Result<Self, CountedError> {
        let sent = count(record, attribute::WS_COUNTED_SENT)?;
        let mut rollup = Rollup {
            count: sent,
            counted: sent,
            errors: count(record, attribute::WS_COUNTED_ERRORS)?,
            ..Rollup::default()
        };
        let pairs = record
            .log_attributes
            .get(attribute::WS_COUNTED_RTT)
            .map_or("", String::as_str);
        let mut round_trips = 0u64;
        for pair in pairs.split_ascii_whitespace() {
            let damaged = || CountedError::NotABinPair(pair.to_owned());
            let (bin, n) = pair.split_once(':').ok_or_else(damaged)?;
            // Round-trip times are not negative: their bins are 0 and up.
            let bin = bin.parse::<u32>().map_err(|_| damaged())?;
            let n = n.parse::<u64>().map_err(|_| damaged())?;
            round_trips = round_trips
                .checked_add(n)
                .filter(|&t| t <= MAX_RECORD_COUNT)
                .ok_or(CountedError::TooManyRoundTrips)?;
            rollup.total.add_to_bin(i64::from(bin), n)?;
        }
        Ok(Self {
            time_ns: record.timestamp_ns,
            message_type: record
                .log_attributes
                .get(attribute::WS_MESSAGE_TYPE)
                .cloned()
                .unwrap_or_default(),
            rollup,
        })
    }
}

/// Adds the counted messages of browser `records` (of `message_type` when given) into
/// `rollups`, each at its record's time in its message type; answers how many records were
/// left out as damaged.
pub fn add_records(
    records: &[LogRecord],
    message_type: Option<&str>,
    rollups: &mut Rollups,
) -> usize {
    let mut damaged = 0;
    for record in records
        .iter()
        .filter(|r| Source::of_resource(&r.resource_attributes) == Source::Browser)
    {
        match CountedMessages::of_record(record) {
            Ok(m) if message_type.is_some_and(|want| want != m.message_type) => {}
            // Counted receives alone, no errors, no round trips: nothing to add, and no empty
            // message type to list.
            Ok(m) if m.rollup == Rollup::default() => {}
            Ok(m) => rollups.add(m.time_ns, &m.message_type, &m.rollup),
            Err(e) => {
                if damaged == 0 {
                    tracing::debug!(error = %e, "Damaged ws.message_rate record left out");
                }
                damaged += 1;
            }
        }
    }
    damaged
}

/// Adds the counted messages of `query`'s window in `reader`'s scope into `rollups` (made for
/// the same query), at most the newest [`MAX_COUNTED_RECORDS`] records.
pub async fn add_counted(
    reader: &Reader<'_>,
    query: &RollupQuery,
    rollups: &mut Rollups,
) -> Result<(), StoreError> {
    let records = reader
        .events(&EventQuery {
            event_name: event::WS_MESSAGE_RATE.to_owned(),
            start_ns: query.start_ns,
            end_ns: query.end_ns,
            limit: MAX_COUNTED_RECORDS,
        })
        .await?;
    let damaged = add_records(&records, query.message_type.as_deref(), rollups);
    if damaged > 1 {
        tracing::debug!(damaged, "Damaged ws.message_rate records left out");
    }
    Ok(())
}

/// The items browser `records` of `tracewire.dropped` say the SDK dropped; a damaged
/// `tracewire.dropped.count` counts nothing.
pub fn dropped_of(records: &[LogRecord]) -> u64 {
    records
        .iter()
        .filter(|r| Source::of_resource(&r.resource_attributes) == Source::Browser)
        .filter_map(|r| count(r, attribute::TRACEWIRE_DROPPED_COUNT).ok())
        .sum()
}

/// The items the browser SDK dropped in `[start_ns, end_ns)` in `reader`'s scope, from at most
/// the newest [`MAX_COUNTED_RECORDS`] `tracewire.dropped` records.
pub async fn dropped(reader: &Reader<'_>, start_ns: i64, end_ns: i64) -> Result<u64, StoreError> {
    let records = reader
        .events(&EventQuery {
            event_name: event::TRACEWIRE_DROPPED.to_owned(),
            start_ns,
            end_ns,
            limit: MAX_COUNTED_RECORDS,
        })
        .await?;
    Ok(dropped_of(&records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::{Histogram, bin_bounds};
    use crate::testing::browser_event;

    const MS: i64 = 1_000_000;

    fn record(time_ns: i64, attributes: &[(&str, &str)]) -> LogRecord {
        browser_event(event::WS_MESSAGE_RATE, time_ns, attributes)
    }

    fn chat(time_ns: i64, sent: &str, rtt: &str) -> LogRecord {
        record(
            time_ns,
            &[
                (attribute::WS_MESSAGE_TYPE, "chat"),
                (attribute::WS_COUNTED_SENT, sent),
                (attribute::WS_COUNTED_RECEIVED, "40"),
                (attribute::WS_COUNTED_ERRORS, "2"),
                (attribute::WS_COUNTED_RTT, rtt),
            ],
        )
    }

    #[test]
    fn a_record_counts_its_sends_errors_and_round_trip_bins() {
        let m = CountedMessages::of_record(&chat(7, "50", "512:3  513:1 512:2")).expect("valid");
        assert_eq!((m.time_ns, m.message_type.as_str()), (7, "chat"));
        let r = &m.rollup;
        assert_eq!((r.count, r.counted, r.errors), (50, 50, 2));
        assert_eq!(r.total, Histogram::from_bins([(512, 5), (513, 1)]));
        assert_eq!(
            (r.uplink.count(), r.server.count(), r.downlink.count()),
            (0, 0, 0)
        );
        assert_eq!((&r.slowest, &r.newest), (&None, &None));
        // The bins are the histogram's: a round trip of 25 ms counted there is in its bin.
        let mut h = Histogram::default();
        h.add(25 * MS);
        let bin = bin_bounds().partition_point(|&low| low <= 25_000_000);
        let m = CountedMessages::of_record(&chat(0, "1", &format!("{bin}:1"))).expect("valid");
        assert_eq!(m.rollup.total, h);
    }

    #[test]
    fn missing_counts_are_zero_and_a_missing_type_is_empty() {
        let m = CountedMessages::of_record(&record(1, &[])).expect("valid");
        assert_eq!((m.message_type.as_str(), m.rollup), ("", Rollup::default()));
    }

    #[test]
    fn damaged_attributes_are_errors() {
        let max = MAX_RECORD_COUNT.to_string();
        let above = (MAX_RECORD_COUNT + 1).to_string();
        for (sent, rtt, want) in [
            ("-1", "", "ws.counted.sent is not a count"),
            ("2.5", "", "ws.counted.sent is not a count"),
            (above.as_str(), "", "ws.counted.sent is not a count"),
            ("1", "512", "pair \"512\""),
            ("1", "512:x", "pair \"512:x\""),
            ("1", "-3:1", "pair \"-3:1\""),
            ("1", "99999:1", "bin 99999 out of range"),
            ("1", &format!("1:{max} 2:1"), "more than"),
        ] {
            let e = CountedMessages::of_record(&chat(0, sent, rtt)).expect_err(rtt);
            assert!(e.to_string().contains(want), "{e} for {sent} {rtt}");
        }
        let errors = record(0, &[(attribute::WS_COUNTED_ERRORS, "many")]);
        assert!(CountedMessages::of_record(&errors).is_err());
    }

    #[test]
    fn records_are_added_at_their_time_in_their_type_and_damaged_ones_left_out() {
        let mut backend = chat(10 * MS, "9", "");
        backend.resource_attributes.clear();
        let records = [
            chat(10 * MS, "50", "512:3"),
            chat(70 * MS, "5", ""),
            record(
                20 * MS,
                &[
                    (attribute::WS_MESSAGE_TYPE, "run"),
                    (attribute::WS_COUNTED_SENT, "4"),
                ],
            ),
            // Receives only: nothing to add.
            record(
                20 * MS,
                &[
                    (attribute::WS_MESSAGE_TYPE, "price"),
                    (attribute::WS_COUNTED_RECEIVED, "300"),
                ],
            ),
            chat(30 * MS, "7", "oops"),
            backend,
            // Outside the window.
            chat(500 * MS, "1000", ""),
        ];
        let mut rollups = Rollups::new(0, 50 * MS, 2);
        assert_eq!(add_records(&records, None, &mut rollups), 1);
        let cells: Vec<(usize, &str, u64, u64)> = rollups
            .cells()
            .map(|(b, kind, r)| (b, kind, r.count, r.counted))
            .collect();
        assert_eq!(
            cells,
            [(0, "chat", 50, 50), (0, "run", 4, 4), (1, "chat", 5, 5)]
        );
        let mut only_run = Rollups::new(0, 50 * MS, 2);
        add_records(&records, Some("run"), &mut only_run);
        assert_eq!(
            only_run.per_type().keys().copied().collect::<Vec<_>>(),
            ["run"]
        );
    }

    #[test]
    fn dropped_items_are_summed_over_browser_records() {
        let dropped = |n: &str| {
            browser_event(
                event::TRACEWIRE_DROPPED,
                0,
                &[(attribute::TRACEWIRE_DROPPED_COUNT, n)],
            )
        };
        let mut backend = dropped("1000");
        backend.resource_attributes.clear();
        assert_eq!(
            dropped_of(&[dropped("12"), dropped("3"), dropped("x"), backend]),
            15
        );
    }
}
