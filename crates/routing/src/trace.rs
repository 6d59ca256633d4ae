//! What a routing decision says about itself: how the agent was chosen
//! ([`Method`]) and why each candidate won or did not ([`TraceEntry`]).

use tenancy::AgentId;

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
