//! Proposals: the engine's choice of agent for a lead, and its review.

use chrono::{DateTime, Utc};
use lead::{Lead, LeadId};
use routing::{Agent, Method, PoolId, RuleId, TraceEntry, engine::Plan};
use tenancy::{AgentId, OrgId, prefixed_id};

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
    /// Replaced by a later decision before review (a manager assigned or
    /// re-routed the lead).
    Superseded,
    /// Not reviewed within the organization's `reviewSlaSeconds`; the lead
    /// was routed again.
    Expired,
}

impl ProposalStatus {
    /// Every status.
    pub const ALL: [ProposalStatus; 5] = [
        ProposalStatus::Pending,
        ProposalStatus::Approved,
        ProposalStatus::Rejected,
        ProposalStatus::Superseded,
        ProposalStatus::Expired,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Pending => "pending",
            ProposalStatus::Approved => "approved",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::Superseded => "superseded",
            ProposalStatus::Expired => "expired",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// A message listing the valid names.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or("must be one of pending, approved, rejected, superseded, expired")
    }
}

/// Who decides auto-approved proposals.
pub const SYSTEM: &str = "system";

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

impl From<AlreadyDecided> for routing::RoutingError {
    fn from(e: AlreadyDecided) -> Self {
        Self::AlreadyDecided(e.0)
    }
}

impl Proposal {
    /// The proposal a plan makes for `lead`: approved at once (by
    /// [`SYSTEM`]) when `auto_approve`, else pending; `None` when the plan
    /// chose nobody.
    pub fn from_plan(
        plan: &Plan,
        lead: &Lead,
        auto_approve: bool,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let choice = plan.choice.as_ref()?;
        Some(Self {
            id: ProposalId::generate(),
            org_id: lead.org_id.clone(),
            lead_id: lead.id.clone(),
            agent_id: choice.agent_id.clone(),
            status: if auto_approve {
                ProposalStatus::Approved
            } else {
                ProposalStatus::Pending
            },
            method: choice.method,
            pool_id: choice.pool_id.clone(),
            rule_id: choice.rule_id.clone(),
            trace: plan.trace.clone(),
            created_at: now,
            decided_by: auto_approve.then(|| SYSTEM.to_owned()),
            decided_at: auto_approve.then_some(now),
            note: None,
        })
    }

    /// A manager's reassignment of `lead` to `agent`: a [`Method::Manual`]
    /// proposal, approved by `by` when made.
    pub fn manual(lead: &Lead, agent: &Agent, by: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: ProposalId::generate(),
            org_id: lead.org_id.clone(),
            lead_id: lead.id.clone(),
            agent_id: agent.id.clone(),
            status: ProposalStatus::Approved,
            method: Method::Manual,
            pool_id: None,
            rule_id: None,
            trace: vec![TraceEntry {
                agent_id: agent.id.clone(),
                eligible: true,
                reason: format!("selected: reassigned by {by}"),
            }],
            created_at: now,
            decided_by: Some(by.to_owned()),
            decided_at: Some(now),
            note: None,
        }
    }

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

    /// Whether the proposal took one of its pool's turns (round robin,
    /// weighted and least-loaded choices are counted in the pool; sticky,
    /// fallback and manual ones are not).
    pub fn took_pool_turn(&self) -> Option<&PoolId> {
        match self.method {
            Method::RoundRobin | Method::Weighted | Method::LeastLoaded => self.pool_id.as_ref(),
            Method::Sticky | Method::Fallback | Method::Manual => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeDelta, TimeZone};
    use lead::{NewLead, NewLeadInput};
    use routing::engine::Choice;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
    }

    fn lead() -> Lead {
        NewLead::parse(NewLeadInput {
            name: "Ann Lee".into(),
            ..Default::default()
        })
        .unwrap()
        .into_lead(OrgId::default_org(), now())
    }

    fn plan(method: Method) -> Plan {
        let agent_id = AgentId::parse("agent_b").unwrap();
        Plan {
            choice: Some(Choice {
                agent_id: agent_id.clone(),
                method,
                pool_id: Some(PoolId::parse("pool_sales").unwrap()),
                rule_id: Some(RuleId::parse("rule_match").unwrap()),
            }),
            unrouted_reason: None,
            trace: vec![TraceEntry {
                agent_id,
                eligible: true,
                reason: "selected: round robin".into(),
            }],
            pool_update: None,
        }
    }

    #[test]
    fn a_plan_makes_a_pending_proposal_without_auto_approve() {
        let lead = lead();
        let plan = plan(Method::RoundRobin);
        let p = Proposal::from_plan(&plan, &lead, false, now()).unwrap();
        assert_eq!(p.status, ProposalStatus::Pending);
        assert_eq!((p.decided_by, p.decided_at, p.note), (None, None, None));
        assert_eq!(p.agent_id.as_str(), "agent_b");
        assert_eq!((&p.lead_id, &p.org_id), (&lead.id, &lead.org_id));
        assert_eq!(p.method, Method::RoundRobin);
        assert_eq!(p.pool_id.as_ref().map(PoolId::as_str), Some("pool_sales"));
        assert_eq!(p.rule_id.as_ref().map(RuleId::as_str), Some("rule_match"));
        assert_eq!(p.trace, plan.trace);
        assert_eq!(p.created_at, now());
        assert!(p.id.as_str().starts_with("prop_"));
    }

    #[test]
    fn a_plan_makes_an_approved_proposal_decided_by_the_system_with_auto_approve() {
        let decided = now() + TimeDelta::seconds(1);
        let p = Proposal::from_plan(&plan(Method::LeastLoaded), &lead(), true, decided).unwrap();
        assert_eq!(p.status, ProposalStatus::Approved);
        assert_eq!(p.decided_by.as_deref(), Some(SYSTEM));
        assert_eq!(SYSTEM, "system");
        assert_eq!(p.decided_at, Some(decided));
        assert_eq!(p.created_at, decided);
    }

    #[test]
    fn a_plan_without_a_choice_makes_no_proposal() {
        let mut unrouted = plan(Method::RoundRobin);
        unrouted.choice = None;
        unrouted.unrouted_reason = Some("nobody".into());
        assert_eq!(Proposal::from_plan(&unrouted, &lead(), true, now()), None);
    }

    #[test]
    fn only_pool_methods_take_a_pool_turn() {
        for (method, takes) in [
            (Method::RoundRobin, true),
            (Method::Weighted, true),
            (Method::LeastLoaded, true),
            (Method::Sticky, false),
            (Method::Fallback, false),
        ] {
            let p = Proposal::from_plan(&plan(method), &lead(), false, now()).unwrap();
            assert_eq!(p.took_pool_turn().is_some(), takes, "{method:?}");
        }
    }

    #[test]
    fn a_decision_is_made_once() {
        let mut p = Proposal::from_plan(&plan(Method::Weighted), &lead(), false, now()).unwrap();
        p.decide(ProposalStatus::Rejected, "user_1", Some("no".into()), now())
            .unwrap();
        assert_eq!(p.decided_by.as_deref(), Some("user_1"));
        assert_eq!(p.note.as_deref(), Some("no"));
        let before = p.clone();
        assert_eq!(
            p.decide(ProposalStatus::Approved, "user_2", None, now()),
            Err(AlreadyDecided("rejected"))
        );
        assert_eq!(p, before);
    }

    #[test]
    fn a_reassignment_is_approved_by_whoever_made_it() {
        let agent = routing::Agent {
            id: AgentId::parse("agent_m").unwrap(),
            ..test_agent()
        };
        let p = Proposal::manual(&lead(), &agent, "user_7", now());
        assert_eq!(p.status, ProposalStatus::Approved);
        assert_eq!(p.method, Method::Manual);
        assert_eq!(p.trace[0].reason, "selected: reassigned by user_7");
        assert_eq!(p.took_pool_turn(), None);
    }

    fn test_agent() -> routing::Agent {
        routing::AgentChange::parse(
            routing::AgentInput {
                name: Some("Max".into()),
                email: Some("max@example.com".into()),
                ..Default::default()
            },
            true,
        )
        .unwrap()
        .into_agent(OrgId::default_org(), now())
        .unwrap()
    }

    #[test]
    fn statuses_round_trip() {
        for s in ProposalStatus::ALL {
            assert_eq!(ProposalStatus::parse(s.as_str()), Ok(s));
        }
    }
}
