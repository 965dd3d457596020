"""Sends a small trace to a collector with the real OpenTelemetry Python SDK and its
http/protobuf OTLP exporter, then prints (as JSON) every field the collector should return for
it, stringified by the collector's documented rules.

Usage: python3 otel_send.py http://127.0.0.1:PORT
"""

import json
import sys

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

KINDS = {
    SpanKind.INTERNAL: "Internal",
    SpanKind.SERVER: "Server",
    SpanKind.CLIENT: "Client",
    SpanKind.PRODUCER: "Producer",
    SpanKind.CONSUMER: "Consumer",
}
STATUS = {StatusCode.UNSET: "Unset", StatusCode.OK: "Ok", StatusCode.ERROR: "Error"}


def as_string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(list(value), separators=(",", ":"))


def attrs(attributes):
    return {k: as_string(v) for k, v in (attributes or {}).items()}


def main():
    endpoint = sys.argv[1].rstrip("/")
    resource = Resource.create(
        {"service.name": "py-backend", "service.version": "1.2.3", "deployment.environment": "e2e"}
    )
    provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=endpoint + "/v1/traces", timeout=10)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tracewire.e2e", "0.9.0")

    linked = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(1),
    )
    with tracer.start_as_current_span(
        "GET /agents",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "GET",
            "http.response.status_code": 200,
            "cache.hit": False,
            "load.ratio": 1.5,
            "agent.tags": ["alpha", "beta"],
        },
    ) as root:
        root.add_event("auth.checked", {"user.id": "u-17", "attempt": 2})
        with tracer.start_as_current_span(
            "SELECT agents",
            kind=SpanKind.CLIENT,
            attributes={"db.system": "sqlite"},
            links=[Link(linked, {"link.reason": "batch"})],
        ) as child:
            child.set_status(Status(StatusCode.ERROR, "database is locked"))

    exported = provider.force_flush(10_000)
    provider.shutdown()
    if not exported:
        sys.exit("force_flush did not finish")

    spans = []
    for s in memory.get_finished_spans():
        spans.append(
            {
                "trace_id": format(s.context.trace_id, "032x"),
                "span_id": format(s.context.span_id, "016x"),
                "parent_span_id": format(s.parent.span_id, "016x") if s.parent else "",
                "name": s.name,
                "kind": KINDS[s.kind],
                "service_name": "py-backend",
                "start_time_unix_nano": str(s.start_time),
                "end_time_unix_nano": str(s.end_time),
                "duration_ns": s.end_time - s.start_time,
                "status_code": STATUS[s.status.status_code],
                "status_message": s.status.description or "",
                "attributes": attrs(s.attributes),
                "resource_attributes": attrs(s.resource.attributes),
                "scope_name": s.instrumentation_scope.name,
                "scope_version": s.instrumentation_scope.version,
                "events": [
                    {"time_unix_nano": str(e.timestamp), "name": e.name, "attributes": attrs(e.attributes)}
                    for e in s.events
                ],
                "links": [
                    {
                        "trace_id": format(l.context.trace_id, "032x"),
                        "span_id": format(l.context.span_id, "016x"),
                        "trace_state": "",
                        "attributes": attrs(l.attributes),
                    }
                    for l in s.links
                ],
            }
        )
    print(json.dumps({"spans": spans}))


if __name__ == "__main__":
    main()
