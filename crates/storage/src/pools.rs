//! [`PoolRepository`] on sea-orm.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use routing::{Pool, PoolChange, PoolId, RoutingError, ports::PoolRepository};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use tenancy::{AgentId, OrgId, Page, PageRequest, StorageError, ValidationErrors};

use crate::{
    Database,
    entity::{
        agents, pool_members,
        routing_pools::{self, Column, Entity},
        routing_rules,
    },
    error::{storage, violates_unique},
    routing_rows::{finish, is_foreign_key_violation, member_id, members_of, pool_to_domain},
};

/// Rows per multi-row insert: well under both engines' limits on bound
/// parameters (five per member row).
const INSERT_CHUNK: usize = 1000;

/// Pools stored in `routing_pools`, their members in `pool_members`.
#[derive(Clone, Debug)]
pub struct SeaOrmPoolRepository {
    db: Database,
}

impl SeaOrmPoolRepository {
    /// A repository on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl PoolRepository for SeaOrmPoolRepository {
    async fn insert(&self, pool: &Pool) -> Result<(), RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        let result = async {
            check_members(&txn, &pool.org_id, &pool.member_ids).await?;
            Entity::insert(to_active(pool))
                .exec_without_returning(&txn)
                .await
                .map_err(name_taken_or_storage)?;
            insert_members(&txn, pool, &HashMap::new()).await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    async fn find(&self, org: &OrgId, id: &PoolId) -> Result<Option<Pool>, StorageError> {
        let conn = self.db.connection();
        match find_in(conn, org, id, false).await? {
            Some(row) => Ok(with_members(conn, org, vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn list(&self, org: &OrgId, page: PageRequest) -> Result<Page<Pool>, StorageError> {
        let query = Entity::find().filter(Column::OrgId.eq(org.as_str()));
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
            items: with_members(conn, org, rows).await?,
            total,
            limit: page.limit(),
            offset: page.offset(),
        })
    }

    async fn update(
        &self,
        org: &OrgId,
        id: &PoolId,
        change: PoolChange,
        now: DateTime<Utc>,
    ) -> Result<Pool, RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        let result = async {
            // Locked like a routing step locks it: no lead is routed with
            // half-replaced members.
            let row = find_in(&txn, org, id, true)
                .await?
                .ok_or(RoutingError::NotFound("pool"))?;
            let mut pool = with_members(&txn, org, vec![row])
                .await?
                .pop()
                .ok_or(RoutingError::NotFound("pool"))?;
            if let Some(name) = change.name {
                pool.name = name;
            }
            if let Some(method) = change.method {
                pool.method = method;
            }
            pool.updated_at = now;
            Entity::update(to_active(&pool))
                .validate()
                .map_err(storage)?
                .filter(Column::OrgId.eq(org.as_str()))
                .exec_without_returning(&txn)
                .await
                .map_err(name_taken_or_storage)?;
            if let Some(member_ids) = change.member_ids {
                check_members(&txn, org, &member_ids).await?;
                // Members that stay keep their weighted counts.
                let kept: HashMap<String, i64> = members_of(&txn, org, &[id.to_string()])
                    .await?
                    .remove(id.as_str())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| (m.agent_id, m.assignments))
                    .collect();
                pool_members::Entity::delete_many()
                    .filter(pool_members::Column::OrgId.eq(org.as_str()))
                    .filter(pool_members::Column::PoolId.eq(id.as_str()))
                    .exec(&txn)
                    .await
                    .map_err(storage)?;
                pool.member_ids = member_ids;
                insert_members(&txn, &pool, &kept).await?;
            }
            Ok(pool)
        }
        .await;
        finish(txn, result).await
    }

    async fn delete(&self, org: &OrgId, id: &PoolId) -> Result<(), RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        let result = async {
            find_in(&txn, org, id, true)
                .await?
                .ok_or(RoutingError::NotFound("pool"))?;
            let rules = routing_rules::Entity::find()
                .filter(routing_rules::Column::OrgId.eq(org.as_str()))
                .filter(routing_rules::Column::PoolId.eq(id.as_str()))
                .count(&txn)
                .await
                .map_err(storage)?;
            if rules > 0 {
                return Err(RoutingError::PoolInUse);
            }
            // The RESTRICT foreign key of `routing_rules` still guards
            // against a rule written after the count.
            Entity::delete_many()
                .filter(Column::OrgId.eq(org.as_str()))
                .filter(Column::Id.eq(id.as_str()))
                .exec(&txn)
                .await
                .map_err(|e| {
                    if is_foreign_key_violation(&e) {
                        RoutingError::PoolInUse
                    } else {
                        RoutingError::Storage(storage(e))
                    }
                })?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }
}

/// The row of pool `id` of `org`, locked for the rest of the transaction
/// when `for_update`.
async fn find_in(
    conn: &impl ConnectionTrait,
    org: &OrgId,
    id: &PoolId,
    for_update: bool,
) -> Result<Option<routing_pools::Model>, StorageError> {
    let mut query = Entity::find_by_id(id.as_str()).filter(Column::OrgId.eq(org.as_str()));
    if for_update {
        // Ignored by SQLite, whose IMMEDIATE transaction already holds the write lock.
        query = query.lock_exclusive();
    }
    query.one(conn).await.map_err(storage)
}

/// Pools with their members, read in one query for all of them.
async fn with_members(
    conn: &impl ConnectionTrait,
    org: &OrgId,
    rows: Vec<routing_pools::Model>,
) -> Result<Vec<Pool>, StorageError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut members = members_of(conn, org, &ids).await?;
    rows.iter()
        .map(|row| {
            let ids = members
                .remove(&row.id)
                .unwrap_or_default()
                .iter()
                .map(member_id)
                .collect::<Result<_, _>>()?;
            pool_to_domain(row, ids)
        })
        .collect()
}

/// Refuses members that are not agents of the organization, naming them
/// (one query for the whole list).
async fn check_members(
    conn: &impl ConnectionTrait,
    org: &OrgId,
    member_ids: &[AgentId],
) -> Result<(), RoutingError> {
    if member_ids.is_empty() {
        return Ok(());
    }
    let known: HashSet<String> = agents::Entity::find()
        .select_only()
        .column(agents::Column::Id)
        .filter(agents::Column::OrgId.eq(org.as_str()))
        .filter(agents::Column::Id.is_in(member_ids.iter().map(AgentId::as_str)))
        .into_tuple::<String>()
        .all(conn)
        .await
        .map_err(storage)?
        .into_iter()
        .collect();
    let unknown: Vec<&str> = member_ids
        .iter()
        .map(AgentId::as_str)
        .filter(|id| !known.contains(*id))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors::single(
            "memberIds",
            format!("unknown agents: {}", unknown.join(", ")),
        )
        .into())
    }
}

/// Stores the pool's members in order, with the weighted counts of `kept`.
async fn insert_members(
    conn: &impl ConnectionTrait,
    pool: &Pool,
    kept: &HashMap<String, i64>,
) -> Result<(), StorageError> {
    let rows: Vec<pool_members::ActiveModel> = pool
        .member_ids
        .iter()
        .enumerate()
        .map(|(position, agent_id)| pool_members::ActiveModel {
            org_id: Set(pool.org_id.to_string()),
            pool_id: Set(pool.id.to_string()),
            agent_id: Set(agent_id.to_string()),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            assignments: Set(kept.get(agent_id.as_str()).copied().unwrap_or(0)),
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        pool_members::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await
            .map_err(storage)?;
    }
    Ok(())
}

fn name_taken_or_storage(err: DbErr) -> RoutingError {
    if violates_unique(
        &err,
        "uq_routing_pools_org_name",
        "routing_pools",
        &["org_id", "name"],
    ) {
        RoutingError::PoolNameTaken
    } else {
        RoutingError::Storage(storage(err))
    }
}

/// The pool's own columns; the round-robin cursor is the routing step's.
fn to_active(pool: &Pool) -> routing_pools::ActiveModel {
    routing_pools::ActiveModel {
        id: Set(pool.id.to_string()),
        org_id: Set(pool.org_id.to_string()),
        name: Set(pool.name.clone()),
        method: Set(pool.method.as_str().to_owned()),
        last_agent_id: sea_orm::ActiveValue::NotSet,
        created_at: Set(pool.created_at),
        updated_at: Set(pool.updated_at),
    }
}
