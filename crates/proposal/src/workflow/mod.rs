//! The routing workflow, written once over the [`RoutingTx`] port: ingest a
//! lead, decide where it goes, write the decision, review proposals
//! (approve; reject and route again; reassign by hand) and change a lead by
//! hand.
//!
//! Each `*_in` function works inside a transaction the caller owns, so that
//! one transaction can carry many steps in order (a batch of leads, or a
//! step and the events it appends). The functions without the suffix begin
//! a transaction with a [`UnitOfWork`], run one step, and commit it, or roll
//! it back on any error so that nothing is half written.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use events::{NewEvent, Subject, types};
use lead::{Lead, LeadContactPatch, LeadId};
use routing::{Decision, RoutingError, RoutingSettings, decide};
use serde_json::{Map, Value, json};
use tenancy::{AgentId, StorageError, TenantScope, ValidationErrors};

use crate::{
    Proposal, ProposalId, ProposalStatus, Timer, TimerKind,
    ports::{Inserted, RoutingTx, UnitOfWork},
};

mod reroute;

pub use reroute::{
    Assigned, Cause, Fired, FiredCount, MAX_LEADS_PER_AGENT_REROUTE, RerouteSummary,
    TIMERS_PER_PASS, accept, accept_in, assign, assign_in, decline, decline_in, fire_due,
    fire_timer, reroute, reroute_agent_leads, reroute_in,
};

/// What an unrouted lead says when the plan gave no reason.
const NO_REASON: &str = "no agent could take the lead";

/// A lead and its current proposal, after a routing step.
#[derive(Clone, Debug, PartialEq)]
pub struct Routed {
    /// The lead as stored.
    pub lead: Lead,
    /// Its proposal (pending or approved), or `None` when unrouted.
    pub proposal: Option<Proposal>,
    /// Whether the lead was created now (`false`: an `externalId` replay, or
    /// a review).
    pub created: bool,
}

/// Commits on success, rolls back on error (the error reported is the
/// step's, a failed rollback ends with the connection anyway).
pub(crate) async fn finish<T>(
    tx: Box<dyn RoutingTx>,
    result: Result<T, RoutingError>,
) -> Result<T, RoutingError> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(err) => {
            let _ = tx.rollback().await;
            Err(err)
        }
    }
}

/// The organization's lead with `external_id`, with its latest proposal.
///
/// # Errors
/// [`StorageError`] only.
pub async fn replay_in(
    tx: &mut dyn RoutingTx,
    external_id: &str,
) -> Result<Option<Routed>, StorageError> {
    let Some(lead) = tx.lead_by_external_id(external_id).await? else {
        return Ok(None);
    };
    let proposal = tx.latest_proposal(&lead.id).await?;
    Ok(Some(Routed {
        lead,
        proposal,
        created: false,
    }))
}

/// Stores `lead` as new and routes it, unless the organization has a lead
/// with its `externalId` already (then that one comes back, `created:
/// false`).
///
/// The decision is made first and the lead is stored in its routed state
/// with its proposal, in one write: a duplicate `externalId` is found out
/// by that write (a replay is the rare case; a lookup before every new
/// lead would cost every lead a round trip), and then nothing of the
/// decision is written.
///
/// # Errors
/// [`RoutingError::Storage`] only.
pub async fn ingest_in(
    tx: &mut dyn RoutingTx,
    mut lead: Lead,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    lead.status = lead::LeadStatus::New;
    lead.agent_id = None;
    lead.unrouted_reason = None;
    let created = lead_event(types::LEAD_CREATED, &lead, now)
        .with("name", lead.name.clone())
        .with("externalId", lead.external_id.clone())
        .with("source", lead.source.clone());
    let decision = decide(tx, &lead, &HashSet::new(), now, true).await?;
    let proposal = settle(&mut lead, &decision, now)?;
    if tx.insert_lead(&lead, proposal.as_ref()).await? == Inserted::DuplicateExternalId {
        let replayed = match &lead.external_id {
            Some(id) => replay_in(tx, id).await?,
            None => None,
        };
        // A conflict on an id the lead does not have cannot happen.
        return replayed.ok_or_else(|| {
            RoutingError::Storage(StorageError::Other(
                "externalId conflict without a stored lead".into(),
            ))
        });
    }
    tx.append_event(created).await?;
    record_decision(tx, &lead, &decision, proposal.as_ref(), now).await?;
    Ok(Routed {
        lead,
        proposal,
        created: true,
    })
}

/// [`ingest_in`] in a transaction of its own.
///
/// # Errors
/// [`RoutingError::Storage`] only.
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), lead_id = %lead.id))]
pub async fn ingest(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    lead: Lead,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    let mut tx = uow.begin(scope).await?;
    let result = ingest_in(tx.as_mut(), lead, now).await;
    finish(tx, result).await
}

/// [`ingest_in`] for every lead, in order, in one transaction: all of them
/// are stored or, on a storage failure, none. A lead whose `externalId`
/// came earlier (stored before, or earlier in `leads`) is a replay.
///
/// The stored `externalId`s among the leads are read once first
/// ([`RoutingTx::known_external_ids`]), which lets the adapter write the
/// new leads together; when another transaction stored one of them
/// meanwhile ([`StorageError::Contended`]), the whole step runs once more.
///
/// # Errors
/// [`RoutingError::Storage`] only.
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), leads = leads.len()))]
pub async fn ingest_all(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    leads: Vec<Lead>,
    now: DateTime<Utc>,
) -> Result<Vec<Routed>, RoutingError> {
    match ingest_all_once(uow, scope, leads.clone(), now).await {
        Err(RoutingError::Storage(StorageError::Contended(err))) => {
            tracing::info!(error = %err, "a concurrent write got there first; routing the leads again");
            ingest_all_once(uow, scope, leads, now).await
        }
        done => done,
    }
}

async fn ingest_all_once(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    leads: Vec<Lead>,
    now: DateTime<Utc>,
) -> Result<Vec<Routed>, RoutingError> {
    let mut tx = uow.begin(scope).await?;
    let result = ingest_each(tx.as_mut(), leads, now).await;
    finish(tx, result).await
}

async fn ingest_each(
    tx: &mut dyn RoutingTx,
    leads: Vec<Lead>,
    now: DateTime<Utc>,
) -> Result<Vec<Routed>, RoutingError> {
    // One lead alone is found a replay by its insert, which costs nothing.
    let known = if leads.len() > 1 {
        let ids: Vec<&str> = leads
            .iter()
            .filter_map(|l| l.external_id.as_deref())
            .collect();
        tx.known_external_ids(&ids).await?
    } else {
        HashSet::new()
    };
    let mut routed = Vec::with_capacity(leads.len());
    for lead in leads {
        let replay = match lead.external_id.as_deref() {
            Some(id) if known.contains(id) => replay_in(tx, id).await?,
            _ => None,
        };
        routed.push(match replay {
            Some(r) => r,
            None => ingest_in(tx, lead, now).await?,
        });
    }
    Ok(routed)
}

/// Decides where a stored, routable lead goes and writes the decision:
/// `excluded` agents are never chosen.
///
/// # Errors
/// [`RoutingError::Storage`]; [`RoutingError::InvalidTransition`] when the
/// lead is not routable ([`lead::LeadStatus::is_routable`]).
pub async fn route_in(
    tx: &mut dyn RoutingTx,
    lead: &mut Lead,
    excluded: &HashSet<AgentId>,
    now: DateTime<Utc>,
) -> Result<Option<Proposal>, RoutingError> {
    let decision = decide(tx, lead, excluded, now, true).await?;
    let proposal = settle(lead, &decision, now)?;
    tx.update_lead(lead).await?;
    if let Some(p) = &proposal {
        tx.insert_proposal(p).await?;
    }
    record_decision(tx, lead, &decision, proposal.as_ref(), now).await?;
    Ok(proposal)
}

/// The lead's new state after a decision, and its proposal.
fn settle(
    lead: &mut Lead,
    decision: &Decision,
    now: DateTime<Utc>,
) -> Result<Option<Proposal>, RoutingError> {
    let plan = &decision.plan;
    let proposal = Proposal::from_plan(plan, lead, decision.settings.auto_approve, now);
    match &proposal {
        Some(p) if p.status == ProposalStatus::Approved => {
            lead.assign_to(p.agent_id.clone(), now)?;
        }
        Some(p) => lead.propose_to(p.agent_id.clone(), now)?,
        None => {
            let reason = plan.unrouted_reason.as_deref().unwrap_or(NO_REASON);
            lead.mark_unrouted(reason.to_owned(), now)?;
        }
    }
    Ok(proposal)
}

/// What follows a decision once its lead and proposal are stored: the
/// chosen agent's counters and the pool's turn, the wait for review or
/// acceptance, and the events.
async fn record_decision(
    tx: &mut dyn RoutingTx,
    lead: &Lead,
    decision: &Decision,
    proposal: Option<&Proposal>,
    now: DateTime<Utc>,
) -> Result<(), RoutingError> {
    if let Some(agent) = &decision.chosen {
        // Both pool counters move whatever the method: the cursor matters
        // to round robin, the count to weighted pools, and keeping both
        // current lets a pool change method without a jump.
        let turn = decision
            .plan
            .pool_update
            .as_ref()
            .filter(|turn| turn.served == agent.id)
            .map(|turn| &turn.pool_id);
        tx.count_assignment(&agent.id, agent.local_day(now), now, turn)
            .await?;
    }
    match proposal {
        Some(p) => {
            arm_wait(tx, p, &decision.settings, now).await?;
            tx.append_event(proposal_created(p, now)).await?;
            let kind = if p.status == ProposalStatus::Approved {
                types::LEAD_ASSIGNED
            } else {
                types::LEAD_ROUTED
            };
            tx.append_event(assignment_event(kind, lead, p, now))
                .await?;
        }
        None => {
            tx.append_event(
                lead_event(types::LEAD_UNROUTED, lead, now)
                    .with("reason", lead.unrouted_reason.clone()),
            )
            .await?;
        }
    }
    Ok(())
}

/// Starts the wait that follows `p`, when the organization has an SLA for
/// it: a pending proposal waits for review, an approved one for its agent
/// to accept the lead.
pub(crate) async fn arm_wait(
    tx: &mut dyn RoutingTx,
    p: &Proposal,
    settings: &RoutingSettings,
    now: DateTime<Utc>,
) -> Result<(), RoutingError> {
    let wait = match p.status {
        ProposalStatus::Pending => settings.review_sla_seconds.map(|s| (TimerKind::Review, s)),
        ProposalStatus::Approved => settings.accept_sla_seconds.map(|s| (TimerKind::Accept, s)),
        _ => None,
    };
    if let Some((kind, seconds)) = wait {
        tx.arm_timer(&Timer::arm(kind, p, seconds, now)).await?;
    }
    Ok(())
}

/// `lead.routed` or `lead.assigned`: to whom, how, and by which rule and
/// pool (what a notification says).
fn assignment_event(kind: &'static str, lead: &Lead, p: &Proposal, now: DateTime<Utc>) -> NewEvent {
    lead_event(kind, lead, now)
        .with("proposalId", p.id.to_string())
        .with("agentId", p.agent_id.to_string())
        .with("method", p.method.as_str())
        .with("poolId", p.pool_id.as_ref().map(ToString::to_string))
        .with("ruleId", p.rule_id.as_ref().map(ToString::to_string))
}

/// An event about `lead`.
pub(crate) fn lead_event(kind: &'static str, lead: &Lead, now: DateTime<Utc>) -> NewEvent {
    NewEvent::new(kind, Subject::lead(lead.id.to_string()), now).of_lead(lead.id.to_string())
}

/// An event about `p`, on its lead's timeline.
pub(crate) fn proposal_event(kind: &'static str, p: &Proposal, now: DateTime<Utc>) -> NewEvent {
    NewEvent::new(kind, Subject::proposal(p.id.to_string()), now)
        .of_lead(p.lead_id.to_string())
        .with("agentId", p.agent_id.to_string())
}

/// `proposal.created`, with everything the proposal says: who, how, from
/// which pool and rule, and the trace of every candidate.
pub(crate) fn proposal_created(p: &Proposal, now: DateTime<Utc>) -> NewEvent {
    let trace: Vec<Value> = p
        .trace
        .iter()
        .map(
            |t| json!({"agentId": t.agent_id.as_str(), "eligible": t.eligible, "reason": t.reason}),
        )
        .collect();
    proposal_event(types::PROPOSAL_CREATED, p, now)
        .with("status", p.status.as_str())
        .with("method", p.method.as_str())
        .with("poolId", p.pool_id.as_ref().map(ToString::to_string))
        .with("ruleId", p.rule_id.as_ref().map(ToString::to_string))
        .with("trace", trace)
}

/// The proposal's lead, locked; the composite foreign key guarantees it.
async fn lead_of(tx: &mut dyn RoutingTx, proposal: &Proposal) -> Result<Lead, RoutingError> {
    tx.lock_lead(&proposal.lead_id).await?.ok_or_else(|| {
        RoutingError::Storage(StorageError::Other(
            format!("proposal {}: its lead is missing", proposal.id).into(),
        ))
    })
}

/// Approves a pending proposal: the lead becomes its agent's.
///
/// # Errors
/// [`RoutingError::NotFound`], [`RoutingError::AlreadyDecided`].
pub async fn approve_in(
    tx: &mut dyn RoutingTx,
    id: &ProposalId,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    let mut proposal = tx
        .lock_proposal(id)
        .await?
        .ok_or(RoutingError::NotFound("proposal"))?;
    proposal.decide(ProposalStatus::Approved, by, note, now)?;
    // Checked before anything is written: approving would give the lead to
    // someone who no longer works it.
    if !tx
        .agent(&proposal.agent_id, now)
        .await?
        .is_some_and(|c| c.agent.is_active)
    {
        return Err(RoutingError::AgentInactive);
    }
    let mut lead = lead_of(tx, &proposal).await?;
    lead.assign_to(proposal.agent_id.clone(), now)?;
    tx.update_review(&proposal).await?;
    tx.update_lead(&lead).await?;
    tx.disarm_timers(&lead.id).await?;
    let settings = tx.routing_settings().await?;
    arm_wait(tx, &proposal, &settings, now).await?;
    tx.append_event(
        proposal_event(types::PROPOSAL_APPROVED, &proposal, now)
            .with("note", proposal.note.clone()),
    )
    .await?;
    tx.append_event(assignment_event(
        types::LEAD_ASSIGNED,
        &lead,
        &proposal,
        now,
    ))
    .await?;
    Ok(Routed {
        lead,
        proposal: Some(proposal),
        created: false,
    })
}

/// [`approve_in`] in a transaction of its own.
///
/// # Errors
/// As [`approve_in`].
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), proposal_id = %id))]
pub async fn approve(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    id: &ProposalId,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    let mut tx = uow.begin(scope).await?;
    let result = approve_in(tx.as_mut(), id, by, note, now).await;
    finish(tx, result).await
}

/// Rejects a pending proposal. With `reassign_to`, an approved
/// [`routing::Method::Manual`] proposal gives the lead to that agent;
/// otherwise the lead is routed again, never to an agent who had it
/// before (proposed or assigned), and ends proposed, assigned (auto-approval) or unrouted with the
/// reason. Then what the rejected proposal took from its agent is given
/// back: one lead of its daily count (while that count is of the
/// proposal's day) and its turn in the pool (the round-robin cursor stays);
/// its capacity is given back by the lead leaving it. (Given back after the
/// new decision, not before, to keep the lock order: the release touches
/// agent and member rows, which come after the pool. The rejected agent is
/// excluded from that decision anyway.)
///
/// # Errors
/// [`RoutingError::NotFound`], [`RoutingError::AlreadyDecided`],
/// [`RoutingError::Invalid`] (field `reassignTo`) when it is not an active
/// agent of the organization.
pub async fn reject_in(
    tx: &mut dyn RoutingTx,
    id: &ProposalId,
    by: &str,
    note: Option<String>,
    reassign_to: Option<&AgentId>,
    now: DateTime<Utc>,
) -> Result<(Proposal, Routed), RoutingError> {
    let mut rejected = tx
        .lock_proposal(id)
        .await?
        .ok_or(RoutingError::NotFound("proposal"))?;
    rejected.decide(ProposalStatus::Rejected, by, note, now)?;
    let mut lead = lead_of(tx, &rejected).await?;
    let reassignee = match reassign_to {
        Some(to) => match tx.agent(to, now).await? {
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
    tx.update_review(&rejected).await?;
    tx.disarm_timers(&lead.id).await?;
    tx.append_event(
        proposal_event(types::PROPOSAL_REJECTED, &rejected, now)
            .with("note", rejected.note.clone()),
    )
    .await?;
    let proposal = match reassignee {
        Some(agent) => {
            let manual = Proposal::manual(&lead, &agent, by, now);
            lead.assign_to(agent.id.clone(), now)?;
            tx.update_lead(&lead).await?;
            tx.count_assignment(&agent.id, agent.local_day(now), now, None)
                .await?;
            tx.insert_proposal(&manual).await?;
            let settings = tx.routing_settings().await?;
            arm_wait(tx, &manual, &settings, now).await?;
            tx.append_event(proposal_created(&manual, now)).await?;
            tx.append_event(
                lead_event(types::LEAD_REASSIGNED, &lead, now)
                    .with("proposalId", manual.id.to_string())
                    .with("agentId", agent.id.to_string())
                    .with("fromAgentId", rejected.agent_id.to_string()),
            )
            .await?;
            Some(manual)
        }
        None => {
            // Stored as rejected above, so the agent just refused is among
            // them, with everyone who had the lead before.
            let excluded = tx.agents_proposed(&lead.id, None).await?;
            route_in(tx, &mut lead, &excluded, now).await?
        }
    };
    release(tx, &rejected, now).await?;
    Ok((
        rejected,
        Routed {
            lead,
            proposal,
            created: false,
        },
    ))
}

/// [`reject_in`] in a transaction of its own.
///
/// # Errors
/// As [`reject_in`].
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), proposal_id = %id))]
pub async fn reject(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    id: &ProposalId,
    by: &str,
    note: Option<String>,
    reassign_to: Option<&AgentId>,
    now: DateTime<Utc>,
) -> Result<(Proposal, Routed), RoutingError> {
    let mut tx = uow.begin(scope).await?;
    let result = reject_in(tx.as_mut(), id, by, note, reassign_to, now).await;
    finish(tx, result).await
}

/// Gives back what a rejected proposal took from its agent (see
/// [`reject_in`]).
pub(crate) async fn release(
    tx: &mut dyn RoutingTx,
    rejected: &Proposal,
    now: DateTime<Utc>,
) -> Result<(), RoutingError> {
    if let Some(c) = tx.agent(&rejected.agent_id, now).await? {
        let day = c.agent.local_day(rejected.created_at);
        tx.uncount_assignment(&rejected.agent_id, day).await?;
    }
    if let Some(pool) = rejected.took_pool_turn() {
        tx.release_pool_turn(pool, &rejected.agent_id).await?;
    }
    Ok(())
}

/// Changes a lead's contact data or moves its status forward by hand.
///
/// # Errors
/// [`RoutingError::NotFound`], [`RoutingError::InvalidTransition`].
pub async fn update_lead_in(
    tx: &mut dyn RoutingTx,
    id: &LeadId,
    patch: LeadContactPatch,
    now: DateTime<Utc>,
) -> Result<Lead, RoutingError> {
    let mut lead = tx
        .lock_lead(id)
        .await?
        .ok_or(RoutingError::NotFound("lead"))?;
    let before = lead.clone();
    lead.apply(patch, now)?;
    tx.update_lead(&lead).await?;
    if before.status != lead.status {
        // Accepted, contacted or closed: no longer waiting to be accepted.
        tx.disarm_timers(&lead.id).await?;
        tx.append_event(
            lead_event(types::LEAD_STATUS_CHANGED, &lead, now)
                .with("from", before.status.as_str())
                .with("to", lead.status.as_str()),
        )
        .await?;
    }
    let changes = contact_changes(&before, &lead);
    if !changes.is_empty() {
        tx.append_event(lead_event(types::LEAD_UPDATED, &lead, now).with("changes", changes))
            .await?;
    }
    Ok(lead)
}

/// `{field: {from, to}}` for each contact field that changed.
fn contact_changes(before: &Lead, after: &Lead) -> Map<String, Value> {
    let email = |l: &Lead| l.email.as_ref().map(ToString::to_string);
    [
        ("name", Some(before.name.clone()), Some(after.name.clone())),
        ("email", email(before), email(after)),
        ("phone", before.phone.clone(), after.phone.clone()),
        ("company", before.company.clone(), after.company.clone()),
    ]
    .into_iter()
    .filter(|(_, from, to)| from != to)
    .map(|(field, from, to)| (field.to_owned(), json!({"from": from, "to": to})))
    .collect()
}

/// [`update_lead_in`] in a transaction of its own.
///
/// # Errors
/// As [`update_lead_in`].
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), lead_id = %id))]
pub async fn update_lead(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    id: &LeadId,
    patch: LeadContactPatch,
    now: DateTime<Utc>,
) -> Result<Lead, RoutingError> {
    let mut tx = uow.begin(scope).await?;
    let result = update_lead_in(tx.as_mut(), id, patch, now).await;
    finish(tx, result).await
}
