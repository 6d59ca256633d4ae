//! [`RoutingStore`] on sea-orm: the atomic routing steps.
//!
//! Each step is one write transaction ([`Database::begin_write`]). On SQLite
//! it begins `IMMEDIATE`, so routing steps run one at a time and every read
//! is exact. On PostgreSQL the target pool's row is locked (`FOR UPDATE`)
//! before its state and its members' loads are read: that lock is the one
//! ordering point of a pool, which makes round robin and weighted counts
//! exact under concurrency while other pools proceed in parallel. An agent
//! with a capacity or daily cap can sit in several pools, so before it is
//! given a lead its row is locked too and its load counted again; if it is
//! full after all, that lock is let go (a savepoint is rolled back) and the
//! lead planned again, so a step never waits for an agent while holding
//! another agent's lock.
//!
//! Every transaction takes its locks in the same order, so that two of them
//! never wait on each other in a cycle: proposal → lead → pool → agents →
//! pool member rows. (A rejection therefore releases the rejected agent's
//! counters after routing the lead again, not before: the release touches
//! agent and member rows, which come after the pool. The outcome is the
//! same: the rejected agent is excluded from that routing anyway.)

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lead::{Lead, LeadStatus};
use routing::{
    Agent, Candidate, Method, Pool, PoolId, PoolState, Proposal, ProposalId, ProposalStatus,
    RoutingError, RoutingSettings, TraceEntry,
    engine::{self, Plan, PlanInput, Target},
    ports::{Routed, RoutingStore},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionSession, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use tenancy::{AgentId, OrgId, StorageError, ValidationErrors};

use crate::{
    Database,
    entity::{agents, leads, pool_members, proposals, routing_pools},
    error::{corrupt, storage, violates_unique},
    routing_rows::{
        ASSIGNED_STATUSES, AgentSet, agent_to_domain, all_rules, candidate, candidates,
        daily_count_increment, day_key, find_lead, finish, latest_proposal, lead_to_active,
        lead_to_domain, member_id, members_of, open_lead_counts, org_settings, pool_member_ids,
        pool_to_domain, proposal_to_active, proposal_to_domain, stored_reason, update_lead,
    },
};

/// The routing steps, on the routing tables.
#[derive(Clone, Debug)]
pub struct SeaOrmRoutingStore {
    db: Database,
}

impl SeaOrmRoutingStore {
    /// A store on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl RoutingStore for SeaOrmRoutingStore {
    async fn ingest(&self, mut lead: Lead, now: DateTime<Utc>) -> Result<Routed, RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        match replay(&txn, &lead).await {
            Ok(None) => {}
            // Read only so far: nothing to keep.
            Ok(Some(existing)) => {
                let _ = txn.rollback().await;
                return Ok(existing);
            }
            Err(err) => {
                let _ = txn.rollback().await;
                return Err(err.into());
            }
        }
        lead.status = LeadStatus::New;
        lead.agent_id = None;
        lead.unrouted_reason = None;
        // Inserted before anything is locked, so a duplicate `externalId`
        // is found out before the pool is held.
        if let Err(err) = leads::Entity::insert(lead_to_active(&lead))
            .exec_without_returning(&txn)
            .await
        {
            let _ = txn.rollback().await;
            let duplicate = violates_unique(
                &err,
                "uq_leads_org_external_id",
                "leads",
                &["org_id", "external_id"],
            );
            // The same `externalId` committed by a concurrent ingestion since
            // the check (on PostgreSQL the insert waited for it to commit).
            if duplicate && let Some(existing) = replay(self.db.connection(), &lead).await? {
                return Ok(existing);
            }
            return Err(RoutingError::Storage(storage(err)));
        }
        let result = route_new(&txn, lead, now).await;
        finish(txn, result).await
    }

    async fn approve(
        &self,
        org: &OrgId,
        id: &ProposalId,
        by: &str,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Routed, RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        let result = approve_in(&txn, org, id, by, note, now).await;
        finish(txn, result).await
    }

    async fn reject(
        &self,
        org: &OrgId,
        id: &ProposalId,
        by: &str,
        note: Option<String>,
        reassign_to: Option<AgentId>,
        now: DateTime<Utc>,
    ) -> Result<(Proposal, Routed), RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        let result = reject_in(&txn, org, id, by, note, reassign_to, now).await;
        finish(txn, result).await
    }

    async fn simulate(&self, lead: &Lead, now: DateTime<Utc>) -> Result<Plan, RoutingError> {
        // Plain reads, no locks: a simulation decides nothing.
        let decision = decide(self.db.connection(), lead, &HashSet::new(), now, false).await?;
        Ok(decision.plan)
    }
}

/// The lead of the organization with `lead`'s `externalId`, with its latest
/// proposal, if there is one.
async fn replay(conn: &impl ConnectionTrait, lead: &Lead) -> Result<Option<Routed>, StorageError> {
    let Some(external_id) = &lead.external_id else {
        return Ok(None);
    };
    let Some(row) = leads::Entity::find()
        .filter(leads::Column::OrgId.eq(lead.org_id.as_str()))
        .filter(leads::Column::ExternalId.eq(external_id.as_str()))
        .one(conn)
        .await
        .map_err(storage)?
    else {
        return Ok(None);
    };
    let proposal = latest_proposal(conn, &lead.org_id, &row.id).await?;
    Ok(Some(Routed {
        lead: lead_to_domain(&row)?,
        proposal,
        created: false,
    }))
}

/// Steps (c)-(h) of an ingestion, the lead stored as `new`.
async fn route_new(
    txn: &DatabaseTransaction,
    mut lead: Lead,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    let decision = decide(txn, &lead, &HashSet::new(), now, true).await?;
    let proposal = write_decision(txn, &mut lead, &decision, now).await?;
    Ok(Routed {
        lead,
        proposal,
        created: true,
    })
}

async fn approve_in(
    txn: &DatabaseTransaction,
    org: &OrgId,
    id: &ProposalId,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    let mut proposal = find_proposal_locked(txn, org, id)
        .await?
        .ok_or(RoutingError::NotFound("proposal"))?;
    proposal.decide(ProposalStatus::Approved, by, note, now)?;
    write_review(txn, &proposal).await?;
    let mut lead = lead_of(txn, &proposal).await?;
    lead.status = LeadStatus::Assigned;
    lead.agent_id = Some(proposal.agent_id.clone());
    lead.unrouted_reason = None;
    lead.updated_at = now;
    update_lead(txn, &lead).await?;
    Ok(Routed {
        lead,
        proposal: Some(proposal),
        created: false,
    })
}

async fn reject_in(
    txn: &DatabaseTransaction,
    org: &OrgId,
    id: &ProposalId,
    by: &str,
    note: Option<String>,
    reassign_to: Option<AgentId>,
    now: DateTime<Utc>,
) -> Result<(Proposal, Routed), RoutingError> {
    let mut rejected = find_proposal_locked(txn, org, id)
        .await?
        .ok_or(RoutingError::NotFound("proposal"))?;
    rejected.decide(ProposalStatus::Rejected, by, note, now)?;
    let mut lead = lead_of(txn, &rejected).await?;
    let reassignee = match &reassign_to {
        Some(to) => match candidate(txn, org, to.as_str(), true, now).await? {
            Some(c) if c.agent.is_active => Some(c.agent),
            _ => {
                return Err(ValidationErrors::single(
                    "reassignTo",
                    "is not an active agent of this organization",
                )
                .into());
            }
        },
        None => None,
    };
    write_review(txn, &rejected).await?;
    lead.agent_id = None;
    let proposal = match reassignee {
        Some(agent) => Some(reassign(txn, &mut lead, &agent, by, now).await?),
        None => {
            // Stored as rejected above, so the agent just refused is among them.
            let excluded = rejected_agents(txn, org, &lead).await?;
            let decision = decide(txn, &lead, &excluded, now, true).await?;
            write_decision(txn, &mut lead, &decision, now).await?
        }
    };
    release(txn, &rejected).await?;
    Ok((
        rejected,
        Routed {
            lead,
            proposal,
            created: false,
        },
    ))
}

/// What a routing decision read, and decided.
struct Decision {
    plan: Plan,
    settings: RoutingSettings,
    /// The chosen agent as read: its time zone says which day it is counted on.
    chosen: Option<Agent>,
}

/// Steps (c)-(g): reads the settings, the rules, the target pool (locked
/// when `write`) with its members' loads, the sticky owner and the fallback
/// agent; plans; and, when `write`, makes sure the chosen agent is still
/// under its capacity and daily cap.
async fn decide(
    conn: &(impl ConnectionTrait + TransactionTrait),
    lead: &Lead,
    excluded: &HashSet<AgentId>,
    now: DateTime<Utc>,
    write: bool,
) -> Result<Decision, StorageError> {
    let org = &lead.org_id;
    let settings = RoutingSettings::from(&org_settings(conn, org, false).await?);
    let rules = all_rules(conn, org).await?;
    let target = engine::select_target(lead, &rules, &settings);
    let (pool, state, mut members) = match &target {
        Target::Pool { pool_id, .. } => read_pool(conn, org, pool_id, write, now).await?,
        Target::Nowhere => (None, PoolState::default(), Vec::new()),
    };
    let mut sticky = if settings.sticky_by_domain {
        sticky_owner(conn, lead, now).await?
    } else {
        None
    };
    let fallback = match &settings.fallback_agent_id {
        Some(id) => candidate(conn, org, id.as_str(), false, now).await?,
        None => None,
    };
    let plan_now = |members: &[Candidate], sticky: Option<&Candidate>| {
        engine::plan(&PlanInput {
            lead,
            settings: &settings,
            target: &target,
            pool: pool.as_ref(),
            state: &state,
            members,
            sticky,
            fallback: fallback.as_ref(),
            excluded,
            now,
        })
    };
    let chosen_in = |plan: &Plan, members: &[Candidate], sticky: Option<&Candidate>| {
        let choice = plan.choice.as_ref()?;
        members
            .iter()
            .chain(sticky)
            .chain(fallback.as_ref())
            .find(|c| c.agent.id == choice.agent_id)
            .map(|c| c.agent.clone())
    };
    // Agents whose load was counted again under their row lock.
    let mut rechecked: HashSet<AgentId> = HashSet::new();
    let plan = loop {
        let plan = plan_now(&members, sticky.as_ref());
        // The capacity race: the loads above were read under the pool's
        // lock, but a capped agent may sit in other pools, whose routing
        // steps hold other locks. The fallback agent's caps are not checked
        // at all (it exists so that nothing is dropped).
        let recheck = chosen_in(&plan, &members, sticky.as_ref()).filter(|agent| {
            write
                && plan
                    .choice
                    .as_ref()
                    .is_some_and(|c| c.method != Method::Fallback)
                && (agent.capacity.is_some() || agent.daily_cap.is_some())
                && !rechecked.contains(&agent.id)
        });
        let Some(agent) = recheck else {
            break plan;
        };
        rechecked.insert(agent.id.clone());
        // Locked inside a savepoint: an agent found full is let go at once,
        // so a routing step never holds one agent's lock while it waits for
        // another's (two steps doing so in opposite orders would deadlock on
        // PostgreSQL).
        let savepoint = conn.begin().await.map_err(storage)?;
        let fresh = match candidate(&savepoint, org, agent.id.as_str(), true, now).await {
            Ok(fresh) => fresh,
            Err(err) => {
                let _ = savepoint.rollback().await;
                return Err(err);
            }
        };
        let fresh = match fresh {
            Some(fresh) if !over_caps(&fresh) => fresh,
            full => {
                savepoint.rollback().await.map_err(storage)?;
                // Full after all: planned again with its exact load, the
                // trace says so and the next eligible candidate is
                // considered. Bounded: every round rechecks another agent.
                if let Some(full) = full {
                    replace(&mut members, &mut sticky, &full);
                }
                continue;
            }
        };
        savepoint.commit().await.map_err(storage)?;
        replace(&mut members, &mut sticky, &fresh);
        // Its exact load can make another member the least loaded; that
        // one is not taken (it would need a second lock): the chosen agent
        // is under its caps, which is what must hold. Otherwise the plan is
        // remade so that the trace shows the exact load.
        let exact = plan_now(&members, sticky.as_ref());
        break if exact.choice == plan.choice {
            exact
        } else {
            plan
        };
    };
    let chosen = chosen_in(&plan, &members, sticky.as_ref());
    Ok(Decision {
        plan,
        settings,
        chosen,
    })
}

/// Whether a candidate has reached its capacity or daily cap.
fn over_caps(c: &Candidate) -> bool {
    c.agent.capacity.is_some_and(|cap| c.load.open_leads >= cap)
        || c.agent.daily_cap.is_some_and(|cap| c.load.today >= cap)
}

/// Puts a candidate read again in place of its earlier reading.
fn replace(members: &mut [Candidate], sticky: &mut Option<Candidate>, fresh: &Candidate) {
    for c in members.iter_mut().chain(sticky.iter_mut()) {
        if c.agent.id == fresh.agent.id {
            c.clone_from(fresh);
        }
    }
}

/// The target pool (its row locked when `lock`), its rotation state and its
/// members with their loads, in member order: four queries whatever the
/// pool's size.
async fn read_pool(
    conn: &impl ConnectionTrait,
    org: &OrgId,
    pool_id: &PoolId,
    lock: bool,
    now: DateTime<Utc>,
) -> Result<(Option<Pool>, PoolState, Vec<Candidate>), StorageError> {
    let mut query = routing_pools::Entity::find_by_id(pool_id.as_str())
        .filter(routing_pools::Column::OrgId.eq(org.as_str()));
    if lock {
        // The ordering point of the pool on PostgreSQL; ignored by SQLite,
        // whose IMMEDIATE transaction already holds the write lock.
        query = query.lock_exclusive();
    }
    let Some(row) = query.one(conn).await.map_err(storage)? else {
        return Ok((None, PoolState::default(), Vec::new()));
    };
    let member_rows = members_of(conn, org, std::slice::from_ref(&row.id))
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    let agent_rows = agents::Entity::find()
        .filter(agents::Column::OrgId.eq(org.as_str()))
        .filter(agents::Column::Id.in_subquery(pool_member_ids(org, &row.id)))
        .all(conn)
        .await
        .map_err(storage)?;
    let counts = open_lead_counts(conn, org, AgentSet::Pool(&row.id)).await?;
    let mut by_id: HashMap<String, agents::Model> =
        agent_rows.into_iter().map(|a| (a.id.clone(), a)).collect();
    let ordered: Vec<agents::Model> = member_rows
        .iter()
        .filter_map(|m| by_id.remove(&m.agent_id))
        .collect();
    let members = candidates(&ordered, &counts, now)?;
    let mut assignments = HashMap::with_capacity(member_rows.len());
    let mut member_ids = Vec::with_capacity(member_rows.len());
    for m in &member_rows {
        let id = member_id(m)?;
        assignments.insert(id.clone(), u64::try_from(m.assignments).unwrap_or(0));
        member_ids.push(id);
    }
    let state = PoolState {
        last_agent_id: row.last_agent_id.as_deref().and_then(AgentId::parse),
        assignments,
    };
    Ok((Some(pool_to_domain(&row, member_ids)?), state, members))
}

/// The owner of the organization's latest assigned lead from the lead's
/// e-mail domain, with its load.
async fn sticky_owner(
    conn: &impl ConnectionTrait,
    lead: &Lead,
    now: DateTime<Utc>,
) -> Result<Option<Candidate>, StorageError> {
    let Some(email) = &lead.email else {
        return Ok(None);
    };
    let owner = leads::Entity::find()
        .select_only()
        .column(leads::Column::AgentId)
        .filter(leads::Column::OrgId.eq(lead.org_id.as_str()))
        .filter(leads::Column::EmailDomain.eq(email.domain()))
        .filter(leads::Column::Status.is_in(ASSIGNED_STATUSES))
        .filter(leads::Column::AgentId.is_not_null())
        .filter(leads::Column::Id.ne(lead.id.as_str()))
        .order_by_desc(leads::Column::CreatedAt)
        .order_by_desc(leads::Column::Id)
        .into_tuple::<String>()
        .one(conn)
        .await
        .map_err(storage)?;
    match owner {
        Some(id) => candidate(conn, &lead.org_id, &id, false, now).await,
        None => Ok(None),
    }
}

/// Step (h): the lead's new state, the proposal, the agent's counters and
/// the pool's state.
async fn write_decision(
    conn: &impl ConnectionTrait,
    lead: &mut Lead,
    decision: &Decision,
    now: DateTime<Utc>,
) -> Result<Option<Proposal>, StorageError> {
    let plan = &decision.plan;
    let proposal = plan.proposal(lead, decision.settings.auto_approve, now);
    match &proposal {
        Some(p) => {
            lead.status = match p.status {
                ProposalStatus::Approved => LeadStatus::Assigned,
                _ => LeadStatus::Proposed,
            };
            lead.agent_id = Some(p.agent_id.clone());
            lead.unrouted_reason = None;
        }
        None => {
            lead.status = LeadStatus::Unrouted;
            lead.agent_id = None;
            lead.unrouted_reason = stored_reason(plan.unrouted_reason.clone());
        }
    }
    lead.updated_at = now;
    update_lead(conn, lead).await?;
    if let Some(agent) = &decision.chosen {
        count_assignment(conn, agent, now).await?;
    }
    if let Some(p) = &proposal {
        proposals::Entity::insert(proposal_to_active(p))
            .exec_without_returning(conn)
            .await
            .map_err(storage)?;
    }
    if let Some(update) = &plan.pool_update {
        // Both counters, whatever the method: the cursor matters to round
        // robin, the count to weighted pools, and keeping both current lets a
        // pool change method without a jump.
        routing_pools::Entity::update_many()
            .col_expr(
                routing_pools::Column::LastAgentId,
                Expr::value(update.served.as_str()),
            )
            .filter(routing_pools::Column::OrgId.eq(lead.org_id.as_str()))
            .filter(routing_pools::Column::Id.eq(update.pool_id.as_str()))
            .exec(conn)
            .await
            .map_err(storage)?;
        pool_members::Entity::update_many()
            .col_expr(
                pool_members::Column::Assignments,
                pool_members::Column::Assignments.into_expr().add(1),
            )
            .filter(pool_members::Column::OrgId.eq(lead.org_id.as_str()))
            .filter(pool_members::Column::PoolId.eq(update.pool_id.as_str()))
            .filter(pool_members::Column::AgentId.eq(update.served.as_str()))
            .exec(conn)
            .await
            .map_err(storage)?;
    }
    Ok(proposal)
}

/// Counts a new lead for the agent on its local day, in one statement.
async fn count_assignment(
    conn: &impl ConnectionTrait,
    agent: &Agent,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let day = day_key(agent.local_day(now));
    agents::Entity::update_many()
        .col_expr(agents::Column::DailyCount, daily_count_increment(&day))
        .col_expr(agents::Column::DailyCountDay, Expr::value(day))
        .col_expr(agents::Column::LastAssignedAt, Expr::value(now))
        .filter(agents::Column::OrgId.eq(agent.org_id.as_str()))
        .filter(agents::Column::Id.eq(agent.id.as_str()))
        .exec(conn)
        .await
        .map_err(storage)?;
    Ok(())
}

/// Gives back what a rejected proposal took from its agent: one lead of its
/// daily count (while that count is still of the proposal's day) and, for a
/// proposal a pool method made, one weighted assignment in that pool. Its
/// capacity is given back by the lead leaving it.
async fn release(conn: &impl ConnectionTrait, rejected: &Proposal) -> Result<(), StorageError> {
    let org = rejected.org_id.as_str();
    let agent_id = rejected.agent_id.as_str();
    if let Some(row) = agents::Entity::find_by_id(agent_id)
        .filter(agents::Column::OrgId.eq(org))
        .one(conn)
        .await
        .map_err(storage)?
    {
        let day = day_key(agent_to_domain(&row)?.local_day(rejected.created_at));
        agents::Entity::update_many()
            .col_expr(
                agents::Column::DailyCount,
                agents::Column::DailyCount.into_expr().sub(1),
            )
            .filter(agents::Column::OrgId.eq(org))
            .filter(agents::Column::Id.eq(agent_id))
            .filter(agents::Column::DailyCountDay.eq(day))
            .filter(agents::Column::DailyCount.gt(0))
            .exec(conn)
            .await
            .map_err(storage)?;
    }
    let counted_in_pool = matches!(
        rejected.method,
        Method::RoundRobin | Method::Weighted | Method::LeastLoaded
    );
    if let (true, Some(pool_id)) = (counted_in_pool, &rejected.pool_id) {
        pool_members::Entity::update_many()
            .col_expr(
                pool_members::Column::Assignments,
                pool_members::Column::Assignments.into_expr().sub(1),
            )
            .filter(pool_members::Column::OrgId.eq(org))
            .filter(pool_members::Column::PoolId.eq(pool_id.as_str()))
            .filter(pool_members::Column::AgentId.eq(agent_id))
            .filter(pool_members::Column::Assignments.gt(0))
            .exec(conn)
            .await
            .map_err(storage)?;
    }
    Ok(())
}

/// Assigns the lead to `agent` by hand: an approved [`Method::Manual`]
/// proposal, the lead `assigned`, the agent's counters.
async fn reassign(
    conn: &impl ConnectionTrait,
    lead: &mut Lead,
    agent: &Agent,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Proposal, StorageError> {
    let proposal = Proposal {
        id: ProposalId::generate(),
        org_id: lead.org_id.clone(),
        lead_id: lead.id.clone(),
        agent_id: agent.id.clone(),
        status: ProposalStatus::Approved,
        method: Method::Manual,
        pool_id: None,
        rule_id: None,
        trace: vec![TraceEntry {
            agent_id: agent.id.clone(),
            eligible: true,
            reason: format!("selected: reassigned by {by}"),
        }],
        created_at: now,
        decided_by: Some(by.to_owned()),
        decided_at: Some(now),
        note: None,
    };
    lead.status = LeadStatus::Assigned;
    lead.agent_id = Some(agent.id.clone());
    lead.unrouted_reason = None;
    lead.updated_at = now;
    update_lead(conn, lead).await?;
    count_assignment(conn, agent, now).await?;
    proposals::Entity::insert(proposal_to_active(&proposal))
        .exec_without_returning(conn)
        .await
        .map_err(storage)?;
    Ok(proposal)
}

/// Every agent with a rejected proposal for the lead: never proposed again.
async fn rejected_agents(
    conn: &impl ConnectionTrait,
    org: &OrgId,
    lead: &Lead,
) -> Result<HashSet<AgentId>, StorageError> {
    proposals::Entity::find()
        .select_only()
        .column(proposals::Column::AgentId)
        .filter(proposals::Column::OrgId.eq(org.as_str()))
        .filter(proposals::Column::LeadId.eq(lead.id.as_str()))
        .filter(proposals::Column::Status.eq(ProposalStatus::Rejected.as_str()))
        .into_tuple::<String>()
        .all(conn)
        .await
        .map_err(storage)?
        .iter()
        .map(|id| AgentId::parse(id).ok_or_else(|| corrupt(format!("proposal agent id {id}"))))
        .collect()
}

/// The proposal `id` of `org`, locked for the rest of the transaction:
/// of two concurrent decisions, the second waits and finds it decided.
async fn find_proposal_locked(
    conn: &impl ConnectionTrait,
    org: &OrgId,
    id: &ProposalId,
) -> Result<Option<Proposal>, StorageError> {
    proposals::Entity::find_by_id(id.as_str())
        .filter(proposals::Column::OrgId.eq(org.as_str()))
        // Ignored by SQLite, whose IMMEDIATE transaction already holds the write lock.
        .lock_exclusive()
        .one(conn)
        .await
        .map_err(storage)?
        .as_ref()
        .map(proposal_to_domain)
        .transpose()
}

/// The proposal's lead, locked; the composite foreign key guarantees it.
async fn lead_of(conn: &impl ConnectionTrait, proposal: &Proposal) -> Result<Lead, StorageError> {
    find_lead(conn, &proposal.org_id, proposal.lead_id.as_str(), true)
        .await?
        .ok_or_else(|| corrupt(format!("proposal {}: its lead is missing", proposal.id)))
}

/// Writes a proposal's decision.
async fn write_review(conn: &impl ConnectionTrait, p: &Proposal) -> Result<(), StorageError> {
    proposals::Entity::update_many()
        .col_expr(proposals::Column::Status, Expr::value(p.status.as_str()))
        .col_expr(
            proposals::Column::DecidedBy,
            Expr::value(p.decided_by.clone()),
        )
        .col_expr(proposals::Column::DecidedAt, Expr::value(p.decided_at))
        .col_expr(proposals::Column::Note, Expr::value(p.note.clone()))
        .filter(proposals::Column::OrgId.eq(p.org_id.as_str()))
        .filter(proposals::Column::Id.eq(p.id.as_str()))
        .exec(conn)
        .await
        .map_err(storage)?;
    Ok(())
}
