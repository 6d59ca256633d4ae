//! `/manager/proposals`: the review queue.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use lead::LeadId;
use proposal::{Proposal, ProposalFilter, ProposalId, ProposalStatus, QueueKey};
use routing::TraceEntry;
use serde::{Deserialize, Serialize};
use tenancy::PageRequest;
use utoipa::{IntoParams, ToSchema};

use crate::{
    envelope::{self, DataEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, OptionalJsonBody, QueryParams},
    routes::{
        agents::agent_id,
        leads::{LeadDto, MethodDto, RoutedLeadDto},
    },
    startup::AppState,
};

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatusDto {
    /// Waits for review.
    Pending,
    /// Accepted.
    Approved,
    /// Refused.
    Rejected,
    /// Replaced before review (a manager assigned or re-routed the lead).
    Superseded,
    /// Not reviewed within `reviewSlaSeconds`; the lead was routed again.
    Expired,
}

impl From<ProposalStatus> for ProposalStatusDto {
    fn from(s: ProposalStatus) -> Self {
        match s {
            ProposalStatus::Pending => Self::Pending,
            ProposalStatus::Approved => Self::Approved,
            ProposalStatus::Rejected => Self::Rejected,
            ProposalStatus::Superseded => Self::Superseded,
            ProposalStatus::Expired => Self::Expired,
        }
    }
}

impl From<ProposalStatusDto> for ProposalStatus {
    fn from(s: ProposalStatusDto) -> Self {
        match s {
            ProposalStatusDto::Pending => Self::Pending,
            ProposalStatusDto::Approved => Self::Approved,
            ProposalStatusDto::Rejected => Self::Rejected,
            ProposalStatusDto::Superseded => Self::Superseded,
            ProposalStatusDto::Expired => Self::Expired,
        }
    }
}

/// Why one agent was or was not chosen.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TraceEntryDto {
    /// The agent.
    pub agent_id: String,
    /// Whether it could take the lead.
    pub eligible: bool,
    /// Why it won, or why not (`away`, `at capacity (5/5 open leads)`...).
    pub reason: String,
}

impl From<TraceEntry> for TraceEntryDto {
    fn from(t: TraceEntry) -> Self {
        Self {
            agent_id: t.agent_id.to_string(),
            eligible: t.eligible,
            reason: t.reason,
        }
    }
}

/// A routing proposal.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::proposals_proposal_dto)]
pub struct ProposalDto {
    /// Opaque id (`prop_...`).
    pub id: String,
    /// The lead.
    pub lead_id: String,
    /// The proposed agent.
    pub agent_id: String,
    /// Where it stands.
    pub status: ProposalStatusDto,
    /// How the agent was chosen.
    pub method: MethodDto,
    /// The pool.
    pub pool_id: Option<String>,
    /// The matching rule.
    pub rule_id: Option<String>,
    /// Why the winner won and why each other candidate did not.
    pub trace: Vec<TraceEntryDto>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// `system` (auto-routing) or the reviewer (`user:<id>`, `api_key:<id>`).
    pub decided_by: Option<String>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The reviewer's note.
    pub note: Option<String>,
}

impl From<Proposal> for ProposalDto {
    fn from(p: Proposal) -> Self {
        Self {
            id: p.id.to_string(),
            lead_id: p.lead_id.to_string(),
            agent_id: p.agent_id.to_string(),
            status: p.status.into(),
            method: p.method.into(),
            pool_id: p.pool_id.map(String::from),
            rule_id: p.rule_id.map(String::from),
            trace: p.trace.into_iter().map(Into::into).collect(),
            created_at: p.created_at,
            decided_by: p.decided_by,
            decided_at: p.decided_at,
            note: p.note,
        }
    }
}

/// Filters and paging of `GET /manager/proposals`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListProposalsQuery {
    /// Only this status.
    pub status: Option<ProposalStatusDto>,
    /// Only for this agent.
    pub agent_id: Option<String>,
    /// Only for this lead.
    pub lead_id: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Rows to skip (offset paging: the page carries `total`). Without it
    /// the queue is paged by `cursor`.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    /// The `nextCursor` of the previous page (not with `offset`).
    pub cursor: Option<String>,
    /// Count every matching proposal into `pagination.total` (cursor
    /// paging; offset paging always counts).
    pub include_total: Option<bool>,
}

/// Paging of the review queue. By cursor (no `offset` asked): `limit` and
/// `nextCursor`, and `total` only with `includeTotal=true`. By offset:
/// `total`, `limit`, `offset` and `nextCursor`, so a client can go on by
/// cursor from any page.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::proposals_queue_pagination)]
pub struct QueuePagination {
    /// Matching proposals over all pages (offset paging, or asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Page size used.
    pub limit: u64,
    /// Rows skipped (offset paging only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// `{"ok": true, "data": [...], "pagination": {...}}` of the review queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueEnvelope {
    /// Always `true`.
    #[schema(example = true)]
    pub ok: bool,
    /// Pending first, then newest first.
    pub data: Vec<ProposalDto>,
    /// Where the next page starts.
    pub pagination: QueuePagination,
}

/// Body of approve: an optional note.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// A note for the record.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// Body of reject: an optional note, and optionally the agent to give the lead to.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RejectBody {
    /// Why.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
    /// Give the lead to this agent (approved at once). Without it the engine
    /// proposes the next candidate, never one already had this lead.
    pub reassign_to: Option<String>,
}

/// The outcome of a rejection.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = crate::examples::proposals_rejection_dto)]
pub struct RejectionDto {
    /// The rejected proposal.
    pub rejected: ProposalDto,
    /// The lead now.
    pub lead: LeadDto,
    /// The next proposal, or null when the lead is now unrouted.
    pub proposal: Option<ProposalDto>,
}

fn proposal_id(raw: &str) -> Result<ProposalId, ApiError> {
    ProposalId::parse(raw).ok_or_else(|| ApiError::not_found("Proposal"))
}

pub(crate) fn note(raw: Option<String>) -> Result<Option<String>, ApiError> {
    match raw.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) {
        Some(n) if n.chars().count() > 1000 => Err(ApiError::invalid_field(
            "note",
            "must be at most 1000 characters",
        )),
        other => Ok(other),
    }
}

/// The review queue: pending first, then newest (managers and admins).
/// Paged by an opaque `cursor` (a page costs the same at any queue size),
/// or by `offset` with a `total`.
#[utoipa::path(get, path = "/manager/proposals", operation_id = "list_proposals", tag = "proposals", params(ListProposalsQuery),
    responses(
        (status = 200, description = "One page of proposals", body = QueueEnvelope),
        (status = 400, description = "Invalid filter, paging or cursor", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListProposalsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(q.limit, q.offset).map_err(|e| ApiError::validation(&e))?;
    let after = match (&q.cursor, q.offset) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "cursor",
                "cannot be combined with offset",
            ));
        }
        (Some(raw), None) => Some(QueueKey::from_cursor(raw).ok_or_else(|| {
            ApiError::invalid_field("cursor", "is not a cursor returned by this endpoint")
        })?),
        (None, _) => None,
    };
    let filter = ProposalFilter {
        status: q.status.map(Into::into),
        agent_id: match q.agent_id {
            Some(raw) => Some(
                agent_id(&raw)
                    .map_err(|_| ApiError::invalid_field("agentId", "is not an agent id"))?,
            ),
            None => None,
        },
        lead_id: match q.lead_id {
            Some(raw) => Some(
                LeadId::parse(&raw)
                    .ok_or_else(|| ApiError::invalid_field("leadId", "is not a lead id"))?,
            ),
            None => None,
        },
    };
    let (items, pagination) = if q.offset.is_some() {
        let page = state.leads.list_proposals(&actor, &filter, page).await?;
        let more = page.offset + (page.items.len() as u64) < page.total;
        let next_cursor = page
            .items
            .last()
            .filter(|_| more)
            .map(|p| QueueKey::of(p).to_cursor());
        let pagination = QueuePagination {
            total: Some(page.total),
            limit: page.limit,
            offset: Some(page.offset),
            next_cursor,
        };
        (page.items, pagination)
    } else {
        let limit = page.limit();
        let with_total = q.include_total.unwrap_or(false);
        let queue = state
            .leads
            .proposal_queue(&actor, &filter, after.as_ref(), limit, with_total)
            .await?;
        let pagination = QueuePagination {
            total: queue.total,
            limit,
            offset: None,
            next_cursor: queue.next.map(|k| k.to_cursor()),
        };
        (queue.items, pagination)
    };
    Ok(HttpResponse::Ok().json(QueueEnvelope {
        ok: true,
        data: items.into_iter().map(ProposalDto::from).collect(),
        pagination,
    }))
}

/// One proposal with its trace (managers and admins).
#[utoipa::path(get, path = "/manager/proposals/{id}", operation_id = "get_proposal", tag = "proposals",
    params(("id" = String, Path, description = "Proposal id")),
    responses(
        (status = 200, description = "The proposal", body = DataEnvelope<ProposalDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such proposal in your organization", body = ErrorEnvelope),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let proposal = state.leads.get_proposal(&actor, &proposal_id(&id)?).await?;
    Ok(envelope::ok(ProposalDto::from(proposal)))
}

/// Approve a pending proposal: the lead is assigned to its agent.
#[utoipa::path(post, path = "/manager/proposals/{id}/approve", operation_id = "approve_proposal", tag = "proposals", request_body(content = Option<ApproveBody>, description = "Optional"),
    params(("id" = String, Path, description = "Proposal id")),
    responses(
        (status = 200, description = "Approved; the lead is assigned", body = DataEnvelope<RoutedLeadDto>,
            example = crate::examples::proposals_approve_200),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such proposal in your organization", body = ErrorEnvelope),
        (status = 409, description = "Already decided (`ALREADY_DECIDED`), or the agent was deactivated since (`AGENT_INACTIVE`: reject or reassign)", body = ErrorEnvelope),
    ))]
pub async fn approve(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ApproveBody>,
) -> Result<HttpResponse, ApiError> {
    let id = proposal_id(&id)?;
    let routed = state.leads.approve(&actor, &id, note(body.note)?).await?;
    Ok(envelope::ok(RoutedLeadDto::from(routed)))
}

/// Reject a pending proposal; reassign the lead or let the engine propose the next candidate.
#[utoipa::path(post, path = "/manager/proposals/{id}/reject", operation_id = "reject_proposal", tag = "proposals", request_body(content = Option<RejectBody>, description = "Optional"),
    params(("id" = String, Path, description = "Proposal id")),
    responses(
        (status = 200, description = "Rejected; `proposal` is the next one (null when the lead is unrouted)", body = DataEnvelope<RejectionDto>),
        (status = 400, description = "Invalid body, or `reassignTo` is not an active agent", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such proposal in your organization", body = ErrorEnvelope),
        (status = 409, description = "Already decided (`ALREADY_DECIDED`)", body = ErrorEnvelope),
    ))]
pub async fn reject(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<RejectBody>,
) -> Result<HttpResponse, ApiError> {
    let id = proposal_id(&id)?;
    let reassign_to = match body.reassign_to {
        Some(raw) => Some(agent_id(&raw).map_err(|_| {
            ApiError::invalid_field("reassignTo", "is not an active agent of this organization")
        })?),
        None => None,
    };
    let (rejected, routed) = state
        .leads
        .reject(&actor, &id, note(body.note)?, reassign_to)
        .await?;
    Ok(envelope::ok(RejectionDto {
        rejected: rejected.into(),
        lead: routed.lead.into(),
        proposal: routed.proposal.map(Into::into),
    }))
}
