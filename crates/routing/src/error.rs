//! What can go wrong with agents, routing configuration, leads and proposals.

use tenancy::{StorageError, ValidationErrors};

/// The errors of every routing use case and repository method.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// No such object in the actor's organization (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The role may not do this (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The input breaks a field rule (400).
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// `settings.maxAgents` active agents exist already (409).
    #[error("the organization already has its maximum of {0} active agents (settings.maxAgents)")]
    MaxAgentsReached(u64),
    /// Another pool of the organization has this name (409).
    #[error("a pool with this name already exists")]
    PoolNameTaken,
    /// Rules still send leads to this pool (409).
    #[error("rules still route to this pool; delete or change them first")]
    PoolInUse,
    /// The pool is the organization's `settings.defaultPoolId` (409).
    #[error("this pool is the organization's default pool; change settings.defaultPoolId first")]
    PoolIsDefault,
    /// The proposal was already decided (409).
    #[error("this proposal is already {0}")]
    AlreadyDecided(&'static str),
    /// The agent was deactivated since the proposal was made (409): reject it
    /// or reassign the lead.
    #[error("the proposed agent is no longer active; reject the proposal or reassign the lead")]
    AgentInactive,
    /// A lead with this `externalId` exists and the caller may not see it
    /// (409): the replay of an ingestion shows only one's own leads.
    #[error("a lead with this externalId already exists")]
    DuplicateExternalId,
    /// A status change that would move a lead backwards (409).
    #[error("{0}")]
    InvalidTransition(String),
    /// The storage failed (500, or 503 when unreachable).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<ValidationErrors> for RoutingError {
    fn from(e: ValidationErrors) -> Self {
        Self::Invalid(e)
    }
}

impl From<lead::TransitionError> for RoutingError {
    fn from(e: lead::TransitionError) -> Self {
        Self::InvalidTransition(e.to_string())
    }
}
