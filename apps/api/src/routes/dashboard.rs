//! `/dashboard`: the organization at a glance (seed, example 3), and
//! `/dashboard/leads-per-agent`: the chart of leads per agent and UTC day.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use routing::{AgentSeries, ChartDays, LeadsPerAgent};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    envelope::{self, DataEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, QueryParams},
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
#[schema(example = crate::examples::dashboard_dashboard_response)]
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
#[utoipa::path(get, path = "/dashboard", operation_id = "get_dashboard", tag = "dashboard",
    responses(
        (status = 200, description = "The dashboard", body = DashboardResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
    ))]
pub async fn dashboard(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let d = state.leads.dashboard(&actor).await?;
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

/// Query of `GET /dashboard/leads-per-agent`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LeadsPerAgentQuery {
    /// UTC calendar days to cover, ending today (inclusive): 1-90 (default 7).
    #[param(minimum = 1, maximum = 90)]
    pub days: Option<i64>,
}

/// One agent's line of the chart.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentLeadsDto {
    /// The agent (`agt_...`).
    pub agent_id: String,
    /// Its name.
    pub name: String,
    /// Leads assigned to it that arrived on each of `days`.
    pub counts: Vec<u64>,
    /// The sum of `counts`.
    pub total: u64,
}

impl From<AgentSeries> for AgentLeadsDto {
    fn from(a: AgentSeries) -> Self {
        Self {
            agent_id: a.agent_id.to_string(),
            name: a.name,
            counts: a.counts,
            total: a.total,
        }
    }
}

/// Leads per agent and UTC day, for the dashboard chart.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::dashboard_leads_per_agent_dto)]
pub struct LeadsPerAgentDto {
    /// The UTC calendar days, oldest first; the last is today.
    pub days: Vec<NaiveDate>,
    /// One line per agent, by `total` (descending) then name: every active
    /// agent (idle ones with zeros) and any agent with leads in the window.
    /// An agent-role caller gets only its own line.
    pub agents: Vec<AgentLeadsDto>,
    /// Leads of each day assigned to no agent (unrouted, or only proposed);
    /// all zeros for an agent-role caller.
    pub unassigned: Vec<u64>,
}

impl From<LeadsPerAgent> for LeadsPerAgentDto {
    fn from(c: LeadsPerAgent) -> Self {
        Self {
            days: c.days,
            agents: c.agents.into_iter().map(Into::into).collect(),
            unassigned: c.unassigned,
        }
    }
}

/// Leads per agent and day, for the dashboard chart.
///
/// Covers the last `days` UTC calendar days, today included; a lead counts on
/// the day it arrived (`createdAt`) for the agent it is assigned to. Managers
/// and admins see every active agent (idle ones with zeros), any agent with
/// leads in the window, and the unassigned leads; an agent sees only its own
/// line.
#[utoipa::path(get, path = "/dashboard/leads-per-agent", operation_id = "get_leads_per_agent", tag = "dashboard",
    params(LeadsPerAgentQuery),
    responses(
        (status = 200, description = "The chart", body = DataEnvelope<LeadsPerAgentDto>,
            example = crate::examples::dashboard_leads_per_agent_200),
        (status = 400, description = "`days` outside 1-90, or an unknown parameter", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
    ))]
pub async fn leads_per_agent(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<LeadsPerAgentQuery>,
) -> Result<HttpResponse, ApiError> {
    let days = ChartDays::parse(q.days).map_err(|e| ApiError::validation(&e))?;
    let chart = state
        .leads
        .leads_per_agent(&actor, days, tenancy::now())
        .await?;
    Ok(envelope::ok(LeadsPerAgentDto::from(chart)))
}
