//! In-memory adapters of every storage port of Lead Routing:
//! organizations (`organization`), users, sessions and API keys (`auth`),
//! agents, pools, rules and the read-only decision source of simulations
//! (`routing`), leads (`lead`), proposals, reporting and the routing
//! workflow's unit of work (`proposal`).
//!
//! [`MemoryStore`] implements every one of those ports over one shared,
//! lock-protected state, so a service (or a test) gets the whole workflow,
//! with the same rules the SQL adapter enforces, without a database. Every
//! tenant's rows are kept apart and reached only through a
//! [`tenancy::TenantScope`]. It is meant for tests, examples and small
//! embedded uses: a write transaction copies its organization's rows.
//!
//! ```
//! use std::sync::Arc;
//!
//! use memory::MemoryStore;
//! use proposal::{LeadPorts, LeadService};
//! use routing::RoutingService;
//!
//! let store = Arc::new(MemoryStore::new());
//! let routing = RoutingService::new(store.clone(), store.clone(), store.clone(), store.clone());
//! let leads = LeadService::new(LeadPorts {
//!     uow: store.clone(),
//!     leads: store.clone(),
//!     proposals: store.clone(),
//!     agents: store.clone(),
//!     reporting: store.clone(),
//!     orgs: store.clone(),
//!     events: store,
//! });
//! # let _ = (routing, leads);
//! ```
//!
//! See `examples/in_memory_routing.rs` for a whole day of routing.

mod auth;
mod config;
mod reads;
mod state;
mod tx;

use std::sync::Arc;

use tokio::sync::Mutex;

pub use tx::MemoryTx;

/// Every port, in memory. Cheap to clone: clones share the data.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<state::State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}
