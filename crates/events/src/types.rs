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

/// Every type above, for validation of filters and documentation.
pub const ALL: [&str; 18] = [
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
];
