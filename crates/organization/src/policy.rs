//! Who may do what to an organization.
//!
//! | action | super_admin | admin | manager | agent |
//! |---|---|---|---|---|
//! | list | all | own | own | own |
//! | read, stats | any | own | own | own |
//! | create | yes | no | no | no |
//! | update name, contact, settings | any | own | no | no |
//! | update tier, isActive | any | no | no | no |
//! | deactivate, activate, delete | any but default | no | no | no |
//!
//! "own" is the organization of the actor's credential. Another
//! organization is [`OrganizationError::NotFound`] to everyone but a super
//! admin, so its existence is not revealed; an action on one's own
//! organization that the role lacks is [`OrganizationError::Forbidden`].

use tenancy::{Actor, OrgId, Role};

use crate::{OrganizationError, OrganizationPatch};

/// An action on an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgAction {
    /// Read it or its stats.
    Read,
    /// Create a new organization.
    Create,
    /// Change fields of it.
    Update,
    /// Deactivate, activate or delete it.
    Lifecycle,
}

/// Whether `actor` may perform `action` on `target`.
///
/// # Errors
/// [`OrganizationError::NotFound`] for someone else's organization (unless
/// super admin), [`OrganizationError::Forbidden`] for an action the role lacks.
pub fn authorize(
    actor: &Actor,
    action: OrgAction,
    target: Option<&OrgId>,
) -> Result<(), OrganizationError> {
    if actor.is_super_admin() {
        return Ok(());
    }
    if let Some(target) = target
        && target != actor.home_org_id()
    {
        return Err(OrganizationError::NotFound);
    }
    match action {
        OrgAction::Read => Ok(()),
        OrgAction::Update if actor.role() == Role::Admin => Ok(()),
        OrgAction::Update => Err(OrganizationError::Forbidden(
            "only an admin may change the organization",
        )),
        OrgAction::Create => Err(OrganizationError::Forbidden(
            "only a super admin may create organizations",
        )),
        OrgAction::Lifecycle => Err(OrganizationError::Forbidden(
            "only a super admin may deactivate, activate or delete organizations",
        )),
    }
}

/// Whether `actor` may apply this patch to `target`.
///
/// # Errors
/// As [`authorize`] for [`OrgAction::Update`]; also
/// [`OrganizationError::Forbidden`] when a non-super-admin changes the tier or
/// `isActive`.
pub fn authorize_patch(
    actor: &Actor,
    target: &OrgId,
    patch: &OrganizationPatch,
) -> Result<(), OrganizationError> {
    authorize(actor, OrgAction::Update, Some(target))?;
    if patch.touches_platform_fields() && !actor.is_super_admin() {
        return Err(OrganizationError::Forbidden(
            "only a super admin may change tier or isActive",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use tenancy::Principal;

    use super::*;

    fn actor(role: Role, org: &OrgId) -> Actor {
        Actor::new(org.clone(), Principal::User("u".into()), role)
    }

    #[test]
    fn super_admins_may_do_everything_everywhere() {
        let other = OrgId::generate();
        let sa = actor(Role::SuperAdmin, &OrgId::default_org());
        for action in [
            OrgAction::Read,
            OrgAction::Create,
            OrgAction::Update,
            OrgAction::Lifecycle,
        ] {
            assert!(authorize(&sa, action, Some(&other)).is_ok());
        }
        assert!(authorize_patch(&sa, &other, &OrganizationPatch::active(false)).is_ok());
    }

    #[test]
    fn everyone_else_reads_only_their_own_and_others_are_not_found() {
        let own = OrgId::generate();
        let other = OrgId::generate();
        for role in [Role::Admin, Role::Manager, Role::Agent] {
            let a = actor(role, &own);
            assert!(authorize(&a, OrgAction::Read, Some(&own)).is_ok());
            for action in [OrgAction::Read, OrgAction::Update, OrgAction::Lifecycle] {
                assert!(
                    matches!(
                        authorize(&a, action, Some(&other)),
                        Err(OrganizationError::NotFound)
                    ),
                    "{role} {action:?}"
                );
            }
            assert!(matches!(
                authorize(&a, OrgAction::Create, None),
                Err(OrganizationError::Forbidden(_))
            ));
            assert!(matches!(
                authorize(&a, OrgAction::Lifecycle, Some(&own)),
                Err(OrganizationError::Forbidden(_))
            ));
        }
    }

    #[test]
    fn only_admins_update_their_own_and_never_tier_or_status() {
        let own = OrgId::generate();
        let admin = actor(Role::Admin, &own);
        assert!(authorize_patch(&admin, &own, &OrganizationPatch::default()).is_ok());
        assert!(matches!(
            authorize_patch(&admin, &own, &OrganizationPatch::active(true)),
            Err(OrganizationError::Forbidden(_))
        ));
        let tier = OrganizationPatch {
            tier: Some(crate::Tier::Enterprise),
            ..Default::default()
        };
        assert!(matches!(
            authorize_patch(&admin, &own, &tier),
            Err(OrganizationError::Forbidden(_))
        ));
        for role in [Role::Manager, Role::Agent] {
            assert!(matches!(
                authorize_patch(&actor(role, &own), &own, &OrganizationPatch::default()),
                Err(OrganizationError::Forbidden(_))
            ));
        }
    }
}
