//! The storage ports of the routing configuration: agents, pools and rules.
//! Every method takes the [`TenantScope`] and the adapter filters on its
//! organization in every statement: another organization's rows are simply
//! not found. The reads of a routing decision are [`crate::DecisionReads`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenancy::{AgentId, Page, PageRequest, StorageError, TenantScope};

use crate::{
    Agent, AgentChange, AgentLoad, AgentStatus, Pool, PoolChange, PoolId, RoutingError, Rule,
    RuleChange, RuleId,
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
    /// Stores a new agent in the scope's organization.
    ///
    /// # Errors
    /// MUST return [`RoutingError::MaxAgentsReached`] when the organization's
    /// `settings.maxAgents` (read in the same transaction) active agents exist.
    async fn insert(&self, scope: &TenantScope, agent: &Agent) -> Result<(), RoutingError>;

    /// One agent with its load.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(
        &self,
        scope: &TenantScope,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<AgentView>, StorageError>;

    /// The agent linked to a user, if any.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_by_user(
        &self,
        scope: &TenantScope,
        user_id: &str,
    ) -> Result<Option<Agent>, StorageError>;

    /// Agents, oldest first, with their loads.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        scope: &TenantScope,
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
        scope: &TenantScope,
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
        scope: &TenantScope,
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
    async fn insert(&self, scope: &TenantScope, pool: &Pool) -> Result<(), RoutingError>;

    /// One pool.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, scope: &TenantScope, id: &PoolId) -> Result<Option<Pool>, StorageError>;

    /// Pools, oldest first.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<Pool>, StorageError>;

    /// Changes name, method or members (members replaced in the given order;
    /// members kept keep their weighted counts) in one transaction.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`], as [`PoolRepository::insert`].
    async fn update(
        &self,
        scope: &TenantScope,
        id: &PoolId,
        change: PoolChange,
        now: DateTime<Utc>,
    ) -> Result<Pool, RoutingError>;

    /// Deletes a pool.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`]; [`RoutingError::PoolInUse`] while rules route to it.
    async fn delete(&self, scope: &TenantScope, id: &PoolId) -> Result<(), RoutingError>;
}

/// Rules.
#[async_trait]
pub trait RuleRepository: Send + Sync {
    /// Stores a new rule.
    ///
    /// # Errors
    /// [`RoutingError::Invalid`] (field `poolId`) when the pool is not one of the organization's.
    async fn insert(&self, scope: &TenantScope, rule: &Rule) -> Result<(), RoutingError>;

    /// One rule.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, scope: &TenantScope, id: &RuleId) -> Result<Option<Rule>, StorageError>;

    /// Rules in evaluation order: priority, then age, then id.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<Rule>, StorageError>;

    /// Changes the given fields.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`], as [`RuleRepository::insert`].
    async fn update(
        &self,
        scope: &TenantScope,
        id: &RuleId,
        change: RuleChange,
        now: DateTime<Utc>,
    ) -> Result<Rule, RoutingError>;

    /// Deletes a rule.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`].
    async fn delete(&self, scope: &TenantScope, id: &RuleId) -> Result<(), RoutingError>;
}
