#!/usr/bin/env bash
# The performance runs behind `just load`, `just bench-db` and
# `just tenant-scale` (release builds; see docs/performance.md).
#
#   tools/loadgen/run.sh load         [concurrency] [duration] [auth]
#   tools/loadgen/run.sh bench-db     [concurrency] [duration]
#   tools/loadgen/run.sh tenant-scale [orgs] [proposals-per-org]
#
# Databases: SQLite files in a temporary folder, unless DATABASE_URL is a
# postgres:// URL. That URL only names the server (and a database to connect
# to for administration, e.g. .../postgres): fresh databases are created on it
# and dropped afterwards; the database it names is never written.
set -euo pipefail
cd "$(dirname "$0")/../.."

what=${1:?usage: run.sh load|bench-db|tenant-scale [args]}
shift

base=${DATABASE_URL:-}
engine=sqlite
[[ "$base" == postgres* ]] && engine=postgres
tmp=$(mktemp -d)
server_pid=""
created=()

cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    for db in "${created[@]+"${created[@]}"}"; do
        psql "$base" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "warning: could not drop database $db" >&2
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# Sets $url to a fresh, empty database named after $1.
fresh() {
    if [ "$engine" = postgres ]; then
        local db="lr_$1_$$"
        psql "$base" -qc "CREATE DATABASE \"$db\"" >/dev/null
        created+=("$db")
        url="${base%/*}/$db"
    else
        url="sqlite://$tmp/$1.db"
    fi
}

loadgen=target/release/loadgen

raw() {
    local concurrency=$1 duration=$2
    fresh raw
    "$loadgen" raw --database-url "$url" --concurrency "$concurrency" --duration "$duration" \
        --label "$engine raw" --json-out "$tmp/raw.json"
}

case "$what" in
load)
    concurrency=${1:-16} duration=${2:-15s} auth=${3:-api-key}
    cargo build --release --quiet -p lead-routing-api
    cargo build --release --quiet -p loadgen
    fresh api
    # The server as `just run` starts it (development mode: the dev key sets
    # up the organization), on its own fresh database. Its address is read
    # from its log, whatever RUST_LOG says about the rest.
    APP_ENV=development DATABASE_URL="$url" HOST=127.0.0.1 PORT=0 \
        RUST_LOG="${RUST_LOG:-info},lead_routing_api::cli=info" \
        target/release/lead-routing >"$tmp/server.log" 2>&1 &
    server_pid=$!
    port=""
    for _ in $(seq 1 300); do
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/server.log" | head -n 1)
        [ -n "$port" ] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then
            cat "$tmp/server.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "the server did not start" >&2
        cat "$tmp/server.log" >&2
        exit 1
    fi
    echo "server: http://127.0.0.1:$port ($engine)"
    "$loadgen" http --url "http://127.0.0.1:$port" --setup --auth "$auth" --server-pid "$server_pid" \
        --concurrency "$concurrency" --duration "$duration" \
        --label "$engine API ($auth)" --json-out "$tmp/api.json"
    kill "$server_pid"
    wait "$server_pid" || true
    server_pid=""
    echo
    raw "$concurrency" "$duration"
    echo
    "$loadgen" compare --api-json "$tmp/api.json" --raw-json "$tmp/raw.json"
    ;;
bench-db)
    concurrency=${1:-16} duration=${2:-15s}
    cargo build --release --quiet -p loadgen
    raw "$concurrency" "$duration"
    ;;
tenant-scale)
    orgs=${1:-10,1000} per_org=${2:-20}
    cargo build --release --quiet -p loadgen
    # loadgen creates (and drops) one database per organization count.
    if [ "$engine" = postgres ]; then url=$base; else url="sqlite://$tmp/tenants.db"; fi
    "$loadgen" tenant-scale --database-url "$url" --orgs "$orgs" --proposals-per-org "$per_org"
    ;;
*)
    echo "unknown run: $what (load, bench-db, tenant-scale)" >&2
    exit 2
    ;;
esac
