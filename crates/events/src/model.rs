//! What an event is: one immutable fact, written in the same transaction as
//! the change it records.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tenancy::{OrgId, Principal, TenantScope, prefixed_id};

prefixed_id!(
    /// The id of an event (`evt_...`). Ids sort in the order events were
    /// made, which is the order the audit trail and cursors use.
    EventId,
    "evt"
);

/// The kinds of actor an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActorKind {
    /// A signed-in user.
    User,
    /// An API key.
    ApiKey,
    /// The service itself (auto-approval, timers).
    System,
    /// A platform operator (the command line, the development key).
    Operator,
}

impl ActorKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::System => "system",
            ActorKind::Operator => "operator",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// When the name is unknown.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        [
            ActorKind::User,
            ActorKind::ApiKey,
            ActorKind::System,
            ActorKind::Operator,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or("must be one of user, api_key, system, operator")
    }
}

/// Who made the change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventActor {
    /// What kind of actor.
    pub kind: ActorKind,
    /// Its id (user id, key id), or its name for operators.
    pub id: Option<String>,
    /// A readable name, when known.
    pub name: Option<String>,
}

impl From<&Principal> for EventActor {
    fn from(p: &Principal) -> Self {
        let (kind, id, name) = match p {
            Principal::User(id) => (ActorKind::User, Some(id.clone()), None),
            Principal::ApiKey(id) => (ActorKind::ApiKey, Some(id.clone()), None),
            Principal::DevKey => (ActorKind::Operator, None, Some("dev_key".to_owned())),
            Principal::Operator(name) => (ActorKind::Operator, None, Some(name.clone())),
            Principal::System => (ActorKind::System, None, Some("system".to_owned())),
        };
        Self { kind, id, name }
    }
}

/// What the event is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// `lead`, `proposal`, `agent`, `pool`, `rule`, `user`, `api_key`,
    /// `organization`.
    pub kind: String,
    /// Its id.
    pub id: String,
}

impl Subject {
    /// A subject of kind `kind`.
    pub fn of(kind: &str, id: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            id: id.into(),
        }
    }

    /// A lead.
    pub fn lead(id: impl Into<String>) -> Self {
        Self::of("lead", id)
    }

    /// A proposal.
    pub fn proposal(id: impl Into<String>) -> Self {
        Self::of("proposal", id)
    }
}

/// One recorded fact.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Primary key; sorts by creation.
    pub id: EventId,
    /// Owner organization.
    pub org_id: OrgId,
    /// What happened (`lead.routed`, `proposal.approved`, ...): [`types`].
    ///
    /// [`types`]: crate::types
    pub kind: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who.
    pub actor: EventActor,
    /// To what.
    pub subject: Subject,
    /// The lead the event belongs to, for a lead's timeline (the lead itself
    /// or one of its proposals).
    pub lead_id: Option<String>,
    /// The facts of the change (for a config change, `changes` as
    /// `{field: {from, to}}`).
    pub data: Map<String, Value>,
}

/// An event as a use case makes it; the unit of work stamps it with its
/// scope's organization and actor.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// What happened.
    pub kind: &'static str,
    /// To what.
    pub subject: Subject,
    /// The lead it belongs to.
    pub lead_id: Option<String>,
    /// The facts.
    pub data: Map<String, Value>,
    /// When.
    pub at: DateTime<Utc>,
}

impl NewEvent {
    /// An event about `subject`, at `at`, with no data yet.
    pub fn new(kind: &'static str, subject: Subject, at: DateTime<Utc>) -> Self {
        Self {
            kind,
            subject,
            lead_id: None,
            data: Map::new(),
            at,
        }
    }

    /// The lead it belongs to.
    #[must_use]
    pub fn of_lead(mut self, lead_id: impl Into<String>) -> Self {
        self.lead_id = Some(lead_id.into());
        self
    }

    /// One fact (a `null` value is kept: it says "none").
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_owned(), value.into());
        self
    }

    /// The event as stored: in the scope's organization, by its principal.
    pub fn stamp(self, scope: &TenantScope) -> Event {
        Event {
            id: EventId::generate(),
            org_id: scope.org_id().clone(),
            kind: self.kind.to_owned(),
            created_at: self.at,
            actor: EventActor::from(scope.principal()),
            subject: self.subject,
            lead_id: self.lead_id,
            data: self.data,
        }
    }
}
