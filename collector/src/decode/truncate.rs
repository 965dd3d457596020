//! Limits on the size of what one span, log record or metric data point stores. Longer strings are cut (on a
//! character boundary) and larger attribute maps keep their first keys in byte order; the
//! item is stored, and the cuts are counted. Names end up in low-cardinality columns and
//! attribute maps are copied into every span of their resource, so neither may grow without
//! bound.

use crate::model::{Attributes, Batch, MetricInfo, MetricSource};

/// Longest name kept, in bytes: span, event, scope and service names, scope versions, attribute
/// keys, severity texts and log event names.
pub const MAX_NAME_BYTES: usize = 4 << 10;
/// Longest value kept, in bytes: attribute values, status messages and trace states.
pub const MAX_VALUE_BYTES: usize = 64 << 10;
/// Longest log body kept, in bytes.
pub const MAX_LOG_BODY_BYTES: usize = 256 << 10;
/// Most attributes kept in one map (resource, scope, span, event, link, log, data point or
/// exemplar attributes).
pub const MAX_ATTRIBUTES: usize = 1024;

/// Cuts what is over the limits in `batch`; answers how many strings and maps were cut.
pub fn truncate(batch: &mut Batch) -> u64 {
    let mut cuts = Cuts::default();
    for span in &mut batch.spans {
        cuts.string(&mut span.name, MAX_NAME_BYTES);
        cuts.string(&mut span.service_name, MAX_NAME_BYTES);
        cuts.string(&mut span.scope_name, MAX_NAME_BYTES);
        cuts.string(&mut span.scope_version, MAX_NAME_BYTES);
        cuts.string(&mut span.trace_state, MAX_VALUE_BYTES);
        cuts.string(&mut span.status_message, MAX_VALUE_BYTES);
        cuts.attributes(&mut span.resource_attributes);
        cuts.attributes(&mut span.span_attributes);
        for event in &mut span.events {
            cuts.string(&mut event.name, MAX_NAME_BYTES);
            cuts.attributes(&mut event.attributes);
        }
        for link in &mut span.links {
            cuts.string(&mut link.trace_state, MAX_VALUE_BYTES);
            cuts.attributes(&mut link.attributes);
        }
    }
    for log in &mut batch.logs {
        cuts.string(&mut log.service_name, MAX_NAME_BYTES);
        cuts.string(&mut log.scope_name, MAX_NAME_BYTES);
        cuts.string(&mut log.scope_version, MAX_NAME_BYTES);
        cuts.string(&mut log.severity_text, MAX_NAME_BYTES);
        cuts.string(&mut log.event_name, MAX_NAME_BYTES);
        cuts.string(&mut log.body, MAX_LOG_BODY_BYTES);
        cuts.attributes(&mut log.resource_attributes);
        cuts.attributes(&mut log.log_attributes);
    }
    // What points share (their source and metric) is cut once, by [`metric_source`] and
    // [`metric`] as it is decoded.
    for point in &mut batch.metrics {
        cuts.attributes(&mut point.attributes);
        for exemplar in &mut point.exemplars {
            cuts.attributes(&mut exemplar.filtered_attributes);
        }
    }
    cuts.0
}

/// Cuts what is over the limits in the resource and scope that metric points share; answers
/// how many strings and maps were cut.
pub fn metric_source(source: &mut MetricSource) -> u64 {
    let mut cuts = Cuts::default();
    cuts.string(&mut source.service_name, MAX_NAME_BYTES);
    cuts.string(&mut source.scope_name, MAX_NAME_BYTES);
    cuts.string(&mut source.scope_version, MAX_NAME_BYTES);
    cuts.string(&mut source.resource_schema_url, MAX_VALUE_BYTES);
    cuts.string(&mut source.scope_schema_url, MAX_VALUE_BYTES);
    cuts.attributes(&mut source.resource_attributes);
    cuts.attributes(&mut source.scope_attributes);
    cuts.0
}

/// Cuts a metric's name and unit to the name limit and its description to the value limit;
/// answers how many were cut.
pub fn metric(info: &mut MetricInfo) -> u64 {
    let mut cuts = Cuts::default();
    cuts.string(&mut info.name, MAX_NAME_BYTES);
    cuts.string(&mut info.unit, MAX_NAME_BYTES);
    cuts.string(&mut info.description, MAX_VALUE_BYTES);
    cuts.0
}

#[derive(Default)]
struct Cuts(u64);

impl Cuts {
    fn string(&mut self, s: &mut String, max: usize) {
        if s.len() > max {
            let mut cut = max;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.shrink_to_fit();
            self.0 += 1;
        }
    }

    fn attributes(&mut self, map: &mut Attributes) {
        if map.len() > MAX_ATTRIBUTES
            && let Some(first_dropped) = map.keys().nth(MAX_ATTRIBUTES).cloned()
        {
            map.split_off(&first_dropped);
            self.0 += 1;
        }
        let long: Vec<String> = map
            .keys()
            .filter(|k| k.len() > MAX_NAME_BYTES)
            .cloned()
            .collect();
        for key in long {
            if let Some(value) = map.remove(&key) {
                let mut short = key;
                self.string(&mut short, MAX_NAME_BYTES);
                map.insert(short, value);
            }
        }
        for value in map.values_mut() {
            self.string(value, MAX_VALUE_BYTES);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogRecord;
    use crate::testing::span;

    #[test]
    fn long_names_and_values_are_cut_on_character_boundaries() {
        // A 1 MiB name of three-byte characters: 4096 is not a boundary, 4095 is.
        let mut s = span(1, 1, None, "svc", &"€".repeat(350_000), 0, 1);
        s.span_attributes
            .insert("k".repeat(MAX_NAME_BYTES + 10), "v".into());
        s.span_attributes
            .insert("long".into(), "x".repeat(MAX_VALUE_BYTES * 2));
        let mut batch = Batch {
            spans: vec![s],
            ..Batch::default()
        };
        assert_eq!(truncate(&mut batch), 3);
        let s = &batch.spans[0];
        assert_eq!(s.name.len(), MAX_NAME_BYTES - 1);
        assert!(s.name.chars().all(|c| c == '€'));
        assert_eq!(s.span_attributes["long"].len(), MAX_VALUE_BYTES);
        assert_eq!(s.span_attributes["k".repeat(MAX_NAME_BYTES).as_str()], "v");
        assert_eq!(truncate(&mut batch), 0, "nothing left to cut");
    }

    #[test]
    fn large_maps_keep_their_first_keys() {
        let mut s = span(1, 1, None, "svc", "n", 0, 1);
        s.resource_attributes = (0..100_000)
            .map(|i| (format!("key{i:06}"), "v".to_owned()))
            .collect();
        let mut batch = Batch {
            spans: vec![s],
            ..Batch::default()
        };
        assert_eq!(truncate(&mut batch), 1);
        let kept = &batch.spans[0].resource_attributes;
        assert_eq!(kept.len(), MAX_ATTRIBUTES);
        assert_eq!(kept.keys().next().map(String::as_str), Some("key000000"));
        assert_eq!(kept.keys().last().map(String::as_str), Some("key001023"));
    }

    #[test]
    fn metric_names_sources_and_point_attributes_are_cut() {
        let mut request = crate::testing::otlp_metrics(&[(1_700_000_010, 5)]);
        let metric = &mut request.resource_metrics[0].scope_metrics[0].metrics[0];
        metric.name = "m".repeat(MAX_NAME_BYTES + 1);
        metric.description = "d".repeat(MAX_VALUE_BYTES + 1);
        if let Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(sum)) =
            &mut metric.data
        {
            sum.data_points[0].attributes = (0..MAX_ATTRIBUTES + 5)
                .map(|i| crate::testing::otlp::text(&format!("k{i:05}"), "v"))
                .collect();
        }
        request.resource_metrics[0]
            .resource
            .get_or_insert_default()
            .attributes
            .push(crate::testing::otlp::text(
                "big",
                "x".repeat(MAX_VALUE_BYTES + 1),
            ));
        let decoded = crate::decode::metrics::metrics(request);
        assert_eq!(
            decoded.truncated, 4,
            "name, description, resource value, point map"
        );
        let point = &decoded.batch.metrics[0];
        assert_eq!(point.metric.name.len(), MAX_NAME_BYTES);
        assert_eq!(point.metric.description.len(), MAX_VALUE_BYTES);
        assert_eq!(
            point.source.resource_attributes["big"].len(),
            MAX_VALUE_BYTES
        );
        assert_eq!(point.attributes.len(), MAX_ATTRIBUTES);
    }

    #[test]
    fn log_bodies_have_their_own_limit() {
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
            body: "b".repeat(MAX_LOG_BODY_BYTES + 1),
            scope_name: String::new(),
            scope_version: String::new(),
            resource_attributes: Attributes::new(),
            log_attributes: Attributes::new(),
            event_name: String::new(),
        };
        let mut batch = Batch {
            logs: vec![log],
            ..Batch::default()
        };
        assert_eq!(truncate(&mut batch), 1);
        assert_eq!(batch.logs[0].body.len(), MAX_LOG_BODY_BYTES);
    }
}
