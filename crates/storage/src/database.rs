//! Connecting to the database, applying migrations and starting transactions.

use std::{path::Path, time::Duration};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

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
}

impl DatabaseSettings {
    /// Settings for `url` with default pool limits.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A pool of connections to the application database.
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
    engine: Engine,
}

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
            .min_connections(0)
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
        Ok(Self { conn, engine })
    }

    /// Applies every pending migration.
    ///
    /// # Errors
    /// A failed migration; it is rolled back where the engine allows.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.conn, None).await
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
        Ok(Migrator::get_pending_migrations(&self.conn)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect())
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

    /// Begins a transaction that will write.
    ///
    /// On SQLite it begins `IMMEDIATE`: a deferred transaction that reads and
    /// then writes fails at once with `SQLITE_BUSY` when another connection
    /// writes meanwhile, whatever the busy timeout; an immediate one waits
    /// for the write lock up front. On PostgreSQL, rows to be changed are
    /// locked with `SELECT ... FOR UPDATE` by the caller.
    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        let sqlite_transaction_mode =
            (self.engine == Engine::Sqlite).then_some(SqliteTransactionMode::Immediate);
        self.conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode,
                ..TransactionOptions::default()
            })
            .await
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
