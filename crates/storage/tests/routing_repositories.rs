#![allow(clippy::unwrap_used)]
//! The routing repositories and the routing store against a real, freshly
//! migrated database: SQLite in a temporary folder, or a fresh PostgreSQL
//! database created on the server `TEST_DATABASE_URL` names when it is set
//! (and dropped afterwards).
//!
//! These check what the SQL itself must guarantee: tenant scoping, the
//! constraints (composite foreign keys, RESTRICT, cascades), and above all
//! that routing stays exact when many leads arrive at once (round-robin
//! turns, capacities).

mod common;

use common::TestDb;

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use lead::LeadRepository;
use lead::{Lead, LeadFilter, LeadStatus, NewLead, NewLeadInput};
use organization::OrganizationRepository;
use proposal::{
    Proposal, ProposalFilter, ProposalId, ProposalRepository, ProposalStatus, Reporting, Routed,
    ports::UnitOfWork, workflow,
};
use routing::{
    Agent, AgentChange, AgentInput, AgentStatus, Condition, DayWindow, DecisionSource,
    LeadActivity, Method, Pool, PoolId, PoolMethod, RoutingError, Rule, RuleId, WorkingHours,
    engine::Plan,
    ports::{AgentFilter, AgentRepository, PoolRepository, RuleRepository},
};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use storage::{
    SeaOrmAgentRepository, SeaOrmLeadRepository, SeaOrmPoolRepository, SeaOrmProposalRepository,
    SeaOrmReporting, SeaOrmRuleRepository, SeaOrmUnitOfWork,
};
use tenancy::{Actor, AgentId, OrgId, Page, PageRequest, StorageError, TenantScope};

/// The scope of a test operator acting in `org`.
fn sc(org: &OrgId) -> TenantScope {
    Actor::operator("test")
        .acting_in(org.clone())
        .unwrap()
        .scope()
}

/// The routing workflow of the `proposal` crate over the SQL unit of work:
/// the contract these tests hold the adapter to.
struct Store {
    uow: SeaOrmUnitOfWork,
}

impl Store {
    async fn ingest(&self, lead: Lead, now: DateTime<Utc>) -> Result<Routed, RoutingError> {
        let scope = sc(&lead.org_id);
        workflow::ingest(&self.uow, &scope, lead, now).await
    }

    async fn approve(
        &self,
        org: &OrgId,
        id: &ProposalId,
        by: &str,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Routed, RoutingError> {
        workflow::approve(&self.uow, &sc(org), id, by, note, now).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn reject(
        &self,
        org: &OrgId,
        id: &ProposalId,
        by: &str,
        note: Option<String>,
        reassign_to: Option<AgentId>,
        now: DateTime<Utc>,
    ) -> Result<(Proposal, Routed), RoutingError> {
        workflow::reject(&self.uow, &sc(org), id, by, note, reassign_to.as_ref(), now).await
    }

    async fn simulate(&self, lead: &Lead, now: DateTime<Utc>) -> Result<Plan, RoutingError> {
        let mut reads = self.uow.read(&sc(&lead.org_id)).await?;
        let decision = routing::decide(
            reads.as_mut(),
            lead,
            &std::collections::HashSet::new(),
            now,
            false,
        )
        .await?;
        Ok(decision.plan)
    }
}

/// The read side: leads, proposals, reports.
struct Reads {
    leads: SeaOrmLeadRepository,
    proposals: SeaOrmProposalRepository,
    reporting: SeaOrmReporting,
    uow: SeaOrmUnitOfWork,
}

impl Reads {
    async fn find(
        &self,
        scope: &TenantScope,
        id: &lead::LeadId,
    ) -> Result<Option<Lead>, StorageError> {
        self.leads.find(scope, id).await
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<Lead>, StorageError> {
        self.leads.list(scope, filter, page).await
    }

    async fn list_proposals(
        &self,
        org: &OrgId,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> Result<Page<Proposal>, StorageError> {
        self.proposals.list(&sc(org), filter, page).await
    }

    async fn find_proposal(
        &self,
        org: &OrgId,
        id: &ProposalId,
    ) -> Result<Option<Proposal>, StorageError> {
        self.proposals.find(&sc(org), id).await
    }

    async fn latest_proposal(
        &self,
        org: &OrgId,
        id: &lead::LeadId,
    ) -> Result<Option<Proposal>, StorageError> {
        self.proposals.latest_for_lead(&sc(org), id).await
    }

    async fn counts(&self, org: &OrgId) -> Result<(u64, u64, u64, u64), StorageError> {
        let c = self.reporting.counts(&sc(org)).await?;
        Ok((c.users, c.agents, c.leads, c.proposals))
    }

    async fn leads_per_agent(
        &self,
        org: &OrgId,
        window: &DayWindow,
        only: Option<&AgentId>,
    ) -> Result<LeadActivity, StorageError> {
        self.reporting.leads_per_agent(&sc(org), window, only).await
    }

    async fn update_contact(
        &self,
        org: &OrgId,
        id: &lead::LeadId,
        patch: lead::LeadContactPatch,
        now: DateTime<Utc>,
    ) -> Result<Lead, RoutingError> {
        workflow::update_lead(&self.uow, &sc(org), id, patch, now).await
    }
}

impl TestDb {
    fn agents(&self) -> SeaOrmAgentRepository {
        SeaOrmAgentRepository::new(self.db.clone())
    }

    fn pools(&self) -> SeaOrmPoolRepository {
        SeaOrmPoolRepository::new(self.db.clone())
    }

    fn rules(&self) -> SeaOrmRuleRepository {
        SeaOrmRuleRepository::new(self.db.clone())
    }

    fn leads(&self) -> Reads {
        Reads {
            leads: SeaOrmLeadRepository::new(self.db.clone()),
            proposals: SeaOrmProposalRepository::new(self.db.clone()),
            reporting: SeaOrmReporting::new(self.db.clone()),
            uow: SeaOrmUnitOfWork::new(self.db.clone()),
        }
    }

    fn store(&self) -> Store {
        Store {
            uow: SeaOrmUnitOfWork::new(self.db.clone()),
        }
    }

    /// A new available agent `name` of `org`, stored, after `tweak`.
    async fn agent_with(
        &self,
        org: &OrgId,
        name: &str,
        tweak: impl FnOnce(&mut AgentInput),
    ) -> Agent {
        let agent = new_agent(org, name, tweak);
        self.agents()
            .insert(&sc(&agent.org_id), &agent)
            .await
            .unwrap();
        agent
    }

    async fn agent(&self, org: &OrgId, name: &str) -> Agent {
        self.agent_with(org, name, |_| {}).await
    }

    /// A new pool of `org`, stored.
    async fn pool(&self, org: &OrgId, name: &str, method: PoolMethod, members: &[&Agent]) -> Pool {
        let pool = new_pool(org, name, method, members);
        self.pools().insert(&sc(&pool.org_id), &pool).await.unwrap();
        pool
    }

    /// A catch-all rule of `org` to `pool`, stored.
    async fn rule_to(
        &self,
        org: &OrgId,
        pool: &Pool,
        priority: i32,
        conditions: Vec<Condition>,
    ) -> Rule {
        let now = tenancy::now();
        let rule = Rule {
            id: RuleId::generate(),
            org_id: org.clone(),
            name: format!("to {}", pool.name),
            priority,
            conditions,
            pool_id: pool.id.clone(),
            required_skills: vec![],
            created_at: now,
            updated_at: now,
        };
        self.rules().insert(&sc(&rule.org_id), &rule).await.unwrap();
        rule
    }

    /// Ingests a lead named `name` at `now`.
    async fn ingest(&self, org: &OrgId, input: NewLeadInput, now: DateTime<Utc>) -> Routed {
        self.store()
            .ingest(new_lead(org, input, now), now)
            .await
            .unwrap()
    }

    /// A user `id` of `org`, written directly (only its id matters here).
    async fn user(&self, org: &OrgId, id: &str) {
        self.execute(format!(
            "INSERT INTO users (id, org_id, username, email, password_hash, role, is_active, \
             created_at, updated_at) VALUES ('{id}', '{org}', '{id}', '{id}@acme.com', 'x', \
             'agent', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ))
        .await
        .unwrap();
    }

    async fn execute(&self, sql: String) -> Result<(), sea_orm::DbErr> {
        let conn = self.db.connection();
        conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql))
            .await
            .map(|_| ())
    }

    /// Proposals of `org` per agent.
    async fn proposals_per_agent(&self, org: &OrgId) -> HashMap<AgentId, u64> {
        let page = self
            .leads()
            .list_proposals(
                org,
                &ProposalFilter::default(),
                PageRequest::new(Some(1000), None).unwrap(),
            )
            .await
            .unwrap();
        let mut per_agent = HashMap::new();
        for p in page.items {
            *per_agent.entry(p.agent_id).or_insert(0) += 1;
        }
        per_agent
    }

    /// The open leads of an agent, as its load reports them.
    async fn open_leads(&self, org: &OrgId, agent: &Agent) -> u32 {
        let view = self
            .agents()
            .find(&sc(org), &agent.id, tenancy::now())
            .await
            .unwrap();
        view.unwrap().load.open_leads
    }
}

fn new_agent(org: &OrgId, name: &str, tweak: impl FnOnce(&mut AgentInput)) -> Agent {
    let mut input = AgentInput {
        name: Some(name.to_owned()),
        email: Some(format!("{name}@acme.com")),
        ..AgentInput::default()
    };
    tweak(&mut input);
    AgentChange::parse(input, true)
        .unwrap()
        .into_agent(org.clone(), tenancy::now())
        .unwrap()
}

fn new_pool(org: &OrgId, name: &str, method: PoolMethod, members: &[&Agent]) -> Pool {
    let now = tenancy::now();
    Pool {
        id: PoolId::generate(),
        org_id: org.clone(),
        name: name.to_owned(),
        method,
        member_ids: members.iter().map(|a| a.id.clone()).collect(),
        created_at: now,
        updated_at: now,
    }
}

fn new_lead(org: &OrgId, input: NewLeadInput, now: DateTime<Utc>) -> Lead {
    NewLead::parse(NewLeadInput {
        name: "Ann Prospect".into(),
        ..input
    })
    .unwrap()
    .into_lead(org.clone(), now)
}

fn cond(field: &str, op: &str, value: Value) -> Condition {
    Condition::parse("c", field, op, value).unwrap()
}

fn agent_of(routed: &Routed) -> Option<AgentId> {
    routed.proposal.as_ref().map(|p| p.agent_id.clone())
}

#[tokio::test]
async fn max_agents_counts_active_agents_only() {
    let t = TestDb::create().await;
    let acme = t.org_with("acme", json!({"maxAgents": 2})).await;
    let agents = t.agents();
    let ann = t.agent(&acme, "ann").await;
    t.agent(&acme, "bob").await;

    let err = agents
        .insert(&sc(&acme), &new_agent(&acme, "cid", |_| {}))
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::MaxAgentsReached(2)), "{err:?}");
    assert_eq!(t.count("agents", &acme).await, 2, "nothing written");

    // A deactivated agent frees its seat; reactivating it needs one.
    let now = tenancy::now();
    let off = agents
        .set_active(&sc(&acme), &ann.id, false, now)
        .await
        .unwrap();
    assert!(!off.is_active);
    let cid = t.agent(&acme, "cid").await;
    let err = agents
        .set_active(&sc(&acme), &ann.id, true, now)
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::MaxAgentsReached(2)), "{err:?}");
    let err = agents
        .set_active(&sc(&acme), &AgentId::generate(), false, now)
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::NotFound("agent")), "{err:?}");

    let active = agents
        .list(
            &sc(&acme),
            &AgentFilter {
                is_active: Some(true),
                ..AgentFilter::default()
            },
            PageRequest::default(),
            now,
        )
        .await
        .unwrap();
    assert_eq!(active.total, 2);
    assert_eq!(active.items[1].agent, cid, "oldest first");
    assert_eq!(t.leads().counts(&acme).await.unwrap(), (0, 2, 0, 0));
    assert_eq!(t.orgs().stats(&acme).await.unwrap().total_agents, 2);

    // Another organization, another limit (none).
    let globex = t.org("globex").await;
    assert!(
        agents
            .find(&sc(&globex), &cid.id, now)
            .await
            .unwrap()
            .is_none()
    );
    for name in ["a1", "a2", "a3"] {
        t.agent(&globex, name).await;
    }
}

#[tokio::test]
async fn agents_round_trip_and_returning_agents_are_lifted_in_weighted_pools() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    t.user(&acme, "usr_1").await;
    let agents = t.agents();
    let mut ann = new_agent(&acme, "ann", |a| {
        a.skills = Some(vec!["Spanish".into()]);
        a.regions = Some(vec!["EMEA".into()]);
        a.weight = Some(2);
        a.capacity = Some(Some(5));
        a.daily_cap = Some(Some(9));
        a.user_id = Some(Some("usr_1".into()));
    });
    ann.working_hours = Some(
        WorkingHours::parse(
            "Europe/Paris",
            &["mon".into(), "tue".into()],
            "09:00",
            "17:00",
        )
        .unwrap(),
    );
    agents.insert(&sc(&ann.org_id), &ann).await.unwrap();
    let now = tenancy::now();
    let view = agents
        .find(&sc(&acme), &ann.id, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.agent, ann);
    assert_eq!(view.load.open_leads, 0);
    assert_eq!(
        agents.find_by_user(&sc(&acme), "usr_1").await.unwrap(),
        Some(ann.clone())
    );
    let globex = t.org("globex").await;
    assert_eq!(
        agents.find_by_user(&sc(&globex), "usr_1").await.unwrap(),
        None
    );

    // A weighted pool where bob is away while ann and cid take 10 leads.
    let bob = t
        .agent_with(&acme, "bob", |a| a.status = Some("away".into()))
        .await;
    let cid = t.agent(&acme, "cid").await;
    let ann = agents
        .update(
            &sc(&acme),
            &ann.id,
            AgentChange {
                working_hours: Some(None),
                capacity: Some(None),
                daily_cap: Some(None),
                weight: Some(1),
                ..AgentChange::default()
            },
            now,
        )
        .await
        .unwrap();
    let pool = t
        .pool(&acme, "weighted", PoolMethod::Weighted, &[&ann, &bob, &cid])
        .await;
    t.rule_to(&acme, &pool, 1, vec![]).await;
    for i in 0..10 {
        let routed = t
            .ingest(&acme, NewLeadInput::default(), now + Duration::seconds(i))
            .await;
        assert_ne!(agent_of(&routed), Some(bob.id.clone()));
    }
    let back = agents
        .update(
            &sc(&acme),
            &bob.id,
            AgentChange {
                status: Some(AgentStatus::Available),
                ..AgentChange::default()
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(back.status, AgentStatus::Available);
    // Lifted to the others' 5 per weight: the next leads rotate over all three
    // instead of all going to bob.
    let assignments = t
        .scalar(&format!(
            "SELECT assignments AS n FROM pool_members WHERE pool_id = '{}' AND agent_id = '{}'",
            pool.id, bob.id
        ))
        .await;
    assert_eq!(assignments, 5);
    let mut next = Vec::new();
    for i in 0..3 {
        let routed = t
            .ingest(
                &acme,
                NewLeadInput::default(),
                now + Duration::seconds(20 + i),
            )
            .await;
        next.push(agent_of(&routed).unwrap());
    }
    next.sort();
    let mut all = vec![ann.id.clone(), bob.id.clone(), cid.id.clone()];
    all.sort();
    assert_eq!(next, all);

    let err = agents
        .update(&sc(&globex), &bob.id, AgentChange::default(), now)
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::NotFound("agent")), "{err:?}");
}

#[tokio::test]
async fn pools_check_their_members_names_and_rules() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    let pools = t.pools();
    let ann = t.agent(&acme, "ann").await;
    let bob = t.agent(&acme, "bob").await;
    let stranger = t.agent(&globex, "zed").await;
    let ghost = AgentId::generate();

    let mut bad = new_pool(&acme, "emea", PoolMethod::RoundRobin, &[&ann, &stranger]);
    bad.member_ids.push(ghost.clone());
    let err = pools.insert(&sc(&bad.org_id), &bad).await.unwrap_err();
    let RoutingError::Invalid(errors) = err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(errors.fields()[0].field, "memberIds");
    assert_eq!(
        errors.fields()[0].message,
        format!("unknown agents: {}, {ghost}", stranger.id)
    );
    assert_eq!(t.count("routing_pools", &acme).await, 0, "nothing written");

    let emea = t
        .pool(&acme, "emea", PoolMethod::RoundRobin, &[&ann, &bob])
        .await;
    assert_eq!(
        pools.find(&sc(&acme), &emea.id).await.unwrap(),
        Some(emea.clone())
    );
    assert_eq!(pools.find(&sc(&globex), &emea.id).await.unwrap(), None);
    let same_name = new_pool(&acme, "emea", PoolMethod::Weighted, &[]);
    let err = pools
        .insert(&sc(&same_name.org_id), &same_name)
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::PoolNameTaken), "{err:?}");
    t.pool(&globex, "emea", PoolMethod::Weighted, &[&stranger])
        .await;

    // Members replaced in the given order; names still unique.
    let cid = t.agent(&acme, "cid").await;
    let later = tenancy::now() + Duration::seconds(1);
    let updated = pools
        .update(
            &sc(&acme),
            &emea.id,
            routing::PoolChange {
                name: Some("europe".into()),
                method: Some(PoolMethod::LeastLoaded),
                member_ids: Some(vec![cid.id.clone(), ann.id.clone()]),
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(updated.member_ids, vec![cid.id.clone(), ann.id.clone()]);
    assert_eq!(updated.updated_at, later);
    assert_eq!(
        pools.find(&sc(&acme), &emea.id).await.unwrap(),
        Some(updated)
    );
    t.pool(&acme, "apac", PoolMethod::RoundRobin, &[]).await;
    let err = pools
        .update(
            &sc(&acme),
            &emea.id,
            routing::PoolChange {
                name: Some("apac".into()),
                ..Default::default()
            },
            later,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::PoolNameTaken), "{err:?}");
    let page = pools
        .list(&sc(&acme), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items[0].name, "europe");

    // Rules keep a pool alive.
    let rule = t.rule_to(&acme, &emea, 10, vec![]).await;
    let err = pools.delete(&sc(&acme), &emea.id).await.unwrap_err();
    assert!(matches!(err, RoutingError::PoolInUse), "{err:?}");
    let err = pools.delete(&sc(&globex), &emea.id).await.unwrap_err();
    assert!(matches!(err, RoutingError::NotFound("pool")), "{err:?}");
    t.rules().delete(&sc(&acme), &rule.id).await.unwrap();
    pools.delete(&sc(&acme), &emea.id).await.unwrap();
    assert_eq!(pools.find(&sc(&acme), &emea.id).await.unwrap(), None);
    assert_eq!(t.count("pool_members", &acme).await, 0);
    let err = pools.delete(&sc(&acme), &emea.id).await.unwrap_err();
    assert!(matches!(err, RoutingError::NotFound("pool")), "{err:?}");
}

#[tokio::test]
async fn rules_need_a_pool_of_their_organization_and_list_in_order() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    let rules = t.rules();
    let pool = t.pool(&acme, "emea", PoolMethod::RoundRobin, &[]).await;
    let foreign = t.pool(&globex, "emea", PoolMethod::RoundRobin, &[]).await;

    let mut bad = t.rule_to(&acme, &pool, 5, vec![]).await;
    bad.id = RuleId::generate();
    bad.pool_id = foreign.id.clone();
    let err = rules.insert(&sc(&bad.org_id), &bad).await.unwrap_err();
    let RoutingError::Invalid(errors) = err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(errors.fields()[0].field, "poolId");

    let france = t
        .rule_to(
            &acme,
            &pool,
            1,
            vec![
                cond("country", "eq", json!("FR")),
                cond("score", "gte", json!(50)),
                cond("fields.plan", "in", json!(["pro", "team"])),
            ],
        )
        .await;
    let catch_all = t.rule_to(&acme, &pool, 100, vec![]).await;
    assert_eq!(
        rules.find(&sc(&acme), &france.id).await.unwrap(),
        Some(france.clone())
    );
    assert_eq!(rules.find(&sc(&globex), &france.id).await.unwrap(), None);
    let page = rules
        .list(&sc(&acme), PageRequest::default())
        .await
        .unwrap();
    let order: Vec<_> = page.items.iter().map(|r| r.priority).collect();
    assert_eq!(order, [1, 5, 100]);

    let later = tenancy::now() + Duration::seconds(1);
    let err = rules
        .update(
            &sc(&acme),
            &catch_all.id,
            routing::RuleChange {
                pool_id: Some(foreign.id.clone()),
                ..Default::default()
            },
            later,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::Invalid(_)), "{err:?}");
    let changed = rules
        .update(
            &sc(&acme),
            &catch_all.id,
            routing::RuleChange {
                priority: Some(0),
                required_skills: Some(vec!["spanish".into()]),
                ..Default::default()
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(
        rules
            .list(&sc(&acme), PageRequest::default())
            .await
            .unwrap()
            .items[0],
        changed
    );
    let err = rules.delete(&sc(&globex), &changed.id).await.unwrap_err();
    assert!(matches!(err, RoutingError::NotFound("rule")), "{err:?}");
}

#[tokio::test]
async fn a_round_robin_pool_rotates_in_member_order() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let (a, b, c) = (
        t.agent(&acme, "ann").await,
        t.agent(&acme, "bob").await,
        t.agent(&acme, "cid").await,
    );
    let pool = t
        .pool(&acme, "all", PoolMethod::RoundRobin, &[&a, &b, &c])
        .await;
    let rule = t.rule_to(&acme, &pool, 1, vec![]).await;
    let t0 = tenancy::now();
    let mut got = Vec::new();
    for i in 0..4 {
        let routed = t
            .ingest(&acme, NewLeadInput::default(), t0 + Duration::seconds(i))
            .await;
        assert!(routed.created);
        assert_eq!(routed.lead.status, LeadStatus::Proposed);
        let proposal = routed.proposal.clone().unwrap();
        assert_eq!(proposal.status, ProposalStatus::Pending);
        assert_eq!(proposal.method, Method::RoundRobin);
        assert_eq!(proposal.pool_id, Some(pool.id.clone()));
        assert_eq!(proposal.rule_id, Some(rule.id.clone()));
        assert_eq!(proposal.trace.len(), 3);
        assert_eq!(routed.lead.agent_id, Some(proposal.agent_id.clone()));
        // What was written reads back identically.
        let leads = t.leads();
        assert_eq!(
            leads.find(&sc(&acme), &routed.lead.id).await.unwrap(),
            Some(routed.lead.clone())
        );
        assert_eq!(
            leads.latest_proposal(&acme, &routed.lead.id).await.unwrap(),
            Some(proposal.clone())
        );
        got.push(proposal.agent_id);
    }
    assert_eq!(
        got,
        [a.id.clone(), b.id.clone(), c.id.clone(), a.id.clone()]
    );

    // Loads: proposals hold capacity; today's count and the last assignment.
    let view = t
        .agents()
        .find(&sc(&acme), &a.id, t0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.load.open_leads, 2);
    assert_eq!(view.load.today, 2);
    assert_eq!(view.load.last_assigned_at, Some(t0 + Duration::seconds(3)));
    let leads = t.leads();
    let page = leads
        .list(&sc(&acme), &LeadFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(
        page.items[0].created_at,
        t0 + Duration::seconds(3),
        "newest first"
    );
    // Proposed is not assigned yet.
    let assigned = leads
        .list(
            &sc(&acme),
            &LeadFilter {
                assigned_agent_id: Some(a.id.clone()),
                ..LeadFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(assigned.total, 0);
    assert_eq!(t.leads().counts(&acme).await.unwrap(), (0, 3, 4, 4));
    let stats = t.orgs().stats(&acme).await.unwrap();
    assert_eq!(
        (stats.total_agents, stats.total_leads, stats.total_proposals),
        (3, 4, 4)
    );
}

#[tokio::test]
async fn an_external_id_replay_returns_the_stored_lead_and_creates_nothing() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let a = t.agent(&acme, "ann").await;
    let pool = t.pool(&acme, "all", PoolMethod::RoundRobin, &[&a]).await;
    t.rule_to(&acme, &pool, 1, vec![]).await;
    let Value::Object(fields) = json!({"plan": "pro", "seats": 40, "trial": true}) else {
        unreachable!()
    };
    let input = NewLeadInput {
        external_id: Some("crm-42".into()),
        email: Some("Ann.Lee@ACME.com".into()),
        phone: Some("+33 1 23 45 67 89".into()),
        company: Some("ACME".into()),
        source: Some("web".into()),
        region: Some("EMEA".into()),
        country: Some("FR".into()),
        score: Some(87),
        fields: Some(fields),
        ..NewLeadInput::default()
    };
    let t0 = tenancy::now();
    let first = t.ingest(&acme, input.clone(), t0).await;
    assert!(first.created);
    assert_eq!(
        t.leads().find(&sc(&acme), &first.lead.id).await.unwrap(),
        Some(first.lead.clone()),
        "every field reads back"
    );
    let again = t
        .ingest(&acme, input.clone(), t0 + Duration::seconds(1))
        .await;
    assert!(!again.created);
    assert_eq!(again.lead, first.lead);
    assert_eq!(again.proposal, first.proposal);
    assert_eq!(t.count("leads", &acme).await, 1);
    assert_eq!(t.count("proposals", &acme).await, 1);
    assert_eq!(t.open_leads(&acme, &a).await, 1);

    // Concurrent replays: one lead, whoever wins.
    let store = Arc::new(t.store());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, acme) = (store.clone(), acme.clone());
            tokio::spawn(async move {
                let input = NewLeadInput {
                    external_id: Some("crm-43".into()),
                    ..NewLeadInput::default()
                };
                let now = tenancy::now();
                store.ingest(new_lead(&acme, input, now), now).await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        created += usize::from(task.await.unwrap().unwrap().created);
    }
    assert_eq!(created, 1);
    assert_eq!(t.count("leads", &acme).await, 2);

    // Another organization may use the same external id.
    let globex = t.org("globex").await;
    assert!(t.ingest(&globex, input, t0).await.created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingests_keep_round_robin_exact() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let agents = [
        t.agent(&acme, "ann").await,
        t.agent(&acme, "bob").await,
        t.agent(&acme, "cid").await,
    ];
    let pool = t
        .pool(
            &acme,
            "all",
            PoolMethod::RoundRobin,
            &[&agents[0], &agents[1], &agents[2]],
        )
        .await;
    t.rule_to(&acme, &pool, 1, vec![]).await;

    let store = Arc::new(t.store());
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let (store, acme) = (store.clone(), acme.clone());
            tokio::spawn(async move {
                let now = tenancy::now();
                store
                    .ingest(new_lead(&acme, NewLeadInput::default(), now), now)
                    .await
            })
        })
        .collect();
    for task in tasks {
        let routed = task.await.unwrap().unwrap();
        assert_eq!(routed.lead.status, LeadStatus::Proposed);
    }
    let per_agent = t.proposals_per_agent(&acme).await;
    for agent in &agents {
        assert_eq!(per_agent.get(&agent.id), Some(&20), "{}", agent.name);
        assert_eq!(t.open_leads(&acme, agent).await, 20);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capacity_holds_under_concurrent_ingests_across_pools() {
    let t = TestDb::create().await;
    // Six pools share the two capped agents, first in every pool's order,
    // each with an unlimited agent of its own. The first leads of all six
    // pools are routed in parallel (one pool lock each) and all want ann:
    // only the agent's own lock and a recount keep her at 2.
    let acme = t.org("acme").await;
    let capped = |a: &mut AgentInput| a.capacity = Some(Some(2));
    let ann = t.agent_with(&acme, "ann", capped).await;
    let bob = t.agent_with(&acme, "bob", capped).await;
    const POOLS: i64 = 6;
    let mut own = Vec::new();
    for n in 0..POOLS {
        let agent = t.agent(&acme, &format!("own{n}")).await;
        let method = if n % 2 == 0 {
            PoolMethod::RoundRobin
        } else {
            PoolMethod::LeastLoaded
        };
        let pool = t
            .pool(&acme, &format!("p{n}"), method, &[&ann, &bob, &agent])
            .await;
        t.rule_to(&acme, &pool, 1, vec![cond("fields.n", "eq", json!(n))])
            .await;
        own.push(agent);
    }

    let store = Arc::new(t.store());
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let (store, acme) = (store.clone(), acme.clone());
            tokio::spawn(async move {
                let now = tenancy::now();
                let Value::Object(fields) = json!({"n": i % POOLS}) else {
                    unreachable!()
                };
                let input = NewLeadInput {
                    fields: Some(fields),
                    ..NewLeadInput::default()
                };
                store.ingest(new_lead(&acme, input, now), now).await
            })
        })
        .collect();
    for task in tasks {
        let routed = task.await.unwrap().unwrap();
        assert_eq!(routed.lead.status, LeadStatus::Proposed);
    }
    assert_eq!(t.open_leads(&acme, &ann).await, 2);
    assert_eq!(t.open_leads(&acme, &bob).await, 2);
    let per_agent = t.proposals_per_agent(&acme).await;
    assert_eq!(per_agent.values().sum::<u64>(), 30);
    assert_eq!(per_agent[&ann.id], 2);
    assert_eq!(per_agent[&bob.id], 2);
    let others: u64 = own.iter().map(|a| per_agent[&a.id]).sum();
    assert_eq!(others, 26);

    // Full everywhere: the lead stays unrouted, saying why.
    let solo = t.org("solo").await;
    let only = t
        .agent_with(&solo, "only", |a| a.capacity = Some(Some(1)))
        .await;
    let pool = t.pool(&solo, "one", PoolMethod::RoundRobin, &[&only]).await;
    t.rule_to(&solo, &pool, 1, vec![]).await;
    let now = tenancy::now();
    t.ingest(&solo, NewLeadInput::default(), now).await;
    let full = t.ingest(&solo, NewLeadInput::default(), now).await;
    assert_eq!(full.lead.status, LeadStatus::Unrouted);
    assert_eq!(full.proposal, None);
    assert_eq!(
        full.lead.unrouted_reason.as_deref(),
        Some("no member of pool one is eligible")
    );
    assert_eq!(
        t.leads().find(&sc(&solo), &full.lead.id).await.unwrap(),
        Some(full.lead)
    );
}

#[tokio::test]
async fn a_rejection_routes_to_the_next_agent_and_never_back() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let (a, b, c) = (
        t.agent(&acme, "ann").await,
        t.agent(&acme, "bob").await,
        t.agent(&acme, "cid").await,
    );
    let pool = t
        .pool(&acme, "all", PoolMethod::Weighted, &[&a, &b, &c])
        .await;
    t.rule_to(&acme, &pool, 1, vec![]).await;
    let store = t.store();
    let t0 = tenancy::now();
    let first = t.ingest(&acme, NewLeadInput::default(), t0).await;
    let p1 = first.proposal.unwrap();
    assert_eq!(p1.agent_id, a.id);

    let t1 = t0 + Duration::seconds(1);
    let (rejected, routed) = store
        .reject(&acme, &p1.id, "usr_manager", Some("busy".into()), None, t1)
        .await
        .unwrap();
    assert_eq!(rejected.status, ProposalStatus::Rejected);
    assert_eq!(rejected.decided_by.as_deref(), Some("usr_manager"));
    assert_eq!(rejected.note.as_deref(), Some("busy"));
    assert!(!routed.created);
    let p2 = routed.proposal.clone().unwrap();
    assert_eq!(p2.agent_id, b.id, "the next agent");
    assert_eq!(routed.lead.status, LeadStatus::Proposed);
    assert_eq!(routed.lead.agent_id, Some(b.id.clone()));
    let ann_trace = p2.trace.iter().find(|e| e.agent_id == a.id).unwrap();
    assert!(!ann_trace.eligible);
    assert_eq!(ann_trace.reason, "already had this lead");
    // Ann's turn and day were given back.
    let view = t
        .agents()
        .find(&sc(&acme), &a.id, t1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((view.load.open_leads, view.load.today), (0, 0));
    let ann_assignments = t
        .scalar(&format!(
            "SELECT assignments AS n FROM pool_members WHERE pool_id = '{}' AND agent_id = '{}'",
            pool.id, a.id
        ))
        .await;
    assert_eq!(ann_assignments, 0);

    let t2 = t1 + Duration::seconds(1);
    let (_, routed) = store
        .reject(&acme, &p2.id, "m", None, None, t2)
        .await
        .unwrap();
    let p3 = routed.proposal.clone().unwrap();
    assert_eq!(p3.agent_id, c.id, "never back to ann");

    let (_, routed) = store
        .reject(&acme, &p3.id, "m", None, None, t2 + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(routed.proposal, None);
    assert_eq!(routed.lead.status, LeadStatus::Unrouted);
    assert_eq!(routed.lead.agent_id, None);
    assert_eq!(
        routed.lead.unrouted_reason.as_deref(),
        Some("no member of pool all is eligible")
    );
    let history = t
        .leads()
        .list_proposals(
            &acme,
            &ProposalFilter {
                lead_id: Some(first.lead.id.clone()),
                ..ProposalFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(history.total, 3);
    assert!(
        history
            .items
            .iter()
            .all(|p| p.status == ProposalStatus::Rejected)
    );
    assert_eq!(history.items[0].id, p3.id, "newest first");
    for agent in [&a, &b, &c] {
        assert_eq!(t.open_leads(&acme, agent).await, 0);
    }

    // The next lead is not affected by this one's rejections.
    let next = t
        .ingest(&acme, NewLeadInput::default(), t2 + Duration::seconds(5))
        .await;
    assert!(next.proposal.is_some());
}

#[tokio::test]
async fn a_rejection_can_reassign_to_a_named_agent() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    let a = t.agent(&acme, "ann").await;
    let b = t.agent(&acme, "bob").await;
    let off = t.agent(&acme, "off").await;
    t.agents()
        .set_active(&sc(&acme), &off.id, false, tenancy::now())
        .await
        .unwrap();
    let stranger = t.agent(&globex, "zed").await;
    let pool = t.pool(&acme, "solo", PoolMethod::RoundRobin, &[&a]).await;
    t.rule_to(&acme, &pool, 1, vec![]).await;
    let store = t.store();
    let t0 = tenancy::now();
    let routed = t.ingest(&acme, NewLeadInput::default(), t0).await;
    let pending = routed.proposal.unwrap();

    for bad in [off.id.clone(), stranger.id.clone(), AgentId::generate()] {
        let err = store
            .reject(&acme, &pending.id, "m", None, Some(bad), t0)
            .await
            .unwrap_err();
        let RoutingError::Invalid(errors) = err else {
            panic!("expected Invalid, got {err:?}");
        };
        assert_eq!(errors.fields()[0].field, "reassignTo");
    }
    assert_eq!(
        t.leads().find_proposal(&acme, &pending.id).await.unwrap(),
        Some(pending.clone()),
        "nothing written"
    );

    let t1 = t0 + Duration::seconds(1);
    let (rejected, routed) = store
        .reject(&acme, &pending.id, "usr_boss", None, Some(b.id.clone()), t1)
        .await
        .unwrap();
    assert_eq!(rejected.status, ProposalStatus::Rejected);
    let manual = routed.proposal.clone().unwrap();
    assert_eq!(manual.method, Method::Manual);
    assert_eq!(manual.status, ProposalStatus::Approved);
    assert_eq!(manual.agent_id, b.id);
    assert_eq!(manual.decided_by.as_deref(), Some("usr_boss"));
    assert_eq!(manual.trace.len(), 1);
    assert_eq!(manual.trace[0].reason, "selected: reassigned by usr_boss");
    assert_eq!(routed.lead.status, LeadStatus::Assigned);
    assert_eq!(routed.lead.assigned_agent_id(), Some(&b.id));
    assert_eq!(t.open_leads(&acme, &a).await, 0);
    assert_eq!(t.open_leads(&acme, &b).await, 1);
    let bobs = t
        .leads()
        .list(
            &sc(&acme),
            &LeadFilter {
                assigned_agent_id: Some(b.id.clone()),
                ..LeadFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(bobs.items, vec![routed.lead]);
}

#[tokio::test]
async fn a_proposal_is_decided_once() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    let a = t.agent(&acme, "ann").await;
    let pool = t.pool(&acme, "solo", PoolMethod::RoundRobin, &[&a]).await;
    t.rule_to(&acme, &pool, 1, vec![]).await;
    let store = t.store();
    let t0 = tenancy::now();
    let pending = t
        .ingest(&acme, NewLeadInput::default(), t0)
        .await
        .proposal
        .unwrap();

    let err = store
        .approve(&globex, &pending.id, "m", None, t0)
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::NotFound("proposal")), "{err:?}");

    let t1 = t0 + Duration::seconds(1);
    let routed = store
        .approve(&acme, &pending.id, "usr_boss", Some("ok".into()), t1)
        .await
        .unwrap();
    let approved = routed.proposal.clone().unwrap();
    assert_eq!(approved.status, ProposalStatus::Approved);
    assert_eq!(approved.decided_at, Some(t1));
    assert_eq!(approved.note.as_deref(), Some("ok"));
    assert_eq!(routed.lead.status, LeadStatus::Assigned);
    assert_eq!(routed.lead.assigned_agent_id(), Some(&a.id));
    assert_eq!(
        t.leads().find_proposal(&acme, &pending.id).await.unwrap(),
        Some(approved.clone())
    );

    let err = store
        .approve(&acme, &pending.id, "usr_boss", None, t1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RoutingError::AlreadyDecided("approved")),
        "{err:?}"
    );
    let err = store
        .reject(&acme, &pending.id, "usr_boss", None, None, t1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RoutingError::AlreadyDecided("approved")),
        "{err:?}"
    );

    // The agent works the lead forward; never back.
    let leads = t.leads();
    let contacted = leads
        .update_contact(
            &acme,
            &routed.lead.id,
            lead::LeadContactPatch {
                status: Some(LeadStatus::Won),
                phone: Some(Some("+33 1 23".into())),
                ..Default::default()
            },
            t1,
        )
        .await
        .unwrap();
    assert_eq!(contacted.status, LeadStatus::Won);
    assert_eq!(
        t.open_leads(&acme, &a).await,
        0,
        "closed leads free capacity"
    );
    let err = leads
        .update_contact(
            &acme,
            &routed.lead.id,
            lead::LeadContactPatch {
                status: Some(LeadStatus::Assigned),
                ..Default::default()
            },
            t1,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::InvalidTransition(_)), "{err:?}");
    let err = leads
        .update_contact(&globex, &routed.lead.id, Default::default(), t1)
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::NotFound("lead")), "{err:?}");
    assert_eq!(
        leads.find(&sc(&acme), &routed.lead.id).await.unwrap(),
        Some(contacted)
    );
}

#[tokio::test]
async fn sticky_domains_auto_approval_fallback_and_simulation() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let a = t.agent(&acme, "ann").await;
    let b = t.agent(&acme, "bob").await;
    let fb = t.agent(&acme, "fallback").await;
    let pool = t
        .pool(&acme, "all", PoolMethod::RoundRobin, &[&a, &b])
        .await;
    // Set after the agents and pool exist: settings name their ids.
    let settings = json!({
        "allowAutoRouting": true,
        "stickyByDomain": true,
        "defaultPoolId": pool.id.as_str(),
        "fallbackAgentId": fb.id.as_str(),
    });
    t.execute(format!(
        "UPDATE organizations SET settings = '{settings}' WHERE id = '{acme}'"
    ))
    .await
    .unwrap();
    let from = |email: &str| NewLeadInput {
        email: Some(email.into()),
        ..NewLeadInput::default()
    };
    let t0 = tenancy::now();

    // Auto-approved: assigned at once, decided by the system.
    let first = t.ingest(&acme, from("x@globex.com"), t0).await;
    let p = first.proposal.unwrap();
    assert_eq!(p.status, ProposalStatus::Approved);
    assert_eq!(p.decided_by.as_deref(), Some("system"));
    assert_eq!(first.lead.status, LeadStatus::Assigned);
    assert_eq!(p.agent_id, a.id);

    // The same domain goes back to its owner, out of turn.
    let plan = t
        .store()
        .simulate(&new_lead(&acme, from("y@GLOBEX.com"), t0), t0)
        .await
        .unwrap();
    assert_eq!(plan.choice.unwrap().agent_id, a.id);
    assert_eq!(
        t.count("leads", &acme).await,
        1,
        "a simulation writes nothing"
    );
    let second = t
        .ingest(&acme, from("y@globex.com"), t0 + Duration::seconds(1))
        .await;
    let p = second.proposal.unwrap();
    assert_eq!((p.method, p.agent_id), (Method::Sticky, a.id.clone()));
    let other = t
        .ingest(&acme, from("z@initech.com"), t0 + Duration::seconds(2))
        .await;
    assert_eq!(
        agent_of(&other),
        Some(b.id.clone()),
        "sticky does not turn the rotation"
    );

    // Nobody available: the fallback agent.
    for agent in [&a, &b] {
        t.agents()
            .update(
                &sc(&acme),
                &agent.id,
                AgentChange {
                    status: Some(AgentStatus::Paused),
                    ..AgentChange::default()
                },
                t0,
            )
            .await
            .unwrap();
    }
    let last = t
        .ingest(&acme, from("w@hooli.com"), t0 + Duration::seconds(3))
        .await;
    let p = last.proposal.unwrap();
    assert_eq!((p.method, p.agent_id), (Method::Fallback, fb.id.clone()));
}

#[tokio::test]
async fn deleting_an_organization_deletes_its_routing_rows() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    for org in [&acme, &globex] {
        let a = t.agent(org, "ann").await;
        let b = t.agent(org, "bob").await;
        let pool = t.pool(org, "all", PoolMethod::RoundRobin, &[&a, &b]).await;
        t.rule_to(org, &pool, 1, vec![]).await;
        t.ingest(org, NewLeadInput::default(), tenancy::now()).await;
    }
    let tables = [
        ("agents", 2),
        ("routing_pools", 1),
        ("pool_members", 2),
        ("routing_rules", 1),
        ("leads", 1),
        ("proposals", 1),
    ];
    for (table, n) in tables {
        assert_eq!(t.count(table, &acme).await, n, "{table}");
    }

    assert!(t.orgs().delete(&acme).await.unwrap());

    for (table, n) in tables {
        assert_eq!(t.count(table, &acme).await, 0, "{table} of the deleted org");
        assert_eq!(t.count(table, &globex).await, n, "{table} of another org");
    }
}

#[tokio::test]
async fn a_proposal_cannot_name_a_lead_of_another_organization() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    let ann = t.agent(&acme, "ann").await;
    let zed = t.agent(&globex, "zed").await;
    let acme_lead = t
        .ingest(&acme, NewLeadInput::default(), tenancy::now())
        .await;
    let globex_lead = t
        .ingest(&globex, NewLeadInput::default(), tenancy::now())
        .await;
    assert_eq!(
        acme_lead.lead.status,
        LeadStatus::Unrouted,
        "no rule, no pool"
    );

    let insert = |org: &OrgId, lead: &Lead, agent: &Agent| {
        format!(
            "INSERT INTO proposals (id, org_id, lead_id, agent_id, status, method, trace, created_at) \
             VALUES ('{}', '{org}', '{}', '{}', 'pending', 'manual', '[]', '2026-11-30T10:00:00Z')",
            tenancy::new_id("prop"),
            lead.id,
            agent.id
        )
    };
    // The same statement within one organization is fine...
    t.execute(insert(&globex, &globex_lead.lead, &zed))
        .await
        .unwrap();
    // ...but neither a lead nor an agent of another one.
    for sql in [
        insert(&globex, &acme_lead.lead, &zed),
        insert(&globex, &globex_lead.lead, &ann),
    ] {
        let err = t.execute(sql).await.unwrap_err();
        let cause = format!("{err:?}").to_lowercase();
        assert!(cause.contains("foreign key"), "{cause}");
    }
    assert_eq!(t.count("proposals", &globex).await, 1);
    assert_eq!(t.count("proposals", &acme).await, 0);
}

#[tokio::test]
async fn the_routing_migration_reverts_and_reapplies() {
    use migration::{Migrator, MigratorTrait};

    let t = TestDb::create().await;
    let conn = t.db.connection();
    // Every migration from the routing tables' on, newest first.
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let routing = names
        .iter()
        .position(|n| n == "m20261129_000003_create_routing_tables")
        .unwrap();
    let steps = u32::try_from(names.len() - routing).unwrap();
    // Made before: the tables before the routing ones keep it.
    let acme = t.org("acme").await;
    Migrator::down(conn, Some(steps)).await.unwrap();
    for table in [
        "proposals",
        "leads",
        "routing_rules",
        "pool_members",
        "routing_pools",
        "agents",
    ] {
        let gone = t.execute(format!("SELECT 1 FROM {table}")).await;
        assert!(gone.is_err(), "{table} dropped");
    }
    // The tables before it are untouched.
    Migrator::up(conn, None).await.unwrap();
    let ann = t.agent(&acme, "ann").await;
    let pool = t.pool(&acme, "all", PoolMethod::RoundRobin, &[&ann]).await;
    t.rule_to(&acme, &pool, 1, vec![]).await;
    let routed = t
        .ingest(&acme, NewLeadInput::default(), tenancy::now())
        .await;
    assert_eq!(agent_of(&routed), Some(ann.id));
}

/// Sets an organization's settings directly (they name agent and pool ids).
async fn set_settings(t: &TestDb, org: &OrgId, settings: Value) {
    t.execute(format!(
        "UPDATE organizations SET settings = '{settings}' WHERE id = '{org}'"
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn leads_per_agent_counts_each_utc_day_per_assigned_agent_of_one_organization() {
    use chrono::TimeZone;
    use routing::{ChartDays, DayWindow, LeadsPerAgent};

    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    let ann = t.agent(&acme, "ann").await;
    let bob = t.agent(&acme, "bob").await;
    let idle = t.agent(&acme, "idle").await;
    let gone = t.agent(&acme, "gone").await;
    let pool = t
        .pool(&acme, "all", PoolMethod::RoundRobin, &[&ann, &bob])
        .await;
    let auto = json!({"allowAutoRouting": true, "defaultPoolId": pool.id.as_str()});
    set_settings(&t, &acme, auto.clone()).await;
    let zed = t.agent(&globex, "zed").await;
    let zed_pool = t
        .pool(&globex, "all", PoolMethod::RoundRobin, &[&zed])
        .await;
    set_settings(
        &t,
        &globex,
        json!({"allowAutoRouting": true, "defaultPoolId": zed_pool.id.as_str()}),
    )
    .await;

    // Today is 2026-11-29; the window is the 27th, 28th and 29th (UTC).
    let now = Utc.with_ymd_and_hms(2026, 11, 29, 15, 0, 0).unwrap();
    let midnight = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap();
    let us = Duration::microseconds(1);
    let window = DayWindow::ending(now, ChartDays::parse(Some(3)).unwrap());
    let mut expected: HashMap<Option<AgentId>, [u64; 3]> = HashMap::new();
    let ingest = |at: DateTime<Utc>, day: Option<usize>| {
        let t = &t;
        let acme = &acme;
        async move {
            let routed = t.ingest(acme, NewLeadInput::default(), at).await;
            (routed.lead.assigned_agent_id().cloned(), day)
        }
    };
    let mut record = |(agent, day): (Option<AgentId>, Option<usize>)| {
        if let Some(day) = day {
            expected.entry(agent).or_default()[day] += 1;
        }
    };
    // Leads on both sides of every boundary, to the microsecond.
    record(ingest(midnight(27) - us, None).await);
    record(ingest(midnight(27), Some(0)).await);
    record(ingest(midnight(27) + us, Some(0)).await);
    record(ingest(midnight(28) - us, Some(0)).await);
    record(ingest(midnight(28), Some(1)).await);
    record(ingest(midnight(29) - us, Some(1)).await);
    record(ingest(midnight(29), Some(2)).await);
    record(ingest(now, Some(2)).await);
    record(ingest(midnight(30) - us, Some(2)).await);
    record(ingest(midnight(30), None).await);
    // Only proposed, not assigned: counted as unassigned.
    set_settings(&t, &acme, json!({"defaultPoolId": pool.id.as_str()})).await;
    record(ingest(now, Some(2)).await);
    // Unrouted: no pool at all.
    set_settings(&t, &acme, json!({})).await;
    record(ingest(now - Duration::days(1), Some(1)).await);
    set_settings(&t, &acme, auto).await;
    // Another organization's leads, on the same days, are never counted.
    for d in [27, 28, 29] {
        t.ingest(&globex, NewLeadInput::default(), midnight(d))
            .await;
    }
    assert_eq!(expected[&Some(ann.id.clone())].iter().sum::<u64>(), 4);
    assert_eq!(expected[&Some(bob.id.clone())].iter().sum::<u64>(), 4);
    assert_eq!(expected[&None], [0, 1, 1]);
    // A deactivated agent with leads in the window still has its line.
    t.agents()
        .set_active(&sc(&acme), &bob.id, false, now)
        .await
        .unwrap();
    t.agents()
        .set_active(&sc(&acme), &gone.id, false, now)
        .await
        .unwrap();

    let activity = t
        .leads()
        .leads_per_agent(&acme, &window, None)
        .await
        .unwrap();
    assert!(
        activity
            .counts
            .iter()
            .all(|c| c.agent_id.as_ref() != Some(&zed.id)),
        "{activity:?}"
    );
    let chart = LeadsPerAgent::assemble(&window, activity);
    assert_eq!(chart.days, window.days());
    assert_eq!(chart.unassigned, expected[&None]);
    let lines: Vec<_> = chart
        .agents
        .iter()
        .map(|a| {
            (
                a.agent_id.clone(),
                a.name.as_str(),
                a.counts.clone(),
                a.total,
            )
        })
        .collect();
    let line = |agent: &Agent| expected[&Some(agent.id.clone())].to_vec();
    assert_eq!(
        lines,
        [
            (ann.id.clone(), "ann", line(&ann), 4),
            // A tie on totals goes by name.
            (bob.id.clone(), "bob", line(&bob), 4),
            // Active and idle: shown with zeros; `gone` (deactivated, idle) is not.
            (idle.id.clone(), "idle", vec![0, 0, 0], 0),
        ]
    );

    // One agent's chart: its own leads and line only.
    let own = t
        .leads()
        .leads_per_agent(&acme, &window, Some(&ann.id))
        .await
        .unwrap();
    let own = LeadsPerAgent::assemble(&window, own);
    assert_eq!(own.unassigned, [0, 0, 0]);
    assert_eq!(own.agents.len(), 1);
    assert_eq!(own.agents[0].agent_id, ann.id);
    assert_eq!(own.agents[0].counts, line(&ann));
    // Another organization's agent id finds nothing in acme.
    let foreign = t
        .leads()
        .leads_per_agent(&acme, &window, Some(&zed.id))
        .await
        .unwrap();
    assert_eq!(foreign, routing::LeadActivity::default());

    // Globex sees its own three leads, one a day, and nothing of acme.
    let theirs = LeadsPerAgent::assemble(
        &window,
        t.leads()
            .leads_per_agent(&globex, &window, None)
            .await
            .unwrap(),
    );
    assert_eq!(theirs.unassigned, [0, 0, 0]);
    assert_eq!(theirs.agents.len(), 1);
    assert_eq!(
        (
            theirs.agents[0].agent_id.clone(),
            theirs.agents[0].counts.clone()
        ),
        (zed.id.clone(), vec![1, 1, 1])
    );

    // A window with no leads still lists the active agents, with zeros.
    let long_ago = DayWindow::ending(now - Duration::days(30), ChartDays::default());
    let empty = LeadsPerAgent::assemble(
        &long_ago,
        t.leads()
            .leads_per_agent(&acme, &long_ago, None)
            .await
            .unwrap(),
    );
    assert_eq!(empty.unassigned, [0; 7]);
    let names: Vec<_> = empty.agents.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["ann", "idle"]);
    assert!(empty.agents.iter().all(|a| a.total == 0));
}

#[tokio::test]
async fn leads_page_after_a_key_in_list_order_with_the_lists_filters() {
    use chrono::TimeZone;
    use lead::LeadKey;

    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    let ann = t.agent(&acme, "ann").await;
    let bob = t.agent(&acme, "bob").await;
    let pool = t
        .pool(&acme, "all", PoolMethod::RoundRobin, &[&ann, &bob])
        .await;
    // Instants whose stored texts have no fraction, 6 digits and 3 digits
    // (SQLite compares them as text), several leads at each; the
    // organization's leads are unrouted, proposed and assigned.
    let second = Utc.with_ymd_and_hms(2026, 11, 29, 15, 0, 0).unwrap();
    let instants = [
        second,
        second + Duration::microseconds(1),
        second + Duration::milliseconds(1),
    ];
    for (settings, per_instant) in [
        (json!({}), 1),
        (json!({"defaultPoolId": pool.id.as_str()}), 2),
        (
            json!({"allowAutoRouting": true, "defaultPoolId": pool.id.as_str()}),
            3,
        ),
    ] {
        set_settings(&t, &acme, settings).await;
        for at in instants {
            for _ in 0..per_instant {
                t.ingest(&acme, NewLeadInput::default(), at).await;
                t.ingest(&globex, NewLeadInput::default(), at).await;
            }
        }
    }

    let reads = t.leads();
    let scope = sc(&acme);
    let filters = [
        LeadFilter::default(),
        LeadFilter {
            status: Some(LeadStatus::Assigned),
            ..LeadFilter::default()
        },
        LeadFilter {
            status: Some(LeadStatus::Proposed),
            ..LeadFilter::default()
        },
        LeadFilter {
            assigned_agent_id: Some(ann.id.clone()),
            ..LeadFilter::default()
        },
    ];
    for filter in &filters {
        let all = reads
            .list(&scope, filter, PageRequest::new(Some(1000), None).unwrap())
            .await
            .unwrap()
            .items;
        assert!(all.len() > 2, "{filter:?}: {} leads", all.len());
        // Pages of 2 after the last key, until a short page.
        let mut paged: Vec<Lead> = Vec::new();
        loop {
            let after = paged.last().map(LeadKey::of);
            let page = reads
                .leads
                .list_after(&scope, filter, after.as_ref(), 2)
                .await
                .unwrap();
            let short = page.len() < 2;
            paged.extend(page);
            if short {
                break;
            }
            assert!(paged.len() <= all.len(), "{filter:?}: pages repeat leads");
        }
        let ids = |leads: &[Lead]| leads.iter().map(|l| l.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&paged), ids(&all), "{filter:?}");
        assert_eq!(paged, all, "{filter:?}: the same leads, read the same way");
        let keys: Vec<LeadKey> = all.iter().map(LeadKey::of).collect();
        assert!(keys.is_sorted(), "{filter:?}: list order is key order");
    }
    // A key from elsewhere in the list still marks a position: an assigned
    // lead's key pages the proposed ones after it.
    let every = reads
        .leads
        .list_after(&scope, &LeadFilter::default(), None, 1000)
        .await
        .unwrap();
    assert_eq!(every.len(), instants.len() * (1 + 2 + 3));
    let middle = LeadKey::of(&every[7]);
    let proposed_after = reads
        .leads
        .list_after(&scope, &filters[2], Some(&middle), 1000)
        .await
        .unwrap();
    let expected: Vec<&Lead> = every[8..]
        .iter()
        .filter(|l| l.status == LeadStatus::Proposed)
        .collect();
    assert_eq!(proposed_after.iter().collect::<Vec<_>>(), expected);
    // After the last lead, nothing; another organization's leads never.
    let last = LeadKey::of(every.last().unwrap());
    assert!(
        reads
            .leads
            .list_after(&scope, &LeadFilter::default(), Some(&last), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(every.iter().all(|l| l.org_id == acme));
}

#[tokio::test]
async fn an_agent_links_only_a_user_of_its_own_organization() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    t.user(&acme, "usr_acme").await;
    t.user(&globex, "usr_globex").await;
    let agents = t.agents();

    for user in ["usr_globex", "usr_nobody"] {
        let agent = new_agent(&acme, "ann", |a| a.user_id = Some(Some(user.into())));
        let err = agents.insert(&sc(&acme), &agent).await.unwrap_err();
        match err {
            RoutingError::Invalid(e) => assert_eq!(e.fields()[0].field, "userId", "{user}"),
            other => panic!("{user}: {other:?}"),
        }
    }
    assert_eq!(t.count("agents", &acme).await, 0);

    let ann = t
        .agent_with(&acme, "ann", |a| a.user_id = Some(Some("usr_acme".into())))
        .await;
    let relink = AgentChange::parse(
        AgentInput {
            user_id: Some(Some("usr_globex".into())),
            ..AgentInput::default()
        },
        false,
    )
    .unwrap();
    let err = agents
        .update(&sc(&acme), &ann.id, relink, tenancy::now())
        .await
        .unwrap_err();
    assert!(matches!(err, RoutingError::Invalid(_)), "{err:?}");

    // The database itself refuses the cross-tenant link.
    let raw = t
        .execute(format!(
            "UPDATE agents SET user_id = 'usr_globex' WHERE id = '{}'",
            ann.id
        ))
        .await;
    assert!(raw.is_err(), "the schema must refuse another tenant's user");
    let kept = agents
        .find(&sc(&acme), &ann.id, tenancy::now())
        .await
        .unwrap();
    assert_eq!(kept.unwrap().agent.user_id.as_deref(), Some("usr_acme"));
}

/// An organization for the batch tests: a round-robin pool of ann (two
/// leads a day at most), bob and cid, a fallback agent, auto-approval with
/// sticky domains (an assigned lead's domain goes back to its agent) and
/// an acceptance SLA (so that every assignment arms a timer).
async fn batch_org(t: &TestDb, name: &str) -> (OrgId, Vec<Agent>) {
    let org = t.org(name).await;
    let ann = t
        .agent_with(&org, "ann", |a| a.daily_cap = Some(Some(2)))
        .await;
    let bob = t.agent(&org, "bob").await;
    let cid = t.agent(&org, "cid").await;
    let fb = t.agent(&org, "fallback").await;
    let pool = t
        .pool(&org, "all", PoolMethod::RoundRobin, &[&ann, &bob, &cid])
        .await;
    let settings = json!({
        "allowAutoRouting": true,
        "stickyByDomain": true,
        "defaultPoolId": pool.id.as_str(),
        "fallbackAgentId": fb.id.as_str(),
        "acceptSlaSeconds": 3600,
    });
    set_settings(t, &org, settings).await;
    (org, vec![ann, bob, cid, fb])
}

/// The leads of the batch tests: new domains, a domain seen before in the
/// batch (sticky), leads without an `externalId`, one repeated within the
/// batch and one stored before it.
fn batch_inputs() -> Vec<NewLeadInput> {
    let lead = |external: Option<&str>, email: &str| NewLeadInput {
        external_id: external.map(str::to_owned),
        email: Some(email.to_owned()),
        ..NewLeadInput::default()
    };
    vec![
        lead(Some("b-1"), "a@one.com"),
        lead(Some("b-2"), "b@two.com"),
        lead(None, "c@three.com"),
        lead(Some("stored"), "d@four.com"),
        lead(Some("b-3"), "e@five.com"),
        lead(Some("b-1"), "f@one.com"),
        lead(None, "g@two.com"),
        lead(Some("b-4"), "h@six.com"),
        lead(None, "i@seven.com"),
        lead(Some("b-5"), "j@eight.com"),
        lead(None, "k@nine.com"),
    ]
}

/// What a client and the counters see of an organization's routing: per
/// lead (created, status, agent name, method), then per agent its open
/// leads, its daily count and its pool turns, then the rows written.
async fn routing_story(
    t: &TestDb,
    org: &OrgId,
    agents: &[Agent],
    routed: &[Routed],
) -> (Vec<String>, Vec<String>) {
    let name = |id: &AgentId| {
        agents
            .iter()
            .find(|a| &a.id == id)
            .map_or("?".to_owned(), |a| a.name.clone())
    };
    let leads = routed
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.created,
                r.lead.status.as_str(),
                r.proposal
                    .as_ref()
                    .map_or("-".to_owned(), |p| name(&p.agent_id)),
                r.proposal
                    .as_ref()
                    .map_or("-".to_owned(), |p| format!("{:?}", p.method)),
            )
        })
        .collect();
    let mut counters = Vec::new();
    for agent in agents {
        let id = &agent.id;
        let daily = t
            .scalar(&format!(
                "SELECT CAST(daily_count AS BIGINT) AS n FROM agents WHERE org_id = '{org}' AND id = '{id}'"
            ))
            .await;
        let turns = t
            .scalar(&format!(
                "SELECT CAST(COALESCE(SUM(assignments), 0) AS BIGINT) AS n FROM pool_members \
                 WHERE org_id = '{org}' AND agent_id = '{id}'"
            ))
            .await;
        counters.push(format!(
            "{}: open {} daily {daily} turns {turns}",
            agent.name,
            t.open_leads(org, agent).await
        ));
    }
    for table in ["leads", "proposals", "timers"] {
        counters.push(format!("{table} {}", t.count(table, org).await));
    }
    let lead_events = t
        .scalar(&format!(
            "SELECT COUNT(*) AS n FROM events WHERE org_id = '{org}' AND lead_id IS NOT NULL"
        ))
        .await;
    counters.push(format!("lead events {lead_events}"));
    (leads, counters)
}

#[tokio::test]
async fn a_batch_routes_as_its_leads_would_one_by_one() {
    let t = TestDb::create().await;
    let now = tenancy::now();
    let stored = NewLeadInput {
        external_id: Some("stored".into()),
        email: Some("z@zero.com".into()),
        ..NewLeadInput::default()
    };

    // One transaction for the batch: the adapter holds the writes back.
    let (acme, acme_agents) = batch_org(&t, "acme").await;
    t.ingest(&acme, stored.clone(), now).await;
    let leads = batch_inputs()
        .into_iter()
        .map(|input| new_lead(&acme, input, now))
        .collect();
    let batch = workflow::ingest_all(&t.store().uow, &sc(&acme), leads, now)
        .await
        .unwrap();

    // The same leads one transaction each.
    let (globex, globex_agents) = batch_org(&t, "globex").await;
    t.ingest(&globex, stored, now).await;
    let mut single = Vec::new();
    for input in batch_inputs() {
        single.push(t.ingest(&globex, input, now).await);
    }

    let batched = routing_story(&t, &acme, &acme_agents, &batch).await;
    let one_by_one = routing_story(&t, &globex, &globex_agents, &single).await;
    assert_eq!(batched, one_by_one);
    // The story is the one intended: the first stored lead went to ann;
    // then replays, a sticky domain, and ann's daily cap of two.
    assert_eq!(
        batched.0,
        [
            "true assigned bob RoundRobin",
            "true assigned cid RoundRobin",
            "true assigned ann RoundRobin",
            "false assigned ann RoundRobin",
            "true assigned bob RoundRobin",
            "false assigned bob RoundRobin",
            "true assigned cid Sticky",
            "true assigned cid RoundRobin",
            "true assigned bob RoundRobin",
            "true assigned cid RoundRobin",
            "true assigned bob RoundRobin",
        ]
    );
    // ann is at her cap after two; the sticky lead takes no turn.
    assert_eq!(
        batched.1,
        [
            "ann: open 2 daily 2 turns 2",
            "bob: open 4 daily 4 turns 4",
            "cid: open 4 daily 4 turns 3",
            "fallback: open 0 daily 0 turns 0",
            "leads 10",
            "proposals 10",
            "timers 10",
            // Created, proposed and assigned for each lead stored.
            "lead events 30",
        ]
    );
}

#[tokio::test]
async fn a_batch_whose_new_external_id_is_stored_meanwhile_writes_nothing() {
    let t = TestDb::create().await;
    if !t.url.starts_with("postgres") {
        // SQLite runs one writer at a time: nothing can be stored meanwhile.
        return;
    }
    let (acme, agents) = batch_org(&t, "acme").await;
    let uow = t.store().uow;
    let now = tenancy::now();
    let input = |id: &str| NewLeadInput {
        external_id: Some(id.to_owned()),
        ..NewLeadInput::default()
    };
    let mut tx = uow.begin(&sc(&acme)).await.unwrap();
    assert!(
        tx.known_external_ids(&["x-1", "x-2"])
            .await
            .unwrap()
            .is_empty()
    );
    for id in ["x-1", "x-2"] {
        workflow::ingest_in(tx.as_mut(), new_lead(&acme, input(id), now), now)
            .await
            .unwrap();
    }
    // Another writer stores x-2 first (by hand: routing it would wait for
    // the pool this transaction holds).
    t.execute(format!(
        "INSERT INTO leads (id, org_id, external_id, name, fields, status, created_at, \
         updated_at) VALUES ('{}', '{acme}', 'x-2', 'Other', '{{}}', 'new', \
         CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        lead::LeadId::generate()
    ))
    .await
    .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, StorageError::Contended(_)), "{err:?}");
    assert_eq!(t.count("leads", &acme).await, 1);
    assert_eq!(t.count("proposals", &acme).await, 0);

    // Run again, the batch finds x-2 and stores x-1 alone.
    let leads = vec![
        new_lead(&acme, input("x-1"), now),
        new_lead(&acme, input("x-2"), now),
    ];
    let routed = workflow::ingest_all(&uow, &sc(&acme), leads, now)
        .await
        .unwrap();
    assert_eq!(
        routed.iter().map(|r| r.created).collect::<Vec<_>>(),
        [true, false]
    );
    assert_eq!(t.count("leads", &acme).await, 2);
    let open: u32 = {
        let mut sum = 0;
        for agent in &agents {
            sum += t.open_leads(&acme, agent).await;
        }
        sum
    };
    assert_eq!(open, 1, "the counters moved with the rows only");
}
