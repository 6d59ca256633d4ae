#!/usr/bin/env bash
# `just bench-limit [duration] [runs]`: the API's throughput against the
# physical limit of our own schema, on SQLite and PostgreSQL, in one run.
#
#   tools/loadgen/bench-limit.sh [duration=5s] [runs=3]
#
# Each round, for each engine (SQLite, then PostgreSQL), with 1 and 16
# clients, on fresh copies of a freshly migrated database:
#   - the limit: the minimal routing step on the real schema
#     (tools/loadgen/limit.py, limit.pgbench.sql), and with 10 leads per
#     transaction (16 clients);
#   - `loadgen raw`: our storage code without HTTP;
#   - the API: the server as `just load` starts it, `loadgen http --setup`;
#   - growth: the API's ingest p50 (1 client) in an empty organization vs one
#     holding 50,000 open leads with their pending proposals (inserted by
#     SQL), and the review queue's p50 (every tenth request of those runs);
#   - batches: `loadgen batch`, 2 clients each sending `POST /leads/batch`
#     of 1,000 leads, leads/s;
#   - memory: the server's RSS (VmRSS) idle after start and after the
#     16-client API run;
#   - several organizations: 4 organizations of one server, each with its
#     own key and pool, 4 clients each, against one organization's 16;
#   - two instances (PostgreSQL): two servers on one database, 8 clients
#     each, one key and one pool, against one server's 16; with the
#     proposals per agent from the database (round robin stays exact).
# Then, on PostgreSQL, the statements per routed lead (log_statement = all on
# a dedicated database, 100 leads posted one by one). Prints one markdown
# table of medians over the rounds.
#
# PostgreSQL: the admin URL ${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres};
# every database is created on it and dropped afterwards; unreachable, its
# rows are skipped. The server and `loadgen raw` connect as lr_bench_app,
# a role that owns nothing (row-level security on, as in production); the
# schema belongs to lr_bench_owner (both created if missing). PG_LOG names the server's log (statement count).
# BENCH_LIMIT_NO_BUILD=1 skips the build; the binaries are those of
# ${CARGO_TARGET_DIR:-target}/release (or /debug, see BENCH_LIMIT_PROFILE).
#
# Exit status: 0, or 1 when a run is broken (a tool failed, a server did not
# start, no step completed) — never because a figure is low.
set -euo pipefail
cd "$(dirname "$0")/../.."

duration=${1:-5s}
runs=${2:-3}
admin=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pglog=${PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
# BENCH_LIMIT_PROFILE=debug uses (and builds) the debug binaries instead:
# CI's smoke, which only checks that every run works, reuses the test build.
profile=${BENCH_LIMIT_PROFILE:-release}
case "$profile" in
release) build_flags=(--release) ;;
debug) build_flags=() ;;
*) echo "BENCH_LIMIT_PROFILE must be release or debug" >&2; exit 2 ;;
esac
bin=${CARGO_TARGET_DIR:-target}/$profile/lead-routing
loadgen=${CARGO_TARGET_DIR:-target}/$profile/loadgen
limit=(python3 tools/loadgen/limit.py)

# The several-organizations run: this many organizations sharing 16 clients.
orgs=4

tmp=$(mktemp -d -t bench-limit.XXXXXX)
res=$tmp/results
mkdir -p "$res"
server_pid=""
servers=()
created=()
broken=()

drop_db() {
    psql "$admin" -Xqc "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 ||
        echo "warning: could not drop database $1" >&2
}

# Stops every server start_server started.
stop_server() {
    for pid in "${servers[@]+"${servers[@]}"}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    servers=()
    server_pid=""
}

cleanup() {
    stop_server
    for db in "${created[@]+"${created[@]}"}"; do
        drop_db "$db"
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bench-limit.sh [duration=5s] [runs=3] (runs: a positive integer)" >&2
    exit 2
fi
duration_ms=$("${limit[@]}" duration-ms "$duration") || exit 2
# Loadgen's warm-up (connections, caches) before it measures; the limit too.
if [ "$duration_ms" -ge 4000 ]; then warmup=2s; else warmup=1s; fi

if [ -z "${BENCH_LIMIT_NO_BUILD:-}" ]; then
    nice -n 19 cargo build "${build_flags[@]}" --quiet -p lead-routing-api -p loadgen
fi
for tool in "$bin" "$loadgen"; do
    if ! [ -x "$tool" ]; then
        echo "$tool is missing: cargo build ${build_flags[*]} -p lead-routing-api -p loadgen" >&2
        exit 1
    fi
done

header=$(
    dirty=""
    GIT_OPTIONAL_LOCKS=0 git diff --quiet HEAD -- 2>/dev/null || dirty=" + uncommitted changes"
    echo "## bench-limit: $duration per run, $runs round(s), warm-up $warmup"
    echo
    echo "- machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "- load before the runs:$(uptime | sed 's/.*load average/ load average/')"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty"
    echo "- MALLOC_ARENA_MAX: ${MALLOC_ARENA_MAX:-unset (the server limits glibc to 2 arenas)}"
)
echo "$header" >&2
echo >&2

note() { echo "$*" >&2; }

fail() {
    broken+=("$1")
    note "BROKEN: $1"
    [ -f "${2:-}" ] && tail -n 20 "$2" >&2
    return 0
}

# ---- databases: copies of one freshly migrated database per engine

pg_template=""
url="" serve_url="" dbfile="" dbname="" port=""
# On PostgreSQL the server runs as in production: connected as a role that
# owns nothing (row-level security binds it), the schema migrated by its
# owner. The limit step and the fixtures run as the admin (exempt).
pg_owner=lr_bench_owner pg_app=lr_bench_app

# as_role ROLE DBNAME: the admin URL's server, as ROLE, on DBNAME.
as_role() {
    local server=${admin#*://}
    server=${server#*@}
    server=${server%%/*}
    echo "postgres://$1:$1@$server/$2"
}

# migrate ENGINE: the template every fresh database of ENGINE copies.
migrate() {
    local url
    if [ "$1" = sqlite ]; then
        url="sqlite://$tmp/template.db"
    else
        pg_template="lr_limit_template_$$"
        for role in "$pg_owner" "$pg_app"; do
            psql "$admin" -Xqc "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role')
                THEN CREATE ROLE $role LOGIN PASSWORD '$role'; END IF; END \$\$" >/dev/null
        done
        psql "$admin" -Xqc "CREATE DATABASE \"$pg_template\" OWNER $pg_owner" >/dev/null
        created+=("$pg_template")
        url=$(as_role "$pg_app" "$pg_template")
        export DATABASE_MIGRATION_URL
        DATABASE_MIGRATION_URL=$(as_role "$pg_owner" "$pg_template")
    fi
    DATABASE_URL="$url" RUST_LOG=warn "$bin" migrate up >"$tmp/migrate-$1.log" 2>&1 || {
        fail "$1: lead-routing migrate up" "$tmp/migrate-$1.log"
        unset DATABASE_MIGRATION_URL
        return 1
    }
    unset DATABASE_MIGRATION_URL
}

# fresh ENGINE NAME: sets $url (and $dbfile or $dbname) to a new copy.
fresh() {
    if [ "$1" = sqlite ]; then
        dbfile="$tmp/$2.db"
        rm -f "$dbfile" "$dbfile-wal" "$dbfile-shm"
        cp "$tmp/template.db" "$dbfile"
        [ -f "$tmp/template.db-wal" ] && cp "$tmp/template.db-wal" "$dbfile-wal"
        url="sqlite://$dbfile"
        serve_url=$url
    else
        dbname="lr_limit_$2_$$"
        psql "$admin" -Xqc "CREATE DATABASE \"$dbname\" TEMPLATE \"$pg_template\"" >/dev/null
        created+=("$dbname")
        url="${admin%/*}/$dbname"
        serve_url=$(as_role "$pg_app" "$dbname")
    fi
}

# done_with ENGINE: drops the copy `fresh` made.
done_with() {
    if [ "$1" = sqlite ]; then
        rm -f "$dbfile" "$dbfile-wal" "$dbfile-shm"
    else
        drop_db "$dbname"
        local kept=()
        for db in "${created[@]}"; do
            if [ "$db" != "$dbname" ]; then kept+=("$db"); fi
        done
        created=(${kept[@]+"${kept[@]}"})
    fi
}

# start_server URL LOG: the server as `just load` starts it (development
# mode, PORT=0, its address read from its log); sets $server_pid and $port.
# Another call starts another server beside it; stop_server stops them all.
start_server() {
    APP_ENV=development DATABASE_URL="$1" HOST=127.0.0.1 PORT=0 \
        RUST_LOG="${RUST_LOG:-info},lead_routing_api::cli=info" \
        "$bin" >"$2" 2>&1 &
    server_pid=$!
    servers+=("$server_pid")
    port=""
    for _ in $(seq 1 300); do
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$2" | head -n 1)
        [ -n "$port" ] && return 0
        if ! kill -0 "$server_pid" 2>/dev/null; then
            server_pid=""
            return 1
        fi
        sleep 0.1
    done
    stop_server
    return 1
}

# ---- the runs; each writes $res/ENGINE_KIND_cCLIENTS_rROUND.json

# limit ENGINE CLIENTS LEADS_PER_TX ROUND
run_limit() {
    local engine=$1 clients=$2 leads=$3 round=$4 kind=limit
    [ "$leads" -gt 1 ] && kind="limit$leads"
    local out="$res/${engine}_${kind}_c${clients}_r${round}.json" log="$tmp/$kind.log"
    fresh "$engine" limit
    local target=(--db "$dbfile")
    [ "$engine" = postgres ] && target=(--url "$url")
    if "${limit[@]}" "$engine" "${target[@]}" --clients "$clients" --duration "$duration" \
        --warmup "$warmup" --leads-per-tx "$leads" --json-out "$out" >"$log" 2>&1; then
        note "  $kind, $clients client(s): $(brief "$out")"
    else
        rm -f "$out"
        fail "$engine round $round: limit ($clients clients, $leads leads/tx)" "$log"
    fi
    done_with "$engine"
}

# raw ENGINE CLIENTS ROUND
run_raw() {
    local engine=$1 clients=$2 round=$3
    local out="$res/${engine}_raw_c${clients}_r${round}.json" log="$tmp/raw.log"
    fresh "$engine" raw
    if "$loadgen" raw --database-url "$serve_url" --concurrency "$clients" --duration "$duration" \
        --warmup "$warmup" --label "$engine raw" --json-out "$out" >"$log" 2>&1 &&
        zero_check "$out"; then
        note "  raw, $clients client(s): $(brief "$out")"
    else
        rm -f "$out"
        fail "$engine round $round: loadgen raw ($clients clients)" "$log"
    fi
    done_with "$engine"
}

# rss_kb PID: the resident memory of a process, in kB (VmRSS; empty if
# /proc does not tell).
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status" 2>/dev/null || true; }

# api ENGINE CLIENTS ROUND; with 16 clients, also the server's RSS idle
# after start and after the run ($res/ENGINE_rss_c16_rROUND.json).
run_api() {
    local engine=$1 clients=$2 round=$3
    local out="$res/${engine}_api_c${clients}_r${round}.json" log="$tmp/http.log"
    local idle="" after=""
    fresh "$engine" api
    if ! start_server "$serve_url" "$tmp/server.log"; then
        fail "$engine round $round: the server did not start (API, $clients clients)" "$tmp/server.log"
    else
        if [ "$clients" -eq 16 ]; then
            # Settled: the pool's connections open, the pollers started.
            sleep 0.5
            idle=$(rss_kb "$server_pid")
        fi
        if "$loadgen" http --url "http://127.0.0.1:$port" --setup --server-pid "$server_pid" \
            --concurrency "$clients" --duration "$duration" --warmup "$warmup" \
            --label "$engine API" --json-out "$out" >"$log" 2>&1 && zero_check "$out"; then
            note "  API, $clients client(s): $(brief "$out")"
            [ "$clients" -eq 16 ] && after=$(rss_kb "$server_pid")
        else
            rm -f "$out"
            fail "$engine round $round: loadgen http ($clients clients)" "$log"
        fi
    fi
    if [ -n "$idle" ] && [ -n "$after" ]; then
        echo "{\"mode\": \"rss\", \"idle_kb\": $idle, \"after_kb\": $after}" \
            >"$res/${engine}_rss_c16_r${round}.json"
        note "  server RSS: idle $((idle / 1024)) MB, after 16 clients $((after / 1024)) MB"
    elif [ "$clients" -eq 16 ] && [ -f "$out" ]; then
        note "  server RSS skipped: /proc/$server_pid/status has no VmRSS"
    fi
    stop_server
    done_with "$engine"
}

# shared ENGINE KIND ROUND: the API with 16 clients shared out, then how
# evenly the work went, from the database (leads per organization,
# proposals per agent: $res/ENGINE_KIND_spread_rROUND.json).
#   KIND orgs: $orgs organizations of one server, each its own key and
#     pool, 16/$orgs clients each;
#   KIND two: two servers on one database (PostgreSQL), one organization
#     (one key, one pool), 8 clients each.
run_shared() {
    local engine=$1 kind=$2 round=$3
    local out="$res/${engine}_${kind}_c16_r${round}.json" log="$tmp/$kind.log"
    local what instances=1 urls=() pids=() target setup=(--setup)
    if [ "$kind" = two ]; then
        what="two instances"
        instances=2
    else
        what="$orgs organizations"
        setup+=(--orgs "$orgs")
    fi
    fresh "$engine" "$kind"
    target=(--db "$dbfile")
    [ "$engine" = postgres ] && target=(--url "$url")
    for i in $(seq 1 "$instances"); do
        if ! start_server "$serve_url" "$tmp/server-$i.log"; then
            fail "$engine round $round: the server did not start ($what)" "$tmp/server-$i.log"
            urls=()
            break
        fi
        urls+=(--url "http://127.0.0.1:$port")
        pids+=(--server-pid "$server_pid")
    done
    if [ "${#urls[@]}" -gt 0 ]; then
        if "$loadgen" http "${urls[@]}" "${setup[@]}" "${pids[@]}" --concurrency 16 \
            --duration "$duration" --warmup "$warmup" --label "$engine API, $what" \
            --json-out "$out" >"$log" 2>&1 && zero_check "$out"; then
            note "  API, $what, 16 clients: $(brief "$out")"
        else
            rm -f "$out"
            fail "$engine round $round: loadgen http ($what)" "$log"
        fi
    fi
    stop_server
    if [ -f "$out" ]; then
        if "${limit[@]}" spread "${target[@]}" \
            --json-out "$res/${engine}_${kind}_spread_r${round}.json" >"$log" 2>&1; then
            note "  $what: $(tail -n 1 "$log")"
        else
            fail "$engine round $round: counting leads and proposals ($what)" "$log"
        fi
    fi
    done_with "$engine"
}

# growth ENGINE OPEN_LEADS ROUND: the API's ingest, 1 client, in an
# organization already holding OPEN_LEADS open leads.
run_growth() {
    local engine=$1 open=$2 round=$3 kind=growth0 setup
    [ "$open" -gt 0 ] && kind=growth50k
    local out="$res/${engine}_${kind}_c1_r${round}.json" log="$tmp/growth.log"
    fresh "$engine" growth
    if ! start_server "$serve_url" "$tmp/server.log"; then
        fail "$engine round $round: the server did not start (growth, $open open leads)" "$tmp/server.log"
    elif ! setup=$("${limit[@]}" api-setup --url "http://127.0.0.1:$port" 2>"$log"); then
        fail "$engine round $round: growth setup through the API" "$log"
    else
        local org key target=(--db "$dbfile")
        org=$(json_field "$setup" org_id)
        key=$(json_field "$setup" api_key)
        [ "$engine" = postgres ] && target=(--url "$url")
        if [ "$open" -gt 0 ] &&
            ! "${limit[@]}" open-leads "${target[@]}" --org "$org" --count "$open" >"$log" 2>&1; then
            fail "$engine round $round: inserting $open open leads" "$log"
        elif LOADGEN_API_KEY="$key" "$loadgen" http --url "http://127.0.0.1:$port" \
            --server-pid "$server_pid" --concurrency 1 --duration "$duration" \
            --warmup "$warmup" --label "$engine API, $open open leads" \
            --json-out "$out" >"$log" 2>&1 && zero_check "$out"; then
            note "  growth, $open open leads: $(brief "$out")"
        else
            rm -f "$out"
            fail "$engine round $round: loadgen http with $open open leads" "$log"
        fi
    fi
    stop_server
    done_with "$engine"
}

# batch ENGINE ROUND: `POST /leads/batch` of 1,000 leads, 2 clients.
run_batch() {
    local engine=$1 round=$2 setup key
    local out="$res/${engine}_batch_c2_r${round}.json" log="$tmp/batch.log"
    fresh "$engine" batch
    if ! start_server "$serve_url" "$tmp/server.log"; then
        fail "$engine round $round: the server did not start (batch)" "$tmp/server.log"
    elif ! setup=$("${limit[@]}" api-setup --url "http://127.0.0.1:$port" 2>"$log"); then
        fail "$engine round $round: batch setup through the API" "$log"
    else
        key=$(json_field "$setup" api_key)
        if LOADGEN_API_KEY="$key" "$loadgen" batch --url "http://127.0.0.1:$port" \
            --size 1000 --concurrency 2 --duration "$duration" --warmup "$warmup" \
            --label "$engine batch" --json-out "$out" >"$log" 2>&1 && zero_check "$out"; then
            note "  batch, 2 clients: $(brief "$out")"
        else
            rm -f "$out"
            fail "$engine round $round: loadgen batch" "$log"
        fi
    fi
    stop_server
    done_with "$engine"
}

# Statements per routed lead on PostgreSQL, from its log.
run_statements() {
    if ! [ -r "$pglog" ]; then
        note "  statement count skipped: cannot read $pglog (set PG_LOG)"
        return 0
    fi
    local log="$tmp/stmts.log" setup key idle_start idle_stop start stop t0 t1
    fresh postgres stmts
    if ! psql "$admin" -Xqc "ALTER DATABASE \"$dbname\" SET log_statement = 'all'" >"$log" 2>&1; then
        note "  statement count skipped: $(tail -n 1 "$log")"
    elif ! start_server "$serve_url" "$tmp/server.log"; then
        fail "postgres: the server did not start (statement count)" "$tmp/server.log"
    elif ! setup=$("${limit[@]}" api-setup --url "http://127.0.0.1:$port" 2>"$log"); then
        fail "postgres: statement count setup through the API" "$log"
    else
        key=$(json_field "$setup" api_key)
        # The background pollers (SLA scheduler, webhook sender) alone, for 1 s.
        sleep 0.3
        idle_start=$(stat -c %s "$pglog")
        sleep 1
        idle_stop=$(stat -c %s "$pglog")
        start=$idle_stop
        t0=$(date +%s.%N)
        if "${limit[@]}" route --url "http://127.0.0.1:$port" --api-key "$key" --count 100 \
            >"$log" 2>&1; then
            t1=$(date +%s.%N)
            sleep 0.2
            stop=$(stat -c %s "$pglog")
            if "${limit[@]}" pg-statements --log "$pglog" --db "$dbname" \
                --start "$start" --stop "$stop" --idle-start "$idle_start" \
                --idle-stop "$idle_stop" --idle-seconds 1 \
                --window-seconds "$(awk "BEGIN { print $t1 - $t0 + 0.2 }")" --leads 100 \
                --json-out "$res/postgres_stmts.json" >"$log" 2>&1; then
                note "  statements: $(cat "$res/postgres_stmts.json")"
            else
                fail "postgres: reading the statement log" "$log"
            fi
        else
            fail "postgres: routing 100 leads one by one" "$log"
        fi
    fi
    stop_server
    done_with postgres
}

brief() { "${limit[@]}" brief "$1"; }

# A loadgen report with no lead routed is a broken run.
zero_check() { "${limit[@]}" brief --check "$1" >/dev/null; }

json_field() { "${limit[@]}" field "$1" "$2"; }

# ---- which engines

engines=(sqlite)
if ! command -v psql >/dev/null || ! command -v pgbench >/dev/null; then
    echo "psql or pgbench is not installed" >"$res/postgres_skipped.txt"
    note "PostgreSQL skipped: psql or pgbench is not installed"
elif ! psql "$admin" -Xqtc 'SELECT 1' >/dev/null 2>&1; then
    echo "not reachable at ${admin%%\?*}" >"$res/postgres_skipped.txt"
    note "PostgreSQL skipped: not reachable at ${admin%%\?*}"
else
    engines+=(postgres)
fi

ready=()
for engine in "${engines[@]}"; do
    if migrate "$engine"; then ready+=("$engine"); fi
done

for round in $(seq 1 "$runs"); do
    for engine in "${ready[@]+"${ready[@]}"}"; do
        note "round $round/$runs, $engine"
        for clients in 1 16; do
            run_limit "$engine" "$clients" 1 "$round"
            run_raw "$engine" "$clients" "$round"
            run_api "$engine" "$clients" "$round"
        done
        run_limit "$engine" 16 10 "$round"
        run_growth "$engine" 0 "$round"
        run_growth "$engine" 50000 "$round"
        run_batch "$engine" "$round"
        run_shared "$engine" orgs "$round"
        if [ "$engine" = postgres ]; then
            run_shared "$engine" two "$round"
        fi
    done
done

for engine in "${ready[@]+"${ready[@]}"}"; do
    if [ "$engine" = postgres ]; then
        note "statement count, postgres"
        run_statements
    fi
done

echo "$header"
echo "- load after the runs:$(uptime | sed 's/.*load average/ load average/')"
echo
"${limit[@]}" table --dir "$res"

if [ "${#broken[@]}" -gt 0 ]; then
    echo
    echo "broken runs:"
    printf -- '- %s\n' "${broken[@]}"
    exit 1
fi
