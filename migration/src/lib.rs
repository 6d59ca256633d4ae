//! The Lead Routing schema, as sea-orm migrations.
//!
//! Conventions every tenant table follows (see `docs/architecture.md`):
//! - an `org_id` column referencing `organizations(id)` `ON DELETE CASCADE`;
//! - every unique constraint and index leads with `org_id`, so one tenant's
//!   rows are one index range and the tables can be distributed by it (the
//!   only exceptions are the lookups that discover the organization: a user
//!   by e-mail, a refresh token by hash, an API key by prefix, and the
//!   scheduler's due timers and the webhook sender's due deliveries);
//! - a row that points at another tenant row does so through `(org_id, id)`,
//!   so the database itself refuses a cross-tenant reference.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_organizations;
mod m20261129_000002_create_auth_tables;
mod m20261129_000003_create_routing_tables;
mod m20261207_000004_agents_user_in_org;
mod m20261207_000005_create_events;
mod m20261207_000006_lead_lifecycle;
mod m20261207_000007_create_webhooks;
mod m20261207_000008_routing_counters;
mod m20261207_000009_review_queue_index;
mod m20261207_000010_row_level_security;
mod m20261207_000011_api_key_addresses;
mod m20261208_000012_open_leads_per_statement;

/// The review queue's rank expression, as the index holds it.
pub use m20261207_000009_review_queue_index::QUEUE_RANK;

/// The tables under row-level security on PostgreSQL, and the named
/// functions that may cross tenants.
pub use m20261207_000010_row_level_security::{CROSS_TENANT_FUNCTIONS, TENANT_TABLES};

/// The default organization created by the first migration.
pub const DEFAULT_ORG_ID: &str = "org_default_001";

/// All migrations, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_organizations::Migration),
            Box::new(m20261129_000002_create_auth_tables::Migration),
            Box::new(m20261129_000003_create_routing_tables::Migration),
            Box::new(m20261207_000004_agents_user_in_org::Migration),
            Box::new(m20261207_000005_create_events::Migration),
            Box::new(m20261207_000006_lead_lifecycle::Migration),
            Box::new(m20261207_000007_create_webhooks::Migration),
            Box::new(m20261207_000008_routing_counters::Migration),
            Box::new(m20261207_000009_review_queue_index::Migration),
            Box::new(m20261207_000010_row_level_security::Migration),
            Box::new(m20261207_000011_api_key_addresses::Migration),
            Box::new(m20261208_000012_open_leads_per_statement::Migration),
        ]
    }
}
