"""Fills a collector with browser WebSocket exchanges as OTLP/protobuf, for the UI benchmark.

Each exchange is five spans (browser ws.send, backend ws.receive with a db.query child, browser
ws.receive of the reply and its ws.process), in sessions with their own clock skew, spread over
the last hour, plus request-rate logs for the hot-endpoint view.

Usage: python3 fill.py http://127.0.0.1:4318 SPANS
"""

import http.client
import random
import sys
import time
import urllib.parse

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

TYPES = ["run_agent", "chat", "list_agents", "subscribe", "cancel", "status", "search", "typing"]
SESSIONS = 2000
EXCHANGES_PER_BATCH = 1000  # 5,000 spans per request


def kv(key, value):
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def resource(batch, attrs):
    rs = batch.resource_spans.add()
    rs.resource.attributes.extend([kv(k, v) for k, v in attrs.items()])
    return rs.scope_spans.add().spans


def post(conn, path, body):
    while True:
        conn.request("POST", path, body, {"content-type": "application/x-protobuf"})
        res = conn.getresponse()
        res.read()
        if res.status == 200:
            return
        if res.status in (429, 503):
            time.sleep(float(res.getheader("retry-after", "1")))
            continue
        raise SystemExit(f"{path}: {res.status}")


def main():
    url = urllib.parse.urlparse(sys.argv[1])
    total_spans = int(sys.argv[2])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    rnd = random.Random(7)
    now = time.time_ns()
    hour = 3600 * 10**9
    skew = [rnd.randint(-200, 200) * 10**6 for _ in range(SESSIONS)]
    exchanges = total_spans // 5
    started = time.time()
    sent = 0
    for first in range(0, exchanges, EXCHANGES_PER_BATCH):
        req = ExportTraceServiceRequest()
        browser = resource(req, {"service.name": "web-app", "telemetry.sdk.language": "webjs",
                                 "telemetry.sdk.name": "tracewire-sdk"})
        backend = resource(req, {"service.name": "agent-backend", "telemetry.sdk.language": "rust"})
        for n in range(first, min(first + EXCHANGES_PER_BATCH, exchanges)):
            session = n % SESSIONS
            kind = TYPES[n % len(TYPES)] if n % 3 else TYPES[0]
            trace = rnd.getrandbits(128).to_bytes(16, "big")
            ids = [rnd.getrandbits(64).to_bytes(8, "big") for _ in range(5)]
            t1 = now - hour + (n * hour) // exchanges
            up = rnd.randint(2, 30) * 10**6
            server = int(rnd.lognormvariate(17, 1))  # median about 24 ms
            down = rnd.randint(2, 30) * 10**6
            t2, t3 = t1 + up, t1 + up + server
            t4 = t3 + down
            b = skew[session]
            common = [kv("session.id", f"s-{session:05d}"), kv("user.id", f"u-{session % 500}"),
                      kv("ws.message.type", kind), kv("messaging.system", "websocket")]
            error = rnd.random() < 0.02
            browser.add(trace_id=trace, span_id=ids[0], name=f"ws.send {kind}", kind=4,
                        start_time_unix_nano=t1 - b, end_time_unix_nano=t4 - b,
                        attributes=common + [kv("url.full", "wss://app.example/ws")])
            backend.add(trace_id=trace, span_id=ids[1], parent_span_id=ids[0], name=f"ws.receive {kind}",
                        kind=5, start_time_unix_nano=t2, end_time_unix_nano=t3,
                        attributes=[kv("ws.message.type", kind), kv("messaging.system", "websocket")],
                        status=Status(code=2, message="handler failed") if error else None)
            backend.add(trace_id=trace, span_id=ids[2], parent_span_id=ids[1], name="db.query", kind=3,
                        start_time_unix_nano=t2 + server // 10, end_time_unix_nano=t3 - server // 10,
                        attributes=[kv("db.system", "postgresql")])
            browser.add(trace_id=trace, span_id=ids[3], parent_span_id=ids[1], name=f"ws.receive {kind}.reply",
                        kind=5, start_time_unix_nano=t4 - b, end_time_unix_nano=t4 - b, attributes=common)
            browser.add(trace_id=trace, span_id=ids[4], parent_span_id=ids[3], name=f"ws.process {kind}.reply",
                        kind=5, start_time_unix_nano=t4 - b, end_time_unix_nano=t4 - b + 10**6, attributes=common)
        post(conn, "/v1/traces", req.SerializeToString())
        sent += 5 * min(EXCHANGES_PER_BATCH, exchanges - first)
        if (first // EXCHANGES_PER_BATCH) % 20 == 0:
            rate = sent / (time.time() - started)
            print(f"{sent} spans sent, {rate:.0f} spans/s", file=sys.stderr, flush=True)

    # The hot-endpoint view looks at the last 5 minutes: stamp the logs after the (long) span fill.
    now = time.time_ns()
    logs = ExportLogsServiceRequest()
    records = logs.resource_logs.add()
    records.resource.attributes.extend([kv("service.name", "web-app"), kv("telemetry.sdk.language", "webjs")])
    scope = records.scope_logs.add()
    for i in range(3000):
        route = ["/api/agents/status", "/api/agents", "/api/me", "/api/notifications"][i % 4]
        scope.log_records.add(time_unix_nano=now - (i % 280) * 10**9, severity_number=9,
                              event_name="http.client.request_rate",
                              attributes=[kv("http.route", route), kv("http.client.request.count", 1 + i % 40),
                                          kv("tracewire.interval_ms", 10000), kv("session.id", f"s-{i % SESSIONS:05d}")])
    post(conn, "/v1/logs", logs.SerializeToString())
    print(f"done: {sent} spans in {time.time() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
