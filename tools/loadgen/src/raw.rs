//! `loadgen raw`: the database work of `loadgen http`, done directly in one
//! process — no HTTP, no JSON, no authentication. Each lead is one
//! [`workflow::ingest`] (the routing transaction `POST /leads` runs);
//! every tenth request is one [`ProposalRepository::list`] (what
//! `GET /manager/proposals` runs). Its figure is the physical limit of the
//! storage, that the API is compared with.

use std::{sync::Arc, time::Instant};

use auth::{ApiKeyName, ApiKeyService, Authenticator, NewApiKey, TokenKeys};
use lead::NewLead;
use proposal::{ProposalFilter, ProposalRepository, workflow};
use storage::{
    Database, DatabaseSettings, Engine, SeaOrmApiKeyRepository, SeaOrmOrganizationRepository,
    SeaOrmProposalRepository, SeaOrmUnitOfWork, SeaOrmUserRepository,
};
use tenancy::{Actor, OrgId, PageRequest, Principal, Role};

use crate::{
    Error, RunArgs, fixture,
    report::{Kind, Recorder, RunMeta},
    workload::{LIST_EVERY, LIST_LIMIT, Window, lead_input, run_tag},
};

/// Options of `loadgen raw`.
#[derive(Debug, clap::Args)]
pub struct RawArgs {
    /// The database (migrated first): `sqlite://path` or
    /// `postgres://user@host:port/db`. Use a fresh one.
    #[arg(long)]
    database_url: String,
    /// Connection pool size (the server's `DATABASE_MAX_CONNECTIONS`
    /// defaults to 10).
    #[arg(long, default_value_t = 10)]
    max_connections: u32,
    /// Also authenticate every request with an API key as the server's
    /// middleware does (the key's row and its organization are read): the
    /// database share of authentication, without HTTP.
    #[arg(long)]
    with_auth: bool,
    /// Open the pool on a runtime of its own (a current-thread runtime on
    /// another thread) and use it from this one, as the server does: actix
    /// opens the pool on its main runtime and serves on worker runtimes, so
    /// every round trip's wake-up crosses threads. Measures that hop.
    #[arg(long)]
    cross_runtime: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// The engine's name for labels.
pub fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    }
}

/// Opens and migrates the database at `url` with `max_connections`.
///
/// # Errors
/// An unreachable or unusable database.
pub async fn open(url: &str, max_connections: u32) -> Result<Database, Error> {
    let mut settings = DatabaseSettings::new(url);
    settings.max_connections = max_connections;
    settings.acquire_timeout = std::time::Duration::from_secs(30);
    let db = Database::connect(&settings).await?;
    db.migrate().await?;
    Ok(db)
}

/// Runs `loadgen raw`.
///
/// # Errors
/// An unusable database, a failed setup or an unwritable report.
pub async fn run(args: RawArgs) -> Result<(), Error> {
    let db = if args.cross_runtime {
        open_on_own_runtime(args.database_url.clone(), args.max_connections)?
    } else {
        open(&args.database_url, args.max_connections).await?
    };
    let tag = run_tag();
    let org = fixture::routed_org(&db, &format!("raw-{tag}"), args.run.agents).await?;
    eprintln!(
        "setup: organization {org} with {} agents and a round-robin pool ({}, {} connections)",
        args.run.agents,
        engine_name(db.engine()),
        args.max_connections
    );
    let auth = if args.with_auth {
        Some(key_auth(&db, &org).await?)
    } else {
        None
    };
    let window = Window::after(args.run.warmup, args.run.duration);
    let workers: Vec<_> = (0..args.run.concurrency)
        .map(|id| {
            tokio::spawn(worker(
                Task {
                    uow: SeaOrmUnitOfWork::new(db.clone()),
                    proposals: SeaOrmProposalRepository::new(db.clone()),
                    auth: auth.clone(),
                    org: org.clone(),
                    run: format!("{tag}r"),
                    id,
                },
                window,
            ))
        })
        .collect();
    tokio::time::sleep_until(window.start.into()).await;
    let cpu_before = crate::cpu::Sample::now(&[]);
    let mut total = Recorder::default();
    for w in workers {
        total.merge(&w.await?);
    }
    let cpu = cpu_before.until(&crate::cpu::Sample::now(&[]));
    let elapsed = Instant::now().saturating_duration_since(window.start);
    let label = if args.run.label.is_empty() {
        let auth = if args.with_auth { "+auth" } else { "" };
        let hop = if args.cross_runtime {
            "+cross-runtime"
        } else {
            ""
        };
        format!("{} raw{auth}{hop}", engine_name(db.engine()))
    } else {
        args.run.label.clone()
    };
    let meta = RunMeta {
        mode: "raw".into(),
        label,
        auth: None,
        concurrency: args.run.concurrency,
    };
    let _ = db.close().await;
    total
        .report(meta, elapsed, cpu)
        .emit(args.run.json, args.run.json_out.as_deref())
}

/// Opens the database on a current-thread runtime running on a thread of its
/// own for the rest of the process, so that its connections' I/O is driven
/// there while the callers run elsewhere (the server's arrangement).
fn open_on_own_runtime(url: String, max_connections: u32) -> Result<Database, Error> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Err(Error::from(e)));
                return;
            }
        };
        runtime.block_on(async move {
            let _ = tx.send(open(&url, max_connections).await);
            // Keep driving the connections' I/O until the process ends.
            std::future::pending::<()>().await;
        });
    });
    rx.recv()
        .map_err(|_| Error::from(std::io::Error::other("the pool's runtime died")))?
}

/// The first words of an error, as its cause in the report.
fn cause(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.chars().take(60).collect()
}

/// The middleware's API key check, on the benchmark's database.
#[derive(Debug, Clone)]
struct KeyAuth {
    authenticator: Arc<Authenticator>,
    key: String,
}

/// Creates an admin API key of `org` and the authenticator that checks it.
async fn key_auth(db: &Database, org: &OrgId) -> Result<KeyAuth, Error> {
    let api_keys = Arc::new(SeaOrmApiKeyRepository::new(db.clone()));
    let admin = Actor::new(
        org.clone(),
        Principal::User("usr_loadgen".into()),
        Role::Admin,
    );
    let created = ApiKeyService::new(api_keys.clone())
        .create(
            &admin,
            NewApiKey {
                name: ApiKeyName::parse("loadgen")?,
                role: Role::Admin,
            },
        )
        .await?;
    let authenticator = Authenticator::new(
        Arc::new(SeaOrmUserRepository::new(db.clone())),
        api_keys,
        Arc::new(SeaOrmOrganizationRepository::new(db.clone())),
        // Never used: API keys only.
        TokenKeys::new(&[7; 32], "loadgen", "loadgen")?,
    );
    Ok(KeyAuth {
        authenticator: Arc::new(authenticator),
        key: created.plain_key,
    })
}

/// What one task works with.
#[derive(Debug)]
struct Task {
    uow: SeaOrmUnitOfWork,
    proposals: SeaOrmProposalRepository,
    auth: Option<KeyAuth>,
    org: OrgId,
    run: String,
    id: usize,
}

/// One task: a request at a time until the window closes.
async fn worker(task: Task, window: Window) -> Recorder {
    let Task {
        uow,
        proposals,
        auth,
        org,
        run,
        id,
    } = task;
    let mut rec = Recorder::default();
    let page = PageRequest::new(Some(LIST_LIMIT), None).unwrap_or_default();
    let filter = ProposalFilter::default();
    let scope = match crate::tenant::operator_scope(&org) {
        Ok(scope) => scope,
        Err(e) => {
            rec.failed(Kind::Ingest, e.to_string());
            return rec;
        }
    };
    let mut n: u64 = 0;
    while window.open() {
        n += 1;
        let began = Instant::now();
        if let Some(auth) = &auth
            && let Err(e) = auth
                .authenticator
                .authenticate_api_key(&auth.key, false, tenancy::now())
                .await
        {
            rec.failed(Kind::Ingest, format!("auth {}", cause(&e)));
            continue;
        }
        if n.is_multiple_of(LIST_EVERY) {
            let result = proposals.list(&scope, &filter, page).await;
            if window.counts(began) {
                match result {
                    Ok(_) => rec.listed(began.elapsed()),
                    Err(e) => rec.failed(Kind::List, cause(&e)),
                }
            }
            continue;
        }
        // As the handler does: validate the input, then route it.
        let now = tenancy::now();
        let result = match NewLead::parse(lead_input(&run, id, n)) {
            Ok(lead) => workflow::ingest(&uow, &scope, lead.into_lead(org.clone(), now), now)
                .await
                .map_err(|e| cause(&e)),
            Err(e) => Err(cause(&e)),
        };
        if window.counts(began) {
            match result {
                Ok(routed) => rec.ingested(began.elapsed(), routed.created),
                Err(e) => rec.failed(Kind::Ingest, e),
            }
        }
    }
    rec
}
