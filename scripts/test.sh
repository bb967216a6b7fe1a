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

# SeaweedFS, tansu and PostgreSQL + pgvector, stopped when this script exits.
source scripts/services.sh

# The distributed stack's compose file must stay valid (Debian's docker-compose;
# no compose plugin is installed here). deploy/env.example stands in for .env.
if ! need docker-compose; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose
fi
echo "== compose.yml"
docker-compose --env-file deploy/env.example -f compose.yml config -q

# Alert rules have unit tests: promtool from Debian's prometheus package. The
# alert tests fire a real Alertmanager into the service, and the dashboard test
# reads host metrics from a real node-exporter (the packages' own services are not
# used; the tests start their own on free ports).
if ! need promtool || [ ! -x /usr/bin/prometheus-alertmanager ] || [ ! -x /usr/bin/prometheus-node-exporter ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        prometheus prometheus-alertmanager prometheus-node-exporter
fi
echo "== Prometheus config and alert rules"
(cd deploy/prometheus && promtool check config prometheus.yml && promtool test rules tests/*.yml)
amtool check-config deploy/alertmanager/alertmanager.yml

# Known-vulnerable dependencies fail the run (cargo audit over Cargo.lock, RustSec's
# database: live when github.com answers, else the offline snapshot; it says which).
echo "== dependency audit"
bash scripts/audit.sh

# The web UI test drives Debian's Chromium with playwright-core (npm, pinned in
# tests/ui/package-lock.json); fonts-nanum so Korean song names render in its
# screenshots, which are kept in $TEST_UI_ARTIFACTS.
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi nanum; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-nanum
fi
if ! need node; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
if [ ! -d tests/ui/node_modules/playwright-core ]; then
    npm ci --prefix tests/ui --no-audit --no-fund --loglevel=error
fi
export TEST_UI_ARTIFACTS="${TEST_UI_ARTIFACTS:-$CARGO_TARGET_DIR/ui-artifacts}"

echo "== house rules (cargo fmt --check, cargo clippy -D warnings)"
cargo fmt --all --check
cargo clippy --locked --all-targets -- -D warnings
echo "== build"
cargo build --locked --all-targets
echo "== API fuzzing (schemathesis, from /api/openapi.json)"
bash scripts/api_fuzz.sh 15
echo "== tests (web UI screenshots go to $TEST_UI_ARTIFACTS)"
# Not exec: the EXIT trap stops SeaweedFS, tansu and PostgreSQL afterwards.
cargo nextest run --locked --no-fail-fast "$@"
