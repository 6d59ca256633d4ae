//! The data: organizations, and one [`Tenant`] of rows per organization.
//! A repository reaches a tenant's rows only through its [`TenantScope`],
//! so another organization's rows are not there to be found.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use lead::Lead;
use organization::Organization;
use proposal::Proposal;
use routing::{Agent, AgentLoad, Candidate, Pool, Rule};
use tenancy::{AgentId, Page, PageRequest, TenantScope};

/// Everything stored.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    pub(crate) orgs: BTreeMap<String, Organization>,
    pub(crate) tenants: HashMap<String, Tenant>,
}

impl State {
    /// The scope's rows (none yet: empty).
    pub(crate) fn tenant(&self, scope: &TenantScope) -> Tenant {
        self.tenants
            .get(scope.org_id().as_str())
            .cloned()
            .unwrap_or_default()
    }

    /// The scope's rows, to change.
    pub(crate) fn tenant_mut(&mut self, scope: &TenantScope) -> &mut Tenant {
        self.tenants
            .entry(scope.org_id().as_str().to_owned())
            .or_default()
    }

    /// The organization's settings (defaults when it does not exist).
    pub(crate) fn settings(&self, scope: &TenantScope) -> organization::Settings {
        self.orgs
            .get(scope.org_id().as_str())
            .map(|o| o.settings.clone())
            .unwrap_or_default()
    }
}

/// An agent and its routing counters.
#[derive(Clone, Debug)]
pub(crate) struct AgentRow {
    pub(crate) agent: Agent,
    pub(crate) daily_count: u32,
    pub(crate) counted_day: Option<NaiveDate>,
    pub(crate) last_assigned_at: Option<DateTime<Utc>>,
}

/// A pool and its rotation state.
#[derive(Clone, Debug)]
pub(crate) struct PoolRow {
    pub(crate) pool: Pool,
    pub(crate) last_agent_id: Option<AgentId>,
    pub(crate) assignments: HashMap<AgentId, u64>,
}

/// One organization's rows, each list in insertion order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tenant {
    pub(crate) agents: Vec<AgentRow>,
    pub(crate) pools: Vec<PoolRow>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) leads: Vec<Lead>,
    pub(crate) proposals: Vec<Proposal>,
    pub(crate) users: Vec<auth::UserCredentials>,
    pub(crate) sessions: Vec<auth::Session>,
    pub(crate) api_keys: Vec<(auth::ApiKey, String)>,
    /// In the order they were appended (which is id order).
    pub(crate) events: Vec<events::Event>,
    pub(crate) timers: Vec<proposal::Timer>,
}

impl Tenant {
    pub(crate) fn agent(&self, id: &AgentId) -> Option<&AgentRow> {
        self.agents.iter().find(|a| &a.agent.id == id)
    }

    pub(crate) fn agent_mut(&mut self, id: &AgentId) -> Option<&mut AgentRow> {
        self.agents.iter_mut().find(|a| &a.agent.id == id)
    }

    /// Leads in an open status held by the agent.
    pub(crate) fn open_leads(&self, id: &AgentId) -> u32 {
        let n = self
            .leads
            .iter()
            .filter(|l| l.agent_id.as_ref() == Some(id) && l.status.is_open())
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The agent with its load at `now`.
    pub(crate) fn candidate(&self, id: &AgentId, now: DateTime<Utc>) -> Option<Candidate> {
        let row = self.agent(id)?;
        let load = AgentLoad::from_counters(
            &row.agent,
            self.open_leads(id),
            row.daily_count,
            row.counted_day,
            row.last_assigned_at,
            now,
        );
        Some(Candidate {
            agent: row.agent.clone(),
            load,
        })
    }

    /// The rules in evaluation order: priority, then age, then id.
    pub(crate) fn rules_in_order(&self) -> Vec<Rule> {
        let mut rules = self.rules.clone();
        rules.sort_by(|a, b| {
            (a.priority, a.created_at, a.id.as_str()).cmp(&(
                b.priority,
                b.created_at,
                b.id.as_str(),
            ))
        });
        rules
    }
}

/// One page of `items` (already in the list's order).
pub(crate) fn page_of<T>(items: Vec<T>, page: PageRequest) -> Page<T> {
    let total = items.len() as u64;
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let limit = usize::try_from(page.limit()).unwrap_or(usize::MAX);
    Page {
        items: items.into_iter().skip(offset).take(limit).collect(),
        total,
        limit: page.limit(),
        offset: page.offset(),
    }
}

impl Tenant {
    /// Appends the event of a configuration write, as the SQL adapter does
    /// in the write's transaction ([`events::record`]).
    pub(crate) fn record<T: events::Audited>(
        &mut self,
        scope: &TenantScope,
        action: events::Action,
        before: Option<&T>,
        after: Option<&T>,
        at: DateTime<Utc>,
    ) {
        if let Some(event) = events::record(action, before, after, at) {
            self.events.push(event.stamp(scope));
        }
    }

    /// Appends an event the caller made.
    pub(crate) fn append(&mut self, scope: &TenantScope, event: events::NewEvent) {
        self.events.push(event.stamp(scope));
    }
}
