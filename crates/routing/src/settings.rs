//! The routing part of an organization's settings.

use organization::Settings;
use tenancy::AgentId;

use crate::PoolId;

/// Routing policy read from the organization's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingSettings {
    /// Approve proposals at once (`allowAutoRouting`).
    pub auto_approve: bool,
    /// The pool of leads no rule matches (`defaultPoolId`).
    pub default_pool_id: Option<PoolId>,
    /// Who gets a lead when no pool member is eligible (`fallbackAgentId`).
    pub fallback_agent_id: Option<AgentId>,
    /// Send a lead to the owner of earlier leads of its e-mail domain (`stickyByDomain`).
    pub sticky_by_domain: bool,
    /// Seconds a pending proposal waits for review before it expires
    /// (`reviewSlaSeconds`; `None`: forever).
    pub review_sla_seconds: Option<u32>,
    /// Seconds an assigned lead waits for its agent to accept before it is
    /// routed again (`acceptSlaSeconds`; `None`: forever).
    pub accept_sla_seconds: Option<u32>,
    /// How many times one lead may be routed again by SLAs and declines
    /// (`maxReroutes`).
    pub max_reroutes: u32,
}

impl From<&Settings> for RoutingSettings {
    fn from(s: &Settings) -> Self {
        let text = |key: &str| s.as_map().get(key).and_then(|v| v.as_str());
        Self {
            auto_approve: s.allow_auto_routing(),
            default_pool_id: text("defaultPoolId").and_then(PoolId::parse),
            fallback_agent_id: text("fallbackAgentId").and_then(AgentId::parse),
            sticky_by_domain: s
                .as_map()
                .get("stickyByDomain")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            review_sla_seconds: s.review_sla_seconds(),
            accept_sla_seconds: s.accept_sla_seconds(),
            max_reroutes: s.max_reroutes(),
        }
    }
}

impl Default for RoutingSettings {
    fn default() -> Self {
        Self::from(&Settings::default())
    }
}
