//! Every call the seed makes into the routing and lead services, in one
//! place: agents, pools, rules, ingesting leads, and the manager's
//! decisions. When those services' API changes, this file is the one to
//! adapt.

use std::collections::BTreeMap;

use lead::{LeadContactPatch, LeadFilter, LeadStatus, NewLead};
use proposal::{LeadService, ProposalFilter, ProposalStatus, Routed};
use routing::{
    Agent, AgentChange, AgentInput, Pool, PoolChange, RawCondition, RoutingService, RuleChange,
};
use tenancy::{Actor, PageRequest};

use super::{SeedError, random::Lcg, report::SUMMARY_PROPOSAL_STATUSES};

/// Creates an agent.
pub(super) async fn create_agent(
    routing: &RoutingService,
    actor: &Actor,
    input: AgentInput,
) -> Result<Agent, SeedError> {
    let change = AgentChange::parse(input, true)?;
    Ok(routing.create_agent(actor, change).await?)
}

/// Creates a pool of `members` (agent ids, in order) routing by `method`.
pub(super) async fn create_pool(
    routing: &RoutingService,
    actor: &Actor,
    name: &str,
    method: &str,
    members: Vec<String>,
) -> Result<Pool, SeedError> {
    let change = PoolChange::parse(
        Some(name.to_owned()),
        Some(method.to_owned()),
        Some(members),
        true,
    )?;
    Ok(routing.create_pool(actor, change).await?)
}

/// Creates a rule sending the leads matching `condition` to `pool`, to
/// agents with every skill of `skills`.
pub(super) async fn create_rule(
    routing: &RoutingService,
    actor: &Actor,
    name: &str,
    priority: i64,
    condition: RawCondition,
    pool: &Pool,
    skills: Vec<String>,
) -> Result<(), SeedError> {
    let change = RuleChange::parse(
        Some(name.to_owned()),
        Some(priority),
        Some(vec![condition]),
        Some(pool.id.to_string()),
        Some(skills),
        true,
    )?;
    routing.create_rule(actor, change).await?;
    Ok(())
}

/// Posts a lead through the routing engine, as `POST /leads` does.
pub(super) async fn ingest(
    leads: &LeadService,
    actor: &Actor,
    lead: NewLead,
) -> Result<Routed, SeedError> {
    Ok(leads.ingest(actor, lead).await?)
}

/// What a manager does with a lead that was just routed: approve about half
/// of the pending proposals, reject about one in eight (the engine proposes
/// the next candidate or leaves the lead unrouted), leave the rest pending;
/// then move some assigned leads on to contacted, won or lost.
pub(super) async fn work_the_queue(
    leads: &LeadService,
    manager: &Actor,
    rng: &mut Lcg,
    routed: Routed,
) -> Result<(), SeedError> {
    let lead_id = routed.lead.id.clone();
    let mut status = routed.lead.status;
    if let Some(proposal) = routed
        .proposal
        .filter(|p| p.status == ProposalStatus::Pending)
    {
        match rng.below(100) {
            0..50 => {
                let done = leads
                    .approve(manager, &proposal.id, Some("Good fit.".into()))
                    .await?;
                status = done.lead.status;
            }
            50..62 => {
                let (_, next) = leads
                    .reject(
                        manager,
                        &proposal.id,
                        Some("Not the right owner for this account.".into()),
                        None,
                    )
                    .await?;
                status = next.lead.status;
            }
            _ => {}
        }
    }
    if status == LeadStatus::Assigned {
        let next = match rng.below(100) {
            0..25 => Some(LeadStatus::Contacted),
            25..37 => Some(LeadStatus::Won),
            37..47 => Some(LeadStatus::Lost),
            _ => None,
        };
        if let Some(next) = next {
            leads
                .update_lead(
                    manager,
                    &lead_id,
                    LeadContactPatch {
                        status: Some(next),
                        ..LeadContactPatch::default()
                    },
                )
                .await?;
        }
    }
    Ok(())
}

/// The organization's leads by status.
pub(super) async fn count_leads(
    leads: &LeadService,
    manager: &Actor,
) -> Result<BTreeMap<&'static str, u64>, SeedError> {
    let mut counts = BTreeMap::new();
    for status in LeadStatus::ALL {
        let filter = LeadFilter {
            status: Some(status),
            ..LeadFilter::default()
        };
        let page = leads
            .list_leads(manager, filter, PageRequest::new(Some(1), None)?)
            .await?;
        counts.insert(status.as_str(), page.total);
    }
    Ok(counts)
}

/// The organization's proposals by status.
pub(super) async fn count_proposals(
    leads: &LeadService,
    manager: &Actor,
) -> Result<BTreeMap<&'static str, u64>, SeedError> {
    let mut counts = BTreeMap::new();
    for status in SUMMARY_PROPOSAL_STATUSES {
        let filter = ProposalFilter {
            status: Some(status),
            ..Default::default()
        };
        let page = leads
            .list_proposals(manager, &filter, PageRequest::new(Some(1), None)?)
            .await?;
        counts.insert(status.as_str(), page.total);
    }
    Ok(counts)
}
