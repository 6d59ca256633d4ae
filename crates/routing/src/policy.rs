//! Who may do what with agents, routing configuration, leads and proposals.
//!
//! | action | super_admin | admin | manager | agent |
//! |---|---|---|---|---|
//! | read and manage agents, pools, rules; simulate | yes | yes | yes | — |
//! | post a lead | yes | yes | yes | yes (e.g. a form backend's key) |
//! | list and read leads | all | all | all | only its own |
//! | change a lead's contact data or status | all | all | all | only its own |
//! | list, read, approve, reject proposals | yes | yes | yes | — |
//! | read the dashboard | yes | yes | yes | yes |
//!
//! Everything acts in `actor.org_id()`; another organization's objects are not
//! found. An agent's "own" leads are those assigned to the agent record whose
//! `userId` is the signed-in user.

use tenancy::{Actor, Role};

use crate::RoutingError;

/// Managers and above configure routing and review proposals.
///
/// # Errors
/// [`RoutingError::Forbidden`] for agents.
pub fn require_manager(actor: &Actor) -> Result<(), RoutingError> {
    if actor.has_at_least(Role::Manager) {
        Ok(())
    } else {
        Err(RoutingError::Forbidden(
            "only managers and admins may do this",
        ))
    }
}

/// Whether the actor sees every lead of the organization (else only its own).
pub fn sees_all_leads(actor: &Actor) -> bool {
    actor.has_at_least(Role::Manager)
}

#[cfg(test)]
mod tests {
    use tenancy::{OrgId, Principal};

    use super::*;

    #[test]
    fn agents_neither_configure_nor_review() {
        let a = |role| Actor::new(OrgId::default_org(), Principal::User("u".into()), role);
        assert!(require_manager(&a(Role::Agent)).is_err());
        for role in [Role::Manager, Role::Admin, Role::SuperAdmin] {
            assert!(require_manager(&a(role)).is_ok());
            assert!(sees_all_leads(&a(role)));
        }
        assert!(!sees_all_leads(&a(Role::Agent)));
    }
}
