"""Sends log records to one or more collectors through the real OpenTelemetry Python SDK: the
standard `logging` module with the SDK's LoggingHandler and its http/protobuf OTLP exporter.
Two services (`py-api`, `py-worker`), every level, some records inside a span (so they carry
its trace and span id) and some with a browser session and user in `extra`. Every collector
gets the same records, timestamps included. Prints (as JSON) what each record should look like
through `GET /api/logs`.

Usage: python3 otel_logs.py http://127.0.0.1:PORT [http://127.0.0.1:PORT2 ...]
"""

import json
import logging
import sys

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

SEVERITY = {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17, "CRITICAL": 21}


class Remember(logging.Handler):
    """Keeps what the SDK handler will export, to print it afterwards."""

    def __init__(self, service):
        super().__init__(logging.DEBUG)
        self.service = service
        self.seen = []

    def emit(self, record):
        from opentelemetry import trace

        ctx = trace.get_current_span().get_span_context()
        self.seen.append(
            {
                "body": record.getMessage(),
                "severity_number": SEVERITY[record.levelname],
                "severity_text": record.levelname,
                "service_name": self.service,
                "time_unix_nano": str(int(record.created * 1e9)),
                "trace_id": format(ctx.trace_id, "032x") if ctx.is_valid else "",
                "span_id": format(ctx.span_id, "016x") if ctx.is_valid else "",
                "session_id": getattr(record, "session.id", ""),
            }
        )


def logger_for(service, endpoints):
    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    for endpoint in endpoints:
        exporter = OTLPLogExporter(endpoint=endpoint.rstrip("/") + "/v1/logs", timeout=10)
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logging.getLogger(service)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))
    remember = Remember(service)
    logger.addHandler(remember)
    return provider, logger, remember


def main():
    endpoints = sys.argv[1:]
    tracer = TracerProvider(resource=Resource.create({"service.name": "py-api"})).get_tracer(
        "tracewire.e2e.logs"
    )
    api_provider, api, api_seen = logger_for("py-api", endpoints)
    worker_provider, worker, worker_seen = logger_for("py-worker", endpoints)

    api.debug("cache warmed with 12 agents")
    api.info("GET /healthz 200")
    with tracer.start_as_current_span("GET /api/agents"):
        api.info("GET /api/agents 200 in 4 ms")
        api.warning("agent coder: Timeout after 5s, retrying")
    session = {"session.id": "sess-py-1", "user.id": "u-py"}
    api.error("websocket frame rejected: payload too large", extra=session)
    with tracer.start_as_current_span("run_agent"):
        worker.info("run_agent started for agent researcher", extra=session)
        try:
            raise ValueError("connection reset by peer")
        except ValueError:
            worker.exception("run_agent failed: connection reset by peer")
    worker.critical("worker out of memory; restarting")

    for provider in (api_provider, worker_provider):
        if not provider.force_flush(10_000):
            sys.exit("force_flush did not finish")
        provider.shutdown()
    print(json.dumps({"logs": api_seen.seen + worker_seen.seen}))


if __name__ == "__main__":
    main()
