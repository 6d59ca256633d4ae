//! The storage port of organizations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenancy::{OrgId, Page, PageRequest, StorageError, TenantScope};

use crate::{
    Organization, OrganizationError, OrganizationFilter, OrganizationPatch, OrganizationStats,
};

/// Where organizations live. Implemented by the `storage` crate for SQLite and
/// PostgreSQL; held as `Arc<dyn OrganizationRepository>`.
///
/// The organizations table is the one table that is not tenant-scoped: it *is*
/// the tenants. Access control happens in [`crate::OrganizationService`].
#[async_trait]
pub trait OrganizationRepository: Send + Sync {
    /// Organizations matching `filter`, oldest first (ties by id), and the
    /// total count of matches.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        filter: &OrganizationFilter,
        page: PageRequest,
    ) -> Result<Page<Organization>, StorageError>;

    /// The organization with this id, if any.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, id: &OrgId) -> Result<Option<Organization>, StorageError>;

    /// Stores a new organization, and its `organization.created` event by
    /// `by` (a scope of the new organization) in the same transaction.
    ///
    /// # Errors
    /// MUST return [`OrganizationError::NameTaken`] when the name is in use;
    /// otherwise only [`OrganizationError::Storage`].
    async fn insert(&self, by: &TenantScope, org: &Organization) -> Result<(), OrganizationError>;

    /// Reads the scope's organization, applies `patch` with
    /// [`Organization::apply`] and writes it back, with its
    /// `organization.updated` and `settings.changed` events
    /// ([`events::record`], [`crate::settings_changed`]) by the scope's
    /// principal, all in one transaction.
    ///
    /// # Errors
    /// [`OrganizationError::NotFound`] when absent; whatever
    /// [`Organization::apply`] returns; [`OrganizationError::NameTaken`] on a
    /// rename to a name in use; [`OrganizationError::Storage`]. Nothing is
    /// written on error.
    async fn update(
        &self,
        scope: &TenantScope,
        patch: OrganizationPatch,
        now: DateTime<Utc>,
    ) -> Result<Organization, OrganizationError>;

    /// Deletes the organization and, by cascade, every row that belongs to it.
    /// Returns whether it existed.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn delete(&self, id: &OrgId) -> Result<bool, StorageError>;

    /// Counts the organization's users, leads, proposals and agents.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn stats(&self, id: &OrgId) -> Result<OrganizationStats, StorageError>;
}
