//! Organization ids and the generator shared by every id newtype.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id of the organization the first migration creates (`default-org`).
///
/// It hosts the platform's super admins and can be neither deactivated nor
/// deleted.
pub const DEFAULT_ORG_ID: &str = "org_default_001";

/// The longest id any table accepts.
const MAX_ID_LEN: usize = 64;

/// Generates a new id: `prefix` + `_` + a UUIDv7 in 32 hex digits.
///
/// UUIDv7 starts with a millisecond timestamp, so ids sort roughly by creation
/// time and B-tree inserts stay at the right edge of the index.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// The id of an organization (tenant).
///
/// Ids are opaque strings of 1 to 64 ASCII letters, digits, `_` or `-`
/// (`org_default_001`, or `org_` and 32 hex digits for new organizations).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    /// Parses an id received from outside. Returns `None` when it cannot be
    /// an id at all; callers answer "not found" rather than "invalid", so an id's
    /// format reveals nothing.
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = !raw.is_empty()
            && raw.len() <= MAX_ID_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        valid.then(|| Self(raw.to_owned()))
    }

    /// A fresh, unique organization id.
    pub fn generate() -> Self {
        Self(new_id("org"))
    }

    /// The default organization's id.
    pub fn default_org() -> Self {
        Self(DEFAULT_ORG_ID.to_owned())
    }

    /// Whether this is the default organization.
    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT_ORG_ID
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgId {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| format!("`{value}` is not an organization id"))
    }
}

impl From<OrgId> for String {
    fn from(id: OrgId) -> Self {
        id.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Defines a string id newtype with a type prefix (`agt_...`), parsed like
/// [`OrgId`] (1-64 ASCII letters, digits, `_`, `-`).
#[macro_export]
macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses an id received from outside; `None` when it cannot be one
            /// (callers answer "not found").
            pub fn parse(raw: &str) -> Option<Self> {
                $crate::OrgId::parse(raw).map(|id| Self(String::from(id)))
            }

            /// A fresh, unique id.
            pub fn generate() -> Self {
                Self($crate::new_id($prefix))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

prefixed_id!(
    /// The id of an agent (`agt_...`).
    AgentId,
    "agt"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_are_unique() {
        let a = OrgId::generate();
        let b = OrgId::generate();
        assert_ne!(a, b);
        assert_eq!(OrgId::parse(a.as_str()), Some(a.clone()));
        assert!(a.as_str().starts_with("org_"));
        assert_eq!(a.as_str().len(), 36);
    }

    #[test]
    fn ids_with_foreign_characters_or_wrong_length_are_rejected() {
        for bad in ["", "org 1", "org/1", "../etc", "ö", &"x".repeat(65)] {
            assert_eq!(OrgId::parse(bad), None, "{bad:?}");
        }
        assert!(OrgId::parse(&"x".repeat(64)).is_some());
    }

    #[test]
    fn the_default_org_knows_itself() {
        assert!(OrgId::default_org().is_default());
        assert!(!OrgId::generate().is_default());
    }
}
