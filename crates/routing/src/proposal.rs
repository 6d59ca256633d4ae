//! Proposals: the engine's choice of agent for a lead, and its review.

use chrono::{DateTime, Utc};
use lead::LeadId;
use tenancy::{AgentId, OrgId, prefixed_id};

use crate::{PoolId, RuleId};

prefixed_id!(
    /// The id of a proposal (`prop_...`).
    ProposalId,
    "prop"
);

/// Where a proposal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProposalStatus {
    /// Waits for a manager.
    Pending,
    /// Accepted: the lead is the agent's.
    Approved,
    /// Refused; the lead was re-routed or reassigned.
    Rejected,
    /// Replaced by a later decision before review.
    Superseded,
}

impl ProposalStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Pending => "pending",
            ProposalStatus::Approved => "approved",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Superseded => "superseded",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// A message listing the valid names.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        match s {
            "pending" => Ok(ProposalStatus::Pending),
            "approved" => Ok(ProposalStatus::Approved),
            "rejected" => Ok(ProposalStatus::Rejected),
            "superseded" => Ok(ProposalStatus::Superseded),
            _ => Err("must be one of pending, approved, rejected, superseded"),
        }
    }
}

/// How the agent was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Pool rotation.
    RoundRobin,
    /// Pool weights.
    Weighted,
    /// Fewest open leads.
    LeastLoaded,
    /// The owner of earlier leads of the same e-mail domain.
    Sticky,
    /// The organization's fallback agent (nobody else was eligible).
    Fallback,
    /// A manager's reassignment.
    Manual,
}

impl Method {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::RoundRobin => "round_robin",
            Method::Weighted => "weighted",
            Method::LeastLoaded => "least_loaded",
            Method::Sticky => "sticky",
            Method::Fallback => "fallback",
            Method::Manual => "manual",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// When the name is unknown.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        [
            Method::RoundRobin,
            Method::Weighted,
            Method::LeastLoaded,
            Method::Sticky,
            Method::Fallback,
            Method::Manual,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
        .ok_or("unknown routing method")
    }
}

/// Why one agent was or was not chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// The agent.
    pub agent_id: AgentId,
    /// Whether it could take the lead.
    pub eligible: bool,
    /// Why it won, or why it did not.
    pub reason: String,
}

/// A proposed agent for a lead.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// Primary key.
    pub id: ProposalId,
    /// Owner organization.
    pub org_id: OrgId,
    /// The lead.
    pub lead_id: LeadId,
    /// The proposed agent.
    pub agent_id: AgentId,
    /// Where it stands.
    pub status: ProposalStatus,
    /// How the agent was chosen.
    pub method: Method,
    /// The pool it came from, if any.
    pub pool_id: Option<PoolId>,
    /// The rule that matched, if any.
    pub rule_id: Option<RuleId>,
    /// Why each candidate was or was not chosen.
    pub trace: Vec<TraceEntry>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Who decided (`system` for auto-routing, or the principal).
    pub decided_by: Option<String>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// The reviewer's note.
    pub note: Option<String>,
}

/// Deciding a proposal that is no longer pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("this proposal is already {0}")]
pub struct AlreadyDecided(pub &'static str);

impl Proposal {
    /// Records a decision.
    ///
    /// # Errors
    /// [`AlreadyDecided`] unless pending; `self` is unchanged then.
    pub fn decide(
        &mut self,
        status: ProposalStatus,
        by: &str,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), AlreadyDecided> {
        if self.status != ProposalStatus::Pending {
            return Err(AlreadyDecided(self.status.as_str()));
        }
        self.status = status;
        self.decided_by = Some(by.to_owned());
        self.decided_at = Some(now);
        if note.is_some() {
            self.note = note;
        }
        Ok(())
    }
}

/// Who decides auto-approved proposals.
pub const SYSTEM: &str = "system";
