//! What the routing repositories share: mapping the routing tables' rows to
//! domain values and back, the agents' loads (open leads counted with one
//! grouped query for a whole set of agents), the organization's settings,
//! and ending a write transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use lead::{Lead, LeadId, LeadStatus};
use organization::Settings;
use proposal::{Proposal, ProposalId, ProposalStatus};
use routing::{
    Agent, AgentLoad, AgentStatus, Candidate, Condition, Method, Pool, PoolId, PoolMethod,
    RoutingError, Rule, RuleId, TraceEntry, WorkingHours,
};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    sea_query::LockType,
};
use serde_json::{Map, Value, json};
use tenancy::{AgentId, Email, OrgId, StorageError};

use crate::{
    entity::{agents, leads, organizations, pool_members, proposals, routing_pools, routing_rules},
    error::{corrupt, failed},
    scope::Scoped,
};

/// The stored names of a set of lead statuses (the sets are the `lead`
/// crate's: [`LeadStatus::OPEN`], [`LeadStatus::OWNED`]).
pub(crate) fn status_names<const N: usize>(set: [LeadStatus; N]) -> [&'static str; N] {
    set.map(LeadStatus::as_str)
}

/// Commits `result`'s transaction when it is `Ok`, rolls it back otherwise,
/// so that an error leaves nothing written and releases the locks at once.
pub(crate) async fn finish<T>(
    txn: crate::database::Txn,
    result: Result<T, RoutingError>,
) -> Result<T, RoutingError> {
    match result {
        Ok(value) => {
            txn.commit().await.map_err(failed("routing_rows: finish"))?;
            Ok(value)
        }
        Err(err) => {
            // The error to report is `err`; a failed rollback ends with the
            // connection anyway.
            let _ = txn.rollback().await;
            Err(err)
        }
    }
}

/// Whether the error is a foreign-key violation.
pub(crate) fn is_foreign_key_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(SqlErr::ForeignKeyConstraintViolation(_))
    )
}

/// A stored calendar day.
pub(crate) fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn strings(values: &[String]) -> Value {
    Value::Array(values.iter().cloned().map(Value::String).collect())
}

fn parse_strings(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

// ---- settings ----

/// The organization's settings; the defaults when it does not exist (its
/// rows are then refused by their foreign keys anyway). With `lock`, its row
/// stays locked for the rest of the transaction (`FOR NO KEY UPDATE` on
/// PostgreSQL: the foreign-key checks of the organization's other inserts,
/// which take `FOR KEY SHARE`, are not blocked).
pub(crate) async fn org_settings(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    lock: bool,
) -> Result<Settings, StorageError> {
    let mut query = organizations::Entity::find_by_id(org.org_id())
        .select_only()
        .column(organizations::Column::Settings);
    if lock {
        // Ignored by SQLite, whose IMMEDIATE transaction already holds the write lock.
        query = query.lock(LockType::NoKeyUpdate);
    }
    let settings = query
        .into_tuple::<Value>()
        .one(conn)
        .await
        .map_err(failed("routing_rows: org_settings"))?;
    match settings {
        Some(value) => Settings::parse(value)
            .map_err(|_| corrupt(format!("organization {}: invalid settings", org.org_id()))),
        None => Ok(Settings::default()),
    }
}

// ---- agents ----

fn working_hours_json(wh: &WorkingHours) -> Value {
    json!({
        "timezone": wh.timezone.name(),
        "days": wh.day_names(),
        "start": wh.start.format("%H:%M").to_string(),
        "end": wh.end.format("%H:%M").to_string(),
    })
}

fn parse_working_hours(value: &Value) -> Option<WorkingHours> {
    let text = |key: &str| value.get(key).and_then(Value::as_str);
    let days = parse_strings(value.get("days")?)?;
    WorkingHours::parse(text("timezone")?, &days, text("start")?, text("end")?).ok()
}

/// The agent's columns; the routing counters are left out (`NotSet`) so that
/// an update keeps them, and an insert takes their defaults.
pub(crate) fn agent_to_active(agent: &Agent) -> agents::ActiveModel {
    agents::ActiveModel {
        id: Set(agent.id.to_string()),
        org_id: Set(agent.org_id.to_string()),
        name: Set(agent.name.clone()),
        email: Set(agent.email.to_string()),
        user_id: Set(agent.user_id.clone()),
        skills: Set(strings(&agent.skills)),
        regions: Set(strings(&agent.regions)),
        weight: Set(to_i32(agent.weight)),
        capacity: Set(agent.capacity.map(to_i32)),
        daily_cap: Set(agent.daily_cap.map(to_i32)),
        status: Set(agent.status.as_str().to_owned()),
        working_hours: Set(agent.working_hours.as_ref().map(working_hours_json)),
        is_active: Set(agent.is_active),
        daily_count: NotSet,
        daily_count_day: NotSet,
        last_assigned_at: NotSet,
        open_leads: NotSet,
        created_at: Set(agent.created_at),
        updated_at: Set(agent.updated_at),
    }
}

pub(crate) fn agent_to_domain(m: &agents::Model) -> Result<Agent, StorageError> {
    let bad = |field: &str| corrupt(format!("agent {}: invalid {field}", m.id));
    let count = |v: Option<i32>, field: &str| {
        v.map(|n| u32::try_from(n).map_err(|_| bad(field)))
            .transpose()
    };
    Ok(Agent {
        id: AgentId::parse(&m.id).ok_or_else(|| bad("id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        name: m.name.clone(),
        email: Email::parse(&m.email).map_err(|_| bad("email"))?,
        user_id: m.user_id.clone(),
        skills: parse_strings(&m.skills).ok_or_else(|| bad("skills"))?,
        regions: parse_strings(&m.regions).ok_or_else(|| bad("regions"))?,
        weight: u32::try_from(m.weight).map_err(|_| bad("weight"))?,
        capacity: count(m.capacity, "capacity")?,
        daily_cap: count(m.daily_cap, "daily_cap")?,
        status: AgentStatus::parse(&m.status).map_err(|_| bad("status"))?,
        working_hours: m
            .working_hours
            .as_ref()
            .map(|v| parse_working_hours(v).ok_or_else(|| bad("working_hours")))
            .transpose()?,
        is_active: m.is_active,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// The load of `agent` (stored as `m`) with `open_leads` open leads.
pub(crate) fn load_of(
    agent: &Agent,
    m: &agents::Model,
    open_leads: u32,
    now: DateTime<Utc>,
) -> AgentLoad {
    AgentLoad::from_counters(
        agent,
        open_leads,
        u32::try_from(m.daily_count).unwrap_or(0),
        m.daily_count_day
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        m.last_assigned_at,
        now,
    )
}

/// Agent rows with their loads (the counters of their rows), in the order
/// given.
pub(crate) fn candidates(
    rows: &[agents::Model],
    now: DateTime<Utc>,
) -> Result<Vec<Candidate>, StorageError> {
    rows.iter()
        .map(|m| {
            let agent = agent_to_domain(m)?;
            let open = u32::try_from(m.open_leads).unwrap_or(0);
            let load = load_of(&agent, m, open, now);
            Ok(Candidate { agent, load })
        })
        .collect()
}

/// One agent of `org` with its load, its row locked for the rest of the
/// transaction when `lock` (the capacity check of a routing step).
pub(crate) async fn candidate(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    id: &str,
    lock: bool,
    now: DateTime<Utc>,
) -> Result<Option<Candidate>, StorageError> {
    // Its counters are read by the locking statement itself: on PostgreSQL
    // a lock that waited returns the row as the previous holder committed it.
    let Some(row) = org.one::<agents::Entity>(conn, id, lock).await? else {
        return Ok(None);
    };
    Ok(candidates(std::slice::from_ref(&row), now)?.pop())
}

// ---- pools ----

pub(crate) fn pool_to_domain(
    m: &routing_pools::Model,
    members: Vec<AgentId>,
) -> Result<Pool, StorageError> {
    let bad = |field: &str| corrupt(format!("pool {}: invalid {field}", m.id));
    Ok(Pool {
        id: PoolId::parse(&m.id).ok_or_else(|| bad("id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        name: m.name.clone(),
        method: PoolMethod::parse(&m.method).map_err(|_| bad("method"))?,
        member_ids: members,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub(crate) fn member_id(m: &pool_members::Model) -> Result<AgentId, StorageError> {
    AgentId::parse(&m.agent_id)
        .ok_or_else(|| corrupt(format!("pool {}: invalid member id", m.pool_id)))
}

/// The members of the pools `pool_ids`, each pool's in position order.
pub(crate) async fn members_of(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    pool_ids: &[String],
) -> Result<HashMap<String, Vec<pool_members::Model>>, StorageError> {
    if pool_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = org
        .find::<pool_members::Entity>()
        .filter(pool_members::Column::PoolId.is_in(pool_ids.iter().map(String::as_str)))
        .order_by_asc(pool_members::Column::PoolId)
        .order_by_asc(pool_members::Column::Position)
        .all(conn)
        .await
        .map_err(failed("routing_rows: members_of"))?;
    let mut by_pool: HashMap<String, Vec<pool_members::Model>> = HashMap::new();
    for row in rows {
        by_pool.entry(row.pool_id.clone()).or_default().push(row);
    }
    Ok(by_pool)
}

// ---- rules ----

pub(crate) fn rule_to_active(rule: &Rule) -> routing_rules::ActiveModel {
    let conditions = rule
        .conditions
        .iter()
        .map(|c| json!({"field": c.field, "op": c.op.as_str(), "value": c.value}))
        .collect();
    routing_rules::ActiveModel {
        id: Set(rule.id.to_string()),
        org_id: Set(rule.org_id.to_string()),
        name: Set(rule.name.clone()),
        priority: Set(rule.priority),
        conditions: Set(Value::Array(conditions)),
        pool_id: Set(rule.pool_id.to_string()),
        required_skills: Set(strings(&rule.required_skills)),
        created_at: Set(rule.created_at),
        updated_at: Set(rule.updated_at),
    }
}

pub(crate) fn rule_to_domain(m: &routing_rules::Model) -> Result<Rule, StorageError> {
    let bad = |field: &str| corrupt(format!("rule {}: invalid {field}", m.id));
    let conditions = m
        .conditions
        .as_array()
        .ok_or_else(|| bad("conditions"))?
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let text = |key: &str| c.get(key).and_then(Value::as_str);
            let (Some(field), Some(op), Some(value)) = (text("field"), text("op"), c.get("value"))
            else {
                return Err(bad("conditions"));
            };
            Condition::parse(&format!("conditions[{i}]"), field, op, value.clone())
                .map_err(|_| bad("conditions"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Rule {
        id: RuleId::parse(&m.id).ok_or_else(|| bad("id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        name: m.name.clone(),
        priority: m.priority,
        conditions,
        pool_id: PoolId::parse(&m.pool_id).ok_or_else(|| bad("pool_id"))?,
        required_skills: parse_strings(&m.required_skills).ok_or_else(|| bad("required_skills"))?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// Every rule of the organization, in evaluation order.
pub(crate) async fn all_rules(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
) -> Result<Vec<Rule>, StorageError> {
    org.find::<routing_rules::Entity>()
        .order_by_asc(routing_rules::Column::Priority)
        .order_by_asc(routing_rules::Column::CreatedAt)
        .order_by_asc(routing_rules::Column::Id)
        .all(conn)
        .await
        .map_err(failed("routing_rows: all_rules"))?
        .iter()
        .map(rule_to_domain)
        .collect()
}

// ---- leads ----

pub(crate) fn lead_to_active(lead: &Lead) -> leads::ActiveModel {
    leads::ActiveModel {
        id: Set(lead.id.to_string()),
        org_id: Set(lead.org_id.to_string()),
        external_id: Set(lead.external_id.clone()),
        name: Set(lead.name.clone()),
        email: Set(lead.email.as_ref().map(ToString::to_string)),
        phone: Set(lead.phone.clone()),
        company: Set(lead.company.clone()),
        source: Set(lead.source.clone()),
        region: Set(lead.region.clone()),
        country: Set(lead.country.clone()),
        score: Set(lead.score.map(i16::from)),
        fields: Set(Value::Object(lead.fields.clone())),
        status: Set(lead.status.as_str().to_owned()),
        agent_id: Set(lead.agent_id.as_ref().map(ToString::to_string)),
        // `Email` keeps its domain lower-case.
        email_domain: Set(lead.email.as_ref().map(|e| e.domain().to_owned())),
        unrouted_reason: Set(lead.unrouted_reason.clone()),
        created_at: Set(lead.created_at),
        updated_at: Set(lead.updated_at),
    }
}

pub(crate) fn lead_to_domain(m: &leads::Model) -> Result<Lead, StorageError> {
    let bad = |field: &str| corrupt(format!("lead {}: invalid {field}", m.id));
    let fields: Map<String, Value> = match &m.fields {
        Value::Object(map) => map.clone(),
        _ => return Err(bad("fields")),
    };
    Ok(Lead {
        id: LeadId::parse(&m.id).ok_or_else(|| bad("id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        external_id: m.external_id.clone(),
        name: m.name.clone(),
        email: m
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|_| bad("email"))?,
        phone: m.phone.clone(),
        company: m.company.clone(),
        source: m.source.clone(),
        region: m.region.clone(),
        country: m.country.clone(),
        score: m
            .score
            .map(u8::try_from)
            .transpose()
            .map_err(|_| bad("score"))?,
        fields,
        status: m.status.parse::<LeadStatus>().map_err(|_| bad("status"))?,
        agent_id: m
            .agent_id
            .as_deref()
            .map(|id| AgentId::parse(id).ok_or_else(|| bad("agent_id")))
            .transpose()?,
        unrouted_reason: m.unrouted_reason.clone(),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// The lead `id` of `org`, locked for the rest of the transaction when `lock`.
pub(crate) async fn find_lead(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    id: &str,
    lock: bool,
) -> Result<Option<Lead>, StorageError> {
    org.one::<leads::Entity>(conn, id, lock)
        .await?
        .as_ref()
        .map(lead_to_domain)
        .transpose()
}

/// Writes a lead's changing columns back.
pub(crate) async fn update_lead(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    lead: &Lead,
) -> Result<(), StorageError> {
    let mut row = lead_to_active(lead);
    // Never changed after ingestion; the organization is the scope's.
    row.org_id = NotSet;
    row.external_id = NotSet;
    row.created_at = NotSet;
    leads::Entity::update(row)
        .validate()
        .map_err(failed("routing_rows: update_lead"))?
        .filter(org.owns::<leads::Entity>())
        .exec_without_returning(conn)
        .await
        .map_err(failed("routing_rows: update_lead"))?;
    Ok(())
}

// ---- proposals ----

pub(crate) fn proposal_to_active(p: &Proposal) -> proposals::ActiveModel {
    let trace = p
        .trace
        .iter()
        .map(
            |t| json!({"agentId": t.agent_id.as_str(), "eligible": t.eligible, "reason": t.reason}),
        )
        .collect();
    proposals::ActiveModel {
        id: Set(p.id.to_string()),
        org_id: Set(p.org_id.to_string()),
        lead_id: Set(p.lead_id.to_string()),
        agent_id: Set(p.agent_id.to_string()),
        status: Set(p.status.as_str().to_owned()),
        method: Set(p.method.as_str().to_owned()),
        pool_id: Set(p.pool_id.as_ref().map(ToString::to_string)),
        rule_id: Set(p.rule_id.as_ref().map(ToString::to_string)),
        trace: Set(Value::Array(trace)),
        created_at: Set(p.created_at),
        decided_by: Set(p.decided_by.clone()),
        decided_at: Set(p.decided_at),
        note: Set(p.note.clone()),
    }
}

pub(crate) fn proposal_to_domain(m: &proposals::Model) -> Result<Proposal, StorageError> {
    let bad = |field: &str| corrupt(format!("proposal {}: invalid {field}", m.id));
    let trace = m
        .trace
        .as_array()
        .ok_or_else(|| bad("trace"))?
        .iter()
        .map(|t| {
            Some(TraceEntry {
                agent_id: AgentId::parse(t.get("agentId")?.as_str()?)?,
                eligible: t.get("eligible")?.as_bool()?,
                reason: t.get("reason")?.as_str()?.to_owned(),
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("trace"))?;
    Ok(Proposal {
        id: ProposalId::parse(&m.id).ok_or_else(|| bad("id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        lead_id: LeadId::parse(&m.lead_id).ok_or_else(|| bad("lead_id"))?,
        agent_id: AgentId::parse(&m.agent_id).ok_or_else(|| bad("agent_id"))?,
        status: ProposalStatus::parse(&m.status).map_err(|_| bad("status"))?,
        method: Method::parse(&m.method).map_err(|_| bad("method"))?,
        pool_id: m
            .pool_id
            .as_deref()
            .map(|id| PoolId::parse(id).ok_or_else(|| bad("pool_id")))
            .transpose()?,
        rule_id: m
            .rule_id
            .as_deref()
            .map(|id| RuleId::parse(id).ok_or_else(|| bad("rule_id")))
            .transpose()?,
        trace,
        created_at: m.created_at,
        decided_by: m.decided_by.clone(),
        decided_at: m.decided_at,
        note: m.note.clone(),
    })
}

/// The latest proposal of a lead (newest first, ties by id, which sort by
/// creation time).
pub(crate) async fn latest_proposal(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    lead: &str,
) -> Result<Option<Proposal>, StorageError> {
    org.find::<proposals::Entity>()
        .filter(proposals::Column::LeadId.eq(lead))
        .order_by_desc(proposals::Column::CreatedAt)
        .order_by_desc(proposals::Column::Id)
        .one(conn)
        .await
        .map_err(failed("routing_rows: latest_proposal"))?
        .as_ref()
        .map(proposal_to_domain)
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_hours_round_trip_through_json() {
        let wh = WorkingHours::parse(
            "Europe/Paris",
            &["mon".to_owned(), "fri".to_owned()],
            "09:00",
            "17:30",
        )
        .expect("valid hours");
        let json = working_hours_json(&wh);
        assert_eq!(json["start"], "09:00");
        assert_eq!(json["end"], "17:30");
        assert_eq!(parse_working_hours(&json), Some(wh));
    }
}
