#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs
# (idempotently), builds, and runs every test. Used by `.ci/run`.
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -E 'test(sse)'   # extra arguments go to cargo nextest
set -euo pipefail
cd "$(dirname "$0")/.."

# Builds are reused across clones: keep the target dir outside the work tree.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orakgaraki-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

need() { command -v "$1" >/dev/null 2>&1; }

# C and C++ compilers for the bundled SQLite and usearch.
if ! need cc || ! need c++; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential
fi
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi

echo "== build"
cargo build --locked --all-targets
echo "== tests"
cargo nextest run --locked --no-fail-fast "$@"
