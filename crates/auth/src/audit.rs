//! The security events of signing in, as every adapter appends them: the
//! shape of each lives here once, the adapters only store them.

use chrono::{DateTime, Utc};
use events::{NewEvent, Subject, types};

use crate::{ApiKeyId, UserId};

/// `api_key.used_from_new_address`: `key` authenticated a request from an
/// `address` it had not been used from.
pub fn api_key_used_from_new_address(
    key: &ApiKeyId,
    address: &str,
    now: DateTime<Utc>,
) -> NewEvent {
    NewEvent::new(
        types::API_KEY_USED_FROM_NEW_ADDRESS,
        Subject::of("api_key", key.to_string()),
        now,
    )
    .with("address", address)
}

fn about(kind: &'static str, user: &UserId, now: DateTime<Utc>) -> NewEvent {
    NewEvent::new(kind, Subject::of("user", user.to_string()), now)
}

/// `auth.login_succeeded`: `user` signed in with its password.
pub fn login_succeeded(user: &UserId, now: DateTime<Utc>) -> NewEvent {
    about(types::AUTH_LOGIN_SUCCEEDED, user, now).with("method", "password")
}

/// `auth.login_failed`: a sign-in with `user`'s e-mail was refused.
pub fn login_failed(user: &UserId, reason: &str, now: DateTime<Utc>) -> NewEvent {
    about(types::AUTH_LOGIN_FAILED, user, now).with("reason", reason)
}

/// `auth.login_throttled`: the sign-in throttle refused attempts on
/// `user`'s account, from `address` when known.
pub fn login_throttled(user: &UserId, address: Option<&str>, now: DateTime<Utc>) -> NewEvent {
    about(types::AUTH_LOGIN_THROTTLED, user, now).with("address", address)
}
