#![allow(clippy::unwrap_used)]
//! The routing workflow of the `proposal` crate, run by its services over
//! the in-memory adapters: ingest, replay, approve, reject and route again,
//! reassign, counters given back, roles, tenant isolation, and all-or-nothing
//! steps. No database: these run in milliseconds. The SQL adapter is held to
//! the same behaviour by `crates/storage/tests` on SQLite and PostgreSQL.

use std::sync::Arc;

use lead::{LeadContactPatch, LeadFilter, LeadKey, LeadStatus, NewLead, NewLeadInput};
use memory::MemoryStore;
use organization::{NewOrganization, OrgName, OrganizationRepository, Settings, Tier};
use proposal::{LeadPorts, LeadService, ProposalFilter, ProposalStatus};
use routing::{
    Agent, AgentChange, AgentInput, Method, Pool, PoolChange, RawCondition, RoutingError,
    RoutingService, RuleChange,
};
use serde_json::{Value, json};
use tenancy::{Actor, AgentId, PageRequest, Principal, Role};

struct World {
    store: Arc<MemoryStore>,
    routing: RoutingService,
    leads: LeadService,
}

impl World {
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        Self {
            routing: RoutingService::new(
                store.clone(),
                store.clone(),
                store.clone(),
                store.clone(),
            ),
            leads: LeadService::new(LeadPorts {
                uow: store.clone(),
                leads: store.clone(),
                proposals: store.clone(),
                agents: store.clone(),
                reporting: store.clone(),
                orgs: store.clone(),
                events: store.clone(),
            }),
            store,
        }
    }

    /// A new organization with `settings`, and a manager acting in it.
    async fn org(&self, name: &str, settings: Value) -> Actor {
        let org = NewOrganization {
            name: OrgName::parse(name).unwrap(),
            display_name: None,
            email: None,
            phone: None,
            tier: Tier::default(),
            monday_workspace_id: None,
            settings: Settings::parse(settings).unwrap(),
        }
        .into_organization("test".into(), tenancy::now());
        self.store
            .insert(&tenancy::TenantScope::system(org.id.clone()), &org)
            .await
            .unwrap();
        Actor::new(org.id, Principal::User("usr_manager".into()), Role::Manager)
    }

    async fn agent(
        &self,
        manager: &Actor,
        name: &str,
        tweak: impl FnOnce(&mut AgentInput),
    ) -> Agent {
        let mut input = AgentInput {
            name: Some(name.into()),
            email: Some(format!("{name}@acme.example")),
            ..AgentInput::default()
        };
        tweak(&mut input);
        let change = AgentChange::parse(input, true).unwrap();
        self.routing.create_agent(manager, change).await.unwrap()
    }

    /// A round-robin pool of `members` that every lead goes to.
    async fn pool_for_all(&self, manager: &Actor, members: &[&Agent]) -> Pool {
        let pool = self
            .routing
            .create_pool(
                manager,
                PoolChange::parse(
                    Some("all".into()),
                    Some("round_robin".into()),
                    Some(members.iter().map(|a| a.id.to_string()).collect()),
                    true,
                )
                .unwrap(),
            )
            .await
            .unwrap();
        let catch_all: Vec<RawCondition> = vec![];
        self.routing
            .create_rule(
                manager,
                RuleChange::parse(
                    Some("all".into()),
                    Some(1),
                    Some(catch_all),
                    Some(pool.id.to_string()),
                    None,
                    true,
                )
                .unwrap(),
            )
            .await
            .unwrap();
        pool
    }

    async fn lead(&self, actor: &Actor, input: NewLeadInput) -> proposal::Routed {
        let input = NewLeadInput {
            name: "Ann Prospect".into(),
            ..input
        };
        self.leads
            .ingest(actor, NewLead::parse(input).unwrap())
            .await
            .unwrap()
    }

    async fn open_leads(&self, manager: &Actor, agent: &Agent) -> (u32, u32) {
        let view = self.routing.get_agent(manager, &agent.id).await.unwrap();
        (view.load.open_leads, view.load.today)
    }
}

fn agent_of(routed: &proposal::Routed) -> Option<&AgentId> {
    routed.proposal.as_ref().map(|p| &p.agent_id)
}

#[tokio::test]
async fn a_lead_is_proposed_in_rotation_and_approval_assigns_it() {
    let w = World::new();
    let m = w.org("acme", json!({})).await;
    let (a, b) = (
        w.agent(&m, "a", |_| {}).await,
        w.agent(&m, "b", |_| {}).await,
    );
    w.pool_for_all(&m, &[&a, &b]).await;

    let first = w.lead(&m, NewLeadInput::default()).await;
    let second = w.lead(&m, NewLeadInput::default()).await;
    assert!(first.created);
    assert_eq!(first.lead.status, LeadStatus::Proposed);
    assert_eq!(agent_of(&first), Some(&a.id));
    assert_eq!(agent_of(&second), Some(&b.id));
    let p = first.proposal.unwrap();
    assert_eq!(
        (p.status, p.method),
        (ProposalStatus::Pending, Method::RoundRobin)
    );
    assert_eq!(w.open_leads(&m, &a).await, (1, 1));

    let done = w.leads.approve(&m, &p.id, Some("ok".into())).await.unwrap();
    assert_eq!(done.lead.status, LeadStatus::Assigned);
    assert_eq!(done.lead.assigned_agent_id(), Some(&a.id));
    let approved = done.proposal.unwrap();
    assert_eq!(approved.decided_by.as_deref(), Some("user:usr_manager"));
    let again = w.leads.approve(&m, &p.id, None).await.unwrap_err();
    assert!(
        matches!(again, RoutingError::AlreadyDecided("approved")),
        "{again:?}"
    );
}

#[tokio::test]
async fn auto_approval_assigns_at_once_and_an_external_id_replays() {
    let w = World::new();
    let m = w.org("acme", json!({"allowAutoRouting": true})).await;
    let a = w.agent(&m, "a", |_| {}).await;
    w.pool_for_all(&m, &[&a]).await;
    let input = || NewLeadInput {
        external_id: Some("crm-1".into()),
        ..NewLeadInput::default()
    };
    let routed = w.lead(&m, input()).await;
    assert_eq!(routed.lead.status, LeadStatus::Assigned);
    assert_eq!(
        routed.proposal.as_ref().unwrap().decided_by.as_deref(),
        Some("system")
    );

    let replay = w.lead(&m, input()).await;
    assert!(!replay.created);
    assert_eq!(replay.lead.id, routed.lead.id);
    assert_eq!(replay.proposal, routed.proposal);
    let all = w
        .leads
        .list_leads(&m, LeadFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total, 1);
}

#[tokio::test]
async fn a_batch_routes_in_order_replays_within_itself_and_respects_capacity() {
    let w = World::new();
    let m = w.org("acme", json!({})).await;
    let a = w.agent(&m, "a", |i| i.capacity = Some(Some(2))).await;
    let b = w.agent(&m, "b", |i| i.capacity = Some(Some(1))).await;
    w.pool_for_all(&m, &[&a, &b]).await;
    let lead = |external: Option<&str>| {
        NewLead::parse(NewLeadInput {
            name: "Batch Prospect".into(),
            external_id: external.map(Into::into),
            ..NewLeadInput::default()
        })
        .unwrap()
    };
    let results = w
        .leads
        .ingest_batch(
            &m,
            vec![
                lead(Some("x-1")),
                lead(None),
                lead(Some("x-1")),
                lead(None),
                lead(None),
            ],
        )
        .await
        .unwrap();
    let routed: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    let created: Vec<bool> = routed.iter().map(|r| r.created).collect();
    assert_eq!(created, [true, true, false, true, true]);
    assert_eq!(routed[2].lead.id, routed[0].lead.id);
    // a, b, then a again (b is full), then nobody: both are at capacity.
    let agents = [0, 1, 3, 4].map(|i| agent_of(&routed[i]).cloned());
    assert_eq!(
        agents,
        [
            Some(a.id.clone()),
            Some(b.id.clone()),
            Some(a.id.clone()),
            None
        ]
    );
    assert_eq!(routed[4].lead.status, LeadStatus::Unrouted);
    assert_eq!(w.open_leads(&m, &a).await.0, 2);
    assert_eq!(w.open_leads(&m, &b).await.0, 1);
}

#[tokio::test]
async fn a_rejection_routes_again_never_back_and_gives_the_counters_back() {
    let w = World::new();
    let m = w.org("acme", json!({})).await;
    let (a, b) = (
        w.agent(&m, "a", |_| {}).await,
        w.agent(&m, "b", |_| {}).await,
    );
    w.pool_for_all(&m, &[&a, &b]).await;
    let routed = w.lead(&m, NewLeadInput::default()).await;
    let first = routed.proposal.unwrap();
    assert_eq!(first.agent_id, a.id);

    let (rejected, next) = w.leads.reject(&m, &first.id, None, None).await.unwrap();
    assert_eq!(rejected.status, ProposalStatus::Rejected);
    assert_eq!(agent_of(&next), Some(&b.id));
    assert_eq!(next.lead.status, LeadStatus::Proposed);
    // The lead left `a`: its capacity and its daily count are back.
    assert_eq!(w.open_leads(&m, &a).await, (0, 0));
    assert_eq!(w.open_leads(&m, &b).await, (1, 1));

    // Rejected by both: nobody is left, the lead says why.
    let second = next.proposal.unwrap();
    let (_, last) = w.leads.reject(&m, &second.id, None, None).await.unwrap();
    assert_eq!(last.proposal, None);
    assert_eq!(last.lead.status, LeadStatus::Unrouted);
    assert!(last.lead.unrouted_reason.is_some());
    assert_eq!(w.open_leads(&m, &b).await, (0, 0));
}

#[tokio::test]
async fn a_reassignment_assigns_by_hand_and_a_bad_one_writes_nothing() {
    let w = World::new();
    let m = w.org("acme", json!({})).await;
    let (a, c) = (
        w.agent(&m, "a", |_| {}).await,
        w.agent(&m, "c", |_| {}).await,
    );
    w.pool_for_all(&m, &[&a]).await;
    let routed = w.lead(&m, NewLeadInput::default()).await;
    let p = routed.proposal.unwrap();

    let other = w.org("globex", json!({})).await;
    let foreign = w.agent(&other, "f", |_| {}).await;
    let err = w
        .leads
        .reject(&m, &p.id, None, Some(foreign.id.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::Invalid(_)), "{err:?}");
    let unchanged = w.leads.get_proposal(&m, &p.id).await.unwrap();
    assert_eq!(unchanged.status, ProposalStatus::Pending);

    let (_, next) = w
        .leads
        .reject(&m, &p.id, None, Some(c.id.clone()))
        .await
        .unwrap();
    let manual = next.proposal.unwrap();
    assert_eq!(
        (manual.method, manual.status),
        (Method::Manual, ProposalStatus::Approved)
    );
    assert_eq!(
        manual.trace[0].reason,
        "selected: reassigned by user:usr_manager"
    );
    assert_eq!(next.lead.assigned_agent_id(), Some(&c.id));
    assert_eq!(w.open_leads(&m, &a).await, (0, 0));
}

#[tokio::test]
async fn another_organization_sees_none_of_it() {
    let w = World::new();
    let m = w.org("acme", json!({})).await;
    let a = w.agent(&m, "a", |_| {}).await;
    w.pool_for_all(&m, &[&a]).await;
    let routed = w.lead(&m, NewLeadInput::default()).await;
    let p = routed.proposal.unwrap();

    let other = w.org("globex", json!({})).await;
    let not_found = |e: RoutingError| matches!(e, RoutingError::NotFound(_));
    assert!(not_found(
        w.leads.get_lead(&other, &routed.lead.id).await.unwrap_err()
    ));
    assert!(not_found(
        w.leads.approve(&other, &p.id, None).await.unwrap_err()
    ));
    assert!(not_found(
        w.routing.get_agent(&other, &a.id).await.unwrap_err()
    ));
    let theirs = w
        .leads
        .list_proposals(&other, &ProposalFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(theirs.total, 0);
    // Their lead goes nowhere: they have no pool.
    let alone = w.lead(&other, NewLeadInput::default()).await;
    assert_eq!(alone.lead.status, LeadStatus::Unrouted);
    assert_eq!(
        w.leads.get_proposal(&m, &p.id).await.unwrap().status,
        ProposalStatus::Pending
    );
}

#[tokio::test]
async fn agents_see_their_own_leads_and_review_nothing() {
    let w = World::new();
    let m = w.org("acme", json!({"allowAutoRouting": true})).await;
    let a = w
        .agent(&m, "a", |i| i.user_id = Some(Some("usr_a".into())))
        .await;
    w.pool_for_all(&m, &[&a]).await;
    let routed = w.lead(&m, NewLeadInput::default()).await;
    let agent_actor = Actor::new(
        m.org_id().clone(),
        Principal::User("usr_a".into()),
        Role::Agent,
    );
    let stranger = Actor::new(
        m.org_id().clone(),
        Principal::User("usr_x".into()),
        Role::Agent,
    );

    let (lead, _) = w
        .leads
        .get_lead(&agent_actor, &routed.lead.id)
        .await
        .unwrap();
    assert_eq!(lead.id, routed.lead.id);
    assert!(w.leads.get_lead(&stranger, &routed.lead.id).await.is_err());
    let forbidden = w
        .leads
        .list_proposals(
            &agent_actor,
            &ProposalFilter::default(),
            PageRequest::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(forbidden, RoutingError::Forbidden(_)));

    let contacted = w
        .leads
        .update_lead(
            &agent_actor,
            &routed.lead.id,
            LeadContactPatch {
                status: Some(LeadStatus::Contacted),
                ..LeadContactPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(contacted.status, LeadStatus::Contacted);
    let backwards = w
        .leads
        .update_lead(
            &agent_actor,
            &routed.lead.id,
            LeadContactPatch {
                status: Some(LeadStatus::Assigned),
                ..LeadContactPatch::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(backwards, RoutingError::InvalidTransition(_)));
}

#[tokio::test]
async fn leads_page_after_a_key_in_list_order_with_the_lists_visibility() {
    let w = World::new();
    let m = w.org("acme", json!({"allowAutoRouting": true})).await;
    let a = w
        .agent(&m, "a", |i| i.user_id = Some(Some("usr_a".into())))
        .await;
    let b = w.agent(&m, "b", |_| {}).await;
    w.pool_for_all(&m, &[&a, &b]).await;
    // A batch shares one instant: ties broken by id.
    let batch = (0..7)
        .map(|i| {
            NewLead::parse(NewLeadInput {
                name: format!("Batch {i}"),
                ..NewLeadInput::default()
            })
            .unwrap()
        })
        .collect();
    w.leads.ingest_batch(&m, batch).await.unwrap();
    for _ in 0..2 {
        w.lead(&m, NewLeadInput::default()).await;
    }
    let list = |actor: Actor, filter: LeadFilter| {
        let w = &w;
        async move {
            w.leads
                .list_leads(&actor, filter, PageRequest::new(Some(1000), None).unwrap())
                .await
                .unwrap()
                .items
        }
    };
    let paged = |actor: Actor, filter: LeadFilter| {
        let w = &w;
        async move {
            let mut out: Vec<lead::Lead> = Vec::new();
            loop {
                let after = out.last().map(LeadKey::of);
                let page = w
                    .leads
                    .leads_after(&actor, filter.clone(), after.as_ref(), 3)
                    .await
                    .unwrap();
                let short = page.len() < 3;
                out.extend(page);
                if short {
                    return out;
                }
                assert!(out.len() <= 9, "pages repeat leads");
            }
        }
    };
    let all = paged(m.clone(), LeadFilter::default()).await;
    assert_eq!(all.len(), 9);
    assert_eq!(all, list(m.clone(), LeadFilter::default()).await);

    // An agent pages through its own leads, whatever it asks for; an
    // agent-role caller without an agent record through none.
    let agent_actor = Actor::new(
        m.org_id().clone(),
        Principal::User("usr_a".into()),
        Role::Agent,
    );
    let others = LeadFilter {
        assigned_agent_id: Some(b.id.clone()),
        ..LeadFilter::default()
    };
    let own = paged(agent_actor.clone(), others.clone()).await;
    assert!(!own.is_empty());
    assert!(own.iter().all(|l| l.assigned_agent_id() == Some(&a.id)));
    assert_eq!(own, list(agent_actor, others).await);
    let stranger = Actor::new(
        m.org_id().clone(),
        Principal::User("usr_x".into()),
        Role::Agent,
    );
    assert!(paged(stranger, LeadFilter::default()).await.is_empty());
}

#[tokio::test]
async fn a_full_agent_is_passed_over_and_the_fallback_takes_what_nobody_can() {
    let w = World::new();
    let m = w.org("acme", json!({})).await;
    let a = w.agent(&m, "a", |i| i.capacity = Some(Some(1))).await;
    w.pool_for_all(&m, &[&a]).await;
    let first = w.lead(&m, NewLeadInput::default()).await;
    assert_eq!(agent_of(&first), Some(&a.id));
    let second = w.lead(&m, NewLeadInput::default()).await;
    assert_eq!(second.lead.status, LeadStatus::Unrouted);
    assert!(
        second
            .lead
            .unrouted_reason
            .as_deref()
            .is_some_and(|r| !r.is_empty())
    );

    // With a fallback agent, nothing is dropped.
    let fb = w.agent(&m, "fallback", |_| {}).await;
    w.store
        .update(
            &m.scope(),
            organization::OrganizationPatch {
                settings: json!({"fallbackAgentId": fb.id.as_str()})
                    .as_object()
                    .cloned(),
                ..Default::default()
            },
            tenancy::now(),
        )
        .await
        .unwrap();
    let third = w.lead(&m, NewLeadInput::default()).await;
    assert_eq!(agent_of(&third), Some(&fb.id));
    assert_eq!(third.proposal.unwrap().method, Method::Fallback);
}

#[tokio::test]
async fn the_dashboard_counts_what_the_organization_has() {
    let w = World::new();
    let m = w.org("acme", json!({})).await;
    let a = w.agent(&m, "a", |_| {}).await;
    w.pool_for_all(&m, &[&a]).await;
    w.lead(&m, NewLeadInput::default()).await;
    w.lead(&m, NewLeadInput::default()).await;
    let d = w.leads.dashboard(&m).await.unwrap();
    assert_eq!((d.agents, d.leads, d.proposals), (1, 2, 2));
    assert_eq!(d.organization.name.as_str(), "acme");
}

/// Fires what is due at `at` (the scheduler's pass, with the clock given).
async fn fire_at(w: &World, at: chrono::DateTime<chrono::Utc>) -> proposal::workflow::FiredCount {
    proposal::workflow::fire_due(w.store.as_ref(), w.store.as_ref(), at)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_unreviewed_lead_walks_through_every_agent_once_then_breaches_its_sla() {
    let w = World::new();
    let m = w.org("acme", json!({"reviewSlaSeconds": 60})).await;
    let agents = [
        w.agent(&m, "a", |_| {}).await,
        w.agent(&m, "b", |_| {}).await,
        w.agent(&m, "c", |_| {}).await,
    ];
    w.pool_for_all(&m, &[&agents[0], &agents[1], &agents[2]])
        .await;
    let routed = w.lead(&m, NewLeadInput::default()).await;
    let start = tenancy::now();
    // Not yet due: nothing fires.
    assert_eq!(fire_at(&w, start).await.rerouted, 0);
    let mut seen = vec![agent_of(&routed).unwrap().clone()];
    for step in 1..=3 {
        let fired = fire_at(&w, start + chrono::TimeDelta::seconds(61 * step)).await;
        assert_eq!(fired.rerouted, 1, "step {step}");
        let (lead, latest) = w.leads.get_lead(&m, &routed.lead.id).await.unwrap();
        if step < 3 {
            assert_eq!(lead.status, LeadStatus::Proposed);
            let next = latest.unwrap().agent_id;
            assert!(!seen.contains(&next), "{next} again");
            seen.push(next);
        } else {
            assert_eq!(lead.status, LeadStatus::Unrouted);
        }
    }
    // Nothing left to fire.
    let later = start + chrono::TimeDelta::days(1);
    assert_eq!(fire_at(&w, later).await, Default::default());
    let events = w.leads.timeline(&m, &routed.lead.id).await.unwrap();
    let count = |k: &str| events.iter().filter(|e| e.kind == k).count();
    assert_eq!(count("proposal.expired"), 3);
    assert_eq!(count("lead.sla_breached"), 1);
    assert_eq!(events.last().unwrap().kind, "lead.sla_breached");
    // What the expired proposals took was given back.
    for agent in &agents {
        assert_eq!(w.open_leads(&m, agent).await, (0, 0), "{}", agent.name);
    }
}

#[tokio::test]
async fn a_reviewed_proposal_has_no_timer_and_a_timer_fires_once() {
    let w = World::new();
    let m = w.org("acme", json!({"reviewSlaSeconds": 1})).await;
    let (a, b) = (
        w.agent(&m, "a", |_| {}).await,
        w.agent(&m, "b", |_| {}).await,
    );
    w.pool_for_all(&m, &[&a, &b]).await;
    let reviewed = w.lead(&m, NewLeadInput::default()).await;
    w.leads
        .approve(&m, &reviewed.proposal.unwrap().id, None)
        .await
        .unwrap();
    let waiting = w.lead(&m, NewLeadInput::default()).await;
    let later = tenancy::now() + chrono::TimeDelta::seconds(5);
    let due = proposal::TimerQueue::due(w.store.as_ref(), later, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "only the pending proposal waits");
    let scope = tenancy::TenantScope::system(m.org_id().clone());
    let first = proposal::workflow::fire_timer(w.store.as_ref(), &scope, &due[0].id, later)
        .await
        .unwrap();
    assert!(matches!(first, proposal::workflow::Fired::Rerouted(_)));
    let second = proposal::workflow::fire_timer(w.store.as_ref(), &scope, &due[0].id, later)
        .await
        .unwrap();
    assert_eq!(second, proposal::workflow::Fired::Gone);
    let (lead, _) = w.leads.get_lead(&m, &waiting.lead.id).await.unwrap();
    assert_eq!(lead.status, LeadStatus::Proposed);
}

#[tokio::test]
async fn a_decline_and_a_manual_reroute_never_go_back_to_an_earlier_agent() {
    let w = World::new();
    let m = w.org("acme", json!({"allowAutoRouting": true})).await;
    let agents = [
        w.agent(&m, "a", |i| i.user_id = Some(Some("usr_a".into())))
            .await,
        w.agent(&m, "b", |_| {}).await,
        w.agent(&m, "c", |_| {}).await,
    ];
    w.pool_for_all(&m, &[&agents[0], &agents[1], &agents[2]])
        .await;
    let routed = w.lead(&m, NewLeadInput::default()).await;
    assert_eq!(routed.lead.assigned_agent_id(), Some(&agents[0].id));
    let rep = Actor::new(
        m.org_id().clone(),
        Principal::User("usr_a".into()),
        Role::Agent,
    );
    let declined = w.leads.decline(&rep, &routed.lead.id, None).await.unwrap();
    assert_eq!(declined.lead.assigned_agent_id(), Some(&agents[1].id));
    // The rep no longer holds it: neither accept nor decline.
    assert!(matches!(
        w.leads.accept(&rep, &routed.lead.id).await,
        Err(RoutingError::NotFound("lead"))
    ));
    let again = w.leads.reroute(&m, &routed.lead.id, None).await.unwrap();
    assert_eq!(again.lead.assigned_agent_id(), Some(&agents[2].id));
    let last = w.leads.reroute(&m, &routed.lead.id, None).await.unwrap();
    assert_eq!(last.lead.status, LeadStatus::Unrouted);
    assert!(last.proposal.is_none());
    for agent in &agents {
        assert_eq!(w.open_leads(&m, agent).await.0, 0, "{}", agent.name);
    }
}

/// The workflow's unit of work over the store, with the first transaction
/// held at its start until the test lets it go, and every start counted
/// (and the `fail`-th refused): what [`proposal::GroupCommit`] does with
/// leads that arrive while a transaction runs.
struct Gated {
    store: Arc<MemoryStore>,
    begins: std::sync::atomic::AtomicUsize,
    gate: tokio::sync::Semaphore,
    fail: Option<usize>,
}

#[async_trait::async_trait]
impl proposal::UnitOfWork for Gated {
    async fn begin(
        &self,
        scope: &tenancy::TenantScope,
    ) -> Result<Box<dyn proposal::RoutingTx>, tenancy::StorageError> {
        let n = self
            .begins
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == 0 {
            self.gate.acquire().await.unwrap().forget();
        }
        if self.fail == Some(n) {
            return Err(tenancy::StorageError::Unavailable("refused".into()));
        }
        proposal::UnitOfWork::begin(self.store.as_ref(), scope).await
    }
}

/// 16 concurrent ingests: the first alone while the rest arrive, then the
/// rest in one transaction (or one by one when `fail` refuses it), in
/// arrival order. Returns the results and the number of transactions.
async fn sixteen_at_once(fail: Option<usize>) -> (Vec<proposal::Routed>, [AgentId; 3], usize) {
    let w = World::new();
    let m = w.org("acme", json!({})).await;
    let agents = [
        w.agent(&m, "a", |_| {}).await,
        w.agent(&m, "b", |_| {}).await,
        w.agent(&m, "c", |_| {}).await,
    ];
    w.pool_for_all(&m, &[&agents[0], &agents[1], &agents[2]])
        .await;
    let gated = Arc::new(Gated {
        store: w.store.clone(),
        begins: 0.into(),
        gate: tokio::sync::Semaphore::new(0),
        fail,
    });
    let leads = LeadService::new(LeadPorts {
        uow: gated.clone(),
        leads: w.store.clone(),
        proposals: w.store.clone(),
        agents: w.store.clone(),
        reporting: w.store.clone(),
        orgs: w.store.clone(),
        events: w.store.clone(),
    });
    let ingest = |i: usize| {
        let (leads, m) = (leads.clone(), m.clone());
        let lead = NewLead::parse(NewLeadInput {
            name: format!("Prospect {i}"),
            ..NewLeadInput::default()
        })
        .unwrap();
        tokio::spawn(async move { leads.ingest(&m, lead).await })
    };
    let mut tasks = vec![ingest(0)];
    while gated.begins.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    // The first transaction waits at its start; these queue behind it, in
    // this order (the runtime runs spawned tasks first in, first out).
    tasks.extend((1..16).map(ingest));
    for _ in 0..32 {
        tokio::task::yield_now().await;
    }
    gated.gate.add_permits(1);
    let mut routed = Vec::new();
    for task in tasks {
        routed.push(task.await.unwrap().unwrap());
    }
    let begins = gated.begins.load(std::sync::atomic::Ordering::SeqCst);
    (routed, agents.map(|a| a.id), begins)
}

#[tokio::test]
async fn concurrent_ingests_share_a_transaction_in_arrival_order() {
    let (routed, agents, begins) = sixteen_at_once(None).await;
    // One transaction for the first lead, one for the 15 that came during it.
    assert_eq!(begins, 2);
    for (i, r) in routed.iter().enumerate() {
        assert!(r.created);
        assert_eq!(r.lead.name, format!("Prospect {i}"));
        // Round robin in arrival order: exact fairness across the group.
        assert_eq!(agent_of(r), Some(&agents[i % 3]), "lead {i}");
    }
}

#[tokio::test]
async fn a_group_whose_transaction_fails_is_routed_one_by_one() {
    // The second start (the group of 15) is refused: each lead again alone.
    let (routed, agents, begins) = sixteen_at_once(Some(1)).await;
    assert_eq!(begins, 2 + 15);
    for (i, r) in routed.iter().enumerate() {
        assert_eq!(r.lead.name, format!("Prospect {i}"));
        assert_eq!(agent_of(r), Some(&agents[i % 3]), "lead {i}");
    }
}
