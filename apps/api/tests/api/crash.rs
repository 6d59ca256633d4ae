//! Crash safety: the real server is killed with SIGKILL in the middle of
//! concurrent lead ingestion, then restarted on the same database. Every
//! lead that was answered 201 must be there exactly once with exactly one
//! routing outcome, and nothing half-written may remain: no lead left `new`,
//! no proposal without its lead's status, no pool counter without its
//! proposal. Runs on SQLite, and on PostgreSQL when `TEST_DATABASE_URL` is
//! set (in a database of its own, dropped afterwards). SLA timers due while
//! the server was down fire after it restarts, once even with two servers.
//!
//! No timing is asserted: the timeouts only keep a broken server from
//! hanging the suite.

use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Client, Method, RequestBuilder, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{DEV_KEY, JWT_SECRET, PASSWORD, TestDatabase, expect_status};

const BIN: &str = env!("CARGO_BIN_EXE_lead-routing");

/// Requests in flight while the server is killed.
const IN_FLIGHT: usize = 8;
/// Acknowledged leads to wait for before the kill...
const ACKS_BEFORE_KILL: usize = 40;
/// ...but never before this much ingestion time...
const MIN_BEFORE_KILL: Duration = Duration::from_millis(300);
/// ...nor after this much.
const MAX_BEFORE_KILL: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_ingestion_loses_nothing_acknowledged() {
    // A guard against hanging, not a performance assertion.
    tokio::time::timeout(Duration::from_secs(120), crash_and_recover())
        .await
        .expect("the crash test finishes (guard: 120 s)");
}

async fn crash_and_recover() {
    let db = CrashDb::create().await;
    let client = Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();

    let mut server = db.start();
    let tenants = set_up(&client, &server.address).await;

    // Concurrent ingestion into both organizations, then SIGKILL mid-flight.
    let acked: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let unanswered: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (client, tenants, acked, unanswered, stop, next) = (
            client.clone(),
            tenants.clone(),
            acked.clone(),
            unanswered.clone(),
            stop.clone(),
            next.clone(),
        );
        let address = server.address.clone();
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let tenant = usize::try_from(i % 2).unwrap();
                let external_id = format!("crash-{i}");
                let res = tenants[tenant]
                    .request(&client, &address, Method::POST, "/leads")
                    .json(&lead_body(&external_id, i))
                    .send()
                    .await;
                let answer = match res {
                    Ok(res) => {
                        let status = res.status();
                        res.json::<Value>().await.ok().map(|body| (status, body))
                    }
                    Err(_) => None,
                };
                let sent = Sent {
                    tenant,
                    external_id,
                    i,
                };
                match answer {
                    Some((StatusCode::CREATED, body)) => acked.lock().unwrap().push(Ack {
                        lead_id: body["data"]["lead"]["id"].as_str().unwrap().to_owned(),
                        sent,
                    }),
                    Some((status, body)) => {
                        panic!("POST /leads before the crash answered {status}: {body}")
                    }
                    // The server is gone (the kill): this worker is done.
                    None => {
                        unanswered.lock().unwrap().push(sent);
                        break;
                    }
                }
            }
        }));
    }
    let began = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let n = acked.lock().unwrap().len();
        let elapsed = began.elapsed();
        if (n >= ACKS_BEFORE_KILL && elapsed >= MIN_BEFORE_KILL) || elapsed >= MAX_BEFORE_KILL {
            break;
        }
    }
    server.sigkill();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        tokio::time::timeout(Duration::from_secs(30), w)
            .await
            .expect("an ingestion worker stops")
            .expect("an ingestion worker did not panic");
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let unanswered = std::mem::take(&mut *unanswered.lock().unwrap());
    assert!(
        !acked.is_empty(),
        "some leads were acknowledged before the kill"
    );
    eprintln!(
        "killed after {} acknowledged leads, {} requests unanswered",
        acked.len(),
        unanswered.len()
    );

    // The database as the crash left it, before anything touches it again.
    db.assert_nothing_half_written().await;

    let server = db.start();
    let address = server.address.clone();

    // Acknowledged leads replay as known (200, the same lead).
    for ack in &acked {
        let res = tenants[ack.sent.tenant]
            .request(&client, &address, Method::POST, "/leads")
            .json(&lead_body(&ack.sent.external_id, ack.sent.i))
            .send()
            .await
            .unwrap();
        let body = expect_status(res, StatusCode::OK).await;
        assert_eq!(body["data"]["lead"]["id"], json!(ack.lead_id), "{body}");
    }
    // A client retrying what was never answered gets it exactly once:
    // created now (201), or found (200) when it was committed before the
    // kill but its answer was lost.
    let mut committed_unanswered = 0;
    for Sent {
        tenant,
        external_id,
        i,
    } in &unanswered
    {
        let res = tenants[*tenant]
            .request(&client, &address, Method::POST, "/leads")
            .json(&lead_body(external_id, *i))
            .send()
            .await
            .unwrap();
        match res.status() {
            StatusCode::OK => committed_unanswered += 1,
            StatusCode::CREATED => {}
            status => panic!(
                "retry of {external_id}: {status}: {}",
                res.text().await.unwrap()
            ),
        }
    }
    eprintln!("of the unanswered requests, {committed_unanswered} had been committed");

    let acked_ids: HashSet<&str> = acked.iter().map(|a| a.sent.external_id.as_str()).collect();
    let mut seen_acked = 0;
    for (t, tenant) in tenants.iter().enumerate() {
        let leads = tenant.list(&client, &address, "/leads?limit=1000").await;
        let proposals = tenant
            .list(&client, &address, "/manager/proposals?limit=1000&offset=0")
            .await;
        let mut by_external: HashMap<&str, Vec<&Value>> = HashMap::new();
        for lead in &leads {
            by_external
                .entry(lead["externalId"].as_str().unwrap())
                .or_default()
                .push(lead);
        }
        // Every lead sent to this organization, answered or retried, exists
        // exactly once.
        for ack in acked.iter().filter(|a| a.sent.tenant == t) {
            let external_id = ack.sent.external_id.as_str();
            let found = by_external.get(external_id).map(Vec::len);
            assert_eq!(found, Some(1), "acknowledged lead {external_id}");
            assert_eq!(by_external[external_id][0]["id"], json!(ack.lead_id));
            seen_acked += 1;
        }
        for sent in unanswered.iter().filter(|u| u.tenant == t) {
            let found = by_external.get(sent.external_id.as_str()).map(Vec::len);
            assert_eq!(found, Some(1), "retried lead {}", sent.external_id);
        }
        assert!(by_external.values().all(|same| same.len() == 1));
        // Exactly one routing outcome per lead.
        let mut per_lead: HashMap<&str, Vec<&Value>> = HashMap::new();
        for p in &proposals {
            per_lead
                .entry(p["leadId"].as_str().unwrap())
                .or_default()
                .push(p);
        }
        let lead_ids: HashSet<&str> = leads.iter().map(|l| l["id"].as_str().unwrap()).collect();
        assert!(
            per_lead.keys().all(|id| lead_ids.contains(id)),
            "every proposal has its lead"
        );
        let mut routed = 0;
        for lead in &leads {
            let id = lead["id"].as_str().unwrap();
            let mine = per_lead.get(id).cloned().unwrap_or_default();
            let expected = tenant.expected_status(lead);
            assert_eq!(lead["status"], json!(expected), "{lead}");
            match expected {
                "proposed" => {
                    assert_eq!(mine.len(), 1, "one proposal for {lead}");
                    assert_eq!(mine[0]["status"], "pending");
                    assert_eq!(lead["assignedAgentId"], Value::Null);
                    routed += 1;
                }
                "assigned" => {
                    assert_eq!(mine.len(), 1, "one proposal for {lead}");
                    assert_eq!(mine[0]["status"], "approved");
                    assert_eq!(mine[0]["agentId"], lead["assignedAgentId"]);
                    routed += 1;
                }
                _ => {
                    assert!(mine.is_empty(), "no proposal for unrouted {lead}");
                    assert!(lead["unroutedReason"].is_string(), "{lead}");
                }
            }
        }
        assert_eq!(proposals.len(), routed, "one proposal per routed lead");
        // Round robin stayed exact through the crash: the pool's cursor was
        // committed with each proposal, or not at all.
        let mut per_agent: HashMap<&str, usize> = HashMap::new();
        for p in &proposals {
            *per_agent.entry(p["agentId"].as_str().unwrap()).or_default() += 1;
        }
        let counts: Vec<usize> = tenant
            .pool_members
            .iter()
            .map(|a| per_agent.get(a.as_str()).copied().unwrap_or(0))
            .collect();
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(max - min <= 1, "round robin over {counts:?}");
        assert_eq!(counts.iter().sum::<usize>(), routed);
    }
    assert_eq!(seen_acked, acked_ids.len());

    // And the restarted server goes on routing.
    let res = tenants[0]
        .request(&client, &address, Method::POST, "/leads")
        .json(&lead_body("after-restart", 1))
        .send()
        .await
        .unwrap();
    let body = expect_status(res, StatusCode::CREATED).await;
    assert_eq!(body["data"]["lead"]["status"], "proposed");
    drop(server);
    db.assert_nothing_half_written().await;
}

/// A lead sent: to which organization, its `externalId`, its number.
#[derive(Debug)]
struct Sent {
    tenant: usize,
    external_id: String,
    i: u64,
}

/// A lead answered 201.
#[derive(Debug)]
struct Ack {
    sent: Sent,
    lead_id: String,
}

/// The body of lead `i`: one in three goes to a pool where nobody is
/// available (unrouted in the manual-review organization).
fn lead_body(external_id: &str, i: u64) -> Value {
    json!({
        "externalId": external_id,
        "name": format!("Crash prospect {external_id}"),
        "email": format!("{external_id}@prospect{}.test", i % 7),
        "country": if i.is_multiple_of(3) { "ZZ" } else { "FR" },
        "score": i % 101,
    })
}

/// An organization of the test and the credential that acts in it.
#[derive(Debug, Clone)]
struct Tenant {
    /// `Bearer <token>` of its admin, or the development key acting in it
    /// with `X-Org-Id`.
    bearer: Option<String>,
    org_id: String,
    auto_approve: bool,
    /// The members of its round-robin pool.
    pool_members: Vec<String>,
}

impl Tenant {
    fn request(
        &self,
        client: &Client,
        address: &str,
        method: Method,
        path: &str,
    ) -> RequestBuilder {
        let req = client.request(method, format!("{address}{path}"));
        match &self.bearer {
            Some(token) => req.bearer_auth(token),
            None => req
                .header("x-api-key", DEV_KEY)
                .header("x-org-id", &self.org_id),
        }
    }

    async fn send(
        &self,
        client: &Client,
        address: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> Value {
        let res = self
            .request(client, address, method, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Every row of a list route (the test stays under one page).
    async fn list(&self, client: &Client, address: &str, path: &str) -> Vec<Value> {
        let res = self
            .request(client, address, Method::GET, path)
            .send()
            .await
            .unwrap();
        let body = expect_status(res, StatusCode::OK).await;
        let items = body["data"].as_array().unwrap().clone();
        assert_eq!(body["pagination"]["total"], json!(items.len()), "one page");
        items
    }

    /// The one outcome a lead of this organization can have.
    fn expected_status(&self, lead: &Value) -> &'static str {
        if self.auto_approve {
            "assigned"
        } else if lead["country"] == "ZZ" {
            "unrouted"
        } else {
            "proposed"
        }
    }
}

/// Two organizations, routing differently:
/// - `crash-a`, reviewed by managers (proposals stay pending), its admin
///   signed in with a token; leads from `ZZ` go by rule to a pool whose only
///   member is away, so they end unrouted;
/// - `crash-b`, auto-approving (leads end assigned), driven with the
///   development key acting in it.
async fn set_up(client: &Client, address: &str) -> Vec<Tenant> {
    let dev = |method: Method, path: &str| {
        client
            .request(method, format!("{address}{path}"))
            .header("x-api-key", DEV_KEY)
    };
    let mut tenants = Vec::new();
    for (name, auto_approve) in [("crash-a", false), ("crash-b", true)] {
        let res = dev(Method::POST, "/organizations")
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        let org = expect_status(res, StatusCode::CREATED).await;
        let org_id = org["data"]["id"].as_str().unwrap().to_owned();
        let bearer = if auto_approve {
            None
        } else {
            let email = format!("admin@{name}.test");
            let res = client
                .post(format!("{address}/auth/register"))
                .json(
                    &json!({"username": "admin", "email": email, "password": PASSWORD,
                              "role": "admin", "orgId": org_id}),
                )
                .send()
                .await
                .unwrap();
            expect_status(res, StatusCode::CREATED).await;
            let res = client
                .post(format!("{address}/auth/login"))
                .json(&json!({"email": email, "password": PASSWORD, "orgId": org_id}))
                .send()
                .await
                .unwrap();
            let login = expect_status(res, StatusCode::OK).await;
            Some(login["tokens"]["accessToken"].as_str().unwrap().to_owned())
        };
        let mut tenant = Tenant {
            bearer,
            org_id: org_id.clone(),
            auto_approve,
            pool_members: Vec::new(),
        };
        let members = if auto_approve { 3 } else { 4 };
        for i in 0..members {
            let agent = tenant
                .send(
                    client,
                    address,
                    Method::POST,
                    "/agents",
                    json!({"name": format!("Agent {i}"), "email": format!("agent{i}@{name}.test")}),
                )
                .await;
            tenant
                .pool_members
                .push(agent["data"]["id"].as_str().unwrap().to_owned());
        }
        let pool = tenant
            .send(
                client,
                address,
                Method::POST,
                "/routing/pools",
                json!({"name": "main", "method": "round_robin", "memberIds": tenant.pool_members}),
            )
            .await;
        let settings =
            json!({"defaultPoolId": pool["data"]["id"], "allowAutoRouting": auto_approve});
        if !auto_approve {
            let away = tenant
                .send(
                    client,
                    address,
                    Method::POST,
                    "/agents",
                    json!({"name": "Away", "email": format!("away@{name}.test"), "status": "away"}),
                )
                .await;
            let nobody = tenant
                .send(
                    client,
                    address,
                    Method::POST,
                    "/routing/pools",
                    json!({"name": "nobody", "method": "round_robin", "memberIds": [away["data"]["id"]]}),
                )
                .await;
            tenant
                .send(
                    client,
                    address,
                    Method::POST,
                    "/routing/rules",
                    json!({"name": "ZZ", "priority": 1, "poolId": nobody["data"]["id"],
                           "conditions": [{"field": "country", "op": "eq", "value": "ZZ"}]}),
                )
                .await;
        }
        tenant
            .send(
                client,
                address,
                Method::PUT,
                &format!("/organizations/{org_id}"),
                json!({"settings": settings}),
            )
            .await;
        tenants.push(tenant);
    }
    tenants
}

/// The real binary, serving on a port of its own.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    /// Starts `lead-routing` on `db_url` (migrating it) with more
    /// environment variables, and waits until it listens.
    fn start_with(db_url: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command.envs(env.iter().copied());
        let mut child = command
            .env("DATABASE_URL", db_url)
            .env("APP_ENV", "development")
            .env("JWT_SECRET", JWT_SECRET)
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("WORKERS", "2")
            .env(
                "RUST_LOG",
                "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn",
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        // Reads the address, then keeps draining the log so that the server
        // never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let port = line
                    .split("listening on http://127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|p| p.parse::<u16>().ok());
                if let Some(port) = port
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(port);
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(port) => Self {
                child,
                address: format!("http://127.0.0.1:{port}"),
            },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "the server did not start ({status:?}): {}",
                    errors.join().unwrap_or_default()
                );
            }
        }
    }

    /// `kill -KILL`: no shutdown of any kind.
    fn sigkill(&mut self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -KILL");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(exit) = self.child.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(exit.signal(), Some(9), "killed by SIGKILL: {exit:?}");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the server survived SIGKILL");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The crash test's database, shared by both server runs (the suite's own
/// test database: dropped at the end on PostgreSQL).
struct CrashDb(TestDatabase);

impl CrashDb {
    async fn create() -> Self {
        Self(TestDatabase::create().await)
    }

    fn url(&self) -> &str {
        &self.0.url
    }

    /// The real binary on this database, connected as the server is in
    /// production (on PostgreSQL a role that owns nothing).
    fn start(&self) -> Server {
        self.start_with(&[])
    }

    /// As [`CrashDb::start`], with more environment variables.
    fn start_with(&self, extra: &[(&str, &str)]) -> Server {
        let env = self.0.server_env();
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra);
        Server::start_with(&self.0.app_url(), &env)
    }

    /// Straight from the database: no lead stuck in `new` (the state a
    /// routing step writes first), every pool turn counted has its
    /// proposal, and on SQLite the file is sound.
    async fn assert_nothing_half_written(&self) {
        let conn = sea_orm::Database::connect(self.url()).await.unwrap();
        // One statement, so one snapshot on both engines: a commit landing
        // between two separate counts could not make them disagree.
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                "SELECT \
                   (SELECT COUNT(*) FROM leads WHERE status = 'new'), \
                   (SELECT CAST(COALESCE(SUM(assignments), 0) AS BIGINT) FROM pool_members), \
                   (SELECT COUNT(*) FROM proposals WHERE pool_id IS NOT NULL), \
                   (SELECT COUNT(*) FROM leads WHERE status IN ('proposed', 'assigned') \
                      AND NOT EXISTS (SELECT 1 FROM proposals p \
                        WHERE p.org_id = leads.org_id AND p.lead_id = leads.id))"
                    .to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        let n = |i: usize| row.try_get_by_index::<i64>(i).unwrap();
        assert_eq!(n(0), 0, "a lead left half-routed (status new)");
        assert_eq!(
            n(1),
            n(2),
            "pool turns without their proposal, or the reverse"
        );
        assert_eq!(n(3), 0, "a routed lead without its proposal");
        if !self.0.is_postgres() {
            let row = conn
                .query_one_raw(sea_orm::Statement::from_string(
                    conn.get_database_backend(),
                    "PRAGMA integrity_check".to_owned(),
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "ok");
        }
        let _ = conn.close().await;
    }
}

/// SLA timers are rows, not sleeps: leads whose review deadline passes
/// while no server runs are routed again by the next server to start; with
/// several servers on one PostgreSQL database, each timer fires once (every
/// lead walks through each agent exactly once, one `proposal.expired` per
/// proposal). SQLite is one process: one server restarts there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_due_while_the_server_was_down_fire_once_after_restart() {
    tokio::time::timeout(Duration::from_secs(120), timers_survive_restarts())
        .await
        .expect("the timer test finishes (guard: 120 s)");
}

async fn timers_survive_restarts() {
    const LEADS: usize = 6;
    let db = CrashDb::create().await;
    let client = Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut first = db.start();
    let dev = |address: &str, method: Method, path: &str, org: Option<&str>| {
        let req = client
            .request(method, format!("{address}{path}"))
            .header("x-api-key", DEV_KEY);
        match org {
            Some(org) => req.header("x-org-id", org.to_owned()),
            None => req,
        }
    };
    let res = dev(&first.address, Method::POST, "/organizations", None)
        .json(&json!({"name": "timers"}))
        .send()
        .await
        .unwrap();
    let org = expect_status(res, StatusCode::CREATED).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tenant = Tenant {
        bearer: None,
        org_id: org.clone(),
        auto_approve: false,
        pool_members: Vec::new(),
    };
    let mut members = Vec::new();
    for i in 0..3 {
        let agent = tenant
            .send(
                &client,
                &first.address,
                Method::POST,
                "/agents",
                json!({"name": format!("Agent {i}"), "email": format!("a{i}@timers.test")}),
            )
            .await;
        members.push(agent["data"]["id"].clone());
    }
    let pool = tenant
        .send(
            &client,
            &first.address,
            Method::POST,
            "/routing/pools",
            json!({"name": "all", "method": "round_robin", "memberIds": members}),
        )
        .await;
    // Long enough to post every lead and kill the server before any is due.
    tenant
        .send(
            &client,
            &first.address,
            Method::PUT,
            &format!("/organizations/{org}"),
            json!({"settings": {"defaultPoolId": pool["data"]["id"], "reviewSlaSeconds": 2}}),
        )
        .await;
    let mut leads = Vec::new();
    for i in 0..LEADS {
        let routed = tenant
            .send(
                &client,
                &first.address,
                Method::POST,
                "/leads",
                json!({"name": format!("Lead {i}")}),
            )
            .await;
        leads.push(routed["data"]["lead"]["id"].as_str().unwrap().to_owned());
    }
    first.sigkill();
    // Every first deadline passes while nothing runs.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let instances = if db.0.is_postgres() { 2 } else { 1 };
    let servers: Vec<Server> = (0..instances).map(|_| db.start()).collect();
    let address = servers[0].address.clone();

    let deadline = Instant::now() + Duration::from_secs(60);
    for lead in &leads {
        loop {
            let res = tenant
                .request(&client, &address, Method::GET, &format!("/leads/{lead}"))
                .send()
                .await
                .unwrap();
            let got = expect_status(res, StatusCode::OK).await;
            if got["data"]["lead"]["status"] == "unrouted" {
                break;
            }
            assert!(Instant::now() < deadline, "never unrouted: {got}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let res = tenant
            .request(
                &client,
                &address,
                Method::GET,
                &format!("/leads/{lead}/timeline"),
            )
            .send()
            .await
            .unwrap();
        let events = expect_status(res, StatusCode::OK).await["data"]
            .as_array()
            .unwrap()
            .clone();
        let count = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
        let proposed: HashSet<&str> = events
            .iter()
            .filter(|e| e["type"] == "proposal.created")
            .map(|e| e["data"]["agentId"].as_str().unwrap())
            .collect();
        assert_eq!(count("proposal.created"), 3, "{lead}: {events:?}");
        assert_eq!(proposed.len(), 3, "each agent once");
        assert_eq!(count("proposal.expired"), 3, "each timer fired once");
        assert_eq!(count("lead.sla_breached"), 1);
    }
    drop(servers);
}

/// Webhook deliveries are rows written with their events: events committed
/// by a server killed before it sent anything are delivered by the next
/// one, every one of them, and with two senders on one PostgreSQL database
/// none is delivered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_survive_a_sigkill_and_two_senders_never_double_send() {
    tokio::time::timeout(Duration::from_secs(120), deliveries_survive())
        .await
        .expect("the delivery test finishes (guard: 120 s)");
}

async fn deliveries_survive() {
    const LEADS: usize = 15;
    let db = CrashDb::create().await;
    let receiver = crate::receiver::Receiver::start();
    let client = Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let quick = [
        ("WEBHOOK_RETRY_BASE_MS", "200"),
        ("WEBHOOK_TIMEOUT_SECS", "2"),
    ];
    // The first server commits events but sends nothing: every delivery is
    // pending when it dies.
    let mut first = db.start_with(&[quick[0], quick[1], ("WEBHOOK_SENDER", "off")]);
    let res = client
        .post(format!("{}/organizations", first.address))
        .header("x-api-key", DEV_KEY)
        .json(&json!({"name": "hooks"}))
        .send()
        .await
        .unwrap();
    let org = expect_status(res, StatusCode::CREATED).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tenant = Tenant {
        bearer: None,
        org_id: org.clone(),
        auto_approve: true,
        pool_members: Vec::new(),
    };
    let agent = tenant
        .send(
            &client,
            &first.address,
            Method::POST,
            "/agents",
            json!({"name": "Ann", "email": "ann@hooks.test"}),
        )
        .await;
    let pool = tenant
        .send(
            &client,
            &first.address,
            Method::POST,
            "/routing/pools",
            json!({"name": "all", "method": "round_robin", "memberIds": [agent["data"]["id"]]}),
        )
        .await;
    tenant
        .send(
            &client,
            &first.address,
            Method::PUT,
            &format!("/organizations/{org}"),
            json!({"settings": {"defaultPoolId": pool["data"]["id"], "allowAutoRouting": true}}),
        )
        .await;
    tenant
        .send(
            &client,
            &first.address,
            Method::POST,
            "/webhooks",
            json!({"url": receiver.url("/crm"), "events": ["lead.*", "proposal.*"]}),
        )
        .await;
    for i in 0..LEADS {
        tenant
            .send(
                &client,
                &first.address,
                Method::POST,
                "/leads",
                json!({"name": format!("Lead {i}")}),
            )
            .await;
    }
    first.sigkill();
    assert!(
        receiver.received("/crm").is_empty(),
        "nothing sent before the kill"
    );

    let instances = if db.0.is_postgres() { 2 } else { 1 };
    let servers: Vec<Server> = (0..instances).map(|_| db.start_with(&quick)).collect();
    let res = tenant
        .request(
            &client,
            &servers[0].address,
            Method::GET,
            "/audit?limit=500",
        )
        .send()
        .await
        .unwrap();
    let events = expect_status(res, StatusCode::OK).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let kind = e["type"].as_str().unwrap();
            kind.starts_with("lead.") || kind.starts_with("proposal.")
        })
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect::<HashSet<String>>();
    // lead.created, proposal.created, lead.assigned per lead.
    assert_eq!(events.len(), LEADS * 3);
    let got = receiver.wait_for("/crm", |r| r.len() >= events.len()).await;
    // A little longer, to see a double send if there were one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_after = receiver.received("/crm");
    assert_eq!(got_after.len(), got.len(), "no delivery sent twice");
    let delivered: HashSet<String> = got_after
        .iter()
        .map(|r| r.header("x-lead-routing-delivery").to_owned())
        .collect();
    assert_eq!(delivered, events, "every committed event delivered once");
    drop(servers);
}
