//! A Rust backend's OpenTelemetry SDK with opentelemetry-otlp's gRPC (tonic) exporter, gzip on,
//! sends metrics and a span to the collector's OTLP/gRPC listener; the query API shows them.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{
    Compression, MetricExporter, SpanExporter, WithExportConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value as Json;
use tracewire_e2e::clickhouse_store::wait_until;
use tracewire_e2e::collector::Collector;
use tracewire_e2e::{http_client, now_ns};

const NS: u64 = 1_000_000_000;

fn get(collector: &Collector, path: &str) -> (u16, Json) {
    let response = http_client()
        .get(collector.api_url(path))
        .send()
        .expect("collector answers");
    (response.status().as_u16(), response.json().expect("JSON"))
}

/// Exports 3 requests on route /agents, one 12 ms latency and one server span; answers the
/// span's trace id.
async fn backend(endpoint: &str) -> String {
    let resource = Resource::builder()
        .with_service_name("rust-backend")
        .build();
    let exporter = MetricExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_compression(Compression::Gzip)
        .build()
        .expect("metric exporter");
    let meters = SdkMeterProvider::builder()
        .with_resource(resource.clone())
        .with_reader(PeriodicReader::builder(exporter).build())
        .build();
    let meter = meters.meter("tracewire.e2e");
    meter
        .u64_counter("rust.requests")
        .build()
        .add(3, &[KeyValue::new("route", "/agents")]);
    meter
        .f64_histogram("rust.latency")
        .with_unit("ms")
        .build()
        .record(12.0, &[]);
    meters.force_flush().expect("metrics exported");
    meters.shutdown().expect("meter provider stops");

    let spans = SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_compression(Compression::Gzip)
        .build()
        .expect("span exporter");
    let tracers = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_batch_exporter(spans)
        .build();
    let tracer = tracers.tracer("tracewire.e2e");
    let mut span = tracer
        .span_builder("GET /agents")
        .with_kind(SpanKind::Server)
        .start(&tracer);
    let trace_id = span.span_context().trace_id().to_string();
    span.end();
    tracers.force_flush().expect("spans exported");
    tracers.shutdown().expect("tracer provider stops");
    trace_id
}

#[test]
fn opentelemetry_otlp_grpc_exporter_reaches_the_collector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let collector = Collector::start(&dir.path().join("tw.db"), &[]);
    let start = now_ns() - 600 * NS;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let trace_id = runtime.block_on(backend(&collector.grpc));
    let end = now_ns() + 120 * NS;

    let (status, catalog) = get(&collector, "/api/metrics?service=rust-backend");
    assert_eq!(status, 200);
    let kinds: Vec<(&str, &str)> = catalog["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or(""),
                m["type"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("rust.latency", "histogram"), ("rust.requests", "sum")]
    );
    let window = format!("start={start}&end={end}&step={}", end - start);
    let (_, requests) = get(
        &collector,
        &format!("/api/metrics/series?name=rust.requests&agg=increase&attr.route=/agents&{window}"),
    );
    assert_eq!(
        requests["series"][0]["points"][0]["value"], 3.0,
        "{requests}"
    );
    let (_, latency) = get(
        &collector,
        &format!("/api/metrics/series?name=rust.latency&agg=count&{window}"),
    );
    assert_eq!(latency["series"][0]["points"][0]["value"], 1.0, "{latency}");
    assert!(wait_until(Duration::from_secs(10), || {
        get(&collector, &format!("/api/traces/{trace_id}")).0 == 200
    }));
    let (_, trace) = get(&collector, &format!("/api/traces/{trace_id}"));
    assert_eq!(trace["spans"][0]["service_name"], "rust-backend", "{trace}");
}
