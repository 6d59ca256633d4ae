//! [`AgentRepository`] on sea-orm.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use routing::{
    Agent, AgentChange, RoutingError, lifted_assignments,
    ports::{AgentFilter, AgentRepository, AgentView},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, Query},
};
use tenancy::{AgentId, OrgId, Page, PageRequest, StorageError};

use crate::{
    Database,
    entity::{
        agents::{self, Column, Entity},
        pool_members, routing_pools,
    },
    error::storage,
    routing_rows::{
        AgentSet, agent_to_active, agent_to_domain, candidates, finish, open_lead_counts,
        org_settings,
    },
};

/// Agents stored in the `agents` table, with their loads read from `leads`.
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
    async fn insert(&self, agent: &Agent) -> Result<(), RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        let result = async {
            if agent.is_active {
                check_room(&txn, &agent.org_id).await?;
            }
            Entity::insert(agent_to_active(agent))
                .exec_without_returning(&txn)
                .await
                .map_err(storage)?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    async fn find(
        &self,
        org: &OrgId,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<AgentView>, StorageError> {
        let conn = self.db.connection();
        let Some(row) = find_in(conn, org, id, false).await? else {
            return Ok(None);
        };
        let mut views = views(conn, org, vec![row], now).await?;
        Ok(views.pop())
    }

    async fn find_by_user(
        &self,
        org: &OrgId,
        user_id: &str,
    ) -> Result<Option<Agent>, StorageError> {
        // Several agents could name one user; the oldest wins, always the same.
        Entity::find()
            .filter(Column::OrgId.eq(org.as_str()))
            .filter(Column::UserId.eq(user_id))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .one(self.db.connection())
            .await
            .map_err(storage)?
            .as_ref()
            .map(agent_to_domain)
            .transpose()
    }

    async fn list(
        &self,
        org: &OrgId,
        filter: &AgentFilter,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> Result<Page<AgentView>, StorageError> {
        let mut query = Entity::find().filter(Column::OrgId.eq(org.as_str()));
        if let Some(status) = filter.status {
            query = query.filter(Column::Status.eq(status.as_str()));
        }
        if let Some(active) = filter.is_active {
            query = query.filter(Column::IsActive.eq(active));
        }
        let conn = self.db.connection();
        let total = query.clone().count(conn).await.map_err(storage)?;
        let rows = query
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .limit(page.limit())
            .offset(page.offset())
            .all(conn)
            .await
            .map_err(storage)?;
        Ok(Page {
            items: views(conn, org, rows, now).await?,
            total,
            limit: page.limit(),
            offset: page.offset(),
        })
    }

    async fn update(
        &self,
        org: &OrgId,
        id: &AgentId,
        change: AgentChange,
        now: DateTime<Utc>,
    ) -> Result<Agent, RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        let result = async {
            let row = find_in(&txn, org, id, true)
                .await?
                .ok_or(RoutingError::NotFound("agent"))?;
            let mut agent = agent_to_domain(&row)?;
            let came_back = agent.apply(change, now);
            write(&txn, &agent).await?;
            if came_back {
                lift_in_weighted_pools(&txn, &agent).await?;
            }
            Ok(agent)
        }
        .await;
        finish(txn, result).await
    }

    async fn set_active(
        &self,
        org: &OrgId,
        id: &AgentId,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<Agent, RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        let result = async {
            let row = find_in(&txn, org, id, true)
                .await?
                .ok_or(RoutingError::NotFound("agent"))?;
            let mut agent = agent_to_domain(&row)?;
            if agent.is_active == active {
                return Ok(agent);
            }
            if active {
                check_room(&txn, org).await?;
            }
            agent.is_active = active;
            agent.updated_at = now;
            write(&txn, &agent).await?;
            Ok(agent)
        }
        .await;
        finish(txn, result).await
    }
}

/// The row of agent `id` of `org`, locked for the rest of the transaction
/// when `for_update`.
async fn find_in(
    conn: &impl ConnectionTrait,
    org: &OrgId,
    id: &AgentId,
    for_update: bool,
) -> Result<Option<agents::Model>, StorageError> {
    let mut query = Entity::find_by_id(id.as_str()).filter(Column::OrgId.eq(org.as_str()));
    if for_update {
        // Ignored by SQLite, whose IMMEDIATE transaction already holds the write lock.
        query = query.lock_exclusive();
    }
    query.one(conn).await.map_err(storage)
}

/// Agents with their loads: one grouped count for all of them.
async fn views(
    conn: &impl ConnectionTrait,
    org: &OrgId,
    rows: Vec<agents::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<AgentView>, StorageError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let counts = open_lead_counts(conn, org, AgentSet::Ids(&ids)).await?;
    Ok(candidates(&rows, &counts, now)?
        .into_iter()
        .map(|c| AgentView {
            agent: c.agent,
            load: c.load,
        })
        .collect())
}

/// Writes the agent's own columns back (never its routing counters).
async fn write(conn: &impl ConnectionTrait, agent: &Agent) -> Result<(), StorageError> {
    Entity::update(agent_to_active(agent))
        .validate()
        .map_err(storage)?
        .filter(Column::OrgId.eq(agent.org_id.as_str()))
        .exec_without_returning(conn)
        .await
        .map_err(storage)?;
    Ok(())
}

/// Refuses one more active agent when `settings.maxAgents` are active.
///
/// The organization's row is locked first, so that two concurrent inserts
/// or reactivations of one organization cannot both see room for one more.
async fn check_room(conn: &impl ConnectionTrait, org: &OrgId) -> Result<(), RoutingError> {
    let Some(max) = org_settings(conn, org, true).await?.max_agents() else {
        return Ok(());
    };
    let active = Entity::find()
        .filter(Column::OrgId.eq(org.as_str()))
        .filter(Column::IsActive.eq(true))
        .count(conn)
        .await
        .map_err(storage)?;
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
    agent: &Agent,
) -> Result<(), StorageError> {
    let org = agent.org_id.as_str();
    let weighted_pools = Query::select()
        .column(routing_pools::Column::Id)
        .from(routing_pools::Entity)
        .and_where(routing_pools::Column::OrgId.eq(org))
        .and_where(routing_pools::Column::Method.eq("weighted"))
        .to_owned();
    let pools_of_agent = Query::select()
        .column(pool_members::Column::PoolId)
        .from(pool_members::Entity)
        .and_where(pool_members::Column::OrgId.eq(org))
        .and_where(pool_members::Column::AgentId.eq(agent.id.as_str()))
        .and_where(pool_members::Column::PoolId.in_subquery(weighted_pools))
        .to_owned();
    // Every member of those pools, the agent included.
    let members = pool_members::Entity::find()
        .filter(pool_members::Column::OrgId.eq(org))
        .filter(pool_members::Column::PoolId.in_subquery(pools_of_agent.clone()))
        .all(conn)
        .await
        .map_err(storage)?;
    if members.is_empty() {
        return Ok(());
    }
    let weights: HashMap<String, u32> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::Weight)
        .filter(Column::OrgId.eq(org))
        .filter(
            Column::Id.in_subquery(
                Query::select()
                    .column(pool_members::Column::AgentId)
                    .from(pool_members::Entity)
                    .and_where(pool_members::Column::OrgId.eq(org))
                    .and_where(pool_members::Column::PoolId.in_subquery(pools_of_agent))
                    .to_owned(),
            ),
        )
        .into_tuple::<(String, i32)>()
        .all(conn)
        .await
        .map_err(storage)?
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
        pool_members::Entity::update_many()
            .col_expr(
                pool_members::Column::Assignments,
                Expr::case(pool_members::Column::Assignments.lt(lifted), lifted)
                    .finally(pool_members::Column::Assignments.into_expr())
                    .into(),
            )
            .filter(pool_members::Column::OrgId.eq(org))
            .filter(pool_members::Column::PoolId.eq(own.pool_id.as_str()))
            .filter(pool_members::Column::AgentId.eq(own.agent_id.as_str()))
            .exec(conn)
            .await
            .map_err(storage)?;
    }
    Ok(())
}
