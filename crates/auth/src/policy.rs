//! Who may do what to users, API keys and registrations.
//!
//! Roles rank `super_admin` > `admin` > `manager` > `agent`. Every use case
//! acts in the actor's organization (`actor.org_id()`: its own, or for a super
//! admin the one it switched into), so another organization's users and keys
//! are simply not found.
//!
//! | action | super_admin | admin | manager | agent |
//! |---|---|---|---|---|
//! | read own profile (`GET /auth/me`) | yes | yes | yes | yes |
//! | change own password (current password required) | yes | yes | yes | yes |
//! | change own username or e-mail | yes | yes | yes | yes |
//! | change own role or active flag | no | no | no | no |
//! | list users, read a user | yes | yes | yes (read-only) | only itself |
//! | create a user | yes | yes, role ≤ admin | no | no |
//! | change a user's username, e-mail, role, active flag | yes | users ≤ admin, role ≤ admin | no | no |
//! | deactivate itself | no | no | no | no |
//! | create, list, revoke, rotate API keys | yes | yes, key role ≤ admin | no | no |
//! | register a user, organization with users | yes | own organization | no | no |
//! | register a user, organization without users | anyone, even unauthenticated: the first admin | ← | ← | ← |
//! | act in another organization (`X-Org-Id`) | yes | no | no | no |
//!
//! And always:
//! - nobody grants a role above their own, to a user or a key
//!   ([`Role::may_grant`]); nobody manages a user or key whose role is above
//!   their own;
//! - `super_admin` users and keys exist only in the default organization;
//! - the first user of an organization is its `admin`; the default
//!   organization has no self-service first user (its super admins come from
//!   `lead-routing admin create` or another super admin);
//! - registration in an inactive organization is refused
//!   ([`AuthError::OrganizationInactive`]).
//!
//! "yes" holds for any credential with the role, API keys included; "own"
//! actions (profile, password) need a signed-in user. A role the actor lacks
//! is [`AuthError::Forbidden`]; a rule about the value asked for (a
//! `super_admin` outside the default organization, a first user who is not
//! an admin) is [`AuthError::Invalid`].

use organization::Organization;
use tenancy::{Actor, OrgId, Principal, Role};

use crate::{ApiKey, AuthError, UpdateUser, User, UserId};

/// The signed-in user behind `actor`, if its credential is a user's.
pub fn acting_user(actor: &Actor) -> Option<UserId> {
    match actor.principal() {
        Principal::User(id) => UserId::parse(id),
        Principal::ApiKey(_) | Principal::DevKey | Principal::Operator(_) | Principal::System => {
            None
        }
    }
}

fn is_self(actor: &Actor, target: &UserId) -> bool {
    acting_user(actor).is_some_and(|me| me == *target)
}

fn require_admin(actor: &Actor, message: &'static str) -> Result<(), AuthError> {
    if actor.has_at_least(Role::Admin) {
        Ok(())
    } else {
        Err(AuthError::Forbidden(message))
    }
}

/// Whether `role` may exist in `org`: `super_admin` only in the default
/// organization.
///
/// # Errors
/// [`AuthError::Invalid`] on field `role`.
pub fn check_role_fits_org(role: Role, org: &OrgId) -> Result<(), AuthError> {
    if role == Role::SuperAdmin && !org.is_default() {
        return Err(AuthError::invalid(
            "role",
            "super_admin can only exist in the default organization",
        ));
    }
    Ok(())
}

fn check_grant(actor: &Actor, role: Role) -> Result<(), AuthError> {
    if !actor.role().may_grant(role) {
        return Err(AuthError::Forbidden(
            "you cannot grant a role above your own",
        ));
    }
    check_role_fits_org(role, actor.org_id())
}

/// Whether `actor` may list the users of its organization.
///
/// # Errors
/// [`AuthError::Forbidden`] for agents.
pub fn authorize_list_users(actor: &Actor) -> Result<(), AuthError> {
    if actor.has_at_least(Role::Manager) {
        Ok(())
    } else {
        Err(AuthError::Forbidden(
            "only managers and admins may list users",
        ))
    }
}

/// Whether `actor` may read the user `target` of its organization.
///
/// # Errors
/// [`AuthError::Forbidden`] for an agent reading someone else.
pub fn authorize_read_user(actor: &Actor, target: &UserId) -> Result<(), AuthError> {
    if is_self(actor, target) {
        return Ok(());
    }
    authorize_list_users(actor)
}

/// The signed-in user itself, for its own profile and password.
///
/// # Errors
/// [`AuthError::Forbidden`] when the credential is an API key or the
/// development key.
pub fn authorize_own_account(actor: &Actor) -> Result<UserId, AuthError> {
    acting_user(actor).ok_or(AuthError::Forbidden(
        "only a signed-in user has an account; this credential is an API key",
    ))
}

/// Whether `actor` may create a user with `role` in its organization.
///
/// # Errors
/// [`AuthError::Forbidden`] below admin or for a role above the actor's;
/// [`AuthError::Invalid`] for `super_admin` outside the default
/// organization.
pub fn authorize_create_user(actor: &Actor, role: Role) -> Result<(), AuthError> {
    require_admin(actor, "only an admin may create users")?;
    check_grant(actor, role)
}

/// Whether `actor` may apply `update` to `target`, a user of its
/// organization.
///
/// # Errors
/// [`AuthError::Forbidden`] when changing one's own role or active flag,
/// below admin for someone else, for a target or a new role above the
/// actor's; [`AuthError::Invalid`] for `super_admin` outside the default
/// organization.
pub fn authorize_update_user(
    actor: &Actor,
    target: &User,
    update: &UpdateUser,
) -> Result<(), AuthError> {
    if is_self(actor, &target.id) {
        if update.touches_admin_fields() {
            return Err(AuthError::Forbidden(
                "you cannot change your own role or active status",
            ));
        }
        return Ok(());
    }
    require_admin(actor, "only an admin may change other users")?;
    if !actor.role().may_grant(target.role) {
        return Err(AuthError::Forbidden(
            "you cannot change a user whose role is above yours",
        ));
    }
    if let Some(role) = update.role {
        check_grant(actor, role)?;
    }
    Ok(())
}

/// Whether `actor` may list the API keys of its organization.
///
/// # Errors
/// [`AuthError::Forbidden`] below admin.
pub fn authorize_list_api_keys(actor: &Actor) -> Result<(), AuthError> {
    require_admin(actor, "only an admin may manage API keys")
}

/// Whether `actor` may create a key with `role` in its organization.
///
/// # Errors
/// [`AuthError::Forbidden`] below admin or for a role above the actor's;
/// [`AuthError::Invalid`] for `super_admin` outside the default
/// organization.
pub fn authorize_create_api_key(actor: &Actor, role: Role) -> Result<(), AuthError> {
    authorize_list_api_keys(actor)?;
    check_grant(actor, role)
}

/// Whether `actor` may revoke or rotate `key`, a key of its organization.
///
/// # Errors
/// [`AuthError::Forbidden`] below admin or for a key whose role is above
/// the actor's.
pub fn authorize_change_api_key(actor: &Actor, key: &ApiKey) -> Result<(), AuthError> {
    authorize_list_api_keys(actor)?;
    if !actor.role().may_grant(key.role) {
        return Err(AuthError::Forbidden(
            "you cannot change a key whose role is above yours",
        ));
    }
    Ok(())
}

/// Whether a registration by `actor` into `org` is the self-service first
/// one (no admin of the organization, nor a super admin, registers it): it
/// may only create the organization's first user.
pub fn registration_is_bootstrap(actor: Option<&Actor>, org: &Organization) -> bool {
    !actor.is_some_and(|a| {
        a.is_super_admin() || (a.has_at_least(Role::Admin) && *a.home_org_id() == org.id)
    })
}

/// Whether a registration into `org`, which has `users_in_org` users, may
/// happen, and with which role. `actor` is the caller, if it sent a
/// credential.
///
/// - An admin of `org` or a super admin registers any role it may grant
///   (default `agent`).
/// - Anyone registers the first user of an organization without users: its
///   `admin`. Not in the default organization, whose super admins come from
///   the command line (`lead-routing admin create`) or another super admin.
/// - Otherwise registration is closed.
///
/// # Errors
/// [`AuthError::OrganizationInactive`] for an inactive organization;
/// [`AuthError::Forbidden`] when closed or for a role above the actor's;
/// [`AuthError::Invalid`] for a first user who would not be an admin, or
/// `super_admin` outside the default organization.
pub fn authorize_registration(
    actor: Option<&Actor>,
    org: &Organization,
    users_in_org: u64,
    requested: Option<Role>,
) -> Result<Role, AuthError> {
    if !org.is_active {
        return Err(AuthError::OrganizationInactive);
    }
    let privileged = actor.filter(|_| !registration_is_bootstrap(actor, org));
    if let Some(actor) = privileged {
        let role = requested.unwrap_or(Role::Agent);
        if !actor.role().may_grant(role) {
            return Err(AuthError::Forbidden(
                "you cannot grant a role above your own",
            ));
        }
        check_role_fits_org(role, &org.id)?;
        return Ok(role);
    }
    if users_in_org > 0 {
        return Err(AuthError::Forbidden(
            "this organization already has users; only its admins may register new ones",
        ));
    }
    if org.id.is_default() {
        // Self-service here would make whoever registers first on a fresh
        // deployment a platform super admin.
        return Err(AuthError::Forbidden(
            "the default organization has no self-service registration; \
             create super admins with `lead-routing admin create`",
        ));
    }
    match requested {
        None | Some(Role::Admin) => Ok(Role::Admin),
        Some(_) => Err(AuthError::invalid(
            "role",
            "the first user of an organization must be its admin",
        )),
    }
}

/// Whether `actor` may act in `target` (the `X-Org-Id` switch).
///
/// # Errors
/// [`AuthError::Forbidden`] for anyone but a super admin, unless `target` is
/// the actor's own organization.
pub fn authorize_switch_org(actor: &Actor, target: &OrgId) -> Result<(), AuthError> {
    if actor.is_super_admin() || target == actor.home_org_id() {
        Ok(())
    } else {
        Err(AuthError::Forbidden(
            "only a super admin may act in another organization",
        ))
    }
}

#[cfg(test)]
mod tests {
    use tenancy::Email;

    use super::*;
    use crate::{ApiKeyId, ApiKeyName, Username, testing::organization};

    fn user_actor(role: Role, org: &OrgId, id: &UserId) -> Actor {
        Actor::new(org.clone(), Principal::User(id.to_string()), role)
    }

    fn actor(role: Role, org: &OrgId) -> Actor {
        user_actor(role, org, &UserId::generate())
    }

    fn key_actor(role: Role, org: &OrgId) -> Actor {
        Actor::new(org.clone(), Principal::ApiKey("key_1".into()), role)
    }

    fn user(role: Role, org: &OrgId) -> User {
        User::new(
            org.clone(),
            Username::parse("target").unwrap(),
            Email::parse("target@acme.com").unwrap(),
            role,
            tenancy::now(),
        )
    }

    fn key(role: Role, org: &OrgId) -> ApiKey {
        ApiKey {
            id: ApiKeyId::generate(),
            org_id: org.clone(),
            name: ApiKeyName::parse("k").unwrap(),
            prefix: "abcd1234".into(),
            role,
            created_by: "user:u".into(),
            created_at: tenancy::now(),
            last_used_at: None,
            revoked_at: None,
            known_addresses: Vec::new(),
        }
    }

    fn forbidden<T: std::fmt::Debug>(r: Result<T, AuthError>) -> bool {
        matches!(r, Err(AuthError::Forbidden(_)))
    }

    fn invalid<T: std::fmt::Debug>(r: Result<T, AuthError>) -> bool {
        matches!(r, Err(AuthError::Invalid(_)))
    }

    #[test]
    fn managers_and_above_list_users_and_agents_do_not() {
        let org = OrgId::generate();
        for role in [Role::SuperAdmin, Role::Admin, Role::Manager] {
            assert!(authorize_list_users(&actor(role, &org)).is_ok(), "{role}");
        }
        assert!(forbidden(authorize_list_users(&actor(Role::Agent, &org))));
    }

    #[test]
    fn an_agent_reads_itself_but_no_one_else() {
        let org = OrgId::generate();
        let me = UserId::generate();
        let agent = user_actor(Role::Agent, &org, &me);
        assert!(authorize_read_user(&agent, &me).is_ok());
        assert!(forbidden(authorize_read_user(&agent, &UserId::generate())));
        assert!(authorize_read_user(&actor(Role::Manager, &org), &me).is_ok());
    }

    #[test]
    fn only_a_signed_in_user_has_an_own_account() {
        let org = OrgId::generate();
        let me = UserId::generate();
        assert_eq!(
            authorize_own_account(&user_actor(Role::Agent, &org, &me)).unwrap(),
            me
        );
        assert!(forbidden(authorize_own_account(&key_actor(
            Role::Admin,
            &org
        ))));
        assert!(forbidden(authorize_own_account(&Actor::dev_key())));
    }

    #[test]
    fn admins_create_users_up_to_their_own_role() {
        let org = OrgId::generate();
        let admin = actor(Role::Admin, &org);
        for role in [Role::Agent, Role::Manager, Role::Admin] {
            assert!(authorize_create_user(&admin, role).is_ok(), "{role}");
        }
        assert!(forbidden(authorize_create_user(&admin, Role::SuperAdmin)));
        // An admin API key is an admin of its organization too.
        assert!(authorize_create_user(&key_actor(Role::Admin, &org), Role::Agent).is_ok());
    }

    #[test]
    fn managers_and_agents_create_no_users() {
        let org = OrgId::generate();
        for role in [Role::Manager, Role::Agent] {
            assert!(forbidden(authorize_create_user(
                &actor(role, &org),
                Role::Agent
            )));
        }
    }

    #[test]
    fn super_admins_are_created_only_in_the_default_organization() {
        let sa_home = actor(Role::SuperAdmin, &OrgId::default_org());
        assert!(authorize_create_user(&sa_home, Role::SuperAdmin).is_ok());
        let switched = sa_home.acting_in(OrgId::generate()).unwrap();
        assert!(invalid(authorize_create_user(&switched, Role::SuperAdmin)));
        assert!(authorize_create_user(&switched, Role::Admin).is_ok());
        // An admin of the default organization still cannot.
        let admin = actor(Role::Admin, &OrgId::default_org());
        assert!(forbidden(authorize_create_user(&admin, Role::SuperAdmin)));
    }

    #[test]
    fn nobody_changes_their_own_role_or_active_flag() {
        let org = OrgId::default_org();
        let me = user(Role::SuperAdmin, &org);
        let sa = user_actor(Role::SuperAdmin, &org, &me.id);
        let demote = UpdateUser {
            role: Some(Role::Agent),
            ..Default::default()
        };
        assert!(forbidden(authorize_update_user(&sa, &me, &demote)));
        assert!(forbidden(authorize_update_user(
            &sa,
            &me,
            &UpdateUser::active(false)
        )));
        let admin_user = user(Role::Admin, &org);
        let admin = user_actor(Role::Admin, &org, &admin_user.id);
        assert!(forbidden(authorize_update_user(
            &admin,
            &admin_user,
            &UpdateUser::active(false)
        )));
    }

    #[test]
    fn anyone_changes_their_own_username_and_email() {
        let org = OrgId::generate();
        let me = user(Role::Agent, &org);
        let agent = user_actor(Role::Agent, &org, &me.id);
        let rename = UpdateUser {
            username: Some(Username::parse("new-name").unwrap()),
            ..Default::default()
        };
        assert!(authorize_update_user(&agent, &me, &rename).is_ok());
    }

    #[test]
    fn admins_manage_users_up_to_their_role_and_grant_up_to_it() {
        let org = OrgId::default_org();
        let admin = actor(Role::Admin, &org);
        let agent = user(Role::Agent, &org);
        let promote = |role| UpdateUser {
            role: Some(role),
            ..Default::default()
        };
        assert!(authorize_update_user(&admin, &agent, &promote(Role::Admin)).is_ok());
        assert!(authorize_update_user(&admin, &agent, &UpdateUser::active(false)).is_ok());
        assert!(forbidden(authorize_update_user(
            &admin,
            &agent,
            &promote(Role::SuperAdmin)
        )));
        let sa = user(Role::SuperAdmin, &org);
        assert!(forbidden(authorize_update_user(
            &admin,
            &sa,
            &UpdateUser::active(false)
        )));
        let other_admin = user(Role::Admin, &org);
        assert!(authorize_update_user(&admin, &other_admin, &UpdateUser::active(false)).is_ok());
    }

    #[test]
    fn managers_and_agents_change_no_one_else() {
        let org = OrgId::generate();
        let target = user(Role::Agent, &org);
        for role in [Role::Manager, Role::Agent] {
            assert!(forbidden(authorize_update_user(
                &actor(role, &org),
                &target,
                &UpdateUser::default()
            )));
        }
    }

    #[test]
    fn a_super_admin_cannot_promote_to_super_admin_outside_the_default_org() {
        let org = OrgId::generate();
        let sa = actor(Role::SuperAdmin, &OrgId::default_org())
            .acting_in(org.clone())
            .unwrap();
        let target = user(Role::Admin, &org);
        let promote = UpdateUser {
            role: Some(Role::SuperAdmin),
            ..Default::default()
        };
        assert!(invalid(authorize_update_user(&sa, &target, &promote)));
    }

    #[test]
    fn admins_manage_api_keys_and_managers_and_agents_do_not() {
        let org = OrgId::generate();
        let admin = actor(Role::Admin, &org);
        assert!(authorize_list_api_keys(&admin).is_ok());
        assert!(authorize_create_api_key(&admin, Role::Admin).is_ok());
        assert!(authorize_change_api_key(&admin, &key(Role::Agent, &org)).is_ok());
        for role in [Role::Manager, Role::Agent] {
            let a = actor(role, &org);
            assert!(forbidden(authorize_list_api_keys(&a)));
            assert!(forbidden(authorize_create_api_key(&a, Role::Agent)));
            assert!(forbidden(authorize_change_api_key(
                &a,
                &key(Role::Agent, &org)
            )));
        }
    }

    #[test]
    fn a_key_never_carries_more_than_its_creators_role() {
        let org = OrgId::default_org();
        let admin = actor(Role::Admin, &org);
        assert!(forbidden(authorize_create_api_key(
            &admin,
            Role::SuperAdmin
        )));
        assert!(forbidden(authorize_change_api_key(
            &admin,
            &key(Role::SuperAdmin, &org)
        )));
        let sa = actor(Role::SuperAdmin, &org);
        assert!(authorize_create_api_key(&sa, Role::SuperAdmin).is_ok());
        let switched = sa.acting_in(OrgId::generate()).unwrap();
        assert!(invalid(authorize_create_api_key(
            &switched,
            Role::SuperAdmin
        )));
    }

    #[test]
    fn anyone_registers_the_first_admin_of_an_empty_organization() {
        let org = organization(OrgId::generate(), true);
        assert_eq!(
            authorize_registration(None, &org, 0, None).unwrap(),
            Role::Admin
        );
        assert_eq!(
            authorize_registration(None, &org, 0, Some(Role::Admin)).unwrap(),
            Role::Admin
        );
        assert!(invalid(authorize_registration(
            None,
            &org,
            0,
            Some(Role::Agent)
        )));
        assert!(invalid(authorize_registration(
            None,
            &org,
            0,
            Some(Role::SuperAdmin)
        )));
    }

    #[test]
    fn nobody_registers_anonymously_into_the_default_organization() {
        let org = organization(OrgId::default_org(), true);
        for role in [None, Some(Role::Admin), Some(Role::SuperAdmin)] {
            assert!(forbidden(authorize_registration(None, &org, 0, role)));
        }
        let sa = actor(Role::SuperAdmin, &org.id);
        assert_eq!(
            authorize_registration(Some(&sa), &org, 0, Some(Role::SuperAdmin)).unwrap(),
            Role::SuperAdmin
        );
    }

    #[test]
    fn registration_without_credentials_closes_once_the_organization_has_users() {
        let org = organization(OrgId::generate(), true);
        assert!(forbidden(authorize_registration(None, &org, 1, None)));
        // Nor does a non-admin credential open it.
        let manager = actor(Role::Manager, &org.id);
        assert!(forbidden(authorize_registration(
            Some(&manager),
            &org,
            1,
            None
        )));
        // Nor an admin of another organization.
        let stranger = actor(Role::Admin, &OrgId::generate());
        assert!(forbidden(authorize_registration(
            Some(&stranger),
            &org,
            1,
            None
        )));
    }

    #[test]
    fn admins_and_super_admins_register_users_into_organizations_with_users() {
        let org = organization(OrgId::generate(), true);
        let admin = actor(Role::Admin, &org.id);
        assert_eq!(
            authorize_registration(Some(&admin), &org, 3, None).unwrap(),
            Role::Agent
        );
        assert!(forbidden(authorize_registration(
            Some(&admin),
            &org,
            3,
            Some(Role::SuperAdmin)
        )));
        let sa = actor(Role::SuperAdmin, &OrgId::default_org());
        assert_eq!(
            authorize_registration(Some(&sa), &org, 3, Some(Role::Admin)).unwrap(),
            Role::Admin
        );
        assert!(invalid(authorize_registration(
            Some(&sa),
            &org,
            3,
            Some(Role::SuperAdmin)
        )));
    }

    #[test]
    fn nobody_registers_into_an_inactive_organization() {
        let org = organization(OrgId::generate(), false);
        let sa = actor(Role::SuperAdmin, &OrgId::default_org());
        for a in [None, Some(&sa)] {
            assert!(matches!(
                authorize_registration(a, &org, 0, None),
                Err(AuthError::OrganizationInactive)
            ));
        }
    }

    #[test]
    fn only_super_admins_switch_organization() {
        let own = OrgId::generate();
        let other = OrgId::generate();
        let sa = actor(Role::SuperAdmin, &OrgId::default_org());
        assert!(authorize_switch_org(&sa, &other).is_ok());
        for role in [Role::Admin, Role::Manager, Role::Agent] {
            let a = actor(role, &own);
            assert!(forbidden(authorize_switch_org(&a, &other)));
            assert!(authorize_switch_org(&a, &own).is_ok());
        }
    }
}
