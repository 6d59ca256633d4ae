//! Authentication and authorization of Lead Routing.
//!
//! This crate owns who the users and API keys of an organization are
//! ([`User`], [`ApiKey`]), how their secrets are kept (argon2id for passwords,
//! SHA-256 for high-entropy opaque secrets, HS256 JWTs for access tokens),
//! who may do what to them ([`policy`]), the ports their storage implements
//! ([`UserRepository`], [`SessionRepository`], [`ApiKeyRepository`]) and the
//! use cases the API calls ([`AuthService`], [`ApiKeyService`],
//! [`Authenticator`]).
//!
//! Like every domain crate it knows nothing of HTTP or SQL: the API turns a
//! request's credential into a [`tenancy::Actor`] with [`Authenticator`], and
//! maps [`AuthError`] to a status in one place.
//!
//! ```
//! use auth::{Password, hash_password, verify_password};
//!
//! let password = Password::parse("correct horse battery").expect("long enough");
//! let hash = hash_password(&password).expect("argon2id");
//! assert!(verify_password("correct horse battery", hash.as_str()));
//! assert!(!verify_password("wrong", hash.as_str()));
//! ```
//!
//! # Secrets at a glance
//!
//! | secret | given to the client | stored | compared |
//! |---|---|---|---|
//! | password | typed by the user | argon2id PHC string | argon2 verify |
//! | access token | JWT, 1 hour | nothing (its sign-in's refresh sessions are checked) | HMAC-SHA256 signature |
//! | refresh token | 256 random bits, once | SHA-256 hex | lookup by hash |
//! | API key `lr_<prefix>_<secret>` | once, at creation or rotation | prefix + SHA-256 hex | constant time |

mod api_key_service;
pub mod audit;
mod authenticator;
mod error;
mod ids;
mod model;
mod password;
pub mod policy;
mod repository;
mod secret;
mod service;
mod token;
mod values;

#[cfg(test)]
mod testing;

pub use api_key_service::{ApiKeyService, CreatedApiKey};
pub use authenticator::{API_KEY_TOUCH_INTERVAL, Authenticator, DEV_API_KEY, switch_org};
pub use error::{AuthError, CryptoError};
pub use ids::{ApiKeyId, SessionFamilyId, SessionId, UserId};
pub use model::{
    ApiKey, CreateUser, LoginResult, NewApiKey, REFRESH_TOKEN_TTL_DAYS, RegisterUser, Session,
    UpdateUser, User, UserCredentials, UserFilter, UserPatch,
};
pub use password::{
    Argon2Hasher, PasswordHash, PasswordHasher, hash_password, verify_against_dummy,
    verify_password,
};
pub use repository::{ApiKeyRepository, KeyOrg, SessionRepository, UserRepository};
pub use secret::{
    API_KEY_PREFIX_LEN, ApiKeySecret, GeneratedApiKey, RefreshToken, csrf_token, hash_secret,
    hashes_match, parse_api_key,
};
pub use service::AuthService;
pub use token::{
    ACCESS_TOKEN_TTL_SECS, AccessToken, Claims, JwtSecret, LEEWAY_SECS, MIN_JWT_SECRET_LEN,
    SecretError, TokenError, TokenKeys,
};
pub use values::{ApiKeyName, Password, Username};
