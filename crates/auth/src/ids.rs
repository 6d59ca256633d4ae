//! Ids of users, API keys and refresh sessions.

use std::fmt;

use serde::{Deserialize, Serialize};
use tenancy::new_id;

/// The longest id any table accepts (as for [`tenancy::OrgId`]).
const MAX_ID_LEN: usize = 64;

fn is_valid_id(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= MAX_ID_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an id received from outside: 1 to 64 ASCII letters,
            /// digits, `_` or `-`. Returns `None` when it cannot be an id at
            /// all; callers answer "not found" rather than "invalid", so an
            /// id's format reveals nothing.
            pub fn parse(raw: &str) -> Option<Self> {
                is_valid_id(raw).then(|| Self(raw.to_owned()))
            }

            #[doc = concat!("A fresh, unique id: `", $prefix, "_` and a UUIDv7 in 32 hex digits.")]
            pub fn generate() -> Self {
                Self(new_id($prefix))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value).ok_or_else(|| format!("`{value}` is not {}", $what))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// The id of a user (`usr_…`).
    UserId,
    "usr",
    "a user id"
);
id_newtype!(
    /// The id of an API key (`key_…`). Not the key's visible prefix.
    ApiKeyId,
    "key",
    "an API key id"
);
id_newtype!(
    /// The id of one refresh-token record (`ses_…`).
    SessionId,
    "ses",
    "a session id"
);
id_newtype!(
    /// The id shared by every refresh token descended from one login
    /// (`fam_…`). Reuse of a rotated token revokes the whole family.
    SessionFamilyId,
    "fam",
    "a session family id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_carry_their_prefix_and_parse_back() {
        let user = UserId::generate();
        assert!(user.as_str().starts_with("usr_"));
        assert_eq!(UserId::parse(user.as_str()), Some(user.clone()));
        assert!(ApiKeyId::generate().as_str().starts_with("key_"));
        assert!(SessionId::generate().as_str().starts_with("ses_"));
        assert!(SessionFamilyId::generate().as_str().starts_with("fam_"));
        assert_ne!(UserId::generate(), user);
    }

    #[test]
    fn ids_with_foreign_characters_or_wrong_length_are_rejected() {
        for bad in ["", "usr 1", "usr/1", "ö", &"x".repeat(65)] {
            assert_eq!(UserId::parse(bad), None, "{bad:?}");
        }
        assert!(UserId::parse("usr_admin_001").is_some());
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = UserId::parse("usr_1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"usr_1\"");
        assert!(serde_json::from_str::<UserId>("\"usr 1\"").is_err());
    }
}
