//! A day of lead routing with no database: an organization, four agents, a
//! round-robin pool, a rule for enterprise leads, a dozen leads routed, a
//! few proposals approved and rejected, and every decision printed with its
//! trace.
//!
//! ```text
//! cargo run -p memory --example in_memory_routing
//! ```

use std::{error::Error, sync::Arc};

use lead::{NewLead, NewLeadInput};
use memory::MemoryStore;
use organization::{NewOrganization, OrgName, OrganizationRepository, Settings, Tier};
use proposal::{LeadPorts, LeadService, Proposal, Routed};
use routing::{AgentChange, AgentInput, PoolChange, RawCondition, RoutingService, RuleChange};
use serde_json::json;
use tenancy::Actor;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let store = Arc::new(MemoryStore::new());
    let routing = RoutingService::new(store.clone(), store.clone(), store.clone(), store.clone());
    let leads = LeadService::new(LeadPorts {
        uow: store.clone(),
        leads: store.clone(),
        proposals: store.clone(),
        agents: store.clone(),
        reporting: store.clone(),
        orgs: store.clone(),
        events: store.clone(),
    });

    // The organization, as an operator creates it; then we act in it.
    let org = NewOrganization {
        name: OrgName::parse("acme")?,
        display_name: None,
        email: None,
        phone: None,
        tier: Tier::default(),
        monday_workspace_id: None,
        settings: Settings::parse(json!({"stickyByDomain": true}))?,
    }
    .into_organization("operator:example".into(), tenancy::now());
    let manager = Actor::operator("example")
        .acting_in(org.id.clone())
        .ok_or("an operator acts in any organization")?;
    store.insert(&manager.scope(), &org).await?;

    let mut team = Vec::new();
    for (name, skills, capacity) in [
        ("Ada", vec!["enterprise"], Some(3)),
        ("Bo", vec!["enterprise"], None),
        ("Cy", vec![], Some(2)),
        ("Di", vec![], None),
    ] {
        let change = AgentChange::parse(
            AgentInput {
                name: Some(name.into()),
                email: Some(format!("{}@acme.example", name.to_lowercase())),
                skills: Some(skills.into_iter().map(str::to_owned).collect()),
                capacity: Some(capacity),
                ..AgentInput::default()
            },
            true,
        )?;
        team.push(routing.create_agent(&manager, change).await?);
    }
    let name_of = |id: &tenancy::AgentId| {
        team.iter()
            .find(|a| &a.id == id)
            .map_or_else(|| id.to_string(), |a| a.name.clone())
    };
    let pool = routing
        .create_pool(
            &manager,
            PoolChange::parse(
                Some("everyone".into()),
                Some("round_robin".into()),
                Some(team.iter().map(|a| a.id.to_string()).collect()),
                true,
            )?,
        )
        .await?;
    routing
        .create_rule(
            &manager,
            RuleChange::parse(
                Some("enterprise leads".into()),
                Some(10),
                Some(vec![RawCondition {
                    field: "score".into(),
                    op: "gte".into(),
                    value: json!(80),
                }]),
                Some(pool.id.to_string()),
                Some(vec!["enterprise".into()]),
                true,
            )?,
        )
        .await?;
    routing
        .create_rule(
            &manager,
            RuleChange::parse(
                Some("everything else".into()),
                Some(100),
                Some(vec![]),
                Some(pool.id.to_string()),
                None,
                true,
            )?,
        )
        .await?;

    println!("Routing 12 leads of {}:\n", org.name);
    let mut pending = Vec::new();
    for i in 0..12u8 {
        let input = NewLeadInput {
            name: format!("Prospect {i}"),
            email: Some(format!("buyer{i}@client{}.example", i % 5)),
            score: Some(i64::from(i) * 9),
            ..NewLeadInput::default()
        };
        let routed = leads.ingest(&manager, NewLead::parse(input)?).await?;
        print_decision(&routed, &name_of);
        if let Some(p) = routed.proposal {
            pending.push(p);
        }
    }

    println!("\nReview:");
    for (n, proposal) in pending.iter().take(6).enumerate() {
        if n % 3 == 2 {
            let (rejected, next) = leads
                .reject(&manager, &proposal.id, Some("wrong fit".into()), None)
                .await?;
            println!(
                "  rejected {} for {}; routed again:",
                name_of(&rejected.agent_id),
                next.lead.name
            );
            print_decision(&next, &name_of);
        } else {
            let done = leads
                .approve(&manager, &proposal.id, Some("go".into()))
                .await?;
            println!(
                "  approved: {} is now {}, to {}",
                done.lead.name,
                done.lead.status,
                name_of(&proposal.agent_id)
            );
        }
    }

    let dashboard = leads.dashboard(&manager).await?;
    println!(
        "\n{} agents, {} leads, {} proposals.",
        dashboard.agents, dashboard.leads, dashboard.proposals
    );
    Ok(())
}

fn print_decision(routed: &Routed, name_of: &impl Fn(&tenancy::AgentId) -> String) {
    let lead = &routed.lead;
    match &routed.proposal {
        Some(Proposal {
            agent_id,
            method,
            status,
            trace,
            ..
        }) => {
            println!(
                "  {:<12} -> {} ({}, {})",
                lead.name,
                name_of(agent_id),
                method.as_str(),
                status.as_str()
            );
            for entry in trace {
                println!("      {:<4} {}", name_of(&entry.agent_id), entry.reason);
            }
        }
        None => println!(
            "  {:<12} -> unrouted: {}",
            lead.name,
            lead.unrouted_reason.as_deref().unwrap_or("")
        ),
    }
}
