//! The sea-orm adapter: entities and the SQL implementations of every
//! repository port of the domain crates, on SQLite and PostgreSQL.
//!
//! Entities never leave this crate: each repository maps rows to domain types
//! at its edge, and maps database errors (unique and foreign-key violations,
//! lost connections) to the domain's error variants.

mod agents;
mod api_keys;
mod database;
mod entity;
mod error;
mod events;
mod leads;
mod organizations;
mod pools;
mod routing_rows;
mod routing_tx;
mod rules;
mod scope;
mod sessions;
mod timers;
mod users;
mod webhooks;

pub use agents::SeaOrmAgentRepository;
pub use api_keys::SeaOrmApiKeyRepository;
pub use database::{Database, DatabaseSettings, Engine};
pub use events::SeaOrmEventRepository;
pub use leads::{SeaOrmLeadRepository, SeaOrmProposalRepository, SeaOrmReporting};
pub use organizations::SeaOrmOrganizationRepository;
pub use pools::SeaOrmPoolRepository;
pub use routing_tx::{SeaOrmUnitOfWork, SqlRoutingTx};
pub use rules::SeaOrmRuleRepository;
pub use sessions::SeaOrmSessionRepository;
pub use timers::SeaOrmTimerQueue;
pub use users::SeaOrmUserRepository;
pub use webhooks::{SeaOrmDeliveryQueue, SeaOrmWebhookRepository};
