//! `agents.open_leads` counted once per `INSERT` statement on PostgreSQL.
//!
//! Migration 8 keeps the counter with a row trigger: a statement that
//! inserts many routed leads (a batch, a group of concurrent requests)
//! updated each agent's row once per lead. In PostgreSQL every such update
//! writes a new version of the row that later updates in the same
//! transaction walk past, so a batch slowed down with its size. The insert
//! side is now one statement trigger over the inserted rows (a transition
//! table): one update per agent per statement. Deletes and updates of leads
//! keep the row trigger. SQLite updates rows in place and has no statement
//! triggers: nothing changes there.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The open statuses, as stored (`lead::LeadStatus::OPEN`; migration 8).
const OPEN: &str = "'proposed', 'assigned', 'accepted', 'contacted'";

fn up_sql() -> Vec<String> {
    vec![
        "DROP TRIGGER lr_leads_open ON leads".to_owned(),
        "CREATE TRIGGER lr_leads_open AFTER DELETE OR UPDATE OF status, agent_id \
         ON leads FOR EACH ROW EXECUTE FUNCTION lr_count_open_leads()"
            .to_owned(),
        format!(
            "CREATE FUNCTION lr_count_inserted_open_leads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE agents SET open_leads = agents.open_leads + added.leads
  FROM (SELECT org_id, agent_id, COUNT(*) AS leads FROM inserted_leads
        WHERE agent_id IS NOT NULL AND status IN ({OPEN})
        GROUP BY org_id, agent_id) AS added
  WHERE agents.org_id = added.org_id AND agents.id = added.agent_id;
  RETURN NULL;
END $$"
        ),
        "CREATE TRIGGER lr_leads_open_insert AFTER INSERT ON leads \
         REFERENCING NEW TABLE AS inserted_leads \
         FOR EACH STATEMENT EXECUTE FUNCTION lr_count_inserted_open_leads()"
            .to_owned(),
    ]
}

fn down_sql() -> Vec<String> {
    vec![
        "DROP TRIGGER lr_leads_open_insert ON leads".to_owned(),
        "DROP FUNCTION lr_count_inserted_open_leads()".to_owned(),
        "DROP TRIGGER lr_leads_open ON leads".to_owned(),
        "CREATE TRIGGER lr_leads_open AFTER INSERT OR DELETE OR UPDATE OF status, agent_id \
         ON leads FOR EACH ROW EXECUTE FUNCTION lr_count_open_leads()"
            .to_owned(),
    ]
}

async fn run(manager: &SchemaManager<'_>, sql: Vec<String>) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for statement in sql {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, up_sql()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, down_sql()).await
    }
}
