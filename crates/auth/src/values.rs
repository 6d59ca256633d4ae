//! Validated field types of users and API keys.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A username, unique within its organization: 3 to 64 ASCII letters,
/// digits, `.`, `_` or `-`.
///
/// Usernames compare case-insensitively, so `Ann.Lee` and `ann.lee` are the
/// same user. The value is lower-cased when parsed, which lets a plain unique
/// index on `(org_id, username)` enforce that.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// Parses a username.
    ///
    /// # Errors
    /// A message saying which rule the name breaks.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if !(3..=64).contains(&raw.len()) {
            return Err("must be 3 to 64 characters");
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err("may contain only ASCII letters, digits, '.', '_' and '-'");
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    /// The username, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Username> for String {
    fn from(v: Username) -> Self {
        v.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password, as typed: 10 to 1024 characters, not only whitespace.
///
/// Kept exactly as given (no trimming: spaces are legitimate password
/// characters). It has no `Display`, and its `Debug` prints `Password(***)`,
/// so it cannot end up in a log by accident. Only *new* passwords are parsed;
/// a login compares whatever the client sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// The fewest characters a password may have.
const MIN_PASSWORD_CHARS: usize = 10;
/// The most characters a password may have (argon2 hashes any length, but an
/// unbounded input is a denial-of-service lever).
const MAX_PASSWORD_CHARS: usize = 1024;

impl Password {
    /// Parses a new password.
    ///
    /// # Errors
    /// A message saying which rule it breaks (never the password itself).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err("must be at least 10 characters");
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err("must be at most 1024 characters");
        }
        if raw.chars().all(char::is_whitespace) {
            return Err("must not be only whitespace");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The human-readable name of an API key (`zapier production`): 1 to 100
/// characters, trimmed, without control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    /// Parses a key name.
    ///
    /// # Errors
    /// A message when it is blank, longer than 100 characters or holds
    /// control characters.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be blank");
        }
        if trimmed.chars().count() > 100 {
            return Err("must be at most 100 characters");
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<ApiKeyName> for String {
    fn from(v: ApiKeyName) -> Self {
        v.0
    }
}

impl fmt::Display for ApiKeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_so_they_compare_case_insensitively() {
        assert_eq!(
            Username::parse("Ann.Lee_01-x").unwrap().as_str(),
            "ann.lee_01-x"
        );
        assert_eq!(Username::parse("ANN"), Username::parse("ann"));
    }

    #[test]
    fn usernames_outside_the_allowed_shape_are_rejected() {
        for bad in [
            "ab",
            "ann lee",
            "ann@lee",
            "ännä",
            "ann/lee",
            &"a".repeat(65),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Username::parse(&"a".repeat(64)).is_ok());
        assert!(Username::parse("a.b").is_ok());
    }

    #[test]
    fn passwords_need_10_to_1024_characters_and_something_besides_whitespace() {
        assert!(Password::parse("123456789").is_err());
        assert!(Password::parse("1234567890").is_ok());
        assert!(Password::parse(&"é".repeat(1024)).is_ok());
        assert!(Password::parse(&"é".repeat(1025)).is_err());
        assert!(Password::parse(&" ".repeat(12)).is_err());
        assert_eq!(
            Password::parse(" correct horse ").unwrap().expose(),
            " correct horse "
        );
    }

    #[test]
    fn a_password_never_debug_prints_its_secret() {
        let p = Password::parse("correct horse battery").unwrap();
        let printed = format!("{p:?}");
        assert_eq!(printed, "Password(***)");
    }

    #[test]
    fn api_key_names_are_trimmed_and_bounded() {
        assert_eq!(ApiKeyName::parse("  zapier ").unwrap().as_str(), "zapier");
        assert!(ApiKeyName::parse("  ").is_err());
        assert!(ApiKeyName::parse(&"k".repeat(100)).is_ok());
        assert!(ApiKeyName::parse(&"k".repeat(101)).is_err());
        assert!(ApiKeyName::parse("a\u{0}b").is_err());
    }
}
