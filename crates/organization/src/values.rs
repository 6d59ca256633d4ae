//! Validated field types of an organization.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

macro_rules! string_newtype_impls {
    ($name:ident) => {
        impl $name {
            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

/// The unique, URL-safe name of an organization (`acme-corp`): 3 to 63
/// lower-case letters, digits and hyphens, starting and ending with a letter
/// or digit (the shape of a DNS label, so it can become a sub-domain).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrgName(String);
string_newtype_impls!(OrgName);

impl OrgName {
    /// Parses a name.
    ///
    /// # Errors
    /// A message saying which rule the name breaks.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if !(3..=63).contains(&raw.len()) {
            return Err("must be 3 to 63 characters");
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("must contain only lower-case letters, digits and hyphens");
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return Err("must start and end with a letter or digit");
        }
        Ok(Self(raw.to_owned()))
    }
}

/// A human-readable organization name: 1 to 200 characters, trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);
string_newtype_impls!(DisplayName);

impl DisplayName {
    /// Parses a display name.
    ///
    /// # Errors
    /// A message when it is blank or longer than 200 characters.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be blank");
        }
        if trimmed.chars().count() > 200 {
            return Err("must be at most 200 characters");
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(trimmed.to_owned()))
    }
}

/// A telephone number as the tenant writes it: at most 32 characters of
/// digits, spaces and `+ - ( ) .`, with at least one digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);
string_newtype_impls!(Phone);

impl Phone {
    /// Parses a phone number.
    ///
    /// # Errors
    /// A message saying which rule the number breaks.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > 32 {
            return Err("must be at most 32 characters");
        }
        if !trimmed.chars().any(|c| c.is_ascii_digit()) {
            return Err("must contain at least one digit");
        }
        if !trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err("may contain only digits, spaces and + - ( ) .");
        }
        Ok(Self(trimmed.to_owned()))
    }
}

/// An identifier in another system (a Monday.com workspace id): 1 to 128
/// printable characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalRef(String);
string_newtype_impls!(ExternalRef);

impl ExternalRef {
    /// Parses an external reference.
    ///
    /// # Errors
    /// A message when it is blank, too long or holds control characters.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be blank");
        }
        if trimmed.chars().count() > 128 {
            return Err("must be at most 128 characters");
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(trimmed.to_owned()))
    }
}

/// The commercial tier of an organization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// The free tier.
    Free,
    /// The standard tier (the default).
    #[default]
    Standard,
    /// The enterprise tier.
    Enterprise,
}

impl Tier {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Standard => "standard",
            Tier::Enterprise => "enterprise",
        }
    }
}

impl FromStr for Tier {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "free" => Ok(Tier::Free),
            "standard" => Ok(Tier::Standard),
            "enterprise" => Ok(Tier::Enterprise),
            _ => Err("must be one of free, standard, enterprise"),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_names_are_dns_label_slugs() {
        for good in ["abc", "acme-corp", "a1-b2", &"a".repeat(63)] {
            assert!(OrgName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Acme",
            "acme_corp",
            "acme corp",
            "-acme",
            "acme-",
            "ünï",
            &"a".repeat(64),
        ] {
            assert!(OrgName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  ACME  ").unwrap().as_str(), "ACME");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"é".repeat(200)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(201)).is_err());
    }

    #[test]
    fn phones_allow_usual_punctuation_only() {
        assert!(Phone::parse("+1-555-0123").is_ok());
        assert!(Phone::parse("+44 (20) 7946.0958").is_ok());
        assert!(Phone::parse("call me").is_err());
        assert!(Phone::parse("---").is_err());
        assert!(Phone::parse(&"1".repeat(33)).is_err());
    }

    #[test]
    fn tiers_parse_from_their_names_only() {
        assert_eq!("enterprise".parse(), Ok(Tier::Enterprise));
        assert!("gold".parse::<Tier>().is_err());
        assert!("Free".parse::<Tier>().is_err());
    }
}
