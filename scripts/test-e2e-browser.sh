#!/usr/bin/env bash
# End-to-end tests in headless Chromium (tests/browser/): the browser SDK in a real page, the
# Rust demo backend (examples/agent-backend, continuing traces with tracewire-ws) and a real
# collector, checked through the collector's query API: one trace per message across browser
# and backend, round trips, and clock-skew correction against a backend whose clock is 2 s off.
# The demo test (demo.test.mjs) clicks through the Rust/WASM demo page (examples/wasm-frontend)
# against the Rust and the Python demo backend (examples/python-backend).
# Needs wasm-pack and Chromium (scripts/test-sdk-wasm.sh installs them), Node with npm, and
# python3 with pip.
# The SDK package for tests/browser/page is built with the optional `xhr` and `eventsource`
# features on top of the default ones (xhr.test.mjs, eventsource.test.mjs use them; the other
# tests do not call them). The default build's size and loading are checked by
# scripts/test-sdk-wasm.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

step() { printf '\n==> %s\n' "$*"; }

step "Browser e2e: SDK web package, demo page, binaries, Python backend, playwright-core"
wasm-pack build "$ROOT/sdk-wasm" --release --target web --out-dir "$ROOT/tests/browser/page/pkg" -- \
  --features xhr,eventsource
wasm-pack build "$ROOT/examples/wasm-frontend" --release --target web --out-dir pkg
cargo build --locked -p tracewire-collector -p tracewire-example-agent-backend
python3 -m pip install --root-user-action=ignore --quiet --disable-pip-version-check \
  -r examples/python-backend/requirements.txt
(cd tests/browser && npm ci --no-audit --no-fund --silent)

step "Browser e2e tests"
(cd tests/browser && node --test --test-concurrency=1)
