//! `loadgen http`: concurrent clients driving a running server through the
//! main job: authenticated `POST /leads` (routed at once) and, every tenth
//! request, `GET /manager/proposals`.
//!
//! The clients may share out several servers (`--url` repeated: instances
//! on one database) and, with `--setup --orgs N`, several organizations,
//! each with its own key: client `i` sends to server `i mod servers` as
//! organization `i mod N`.

use std::{sync::Arc, time::Instant};

use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::{
    Error, RunArgs,
    report::{Kind, Recorder, RunMeta},
    workload::{LIST_EVERY, LIST_LIMIT, Window, lead_input, lead_json, run_tag},
};

/// Options of `loadgen http`.
#[derive(Debug, clap::Args)]
pub struct HttpArgs {
    /// Base URL of the running server; repeated, servers on one database
    /// that the clients share out in turn (the setup uses the first; with
    /// `--auth jwt` they must share `JWT_SECRET`).
    #[arg(
        long = "url",
        value_name = "URL",
        default_value = "http://127.0.0.1:3000"
    )]
    urls: Vec<String>,
    /// First create an organization, its admin, agents, a round-robin pool
    /// (its `defaultPoolId`) and an admin API key, through the API with the
    /// development key.
    #[arg(long)]
    setup: bool,
    /// With `--setup`: this many organizations, each with its own key; the
    /// clients share them out in turn.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    orgs: u16,
    /// The platform key `--setup` uses (development mode only).
    #[arg(long, env = "LOADGEN_DEV_KEY", default_value = "dev_key_123")]
    dev_key: String,
    /// Without `--setup`: an API key (manager or admin) of an organization
    /// whose leads route somewhere.
    #[arg(long, env = "LOADGEN_API_KEY")]
    api_key: Option<String>,
    /// Without `--setup`: an access token (manager or admin) instead of a key.
    #[arg(long, env = "LOADGEN_TOKEN")]
    token: Option<String>,
    /// Which credential the workers send after `--setup`.
    #[arg(long, value_enum, default_value_t = AuthMode::ApiKey)]
    auth: AuthMode,
    /// The server's process id, to report its CPU use (Linux); repeated,
    /// the servers' use added up.
    #[arg(long)]
    server_pid: Vec<u32>,
    #[command(flatten)]
    run: RunArgs,
}

/// The credential of the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// `x-api-key: <key>` (an admin-role key of the organization).
    ApiKey,
    /// `Authorization: Bearer <access token>` of the organization's admin.
    Jwt,
}

/// A credential to send.
#[derive(Debug, Clone)]
enum Credential {
    ApiKey(String),
    Bearer(String),
}

impl Credential {
    fn apply(&self, req: RequestBuilder) -> RequestBuilder {
        match self {
            Credential::ApiKey(key) => req.header("x-api-key", key),
            Credential::Bearer(token) => req.bearer_auth(token),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Credential::ApiKey(_) => "api-key",
            Credential::Bearer(_) => "jwt",
        }
    }
}

/// Runs `loadgen http`.
///
/// # Errors
/// A failed setup or an unwritable report.
pub async fn run(args: HttpArgs) -> Result<(), Error> {
    let bases: Vec<Arc<str>> = args
        .urls
        .iter()
        .map(|url| url.trim_end_matches('/').into())
        .collect();
    let setup_base = bases.first().ok_or("pass --url")?.clone();
    let client = Client::builder()
        .pool_max_idle_per_host(args.run.concurrency)
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let tag = run_tag();
    let credentials = if args.setup {
        let mut credentials = Vec::with_capacity(usize::from(args.orgs));
        for i in 0..args.orgs {
            let name = if args.orgs == 1 {
                format!("load-{tag}")
            } else {
                format!("load-{tag}-{i}")
            };
            let org = setup(&client, &setup_base, &args.dev_key, &name, args.run.agents).await?;
            eprintln!(
                "setup: organization {} with {} agents, a round-robin pool and an admin API key",
                org.org_id, args.run.agents
            );
            credentials.push(match args.auth {
                AuthMode::ApiKey => Credential::ApiKey(org.api_key),
                AuthMode::Jwt => Credential::Bearer(org.access_token),
            });
        }
        credentials
    } else if args.orgs > 1 {
        return Err("--orgs needs --setup".into());
    } else if let Some(key) = args.api_key {
        vec![Credential::ApiKey(key)]
    } else if let Some(token) = args.token {
        vec![Credential::Bearer(token)]
    } else {
        return Err("pass --setup, --api-key or --token".into());
    };
    let window = Window::after(args.run.warmup, args.run.duration);
    let workers: Vec<_> = (0..args.run.concurrency)
        .map(|id| {
            tokio::spawn(worker(
                client.clone(),
                bases[id % bases.len()].clone(),
                credentials[id % credentials.len()].clone(),
                format!("{tag}w"),
                id,
                window,
            ))
        })
        .collect();
    tokio::time::sleep_until(window.start.into()).await;
    let cpu_before = crate::cpu::Sample::now(&args.server_pid);
    let mut total = Recorder::default();
    for w in workers {
        total.merge(&w.await?);
    }
    let cpu = cpu_before.until(&crate::cpu::Sample::now(&args.server_pid));
    let elapsed = Instant::now().saturating_duration_since(window.start);
    let meta = RunMeta {
        mode: "http".into(),
        label: if args.run.label.is_empty() {
            bases.join(" ")
        } else {
            args.run.label.clone()
        },
        auth: Some(credentials[0].name().into()),
        concurrency: args.run.concurrency,
    };
    total
        .report(meta, elapsed, cpu)
        .emit(args.run.json, args.run.json_out.as_deref())
}

/// One client: a request at a time until the window closes.
async fn worker(
    client: Client,
    base: Arc<str>,
    credential: Credential,
    run: String,
    id: usize,
    window: Window,
) -> Recorder {
    let mut rec = Recorder::default();
    let list_url = format!("{base}/manager/proposals?limit={LIST_LIMIT}");
    let leads_url = format!("{base}/leads");
    let mut n: u64 = 0;
    while window.open() {
        n += 1;
        let began = Instant::now();
        let (kind, req) = if n.is_multiple_of(LIST_EVERY) {
            (Kind::List, client.get(&list_url))
        } else {
            let body = lead_json(&lead_input(&run, id, n));
            (Kind::Ingest, client.post(&leads_url).json(&body))
        };
        let outcome = match credential.apply(req).send().await {
            // The whole body is read: a response is done when it has arrived.
            Ok(res) => {
                let status = res.status();
                res.bytes().await.map(|_| status)
            }
            Err(e) => Err(e),
        };
        if !window.counts(began) {
            continue;
        }
        let latency = began.elapsed();
        match (kind, outcome) {
            (Kind::Ingest, Ok(StatusCode::CREATED)) => rec.ingested(latency, true),
            (Kind::Ingest, Ok(StatusCode::OK)) => rec.ingested(latency, false),
            (Kind::List, Ok(StatusCode::OK)) => rec.listed(latency),
            (kind, Ok(status)) => rec.failed(kind, status.as_u16()),
            (kind, Err(e)) if e.is_timeout() => rec.failed(kind, "timeout"),
            (kind, Err(_)) => rec.failed(kind, "transport"),
        }
    }
    rec
}

/// What `--setup` created.
#[derive(Debug)]
struct LoadOrg {
    org_id: String,
    api_key: String,
    access_token: String,
}

/// Creates organization `name`, ready to route: its first admin (registered
/// without credentials, signed in), `agents` agents, a round-robin pool over
/// them named by `settings.defaultPoolId`, and an admin API key.
async fn setup(
    client: &Client,
    base: &str,
    dev_key: &str,
    name: &str,
    agents: usize,
) -> Result<LoadOrg, Error> {
    let call = |method: Method, path: &str, cred: Option<&Credential>, body: Option<Value>| {
        let mut req = client.request(method, format!("{base}{path}"));
        if let Some(cred) = cred {
            req = cred.apply(req);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let path = path.to_owned();
        async move {
            let res = req.send().await?;
            let status = res.status();
            let text = res.text().await?;
            if !status.is_success() {
                return Err(Error::from(format!("{path}: {status}: {text}")));
            }
            Ok(serde_json::from_str::<Value>(&text)?)
        }
    };
    let str_at = |v: &Value, ptr: &str| -> Result<String, Error> {
        v.pointer(ptr)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::from(format!("no {ptr} in {v}")))
    };
    let dev = Credential::ApiKey(dev_key.to_owned());
    let org = call(
        Method::POST,
        "/organizations",
        Some(&dev),
        Some(json!({"name": name, "displayName": format!("Load test {name}")})),
    )
    .await?;
    let org_id = str_at(&org, "/data/id")?;
    let email = format!("admin@{name}.test");
    let password = format!("load-{}", run_tag());
    call(
        Method::POST,
        "/auth/register",
        None,
        Some(
            json!({"username": "admin", "email": email, "password": password,
                    "role": "admin", "orgId": org_id}),
        ),
    )
    .await?;
    let login = call(
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"email": email, "password": password, "orgId": org_id})),
    )
    .await?;
    let access_token = str_at(&login, "/tokens/accessToken")?;
    let admin = Credential::Bearer(access_token.clone());
    let mut member_ids = Vec::with_capacity(agents);
    for i in 0..agents {
        let agent = call(
            Method::POST,
            "/agents",
            Some(&admin),
            Some(json!({"name": format!("Agent {i}"), "email": format!("agent{i}@{name}.test")})),
        )
        .await?;
        member_ids.push(str_at(&agent, "/data/id")?);
    }
    let pool = call(
        Method::POST,
        "/routing/pools",
        Some(&admin),
        Some(json!({"name": "main", "method": "round_robin", "memberIds": member_ids})),
    )
    .await?;
    let pool_id = str_at(&pool, "/data/id")?;
    call(
        Method::PUT,
        &format!("/organizations/{org_id}"),
        Some(&admin),
        Some(json!({"settings": {"defaultPoolId": pool_id}})),
    )
    .await?;
    let key = call(
        Method::POST,
        "/api-keys",
        Some(&admin),
        Some(json!({"name": "loadgen", "role": "admin"})),
    )
    .await?;
    Ok(LoadOrg {
        org_id,
        api_key: str_at(&key, "/data/key")?,
        access_token,
    })
}
