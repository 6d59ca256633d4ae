//! The sea-orm adapter: entities and the SQL implementations of every
//! repository port of the domain crates, on SQLite and PostgreSQL.
//!
//! Entities never leave this crate: each repository maps rows to domain types
//! at its edge, and maps database errors (unique and foreign-key violations,
//! lost connections) to the domain's error variants.

mod api_keys;
mod database;
mod entity;
mod error;
mod organizations;
mod sessions;
mod users;

pub use api_keys::SeaOrmApiKeyRepository;
pub use database::{Database, DatabaseSettings, Engine};
pub use organizations::SeaOrmOrganizationRepository;
pub use sessions::SeaOrmSessionRepository;
pub use users::SeaOrmUserRepository;
