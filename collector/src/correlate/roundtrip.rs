//! Round trips: exchanges as stored records, and the durations and clock-offset samples their
//! times give.

use std::collections::HashMap;

use tracewire_semconv::attribute;

use super::exchange::exchanges;
use super::skew::Sample;
use crate::model::{ExchangeTimes, RoundTrip, SpanRecord};

/// Durations of an exchange, nanoseconds, with the browser clock shifted by an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// t4 − t1, when there was a reply.
    pub total_ns: Option<i64>,
    /// Browser to backend.
    pub uplink_ns: i64,
    /// t3 − t2.
    pub server_ns: i64,
    /// Backend to browser, when there was a reply.
    pub downlink_ns: Option<i64>,
    /// How long the page took to process the reply.
    pub client_processing_ns: Option<i64>,
}

impl ExchangeTimes {
    /// The exchange's clock-offset sample, when it had a reply.
    pub fn sample(&self) -> Option<Sample> {
        Some(Sample::from_times(
            self.client_send_ns,
            self.server_receive_ns,
            self.server_done_ns,
            self.client_receive_ns?,
        ))
    }

    /// The durations, with `offset_ns` (server minus client) taken out of the cross-clock ones.
    /// Uplink is clamped to the measured network delay so neither direction is negative.
    pub fn timings(&self, offset_ns: i64) -> Timings {
        let server = self.server_done_ns - self.server_receive_ns;
        let uplink = self.server_receive_ns - self.client_send_ns - offset_ns;
        match self.client_receive_ns {
            Some(t4) => {
                let total = t4 - self.client_send_ns;
                let delay = (total - server).max(0);
                let uplink = uplink.clamp(0, delay);
                Timings {
                    total_ns: Some(total),
                    uplink_ns: uplink,
                    server_ns: server,
                    downlink_ns: Some(delay - uplink),
                    client_processing_ns: self.client_processing_ns,
                }
            }
            None => Timings {
                total_ns: None,
                uplink_ns: uplink.max(0),
                server_ns: server,
                downlink_ns: None,
                client_processing_ns: self.client_processing_ns,
            },
        }
    }
}

/// The round trips among `spans` (every stored span of one or more traces), in input order of
/// their send spans. Each record's version is the number of spans of its trace.
pub fn round_trips(spans: &[SpanRecord]) -> Vec<RoundTrip> {
    let mut per_trace: HashMap<&str, u64> = HashMap::new();
    for span in spans {
        *per_trace.entry(&span.trace_id).or_default() += 1;
    }
    exchanges(spans)
        .iter()
        .map(|x| {
            let owned = |key| x.attribute(key).map(str::to_owned);
            RoundTrip {
                tenant: x.send.tenant.clone(),
                trace_id: x.send.trace_id.clone(),
                send_span_id: x.send.span_id.clone(),
                server_span_id: x.server.span_id.clone(),
                receive_span_id: x.reply.map(|r| r.span_id.clone()),
                session_id: owned(attribute::SESSION_ID),
                user_id: owned(attribute::USER_ID),
                url: owned(attribute::URL_FULL),
                message_type: owned(attribute::WS_MESSAGE_TYPE),
                service: x.send.service_name.clone(),
                server_service: x.server.service_name.clone(),
                times: x.times(),
                error: x.error,
                version: per_trace
                    .get(x.send.trace_id.as_str())
                    .copied()
                    .unwrap_or(0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{one_exchange, payload_free_connection};

    const MS: i64 = 1_000_000;

    #[test]
    fn records_carry_ids_attributes_times_and_the_trace_size() {
        let mut spans = one_exchange(0);
        spans.push(crate::testing::span(7, 1, None, "api", "GET /", 0, MS));
        let list = round_trips(&spans);
        assert_eq!(list.len(), 1);
        let r = &list[0];
        assert_eq!(r.trace_id, hex::encode([1u8; 16]));
        assert_eq!(r.session_id.as_deref(), Some("sess-1"));
        assert_eq!(r.message_type, None);
        assert_eq!(
            (r.service.as_str(), r.server_service.as_str()),
            ("web", "api")
        );
        assert!(r.receive_span_id.is_some());
        assert_eq!(r.times.client_receive_ns, Some(10 * MS));
        assert_eq!(r.times.client_processing_ns, Some(MS));
        assert_eq!(r.version, 5, "the five spans of its own trace");
    }

    #[test]
    fn payload_free_messages_become_records_like_injected_ones() {
        let spans = payload_free_connection(0);
        let list = round_trips(&spans);
        let injected = &round_trips(&one_exchange(0))[0];
        let ids: Vec<_> = list
            .iter()
            .map(|r| (r.server_span_id.clone(), r.receive_span_id.clone()))
            .collect();
        assert_eq!(
            ids,
            [0x21u8, 0x22]
                .iter()
                .map(|b| (hex::encode([*b; 8]), Some(hex::encode([b + 0x30; 8]))))
                .collect::<Vec<_>>()
        );
        for r in &list {
            assert_eq!(r.times.timings(0), injected.times.timings(0));
            assert_eq!(r.session_id.as_deref(), Some("sess-1"));
            assert_eq!(
                r.version,
                spans.len() as u64,
                "the whole connection's trace"
            );
        }
    }

    #[test]
    fn a_send_without_a_reply_has_no_sample_and_open_ended_timings() {
        let times = ExchangeTimes {
            client_send_ns: 0,
            server_receive_ns: 5 * MS,
            server_done_ns: 7 * MS,
            client_receive_ns: None,
            client_processing_ns: None,
        };
        assert_eq!(times.sample(), None);
        let t = times.timings(MS);
        assert_eq!(
            (t.total_ns, t.uplink_ns, t.server_ns),
            (None, 4 * MS, 2 * MS)
        );
    }
}
