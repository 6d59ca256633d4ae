//! `/leads`: what arrives, and where it went.

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Utc};
use lead::{Lead, LeadContactPatch, LeadFilter, LeadId, LeadStatus, NewLead, NewLeadInput};
use proposal::Routed;
use routing::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tenancy::{Email, PageRequest, ValidationErrors};
use utoipa::{IntoParams, ToSchema};

use crate::{
    envelope::{self, DataEnvelope, ListEnvelope},
    error::{ApiError, ErrorBody, ErrorEnvelope},
    extract::{Authenticated, BulkJsonBody, JsonBody, QueryParams},
    routes::{agents::agent_id, proposals::ProposalDto},
    startup::AppState,
};

/// Where a lead stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatusDto {
    /// Received.
    New,
    /// A proposal waits for review.
    Proposed,
    /// Owned by an agent, which has not accepted it yet.
    Assigned,
    /// Its agent accepted it.
    Accepted,
    /// No agent could take it (see `unroutedReason`).
    Unrouted,
    /// The agent reached the prospect.
    Contacted,
    /// Closed: won.
    Won,
    /// Closed: lost.
    Lost,
}

impl From<LeadStatus> for LeadStatusDto {
    fn from(s: LeadStatus) -> Self {
        match s {
            LeadStatus::New => Self::New,
            LeadStatus::Proposed => Self::Proposed,
            LeadStatus::Assigned => Self::Assigned,
            LeadStatus::Accepted => Self::Accepted,
            LeadStatus::Unrouted => Self::Unrouted,
            LeadStatus::Contacted => Self::Contacted,
            LeadStatus::Won => Self::Won,
            LeadStatus::Lost => Self::Lost,
        }
    }
}

impl From<LeadStatusDto> for LeadStatus {
    fn from(s: LeadStatusDto) -> Self {
        match s {
            LeadStatusDto::New => Self::New,
            LeadStatusDto::Proposed => Self::Proposed,
            LeadStatusDto::Assigned => Self::Assigned,
            LeadStatusDto::Accepted => Self::Accepted,
            LeadStatusDto::Unrouted => Self::Unrouted,
            LeadStatusDto::Contacted => Self::Contacted,
            LeadStatusDto::Won => Self::Won,
            LeadStatusDto::Lost => Self::Lost,
        }
    }
}

/// How an agent was chosen.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MethodDto {
    /// Pool rotation.
    RoundRobin,
    /// Pool weights.
    Weighted,
    /// Fewest open leads.
    LeastLoaded,
    /// Owner of the e-mail domain's earlier leads.
    Sticky,
    /// The fallback agent.
    Fallback,
    /// A manager's reassignment.
    Manual,
}

impl From<Method> for MethodDto {
    fn from(m: Method) -> Self {
        match m {
            Method::RoundRobin => Self::RoundRobin,
            Method::Weighted => Self::Weighted,
            Method::LeastLoaded => Self::LeastLoaded,
            Method::Sticky => Self::Sticky,
            Method::Fallback => Self::Fallback,
            Method::Manual => Self::Manual,
        }
    }
}

/// A lead.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::leads_lead_dto)]
pub struct LeadDto {
    /// Opaque id (`lead_...`).
    pub id: String,
    /// Owner organization.
    pub org_id: String,
    /// The sender's id (idempotency key).
    pub external_id: Option<String>,
    /// Prospect name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Score 0-100.
    pub score: Option<u8>,
    /// Custom fields.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// Where it stands.
    pub status: LeadStatusDto,
    /// The agent it is assigned to (once assigned).
    pub assigned_agent_id: Option<String>,
    /// Why no agent could take it.
    pub unrouted_reason: Option<String>,
    /// Arrival.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Lead> for LeadDto {
    fn from(l: Lead) -> Self {
        Self {
            id: l.id.to_string(),
            org_id: l.org_id.to_string(),
            assigned_agent_id: l.assigned_agent_id().map(ToString::to_string),
            external_id: l.external_id,
            name: l.name,
            email: l.email.map(String::from),
            phone: l.phone,
            company: l.company,
            source: l.source,
            region: l.region,
            country: l.country,
            score: l.score,
            fields: l.fields,
            status: l.status.into(),
            unrouted_reason: l.unrouted_reason,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

/// A lead with its current proposal.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = crate::examples::leads_routed_lead_dto)]
pub struct RoutedLeadDto {
    /// The lead.
    pub lead: LeadDto,
    /// Its proposal (pending or approved), or null when unrouted.
    pub proposal: Option<ProposalDto>,
}

impl From<Routed> for RoutedLeadDto {
    fn from(r: Routed) -> Self {
        Self {
            lead: r.lead.into(),
            proposal: r.proposal.map(Into::into),
        }
    }
}

/// Body of `POST /leads` and `POST /routing/simulate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::leads_lead_body)]
pub struct LeadBody {
    /// Your id for this lead: sending it again returns the same lead (200), nothing created twice.
    #[schema(max_length = 128)]
    pub external_id: Option<String>,
    /// Prospect name (required).
    #[schema(max_length = 200)]
    pub name: String,
    /// E-mail.
    #[schema(format = "email")]
    pub email: Option<String>,
    /// Phone.
    #[schema(max_length = 32)]
    pub phone: Option<String>,
    /// Company.
    #[schema(max_length = 200)]
    pub company: Option<String>,
    /// Source (web, event, partner...).
    #[schema(max_length = 100)]
    pub source: Option<String>,
    /// Region.
    #[schema(max_length = 100)]
    pub region: Option<String>,
    /// Country.
    #[schema(max_length = 100)]
    pub country: Option<String>,
    /// Score 0-100.
    #[schema(minimum = 0, maximum = 100)]
    pub score: Option<i64>,
    /// Custom scalar fields (at most 50), readable by rules as `fields.<key>`.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<Map<String, Value>>,
}

impl LeadBody {
    pub(crate) fn into_new_lead(self) -> Result<NewLead, ApiError> {
        NewLead::parse(NewLeadInput {
            external_id: self.external_id,
            name: self.name,
            email: self.email,
            phone: self.phone,
            company: self.company,
            source: self.source,
            region: self.region,
            country: self.country,
            score: self.score,
            fields: self.fields,
        })
        .map_err(|e| ApiError::validation(&e))
    }
}

/// Body of `PUT /leads/{id}`: contact data, and the status moving forward
/// (assigned → contacted → won/lost).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateLeadBody {
    /// New name.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false, max_length = 200)]
    pub name: Option<String>,
    /// New e-mail, or null to clear.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<String>, format = "email")]
    pub email: Option<Option<String>>,
    /// New phone, or null.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<String>, max_length = 32)]
    pub phone: Option<Option<String>>,
    /// New company, or null.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub company: Option<Option<String>>,
    /// New status (forward only).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub status: Option<LeadStatusDto>,
}

fn bounded(errors: &mut ValidationErrors, field: &str, v: String, max: usize) -> Option<String> {
    let v = v.trim().to_owned();
    if v.is_empty() || v.chars().count() > max {
        errors.push(tenancy::FieldError::new(
            field,
            format!("must be 1-{max} characters"),
        ));
        None
    } else {
        Some(v)
    }
}

impl UpdateLeadBody {
    fn into_patch(self) -> Result<LeadContactPatch, ApiError> {
        let mut errors = ValidationErrors::new();
        let patch = LeadContactPatch {
            name: self.name.and_then(|v| bounded(&mut errors, "name", v, 200)),
            email: self
                .email
                .map(|e| e.and_then(|v| errors.check("email", Email::parse(&v)))),
            phone: self
                .phone
                .map(|p| p.and_then(|v| bounded(&mut errors, "phone", v, 32))),
            company: self
                .company
                .map(|c| c.and_then(|v| bounded(&mut errors, "company", v, 200))),
            status: self.status.map(Into::into),
        };
        errors
            .into_result(patch)
            .map_err(|e| ApiError::validation(&e))
    }
}

/// Filters and paging of `GET /leads`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListLeadsQuery {
    /// Only this status.
    pub status: Option<LeadStatusDto>,
    /// Only leads assigned to this agent.
    pub assigned_agent_id: Option<String>,
    /// Page size, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// The filter of `GET /leads` (and of its CSV export): a 400 naming
/// `assignedAgentId` when it is not an agent id.
pub(crate) fn lead_filter(
    status: Option<LeadStatusDto>,
    assigned_agent_id: Option<String>,
) -> Result<LeadFilter, ApiError> {
    let assigned_agent_id = match assigned_agent_id {
        Some(raw) => Some(
            agent_id(&raw)
                .map_err(|_| ApiError::invalid_field("assignedAgentId", "is not an agent id"))?,
        ),
        None => None,
    };
    Ok(LeadFilter {
        status: status.map(Into::into),
        assigned_agent_id,
    })
}

pub(crate) fn lead_id(raw: &str) -> Result<LeadId, ApiError> {
    LeadId::parse(raw).ok_or_else(|| ApiError::not_found("Lead"))
}

/// Receive a lead and route it. With `allowAutoRouting` the proposal is
/// approved at once; otherwise it waits in `/manager/proposals`.
#[utoipa::path(post, path = "/leads", operation_id = "create_lead", tag = "leads", request_body = LeadBody,
    responses(
        (status = 201, description = "Created and routed (`proposal` null when unrouted)", body = DataEnvelope<RoutedLeadDto>),
        (status = 200, description = "The `externalId` was seen before: the same lead and proposal", body = DataEnvelope<RoutedLeadDto>),
        (status = 400, description = "Invalid lead", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 409, description = "The `externalId` belongs to a lead the caller may not read (an agent's credential): `DUPLICATE_EXTERNAL_ID`, no lead data", body = ErrorEnvelope),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<LeadBody>,
) -> Result<HttpResponse, ApiError> {
    let routed = state.leads.ingest(&actor, body.into_new_lead()?).await?;
    state.metrics.lead_routed(&routed);
    let status = if routed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(DataEnvelope {
        ok: true,
        data: RoutedLeadDto::from(routed),
    }))
}

/// The most leads one `POST /leads/batch` takes.
pub const MAX_BATCH: usize = 1000;

/// Body of `POST /leads/batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadBatchBody {
    /// 1-1000 leads, each meant as the body of `POST /leads` (`LeadBody`).
    /// Any JSON value is taken here: each is checked on its own, and one
    /// that is not a valid lead is a 400 in its own result while the others
    /// go on (so the schema of an item is not enforced on the request).
    #[schema(min_items = 1, max_items = 1000)]
    pub leads: Vec<Value>,
}

/// What became of one lead of a batch.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchResultDto {
    /// Its position in `leads`, from 0.
    pub index: usize,
    /// What `POST /leads` would have answered for it alone: 201 (created
    /// and routed), 200 (its `externalId` came before: the same lead), 400
    /// (invalid) or 409 (`DUPLICATE_EXTERNAL_ID`, a lead the caller may
    /// not read).
    pub status: u16,
    /// The lead (201 and 200).
    pub lead: Option<LeadDto>,
    /// Its proposal (201 and 200; null when unrouted).
    pub proposal: Option<ProposalDto>,
    /// Why it was refused (400 and 409).
    pub error: Option<ErrorBody>,
}

/// The results of `POST /leads/batch`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = crate::examples::leads_batch_dto)]
pub struct BatchDto {
    /// One per lead sent, in order.
    pub results: Vec<BatchResultDto>,
    /// How many were created.
    pub created: usize,
    /// How many were replays (200).
    pub replayed: usize,
    /// How many were refused (400, 409).
    pub failed: usize,
}

impl BatchResultDto {
    fn refused(index: usize, err: &ApiError) -> Self {
        Self {
            index,
            status: err.status().as_u16(),
            lead: None,
            proposal: None,
            error: Some(err.envelope().error),
        }
    }
}

/// Receive up to 1,000 leads and route them in order, in one transaction:
/// each is stored and routed as `POST /leads` would (fairness and
/// capacities exact, replays by `externalId` included), and the invalid ones
/// are reported without stopping the others. A storage failure stores none.
#[utoipa::path(post, path = "/leads/batch", operation_id = "create_leads_batch", tag = "leads", request_body = LeadBatchBody,
    responses(
        (status = 200, description = "One result per lead, in order", body = DataEnvelope<BatchDto>),
        (status = 400, description = "Not a batch: `leads` missing, empty or over 1,000 (each lead's own problems are in its result)", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 413, description = "The body exceeds 8 MiB: `PAYLOAD_TOO_LARGE`", body = ErrorEnvelope),
    ))]
pub async fn create_batch(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    BulkJsonBody(body): BulkJsonBody<LeadBatchBody>,
) -> Result<HttpResponse, ApiError> {
    if body.leads.is_empty() || body.leads.len() > MAX_BATCH {
        return Err(ApiError::invalid_field(
            "leads",
            format!("must hold 1-{MAX_BATCH} leads"),
        ));
    }
    let mut results: Vec<Option<BatchResultDto>> = Vec::with_capacity(body.leads.len());
    let mut valid = Vec::new();
    let mut positions = Vec::new();
    for (index, item) in body.leads.into_iter().enumerate() {
        let parsed =
            crate::extract::deserialize::<LeadBody>(item).and_then(LeadBody::into_new_lead);
        match parsed {
            Ok(lead) => {
                valid.push(lead);
                positions.push(index);
                results.push(None);
            }
            Err(err) => results.push(Some(BatchResultDto::refused(index, &err))),
        }
    }
    let routed = if valid.is_empty() {
        Vec::new()
    } else {
        state.leads.ingest_batch(&actor, valid).await?
    };
    for (index, outcome) in positions.into_iter().zip(routed) {
        results[index] = Some(match outcome {
            Ok(r) => {
                state.metrics.lead_routed(&r);
                let status = if r.created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                let dto = RoutedLeadDto::from(r);
                BatchResultDto {
                    index,
                    status: status.as_u16(),
                    lead: Some(dto.lead),
                    proposal: dto.proposal,
                    error: None,
                }
            }
            Err(err) => BatchResultDto::refused(index, &ApiError::from(err)),
        });
    }
    let results: Vec<BatchResultDto> = results.into_iter().flatten().collect();
    let count = |status: u16| results.iter().filter(|r| r.status == status).count();
    let (created, replayed) = (count(201), count(200));
    let failed = results.len() - created - replayed;
    Ok(HttpResponse::Ok().json(DataEnvelope {
        ok: true,
        data: BatchDto {
            results,
            created,
            replayed,
            failed,
        },
    }))
}

/// List leads, newest first: all for managers, its own for an agent.
#[utoipa::path(get, path = "/leads", operation_id = "list_leads", tag = "leads", params(ListLeadsQuery),
    responses(
        (status = 200, description = "One page of leads", body = ListEnvelope<LeadDto>),
        (status = 400, description = "Invalid filter or paging", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListLeadsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(q.limit, q.offset).map_err(|e| ApiError::validation(&e))?;
    let filter = lead_filter(q.status, q.assigned_agent_id)?;
    let leads = state.leads.list_leads(&actor, filter, page).await?;
    Ok(envelope::page(leads, LeadDto::from))
}

/// One lead with its latest proposal.
#[utoipa::path(get, path = "/leads/{id}", operation_id = "get_lead", tag = "leads",
    params(("id" = String, Path, description = "Lead id")),
    responses(
        (status = 200, description = "The lead and its latest proposal", body = DataEnvelope<RoutedLeadDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 404, description = "No such lead (or not yours)", body = ErrorEnvelope),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (lead, proposal) = state.leads.get_lead(&actor, &lead_id(&id)?).await?;
    Ok(envelope::ok(RoutedLeadDto {
        lead: lead.into(),
        proposal: proposal.map(Into::into),
    }))
}

/// Change contact data or move the status forward.
#[utoipa::path(put, path = "/leads/{id}", operation_id = "update_lead", tag = "leads", request_body = UpdateLeadBody,
    params(("id" = String, Path, description = "Lead id")),
    responses(
        (status = 200, description = "Updated", body = DataEnvelope<LeadDto>,
            example = crate::examples::leads_update_200),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 404, description = "No such lead (or not yours)", body = ErrorEnvelope),
        (status = 409, description = "The status would move backwards (`INVALID_STATUS_TRANSITION`)", body = ErrorEnvelope),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    JsonBody(body): JsonBody<UpdateLeadBody>,
) -> Result<HttpResponse, ApiError> {
    let id = lead_id(&id)?;
    let lead = state
        .leads
        .update_lead(&actor, &id, body.into_patch()?)
        .await?;
    Ok(envelope::ok(LeadDto::from(lead)))
}
