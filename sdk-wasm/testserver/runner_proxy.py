"""An HTTP proxy between headless Chromium and wasm-bindgen-test-runner's page server.

Usage: runner_proxy.py PORTS_FILE RUNNER_HOST:RUNNER_PORT

The runner serves the test page and its scripts with tiny_http, which runs each connection on a
worker of a small pool. When a burst of new connections arrives (Chromium opens one per module
it loads in parallel: the page's five JavaScript snippets at once), the pool can queue one
connection without waking a worker, and the four workers stay on the connections Chromium keeps
alive. The queued request is then answered only when Chromium drops an idle connection, 300 s
later: the page sits at "Loading scripts..." and chromedriver times out.

Chromium reaches the runner through this proxy (`--proxy-server`, with every other test server
in the bypass list). Chromium's connections end here, on a thread each, and every request goes
on to the runner on a connection of its own marked `Connection: close`, so a runner worker is
free again as soon as it has answered. Requests for any other address are refused, so nothing
leaves the machine. Writes `PROXY_PORT=<port>` to PORTS_FILE once listening.
"""

import http.client
import http.server
import os
import socketserver
import sys
from urllib.parse import urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    runner = ("127.0.0.1", 0)

    def forward(self):
        target = urlsplit(self.path)
        if target.scheme != "http" or (target.hostname, target.port) != self.runner:
            self.refuse(403, "this proxy only reaches the test runner\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Connection"] = "close"
        path = target.path or "/"
        if target.query:
            path += "?" + target.query
        upstream = http.client.HTTPConnection(*self.runner, timeout=60)
        try:
            upstream.request(self.command, path, body=body, headers=headers)
            reply = upstream.getresponse()
            data = reply.read()
        except OSError as e:
            self.refuse(502, "the test runner did not answer: %s\n" % e)
            return
        finally:
            upstream.close()
        self.send_response(reply.status, reply.reason)
        for k, v in reply.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def refuse(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = forward

    def do_CONNECT(self):
        self.refuse(403, "this proxy only reaches the test runner\n")

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main(ports_file, runner):
    host, port = runner.rsplit(":", 1)
    Handler.runner = (host, int(port))
    server = Server(("127.0.0.1", 0), Handler)
    tmp = ports_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("PROXY_PORT=%d\n" % server.server_address[1])
    os.replace(tmp, ports_file)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
