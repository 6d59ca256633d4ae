//! Counters instead of counts, and a version of the routing configuration.
//!
//! - `agents.open_leads`: how many of the organization's leads the agent
//!   holds in an open status (`proposed`, `assigned`, `accepted`,
//!   `contacted`: `lead::LeadStatus::OPEN`). A routing step used to count
//!   them (`COUNT(leads.id)`), which grew with the organization: 15x slower
//!   at 50,000 open leads. Triggers on `leads` keep the counter in the
//!   transaction that changes a lead, whichever code path writes it, so it
//!   cannot drift; the tests recount it from the rows. A change of the open
//!   set needs a new migration that replaces the triggers.
//! - `organizations.config_version`: moves on every write of what a routing
//!   decision reads before it locks a pool (the settings, the rules, the
//!   webhook endpoints), by triggers again. A server caches that
//!   configuration per organization and checks the version the pool's lock
//!   returns, so a steady routing step reads neither settings nor rules,
//!   and a change made through another instance is seen at once.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The open statuses, as stored.
const OPEN: &str = "'proposed', 'assigned', 'accepted', 'contacted'";

const ADD_COLUMNS: [&str; 2] = [
    "ALTER TABLE agents ADD COLUMN open_leads INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE organizations ADD COLUMN config_version BIGINT NOT NULL DEFAULT 0",
];

fn backfill() -> String {
    format!(
        "UPDATE agents SET open_leads = (SELECT COUNT(*) FROM leads \
         WHERE leads.org_id = agents.org_id AND leads.agent_id = agents.id \
         AND leads.status IN ({OPEN}))"
    )
}

/// The tables whose writes move `config_version`.
const CONFIG_TABLES: [&str; 2] = ["routing_rules", "webhooks"];

fn pg_up() -> Vec<String> {
    let mut sql = vec![format!(
        "CREATE FUNCTION lr_count_open_leads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.agent_id IS NOT NULL AND OLD.status IN ({OPEN}) THEN
    IF TG_OP = 'DELETE' THEN
      UPDATE agents SET open_leads = open_leads - 1 WHERE org_id = OLD.org_id AND id = OLD.agent_id;
    ELSIF NEW.agent_id IS DISTINCT FROM OLD.agent_id OR NEW.status NOT IN ({OPEN}) THEN
      UPDATE agents SET open_leads = open_leads - 1 WHERE org_id = OLD.org_id AND id = OLD.agent_id;
    END IF;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.agent_id IS NOT NULL AND NEW.status IN ({OPEN}) THEN
    IF TG_OP = 'INSERT' THEN
      UPDATE agents SET open_leads = open_leads + 1 WHERE org_id = NEW.org_id AND id = NEW.agent_id;
    ELSIF OLD.agent_id IS DISTINCT FROM NEW.agent_id OR OLD.status NOT IN ({OPEN}) THEN
      UPDATE agents SET open_leads = open_leads + 1 WHERE org_id = NEW.org_id AND id = NEW.agent_id;
    END IF;
  END IF;
  RETURN NULL;
END $$"
    )];
    sql.push(
        "CREATE TRIGGER lr_leads_open AFTER INSERT OR DELETE OR UPDATE OF status, agent_id \
         ON leads FOR EACH ROW EXECUTE FUNCTION lr_count_open_leads()"
            .to_owned(),
    );
    sql.push(
        "CREATE FUNCTION lr_bump_config() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE organizations SET config_version = config_version + 1 WHERE id = OLD.org_id;
  ELSE
    UPDATE organizations SET config_version = config_version + 1 WHERE id = NEW.org_id;
  END IF;
  RETURN NULL;
END $$"
            .to_owned(),
    );
    for table in CONFIG_TABLES {
        sql.push(format!(
            "CREATE TRIGGER lr_{table}_config AFTER INSERT OR UPDATE OR DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION lr_bump_config()"
        ));
    }
    sql.push(
        "CREATE FUNCTION lr_settings_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.settings IS DISTINCT FROM OLD.settings THEN
    NEW.config_version := OLD.config_version + 1;
  END IF;
  RETURN NEW;
END $$"
            .to_owned(),
    );
    sql.push(
        "CREATE TRIGGER lr_settings_version BEFORE UPDATE OF settings ON organizations \
         FOR EACH ROW EXECUTE FUNCTION lr_settings_version()"
            .to_owned(),
    );
    sql
}

fn pg_down() -> Vec<String> {
    let mut sql = vec![
        "DROP TRIGGER IF EXISTS lr_settings_version ON organizations".to_owned(),
        "DROP FUNCTION IF EXISTS lr_settings_version()".to_owned(),
    ];
    for table in CONFIG_TABLES {
        sql.push(format!(
            "DROP TRIGGER IF EXISTS lr_{table}_config ON {table}"
        ));
    }
    sql.push("DROP FUNCTION IF EXISTS lr_bump_config()".to_owned());
    sql.push("DROP TRIGGER IF EXISTS lr_leads_open ON leads".to_owned());
    sql.push("DROP FUNCTION IF EXISTS lr_count_open_leads()".to_owned());
    sql
}

fn sqlite_up() -> Vec<String> {
    let open_old = format!("OLD.agent_id IS NOT NULL AND OLD.status IN ({OPEN})");
    let open_new = format!("NEW.agent_id IS NOT NULL AND NEW.status IN ({OPEN})");
    let dec = "UPDATE agents SET open_leads = open_leads - 1 \
               WHERE org_id = OLD.org_id AND id = OLD.agent_id;";
    let inc = "UPDATE agents SET open_leads = open_leads + 1 \
               WHERE org_id = NEW.org_id AND id = NEW.agent_id;";
    let mut sql = vec![
        format!(
            "CREATE TRIGGER lr_leads_open_insert AFTER INSERT ON leads WHEN {open_new} BEGIN {inc} END"
        ),
        format!(
            "CREATE TRIGGER lr_leads_open_delete AFTER DELETE ON leads WHEN {open_old} BEGIN {dec} END"
        ),
        // The old row leaves the set when it was open and the agent or the
        // openness changed; the new row joins it likewise.
        format!(
            "CREATE TRIGGER lr_leads_open_leave AFTER UPDATE OF status, agent_id ON leads \
             WHEN {open_old} AND (NEW.agent_id IS NOT OLD.agent_id OR NEW.status NOT IN ({OPEN})) \
             BEGIN {dec} END"
        ),
        format!(
            "CREATE TRIGGER lr_leads_open_join AFTER UPDATE OF status, agent_id ON leads \
             WHEN {open_new} AND (OLD.agent_id IS NOT NEW.agent_id OR OLD.agent_id IS NULL \
             OR OLD.status NOT IN ({OPEN})) BEGIN {inc} END"
        ),
        "CREATE TRIGGER lr_settings_version AFTER UPDATE OF settings ON organizations \
         WHEN NEW.settings IS NOT OLD.settings BEGIN \
         UPDATE organizations SET config_version = config_version + 1 WHERE id = NEW.id; END"
            .to_owned(),
    ];
    for table in CONFIG_TABLES {
        for (event, row) in [("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")] {
            let name = format!("lr_{table}_config_{}", event.to_lowercase());
            sql.push(format!(
                "CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN \
                 UPDATE organizations SET config_version = config_version + 1 \
                 WHERE id = {row}.org_id; END"
            ));
        }
    }
    sql
}

fn sqlite_down() -> Vec<String> {
    let mut names: Vec<String> = [
        "lr_leads_open_insert",
        "lr_leads_open_delete",
        "lr_leads_open_leave",
        "lr_leads_open_join",
        "lr_settings_version",
    ]
    .map(str::to_owned)
    .to_vec();
    for table in CONFIG_TABLES {
        for event in ["insert", "update", "delete"] {
            names.push(format!("lr_{table}_config_{event}"));
        }
    }
    names
        .into_iter()
        .map(|n| format!("DROP TRIGGER IF EXISTS {n}"))
        .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in ADD_COLUMNS {
            db.execute_unprepared(sql).await?;
        }
        db.execute_unprepared(&backfill()).await?;
        let triggers = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => pg_up(),
            _ => sqlite_up(),
        };
        for sql in triggers {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let triggers = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => pg_down(),
            _ => sqlite_down(),
        };
        for sql in triggers {
            db.execute_unprepared(&sql).await?;
        }
        for (table, column) in [
            ("agents", "open_leads"),
            ("organizations", "config_version"),
        ] {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}
