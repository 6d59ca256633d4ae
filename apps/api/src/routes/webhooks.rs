//! `/webhooks`: where an organization's events are posted (admins).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenancy::PageRequest;
use utoipa::{IntoParams, ToSchema};
use webhook::{Attempt, Webhook, WebhookId, WebhookInput, ports::DeliveryView};

use crate::{
    envelope::{self, DataEnvelope, ListEnvelope, MessageEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, JsonBody, QueryParams},
    startup::AppState,
};

/// A webhook endpoint (its secret is shown only when made or rotated).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::webhooks_webhook_dto)]
pub struct WebhookDto {
    /// Opaque id (`whk_...`).
    pub id: String,
    /// Where deliveries are posted.
    pub url: String,
    /// The event types it receives: `*`, a type, or a family (`proposal.*`).
    pub events: Vec<String>,
    /// What it is for.
    pub description: Option<String>,
    /// `json` (the event) or `slack` (`{"text": "..."}`).
    pub format: String,
    /// Whether deliveries are made.
    pub is_active: bool,
    /// Why the sender turned it off (410, or a day of failures).
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Webhook> for WebhookDto {
    fn from(w: &Webhook) -> Self {
        Self {
            id: w.id.to_string(),
            url: w.url.clone(),
            events: w.events.iter().map(|p| p.as_str().to_owned()).collect(),
            description: w.description.clone(),
            format: w.format.as_str().to_owned(),
            is_active: w.is_active,
            disabled_reason: w.disabled_reason.clone(),
            failing_since: w.failing_since,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A webhook endpoint with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::webhooks_created_webhook_dto)]
pub struct CreatedWebhookDto {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: WebhookDto,
    /// `whsec_...`: verify `X-Lead-Routing-Signature` with it. Not shown again.
    pub secret: String,
}

impl From<Webhook> for CreatedWebhookDto {
    fn from(w: Webhook) -> Self {
        Self {
            webhook: WebhookDto::from(&w),
            secret: w.secret.expose().to_owned(),
        }
    }
}

/// Body of `POST /webhooks` and `PUT /webhooks/{id}` (on update only the
/// fields given change; `description: null` clears it).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::webhooks_webhook_body)]
pub struct WebhookBody {
    /// `https://` (and a public address) in production.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    pub url: Option<String>,
    /// `["*"]`, types (`lead.routed`) or families (`proposal.*`) of the event catalogue.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    pub events: Option<Vec<String>>,
    /// What it is for (at most 500 characters).
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `json` (default) or `slack`.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    pub format: Option<String>,
    /// Turn deliveries off or on (on again clears the failure streak).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    pub is_active: Option<bool>,
}

impl From<WebhookBody> for WebhookInput {
    fn from(b: WebhookBody) -> Self {
        Self {
            url: b.url,
            events: b.events,
            description: b.description,
            format: b.format,
            is_active: b.is_active,
        }
    }
}

/// What a `format: "slack"` endpoint receives: a Slack incoming webhook's
/// message.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"text": "Lead Jane Doe (Globex) proposed to Olivia Carter by rule EMEA → pool Inbound"}))]
pub struct SlackMessageDto {
    /// The sentence.
    pub text: String,
}

/// One attempt of a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptDto {
    /// 1 for the first.
    pub number: u32,
    /// When.
    pub at: DateTime<Utc>,
    /// The answer's status, when one came.
    pub status_code: Option<u16>,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
    /// Why it failed.
    pub error: Option<String>,
}

impl From<Attempt> for AttemptDto {
    fn from(a: Attempt) -> Self {
        Self {
            number: a.number,
            at: a.at,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error,
        }
    }
}

/// One event's delivery to the endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::webhooks_delivery_dto)]
pub struct DeliveryDto {
    /// Opaque id (`dlv_...`).
    pub id: String,
    /// The event (the `X-Lead-Routing-Delivery` header).
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last answer's status.
    pub last_status_code: Option<u16>,
    /// The last failure.
    pub last_error: Option<String>,
    /// The last attempt's duration, in milliseconds.
    pub last_latency_ms: Option<u64>,
    /// When it was made (with its event).
    pub created_at: DateTime<Utc>,
    /// When the endpoint acknowledged it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Every attempt, the latest first.
    pub attempt_log: Vec<AttemptDto>,
}

impl From<DeliveryView> for DeliveryDto {
    fn from(v: DeliveryView) -> Self {
        let d = v.delivery;
        Self {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            event_type: d.event_type,
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            last_latency_ms: d.last_latency_ms,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            attempt_log: v.attempts.into_iter().map(Into::into).collect(),
        }
    }
}

/// Paging of the lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-1000, default 100.
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
}

fn webhook_id(raw: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(raw).ok_or_else(|| ApiError::not_found("Webhook"))
}

/// Create an endpoint (admins): its signing secret is in `data.secret`, shown once.
#[utoipa::path(post, path = "/webhooks", operation_id = "create_webhook", tag = "webhooks", request_body = WebhookBody,
    responses(
        (status = 201, description = "Created", body = DataEnvelope<CreatedWebhookDto>),
        (status = 400, description = "Invalid fields (each named: `url`, `events[1]`...)", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<HttpResponse, ApiError> {
    let webhook = state.webhooks.create(&actor, body.into()).await?;
    Ok(envelope::created(CreatedWebhookDto::from(webhook)))
}

/// The organization's endpoints, oldest first (admins).
#[utoipa::path(get, path = "/webhooks", operation_id = "list_webhooks", tag = "webhooks", params(PageQuery),
    responses(
        (status = 200, description = "One page of endpoints", body = ListEnvelope<WebhookDto>),
        (status = 400, description = "Invalid paging", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(q.limit, q.offset).map_err(|e| ApiError::validation(&e))?;
    let webhooks = state.webhooks.list(&actor, page).await?;
    Ok(envelope::page(webhooks, |w| WebhookDto::from(&w)))
}

/// One endpoint (admins).
#[utoipa::path(get, path = "/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The endpoint", body = DataEnvelope<WebhookDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such webhook in your organization", body = ErrorEnvelope),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let webhook = state.webhooks.get(&actor, &webhook_id(&id)?).await?;
    Ok(envelope::ok(WebhookDto::from(&webhook)))
}

/// Change an endpoint (admins): only the fields given.
#[utoipa::path(put, path = "/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks", request_body = WebhookBody,
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "Updated", body = DataEnvelope<WebhookDto>),
        (status = 400, description = "Invalid fields", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such webhook in your organization", body = ErrorEnvelope),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<HttpResponse, ApiError> {
    let id = webhook_id(&id)?;
    let webhook = state.webhooks.update(&actor, &id, body.into()).await?;
    Ok(envelope::ok(WebhookDto::from(&webhook)))
}

/// Delete an endpoint and its deliveries (admins).
#[utoipa::path(delete, path = "/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "Deleted", body = MessageEnvelope<WebhookDto>,
            example = crate::examples::webhooks_delete_200),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such webhook in your organization", body = ErrorEnvelope),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let webhook = state.webhooks.delete(&actor, &webhook_id(&id)?).await?;
    Ok(envelope::message(
        "Webhook deleted",
        Some(WebhookDto::from(&webhook)),
    ))
}

/// A new signing secret (admins): in `data.secret`, shown once; the old one stops at once.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "Rotated", body = DataEnvelope<CreatedWebhookDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such webhook in your organization", body = ErrorEnvelope),
    ))]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let webhook = state
        .webhooks
        .rotate_secret(&actor, &webhook_id(&id)?)
        .await?;
    Ok(envelope::ok(CreatedWebhookDto::from(webhook)))
}

/// Send a `webhook.test` event to this endpoint only (admins); see it in the deliveries.
#[utoipa::path(post, path = "/webhooks/{id}/test", operation_id = "test_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 202, description = "Queued; it is sent within a second", body = DataEnvelope<DeliveryDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such webhook in your organization", body = ErrorEnvelope),
    ))]
pub async fn test(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let delivery = state.webhooks.test(&actor, &webhook_id(&id)?).await?;
    Ok(HttpResponse::Accepted().json(DataEnvelope {
        ok: true,
        data: DeliveryDto::from(DeliveryView {
            delivery,
            attempts: Vec::new(),
        }),
    }))
}

/// The endpoint's deliveries, newest first, each with its attempts (admins).
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"), PageQuery),
    responses(
        (status = 200, description = "One page of deliveries", body = ListEnvelope<DeliveryDto>),
        (status = 400, description = "Invalid paging", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such webhook in your organization", body = ErrorEnvelope),
    ))]
pub async fn deliveries(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(q.limit, q.offset).map_err(|e| ApiError::validation(&e))?;
    let deliveries = state
        .webhooks
        .deliveries(&actor, &webhook_id(&id)?, page)
        .await?;
    Ok(envelope::page(deliveries, DeliveryDto::from))
}
