#!/usr/bin/env bash
# Benchmark (not a test), in headless Chromium: the median cost of WebSocket.send for JSON
# messages of about 200 bytes with the trace context injected, plain versus instrumented (the
# patched window.WebSocket and TracedWebSocket): both medians, the microseconds added per message
# and the ratio; then the time of one flush of 500 spans from flush() until the body is handed
# to fetch: with compression off that is the flush's main-thread work (release, scrub, encode),
# with compression on it adds the gzip hand-off. The SDK exports to a real collector process with its
# default delivery settings. Last, counting mode: COUNTING_MESSAGES (default 20,000) sends of one
# type through TracedWebSocket with the default allowance (wsSpansPerType 100, wsTraceOneIn 100):
# the median send cost, and what the SDK exported (send spans + ws.message_rate counts; lost =
# the messages neither accounts for, expected 0) besides the queue's drops.
# Uses the release package from `wasm-pack build --target web`. Needs the tools that
# scripts/test-sdk-wasm.sh installs. BATCHES and PER_BATCH size the run, FLUSHES the flush
# samples; BENCH_CONFIG (URL-encoded JSON) is merged into the SDK config, e.g. to measure with
# injection, scrubbing or compression off.
set -euo pipefail
cd "$(dirname "$0")"
SDK=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$SDK/../target}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wasm-pack build "$SDK" --release --target web --out-dir "$WORK/site/pkg" >/dev/null
cp "$SDK/bench/index.html" "$WORK/site/"

cargo build -p tracewire-collector --manifest-path "$SDK/../Cargo.toml" >/dev/null
"$CARGO_TARGET_DIR/debug/tracewire-collector" --otlp-listen 127.0.0.1:0 --otlp-grpc-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
    --store "sqlite:$WORK/tw.db" --cors-origin '*' 2>"$WORK/collector.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q 'OTLP ingest listening on' "$WORK/collector.log" && break; sleep 0.1; done
OTLP=$(grep -o 'OTLP ingest listening on http://[0-9.:]*' "$WORK/collector.log" | sed 's/.* on //')

python3 "$SDK/testserver/servers.py" "$WORK/ports" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/ports" ] && break; sleep 0.1; done
# shellcheck disable=SC1091
. "$WORK/ports"

SITE_PORT=$(free_port)
python3 -m http.server "$SITE_PORT" --bind 127.0.0.1 --directory "$WORK/site" >/dev/null 2>&1 &
PIDS+=($!)
DRIVER_PORT=$(free_port)
chromedriver --port="$DRIVER_PORT" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null && curl -sf "http://127.0.0.1:$SITE_PORT/" >/dev/null && break
    sleep 0.1
done

python3 "${DRIVER:-$SDK/bench/drive.py}" "http://127.0.0.1:$DRIVER_PORT" \
    "http://127.0.0.1:$SITE_PORT/index.html?ws=ws://127.0.0.1:$WS_PORT&otlp=$OTLP&batches=${BATCHES:-40}&per=${PER_BATCH:-500}&flushes=${FLUSHES:-9}&counting=${COUNTING_MESSAGES:-20000}&cfg=${BENCH_CONFIG:-%7B%7D}" \
    >"$WORK/result.json" || { cat "$WORK/result.json"; exit 1; }
cat "$WORK/result.json"
python3 - "$WORK/result.json" <<'SUMMARY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['messageBytes']}-byte JSON messages, {r['messagesPerVariant']} per variant, context injected")
print(f"plain send:             {r['plainUs']:.2f} us")
for name in ("patched", "traced"):
    label = "patched window.WebSocket" if name == "patched" else "TracedWebSocket"
    print(f"{label + ':':24s}{r[name + 'Us']:.2f} us  (+{r[name + 'AddedUs']:.2f} us, ratio {r[name + 'Ratio']:.2f})")
print(f"counting mode, {r['countingMessages']} messages: {r['countingUs']:.2f} us per send ({r['countingAddedUs']:+.2f} us), "
      f"{r['countingSendSpans']} send spans + {r['countingCounted']} counted in {r['countingRateRecords']} ws.message_rate records, "
      f"lost {r['countingLost']}, dropped {r['countingDroppedQueueFull']} (queue full) + {r['countingDroppedExportFailed']} (export failed)")
print(f"flush of 500 spans:     {r['flush500SpansMs']:.2f} ms main thread to the POST, {r['flush500SpansGzipMs']:.2f} ms with gzip (medians of {r['flushes']})")
SUMMARY
