//! [`PoolRepository`] on sea-orm.

use std::collections::{HashMap, HashSet};

use ::events::Action;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use routing::{Pool, PoolChange, PoolId, RoutingError, ports::PoolRepository};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use tenancy::{AgentId, Page, PageRequest, StorageError, TenantScope, ValidationErrors};

use crate::{
    Database,
    entity::{
        agents, pool_members,
        routing_pools::{self, Column, Entity},
        routing_rules,
    },
    error::{failed, storage, violates_unique},
    events::record_change,
    routing_rows::{
        finish, is_foreign_key_violation, member_id, members_of, org_settings, pool_to_domain,
    },
    scope::Scoped,
    scope::fetch_page,
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
    async fn insert(&self, scope: &TenantScope, pool: &Pool) -> Result<(), RoutingError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("pools: insert"))?;
        let result = async {
            check_members(&txn, org, &pool.member_ids).await?;
            Entity::insert(to_active(org, pool))
                .exec_without_returning(&txn)
                .await
                .map_err(name_taken_or_storage)?;
            insert_members(&txn, org, pool, &HashMap::new()).await?;
            record_change(
                &txn,
                scope,
                Action::Created,
                None,
                Some(pool),
                pool.created_at,
            )
            .await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    async fn find(&self, scope: &TenantScope, id: &PoolId) -> Result<Option<Pool>, StorageError> {
        let org = Scoped::new(scope);
        let conn = &self.db.reader(scope.org_id()).await?;
        match org.one::<Entity>(conn, id.as_str(), false).await? {
            Some(row) => Ok(with_members(conn, org, vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<Pool>, StorageError> {
        let org = Scoped::new(scope);
        let query = org.find::<Entity>();
        let conn = &self.db.reader(scope.org_id()).await?;
        let (rows, paging) = fetch_page(
            conn,
            query
                .order_by_asc(Column::CreatedAt)
                .order_by_asc(Column::Id),
            page,
            "pools: list",
        )
        .await?;
        Ok(paging.with(with_members(conn, org, rows).await?))
    }

    async fn update(
        &self,
        scope: &TenantScope,
        id: &PoolId,
        change: PoolChange,
        now: DateTime<Utc>,
    ) -> Result<Pool, RoutingError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("pools: update"))?;
        let result = async {
            // Locked like a routing step locks it: no lead is routed with
            // half-replaced members.
            let row = org
                .one::<Entity>(&txn, id.as_str(), true)
                .await?
                .ok_or(RoutingError::NotFound("pool"))?;
            let mut pool = with_members(&txn, org, vec![row])
                .await?
                .pop()
                .ok_or(RoutingError::NotFound("pool"))?;
            let before = pool.clone();
            if let Some(name) = change.name {
                pool.name = name;
            }
            if let Some(method) = change.method {
                pool.method = method;
            }
            pool.updated_at = now;
            Entity::update(to_active(org, &pool))
                .validate()
                .map_err(failed("pools: update"))?
                .filter(org.owns::<Entity>())
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
                org.delete::<pool_members::Entity>()
                    .filter(pool_members::Column::PoolId.eq(id.as_str()))
                    .exec(&txn)
                    .await
                    .map_err(failed("pools: update"))?;
                pool.member_ids = member_ids;
                insert_members(&txn, org, &pool, &kept).await?;
            }
            record_change(
                &txn,
                scope,
                Action::Updated,
                Some(&before),
                Some(&pool),
                now,
            )
            .await?;
            Ok(pool)
        }
        .await;
        finish(txn, result).await
    }

    async fn delete(&self, scope: &TenantScope, id: &PoolId) -> Result<(), RoutingError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("pools: delete"))?;
        let result = async {
            let row = org
                .one::<Entity>(&txn, id.as_str(), true)
                .await?
                .ok_or(RoutingError::NotFound("pool"))?;
            let before = with_members(&txn, org, vec![row]).await?.pop();
            let rules = org
                .find::<routing_rules::Entity>()
                .filter(routing_rules::Column::PoolId.eq(id.as_str()))
                .count(&txn)
                .await
                .map_err(failed("pools: delete"))?;
            if rules > 0 {
                return Err(RoutingError::PoolInUse);
            }
            // Locks the organization's row: a settings change that would
            // make this pool the default waits, and then finds it gone.
            let settings = org_settings(&txn, org, true).await?;
            if settings
                .as_map()
                .get("defaultPoolId")
                .and_then(|v| v.as_str())
                == Some(id.as_str())
            {
                return Err(RoutingError::PoolIsDefault);
            }
            // The RESTRICT foreign key of `routing_rules` still guards
            // against a rule written after the count.
            org.delete::<Entity>()
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
            record_change(
                &txn,
                scope,
                Action::Deleted,
                before.as_ref(),
                None,
                tenancy::now(),
            )
            .await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }
}

/// Pools with their members, read in one query for all of them.
async fn with_members(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
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
    org: Scoped<'_>,
    member_ids: &[AgentId],
) -> Result<(), RoutingError> {
    if member_ids.is_empty() {
        return Ok(());
    }
    let known: HashSet<String> = org
        .find::<agents::Entity>()
        .select_only()
        .column(agents::Column::Id)
        .filter(agents::Column::Id.is_in(member_ids.iter().map(AgentId::as_str)))
        .into_tuple::<String>()
        .all(conn)
        .await
        .map_err(failed("pools: check_members"))?
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
    org: Scoped<'_>,
    pool: &Pool,
    kept: &HashMap<String, i64>,
) -> Result<(), StorageError> {
    let rows: Vec<pool_members::ActiveModel> = pool
        .member_ids
        .iter()
        .enumerate()
        .map(|(position, agent_id)| pool_members::ActiveModel {
            org_id: Set(org.org_id().to_owned()),
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
            .map_err(failed("pools: insert_members"))?;
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
fn to_active(org: Scoped<'_>, pool: &Pool) -> routing_pools::ActiveModel {
    routing_pools::ActiveModel {
        id: Set(pool.id.to_string()),
        org_id: Set(org.org_id().to_owned()),
        name: Set(pool.name.clone()),
        method: Set(pool.method.as_str().to_owned()),
        last_agent_id: sea_orm::ActiveValue::NotSet,
        created_at: Set(pool.created_at),
        updated_at: Set(pool.updated_at),
    }
}
