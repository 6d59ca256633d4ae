//! What can go wrong with an organization use case.

use tenancy::{StorageError, ValidationErrors};

/// The errors of every organization use case and repository method.
#[derive(Debug, thiserror::Error)]
pub enum OrganizationError {
    /// No such organization, or one the actor may not see (404: the two are
    /// indistinguishable on purpose).
    #[error("organization not found")]
    NotFound,
    /// The actor sees the organization but may not do this (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The input breaks a field rule (400).
    #[error("invalid organization: {0}")]
    Invalid(ValidationErrors),
    /// Another organization has this name (409).
    #[error("an organization named `{0}` already exists")]
    NameTaken(String),
    /// The default organization cannot be deactivated or deleted (409).
    #[error("the default organization cannot be deactivated or deleted")]
    DefaultOrganizationProtected,
    /// The storage failed (500, or 503 when unreachable).
    #[error(transparent)]
    Storage(#[from] StorageError),
}
