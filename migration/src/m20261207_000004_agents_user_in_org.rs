//! `agents.user_id` must name a user of the agent's own organization.
//!
//! The reference is `(org_id, user_id)` → `users(org_id, id)`, so an agent
//! can never point at another tenant's user. Users are deactivated, never
//! deleted, except with their organization, whose cascade removes the
//! agents in the same statement.
//!
//! PostgreSQL gets the composite foreign key. SQLite cannot add a foreign
//! key to an existing table without rebuilding it (and every table that
//! references it), so there the same rule is two triggers that refuse the
//! insert or update. Links that already point nowhere are cleared first:
//! they never named a user of the organization.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CLEAR_DANGLING: &str = "UPDATE agents SET user_id = NULL \
     WHERE user_id IS NOT NULL AND NOT EXISTS \
     (SELECT 1 FROM users WHERE users.org_id = agents.org_id AND users.id = agents.user_id)";

const PG_UP: &str = "ALTER TABLE agents ADD CONSTRAINT fk_agents_user \
     FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id)";
const PG_DOWN: &str = "ALTER TABLE agents DROP CONSTRAINT IF EXISTS fk_agents_user";

/// The SQLite triggers' condition: a user id that is not one of the
/// organization's users.
const SQLITE_CHECK: &str = "NEW.user_id IS NOT NULL AND NOT EXISTS \
     (SELECT 1 FROM users WHERE users.org_id = NEW.org_id AND users.id = NEW.user_id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(CLEAR_DANGLING).await?;
        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                db.execute_unprepared(PG_UP).await?;
            }
            _ => {
                for (name, event) in [
                    ("fk_agents_user_insert", "INSERT"),
                    ("fk_agents_user_update", "UPDATE OF user_id, org_id"),
                ] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {name} BEFORE {event} ON agents \
                         WHEN {SQLITE_CHECK} \
                         BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                db.execute_unprepared(PG_DOWN).await?;
            }
            _ => {
                for name in ["fk_agents_user_insert", "fk_agents_user_update"] {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {name}"))
                        .await?;
                }
            }
        }
        Ok(())
    }
}
