#!/usr/bin/env bash
# Runs every Tracewire test on a fresh machine: installs what is missing (Rust components,
# Python packages, the Docker engine and debootstrap; the browser tool chain through
# scripts/test-sdk-wasm.sh), then checks formatting and lints, builds, and runs all test suites:
# the Rust workspace (the container test included), a 60 s soak with faults, the fuzz targets
# (when a nightly toolchain is installed), the short ingest benchmark beside Rotel, the browser
# SDK in headless Chromium, the end-to-end browser tests, the web UI and the npm package for React.
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

step "Docker engine and debootstrap (for the container test)"
# Root on CI installs them; elsewhere a missing engine makes the container test skip, saying so.
if [[ $(id -u) == 0 ]] && ! { command -v dockerd && command -v debootstrap; } >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1 && [[ $(id -u) == 0 ]] && command -v dockerd >/dev/null; then
    # No systemd here: the engine runs for this script only, without a bridge (containers use
    # the host's network, so all traffic stays on loopback).
    dockerd --bridge=none --iptables=false >/var/tmp/tracewire-dockerd.log 2>&1 &
    dockerd_pid=$!
    trap 'kill "$dockerd_pid" 2>/dev/null || true' EXIT
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
fi
if docker info >/dev/null 2>&1; then
    export TRACEWIRE_REQUIRE_DOCKER=1
    docker info --format 'Docker engine {{.ServerVersion}}'
else
    echo "Docker cannot start here: the container test will say SKIPPED"
fi

step "Formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Build (the end-to-end tests run the collector binary)"
cargo build --workspace --bins --locked

step "Release build of the collector (the container test, the soak and the benchmarks use it)"
cargo build --release --locked -p tracewire-collector

step "Tests"
cargo test --workspace --locked

step "Soak: 60 s of load on SQLite and ClickHouse with kill -9, a ClickHouse outage and full disks"
release_dir="${CARGO_TARGET_DIR:-$PWD/target}/release"
SOAK_SECONDS=60 TRACEWIRE_COLLECTOR_BIN="$release_dir/tracewire-collector" \
    cargo run --locked -q -p tracewire-e2e --bin soak

step "Fuzz targets (15 s each; skipped without a nightly toolchain)"
./scripts/test-fuzz.sh

step "Ingest beside Rotel, short version (installs Rotel in a venv, wrk; checks every span stored)"
./scripts/bench-rotel.py --quick --collector "$release_dir/tracewire-collector"

step "Browser SDK (installs wasm tools and Chromium when missing)"
./scripts/test-sdk-wasm.sh

step "End-to-end tests in headless Chromium"
./scripts/test-e2e-browser.sh

step "Web UI (unit tests, browser tests against real collectors)"
./scripts/test-ui.sh

step "npm package for React (unit tests, React and webpack apps in headless Chromium)"
./scripts/test-js.sh
