#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time, starting from the seeds in fuzz/seeds/,
# when a nightly toolchain is installed (cargo fuzz needs one); says so and skips otherwise.
# Installs cargo-fuzz when it is missing. A crash fails the run and prints the input.
#   FUZZ_SECONDS   seconds per target (default 15)
#   FUZZ_TARGETS   space-separated targets to run (default: all of `cargo fuzz list`)
# New inputs found go to a scratch directory, never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-15}"
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz: SKIPPED: no nightly toolchain (rustup toolchain install nightly); cargo fuzz needs one"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    # A debug build of the driver is plenty and builds in half the time.
    cargo install cargo-fuzz --locked --debug
fi

# No sanitizer: the code under test forbids `unsafe`, and the build is twice as fast without
# one. Debug assertions catch overflows.
flags=(--sanitizer none --debug-assertions --target-dir "${CARGO_TARGET_DIR:-$PWD/target}/fuzz")
cargo +nightly fuzz build "${flags[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
failed=()
for target in $targets; do
    mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
    seeds="fuzz/seeds/$target"
    [[ -d "$seeds" ]] || seeds=""
    log="$work/$target/log"
    # -timeout: one input taking 10 s is a finding; -rss_limit_mb: so is 2 GiB of memory.
    if cargo +nightly fuzz run "${flags[@]}" "$target" "$work/$target/corpus" $seeds -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/$target/artifacts/" >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 || true)
        echo "fuzz: $target: ${runs:-done}, ${seconds} s, no crash"
    else
        echo "fuzz: $target: FAILED; the end of its log:"
        tail -n 40 "$log"
        for artifact in "$work/$target/artifacts"/*; do
            [[ -f "$artifact" ]] || continue
            echo "fuzz: $target: input $(basename "$artifact") (base64): $(base64 -w0 "$artifact")"
        done
        failed+=("$target")
    fi
done
if ((${#failed[@]})); then
    echo "fuzz: failing targets: ${failed[*]}; reproduce with: cargo +nightly fuzz run <target> <input>"
    exit 1
fi
