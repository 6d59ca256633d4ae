//! The composition root: the one place where the sea-orm repositories are
//! wired into the use-case services.
//!
//! The HTTP server ([`crate::startup`]), the operator commands
//! ([`crate::cli`]) and the demo seed ([`crate::seed`]) all run on a
//! [`Services`] built by [`Services::new`], so each of them goes through the
//! same rules over the same repositories. A new service is added here, once:
//! a field on [`Services`], built in [`Services::new`].

use std::sync::Arc;

use auth::{ApiKeyService, AuthService, Authenticator, SecretError, TokenKeys};
use events::AuditService;
use migration::DbErr;
use organization::{OrganizationRepository, OrganizationService};
use proposal::{LeadPorts, LeadService};
use routing::RoutingService;
use storage::{
    Database, SeaOrmAgentRepository, SeaOrmApiKeyRepository, SeaOrmDeliveryQueue,
    SeaOrmEventRepository, SeaOrmLeadRepository, SeaOrmOrganizationRepository,
    SeaOrmPoolRepository, SeaOrmProposalRepository, SeaOrmReporting, SeaOrmRuleRepository,
    SeaOrmSessionRepository, SeaOrmTimerQueue, SeaOrmUnitOfWork, SeaOrmUserRepository,
    SeaOrmWebhookRepository,
};
use webhook::{UrlPolicy, WebhookService};

use crate::{
    config::{Settings, WebhookSettings},
    password_pool::BlockingHasher,
    scheduler::Scheduler,
    webhook_sender::{NameSources, Sender},
};

/// The `iss` claim of our access tokens.
pub const TOKEN_ISSUER: &str = "lead-routing";
/// The `aud` claim of our access tokens.
pub const TOKEN_AUDIENCE: &str = "lead-routing-api";

/// Every use-case service, over one database.
#[derive(Debug)]
pub struct Services {
    /// The database the repositories use (readiness checks, closing).
    pub db: Database,
    /// Organization use cases.
    pub orgs: OrganizationService,
    /// Registration, sign-in, users.
    pub auth: AuthService,
    /// API key management.
    pub api_keys: ApiKeyService,
    /// Credentials (tokens, API keys) to actors.
    pub authenticator: Authenticator,
    /// Agents, pools, rules and simulations.
    pub routing: RoutingService,
    /// Leads, proposals and their review, the dashboard.
    pub leads: LeadService,
    /// The audit trail.
    pub audit: AuditService,
    /// The SLA timers' scheduler.
    pub scheduler: Scheduler,
    /// Webhook endpoints.
    pub webhooks: WebhookService,
    /// The webhook sender.
    pub sender: Sender,
}

/// Why the services could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] DbErr),
    /// `JWT_SECRET` is unusable.
    #[error("JWT_SECRET: {0}")]
    Secret(#[from] SecretError),
}

impl Services {
    /// Wires the repositories of `db` into the services; access tokens are
    /// signed and checked with `keys`, webhooks delivered with `webhooks`.
    pub fn new(db: Database, keys: TokenKeys, webhooks: &WebhookSettings) -> Self {
        let orgs: Arc<dyn OrganizationRepository> =
            Arc::new(SeaOrmOrganizationRepository::new(db.clone()));
        let users = Arc::new(SeaOrmUserRepository::new(db.clone()));
        let sessions = Arc::new(SeaOrmSessionRepository::new(db.clone()));
        let api_keys = Arc::new(SeaOrmApiKeyRepository::new(db.clone()));
        let agents = Arc::new(SeaOrmAgentRepository::new(db.clone()));
        let uow = Arc::new(SeaOrmUnitOfWork::new(db.clone()));
        let events = Arc::new(SeaOrmEventRepository::new(db.clone()));
        let leads = Arc::new(SeaOrmLeadRepository::new(db.clone()));
        let pools = Arc::new(SeaOrmPoolRepository::new(db.clone()));
        let rules = Arc::new(SeaOrmRuleRepository::new(db.clone()));
        let names = NameSources {
            leads: leads.clone(),
            agents: agents.clone(),
            pools: pools.clone(),
            rules: rules.clone(),
        };
        Self {
            webhooks: WebhookService::new(
                Arc::new(SeaOrmWebhookRepository::new(db.clone())),
                UrlPolicy {
                    allow_http: webhooks.allow_http,
                    allow_private: webhooks.allow_private,
                },
            ),
            sender: Sender::new(
                Arc::new(SeaOrmDeliveryQueue::new(db.clone())),
                names,
                webhooks,
            ),
            orgs: OrganizationService::new(orgs.clone()),
            // argon2 runs off the HTTP workers, a core's worth at a time.
            auth: AuthService::new(users.clone(), sessions, orgs.clone(), keys.clone())
                .with_hasher(Arc::new(BlockingHasher::for_this_machine())),
            api_keys: ApiKeyService::new(api_keys.clone()),
            authenticator: Authenticator::new(users, api_keys, orgs.clone(), keys),
            routing: RoutingService::new(agents.clone(), pools, rules, uow.clone()),
            scheduler: Scheduler::new(uow.clone(), Arc::new(SeaOrmTimerQueue::new(db.clone()))),
            leads: LeadService::new(LeadPorts {
                uow,
                leads,
                proposals: Arc::new(SeaOrmProposalRepository::new(db.clone())),
                agents,
                reporting: Arc::new(SeaOrmReporting::new(db.clone())),
                orgs,
                events: events.clone(),
            }),
            audit: AuditService::new(events),
            db,
        }
    }

    /// The token keys of `settings.jwt_secret`.
    ///
    /// # Errors
    /// [`SecretError`] when the secret is unusable.
    pub fn token_keys(settings: &Settings) -> Result<TokenKeys, SecretError> {
        TokenKeys::new(settings.jwt_secret.as_bytes(), TOKEN_ISSUER, TOKEN_AUDIENCE)
    }

    /// Connects to `settings.database`, applies pending migrations and builds
    /// the services (what the operator commands run on).
    ///
    /// # Errors
    /// [`ServicesError`] when the database or the token secret is unusable.
    pub async fn connect(settings: &Settings) -> Result<Self, ServicesError> {
        let keys = Self::token_keys(settings)?;
        let db = Database::connect(&settings.database).await?;
        db.migrate().await?;
        Ok(Self::new(db, keys, &settings.webhooks))
    }
}
