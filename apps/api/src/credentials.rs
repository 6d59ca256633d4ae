//! The tenant-scoping middleware: turns the request's credential into an
//! [`Actor`] in the request extensions, where the
//! [`crate::extract::Authenticated`] extractor finds it.
//!
//! - `Authorization: Bearer <jwt>`: verified strictly, then the user is
//!   loaded: a deactivated or deleted user, or an organization that is
//!   deactivated or deleted, is refused on the very next request.
//! - `x-api-key: <key>`: looked up by prefix, hash compared in constant time;
//!   revoked keys and keys of inactive organizations are refused.
//!   `dev_key_123` is a super admin of the default organization in development.
//! - the console's `lr_access` cookie (see [`crate::admin`]): the same JWT,
//!   used only when neither header is sent; state-changing requests must
//!   echo the CSRF cookie in `x-csrf-token` and come from this site.
//! - `X-Org-Id: <org>`: a super admin acts inside that organization (the admin
//!   UI's org switcher); for anyone else naming another organization is a 403.
//!
//! Requests without credentials pass through untouched (public routes such as
//! `/health` need none); the extractor refuses them everywhere else.

use actix_web::{
    Error, HttpMessage, ResponseError,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    web,
};
use auth::AuthError;
use tenancy::{Actor, OrgId};

use crate::{admin, error::ApiError, startup::AppState};

/// What the middleware concluded about the request's credentials.
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    /// Valid credentials.
    Authenticated(Actor),
    /// Credentials were sent but are not valid (401).
    Rejected {
        /// Error code for the envelope.
        code: &'static str,
        /// Safe-to-show reason.
        message: String,
    },
}

/// The credential a request carries.
enum Credential {
    Bearer(String),
    ApiKey(String),
    /// The console's access cookie.
    Cookie(String),
    Malformed,
}

fn credential(req: &ServiceRequest) -> Option<Credential> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty());
        return Some(token.map_or(Credential::Malformed, |t| Credential::Bearer(t.to_owned())));
    }
    if let Some(value) = req.headers().get("x-api-key") {
        return Some(
            value
                .to_str()
                .ok()
                .filter(|v| !v.is_empty())
                .map_or(Credential::Malformed, |v| Credential::ApiKey(v.to_owned())),
        );
    }
    req.cookie(admin::ACCESS_COOKIE)
        .filter(|c| !c.value().is_empty())
        .map(|c| Credential::Cookie(c.value().to_owned()))
}

/// A cookie is sent by the browser on its own: a state-changing request
/// riding on it must prove it came from our page.
fn check_cookie_request(req: &ServiceRequest) -> Result<(), ApiError> {
    let http = req.request();
    admin::require_same_site(http)?;
    if admin::is_state_changing(req.method()) {
        admin::require_csrf(http)?;
    }
    Ok(())
}

/// Resolves credentials, if any, into an [`AuthOutcome`]. Storage failures
/// and a refused `X-Org-Id` answer at once.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    if let Some(credential) = credential(&req) {
        if matches!(credential, Credential::Cookie(_))
            && let Err(error) = check_cookie_request(&req)
        {
            let response = error.error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
        let address = crate::proxy::client_addr(req.request());
        match resolve(&state, credential, org_header(&req), address).await {
            Ok(outcome) => {
                if let AuthOutcome::Authenticated(actor) = &outcome {
                    tracing::Span::current().record("org_id", actor.org_id().as_str());
                }
                req.extensions_mut().insert(outcome);
            }
            Err(error) => {
                let response = error.error_response();
                return Ok(req.into_response(response).map_into_right_body());
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The raw `X-Org-Id` header, if sent.
fn org_header(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get("x-org-id")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
}

async fn resolve(
    state: &AppState,
    credential: Credential,
    org_header: Option<String>,
    address: Option<std::net::IpAddr>,
) -> Result<AuthOutcome, ApiError> {
    let now = tenancy::now();
    let result = match credential {
        Credential::Bearer(token) | Credential::Cookie(token) => {
            state.authenticator.authenticate_bearer(&token, now).await
        }
        Credential::ApiKey(key) => {
            state
                .authenticator
                .authenticate_api_key_from(&key, state.dev_mode, address, now)
                .await
        }
        Credential::Malformed => Err(AuthError::InvalidToken),
    };
    let actor = match result {
        Ok(actor) => actor,
        Err(e @ (AuthError::Storage(_) | AuthError::Crypto(_))) => return Err(e.into()),
        Err(e) => {
            let api = ApiError::from(e);
            let envelope = api.envelope();
            return Ok(AuthOutcome::Rejected {
                code: envelope.error.code,
                message: envelope.error.message,
            });
        }
    };
    let Some(raw) = org_header else {
        return Ok(AuthOutcome::Authenticated(actor));
    };
    let target = OrgId::parse(raw.trim()).ok_or_else(|| ApiError::not_found("Organization"))?;
    if target == *actor.org_id() {
        return Ok(AuthOutcome::Authenticated(actor));
    }
    let switched = state
        .authenticator
        .switch_org(&actor, target)
        .await
        .map_err(|e| match e {
            AuthError::NotFound => ApiError::not_found("Organization"),
            other => other.into(),
        })?;
    Ok(AuthOutcome::Authenticated(switched))
}
