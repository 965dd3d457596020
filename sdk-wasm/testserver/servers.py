"""Test servers for the browser tests of tracewire-sdk.

Starts, on free ports of 127.0.0.1:
  * a WebSocket server: `/echo` sends every message back unchanged (text as text, binary as
    binary); `/reply` answers each JSON object message that carries `trace_context` with a new
    JSON message continuing that trace as a child span of the server, like a traced backend would;
    `/sink` reads and discards (for the benchmark); `/handshake` first sends the handshake's
    request target (path and query, as the server saw it) as a text message, then echoes;
  * an HTTP server with CORS: `GET /headers` answers with the request headers as JSON (for the
    fetch tests); `GET /collector/<path>` forwards to the collector's query API given as the second
    argument and passes its answer (status and body) through unchanged, adding only the CORS
    header the test page needs, because the query API itself does not answer cross-origin reads;
    `POST /flaky/<id>/v1/...` answers 503 with `Retry-After: 1` to the first request of each id
    and 200 afterwards, `POST /status/<code>/v1/...` always answers <code> (fault injection for
    the retry tests); `GET /requests/<id>` reports how many requests an id got and when.
Writes `WS_PORT=<n>` and `HTTP_PORT=<n>` lines to the file named by the first argument once both
listen, then runs until killed.
"""

import asyncio
import json
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from websockets.asyncio.server import serve


def reply_for(text):
    try:
        msg = json.loads(text)
    except ValueError:
        return text
    if not isinstance(msg, dict) or not isinstance(msg.get("trace_context"), dict):
        return text
    parts = str(msg["trace_context"].get("traceparent", "")).split("-")
    if len(parts) != 4:
        return text
    server_span = secrets.token_hex(8)
    return json.dumps(
        {
            "type": "%s.reply" % msg.get("type", "message"),
            "trace_context": {"traceparent": "00-%s-%s-%s" % (parts[1], server_span, parts[3])},
            "server_span_id": server_span,
        }
    )


async def handler(ws):
    path = ws.request.path.split("?")[0]
    if path == "/handshake":
        await ws.send(ws.request.path)
    async for message in ws:
        if path == "/sink":
            continue
        if path == "/reply" and isinstance(message, str):
            await ws.send(reply_for(message))
        else:
            await ws.send(message)


REQUESTS = {}
LOCK = threading.Lock()


class Http(BaseHTTPRequestHandler):
    def cors(self):
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", "*"))
        self.send_header(
            "Access-Control-Allow-Headers",
            "traceparent, tracestate, content-type, content-encoding, x-tracewire-key",
        )
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Expose-Headers", "retry-after")

    def reply(self, status, body=b"{}", headers=()):
        self.send_response(status)
        self.cors()
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = self.path.split("/")
        if len(parts) < 3 or parts[1] not in ("flaky", "status"):
            return self.reply(404)
        key = parts[2]
        with LOCK:
            times = REQUESTS.setdefault(key, [])
            times.append(time.time())
            count = len(times)
        if parts[1] == "status":
            return self.reply(int(key))
        if count == 1:
            return self.reply(503, headers=[("Retry-After", "1")])
        return self.reply(200)

    def do_OPTIONS(self):
        self.send_response(204)
        self.cors()
        self.end_headers()

    def do_GET(self):
        status, ctype = 200, "application/json"
        if self.path.startswith("/requests/"):
            with LOCK:
                times = REQUESTS.get(self.path.split("/")[2], [])
                body = json.dumps({"count": len(times), "times": times}).encode()
        elif self.path.startswith("/collector/") and API_URL:
            try:
                with urllib.request.urlopen(API_URL + self.path[len("/collector"):], timeout=10) as r:
                    status, ctype, body = r.status, r.headers.get("Content-Type", ctype), r.read()
            except urllib.error.HTTPError as e:
                status, ctype, body = e.code, e.headers.get("Content-Type", ctype), e.read()
        else:
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(status)
        self.cors()
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


async def main(ports_file):
    http = ThreadingHTTPServer(("127.0.0.1", 0), Http)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        ws_port = server.sockets[0].getsockname()[1]
        tmp = ports_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("WS_PORT=%d\nHTTP_PORT=%d\n" % (ws_port, http.server_address[1]))
        os.replace(tmp, ports_file)
        await asyncio.Future()


API_URL = sys.argv[2].rstrip("/") if len(sys.argv) > 2 else None

if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
