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

/// Every type above, for validation of filters and documentation.
pub const ALL: [&str; 10] = [
    LEAD_CREATED,
    LEAD_ROUTED,
    LEAD_UNROUTED,
    LEAD_ASSIGNED,
    LEAD_REASSIGNED,
    LEAD_STATUS_CHANGED,
    LEAD_UPDATED,
    PROPOSAL_CREATED,
    PROPOSAL_APPROVED,
    PROPOSAL_REJECTED,
];
