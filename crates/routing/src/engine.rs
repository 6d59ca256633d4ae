//! The routing decision: pure, deterministic, no I/O, no clock.
//!
//! A routing step is two calls around the storage reads of one transaction:
//! 1. [`select_target`]: the first matching rule's pool, else the default pool;
//! 2. [`plan`]: with that pool's members and their loads, the agent (or the
//!    reason there is none), the trace of every candidate, and the pool state
//!    to write back.
//!
//! Eligibility, in the order checked (the first failure is the reason):
//! that has not had this lead yet, active, `available`, holding the rule's
//! required skills, inside its working hours, under capacity (open leads,
//! pending proposals included), under its daily cap.

use std::{cmp::Ordering, collections::HashSet};

use chrono::{DateTime, Utc};
use lead::Lead;
use tenancy::AgentId;

use crate::{
    AgentStatus, Candidate, Method, Pool, PoolId, PoolMethod, PoolState, RoutingSettings, Rule,
    RuleId, TraceEntry, rule::first_match,
};

/// Where a lead goes before agents are considered.
#[derive(Clone, Debug, PartialEq)]
pub enum Target<'a> {
    /// A pool, chosen by a rule or as the default pool.
    Pool {
        /// The pool.
        pool_id: PoolId,
        /// The rule that chose it; `None` for the default pool.
        rule: Option<&'a Rule>,
    },
    /// No rule matched and there is no default pool.
    Nowhere,
}

/// Step 1: the pool a lead goes to.
pub fn select_target<'a>(lead: &Lead, rules: &'a [Rule], settings: &RoutingSettings) -> Target<'a> {
    match first_match(rules, lead) {
        Some(rule) => Target::Pool {
            pool_id: rule.pool_id.clone(),
            rule: Some(rule),
        },
        None => match &settings.default_pool_id {
            Some(pool_id) => Target::Pool {
                pool_id: pool_id.clone(),
                rule: None,
            },
            None => Target::Nowhere,
        },
    }
}

/// Everything step 2 needs, read in the routing transaction.
#[derive(Clone, Debug)]
pub struct PlanInput<'a> {
    /// The lead being routed.
    pub lead: &'a Lead,
    /// The organization's routing settings.
    pub settings: &'a RoutingSettings,
    /// The target of step 1.
    pub target: &'a Target<'a>,
    /// The target pool, if it exists.
    pub pool: Option<&'a Pool>,
    /// Its rotation state.
    pub state: &'a PoolState,
    /// Its members with their loads, **in pool order** (members whose agent
    /// no longer exists are left out).
    pub members: &'a [Candidate],
    /// The owner of the latest assigned lead of the same e-mail domain, when
    /// `stickyByDomain` is on.
    pub sticky: Option<&'a Candidate>,
    /// The organization's fallback agent, if set and existing.
    pub fallback: Option<&'a Candidate>,
    /// Agents that already had this lead (proposed or assigned): never
    /// proposed again.
    pub excluded: &'a HashSet<AgentId>,
    /// The time of the decision.
    pub now: DateTime<Utc>,
}

/// The chosen agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The agent.
    pub agent_id: AgentId,
    /// How it was chosen.
    pub method: Method,
    /// The pool it came from.
    pub pool_id: Option<PoolId>,
    /// The rule that matched.
    pub rule_id: Option<RuleId>,
}

/// The pool state change of a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolUpdate {
    /// The pool.
    pub pool_id: PoolId,
    /// The member served (new round-robin cursor; weighted count +1).
    pub served: AgentId,
}

/// Step 2's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The agent, or `None` when the lead stays unrouted.
    pub choice: Option<Choice>,
    /// Why there is no agent.
    pub unrouted_reason: Option<String>,
    /// Why each candidate was or was not chosen.
    pub trace: Vec<TraceEntry>,
    /// The pool state to write back.
    pub pool_update: Option<PoolUpdate>,
}

/// Why `candidate` cannot take a lead now, if it cannot.
pub fn ineligibility(
    candidate: &Candidate,
    required_skills: &[String],
    excluded: &HashSet<AgentId>,
    now: DateTime<Utc>,
) -> Option<String> {
    let agent = &candidate.agent;
    let load = &candidate.load;
    if excluded.contains(&agent.id) {
        return Some("already had this lead".into());
    }
    if !agent.is_active {
        return Some("deactivated".into());
    }
    match agent.status {
        AgentStatus::Available => {}
        AgentStatus::Away => return Some("away".into()),
        AgentStatus::Paused => return Some("paused".into()),
    }
    let missing = agent.missing_skills(required_skills);
    if !missing.is_empty() {
        return Some(format!("missing skills: {}", missing.join(", ")));
    }
    if let Some(wh) = &agent.working_hours
        && !wh.contains(now)
    {
        return Some(format!("outside working hours ({wh})"));
    }
    if let Some(cap) = agent.capacity
        && load.open_leads >= cap
    {
        return Some(format!(
            "at capacity ({}/{cap} open leads)",
            load.open_leads
        ));
    }
    if let Some(cap) = agent.daily_cap
        && load.today >= cap
    {
        return Some(format!("daily cap reached ({}/{cap} today)", load.today));
    }
    None
}

/// Step 2: chooses the agent.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let (pool_id, rule) = match input.target {
        Target::Pool { pool_id, rule } => (pool_id, *rule),
        Target::Nowhere => {
            return fallback_or_unrouted(
                input,
                None,
                None,
                Vec::new(),
                "no rule matched and no default pool is set".into(),
            );
        }
    };
    let required: &[String] = rule.map_or(&[], |r| r.required_skills.as_slice());
    let rule_id = rule.map(|r| r.id.clone());
    let mut trace = Vec::with_capacity(input.members.len() + 1);

    if input.settings.sticky_by_domain
        && let Some(owner) = input.sticky
    {
        let domain = input.lead.email.as_ref().map_or("", |e| e.domain());
        match ineligibility(owner, required, input.excluded, input.now) {
            None => {
                trace.push(TraceEntry {
                    agent_id: owner.agent.id.clone(),
                    eligible: true,
                    reason: format!("selected: owns earlier leads from {domain}"),
                });
                return Plan {
                    choice: Some(Choice {
                        agent_id: owner.agent.id.clone(),
                        method: Method::Sticky,
                        pool_id: Some(pool_id.clone()),
                        rule_id,
                    }),
                    unrouted_reason: None,
                    trace,
                    pool_update: None,
                };
            }
            Some(why) => trace.push(TraceEntry {
                agent_id: owner.agent.id.clone(),
                eligible: false,
                reason: format!("owns earlier leads from {domain}, but {why}"),
            }),
        }
    }

    let Some(pool) = input.pool else {
        return fallback_or_unrouted(
            input,
            Some(pool_id),
            rule_id,
            trace,
            format!("pool {pool_id} does not exist"),
        );
    };
    let verdicts: Vec<Option<String>> = input
        .members
        .iter()
        .map(|c| ineligibility(c, required, input.excluded, input.now))
        .collect();
    let eligible: Vec<usize> = (0..input.members.len())
        .filter(|&i| verdicts[i].is_none())
        .collect();
    let winner = match pool.method {
        PoolMethod::RoundRobin => round_robin(input, &eligible),
        PoolMethod::Weighted => weighted(input, &eligible),
        PoolMethod::LeastLoaded => least_loaded(input, &eligible),
    };
    for (i, c) in input.members.iter().enumerate() {
        let reason = match (&verdicts[i], winner) {
            (Some(why), _) => why.clone(),
            (None, Some(w)) if w == i => winning_reason(input, pool.method, c),
            (None, Some(w)) => losing_reason(input, pool.method, c, &input.members[w]),
            (None, None) => "eligible".into(),
        };
        trace.push(TraceEntry {
            agent_id: c.agent.id.clone(),
            eligible: verdicts[i].is_none(),
            reason,
        });
    }
    let Some(w) = winner else {
        let why = if input.members.is_empty() {
            format!("pool {} has no members", pool.name)
        } else {
            format!("no member of pool {} is eligible", pool.name)
        };
        return fallback_or_unrouted(input, Some(pool_id), rule_id, trace, why);
    };
    let agent_id = input.members[w].agent.id.clone();
    Plan {
        choice: Some(Choice {
            agent_id: agent_id.clone(),
            method: match pool.method {
                PoolMethod::RoundRobin => Method::RoundRobin,
                PoolMethod::Weighted => Method::Weighted,
                PoolMethod::LeastLoaded => Method::LeastLoaded,
            },
            pool_id: Some(pool.id.clone()),
            rule_id,
        }),
        unrouted_reason: None,
        trace,
        pool_update: Some(PoolUpdate {
            pool_id: pool.id.clone(),
            served: agent_id,
        }),
    }
}

/// When nobody in the pool can take the lead: the fallback agent if it is
/// active and was not rejected for this lead (its capacity, hours and status
/// are deliberately not checked: it exists so that nothing is dropped), else
/// unrouted with `reason`.
fn fallback_or_unrouted(
    input: &PlanInput<'_>,
    pool_id: Option<&PoolId>,
    rule_id: Option<RuleId>,
    mut trace: Vec<TraceEntry>,
    reason: String,
) -> Plan {
    if let Some(fb) = input.fallback {
        let refused = if input.excluded.contains(&fb.agent.id) {
            Some("already had this lead")
        } else if !fb.agent.is_active {
            Some("deactivated")
        } else {
            None
        };
        match refused {
            None => {
                trace.push(TraceEntry {
                    agent_id: fb.agent.id.clone(),
                    eligible: true,
                    reason: format!("selected: fallback agent ({reason})"),
                });
                return Plan {
                    choice: Some(Choice {
                        agent_id: fb.agent.id.clone(),
                        method: Method::Fallback,
                        pool_id: pool_id.cloned(),
                        rule_id,
                    }),
                    unrouted_reason: None,
                    trace,
                    pool_update: None,
                };
            }
            Some(why) => trace.push(TraceEntry {
                agent_id: fb.agent.id.clone(),
                eligible: false,
                reason: format!("fallback agent, but {why}"),
            }),
        }
    }
    Plan {
        choice: None,
        unrouted_reason: Some(reason),
        trace,
        pool_update: None,
    }
}

/// The first eligible member after the last one served, wrapping around.
fn round_robin(input: &PlanInput<'_>, eligible: &[usize]) -> Option<usize> {
    let n = input.members.len();
    let start = input
        .state
        .last_agent_id
        .as_ref()
        .and_then(|last| input.members.iter().position(|c| &c.agent.id == last))
        .map_or(0, |p| p + 1);
    // `eligible` is sorted: the first index at or after `start`, else the first.
    eligible
        .iter()
        .copied()
        .find(|&i| i >= start % n.max(1))
        .or_else(|| eligible.first().copied())
}

fn assignments(input: &PlanInput<'_>, c: &Candidate) -> u64 {
    input
        .state
        .assignments
        .get(&c.agent.id)
        .copied()
        .unwrap_or(0)
}

/// Compares assignments per weight without floating point.
fn ratio_cmp(a: (u64, u32), b: (u64, u32)) -> Ordering {
    (u128::from(a.0) * u128::from(b.1.max(1))).cmp(&(u128::from(b.0) * u128::from(a.1.max(1))))
}

/// The eligible member with the fewest assignments per weight (first in order on ties).
fn weighted(input: &PlanInput<'_>, eligible: &[usize]) -> Option<usize> {
    let key = |i: usize| {
        let c = &input.members[i];
        (assignments(input, c), c.agent.weight)
    };
    eligible.iter().copied().reduce(|best, i| {
        if ratio_cmp(key(i), key(best)) == Ordering::Less {
            i
        } else {
            best
        }
    })
}

/// The eligible member with the fewest open leads, then the least recently
/// served (never served first), then first in order.
fn least_loaded(input: &PlanInput<'_>, eligible: &[usize]) -> Option<usize> {
    let key = |i: usize| {
        let load = &input.members[i].load;
        (load.open_leads, load.last_assigned_at)
    };
    eligible
        .iter()
        .copied()
        .reduce(|best, i| if key(i) < key(best) { i } else { best })
}

fn winning_reason(input: &PlanInput<'_>, method: PoolMethod, c: &Candidate) -> String {
    match method {
        PoolMethod::RoundRobin => match &input.state.last_agent_id {
            Some(last) if input.members.iter().any(|m| &m.agent.id == last) => {
                format!("selected: next in rotation after {last}")
            }
            Some(_) => "selected: first in rotation (the last one served left the pool)".into(),
            None => "selected: first in rotation".into(),
        },
        PoolMethod::Weighted => format!(
            "selected: fewest assignments per weight ({}/{})",
            assignments(input, c),
            c.agent.weight
        ),
        PoolMethod::LeastLoaded => format!("selected: fewest open leads ({})", c.load.open_leads),
    }
}

fn losing_reason(
    input: &PlanInput<'_>,
    method: PoolMethod,
    c: &Candidate,
    winner: &Candidate,
) -> String {
    match method {
        PoolMethod::RoundRobin => "eligible; not next in rotation".into(),
        PoolMethod::Weighted => {
            let (mine, theirs) = (
                (assignments(input, c), c.agent.weight),
                (assignments(input, winner), winner.agent.weight),
            );
            let comparison = if ratio_cmp(mine, theirs) == Ordering::Equal {
                "as many, but later in order"
            } else {
                "more"
            };
            format!(
                "eligible; {comparison} assignments per weight ({}/{} vs {}/{})",
                mine.0, mine.1, theirs.0, theirs.1
            )
        }
        PoolMethod::LeastLoaded if c.load.open_leads > winner.load.open_leads => {
            format!(
                "eligible; more open leads ({} vs {})",
                c.load.open_leads, winner.load.open_leads
            )
        }
        PoolMethod::LeastLoaded => {
            "eligible; as loaded, but served more recently or later in order".into()
        }
    }
}
