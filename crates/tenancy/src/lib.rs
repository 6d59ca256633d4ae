//! The shared vocabulary of every Lead Routing domain crate.
//!
//! Each domain (organization, auth, lead, proposal) speaks of the same few
//! things: which organization a row belongs to ([`OrgId`]), who is acting and
//! with which [`Role`] ([`Actor`]), how a list is paged ([`PageRequest`],
//! [`Page`]), how invalid input is reported ([`ValidationErrors`]) and how a
//! storage failure is surfaced ([`StorageError`]). They live here so that the
//! domains agree on them without depending on each other.
//!
//! Every tenant repository takes a [`TenantScope`]: the one organization a
//! call may touch, made from an authenticated [`Actor`] and never from a
//! string.
//!
//! ```
//! use tenancy::{Actor, OrgId, Principal, Role};
//!
//! // What an authenticator makes once a credential is verified.
//! let org = OrgId::generate();
//! let manager = Actor::new(org.clone(), Principal::User("usr_1".into()), Role::Manager);
//! assert_eq!(manager.scope().org_id(), &org);
//!
//! // Only a super admin may act in another organization.
//! assert!(manager.acting_in(OrgId::generate()).is_none());
//! let operator = Actor::operator("cli");
//! let inside = operator.acting_in(org.clone()).expect("operators are super admins");
//! assert_eq!(inside.scope().principal().to_string(), "operator:cli");
//! ```

mod actor;
mod email;
mod error;
mod id;
mod paging;
mod role;
mod time;
mod validation;

pub use actor::{Actor, Principal, TenantScope};
pub use email::{Email, InvalidEmail};
pub use error::StorageError;
pub use id::{AgentId, DEFAULT_ORG_ID, OrgId, new_id};
pub use paging::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, Page, PageRequest};
pub use role::{Role, UnknownRole};
pub use time::now;
pub use validation::{FieldError, ValidationErrors};
