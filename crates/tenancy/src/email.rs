//! E-mail addresses, validated once.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The longest address SMTP can deliver to (RFC 5321).
const MAX_EMAIL_LEN: usize = 254;

/// A syntactically valid e-mail address, trimmed, with its domain lower-cased
/// (the local part is case-sensitive by the RFC, so it is kept as given).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a string is not an [`Email`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmail {
    /// Longer than 254 characters.
    #[error("must be at most 254 characters")]
    TooLong,
    /// Not of the form `local@domain`.
    #[error("must be a valid e-mail address")]
    Malformed,
}

impl Email {
    /// Parses an address.
    ///
    /// # Errors
    /// [`InvalidEmail`] saying why.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let raw = raw.trim();
        if raw.len() > MAX_EMAIL_LEN {
            return Err(InvalidEmail::TooLong);
        }
        // Display names ("Ann <ann@x.io>") are valid RFC 5322 but not an address.
        let options = email_address::Options::default().without_display_text();
        let parsed = email_address::EmailAddress::parse_with_options(raw, options)
            .map_err(|_| InvalidEmail::Malformed)?;
        let domain = parsed.domain();
        // A bare host ("a@localhost") is RFC-valid but never what a tenant means.
        if !domain.contains('.') || domain.starts_with('[') {
            return Err(InvalidEmail::Malformed);
        }
        Ok(Self(format!(
            "{}@{}",
            parsed.local_part(),
            domain.to_ascii_lowercase()
        )))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`, lower-case.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl FromStr for Email {
    type Err = InvalidEmail;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidEmail;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_are_trimmed_and_their_domain_lowercased() {
        let e = Email::parse("  Ann.Lee@ACME.com ").unwrap();
        assert_eq!(e.as_str(), "Ann.Lee@acme.com");
        assert_eq!(e.domain(), "acme.com");
    }

    #[test]
    fn invalid_addresses_are_rejected() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@acme.com",
            "ann@localhost",
            "Ann <ann@acme.com>",
            "a b@acme.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@acme.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(InvalidEmail::TooLong));
    }
}
