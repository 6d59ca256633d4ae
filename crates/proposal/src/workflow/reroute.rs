//! After the first proposal: agents accept or decline, managers assign and
//! re-route by hand, a leaving agent's leads go back to the engine, and SLA
//! timers expire waits nobody ended.
//!
//! Every path that takes a lead back runs the same steps in one transaction:
//! lock the lead's latest proposal, then the lead (the workflow's lock
//! order); end a pending proposal (`superseded` or `expired`); disarm the
//! lead's timers; record why (`lead.rerouted`); route again excluding every
//! agent who ever had the lead; then give back what the previous holder's
//! proposal took (its daily count and pool turn), as a rejection does.

use chrono::{DateTime, Utc};
use events::types;
use lead::{Lead, LeadId, LeadStatus};
use routing::{AgentStatus, Candidate, RoutingError};
use serde_json::Value;
use tenancy::{AgentId, TenantScope, ValidationErrors};

use super::{
    Routed, arm_wait, finish, lead_event, proposal_created, proposal_event, release, route_in,
};
use crate::{
    Proposal, ProposalStatus, SYSTEM, TimerId, TimerKind, TimerQueue,
    ports::{RoutingTx, UnitOfWork},
};

/// Why a lead goes back to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A pending proposal was not reviewed within `reviewSlaSeconds`.
    ReviewSla,
    /// The assigned agent did not accept within `acceptSlaSeconds`.
    AcceptSla,
    /// The assigned agent declined.
    Declined,
    /// A manager asked for it.
    Manager,
    /// The agent holding it leaves (deactivated, or its leads moved).
    AgentLeft,
}

impl Cause {
    /// The wire name (`data.cause` of `lead.rerouted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::ReviewSla => "review_sla",
            Cause::AcceptSla => "accept_sla",
            Cause::Declined => "declined",
            Cause::Manager => "manager",
            Cause::AgentLeft => "agent_left",
        }
    }

    fn is_sla(self) -> bool {
        matches!(self, Cause::ReviewSla | Cause::AcceptSla)
    }

    /// Whether `maxReroutes` bounds it: the automatic chain (SLAs and
    /// declines). A manager's or an agent's departure always routes.
    fn is_bounded(self) -> bool {
        matches!(self, Cause::ReviewSla | Cause::AcceptSla | Cause::Declined)
    }
}

/// The lead, locked, and its latest proposal, locked first: the workflow's
/// lock order (proposal, then lead). A proposal made between the two reads
/// by a concurrent step is found by reading again.
async fn lock_lead_and_latest(
    tx: &mut dyn RoutingTx,
    id: &LeadId,
) -> Result<(Lead, Option<Proposal>), RoutingError> {
    for _ in 0..3 {
        let latest = match tx.latest_proposal(id).await? {
            Some(p) => tx.lock_proposal(&p.id).await?,
            None => None,
        };
        let lead = tx
            .lock_lead(id)
            .await?
            .ok_or(RoutingError::NotFound("lead"))?;
        let still = tx.latest_proposal(id).await?;
        if still.as_ref().map(|p| &p.id) == latest.as_ref().map(|p| &p.id) {
            return Ok((lead, latest));
        }
    }
    Err(RoutingError::InvalidTransition(
        "the lead changed while it was being routed; try again".into(),
    ))
}

/// Takes the lead back from whoever has it: a pending proposal ends as
/// `ended`, the lead is `new` again and its timers are disarmed. Returns the
/// proposal that gave the lead to its holder, to [`release`] after the new
/// decision.
async fn take_back(
    tx: &mut dyn RoutingTx,
    lead: &mut Lead,
    latest: Option<Proposal>,
    ended: ProposalStatus,
    by: &str,
    worked: bool,
    now: DateTime<Utc>,
) -> Result<Option<Proposal>, RoutingError> {
    let held_by = lead.reopen(now, worked)?;
    tx.disarm_timers(&lead.id).await?;
    let holder = match latest {
        Some(mut p) if p.status == ProposalStatus::Pending => {
            p.decide(ended, by, None, now)?;
            tx.update_review(&p).await?;
            let kind = if ended == ProposalStatus::Expired {
                types::PROPOSAL_EXPIRED
            } else {
                types::PROPOSAL_SUPERSEDED
            };
            tx.append_event(proposal_event(kind, &p, now)).await?;
            Some(p)
        }
        Some(p)
            if p.status == ProposalStatus::Approved && held_by.as_ref() == Some(&p.agent_id) =>
        {
            Some(p)
        }
        _ => None,
    };
    Ok(holder)
}

/// Routes a taken-back lead again, never to an agent who had it; bounded by
/// `maxReroutes` for the automatic causes. An SLA that ends with nobody to
/// take the lead is a `lead.sla_breached`.
async fn route_again(
    tx: &mut dyn RoutingTx,
    lead: &mut Lead,
    cause: Cause,
    now: DateTime<Utc>,
) -> Result<Option<Proposal>, RoutingError> {
    let tried = tx.agents_proposed(&lead.id, None).await?;
    let settings = tx.routing_settings().await?;
    // The first agent is not a re-route: after `maxReroutes` re-routes,
    // `maxReroutes + 1` agents have had the lead.
    let limit = usize::try_from(settings.max_reroutes).unwrap_or(usize::MAX);
    let proposal = if cause.is_bounded() && tried.len() > limit {
        let reason = format!(
            "routed again {} times already (settings.maxReroutes)",
            settings.max_reroutes
        );
        lead.mark_unrouted(reason, now)?;
        tx.update_lead(lead).await?;
        tx.append_event(
            lead_event(types::LEAD_UNROUTED, lead, now)
                .with("reason", lead.unrouted_reason.clone()),
        )
        .await?;
        None
    } else {
        route_in(tx, lead, &tried, now).await?
    };
    if proposal.is_none() && cause.is_sla() {
        let mut tried: Vec<String> = tried.iter().map(ToString::to_string).collect();
        tried.sort_unstable();
        tx.append_event(
            lead_event(types::LEAD_SLA_BREACHED, lead, now)
                .with("cause", cause.as_str())
                .with("reason", lead.unrouted_reason.clone())
                .with("triedAgentIds", tried),
        )
        .await?;
    }
    Ok(proposal)
}

/// The whole re-route of a locked lead: take back, record, route, release.
#[allow(clippy::too_many_arguments)]
async fn reroute_locked(
    tx: &mut dyn RoutingTx,
    mut lead: Lead,
    latest: Option<Proposal>,
    cause: Cause,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    let ended = if cause == Cause::ReviewSla {
        ProposalStatus::Expired
    } else {
        ProposalStatus::Superseded
    };
    let from = lead.agent_id.clone();
    let holder = take_back(
        tx,
        &mut lead,
        latest,
        ended,
        by,
        cause == Cause::AgentLeft,
        now,
    )
    .await?;
    tx.append_event(
        lead_event(types::LEAD_REROUTED, &lead, now)
            .with("cause", cause.as_str())
            .with("fromAgentId", from.map(|a| a.to_string()))
            .with("note", note),
    )
    .await?;
    let proposal = route_again(tx, &mut lead, cause, now).await?;
    if let Some(holder) = &holder {
        release(tx, holder, now).await?;
    }
    Ok(Routed {
        lead,
        proposal,
        created: false,
    })
}

/// The assigned agent accepts its lead: `accepted`, and its accept SLA
/// ends. Accepting an accepted lead again changes nothing.
///
/// # Errors
/// [`RoutingError::NotFound`]; [`RoutingError::Forbidden`] when `agent` is
/// not the lead's agent; [`RoutingError::InvalidTransition`] unless the
/// lead is assigned or accepted.
pub async fn accept_in(
    tx: &mut dyn RoutingTx,
    id: &LeadId,
    agent: &AgentId,
    now: DateTime<Utc>,
) -> Result<Lead, RoutingError> {
    let mut lead = tx
        .lock_lead(id)
        .await?
        .ok_or(RoutingError::NotFound("lead"))?;
    if lead.assigned_agent_id() != Some(agent) {
        return Err(RoutingError::Forbidden(
            "only the agent the lead is assigned to may accept or decline it",
        ));
    }
    if lead.status == LeadStatus::Accepted {
        return Ok(lead);
    }
    lead.accept(now)?;
    tx.update_lead(&lead).await?;
    tx.disarm_timers(&lead.id).await?;
    tx.append_event(
        lead_event(types::LEAD_ACCEPTED, &lead, now).with("agentId", agent.to_string()),
    )
    .await?;
    Ok(lead)
}

/// [`accept_in`] in a transaction of its own.
///
/// # Errors
/// As [`accept_in`].
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), lead_id = %id))]
pub async fn accept(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    id: &LeadId,
    agent: &AgentId,
    now: DateTime<Utc>,
) -> Result<Lead, RoutingError> {
    let mut tx = uow.begin(scope).await?;
    let result = accept_in(tx.as_mut(), id, agent, now).await;
    finish(tx, result).await
}

/// The assigned agent declines its lead: it is routed again at once, never
/// back to anyone who had it (bounded by `maxReroutes`).
///
/// # Errors
/// As [`accept_in`]; a contacted or closed lead cannot be declined.
pub async fn decline_in(
    tx: &mut dyn RoutingTx,
    id: &LeadId,
    agent: &AgentId,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    let (lead, latest) = lock_lead_and_latest(tx, id).await?;
    if lead.assigned_agent_id() != Some(agent) {
        return Err(RoutingError::Forbidden(
            "only the agent the lead is assigned to may accept or decline it",
        ));
    }
    if !matches!(lead.status, LeadStatus::Assigned | LeadStatus::Accepted) {
        return Err(RoutingError::InvalidTransition(format!(
            "a {} lead cannot be declined",
            lead.status
        )));
    }
    tx.append_event(
        lead_event(types::LEAD_DECLINED, &lead, now)
            .with("agentId", agent.to_string())
            .with("note", note.clone()),
    )
    .await?;
    let by = tx_principal(agent);
    reroute_locked(tx, lead, latest, Cause::Declined, &by, note, now).await
}

/// What a declining agent is recorded as on the proposal it ends.
fn tx_principal(agent: &AgentId) -> String {
    format!("agent:{agent}")
}

/// [`decline_in`] in a transaction of its own.
///
/// # Errors
/// As [`decline_in`].
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), lead_id = %id))]
pub async fn decline(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    id: &LeadId,
    agent: &AgentId,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    let mut tx = uow.begin(scope).await?;
    let result = decline_in(tx.as_mut(), id, agent, note, now).await;
    finish(tx, result).await
}

/// A manager's assignment: the lead, its new proposal, and what the agent
/// cannot do right now.
#[derive(Clone, Debug, PartialEq)]
pub struct Assigned {
    /// The lead, now the agent's, and its approved manual proposal.
    pub routed: Routed,
    /// Why the engine would not have chosen the agent now (away, paused,
    /// outside working hours, at capacity, daily cap reached): the
    /// assignment stands, the manager is told.
    pub warnings: Vec<String>,
}

/// Why an active agent would not be chosen by the engine now.
fn warnings(c: &Candidate, now: DateTime<Utc>) -> Vec<String> {
    let agent = &c.agent;
    let mut out = Vec::new();
    match agent.status {
        AgentStatus::Available => {}
        other => out.push(format!("the agent is {}", other.as_str())),
    }
    if let Some(wh) = &agent.working_hours
        && !wh.contains(now)
    {
        out.push(format!("outside the agent's working hours ({wh})"));
    }
    if let Some(cap) = agent.capacity
        && c.load.open_leads >= cap
    {
        out.push(format!(
            "the agent is at capacity ({}/{cap} open leads)",
            c.load.open_leads
        ));
    }
    if let Some(cap) = agent.daily_cap
        && c.load.today >= cap
    {
        out.push(format!(
            "the agent reached its daily cap ({}/{cap} today)",
            c.load.today
        ));
    }
    out
}

/// Gives a proposed, assigned, accepted or unrouted lead to `agent_id` by
/// hand: a pending proposal is superseded, the lead is the agent's with an
/// approved [`routing::Method::Manual`] proposal (its accept SLA starts),
/// and the previous holder gets its counts back. The agent must be active;
/// when the engine would not choose it now, [`Assigned::warnings`] says
/// why.
///
/// # Errors
/// [`RoutingError::NotFound`]; [`RoutingError::Invalid`] (field `agentId`)
/// for an agent that is not an active agent of the organization;
/// [`RoutingError::InvalidTransition`] for a contacted or closed lead, or
/// one the agent holds already.
pub async fn assign_in(
    tx: &mut dyn RoutingTx,
    id: &LeadId,
    agent_id: &AgentId,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Assigned, RoutingError> {
    let (mut lead, latest) = lock_lead_and_latest(tx, id).await?;
    let Some(candidate) = tx.agent(agent_id, now).await?.filter(|c| c.agent.is_active) else {
        return Err(ValidationErrors::single(
            "agentId",
            "is not an active agent of this organization",
        )
        .into());
    };
    if lead.assigned_agent_id() == Some(agent_id) {
        return Err(RoutingError::InvalidTransition(
            "the lead is already assigned to this agent".into(),
        ));
    }
    let warnings = warnings(&candidate, now);
    let from = lead.agent_id.clone();
    let holder = take_back(
        tx,
        &mut lead,
        latest,
        ProposalStatus::Superseded,
        by,
        false,
        now,
    )
    .await?;
    let agent = candidate.agent;
    let mut manual = Proposal::manual(&lead, &agent, by, now);
    manual.note = note.clone();
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
            .with("fromAgentId", from.map(|a| a.to_string()))
            .with("note", note)
            .with(
                "warnings",
                Value::from(
                    warnings
                        .iter()
                        .map(|w| Value::from(w.as_str()))
                        .collect::<Vec<_>>(),
                ),
            ),
    )
    .await?;
    if let Some(holder) = &holder {
        release(tx, holder, now).await?;
    }
    Ok(Assigned {
        routed: Routed {
            lead,
            proposal: Some(manual),
            created: false,
        },
        warnings,
    })
}

/// [`assign_in`] in a transaction of its own.
///
/// # Errors
/// As [`assign_in`].
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), lead_id = %id))]
pub async fn assign(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    id: &LeadId,
    agent_id: &AgentId,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Assigned, RoutingError> {
    let mut tx = uow.begin(scope).await?;
    let result = assign_in(tx.as_mut(), id, agent_id, by, note, now).await;
    finish(tx, result).await
}

/// A manager sends a proposed, assigned, accepted or unrouted lead back to
/// the engine, which never picks an agent who had it.
///
/// # Errors
/// [`RoutingError::NotFound`]; [`RoutingError::InvalidTransition`] for a
/// contacted or closed lead.
pub async fn reroute_in(
    tx: &mut dyn RoutingTx,
    id: &LeadId,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    let (lead, latest) = lock_lead_and_latest(tx, id).await?;
    reroute_locked(tx, lead, latest, Cause::Manager, by, note, now).await
}

/// [`reroute_in`] in a transaction of its own.
///
/// # Errors
/// As [`reroute_in`].
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), lead_id = %id))]
pub async fn reroute(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    id: &LeadId,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Routed, RoutingError> {
    let mut tx = uow.begin(scope).await?;
    let result = reroute_in(tx.as_mut(), id, by, note, now).await;
    finish(tx, result).await
}

/// The most leads one call of [`reroute_agent_leads`] moves.
pub const MAX_LEADS_PER_AGENT_REROUTE: u64 = 10_000;

/// What [`reroute_agent_leads`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RerouteSummary {
    /// Each lead moved, as it ended (proposed, assigned or unrouted).
    pub leads: Vec<Routed>,
}

/// Sends every open lead `agent` holds (proposed, assigned, accepted or
/// contacted) back to the engine, each in a transaction of its own with its
/// own events: the agent is leaving.
///
/// # Errors
/// [`RoutingError::Storage`]; leads moved before a failure stay moved.
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), agent_id = %agent))]
pub async fn reroute_agent_leads(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    agent: &AgentId,
    by: &str,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<RerouteSummary, RoutingError> {
    const HELD: [LeadStatus; 4] = [
        LeadStatus::Proposed,
        LeadStatus::Assigned,
        LeadStatus::Accepted,
        LeadStatus::Contacted,
    ];
    let mut tx = uow.begin(scope).await?;
    let ids = tx
        .leads_held_by(agent, &HELD, MAX_LEADS_PER_AGENT_REROUTE)
        .await;
    let _ = tx.rollback().await;
    let mut summary = RerouteSummary::default();
    for id in ids? {
        let mut tx = uow.begin(scope).await?;
        let result = async {
            let (lead, latest) = lock_lead_and_latest(tx.as_mut(), &id).await?;
            // Moved meanwhile: not the leaving agent's any more.
            if lead.agent_id.as_ref() != Some(agent) || !HELD.contains(&lead.status) {
                return Ok(None);
            }
            reroute_locked(
                tx.as_mut(),
                lead,
                latest,
                Cause::AgentLeft,
                by,
                note.clone(),
                now,
            )
            .await
            .map(Some)
        }
        .await;
        if let Some(routed) = finish(tx, result).await? {
            summary.leads.push(routed);
        }
    }
    Ok(summary)
}

/// What [`fire_timer`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Fired {
    /// The wait had not ended: the lead was routed again.
    Rerouted(Box<Routed>),
    /// The wait had ended (reviewed, accepted, moved): the timer was
    /// dropped.
    Stale,
    /// Another transaction fired or disarmed it first.
    Gone,
}

/// Fires a due timer, in a transaction of the scope's organization (the
/// scheduler's scope is [`TenantScope::system`]): when the lead still waits
/// as it did when the timer was armed, a pending proposal expires, or an
/// unaccepted assignment ends, and the lead is routed again. Of several
/// schedulers firing one timer, one fires it, the others find it gone.
///
/// # Errors
/// [`RoutingError::Storage`].
#[tracing::instrument(skip_all, fields(org_id = %scope.org_id(), timer_id = %id))]
pub async fn fire_timer(
    uow: &dyn UnitOfWork,
    scope: &TenantScope,
    id: &TimerId,
    now: DateTime<Utc>,
) -> Result<Fired, RoutingError> {
    let mut tx = uow.begin(scope).await?;
    let result = fire_in(tx.as_mut(), id, now).await;
    match result {
        Ok(Fired::Gone) => {
            let _ = tx.rollback().await;
            Ok(Fired::Gone)
        }
        other => finish(tx, other).await,
    }
}

async fn fire_in(
    tx: &mut dyn RoutingTx,
    id: &TimerId,
    now: DateTime<Utc>,
) -> Result<Fired, RoutingError> {
    let Some(timer) = tx.timer(id).await? else {
        return Ok(Fired::Gone);
    };
    let locked = match lock_lead_and_latest(tx, &timer.lead_id).await {
        Ok(locked) => Some(locked),
        Err(RoutingError::NotFound(_)) => None,
        Err(err) => return Err(err),
    };
    // Taken after the locks, so that a concurrent review (which locks the
    // proposal and the lead, then disarms) and this firing never wait on
    // each other in a cycle.
    if !tx.take_timer(id).await? {
        return Ok(Fired::Gone);
    }
    let Some((lead, latest)) = locked else {
        return Ok(Fired::Stale);
    };
    let current = latest.as_ref().filter(|p| p.id == timer.proposal_id);
    let waiting = match timer.kind {
        TimerKind::Review => current.is_some_and(|p| p.status == ProposalStatus::Pending),
        TimerKind::Accept => {
            current.is_some()
                && lead.status == LeadStatus::Assigned
                && lead.agent_id.as_ref() == Some(&timer.agent_id)
        }
    };
    if !waiting {
        return Ok(Fired::Stale);
    }
    let cause = match timer.kind {
        TimerKind::Review => Cause::ReviewSla,
        TimerKind::Accept => Cause::AcceptSla,
    };
    let routed = reroute_locked(tx, lead, latest, cause, SYSTEM, None, now).await?;
    Ok(Fired::Rerouted(Box::new(routed)))
}

/// What one pass of [`fire_due`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FiredCount {
    /// Leads routed again.
    pub rerouted: usize,
    /// Timers whose wait had ended, dropped.
    pub stale: usize,
    /// Timers fired by another scheduler first.
    pub gone: usize,
    /// Timers that failed (left due, tried again on the next pass).
    pub failed: usize,
}

/// The most timers one pass of [`fire_due`] fires.
pub const TIMERS_PER_PASS: u64 = 500;

/// Fires every timer due at `now` (up to [`TIMERS_PER_PASS`]), each in its
/// organization's own transaction as the system: what the server's
/// scheduler runs a few times a second.
///
/// # Errors
/// [`RoutingError::Storage`] when the due timers cannot be read; a timer
/// that fails is counted and logged, and the others still fire.
pub async fn fire_due(
    uow: &dyn UnitOfWork,
    queue: &dyn TimerQueue,
    now: DateTime<Utc>,
) -> Result<FiredCount, RoutingError> {
    let mut count = FiredCount::default();
    for due in queue.due(now, TIMERS_PER_PASS).await? {
        let scope = TenantScope::system(due.org_id.clone());
        match fire_timer(uow, &scope, &due.id, now).await {
            Ok(Fired::Rerouted(routed)) => {
                tracing::info!(
                    org_id = %due.org_id,
                    lead_id = %routed.lead.id,
                    status = %routed.lead.status,
                    "SLA expired: lead routed again"
                );
                count.rerouted += 1;
            }
            Ok(Fired::Stale) => count.stale += 1,
            Ok(Fired::Gone) => count.gone += 1,
            Err(err) => {
                tracing::warn!(org_id = %due.org_id, timer_id = %due.id, error = %err, "timer failed");
                count.failed += 1;
            }
        }
    }
    Ok(count)
}
