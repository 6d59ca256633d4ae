//! What can go wrong with an authentication or user-management use case.

use tenancy::{StorageError, ValidationErrors};

use crate::TokenError;

/// The errors of every auth use case and repository method.
///
/// Messages are safe to show to the client: none of them says whether an
/// e-mail address is registered, and none carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown e-mail or wrong password (401). One message for both, so that
    /// a login attempt reveals nothing about which addresses exist.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The e-mail belongs to users of several organizations and no
    /// organization was named (400). Only returned once the password matched
    /// one of them, so it reveals nothing to someone without the password.
    #[error("this email exists in several organizations; pass orgId")]
    AmbiguousEmail,
    /// The request carries no credential at all (401).
    #[error("authentication required")]
    Unauthenticated,
    /// The credential is malformed, expired, revoked, signed with another key
    /// or names a user or key that no longer exists (401).
    #[error("invalid or expired token")]
    InvalidToken,
    /// A refresh token that was already exchanged was presented again: it
    /// leaked, so its whole family has been revoked (401). The user signs in
    /// again.
    #[error("refresh token reused; all sessions of this login were revoked")]
    TokenReused,
    /// The actor is authenticated but may not do this (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such user, API key or session in the actor's organization (404).
    #[error("not found")]
    NotFound,
    /// The organization named by the request does not exist (404).
    #[error("organization not found")]
    OrganizationNotFound,
    /// The organization named by a registration is deactivated (400).
    #[error("organization is inactive")]
    OrganizationInactive,
    /// The user, or its organization, is deactivated (401). Returned only to
    /// a caller that proved the credential (right password, valid token).
    #[error("this account or its organization is deactivated")]
    UserInactive,
    /// The API key was rotated by another request meanwhile (409): only the
    /// other rotation's secret works; read the key again to rotate it.
    #[error("this API key was just rotated by another request")]
    KeyRotatedConcurrently,
    /// Another user of the organization has this username (409).
    #[error("username already taken in this organization")]
    UsernameTaken,
    /// Another user of the organization has this e-mail address (409).
    #[error("email already registered in this organization")]
    EmailTaken,
    /// The input breaks a field rule (400).
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// Hashing, signing or the random generator failed (500). Never expected;
    /// the API logs the cause and answers an opaque 500.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The storage failed (500, or 503 when unreachable).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl AuthError {
    /// A single-field validation error.
    pub fn invalid(field: &str, message: &str) -> Self {
        Self::Invalid(ValidationErrors::single(field, message))
    }
}

impl From<ValidationErrors> for AuthError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Invalid(errors)
    }
}

impl From<TokenError> for AuthError {
    /// Every reason a token is refused is the same 401 to the client; the
    /// reason itself is for logs.
    fn from(_: TokenError) -> Self {
        Self::InvalidToken
    }
}

/// A cryptographic primitive failed (hashing, signing, randomness). Carries
/// the primitive's own message, for logs only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cryptographic failure: {0}")]
pub struct CryptoError(pub String);
