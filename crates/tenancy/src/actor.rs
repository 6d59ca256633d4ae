//! Who is making a request, for which organization, with which role.

use std::fmt;

use crate::{OrgId, Role};

/// The credential behind a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user (JWT), by user id.
    User(String),
    /// An API key, by key id.
    ApiKey(String),
    /// The development key `dev_key_123`, accepted only in development mode.
    DevKey,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(id) => write!(f, "user:{id}"),
            Principal::ApiKey(id) => write!(f, "api_key:{id}"),
            Principal::DevKey => f.write_str("dev_key"),
        }
    }
}

/// The authenticated caller of one request.
///
/// `org_id` is the organization the request acts in: the principal's own
/// organization, or for a super admin the one it switched into. Every tenant
/// repository call takes it, so no request can touch another tenant's rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The organization this request acts in.
    pub org_id: OrgId,
    /// The organization the credential belongs to.
    pub home_org_id: OrgId,
    /// The credential.
    pub principal: Principal,
    /// The role the credential carries.
    pub role: Role,
}

impl Actor {
    /// An actor acting in its own organization.
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

    /// Whether this actor operates the platform.
    pub fn is_super_admin(&self) -> bool {
        self.role == Role::SuperAdmin
    }

    /// Whether this actor holds at least `role`.
    pub fn has_at_least(&self, role: Role) -> bool {
        self.role >= role
    }
}
