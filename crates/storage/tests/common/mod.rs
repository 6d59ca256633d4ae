//! The database harness shared by the storage test files: a freshly migrated
//! database per test, SQLite in a temporary folder or, when
//! `TEST_DATABASE_URL` names a PostgreSQL server, a database of its own that
//! is dropped when the test ends.

#![allow(dead_code)]

use organization::{NewOrganization, OrgName, OrganizationRepository, Settings, Tier};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use storage::{Database, DatabaseSettings, SeaOrmOrganizationRepository};
use tenancy::{OrgId, TenantScope};

/// A migrated database of one test, removed when the test ends.
pub struct TestDb {
    pub db: Database,
    pub url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub async fn create() -> Self {
        let (url, kind) = match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => create_postgres(admin_url).await,
            _ => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}/test.db", dir.path().display());
                (url, Kind::Sqlite(dir))
            }
        };
        let db = Database::connect(&DatabaseSettings::new(url.clone()))
            .await
            .expect("the test database opens");
        db.migrate().await.expect("migrations apply");
        Self { db, url, kind }
    }

    pub fn orgs(&self) -> SeaOrmOrganizationRepository {
        SeaOrmOrganizationRepository::new(self.db.clone())
    }

    /// A new organization named `name`.
    pub async fn org(&self, name: &str) -> OrgId {
        self.org_with(name, json!({})).await
    }

    /// A new organization named `name` with these settings.
    pub async fn org_with(&self, name: &str, settings: Value) -> OrgId {
        let org = NewOrganization {
            name: OrgName::parse(name).unwrap(),
            display_name: None,
            email: None,
            phone: None,
            tier: Tier::default(),
            monday_workspace_id: None,
            settings: Settings::parse(settings).unwrap(),
        }
        .into_organization("test".into(), tenancy::now());
        self.orgs()
            .insert(&TenantScope::system(org.id.clone()), &org)
            .await
            .unwrap();
        org.id
    }

    /// Rows of `table` that belong to `org`.
    pub async fn count(&self, table: &str, org: &OrgId) -> i64 {
        // Ids are validated ([A-Za-z0-9_-]), so inlining one is safe.
        self.scalar(&format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE org_id = '{org}'"
        ))
        .await
    }

    /// The column `n` of the one row `sql` returns.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let conn = self.db.connection();
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }
}

async fn create_postgres(admin_url: String) -> (String, Kind) {
    let name = tenancy::new_id("lr_test");
    let admin = admin_connection(&admin_url).await;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("test database created");
    let _ = admin.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base)
        .expect("TEST_DATABASE_URL of the form postgres://user@host:port/db");
    (format!("{base}/{name}"), Kind::Postgres { admin_url, name })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Kind::Postgres { admin_url, name } = &self.kind {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, which cannot block on async
            // work: do it on a thread with a runtime of its own.
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    let admin = sea_orm::Database::connect(admin_url.as_str()).await?;
                    admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await?;
                    admin.close().await
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                eprintln!("warning: could not drop test database {}", self.url);
            }
        }
    }
}

/// The admin connection of `TEST_DATABASE_URL`. The server is tried once per
/// test binary with a short timeout: when it is unreachable every test fails
/// at once with one line, instead of each waiting for a pool timeout. The
/// engine the suite runs on is said once, on the terminal.
async fn admin_connection(admin_url: &str) -> sea_orm::DatabaseConnection {
    use std::{io::Write, sync::OnceLock, time::Duration};
    static REACHABLE: OnceLock<Result<(), String>> = OnceLock::new();
    if let Some(Err(e)) = REACHABLE.get() {
        panic!("{e}");
    }
    let mut options = sea_orm::ConnectOptions::new(admin_url.to_owned());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    match sea_orm::Database::connect(options).await {
        Ok(conn) => {
            REACHABLE.get_or_init(|| {
                // Straight to the terminal: the test harness captures `eprintln!`.
                let _ = writeln!(std::io::stderr(), "tests run on PostgreSQL ({admin_url})");
                Ok(())
            });
            conn
        }
        Err(e) => {
            let message = format!(
                "TEST_DATABASE_URL={admin_url} is unreachable ({e}); start the server or unset it to test on SQLite"
            );
            let _ = REACHABLE.set(Err(message.clone()));
            panic!("{message}");
        }
    }
}
