//! The storage ports of routing. Every method takes the organization id and
//! the adapter filters on it in every statement: another organization's rows
//! are simply not found.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lead::{Lead, LeadContactPatch, LeadFilter, LeadId};
use tenancy::{AgentId, OrgId, Page, PageRequest, StorageError};

use crate::{
    Agent, AgentChange, AgentLoad, AgentStatus, DayWindow, LeadActivity, Pool, PoolChange, PoolId,
    Proposal, ProposalId, ProposalStatus, RoutingError, Rule, RuleChange, RuleId, engine::Plan,
};

/// Which agents a list returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentFilter {
    /// Only this status.
    pub status: Option<AgentStatus>,
    /// Only active (or deactivated) agents.
    pub is_active: Option<bool>,
}

/// An agent and its current load, for lists.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentView {
    /// The agent.
    pub agent: Agent,
    /// Its load now (open leads; leads today; last assignment).
    pub load: AgentLoad,
}

/// Agents.
#[async_trait]
pub trait AgentRepository: Send + Sync {
    /// Stores a new agent.
    ///
    /// # Errors
    /// MUST return [`RoutingError::MaxAgentsReached`] when the organization's
    /// `settings.maxAgents` (read in the same transaction) active agents exist.
    async fn insert(&self, agent: &Agent) -> Result<(), RoutingError>;

    /// One agent with its load.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(
        &self,
        org: &OrgId,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<AgentView>, StorageError>;

    /// The agent linked to a user, if any.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_by_user(&self, org: &OrgId, user_id: &str)
    -> Result<Option<Agent>, StorageError>;

    /// Agents, oldest first, with their loads.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        org: &OrgId,
        filter: &AgentFilter,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> Result<Page<AgentView>, StorageError>;

    /// Reads, applies [`Agent::apply`] and writes back in one transaction. When
    /// the agent came back (away/paused → available), its count in every
    /// weighted pool is lifted with [`crate::lifted_assignments`].
    ///
    /// # Errors
    /// [`RoutingError::NotFound`]; [`RoutingError::MaxAgentsReached`] is not
    /// returned (reactivation goes through [`AgentRepository::set_active`]).
    async fn update(
        &self,
        org: &OrgId,
        id: &AgentId,
        change: AgentChange,
        now: DateTime<Utc>,
    ) -> Result<Agent, RoutingError>;

    /// Deactivates or reactivates an agent (its open leads stay where they are).
    ///
    /// # Errors
    /// [`RoutingError::NotFound`]; [`RoutingError::MaxAgentsReached`] when
    /// reactivating beyond `settings.maxAgents`.
    async fn set_active(
        &self,
        org: &OrgId,
        id: &AgentId,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<Agent, RoutingError>;
}

/// Pools.
#[async_trait]
pub trait PoolRepository: Send + Sync {
    /// Stores a new pool with its members.
    ///
    /// # Errors
    /// [`RoutingError::Invalid`] (field `memberIds`) naming member ids that are
    /// not agents of the organization; [`RoutingError::PoolNameTaken`].
    async fn insert(&self, pool: &Pool) -> Result<(), RoutingError>;

    /// One pool.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, org: &OrgId, id: &PoolId) -> Result<Option<Pool>, StorageError>;

    /// Pools, oldest first.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(&self, org: &OrgId, page: PageRequest) -> Result<Page<Pool>, StorageError>;

    /// Changes name, method or members (members replaced in the given order;
    /// members kept keep their weighted counts) in one transaction.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`], as [`PoolRepository::insert`].
    async fn update(
        &self,
        org: &OrgId,
        id: &PoolId,
        change: PoolChange,
        now: DateTime<Utc>,
    ) -> Result<Pool, RoutingError>;

    /// Deletes a pool.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`]; [`RoutingError::PoolInUse`] while rules route to it.
    async fn delete(&self, org: &OrgId, id: &PoolId) -> Result<(), RoutingError>;
}

/// Rules.
#[async_trait]
pub trait RuleRepository: Send + Sync {
    /// Stores a new rule.
    ///
    /// # Errors
    /// [`RoutingError::Invalid`] (field `poolId`) when the pool is not one of the organization's.
    async fn insert(&self, rule: &Rule) -> Result<(), RoutingError>;

    /// One rule.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, org: &OrgId, id: &RuleId) -> Result<Option<Rule>, StorageError>;

    /// Rules in evaluation order: priority, then age, then id.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(&self, org: &OrgId, page: PageRequest) -> Result<Page<Rule>, StorageError>;

    /// Changes the given fields.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`], as [`RuleRepository::insert`].
    async fn update(
        &self,
        org: &OrgId,
        id: &RuleId,
        change: RuleChange,
        now: DateTime<Utc>,
    ) -> Result<Rule, RoutingError>;

    /// Deletes a rule.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`].
    async fn delete(&self, org: &OrgId, id: &RuleId) -> Result<(), RoutingError>;
}

/// Which proposals a list returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProposalFilter {
    /// Only this status.
    pub status: Option<ProposalStatus>,
    /// Only for this agent.
    pub agent_id: Option<AgentId>,
    /// Only for this lead.
    pub lead_id: Option<LeadId>,
}

/// Leads and proposals, read side, and contact updates.
#[async_trait]
pub trait LeadRepository: Send + Sync {
    /// One lead.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, org: &OrgId, id: &LeadId) -> Result<Option<Lead>, StorageError>;

    /// Leads, newest first.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        org: &OrgId,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<Lead>, StorageError>;

    /// Reads, applies [`Lead::apply`] and writes back in one transaction.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`], [`RoutingError::InvalidTransition`].
    async fn update_contact(
        &self,
        org: &OrgId,
        id: &LeadId,
        patch: LeadContactPatch,
        now: DateTime<Utc>,
    ) -> Result<Lead, RoutingError>;

    /// One proposal.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_proposal(
        &self,
        org: &OrgId,
        id: &ProposalId,
    ) -> Result<Option<Proposal>, StorageError>;

    /// Proposals: pending first, then newest first.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list_proposals(
        &self,
        org: &OrgId,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> Result<Page<Proposal>, StorageError>;

    /// The latest proposal of a lead.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn latest_proposal(
        &self,
        org: &OrgId,
        lead: &LeadId,
    ) -> Result<Option<Proposal>, StorageError>;

    /// Counts for the dashboard: `(users, agents, leads, proposals)`.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn counts(&self, org: &OrgId) -> Result<(u64, u64, u64, u64), StorageError>;

    /// Leads of the organization created in each day of `window` (UTC,
    /// `created_at` at or after the day's start and before the next day's),
    /// counted per assigned agent in SQL: one [`crate::DayCount`] per day and
    /// agent that has leads, `agent_id: None` for leads assigned to no one
    /// (a lead merely proposed is not assigned, as
    /// [`Lead::assigned_agent_id`]).
    ///
    /// With `only`, just the leads assigned to that agent are counted and
    /// `agents` holds just that agent (when it is one of the organization's);
    /// otherwise `agents` holds every active agent of the organization and
    /// every agent that has a count.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn leads_per_agent(
        &self,
        org: &OrgId,
        window: &DayWindow,
        only: Option<&AgentId>,
    ) -> Result<LeadActivity, StorageError>;
}

/// A lead and its current proposal, after a routing step.
#[derive(Clone, Debug, PartialEq)]
pub struct Routed {
    /// The lead as stored.
    pub lead: Lead,
    /// Its proposal (pending or approved), or `None` when unrouted.
    pub proposal: Option<Proposal>,
    /// Whether the lead was created now (`false`: an `externalId` replay).
    pub created: bool,
}

/// The atomic routing steps. Each runs in ONE write transaction that locks the
/// target pool's row (`SELECT ... FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE`
/// on SQLite), reads the pool state and the members' loads with a fixed
/// number of queries (never one per member), calls
/// [`crate::engine::select_target`] and [`crate::engine::plan`], and writes
/// the lead, the proposal, the pool state and the agent counters before
/// committing. An error leaves nothing written.
#[async_trait]
pub trait RoutingStore: Send + Sync {
    /// Stores a new lead (status `new`) and routes it. A lead whose
    /// `external_id` the organization already has is not stored again: the
    /// existing lead and its latest proposal come back with `created: false`.
    ///
    /// # Errors
    /// [`RoutingError::Storage`] only.
    async fn ingest(&self, lead: Lead, now: DateTime<Utc>) -> Result<Routed, RoutingError>;

    /// Approves a pending proposal: the lead becomes `assigned` to its agent.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`], [`RoutingError::AlreadyDecided`].
    async fn approve(
        &self,
        org: &OrgId,
        id: &ProposalId,
        by: &str,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Routed, RoutingError>;

    /// Rejects a pending proposal, releasing the agent's capacity and turn.
    /// With `reassign_to`, an approved [`crate::Method::Manual`] proposal for
    /// that agent assigns the lead; otherwise the lead is routed again,
    /// excluding every agent already rejected for it, and ends `proposed`,
    /// `assigned` (auto-routing) or `unrouted` with the reason.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`] (also for an unknown or deactivated
    /// `reassign_to`, reported on field `reassignTo` as
    /// [`RoutingError::Invalid`]), [`RoutingError::AlreadyDecided`].
    async fn reject(
        &self,
        org: &OrgId,
        id: &ProposalId,
        by: &str,
        note: Option<String>,
        reassign_to: Option<AgentId>,
        now: DateTime<Utc>,
    ) -> Result<(Proposal, Routed), RoutingError>;

    /// The decision for a lead that is not stored: reads like
    /// [`RoutingStore::ingest`], writes nothing.
    ///
    /// # Errors
    /// [`RoutingError::Storage`] only.
    async fn simulate(&self, lead: &Lead, now: DateTime<Utc>) -> Result<Plan, RoutingError>;
}
