//! The routing workflow's unit of work on sea-orm: [`SeaOrmUnitOfWork`]
//! begins [`SqlRoutingTx`]s, which answer the reads of a decision
//! ([`DecisionReads`]) and make the writes of the workflow ([`RoutingTx`])
//! with queries only. What to read and write, and when, is the workflow's
//! (`proposal::workflow`).
//!
//! A write transaction begins `IMMEDIATE` on SQLite ([`Database::begin_write`]),
//! so writers run one at a time and every read is exact. On PostgreSQL the
//! target pool's row is locked (`FOR UPDATE`) before its state and its
//! members' loads are read: that lock is the one ordering point of a pool,
//! which makes round robin and weighted counts exact under concurrency while
//! other pools proceed in parallel. The capacity re-check locks the chosen
//! agent's row inside a savepoint, so that an agent found full is let go at
//! once and a step never holds one agent's lock while it waits for another's.
//!
//! Fewer round trips per step (docs/performance.md): the settings and rules
//! come from a per-organization cache checked against the
//! `organizations.config_version` the pool's lock returns; a pool's members
//! and their counters are one joined read; a new lead and its proposal are
//! one write; an assignment's counters, the pool's turn, the timers and the
//! events are kept in the transaction and written together just before the
//! commit (one statement on PostgreSQL, with the webhook deliveries after
//! it). A transaction that ingests many leads holds the leads back too
//! ([`Pending`]): a statement per table, not per lead.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use events::{Event, NewEvent};
use lead::{Lead, LeadId, LeadStatus};
use organization::Settings;
use proposal::{
    Proposal, ProposalId, ProposalStatus, Timer, TimerId,
    ports::{Inserted, RoutingTx, UnitOfWork},
};
use routing::{
    Candidate, DecisionReads, DecisionSource, PoolId, PoolSnapshot, PoolState, RoutingConfig,
    RoutingSettings, Rule,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Iterable, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
    sea_query::{
        Asterisk, CommonTableExpression, Expr, ExprTrait, InsertStatement, OnConflict, Order,
        Query, SimpleExpr, UpdateStatement, WithClause,
    },
};
use serde_json::Value;
use tenancy::{AgentId, StorageError, TenantScope};

use crate::{
    Database,
    database::Txn,
    entity::{agents, leads, organizations, pool_members, proposals, routing_pools, timers},
    error::{corrupt, failed},
    events::ROWS_PER_INSERT,
    routing_rows::{
        all_rules, candidate, candidates, day_key, find_lead, latest_proposal, lead_to_active,
        lead_to_domain, org_settings, pool_to_domain, proposal_to_active, proposal_to_domain,
        status_names, update_lead,
    },
    scope::Scoped,
    timers::{timer_to_active, timer_to_domain},
};

/// The name under which a lead being inserted is known to its proposal's
/// insert.
const NEW_LEAD: &str = "new_lead";

/// The name of the savepoint of the capacity re-check.
const AGENT_LOCK: &str = "agent_lock";

/// What routing transactions keep between them, per organization: the
/// configuration they read before they lock anything, and the active
/// webhook endpoints, each with the `config_version` it is of. Entries are
/// only ever replaced by newer ones; a stale entry is found out by the
/// version check of the next step ([`routing::decide`]).
#[derive(Debug, Default)]
struct ConfigCache {
    configs: Mutex<HashMap<String, Arc<RoutingConfig>>>,
    webhooks: Mutex<HashMap<String, (i64, Endpoints)>>,
}

/// An organization's active webhook endpoints.
type Endpoints = Arc<Vec<webhook::Webhook>>;

impl ConfigCache {
    fn config(&self, org: &str) -> Option<Arc<RoutingConfig>> {
        lock(&self.configs).get(org).cloned()
    }

    fn keep_config(&self, org: &str, config: &Arc<RoutingConfig>) {
        let mut configs = lock(&self.configs);
        let newer = configs
            .get(org)
            .is_none_or(|old| old.version <= config.version);
        if newer {
            configs.insert(org.to_owned(), Arc::clone(config));
        }
    }

    fn webhooks(&self, org: &str, version: i64) -> Option<Endpoints> {
        lock(&self.webhooks)
            .get(org)
            .filter(|(v, _)| *v == version)
            .map(|(_, w)| Arc::clone(w))
    }

    fn keep_webhooks(&self, org: &str, version: i64, endpoints: &Endpoints) {
        let mut webhooks = lock(&self.webhooks);
        if webhooks.get(org).is_none_or(|(v, _)| *v <= version) {
            webhooks.insert(org.to_owned(), (version, Arc::clone(endpoints)));
        }
    }
}

/// The map behind a cache mutex; a panic elsewhere never poisons a cache
/// for good (its entries are checked before use anyway).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Begins routing transactions on a database.
#[derive(Clone, Debug)]
pub struct SeaOrmUnitOfWork {
    db: Database,
    cache: Arc<ConfigCache>,
}

impl SeaOrmUnitOfWork {
    /// Transactions on this database.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            cache: Arc::default(),
        }
    }

    fn tx(&self, txn: Txn, scope: &TenantScope, write: bool) -> SqlRoutingTx {
        SqlRoutingTx {
            txn,
            scope: scope.clone(),
            write,
            cache: Arc::clone(&self.cache),
            version: None,
            events: Vec::new(),
            pools: HashMap::new(),
            agents: HashMap::new(),
            batching: false,
            absent: HashSet::new(),
            pending: Pending::default(),
        }
    }
}

#[async_trait]
impl UnitOfWork for SeaOrmUnitOfWork {
    async fn begin(&self, scope: &TenantScope) -> Result<Box<dyn RoutingTx>, StorageError> {
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("begin a routing transaction"))?;
        Ok(Box::new(self.tx(txn, scope, true)))
    }
}

#[async_trait]
impl DecisionSource for SeaOrmUnitOfWork {
    async fn read(&self, scope: &TenantScope) -> Result<Box<dyn DecisionReads>, StorageError> {
        // Plain reads, no locks: a simulation decides nothing.
        let txn = self
            .db
            .begin_read(scope.org_id())
            .await
            .map_err(failed("begin a read transaction"))?;
        Ok(Box::new(self.tx(txn, scope, false)))
    }
}

/// One transaction of one organization. Dropped without a commit, sea-orm
/// rolls it back.
#[derive(Debug)]
pub struct SqlRoutingTx {
    txn: Txn,
    scope: TenantScope,
    /// Whether rows are locked (`FOR UPDATE`) where the workflow says so.
    write: bool,
    cache: Arc<ConfigCache>,
    /// The organization's `config_version` as this transaction last read it.
    version: Option<i64>,
    /// Events appended, written at the commit (nothing in a transaction
    /// reads its own events).
    events: Vec<Event>,
    /// The pools this write transaction locked and read, with the time
    /// their loads were read for, kept current with its own routing writes
    /// (a new lead, the counters): the next lead of a group is decided
    /// without reading the pool again. Any other write forgets them.
    pools: HashMap<PoolId, (DateTime<Utc>, PoolSnapshot)>,
    /// The agents this write transaction read outside a pool (a sticky
    /// owner, the fallback agent), kept current like `pools`.
    agents: HashMap<AgentId, (DateTime<Utc>, Candidate)>,
    /// Whether new leads (and their proposals) are held back in `pending`
    /// too: from [`RoutingTx::known_external_ids`] on, which a transaction
    /// that ingests many leads calls first.
    batching: bool,
    /// `externalId`s that call found unused and no lead of this
    /// transaction has taken yet.
    absent: HashSet<String>,
    /// Routing writes held back, written together by [`SqlRoutingTx::flush`].
    pending: Pending,
}

/// Routing writes held back to be made together: a statement per table
/// (per [`ROWS_PER_INSERT`] rows) instead of a few per lead, and each
/// agent's and pool's counters written once with the sum of their moves.
/// Counters and timers are always held back (on PostgreSQL they ride in
/// the events' statement at the commit); new leads only when batching.
/// On PostgreSQL that also spares the rows the versions that an update per
/// lead would stack up in one transaction, each of which the next update
/// of the row walks past.
#[derive(Debug, Default)]
struct Pending {
    leads: Vec<leads::ActiveModel>,
    proposals: Vec<proposals::ActiveModel>,
    timers: Vec<timers::ActiveModel>,
    counts: BTreeMap<AgentId, Count>,
    turns: BTreeMap<PoolId, Turns>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.leads.is_empty()
            && self.proposals.is_empty()
            && self.timers.is_empty()
            && self.counts.is_empty()
            && self.turns.is_empty()
    }
}

/// What assignments add to an agent's counters: `leads` more on its local
/// `day`, the last of them at `last`.
#[derive(Debug)]
struct Count {
    day: String,
    leads: i64,
    last: DateTime<Utc>,
}

/// What assignments do to a pool: the member its cursor ends on, and how
/// many more turns each member served.
#[derive(Debug, Default)]
struct Turns {
    last: Option<AgentId>,
    served: BTreeMap<AgentId, i64>,
}

/// A pool's member as the routing step reads it: the agent's row (with its
/// counters) and the member's weighted count.
const MEMBER_ASSIGNMENTS: &str = "member_assignments";

impl SqlRoutingTx {
    fn scoped(&self) -> Scoped<'_> {
        Scoped::new(&self.scope)
    }

    fn is_postgres(&self) -> bool {
        self.txn.get_database_backend() == DbBackend::Postgres
    }

    async fn run(&self, sql: &str, op: &'static str) -> Result<(), StorageError> {
        self.txn
            .execute_unprepared(sql)
            .await
            .map(drop)
            .map_err(failed(op))
    }

    /// `(SELECT config_version FROM organizations WHERE id = ?)`.
    fn version_expr(&self) -> SimpleExpr {
        SimpleExpr::SubQuery(
            None,
            Box::new(
                Query::select()
                    .column(organizations::Column::ConfigVersion)
                    .from(organizations::Entity)
                    .and_where(organizations::Column::Id.eq(self.scoped().org_id()))
                    .to_owned()
                    .into(),
            ),
        )
    }

    /// Applies `change` to `agent` wherever this transaction keeps a
    /// reading of it: in the pools it read, and read alone.
    fn each_member(&mut self, agent: &AgentId, change: impl Fn(&mut Candidate)) {
        for (_, snapshot) in self.pools.values_mut() {
            for c in &mut snapshot.members {
                if &c.agent.id == agent {
                    change(c);
                }
            }
        }
        if let Some((_, c)) = self.agents.get_mut(agent) {
            change(c);
        }
    }

    /// What storing `lead` did to its agent's open-lead counter (the
    /// trigger's work), in the readings kept.
    fn opened(&mut self, lead: &Lead) {
        if let Some(agent) = &lead.agent_id
            && LeadStatus::OPEN.contains(&lead.status)
        {
            self.each_member(agent, |c| c.load.open_leads += 1);
        }
    }

    /// Forgets every reading kept (after a write they do not follow).
    fn forget_readings(&mut self) {
        self.pools.clear();
        self.agents.clear();
    }

    /// Makes the writes held back ([`Pending`]).
    ///
    /// # Errors
    /// [`StorageError::Contended`] when another transaction stored one of
    /// the leads' `externalId`s since [`RoutingTx::known_external_ids`].
    async fn flush(&mut self) -> Result<(), StorageError> {
        let rest = self.write_rows().await?;
        self.execute_together(rest, "write held-back counters")
            .await
    }

    /// Writes the held-back leads, then their proposals, and gives back
    /// the rest (timers, then counters) as statements to run.
    async fn write_rows(&mut self) -> Result<Vec<Held>, StorageError> {
        if self.pending.is_empty() {
            return Ok(Vec::new());
        }
        let pending = std::mem::take(&mut self.pending);
        let mut stored = 0;
        for chunk in pending.leads.chunks(ROWS_PER_INSERT) {
            let insert = leads::Entity::insert_many(chunk.iter().cloned())
                .on_conflict(
                    OnConflict::columns([leads::Column::OrgId, leads::Column::ExternalId])
                        .do_nothing()
                        .to_owned(),
                )
                .into_query();
            stored += self
                .txn
                .execute(&insert)
                .await
                .map_err(failed("insert leads"))?
                .rows_affected();
        }
        let expected = pending.leads.len() as u64;
        if stored != expected {
            return Err(StorageError::Contended(
                format!(
                    "{} of {expected} new leads have an externalId another transaction stored",
                    expected - stored
                )
                .into(),
            ));
        }
        for chunk in pending.proposals.chunks(ROWS_PER_INSERT) {
            proposals::Entity::insert_many(chunk.iter().cloned())
                .exec_without_returning(&self.txn)
                .await
                .map_err(failed("insert proposals"))?;
        }
        let mut rest: Vec<Held> = pending
            .timers
            .chunks(ROWS_PER_INSERT)
            .map(|chunk| {
                Held::Insert(timers::Entity::insert_many(chunk.iter().cloned()).into_query())
            })
            .collect();
        rest.extend(
            counter_updates(self.scoped(), &pending.counts, &pending.turns)
                .into_iter()
                .map(Held::Update),
        );
        Ok(rest)
    }

    /// Runs `statements` in order: on PostgreSQL as one statement (all but
    /// the last as data-modifying `WITH` parts, each touching other rows).
    async fn execute_together(
        &self,
        mut statements: Vec<Held>,
        op: &'static str,
    ) -> Result<(), StorageError> {
        if self.is_postgres()
            && let Some(last) = statements.pop()
        {
            let with = ctes(statements);
            let done = match (last, with) {
                (Held::Insert(s), Some(with)) => self.txn.execute(&s.with(with)).await,
                (Held::Update(s), Some(with)) => self.txn.execute(&s.with(with)).await,
                (Held::Insert(s), None) => self.txn.execute(&s).await,
                (Held::Update(s), None) => self.txn.execute(&s).await,
            };
            done.map_err(failed(op))?;
            return Ok(());
        }
        for statement in statements {
            match statement {
                Held::Insert(s) => self.txn.execute(&s).await,
                Held::Update(s) => self.txn.execute(&s).await,
            }
            .map_err(failed(op))?;
        }
        Ok(())
    }

    /// The pool locked (in a write transaction) and read: its row with the
    /// configuration version, then its members with their counters.
    async fn read_pool(
        &mut self,
        id: &PoolId,
        now: DateTime<Utc>,
    ) -> Result<Option<PoolSnapshot>, StorageError> {
        let scope = self.scope.clone();
        let org = Scoped::new(&scope);
        // The ordering point of the pool on PostgreSQL, and the version of
        // the configuration in the same statement.
        let mut lock = org
            .find_id::<routing_pools::Entity>(id.as_str())
            .column_as(self.version_expr(), "config_version");
        if self.write {
            lock = lock.lock_exclusive();
        }
        let Some(found) = self
            .txn
            .query_one(&lock.into_query())
            .await
            .map_err(failed("lock a pool"))?
        else {
            return Ok(None);
        };
        let row =
            routing_pools::Model::from_query_result(&found, "").map_err(failed("read a pool"))?;
        let version: i64 = found
            .try_get("", "config_version")
            .map_err(failed("read the configuration version"))?;
        self.version = Some(version);
        // Read after the lock, in a statement of its own: on PostgreSQL it
        // sees what the previous holder of the lock committed. The members'
        // agents with their counters, in member order.
        let members = Query::select()
            .column((agents::Entity, Asterisk))
            .expr_as(
                Expr::col((pool_members::Entity, pool_members::Column::Assignments)),
                MEMBER_ASSIGNMENTS,
            )
            .from(pool_members::Entity)
            .inner_join(
                agents::Entity,
                Expr::col((agents::Entity, agents::Column::OrgId))
                    .equals((pool_members::Entity, pool_members::Column::OrgId))
                    .and(
                        Expr::col((agents::Entity, agents::Column::Id))
                            .equals((pool_members::Entity, pool_members::Column::AgentId)),
                    ),
            )
            .and_where(org.owns::<pool_members::Entity>())
            .and_where(org.owns::<agents::Entity>())
            .and_where(pool_members::Column::PoolId.eq(row.id.as_str()))
            .order_by(
                (pool_members::Entity, pool_members::Column::Position),
                Order::Asc,
            )
            .to_owned();
        let found = self
            .txn
            .query_all(&members)
            .await
            .map_err(failed("read pool members"))?;
        let mut agent_rows = Vec::with_capacity(found.len());
        let mut assignments = HashMap::with_capacity(found.len());
        let mut member_ids = Vec::with_capacity(found.len());
        for r in &found {
            let agent = agents::Model::from_query_result(r, "").map_err(failed("read a member"))?;
            let count: i64 = r
                .try_get("", MEMBER_ASSIGNMENTS)
                .map_err(failed("read a member"))?;
            let agent_id = AgentId::parse(&agent.id)
                .ok_or_else(|| corrupt(format!("agent id {}", agent.id)))?;
            assignments.insert(agent_id.clone(), u64::try_from(count).unwrap_or(0));
            member_ids.push(agent_id);
            agent_rows.push(agent);
        }
        Ok(Some(PoolSnapshot {
            pool: pool_to_domain(&row, member_ids)?,
            state: PoolState {
                last_agent_id: row.last_agent_id.as_deref().and_then(AgentId::parse),
                assignments,
            },
            members: candidates(&agent_rows, now)?,
            config_version: Some(version),
        }))
    }

    /// The settings and rules as stored now, with their version.
    async fn read_config(&mut self) -> Result<Arc<RoutingConfig>, StorageError> {
        let scope = self.scope.clone();
        let org = Scoped::new(&scope);
        let row = organizations::Entity::find_by_id(org.org_id())
            .select_only()
            .column(organizations::Column::Settings)
            .column(organizations::Column::ConfigVersion)
            .into_tuple::<(Value, i64)>()
            .one(&self.txn)
            .await
            .map_err(failed("read the routing configuration"))?;
        let (settings, version) = match row {
            Some((value, version)) => (
                Settings::parse(value).map_err(|_| {
                    corrupt(format!("organization {}: invalid settings", org.org_id()))
                })?,
                version,
            ),
            // Its rows are refused by their foreign keys anyway.
            None => (Settings::default(), 0),
        };
        let rules = all_rules(&self.txn, org).await?;
        let config = Arc::new(RoutingConfig {
            version: Some(version),
            settings: RoutingSettings::from(&settings),
            rules,
        });
        self.version = Some(version);
        self.cache.keep_config(org.org_id(), &config);
        Ok(config)
    }

    /// The organization's active webhook endpoints: from the cache when it
    /// holds them for the version this transaction read.
    async fn active_webhooks(&mut self) -> Result<Endpoints, StorageError> {
        let org = self.scope.org_id().as_str();
        if let Some(endpoints) = self.version.and_then(|v| self.cache.webhooks(org, v)) {
            return Ok(endpoints);
        }
        let endpoints = Arc::new(crate::webhooks::active_webhooks(&self.txn, self.scoped()).await?);
        if let Some(version) = self.version {
            self.cache.keep_webhooks(org, version, &endpoints);
        }
        Ok(endpoints)
    }

    /// Everything not written yet, at the commit: the writes held back,
    /// then the events with their deliveries. On PostgreSQL the timers and
    /// counters ride in the events' statement: a routed lead's commit costs
    /// one round trip for all three.
    async fn write_at_commit(&mut self) -> Result<(), StorageError> {
        let rest = self.write_rows().await?;
        if self.events.is_empty() {
            return self
                .execute_together(rest, "write held-back counters")
                .await;
        }
        let events = std::mem::take(&mut self.events);
        let endpoints = self.active_webhooks().await?;
        let with = if self.is_postgres() {
            ctes(rest)
        } else {
            self.execute_together(rest, "write held-back counters")
                .await?;
            None
        };
        crate::events::append_all(&self.txn, self.scoped(), &events, &endpoints, with).await
    }
}

/// A held-back write, as the statement that makes it.
#[derive(Debug)]
enum Held {
    Insert(InsertStatement),
    Update(UpdateStatement),
}

/// `statements` as the data-modifying `WITH` parts of another statement
/// (PostgreSQL), or `None` when there are none.
fn ctes(statements: Vec<Held>) -> Option<WithClause> {
    if statements.is_empty() {
        return None;
    }
    let mut with = WithClause::new();
    for (i, statement) in statements.into_iter().enumerate() {
        let mut cte = CommonTableExpression::new();
        match statement {
            Held::Insert(s) => cte.query(s),
            Held::Update(s) => cte.query(s),
        };
        with.cte(cte.table_name(format!("w{i}")).to_owned());
    }
    Some(with)
}

/// The statements that add `counts` to the agents and `turns` to the
/// pools, in a fixed order (agents by id, then each pool's members, then
/// its cursor), each an increment that concurrent writers never lose.
fn counter_updates(
    org: Scoped<'_>,
    counts: &BTreeMap<AgentId, Count>,
    turns: &BTreeMap<PoolId, Turns>,
) -> Vec<UpdateStatement> {
    let mut statements = Vec::with_capacity(counts.len() + turns.len() * 2);
    for (agent, count) in counts {
        // More on the day already counted, else the day starts with these.
        let daily = Expr::case(
            agents::Column::DailyCountDay.eq(count.day.as_str()),
            agents::Column::DailyCount.into_expr().add(count.leads),
        )
        .finally(count.leads);
        statements.push(
            org.update::<agents::Entity>()
                .col_expr(agents::Column::DailyCount, daily.into())
                .col_expr(
                    agents::Column::DailyCountDay,
                    Expr::value(count.day.clone()),
                )
                .col_expr(agents::Column::LastAssignedAt, Expr::value(count.last))
                .filter(agents::Column::Id.eq(agent.as_str()))
                .into_query(),
        );
    }
    for (pool, turns) in turns {
        for (agent, served) in &turns.served {
            statements.push(
                org.update::<pool_members::Entity>()
                    .col_expr(
                        pool_members::Column::Assignments,
                        pool_members::Column::Assignments.into_expr().add(*served),
                    )
                    .filter(pool_members::Column::PoolId.eq(pool.as_str()))
                    .filter(pool_members::Column::AgentId.eq(agent.as_str()))
                    .into_query(),
            );
        }
        if let Some(last) = &turns.last {
            statements.push(
                org.update::<routing_pools::Entity>()
                    .col_expr(
                        routing_pools::Column::LastAgentId,
                        Expr::value(last.as_str()),
                    )
                    .filter(routing_pools::Column::Id.eq(pool.as_str()))
                    .into_query(),
            );
        }
    }
    statements
}

#[async_trait]
impl DecisionReads for SqlRoutingTx {
    async fn routing_settings(&mut self) -> Result<RoutingSettings, StorageError> {
        Ok(RoutingSettings::from(
            &org_settings(&self.txn, self.scoped(), false).await?,
        ))
    }

    async fn rules(&mut self) -> Result<Vec<Rule>, StorageError> {
        all_rules(&self.txn, self.scoped()).await
    }

    async fn routing_config(&mut self, current: bool) -> Result<Arc<RoutingConfig>, StorageError> {
        if !current && let Some(config) = self.cache.config(self.scope.org_id().as_str()) {
            return Ok(config);
        }
        self.read_config().await
    }

    async fn config_version(&mut self) -> Result<Option<i64>, StorageError> {
        let version = organizations::Entity::find_by_id(self.scoped().org_id())
            .select_only()
            .column(organizations::Column::ConfigVersion)
            .into_tuple::<i64>()
            .one(&self.txn)
            .await
            .map_err(failed("read the configuration version"))?;
        self.version = version;
        Ok(version)
    }

    async fn pool(
        &mut self,
        id: &PoolId,
        now: DateTime<Utc>,
    ) -> Result<Option<PoolSnapshot>, StorageError> {
        // Locked already: nobody else has moved its cursor or counts since.
        if let Some((read_at, snapshot)) = self.pools.get(id)
            && *read_at == now
        {
            return Ok(Some(snapshot.clone()));
        }
        // Its members' counters as written, held-back moves included.
        self.flush().await?;
        let snapshot = self.read_pool(id, now).await?;
        if let (true, Some(s)) = (self.write, &snapshot) {
            self.pools.insert(id.clone(), (now, s.clone()));
        }
        Ok(snapshot)
    }

    async fn agent(
        &mut self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Candidate>, StorageError> {
        if let Some((read_at, c)) = self.agents.get(id)
            && *read_at == now
        {
            return Ok(Some(c.clone()));
        }
        self.flush().await?;
        let found = candidate(&self.txn, self.scoped(), id.as_str(), false, now).await?;
        if let (true, Some(c)) = (self.write, &found) {
            self.agents.insert(id.clone(), (now, c.clone()));
        }
        Ok(found)
    }

    async fn domain_owner(
        &mut self,
        domain: &str,
        except: &LeadId,
    ) -> Result<Option<AgentId>, StorageError> {
        self.flush().await?;
        let owner = self
            .scoped()
            .find::<leads::Entity>()
            .select_only()
            .column(leads::Column::AgentId)
            .filter(leads::Column::EmailDomain.eq(domain))
            .filter(leads::Column::Status.is_in(status_names(LeadStatus::OWNED)))
            .filter(leads::Column::AgentId.is_not_null())
            .filter(leads::Column::Id.ne(except.as_str()))
            .order_by_desc(leads::Column::CreatedAt)
            .order_by_desc(leads::Column::Id)
            .into_tuple::<String>()
            .one(&self.txn)
            .await
            .map_err(failed("read the owner of an e-mail domain"))?;
        owner
            .map(|id| AgentId::parse(&id).ok_or_else(|| corrupt(format!("lead agent id {id}"))))
            .transpose()
    }

    async fn lock_agent(
        &mut self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Candidate>, StorageError> {
        // Counted from the rows: the moves held back are written first.
        self.flush().await?;
        self.run(&format!("SAVEPOINT {AGENT_LOCK}"), "open a savepoint")
            .await?;
        // Counted after the lock: on PostgreSQL this statement sees what the
        // previous holder of the lock committed.
        let fresh = candidate(&self.txn, self.scoped(), id.as_str(), self.write, now).await?;
        if let Some(fresh) = &fresh {
            self.each_member(&fresh.agent.id, |c| c.load = fresh.load);
        }
        Ok(fresh)
    }

    async fn keep_agent_lock(&mut self) -> Result<(), StorageError> {
        self.run(
            &format!("RELEASE SAVEPOINT {AGENT_LOCK}"),
            "release a savepoint",
        )
        .await
    }

    async fn release_agent_lock(&mut self) -> Result<(), StorageError> {
        // Rolling back to the savepoint lets the row lock taken after it go.
        self.run(
            &format!("ROLLBACK TO SAVEPOINT {AGENT_LOCK}"),
            "roll back to a savepoint",
        )
        .await?;
        self.run(
            &format!("RELEASE SAVEPOINT {AGENT_LOCK}"),
            "release a savepoint",
        )
        .await
    }
}

#[async_trait]
impl RoutingTx for SqlRoutingTx {
    async fn lead_by_external_id(
        &mut self,
        external_id: &str,
    ) -> Result<Option<Lead>, StorageError> {
        self.flush().await?;
        self.scoped()
            .find::<leads::Entity>()
            .filter(leads::Column::ExternalId.eq(external_id))
            .one(&self.txn)
            .await
            .map_err(failed("find a lead by externalId"))?
            .as_ref()
            .map(lead_to_domain)
            .transpose()
    }

    async fn known_external_ids(
        &mut self,
        external_ids: &[&str],
    ) -> Result<HashSet<String>, StorageError> {
        // Leads held back are not in the rows yet.
        self.flush().await?;
        self.batching = self.write;
        let mut known = HashSet::new();
        for chunk in external_ids.chunks(ROWS_PER_INSERT) {
            let found = self
                .scoped()
                .find::<leads::Entity>()
                .select_only()
                .column(leads::Column::ExternalId)
                .filter(leads::Column::ExternalId.is_in(chunk.iter().copied()))
                .into_tuple::<Option<String>>()
                .all(&self.txn)
                .await
                .map_err(failed("find leads by externalId"))?;
            known.extend(found.into_iter().flatten());
        }
        self.absent.extend(
            external_ids
                .iter()
                .filter(|id| !known.contains(**id))
                .map(|id| (*id).to_owned()),
        );
        Ok(known)
    }

    async fn insert_lead(
        &mut self,
        lead: &Lead,
        first: Option<&Proposal>,
    ) -> Result<Inserted, StorageError> {
        let org = self.scoped().org_id().to_owned();
        let mut row = lead_to_active(lead);
        row.org_id = Set(org.clone());
        let hold = self.batching
            && lead
                .external_id
                .as_ref()
                .is_none_or(|id| self.absent.remove(id));
        if hold {
            self.pending.leads.push(row);
            if let Some(p) = first {
                let mut row = proposal_to_active(p);
                row.org_id = Set(org);
                self.pending.proposals.push(row);
            }
            self.opened(lead);
            return Ok(Inserted::Yes);
        }
        // A lead of this transaction with the same `externalId` may be
        // held back: the insert below must find it.
        self.flush().await?;
        // A duplicate `externalId` inserts nothing and leaves the
        // transaction usable (a failed insert would abort it on PostgreSQL).
        let mut insert = leads::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([leads::Column::OrgId, leads::Column::ExternalId])
                    .do_nothing()
                    .to_owned(),
            )
            .into_query();
        let proposal = first.map(|p| {
            let mut row = proposal_to_active(p);
            row.org_id = Set(org.clone());
            row
        });
        let stored = match proposal {
            // One statement: the proposal is inserted only with its lead.
            Some(proposal) if self.is_postgres() => {
                insert.returning_col(leads::Column::Id);
                let new_lead = CommonTableExpression::new()
                    .query(insert)
                    .table_name(NEW_LEAD)
                    .to_owned();
                let mut columns = Vec::new();
                let mut values = Vec::new();
                for column in proposals::Column::iter() {
                    if let Some(value) = proposal.get(column).into_value() {
                        columns.push(column);
                        values.push(Expr::val(value));
                    }
                }
                let mut both = Query::insert();
                both.into_table(proposals::Entity)
                    .columns(columns)
                    .select_from(Query::select().exprs(values).from(NEW_LEAD).to_owned())
                    .map_err(|e| StorageError::Other(e.to_string().into()))?;
                self.txn
                    .execute(&both.with(WithClause::new().cte(new_lead).to_owned()))
                    .await
                    .map_err(failed("insert a lead with its proposal"))?
                    .rows_affected()
                    == 1
            }
            proposal => {
                let inserted = self
                    .txn
                    .execute(&insert)
                    .await
                    .map_err(failed("insert a lead"))?
                    .rows_affected()
                    == 1;
                if let (true, Some(proposal)) = (inserted, proposal) {
                    proposals::Entity::insert(proposal)
                        .exec_without_returning(&self.txn)
                        .await
                        .map_err(failed("insert a proposal"))?;
                }
                inserted
            }
        };
        if stored {
            self.opened(lead);
        }
        Ok(if stored {
            Inserted::Yes
        } else {
            Inserted::DuplicateExternalId
        })
    }

    async fn lock_lead(&mut self, id: &LeadId) -> Result<Option<Lead>, StorageError> {
        self.flush().await?;
        find_lead(&self.txn, self.scoped(), id.as_str(), self.write).await
    }

    async fn update_lead(&mut self, lead: &Lead) -> Result<(), StorageError> {
        self.flush().await?;
        self.forget_readings();
        update_lead(&self.txn, self.scoped(), lead).await
    }

    async fn lock_proposal(&mut self, id: &ProposalId) -> Result<Option<Proposal>, StorageError> {
        self.flush().await?;
        self.scoped()
            .one::<proposals::Entity>(&self.txn, id.as_str(), self.write)
            .await?
            .as_ref()
            .map(proposal_to_domain)
            .transpose()
    }

    async fn latest_proposal(&mut self, lead: &LeadId) -> Result<Option<Proposal>, StorageError> {
        self.flush().await?;
        latest_proposal(&self.txn, self.scoped(), lead.as_str()).await
    }

    async fn insert_proposal(&mut self, proposal: &Proposal) -> Result<(), StorageError> {
        self.flush().await?;
        self.forget_readings();
        let mut row = proposal_to_active(proposal);
        row.org_id = sea_orm::ActiveValue::Set(self.scoped().org_id().to_owned());
        proposals::Entity::insert(row)
            .exec_without_returning(&self.txn)
            .await
            .map_err(failed("insert a proposal"))?;
        Ok(())
    }

    async fn update_review(&mut self, p: &Proposal) -> Result<(), StorageError> {
        self.flush().await?;
        self.scoped()
            .update::<proposals::Entity>()
            .col_expr(proposals::Column::Status, Expr::value(p.status.as_str()))
            .col_expr(
                proposals::Column::DecidedBy,
                Expr::value(p.decided_by.clone()),
            )
            .col_expr(proposals::Column::DecidedAt, Expr::value(p.decided_at))
            .col_expr(proposals::Column::Note, Expr::value(p.note.clone()))
            .filter(proposals::Column::Id.eq(p.id.as_str()))
            .exec(&self.txn)
            .await
            .map_err(failed("write a review"))?;
        Ok(())
    }

    async fn agents_proposed(
        &mut self,
        lead: &LeadId,
        status: Option<ProposalStatus>,
    ) -> Result<HashSet<AgentId>, StorageError> {
        self.flush().await?;
        let mut query = self
            .scoped()
            .find::<proposals::Entity>()
            .select_only()
            .column(proposals::Column::AgentId)
            .filter(proposals::Column::LeadId.eq(lead.as_str()));
        if let Some(status) = status {
            query = query.filter(proposals::Column::Status.eq(status.as_str()));
        }
        query
            .into_tuple::<String>()
            .all(&self.txn)
            .await
            .map_err(failed("read the agents proposed for a lead"))?
            .iter()
            .map(|id| AgentId::parse(id).ok_or_else(|| corrupt(format!("proposal agent id {id}"))))
            .collect()
    }

    async fn leads_held_by(
        &mut self,
        agent: &AgentId,
        statuses: &[LeadStatus],
        limit: u64,
    ) -> Result<Vec<LeadId>, StorageError> {
        self.flush().await?;
        self.scoped()
            .find::<leads::Entity>()
            .select_only()
            .column(leads::Column::Id)
            .filter(leads::Column::AgentId.eq(agent.as_str()))
            .filter(leads::Column::Status.is_in(statuses.iter().map(|s| s.as_str())))
            .order_by_asc(leads::Column::CreatedAt)
            .order_by_asc(leads::Column::Id)
            .limit(limit)
            .into_tuple::<String>()
            .all(&self.txn)
            .await
            .map_err(failed("read the leads an agent holds"))?
            .iter()
            .map(|id| LeadId::parse(id).ok_or_else(|| corrupt(format!("lead id {id}"))))
            .collect()
    }

    async fn arm_timer(&mut self, timer: &Timer) -> Result<(), StorageError> {
        // Held back like the counters: it points at rows already written.
        let row = timer_to_active(self.scoped().org_id(), timer);
        self.pending.timers.push(row);
        Ok(())
    }

    async fn disarm_timers(&mut self, lead: &LeadId) -> Result<(), StorageError> {
        self.flush().await?;
        self.scoped()
            .delete::<timers::Entity>()
            .filter(timers::Column::LeadId.eq(lead.as_str()))
            .exec(&self.txn)
            .await
            .map_err(failed("disarm a lead's timers"))?;
        Ok(())
    }

    async fn timer(&mut self, id: &TimerId) -> Result<Option<Timer>, StorageError> {
        self.flush().await?;
        self.scoped()
            .one::<timers::Entity>(&self.txn, id.as_str(), false)
            .await?
            .as_ref()
            .map(timer_to_domain)
            .transpose()
    }

    async fn take_timer(&mut self, id: &TimerId) -> Result<bool, StorageError> {
        self.flush().await?;
        // Of two transactions deleting the row, the second waits for the
        // first and then deletes nothing.
        let done = self
            .scoped()
            .delete::<timers::Entity>()
            .filter(timers::Column::Id.eq(id.as_str()))
            .exec(&self.txn)
            .await
            .map_err(failed("take a timer"))?;
        Ok(done.rows_affected == 1)
    }

    async fn count_assignment(
        &mut self,
        agent: &AgentId,
        day: NaiveDate,
        now: DateTime<Utc>,
        turn: Option<&PoolId>,
    ) -> Result<(), StorageError> {
        // What the statements do to the rows, in the readings kept.
        self.each_member(agent, |c| {
            c.load.today += 1;
            c.load.last_assigned_at = Some(now);
        });
        if let Some((_, snapshot)) = turn.and_then(|pool| self.pools.get_mut(pool)) {
            snapshot.state.last_agent_id = Some(agent.clone());
            *snapshot.state.assignments.entry(agent.clone()).or_default() += 1;
        }
        // Held back (written before the next read or write, or with the
        // events at the commit), summed per agent and pool.
        let day = day_key(day);
        // Another local day for the same agent (not within one `now`)
        // starts a new sum.
        if self
            .pending
            .counts
            .get(agent)
            .is_some_and(|count| count.day != day)
        {
            self.flush().await?;
        }
        let count = self.pending.counts.entry(agent.clone()).or_insert(Count {
            day,
            leads: 0,
            last: now,
        });
        count.leads += 1;
        count.last = now;
        if let Some(pool) = turn {
            let turns = self.pending.turns.entry(pool.clone()).or_default();
            turns.last = Some(agent.clone());
            *turns.served.entry(agent.clone()).or_default() += 1;
        }
        Ok(())
    }

    async fn uncount_assignment(
        &mut self,
        agent: &AgentId,
        day: NaiveDate,
    ) -> Result<(), StorageError> {
        self.flush().await?;
        self.forget_readings();
        self.scoped()
            .update::<agents::Entity>()
            .col_expr(
                agents::Column::DailyCount,
                agents::Column::DailyCount.into_expr().sub(1),
            )
            .filter(agents::Column::Id.eq(agent.as_str()))
            .filter(agents::Column::DailyCountDay.eq(day_key(day)))
            .filter(agents::Column::DailyCount.gt(0))
            .exec(&self.txn)
            .await
            .map_err(failed("take back an assignment"))?;
        Ok(())
    }

    async fn release_pool_turn(
        &mut self,
        pool: &PoolId,
        agent: &AgentId,
    ) -> Result<(), StorageError> {
        self.flush().await?;
        self.forget_readings();
        self.scoped()
            .update::<pool_members::Entity>()
            .col_expr(
                pool_members::Column::Assignments,
                pool_members::Column::Assignments.into_expr().sub(1),
            )
            .filter(pool_members::Column::PoolId.eq(pool.as_str()))
            .filter(pool_members::Column::AgentId.eq(agent.as_str()))
            .filter(pool_members::Column::Assignments.gt(0))
            .exec(&self.txn)
            .await
            .map_err(failed("give back a pool turn"))?;
        Ok(())
    }

    async fn append_event(&mut self, event: NewEvent) -> Result<(), StorageError> {
        self.events.push(event.stamp(&self.scope));
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StorageError> {
        self.write_at_commit().await?;
        self.txn.commit().await.map_err(failed("commit"))
    }

    async fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        self.txn.rollback().await.map_err(failed("roll back"))
    }
}
