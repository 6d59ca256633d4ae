//! `loadgen tenant-scale`: listing one organization's proposals must cost the
//! same whether the database holds 10 organizations or 1,000, because every
//! index of a tenant table leads with `org_id`.
//!
//! For each organization count K, a fresh database is filled with K
//! organizations (each with agents, a round-robin pool and routed leads,
//! written through the routing store, leads interleaved across the
//! organizations so that no organization's rows sit together), then one
//! organization's review queue (`list_proposals`, limit 50) is read many
//! times, one call at a time.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use hdrhistogram::Histogram;
use lead::NewLead;
use proposal::{ProposalFilter, ProposalRepository, workflow};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde::Serialize;
use storage::{Database, Engine, SeaOrmProposalRepository, SeaOrmUnitOfWork};
use tenancy::{Actor, OrgId, PageRequest, TenantScope};

use crate::{
    Error, fixture,
    raw::{engine_name, open},
    report::Latency,
    workload::{LIST_LIMIT, lead_input, run_tag},
};

/// Options of `loadgen tenant-scale`.
#[derive(Debug, clap::Args)]
pub struct TenantArgs {
    /// Where to create the databases. `sqlite://dir/name.db`: one file per
    /// organization count beside it (`name-<K>orgs.db`, replaced if present).
    /// `postgres://user@host:port/db`: a server where the user may create
    /// databases; one `lr_tenant_<K>_<tag>` each, created there.
    #[arg(long)]
    database_url: String,
    /// Organization counts to compare, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,1000")]
    orgs: Vec<usize>,
    /// Leads routed (so proposals) per organization.
    #[arg(long, default_value_t = 20)]
    proposals_per_org: usize,
    /// Agents per organization (all in its pool).
    #[arg(long, default_value_t = 3)]
    agents_per_org: usize,
    /// Timed listings of the measured organization.
    #[arg(long, default_value_t = 500)]
    iterations: usize,
    /// Concurrent tasks filling a database.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Keep the databases afterwards.
    #[arg(long)]
    keep: bool,
    /// Also print the results as one line of JSON.
    #[arg(long)]
    json: bool,
}

/// The measurement at one organization count.
#[derive(Debug, Clone, Serialize)]
struct Point {
    orgs: usize,
    proposals_total: u64,
    proposals_of_measured_org: u64,
    fill_s: f64,
    list: Latency,
    plan: Vec<String>,
}

/// Runs `loadgen tenant-scale`.
///
/// # Errors
/// An unusable database or a failed fill.
pub async fn run(args: TenantArgs) -> Result<(), Error> {
    if args.orgs.is_empty() || args.orgs.contains(&0) {
        return Err("--orgs needs positive counts, e.g. 10,1000".into());
    }
    let tag = run_tag();
    let mut points = Vec::new();
    let mut engine = Engine::Sqlite;
    for &k in &args.orgs {
        let scratch = Scratch::create(&args.database_url, k, &tag).await?;
        let result = measure(&args, &scratch.url, k, &tag).await;
        if args.keep {
            eprintln!("kept {}", scratch.url);
        } else if let Err(e) = scratch.remove().await {
            eprintln!("warning: {e}");
        }
        let (point, used) = result?;
        engine = used;
        points.push(point);
    }
    println!(
        "== tenant-scale [{}]: one organization's proposals (list_proposals, limit {LIST_LIMIT}), \
         {} calls each, one at a time",
        engine_name(engine),
        args.iterations
    );
    println!(
        "{:>6} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "orgs", "proposals", "fill s", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms"
    );
    for p in &points {
        println!(
            "{:>6} {:>11} {:>9.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            p.orgs,
            p.proposals_total,
            p.fill_s,
            p.list.p50_ms,
            p.list.p90_ms,
            p.list.p99_ms,
            p.list.max_ms,
            p.list.mean_ms
        );
    }
    if let (Some(first), Some(last)) = (points.first(), points.last())
        && points.len() > 1
        && first.list.p50_ms > 0.0
    {
        println!(
            "median at {} orgs / median at {} orgs = {:.2}",
            last.orgs,
            first.orgs,
            last.list.p50_ms / first.list.p50_ms
        );
    }
    for p in &points {
        println!("query plan at {} orgs:", p.orgs);
        for line in &p.plan {
            println!("    {line}");
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"mode": "tenant-scale", "engine": engine_name(engine), "points": points})
        );
    }
    Ok(())
}

/// Fills the database at `url` with `k` organizations and times the
/// listing of one of them.
async fn measure(
    args: &TenantArgs,
    url: &str,
    k: usize,
    tag: &str,
) -> Result<(Point, Engine), Error> {
    let connections = u32::try_from(args.concurrency.clamp(2, 32)).unwrap_or(8);
    let db = open(url, connections).await?;
    let started = Instant::now();
    let orgs: Vec<OrgId> = stream::iter(0..k)
        .map(|i| {
            let db = db.clone();
            let agents = args.agents_per_org;
            async move { fixture::routed_org(&db, &format!("tenant-{i:05}"), agents).await }
        })
        .buffered(args.concurrency.max(1))
        .try_collect()
        .await?;
    eprintln!(
        "{k} orgs: organizations, agents and pools written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Lead j goes to organization j mod k: every organization's rows are
    // spread over the whole table, as they are when tenants work at once.
    let uow = SeaOrmUnitOfWork::new(db.clone());
    let total = k * args.proposals_per_org;
    stream::iter(0..total)
        .map(Ok::<usize, Error>)
        .try_for_each_concurrent(args.concurrency.max(1), |j| {
            let uow = uow.clone();
            let org = orgs[j % k].clone();
            async move {
                let now = tenancy::now();
                let lead =
                    NewLead::parse(lead_input(tag, j % k, (j / k) as u64))?.into_lead(org, now);
                let scope = operator_scope(&lead.org_id)?;
                let routed = workflow::ingest(&uow, &scope, lead, now).await?;
                if routed.proposal.is_none() {
                    return Err(format!("lead {} was not routed", routed.lead.id).into());
                }
                Ok(())
            }
        })
        .await?;
    let fill = started.elapsed();
    eprintln!(
        "{k} orgs: {total} leads routed, filled in {:.1} s",
        fill.as_secs_f64()
    );
    if db.engine() == Engine::Postgres {
        // What autovacuum does on a live server: give the planner statistics.
        db.connection().execute_unprepared("ANALYZE").await?;
    }
    let measured = orgs[k / 2].clone();
    let proposals = SeaOrmProposalRepository::new(db.clone());
    let scope = operator_scope(&measured)?;
    let filter = ProposalFilter::default();
    let page = PageRequest::new(Some(LIST_LIMIT), None)?;
    let first = proposals.list(&scope, &filter, page).await?;
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for i in 0..(args.iterations + args.iterations / 10) {
        let began = Instant::now();
        let page = proposals.list(&scope, &filter, page).await?;
        let spent = began.elapsed();
        if page.items.is_empty() {
            return Err("the measured organization has no proposals".into());
        }
        // The first tenth warms the caches and is not recorded.
        if i >= args.iterations / 10 {
            histogram.saturating_record(micros(spent));
        }
    }
    let proposals_total = scalar(&db, "SELECT COUNT(*) FROM proposals").await?;
    let plan = query_plan(&db, &measured).await?;
    let engine = db.engine();
    let _ = db.close().await;
    Ok((
        Point {
            orgs: k,
            proposals_total: u64::try_from(proposals_total).unwrap_or(0),
            proposals_of_measured_org: first.total,
            fill_s: (fill.as_secs_f64() * 10.0).round() / 10.0,
            list: Latency::of(&histogram),
            plan,
        },
        engine,
    ))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

async fn scalar(db: &Database, sql: &str) -> Result<i64, Error> {
    let conn = db.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
        .await?
        .ok_or("no row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

/// How the engine runs the review-queue query (the one `list_proposals`
/// sends, written out) for `org`.
async fn query_plan(db: &Database, org: &OrgId) -> Result<Vec<String>, Error> {
    // Ids are validated ([A-Za-z0-9_-]), so inlining one is safe.
    let query = format!(
        "SELECT * FROM proposals WHERE org_id = '{org}' \
         ORDER BY CASE WHEN status = 'pending' THEN 0 ELSE 1 END, created_at DESC, id DESC \
         LIMIT {LIST_LIMIT}"
    );
    let conn = db.connection();
    let backend = conn.get_database_backend();
    let (sql, column) = match backend {
        DatabaseBackend::Sqlite => (format!("EXPLAIN QUERY PLAN {query}"), "detail"),
        _ => (format!("EXPLAIN {query}"), "QUERY PLAN"),
    };
    let rows = conn
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        lines.push(row.try_get::<String>("", column)?);
    }
    Ok(lines)
}

/// A database of one organization count, removed afterwards.
#[derive(Debug)]
struct Scratch {
    url: String,
    kind: ScratchKind,
}

#[derive(Debug)]
enum ScratchKind {
    Sqlite(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Scratch {
    async fn create(base: &str, k: usize, tag: &str) -> Result<Self, Error> {
        match Engine::from_url(base) {
            Some(Engine::Sqlite) => {
                let rest = base
                    .strip_prefix("sqlite://")
                    .or_else(|| base.strip_prefix("sqlite:"))
                    .unwrap_or(base);
                let path = std::path::Path::new(rest.split('?').next().unwrap_or(rest));
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .ok_or_else(|| format!("{base}: name a database file"))?;
                let file = path.with_file_name(format!("{stem}-{k}orgs.db"));
                let scratch = Self {
                    url: format!("sqlite://{}", file.display()),
                    kind: ScratchKind::Sqlite(file),
                };
                scratch.remove_files();
                Ok(scratch)
            }
            Some(Engine::Postgres) => {
                let name = format!("lr_tenant_{k}_{tag}");
                let (server, _) = base
                    .split('?')
                    .next()
                    .unwrap_or(base)
                    .rsplit_once('/')
                    .ok_or_else(|| format!("{base}: expected postgres://user@host:port/db"))?;
                let admin = sea_orm::Database::connect(base).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await?;
                let _ = admin.close().await;
                Ok(Self {
                    url: format!("{server}/{name}"),
                    kind: ScratchKind::Postgres {
                        admin_url: base.to_owned(),
                        name,
                    },
                })
            }
            None => Err(format!("{base}: expected sqlite:// or postgres://").into()),
        }
    }

    fn remove_files(&self) {
        if let ScratchKind::Sqlite(file) = &self.kind {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = file.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }

    async fn remove(self) -> Result<(), Error> {
        match &self.kind {
            ScratchKind::Sqlite(_) => {
                self.remove_files();
                Ok(())
            }
            ScratchKind::Postgres { admin_url, name } => {
                let admin = sea_orm::Database::connect(admin_url.as_str()).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .map_err(|e| format!("could not drop database {name}: {e}"))?;
                let _ = admin.close().await;
                Ok(())
            }
        }
    }
}

/// The load generator acting in `org` as a named operator.
pub(crate) fn operator_scope(org: &OrgId) -> Result<TenantScope, Error> {
    Actor::operator("loadgen")
        .acting_in(org.clone())
        .map(|a| a.scope())
        .ok_or_else(|| "an operator may act in any organization".into())
}
