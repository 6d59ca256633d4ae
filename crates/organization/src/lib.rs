//! Organizations: the tenants of Lead Routing.
//!
//! This crate owns what an organization is ([`Organization`] and its validated
//! fields), who may do what to one ([`policy`]), the port its storage
//! implements ([`OrganizationRepository`]) and the use cases the API calls
//! ([`OrganizationService`]). It knows nothing of HTTP or SQL: a Rust service
//! can import it and bring its own storage.

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
};
pub use repository::OrganizationRepository;
pub use service::OrganizationService;
pub use settings::Settings;
pub use values::{DisplayName, ExternalRef, OrgName, Phone, Tier};
