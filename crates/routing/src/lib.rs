//! The Lead Routing engine.
//!
//! - [`Agent`]s, with skills, regions, weight, capacity, daily cap, status and
//!   working hours;
//! - [`Pool`]s (ordered members and a [`PoolMethod`]) and [`Rule`]s
//!   (conditions on lead fields → a pool);
//! - the pure decision ([`engine::select_target`], [`engine::plan`]): no
//!   database, no clock; the time is passed in, and every candidate gets a
//!   [`TraceEntry`] saying why it won or did not;
//! - one decision inside a transaction ([`decide()`] over the
//!   [`DecisionReads`] port): target, plan and the capacity re-check;
//! - the dashboard's leads-per-agent chart ([`LeadsPerAgent`] over a
//!   [`DayWindow`] of UTC days);
//! - the ports storage implements ([`ports`]) and the configuration use
//!   cases the API calls ([`RoutingService`]), checked against [`policy`].
//!
//! Turning a decision into a proposal, and the review that follows, is the
//! `proposal` crate's.

mod activity;
mod agent;
mod decide;
pub mod engine;
mod error;
pub mod policy;
mod pool;
pub mod ports;
mod rule;
mod service;
mod settings;
mod trace;

pub use activity::{
    AgentSeries, ChartAgent, ChartDays, DEFAULT_CHART_DAYS, DayCount, DayWindow, LeadActivity,
    LeadsPerAgent, MAX_CHART_DAYS,
};
pub use agent::{
    Agent, AgentChange, AgentInput, AgentLoad, AgentStatus, Candidate, DAY_NAMES, RawWorkingHours,
    WorkingHours,
};
pub use decide::{Decision, DecisionReads, DecisionSource, PoolSnapshot, decide, over_caps};
pub use error::RoutingError;
pub use pool::{
    MAX_POOL_MEMBERS, Pool, PoolChange, PoolId, PoolMethod, PoolState, lifted_assignments,
};
pub use rule::{Condition, Op, RawCondition, Rule, RuleChange, RuleId, first_match};
pub use service::RoutingService;
pub use settings::RoutingSettings;
pub use trace::{Method, TraceEntry};
