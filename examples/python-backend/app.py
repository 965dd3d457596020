"""The demo's agent-dashboard backend in Python: FastAPI over uvicorn, traced with the
OpenTelemetry Python SDK, exporting OTLP/HTTP protobuf to the Tracewire collector.

It speaks the same protocol as the Rust `agent-backend` (examples/agent-backend/src/protocol.rs)
and continues the browser's trace of every WebSocket message by the recipe in
docs/semantic-conventions.md: the context travels in the message's `trace_context` field, the
backend's `ws.receive <type>` CONSUMER span is its child, and the reply carries the backend
span's context back.

Per message it does nested work: a simulated database query (agent `flaky` fails there), and
for `run_agent` an HTTP call with `traceparent` to the tools service (`GET /tools/{agent}`,
served by this process under its own service name; agent `slow` is slow there), then three
`agent_progress` pushes and a `run_finished` push, each a PRODUCER span in the run's trace.

    python3 app.py --port 0 --otlp-endpoint http://127.0.0.1:4318
"""

import argparse
import asyncio
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


async def list_agents(message, send):
    await db_query("agents", "SELECT * FROM agents")
    return {"type": "agents", "agents": AGENTS}


async def run_agent(message, send):
    agent = agent_id(message)
    await db_query("agents", "SELECT * FROM agents WHERE id = ?", agent)
    tools_reply = await fetch_tools(agent)
    run_id = next(runs)
    # The task copies the current context, so its push spans are children of the receive span.
    task = asyncio.create_task(push_progress(send, run_id, agent))
    push_tasks.add(task)
    task.add_done_callback(push_tasks.discard)
    return {"type": "run_started", "run_id": run_id, "agent_id": agent, "tools": tools_reply["tools"]}


async def push_progress(send, run_id, agent):
    """Server pushes of a run's progress; each is a PRODUCER span carrying its own context."""
    for step in range(1, RUN_STEPS + 2):
        await asyncio.sleep(0.04)
        if step <= RUN_STEPS:
            message = {"type": "agent_progress", "run_id": run_id, "step": step, "of": RUN_STEPS}
        else:
            message = {"type": "run_finished", "run_id": run_id, "agent_id": agent, "result": "done"}
        kind = message["type"]
        with tracer.start_as_current_span(
            f"ws.send {kind}",
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "websocket", "messaging.operation.type": "send", "ws.message.type": kind},
        ):
            message[CONTEXT_FIELD] = {}
            propagator.inject(message[CONTEXT_FIELD])
            if not await send(json.dumps(message)):
                return


async def chat(message, send):
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


@app.websocket("/ws")
async def ws(socket: WebSocket):
    await socket.accept()
    lock = asyncio.Lock()

    async def send(text):
        """Sends one text message; False once the connection is gone."""
        async with lock:
            try:
                await socket.send_text(text)
                return True
            except (WebSocketDisconnect, RuntimeError, OSError):
                # Gone: uvicorn raises ClientDisconnected (an OSError), Starlette a
                # RuntimeError once the socket is closed.
                return False

    try:
        while True:
            text = await socket.receive_text()
            await handle(text, send)
    except WebSocketDisconnect:
        pass


async def handle(text, send):
    """The documented recipe: remove the context, unwrap an envelope, continue the trace."""
    try:
        message = json.loads(text)
    except ValueError:
        await send(json.dumps({"type": "error", "message": "messages must be JSON"}))
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
        handler = HANDLERS.get(kind)
        try:
            if handler is None or not isinstance(message, dict):
                raise WorkError(f"unknown message type '{kind or ''}'")
            reply = await handler(message, send)
        except WorkError as e:
            span.set_status(Status(StatusCode.ERROR, str(e)))
            reply = {"type": "error", "message": str(e)}
        if isinstance(message, dict) and "id" in message:
            reply["id"] = message["id"]
        reply[CONTEXT_FIELD] = {}
        propagator.inject(reply[CONTEXT_FIELD])  # the receive span's context
    # The span ends once the reply is ready, as the Rust backend's does when it queues the
    # reply: the wait for the socket write is not server time, and on a busy event loop it
    # could otherwise end the span after the browser already has the reply.
    await send(json.dumps(reply))


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
