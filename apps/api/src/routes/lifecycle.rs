//! After the first proposal: `/leads/{id}/accept`, `/decline`, `/assign`,
//! `/reroute`, and `/agents/{id}/reroute-open-leads`.

use actix_web::{HttpResponse, web};
use proposal::workflow::RerouteSummary;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    envelope::{self, DataEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, JsonBody, OptionalJsonBody},
    routes::{
        agents::agent_id,
        leads::{LeadDto, RoutedLeadDto, lead_id},
        proposals::{ProposalDto, note},
    },
    startup::AppState,
};

/// An optional note for the record.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NoteBody {
    /// Why (kept on the lead's timeline).
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Body of `POST /leads/{id}/assign`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssignBody {
    /// The agent to give the lead to: an active agent of your organization.
    pub agent_id: String,
    /// Why (kept on the lead's timeline).
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// A lead given to an agent by hand.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::lifecycle_assigned_dto)]
pub struct AssignedDto {
    /// The lead, now `assigned` to the agent.
    pub lead: LeadDto,
    /// Its approved `manual` proposal.
    pub proposal: Option<ProposalDto>,
    /// Why the engine would not have chosen this agent now (away, paused,
    /// outside working hours, at capacity, daily cap reached). The
    /// assignment stands; empty when there is nothing to say.
    pub warnings: Vec<String>,
}

/// The leads of a leaving agent, routed again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::lifecycle_rerouted_dto)]
pub struct ReroutedDto {
    /// How many leads were routed again.
    pub rerouted: usize,
    /// Each lead as it ended: proposed, assigned or unrouted.
    pub leads: Vec<RoutedLeadDto>,
}

impl From<RerouteSummary> for ReroutedDto {
    fn from(s: RerouteSummary) -> Self {
        Self {
            rerouted: s.leads.len(),
            leads: s.leads.into_iter().map(Into::into).collect(),
        }
    }
}

/// Accept your lead (the agent it is assigned to): `accepted`, and its
/// accept SLA ends.
#[utoipa::path(post, path = "/leads/{id}/accept", operation_id = "accept_lead", tag = "leads",
    params(("id" = String, Path, description = "Lead id")),
    responses(
        (status = 200, description = "Accepted (accepting again changes nothing)", body = DataEnvelope<LeadDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Only the agent the lead is assigned to accepts it", body = ErrorEnvelope),
        (status = 404, description = "No such lead (or not yours)", body = ErrorEnvelope),
        (status = 409, description = "The lead is not assigned (`INVALID_STATUS_TRANSITION`)", body = ErrorEnvelope),
    ))]
pub async fn accept(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let lead = state.leads.accept(&actor, &lead_id(&id)?).await?;
    Ok(envelope::ok(LeadDto::from(lead)))
}

/// Decline your lead (the agent it is assigned to): it is routed again at
/// once, never to anyone who had it.
#[utoipa::path(post, path = "/leads/{id}/decline", operation_id = "decline_lead", tag = "leads",
    request_body(content = Option<NoteBody>, description = "Optional"),
    params(("id" = String, Path, description = "Lead id")),
    responses(
        (status = 200, description = "Declined; `proposal` is the next one (null when nobody is left)", body = DataEnvelope<RoutedLeadDto>),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Only the agent the lead is assigned to declines it", body = ErrorEnvelope),
        (status = 404, description = "No such lead (or not yours)", body = ErrorEnvelope),
        (status = 409, description = "A contacted or closed lead (`INVALID_STATUS_TRANSITION`)", body = ErrorEnvelope),
    ))]
pub async fn decline(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    let id = lead_id(&id)?;
    let routed = state.leads.decline(&actor, &id, note(body.note)?).await?;
    Ok(envelope::ok(RoutedLeadDto::from(routed)))
}

/// Give a proposed, assigned, accepted or unrouted lead to an agent
/// (managers). A pending proposal is superseded; the agent must be active,
/// and `warnings` says when the engine would not have chosen it now.
#[utoipa::path(post, path = "/leads/{id}/assign", operation_id = "assign_lead", tag = "leads", request_body = AssignBody,
    params(("id" = String, Path, description = "Lead id")),
    responses(
        (status = 200, description = "Assigned", body = DataEnvelope<AssignedDto>),
        (status = 400, description = "Invalid body, or `agentId` is not an active agent of your organization", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such lead in your organization", body = ErrorEnvelope),
        (status = 409, description = "A contacted or closed lead, or one the agent holds already (`INVALID_STATUS_TRANSITION`)", body = ErrorEnvelope),
    ))]
pub async fn assign(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    JsonBody(body): JsonBody<AssignBody>,
) -> Result<HttpResponse, ApiError> {
    let id = lead_id(&id)?;
    let agent = agent_id(&body.agent_id).map_err(|_| {
        ApiError::invalid_field("agentId", "is not an active agent of this organization")
    })?;
    let note = note(body.note)?;
    let assigned = state.leads.assign(&actor, &id, &agent, note).await?;
    Ok(envelope::ok(AssignedDto {
        lead: assigned.routed.lead.into(),
        proposal: assigned.routed.proposal.map(Into::into),
        warnings: assigned.warnings,
    }))
}

/// Send a proposed, assigned, accepted or unrouted lead back to the engine
/// (managers); it never picks an agent who had the lead.
#[utoipa::path(post, path = "/leads/{id}/reroute", operation_id = "reroute_lead", tag = "leads",
    request_body(content = Option<NoteBody>, description = "Optional"),
    params(("id" = String, Path, description = "Lead id")),
    responses(
        (status = 200, description = "Routed again; `proposal` null when nobody is left (the lead is unrouted)", body = DataEnvelope<RoutedLeadDto>),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such lead in your organization", body = ErrorEnvelope),
        (status = 409, description = "A contacted or closed lead (`INVALID_STATUS_TRANSITION`)", body = ErrorEnvelope),
    ))]
pub async fn reroute(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    let id = lead_id(&id)?;
    let routed = state.leads.reroute(&actor, &id, note(body.note)?).await?;
    Ok(envelope::ok(RoutedLeadDto::from(routed)))
}

/// Route every open lead of an agent again (proposed, assigned, accepted or
/// contacted), each with its own events (managers): the agent is leaving.
#[utoipa::path(post, path = "/agents/{id}/reroute-open-leads", operation_id = "reroute_agent_open_leads", tag = "agents",
    request_body(content = Option<NoteBody>, description = "Optional"),
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, description = "The leads, routed again", body = DataEnvelope<ReroutedDto>),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such agent in your organization", body = ErrorEnvelope),
    ))]
pub async fn reroute_agent_leads(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    let agent = agent_id(&id)?;
    let summary = state
        .leads
        .reroute_agent_leads(&actor, &agent, note(body.note)?)
        .await?;
    Ok(envelope::ok(ReroutedDto::from(summary)))
}
