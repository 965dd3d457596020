#!/usr/bin/env python3
"""Tracewire beside Rotel on the same OTLP/HTTP requests, on this machine.

Runs both collectors on the same requests, sent by wrk over 8 connections, and measures each
collector process's own CPU seconds (utime + stime from /proc/PID/stat, before and after), the
wall clock, and its peak memory (VmHWM). Every span is checked stored: SQLite rows for
Tracewire's default store, ClickHouse rows (the real engine through the test front,
tests/clickhouse_front/) for both ClickHouse paths. Prints one table with the medians of the
interleaved runs, their spread and the ratios.

Paths:
  sqlite      OTLP protobuf, 500 spans a request: Tracewire into SQLite, Rotel into its blackhole
  clickhouse  the same requests into ClickHouse through the front; CPU and wall clock count until
              every row is in ClickHouse; peak memory of each collector
  json        browser-shaped OTLP/JSON, 20 spans a request: Tracewire into SQLite, Rotel blackhole

Usage: scripts/bench-rotel.py [--runs 3] [--quick] [--collector PATH] [--paths sqlite,clickhouse,json]
                              [--perf DIR]

Installs what it needs: Rotel from PyPI and the front's packages into a virtual environment under
the work directory (--work, default target/bench-rotel), wrk from Debian when missing; builds the
collector with `cargo build --release -p tracewire-collector` unless --collector names a binary.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "bench"))

import workload  # noqa: E402  (scripts/bench/workload.py)

ROTEL_VERSION = "0.0.1a15"
THREADS = 8  # wrk threads, one connection each, so every response matches its request
WAIT_LIMIT = 600  # seconds any one phase may take before the benchmark gives up
TICKS = os.sysconf("SC_CLK_TCK")


def log(message):
    print(f"bench-rotel: {message}", file=sys.stderr, flush=True)


def run(cmd, **kwargs):
    log(" ".join(str(c) for c in cmd))
    subprocess.run(cmd, check=True, **kwargs)


# ----------------------------------------------------------------------------------------------
# Setup


def setup_venv(work):
    """A virtual environment with Rotel and the front's packages; answers (python, rotel-agent)."""
    venv = work / "venv"
    python = venv / "bin" / "python3"
    if not python.exists():
        # System packages stay visible, so chDB is not downloaded again when the tests have it.
        run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"rotel=={ROTEL_VERSION}", "-r", str(ROOT / "tests/clickhouse_front/requirements.txt")])
    package = subprocess.run(
        [str(python), "-c", "import os, rotel; print(os.path.dirname(rotel.__file__))"],
        check=True, capture_output=True, text=True).stdout.strip()
    agent = Path(package) / "rotel-agent"
    if not agent.exists():
        sys.exit(f"bench-rotel: rotel {ROTEL_VERSION} has no rotel-agent at {agent}")
    return python, agent


def setup_wrk():
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.geteuid() != 0:
        sys.exit("bench-rotel: wrk is missing; install it (apt-get install wrk)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env).returncode != 0:
        run(["apt-get", "update", "-q"], env=env)
        run(["apt-get", "install", "-y", "-q", "wrk"], env=env)
    return shutil.which("wrk")


def collector_binary(given):
    if given:
        return Path(given).resolve()
    run(["cargo", "build", "--release", "--locked", "-p", "tracewire-collector"], cwd=ROOT)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    return target / "release" / "tracewire-collector"


# ----------------------------------------------------------------------------------------------
# Processes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of the whole process (exited threads included), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_for(check, what, limit=WAIT_LIMIT, every=0.005):
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {limit} s waiting for {what}")
        time.sleep(every)


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Process:
    """A collector (or the front) with its log file; stopped with SIGTERM, killed after 30 s."""

    def __init__(self, name, cmd, log_path, env=None):
        self.name = name
        self.log_path = log_path
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, env=env)

    @property
    def pid(self):
        return self.proc.pid

    def check_alive(self):
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")
        return True

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


class Front:
    """The test-only ClickHouse front (tests/clickhouse_front/) on the real engine."""

    def __init__(self, python, work):
        data = work / "clickhouse"
        shutil.rmtree(data, ignore_errors=True)
        self.port = free_port()
        self.process = Process("clickhouse front", [
            str(python), str(ROOT / "tests/clickhouse_front/clickhouse_front.py"),
            "--data-dir", str(data), "--port", str(self.port)], work / "front.log")
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(lambda: self.process.check_alive() and http_ok(self.url + "/ping"),
                 "the ClickHouse front", limit=120, every=0.1)

    def query(self, sql):
        request = urllib.request.Request(self.url + "/", data=sql.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.read().decode().strip()

    def count(self, database):
        try:
            return int(self.query(f"SELECT count() FROM `{database}`.otel_traces"))
        except (OSError, ValueError):
            return -1

    def stop(self):
        self.process.stop()


def start_tracewire(binary, work, store, spool=None):
    otlp, api = free_port(), free_port()
    cmd = [str(binary), "--otlp-listen", f"127.0.0.1:{otlp}", "--api-listen", f"127.0.0.1:{api}",
           "--store", store]
    if spool:
        cmd += ["--spool-dir", str(spool)]
    process = Process("tracewire", cmd, work / "tracewire.log", env=dict(os.environ, RUST_LOG="warn"))
    wait_for(lambda: process.check_alive() and http_ok(f"http://127.0.0.1:{api}/readyz"),
             "Tracewire to be ready", limit=120, every=0.05)
    return process, f"http://127.0.0.1:{otlp}"


def start_rotel(agent, work, exporter_args):
    otlp, grpc = free_port(), free_port()
    cmd = [str(agent), "start", "--otlp-http-endpoint", f"127.0.0.1:{otlp}",
           "--otlp-grpc-endpoint", f"127.0.0.1:{grpc}", "--pid-file", str(work / "rotel.pid"),
           "--log-file", str(work / "rotel-agent.log"), *exporter_args]
    process = Process("rotel", cmd, work / "rotel.log")
    wait_for(lambda: process.check_alive() and port_open(otlp), "Rotel to listen", limit=60,
             every=0.05)
    return process, f"http://127.0.0.1:{otlp}"


# ----------------------------------------------------------------------------------------------
# Load


def send(wrk, work, url, bodies):
    """Sends every body once (again after a 429 or 503) with wrk; answers (seconds, counts)."""
    markers = work / "markers"
    shutil.rmtree(markers, ignore_errors=True)
    markers.mkdir()
    cmd = [wrk, f"-t{THREADS}", f"-c{THREADS}", f"-d{WAIT_LIMIT}s", "--timeout", "60s",
           "-s", str(ROOT / "scripts/bench/send.lua"), url + "/v1/traces", "--",
           str(bodies.index), str(THREADS), bodies.content_type, str(markers) + "/",
           bodies.empty]
    out = open(work / "wrk.log", "wb")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        def all_present(prefix):
            if proc.poll() is not None:
                raise RuntimeError(f"wrk exited early:\n{(work / 'wrk.log').read_text()[-2000:]}")
            return len(list(markers.glob(prefix + "*"))) == THREADS
        wait_for(lambda: all_present("ready-"), "wrk to load the requests", every=0.002)
        started = time.monotonic()
        wait_for(lambda: all_present("done-"), "every request to be answered", every=0.002)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        out.close()
    lines = [l for l in (work / "wrk.log").read_text().splitlines() if l.startswith("BENCH ")]
    if not lines:
        raise RuntimeError(f"wrk printed no totals:\n{(work / 'wrk.log').read_text()[-2000:]}")
    counts = json.loads(lines[-1][6:])
    if counts["ok"] != bodies.requests or counts["failed"]:
        raise RuntimeError(f"not every request was accepted: {counts}")
    return started, elapsed, counts


PERF = {"dir": None}  # --perf: where Tracewire's profiles go


def measure(process, wrk, work, url, bodies, stored=None):
    """One load: CPU seconds and wall clock until every 200 (or, with `stored`, until it answers
    the whole count), and peak memory."""
    perf = None
    if PERF["dir"] and process.name == "tracewire":
        perf = subprocess.Popen(["perf", "record", "-q", "-F", "499", "-g", "-p", str(process.pid),
                                 "-o", str(Path(PERF["dir"]) / f"{work.name}.perf")])
        time.sleep(0.5)
    cpu_before = cpu_seconds(process.pid)
    started, acked, counts = send(wrk, work, url, bodies)
    result = {"acked_s": acked, "retried": counts["retried"]}
    if stored is not None:
        wait_for(lambda: process.check_alive() and stored() >= bodies.spans,
                 "every row to reach ClickHouse", every=0.02)
    result["wall_s"] = time.monotonic() - started
    result["cpu_s"] = cpu_seconds(process.pid) - cpu_before
    result["peak_mib"] = peak_rss_mib(process.pid)
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=60)
    return result


# ----------------------------------------------------------------------------------------------
# Paths


def sqlite_count(db, table):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def tracewire_sqlite(ctx, bodies, run_dir):
    db = run_dir / "tracewire.db"
    process, url = start_tracewire(ctx.binary, run_dir, f"sqlite:{db}")
    try:
        result = measure(process, ctx.wrk, run_dir, url, bodies)
        # Traces still waiting for the correlation step when the last 200 went out.
        result["pending"] = sqlite_count(db, "ws_pending")
    finally:
        process.stop()
    rows = sqlite_count(db, "spans")
    if rows != bodies.spans:
        raise RuntimeError(f"SQLite holds {rows} spans, expected {bodies.spans}")
    return result


def rotel_blackhole(ctx, bodies, run_dir):
    process, url = start_rotel(ctx.agent, run_dir, ["--exporter", "blackhole"])
    try:
        return measure(process, ctx.wrk, run_dir, url, bodies)
    finally:
        process.stop()


def tracewire_clickhouse(ctx, bodies, run_dir):
    database = f"tracewire_{run_dir.name}"
    process, url = start_tracewire(ctx.binary, run_dir, f"clickhouse:{ctx.front.url}/{database}",
                                   spool=run_dir / "spool")
    try:
        result = measure(process, ctx.wrk, run_dir, url, bodies, lambda: ctx.front.count(database))
    finally:
        process.stop()
    return checked(ctx, database, bodies, result)


def rotel_clickhouse(ctx, bodies, run_dir):
    ctx.front.query(f"TRUNCATE TABLE `{ctx.rotel_db}`.otel_traces")
    process, url = start_rotel(ctx.agent, run_dir, [
        "--exporter", "clickhouse", "--clickhouse-exporter-endpoint", ctx.front.url,
        "--clickhouse-exporter-database", ctx.rotel_db])
    try:
        result = measure(process, ctx.wrk, run_dir, url, bodies,
                         lambda: ctx.front.count(ctx.rotel_db))
    finally:
        process.stop()
    return checked(ctx, ctx.rotel_db, bodies, result)


def checked(ctx, database, bodies, result):
    rows = ctx.front.count(database)
    if rows != bodies.spans:
        raise RuntimeError(f"ClickHouse {database} holds {rows} spans, expected {bodies.spans}")
    return result


def rotel_schema(ctx, work):
    """Rotel writes into existing tables: Tracewire creates the same schema for it."""
    process, _ = start_tracewire(ctx.binary, work, f"clickhouse:{ctx.front.url}/{ctx.rotel_db}",
                                 spool=work / "schema-spool")
    process.stop()


# ----------------------------------------------------------------------------------------------
# Report


def spread(values, fmt):
    values = sorted(values)
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(values[0])}-{fmt(values[-1])})"


def table(results, runs):
    def rate(path, system, key):
        return [r["spans"] / r[key] for r in results[(path, system)]]

    def thousands(v):
        return f"{v:,.0f}"

    rows = []
    for path, label, key, unit in [
        ("sqlite", "into SQLite (Tracewire) vs blackhole (Rotel)", "cpu_s", "spans/CPU-s"),
        ("clickhouse", "into ClickHouse through the test front", "cpu_s", "spans/CPU-s"),
        ("clickhouse", "rows reaching ClickHouse, wall clock", "wall_s", "spans/s"),
        ("json", "browser-shaped: OTLP/JSON, 20 spans a request", "cpu_s", "spans/CPU-s"),
    ]:
        if (path, "tracewire") not in results:
            continue
        tw, ro = rate(path, "tracewire", key), rate(path, "rotel", key)
        ratio = statistics.median(tw) / statistics.median(ro)
        rows.append((label, f"{spread(tw, thousands)} {unit}", spread(ro, thousands),
                     f"{ratio:.2f}"))
    if ("clickhouse", "tracewire") in results:
        mib = lambda v: f"{v:,.0f}"  # noqa: E731
        tw = [r["peak_mib"] for r in results[("clickhouse", "tracewire")]]
        ro = [r["peak_mib"] for r in results[("clickhouse", "rotel")]]
        rows.append(("peak memory, ClickHouse path", f"{spread(tw, mib)} MiB",
                     f"{spread(ro, mib)} MiB", ""))
    lines = [f"Medians of {runs} interleaved run(s), (min-max) when more than one:", "",
             "| path | Tracewire | Rotel | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    for path in ("sqlite", "json"):
        if (path, "tracewire") in results:
            pending = [r["pending"] for r in results[(path, "tracewire")]]
            lines.append(f"\n{path}: traces waiting for Tracewire's correlation step at the last "
                         f"200: {', '.join(map(str, pending))}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------


class Context:
    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs per path")
    parser.add_argument("--quick", action="store_true",
                        help="a short run for the test suite: few requests, one run")
    parser.add_argument("--collector", help="the tracewire-collector binary (default: build it)")
    parser.add_argument("--paths", default="sqlite,clickhouse,json")
    parser.add_argument("--work", default=str(ROOT / "target" / "bench-rotel"))
    parser.add_argument("--requests", type=int, help="protobuf requests (default 400)")
    parser.add_argument("--json-requests", type=int, help="OTLP/JSON requests (default 5000)")
    parser.add_argument("--perf", metavar="DIR",
                        help="record a perf profile of each Tracewire run into DIR (linux-perf; "
                             "build with RUSTFLAGS='-C force-frame-pointers=yes' for callers)")
    args = parser.parse_args()
    if args.perf:
        Path(args.perf).mkdir(parents=True, exist_ok=True)
        PERF["dir"] = str(Path(args.perf).resolve())
    paths = [p for p in args.paths.split(",") if p]
    for p in paths:
        if p not in ("sqlite", "clickhouse", "json"):
            parser.error(f"unknown path {p!r}; use sqlite, clickhouse, json")
    runs = 1 if args.quick else args.runs
    requests = args.requests or (20 if args.quick else 400)
    json_requests = args.json_requests or (250 if args.quick else 5000)

    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context()
    ctx.binary = collector_binary(args.collector)
    python, ctx.agent = setup_venv(work)
    ctx.wrk = setup_wrk()
    ctx.rotel_db = "rotel"
    now_ns = time.time_ns()
    loads = {}
    if {"sqlite", "clickhouse"} & set(paths):
        loads["protobuf"] = workload.protobuf(work / "bodies", requests, 500, now_ns)
    if "json" in paths:
        loads["json"] = workload.browser_json(work / "bodies", json_requests, 20, now_ns)
    ctx.front = Front(python, work) if "clickhouse" in paths else None
    results = {}
    try:
        if ctx.front:
            rotel_schema(ctx, work)
        systems = {
            "sqlite": (loads.get("protobuf"), tracewire_sqlite, rotel_blackhole),
            "clickhouse": (loads.get("protobuf"), tracewire_clickhouse, rotel_clickhouse),
            "json": (loads.get("json"), tracewire_sqlite, rotel_blackhole),
        }
        for index in range(runs):
            for path in paths:
                bodies, tracewire, rotel = systems[path]
                order = [("tracewire", tracewire), ("rotel", rotel)]
                if index % 2:
                    order.reverse()
                for system, fn in order:
                    run_dir = work / "runs" / f"{path}_{system}_{index}"
                    shutil.rmtree(run_dir, ignore_errors=True)
                    run_dir.mkdir(parents=True)
                    result = fn(ctx, bodies, run_dir)
                    result["spans"] = bodies.spans
                    results.setdefault((path, system), []).append(result)
                    log(f"run {index + 1} {path} {system}: {bodies.spans} spans, "
                        f"{result['cpu_s']:.2f} CPU-s, {result['wall_s']:.2f} s, "
                        f"{result['peak_mib']:.0f} MiB peak, {result['retried']} retried")
    finally:
        if ctx.front:
            ctx.front.stop()
    agent_version = subprocess.run([str(ctx.agent), "--version"], capture_output=True,
                                   text=True).stdout.strip()
    print(f"Tracewire beside {agent_version} (PyPI rotel {ROTEL_VERSION}) on {os.cpu_count()} "
          f"cores; wrk over {THREADS} connections.")
    for name, bodies in loads.items():
        print(f"{name}: {bodies.describe()}")
    print(table(results, runs))


if __name__ == "__main__":
    main()
