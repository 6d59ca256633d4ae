//! The shared vocabulary of every Lead Routing domain crate.
//!
//! Each domain (organization, auth, lead, proposal) speaks of the same few
//! things: which organization a row belongs to ([`OrgId`]), who is acting and
//! with which [`Role`] ([`Actor`]), how a list is paged ([`PageRequest`],
//! [`Page`]), how invalid input is reported ([`ValidationErrors`]) and how a
//! storage failure is surfaced ([`StorageError`]). They live here so that the
//! domains agree on them without depending on each other.

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
