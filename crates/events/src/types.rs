//! The event catalogue: every `type` an event can have.

/// A lead was received (before it is routed).
pub const LEAD_CREATED: &str = "lead.created";
/// A lead was proposed to an agent; a manager reviews it.
pub const LEAD_ROUTED: &str = "lead.routed";
/// No agent could take a lead; `data.reason` says why.
pub const LEAD_UNROUTED: &str = "lead.unrouted";
/// A lead became an agent's (auto-approval or an approved proposal).
pub const LEAD_ASSIGNED: &str = "lead.assigned";
/// A manager gave a lead to another agent by hand.
pub const LEAD_REASSIGNED: &str = "lead.reassigned";
/// The assigned agent accepted the lead (`data.agentId`).
pub const LEAD_ACCEPTED: &str = "lead.accepted";
/// The assigned agent declined the lead (`data.agentId`, `data.note`); a
/// `lead.rerouted` follows.
pub const LEAD_DECLINED: &str = "lead.declined";
/// A lead goes back to the engine, never to an agent who had it
/// (`data.cause`: `review_sla`, `accept_sla`, `declined`, `manager`,
/// `agent_left`; `data.fromAgentId`, `data.note`).
pub const LEAD_REROUTED: &str = "lead.rerouted";
/// An SLA ran out and nobody was left to take the lead, or the re-route
/// limit was reached: it is unrouted (`data.cause`, `data.reason`,
/// `data.triedAgentIds`).
pub const LEAD_SLA_BREACHED: &str = "lead.sla_breached";
/// A lead's status moved forward by hand (`data.from`, `data.to`).
pub const LEAD_STATUS_CHANGED: &str = "lead.status_changed";
/// A lead's contact data changed (`data.changes`).
pub const LEAD_UPDATED: &str = "lead.updated";
/// The engine (or a manager) made a proposal; `data.trace` says why.
pub const PROPOSAL_CREATED: &str = "proposal.created";
/// A manager approved a proposal.
pub const PROPOSAL_APPROVED: &str = "proposal.approved";
/// A manager rejected a proposal.
pub const PROPOSAL_REJECTED: &str = "proposal.rejected";
/// A pending proposal was not reviewed within `reviewSlaSeconds`.
pub const PROPOSAL_EXPIRED: &str = "proposal.expired";
/// A pending proposal was replaced before review (a manager assigned or
/// re-routed the lead).
pub const PROPOSAL_SUPERSEDED: &str = "proposal.superseded";

/// A test delivery an admin asked for (`POST /webhooks/{id}/test`); sent
/// to that endpoint only.
pub const WEBHOOK_TEST: &str = "webhook.test";
/// The sender turned an endpoint off: it answered 410, or every delivery
/// failed for 24 hours (`data.reason`, `data.url`).
pub const WEBHOOK_DISABLED: &str = "webhook.disabled";

/// An agent was created; `data.changes` holds every field.
pub const AGENT_CREATED: &str = "agent.created";
/// An agent changed (deactivation included); `data.changes`.
pub const AGENT_UPDATED: &str = "agent.updated";
/// An agent was removed.
pub const AGENT_DELETED: &str = "agent.deleted";
/// A pool was created.
pub const POOL_CREATED: &str = "pool.created";
/// A pool changed (name, method, members).
pub const POOL_UPDATED: &str = "pool.updated";
/// A pool was deleted.
pub const POOL_DELETED: &str = "pool.deleted";
/// A rule was created.
pub const RULE_CREATED: &str = "rule.created";
/// A rule changed.
pub const RULE_UPDATED: &str = "rule.updated";
/// A rule was deleted.
pub const RULE_DELETED: &str = "rule.deleted";
/// A user was created (registration included).
pub const USER_CREATED: &str = "user.created";
/// A user changed (role, status, name, e-mail; a new password is
/// `passwordChanged`, never the password).
pub const USER_UPDATED: &str = "user.updated";
/// A user was removed.
pub const USER_DELETED: &str = "user.deleted";
/// An API key was created (never its secret).
pub const API_KEY_CREATED: &str = "api_key.created";
/// An API key changed: rotated (`secretRotatedAt`) or revoked (`revokedAt`).
pub const API_KEY_UPDATED: &str = "api_key.updated";
/// An API key was removed.
pub const API_KEY_DELETED: &str = "api_key.deleted";
/// An organization was created.
pub const ORGANIZATION_CREATED: &str = "organization.created";
/// An organization's fields changed (deactivation included).
pub const ORGANIZATION_UPDATED: &str = "organization.updated";
/// An organization was deleted (its events go with it; kept for adapters
/// that archive).
pub const ORGANIZATION_DELETED: &str = "organization.deleted";
/// An organization's settings changed: `data.changes` per key.
pub const SETTINGS_CHANGED: &str = "settings.changed";
/// A user signed in (`data.method`: `password`).
pub const AUTH_LOGIN_SUCCEEDED: &str = "auth.login_succeeded";
/// A sign-in with a known e-mail failed (`data.reason`).
pub const AUTH_LOGIN_FAILED: &str = "auth.login_failed";
/// Sign-ins on this user's account were throttled (`data.address`, the
/// client address, when known): someone is guessing. At most one a minute
/// per account and instance.
pub const AUTH_LOGIN_THROTTLED: &str = "auth.login_throttled";
/// An API key authenticated a request from a client address it had not
/// been used from (`data.address`; the first use counts): a leaked key
/// shows up here.
pub const API_KEY_USED_FROM_NEW_ADDRESS: &str = "api_key.used_from_new_address";

/// Every type above, for validation of filters and documentation.
pub const ALL: [&str; 41] = [
    LEAD_CREATED,
    LEAD_ROUTED,
    LEAD_UNROUTED,
    LEAD_ASSIGNED,
    LEAD_REASSIGNED,
    LEAD_ACCEPTED,
    LEAD_DECLINED,
    LEAD_REROUTED,
    LEAD_SLA_BREACHED,
    LEAD_STATUS_CHANGED,
    LEAD_UPDATED,
    PROPOSAL_CREATED,
    PROPOSAL_APPROVED,
    PROPOSAL_REJECTED,
    PROPOSAL_EXPIRED,
    PROPOSAL_SUPERSEDED,
    WEBHOOK_TEST,
    WEBHOOK_DISABLED,
    AGENT_CREATED,
    AGENT_UPDATED,
    AGENT_DELETED,
    POOL_CREATED,
    POOL_UPDATED,
    POOL_DELETED,
    RULE_CREATED,
    RULE_UPDATED,
    RULE_DELETED,
    USER_CREATED,
    USER_UPDATED,
    USER_DELETED,
    API_KEY_CREATED,
    API_KEY_UPDATED,
    API_KEY_DELETED,
    ORGANIZATION_CREATED,
    ORGANIZATION_UPDATED,
    ORGANIZATION_DELETED,
    SETTINGS_CHANGED,
    AUTH_LOGIN_SUCCEEDED,
    AUTH_LOGIN_FAILED,
    AUTH_LOGIN_THROTTLED,
    API_KEY_USED_FROM_NEW_ADDRESS,
];
