//! The tenant-scoping middleware: turns the request's credentials into an
//! [`Actor`] in the request extensions, where [`crate::extract::Authenticated`]
//! finds it.
//!
//! Requests without credentials pass through untouched (public routes such as
//! `/health` need none); the extractor refuses them on every other route.

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use tenancy::Actor;

use crate::startup::AppState;

/// The development API key of the seed. Accepted only when `APP_ENV=development`.
pub const DEV_API_KEY: &str = "dev_key_123";

/// What the middleware concluded about the request's credentials.
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    /// Valid credentials.
    Authenticated(Actor),
    /// Credentials were sent but are not valid; the reason is safe to show.
    Rejected(&'static str),
}

/// Resolves credentials, if any, into an [`AuthOutcome`].
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let dev_mode = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.dev_mode);
    let api_key = req
        .headers()
        .get("x-api-key")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .is_some();
    let outcome = match (api_key, bearer) {
        (Some(key), _) if dev_mode && key == DEV_API_KEY => {
            Some(AuthOutcome::Authenticated(Actor::dev_key()))
        }
        (Some(_), _) => Some(AuthOutcome::Rejected("Invalid API key")),
        (None, true) => Some(AuthOutcome::Rejected("Invalid or expired access token")),
        (None, false) => None,
    };
    if let Some(outcome) = outcome {
        req.extensions_mut().insert(outcome);
    }
    next.call(req).await
}
