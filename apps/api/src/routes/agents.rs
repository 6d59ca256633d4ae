//! `/agents`: who leads are routed to.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use routing::{
    Agent, AgentChange, AgentInput, AgentStatus, RawWorkingHours,
    ports::{AgentFilter, AgentView},
};
use serde::{Deserialize, Serialize};
use tenancy::{AgentId, PageRequest};
use utoipa::{IntoParams, ToSchema};

use crate::{
    envelope::{self, DataEnvelope, ListEnvelope, MessageEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, JsonBody, QueryParams},
    startup::AppState,
};

/// Availability of an agent.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatusDto {
    /// Takes leads.
    Available,
    /// On leave: takes none.
    Away,
    /// Paused: takes none.
    Paused,
}

impl From<AgentStatus> for AgentStatusDto {
    fn from(s: AgentStatus) -> Self {
        match s {
            AgentStatus::Available => Self::Available,
            AgentStatus::Away => Self::Away,
            AgentStatus::Paused => Self::Paused,
        }
    }
}

impl AgentStatusDto {
    fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Away => "away",
            Self::Paused => "paused",
        }
    }
}

impl From<AgentStatusDto> for AgentStatus {
    fn from(s: AgentStatusDto) -> Self {
        match s {
            AgentStatusDto::Available => Self::Available,
            AgentStatusDto::Away => Self::Away,
            AgentStatusDto::Paused => Self::Paused,
        }
    }
}

/// When an agent works, in its own time zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = crate::examples::agents_working_hours_dto)]
pub struct WorkingHoursDto {
    /// IANA time zone.
    pub timezone: String,
    /// Days a shift starts on: mon, tue, wed, thu, fri, sat, sun.
    pub days: Vec<String>,
    /// Start, `HH:MM` local.
    pub start: String,
    /// End, `HH:MM` local (exclusive; before start = overnight).
    pub end: String,
}

/// An agent's workload now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::agents_load_dto)]
pub struct LoadDto {
    /// Leads proposed to or assigned to it and not closed.
    pub open_leads: u32,
    /// Leads given to it today (its local day).
    pub today: u32,
    /// Its last assignment.
    pub last_assigned_at: Option<DateTime<Utc>>,
}

/// An agent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::agents_agent_dto)]
pub struct AgentDto {
    /// Opaque id (`agt_...`).
    pub id: String,
    /// Owner organization.
    pub org_id: String,
    /// Name.
    pub name: String,
    /// Work e-mail.
    pub email: String,
    /// Linked user (it then sees its own leads).
    pub user_id: Option<String>,
    /// Skills (lower-case).
    pub skills: Vec<String>,
    /// Regions covered.
    pub regions: Vec<String>,
    /// Share in weighted pools, 1-100.
    pub weight: u32,
    /// Most open leads at once; null = unlimited.
    pub capacity: Option<u32>,
    /// Most new leads per local day; null = unlimited.
    pub daily_cap: Option<u32>,
    /// Availability.
    pub status: AgentStatusDto,
    /// Shifts; null = always.
    pub working_hours: Option<WorkingHoursDto>,
    /// Deactivated agents take no leads.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Current load (lists and reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadDto>,
}

impl From<Agent> for AgentDto {
    fn from(a: Agent) -> Self {
        Self {
            id: a.id.to_string(),
            org_id: a.org_id.to_string(),
            name: a.name,
            email: a.email.to_string(),
            user_id: a.user_id,
            skills: a.skills,
            regions: a.regions,
            weight: a.weight,
            capacity: a.capacity,
            daily_cap: a.daily_cap,
            status: a.status.into(),
            working_hours: a.working_hours.map(|wh| WorkingHoursDto {
                timezone: wh.timezone.name().to_owned(),
                days: wh.day_names().into_iter().map(str::to_owned).collect(),
                start: wh.start.format("%H:%M").to_string(),
                end: wh.end.format("%H:%M").to_string(),
            }),
            is_active: a.is_active,
            created_at: a.created_at,
            updated_at: a.updated_at,
            load: None,
        }
    }
}

impl From<AgentView> for AgentDto {
    fn from(v: AgentView) -> Self {
        let mut dto = AgentDto::from(v.agent);
        dto.load = Some(LoadDto {
            open_leads: v.load.open_leads,
            today: v.load.today,
            last_assigned_at: v.load.last_assigned_at,
        });
        dto
    }
}

/// Body of `POST /agents` (`name` and `email` required) and `PUT /agents/{id}`
/// (the given fields change; `null` clears `userId`, `capacity`, `dailyCap`, `workingHours`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::agents_agent_body)]
pub struct AgentBody {
    /// Name, 1-200 characters.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false, max_length = 200)]
    pub name: Option<String>,
    /// Work e-mail.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false, format = "email")]
    pub email: Option<String>,
    /// Linked user id, or null.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<Option<String>>,
    /// Skills (at most 50).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub skills: Option<Vec<String>>,
    /// Regions (at most 50).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub regions: Option<Vec<String>>,
    /// 1-100 (default 1).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false, minimum = 1, maximum = 100)]
    pub weight: Option<i64>,
    /// Max open leads, or null for unlimited.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub capacity: Option<Option<i64>>,
    /// Max new leads per day, or null for unlimited.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub daily_cap: Option<Option<i64>>,
    /// Availability (default available).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub status: Option<AgentStatusDto>,
    /// Shifts, or null for always.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<WorkingHoursDto>)]
    pub working_hours: Option<Option<WorkingHoursDto>>,
}

impl AgentBody {
    fn into_change(self, creating: bool) -> Result<AgentChange, ApiError> {
        let input = AgentInput {
            name: self.name,
            email: self.email,
            user_id: self.user_id,
            skills: self.skills,
            regions: self.regions,
            weight: self.weight,
            capacity: self.capacity,
            daily_cap: self.daily_cap,
            status: self.status.map(|s| s.as_str().to_owned()),
            working_hours: self.working_hours.map(|wh| {
                wh.map(|w| RawWorkingHours {
                    timezone: w.timezone,
                    days: w.days,
                    start: w.start,
                    end: w.end,
                })
            }),
        };
        AgentChange::parse(input, creating).map_err(|e| ApiError::validation(&e))
    }
}

/// Filters and paging of `GET /agents`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListAgentsQuery {
    /// Only this availability.
    pub status: Option<AgentStatusDto>,
    /// Only active (`true`) or deactivated (`false`) agents.
    pub is_active: Option<bool>,
    /// Page size, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

pub(crate) fn agent_id(raw: &str) -> Result<AgentId, ApiError> {
    AgentId::parse(raw).ok_or_else(|| ApiError::not_found("Agent"))
}

/// List agents with their loads (managers).
#[utoipa::path(get, path = "/agents", operation_id = "list_agents", tag = "agents", params(ListAgentsQuery),
    responses(
        (status = 200, description = "One page of agents, oldest first", body = ListEnvelope<AgentDto>),
        (status = 400, description = "Invalid filter or paging", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListAgentsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(q.limit, q.offset).map_err(|e| ApiError::validation(&e))?;
    let filter = AgentFilter {
        status: q.status.map(Into::into),
        is_active: q.is_active,
    };
    let agents = state.routing.list_agents(&actor, &filter, page).await?;
    Ok(envelope::page(agents, AgentDto::from))
}

/// Create an agent (managers).
#[utoipa::path(post, path = "/agents", operation_id = "create_agent", tag = "agents", request_body = AgentBody,
    responses(
        (status = 201, description = "Created", body = DataEnvelope<AgentDto>,
            example = crate::examples::agents_create_201),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 409, description = "settings.maxAgents reached (`MAX_AGENTS_REACHED`)", body = ErrorEnvelope),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<AgentBody>,
) -> Result<HttpResponse, ApiError> {
    let agent = state
        .routing
        .create_agent(&actor, body.into_change(true)?)
        .await?;
    Ok(envelope::created(AgentDto::from(agent)))
}

/// One agent with its load (managers).
#[utoipa::path(get, path = "/agents/{id}", operation_id = "get_agent", tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, description = "The agent", body = DataEnvelope<AgentDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such agent in your organization", body = ErrorEnvelope),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let agent = state.routing.get_agent(&actor, &agent_id(&id)?).await?;
    Ok(envelope::ok(AgentDto::from(agent)))
}

/// Change an agent (managers). Coming back from away/paused lifts its
/// weighted-pool counts to the pool minimum: no catch-up burst.
#[utoipa::path(put, path = "/agents/{id}", operation_id = "update_agent", tag = "agents", request_body = AgentBody,
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, description = "Updated (without `load`)", body = DataEnvelope<AgentDto>,
            example = crate::examples::agents_update_200),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such agent in your organization", body = ErrorEnvelope),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    JsonBody(body): JsonBody<AgentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = agent_id(&id)?;
    let agent = state
        .routing
        .update_agent(&actor, &id, body.into_change(false)?)
        .await?;
    Ok(envelope::ok(AgentDto::from(agent)))
}

/// `DELETE /agents/{id}` options.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeactivateQuery {
    /// Also route the agent's open leads again (as
    /// `POST /agents/{id}/reroute-open-leads`); default false: they stay.
    pub reroute: Option<bool>,
}

/// Deactivate an agent (managers); its open leads stay where they are
/// unless `reroute=true`.
#[utoipa::path(delete, path = "/agents/{id}", operation_id = "deactivate_agent", tag = "agents",
    params(("id" = String, Path, description = "Agent id"), DeactivateQuery),
    responses(
        (status = 200, description = "Deactivated", body = MessageEnvelope<AgentDto>,
            example = crate::examples::agents_deactivate_200),
        (status = 400, description = "Invalid query: `reroute` must be true or false", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such agent in your organization", body = ErrorEnvelope),
    ))]
pub async fn deactivate(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    QueryParams(q): QueryParams<DeactivateQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = agent_id(&id)?;
    let agent = state.routing.deactivate_agent(&actor, &id).await?;
    let message = if q.reroute == Some(true) {
        // Deactivated first, so that the engine no longer considers the agent.
        let moved = state.leads.reroute_agent_leads(&actor, &id, None).await?;
        format!(
            "Agent deactivated; {} open leads routed again",
            moved.leads.len()
        )
    } else {
        "Agent deactivated".to_owned()
    };
    Ok(envelope::message(&message, Some(AgentDto::from(agent))))
}
