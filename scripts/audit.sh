#!/usr/bin/env bash
# Known-vulnerable dependencies fail the run: `cargo audit` over Cargo.lock against
# RustSec's advisory database. The live database when github.com answers; else the
# offline snapshot beside the repository (../shared/advisory-db, or $ADVISORY_DB),
# whose date is printed. With neither, the audit cannot run, and that fails too.
# Accepted advisories (none today) would be listed, each with its reason, in
# .cargo/audit.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-audit >/dev/null 2>&1 || cargo install cargo-audit --locked

if curl -s -o /dev/null --max-time 5 https://github.com/RustSec/advisory-db; then
    echo "advisory database: live (github.com/RustSec/advisory-db), fetched $(date -u +%F)"
    exec cargo audit
fi

snapshot=""
for candidate in "${ADVISORY_DB:-}" ../shared/advisory-db ../../shared/advisory-db; do
    if [ -n "$candidate" ] && [ -d "$candidate/crates" ]; then
        snapshot="$candidate"
        break
    fi
done
if [ -z "$snapshot" ]; then
    echo "dependency audit NOT RUN: github.com is unreachable and no advisory snapshot was found" \
        "(set ADVISORY_DB to a copy of RustSec's advisory-db)" >&2
    exit 1
fi

# cargo audit reads its database from a git repository: make one from the snapshot.
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
cp -r "$snapshot"/. "$db"
git -C "$db" init -q
git -C "$db" add -A
git -C "$db" -c user.name=audit -c user.email=audit@localhost commit -qm snapshot
taken=$(grep -o '([0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\})' "$snapshot/SNAPSHOT.md" 2>/dev/null | head -1 | tr -d '()')
echo "advisory database: offline snapshot $snapshot, taken ${taken:-on an unknown date} (github.com unreachable)"
# --stale: the snapshot is older than cargo audit's 90-day freshness check.
cargo audit --db "$db" --no-fetch --stale
