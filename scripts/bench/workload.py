"""Request bodies for scripts/bench-rotel.py, written once into files that wrk sends.

`protobuf` is the shape of collector/benches/ingest.rs: requests of 500 spans in traces of 8,
15 attributes and 3 events a span, one backend resource. `browser_json` is what a page sends
through the browser SDK: OTLP/JSON of 20 spans, five WebSocket exchanges of ws.send (PRODUCER),
the reply's ws.receive and ws.process, and a fetch, on a `telemetry.sdk.language = webjs`
resource, so Tracewire's correlation step has sends to look at.
"""

import json
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

# Bodies made within this long are reused: their times stay inside any retention.
REUSE_NS = 6 * 3600 * 10**9


class Bodies:
    """Files of one load: `index` lists them, one path a line."""

    def __init__(self, directory, requests, spans_per_request, content_type, empty, label):
        self.directory = directory
        self.index = directory / "index"
        self.requests = requests
        self.spans = requests * spans_per_request
        self.content_type = content_type
        self.empty = empty
        self.label = label

    def describe(self):
        size = sum(p.stat().st_size for p in self.directory.glob("*.body"))
        return (f"{self.requests} distinct requests, {self.spans} spans ({self.label}), "
                f"{size / 2**20:.1f} MiB")


def _cached(directory, meta, now_ns, write):
    meta_path = directory / "meta.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if {k: v for k, v in old.items() if k != "base_ns"} == meta and now_ns - old["base_ns"] < REUSE_NS:
            return
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.body"):
        stale.unlink()
    names = []
    for index, body in enumerate(write(now_ns)):
        path = directory / f"{index:06}.body"
        path.write_bytes(body)
        names.append(str(path))
    (directory / "index").write_text("\n".join(names) + "\n")
    meta_path.write_text(json.dumps(dict(meta, base_ns=now_ns)))


def _kv(key, **value):
    return KeyValue(key=key, value=AnyValue(**value))


def protobuf(root, requests, spans, now_ns):
    directory = root / f"protobuf-{requests}x{spans}"
    names = ["ws.send chat", "ws.receive chat", "GET /api/agents", "db.query", "agent.run"]
    events = ["queued", "sent", "acked"]

    def write(base_ns):
        for index in range(requests):
            base = base_ns + index * 10**9
            request = ExportTraceServiceRequest()
            rs = request.resource_spans.add()
            for key, value in [("service.name", "agent-backend"), ("service.version", "1.4.2"),
                               ("deployment.environment", "prod"), ("host.name", "node-17")]:
                rs.resource.attributes.append(_kv(key, string_value=value))
            ss = rs.scope_spans.add()
            ss.scope.name, ss.scope.version = "tracewire", "0.1.0"
            for i in range(spans):
                n = index * spans + i
                start = base + i * 1000
                span = ss.spans.add()
                span.trace_id = (n // 8 + 1).to_bytes(8, "big") + (index + 7).to_bytes(8, "big")
                span.span_id = (n + 1).to_bytes(8, "big")
                if i % 8:
                    span.parent_span_id = (n - i % 8 + 1).to_bytes(8, "big")
                span.name = names[i % 5]
                span.kind = i % 5 + 1
                span.start_time_unix_nano = start
                span.end_time_unix_nano = start + 250_000 + (i % 97) * 10_000
                span.attributes.extend([
                    _kv("http.request.method", string_value="GET"),
                    _kv("http.route", string_value="/api/agents/{id}"),
                    _kv("http.response.status_code", int_value=200),
                    _kv("url.full", string_value=f"https://app.example.com/api/agents/{i}"),
                    _kv("server.address", string_value="api.internal"),
                    _kv("server.port", int_value=8443),
                    _kv("messaging.system", string_value="websocket"),
                    _kv("messaging.operation.type", string_value="send"),
                    _kv("messaging.message.body.size", int_value=512 + i),
                    _kv("tracewire.message.type", string_value="chat"),
                    _kv("session.id", string_value=f"sess-{index:08x}"),
                    _kv("user.id", string_value=f"user-{i % 50}"),
                    _kv("db.system", string_value="postgresql"),
                    _kv("retry", bool_value=i % 13 == 0),
                    _kv("load", double_value=0.25 * (i % 4)),
                ])
                for e in range(3):
                    event = span.events.add()
                    event.time_unix_nano = start + e * 50_000
                    event.name = events[e]
                    event.attributes.append(_kv("bytes", int_value=128))
                span.status.CopyFrom(Status(code=2 if i % 50 == 0 else 0))
            yield request.SerializeToString()

    _cached(directory, {"requests": requests, "spans": spans}, now_ns, write)
    return Bodies(directory, requests, spans, "application/x-protobuf", "",
                  "OTLP protobuf, 15 attributes and 3 events a span")


def browser_json(root, requests, spans, now_ns):
    directory = root / f"json-{requests}x{spans}"
    per_exchange = 4
    exchanges = spans // per_exchange
    types = ["chat", "run_agent", "list_agents", "typing", "ping"]

    def attr(key, value):
        if isinstance(value, bool):
            return {"key": key, "value": {"boolValue": value}}
        if isinstance(value, int):
            return {"key": key, "value": {"intValue": str(value)}}
        return {"key": key, "value": {"stringValue": value}}

    def span(trace, span_id, parent, name, kind, start, duration, attributes):
        return {"traceId": trace, "spanId": span_id, "parentSpanId": parent, "name": name,
                "kind": kind, "startTimeUnixNano": str(start),
                "endTimeUnixNano": str(start + duration),
                "attributes": [attr(k, v) for k, v in attributes], "status": {}}

    def write(base_ns):
        for index in range(requests):
            session = f"{index % 97:08x}-7a1c-4f00-9d2e-{index % 97:012x}"
            common = [("session.id", session), ("user.id", f"user-{index % 31}")]
            out = []
            for x in range(exchanges):
                n = index * exchanges + x
                trace = f"{n + 1:016x}{index + 11:016x}"
                send, backend, receive, process, fetch = (
                    f"{(n * 5 + k) % 2**64 + 1:016x}" for k in range(5))
                t = types[n % len(types)]
                start = base_ns + index * 2_000_000_000 + x * 300_000_000
                socket = "wss://app.example.com/ws"
                ws = [("messaging.system", "websocket"), ("url.full", socket),
                      ("ws.message.type", t)]
                out += [
                    span(trace, send, "", f"ws.send {t}", 4, start, 48_000_000, ws + [
                        ("messaging.operation.type", "send"),
                        ("messaging.message.body.size", 180 + x), ("ws.message.format", "text"),
                        ("ws.context_injected", True), ("ws.rtt_ms", 48)] + common),
                    span(trace, receive, backend, f"ws.receive {t}.reply", 5,
                         start + 45_000_000, 0, ws + [
                             ("messaging.operation.type", "receive"),
                             ("messaging.message.body.size", 420), ("ws.message.format", "text"),
                             ("ws.rtt_ms", 48)] + common),
                    span(trace, process, receive, f"ws.process {t}.reply", 5,
                         start + 45_100_000, 1_200_000, ws + [
                             ("messaging.operation.type", "process")] + common),
                    span(f"{n + 1:016x}{index + 12:016x}", fetch, "", "GET", 3,
                         start + 60_000_000, 35_000_000, [
                             ("http.request.method", "GET"),
                             ("url.full", f"https://app.example.com/api/agents/{x}"),
                             ("http.response.status_code", 200)] + common),
                ]
            request = {"resourceSpans": [{
                "resource": {"attributes": [attr(k, v) for k, v in [
                    ("service.name", "web-app"), ("service.version", "2.3.0"),
                    ("deployment.environment", "prod"), ("telemetry.sdk.name", "tracewire-sdk"),
                    ("telemetry.sdk.language", "webjs"), ("telemetry.sdk.version", "0.1.0"),
                    ("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                                            "(KHTML, like Gecko) Chrome/131.0 Safari/537.36")]]},
                "scopeSpans": [{"scope": {"name": "tracewire-sdk", "version": "0.1.0"},
                                "spans": out}]}]}
            yield json.dumps(request, separators=(",", ":")).encode()

    _cached(directory, {"requests": requests, "spans": spans}, now_ns, write)
    return Bodies(directory, requests, exchanges * per_exchange, "application/json", "{}",
                  f"browser-shaped OTLP/JSON, {exchanges * per_exchange} spans a request")
