//! sea-orm entities, one module per table. Internal to the adapter.

pub(crate) mod organizations;
