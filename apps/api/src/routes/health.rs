//! Liveness, readiness and the API description: no credentials needed.

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    envelope::{self, DataEnvelope},
    error::{ApiError, ErrorEnvelope},
    startup::AppState,
};

/// The state of the process or of its dependencies.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// `ok` (alive) or `ready` (the database answers).
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/health", operation_id = "get_health", tag = "health", security(()),
    responses((status = 200, description = "The process is alive", body = DataEnvelope<HealthStatus>,
        example = crate::examples::health_health_200)))]
pub async fn health() -> HttpResponse {
    envelope::ok(HealthStatus { status: "ok" })
}

/// The server can serve requests: the database answers and its schema is
/// this binary's (no migration pending).
#[utoipa::path(get, path = "/ready", operation_id = "get_readiness", tag = "health", security(()),
    responses(
        (status = 200, description = "The database answers and is migrated", body = DataEnvelope<HealthStatus>,
            example = crate::examples::health_ready_200),
        (status = 503, description = "The database does not answer, or its schema is missing or behind (`MIGRATIONS_PENDING`)", body = ErrorEnvelope),
    ))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let checked = match state.db.ping().await {
        Ok(()) => state.db.pending_migrations().await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(pending) if pending.is_empty() => Ok(envelope::ok(HealthStatus { status: "ready" })),
        Ok(pending) => {
            tracing::warn!(?pending, "readiness check failed: migrations pending");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "MIGRATIONS_PENDING",
                format!(
                    "The database schema is behind this server: {} migration(s) pending; run `lead-routing migrate up`",
                    pending.len()
                ),
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "The database is unavailable",
            ))
        }
    }
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "get_openapi_document", tag = "health", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object,
        example = crate::examples::health_openapi_200)))]
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}

/// Prometheus metrics: requests and latency by route pattern and status,
/// leads routed by outcome, database pool use. No tenant data; expose it on
/// an internal network only.
#[utoipa::path(get, path = "/metrics", operation_id = "get_metrics", tag = "health", security(()),
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain; version=0.0.4", body = String,
        example = crate::examples::health_metrics_200)))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(state.db.pool_usage()))
}
