//! `/dashboard`: the organization at a glance (seed, example 3).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ErrorEnvelope},
    extract::Authenticated,
    routes::organizations::{OrganizationDto, StatsDto},
    startup::AppState,
};

/// Ratios; null when the denominator is 0.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthDto {
    /// Users per agent.
    pub users_per_agent: Option<f64>,
    /// Proposals per lead (above 1: leads were re-routed).
    pub proposals_per_lead: Option<f64>,
}

/// `{ok, organization, stats, health}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardResponse {
    /// Always `true`.
    pub ok: bool,
    /// Your organization.
    pub organization: OrganizationDto,
    /// Row counts.
    pub stats: StatsDto,
    /// Ratios.
    pub health: HealthDto,
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// Your organization, its counts and ratios.
#[utoipa::path(get, path = "/dashboard", tag = "dashboard",
    responses(
        (status = 200, description = "The dashboard", body = DashboardResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
    ))]
pub async fn dashboard(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let d = state.routing.dashboard(&actor).await?;
    Ok(HttpResponse::Ok().json(DashboardResponse {
        ok: true,
        organization: d.organization.into(),
        stats: StatsDto {
            total_users: d.users,
            total_proposals: d.proposals,
            total_leads: d.leads,
            total_agents: d.agents,
        },
        health: HealthDto {
            users_per_agent: ratio(d.users, d.agents),
            proposals_per_lead: ratio(d.proposals, d.leads),
        },
    }))
}
