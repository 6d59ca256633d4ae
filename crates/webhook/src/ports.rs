//! The storage ports of webhooks.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use events::{Event, NewEvent};
use tenancy::{Page, PageRequest, StorageError, TenantScope};

use crate::{Attempt, Delivery, Verdict, Webhook, WebhookId};

/// A delivery with its attempts, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryView {
    /// The delivery.
    pub delivery: Delivery,
    /// Its attempts, the latest first.
    pub attempts: Vec<Attempt>,
}

/// An organization's endpoints and their deliveries.
///
/// Deliveries are made by the storage adapter itself, in the transaction
/// that appends an event, for every active endpoint of the organization
/// that [`Webhook::wants`] it: the event and its deliveries commit
/// together (the transactional outbox).
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    /// Stores a new endpoint.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn insert(&self, scope: &TenantScope, webhook: &Webhook) -> Result<(), StorageError>;

    /// One endpoint.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(
        &self,
        scope: &TenantScope,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StorageError>;

    /// Endpoints, oldest first.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<Webhook>, StorageError>;

    /// Writes every field of an endpoint back; `false` when it is gone.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn update(&self, scope: &TenantScope, webhook: &Webhook) -> Result<bool, StorageError>;

    /// Deletes an endpoint and its deliveries; `false` when it was not there.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn delete(&self, scope: &TenantScope, id: &WebhookId) -> Result<bool, StorageError>;

    /// The endpoint's deliveries, newest first, each with its attempts.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn deliveries(
        &self,
        scope: &TenantScope,
        id: &WebhookId,
        page: PageRequest,
    ) -> Result<Page<DeliveryView>, StorageError>;

    /// Appends `event` and a delivery of it to this one endpoint (a test
    /// ping), in one transaction.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn enqueue_test(
        &self,
        scope: &TenantScope,
        id: &WebhookId,
        event: NewEvent,
    ) -> Result<Delivery, StorageError>;
}

/// A delivery leased to one sender, with what it needs to send it.
#[derive(Clone, Debug, PartialEq)]
pub struct Claimed {
    /// The delivery.
    pub delivery: Delivery,
    /// Its endpoint.
    pub webhook: Webhook,
    /// Its event.
    pub event: Event,
}

/// The sender's view of every organization's deliveries.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Leases due deliveries until `lease_until` (their next attempt moves
    /// there, so a sender that dies leaves them due again then): at most
    /// `limit`, only the earliest pending one of each endpoint and ordering
    /// key (events of one lead reach an endpoint in order), only of active
    /// endpoints. Concurrent senders never lease the same delivery.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Claimed>, StorageError>;

    /// Records an attempt and its verdict in one transaction: the attempt
    /// row, the delivery's state, the endpoint's failure streak, and when
    /// the verdict turns the endpoint off, that and a `webhook.disabled`
    /// event.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn record(
        &self,
        claimed: &Claimed,
        attempt: &Attempt,
        verdict: &Verdict,
    ) -> Result<(), StorageError>;
}
