//! The tables of routing: agents, pools and their members, rules, leads and
//! proposals.
//!
//! All are tenant tables (`org_id` → `organizations(id)` `ON DELETE
//! CASCADE`, a unique `(org_id, id)` for composite references, indexes led by
//! `org_id`). A row that names another tenant row does so through
//! `(org_id, x_id)`, so the database refuses, say, a proposal of one
//! organization for a lead of another. As in the auth tables, foreign keys are
//! declared inside `CREATE TABLE` (SQLite cannot add them later) and every
//! index, foreign key and check is named.
//!
//! What points where, and what a delete does:
//! - `pool_members` → `routing_pools`, `agents`: `CASCADE` (a member row is
//!   only a link);
//! - `routing_rules` → `routing_pools`: `RESTRICT`, so a pool cannot be
//!   deleted while rules route to it;
//! - `leads` → `agents`, `proposals` → `agents`: `NO ACTION` (agents are
//!   deactivated, never deleted, except with their organization, whose cascade
//!   removes the referencing rows in the same statement);
//! - `proposals` → `leads`: `CASCADE`;
//! - `proposals.pool_id` and `proposals.rule_id` are plain columns: a
//!   proposal keeps the ids of the pool and rule it came from as history
//!   after they are gone;
//! - `agents.user_id` names a user of the same organization since migration
//!   `m20261207_000004_agents_user_in_org`.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_create_organizations::Organizations;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Stored values of the status and method columns. Frozen here: a new value
/// is a new migration that replaces the check.
const AGENT_STATUSES: [&str; 3] = ["available", "away", "paused"];
const POOL_METHODS: [&str; 3] = ["round_robin", "weighted", "least_loaded"];
const LEAD_STATUSES: [&str; 7] = [
    "new",
    "proposed",
    "assigned",
    "unrouted",
    "contacted",
    "won",
    "lost",
];
const PROPOSAL_STATUSES: [&str; 4] = ["pending", "approved", "rejected", "superseded"];
const PROPOSAL_METHODS: [&str; 6] = [
    "round_robin",
    "weighted",
    "least_loaded",
    "sticky",
    "fallback",
    "manual",
];

#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
    OrgId,
    Name,
    Email,
    UserId,
    Skills,
    Regions,
    Weight,
    Capacity,
    DailyCap,
    Status,
    WorkingHours,
    IsActive,
    DailyCount,
    DailyCountDay,
    LastAssignedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RoutingPools {
    Table,
    Id,
    OrgId,
    Name,
    Method,
    LastAgentId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PoolMembers {
    Table,
    OrgId,
    PoolId,
    AgentId,
    Position,
    Assignments,
}

#[derive(DeriveIden)]
enum RoutingRules {
    Table,
    Id,
    OrgId,
    Name,
    Priority,
    Conditions,
    PoolId,
    RequiredSkills,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
    OrgId,
    ExternalId,
    Name,
    Email,
    Phone,
    Company,
    Source,
    Region,
    Country,
    Score,
    Fields,
    Status,
    AgentId,
    EmailDomain,
    UnroutedReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Proposals {
    Table,
    Id,
    OrgId,
    LeadId,
    AgentId,
    Status,
    Method,
    PoolId,
    RuleId,
    Trace,
    CreatedAt,
    DecidedBy,
    DecidedAt,
    Note,
}

/// `org_id` → `organizations(id)`, deleted with the organization.
fn org_fk(name: &str, table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// `(org_id, col)` of `table` → `(org_id, id)` of `target`: the reference
/// stays inside one organization.
fn tenant_fk(
    name: &str,
    table: impl IntoIden,
    col: impl IntoIden,
    target: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from_tbl(table)
        .from_col(Alias::new("org_id"))
        .from_col(col)
        .to_tbl(target)
        .to_col(Alias::new("org_id"))
        .to_col(Alias::new("id"))
        .on_delete(on_delete)
        .to_owned()
}

/// A named index (unique or not) over `cols` of `table`.
fn index<T, C>(
    name: &str,
    table: T,
    cols: impl IntoIterator<Item = C>,
    unique: bool,
) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIndexColumn,
{
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    if unique {
        index.unique();
    }
    index.to_owned()
}

async fn create_indexes(
    manager: &SchemaManager<'_>,
    statements: impl IntoIterator<Item = IndexCreateStatement>,
) -> Result<(), DbErr> {
    for statement in statements {
        manager.create_index(statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Each table's `(org_id, id)` unique index is created right after it:
        // PostgreSQL wants the target of a composite foreign key to be unique
        // when the referencing table is created.
        manager
            .create_table(
                Table::create()
                    .table(Agents::Table)
                    .col(string_len(Agents::Id, 64).primary_key())
                    .col(string_len(Agents::OrgId, 64))
                    .col(string_len(Agents::Name, 200))
                    .col(string_len(Agents::Email, 254))
                    .col(string_len_null(Agents::UserId, 64))
                    .col(json_binary(Agents::Skills))
                    .col(json_binary(Agents::Regions))
                    .col(integer(Agents::Weight))
                    .col(integer_null(Agents::Capacity))
                    .col(integer_null(Agents::DailyCap))
                    .col(string_len(Agents::Status, 16).check(Check::named(
                        "ck_agents_status",
                        Expr::col(Agents::Status).is_in(AGENT_STATUSES),
                    )))
                    .col(json_binary_null(Agents::WorkingHours))
                    .col(boolean(Agents::IsActive).default(true))
                    .col(integer(Agents::DailyCount).default(0))
                    // The agent's local day (YYYY-MM-DD) `daily_count` counts.
                    .col(string_len_null(Agents::DailyCountDay, 10))
                    .col(timestamp_with_time_zone_null(Agents::LastAssignedAt))
                    .col(timestamp_with_time_zone(Agents::CreatedAt))
                    .col(timestamp_with_time_zone(Agents::UpdatedAt))
                    .foreign_key(&mut org_fk("fk_agents_org", Agents::Table, Agents::OrgId))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(
                    "uq_agents_org_id",
                    Agents::Table,
                    [Agents::OrgId, Agents::Id],
                    true,
                ),
                // Counting active agents against `maxAgents`.
                index(
                    "idx_agents_org_active",
                    Agents::Table,
                    [Agents::OrgId, Agents::IsActive],
                    false,
                ),
                // The list order: oldest first, ties by id.
                index(
                    "idx_agents_org_created",
                    Agents::Table,
                    [Agents::OrgId, Agents::CreatedAt, Agents::Id],
                    false,
                ),
                // An agent-role user finding its agent record.
                index(
                    "idx_agents_org_user",
                    Agents::Table,
                    [Agents::OrgId, Agents::UserId],
                    false,
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RoutingPools::Table)
                    .col(string_len(RoutingPools::Id, 64).primary_key())
                    .col(string_len(RoutingPools::OrgId, 64))
                    .col(string_len(RoutingPools::Name, 100))
                    .col(string_len(RoutingPools::Method, 16).check(Check::named(
                        "ck_routing_pools_method",
                        Expr::col(RoutingPools::Method).is_in(POOL_METHODS),
                    )))
                    // The round-robin cursor: the member served last.
                    .col(string_len_null(RoutingPools::LastAgentId, 64))
                    .col(timestamp_with_time_zone(RoutingPools::CreatedAt))
                    .col(timestamp_with_time_zone(RoutingPools::UpdatedAt))
                    .foreign_key(&mut org_fk(
                        "fk_routing_pools_org",
                        RoutingPools::Table,
                        RoutingPools::OrgId,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(
                    "uq_routing_pools_org_id",
                    RoutingPools::Table,
                    [RoutingPools::OrgId, RoutingPools::Id],
                    true,
                ),
                index(
                    "uq_routing_pools_org_name",
                    RoutingPools::Table,
                    [RoutingPools::OrgId, RoutingPools::Name],
                    true,
                ),
                index(
                    "idx_routing_pools_org_created",
                    RoutingPools::Table,
                    [
                        RoutingPools::OrgId,
                        RoutingPools::CreatedAt,
                        RoutingPools::Id,
                    ],
                    false,
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(PoolMembers::Table)
                    .col(string_len(PoolMembers::OrgId, 64))
                    .col(string_len(PoolMembers::PoolId, 64))
                    .col(string_len(PoolMembers::AgentId, 64))
                    .col(integer(PoolMembers::Position))
                    // The weighted pools' count of leads served per member.
                    .col(big_integer(PoolMembers::Assignments).default(0))
                    .primary_key(
                        Index::create()
                            .col(PoolMembers::PoolId)
                            .col(PoolMembers::AgentId),
                    )
                    .foreign_key(&mut org_fk(
                        "fk_pool_members_org",
                        PoolMembers::Table,
                        PoolMembers::OrgId,
                    ))
                    .foreign_key(&mut tenant_fk(
                        "fk_pool_members_pool",
                        PoolMembers::Table,
                        PoolMembers::PoolId,
                        RoutingPools::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut tenant_fk(
                        "fk_pool_members_agent",
                        PoolMembers::Table,
                        PoolMembers::AgentId,
                        Agents::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                // The pools of an agent (weighted lift, the cascade from agents).
                index(
                    "idx_pool_members_org_agent",
                    PoolMembers::Table,
                    [PoolMembers::OrgId, PoolMembers::AgentId],
                    false,
                ),
                // A pool's members in order; also serves the cascade from pools.
                index(
                    "idx_pool_members_org_pool",
                    PoolMembers::Table,
                    [
                        PoolMembers::OrgId,
                        PoolMembers::PoolId,
                        PoolMembers::Position,
                    ],
                    false,
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RoutingRules::Table)
                    .col(string_len(RoutingRules::Id, 64).primary_key())
                    .col(string_len(RoutingRules::OrgId, 64))
                    .col(string_len(RoutingRules::Name, 100))
                    .col(integer(RoutingRules::Priority))
                    .col(json_binary(RoutingRules::Conditions))
                    .col(string_len(RoutingRules::PoolId, 64))
                    .col(json_binary(RoutingRules::RequiredSkills))
                    .col(timestamp_with_time_zone(RoutingRules::CreatedAt))
                    .col(timestamp_with_time_zone(RoutingRules::UpdatedAt))
                    .foreign_key(&mut org_fk(
                        "fk_routing_rules_org",
                        RoutingRules::Table,
                        RoutingRules::OrgId,
                    ))
                    // RESTRICT: a pool rules route to cannot be deleted.
                    .foreign_key(&mut tenant_fk(
                        "fk_routing_rules_pool",
                        RoutingRules::Table,
                        RoutingRules::PoolId,
                        RoutingPools::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(
                    "uq_routing_rules_org_id",
                    RoutingRules::Table,
                    [RoutingRules::OrgId, RoutingRules::Id],
                    true,
                ),
                // Evaluation order: priority, then age, then id.
                index(
                    "idx_routing_rules_org_priority",
                    RoutingRules::Table,
                    [
                        RoutingRules::OrgId,
                        RoutingRules::Priority,
                        RoutingRules::CreatedAt,
                        RoutingRules::Id,
                    ],
                    false,
                ),
                // "Is this pool in use?" and the RESTRICT check.
                index(
                    "idx_routing_rules_org_pool",
                    RoutingRules::Table,
                    [RoutingRules::OrgId, RoutingRules::PoolId],
                    false,
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Leads::Table)
                    .col(string_len(Leads::Id, 64).primary_key())
                    .col(string_len(Leads::OrgId, 64))
                    .col(string_len_null(Leads::ExternalId, 128))
                    .col(string_len(Leads::Name, 200))
                    .col(string_len_null(Leads::Email, 254))
                    .col(string_len_null(Leads::Phone, 32))
                    .col(string_len_null(Leads::Company, 200))
                    .col(string_len_null(Leads::Source, 100))
                    .col(string_len_null(Leads::Region, 100))
                    .col(string_len_null(Leads::Country, 100))
                    .col(small_integer_null(Leads::Score))
                    .col(json_binary(Leads::Fields))
                    .col(string_len(Leads::Status, 16).check(Check::named(
                        "ck_leads_status",
                        Expr::col(Leads::Status).is_in(LEAD_STATUSES),
                    )))
                    .col(string_len_null(Leads::AgentId, 64))
                    // Lower-case domain of `email`, for sticky-by-domain routing.
                    .col(string_len_null(Leads::EmailDomain, 254))
                    .col(string_len_null(Leads::UnroutedReason, 500))
                    .col(timestamp_with_time_zone(Leads::CreatedAt))
                    .col(timestamp_with_time_zone(Leads::UpdatedAt))
                    .foreign_key(&mut org_fk("fk_leads_org", Leads::Table, Leads::OrgId))
                    .foreign_key(&mut tenant_fk(
                        "fk_leads_agent",
                        Leads::Table,
                        Leads::AgentId,
                        Agents::Table,
                        ForeignKeyAction::NoAction,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(
                    "uq_leads_org_id",
                    Leads::Table,
                    [Leads::OrgId, Leads::Id],
                    true,
                ),
                // Idempotent ingestion; both engines accept many NULLs.
                index(
                    "uq_leads_org_external_id",
                    Leads::Table,
                    [Leads::OrgId, Leads::ExternalId],
                    true,
                ),
                index(
                    "idx_leads_org_status_created",
                    Leads::Table,
                    [Leads::OrgId, Leads::Status, Leads::CreatedAt],
                    false,
                ),
                // The newest-first list without a filter.
                index(
                    "idx_leads_org_created",
                    Leads::Table,
                    [Leads::OrgId, Leads::CreatedAt, Leads::Id],
                    false,
                ),
                // Open-lead counts per agent (capacity) and an agent's leads.
                index(
                    "idx_leads_org_agent_status",
                    Leads::Table,
                    [Leads::OrgId, Leads::AgentId, Leads::Status],
                    false,
                ),
                // The owner of a domain's latest lead (sticky routing).
                index(
                    "idx_leads_org_domain_status",
                    Leads::Table,
                    [Leads::OrgId, Leads::EmailDomain, Leads::Status],
                    false,
                ),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Proposals::Table)
                    .col(string_len(Proposals::Id, 64).primary_key())
                    .col(string_len(Proposals::OrgId, 64))
                    .col(string_len(Proposals::LeadId, 64))
                    .col(string_len(Proposals::AgentId, 64))
                    .col(string_len(Proposals::Status, 16).check(Check::named(
                        "ck_proposals_status",
                        Expr::col(Proposals::Status).is_in(PROPOSAL_STATUSES),
                    )))
                    .col(string_len(Proposals::Method, 16).check(Check::named(
                        "ck_proposals_method",
                        Expr::col(Proposals::Method).is_in(PROPOSAL_METHODS),
                    )))
                    .col(string_len_null(Proposals::PoolId, 64))
                    .col(string_len_null(Proposals::RuleId, 64))
                    .col(json_binary(Proposals::Trace))
                    .col(timestamp_with_time_zone(Proposals::CreatedAt))
                    .col(string_len_null(Proposals::DecidedBy, 128))
                    .col(timestamp_with_time_zone_null(Proposals::DecidedAt))
                    .col(string_len_null(Proposals::Note, 1000))
                    .foreign_key(&mut org_fk(
                        "fk_proposals_org",
                        Proposals::Table,
                        Proposals::OrgId,
                    ))
                    .foreign_key(&mut tenant_fk(
                        "fk_proposals_lead",
                        Proposals::Table,
                        Proposals::LeadId,
                        Leads::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut tenant_fk(
                        "fk_proposals_agent",
                        Proposals::Table,
                        Proposals::AgentId,
                        Agents::Table,
                        ForeignKeyAction::NoAction,
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            [
                index(
                    "uq_proposals_org_id",
                    Proposals::Table,
                    [Proposals::OrgId, Proposals::Id],
                    true,
                ),
                // The review queue: pending first, newest first.
                index(
                    "idx_proposals_org_status_created",
                    Proposals::Table,
                    [Proposals::OrgId, Proposals::Status, Proposals::CreatedAt],
                    false,
                ),
                // A lead's proposals (latest; rejected agents); the cascade.
                index(
                    "idx_proposals_org_lead_created",
                    Proposals::Table,
                    [Proposals::OrgId, Proposals::LeadId, Proposals::CreatedAt],
                    false,
                ),
                index(
                    "idx_proposals_org_agent_status",
                    Proposals::Table,
                    [Proposals::OrgId, Proposals::AgentId, Proposals::Status],
                    false,
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children first; their indexes go with them.
        for table in [
            Proposals::Table.into_iden(),
            Leads::Table.into_iden(),
            RoutingRules::Table.into_iden(),
            PoolMembers::Table.into_iden(),
            RoutingPools::Table.into_iden(),
            Agents::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
