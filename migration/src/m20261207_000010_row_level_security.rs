//! Row-level security on PostgreSQL: the third isolation layer.
//!
//! Every tenant table gets `ENABLE` and `FORCE ROW LEVEL SECURITY` and one
//! policy, `tenant_isolation`: a row is visible, insertable and updatable
//! only when its `org_id` is the transaction's `app.org_id` setting, which
//! the adapter sets (`set_config('app.org_id', <org>, true)`) at the start
//! of every tenant transaction. With the setting missing nothing is
//! visible, so a statement that forgot its `org_id` filter, or ran outside
//! a tenant transaction, sees no other tenant's rows.
//!
//! The few lookups that must cross tenants are the functions below, each
//! `SECURITY DEFINER` (they run as the tables' owner, who made this
//! migration) and each setting `app.path` to its own name around its query.
//! The policy admits a row of another organization only to the owner inside
//! such a function: the application role can set `app.path` but can never
//! be the owner, and the owner's own sessions (migrations, a misconfigured
//! server) stay under the policy outside the functions because the tables
//! are `FORCE`d. A superuser bypasses row-level security altogether, as
//! always in PostgreSQL: the server must not connect as one in production.
//!
//! | function | path | used by |
//! |---|---|---|
//! | `lr_api_key_by_prefix(prefix)` | `api_key` | a request's API key finds its organization |
//! | `lr_users_by_email(email)` | `sign_in` | a sign-in finds the accounts of an e-mail |
//! | `lr_session_by_token_hash(hash)` | `refresh` | a refresh token finds its session |
//! | `lr_due_timers(now, limit)` | `timers` | the scheduler's due SLA timers (ids only) |
//! | `lr_lease_due_deliveries(now, lease, limit)` | `deliveries` | the webhook sender leases due deliveries (ids only) |
//!
//! SQLite has no row-level security: there the type-level scope
//! (`TenantScope`, `Scoped`) and the composite foreign keys are the layers.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every table whose rows belong to one organization.
pub const TENANT_TABLES: [&str; 14] = [
    "agents",
    "api_keys",
    "events",
    "leads",
    "pool_members",
    "proposals",
    "refresh_sessions",
    "routing_pools",
    "routing_rules",
    "timers",
    "users",
    "webhook_attempts",
    "webhook_deliveries",
    "webhooks",
];

/// The cross-tenant functions, as `name(argument types)`.
pub const CROSS_TENANT_FUNCTIONS: [&str; 5] = [
    "lr_api_key_by_prefix(text)",
    "lr_users_by_email(text)",
    "lr_session_by_token_hash(text)",
    "lr_due_timers(timestamptz, bigint)",
    "lr_lease_due_deliveries(timestamptz, timestamptz, bigint)",
];

// Each function sets `app.path` around its one query (a function's `SET`
// clause cannot name a custom setting without superuser rights) and clears
// it before returning, so nothing of it outlives the call.
const FUNCTIONS: &str = r#"
CREATE FUNCTION lr_api_key_by_prefix(p_prefix text) RETURNS SETOF api_keys
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM set_config('app.path', 'api_key', true);
  RETURN QUERY SELECT k.* FROM api_keys k WHERE k.prefix = p_prefix;
  PERFORM set_config('app.path', '', true);
END $$;

CREATE FUNCTION lr_users_by_email(p_email text) RETURNS SETOF users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM set_config('app.path', 'sign_in', true);
  RETURN QUERY SELECT u.* FROM users u WHERE u.email = p_email ORDER BY u.org_id, u.id;
  PERFORM set_config('app.path', '', true);
END $$;

CREATE FUNCTION lr_session_by_token_hash(p_hash text) RETURNS SETOF refresh_sessions
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM set_config('app.path', 'refresh', true);
  RETURN QUERY SELECT s.* FROM refresh_sessions s WHERE s.token_hash = p_hash;
  PERFORM set_config('app.path', '', true);
END $$;

CREATE FUNCTION lr_due_timers(p_now timestamptz, p_limit bigint)
RETURNS TABLE (org_id text, id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('app.path', 'timers', true);
  RETURN QUERY SELECT t.org_id::text, t.id::text FROM timers t
    WHERE t.due_at <= p_now ORDER BY t.due_at, t.id LIMIT p_limit;
  PERFORM set_config('app.path', '', true);
END $$;

CREATE FUNCTION lr_lease_due_deliveries(p_now timestamptz, p_lease timestamptz, p_limit bigint)
RETURNS TABLE (org_id text, id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('app.path', 'deliveries', true);
  RETURN QUERY WITH leased AS (
    UPDATE webhook_deliveries u SET next_attempt_at = p_lease
    FROM (
      SELECT d.id FROM webhook_deliveries d
      JOIN webhooks w ON w.org_id = d.org_id AND w.id = d.webhook_id
      WHERE d.status = 'pending' AND d.next_attempt_at <= p_now
        AND (w.is_active OR d.event_type = 'webhook.test')
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
          WHERE e.webhook_id = d.webhook_id AND e.ordering_key = d.ordering_key
            AND e.status = 'pending' AND e.event_id < d.event_id)
      ORDER BY d.next_attempt_at, d.id LIMIT p_limit
      FOR UPDATE OF d SKIP LOCKED
    ) due
    WHERE u.id = due.id
    RETURNING u.org_id::text AS org_id, u.id::text AS id
  ) SELECT leased.org_id, leased.id FROM leased;
  PERFORM set_config('app.path', '', true);
END $$;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(FUNCTIONS).await?;
        // The owner's name is fixed in the policy: `current_user` inside a
        // SECURITY DEFINER function is the function's owner, and only
        // those functions set `app.path`.
        let owner = db
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Postgres,
                "SELECT quote_literal(current_user) AS owner",
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("current_user unknown".into()))?
            .try_get::<String>("", "owner")?;
        for table in TENANT_TABLES {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; \
                 ALTER TABLE {table} FORCE ROW LEVEL SECURITY; \
                 CREATE POLICY tenant_isolation ON {table} \
                 USING (org_id = current_setting('app.org_id', true) \
                   OR (current_user = {owner} \
                       AND coalesce(current_setting('app.path', true), '') <> ''))"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in TENANT_TABLES {
            db.execute_unprepared(&format!(
                "DROP POLICY tenant_isolation ON {table}; \
                 ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; \
                 ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"
            ))
            .await?;
        }
        for function in CROSS_TENANT_FUNCTIONS {
            db.execute_unprepared(&format!("DROP FUNCTION {function}"))
                .await?;
        }
        Ok(())
    }
}
