#!/usr/bin/env python3
"""The limit of `just bench-limit`, and the helpers of its orchestration.

The limit is the minimal routing step on the real migrated schema: one
transaction that moves a round-robin pool's cursor (the row stays locked
until COMMIT), inserts the lead proposed to the agent it names, inserts the
pending proposal and counts the assignment on the agent. The PostgreSQL form
is tools/loadgen/limit.pgbench.sql (run by pgbench); the SQLite form is
STEP_SQL below. Keep the two alike.

    limit.py sqlite   --db FILE --clients N --duration 5s [--leads-per-tx K]
    limit.py postgres --url URL --clients N --duration 5s [--leads-per-tx K]
    limit.py seed-sql --engine sqlite|postgres     the rows the step needs
    limit.py open-leads (--db FILE | --url URL) --org ID --count 50000
    limit.py api-setup --url http://127.0.0.1:PORT  an org ready to route
    limit.py route --url ... --api-key KEY --count 100
    limit.py pg-statements --log FILE --from N --to M --db NAME ...
    limit.py spread (--db FILE | --url URL)         leads per org, proposals per agent
    limit.py table --dir RESULTS                    the markdown report
    limit.py duration-ms 5s

Python 3.11, standard library only. Every run prints one line of JSON.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
PGBENCH_SCRIPT = HERE / "limit.pgbench.sql"

# The rows the limit routes with (fixed ids: one organization per database).
ORG = "org_limitbench"
POOL = "pool_limitbench"
AGENTS = 5
# As the server (crates/storage/src/database.rs): WAL, synchronous NORMAL,
# foreign keys on, a 10 s busy timeout.
SQLITE_BUSY_TIMEOUT_MS = 10_000

# ---------------------------------------------------------------- helpers


def parse_duration(raw: str) -> float:
    """`5s`, `500ms`, `2m` or a bare number of seconds (as loadgen)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|min)?\s*", raw)
    if not m:
        raise argparse.ArgumentTypeError(f"`{raw}` is not a duration like 5s, 500ms or 2m")
    value = float(m.group(1))
    unit = m.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit in ("m", "min") else value


def now_iso() -> str:
    """A UTC timestamp as the server's SQLite rows hold them (RFC 3339)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def agent_id(i: int) -> str:
    return f"agt_limitbench_{i}"


def trace_json() -> str:
    """The decision trace of a round-robin proposal over the pool's 5 members."""
    entries = [
        {
            "agentId": agent_id(i),
            "eligible": True,
            "reason": "selected: next in rotation" if i == 0 else "eligible; not next in rotation",
        }
        for i in range(AGENTS)
    ]
    return json.dumps(entries, separators=(",", ":"))


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def emit(result: dict, json_out: str | None) -> None:
    line = json.dumps(result, sort_keys=True)
    print(line)
    if json_out:
        Path(json_out).write_text(line + "\n")


def psql(url: str, sql: str, *, tuples: bool = False) -> str:
    """Runs SQL with psql (stops at the first error); returns its output."""
    args = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    if tuples:
        args += ["-A", "-t"]
    done = subprocess.run(args, input=sql, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"psql failed: {done.stderr.strip()}")
    return done.stdout


# ---------------------------------------------------------------- seeding


def seed_sql(engine: str) -> str:
    """An organization, 5 available agents and a round-robin pool over them.

    Only NOT NULL columns without defaults (and a few real values) are
    named, so the seed survives new columns with defaults. Idempotent.
    """
    now = sql_str(now_iso())
    settings = sql_str(json.dumps({"defaultPoolId": POOL}))
    agents = ",\n  ".join(
        f"({sql_str(agent_id(i))}, {sql_str(ORG)}, 'Agent {i}', 'agent{i}@limit-bench.test',"
        f" '[]', '[]', 1, 'available', {now}, {now})"
        for i in range(AGENTS)
    )
    members = ",\n  ".join(
        f"({sql_str(ORG)}, {sql_str(POOL)}, {sql_str(agent_id(i))}, {i})" for i in range(AGENTS)
    )
    sql = f"""
INSERT INTO organizations (id, name, display_name, created_at, updated_at, settings)
VALUES ({sql_str(ORG)}, 'limit-bench', 'Limit benchmark', {now}, {now}, {settings})
ON CONFLICT DO NOTHING;
INSERT INTO agents (id, org_id, name, email, skills, regions, weight, status, created_at, updated_at)
VALUES
  {agents}
ON CONFLICT DO NOTHING;
INSERT INTO routing_pools (id, org_id, name, method, created_at, updated_at)
VALUES ({sql_str(POOL)}, {sql_str(ORG)}, 'limit', 'round_robin', {now}, {now})
ON CONFLICT DO NOTHING;
INSERT INTO pool_members (org_id, pool_id, agent_id, position)
VALUES
  {members}
ON CONFLICT DO NOTHING;
"""
    if engine == "postgres":
        # Unique, increasing id suffixes for pgbench's clients.
        sql += "CREATE SEQUENCE IF NOT EXISTS limit_bench_seq;\n"
    return sql


# ---------------------------------------------------------------- the SQLite limit

# The step, as limit.pgbench.sql does it (qmark parameters).
STEP_SQL = {
    "cursor": """
UPDATE routing_pools
   SET last_agent_id = COALESCE(
       -- the member after the cursor,
       (SELECT m.agent_id FROM pool_members AS m
         WHERE m.org_id = routing_pools.org_id AND m.pool_id = routing_pools.id
           AND m.position > (
               SELECT c.position FROM pool_members AS c
                WHERE c.org_id = routing_pools.org_id AND c.pool_id = routing_pools.id
                  AND c.agent_id = routing_pools.last_agent_id)
         ORDER BY m.position LIMIT 1),
       -- else the first one (no cursor yet, or the last member served).
       (SELECT m.agent_id FROM pool_members AS m
         WHERE m.org_id = routing_pools.org_id AND m.pool_id = routing_pools.id
         ORDER BY m.position LIMIT 1))
 WHERE org_id = ? AND id = ?
RETURNING last_agent_id""",
    "lead": """
INSERT INTO leads (id, org_id, external_id, name, email, company, source, region,
                   country, score, fields, status, agent_id, email_domain,
                   created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, 'web', 'EMEA', 'FR', ?, ?, 'proposed', ?, ?, ?, ?)""",
    "proposal": """
INSERT INTO proposals (id, org_id, lead_id, agent_id, status, method, pool_id,
                       trace, created_at)
VALUES (?, ?, ?, ?, 'pending', 'round_robin', ?, ?, ?)""",
    "agent": """
UPDATE agents
   SET daily_count = CASE WHEN daily_count_day = ? THEN daily_count + 1 ELSE 1 END,
       daily_count_day = ?,
       last_assigned_at = ?
 WHERE org_id = ? AND id = ?""",
}

_SEQUENCE = itertools.count(1)  # next() is atomic under the GIL


def sqlite_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    for pragma in (
        "journal_mode = WAL",
        "synchronous = NORMAL",
        f"busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
        "foreign_keys = ON",
    ):
        conn.execute(f"PRAGMA {pragma}").fetchall()
    return conn


def sqlite_step(conn: sqlite3.Connection, client: int, leads: int, trace: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for _ in range(leads):
            row = conn.execute(STEP_SQL["cursor"], (ORG, POOL)).fetchone()
            if row is None or row[0] is None:
                raise RuntimeError("the pool has no member to route to")
            agent = row[0]
            n = next(_SEQUENCE)
            suffix = f"{time.time_ns() // 1_000_000:012x}{n:020x}"
            co = n % 97
            now = now_iso()
            day = now[:10]
            lead = f"lead_{suffix}"
            conn.execute(
                STEP_SQL["lead"],
                (
                    lead,
                    ORG,
                    f"limit-{suffix}",
                    f"Prospect {client}-{suffix}",
                    f"p{suffix}@company{co}.test",
                    f"Company {co}",
                    n % 101,
                    json.dumps({"plan": "pro", "seats": 1 + n % 250}),
                    agent,
                    f"company{co}.test",
                    now,
                    now,
                ),
            )
            conn.execute(
                STEP_SQL["proposal"], (f"prop_{suffix}", ORG, lead, agent, POOL, trace, now)
            )
            conn.execute(STEP_SQL["agent"], (day, day, now, ORG, agent))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def run_sqlite(args: argparse.Namespace) -> dict:
    db = args.db
    if not Path(db).exists():
        raise SystemExit(f"{db}: no such database (migrate it first)")
    seed = sqlite_connect(db)
    seed.executescript(seed_sql("sqlite"))
    seed.close()
    trace = trace_json()
    ready = threading.Barrier(args.clients + 1)
    window = {}
    results = [None] * args.clients

    def worker(i: int) -> None:
        latencies: list[float] = []
        errors: dict[str, int] = {}
        try:
            conn = sqlite_connect(db)
        except sqlite3.Error as e:
            errors[f"connect: {e}"] = 1
            ready.wait()
            results[i] = (latencies, errors)
            return
        ready.wait()
        start, end = window["start"], window["end"]
        while True:
            began = time.perf_counter()
            if began >= end:
                break
            try:
                sqlite_step(conn, i, args.leads_per_tx, trace)
                ok = True
            except (sqlite3.Error, RuntimeError) as e:
                ok = False
                cause = str(e)[:60]
            if began >= start:
                if ok:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors[cause] = errors.get(cause, 0) + 1
        conn.close()
        results[i] = (latencies, errors)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    window["start"] = time.perf_counter() + args.warmup
    window["end"] = window["start"] + args.duration
    ready.wait()
    for t in threads:
        t.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    errors: dict[str, int] = {}
    for _, errs in results:
        for cause, n in errs.items():
            errors[cause] = errors.get(cause, 0) + n
    return report("sqlite", args, len(latencies), [x * 1000 for x in latencies], errors)


def report(engine: str, args, transactions: int, latencies_ms: list[float], errors: dict) -> dict:
    steps = transactions * args.leads_per_tx
    return {
        "mode": "limit",
        "engine": engine,
        "clients": args.clients,
        "leads_per_tx": args.leads_per_tx,
        "duration_s": round(args.duration, 3),
        "transactions": transactions,
        "steps": steps,
        "steps_per_s": round(steps / args.duration, 1) if args.duration > 0 else 0.0,
        "p50_ms": round(percentile(latencies_ms, 0.50), 3),
        "p99_ms": round(percentile(latencies_ms, 0.99), 3),
        "mean_ms": round(statistics.fmean(latencies_ms), 3) if latencies_ms else 0.0,
        "errors": errors,
        "error_total": sum(errors.values()),
    }


# ---------------------------------------------------------------- the PostgreSQL limit


def pgbench_script(leads: int) -> str:
    """limit.pgbench.sql without its comments, its step repeated `leads` times."""
    lines = PGBENCH_SCRIPT.read_text().splitlines()
    try:
        begin = lines.index("-- step:begin")
        end = lines.index("-- step:end")
    except ValueError:
        raise SystemExit(f"{PGBENCH_SCRIPT}: the `-- step:begin`/`-- step:end` markers are missing")
    keep = lambda part: [l for l in part if not l.lstrip().startswith("--")]  # noqa: E731
    body = keep(lines[begin + 1 : end])
    return "\n".join(keep(lines[:begin]) + body * leads + keep(lines[end + 1 :])) + "\n"


def run_postgres(args: argparse.Namespace) -> dict:
    psql(args.url, seed_sql("postgres"))
    work = Path(tempfile.mkdtemp(prefix="limit-pgbench-"))
    try:
        script = work / f"limit{args.leads_per_tx}.sql"
        script.write_text(pgbench_script(args.leads_per_tx))
        seconds = max(1, math.ceil(args.warmup + args.duration))
        cmd = [
            "pgbench", "-n", "-M", "prepared",
            "-c", str(args.clients), "-j", str(args.clients), "-T", str(seconds),
            "-f", str(script),
            "-D", f"org={ORG}", "-D", f"pool={POOL}", "-D", f"trace={trace_json()}",
            "--log", f"--log-prefix={work / 'tx'}",
            args.url,
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
        errors: dict[str, int] = {}
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            print(f"pgbench failed ({done.returncode}): {done.stderr.strip()}", file=sys.stderr)
            errors[f"pgbench exit {done.returncode}: {tail[:60]}"] = 1
        m = re.search(r"number of failed transactions: (\d+)", done.stdout)
        if m and int(m.group(1)):
            errors["failed transactions"] = int(m.group(1))
        # Per transaction: client, number, latency (µs), script, end (s, µs).
        spans = []
        for log in work.glob("tx.*"):
            for line in log.read_text().splitlines():
                f = line.split()
                if len(f) < 6 or not f[2].isdigit():
                    if len(f) >= 3:
                        errors[f"transaction {f[2]}"] = errors.get(f"transaction {f[2]}", 0) + 1
                    continue
                latency = int(f[2]) / 1e6
                ended = int(f[4]) + int(f[5]) / 1e6
                spans.append((ended - latency, latency))
        if not spans:
            if done.returncode == 0:
                print(done.stdout, file=sys.stderr)
            raise SystemExit(f"pgbench recorded no transaction: {done.stderr.strip()[-300:]}")
        # The measured window: after the warm-up, `duration` long, counting
        # transactions that began in it (as loadgen does).
        start = min(s for s, _ in spans) + args.warmup
        end = start + args.duration
        window = sorted(lat * 1000 for began, lat in spans if start <= began < end)
        result = report("postgres", args, len(window), window, errors)
        tps = re.search(r"tps = ([0-9.]+)", done.stdout)
        result["pgbench_tps"] = float(tps.group(1)) if tps else None
        return result
    finally:
        for f in work.iterdir():
            f.unlink()
        work.rmdir()


# ---------------------------------------------------------------- open leads (growth case)


def open_leads(args: argparse.Namespace) -> dict:
    """`count` leads `proposed` to the pool members of `org`, each with its
    pending proposal: open leads, as the routing counts them."""
    org = sql_str(args.org)
    members = (
        f"SELECT agent_id FROM pool_members WHERE org_id = {org} ORDER BY pool_id, position"
    )
    pool = f"(SELECT id FROM routing_pools WHERE org_id = {org} ORDER BY created_at, id LIMIT 1)"
    if args.db:
        conn = sqlite_connect(args.db)
        agents = [r[0] for r in conn.execute(members)]
    else:
        agents = psql(args.url, members + ";", tuples=True).split()
    if not agents:
        raise SystemExit(f"organization {args.org} has no pool member")
    pick = lambda n: "CASE {} END".format(  # noqa: E731
        " ".join(f"WHEN {n} % {len(agents)} = {i} THEN {sql_str(a)}" for i, a in enumerate(agents))
    )
    columns = (
        "id, org_id, external_id, name, email, company, source, region, country, score,"
        " fields, status, agent_id, email_domain, created_at, updated_at"
    )
    proposals = f"""
INSERT INTO proposals (id, org_id, lead_id, agent_id, status, method, pool_id, trace, created_at)
SELECT 'prop' || substr(l.id, 5), l.org_id, l.id, l.agent_id, 'pending', 'round_robin',
       {pool}, {{trace}}, l.created_at
  FROM leads AS l WHERE l.org_id = {org} AND l.id LIKE 'lead_bulk%';
"""
    began = time.perf_counter()
    if args.db:
        at = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-' || n || ' seconds')"
        sql = f"""
INSERT INTO leads ({columns})
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {args.count})
SELECT 'lead_bulk' || printf('%027d', n), {org}, 'bulk-' || n, 'Open lead ' || n,
       'o' || n || '@bulk' || (n % 997) || '.test', 'Bulk ' || (n % 997), 'import', 'EMEA',
       'FR', n % 101, '{{"plan":"pro"}}', 'proposed', {pick('n')},
       'bulk' || (n % 997) || '.test', {at}, {at}
  FROM g;
""" + proposals.format(trace="'[]'")
        conn.executescript("BEGIN IMMEDIATE;" + sql + "COMMIT;")
        conn.close()
    else:
        sql = f"""
BEGIN;
INSERT INTO leads ({columns})
SELECT 'lead_bulk' || lpad(g::text, 27, '0'), {org}, 'bulk-' || g, 'Open lead ' || g,
       'o' || g || '@bulk' || (g % 997) || '.test', 'Bulk ' || (g % 997), 'import', 'EMEA',
       'FR', g % 101, '{{"plan":"pro"}}'::jsonb, 'proposed', {pick('g')},
       'bulk' || (g % 997) || '.test', now() - make_interval(secs => g),
       now() - make_interval(secs => g)
  FROM generate_series(1, {args.count}) AS g;
{proposals.format(trace="'[]'::jsonb")}
COMMIT;
ANALYZE leads;
ANALYZE proposals;
"""
        psql(args.url, sql)
    return {"mode": "open-leads", "org": args.org, "leads": args.count, "agents": len(agents),
            "seconds": round(time.perf_counter() - began, 2)}  # fmt: skip


# ---------------------------------------------------------------- the API


def call(base: str, method: str, path: str, body=None, api_key=None, token=None) -> dict:
    req = urllib.request.Request(base + path, method=method)
    req.add_header("content-type", "application/json")
    if api_key:
        req.add_header("x-api-key", api_key)
    if token:
        req.add_header("authorization", f"Bearer {token}")
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(req, data=data, timeout=30) as res:
            return json.loads(res.read() or b"{}")
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code}: {e.read()[:300]!r}")


def api_setup(args: argparse.Namespace) -> dict:
    """What `loadgen http --setup` does (tools/loadgen/src/http.rs), keeping
    the ids: an organization, its admin, agents, a round-robin pool that is
    its `defaultPoolId`, and an admin API key."""
    base = args.url.rstrip("/")
    tag = f"{time.time_ns() % 10**12:x}"
    name = f"limit-{tag}"
    org = call(base, "POST", "/organizations",
               {"name": name, "displayName": f"Limit {tag}"}, api_key=args.dev_key)  # fmt: skip
    org_id = org["data"]["id"]
    email, password = f"admin@{name}.test", f"limit-{tag}-password"
    call(base, "POST", "/auth/register", {"username": "admin", "email": email,
         "password": password, "role": "admin", "orgId": org_id})  # fmt: skip
    login = call(base, "POST", "/auth/login",
                 {"email": email, "password": password, "orgId": org_id})  # fmt: skip
    token = login["tokens"]["accessToken"]
    members = [
        call(base, "POST", "/agents",
             {"name": f"Agent {i}", "email": f"agent{i}@{name}.test"}, token=token)["data"]["id"]
        for i in range(args.agents)
    ]  # fmt: skip
    pool = call(base, "POST", "/routing/pools",
                {"name": "main", "method": "round_robin", "memberIds": members}, token=token)  # fmt: skip
    pool_id = pool["data"]["id"]
    call(base, "PUT", f"/organizations/{org_id}", {"settings": {"defaultPoolId": pool_id}},
         token=token)  # fmt: skip
    key = call(base, "POST", "/api-keys", {"name": "limit", "role": "admin"}, token=token)
    return {"org_id": org_id, "pool_id": pool_id, "agent_ids": members,
            "api_key": key["data"]["key"]}  # fmt: skip


def route(args: argparse.Namespace) -> dict:
    """POST /leads `count` times, one after the other, on one connection."""
    url = urllib.parse.urlsplit(args.url)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
    tag = f"{time.time_ns() % 10**12:x}"
    created, latencies, statuses = 0, [], {}
    for n in range(args.count):
        body = json.dumps({
            "externalId": f"route-{tag}-{n}", "name": f"Prospect {n}",
            "email": f"p{n}@company{n % 97}.test", "company": f"Company {n % 97}",
            "source": "web", "region": "EMEA", "country": "FR", "score": n % 101,
            "fields": {"plan": "pro", "seats": 1 + n % 250},
        })  # fmt: skip
        began = time.perf_counter()
        conn.request("POST", "/leads", body,
                     {"content-type": "application/json", "x-api-key": args.api_key})  # fmt: skip
        res = conn.getresponse()
        res.read()
        latencies.append((time.perf_counter() - began) * 1000)
        statuses[res.status] = statuses.get(res.status, 0) + 1
        created += res.status == 201
    conn.close()
    latencies.sort()
    return {"mode": "route", "created": created, "statuses": statuses,
            "p50_ms": round(percentile(latencies, 0.5), 3)}  # fmt: skip


# ---------------------------------------------------------------- how evenly it went

SPREAD_SQL = {
    "leads": "SELECT org_id, COUNT(*) FROM leads GROUP BY org_id",
    # Every agent of an organization that got leads, those given none too.
    "agents": """
SELECT a.org_id, a.id, COUNT(p.id) FROM agents AS a
  LEFT JOIN proposals AS p ON p.org_id = a.org_id AND p.agent_id = a.id
 WHERE a.org_id IN (SELECT org_id FROM leads)
 GROUP BY a.org_id, a.id""",
}


def spread(args: argparse.Namespace) -> dict:
    """How evenly a run's work went, from its database: the leads of each
    organization, and in each the proposals of each agent (a round robin
    keeps them at most 1 apart, however many servers route)."""
    if args.db:
        conn = sqlite_connect(args.db)
        rows = {k: [tuple(r) for r in conn.execute(q)] for k, q in SPREAD_SQL.items()}
        conn.close()
    else:
        rows = {
            k: [tuple(line.split("|")) for line in psql(args.url, q + ";", tuples=True).split()]
            for k, q in SPREAD_SQL.items()
        }
    leads = sorted(int(n) for _, n in rows["leads"])
    per_org: dict[str, list[int]] = {}
    for org, _, n in rows["agents"]:
        per_org.setdefault(org, []).append(int(n))
    proposals = [n for counts in per_org.values() for n in counts]
    if not leads or not proposals:
        raise SystemExit("no lead or no agent of an organization with leads")
    return {
        "mode": "spread",
        "orgs": len(leads),
        "leads_per_org": leads,
        "agents": len(proposals),
        "proposals_per_agent_min": min(proposals),
        "proposals_per_agent_max": max(proposals),
        # Within one organization: agents of different ones owe nothing to each other.
        "proposals_per_agent_spread": max(max(c) - min(c) for c in per_org.values()),
    }


# ---------------------------------------------------------------- statement count

LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (\S*)@(\S*) "
    r"LOG:  (statement|execute [^:]*): (.*)$"
)
LOG_LINE_ANY = re.compile(r"^.*?\[(\d+)\].*? LOG:  (statement|execute [^:]*): (.*)$")


def log_statements(path: str, start: int, stop: int, db: str) -> list[tuple[str, str]]:
    """(backend pid, statement) of `db` logged between two byte offsets."""
    with open(path, "rb") as f:
        f.seek(start)
        text = f.read(max(0, stop - start)).decode("utf-8", "replace")
    ours, unnamed = [], []
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if m:
            if m.group(3) == db:
                ours.append((m.group(1), m.group(5).strip()))
        elif m := LOG_LINE_ANY.match(line):
            unnamed.append((m.group(1), m.group(3).strip()))
    # A log_line_prefix without %d: log_statement is set on this database
    # only, so the statements of the window are its own.
    return ours or unnamed


def pg_statements(args: argparse.Namespace) -> dict:
    """Statements per routed lead, from PostgreSQL's log (log_statement=all
    on the database): the whole window, the background pollers' idle rate
    taken out, and those run while the pool's row is locked (from the
    `FOR UPDATE` on routing_pools to COMMIT on that backend)."""
    stmts = log_statements(args.log, args.start, args.stop, args.db)
    idle = log_statements(args.log, args.idle_start, args.idle_stop, args.db)
    idle_rate = len(idle) / args.idle_seconds if args.idle_seconds > 0 else 0.0
    background = idle_rate * args.window_seconds
    locked_counts, open_by_pid = [], {}
    kinds: dict[str, int] = {}
    for pid, sql in stmts:
        word = sql.split(None, 1)[0].upper() if sql else "?"
        kinds[word] = kinds.get(word, 0) + 1
        upper = sql.upper()
        if pid in open_by_pid:
            open_by_pid[pid] += 1
            if word in ("COMMIT", "ROLLBACK", "END"):
                locked_counts.append(open_by_pid.pop(pid))
        elif "ROUTING_POOLS" in upper and "FOR UPDATE" in upper and "SKIP LOCKED" not in upper:
            open_by_pid[pid] = 1
    leads = max(args.leads, 1)
    return {
        "mode": "statements",
        "leads": args.leads,
        "statements": len(stmts),
        "per_lead": round(len(stmts) / leads, 2),
        "idle_statements_per_s": round(idle_rate, 2),
        "per_lead_without_pollers": round(max(0.0, len(stmts) - background) / leads, 2),
        "begin_per_lead": round(kinds.get("BEGIN", 0) / leads, 2),
        "commit_per_lead": round(kinds.get("COMMIT", 0) / leads, 2),
        "by_first_word": kinds,
        "pool_locked_transactions": len(locked_counts),
        "pool_locked_per_lead": (
            round(statistics.fmean(locked_counts), 2) if locked_counts else None
        ),
    }


# ---------------------------------------------------------------- the table

ENGINES = (("sqlite", "SQLite"), ("postgres", "PostgreSQL"))
# The statements of one limit step: BEGIN, cursor, lead, proposal, agent, COMMIT.
LIMIT_STATEMENTS = 6


def load(path: Path) -> dict | None:
    try:
        for line in reversed(path.read_text().splitlines()):
            if line.lstrip().startswith("{"):
                return json.loads(line)
    except (OSError, ValueError):
        return None
    return None


def runs_of(d: Path, engine: str, kind: str, clients: int) -> list[dict]:
    out = []
    for p in sorted(d.glob(f"{engine}_{kind}_c{clients}_r*.json")):
        r = load(p)
        if r is not None:
            out.append(r)
    return out


def summary(runs: list[dict], kind: str) -> dict | None:
    """Medians over the rounds: rate, p50, p99 (limit: steps; loadgen: ingest)."""
    if not runs:
        return None
    if kind.startswith("limit"):
        rate = [r["steps_per_s"] for r in runs]
        p50 = [r["p50_ms"] for r in runs]
        p99 = [r["p99_ms"] for r in runs]
    else:
        rate = [r["leads_per_s"] for r in runs]
        p50 = [r["ingest"]["p50_ms"] for r in runs]
        p99 = [r["ingest"]["p99_ms"] for r in runs]
    return {
        "rate": statistics.median(rate),
        "p50": statistics.median(p50),
        "p99": statistics.median(p99),
        "errors": sum(r.get("error_total", 0) for r in runs),
        "runs": len(runs),
    }


def cell(s: dict | None, unit: str = "/s") -> str:
    if s is None:
        return "—"
    text = f"{s['rate']:,.0f}{unit} (p50 {s['p50']:.2f} / p99 {s['p99']:.2f} ms)"
    if s["errors"]:
        text += f", {s['errors']} errors"
    return text


def ratio(a: dict | None, b: dict | None) -> str:
    if not a or not b or not b["rate"]:
        return "—"
    return f"{100 * a['rate'] / b['rate']:.0f}%"


def table(args: argparse.Namespace) -> None:
    d = Path(args.dir)
    rows = [
        "| | limit (steps/s) | loadgen raw | API (POST /leads) | API / limit | raw / limit |",
        "|---|---|---|---|---|---|",
    ]
    notes = []
    for engine, name in ENGINES:
        skipped = d / f"{engine}_skipped.txt"
        if skipped.exists():
            rows.append(f"| {name} | skipped: {skipped.read_text().strip()} | | | | |")
            continue
        api16 = None
        for clients in (1, 16):
            limit = summary(runs_of(d, engine, "limit", clients), "limit")
            raw = summary(runs_of(d, engine, "raw", clients), "raw")
            api = summary(runs_of(d, engine, "api", clients), "api")
            if clients == 16:
                api16 = api
            label = f"{name} {clients} client{'s' if clients > 1 else ''}"
            rows.append(
                f"| {label} | {cell(limit)} | {cell(raw)} | {cell(api)}"
                f" | {ratio(api, limit)} | {ratio(raw, limit)} |"
            )
        batched = summary(runs_of(d, engine, "limit10", 16), "limit")
        if batched:
            rows.append(
                f"| {name} 16 clients, 10 leads per transaction (leads/s; latency per"
                f" transaction) | {cell(batched, ' leads/s')} | | |"
                f" {ratio(api16, batched)} (API 16 clients) | |"
            )
        empty = summary(runs_of(d, engine, "growth0", 1), "api")
        full = summary(runs_of(d, engine, "growth50k", 1), "api")
        if empty and full:
            times = f"×{full['p50'] / empty['p50']:.2f}" if empty["p50"] else "—"
            rows.append(
                f"| {name} growth (API, 1 client, ingest p50) | empty org {empty['p50']:.2f} ms"
                f" | 50,000 open leads {full['p50']:.2f} ms | {times} | | |"
            )
        queue = [
            [r["list"]["p50_ms"] for r in runs_of(d, engine, kind, 1) if r.get("list", {}).get("count")]
            for kind in ("growth0", "growth50k")
        ]  # fmt: skip
        if all(queue):
            q0, q50k = (statistics.median(q) for q in queue)
            times = f"×{q50k / q0:.2f}" if q0 else "—"
            rows.append(
                f"| {name} review queue (GET /manager/proposals?limit=50 p50, in the growth runs)"
                f" | empty org {q0:.2f} ms | 50,000 pending proposals {q50k:.2f} ms | {times} | | |"
            )
        batch = summary(runs_of(d, engine, "batch", 2), "api")
        if batch:
            rows.append(
                f"| {name} POST /leads/batch, 1,000 leads per request, 2 clients (latency per"
                f" request) | {cell(batched, ' leads/s') if batched else '—'} (the limit, 10 per"
                f" transaction) | | {cell(batch, ' leads/s')} | {ratio(batch, batched)} | |"
            )
        rss = runs_of(d, engine, "rss", 16)
        if rss:
            mb = lambda key: statistics.median(r[key] for r in rss) / 1024  # noqa: E731
            rows.append(
                f"| {name} server memory (RSS) | idle after start {mb('idle_kb'):.0f} MB"
                f" | after 16 clients (API) {mb('after_kb'):.0f} MB | | | |"
            )
        for kind in ("orgs", "two"):
            shared = summary(runs_of(d, engine, kind, 16), "api")
            if not shared:
                continue
            spreads = [load(p) for p in sorted(d.glob(f"{engine}_{kind}_spread_r*.json"))]
            spreads = [s for s in spreads if s]
            times = f"×{shared['rate'] / api16['rate']:.2f}" if api16 and api16["rate"] else "—"
            # The most uneven round.
            worst = max(spreads, key=lambda s: s["proposals_per_agent_spread"], default=None)
            if kind == "orgs":
                n = max((s["orgs"] for s in spreads), default=0)
                label = (
                    f"{name} {n} organizations, {16 // n} clients each (own key, own pool)"
                    if n
                    else f"{name} several organizations, 16 clients"
                )
                against = "one organization"
                even = (
                    f"leads per organization {min(min(s['leads_per_org']) for s in spreads):,}"
                    f"–{max(max(s['leads_per_org']) for s in spreads):,}; proposals per agent"
                    f" at most {worst['proposals_per_agent_spread']} apart in each"
                    if worst
                    else "—"
                )
            else:
                label = f"{name} two instances, 8 clients each (one key, one pool)"
                against = "one instance"
                even = (
                    f"proposals per agent {worst['proposals_per_agent_min']:,}"
                    f"–{worst['proposals_per_agent_max']:,}"
                    f" (spread {worst['proposals_per_agent_spread']})"
                    if worst
                    else "—"
                )
            rows.append(
                f"| {label} | {cell(shared)} | {against}, 16 clients: {cell(api16)}"
                f" | {times} | {even} | |"
            )
        stmts = load(d / f"{engine}_stmts.json")
        if stmts:
            locked = stmts.get("pool_locked_per_lead")
            locked = "—" if locked is None else f"{locked:g}"
            n = max(stmts["leads"], 1)
            words = ", ".join(
                f"{w} {c / n:.2g}"
                for w, c in sorted(stmts["by_first_word"].items(), key=lambda kv: -kv[1])
            )
            rows.append(
                f"| {name} statements per routed lead (API, 100 leads one by one)"
                f" | limit {LIMIT_STATEMENTS}"
                f" | API {stmts['per_lead']:g} ({stmts['per_lead_without_pollers']:g} without"
                f" the idle pollers' {stmts['idle_statements_per_s']:g}/s)"
                f" | pool locked: {locked} (FOR UPDATE … COMMIT)"
                f" | per lead: {words} | |"
            )
    print("\n".join(rows))
    notes.append(
        "Medians over the rounds; p50/p99 in ms. limit: tools/loadgen/limit.py (SQLite, in"
        " CPython threads) and limit.pgbench.sql (PostgreSQL, pgbench -M prepared);"
        " raw and API: loadgen, leads/s with every tenth request a proposal listing."
    )
    notes.append(
        "Memory: the server's VmRSS, 0.5 s after it started and after the 16-client API"
        " run. Organizations and instances: one `loadgen http` whose 16 clients share out"
        " the organizations (each with its own key and pool) or the servers (on one"
        " database, one key, one pool); ×: against the one-organization, one-server"
        " 16-client API run of the same rounds; leads and proposals counted in the"
        " database afterwards (the most uneven round)."
    )
    print()
    print("\n\n".join(notes))


# ---------------------------------------------------------------- command line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)

    def limit_args(p):
        p.add_argument("--clients", type=int, default=16)
        p.add_argument("--duration", type=parse_duration, default=5.0)
        p.add_argument("--warmup", type=parse_duration, default=1.0)
        p.add_argument("--leads-per-tx", type=int, default=1)
        p.add_argument("--json-out")

    p = sub.add_parser("sqlite", help="the limit on a migrated SQLite file")
    p.add_argument("--db", required=True)
    limit_args(p)
    p = sub.add_parser("postgres", help="the limit on a migrated PostgreSQL database (pgbench)")
    p.add_argument("--url", required=True)
    limit_args(p)
    p = sub.add_parser("seed-sql", help="print the rows the limit needs")
    p.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    p = sub.add_parser("pgbench-script", help="print the pgbench script for K leads")
    p.add_argument("--leads-per-tx", type=int, default=1)
    p = sub.add_parser("open-leads", help="bulk-insert open leads into an organization")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--db")
    g.add_argument("--url")
    p.add_argument("--org", required=True)
    p.add_argument("--count", type=int, default=50_000)
    p.add_argument("--json-out")
    p = sub.add_parser("api-setup", help="an organization ready to route, via the API")
    p.add_argument("--url", required=True)
    p.add_argument("--dev-key", default=os.environ.get("LOADGEN_DEV_KEY", "dev_key_123"))
    p.add_argument("--agents", type=int, default=5)
    p = sub.add_parser("route", help="POST /leads COUNT times, one by one")
    p.add_argument("--url", required=True)
    p.add_argument("--api-key", required=True)
    p.add_argument("--count", type=int, default=100)
    p = sub.add_parser("pg-statements", help="count a database's statements in a log window")
    p.add_argument("--log", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--start", type=int, required=True)
    p.add_argument("--stop", type=int, required=True)
    p.add_argument("--idle-start", type=int, default=0)
    p.add_argument("--idle-stop", type=int, default=0)
    p.add_argument("--idle-seconds", type=float, default=0.0)
    p.add_argument("--window-seconds", type=float, default=0.0)
    p.add_argument("--leads", type=int, default=100)
    p.add_argument("--json-out")
    p = sub.add_parser("spread", help="leads per organization, proposals per agent")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--db")
    g.add_argument("--url")
    p.add_argument("--json-out")
    p = sub.add_parser("table", help="the markdown table of a results folder")
    p.add_argument("--dir", required=True)
    p = sub.add_parser("brief", help="one line about a result file (--check: fail on no lead)")
    p.add_argument("file")
    p.add_argument("--check", action="store_true")
    p = sub.add_parser("field", help="a field of a JSON object")
    p.add_argument("json")
    p.add_argument("key")
    p = sub.add_parser("duration-ms", help="a duration in milliseconds")
    p.add_argument("duration", type=parse_duration)
    args = ap.parse_args()

    if args.command in ("sqlite", "postgres"):
        if args.clients < 1 or args.leads_per_tx < 1:
            ap.error("--clients and --leads-per-tx must be at least 1")
        result = run_sqlite(args) if args.command == "sqlite" else run_postgres(args)
        emit(result, args.json_out)
        if result["steps"] == 0:
            print(f"error: no step completed: {result['errors']}", file=sys.stderr)
            sys.exit(1)
    elif args.command == "seed-sql":
        print(seed_sql(args.engine))
    elif args.command == "pgbench-script":
        print(pgbench_script(args.leads_per_tx), end="")
    elif args.command == "open-leads":
        emit(open_leads(args), args.json_out)
    elif args.command == "api-setup":
        emit(api_setup(args), None)
    elif args.command == "route":
        result = route(args)
        emit(result, None)
        if result["created"] != args.count:
            sys.exit(1)
    elif args.command == "pg-statements":
        result = pg_statements(args)
        emit(result, args.json_out)
        if not result["statements"]:
            print(f"error: no statement of {args.db} in {args.log}", file=sys.stderr)
            sys.exit(1)
    elif args.command == "spread":
        emit(spread(args), args.json_out)
    elif args.command == "table":
        table(args)
    elif args.command == "brief":
        r = load(Path(args.file))
        if r is None:
            raise SystemExit(f"{args.file}: no JSON result in it")
        if r.get("mode") == "limit":
            rate, lat, done = r["steps_per_s"], r, r["steps"]
        else:
            rate, lat, done = r["leads_per_s"], r["ingest"], r["leads"]
        print(f"{rate:,.0f} leads/s, p50 {lat['p50_ms']:.2f} ms, p99 {lat['p99_ms']:.2f} ms,"
              f" errors {r.get('error_total', 0)}")  # fmt: skip
        if args.check and not done:
            sys.exit(1)
    elif args.command == "field":
        print(json.loads(args.json)[args.key])
    elif args.command == "duration-ms":
        print(round(args.duration * 1000))


if __name__ == "__main__":
    main()
