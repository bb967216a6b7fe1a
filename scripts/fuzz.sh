#!/usr/bin/env bash
# Runs the decoder fuzz target for N seconds (default 300), seeded with the test
# fixtures. cargo-fuzz needs nightly compiler flags; this machine has one stable
# toolchain, so RUSTC_BOOTSTRAP=1 lets it accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-300}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/analyze
cp -n tests/fixtures/* fuzz/corpus/analyze/ 2>/dev/null || true
RUSTC_BOOTSTRAP=1 cargo fuzz run analyze fuzz/corpus/analyze -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=262144 -timeout=20
