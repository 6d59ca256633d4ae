//! The Lead Routing engine.
//!
//! - [`Agent`]s, with skills, regions, weight, capacity, daily cap, status and
//!   working hours;
//! - [`Pool`]s (ordered members and a [`PoolMethod`]) and [`Rule`]s
//!   (conditions on lead fields → a pool);
//! - the pure decision ([`engine::select_target`], [`engine::plan`]): no
//!   database, no clock; the time is passed in, and every candidate gets a
//!   [`TraceEntry`] saying why it won or did not;
//! - [`Proposal`]s and their review;
//! - the dashboard's leads-per-agent chart ([`LeadsPerAgent`] over a
//!   [`DayWindow`] of UTC days);
//! - the ports storage implements ([`ports`]) and the use cases the API calls
//!   ([`RoutingService`]), checked against [`policy`].
//!
//! Fairness under concurrency is the storage adapter's part: each routing step
//! ([`ports::RoutingStore`]) reads the pool state and loads and writes the
//! decision in one transaction that holds the pool's row lock.

mod activity;
mod agent;
pub mod engine;
mod error;
pub mod policy;
mod pool;
pub mod ports;
mod proposal;
mod rule;
mod service;
mod settings;

pub use activity::{
    AgentSeries, ChartAgent, ChartDays, DEFAULT_CHART_DAYS, DayCount, DayWindow, LeadActivity,
    LeadsPerAgent, MAX_CHART_DAYS,
};
pub use agent::{
    Agent, AgentChange, AgentInput, AgentLoad, AgentStatus, Candidate, DAY_NAMES, RawWorkingHours,
    WorkingHours,
};
pub use error::RoutingError;
pub use pool::{
    MAX_POOL_MEMBERS, Pool, PoolChange, PoolId, PoolMethod, PoolState, lifted_assignments,
};
pub use proposal::{
    AlreadyDecided, Method, Proposal, ProposalId, ProposalStatus, SYSTEM, TraceEntry,
};
pub use rule::{Condition, Op, RawCondition, Rule, RuleChange, RuleId, first_match};
pub use service::{Dashboard, RoutingService};
pub use settings::RoutingSettings;
