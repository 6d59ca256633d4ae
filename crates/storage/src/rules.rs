//! [`RuleRepository`] on sea-orm.

use ::events::Action;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use routing::{PoolId, RoutingError, Rule, RuleChange, RuleId, ports::RuleRepository};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tenancy::{Page, PageRequest, StorageError, TenantScope, ValidationErrors};

use crate::{
    Database,
    entity::{
        routing_pools,
        routing_rules::{Column, Entity},
    },
    error::{failed, storage},
    events::record_change,
    routing_rows::{finish, is_foreign_key_violation, rule_to_active, rule_to_domain},
    scope::Scoped,
    scope::fetch_page,
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
    async fn insert(&self, scope: &TenantScope, rule: &Rule) -> Result<(), RoutingError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("rules: insert"))?;
        let result = async {
            check_pool(&txn, org, &rule.pool_id).await?;
            let mut row = rule_to_active(rule);
            row.org_id = sea_orm::ActiveValue::Set(org.org_id().to_owned());
            Entity::insert(row)
                .exec_without_returning(&txn)
                .await
                .map_err(unknown_pool_or_storage)?;
            record_change(
                &txn,
                scope,
                Action::Created,
                None,
                Some(rule),
                rule.created_at,
            )
            .await?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    async fn find(&self, scope: &TenantScope, id: &RuleId) -> Result<Option<Rule>, StorageError> {
        Scoped::new(scope)
            .one::<Entity>(&self.db.reader(scope.org_id()).await?, id.as_str(), false)
            .await?
            .as_ref()
            .map(rule_to_domain)
            .transpose()
    }

    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<Rule>, StorageError> {
        let query = Scoped::new(scope).find::<Entity>();
        let conn = &self.db.reader(scope.org_id()).await?;
        let (rows, paging) = fetch_page(
            conn,
            query
                .order_by_asc(Column::Priority)
                .order_by_asc(Column::CreatedAt)
                .order_by_asc(Column::Id),
            page,
            "rules: list",
        )
        .await?;
        Ok(paging.with(rows.iter().map(rule_to_domain).collect::<Result<_, _>>()?))
    }

    async fn update(
        &self,
        scope: &TenantScope,
        id: &RuleId,
        change: RuleChange,
        now: DateTime<Utc>,
    ) -> Result<Rule, RoutingError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("rules: update"))?;
        let result = async {
            let row = org
                .one::<Entity>(&txn, id.as_str(), true)
                .await?
                .ok_or(RoutingError::NotFound("rule"))?;
            let mut rule = rule_to_domain(&row)?;
            let before = rule.clone();
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
            let mut row = rule_to_active(&rule);
            row.org_id = sea_orm::ActiveValue::NotSet;
            Entity::update(row)
                .validate()
                .map_err(failed("rules: update"))?
                .filter(org.owns::<Entity>())
                .exec_without_returning(&txn)
                .await
                .map_err(unknown_pool_or_storage)?;
            record_change(
                &txn,
                scope,
                Action::Updated,
                Some(&before),
                Some(&rule),
                now,
            )
            .await?;
            Ok(rule)
        }
        .await;
        finish(txn, result).await
    }

    async fn delete(&self, scope: &TenantScope, id: &RuleId) -> Result<(), RoutingError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("rules: delete"))?;
        let result = async {
            let before = org
                .one::<Entity>(&txn, id.as_str(), true)
                .await?
                .as_ref()
                .map(rule_to_domain)
                .transpose()?
                .ok_or(RoutingError::NotFound("rule"))?;
            org.delete::<Entity>()
                .filter(Column::Id.eq(id.as_str()))
                .exec(&txn)
                .await
                .map_err(failed("rules: delete"))?;
            record_change(
                &txn,
                scope,
                Action::Deleted,
                Some(&before),
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

fn unknown_pool() -> RoutingError {
    ValidationErrors::single("poolId", "is not a pool of this organization").into()
}

/// Refuses a pool that is not one of the organization's.
async fn check_pool(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    pool_id: &PoolId,
) -> Result<(), RoutingError> {
    let found = org
        .find_id::<routing_pools::Entity>(pool_id.as_str())
        .select_only()
        .column(routing_pools::Column::Id)
        .into_tuple::<String>()
        .one(conn)
        .await
        .map_err(failed("rules: check_pool"))?;
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
