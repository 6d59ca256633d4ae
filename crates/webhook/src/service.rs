//! The webhook use cases: admins manage their organization's endpoints.

use std::sync::Arc;

use events::{NewEvent, Subject};
use tenancy::{Actor, Page, PageRequest, Role, StorageError, ValidationErrors};

use crate::{
    Delivery, UrlPolicy, Webhook, WebhookChange, WebhookId, WebhookInput, WebhookSecret,
    ports::{DeliveryView, WebhookRepository},
};

/// Why a webhook use case failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Only admins manage webhooks (403).
    #[error("only admins may manage webhooks")]
    Forbidden,
    /// No such endpoint in the organization (404).
    #[error("webhook not found")]
    NotFound,
    /// Invalid input (400).
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<ValidationErrors> for WebhookError {
    fn from(e: ValidationErrors) -> Self {
        Self::Invalid(e)
    }
}

/// Webhook endpoints of the actor's organization. Cheap to clone.
#[derive(Clone)]
pub struct WebhookService {
    repo: Arc<dyn WebhookRepository>,
    policy: UrlPolicy,
}

impl std::fmt::Debug for WebhookService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn require_admin(actor: &Actor) -> Result<(), WebhookError> {
    if actor.has_at_least(Role::Admin) {
        Ok(())
    } else {
        Err(WebhookError::Forbidden)
    }
}

impl WebhookService {
    /// A service over `repo`, accepting endpoint addresses by `policy`.
    pub fn new(repo: Arc<dyn WebhookRepository>, policy: UrlPolicy) -> Self {
        Self { repo, policy }
    }

    /// The address policy in force.
    pub fn policy(&self) -> UrlPolicy {
        self.policy
    }

    /// Creates an endpoint; its secret is in the result, shown once.
    ///
    /// # Errors
    /// [`WebhookError::Forbidden`], [`WebhookError::Invalid`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn create(
        &self,
        actor: &Actor,
        input: WebhookInput,
    ) -> Result<Webhook, WebhookError> {
        require_admin(actor)?;
        let webhook = WebhookChange::parse(input, true, &self.policy)?
            .into_webhook(actor.org_id().clone(), tenancy::now())?;
        self.repo.insert(&actor.scope(), &webhook).await?;
        Ok(webhook)
    }

    /// Endpoints, oldest first.
    ///
    /// # Errors
    /// [`WebhookError::Forbidden`].
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> Result<Page<Webhook>, WebhookError> {
        require_admin(actor)?;
        Ok(self.repo.list(&actor.scope(), page).await?)
    }

    /// One endpoint.
    ///
    /// # Errors
    /// [`WebhookError::Forbidden`], [`WebhookError::NotFound`].
    pub async fn get(&self, actor: &Actor, id: &WebhookId) -> Result<Webhook, WebhookError> {
        require_admin(actor)?;
        self.repo
            .find(&actor.scope(), id)
            .await?
            .ok_or(WebhookError::NotFound)
    }

    /// Changes the given fields; turning an endpoint on again clears its
    /// failure streak.
    ///
    /// # Errors
    /// [`WebhookError::Forbidden`], [`WebhookError::NotFound`],
    /// [`WebhookError::Invalid`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: &WebhookId,
        input: WebhookInput,
    ) -> Result<Webhook, WebhookError> {
        require_admin(actor)?;
        let change = WebhookChange::parse(input, false, &self.policy)?;
        let mut webhook = self.get(actor, id).await?;
        if change.apply(&mut webhook, tenancy::now())
            && !self.repo.update(&actor.scope(), &webhook).await?
        {
            return Err(WebhookError::NotFound);
        }
        Ok(webhook)
    }

    /// Deletes an endpoint and its deliveries; returns what it was.
    ///
    /// # Errors
    /// [`WebhookError::Forbidden`], [`WebhookError::NotFound`].
    pub async fn delete(&self, actor: &Actor, id: &WebhookId) -> Result<Webhook, WebhookError> {
        let webhook = self.get(actor, id).await?;
        if self.repo.delete(&actor.scope(), id).await? {
            Ok(webhook)
        } else {
            Err(WebhookError::NotFound)
        }
    }

    /// A new signing secret (shown once); the old one stops at once.
    ///
    /// # Errors
    /// [`WebhookError::Forbidden`], [`WebhookError::NotFound`].
    pub async fn rotate_secret(
        &self,
        actor: &Actor,
        id: &WebhookId,
    ) -> Result<Webhook, WebhookError> {
        let mut webhook = self.get(actor, id).await?;
        webhook.secret = WebhookSecret::generate();
        webhook.updated_at = tenancy::now();
        if !self.repo.update(&actor.scope(), &webhook).await? {
            return Err(WebhookError::NotFound);
        }
        Ok(webhook)
    }

    /// Sends a `webhook.test` event to this endpoint only (even when it is
    /// turned off: that is how one checks it before turning it on).
    ///
    /// # Errors
    /// [`WebhookError::Forbidden`], [`WebhookError::NotFound`].
    pub async fn test(&self, actor: &Actor, id: &WebhookId) -> Result<Delivery, WebhookError> {
        let webhook = self.get(actor, id).await?;
        let event = NewEvent::new(
            crate::TEST_EVENT,
            Subject::of("webhook", webhook.id.to_string()),
            tenancy::now(),
        )
        .with("url", webhook.url.clone())
        .with("message", "A test delivery from Lead Routing.");
        Ok(self.repo.enqueue_test(&actor.scope(), id, event).await?)
    }

    /// The endpoint's deliveries, newest first, with their attempts.
    ///
    /// # Errors
    /// [`WebhookError::Forbidden`], [`WebhookError::NotFound`].
    pub async fn deliveries(
        &self,
        actor: &Actor,
        id: &WebhookId,
        page: PageRequest,
    ) -> Result<Page<DeliveryView>, WebhookError> {
        self.get(actor, id).await?;
        Ok(self.repo.deliveries(&actor.scope(), id, page).await?)
    }
}
