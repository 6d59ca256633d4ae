-- The limit step of `just bench-limit` on PostgreSQL (pgbench -M prepared).
-- tools/loadgen/limit.py runs it with -D org=... -D pool=... -D trace=...
-- (the rows it seeded) and repeats the lines between `step:begin` and
-- `step:end` for several leads per transaction. The SQLite twin of these
-- statements is STEP_SQL in limit.py: keep the two alike.
--
-- One lead routed round robin, in one transaction:
-- 1. the pool's cursor moves to the member after it (wrapping around) and
--    the row stays locked until COMMIT (the routing's one ordering point);
-- 2. the lead, proposed to that agent; 3. its pending proposal;
-- 4. the agent's daily count and last assignment.
-- Only the columns a lead needs are named: new columns with defaults and
-- triggers (open-lead counters...) take care of themselves.
BEGIN;
-- step:begin
\set seats random(1, 250)
\set score random(0, 100)
\set co random(0, 96)
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
 WHERE org_id = :org AND id = :pool
RETURNING last_agent_id AS agent,
          lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
            || lpad(to_hex(nextval('limit_bench_seq')), 20, '0') AS suffix,
          to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day \gset
INSERT INTO leads (id, org_id, external_id, name, email, company, source, region,
                   country, score, fields, status, agent_id, email_domain,
                   created_at, updated_at)
VALUES ('lead_' || :suffix, :org, 'limit-' || :suffix,
        'Prospect ' || :client_id || '-' || :suffix,
        'p' || :suffix || '@company' || :co || '.test',
        'Company ' || :co, 'web', 'EMEA', 'FR', :score,
        jsonb_build_object('plan', 'pro', 'seats', :seats::int),
        'proposed', :agent, 'company' || :co || '.test', now(), now());
INSERT INTO proposals (id, org_id, lead_id, agent_id, status, method, pool_id,
                       trace, created_at)
VALUES ('prop_' || :suffix, :org, 'lead_' || :suffix, :agent, 'pending',
        'round_robin', :pool, :trace::jsonb, now());
UPDATE agents
   SET daily_count = CASE WHEN daily_count_day = :day THEN daily_count + 1 ELSE 1 END,
       daily_count_day = :day,
       last_assigned_at = now()
 WHERE org_id = :org AND id = :agent;
-- step:end
COMMIT;
