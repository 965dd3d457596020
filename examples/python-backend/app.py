"""The demo's agent-dashboard backend in Python: FastAPI over uvicorn, traced with the
OpenTelemetry Python SDK, exporting OTLP/HTTP protobuf to the Tracewire collector.

It speaks the same protocol as the Rust `agent-backend` (examples/agent-backend/src/protocol.rs)
and continues the browser's trace of every WebSocket message by the recipe in
docs/semantic-conventions.md: the context travels in the message's `trace_context` field, the
backend's `ws.receive <type>` CONSUMER span is its child, and the reply carries the backend
span's context back.

A connection whose handshake URL has a `traceparent` query parameter (the browser SDK's
`payloadFreeUrls`) is payload-free: messages are read as they are (binary ones are echoed byte
for byte), replies and pushes go out unchanged, and each message of each direction gets its
number on the connection (`ws.message.sequence`, from 1) and `ws.connection.span_id`, its
receive span being a child of the handshake's context (docs/semantic-conventions.md).

Per message it does nested work: a simulated database query (agent `flaky` fails there), and
for `run_agent` an HTTP call with `traceparent` to the tools service (`GET /tools/{agent}`,
served by this process under its own service name; agent `slow` is slow there), then three
`agent_progress` pushes and a `run_finished` push, each a PRODUCER span in the run's trace.

    python3 app.py --port 0 --otlp-endpoint http://127.0.0.1:4318
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import socket
import sys
import urllib.request

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

SERVICE = "python-backend"
TOOLS_SERVICE = "python-tools"
CONTEXT_FIELD = "trace_context"
TYPE_FIELDS = ("type", "event", "op", "action")
RUN_STEPS = 3
# Short, so the demo's traces show up at once.
EXPORT_DELAY_MS = 500

AGENTS = [
    {"id": "researcher", "name": "Researcher", "status": "idle"},
    {"id": "coder", "name": "Coder", "status": "idle"},
    {"id": "slow", "name": "Slow thinker", "status": "idle"},
    {"id": "flaky", "name": "Flaky agent", "status": "degraded"},
]
TOOLS = {
    "researcher": ["search", "summarise"],
    "coder": ["compile", "test"],
    "slow": ["think"],
    "flaky": ["think"],
}

propagator = TraceContextTextMapPropagator()
providers = []
tracer = trace.NoOpTracer()
tools_tracer = trace.NoOpTracer()
runs = itertools.count(1)
# The event loop keeps only weak references to tasks; these hold the push tasks until done.
push_tasks = set()


class WorkError(Exception):
    """A failure of the nested work; its message goes into the error reply."""


def setup_telemetry(endpoint):
    """One tracer provider per service name, each exporting to the collector in batches."""
    global tracer, tools_tracer
    endpoint = endpoint.rstrip("/") + "/v1/traces"
    tracers = []
    for service in (SERVICE, TOOLS_SERVICE):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=EXPORT_DELAY_MS)
        )
        providers.append(provider)
        tracers.append(provider.get_tracer("tracewire-demo"))
    tracer, tools_tracer = tracers


app = FastAPI(title="Tracewire demo backend (Python)")
# The demo page is served from another origin and sends `traceparent` on fetch.
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])


async def db_query(table, statement, agent=None):
    """A database query, simulated by a short sleep; agent `flaky` makes it fail."""
    with tracer.start_as_current_span(
        f"SELECT {table}",
        kind=SpanKind.CLIENT,
        attributes={"db.system.name": "sqlite", "db.query.text": statement, "db.collection.name": table},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        await asyncio.sleep(0.003)
        if agent == "flaky":
            span.set_status(Status(StatusCode.ERROR, "database is locked"))
            raise WorkError("database is locked")


async def fetch_tools(agent):
    """Asks the tools service for an agent's tools, propagating the trace in `traceparent`."""
    url = f"{app.state.base_url}/tools/{agent}"
    with tracer.start_as_current_span(
        "GET /tools/{agent}",
        kind=SpanKind.CLIENT,
        attributes={"http.request.method": "GET", "url.full": url},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        headers = {}
        propagator.inject(headers)

        def get():
            request = urllib.request.Request(url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, json.load(response)
            except urllib.error.HTTPError as e:
                return e.code, None

        try:
            status, body = await asyncio.to_thread(get)
        except OSError as e:
            span.set_status(Status(StatusCode.ERROR, str(e)))
            raise WorkError(f"tools service: {e}") from e
        span.set_attribute("http.response.status_code", status)
        if status != 200:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
            raise WorkError(f"tools service answered {status}")
        return body


@app.get("/tools/{agent}")
async def tools(agent: str, request: Request):
    """The second service the backend calls over HTTP, continuing the caller's trace."""
    with tools_tracer.start_as_current_span(
        "GET /tools/{agent}",
        context=propagator.extract(request.headers),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "http.route": "/tools/{agent}"},
    ) as span:
        # The slow path of the demo: this agent's tools take a while to list.
        await asyncio.sleep(0.3 if agent == "slow" else 0.005)
        if agent not in TOOLS:
            span.set_status(Status(StatusCode.ERROR, "unknown agent"))
            span.set_attribute("http.response.status_code", 404)
            return JSONResponse({"error": "unknown agent"}, status_code=404)
        span.set_attribute("http.response.status_code", 200)
        return {"tools": TOOLS[agent]}


@app.get("/api/agents")
async def agents_http(request: Request):
    """The agent list over HTTP, continuing the caller's `traceparent`."""
    with tracer.start_as_current_span(
        "GET /api/agents",
        context=propagator.extract(request.headers),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "http.route": "/api/agents"},
    ) as span:
        try:
            await db_query("agents", "SELECT * FROM agents")
        except WorkError as e:
            span.set_status(Status(StatusCode.ERROR, str(e)))
            return JSONResponse({"error": str(e)}, status_code=503)
        return {"agents": AGENTS}


def agent_id(message):
    agent = message.get("agent_id")
    if not isinstance(agent, str):
        raise WorkError("agent_id is missing")
    return agent


async def list_agents(message, outbox):
    await db_query("agents", "SELECT * FROM agents")
    return {"type": "agents", "agents": AGENTS}


async def run_agent(message, outbox):
    agent = agent_id(message)
    await db_query("agents", "SELECT * FROM agents WHERE id = ?", agent)
    tools_reply = await fetch_tools(agent)
    run_id = next(runs)
    # The task copies the current context, so its push spans are children of the receive span.
    task = asyncio.create_task(push_progress(outbox, run_id, agent))
    push_tasks.add(task)
    task.add_done_callback(push_tasks.discard)
    return {"type": "run_started", "run_id": run_id, "agent_id": agent, "tools": tools_reply["tools"]}


async def push_progress(outbox, run_id, agent):
    """Server pushes of a run's progress; each is a PRODUCER span carrying its own context. On a
    payload-free connection a push goes out unchanged, and the outbox gives it its span."""
    for step in range(1, RUN_STEPS + 2):
        await asyncio.sleep(0.04)
        if step <= RUN_STEPS:
            message = {"type": "agent_progress", "run_id": run_id, "step": step, "of": RUN_STEPS}
        else:
            message = {"type": "run_finished", "run_id": run_id, "agent_id": agent, "result": "done"}
        if outbox.connection is not None:
            if not await outbox.send(json.dumps(message)):
                return
            continue
        kind = message["type"]
        with tracer.start_as_current_span(
            f"ws.send {kind}",
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "websocket", "messaging.operation.type": "send", "ws.message.type": kind},
        ):
            message[CONTEXT_FIELD] = {}
            propagator.inject(message[CONTEXT_FIELD])
            if not await outbox.send(json.dumps(message)):
                return


async def chat(message, outbox):
    agent = agent_id(message)
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    await db_query("messages", "SELECT text FROM messages WHERE agent = ?", agent)
    return {"type": "chat_reply", "agent_id": agent, "text": f"{agent} heard: {text}"}


HANDLERS = {"list_agents": list_agents, "run_agent": run_agent, "chat": chat}


def message_type(message):
    if not isinstance(message, dict):
        return None
    for field in TYPE_FIELDS:
        value = message.get(field)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)[:64]
    return None


def message_attributes(message, operation):
    """The messaging attributes of a payload-free message (text or bytes), and its type."""
    kind = None
    if isinstance(message, str):
        try:
            kind = message_type(json.loads(message))
        except ValueError:
            pass
    attributes = {
        "messaging.system": "websocket",
        "messaging.operation.type": operation,
        "messaging.message.body.size": len(message.encode() if isinstance(message, str) else message),
        "ws.message.format": "text" if isinstance(message, str) else "binary",
    }
    if kind is not None:
        attributes["ws.message.type"] = kind
    return kind, attributes


class PayloadFreeConnection:
    """A payload-free connection: the context of the browser's `ws.connect` span from the
    handshake URL, and how many messages were received and sent on the connection so far."""

    def __init__(self, context, span_id):
        self.context = context
        self.span_id = span_id
        self.received = 0
        self.sent = 0

    @classmethod
    def from_traceparent(cls, traceparent):
        """The connection the handshake's `traceparent` names, or None when there is no valid one."""
        if not traceparent:
            return None
        context = propagator.extract({"traceparent": traceparent})
        span_context = trace.get_current_span(context).get_span_context()
        if not span_context.is_valid:
            return None
        return cls(context, format(span_context.span_id, "016x"))

    def receive_span(self, message):
        """Numbers a received message and starts its CONSUMER span, child of the handshake."""
        self.received += 1
        kind, attributes = message_attributes(message, "receive")
        attributes["ws.connection.span_id"] = self.span_id
        attributes["ws.message.sequence"] = self.received
        return tracer.start_as_current_span(
            f"ws.receive {kind}" if kind else "ws.receive",
            context=self.context,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )

    def send_span(self, message, parent):
        """Numbers a message going out and starts its PRODUCER span, child of `parent` (None:
        the current span); call it in sending order."""
        self.sent += 1
        kind, attributes = message_attributes(message, "send")
        attributes["ws.connection.span_id"] = self.span_id
        attributes["ws.message.sequence"] = self.sent
        return tracer.start_as_current_span(
            f"ws.send {kind}" if kind else "ws.send", context=parent, kind=SpanKind.PRODUCER, attributes=attributes
        )


class Outbox:
    """A connection's way out: one message at a time, in order. On a payload-free connection
    each message is numbered and gets its `ws.send` span as it goes out."""

    def __init__(self, socket, connection):
        self.socket = socket
        self.connection = connection
        self.lock = asyncio.Lock()

    async def send(self, message, parent=None):
        """Sends one text (str) or binary (bytes) message; False once the connection is gone."""
        async with self.lock:
            span = self.connection.send_span(message, parent) if self.connection else contextlib.nullcontext()
            with span:
                try:
                    if isinstance(message, str):
                        await self.socket.send_text(message)
                    else:
                        await self.socket.send_bytes(message)
                    return True
                except (WebSocketDisconnect, RuntimeError, OSError):
                    # Gone: uvicorn raises ClientDisconnected (an OSError), Starlette a
                    # RuntimeError once the socket is closed.
                    return False


@app.websocket("/ws")
async def ws(socket: WebSocket):
    connection = PayloadFreeConnection.from_traceparent(socket.query_params.get("traceparent"))
    await socket.accept()
    outbox = Outbox(socket, connection)
    while True:
        event = await socket.receive()
        if event["type"] == "websocket.disconnect":
            break
        text, data = event.get("text"), event.get("bytes")
        if connection is None:
            if text is not None:
                await handle(text, outbox)
        elif text is not None:
            await handle_payload_free(connection, text, outbox)
        elif data is not None:
            await echo_binary(connection, data, outbox)


async def respond(message, kind, outbox, span):
    """The protocol's answer to a message of this type; failures become error replies and mark
    the receive span."""
    handler = HANDLERS.get(kind)
    try:
        if handler is None or not isinstance(message, dict):
            raise WorkError(f"unknown message type '{kind or ''}'")
        reply = await handler(message, outbox)
    except WorkError as e:
        span.set_status(Status(StatusCode.ERROR, str(e)))
        reply = {"type": "error", "message": str(e)}
    if isinstance(message, dict) and "id" in message:
        reply["id"] = message["id"]
    return reply


async def handle_payload_free(connection, text, outbox):
    """A text message of a payload-free connection, read as it is; the reply carries no context."""
    with connection.receive_span(text) as span:
        try:
            message = json.loads(text)
        except ValueError:
            span.set_status(Status(StatusCode.ERROR, "messages must be JSON"))
            reply = {"type": "error", "message": "messages must be JSON"}
        else:
            reply = await respond(message, message_type(message), outbox, span)
        parent = trace.set_span_in_context(span)
    # As in `handle`, the span ends once the reply is ready; the reply's send span is its child.
    await outbox.send(json.dumps(reply), parent)


async def echo_binary(connection, data, outbox):
    """A binary message of a payload-free connection: its type is unknown; echoed byte for byte."""
    with connection.receive_span(data) as span:
        parent = trace.set_span_in_context(span)
    await outbox.send(data, parent)


async def handle(text, outbox):
    """The documented recipe: remove the context, unwrap an envelope, continue the trace."""
    try:
        message = json.loads(text)
    except ValueError:
        await outbox.send(json.dumps({"type": "error", "message": "messages must be JSON"}))
        return
    carrier = message.pop(CONTEXT_FIELD, None) if isinstance(message, dict) else None
    is_envelope = isinstance(message, dict) and set(message) == {"data", "ts"}
    if is_envelope:
        message = message["data"]
    kind = message_type(message)
    attributes = {
        "messaging.system": "websocket",
        "messaging.operation.type": "receive",
        "messaging.message.body.size": len(text.encode()),
        "ws.message.format": "envelope" if is_envelope else "json",
    }
    if kind is not None:
        attributes["ws.message.type"] = kind
    with tracer.start_as_current_span(
        f"ws.receive {kind}" if kind else "ws.receive",
        context=propagator.extract(carrier if isinstance(carrier, dict) else {}),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        reply = await respond(message, kind, outbox, span)
        reply[CONTEXT_FIELD] = {}
        propagator.inject(reply[CONTEXT_FIELD])  # the receive span's context
    # The span ends once the reply is ready, as the Rust backend's does when it queues the
    # reply: the wait for the socket write is not server time, and on a busy event loop it
    # could otherwise end the span after the browser already has the reply.
    await outbox.send(json.dumps(reply))


async def serve(host, port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    host, port = listener.getsockname()[:2]
    app.state.base_url = f"http://{host}:{port}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if server.started:
        print(f"python-backend listening on http://{host}:{port} (WebSocket ws://{host}:{port}/ws)", flush=True)
    await task


def main():
    parser = argparse.ArgumentParser(description="Tracewire demo: the agent-dashboard backend in Python")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="port to listen on; 0 picks a free one (default 8090)")
    parser.add_argument(
        "--otlp-endpoint", default="http://127.0.0.1:4318", help="the collector's OTLP/HTTP base URL"
    )
    args = parser.parse_args()
    setup_telemetry(args.otlp_endpoint)
    try:
        asyncio.run(serve(args.host, args.port))
    except OSError as e:
        print(f"python-backend: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    finally:
        for provider in providers:
            provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
