//! The audit trail: reading events, and who may read which.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenancy::{Actor, Role, StorageError, TenantScope, ValidationErrors};

use crate::{Event, EventId};

/// The largest page of the audit trail.
pub const MAX_AUDIT_LIMIT: u64 = 500;
/// The page size when none is asked for.
pub const DEFAULT_AUDIT_LIMIT: u64 = 100;

/// Event types managers may read: leads, proposals and the routing
/// configuration (agents, pools, rules). Admins read everything.
pub const MANAGER_TYPES: [&str; 5] = ["lead.", "proposal.", "agent.", "pool.", "rule."];

/// Which events by type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeFilter {
    /// Exactly this type (`proposal.approved`).
    Exact(String),
    /// Every type starting with this (`proposal.`, from `proposal.` or
    /// `proposal.*`).
    Prefix(String),
}

impl TypeFilter {
    /// Parses `type=`: `proposal.approved`, `proposal.` or `proposal.*`.
    ///
    /// # Errors
    /// On field `type` when empty or not made of lower-case letters, `_`
    /// and dots.
    pub fn parse(raw: &str) -> Result<Self, ValidationErrors> {
        let raw = raw.trim();
        let body = raw.strip_suffix('*').unwrap_or(raw);
        let valid = !body.is_empty()
            && body.len() <= 100
            && body
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.');
        if !valid {
            return Err(ValidationErrors::single(
                "type",
                "must be an event type (proposal.approved) or a prefix (proposal. or proposal.*)",
            ));
        }
        Ok(if body.ends_with('.') {
            Self::Prefix(body.to_owned())
        } else {
            Self::Exact(body.to_owned())
        })
    }

    /// Whether `kind` passes.
    pub fn matches(&self, kind: &str) -> bool {
        match self {
            Self::Exact(t) => kind == t,
            Self::Prefix(p) => kind.starts_with(p.as_str()),
        }
    }
}

/// Which events a read returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// By type.
    pub kind: Option<TypeFilter>,
    /// About this subject.
    pub subject_id: Option<String>,
    /// By this actor (user or key id, or operator name).
    pub actor_id: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// Only types with one of these prefixes (the reader's role decides).
    pub visible: Option<Vec<&'static str>>,
}

impl EventFilter {
    /// Whether `event` passes (what adapters without a query language do).
    pub fn matches(&self, event: &Event) -> bool {
        self.kind.as_ref().is_none_or(|k| k.matches(&event.kind))
            && self
                .subject_id
                .as_ref()
                .is_none_or(|s| &event.subject.id == s)
            && self.actor_id.as_ref().is_none_or(|a| {
                event.actor.id.as_ref() == Some(a) || event.actor.name.as_ref() == Some(a)
            })
            && self.from.is_none_or(|f| event.created_at >= f)
            && self.to.is_none_or(|t| event.created_at < t)
            && self
                .visible
                .as_ref()
                .is_none_or(|v| v.iter().any(|p| event.kind.starts_with(p)))
    }
}

/// One page of the audit trail.
#[derive(Clone, Debug, PartialEq)]
pub struct EventPage {
    /// Newest first.
    pub items: Vec<Event>,
    /// The page size used.
    pub limit: u64,
    /// Where the next page starts, when there may be one.
    pub next_cursor: Option<EventId>,
}

/// Events, read side. Events are written by the units of work of the
/// changes they record, never updated, and deleted only with their
/// organization.
#[async_trait]
pub trait EventRepository: Send + Sync {
    /// Events matching `filter`, newest first, strictly older than
    /// `before` when given, at most `limit`.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &EventFilter,
        before: Option<&EventId>,
        limit: u64,
    ) -> Result<Vec<Event>, StorageError>;

    /// The events of one lead (its own and its proposals'), oldest first.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn of_lead(&self, scope: &TenantScope, lead_id: &str)
    -> Result<Vec<Event>, StorageError>;
}

/// Why the audit trail could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Agents do not read the audit trail (403).
    #[error("only managers and admins may read the audit trail")]
    Forbidden,
    /// Invalid query (400).
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Reading the audit trail. Cheap to clone.
#[derive(Clone)]
pub struct AuditService {
    events: Arc<dyn EventRepository>,
}

impl std::fmt::Debug for AuditService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditService").finish_non_exhaustive()
    }
}

impl AuditService {
    /// A service over this repository.
    pub fn new(events: Arc<dyn EventRepository>) -> Self {
        Self { events }
    }

    /// A page of the actor's organization's events, newest first, after
    /// `cursor` (the `nextCursor` of the previous page). Admins read every
    /// event; managers those of leads, proposals and the routing
    /// configuration ([`MANAGER_TYPES`]); agents none.
    ///
    /// The cursor is an event id: pages are stable while events are added
    /// (new events come before the first page, never inside a later one).
    ///
    /// # Errors
    /// [`AuditError::Forbidden`] for agents; [`AuditError::Invalid`] for a
    /// limit out of range or a malformed cursor.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn list(
        &self,
        actor: &Actor,
        mut filter: EventFilter,
        cursor: Option<&str>,
        limit: Option<u64>,
    ) -> Result<EventPage, AuditError> {
        filter.visible = visible_types(actor)?;
        let limit = limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
        if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
            return Err(AuditError::Invalid(ValidationErrors::single(
                "limit",
                format!("must be between 1 and {MAX_AUDIT_LIMIT}"),
            )));
        }
        let before = cursor
            .map(|c| {
                EventId::parse(c)
                    .filter(|id| id.as_str().starts_with("evt_"))
                    .ok_or_else(|| {
                        AuditError::Invalid(ValidationErrors::single(
                            "cursor",
                            "is not a cursor returned by this endpoint",
                        ))
                    })
            })
            .transpose()?;
        // One more than asked says whether another page exists.
        let mut items = self
            .events
            .list(&actor.scope(), &filter, before.as_ref(), limit + 1)
            .await?;
        let more = items.len() as u64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_cursor = if more {
            items.last().map(|e| e.id.clone())
        } else {
            None
        };
        Ok(EventPage {
            items,
            limit,
            next_cursor,
        })
    }
}

/// The types `actor` may read: `None` for all.
///
/// # Errors
/// [`AuditError::Forbidden`] for agents.
pub fn visible_types(actor: &Actor) -> Result<Option<Vec<&'static str>>, AuditError> {
    if actor.has_at_least(Role::Admin) {
        Ok(None)
    } else if actor.has_at_least(Role::Manager) {
        Ok(Some(MANAGER_TYPES.to_vec()))
    } else {
        Err(AuditError::Forbidden)
    }
}
