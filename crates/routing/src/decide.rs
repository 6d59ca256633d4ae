//! One routing decision inside a transaction: the reads it needs
//! ([`DecisionReads`], implemented by storage adapters with queries only)
//! and the decision itself ([`decide`]): target, plan, and the capacity
//! re-check of the chosen agent under its own lock.

use std::{collections::HashSet, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lead::{Lead, LeadId};
use tenancy::{AgentId, StorageError, TenantScope};

use crate::{
    Agent, Candidate, Method, Pool, PoolId, PoolState, RoutingSettings, Rule,
    engine::{self, Plan, PlanInput, Target},
};

/// A pool as one routing step reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSnapshot {
    /// The pool.
    pub pool: Pool,
    /// Its rotation state.
    pub state: PoolState,
    /// Its members with their loads, in member order (members whose agent
    /// no longer exists left out).
    pub members: Vec<Candidate>,
    /// The organization's [`RoutingConfig::version`] when the pool was
    /// read (`None` from an adapter that does not version it).
    pub config_version: Option<i64>,
}

/// What a decision reads before it locks anything: the organization's
/// settings and rules, as of one version.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoutingConfig {
    /// Which configuration this is: it moves on every write of the
    /// settings or rules. `None` from an adapter that always reads them
    /// current (nothing to check).
    pub version: Option<i64>,
    /// The settings.
    pub settings: RoutingSettings,
    /// Every rule, in evaluation order.
    pub rules: Vec<Rule>,
}

/// What a routing decision reads, within one transaction of one
/// organization (the adapter's transaction is scoped to it when it begins).
///
/// In a write transaction, [`DecisionReads::pool`] locks the pool's row: that
/// lock is the one ordering point of a pool, which keeps round robin and
/// weighted counts exact under concurrency. Callers take locks in one order
/// (proposal → lead → pool → agents) so two transactions never wait on each
/// other in a cycle.
#[async_trait]
pub trait DecisionReads: Send {
    /// The organization's routing settings (defaults when it has none).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn routing_settings(&mut self) -> Result<RoutingSettings, StorageError>;

    /// Every rule of the organization, in evaluation order (priority, then
    /// age, then id).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn rules(&mut self) -> Result<Vec<Rule>, StorageError>;

    /// The settings and rules together. With `current: false` an adapter
    /// may answer from a cache, whose [`RoutingConfig::version`] says which
    /// configuration it is ([`decide`] checks it against the version the
    /// pool's lock returns); with `true` it reads them now. The default
    /// reads them now, unversioned.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn routing_config(&mut self, current: bool) -> Result<Arc<RoutingConfig>, StorageError> {
        let _ = current;
        Ok(Arc::new(RoutingConfig {
            version: None,
            settings: self.routing_settings().await?,
            rules: self.rules().await?,
        }))
    }

    /// The organization's current configuration version, for a decision
    /// that read no pool (`None` from an adapter that does not version it).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn config_version(&mut self) -> Result<Option<i64>, StorageError> {
        Ok(None)
    }

    /// The pool, its state and its members' loads, with a fixed number of
    /// queries whatever its size; its row locked in a write transaction.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn pool(
        &mut self,
        id: &PoolId,
        now: DateTime<Utc>,
    ) -> Result<Option<PoolSnapshot>, StorageError>;

    /// One agent with its load, unlocked.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn agent(
        &mut self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Candidate>, StorageError>;

    /// The agent of the organization's newest lead from e-mail `domain` that
    /// is owned ([`lead::LeadStatus::OWNED`]), other than `except`.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn domain_owner(
        &mut self,
        domain: &str,
        except: &LeadId,
    ) -> Result<Option<AgentId>, StorageError>;

    /// Opens a savepoint, locks the agent's row and reads its load again
    /// (exact: counted after the lock). Exactly one of
    /// [`DecisionReads::keep_agent_lock`] or
    /// [`DecisionReads::release_agent_lock`] follows.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn lock_agent(
        &mut self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Candidate>, StorageError>;

    /// Keeps the lock of [`DecisionReads::lock_agent`] to the end of the
    /// transaction.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn keep_agent_lock(&mut self) -> Result<(), StorageError>;

    /// Lets the lock of [`DecisionReads::lock_agent`] go at once (the
    /// savepoint is rolled back), so that a step never holds one agent's
    /// lock while it waits for another's.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn release_agent_lock(&mut self) -> Result<(), StorageError>;
}

/// Read-only snapshots for decisions that write nothing (simulations).
#[async_trait]
pub trait DecisionSource: Send + Sync {
    /// A read-only transaction of the scope's organization; nothing is
    /// locked and it is rolled back when dropped.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn read(&self, scope: &TenantScope) -> Result<Box<dyn DecisionReads>, StorageError>;
}

/// What a routing decision read, and decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The plan.
    pub plan: Plan,
    /// The settings it was made with.
    pub settings: RoutingSettings,
    /// The chosen agent as read: its time zone says which day it is counted on.
    pub chosen: Option<Agent>,
}

/// Whether a candidate has reached its capacity or daily cap.
pub fn over_caps(c: &Candidate) -> bool {
    c.agent.capacity.is_some_and(|cap| c.load.open_leads >= cap)
        || c.agent.daily_cap.is_some_and(|cap| c.load.today >= cap)
}

/// Decides where `lead` goes: the settings, the rules, the target pool
/// (locked in a write transaction) with its members' loads, the sticky owner
/// and the fallback agent; plans; and, with `recheck_caps`, makes sure the
/// chosen agent is still under its capacity and daily cap under its own row
/// lock, planning again without it when it is full after all.
///
/// `excluded` agents are never chosen (already had this lead).
///
/// # Errors
/// [`StorageError`] only.
#[tracing::instrument(skip_all, fields(lead_id = %lead.id))]
pub async fn decide(
    reads: &mut dyn DecisionReads,
    lead: &Lead,
    excluded: &HashSet<AgentId>,
    now: DateTime<Utc>,
    recheck_caps: bool,
) -> Result<Decision, StorageError> {
    let (config, snapshot) = targeted(reads, lead, now).await?;
    let settings = config.settings.clone();
    let target = engine::select_target(lead, &config.rules, &settings);
    let (pool, state, mut members) = match snapshot {
        Some(s) => (Some(s.pool), s.state, s.members),
        None => (None, PoolState::default(), Vec::new()),
    };
    let mut sticky = match (&lead.email, settings.sticky_by_domain) {
        (Some(email), true) => match reads.domain_owner(email.domain(), &lead.id).await? {
            Some(owner) => reads.agent(&owner, now).await?,
            None => None,
        },
        _ => None,
    };
    let fallback = match &settings.fallback_agent_id {
        Some(id) => reads.agent(id, now).await?,
        None => None,
    };
    let plan_now = |members: &[Candidate], sticky: Option<&Candidate>| {
        engine::plan(&PlanInput {
            lead,
            settings: &settings,
            target: &target,
            pool: pool.as_ref(),
            state: &state,
            members,
            sticky,
            fallback: fallback.as_ref(),
            excluded,
            now,
        })
    };
    let chosen_in = |plan: &Plan, members: &[Candidate], sticky: Option<&Candidate>| {
        let choice = plan.choice.as_ref()?;
        members
            .iter()
            .chain(sticky)
            .chain(fallback.as_ref())
            .find(|c| c.agent.id == choice.agent_id)
            .map(|c| c.agent.clone())
    };
    // Agents whose load was counted again under their row lock.
    let mut rechecked: HashSet<AgentId> = HashSet::new();
    let plan = loop {
        let plan = plan_now(&members, sticky.as_ref());
        // The capacity race: the loads above were read under the pool's
        // lock, but a capped agent may sit in other pools, whose routing
        // steps hold other locks. The fallback agent's caps are not checked
        // at all (it exists so that nothing is dropped).
        let recheck = chosen_in(&plan, &members, sticky.as_ref()).filter(|agent| {
            recheck_caps
                && plan
                    .choice
                    .as_ref()
                    .is_some_and(|c| c.method != Method::Fallback)
                && (agent.capacity.is_some() || agent.daily_cap.is_some())
                && !rechecked.contains(&agent.id)
        });
        let Some(agent) = recheck else {
            break plan;
        };
        rechecked.insert(agent.id.clone());
        let fresh = match reads.lock_agent(&agent.id, now).await {
            Ok(fresh) => fresh,
            Err(err) => {
                // The transaction fails as a whole; the savepoint goes with it.
                let _ = reads.release_agent_lock().await;
                return Err(err);
            }
        };
        let fresh = match fresh {
            Some(fresh) if !over_caps(&fresh) => fresh,
            full => {
                reads.release_agent_lock().await?;
                // Full after all: planned again with its exact load, the
                // trace says so and the next eligible candidate is
                // considered. Bounded: every round rechecks another agent.
                if let Some(full) = full {
                    replace(&mut members, &mut sticky, &full);
                }
                continue;
            }
        };
        reads.keep_agent_lock().await?;
        replace(&mut members, &mut sticky, &fresh);
        // Its exact load can make another member the least loaded; that
        // one is not taken (it would need a second lock): the chosen agent
        // is under its caps, which is what must hold. Otherwise the plan is
        // remade so that the trace shows the exact load.
        let exact = plan_now(&members, sticky.as_ref());
        break if exact.choice == plan.choice {
            exact
        } else {
            plan
        };
    };
    let chosen = chosen_in(&plan, &members, sticky.as_ref());
    Ok(Decision {
        plan,
        settings,
        chosen,
    })
}

/// How many times a decision reads the configuration again when it
/// changed under it, before it goes on with the last one read.
const CONFIG_READS: usize = 3;

/// The configuration, the target it selects and that pool read (locked):
/// a configuration from a cache is checked against the version read with
/// the pool (or read alone when there is no pool), and read again when it
/// is stale, so a decision never uses settings or rules older than the
/// transaction.
async fn targeted(
    reads: &mut dyn DecisionReads,
    lead: &Lead,
    now: DateTime<Utc>,
) -> Result<(Arc<RoutingConfig>, Option<PoolSnapshot>), StorageError> {
    let mut config = reads.routing_config(false).await?;
    let mut reads_left = CONFIG_READS;
    loop {
        let target = engine::select_target(lead, &config.rules, &config.settings);
        let snapshot = match &target {
            Target::Pool { pool_id, .. } => reads.pool(pool_id, now).await?,
            Target::Nowhere => None,
        };
        let Some(version) = config.version else {
            return Ok((config, snapshot));
        };
        let current = match &snapshot {
            Some(s) => s.config_version,
            None => reads.config_version().await?,
        };
        if current == Some(version) || reads_left == 0 {
            return Ok((config, snapshot));
        }
        reads_left -= 1;
        config = reads.routing_config(true).await?;
    }
}

/// Puts a candidate read again in place of its earlier reading.
fn replace(members: &mut [Candidate], sticky: &mut Option<Candidate>, fresh: &Candidate) {
    for c in members.iter_mut().chain(sticky.iter_mut()) {
        if c.agent.id == fresh.agent.id {
            c.clone_from(fresh);
        }
    }
}
