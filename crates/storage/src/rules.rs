//! [`RuleRepository`] on sea-orm.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use routing::{PoolId, RoutingError, Rule, RuleChange, RuleId, ports::RuleRepository};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tenancy::{OrgId, Page, PageRequest, StorageError, ValidationErrors};

use crate::{
    Database,
    entity::{
        routing_pools,
        routing_rules::{self, Column, Entity},
    },
    error::storage,
    routing_rows::{finish, is_foreign_key_violation, rule_to_active, rule_to_domain},
};

/// Rules stored in the `routing_rules` table.
#[derive(Clone, Debug)]
pub struct SeaOrmRuleRepository {
    db: Database,
}

impl SeaOrmRuleRepository {
    /// A repository on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl RuleRepository for SeaOrmRuleRepository {
    async fn insert(&self, rule: &Rule) -> Result<(), RoutingError> {
        let conn = self.db.connection();
        check_pool(conn, &rule.org_id, &rule.pool_id).await?;
        Entity::insert(rule_to_active(rule))
            .exec_without_returning(conn)
            .await
            .map_err(unknown_pool_or_storage)?;
        Ok(())
    }

    async fn find(&self, org: &OrgId, id: &RuleId) -> Result<Option<Rule>, StorageError> {
        find_in(self.db.connection(), org, id, false)
            .await?
            .as_ref()
            .map(rule_to_domain)
            .transpose()
    }

    async fn list(&self, org: &OrgId, page: PageRequest) -> Result<Page<Rule>, StorageError> {
        let query = Entity::find().filter(Column::OrgId.eq(org.as_str()));
        let conn = self.db.connection();
        let total = query.clone().count(conn).await.map_err(storage)?;
        let rows = query
            .order_by_asc(Column::Priority)
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .limit(page.limit())
            .offset(page.offset())
            .all(conn)
            .await
            .map_err(storage)?;
        Ok(Page {
            items: rows.iter().map(rule_to_domain).collect::<Result<_, _>>()?,
            total,
            limit: page.limit(),
            offset: page.offset(),
        })
    }

    async fn update(
        &self,
        org: &OrgId,
        id: &RuleId,
        change: RuleChange,
        now: DateTime<Utc>,
    ) -> Result<Rule, RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        let result = async {
            let row = find_in(&txn, org, id, true)
                .await?
                .ok_or(RoutingError::NotFound("rule"))?;
            let mut rule = rule_to_domain(&row)?;
            if let Some(pool_id) = change.pool_id {
                check_pool(&txn, org, &pool_id).await?;
                rule.pool_id = pool_id;
            }
            if let Some(name) = change.name {
                rule.name = name;
            }
            if let Some(priority) = change.priority {
                rule.priority = priority;
            }
            if let Some(conditions) = change.conditions {
                rule.conditions = conditions;
            }
            if let Some(skills) = change.required_skills {
                rule.required_skills = skills;
            }
            rule.updated_at = now;
            Entity::update(rule_to_active(&rule))
                .validate()
                .map_err(storage)?
                .filter(Column::OrgId.eq(org.as_str()))
                .exec_without_returning(&txn)
                .await
                .map_err(unknown_pool_or_storage)?;
            Ok(rule)
        }
        .await;
        finish(txn, result).await
    }

    async fn delete(&self, org: &OrgId, id: &RuleId) -> Result<(), RoutingError> {
        let deleted = Entity::delete_many()
            .filter(Column::OrgId.eq(org.as_str()))
            .filter(Column::Id.eq(id.as_str()))
            .exec(self.db.connection())
            .await
            .map_err(storage)?;
        if deleted.rows_affected == 0 {
            return Err(RoutingError::NotFound("rule"));
        }
        Ok(())
    }
}

/// The row of rule `id` of `org`, locked for the rest of the transaction
/// when `for_update`.
async fn find_in(
    conn: &impl ConnectionTrait,
    org: &OrgId,
    id: &RuleId,
    for_update: bool,
) -> Result<Option<routing_rules::Model>, StorageError> {
    let mut query = Entity::find_by_id(id.as_str()).filter(Column::OrgId.eq(org.as_str()));
    if for_update {
        // Ignored by SQLite, whose IMMEDIATE transaction already holds the write lock.
        query = query.lock_exclusive();
    }
    query.one(conn).await.map_err(storage)
}

fn unknown_pool() -> RoutingError {
    ValidationErrors::single("poolId", "is not a pool of this organization").into()
}

/// Refuses a pool that is not one of the organization's.
async fn check_pool(
    conn: &impl ConnectionTrait,
    org: &OrgId,
    pool_id: &PoolId,
) -> Result<(), RoutingError> {
    let found = routing_pools::Entity::find_by_id(pool_id.as_str())
        .select_only()
        .column(routing_pools::Column::Id)
        .filter(routing_pools::Column::OrgId.eq(org.as_str()))
        .into_tuple::<String>()
        .one(conn)
        .await
        .map_err(storage)?;
    match found {
        Some(_) => Ok(()),
        None => Err(unknown_pool()),
    }
}

/// The composite foreign key refuses a pool deleted since [`check_pool`].
fn unknown_pool_or_storage(err: DbErr) -> RoutingError {
    if is_foreign_key_violation(&err) {
        unknown_pool()
    } else {
        RoutingError::Storage(storage(err))
    }
}
