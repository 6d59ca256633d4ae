//! After the first proposal: leads gain the status `accepted` (between
//! `assigned` and `contacted`), proposals the status `expired`, and the
//! `timers` table holds the SLA waits (a pending review, an unaccepted
//! assignment) with their due time.
//!
//! PostgreSQL replaces the two checks in place. SQLite cannot change a
//! check, so `leads` and `proposals` (the only table that references
//! `leads`) are rebuilt from their own stored definitions with the new
//! value lists, their rows copied and their indexes recreated, in the
//! migration's transaction: SQLite's `ALTER TABLE ... RENAME` carries the
//! foreign keys of `proposals` over to the new `leads`.
//!
//! `timers` is a tenant table; its `(org_id, lead_id)` references the lead
//! (`ON DELETE CASCADE`). Its one index that does not lead with `org_id`,
//! `due_at`, is the scheduler's: the one read across organizations, which
//! returns timer ids to fire in each organization's own transaction.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_create_organizations::Organizations;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD_LEAD_STATUSES: &str =
    "'new', 'proposed', 'assigned', 'unrouted', 'contacted', 'won', 'lost'";
const LEAD_STATUSES: &str =
    "'new', 'proposed', 'assigned', 'accepted', 'unrouted', 'contacted', 'won', 'lost'";
const OLD_PROPOSAL_STATUSES: &str = "'pending', 'approved', 'rejected', 'superseded'";
const PROPOSAL_STATUSES: &str = "'pending', 'approved', 'rejected', 'superseded', 'expired'";

#[derive(DeriveIden)]
enum Timers {
    Table,
    Id,
    OrgId,
    Kind,
    LeadId,
    ProposalId,
    AgentId,
    DueAt,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    OrgId,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        // SQLite too: a rebuild that stops half way must leave nothing.
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                replace_checks_pg(manager, LEAD_STATUSES, PROPOSAL_STATUSES).await?;
            }
            _ => {
                rebuild_sqlite(
                    manager,
                    (OLD_LEAD_STATUSES, LEAD_STATUSES),
                    (OLD_PROPOSAL_STATUSES, PROPOSAL_STATUSES),
                )
                .await?;
            }
        }
        manager
            .create_table(
                Table::create()
                    .table(Timers::Table)
                    .col(string_len(Timers::Id, 64).primary_key())
                    .col(string_len(Timers::OrgId, 64))
                    .col(string_len(Timers::Kind, 16).check(Check::named(
                        "ck_timers_kind",
                        Expr::col(Timers::Kind).is_in(["review", "accept"]),
                    )))
                    .col(string_len(Timers::LeadId, 64))
                    .col(string_len(Timers::ProposalId, 64))
                    .col(string_len(Timers::AgentId, 64))
                    .col(timestamp_with_time_zone(Timers::DueAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_timers_org")
                            .from(Timers::Table, Timers::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_timers_lead")
                            .from(Timers::Table, (Timers::OrgId, Timers::LeadId))
                            .to(Leads::Table, (Leads::OrgId, Leads::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_timers_due")
                    .table(Timers::Table)
                    .col(Timers::DueAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_timers_org_lead")
                    .table(Timers::Table)
                    .col(Timers::OrgId)
                    .col(Timers::LeadId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Timers::Table).to_owned())
            .await?;
        let db = manager.get_connection();
        // The new values cannot stay under the old checks.
        db.execute_unprepared("UPDATE leads SET status = 'assigned' WHERE status = 'accepted'")
            .await?;
        db.execute_unprepared(
            "UPDATE proposals SET status = 'superseded' WHERE status = 'expired'",
        )
        .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                replace_checks_pg(manager, OLD_LEAD_STATUSES, OLD_PROPOSAL_STATUSES).await
            }
            _ => {
                rebuild_sqlite(
                    manager,
                    (LEAD_STATUSES, OLD_LEAD_STATUSES),
                    (PROPOSAL_STATUSES, OLD_PROPOSAL_STATUSES),
                )
                .await
            }
        }
    }
}

async fn replace_checks_pg(
    manager: &SchemaManager<'_>,
    leads: &str,
    proposals: &str,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "ALTER TABLE leads DROP CONSTRAINT ck_leads_status, \
         ADD CONSTRAINT ck_leads_status CHECK (status IN ({leads}))"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "ALTER TABLE proposals DROP CONSTRAINT ck_proposals_status, \
         ADD CONSTRAINT ck_proposals_status CHECK (status IN ({proposals}))"
    ))
    .await?;
    Ok(())
}

/// The stored definition (`sqlite_master.sql`) of a table or index.
async fn sqlite_sql(
    manager: &SchemaManager<'_>,
    kind: &str,
    tables: &[&str],
) -> Result<Vec<String>, DbErr> {
    let list = tables
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = manager
        .get_connection()
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            format!(
                "SELECT sql FROM sqlite_master WHERE type = '{kind}' \
                 AND tbl_name IN ({list}) AND sql IS NOT NULL ORDER BY name"
            ),
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "sql"))
        .collect()
}

/// `sql` with `from` replaced once; an error when it is not there (the
/// stored schema is not the one this migration knows).
fn edit(sql: &str, from: &str, to: &str) -> Result<String, DbErr> {
    if sql.contains(from) {
        Ok(sql.replacen(from, to, 1))
    } else {
        Err(DbErr::Migration(format!(
            "unexpected SQLite schema: `{from}` not found in {sql}"
        )))
    }
}

/// Rebuilds `leads` and `proposals` with new status lists (each pair: the
/// list stored, the list wanted).
async fn rebuild_sqlite(
    manager: &SchemaManager<'_>,
    leads: (&str, &str),
    proposals: (&str, &str),
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let [leads_sql] = <[String; 1]>::try_from(sqlite_sql(manager, "table", &["leads"]).await?)
        .map_err(|_| DbErr::Migration("table leads not found".into()))?;
    let [proposals_sql] =
        <[String; 1]>::try_from(sqlite_sql(manager, "table", &["proposals"]).await?)
            .map_err(|_| DbErr::Migration("table proposals not found".into()))?;
    let indexes = sqlite_sql(manager, "index", &["leads", "proposals"]).await?;
    let new_leads = edit(
        &edit(&leads_sql, "\"leads\"", "\"leads_new\"")?,
        leads.0,
        leads.1,
    )?;
    let new_proposals = edit(
        &edit(
            &edit(&proposals_sql, "\"proposals\"", "\"proposals_new\"")?,
            "REFERENCES \"leads\"",
            "REFERENCES \"leads_new\"",
        )?,
        proposals.0,
        proposals.1,
    )?;
    db.execute_unprepared(&new_leads).await?;
    // The parent key of `proposals_new`'s foreign key must be unique before
    // a row refers to it; the lasting index comes back under its own name
    // once the old table is gone.
    db.execute_unprepared("CREATE UNIQUE INDEX rebuild_leads_org_id ON leads_new (org_id, id)")
        .await?;
    db.execute_unprepared(&new_proposals).await?;
    db.execute_unprepared("INSERT INTO leads_new SELECT * FROM leads")
        .await?;
    db.execute_unprepared("INSERT INTO proposals_new SELECT * FROM proposals")
        .await?;
    // Children first, so that dropping `leads` orphans nothing.
    db.execute_unprepared("DROP TABLE proposals").await?;
    db.execute_unprepared("DROP TABLE leads").await?;
    db.execute_unprepared("ALTER TABLE leads_new RENAME TO leads")
        .await?;
    db.execute_unprepared("ALTER TABLE proposals_new RENAME TO proposals")
        .await?;
    for index in indexes {
        db.execute_unprepared(&index).await?;
    }
    db.execute_unprepared("DROP INDEX rebuild_leads_org_id")
        .await?;
    Ok(())
}
