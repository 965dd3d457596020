#!/usr/bin/env bash
# Runs the Tracewire demo on this machine: the collector (SQLite), a demo backend (Rust by
# default, --python for the FastAPI one) and the Rust/WASM agent dashboard page, then prints the
# URLs. Ctrl-C stops everything.
#
#   ./examples/run-demo.sh [--python]
#
# Ports (override with the environment variables): page 8080 (DEMO_WEB_PORT), backend 8090
# (DEMO_BACKEND_PORT), collector OTLP ingest 4318 (DEMO_OTLP_PORT), OTLP/gRPC 4317
# (DEMO_GRPC_PORT) and query API + UI 4380 (DEMO_API_PORT). Data goes to ./tracewire-data/demo/tracewire.db (DEMO_DATA_DIR).
# Needs cargo, wasm-pack (./scripts/test-sdk-wasm.sh installs it), Node.js 20+ with npm (the
# collector embeds its UI), python3 and curl; the Python backend's packages are installed
# with pip when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BACKEND=rust
for arg in "$@"; do
  case $arg in
    --python) BACKEND=python ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-demo.sh: unknown argument '$arg' (accepted: --python, --help)" >&2; exit 2 ;;
  esac
done

WEB_PORT=${DEMO_WEB_PORT:-8080}
BACKEND_PORT=${DEMO_BACKEND_PORT:-8090}
OTLP_PORT=${DEMO_OTLP_PORT:-4318}
GRPC_PORT=${DEMO_GRPC_PORT:-4317}
API_PORT=${DEMO_API_PORT:-4380}
DATA_DIR=${DEMO_DATA_DIR:-$ROOT/tracewire-data/demo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/debug

step() { printf '\n==> %s\n' "$*"; }

step "Building the page (wasm-pack), the collector and the backend"
wasm-pack build "$ROOT/examples/wasm-frontend" --release --target web --out-dir pkg
# Both binaries even for --python: one build shares the dependencies' features, so switching
# backends does not rebuild them.
cargo build -p tracewire-collector -p tracewire-example-agent-backend
if [[ $BACKEND == python ]]; then
  if ! python3 -c 'import fastapi, uvicorn, websockets, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check -r "$ROOT/examples/python-backend/requirements.txt"
  fi
fi

PIDS=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "demo stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until `url` answers, or gives up naming `what`.
wait_for() {
  local what=$1 url=$2
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "run-demo.sh: $what did not come up at $url" >&2
  exit 1
}

WEB=http://127.0.0.1:$WEB_PORT
OTLP=http://127.0.0.1:$OTLP_PORT
API=http://127.0.0.1:$API_PORT
BACKEND_URL=http://127.0.0.1:$BACKEND_PORT

step "Starting the collector, the $BACKEND backend and the page"
mkdir -p "$DATA_DIR"
"$BIN/tracewire-collector" --otlp-listen "127.0.0.1:$OTLP_PORT" --otlp-grpc-listen "127.0.0.1:$GRPC_PORT" \
  --api-listen "127.0.0.1:$API_PORT" \
  --store "sqlite:$DATA_DIR/tracewire.db" --cors-origin "$WEB" &
PIDS+=($!)
wait_for "the collector" "$API/readyz"

if [[ $BACKEND == rust ]]; then
  "$BIN/agent-backend" --listen "127.0.0.1:$BACKEND_PORT" --otlp-endpoint "$OTLP" &
else
  python3 "$ROOT/examples/python-backend/app.py" --port "$BACKEND_PORT" --otlp-endpoint "$OTLP" &
fi
PIDS+=($!)
wait_for "the $BACKEND backend" "$BACKEND_URL/api/agents"

python3 -m http.server "$WEB_PORT" --bind 127.0.0.1 --directory "$ROOT/examples/wasm-frontend" \
  >/dev/null 2>&1 &
PIDS+=($!)
wait_for "the page's static server" "$WEB/index.html"

cat <<MSG

Tracewire demo is running ($BACKEND backend).
  Agent dashboard:  $WEB/index.html?backend=$BACKEND_URL&otlp=$OTLP
  Collector UI:     $API/
  Query API:        $API/api/traces
Click around, then turn on "simulate WebSocket fallback bug" and drop the connection to see
GET /api/agents at the top of the hot endpoints. Press Ctrl-C to stop.
MSG
wait -n "${PIDS[@]}" || true
echo "run-demo.sh: a demo process exited" >&2
exit 1
