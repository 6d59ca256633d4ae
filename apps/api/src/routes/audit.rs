//! The audit trail (`GET /audit`) and a lead's timeline
//! (`GET /leads/{id}/timeline`): the events written with every change.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use events::{Event, EventFilter, TypeFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::{
    envelope::{self, DataEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, QueryParams},
    startup::AppState,
};

/// Who made a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventActorDto {
    /// `user`, `api_key`, `system` or `operator`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user or key id.
    pub id: Option<String>,
    /// A readable name, when known (operators, the system).
    pub name: Option<String>,
}

/// What an event is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventSubjectDto {
    /// `lead`, `proposal`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// One recorded change.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::audit_event_dto)]
pub struct EventDto {
    /// Opaque id (`evt_...`); ids sort by creation.
    pub id: String,
    /// Owner organization.
    pub org_id: String,
    /// What happened: `lead.created`, `lead.routed`, `lead.unrouted`,
    /// `lead.assigned`, `lead.reassigned`, `lead.status_changed`,
    /// `lead.updated`, `proposal.created`, `proposal.approved`,
    /// `proposal.rejected`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who.
    pub actor: EventActorDto,
    /// To what.
    pub subject: EventSubjectDto,
    /// The facts of the change (`proposal.created` carries the trace).
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

impl From<Event> for EventDto {
    fn from(e: Event) -> Self {
        Self {
            id: e.id.to_string(),
            org_id: e.org_id.to_string(),
            kind: e.kind,
            created_at: e.created_at,
            actor: EventActorDto {
                kind: e.actor.kind.as_str().to_owned(),
                id: e.actor.id,
                name: e.actor.name,
            },
            subject: EventSubjectDto {
                kind: e.subject.kind,
                id: e.subject.id,
            },
            data: e.data,
        }
    }
}

/// Paging of the audit trail: by cursor, stable while events are added.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CursorPagination {
    /// Page size used.
    pub limit: u64,
    /// Pass as `cursor` for the next (older) page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// `{"ok": true, "data": [...], "pagination": {"limit", "nextCursor"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEnvelope {
    /// Always `true`.
    pub ok: bool,
    /// Newest first.
    pub data: Vec<EventDto>,
    /// Where the next page starts.
    pub pagination: CursorPagination,
}

/// Filters and paging of `GET /audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// An event type (`proposal.approved`) or a prefix (`proposal.` or
    /// `proposal.*`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Only events about this object.
    pub subject_id: Option<String>,
    /// Only events by this user or key id (or operator name).
    pub actor_id: Option<String>,
    /// At or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1-500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// The organization's audit trail, newest first. Admins read every event;
/// managers those of leads, proposals and the routing configuration; agents
/// none.
#[utoipa::path(get, path = "/audit", operation_id = "list_audit_events", tag = "audit", params(AuditQuery),
    responses(
        (status = 200, description = "One page of events", body = AuditEnvelope,
            example = crate::examples::audit_list_200),
        (status = 400, description = "Invalid filter, limit or cursor", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents do not read the audit trail", body = ErrorEnvelope),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let kind = q
        .kind
        .as_deref()
        .map(TypeFilter::parse)
        .transpose()
        .map_err(|e| ApiError::validation(&e))?;
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(ApiError::invalid_field("to", "must not be before `from`"));
    }
    let filter = EventFilter {
        kind,
        subject_id: q.subject_id,
        actor_id: q.actor_id,
        from: q.from,
        to: q.to,
        visible: None,
    };
    let page = state
        .audit
        .list(&actor, filter, q.cursor.as_deref(), q.limit)
        .await?;
    Ok(HttpResponse::Ok().json(AuditEnvelope {
        ok: true,
        data: page.items.into_iter().map(EventDto::from).collect(),
        pagination: CursorPagination {
            limit: page.limit,
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        },
    }))
}

/// A lead's story: its events and its proposals' (each with its trace),
/// oldest first. Whoever may read the lead may read its timeline.
#[utoipa::path(get, path = "/leads/{id}/timeline", operation_id = "get_lead_timeline", tag = "leads",
    params(("id" = String, Path, description = "Lead id")),
    responses(
        (status = 200, description = "The lead's events, oldest first", body = DataEnvelope<Vec<EventDto>>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 404, description = "No such lead (or not yours)", body = ErrorEnvelope),
    ))]
pub async fn timeline(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = lead::LeadId::parse(&id).ok_or_else(|| ApiError::not_found("Lead"))?;
    let events = state.leads.timeline(&actor, &id).await?;
    Ok(envelope::ok(
        events.into_iter().map(EventDto::from).collect::<Vec<_>>(),
    ))
}
