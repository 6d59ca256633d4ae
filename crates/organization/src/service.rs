//! The organization use cases, each checked against the actor's permissions.

use std::sync::Arc;

use tenancy::{Actor, OrgId, Page, PageRequest};

use crate::{
    NewOrganization, Organization, OrganizationError, OrganizationFilter, OrganizationPatch,
    OrganizationRepository, OrganizationStats,
    policy::{OrgAction, authorize, authorize_patch},
};

/// Organization use cases. Cheap to clone.
#[derive(Clone)]
pub struct OrganizationService {
    repo: Arc<dyn OrganizationRepository>,
}

impl std::fmt::Debug for OrganizationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganizationService")
            .finish_non_exhaustive()
    }
}

impl OrganizationService {
    /// A service over this repository.
    pub fn new(repo: Arc<dyn OrganizationRepository>) -> Self {
        Self { repo }
    }

    /// Lists organizations: all of them for a super admin, only the actor's
    /// own for everyone else.
    ///
    /// # Errors
    /// [`OrganizationError::Storage`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn list(
        &self,
        actor: &Actor,
        mut filter: OrganizationFilter,
        page: PageRequest,
    ) -> Result<Page<Organization>, OrganizationError> {
        if !actor.is_super_admin() {
            filter.id = Some(actor.home_org_id().clone());
        }
        Ok(self.repo.list(&filter, page).await?)
    }

    /// One organization.
    ///
    /// # Errors
    /// [`OrganizationError::NotFound`] when absent or not visible to the actor.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn get(&self, actor: &Actor, id: &OrgId) -> Result<Organization, OrganizationError> {
        authorize(actor, OrgAction::Read, Some(id))?;
        self.repo.find(id).await?.ok_or(OrganizationError::NotFound)
    }

    /// One organization with its row counts.
    ///
    /// # Errors
    /// As [`OrganizationService::get`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn stats(
        &self,
        actor: &Actor,
        id: &OrgId,
    ) -> Result<(Organization, OrganizationStats), OrganizationError> {
        let org = self.get(actor, id).await?;
        let stats = self.repo.stats(id).await?;
        Ok((org, stats))
    }

    /// Creates an organization (super admins only).
    ///
    /// # Errors
    /// [`OrganizationError::Forbidden`], [`OrganizationError::NameTaken`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn create(
        &self,
        actor: &Actor,
        new: NewOrganization,
    ) -> Result<Organization, OrganizationError> {
        authorize(actor, OrgAction::Create, None)?;
        let org = new.into_organization(actor.principal().to_string(), tenancy::now());
        let by = actor
            .acting_in(org.id.clone())
            .ok_or(OrganizationError::Forbidden(
                "only platform admins create organizations",
            ))?
            .scope();
        self.repo.insert(&by, &org).await?;
        tracing::info!(org_id = %org.id, name = %org.name, "organization created");
        Ok(org)
    }

    /// Changes the given fields.
    ///
    /// # Errors
    /// [`OrganizationError::NotFound`], [`OrganizationError::Forbidden`],
    /// [`OrganizationError::Invalid`], [`OrganizationError::NameTaken`],
    /// [`OrganizationError::DefaultOrganizationProtected`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn update(
        &self,
        actor: &Actor,
        id: &OrgId,
        patch: OrganizationPatch,
    ) -> Result<Organization, OrganizationError> {
        authorize_patch(actor, id, &patch)?;
        let scope = actor
            .acting_in(id.clone())
            .ok_or(OrganizationError::NotFound)?
            .scope();
        self.repo.update(&scope, patch, tenancy::now()).await
    }

    /// Deactivates (soft-deletes) an organization: its data stays, its users
    /// and keys stop working.
    ///
    /// # Errors
    /// [`OrganizationError::NotFound`], [`OrganizationError::Forbidden`],
    /// [`OrganizationError::DefaultOrganizationProtected`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn deactivate(
        &self,
        actor: &Actor,
        id: &OrgId,
    ) -> Result<Organization, OrganizationError> {
        self.set_active(actor, id, false).await
    }

    /// Reactivates an organization.
    ///
    /// # Errors
    /// [`OrganizationError::NotFound`], [`OrganizationError::Forbidden`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn activate(
        &self,
        actor: &Actor,
        id: &OrgId,
    ) -> Result<Organization, OrganizationError> {
        self.set_active(actor, id, true).await
    }

    async fn set_active(
        &self,
        actor: &Actor,
        id: &OrgId,
        active: bool,
    ) -> Result<Organization, OrganizationError> {
        authorize(actor, OrgAction::Lifecycle, Some(id))?;
        let scope = actor
            .acting_in(id.clone())
            .ok_or(OrganizationError::NotFound)?
            .scope();
        let org = self
            .repo
            .update(&scope, OrganizationPatch::active(active), tenancy::now())
            .await?;
        tracing::info!(org_id = %id, active, "organization status changed");
        Ok(org)
    }

    /// Deletes an organization and every row of it, irreversibly.
    ///
    /// # Errors
    /// [`OrganizationError::NotFound`], [`OrganizationError::Forbidden`],
    /// [`OrganizationError::DefaultOrganizationProtected`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn delete_permanently(
        &self,
        actor: &Actor,
        id: &OrgId,
    ) -> Result<(), OrganizationError> {
        authorize(actor, OrgAction::Lifecycle, Some(id))?;
        if id.is_default() {
            return Err(OrganizationError::DefaultOrganizationProtected);
        }
        if !self.repo.delete(id).await? {
            return Err(OrganizationError::NotFound);
        }
        tracing::warn!(org_id = %id, "organization permanently deleted");
        Ok(())
    }
}
