//! Proposals and the routing workflow of Lead Routing.
//!
//! - [`Proposal`]: what the engine's [`routing::engine::Plan`] becomes
//!   ([`Proposal::from_plan`]), a manager's reassignment
//!   ([`Proposal::manual`]), and the review rule ([`Proposal::decide`]: only
//!   a pending proposal is decided, once).
//! - [`workflow`]: ingest a lead, decide, re-check capacity, write the
//!   decision, approve, reject and route again, reassign, written once over
//!   the [`ports::RoutingTx`] unit of work that storage adapters implement
//!   with queries only.
//! - [`Timer`]: the SLA waits (review, accept) the workflow arms in the
//!   transaction that starts them, and a scheduler fires through
//!   [`TimerQueue`] and [`workflow::fire_timer`].
//! - [`GroupCommit`]: concurrent ingests of one caller routed together in
//!   one transaction, each answered after its commit.
//! - [`LeadService`]: the use cases the API calls (leads, proposals, the
//!   dashboard), checked against [`routing::policy`].
//!
//! The `memory` crate implements every port in memory, for tests and for
//! services that want the workflow without a database.
//!
//! ```
//! use proposal::{AlreadyDecided, ProposalStatus};
//!
//! assert_eq!(ProposalStatus::parse("pending"), Ok(ProposalStatus::Pending));
//! assert!(ProposalStatus::parse("maybe").is_err());
//! let _: fn(AlreadyDecided) -> routing::RoutingError = Into::into;
//! ```

mod group;
mod model;
pub mod ports;
mod service;
mod timer;
pub mod workflow;

pub use group::{DEFAULT_MAX_LEADS, GroupCommit};
pub use model::{AlreadyDecided, Proposal, ProposalId, ProposalStatus, SYSTEM};
pub use ports::{ProposalFilter, ProposalRepository, QueueKey, Reporting, RoutingTx, UnitOfWork};
pub use service::{Dashboard, LeadPorts, LeadService, QueuePage};
pub use timer::{DueTimer, Timer, TimerId, TimerKind, TimerQueue};
pub use workflow::Routed;
