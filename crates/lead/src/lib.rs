//! Leads: the prospects that arrive and get routed to agents.
//!
//! This crate owns what a lead is ([`Lead`], [`NewLead`] with validated
//! fields), the status it moves through ([`LeadStatus`], forward only, and
//! the transitions routing makes: [`Lead::propose_to`], [`Lead::assign_to`],
//! [`Lead::mark_unrouted`]), the values the routing rules read
//! ([`Lead::field`]) and its read port ([`ports::LeadRepository`], paged by
//! offset or after a [`LeadKey`]). No other crate spells a status: storage
//! counts open leads with [`LeadStatus::OPEN`] and owned ones with
//! [`LeadStatus::OWNED`].
//!
//! ```
//! use lead::{LeadStatus, NewLead, NewLeadInput};
//! use tenancy::{AgentId, OrgId};
//!
//! let input = NewLeadInput { name: "Ann Lee".into(), ..Default::default() };
//! let now = chrono::Utc::now();
//! let mut lead = NewLead::parse(input)
//!     .expect("a name is enough")
//!     .into_lead(OrgId::default_org(), now);
//! assert_eq!(lead.status, LeadStatus::New);
//!
//! lead.propose_to(AgentId::generate(), now).expect("a new lead is routable");
//! assert!(lead.status.is_open() && !lead.status.is_owned());
//! ```

mod model;
pub mod ports;
mod status;

pub use model::{
    FIELD_NAMES, FieldValue, Lead, LeadContactPatch, LeadFilter, LeadId, MAX_CUSTOM_FIELDS,
    MAX_UNROUTED_REASON, NewLead, NewLeadInput, is_field_key,
};
pub use ports::{LeadKey, LeadRepository};
pub use status::{LeadStatus, TransitionError};
