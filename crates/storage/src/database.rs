//! Connecting to the database, applying migrations and starting transactions.

use std::{path::Path, sync::Arc, time::Duration};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, QueryResult, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};
use tenancy::{OrgId, StorageError};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::failed;

/// The database engine behind a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite (`sqlite://path`), the default.
    Sqlite,
    /// PostgreSQL (`postgres://...`), for production and scale-out.
    Postgres,
}

impl Engine {
    /// The engine a database URL names, if supported.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }
}

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub url: String,
    /// Largest connection pool.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before giving up (503).
    pub acquire_timeout: Duration,
    /// PostgreSQL: the tables' owner, who migrates (`DATABASE_MIGRATION_URL`),
    /// when the server connects as a role that does not own them. `None`:
    /// `url` migrates too.
    pub migration_url: Option<String>,
}

impl DatabaseSettings {
    /// Settings for `url` with default pool limits.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            migration_url: None,
        }
    }
}

/// A pool of connections to the application database.
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
    engine: Engine,
    migration_url: Option<String>,
    /// SQLite's one writer at a time, as a fair queue in the process (see
    /// [`Database::begin_write`]); `None` on PostgreSQL.
    writer: Option<Arc<Mutex<()>>>,
}

/// Connections opened at start and kept open.
const WARM_CONNECTIONS: u32 = 2;

/// How long a SQLite writer waits for the write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Database {
    /// Opens a pool. For SQLite the file and its folder are created if missing,
    /// and every connection runs in WAL mode with a busy timeout and foreign keys on.
    ///
    /// # Errors
    /// An unsupported URL, an unreachable server or an unwritable file.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, DbErr> {
        let engine = Engine::from_url(&settings.url).ok_or_else(|| {
            DbErr::Custom("DATABASE_URL must start with sqlite:// or postgres://".into())
        })?;
        let mut options = ConnectOptions::new(settings.url.clone());
        options
            .max_connections(settings.max_connections)
            // Warm: the first requests do not each wait for a connection
            // (a TLS handshake with PostgreSQL's default `sslmode=prefer`).
            .min_connections(settings.max_connections.min(WARM_CONNECTIONS))
            .acquire_timeout(settings.acquire_timeout)
            .connect_timeout(settings.acquire_timeout)
            .sqlx_logging(false);
        if engine == Engine::Sqlite {
            if let Some(dir) = sqlite_parent_dir(&settings.url) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    DbErr::Custom(format!("cannot create folder {}: {e}", dir.display()))
                })?;
            }
            options.map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
            });
        }
        let conn = sea_orm::Database::connect(options).await?;
        let writer = (engine == Engine::Sqlite).then(Arc::default);
        Ok(Self {
            conn,
            engine,
            migration_url: settings.migration_url.clone(),
            writer,
        })
    }

    /// Applies every pending migration: as the owner of
    /// [`DatabaseSettings::migration_url`] when there is one, which then
    /// grants this pool's role what the server needs (and no more: it owns
    /// nothing, so row-level security binds it); otherwise on this pool.
    ///
    /// # Errors
    /// A failed migration; it is rolled back where the engine allows.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        match (&self.migration_url, self.engine) {
            (Some(url), Engine::Postgres) => {
                let owner = sea_orm::Database::connect(
                    ConnectOptions::new(url.clone())
                        .max_connections(1)
                        .sqlx_logging(false)
                        .to_owned(),
                )
                .await?;
                let migrated = migrate_on(&owner, self.engine).await;
                let granted = match migrated {
                    Ok(()) => grant_app_role(&owner, &self.conn).await,
                    Err(e) => Err(e),
                };
                let _ = owner.close().await;
                granted
            }
            _ => migrate_on(&self.conn, self.engine).await,
        }
    }

    /// Begins a read-only transaction of organization `org` that takes no
    /// writer turn.
    pub(crate) async fn begin_read(&self, org: &OrgId) -> Result<Txn, DbErr> {
        let txn = self.conn.begin().await?;
        enter(&txn, self.engine, org).await?;
        Ok(Txn::read(txn))
    }

    /// A connection for reads of organization `org`: on PostgreSQL a
    /// transaction that carries the organization for row-level security
    /// (dropped, not committed: its `ROLLBACK` rides on the pool's release
    /// check instead of a round trip of the request); on SQLite the pool.
    pub(crate) async fn reader(&self, org: &OrgId) -> Result<TenantConn<'_>, StorageError> {
        match self.engine {
            Engine::Sqlite => Ok(TenantConn::Pool(&self.conn)),
            Engine::Postgres => {
                let begin = async {
                    let txn = self.conn.begin().await?;
                    enter(&txn, self.engine, org).await?;
                    Ok(txn)
                };
                begin
                    .await
                    .map(TenantConn::Tenant)
                    .map_err(failed("begin a tenant read"))
            }
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    /// The names of the migrations this binary has that the database has
    /// not applied (all of them when the schema is missing).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, DbErr> {
        pending_on(&self.conn, self.engine).await
    }

    /// Connections of the pool: `(open, idle)`.
    pub fn pool_usage(&self) -> (u32, usize) {
        match self.engine {
            Engine::Sqlite => {
                let pool = self.conn.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            Engine::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
        }
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The underlying sea-orm connection, for migrations and tests.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Closes every connection of the pool.
    ///
    /// # Errors
    /// When the pool cannot be closed cleanly.
    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }

    /// A connection for single-statement writes of organization `org`,
    /// committed by [`TenantConn::done`]: on PostgreSQL a transaction
    /// carrying the organization, on SQLite the pool (each statement its
    /// own transaction, as before).
    pub(crate) async fn writer(&self, org: &OrgId) -> Result<TenantConn<'_>, StorageError> {
        self.reader(org).await
    }

    /// Begins a transaction that will write.
    ///
    /// On SQLite it begins `IMMEDIATE`: a deferred transaction that reads and
    /// then writes fails at once with `SQLITE_BUSY` when another connection
    /// writes meanwhile, whatever the busy timeout; an immediate one waits
    /// for the write lock up front. Writers of this process first take their
    /// turn in a fair queue, before they take a connection: SQLite runs one
    /// writer at a time anyway, and its busy handler, which sleeps up to
    /// 100 ms between tries in no order, made the slowest of 16 concurrent
    /// writers wait 0.5-1 s while reads waited for the connections the
    /// sleepers held. On PostgreSQL, rows to be changed are locked with
    /// `SELECT ... FOR UPDATE` by the caller.
    pub(crate) async fn begin_write(&self, org: &OrgId) -> Result<Txn, DbErr> {
        let txn = self.begin_write_unscoped().await?;
        enter(&txn, self.engine, org).await?;
        Ok(txn)
    }

    /// [`Database::begin_write`] without an organization: only for SQLite's
    /// cross-tenant lease of webhook deliveries (PostgreSQL leases them in
    /// `lr_lease_due_deliveries`).
    pub(crate) async fn begin_write_unscoped(&self) -> Result<Txn, DbErr> {
        let turn = match &self.writer {
            Some(writer) => Some(Arc::clone(writer).lock_owned().await),
            None => None,
        };
        let sqlite_transaction_mode =
            (self.engine == Engine::Sqlite).then_some(SqliteTransactionMode::Immediate);
        let txn = self
            .conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode,
                ..TransactionOptions::default()
            })
            .await?;
        Ok(Txn { txn, _turn: turn })
    }
}

/// A transaction. One of [`Database::begin_write`] holds, on SQLite, the
/// process's writer turn until it is committed, rolled back or dropped.
#[derive(Debug)]
pub(crate) struct Txn {
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl Txn {
    /// A transaction that takes no writer turn (a read).
    pub(crate) fn read(txn: DatabaseTransaction) -> Self {
        Self { txn, _turn: None }
    }

    /// Commits, then gives the writer turn to the next in line.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    /// Rolls back, then gives the writer turn to the next in line.
    pub(crate) async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// The migrations `conn`'s database has not applied. Read by hand, not
/// with sea-orm-migration's `get_pending_migrations`, which first creates
/// its table if missing: a role that owns nothing may not, and must still
/// learn that the schema is current (at start, and in `/ready`).
async fn pending_on(conn: &DatabaseConnection, engine: Engine) -> Result<Vec<String>, DbErr> {
    let exists = match engine {
        Engine::Postgres => {
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM pg_catalog.pg_tables \
                             WHERE schemaname = current_schema() AND tablename = 'seaql_migrations'"
        }
        Engine::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master \
                           WHERE type = 'table' AND name = 'seaql_migrations'"
        }
    };
    let backend = conn.get_database_backend();
    let found = conn
        .query_one_raw(Statement::from_string(backend, exists))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    let applied: std::collections::HashSet<String> = if found > 0 {
        conn.query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations",
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "version"))
        .collect::<Result<_, _>>()?
    } else {
        Default::default()
    };
    Ok(Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .filter(|name| !applied.contains(name))
        .collect())
}

/// Migrates on `conn`, then refreshes PostgreSQL's statistics.
async fn migrate_on(conn: &DatabaseConnection, engine: Engine) -> Result<(), DbErr> {
    if pending_on(conn, engine).await?.is_empty() {
        return Ok(());
    }
    Migrator::up(conn, None).await?;
    if engine == Engine::Postgres {
        // Fresh tables have no statistics, and plans cached before the
        // first autovacuum (the foreign-key checks' among them) would
        // scan an organization's leads instead of using the index.
        conn.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

/// The owner grants the role of `app` reading and writing rows (and
/// reading which migrations ran), idempotently, at every start.
async fn grant_app_role(owner: &DatabaseConnection, app: &DatabaseConnection) -> Result<(), DbErr> {
    let role_of = |conn: &DatabaseConnection| {
        let conn = conn.clone();
        async move {
            conn.query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT quote_ident(current_user) AS role",
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("current_user unknown".into()))?
            .try_get::<String>("", "role")
        }
    };
    let (owner_role, app_role) = (role_of(owner).await?, role_of(app).await?);
    if owner_role == app_role {
        return Ok(());
    }
    owner
        .execute_unprepared(&format!(
            "GRANT USAGE ON SCHEMA public TO {app_role}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_role}; \
             REVOKE INSERT, UPDATE, DELETE ON seaql_migrations FROM {app_role}; \
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_role}"
        ))
        .await?;
    Ok(())
}

/// Makes `txn` a transaction of organization `org` for PostgreSQL's
/// row-level security (`app.org_id`, local to the transaction: a pooled
/// connection carries no tenant into its next use).
async fn enter(txn: &impl ConnectionTrait, engine: Engine, org: &OrgId) -> Result<(), DbErr> {
    if engine == Engine::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('app.org_id', $1, true)",
            [org.as_str().into()],
        ))
        .await?;
    }
    Ok(())
}

/// A connection of one organization ([`Database::reader`],
/// [`Database::writer`]).
#[derive(Debug)]
pub(crate) enum TenantConn<'a> {
    /// SQLite: the pool.
    Pool(&'a DatabaseConnection),
    /// PostgreSQL: a transaction carrying the organization.
    Tenant(DatabaseTransaction),
}

impl TenantConn<'_> {
    /// Commits the writes made on it (nothing to do on SQLite's pool).
    pub(crate) async fn done(self) -> Result<(), StorageError> {
        match self {
            TenantConn::Pool(_) => Ok(()),
            TenantConn::Tenant(txn) => txn.commit().await.map_err(failed("commit a tenant write")),
        }
    }
}

/// The same call on either connection of a [`TenantConn`].
macro_rules! on_reader {
    ($reader:expr, $conn:ident => $call:expr) => {
        match $reader {
            TenantConn::Pool($conn) => $call,
            TenantConn::Tenant($conn) => $call,
        }
    };
}

#[async_trait::async_trait]
impl ConnectionTrait for TenantConn<'_> {
    fn get_database_backend(&self) -> DbBackend {
        on_reader!(self, c => c.get_database_backend())
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        on_reader!(self, c => c.execute_raw(stmt).await)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        on_reader!(self, c => c.execute_unprepared(sql).await)
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        on_reader!(self, c => c.query_one_raw(stmt).await)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        on_reader!(self, c => c.query_all_raw(stmt).await)
    }

    fn support_returning(&self) -> bool {
        on_reader!(self, c => c.support_returning())
    }
}

/// The folder of a `sqlite://` file URL, if it names a file in a folder.
fn sqlite_parent_dir(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_folder_of_a_sqlite_file_is_found() {
        assert_eq!(
            sqlite_parent_dir("sqlite://./data/x.db?mode=rwc"),
            Some(Path::new("./data"))
        );
        assert_eq!(
            sqlite_parent_dir("sqlite:///tmp/a/b.db"),
            Some(Path::new("/tmp/a"))
        );
        assert_eq!(sqlite_parent_dir("sqlite://x.db"), None);
        assert_eq!(sqlite_parent_dir("sqlite::memory:"), None);
    }

    #[test]
    fn engines_are_recognised_by_scheme() {
        assert_eq!(Engine::from_url("sqlite://x.db"), Some(Engine::Sqlite));
        assert_eq!(
            Engine::from_url("postgres://u@h/db"),
            Some(Engine::Postgres)
        );
        assert_eq!(
            Engine::from_url("postgresql://u@h/db"),
            Some(Engine::Postgres)
        );
        assert_eq!(Engine::from_url("mysql://u@h/db"), None);
    }
}
