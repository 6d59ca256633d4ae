//! Roles, ordered by privilege.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// What a principal may do. Variants are declared from least to most
/// privileged, so `Ord` compares privilege: `Role::Agent < Role::Admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works its own leads; reads its organization's info.
    Agent,
    /// Reviews routing proposals; reads its organization's info.
    Manager,
    /// Manages its organization, its users and its API keys.
    Admin,
    /// Operates the platform: every organization. Lives in the default organization.
    SuperAdmin,
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Role; 4] = [Role::Agent, Role::Manager, Role::Admin, Role::SuperAdmin];

    /// The wire name (`super_admin`, `admin`, `manager`, `agent`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Manager => "manager",
            Role::Admin => "admin",
            Role::SuperAdmin => "super_admin",
        }
    }

    /// Whether a holder of `self` may hand out `other` (to a user or a key).
    /// Nobody grants a role above their own.
    pub fn may_grant(self, other: Role) -> bool {
        other <= self
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of super_admin, admin, manager, agent")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or(UnknownRole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("root".parse::<Role>(), Err(UnknownRole));
    }

    #[test]
    fn nobody_grants_a_role_above_their_own() {
        assert!(Role::Admin.may_grant(Role::Admin));
        assert!(Role::Admin.may_grant(Role::Agent));
        assert!(!Role::Admin.may_grant(Role::SuperAdmin));
        assert!(!Role::Manager.may_grant(Role::Admin));
        assert!(Role::SuperAdmin.may_grant(Role::SuperAdmin));
    }
}
