//! The read port of leads. Writes go through the routing workflow's unit of
//! work (the `proposal` crate), so that a lead and its proposal change
//! together.

use async_trait::async_trait;
use tenancy::{Page, PageRequest, StorageError, TenantScope};

use crate::{Lead, LeadFilter, LeadId};

/// Leads, read side. Every method filters on the scope's organization:
/// another organization's leads are simply not found.
#[async_trait]
pub trait LeadRepository: Send + Sync {
    /// One lead.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, scope: &TenantScope, id: &LeadId) -> Result<Option<Lead>, StorageError>;

    /// Leads, newest first (ties by id). [`LeadFilter::assigned_agent_id`]
    /// keeps the leads that agent owns ([`crate::LeadStatus::OWNED`]), not
    /// those merely proposed to it.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<Lead>, StorageError>;
}
