//! `/api-keys`: the API keys of the caller's organization.

use actix_web::{HttpResponse, web};
use auth::{ApiKey, ApiKeyId, CreatedApiKey, NewApiKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenancy::PageRequest;
use utoipa::{IntoParams, ToSchema};

use crate::{
    envelope::{self, DataEnvelope, ListEnvelope, MessageEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, JsonBody, QueryParams},
    routes::users::RoleDto,
    startup::AppState,
};

/// An API key as the API shows it: never the secret, only its visible prefix.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::api_keys_api_key_dto)]
pub struct ApiKeyDto {
    /// Opaque id (`key_...`).
    pub id: String,
    /// The key's organization.
    pub org_id: String,
    /// What it is for.
    pub name: String,
    /// The visible part of the key (`lr_<prefix>_...`): 8 lower-case letters or digits.
    pub prefix: String,
    /// The role requests with this key carry.
    pub role: RoleDto,
    /// Who created it.
    pub created_by: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last use (recorded at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; revoked keys are refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyDto {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            org_id: k.org_id.to_string(),
            name: k.name.to_string(),
            prefix: k.prefix,
            role: k.role.into(),
            created_by: k.created_by,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key with its secret, shown once at creation or rotation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::api_keys_created_api_key_dto)]
pub struct CreatedApiKeyDto {
    /// The key.
    #[serde(flatten)]
    pub api_key: ApiKeyDto,
    /// The whole secret key for `x-api-key`. Shown only now: store it.
    #[schema(example = "lr_k7m2q9xa_XJMxtBELqTrFSvwU2jvdGWFHdKLVXSleWjWrRLPvrqU")]
    pub key: String,
}

impl From<CreatedApiKey> for CreatedApiKeyDto {
    fn from(c: CreatedApiKey) -> Self {
        Self {
            api_key: c.key.into(),
            key: c.plain_key,
        }
    }
}

/// Body of `POST /api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::api_keys_create_api_key_body)]
pub struct CreateApiKeyBody {
    /// What it is for, 1-100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Role of the key (default `agent`); at most your own.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub role: Option<RoleDto>,
}

/// Paging of `GET /api-keys`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListApiKeysQuery {
    /// Page size, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

fn key_id(raw: &str) -> Result<ApiKeyId, ApiError> {
    ApiKeyId::parse(raw).ok_or_else(|| ApiError::not_found("API key"))
}

/// List your organization's API keys (admins).
#[utoipa::path(get, path = "/api-keys", operation_id = "list_api_keys", tag = "api-keys", params(ListApiKeysQuery),
    responses(
        (status = 200, description = "One page of keys, oldest first", body = ListEnvelope<ApiKeyDto>),
        (status = 400, description = "Invalid paging", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListApiKeysQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(q.limit, q.offset).map_err(|e| ApiError::validation(&e))?;
    let keys = state.api_keys.list(&actor, page).await?;
    Ok(envelope::page(keys, ApiKeyDto::from))
}

/// Create an API key (admins). The secret is in `data.key`, shown only now.
#[utoipa::path(post, path = "/api-keys", operation_id = "create_api_key", tag = "api-keys", request_body = CreateApiKeyBody,
    responses(
        (status = 201, description = "Created; `data.key` is the secret", body = DataEnvelope<CreatedApiKeyDto>),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin, or a role above yours", body = ErrorEnvelope),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<CreateApiKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let cmd = NewApiKey::parse(&body.name, body.role.map(RoleDto::as_str))
        .map_err(|e| ApiError::validation(&e))?;
    let created = state.api_keys.create(&actor, cmd).await?;
    Ok(envelope::created(CreatedApiKeyDto::from(created)))
}

/// Revoke an API key (admins): requests with it are refused from now on.
#[utoipa::path(delete, path = "/api-keys/{id}", operation_id = "revoke_api_key", tag = "api-keys",
    params(("id" = String, Path, description = "API key id")),
    responses(
        (status = 200, description = "Revoked", body = MessageEnvelope<ApiKeyDto>,
            example = crate::examples::api_keys_revoke_200),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such key in your organization", body = ErrorEnvelope),
    ))]
pub async fn revoke(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = state.api_keys.revoke(&actor, &key_id(&id)?).await?;
    Ok(envelope::message(
        "API key revoked",
        Some(ApiKeyDto::from(key)),
    ))
}

/// Rotate an API key (admins): a new secret replaces the old one at once.
#[utoipa::path(post, path = "/api-keys/{id}/rotate", operation_id = "rotate_api_key", tag = "api-keys",
    params(("id" = String, Path, description = "API key id")),
    responses(
        (status = 200, description = "Rotated; `data.key` is the new secret", body = DataEnvelope<CreatedApiKeyDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin", body = ErrorEnvelope),
        (status = 404, description = "No such key in your organization", body = ErrorEnvelope),
        (status = 409, description = "Another request rotated the key meanwhile (`KEY_ROTATED_CONCURRENTLY`): only its secret works", body = ErrorEnvelope),
    ))]
pub async fn rotate(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rotated = state.api_keys.rotate(&actor, &key_id(&id)?).await?;
    Ok(envelope::ok(CreatedApiKeyDto::from(rotated)))
}
