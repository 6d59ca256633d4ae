//! Who is making a request, for which organization, with which role — and
//! the [`TenantScope`] every tenant repository call is made with.

use std::fmt;

use crate::{OrgId, Role};

/// The credential behind a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A signed-in user (JWT), by user id.
    User(String),
    /// An API key, by key id.
    ApiKey(String),
    /// The development key `dev_key_123`, accepted only in development mode.
    DevKey,
    /// A platform operator at the command line (`admin create`, `seed`), by
    /// the name it gave; never a network credential.
    Operator(String),
    /// The service itself (auto-approval, timers, background workers).
    System,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(id) => write!(f, "user:{id}"),
            Principal::ApiKey(id) => write!(f, "api_key:{id}"),
            Principal::DevKey => f.write_str("dev_key"),
            Principal::Operator(name) => write!(f, "operator:{name}"),
            Principal::System => f.write_str("system"),
        }
    }
}

/// The authenticated caller of one request.
///
/// [`Actor::org_id`] is the organization the request acts in: the
/// principal's own organization, or for a super admin the one it switched
/// into ([`Actor::acting_in`]). Its fields are private: an actor is made by
/// an authenticator ([`Actor::new`]), for the development key
/// ([`Actor::dev_key`]) or for a named operator ([`Actor::operator`]), and
/// tenant repositories are reached only through its [`Actor::scope`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    org_id: OrgId,
    home_org_id: OrgId,
    principal: Principal,
    role: Role,
}

impl Actor {
    /// An actor acting in its own organization. Call it only where a
    /// credential was verified (the authenticator).
    pub fn new(org_id: OrgId, principal: Principal, role: Role) -> Self {
        Self {
            home_org_id: org_id.clone(),
            org_id,
            principal,
            role,
        }
    }

    /// The development key: a super admin of the default organization.
    pub fn dev_key() -> Self {
        Self::new(OrgId::default_org(), Principal::DevKey, Role::SuperAdmin)
    }

    /// A platform operator at the command line, recorded under its `name`
    /// (a super admin of the default organization; use
    /// [`Actor::acting_in`] to act in another one).
    pub fn operator(name: impl Into<String>) -> Self {
        Self::new(
            OrgId::default_org(),
            Principal::Operator(name.into()),
            Role::SuperAdmin,
        )
    }

    /// The same caller acting in `org`. Only a super admin may act outside
    /// its home organization: for anyone else this is `None` unless `org`
    /// is its own.
    pub fn acting_in(&self, org: OrgId) -> Option<Self> {
        if org == self.home_org_id || self.is_super_admin() {
            Some(Self {
                org_id: org,
                ..self.clone()
            })
        } else {
            None
        }
    }

    /// The same caller with another role: a narrower credential (an
    /// operator acting as an organization's manager in the demo seed).
    /// A role above the actor's own is refused (`None`).
    pub fn with_role(&self, role: Role) -> Option<Self> {
        (role <= self.role).then(|| Self {
            role,
            ..self.clone()
        })
    }

    /// The organization this request acts in.
    pub fn org_id(&self) -> &OrgId {
        &self.org_id
    }

    /// The organization the credential belongs to.
    pub fn home_org_id(&self) -> &OrgId {
        &self.home_org_id
    }

    /// The credential.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The role the credential carries.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether this actor operates the platform.
    pub fn is_super_admin(&self) -> bool {
        self.role == Role::SuperAdmin
    }

    /// Whether this actor holds at least `role`.
    pub fn has_at_least(&self, role: Role) -> bool {
        self.role >= role
    }

    /// The tenant scope of this actor's organization: what every tenant
    /// repository method takes.
    pub fn scope(&self) -> TenantScope {
        TenantScope {
            org_id: self.org_id.clone(),
            principal: self.principal.clone(),
        }
    }
}

/// The one organization a repository call may touch, and on whose behalf.
///
/// Every tenant repository method takes a `&TenantScope` instead of a bare
/// [`OrgId`], and adapters filter every statement on [`TenantScope::org_id`].
/// A scope is made from an authenticated [`Actor`] ([`Actor::scope`]) or, for
/// work the service does by itself (timers, webhooks, auto-approval), with
/// [`TenantScope::system`], which records [`Principal::System`] as the actor.
/// It cannot be parsed from a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TenantScope {
    org_id: OrgId,
    principal: Principal,
}

impl TenantScope {
    /// The service acting in `org` by itself (a timer firing, a webhook
    /// being delivered), recorded as [`Principal::System`]. Only background
    /// workers call it, for the organization of a row they picked.
    pub fn system(org: OrgId) -> Self {
        Self {
            org_id: org,
            principal: Principal::System,
        }
    }

    /// The organization every statement is filtered on.
    pub fn org_id(&self) -> &OrgId {
        &self.org_id
    }

    /// Who acts.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str) -> OrgId {
        OrgId::parse(id).expect("valid id")
    }

    #[test]
    fn only_a_super_admin_acts_outside_its_organization() {
        let manager = Actor::new(org("org_a"), Principal::User("u1".into()), Role::Manager);
        assert!(manager.acting_in(org("org_b")).is_none());
        assert_eq!(manager.acting_in(org("org_a")), Some(manager.clone()));
        let operator = Actor::operator("ops");
        let switched = operator.acting_in(org("org_b")).expect("super admin");
        assert_eq!(switched.org_id(), &org("org_b"));
        assert_eq!(switched.home_org_id(), &OrgId::default_org());
        assert_eq!(switched.scope().org_id(), &org("org_b"));
    }

    #[test]
    fn an_operator_is_recorded_by_name_not_as_the_development_key() {
        let operator = Actor::operator("seed");
        assert_eq!(operator.principal().to_string(), "operator:seed");
        assert_ne!(operator.principal(), &Principal::DevKey);
    }

    #[test]
    fn a_role_can_be_narrowed_but_never_raised() {
        let manager = Actor::new(org("org_a"), Principal::User("u1".into()), Role::Manager);
        assert_eq!(
            manager.with_role(Role::Agent).map(|a| a.role()),
            Some(Role::Agent)
        );
        assert!(manager.with_role(Role::Admin).is_none());
    }
}
