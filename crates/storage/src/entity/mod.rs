//! sea-orm entities, one module per table. Internal to the adapter.

pub(crate) mod api_keys;
pub(crate) mod organizations;
pub(crate) mod refresh_sessions;
pub(crate) mod users;
