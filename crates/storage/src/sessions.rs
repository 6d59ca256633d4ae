//! [`SessionRepository`] on sea-orm.

use async_trait::async_trait;
use auth::{AuthError, Session, SessionFamilyId, SessionId, SessionRepository, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryTrait, Statement,
    sea_query::Expr,
};
use tenancy::{OrgId, StorageError, TenantScope};

use crate::{
    Database, Engine,
    entity::refresh_sessions::{self, Column, Entity},
    error::{corrupt, failed},
    scope::Scoped,
};

/// Refresh sessions stored in the `refresh_sessions` table.
#[derive(Clone, Debug)]
pub struct SeaOrmSessionRepository {
    db: Database,
}

impl SeaOrmSessionRepository {
    /// A repository on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SessionRepository for SeaOrmSessionRepository {
    async fn insert(&self, scope: &TenantScope, session: &Session) -> Result<(), StorageError> {
        let conn = self.db.writer(scope.org_id()).await?;
        Entity::insert(to_active(Scoped::new(scope), session))
            .exec_without_returning(&conn)
            .await
            .map_err(failed("sessions: insert"))?;
        conn.done().await
    }

    async fn find_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, StorageError> {
        // Unscoped: the token is how a refresh discovers its organization
        // (on PostgreSQL through the cross-tenant `lr_session_by_token_hash`).
        let statement = match self.db.engine() {
            Engine::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT * FROM lr_session_by_token_hash($1)",
                [token_hash.into()],
            ),
            Engine::Sqlite => Entity::find()
                .filter(Column::TokenHash.eq(token_hash))
                .build(DbBackend::Sqlite),
        };
        Entity::find()
            .from_raw_sql(statement)
            .one(self.db.connection())
            .await
            .map_err(failed("sessions: find_by_token_hash"))?
            .as_ref()
            .map(to_domain)
            .transpose()
    }

    async fn rotate(
        &self,
        scope: &TenantScope,
        old: &SessionId,
        new: &Session,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("sessions: rotate"))?;
        // A conditional update rather than read-then-write: of two concurrent
        // refreshes with one token, the second waits for the first's lock (the
        // write lock on SQLite, the row lock on PostgreSQL), then finds
        // `rotated_at` set and touches nothing.
        let org = Scoped::new(scope);
        let marked = org
            .update::<Entity>()
            .col_expr(Column::RotatedAt, Expr::value(now))
            .filter(Column::Id.eq(old.as_str()))
            .filter(Column::RotatedAt.is_null())
            .filter(Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(failed("sessions: rotate"))?;
        if marked.rows_affected != 1 {
            txn.rollback().await.map_err(failed("sessions: rotate"))?;
            return Err(AuthError::TokenReused);
        }
        Entity::insert(to_active(org, new))
            .exec_without_returning(&txn)
            .await
            .map_err(failed("sessions: rotate"))?;
        txn.commit().await.map_err(failed("sessions: rotate"))?;
        Ok(())
    }

    async fn revoke_family(
        &self,
        scope: &TenantScope,
        family: &SessionFamilyId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let conn = self.db.writer(scope.org_id()).await?;
        Scoped::new(scope)
            .update::<Entity>()
            .col_expr(Column::RevokedAt, Expr::value(now))
            .filter(Column::FamilyId.eq(family.as_str()))
            .filter(Column::RevokedAt.is_null())
            .exec(&conn)
            .await
            .map_err(failed("sessions: revoke_family"))?;
        conn.done().await
    }

    async fn revoke_all_for_user(
        &self,
        scope: &TenantScope,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let conn = self.db.writer(scope.org_id()).await?;
        Scoped::new(scope)
            .update::<Entity>()
            .col_expr(Column::RevokedAt, Expr::value(now))
            .filter(Column::UserId.eq(user.as_str()))
            .filter(Column::RevokedAt.is_null())
            .exec(&conn)
            .await
            .map_err(failed("sessions: revoke_all_for_user"))?;
        conn.done().await
    }
}

fn to_active(org: Scoped<'_>, s: &Session) -> refresh_sessions::ActiveModel {
    refresh_sessions::ActiveModel {
        id: Set(s.id.to_string()),
        org_id: Set(org.org_id().to_owned()),
        family_id: Set(s.family_id.to_string()),
        user_id: Set(s.user_id.to_string()),
        token_hash: Set(s.token_hash.clone()),
        created_at: Set(s.created_at),
        expires_at: Set(s.expires_at),
        rotated_at: Set(s.rotated_at),
        revoked_at: Set(s.revoked_at),
    }
}

fn to_domain(m: &refresh_sessions::Model) -> Result<Session, StorageError> {
    let bad = |field: &str| corrupt(format!("refresh session {}: invalid {field}", m.id));
    Ok(Session {
        id: SessionId::parse(&m.id).ok_or_else(|| bad("id"))?,
        family_id: SessionFamilyId::parse(&m.family_id).ok_or_else(|| bad("family_id"))?,
        user_id: UserId::parse(&m.user_id).ok_or_else(|| bad("user_id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        token_hash: m.token_hash.clone(),
        created_at: m.created_at,
        expires_at: m.expires_at,
        rotated_at: m.rotated_at,
        revoked_at: m.revoked_at,
    })
}
