//! Building and running the HTTP server.

use std::net::TcpListener;

use actix_web::{
    App, HttpResponse, HttpServer,
    body::MessageBody,
    dev::{Server, ServiceResponse},
    http::{StatusCode, header},
    middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn},
    web,
};
use auth::{ApiKeyService, AuthService, Authenticator};
use organization::OrganizationService;
use proposal::LeadService;
use routing::RoutingService;
use storage::Database;
use tracing_actix_web::TracingLogger;

pub use crate::services::{TOKEN_AUDIENCE, TOKEN_ISSUER};
use crate::{
    admin, config::Settings, credentials, error::ApiError, extract::MAX_BODY_BYTES, observability,
    openapi, ratelimit::LoginLimiter, routes, scheduler::Scheduler, services::Services,
};

/// What every handler can reach: the [`Services`] of the composition root
/// plus the server's own state.
#[derive(Debug)]
pub struct AppState {
    /// The database, for readiness checks.
    pub db: Database,
    /// Organization use cases.
    pub orgs: OrganizationService,
    /// Registration, sign-in, users.
    pub auth: AuthService,
    /// API key management.
    pub api_keys: ApiKeyService,
    /// Credentials to actors.
    pub authenticator: Authenticator,
    /// Sign-in throttle.
    pub login_limiter: LoginLimiter,
    /// Agents, pools, rules, simulations.
    pub routing: RoutingService,
    /// Leads, proposals, the dashboard.
    pub leads: LeadService,
    /// The audit trail.
    pub audit: events::AuditService,
    /// Webhook endpoints.
    pub webhooks: webhook::WebhookService,
    /// Prometheus metrics.
    pub metrics: crate::observability::Metrics,
    /// How long a request may run.
    pub request_timeout: std::time::Duration,
    /// Whether development conveniences are on.
    pub dev_mode: bool,
    /// Reverse proxies whose forwarding headers are believed.
    pub trusted_proxies: crate::proxy::TrustedProxies,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
}

impl AppState {
    /// The state of a server running `services` with `settings`.
    pub fn new(services: Services, settings: &Settings) -> Self {
        let Services {
            db,
            orgs,
            auth,
            api_keys,
            authenticator,
            routing,
            leads,
            audit,
            scheduler: _,
            webhooks,
            sender: _,
        } = services;
        Self {
            db,
            orgs,
            auth,
            api_keys,
            authenticator,
            login_limiter: LoginLimiter::default(),
            routing,
            leads,
            audit,
            webhooks,
            metrics: crate::observability::Metrics::new(),
            request_timeout: settings.request_timeout,
            dev_mode: settings.is_development(),
            trusted_proxies: settings.trusted_proxies.clone(),
            openapi_json: openapi::document_json(),
        }
    }
}

/// A failure to start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] migration::DbErr),
    /// The token signing key is unusable.
    #[error("JWT_SECRET: {0}")]
    Secret(#[from] auth::SecretError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    scheduler: Scheduler,
    sender: crate::webhook_sender::Sender,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the database, applies migrations and binds the listener.
    ///
    /// # Errors
    /// [`StartupError`] when the database or the address is unusable.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let db = Database::connect(&settings.database).await?;
        db.migrate().await?;
        let addr = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartupError::Bind {
            addr: addr.clone(),
            source,
        })?;
        Self::build_with(db, listener, settings)
    }

    /// Builds the server on an open database and a bound listener.
    ///
    /// # Errors
    /// [`StartupError::Bind`] when the listener cannot be used.
    pub fn build_with(
        db: Database,
        listener: TcpListener,
        settings: &Settings,
    ) -> Result<Self, StartupError> {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let keys = Services::token_keys(settings)?;
        let services = Services::new(db, keys, &settings.webhooks);
        let scheduler = services.scheduler.clone();
        let sender = services.sender.clone();
        let state = web::Data::new(AppState::new(services, settings));
        let cors_origins = settings.cors_origins.clone();
        let mut server = HttpServer::new(move || {
            // Innermost first: the last `wrap` sees the request first.
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .wrap(from_fn(head_as_get))
                .wrap(from_fn(credentials::authenticate))
                .wrap(ErrorHandlers::new().default_handler(envelope_for_bare_errors))
                .wrap(cors(&cors_origins))
                .wrap(from_fn(observability::record))
                .wrap(TracingLogger::<observability::RequestSpan>::new())
                .wrap(from_fn(observability::request_id))
                .configure(routes::configure)
                .configure(admin::configure)
                .default_service(web::to(not_found))
        })
        // Slow clients may not hold a connection open without sending headers.
        .client_request_timeout(std::time::Duration::from_secs(10))
        .shutdown_timeout(30);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind { addr, source })?
            .run();
        Ok(Self {
            port,
            server,
            scheduler,
            sender,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is asked to stop (SIGINT, SIGTERM), letting
    /// in-flight requests finish; the SLA scheduler runs beside it.
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // The SLA timers and the webhook sender run exactly as long as the
        // server.
        let scheduler = tokio::spawn(self.scheduler.run());
        let sender = tokio::spawn(self.sender.run());
        let result = self.server.await;
        scheduler.abort();
        sender.abort();
        result
    }
}

/// Answers `HEAD` wherever `GET` is answered: the request is routed as a
/// `GET` and the protocol layer, which saw the original `HEAD`, sends the
/// status and headers without the body (HTTP/1 and HTTP/2 alike).
///
/// Mounted innermost, just before routing, so the request span, the access
/// log and the metrics still name the method the client sent.
async fn head_as_get(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// CORS: closed (no CORS headers at all, so browsers refuse cross-origin
/// calls) unless `CORS_ORIGINS` names origins.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default();
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors.allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            "authorization",
            "content-type",
            "x-api-key",
            "x-org-id",
            "x-request-id",
        ])
        .expose_headers(["x-request-id", "retry-after"])
        .max_age(3600)
}

/// Answers 503 `REQUEST_TIMEOUT` when a request runs past its deadline; the
/// work is dropped, and with it any open transaction (rolled back).
///
/// Mounted on every resource (see `routes::Router`), after routing: actix
/// must own the request alone while it routes, and the timeout response needs
/// a handle on it.
pub async fn deadline(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map_or(std::time::Duration::from_secs(30), |s| s.request_timeout);
    within(timeout, req, next).await
}

/// The deadline of a request that may take long: [`LONG_REQUEST_TIMEOUT`],
/// or the request timeout when that is longer. A 50 MiB CSV import is a few
/// hundred thousand leads, minutes of routing on PostgreSQL.
pub async fn long_deadline(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map_or(LONG_REQUEST_TIMEOUT, |s| {
            s.request_timeout.max(LONG_REQUEST_TIMEOUT)
        });
    within(timeout, req, next).await
}

/// How long a long-running request (`POST /leads/import`) may run.
pub const LONG_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

async fn within(
    timeout: std::time::Duration,
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let http_req = req.request().clone();
    match tokio::time::timeout(timeout, next.call(req)).await {
        Ok(res) => res.map(ServiceResponse::map_into_left_body),
        Err(_) => {
            let error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "REQUEST_TIMEOUT",
                format!("The request did not finish within {} s", timeout.as_secs()),
            );
            let response = actix_web::ResponseError::error_response(&error);
            Ok(ServiceResponse::new(http_req, response).map_into_right_body())
        }
    }
}

async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("No route for {} {}", req.method(), req.path()),
    ))
}

/// Gives actix's own error responses (405, and any plain-text error of a
/// built-in extractor) the JSON error envelope.
fn envelope_for_bare_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "METHOD_NOT_ALLOWED",
            format!(
                "{} is not allowed on {}",
                res.request().method(),
                res.request().path()
            ),
        ),
        StatusCode::NOT_FOUND => ApiError::not_found("Resource"),
        StatusCode::PAYLOAD_TOO_LARGE => crate::extract::payload_too_large(),
        s if s.is_client_error() => ApiError::new(
            s,
            "BAD_REQUEST",
            s.canonical_reason().unwrap_or("Bad request"),
        ),
        s => ApiError::new(
            s,
            "INTERNAL_ERROR",
            s.canonical_reason().unwrap_or("Server error"),
        ),
    };
    let (req, _) = res.into_parts();
    let response: HttpResponse = actix_web::ResponseError::error_response(&error);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
