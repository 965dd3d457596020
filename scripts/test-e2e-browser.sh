#!/usr/bin/env bash
# End-to-end tests in headless Chromium (tests/browser/): the browser SDK in a real page, the
# Rust demo backend (examples/agent-backend, continuing traces with tracewire-ws) and a real
# collector, checked through the collector's query API: one trace per message across browser
# and backend, round trips, and clock-skew correction against a backend whose clock is 2 s off.
# Needs wasm-pack and Chromium (scripts/test-sdk-wasm.sh installs them) and Node with npm.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

step() { printf '\n==> %s\n' "$*"; }

step "Browser e2e: SDK web package, binaries, playwright-core"
wasm-pack build "$ROOT/sdk-wasm" --release --target web --out-dir "$ROOT/tests/browser/page/pkg"
cargo build --locked -p tracewire-collector -p tracewire-example-agent-backend
(cd tests/browser && npm ci --no-audit --no-fund --silent)

step "Browser e2e tests"
(cd tests/browser && node --test --test-concurrency=1)
