//! The one place where failures become HTTP responses.
//!
//! Every error answers with the envelope
//! `{"ok": false, "error": {"code", "message", "details"}}`. A 500 logs its
//! cause chain and tells the client nothing about internals.

use std::fmt;

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use organization::OrganizationError;
use serde::Serialize;
use tenancy::{FieldError, StorageError, ValidationErrors};
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = crate::examples::error_error_envelope)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub ok: bool,
    /// What went wrong.
    pub error: ErrorBody,
}

/// The `error` member of [`ErrorEnvelope`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code (`VALIDATION_ERROR`, `NOT_FOUND`, ...).
    pub code: &'static str,
    /// A human-readable explanation.
    pub message: String,
    /// Per-field problems, for validation errors; otherwise empty.
    pub details: Vec<FieldErrorDto>,
}

/// One invalid field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorDto {
    /// The field's name as sent, dotted for nested values (`settings.maxAgents`).
    pub field: String,
    /// Why it is invalid.
    pub message: String,
}

impl From<&FieldError> for FieldErrorDto {
    fn from(e: &FieldError) -> Self {
        Self {
            field: e.field.clone(),
            message: e.message.clone(),
        }
    }
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<FieldErrorDto>,
    /// The cause, logged for server errors, never sent.
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Seconds for the `Retry-After` header.
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            source: None,
            retry_after: None,
        }
    }

    /// 400 for a malformed request (not JSON, wrong content type...).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    /// 400 listing invalid fields.
    pub fn validation(errors: &ValidationErrors) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            "The request has invalid fields",
        );
        e.details = errors.fields().iter().map(FieldErrorDto::from).collect();
        e
    }

    /// 400 for one invalid field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(&ValidationErrors::single(field, message))
    }

    /// 401: no credentials, or credentials that are not valid.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} not found"),
        )
    }

    /// 500 that logs `source` and tells the client nothing more.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "An unexpected error occurred",
        );
        e.source = Some(source.into());
        e
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body this error answers with.
    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope {
            ok: false,
            error: ErrorBody {
                code: self.code,
                message: self.message.clone(),
                details: self
                    .details
                    .iter()
                    .map(|d| FieldErrorDto {
                        field: d.field.clone(),
                        message: d.message.clone(),
                    })
                    .collect(),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            match &self.source {
                Some(source) => {
                    tracing::error!(error = %error_chain(source.as_ref()), code = self.code, "request failed")
                }
                None => {
                    tracing::error!(code = self.code, message = %self.message, "request failed")
                }
            }
        }
        let mut response = HttpResponse::build(self.status);
        let retry_after = self
            .retry_after
            .or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(5));
        if let Some(secs) = retry_after {
            response.insert_header(("Retry-After", secs.to_string()));
        }
        response.json(self.envelope())
    }
}

/// Renders an error and its sources on one line.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Unavailable(_) => {
                tracing::warn!(error = %error_chain(&err), "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    "The database is unavailable; retry later",
                )
            }
            StorageError::Contended(_) => {
                tracing::warn!(error = %error_chain(&err), "write contended");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    "A concurrent request wrote the same data; retry",
                )
            }
            StorageError::Other(_) => Self::internal(err),
        }
    }
}

impl From<OrganizationError> for ApiError {
    fn from(err: OrganizationError) -> Self {
        match err {
            OrganizationError::NotFound => Self::not_found("Organization"),
            OrganizationError::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", why),
            OrganizationError::Invalid(errors) => Self::validation(&errors),
            e @ OrganizationError::NameTaken(_) => {
                Self::conflict_on("NAME_TAKEN", "name", e.to_string())
            }
            e @ OrganizationError::DefaultOrganizationProtected => Self::new(
                StatusCode::CONFLICT,
                "DEFAULT_ORGANIZATION_PROTECTED",
                e.to_string(),
            ),
            OrganizationError::Storage(e) => e.into(),
        }
    }
}

impl From<auth::AuthError> for ApiError {
    fn from(err: auth::AuthError) -> Self {
        use auth::AuthError as E;
        let message = err.to_string();
        match err {
            E::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "INVALID_CREDENTIALS",
                "Invalid email or password",
            ),
            E::AmbiguousEmail => {
                let mut e = Self::new(
                    StatusCode::BAD_REQUEST,
                    "AMBIGUOUS_EMAIL",
                    "This email exists in several organizations; pass orgId",
                );
                e.details = vec![FieldErrorDto {
                    field: "orgId".into(),
                    message: "is required for this email".into(),
                }];
                e
            }
            E::Unauthenticated | E::InvalidToken => {
                Self::unauthorized("Invalid or expired credentials")
            }
            E::TokenReused => Self::new(
                StatusCode::UNAUTHORIZED,
                "TOKEN_REUSED",
                "This refresh token was already used; every session of this sign-in was revoked",
            ),
            E::UserInactive => Self::new(
                StatusCode::UNAUTHORIZED,
                "ACCOUNT_DISABLED",
                "This account or its organization is deactivated",
            ),
            E::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", why),
            E::NotFound => Self::not_found("Resource"),
            E::OrganizationNotFound => Self::not_found("Organization"),
            E::OrganizationInactive => Self::new(
                StatusCode::BAD_REQUEST,
                "ORGANIZATION_INACTIVE",
                "The organization is deactivated",
            ),
            E::KeyRotatedConcurrently => {
                Self::new(StatusCode::CONFLICT, "KEY_ROTATED_CONCURRENTLY", message)
            }
            E::UsernameTaken => Self::conflict_on("USERNAME_TAKEN", "username", message),
            E::EmailTaken => Self::conflict_on("EMAIL_TAKEN", "email", message),
            E::Invalid(errors) => Self::validation(&errors),
            E::Crypto(e) => Self::internal(e),
            E::Storage(e) => e.into(),
        }
    }
}

impl ApiError {
    /// 409 about one field.
    fn conflict_on(code: &'static str, field: &str, message: String) -> Self {
        let mut e = Self::new(StatusCode::CONFLICT, code, message);
        e.details = vec![FieldErrorDto {
            field: field.into(),
            message: "is already taken".into(),
        }];
        e
    }

    /// 429 telling the client when to retry.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("Too many sign-in attempts; retry in {retry_after_secs} s"),
        );
        e.retry_after = Some(retry_after_secs);
        e
    }
}

impl From<events::AuditError> for ApiError {
    fn from(err: events::AuditError) -> Self {
        use events::AuditError as E;
        let message = err.to_string();
        match err {
            E::Forbidden => Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message),
            E::Invalid(errors) => Self::validation(&errors),
            E::Storage(e) => e.into(),
        }
    }
}

impl From<routing::RoutingError> for ApiError {
    fn from(err: routing::RoutingError) -> Self {
        use routing::RoutingError as E;
        let message = err.to_string();
        match err {
            E::NotFound(what) => {
                let mut chars = what.chars();
                let what = chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                    .unwrap_or_default();
                Self::not_found(&what)
            }
            E::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", why),
            E::Invalid(errors) => Self::validation(&errors),
            E::MaxAgentsReached(_) => {
                Self::new(StatusCode::CONFLICT, "MAX_AGENTS_REACHED", message)
            }
            E::PoolNameTaken => Self::conflict_on("NAME_TAKEN", "name", message),
            E::PoolInUse | E::PoolIsDefault => {
                Self::new(StatusCode::CONFLICT, "POOL_IN_USE", message)
            }
            E::AlreadyDecided(_) => Self::new(StatusCode::CONFLICT, "ALREADY_DECIDED", message),
            E::AgentInactive => Self::new(StatusCode::CONFLICT, "AGENT_INACTIVE", message),
            E::DuplicateExternalId => {
                Self::conflict_on("DUPLICATE_EXTERNAL_ID", "externalId", message)
            }
            E::InvalidTransition(_) => {
                Self::new(StatusCode::CONFLICT, "INVALID_STATUS_TRANSITION", message)
            }
            E::Storage(e) => e.into(),
        }
    }
}

impl From<webhook::WebhookError> for ApiError {
    fn from(err: webhook::WebhookError) -> Self {
        use webhook::WebhookError as E;
        let message = err.to_string();
        match err {
            E::Forbidden => Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message),
            E::NotFound => Self::not_found("Webhook"),
            E::Invalid(errors) => Self::validation(&errors),
            E::Storage(e) => e.into(),
        }
    }
}
