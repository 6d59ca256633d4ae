//! `spawn_app()` and the typed helpers every test uses.

use std::sync::Once;

use lead_routing_api::{
    config::{AppEnv, Settings},
    startup::Application,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use storage::DatabaseSettings;

pub const DEV_KEY: &str = "dev_key_123";
/// The JWT secret of every test server, so tests can forge tokens.
pub const JWT_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
pub const PASSWORD: &str = "correct horse battery";

/// A running server and the database behind it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    db: TestDatabase,
}

/// Logs go to stdout only when `TEST_LOG` is set.
fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = lead_routing_api::telemetry::init(AppEnv::Development);
        }
    });
}

/// Starts the app in development mode on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_in(AppEnv::Development).await
}

/// Starts the app in `env` mode on a fresh database.
pub async fn spawn_app_in(env: AppEnv) -> TestApp {
    spawn_app_with(move |s| s.env = env).await
}

/// Starts the app on a fresh database with settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    init_logging();
    let db = TestDatabase::create().await;
    let mut settings = Settings::from_lookup(|_| None).expect("default settings");
    settings.host = "127.0.0.1".into();
    settings.port = 0;
    settings.workers = Some(1);
    settings.jwt_secret =
        auth::JwtSecret::from_env_value(Some(JWT_SECRET.into()), true).expect("secret");
    // On PostgreSQL the server connects as a role that owns nothing, as in
    // production: row-level security binds every query of the suite.
    settings.database = DatabaseSettings::new(db.app_url());
    settings.database.migration_url = db.owner_url();
    settings.database.max_connections = 5;
    // Webhook retries a few hundred milliseconds apart, not 15 s.
    settings.webhooks.retry_base = std::time::Duration::from_millis(200);
    settings.webhooks.timeout = std::time::Duration::from_secs(2);
    adjust(&mut settings);
    let app = Application::build(&settings).await.expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db,
    }
}

/// One request as `who` (a JSON body when given).
pub async fn call(
    app: &TestApp,
    who: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let req = app.as_user(&who.access_token, method, path);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    req.send().await.unwrap()
}

/// One request as `who` that must succeed (any 2xx); its JSON body.
pub async fn ok(
    app: &TestApp,
    who: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let res = call(app, who, method, path, body).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

/// Agents Ann and Bob in round-robin pool `pool`, which rule `rule` sends
/// every lead to: (their ids, the pool, the rule).
pub async fn ann_and_bob_get_every_lead(
    app: &TestApp,
    admin: &Session,
    pool: &str,
    rule: &str,
) -> (Vec<String>, Value, Value) {
    let mut ids = Vec::new();
    for name in ["Ann", "Bob"] {
        let body = json!({"name": name, "email": format!("{name}@acme.test")});
        let agent = ok(app, admin, Method::POST, "/agents", Some(body)).await;
        ids.push(agent["data"]["id"].as_str().unwrap().to_owned());
    }
    let body = json!({"name": pool, "method": "round_robin", "memberIds": ids});
    let pool = ok(app, admin, Method::POST, "/routing/pools", Some(body)).await["data"].clone();
    let body = json!({"name": rule, "priority": 1, "conditions": [], "poolId": pool["id"]});
    let rule = ok(app, admin, Method::POST, "/routing/rules", Some(body)).await["data"].clone();
    (ids, pool, rule)
}

/// A signed-in user of a test organization.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: Value,
    pub access_token: String,
    pub refresh_token: String,
}

impl Session {
    pub fn id(&self) -> String {
        self.user["id"].as_str().unwrap().to_owned()
    }
}

impl TestApp {
    /// A request without credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.address, path))
    }

    /// A request with the development key (a super admin of the default org).
    pub fn dev(&self, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).header("x-api-key", DEV_KEY)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.dev(Method::GET, path)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.dev(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.dev(Method::PUT, path)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.dev(Method::DELETE, path)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates an organization named `name`, returning its JSON.
    pub async fn create_org(&self, name: &str) -> Value {
        self.create_org_with(json!({ "name": name })).await
    }

    /// Creates an organization from `body`, returning its JSON.
    pub async fn create_org_with(&self, body: Value) -> Value {
        let res = self.post("/organizations", &body).await;
        let body = expect_status(res, StatusCode::CREATED).await;
        body["data"].clone()
    }

    /// A request with a bearer token.
    pub fn as_user(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(token)
    }

    /// A request with an API key.
    pub fn with_key(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).header("x-api-key", key)
    }

    /// Creates an organization and its first admin (registered without
    /// credentials, as the seed's step 2), signed in.
    pub async fn org_with_admin(&self, name: &str) -> (Value, Session) {
        let org = self.create_org(name).await;
        let org_id = org["id"].as_str().unwrap();
        let email = format!("admin@{name}.test");
        let res = self
            .anonymous(Method::POST, "/auth/register")
            .json(&json!({"username": "admin", "email": email, "password": PASSWORD, "role": "admin", "orgId": org_id}))
            .send()
            .await
            .unwrap();
        expect_status(res, StatusCode::CREATED).await;
        let session = self.login(&email, Some(org_id)).await;
        (org, session)
    }

    /// Signs in.
    pub async fn login(&self, email: &str, org_id: Option<&str>) -> Session {
        let mut body = json!({"email": email, "password": PASSWORD});
        if let Some(org_id) = org_id {
            body["orgId"] = json!(org_id);
        }
        let res = self
            .anonymous(Method::POST, "/auth/login")
            .json(&body)
            .send()
            .await
            .unwrap();
        let body = expect_status(res, StatusCode::OK).await;
        Session {
            user: body["user"].clone(),
            access_token: body["tokens"]["accessToken"].as_str().unwrap().to_owned(),
            refresh_token: body["tokens"]["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    /// As `admin`, creates a user with `role` and signs it in.
    pub async fn add_user(&self, admin: &Session, username: &str, role: &str) -> Session {
        let org_id = admin.user["orgId"].as_str().unwrap().to_owned();
        let email = format!("{username}@{org_id}.test");
        let res = self
            .as_user(&admin.access_token, Method::POST, "/users")
            .json(
                &json!({"username": username, "email": email, "password": PASSWORD, "role": role}),
            )
            .send()
            .await
            .unwrap();
        expect_status(res, StatusCode::CREATED).await;
        self.login(&email, Some(&org_id)).await
    }

    /// As `admin`, creates an API key with `role`; returns (key JSON, secret).
    pub async fn add_api_key(&self, admin: &Session, role: &str) -> (Value, String) {
        let res = self
            .as_user(&admin.access_token, Method::POST, "/api-keys")
            .json(&json!({"name": format!("{role} key"), "role": role}))
            .send()
            .await
            .unwrap();
        let body = expect_status(res, StatusCode::CREATED).await;
        let secret = body["data"]["key"].as_str().unwrap().to_owned();
        (body["data"].clone(), secret)
    }

    /// Runs one SQL count on the app's database.
    /// The URL of the app's database (for tests that change it behind the
    /// app's back): on PostgreSQL as the superuser, whom row-level security
    /// does not bind.
    pub fn database_url(&self) -> &str {
        &self.db.url
    }

    /// The database behind the app.
    pub fn database(&self) -> &TestDatabase {
        &self.db
    }

    /// Runs SQL on the app's database behind its back, as another instance
    /// of the server (or an operator) would.
    pub async fn execute(&self, sql: &str) {
        let conn = sea_orm::Database::connect(self.db.url.as_str())
            .await
            .unwrap();
        conn.execute_unprepared(sql).await.unwrap();
        let _ = conn.close().await;
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let conn = sea_orm::Database::connect(self.db.url.as_str())
            .await
            .unwrap();
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get_by_index(0).unwrap();
        let _ = conn.close().await;
        n
    }

    /// The repair check of the routing counters: every agent's
    /// `open_leads` (kept by triggers) equals its open leads counted from
    /// the rows.
    pub async fn assert_counters_match_rows(&self) {
        let drifted = self
            .count(
                "SELECT COUNT(*) FROM agents a WHERE a.open_leads <> (SELECT COUNT(*) FROM leads l \
                 WHERE l.org_id = a.org_id AND l.agent_id = a.id \
                 AND l.status IN ('proposed', 'assigned', 'accepted', 'contacted'))",
            )
            .await;
        assert_eq!(
            drifted, 0,
            "agents whose open_leads counter drifted from the rows"
        );
        let assignments = self
            .count(
                "SELECT COUNT(*) FROM pool_members m WHERE m.assignments < 0 \
                 OR EXISTS (SELECT 1 FROM agents a WHERE a.org_id = m.org_id \
                 AND a.id = m.agent_id AND a.daily_count < 0)",
            )
            .await;
        assert_eq!(assignments, 0, "negative pool or daily counters");
    }

    /// Every organization (first 1000).
    pub async fn all_orgs(&self) -> Vec<Value> {
        let body = expect_status(self.get("/organizations?limit=1000").await, StatusCode::OK).await;
        body["data"].as_array().expect("a list").clone()
    }
}

/// Asserts the status and returns the JSON body.
pub async fn expect_status(res: Response, status: StatusCode) -> Value {
    let actual = res.status();
    let text = res.text().await.expect("a body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// Asserts an error envelope with this status and code; returns the body.
pub async fn expect_error(res: Response, status: StatusCode, code: &str) -> Value {
    let body = expect_status(res, status).await;
    assert_eq!(body["ok"], json!(false), "{body}");
    assert_eq!(body["error"]["code"], json!(code), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["details"].is_array(), "{body}");
    body
}

/// Asserts a 400 validation error naming `field`.
pub async fn expect_invalid_field(res: Response, field: &str) -> Value {
    let body = expect_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert!(
        fields.contains(&field),
        "expected `{field}` in {fields:?}: {body}"
    );
    body
}

/// A database of one test, removed when the test ends.
pub struct TestDatabase {
    /// SQLite: the file. PostgreSQL: the database as the superuser of
    /// `TEST_DATABASE_URL` (for looking behind the server's back).
    pub url: String,
    kind: TestDatabaseKind,
}

enum TestDatabaseKind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
        /// `postgres://` and the server's address, without a user.
        server: String,
    },
}

/// The role that owns each PostgreSQL test database and migrates it.
pub const PG_OWNER_ROLE: &str = "lr_test_owner";
/// The role the server connects as: it owns nothing (row-level security).
pub const PG_APP_ROLE: &str = "lr_test_app";

impl TestDatabase {
    /// A fresh database: a PostgreSQL database of its own when
    /// `TEST_DATABASE_URL` is set (dropped with this value), else a SQLite
    /// file in a temporary folder.
    pub async fn create() -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => Self::create_postgres(admin_url).await,
            _ => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}/test.db", dir.path().display());
                Self {
                    url,
                    kind: TestDatabaseKind::Sqlite(dir),
                }
            }
        }
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self.kind, TestDatabaseKind::Postgres { .. })
    }

    /// The URL the server connects with: on PostgreSQL as [`PG_APP_ROLE`].
    pub fn app_url(&self) -> String {
        self.as_role(PG_APP_ROLE)
            .unwrap_or_else(|| self.url.clone())
    }

    /// On PostgreSQL, the URL of the tables' owner, [`PG_OWNER_ROLE`]
    /// (`DATABASE_MIGRATION_URL`).
    pub fn owner_url(&self) -> Option<String> {
        self.as_role(PG_OWNER_ROLE)
    }

    /// The server's environment for this database (`DATABASE_URL`, and on
    /// PostgreSQL `DATABASE_MIGRATION_URL`).
    pub fn server_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("DATABASE_URL", self.app_url())];
        if let Some(owner) = self.owner_url() {
            env.push(("DATABASE_MIGRATION_URL", owner));
        }
        env
    }

    fn as_role(&self, role: &str) -> Option<String> {
        match &self.kind {
            TestDatabaseKind::Postgres { server, name, .. } => {
                Some(format!("postgres://{role}:{role}@{server}/{name}"))
            }
            TestDatabaseKind::Sqlite(_) => None,
        }
    }

    async fn create_postgres(admin_url: String) -> Self {
        let name = format!("lr_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_connection(&admin_url).await;
        ensure_test_roles(&admin).await;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\" OWNER {PG_OWNER_ROLE}"))
            .await
            .expect("test database created");
        let _ = admin.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .expect("TEST_DATABASE_URL of the form postgres://user@host:port/db");
        let server = base
            .split_once("://")
            .map(|(_, rest)| rest.rsplit_once('@').map_or(rest, |(_, host)| host))
            .expect("TEST_DATABASE_URL of the form postgres://user@host:port/db")
            .to_owned();
        Self {
            url: format!("{base}/{name}"),
            kind: TestDatabaseKind::Postgres {
                admin_url,
                name,
                server,
            },
        }
    }
}

/// Creates the owner and the application roles once per server: plain
/// login roles, neither superuser nor exempt from row-level security.
/// Concurrent tests may race to create them; whoever loses ignores it.
async fn ensure_test_roles(admin: &sea_orm::DatabaseConnection) {
    for role in [PG_OWNER_ROLE, PG_APP_ROLE] {
        admin
            .execute_unprepared(&format!(
                "DO $$ BEGIN \
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN \
                     BEGIN CREATE ROLE {role} LOGIN PASSWORD '{role}' NOSUPERUSER NOBYPASSRLS; \
                     EXCEPTION WHEN OTHERS THEN NULL; END; \
                   END IF; END $$"
            ))
            .await
            .expect("test roles created");
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabaseKind::Postgres {
            admin_url, name, ..
        } = &self.kind
        {
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
