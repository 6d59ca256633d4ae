//! The cost of the pure routing decision.
//!
//! - `plan/<method>/<members>`: step 2 over a pool of 10, 1,000 and 10,000
//!   members for each method. Members are mixed so the trace has both kinds
//!   of entries: every 7th is away, every 11th at capacity, every 13th lacks
//!   the rule's required skill, every 5th has working hours in its own time
//!   zone (inside them at `now`).
//! - `eligibility_only/10000`: the eligibility checks alone over the largest
//!   pool, to split `plan`'s cost between checking and choosing + tracing.
//! - `select_target/100_rules`: step 1 over 100 rules of 3 conditions each
//!   where only the last one (by priority) matches.
//!
//! Run with `cargo bench -p routing`; see docs/performance.md.

use std::{collections::HashSet, hint::black_box, time::Duration};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lead::{Lead, NewLead, NewLeadInput};
use routing::{
    Agent, AgentLoad, AgentStatus, Candidate, Condition, Pool, PoolId, PoolMethod, PoolState,
    RoutingSettings, Rule, RuleId, WorkingHours,
    engine::{PlanInput, Target, ineligibility, plan, select_target},
};
use serde_json::{Value, json};
use tenancy::{AgentId, Email, OrgId};

const SIZES: [usize; 3] = [10, 1_000, 10_000];

/// Wednesday 2 December 2026, 10:00 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0)
        .single()
        .expect("a valid date")
}

fn lead() -> Lead {
    NewLead::parse(NewLeadInput {
        name: "Ann Lee".into(),
        email: Some("ann@acme.com".into()),
        company: Some("ACME Industries".into()),
        country: Some("FR".into()),
        source: Some("web".into()),
        score: Some(70),
        ..Default::default()
    })
    .expect("a valid lead")
    .into_lead(OrgId::default_org(), now())
}

fn candidate(i: usize) -> Candidate {
    let id = AgentId::parse(&format!("agt_{i:05}")).expect("a valid id");
    let skills = if i.is_multiple_of(13) {
        vec!["german".to_owned()]
    } else {
        vec!["german".to_owned(), "spanish".to_owned()]
    };
    let working_hours = i.is_multiple_of(5).then(|| {
        let days: Vec<String> = ["mon", "tue", "wed", "thu", "fri"]
            .map(str::to_owned)
            .into();
        WorkingHours::parse("Europe/Paris", &days, "08:00", "18:00").expect("valid hours")
    });
    let at_capacity = i.is_multiple_of(11);
    Candidate {
        agent: Agent {
            id,
            org_id: OrgId::default_org(),
            name: format!("Agent {i}"),
            email: Email::parse(&format!("agent{i}@example.com")).expect("a valid e-mail"),
            user_id: None,
            skills,
            regions: Vec::new(),
            weight: 1 + (i % 3) as u32,
            capacity: Some(5),
            daily_cap: Some(1_000),
            status: if i.is_multiple_of(7) {
                AgentStatus::Away
            } else {
                AgentStatus::Available
            },
            working_hours,
            is_active: true,
            created_at: now(),
            updated_at: now(),
        },
        load: AgentLoad {
            open_leads: if at_capacity { 5 } else { (i % 5) as u32 },
            today: (i % 4) as u32,
            last_assigned_at: (!i.is_multiple_of(3)).then(|| now() - TimeDelta::minutes(i as i64)),
        },
    }
}

/// Owned inputs of one `plan` call.
struct Fixture {
    lead: Lead,
    settings: RoutingSettings,
    rule: Rule,
    pool: Pool,
    state: PoolState,
    members: Vec<Candidate>,
    excluded: HashSet<AgentId>,
}

fn fixture(method: PoolMethod, n: usize) -> Fixture {
    let members: Vec<Candidate> = (0..n).map(candidate).collect();
    let pool = Pool {
        id: PoolId::parse("pool_bench").expect("a valid id"),
        org_id: OrgId::default_org(),
        name: "Bench".into(),
        method,
        member_ids: members.iter().map(|c| c.agent.id.clone()).collect(),
        created_at: now(),
        updated_at: now(),
    };
    let state = PoolState {
        last_agent_id: Some(members[n / 2].agent.id.clone()),
        assignments: members
            .iter()
            .enumerate()
            .map(|(i, c)| (c.agent.id.clone(), (i % 17) as u64))
            .collect(),
    };
    let mut rule = rule(0, vec![], &pool.id);
    rule.required_skills = vec!["spanish".into()];
    Fixture {
        lead: lead(),
        settings: RoutingSettings::default(),
        rule,
        pool,
        state,
        members,
        excluded: HashSet::from([AgentId::parse("agt_00001").expect("a valid id")]),
    }
}

fn cond(field: &str, op: &str, value: Value) -> Condition {
    Condition::parse("c", field, op, value).expect("a valid condition")
}

fn rule(i: usize, conditions: Vec<Condition>, pool_id: &PoolId) -> Rule {
    Rule {
        id: RuleId::parse(&format!("rule_{i:03}")).expect("a valid id"),
        org_id: OrgId::default_org(),
        name: format!("rule {i}"),
        priority: i as i32,
        conditions,
        pool_id: pool_id.clone(),
        required_skills: Vec::new(),
        created_at: now(),
        updated_at: now(),
    }
}

/// 100 rules of 3 conditions; the first two hold for the lead, the third only
/// for the last rule, so every condition of every rule is evaluated.
fn hundred_rules() -> Vec<Rule> {
    let pool_id = PoolId::parse("pool_bench").expect("a valid id");
    (0..100)
        .map(|i| {
            let countries = if i == 99 {
                json!(["DE", "FR"])
            } else {
                json!([format!("X{i}"), format!("Y{i}")])
            };
            rule(
                i,
                vec![
                    cond("company", "contains", json!("acme")),
                    cond("score", "gte", json!(50)),
                    cond("country", "in", countries),
                ],
                &pool_id,
            )
        })
        .collect()
}

fn bench_plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for (name, method) in [
        ("round_robin", PoolMethod::RoundRobin),
        ("weighted", PoolMethod::Weighted),
        ("least_loaded", PoolMethod::LeastLoaded),
    ] {
        for n in SIZES {
            let f = fixture(method, n);
            let target = Target::Pool {
                pool_id: f.pool.id.clone(),
                rule: Some(&f.rule),
            };
            let input = PlanInput {
                lead: &f.lead,
                settings: &f.settings,
                target: &target,
                pool: Some(&f.pool),
                state: &f.state,
                members: &f.members,
                sticky: None,
                fallback: None,
                excluded: &f.excluded,
                now: now(),
            };
            // Sanity: the pool decides and the trace has both kinds of entries.
            let p = plan(&input);
            assert!(p.pool_update.is_some(), "{name}/{n}: no pool decision");
            assert_eq!(p.trace.len(), n);
            assert!(p.trace.iter().any(|e| !e.eligible));
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(name, n), &input, |b, input| {
                b.iter(|| plan(black_box(input)));
            });
        }
    }
    group.finish();
}

/// The eligibility checks alone over the largest pool (what `plan` does before
/// choosing and writing the trace), to split the cost of `plan`.
fn bench_eligibility(c: &mut Criterion) {
    let n = 10_000;
    let f = fixture(PoolMethod::RoundRobin, n);
    let mut group = c.benchmark_group("eligibility_only");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        b.iter(|| {
            black_box(&f.members)
                .iter()
                .map(|c| ineligibility(c, &f.rule.required_skills, &f.excluded, now()))
                .collect::<Vec<_>>()
        });
    });
    group.finish();
}

fn bench_select_target(c: &mut Criterion) {
    let rules = hundred_rules();
    let lead = lead();
    let settings = RoutingSettings::default();
    match select_target(&lead, &rules, &settings) {
        Target::Pool { rule: Some(r), .. } => assert_eq!(r.priority, 99, "only the last matches"),
        other => panic!("unexpected target {other:?}"),
    }
    let mut group = c.benchmark_group("select_target");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    group.throughput(Throughput::Elements(rules.len() as u64));
    group.bench_function("100_rules", |b| {
        b.iter(|| select_target(black_box(&lead), black_box(&rules), black_box(&settings)));
    });
    group.finish();
}

criterion_group!(benches, bench_plan, bench_eligibility, bench_select_target);
criterion_main!(benches);
