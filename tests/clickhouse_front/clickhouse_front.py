#!/usr/bin/env python3
"""Test-only ClickHouse HTTP front backed by chDB (the real ClickHouse engine, in process).

Serves the part of ClickHouse's HTTP interface that the Rust `clickhouse` crate (0.15) uses, so
that storage code can be tested against the real engine where no ClickHouse server can run. One
process owns one persistent chDB session (one data directory); the `database` URL parameter
selects a database inside it. See README.md next to this file for what is and is not served.

Usage: clickhouse_front.py --data-dir DIR [--port N] [--tls-cert PEM --tls-key PEM] [--verbose]
Prints `clickhouse front listening on http://127.0.0.1:<port>` on stdout once ready (`https://`
with --tls-cert and --tls-key, which serve HTTPS with that certificate).
"""

import argparse
import gzip
import os
import re
import signal
import ssl
import struct
import sys
import tempfile
import threading
import traceback
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chdb import session as chdb_session

try:
    import lz4.block as lz4_block
except ImportError:  # compressed inserts then fail with a clear error
    lz4_block = None

try:
    from clickhouse_cityhash.cityhash import CityHash128
except ImportError:  # checksums are then not verified (announced on stderr at start-up)
    CityHash128 = None

try:
    import zstandard
except ImportError:
    zstandard = None


# URL (or form) parameters that belong to the HTTP interface itself, or that only shape the HTTP
# response, rather than being query settings. They are read by the front or ignored; everything
# else is applied to the query as a ClickHouse setting, and an unknown setting is an error, as on
# a real server.
HTTP_ONLY_PARAMS = {
    "query",
    "database",
    "default_format",
    "compress",
    "decompress",
    "user",
    "password",
    "quota_key",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "buffer_size",
    "wait_end_of_query",
    "role",
    "stacktrace",
    "enable_http_compression",
    "http_zlib_compression_level",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "http_wait_end_of_query",
    "http_response_buffer_size",
    "http_native_compression_disable_checksumming_on_decompress",
    "cancel_http_readonly_queries_on_client_close",
    "add_http_cors_header",
}

SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PARAM_NAME = re.compile(r"^param_([A-Za-z_][A-Za-z0-9_]*)$")

# `INSERT INTO <target> FORMAT <fmt>` or `INSERT INTO <target> VALUES` whose data is in the body.
INSERT_WITH_DATA = re.compile(
    r"^\s*(?P<head>INSERT\s+INTO\s+(?P<target>.+?))\s+"
    r"(?:FORMAT\s+(?P<fmt>[A-Za-z0-9_]+)|(?P<values>VALUES))[ \t]*;?[ \t]*(?:\r?\n|$)",
    re.IGNORECASE | re.DOTALL,
)
# A `SETTINGS ...` clause at the end of the insert target; INFILE wants it after `FROM INFILE`.
TRAILING_SETTINGS = re.compile(r"^(?P<target>.*?)\s+(?P<settings>SETTINGS\s+.+)$", re.IGNORECASE | re.DOTALL)
EXCEPTION_CODE = re.compile(r"Code:\s*(\d+)\.")

# HTTP status per ClickHouse error name, as ClickHouse's HTTP handler maps them; the rest is 500.
STATUS_BY_ERROR_NAME = {
    401: ["REQUIRED_PASSWORD"],
    403: ["UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"],
    400: [
        "BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
        "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
        "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6",
        "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
        "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE", "THERE_IS_NO_COLUMN", "TOO_DEEP_AST",
        "TOO_BIG_AST", "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
        "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    ],
    404: [
        "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE", "UNKNOWN_STORAGE",
        "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING", "UNKNOWN_AGGREGATE_FUNCTION",
        "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE",
    ],
    413: ["QUERY_IS_TOO_LARGE"],
    501: ["NOT_IMPLEMENTED"],
    503: ["SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"],
    411: ["HTTP_LENGTH_REQUIRED"],
    408: ["TIMEOUT_EXCEEDED"],
    415: ["UNSUPPORTED_MEDIA_TYPE"],
}

CONTENT_TYPES = {
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNamesAndTypes": "text/tab-separated-values; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
    "JSONCompactEachRow": "application/x-ndjson; charset=UTF-8",
    "Pretty": "text/plain; charset=UTF-8",
}


class ClickHouseError(Exception):
    """An error to report the way ClickHouse does: a code and a `Code: N. DB::Exception:` text."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Engine:
    """The one chDB session of this process; every use holds the lock (a session is one state)."""

    def __init__(self, data_dir, verbose):
        os.makedirs(data_dir, exist_ok=True)
        self.session = chdb_session.Session(os.path.abspath(data_dir))
        self.lock = threading.Lock()
        self.verbose = verbose
        self.tmp_dir = tempfile.mkdtemp(prefix="clickhouse-front-")
        rows = self.session.query(
            "SELECT number, errorCodeToName(number) FROM numbers(2000) WHERE errorCodeToName(number) != ''",
            "TabSeparated",
        ).bytes().decode()
        self.code_by_name = {}
        for line in rows.splitlines():
            number, name = line.split("\t")
            self.code_by_name[name] = int(number)
        self.status_by_code = {}
        for status, names in STATUS_BY_ERROR_NAME.items():
            for name in names:
                if name in self.code_by_name:
                    self.status_by_code[self.code_by_name[name]] = status

    def error(self, name, text):
        code = self.code_by_name.get(name, 0)
        return ClickHouseError(code, f"Code: {code}. DB::Exception: {text}. ({name})")

    def http_status(self, code):
        return self.status_by_code.get(code, 500)

    def close(self):
        with self.lock:
            self.session.close()

    def run(self, database, settings, sql, fmt, params, data=None, insert_fmt=None):
        """Runs one request's statement with its settings, in its database, under the lock.

        With `data`, `sql` is an `INSERT INTO <target>` head and the rows go through a temp file
        and `FROM INFILE` in format `insert_fmt`.
        """
        infile = None
        if data is not None:
            fd, infile = tempfile.mkstemp(dir=self.tmp_dir, suffix=".rows")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            target, trailing_settings = sql, ""
            m = TRAILING_SETTINGS.match(target)
            if m:
                target, trailing_settings = m.group("target"), " " + m.group("settings")
            sql = (
                f"{target} FROM INFILE {quote_string(infile)}{trailing_settings} FORMAT {insert_fmt}"
            )
        applied = []
        try:
            with self.lock:
                try:
                    self._query(f"USE {quote_identifier(database)}")
                    for name, value in settings:
                        self._query(f"SET {name} = {quote_string(value)}")
                        applied.append(name)
                    if self.verbose:
                        log(f"query: {sql[:500]!r} format={fmt} params={sorted(params)}")
                    return self._query(sql, fmt, params)
                finally:
                    # Settings are per request on a real server; never let them leak to the next one.
                    for name in applied:
                        try:
                            self.session.query(f"SET {name} = DEFAULT")
                        except Exception:  # noqa: BLE001 - best effort, logged
                            log(f"could not reset setting {name}")
        finally:
            if infile is not None:
                os.unlink(infile)

    def _query(self, sql, fmt="TabSeparated", params=None):
        try:
            result = self.session.query(sql, fmt, params=params or None)
        except Exception as exc:  # chDB raises ChdbError (or RuntimeError) with ClickHouse's text
            text = str(exc).strip()
            m = EXCEPTION_CODE.search(text)
            if m:
                raise ClickHouseError(int(m.group(1)), text) from None
            raise self.error("STD_EXCEPTION", text or type(exc).__name__) from None
        return result.bytes() if result is not None else b""


def quote_string(value):
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def quote_identifier(name):
    escaped = name.replace("\\", "\\\\").replace("`", "\\`")
    return f"`{escaped}`"


def log(message):
    print(f"clickhouse front: {message}", file=sys.stderr, flush=True)


def decompress_native(body, engine, verify_checksum):
    """Decodes ClickHouse-native compressed blocks (what `decompress=1` announces).

    Block: 16-byte CityHash128 checksum of the rest, method byte (0x82 LZ4, 0x02 none,
    0x90 ZSTD), u32 LE size of header plus payload, u32 LE uncompressed size, payload.
    """
    out = bytearray()
    pos = 0
    while pos < len(body):
        if len(body) - pos < 25:
            raise engine.error("CANNOT_DECOMPRESS", "Truncated compressed block header")
        checksum = body[pos:pos + 16]
        method, compressed_size, uncompressed_size = struct.unpack_from("<BII", body, pos + 16)
        block_end = pos + 16 + compressed_size
        if compressed_size < 9 or block_end > len(body):
            raise engine.error("CANNOT_DECOMPRESS", "Truncated compressed block")
        header_and_payload = body[pos + 16:block_end]
        if verify_checksum and CityHash128 is not None:
            # The wire holds CityHash128's two u64 halves, each little-endian, first half first;
            # clickhouse_cityhash returns the first half in the high 64 bits of its int.
            first, second = struct.unpack("<QQ", checksum)
            if (first << 64 | second) != CityHash128(bytes(header_and_payload)):
                raise engine.error(
                    "CHECKSUM_DOESNT_MATCH", "Checksum doesn't match: corrupted data"
                )
        payload = bytes(header_and_payload[9:])
        if method == 0x82:
            if lz4_block is None:
                raise engine.error(
                    "UNKNOWN_COMPRESSION_METHOD",
                    "LZ4 block needs the Python package lz4 in the test front (pip install lz4)",
                )
            data = lz4_block.decompress(payload, uncompressed_size=uncompressed_size)
        elif method == 0x02:
            data = payload
        elif method == 0x90:
            if zstandard is None:
                raise engine.error(
                    "UNKNOWN_COMPRESSION_METHOD",
                    "ZSTD block needs the Python package zstandard in the test front",
                )
            data = zstandard.ZstdDecompressor().decompress(payload, max_output_size=uncompressed_size)
        else:
            raise engine.error(
                "UNKNOWN_COMPRESSION_METHOD", f"Unknown compression method: {method:#x}"
            )
        if len(data) != uncompressed_size:
            raise engine.error("CANNOT_DECOMPRESS", "Decompressed size does not match the block header")
        out += data
        pos = block_end
    return bytes(out)


def parse_multipart(body, content_type, engine):
    """Returns the text fields of a multipart/form-data body as (name, value) pairs."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise engine.error("BAD_ARGUMENTS", "multipart/form-data without boundary")
    delimiter = b"--" + m.group(1).encode()
    fields = []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            raise engine.error("BAD_ARGUMENTS", "Malformed multipart/form-data part")
        if value.endswith(b"\r\n"):
            value = value[:-2]
        disposition = ""
        for line in head.decode("latin-1").split("\r\n"):
            key, _, val = line.partition(":")
            if key.strip().lower() == "content-disposition":
                disposition = val
        name_match = re.search(r'\bname="([^"]*)"', disposition)
        if not name_match:
            raise engine.error("BAD_ARGUMENTS", "multipart/form-data part without a name")
        if re.search(r'\bfilename=', disposition):
            raise engine.error(
                "NOT_IMPLEMENTED", "External tables (file parts) are not supported by the test front"
            )
        fields.append((name_match.group(1), value.decode("utf-8")))
    return fields


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tracewire-clickhouse-front"
    engine = None  # set in main()

    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        if self.engine.verbose:
            log(format % args)

    def do_GET(self):
        path, _, raw_query = self.path.partition("?")
        if path == "/ping" or (path == "/" and not raw_query):
            self.respond(200, b"Ok.\n", "text/plain; charset=UTF-8")
            return
        if path != "/":
            self.respond_error(ClickHouseError(0, f"There is no handle {path}"), status=404)
            return
        self.handle_query(raw_query, b"", drain=False)

    def do_POST(self):
        path, _, raw_query = self.path.partition("?")
        try:
            body = self.read_body()
        except ClickHouseError as exc:
            self.close_connection = True
            self.respond_error(exc)
            return
        except (OSError, ValueError, EOFError, zlib.error) as exc:
            self.close_connection = True
            self.respond_error(self.engine.error("CANNOT_READ_FROM_SOCKET", f"Cannot read the request body: {exc}"))
            return
        if path != "/":
            self.respond_error(ClickHouseError(0, f"There is no handle {path}"), status=404)
            return
        self.handle_query(raw_query, body, drain=True)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise self.engine.error("CANNOT_READ_FROM_SOCKET", "Malformed chunked body") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            body = b"".join(chunks)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding not in ("", "identity"):
            raise self.engine.error(
                "UNKNOWN_COMPRESSION_METHOD", f"Unsupported Content-Encoding {encoding} in the test front"
            )
        return body

    def handle_query(self, raw_query, body, drain):
        engine = self.engine
        try:
            params = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
            content_type = self.headers.get("Content-Type", "")
            form = []
            if drain and content_type.lower().startswith("multipart/form-data"):
                form, body = parse_multipart(body, content_type, engine), b""
            args = {}
            query_parts = []
            settings = []
            query_params = {}
            for name, value in params + form:
                if name == "query":
                    query_parts.append(value)
                    continue
                pm = PARAM_NAME.match(name)
                if pm:
                    query_params[pm.group(1)] = value
                elif name in HTTP_ONLY_PARAMS:
                    args[name] = value
                elif SETTING_NAME.match(name):
                    settings.append((name, value))
                else:
                    raise engine.error("UNKNOWN_SETTING", f"Unknown setting '{name}'")
            if args.get("decompress") == "1" and body:
                verify = args.get("http_native_compression_disable_checksumming_on_decompress") != "1"
                body = decompress_native(body, engine, verify)
            database = args.get("database") or "default"
            fmt = args.get("default_format") or "TabSeparated"
            url_sql = "\n".join(query_parts)

            # The SQL is the `query` parameter followed by the body, unless the statement is an
            # INSERT whose data the body carries; then the data goes through a file and INFILE.
            if url_sql:
                m = INSERT_WITH_DATA.match(url_sql)
                if m and not url_sql[m.end():].strip():
                    sql, data = m.group("head"), body
                else:
                    sql, data = url_sql + ("\n" + body.decode("utf-8") if body else ""), None
            else:
                m = INSERT_WITH_DATA.match(body.decode("latin-1"))  # latin-1: byte offsets intact
                if m:
                    sql, data = m.group("head"), body[m.end():]
                else:
                    sql, data = body.decode("utf-8"), None
            if not sql.strip():
                raise engine.error("SYNTAX_ERROR", "Empty query")
            insert_fmt = None
            if data is not None:
                insert_fmt = m.group("fmt") or "Values"
            output = engine.run(database, settings, sql, fmt, query_params, data, insert_fmt)
        except ClickHouseError as exc:
            self.respond_error(exc)
            return
        except Exception as exc:  # noqa: BLE001 - a bug in the front; report it like the server would
            log("internal error:\n" + traceback.format_exc())
            self.respond_error(engine.error("LOGICAL_ERROR", f"Test front failure: {exc!r}"))
            return
        headers = {"X-ClickHouse-Format": fmt}
        if "query_id" in args:
            headers["X-ClickHouse-Query-Id"] = args["query_id"]
        self.respond(200, output, CONTENT_TYPES.get(fmt, "application/octet-stream"), headers)

    def respond_error(self, exc, status=None):
        status = status or self.engine.http_status(exc.code)
        text = exc.message if exc.message.startswith("Code:") else f"Code: {exc.code}. {exc.message}"
        if self.engine.verbose:
            log(f"error {status}: {text[:300]}")
        self.respond(
            status,
            (text + "\n").encode(),
            "text/plain; charset=UTF-8",
            {"X-ClickHouse-Exception-Code": str(exc.code)},
        )

    def respond(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # restart on the same port right after a stop

    def handle_error(self, request, client_address):
        # A client that refuses the certificate (as tests of an untrusted CA make it) is not a bug.
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionResetError)):
            log(f"TLS handshake with {client_address[0]}:{client_address[1]} failed: {sys.exc_info()[1]}")
            return
        super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="chDB session directory (kept across restarts)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--verbose", action="store_true", help="log requests and queries to stderr")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate chain (PEM)")
    parser.add_argument("--tls-key", help="private key (PEM) of --tls-cert")
    options = parser.parse_args()
    if bool(options.tls_cert) != bool(options.tls_key):
        parser.error("--tls-cert and --tls-key go together")

    engine = Engine(options.data_dir, options.verbose)
    if CityHash128 is None:
        log("clickhouse_cityhash not installed: compressed insert checksums are not verified")
    Handler.engine = engine
    server = Server(("127.0.0.1", options.port), Handler)
    scheme = "http"
    if options.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(options.tls_cert, options.tls_key)
        # The handshake runs in each connection's thread, so a silent client holds up no other.
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"clickhouse front listening on {scheme}://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        engine.close()


if __name__ == "__main__":
    main()
