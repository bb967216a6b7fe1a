#!/usr/bin/env bash
# The end-to-end load benchmark (issue 11): builds the release binary and the
# harness (bench/load.rs), starts what the distributed scenarios need (SeaweedFS,
# tansu and PostgreSQL from scripts/services.sh; MariaDB and Redis are expected
# running, as on these machines), installs wrk, and runs the harness, which starts
# the service itself for every measurement. Figures go to BENCHMARKS.md by hand.
#
#   bash bench/load.sh                       # every scenario, embedded mode
#   bash bench/load.sh latency --distributed # one scenario, two distributed instances
#   bash bench/load.sh sse --streams 10000
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orakgaraki-target}"
command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
if [[ " $* " == *" --distributed "* ]]; then
    source scripts/services.sh
fi
cargo build --release --bin orakgaraki --example load
ulimit -n 65536 2>/dev/null || true
"$CARGO_TARGET_DIR/release/examples/load" "${@:-all}"
