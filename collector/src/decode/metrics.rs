//! `ExportMetricsServiceRequest` into metric data points. Each data point is an item: a point
//! that cannot be stored (no time, a time past what the exporter's `DateTime` columns hold,
//! histogram buckets that do not fit their bounds, an unspecified temporality, bad exemplar
//! ids) is rejected on its own and the rest of the request is kept.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar as OtlpExemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    NumberDataPoint, SummaryDataPoint, exemplar, number_data_point,
};

use super::values::{attributes, service_name};
use super::{DecodeError, Decoded, Encoding, optional_id, parse, time_ns, truncate};
use crate::model::{
    Exemplar, ExponentialValue, HistogramValue, MetricInfo, MetricPoint, MetricSource, PointValue,
    SummaryValue, Temporality,
};

/// The latest time the exporter's `DateTime` columns hold (2106-02-07), unix nanoseconds.
const MAX_TIME_NS: i64 = u32::MAX as i64 * 1_000_000_000;

/// Decodes a metrics export request; data points that cannot be stored are counted as
/// rejected.
pub fn decode_metrics(body: &[u8], encoding: Encoding) -> Result<Decoded, DecodeError> {
    Ok(metrics(parse(body, encoding)?))
}

/// The data points of a parsed metrics export request.
pub fn metrics(request: ExportMetricsServiceRequest) -> Decoded {
    let mut out = Decoded::default();
    for resource_metrics in &request.resource_metrics {
        let resource = resource_metrics.resource.as_ref();
        let resource_attributes = resource
            .map(|r| attributes(r.attributes.clone()))
            .unwrap_or_default();
        for scope_metrics in &resource_metrics.scope_metrics {
            let scope = scope_metrics.scope.as_ref();
            let mut source = MetricSource {
                service_name: service_name(&resource_attributes),
                resource_attributes: resource_attributes.clone(),
                resource_schema_url: resource_metrics.schema_url.clone(),
                scope_name: scope.map(|s| s.name.clone()).unwrap_or_default(),
                scope_version: scope.map(|s| s.version.clone()).unwrap_or_default(),
                scope_attributes: scope
                    .map(|s| attributes(s.attributes.clone()))
                    .unwrap_or_default(),
                scope_dropped_attr_count: scope.map_or(0, |s| s.dropped_attributes_count),
                scope_schema_url: scope_metrics.schema_url.clone(),
            };
            out.truncated += truncate::metric_source(&mut source);
            let source = Arc::new(source);
            for metric in &scope_metrics.metrics {
                metric_points(metric, &source, &mut out);
            }
        }
    }
    out.truncated += truncate::truncate(&mut out.batch);
    out
}

/// What every point of one metric shares, and where its points go.
struct Points<'a> {
    source: &'a Arc<MetricSource>,
    metric: Arc<MetricInfo>,
    out: &'a mut Decoded,
}

impl Points<'_> {
    /// Adds one point, or counts it as rejected with its reason.
    fn push(&mut self, point: Result<MetricPoint, String>) {
        self.out.received += 1;
        match point {
            Ok(point) => self.out.batch.metrics.push(point),
            Err(reason) => {
                let name = &self.metric.name;
                self.out
                    .rejected
                    .add(|| format!("data point of metric '{name}': {reason}"));
            }
        }
    }

    /// A point with the fields every type has.
    fn point(
        &self,
        attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
        start: u64,
        time: u64,
        flags: u32,
        exemplars: &[OtlpExemplar],
        value: PointValue,
    ) -> Result<MetricPoint, String> {
        if self.metric.name.is_empty() {
            return Err("the metric has no name".into());
        }
        Ok(MetricPoint {
            tenant: String::new(),
            source: Arc::clone(self.source),
            metric: Arc::clone(&self.metric),
            attributes: super::values::attributes(attributes.to_vec()),
            start_time_ns: point_time(start, "start_time_unix_nano")?,
            time_ns: match point_time(time, "time_unix_nano")? {
                0 => return Err("time_unix_nano is required".into()),
                t => t,
            },
            flags,
            exemplars: exemplars.iter().map(exemplar).collect::<Result<_, _>>()?,
            value,
        })
    }
}

fn metric_points(metric: &Metric, source: &Arc<MetricSource>, out: &mut Decoded) {
    let mut info = MetricInfo {
        name: metric.name.clone(),
        description: metric.description.clone(),
        unit: metric.unit.clone(),
    };
    out.truncated += truncate::metric(&mut info);
    let mut points = Points {
        source,
        metric: Arc::new(info),
        out,
    };
    match &metric.data {
        // A metric without data has no points to count.
        None => {}
        Some(Data::Gauge(gauge)) => {
            for p in &gauge.data_points {
                let point = points.point(
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    p.flags,
                    &p.exemplars,
                    PointValue::Gauge { value: number(p) },
                );
                points.push(point);
            }
        }
        Some(Data::Sum(sum)) => {
            let temporality = temporality(sum.aggregation_temporality);
            for p in &sum.data_points {
                let point = temporality.clone().and_then(|temporality| {
                    points.point(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        p.flags,
                        &p.exemplars,
                        PointValue::Sum {
                            value: number(p),
                            temporality,
                            monotonic: sum.is_monotonic,
                        },
                    )
                });
                points.push(point);
            }
        }
        Some(Data::Histogram(histogram)) => {
            let temporality = temporality(histogram.aggregation_temporality);
            for p in &histogram.data_points {
                let point = temporality
                    .clone()
                    .and_then(|t| histogram_value(p, t))
                    .and_then(|value| {
                        points.point(
                            &p.attributes,
                            p.start_time_unix_nano,
                            p.time_unix_nano,
                            p.flags,
                            &p.exemplars,
                            PointValue::Histogram(value),
                        )
                    });
                points.push(point);
            }
        }
        Some(Data::ExponentialHistogram(histogram)) => {
            let temporality = temporality(histogram.aggregation_temporality);
            for p in &histogram.data_points {
                let point = temporality
                    .clone()
                    .and_then(|t| exponential_value(p, t))
                    .and_then(|value| {
                        points.point(
                            &p.attributes,
                            p.start_time_unix_nano,
                            p.time_unix_nano,
                            p.flags,
                            &p.exemplars,
                            PointValue::ExponentialHistogram(value),
                        )
                    });
                points.push(point);
            }
        }
        Some(Data::Summary(summary)) => {
            for p in &summary.data_points {
                let point = summary_value(p).and_then(|value| {
                    points.point(
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                        p.flags,
                        &[],
                        PointValue::Summary(value),
                    )
                });
                points.push(point);
            }
        }
    }
}

/// A point time that fits the exporter's `DateTime` columns.
fn point_time(value: u64, field: &str) -> Result<i64, String> {
    let ns = time_ns(value, field)?;
    if ns > MAX_TIME_NS {
        return Err(format!("{field} {value} is beyond the year 2106"));
    }
    Ok(ns)
}

fn temporality(value: i32) -> Result<Temporality, String> {
    Temporality::from_otlp(value).ok_or_else(|| {
        format!("aggregation_temporality must be 1 (delta) or 2 (cumulative), got {value}")
    })
}

fn number(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        // Stored as Float64, as the exporter does: exact up to 2^53.
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        None => 0.0,
    }
}

fn histogram_value(
    p: &HistogramDataPoint,
    temporality: Temporality,
) -> Result<HistogramValue, String> {
    if !p.bucket_counts.is_empty() && p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
        return Err(format!(
            "{} bucket counts for {} explicit bounds; there must be one more count than bounds",
            p.bucket_counts.len(),
            p.explicit_bounds.len()
        ));
    }
    if p.explicit_bounds
        .windows(2)
        .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
    {
        return Err("explicit_bounds must increase strictly".into());
    }
    Ok(HistogramValue {
        count: p.count,
        sum: p.sum.unwrap_or(0.0),
        bucket_counts: p.bucket_counts.clone(),
        explicit_bounds: p.explicit_bounds.clone(),
        min: p.min.unwrap_or(0.0),
        max: p.max.unwrap_or(0.0),
        temporality,
    })
}

fn exponential_value(
    p: &ExponentialHistogramDataPoint,
    temporality: Temporality,
) -> Result<ExponentialValue, String> {
    // OTLP allows scales from -10 to 20; beyond that, bucket bounds are not representable.
    if !(-10..=20).contains(&p.scale) {
        return Err(format!("scale {} is outside -10..=20", p.scale));
    }
    let buckets = |b: &Option<Buckets>| {
        b.as_ref()
            .map(|b| (b.offset, b.bucket_counts.clone()))
            .unwrap_or_default()
    };
    let (positive_offset, positive_bucket_counts) = buckets(&p.positive);
    let (negative_offset, negative_bucket_counts) = buckets(&p.negative);
    Ok(ExponentialValue {
        count: p.count,
        sum: p.sum.unwrap_or(0.0),
        scale: p.scale,
        zero_count: p.zero_count,
        positive_offset,
        positive_bucket_counts,
        negative_offset,
        negative_bucket_counts,
        min: p.min.unwrap_or(0.0),
        max: p.max.unwrap_or(0.0),
        temporality,
    })
}

fn summary_value(p: &SummaryDataPoint) -> Result<SummaryValue, String> {
    if let Some(bad) = p
        .quantile_values
        .iter()
        .find(|q| !(0.0..=1.0).contains(&q.quantile))
    {
        return Err(format!("quantile {} is outside [0, 1]", bad.quantile));
    }
    Ok(SummaryValue {
        count: p.count,
        sum: p.sum,
        quantiles: p
            .quantile_values
            .iter()
            .map(|q| (q.quantile, q.value))
            .collect(),
    })
}

fn exemplar(e: &OtlpExemplar) -> Result<Exemplar, String> {
    Ok(Exemplar {
        filtered_attributes: attributes(e.filtered_attributes.clone()),
        time_ns: point_time(e.time_unix_nano, "exemplar time_unix_nano")?,
        value: match e.value {
            Some(exemplar::Value::AsDouble(v)) => v,
            Some(exemplar::Value::AsInt(v)) => v as f64,
            None => 0.0,
        },
        span_id: optional_id(&e.span_id, 8, "exemplar span_id")?,
        trace_id: optional_id(&e.trace_id, 16, "exemplar trace_id")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MetricKind;

    const JSON: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
      "scopeMetrics":[{"scope":{"name":"meter","version":"1.0"},"metrics":[
        {"name":"requests","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
          {"attributes":[{"key":"route","value":{"stringValue":"/a"}}],"startTimeUnixNano":"1700000000000000000",
           "timeUnixNano":"1700000010000000000","asInt":"42",
           "exemplars":[{"timeUnixNano":"1700000005000000000","asDouble":1.5,
             "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]},
          {"timeUnixNano":"0","asInt":"1"}]}},
        {"name":"temperature","gauge":{"dataPoints":[{"timeUnixNano":"1700000010000000000","asDouble":21.5}]}},
        {"name":"latency","unit":"ms","histogram":{"aggregationTemporality":1,"dataPoints":[
          {"timeUnixNano":"1700000010000000000","count":"3","sum":30,"bucketCounts":["1","2","0"],"explicitBounds":[5,10]},
          {"timeUnixNano":"1700000010000000000","count":"3","bucketCounts":["1","2"],"explicitBounds":[5,10]}]}},
        {"name":"sizes","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[
          {"timeUnixNano":"1700000010000000000","count":"4","scale":1,"zeroCount":"1","positive":{"offset":-1,"bucketCounts":["1","2"]}}]}},
        {"name":"rpc","summary":{"dataPoints":[
          {"timeUnixNano":"1700000010000000000","count":"10","sum":5,"quantileValues":[{"quantile":0.5,"value":0.4},{"quantile":1,"value":2}]}]}},
        {"name":"unsure","sum":{"dataPoints":[{"timeUnixNano":"1700000010000000000","asDouble":1}]}}
      ]}]}]}"#;

    #[test]
    fn every_metric_type_decodes_and_bad_points_are_rejected_one_by_one() {
        let decoded = decode_metrics(JSON.as_bytes(), Encoding::Json).expect("valid");
        assert_eq!(decoded.received, 8);
        assert_eq!(
            decoded.rejected.count,
            3,
            "{}",
            decoded.rejected.message("points")
        );
        let message = decoded.rejected.message("data points");
        assert!(
            message.contains("metric 'requests': time_unix_nano is required"),
            "{message}"
        );
        let kinds: Vec<_> = decoded
            .batch
            .metrics
            .iter()
            .map(|p| p.value.kind())
            .collect();
        assert_eq!(
            kinds,
            [
                MetricKind::Sum,
                MetricKind::Gauge,
                MetricKind::Histogram,
                MetricKind::ExponentialHistogram,
                MetricKind::Summary
            ]
        );
        let sum = &decoded.batch.metrics[0];
        assert_eq!(sum.source.service_name, "api");
        assert_eq!(sum.source.scope_name, "meter");
        assert_eq!(sum.metric.unit, "1");
        assert_eq!(sum.attributes["route"], "/a");
        assert_eq!(sum.start_time_ns, 1_700_000_000_000_000_000);
        assert_eq!(
            sum.value,
            PointValue::Sum {
                value: 42.0,
                temporality: Temporality::Cumulative,
                monotonic: true
            }
        );
        assert_eq!(
            sum.exemplars[0].trace_id,
            "5b8efff798038103d269b633813fc60c"
        );
        assert_eq!(sum.exemplars[0].value, 1.5);
        let PointValue::Histogram(h) = &decoded.batch.metrics[2].value else {
            panic!("a histogram");
        };
        assert_eq!(
            (h.count, h.sum, h.temporality),
            (3, 30.0, Temporality::Delta)
        );
        let PointValue::ExponentialHistogram(e) = &decoded.batch.metrics[3].value else {
            panic!("an exponential histogram");
        };
        assert_eq!((e.scale, e.zero_count, e.positive_offset), (1, 1, -1));
        let PointValue::Summary(s) = &decoded.batch.metrics[4].value else {
            panic!("a summary");
        };
        assert_eq!(s.quantiles, [(0.5, 0.4), (1.0, 2.0)]);
    }

    #[test]
    fn protobuf_decodes_like_json() {
        let request: ExportMetricsServiceRequest = serde_json::from_str(JSON).expect("json");
        let from_json = metrics(request.clone());
        let from_protobuf =
            decode_metrics(&prost::Message::encode_to_vec(&request), Encoding::Protobuf)
                .expect("protobuf");
        assert_eq!(from_json.batch, from_protobuf.batch);
        assert_eq!(from_json.received, from_protobuf.received);
    }
}
