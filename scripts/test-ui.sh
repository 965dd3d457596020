#!/usr/bin/env bash
# Builds and tests the collector's web UI (www/):
#   1. installs the npm packages exactly as locked (`npm ci`);
#   2. type-checks and runs the unit tests of the data transforms (vitest);
#   3. builds the collector, whose build.rs bundles the UI with Vite and embeds it;
#   4. runs the collector's UI-serving tests (content types, caching, gzip, SPA fallback);
#   5. builds the browser SDK package (wasm-pack, sdk-wasm/) and the agent-backend example;
#   6. runs the browser tests: real collector processes on free ports, filled by the OpenTelemetry
#      Python SDK, by browser-like OTLP/JSON spans, and by a page running the real SDK against the
#      agent-backend example, driven in Debian's Chromium through playwright-core. Screenshots of
#      every page land in www/e2e-artifacts/.
# Set CARGO_TARGET_DIR to share or separate build output. Never downloads a browser.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
START=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

step "Tools"
command -v node >/dev/null && command -v npm >/dev/null || {
    echo "Node.js 20+ and npm are needed to build the UI: install them (https://nodejs.org)" >&2
    exit 1
}
if ! command -v chromium >/dev/null; then
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
WB_VERSION=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"$/\1/p' sdk-wasm/Cargo.toml)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
    cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi
command -v wasm-pack >/dev/null || cargo install wasm-pack
if ! python3 -c 'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        "$(grep '^opentelemetry-sdk==' tests/requirements.txt)" \
        "$(grep '^opentelemetry-exporter-otlp-proto-http==' tests/requirements.txt)"
fi
node --version

step "npm ci (www/)"
# The same lock collector/build.rs holds, so a concurrent cargo build does not see half a node_modules.
(cd www && flock .build.lock npm ci --no-audit --no-fund --loglevel=error)

step "Type check and unit tests (vitest)"
(cd www && npm run --silent typecheck && npx vitest run)

step "Build the collector with the embedded UI"
cargo build -p tracewire-collector

step "UI serving tests (Rust)"
cargo test -p tracewire-collector --lib ui::

step "The browser SDK package and the agent-backend example (for the real-SDK browser test)"
wasm-pack build sdk-wasm --release --target web --out-dir "$CARGO_TARGET_DIR/tracewire-sdk-pkg"
cargo build -p tracewire-example-agent-backend

step "Browser tests (playwright-core + /usr/bin/chromium against real collectors)"
(cd www && TRACEWIRE_COLLECTOR="$CARGO_TARGET_DIR/debug/tracewire-collector" \
    TRACEWIRE_SDK_PKG="$CARGO_TARGET_DIR/tracewire-sdk-pkg" \
    TRACEWIRE_AGENT_BACKEND="$CARGO_TARGET_DIR/debug/agent-backend" \
    node --test --test-concurrency=1 --test-reporter=spec e2e/)

echo
echo "UI tests passed in $(($(date +%s) - START)) s; screenshots in www/e2e-artifacts/"
