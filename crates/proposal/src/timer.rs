//! SLA timers: rows with a due time, armed by the workflow in the
//! transaction that starts a wait and fired by a scheduler that polls
//! [`TimerQueue`].

use chrono::{DateTime, TimeDelta, Utc};
use lead::LeadId;
use tenancy::{AgentId, OrgId, prefixed_id};

use crate::ProposalId;

prefixed_id!(
    /// The id of a timer (`tmr_...`).
    TimerId,
    "tmr"
);

/// What a timer waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// A manager to review a pending proposal (`reviewSlaSeconds`).
    Review,
    /// The assigned agent to accept the lead (`acceptSlaSeconds`).
    Accept,
}

impl TimerKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Review => "review",
            TimerKind::Accept => "accept",
        }
    }

    /// Parses a stored name.
    ///
    /// # Errors
    /// When the name is unknown.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        match s {
            "review" => Ok(TimerKind::Review),
            "accept" => Ok(TimerKind::Accept),
            _ => Err("must be review or accept"),
        }
    }
}

/// A wait with a deadline, for one lead. It fires only if the lead is still
/// where it was when the timer was armed (the proposal still pending, the
/// lead still assigned to the agent and not accepted); otherwise it is
/// dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timer {
    /// Primary key.
    pub id: TimerId,
    /// What it waits for.
    pub kind: TimerKind,
    /// The lead.
    pub lead_id: LeadId,
    /// The proposal waiting for review, or the one that gave the lead to
    /// its agent.
    pub proposal_id: ProposalId,
    /// The agent who holds the lead meanwhile.
    pub agent_id: AgentId,
    /// When it fires.
    pub due_at: DateTime<Utc>,
}

impl Timer {
    /// A timer of `kind` for the proposal's lead, due `seconds` after `now`.
    pub fn arm(
        kind: TimerKind,
        proposal: &crate::Proposal,
        seconds: u32,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: TimerId::generate(),
            kind,
            lead_id: proposal.lead_id.clone(),
            proposal_id: proposal.id.clone(),
            agent_id: proposal.agent_id.clone(),
            due_at: now + TimeDelta::seconds(i64::from(seconds)),
        }
    }
}

/// A timer that is due, and its organization (the scheduler fires it in a
/// transaction of that organization).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueTimer {
    /// Its organization.
    pub org_id: OrgId,
    /// The timer.
    pub id: TimerId,
}

/// The scheduler's view of every organization's timers: the one read that
/// crosses tenants, and it returns only ids to open scoped transactions
/// with.
#[async_trait::async_trait]
pub trait TimerQueue: Send + Sync {
    /// Timers due at `now`, earliest first, at most `limit`.
    ///
    /// # Errors
    /// [`tenancy::StorageError`] only.
    async fn due(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<DueTimer>, tenancy::StorageError>;
}
