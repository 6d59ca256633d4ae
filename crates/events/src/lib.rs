//! Domain events of Lead Routing and the audit trail.
//!
//! Every state change appends one immutable [`Event`] in the same
//! transaction as the change (a transactional outbox): the routing
//! workflow's unit of work takes [`NewEvent`]s and stamps them with its
//! scope's organization and actor. The audit trail reads them back
//! ([`EventRepository`], [`AuditService`]); webhooks and timers will read the
//! same rows.
//!
//! ```
//! use events::{NewEvent, Subject, types};
//! use tenancy::{Actor, OrgId, Principal, Role};
//!
//! let manager = Actor::new(OrgId::generate(), Principal::User("usr_1".into()), Role::Manager);
//! let event = NewEvent::new(types::PROPOSAL_APPROVED, Subject::proposal("prop_1"), chrono::Utc::now())
//!     .of_lead("lead_1")
//!     .with("note", "good fit")
//!     .stamp(&manager.scope());
//! assert_eq!(event.org_id, *manager.org_id());
//! assert_eq!(event.actor.id.as_deref(), Some("usr_1"));
//! assert!(event.id.as_str().starts_with("evt_"));
//! ```

mod audit;
mod change;
mod model;
pub mod types;

pub use audit::{
    AuditError, AuditService, DEFAULT_AUDIT_LIMIT, EventFilter, EventPage, EventRepository,
    MANAGER_TYPES, MAX_AUDIT_LIMIT, TypeFilter, visible_types,
};
pub use change::{Action, Audited, changes, record};
pub use model::{ActorKind, Event, EventActor, EventId, NewEvent, Subject};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters_take_exact_types_and_prefixes() {
        assert_eq!(
            TypeFilter::parse("proposal.*"),
            Ok(TypeFilter::Prefix("proposal.".into()))
        );
        assert_eq!(
            TypeFilter::parse("proposal."),
            Ok(TypeFilter::Prefix("proposal.".into()))
        );
        let exact = TypeFilter::parse("lead.routed").unwrap_or(TypeFilter::Exact(String::new()));
        assert!(exact.matches("lead.routed") && !exact.matches("lead.routed2x"));
        for bad in ["", "*", "Lead.x", "lead;drop"] {
            assert!(TypeFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_catalogue_has_no_duplicates() {
        let mut all = types::ALL.to_vec();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), types::ALL.len());
    }
}
