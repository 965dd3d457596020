"""Sends metrics (and a trace) to a collector with the real OpenTelemetry Python SDK, over
OTLP/HTTP (http/protobuf) or OTLP/gRPC (gzip), then prints as JSON what the collector should
answer for them.

Metrics of service SERVICE, exported twice (cumulative temporality, the SDK's default):
- counter `py.requests`: +3 on route /a and +2 on /b, then +4 more on /a;
- up-down counter `py.active`: +5, then -2;
- histogram `py.latency` (ms): 5, 15 and 150, then 40;
- observable gauge `py.temperature`: 21.5 on host a at each export.
The trace is one SERVER span `GET /py` of the same service.

Usage: python3 otel_metrics.py http|grpc ENDPOINT SERVICE
"""

import json
import sys
import time

from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind


def exporters(protocol, endpoint):
    """The metric and span exporters for `protocol`."""
    if protocol == "grpc":
        from grpc import Compression
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return (
            OTLPMetricExporter(endpoint=endpoint, insecure=True, compression=Compression.Gzip, timeout=10),
            OTLPSpanExporter(endpoint=endpoint, insecure=True, compression=Compression.Gzip, timeout=10),
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return (
        OTLPMetricExporter(endpoint=endpoint + "/v1/metrics", timeout=10),
        OTLPSpanExporter(endpoint=endpoint + "/v1/traces", timeout=10),
    )


def main():
    protocol, endpoint, service = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]
    metric_exporter, span_exporter = exporters(protocol, endpoint)
    resource = Resource.create({"service.name": service})
    # Exports only when flushed, so the test knows exactly which points were sent.
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("tracewire.e2e.metrics", "1.0")

    requests = meter.create_counter("py.requests", unit="1", description="Requests served")
    active = meter.create_up_down_counter("py.active", unit="1", description="Requests in flight")
    latency = meter.create_histogram("py.latency", unit="ms", description="Request latency")
    meter.create_observable_gauge(
        "py.temperature",
        callbacks=[lambda _options: [Observation(21.5, {"host": "a"})]],
        unit="Cel",
        description="Room temperature",
    )

    requests.add(3, {"route": "/a"})
    requests.add(2, {"route": "/b"})
    active.add(5)
    for ms in (5, 15, 150):
        latency.record(ms)
    if not provider.force_flush(10_000):
        sys.exit("first metrics export failed")

    # The exporter's tables keep whole seconds: the second export goes out in a later second,
    # as periodic exports (every 60 s by default) do.
    time.sleep(1.1)
    requests.add(4, {"route": "/a"})
    active.add(-2)
    latency.record(40)
    if not provider.force_flush(10_000):
        sys.exit("second metrics export failed")
    provider.shutdown()

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    tracer = tracer_provider.get_tracer("tracewire.e2e.metrics")
    with tracer.start_as_current_span("GET /py", kind=SpanKind.SERVER) as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    if not tracer_provider.force_flush(10_000):
        sys.exit("span export failed")
    tracer_provider.shutdown()

    print(
        json.dumps(
            {
                "service": service,
                "trace_id": trace_id,
                "metrics": {
                    "py.requests": "sum",
                    "py.active": "sum",
                    "py.latency": "histogram",
                    "py.temperature": "gauge",
                },
                # Over a window holding both exports, in one step:
                "increase": {"/a": 7, "/b": 2},
                "active_last": 3,
                "latency_count": 4,
                "temperature_last": 21.5,
            }
        )
    )


if __name__ == "__main__":
    main()
