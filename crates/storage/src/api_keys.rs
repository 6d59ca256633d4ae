//! [`ApiKeyRepository`] on sea-orm.

use ::events::Action;
use async_trait::async_trait;
use auth::{ApiKey, ApiKeyId, ApiKeyName, ApiKeyRepository, AuthError, KeyOrg};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Statement,
    sea_query::{Expr, ExprTrait, Query, SimpleExpr},
};
use tenancy::{OrgId, Page, PageRequest, Role, StorageError, TenantScope};

use crate::{
    Database, Engine,
    entity::{
        api_keys::{self, Column, Entity},
        organizations,
    },
    error::{corrupt, failed},
    events::{append_new, record_change},
    scope::Scoped,
    scope::fetch_page,
};

/// API keys stored in the `api_keys` table.
#[derive(Clone, Debug)]
pub struct SeaOrmApiKeyRepository {
    db: Database,
}

impl SeaOrmApiKeyRepository {
    /// A repository on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ApiKeyRepository for SeaOrmApiKeyRepository {
    async fn insert(
        &self,
        scope: &TenantScope,
        key: &ApiKey,
        hash: &str,
    ) -> Result<(), StorageError> {
        let mut row = to_active(key);
        row.org_id = Set(Scoped::new(scope).org_id().to_owned());
        row.key_hash = Set(hash.to_owned());
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("api_keys: insert"))?;
        Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(failed("api_keys: insert"))?;
        record_change(
            &txn,
            scope,
            Action::Created,
            None,
            Some(key),
            key.created_at,
        )
        .await?;
        txn.commit().await.map_err(failed("api_keys: insert"))
    }

    async fn find(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
    ) -> Result<Option<ApiKey>, StorageError> {
        Scoped::new(scope)
            .one::<Entity>(&self.db.reader(scope.org_id()).await?, id.as_str(), false)
            .await?
            .as_ref()
            .map(to_domain)
            .transpose()
    }

    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<(ApiKey, String)>, StorageError> {
        Ok(self
            .find_by_prefix_with_org(prefix)
            .await?
            .map(|(key, hash, _)| (key, hash)))
    }

    async fn find_by_prefix_with_org(
        &self,
        prefix: &str,
    ) -> Result<Option<(ApiKey, String, KeyOrg)>, StorageError> {
        // Unscoped: the prefix is how a request's key discovers its
        // organization, whose state comes in the same read. On PostgreSQL
        // through the cross-tenant function `lr_api_key_by_prefix`.
        let found =
            match self.db.engine() {
                Engine::Postgres => KeyWithOrg::find_by_statement(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT k.*, (SELECT o.is_active FROM organizations o WHERE o.id = k.org_id) \
                 AS org_active FROM lr_api_key_by_prefix($1) k",
                    [prefix.into()],
                ))
                .one(self.db.connection())
                .await,
                Engine::Sqlite => {
                    let active = Query::select()
                        .column(organizations::Column::IsActive)
                        .from(organizations::Entity)
                        .and_where(
                            Expr::col((organizations::Entity, organizations::Column::Id))
                                .equals((Entity, Column::OrgId)),
                        )
                        .to_owned();
                    Entity::find()
                        .filter(Column::Prefix.eq(prefix))
                        .column_as(
                            SimpleExpr::SubQuery(None, Box::new(active.into())),
                            "org_active",
                        )
                        .into_model::<KeyWithOrg>()
                        .one(self.db.connection())
                        .await
                }
            }
            .map_err(failed("api_keys: find_by_prefix_with_org"))?;
        found
            .map(|f| {
                let org = match f.org_active {
                    Some(true) => KeyOrg::Active,
                    Some(false) => KeyOrg::Inactive,
                    None => KeyOrg::Missing,
                };
                let key = to_domain(&f.key)?;
                Ok((key, f.key.key_hash, org))
            })
            .transpose()
    }

    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StorageError> {
        let query = Scoped::new(scope).find::<Entity>();
        let conn = &self.db.reader(scope.org_id()).await?;
        let (rows, paging) = fetch_page(
            conn,
            query
                .order_by_asc(Column::CreatedAt)
                .order_by_asc(Column::Id),
            page,
            "api_keys: list",
        )
        .await?;
        Ok(paging.with(rows.iter().map(to_domain).collect::<Result<_, _>>()?))
    }

    async fn revoke(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("api_keys: revoke"))?;
        let Some(row) = org.one::<Entity>(&txn, id.as_str(), true).await? else {
            return not_found(txn).await;
        };
        let mut key = to_domain(&row)?;
        // Revoking twice keeps the first time.
        if key.revoked_at.is_none() {
            let before = key.clone();
            key.revoked_at = Some(now);
            org.update::<Entity>()
                .col_expr(Column::RevokedAt, Expr::value(now))
                .filter(Column::Id.eq(id.as_str()))
                .exec(&txn)
                .await
                .map_err(failed("api_keys: revoke"))?;
            record_change(&txn, scope, Action::Updated, Some(&before), Some(&key), now).await?;
        }
        txn.commit().await.map_err(failed("api_keys: revoke"))?;
        Ok(key)
    }

    async fn rotate(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        expected_prefix: &str,
        new_prefix: &str,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("api_keys: rotate"))?;
        let Some(row) = org.one::<Entity>(&txn, id.as_str(), true).await? else {
            return not_found(txn).await;
        };
        let mut key = to_domain(&row)?;
        if key.is_revoked() {
            return not_found(txn).await;
        }
        // Locked above: a concurrent rotation has committed or waits.
        if key.prefix != expected_prefix {
            let _ = txn.rollback().await;
            return Err(AuthError::KeyRotatedConcurrently);
        }
        // Prefix and hash change together, so the old secret stops working
        // the moment this commits.
        org.update::<Entity>()
            .col_expr(Column::Prefix, Expr::value(new_prefix))
            .col_expr(Column::KeyHash, Expr::value(new_hash))
            .col_expr(Column::LastUsedAt, Expr::value(None::<DateTime<Utc>>))
            .filter(Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(failed("api_keys: rotate"))?;
        let before = key.clone();
        new_prefix.clone_into(&mut key.prefix);
        key.last_used_at = None;
        if let Some(event) = ::events::record(Action::Updated, Some(&before), Some(&key), now) {
            append_new(&txn, scope, event.with("secretRotated", true)).await?;
        }
        txn.commit().await.map_err(failed("api_keys: rotate"))?;
        Ok(key)
    }

    async fn touch_last_used(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let conn = self.db.writer(scope.org_id()).await?;
        Scoped::new(scope)
            .update::<Entity>()
            .col_expr(Column::LastUsedAt, Expr::value(now))
            .filter(Column::Id.eq(id.as_str()))
            .exec(&conn)
            .await
            .map_err(failed("api_keys: touch_last_used"))?;
        conn.done().await
    }

    async fn record_new_address(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        address: &str,
        known: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("api_keys: record_new_address"))?;
        Scoped::new(scope)
            .update::<Entity>()
            .col_expr(Column::LastUsedAt, Expr::value(now))
            .col_expr(Column::KnownAddresses, Expr::value(addresses_json(known)))
            .filter(Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(failed("api_keys: record_new_address"))?;
        append_new(
            &txn,
            scope,
            auth::audit::api_key_used_from_new_address(id, address, now),
        )
        .await?;
        txn.commit()
            .await
            .map_err(failed("api_keys: record_new_address"))
    }
}

/// Ends a write transaction that found nothing to change, releasing its
/// lock at once.
async fn not_found(txn: crate::database::Txn) -> Result<ApiKey, AuthError> {
    txn.rollback()
        .await
        .map_err(failed("api_keys: not_found"))?;
    Err(AuthError::NotFound)
}

/// Every column but the secret's hash, which only the writes that change it
/// set.
fn to_active(key: &ApiKey) -> api_keys::ActiveModel {
    api_keys::ActiveModel {
        id: Set(key.id.to_string()),
        org_id: Set(key.org_id.to_string()),
        name: Set(key.name.to_string()),
        prefix: Set(key.prefix.clone()),
        key_hash: NotSet,
        role: Set(key.role.as_str().to_owned()),
        created_by: Set(key.created_by.clone()),
        created_at: Set(key.created_at),
        last_used_at: Set(key.last_used_at),
        revoked_at: Set(key.revoked_at),
        known_addresses: Set(addresses_json(&key.known_addresses)),
    }
}

/// The stored form of a key's addresses (`None` when it has none).
fn addresses_json(known: &[String]) -> Option<String> {
    (!known.is_empty()).then(|| serde_json::Value::from(known).to_string())
}

fn to_domain(m: &api_keys::Model) -> Result<ApiKey, StorageError> {
    let bad = |field: &str| corrupt(format!("api key {}: invalid {field}", m.id));
    Ok(ApiKey {
        id: ApiKeyId::parse(&m.id).ok_or_else(|| bad("id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        name: ApiKeyName::parse(&m.name).map_err(|_| bad("name"))?,
        prefix: m.prefix.clone(),
        role: m.role.parse::<Role>().map_err(|_| bad("role"))?,
        created_by: m.created_by.clone(),
        created_at: m.created_at,
        last_used_at: m.last_used_at,
        revoked_at: m.revoked_at,
        known_addresses: match &m.known_addresses {
            Some(json) => serde_json::from_str(json).map_err(|_| bad("known_addresses"))?,
            None => Vec::new(),
        },
    })
}

/// A key's row with its organization's `is_active` (`None`: no such
/// organization).
#[derive(Debug, sea_orm::FromQueryResult)]
struct KeyWithOrg {
    #[sea_orm(nested)]
    key: api_keys::Model,
    org_active: Option<bool>,
}
