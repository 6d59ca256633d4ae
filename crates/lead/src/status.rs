//! The life of a lead, forward only.

use std::{fmt, str::FromStr};

/// Where a lead stands.
///
/// ```text
/// new ─┬─> proposed ─┬─> assigned ─> accepted ─> contacted ─┬─> won
///      │             │       │           │                  └─> lost
///      ├─> assigned  └─> unrouted        └──────────────────> won / lost
///      └─> unrouted
/// ```
/// `proposed` waits for a manager; `assigned` waits for its agent to accept
/// (or decline); `unrouted` means no agent could take it (the reason is on
/// the lead). Re-routing (a decline, an SLA, a manager) takes a `proposed`,
/// `assigned`, `accepted` or `unrouted` lead back to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeadStatus {
    /// Received, not routed yet (only inside the routing transaction).
    New,
    /// A proposal waits for review.
    Proposed,
    /// Owned by an agent, which has not accepted it yet.
    Assigned,
    /// Its agent accepted it.
    Accepted,
    /// No agent could take it; see the reason.
    Unrouted,
    /// The agent reached the prospect.
    Contacted,
    /// Closed: won.
    Won,
    /// Closed: lost.
    Lost,
}

impl LeadStatus {
    /// Every status.
    pub const ALL: [LeadStatus; 8] = [
        LeadStatus::New,
        LeadStatus::Proposed,
        LeadStatus::Assigned,
        LeadStatus::Accepted,
        LeadStatus::Unrouted,
        LeadStatus::Contacted,
        LeadStatus::Won,
        LeadStatus::Lost,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::Proposed => "proposed",
            LeadStatus::Assigned => "assigned",
            LeadStatus::Accepted => "accepted",
            LeadStatus::Unrouted => "unrouted",
            LeadStatus::Contacted => "contacted",
            LeadStatus::Won => "won",
            LeadStatus::Lost => "lost",
        }
    }

    /// The statuses in which a lead occupies its agent ([`LeadStatus::is_open`]):
    /// what storage counts as an agent's open leads.
    pub const OPEN: [LeadStatus; 4] = [
        LeadStatus::Proposed,
        LeadStatus::Assigned,
        LeadStatus::Accepted,
        LeadStatus::Contacted,
    ];

    /// The statuses in which a lead is its agent's, not merely proposed
    /// ([`LeadStatus::is_owned`]).
    pub const OWNED: [LeadStatus; 5] = [
        LeadStatus::Assigned,
        LeadStatus::Accepted,
        LeadStatus::Contacted,
        LeadStatus::Won,
        LeadStatus::Lost,
    ];

    /// Whether the lead occupies its agent: it counts against the agent's
    /// capacity (a pending proposal holds capacity too).
    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }

    /// Whether the lead belongs to its agent (assigned, worked or closed).
    pub fn is_owned(self) -> bool {
        Self::OWNED.contains(&self)
    }

    /// Whether routing may (re)decide a lead in this status: a new lead, one
    /// whose proposal is being reviewed, or one nobody could take.
    pub fn is_routable(self) -> bool {
        matches!(
            self,
            LeadStatus::New | LeadStatus::Proposed | LeadStatus::Unrouted
        )
    }

    /// Whether a manager or the engine may take the lead away from where it
    /// is and route it again (a decline, an SLA, `reroute`, `assign`): a
    /// lead not yet worked. A contacted or closed lead stays with its agent.
    pub fn is_reroutable(self) -> bool {
        matches!(
            self,
            LeadStatus::Proposed
                | LeadStatus::Assigned
                | LeadStatus::Accepted
                | LeadStatus::Unrouted
        )
    }

    /// Whether an agent or manager may move a lead from `self` to `to` by
    /// hand (`PUT /leads/{id}`): only forward along the agent's work
    /// (accepting it is a step of that work). Routing moves (`new`,
    /// `proposed`, `unrouted`) are the engine's.
    ///
    /// # Errors
    /// [`TransitionError`] naming both statuses.
    pub fn manual_transition(self, to: LeadStatus) -> Result<(), TransitionError> {
        use LeadStatus::{Accepted, Assigned, Contacted, Lost, Won};
        let allowed = self == to
            || matches!(
                (self, to),
                (Assigned, Accepted | Contacted | Won | Lost)
                    | (Accepted, Contacted | Won | Lost)
                    | (Contacted, Won | Lost)
            );
        if allowed {
            Ok(())
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

/// A status change that is not allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a lead cannot move from {from} to {to}")]
pub struct TransitionError {
    /// Current status.
    pub from: LeadStatus,
    /// Requested status.
    pub to: LeadStatus,
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LeadStatus {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LeadStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(
                "must be one of new, proposed, assigned, accepted, unrouted, contacted, won, lost",
            )
    }
}

#[cfg(test)]
mod tests {
    use super::LeadStatus::*;
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in LeadStatus::ALL {
            assert_eq!(s.as_str().parse::<LeadStatus>(), Ok(s));
        }
    }

    #[test]
    fn work_moves_forward_only() {
        assert!(Assigned.manual_transition(Contacted).is_ok());
        assert!(Assigned.manual_transition(Accepted).is_ok());
        assert!(Accepted.manual_transition(Contacted).is_ok());
        assert!(Assigned.manual_transition(Won).is_ok());
        assert!(Contacted.manual_transition(Lost).is_ok());
        assert!(Won.manual_transition(Won).is_ok(), "idempotent");
        for (from, to) in [
            (Contacted, Assigned),
            (Won, Lost),
            (Lost, Contacted),
            (Proposed, Assigned),
            (Unrouted, Assigned),
            (New, Contacted),
            (Assigned, Proposed),
            (Accepted, Assigned),
            (Contacted, Accepted),
        ] {
            assert!(from.manual_transition(to).is_err(), "{from} -> {to}");
        }
    }

    #[test]
    fn the_status_sets_agree_with_their_predicates() {
        for s in LeadStatus::ALL {
            assert_eq!(LeadStatus::OPEN.contains(&s), s.is_open(), "{s}");
            assert_eq!(LeadStatus::OWNED.contains(&s), s.is_owned(), "{s}");
        }
    }

    #[test]
    fn open_leads_hold_capacity() {
        assert!(Proposed.is_open() && Assigned.is_open() && Contacted.is_open());
        assert!(Accepted.is_open() && Accepted.is_owned());
        assert!(!Won.is_open() && !Lost.is_open() && !Unrouted.is_open() && !New.is_open());
    }
}
