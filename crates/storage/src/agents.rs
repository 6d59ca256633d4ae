//! [`AgentRepository`] on sea-orm.

use std::collections::HashMap;

use ::events::Action;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use routing::{
    Agent, AgentChange, PoolMethod, RoutingError, lifted_assignments,
    ports::{AgentFilter, AgentRepository, AgentView},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, Query},
};
use tenancy::{AgentId, Page, PageRequest, StorageError, TenantScope, ValidationErrors};

use crate::{
    Database,
    entity::{
        agents::{self, Column, Entity},
        pool_members, routing_pools, users,
    },
    error::{failed, storage},
    events::record_change,
    routing_rows::{
        agent_to_active, agent_to_domain, candidates, finish, is_foreign_key_violation,
        org_settings,
    },
    scope::Scoped,
    scope::fetch_page,
};

/// Agents stored in the `agents` table, with their loads (counters kept by
/// triggers on `leads`, migration 8).
#[derive(Clone, Debug)]
pub struct SeaOrmAgentRepository {
    db: Database,
}

impl SeaOrmAgentRepository {
    /// A repository on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AgentRepository for SeaOrmAgentRepository {
    async fn insert(&self, scope: &TenantScope, agent: &Agent) -> Result<(), RoutingError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("agents: insert"))?;
        let result = async {
            if agent.is_active {
                check_room(&txn, org).await?;
            }
            check_user(&txn, org, agent.user_id.as_deref()).await?;
            let mut row = agent_to_active(agent);
            row.org_id = sea_orm::ActiveValue::Set(org.org_id().to_owned());
            Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(user_or_storage)?;
            record_change(
                &txn,
                scope,
                Action::Created,
                None,
                Some(agent),
                agent.created_at,
            )
            .await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    async fn find(
        &self,
        scope: &TenantScope,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<AgentView>, StorageError> {
        let org = Scoped::new(scope);
        let conn = &self.db.reader(scope.org_id()).await?;
        let Some(row) = org.one::<Entity>(conn, id.as_str(), false).await? else {
            return Ok(None);
        };
        let mut views = views(&[row], now)?;
        Ok(views.pop())
    }

    async fn find_by_user(
        &self,
        scope: &TenantScope,
        user_id: &str,
    ) -> Result<Option<Agent>, StorageError> {
        let org = Scoped::new(scope);
        // Several agents could name one user; the oldest wins, always the same.
        org.find::<Entity>()
            .filter(Column::UserId.eq(user_id))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .one(&self.db.reader(scope.org_id()).await?)
            .await
            .map_err(failed("agents: find_by_user"))?
            .as_ref()
            .map(agent_to_domain)
            .transpose()
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &AgentFilter,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> Result<Page<AgentView>, StorageError> {
        let org = Scoped::new(scope);
        let mut query = org.find::<Entity>();
        if let Some(status) = filter.status {
            query = query.filter(Column::Status.eq(status.as_str()));
        }
        if let Some(active) = filter.is_active {
            query = query.filter(Column::IsActive.eq(active));
        }
        let conn = &self.db.reader(scope.org_id()).await?;
        let (rows, paging) = fetch_page(
            conn,
            query
                .order_by_asc(Column::CreatedAt)
                .order_by_asc(Column::Id),
            page,
            "agents: list",
        )
        .await?;
        Ok(paging.with(views(&rows, now)?))
    }

    async fn update(
        &self,
        scope: &TenantScope,
        id: &AgentId,
        change: AgentChange,
        now: DateTime<Utc>,
    ) -> Result<Agent, RoutingError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("agents: update"))?;
        let result = async {
            let row = org
                .one::<Entity>(&txn, id.as_str(), true)
                .await?
                .ok_or(RoutingError::NotFound("agent"))?;
            let mut agent = agent_to_domain(&row)?;
            if let Some(user) = &change.user_id {
                check_user(&txn, org, user.as_deref()).await?;
            }
            let before = agent.clone();
            let came_back = agent.apply(change, now);
            write(&txn, org, &agent).await?;
            if came_back {
                lift_in_weighted_pools(&txn, org, &agent).await?;
            }
            record_change(
                &txn,
                scope,
                Action::Updated,
                Some(&before),
                Some(&agent),
                now,
            )
            .await?;
            Ok(agent)
        }
        .await;
        finish(txn, result).await
    }

    async fn set_active(
        &self,
        scope: &TenantScope,
        id: &AgentId,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<Agent, RoutingError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("agents: set_active"))?;
        let result = async {
            let row = org
                .one::<Entity>(&txn, id.as_str(), true)
                .await?
                .ok_or(RoutingError::NotFound("agent"))?;
            let mut agent = agent_to_domain(&row)?;
            if agent.is_active == active {
                return Ok(agent);
            }
            if active {
                check_room(&txn, org).await?;
            }
            let before = agent.clone();
            agent.is_active = active;
            agent.updated_at = now;
            write(&txn, org, &agent).await?;
            record_change(
                &txn,
                scope,
                Action::Updated,
                Some(&before),
                Some(&agent),
                now,
            )
            .await?;
            Ok(agent)
        }
        .await;
        finish(txn, result).await
    }
}

/// Agents with their loads, from their rows' counters.
fn views(rows: &[agents::Model], now: DateTime<Utc>) -> Result<Vec<AgentView>, StorageError> {
    Ok(candidates(rows, now)?
        .into_iter()
        .map(|c| AgentView {
            agent: c.agent,
            load: c.load,
        })
        .collect())
}

/// Writes the agent's own columns back (never its routing counters).
async fn write(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    agent: &Agent,
) -> Result<(), RoutingError> {
    let mut row = agent_to_active(agent);
    row.org_id = sea_orm::ActiveValue::NotSet;
    Entity::update(row)
        .validate()
        .map_err(failed("agents: write"))?
        .filter(org.owns::<Entity>())
        .exec_without_returning(conn)
        .await
        .map_err(user_or_storage)?;
    Ok(())
}

/// A linked user must be one of the organization's, checked in the
/// transaction that writes the link (the composite foreign key
/// `(org_id, user_id)` → `users(org_id, id)` backs it up).
async fn check_user(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    user_id: Option<&str>,
) -> Result<(), RoutingError> {
    let Some(user_id) = user_id else {
        return Ok(());
    };
    let found = org
        .find_id::<users::Entity>(user_id)
        .select_only()
        .column(users::Column::Id)
        .into_tuple::<String>()
        .one(conn)
        .await
        .map_err(failed("agents: check_user"))?;
    match found {
        Some(_) => Ok(()),
        None => Err(unknown_user()),
    }
}

fn unknown_user() -> RoutingError {
    ValidationErrors::single("userId", "is not a user of this organization").into()
}

/// The foreign key (PostgreSQL) or its trigger (SQLite) refusing a link the
/// check above let through: reported like the check.
fn user_or_storage(err: DbErr) -> RoutingError {
    let refused =
        is_foreign_key_violation(&err) || err.to_string().contains("FOREIGN KEY constraint failed");
    if refused {
        unknown_user()
    } else {
        RoutingError::Storage(storage(err))
    }
}

/// Refuses one more active agent when `settings.maxAgents` are active.
///
/// The organization's row is locked first, so that two concurrent inserts
/// or reactivations of one organization cannot both see room for one more.
async fn check_room(conn: &impl ConnectionTrait, org: Scoped<'_>) -> Result<(), RoutingError> {
    let Some(max) = org_settings(conn, org, true).await?.max_agents() else {
        return Ok(());
    };
    let active = org
        .find::<Entity>()
        .filter(Column::IsActive.eq(true))
        .count(conn)
        .await
        .map_err(failed("agents: check_room"))?;
    if active >= max {
        return Err(RoutingError::MaxAgentsReached(max));
    }
    Ok(())
}

/// Lifts a returning agent's count in every weighted pool it belongs to, to
/// the pool's current minimum per weight ([`lifted_assignments`]), so that it
/// does not get a burst of catch-up leads. Three queries whatever the number
/// of pools, then one update per pool actually lifted.
async fn lift_in_weighted_pools(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    agent: &Agent,
) -> Result<(), StorageError> {
    let weighted_pools = Query::select()
        .column(routing_pools::Column::Id)
        .from(routing_pools::Entity)
        .and_where(org.owns::<routing_pools::Entity>())
        .and_where(routing_pools::Column::Method.eq(PoolMethod::Weighted.as_str()))
        .to_owned();
    let pools_of_agent = Query::select()
        .column(pool_members::Column::PoolId)
        .from(pool_members::Entity)
        .and_where(org.owns::<pool_members::Entity>())
        .and_where(pool_members::Column::AgentId.eq(agent.id.as_str()))
        .and_where(pool_members::Column::PoolId.in_subquery(weighted_pools))
        .to_owned();
    // Every member of those pools, the agent included.
    let members = org
        .find::<pool_members::Entity>()
        .filter(pool_members::Column::PoolId.in_subquery(pools_of_agent.clone()))
        .all(conn)
        .await
        .map_err(failed("agents: lift_in_weighted_pools"))?;
    if members.is_empty() {
        return Ok(());
    }
    let weights: HashMap<String, u32> = org
        .find::<Entity>()
        .select_only()
        .column(Column::Id)
        .column(Column::Weight)
        .filter(
            Column::Id.in_subquery(
                Query::select()
                    .column(pool_members::Column::AgentId)
                    .from(pool_members::Entity)
                    .and_where(org.owns::<pool_members::Entity>())
                    .and_where(pool_members::Column::PoolId.in_subquery(pools_of_agent))
                    .to_owned(),
            ),
        )
        .into_tuple::<(String, i32)>()
        .all(conn)
        .await
        .map_err(failed("agents: lift_in_weighted_pools"))?
        .into_iter()
        .map(|(id, w)| (id, u32::try_from(w).unwrap_or(0)))
        .collect();
    let count = |m: &pool_members::Model| u64::try_from(m.assignments).unwrap_or(0);
    let own_rows = members.iter().filter(|m| m.agent_id == agent.id.as_str());
    for own in own_rows {
        let others = members
            .iter()
            .filter(|m| m.pool_id == own.pool_id && m.agent_id != own.agent_id)
            .map(|m| (count(m), weights.get(&m.agent_id).copied().unwrap_or(0)));
        let lifted = lifted_assignments(count(own), agent.weight, others);
        if lifted <= count(own) {
            continue;
        }
        let lifted = i64::try_from(lifted).unwrap_or(i64::MAX);
        // Only ever raised, in one expression: a routing step counting a
        // lead for this member meanwhile is not lost.
        org.update::<pool_members::Entity>()
            .col_expr(
                pool_members::Column::Assignments,
                Expr::case(pool_members::Column::Assignments.lt(lifted), lifted)
                    .finally(pool_members::Column::Assignments.into_expr())
                    .into(),
            )
            .filter(pool_members::Column::PoolId.eq(own.pool_id.as_str()))
            .filter(pool_members::Column::AgentId.eq(own.agent_id.as_str()))
            .exec(conn)
            .await
            .map_err(failed("agents: lift_in_weighted_pools"))?;
    }
    Ok(())
}
