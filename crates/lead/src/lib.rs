//! Leads: the prospects that arrive and get routed to agents.
//!
//! This crate owns what a lead is ([`Lead`], [`NewLead`] with validated
//! fields), the status it moves through ([`LeadStatus`], forward only), and
//! the values the routing rules read ([`Lead::field`]). Routing itself lives
//! in the `routing` crate.

mod model;
mod status;

pub use model::{
    FIELD_NAMES, FieldValue, Lead, LeadContactPatch, LeadFilter, LeadId, MAX_CUSTOM_FIELDS,
    NewLead, NewLeadInput,
};
pub use status::{LeadStatus, TransitionError};
