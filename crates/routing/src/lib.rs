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
//!
//! ```
//! use std::collections::HashSet;
//!
//! use lead::{NewLead, NewLeadInput};
//! use routing::{
//!     AgentChange, AgentInput, AgentLoad, Candidate, Pool, PoolId, PoolMethod, PoolState,
//!     RoutingSettings,
//!     engine::{PlanInput, Target, plan},
//! };
//! use tenancy::OrgId;
//!
//! let org = OrgId::generate();
//! let now = chrono::Utc::now();
//! let agent = |name: &str| {
//!     let input = AgentInput {
//!         name: Some(name.into()),
//!         email: Some(format!("{name}@acme.example")),
//!         ..AgentInput::default()
//!     };
//!     let agent = AgentChange::parse(input, true).unwrap().into_agent(org.clone(), now).unwrap();
//!     Candidate { agent, load: AgentLoad::default() }
//! };
//! let members = vec![agent("ada"), agent("bo")];
//! let pool = Pool {
//!     id: PoolId::generate(),
//!     org_id: org.clone(),
//!     name: "all".into(),
//!     method: PoolMethod::RoundRobin,
//!     member_ids: members.iter().map(|c| c.agent.id.clone()).collect(),
//!     created_at: now,
//!     updated_at: now,
//! };
//! let lead = NewLead::parse(NewLeadInput { name: "Ann".into(), ..Default::default() })
//!     .unwrap()
//!     .into_lead(org.clone(), now);
//! let decided = plan(&PlanInput {
//!     lead: &lead,
//!     settings: &RoutingSettings::default(),
//!     target: &Target::Pool { pool_id: pool.id.clone(), rule: None },
//!     pool: Some(&pool),
//!     state: &PoolState::default(),
//!     members: &members,
//!     sticky: None,
//!     fallback: None,
//!     excluded: &HashSet::new(),
//!     now,
//! });
//! let choice = decided.choice.expect("someone is available");
//! assert_eq!(choice.agent_id, members[0].agent.id);
//! assert_eq!(decided.trace.len(), 2); // one line per candidate, saying why
//! ```

mod activity;
mod agent;
mod audited;
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
pub use decide::{
    Decision, DecisionReads, DecisionSource, PoolSnapshot, RoutingConfig, decide, over_caps,
};
pub use error::RoutingError;
pub use pool::{
    MAX_POOL_MEMBERS, Pool, PoolChange, PoolId, PoolMethod, PoolState, lifted_assignments,
};
pub use rule::{Condition, Op, RawCondition, Rule, RuleChange, RuleId, first_match};
pub use service::RoutingService;
pub use settings::RoutingSettings;
pub use trace::{Method, TraceEntry};
