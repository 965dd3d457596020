#!/usr/bin/env bash
# Runs every Tracewire test on a fresh machine: installs what is missing (Rust components,
# Python packages; the browser tool chain through scripts/test-sdk-wasm.sh), then checks
# formatting and lints, builds, and runs all test suites: the Rust workspace, the browser SDK in
# headless Chromium, the end-to-end browser tests, the web UI and the npm package for React.
# Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# CI keeps cargo's build directory outside the clone so repeated runs on one machine are faster;
# a run from nothing works the same, only slower.
if [[ -z "${CARGO_TARGET_DIR:-}" && "${CI:-}" == "true" ]]; then
    export CARGO_TARGET_DIR=/var/tmp/tracewire-target
fi

step "Toolchain"
for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
        rustup component add "$component"
    fi
done
cargo --version

step "Python packages for the end-to-end tests"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r tests/requirements.txt

step "Formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Build (the end-to-end tests run the collector binary)"
cargo build --workspace --bins --locked

step "Tests"
cargo test --workspace --locked

step "Release build (benchmarks and release-only tests)"
cargo build --release -p tracewire-collector --locked

step "Ingest beside Rotel, short version (installs Rotel in a venv, wrk; checks every span stored)"
./scripts/bench-rotel.py --quick --collector "${CARGO_TARGET_DIR:-target}/release/tracewire-collector"

step "Browser SDK (installs wasm tools and Chromium when missing)"
./scripts/test-sdk-wasm.sh

step "End-to-end tests in headless Chromium"
./scripts/test-e2e-browser.sh

step "Web UI (unit tests, browser tests against real collectors)"
./scripts/test-ui.sh

step "npm package for React (unit tests, React and webpack apps in headless Chromium)"
./scripts/test-js.sh
