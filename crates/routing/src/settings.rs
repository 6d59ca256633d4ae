//! The routing part of an organization's settings.

use organization::Settings;
use tenancy::AgentId;

use crate::PoolId;

/// Routing policy read from the organization's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutingSettings {
    /// Approve proposals at once (`allowAutoRouting`).
    pub auto_approve: bool,
    /// The pool of leads no rule matches (`defaultPoolId`).
    pub default_pool_id: Option<PoolId>,
    /// Who gets a lead when no pool member is eligible (`fallbackAgentId`).
    pub fallback_agent_id: Option<AgentId>,
    /// Send a lead to the owner of earlier leads of its e-mail domain (`stickyByDomain`).
    pub sticky_by_domain: bool,
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
        }
    }
}
