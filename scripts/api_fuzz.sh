#!/usr/bin/env bash
# Drives the running service with schemathesis from its own OpenAPI document
# (/api/openapi.json): generated and mutated requests on every operation, as an
# admin, and fails on any 5xx, any status the document does not list, and any
# response that does not match its schema. Used by scripts/test.sh.
#
#   bash scripts/api_fuzz.sh [EXAMPLES]      # default 25 per operation
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-25}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orakgaraki-target}"
bin="$CARGO_TARGET_DIR/debug/orakgaraki"
[ -x "$bin" ] || cargo build --locked --bin orakgaraki
if ! command -v st >/dev/null 2>&1; then
    python3 -m pip install -q --disable-pip-version-check "schemathesis==4.32.5"
fi
dir="$(mktemp -d)"
ORAK_RATE_LIMIT__ENABLED=false ORAK_WEBHOOKS__SECRET=fuzz-hook ORAK_MODEL__ENABLED=false \
    "$bin" serve --bind 127.0.0.1:0 --data-dir "$dir" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 600); do [ -s "$dir/server.addr" ] && break; sleep 0.1; done
if [ ! -s "$dir/server.addr" ]; then
    echo "the service did not start within 60 s:"; tail -30 "$dir/server.log"; exit 1
fi
addr="$(cat "$dir/server.addr")"
token="$("$bin" token --user fuzzer --admin --data-dir "$dir")"
echo "== schemathesis: $examples examples per operation against $addr"
st run "http://$addr/api/openapi.json" \
    -H "Authorization: Bearer $token" \
    --max-examples "$examples" --seed 20261130 \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --suppress-health-check all \
    --exclude-path /api/admin/alerts/stream
# (The admin alert stream never ends by design: tests/alerts.rs covers it.)
if grep -q "panicked" "$dir/server.log"; then
    echo "the server panicked:"; grep -A5 panicked "$dir/server.log"; exit 1
fi
