//! Organizations: the tenants of Lead Routing.
//!
//! This crate owns what an organization is ([`Organization`] and its validated
//! fields), who may do what to one ([`policy`]), the port its storage
//! implements ([`OrganizationRepository`]) and the use cases the API calls
//! ([`OrganizationService`]). It knows nothing of HTTP or SQL: a Rust service
//! can import it and bring its own storage (the `memory` crate has an
//! in-memory [`OrganizationRepository`]).
//!
//! ```
//! use organization::{NewOrganization, OrgName, Settings, Tier, policy::{OrgAction, authorize}};
//! use serde_json::json;
//! use tenancy::{Actor, Principal, Role};
//!
//! let org = NewOrganization {
//!     name: OrgName::parse("acme").expect("a DNS-label slug"),
//!     display_name: None,
//!     email: None,
//!     phone: None,
//!     tier: Tier::default(),
//!     monday_workspace_id: None,
//!     settings: Settings::parse(json!({"maxAgents": 10})).expect("typed settings"),
//! }
//! .into_organization("operator:docs".into(), chrono::Utc::now());
//! assert_eq!(org.settings.max_agents(), Some(10));
//!
//! // An admin of another organization cannot even see it.
//! let stranger = Actor::new(tenancy::OrgId::generate(), Principal::User("u".into()), Role::Admin);
//! assert!(authorize(&stranger, OrgAction::Read, Some(&org.id)).is_err());
//! ```

mod error;
mod model;
pub mod policy;
mod repository;
mod service;
mod settings;
mod values;

pub use error::OrganizationError;
pub use model::{
    NewOrganization, Organization, OrganizationFilter, OrganizationPatch, OrganizationStats,
    settings_changed,
};
pub use repository::OrganizationRepository;
pub use service::OrganizationService;
pub use settings::{
    DEFAULT_MAX_REROUTES, MAX_REROUTES_LIMIT, MAX_SETTINGS_BYTES, MAX_SETTINGS_KEY_CHARS,
    MAX_SETTINGS_KEYS, MAX_SLA_SECONDS, Settings,
};
pub use values::{DisplayName, ExternalRef, OrgName, Phone, Tier};
