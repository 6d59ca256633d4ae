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
#[utoipa::path(get, path = "/health", tag = "health", security(()),
    responses((status = 200, description = "The process is alive", body = DataEnvelope<HealthStatus>,
        example = json!({"ok": true, "data": {"status": "ok"}}))))]
pub async fn health() -> HttpResponse {
    envelope::ok(HealthStatus { status: "ok" })
}

/// The server can serve requests: the database answers.
#[utoipa::path(get, path = "/ready", tag = "health", security(()),
    responses(
        (status = 200, description = "The database answers", body = DataEnvelope<HealthStatus>,
            example = json!({"ok": true, "data": {"status": "ready"}})),
        (status = 503, description = "The database does not answer", body = ErrorEnvelope),
    ))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match state.db.ping().await {
        Ok(()) => Ok(envelope::ok(HealthStatus { status: "ready" })),
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
#[utoipa::path(get, path = "/openapi.json", tag = "health", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object,
        example = json!({
            "openapi": "3.1.0",
            "info": {"title": "Lead Routing API", "license": {"name": "MIT OR Apache-2.0"}, "version": "0.1.0"},
            "paths": {"/openapi.json": {"get": {
                "tags": ["health"],
                "summary": "This API's OpenAPI 3.1 document.",
                "operationId": "openapi",
                "responses": {"200": {"description": "The OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}},
                "security": [{}]
            }}},
            "components": {"securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}}
        }))))]
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}

/// Prometheus metrics: requests and latency by route pattern and status,
/// leads routed by outcome, database pool use. No tenant data; expose it on
/// an internal network only.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()),
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain; version=0.0.4", body = String,
        example = json!("# HELP db_pool_connections Database pool connections by state\n\
            # TYPE db_pool_connections gauge\n\
            db_pool_connections{state=\"idle\"} 4\n\
            db_pool_connections{state=\"open\"} 5\n\
            # HELP http_request_duration_seconds HTTP request latency by route pattern\n\
            # TYPE http_request_duration_seconds histogram\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.001\"} 0\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.0025\"} 3\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.005\"} 41\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.01\"} 102\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.025\"} 117\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.05\"} 119\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.1\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.25\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.5\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"1\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"2.5\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"5\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"+Inf\"} 120\n\
            http_request_duration_seconds_sum{method=\"POST\",route=\"/leads\"} 1.183472561\n\
            http_request_duration_seconds_count{method=\"POST\",route=\"/leads\"} 120\n\
            # HELP http_requests_total HTTP requests by route pattern and status\n\
            # TYPE http_requests_total counter\n\
            http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1440\n\
            http_requests_total{method=\"POST\",route=\"/leads\",status=\"200\"} 2\n\
            http_requests_total{method=\"POST\",route=\"/leads\",status=\"201\"} 118\n\
            # HELP leads_routed_total Leads received, by routing outcome\n\
            # TYPE leads_routed_total counter\n\
            leads_routed_total{outcome=\"assigned\"} 15\n\
            leads_routed_total{outcome=\"proposed\"} 97\n\
            leads_routed_total{outcome=\"replayed\"} 2\n\
            leads_routed_total{outcome=\"unrouted\"} 6\n"))))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(state.db.pool_usage()))
}
