//! OpenTelemetry setup: one tracer provider per demo service, exporting OTLP/HTTP protobuf to
//! the collector in batches. `--clock-offset-ms` shifts every exported time, which simulates a
//! host whose clock is off (the collector's skew correction must undo it).

use std::time::Duration;

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};

/// How often batched spans are sent; short, so the demo's traces show up at once.
const EXPORT_DELAY: Duration = Duration::from_millis(500);

/// The demo's tracer providers; flushed and shut down by [`Telemetry::shutdown`].
pub struct Telemetry {
    providers: Vec<SdkTracerProvider>,
}

impl Telemetry {
    /// Providers for each service name, exporting to `endpoint` (the collector's OTLP base URL).
    pub fn start(endpoint: &str, services: &[&str], clock_offset_ms: i64) -> Result<Self, String> {
        let providers = services
            .iter()
            .map(|service| provider(endpoint, service, clock_offset_ms))
            .collect::<Result<_, _>>()?;
        Ok(Self { providers })
    }

    /// The tracer of the `index`-th service given to [`Telemetry::start`].
    pub fn tracer(&self, index: usize) -> BoxedTracer {
        BoxedTracer::new(Box::new(self.providers[index].tracer("tracewire-demo")))
    }

    /// Sends what is buffered and stops the exporters.
    pub fn shutdown(self) {
        for provider in self.providers {
            if let Err(e) = provider.shutdown() {
                eprintln!("agent-backend: telemetry shutdown: {e}");
            }
        }
    }
}

fn provider(
    endpoint: &str,
    service: &str,
    clock_offset_ms: i64,
) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .map_err(|e| format!("OTLP exporter for {endpoint}: {e}"))?;
    let exporter = Shifted {
        inner: exporter,
        offset_ms: clock_offset_ms,
    };
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_scheduled_delay(EXPORT_DELAY)
                .build(),
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .with_span_processor(processor)
        .build())
}

/// An exporter that moves every time by a fixed offset before handing spans on.
#[derive(Debug)]
struct Shifted<E> {
    inner: E,
    offset_ms: i64,
}

impl<E> Shifted<E> {
    fn shift(&self, t: std::time::SystemTime) -> std::time::SystemTime {
        let by = Duration::from_millis(self.offset_ms.unsigned_abs());
        if self.offset_ms >= 0 { t + by } else { t - by }
    }
}

impl<E: SpanExporter> SpanExporter for Shifted<E> {
    fn export(&self, mut batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        if self.offset_ms != 0 {
            for span in &mut batch {
                span.start_time = self.shift(span.start_time);
                span.end_time = self.shift(span.end_time);
                for event in span.events.events.iter_mut() {
                    event.timestamp = self.shift(event.timestamp);
                }
            }
        }
        self.inner.export(batch)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
