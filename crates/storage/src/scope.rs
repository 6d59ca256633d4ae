//! The one way tenant statements are built: every query, update and delete
//! of a tenant table starts from [`Scoped`], which adds the organization's
//! filter. A statement cannot forget it, and no statement takes an
//! organization id from anywhere but the [`TenantScope`] of the call.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DeleteMany, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Select, UpdateMany, sea_query::SimpleExpr,
};
use tenancy::{OrgId, Page, PageRequest, StorageError, TenantScope};

use crate::{
    entity::{
        agents, api_keys, events, leads, pool_members, proposals, refresh_sessions, routing_pools,
        routing_rules, timers, users, webhook_attempts, webhook_deliveries, webhooks,
    },
    error::{failed, storage},
};

/// A table whose rows belong to one organization.
pub(crate) trait TenantTable: EntityTrait {
    /// Its `org_id` column.
    fn org_column() -> Self::Column;
    /// Its `id` column (for tables keyed by one id).
    fn id_column() -> Self::Column;
}

macro_rules! tenant_tables {
    ($($table:ident: $id:ident),* $(,)?) => {$(
        impl TenantTable for $table::Entity {
            fn org_column() -> Self::Column {
                $table::Column::OrgId
            }
            fn id_column() -> Self::Column {
                $table::Column::$id
            }
        }
    )*};
}

tenant_tables!(
    agents: Id,
    api_keys: Id,
    events: Id,
    leads: Id,
    pool_members: PoolId,
    proposals: Id,
    refresh_sessions: Id,
    routing_pools: Id,
    routing_rules: Id,
    timers: Id,
    users: Id,
    webhook_attempts: Id,
    webhook_deliveries: Id,
    webhooks: Id,
);

/// Statements of one organization.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scoped<'a> {
    org: &'a str,
}

impl<'a> Scoped<'a> {
    /// The statements of the scope's organization.
    pub(crate) fn new(scope: &'a TenantScope) -> Self {
        Self::org(scope.org_id())
    }

    /// The statements of an organization the adapter already holds in scope
    /// (a transaction begun with a [`TenantScope`], or an organization's own
    /// row being written).
    pub(crate) fn org(org: &'a OrgId) -> Self {
        Self { org: org.as_str() }
    }

    /// The organization's id, for rows being inserted.
    pub(crate) fn org_id(self) -> &'a str {
        self.org
    }

    /// The condition "belongs to the organization", for hand-built
    /// subqueries.
    pub(crate) fn owns<E: TenantTable>(self) -> SimpleExpr {
        E::org_column().eq(self.org)
    }

    /// `SELECT ... WHERE org_id = ?`.
    pub(crate) fn find<E: TenantTable>(self) -> Select<E> {
        E::find().filter(self.owns::<E>())
    }

    /// `SELECT ... WHERE org_id = ? AND id = ?`.
    pub(crate) fn find_id<E: TenantTable>(self, id: &str) -> Select<E> {
        self.find::<E>().filter(E::id_column().eq(id))
    }

    /// `UPDATE ... WHERE org_id = ?`.
    pub(crate) fn update<E: TenantTable>(self) -> UpdateMany<E> {
        E::update_many().filter(self.owns::<E>())
    }

    /// `DELETE ... WHERE org_id = ?`.
    pub(crate) fn delete<E: TenantTable>(self) -> DeleteMany<E> {
        E::delete_many().filter(self.owns::<E>())
    }

    /// One row by id, locked to the end of the transaction when `lock`
    /// (`FOR UPDATE` on PostgreSQL; SQLite's `IMMEDIATE` transactions hold
    /// the write lock already and ignore it).
    pub(crate) async fn one<E: TenantTable>(
        self,
        conn: &impl ConnectionTrait,
        id: &str,
        lock: bool,
    ) -> Result<Option<E::Model>, StorageError> {
        let mut query = self.find_id::<E>(id);
        if lock {
            query = query.lock_exclusive();
        }
        query.one(conn).await.map_err(storage)
    }
}

/// The numbers of a page, waiting for its items.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Paging {
    total: u64,
    limit: u64,
    offset: u64,
}

impl Paging {
    /// The page of `items`.
    pub(crate) fn with<T>(self, items: Vec<T>) -> Page<T> {
        Page {
            items,
            total: self.total,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// The rows of one page of `query` (already filtered and ordered) and the
/// count of all its matches: the two statements every list runs.
pub(crate) async fn fetch_page<E>(
    conn: &impl ConnectionTrait,
    query: Select<E>,
    page: PageRequest,
    op: &'static str,
) -> Result<(Vec<E::Model>, Paging), StorageError>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let total = query.clone().count(conn).await.map_err(failed(op))?;
    let rows = query
        .limit(page.limit())
        .offset(page.offset())
        .all(conn)
        .await
        .map_err(failed(op))?;
    let paging = Paging {
        total,
        limit: page.limit(),
        offset: page.offset(),
    };
    Ok((rows, paging))
}
