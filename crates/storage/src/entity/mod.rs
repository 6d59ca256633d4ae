//! sea-orm entities, one module per table. Internal to the adapter.

pub(crate) mod agents;
pub(crate) mod api_keys;
pub(crate) mod events;
pub(crate) mod leads;
pub(crate) mod organizations;
pub(crate) mod pool_members;
pub(crate) mod proposals;
pub(crate) mod refresh_sessions;
pub(crate) mod routing_pools;
pub(crate) mod routing_rules;
pub(crate) mod timers;
pub(crate) mod users;
pub(crate) mod webhook_attempts;
pub(crate) mod webhook_deliveries;
pub(crate) mod webhooks;
