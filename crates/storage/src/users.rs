//! [`UserRepository`] on sea-orm.

use ::events::Action;
use async_trait::async_trait;
use auth::{
    AuthError, PasswordHash, SessionFamilyId, User, UserCredentials, UserFilter, UserId, UserPatch,
    UserRepository, Username,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement,
    sea_query::{Expr, LockType, Query},
};
use tenancy::{Email, OrgId, Page, PageRequest, Role, StorageError, TenantScope};

use crate::{
    Database, Engine,
    entity::{
        organizations, refresh_sessions,
        users::{self, Column, Entity},
    },
    error::{corrupt, failed, storage, violates_unique},
    events::{append_new, record_change},
    scope::Scoped,
    scope::fetch_page,
};

/// Users stored in the `users` table.
#[derive(Clone, Debug)]
pub struct SeaOrmUserRepository {
    db: Database,
}

impl SeaOrmUserRepository {
    /// A repository on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl SeaOrmUserRepository {
    /// Appends one event on its own.
    async fn append(
        &self,
        scope: &TenantScope,
        event: ::events::NewEvent,
    ) -> Result<(), StorageError> {
        let conn = self.db.writer(scope.org_id()).await?;
        append_new(&conn, scope, event).await?;
        conn.done().await
    }
}

#[async_trait]
impl UserRepository for SeaOrmUserRepository {
    async fn insert(
        &self,
        scope: &TenantScope,
        user: &User,
        password_hash: &PasswordHash,
    ) -> Result<(), AuthError> {
        let row = new_row(scope, user, password_hash);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("users: insert"))?;
        Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(taken_or_storage)?;
        record_change(
            &txn,
            scope,
            Action::Created,
            None,
            Some(user),
            user.created_at,
        )
        .await?;
        txn.commit().await.map_err(failed("users: insert"))?;
        Ok(())
    }

    async fn insert_first(
        &self,
        scope: &TenantScope,
        user: &User,
        password_hash: &PasswordHash,
    ) -> Result<(), AuthError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("users: insert_first"))?;
        // The organization's row is the ordering point (FOR NO KEY UPDATE on
        // PostgreSQL, which conflicts with itself but not with the foreign
        // key checks of other inserts; SQLite's IMMEDIATE transaction
        // serializes writers already).
        let locked = organizations::Entity::find_by_id(org.org_id())
            .select_only()
            .column(organizations::Column::Id)
            .lock(LockType::NoKeyUpdate)
            .into_tuple::<String>()
            .one(&txn)
            .await
            .map_err(failed("users: insert_first"));
        let users = match locked {
            Ok(_) => org
                .find::<Entity>()
                .count(&txn)
                .await
                .map_err(failed("users: insert_first")),
            Err(e) => Err(e),
        };
        match users {
            Ok(0) => {}
            Ok(_) => {
                let _ = txn.rollback().await;
                return Err(AuthError::Forbidden(
                    "this organization already has users; only its admins may register new ones",
                ));
            }
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(e.into());
            }
        }
        let row = new_row(scope, user, password_hash);
        if let Err(e) = Entity::insert(row).exec_without_returning(&txn).await {
            let _ = txn.rollback().await;
            return Err(taken_or_storage(e));
        }
        record_change(
            &txn,
            scope,
            Action::Created,
            None,
            Some(user),
            user.created_at,
        )
        .await?;
        txn.commit().await.map_err(failed("users: insert_first"))?;
        Ok(())
    }

    async fn find(&self, scope: &TenantScope, id: &UserId) -> Result<Option<User>, StorageError> {
        Scoped::new(scope)
            .one::<Entity>(&self.db.reader(scope.org_id()).await?, id.as_str(), false)
            .await?
            .as_ref()
            .map(to_domain)
            .transpose()
    }

    async fn find_with_session(
        &self,
        scope: &TenantScope,
        id: &UserId,
        family: &SessionFamilyId,
    ) -> Result<Option<(User, bool)>, StorageError> {
        // One statement for both, since every request with an access token
        // asks both: `EXISTS` on the family's sessions (index
        // `(org_id, family_id)`), in the same organization as the user.
        let org = Scoped::new(scope);
        let live = Query::select()
            .expr(Expr::val(1))
            .from(refresh_sessions::Entity)
            .and_where(org.owns::<refresh_sessions::Entity>())
            .and_where(refresh_sessions::Column::FamilyId.eq(family.as_str()))
            .and_where(refresh_sessions::Column::UserId.eq(id.as_str()))
            .and_where(refresh_sessions::Column::RevokedAt.is_null())
            .limit(1)
            .to_owned();
        org.find_id::<Entity>(id.as_str())
            .column_as(Expr::exists(live), "session_live")
            .into_model::<UserInSession>()
            .one(&self.db.reader(scope.org_id()).await?)
            .await
            .map_err(failed("users: find_with_session"))?
            .map(|found| Ok((to_domain(&found.user)?, found.session_live)))
            .transpose()
    }

    async fn find_credentials(
        &self,
        scope: &TenantScope,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StorageError> {
        Scoped::new(scope)
            .one::<Entity>(&self.db.reader(scope.org_id()).await?, id.as_str(), false)
            .await?
            .map(to_credentials)
            .transpose()
    }

    async fn find_credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Vec<UserCredentials>, StorageError> {
        // Unscoped: this is how a sign-in discovers the organization
        // (served by `idx_users_email`; on PostgreSQL through the
        // cross-tenant `lr_users_by_email`).
        let statement = match self.db.engine() {
            Engine::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT * FROM lr_users_by_email($1)",
                [email.as_str().into()],
            ),
            Engine::Sqlite => Entity::find()
                .filter(Column::Email.eq(email.as_str()))
                .order_by_asc(Column::OrgId)
                .order_by_asc(Column::Id)
                .build(DbBackend::Sqlite),
        };
        Entity::find()
            .from_raw_sql(statement)
            .all(self.db.connection())
            .await
            .map_err(failed("users: find_credentials_by_email"))?
            .into_iter()
            .map(to_credentials)
            .collect()
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, StorageError> {
        let mut query = Scoped::new(scope).find::<Entity>();
        if let Some(role) = filter.role {
            query = query.filter(Column::Role.eq(role.as_str()));
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
            "users: list",
        )
        .await?;
        Ok(paging.with(rows.iter().map(to_domain).collect::<Result<_, _>>()?))
    }

    async fn update(
        &self,
        scope: &TenantScope,
        id: &UserId,
        patch: UserPatch,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError> {
        let org = Scoped::new(scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("users: update"))?;
        let Some(row) = org.one::<Entity>(&txn, id.as_str(), true).await? else {
            txn.rollback().await.map_err(failed("users: update"))?;
            return Err(AuthError::NotFound);
        };
        let mut user = to_domain(&row)?;
        let before = user.clone();
        user.apply(&patch, now);
        let mut active = to_active(&user);
        active.org_id = NotSet;
        if let Some(hash) = &patch.password_hash {
            active.password_hash = Set(hash.as_str().to_owned());
        }
        Entity::update(active)
            .validate()
            .map_err(failed("users: update"))?
            .filter(org.owns::<Entity>())
            .exec_without_returning(&txn)
            .await
            .map_err(taken_or_storage)?;
        let event = ::events::record(Action::Updated, Some(&before), Some(&user), now);
        let event = if patch.password_hash.is_some() {
            // That it changed, never what it is.
            Some(
                event
                    .unwrap_or_else(|| {
                        ::events::NewEvent::new(
                            ::events::types::USER_UPDATED,
                            ::events::Subject::of("user", user.id.to_string()),
                            now,
                        )
                        .with("changes", serde_json::Map::new())
                    })
                    .with("passwordChanged", true),
            )
        } else {
            event
        };
        if let Some(event) = event {
            append_new(&txn, scope, event).await?;
        }
        txn.commit().await.map_err(failed("users: update"))?;
        Ok(user)
    }

    async fn count_in_org(&self, scope: &TenantScope) -> Result<u64, StorageError> {
        Scoped::new(scope)
            .find::<Entity>()
            .count(&self.db.reader(scope.org_id()).await?)
            .await
            .map_err(failed("users: count_in_org"))
    }

    async fn record_login(
        &self,
        scope: &TenantScope,
        id: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("users: record_login"))?;
        Scoped::new(scope)
            .update::<Entity>()
            .col_expr(Column::LastLoginAt, Expr::value(now))
            .filter(Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(failed("users: record_login"))?;
        append_new(&txn, scope, auth::audit::login_succeeded(id, now)).await?;
        txn.commit().await.map_err(failed("users: record_login"))
    }

    async fn record_login_failure(
        &self,
        scope: &TenantScope,
        id: &UserId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.append(scope, auth::audit::login_failed(id, reason, now))
            .await
    }

    async fn record_login_throttled(
        &self,
        scope: &TenantScope,
        id: &UserId,
        address: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        self.append(scope, auth::audit::login_throttled(id, address, now))
            .await
    }
}

/// A user's row and whether the session family asked about is live.
#[derive(Debug, sea_orm::FromQueryResult)]
struct UserInSession {
    #[sea_orm(nested)]
    user: users::Model,
    session_live: bool,
}

/// The row of a new user of the scope's organization.
fn new_row(scope: &TenantScope, user: &User, password_hash: &PasswordHash) -> users::ActiveModel {
    let mut row = to_active(user);
    row.org_id = Set(Scoped::new(scope).org_id().to_owned());
    row.password_hash = Set(password_hash.as_str().to_owned());
    row
}

/// Which of the unique indexes of `users` a write hit, if any.
fn taken_or_storage(err: DbErr) -> AuthError {
    if violates_unique(
        &err,
        "uq_users_org_username",
        "users",
        &["org_id", "username"],
    ) {
        AuthError::UsernameTaken
    } else if violates_unique(&err, "uq_users_org_email", "users", &["org_id", "email"]) {
        AuthError::EmailTaken
    } else {
        AuthError::Storage(storage(err))
    }
}

/// Every column but the password hash, which only the writes that change it
/// set.
fn to_active(user: &User) -> users::ActiveModel {
    users::ActiveModel {
        id: Set(user.id.to_string()),
        org_id: Set(user.org_id.to_string()),
        username: Set(user.username.to_string()),
        email: Set(user.email.to_string()),
        password_hash: NotSet,
        role: Set(user.role.as_str().to_owned()),
        is_active: Set(user.is_active),
        created_at: Set(user.created_at),
        updated_at: Set(user.updated_at),
        last_login_at: Set(user.last_login_at),
    }
}

fn to_domain(m: &users::Model) -> Result<User, StorageError> {
    let bad = |field: &str| corrupt(format!("user {}: invalid {field}", m.id));
    Ok(User {
        id: UserId::parse(&m.id).ok_or_else(|| bad("id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        username: Username::parse(&m.username).map_err(|_| bad("username"))?,
        email: Email::parse(&m.email).map_err(|_| bad("email"))?,
        role: m.role.parse::<Role>().map_err(|_| bad("role"))?,
        is_active: m.is_active,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_login_at: m.last_login_at,
    })
}

fn to_credentials(m: users::Model) -> Result<UserCredentials, StorageError> {
    Ok(UserCredentials {
        user: to_domain(&m)?,
        password_hash: m.password_hash,
    })
}
