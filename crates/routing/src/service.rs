//! The routing use cases, each checked against [`crate::policy`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lead::{Lead, LeadContactPatch, LeadFilter, LeadId, NewLead};
use organization::{Organization, OrganizationRepository};
use tenancy::{Actor, AgentId, Page, PageRequest, Principal};

use crate::{
    Agent, AgentChange, ChartDays, DayWindow, LeadsPerAgent, Pool, PoolChange, PoolId, Proposal,
    ProposalId, RoutingError, Rule, RuleChange, RuleId,
    engine::Plan,
    policy::{require_manager, sees_all_leads},
    ports::{
        AgentFilter, AgentRepository, AgentView, LeadRepository, PoolRepository, ProposalFilter,
        Routed, RoutingStore, RuleRepository,
    },
};

/// The dashboard numbers of an organization.
#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    /// The organization.
    pub organization: Organization,
    /// Users.
    pub users: u64,
    /// Agents.
    pub agents: u64,
    /// Leads.
    pub leads: u64,
    /// Proposals.
    pub proposals: u64,
}

/// Agents, routing configuration, leads and proposals. Cheap to clone.
#[derive(Clone)]
pub struct RoutingService {
    agents: Arc<dyn AgentRepository>,
    pools: Arc<dyn PoolRepository>,
    rules: Arc<dyn RuleRepository>,
    leads: Arc<dyn LeadRepository>,
    store: Arc<dyn RoutingStore>,
    orgs: Arc<dyn OrganizationRepository>,
}

impl std::fmt::Debug for RoutingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutingService").finish_non_exhaustive()
    }
}

fn decided_by(actor: &Actor) -> String {
    actor.principal().to_string()
}

impl RoutingService {
    /// A service over these repositories.
    pub fn new(
        agents: Arc<dyn AgentRepository>,
        pools: Arc<dyn PoolRepository>,
        rules: Arc<dyn RuleRepository>,
        leads: Arc<dyn LeadRepository>,
        store: Arc<dyn RoutingStore>,
        orgs: Arc<dyn OrganizationRepository>,
    ) -> Self {
        Self {
            agents,
            pools,
            rules,
            leads,
            store,
            orgs,
        }
    }

    // ---- agents ----

    /// Agents with their loads (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    pub async fn list_agents(
        &self,
        actor: &Actor,
        filter: &AgentFilter,
        page: PageRequest,
    ) -> Result<Page<AgentView>, RoutingError> {
        require_manager(actor)?;
        Ok(self
            .agents
            .list(actor.org_id(), filter, page, tenancy::now())
            .await?)
    }

    /// One agent with its load (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    pub async fn get_agent(&self, actor: &Actor, id: &AgentId) -> Result<AgentView, RoutingError> {
        require_manager(actor)?;
        self.agents
            .find(actor.org_id(), id, tenancy::now())
            .await?
            .ok_or(RoutingError::NotFound("agent"))
    }

    /// Creates an agent (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::MaxAgentsReached`].
    pub async fn create_agent(
        &self,
        actor: &Actor,
        change: AgentChange,
    ) -> Result<Agent, RoutingError> {
        require_manager(actor)?;
        let agent = change.into_agent(actor.org_id().clone(), tenancy::now())?;
        self.agents.insert(&agent).await?;
        Ok(agent)
    }

    /// Changes an agent (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    pub async fn update_agent(
        &self,
        actor: &Actor,
        id: &AgentId,
        change: AgentChange,
    ) -> Result<Agent, RoutingError> {
        require_manager(actor)?;
        self.agents
            .update(actor.org_id(), id, change, tenancy::now())
            .await
    }

    /// Deactivates an agent (managers); its open leads stay where they are.
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    pub async fn deactivate_agent(
        &self,
        actor: &Actor,
        id: &AgentId,
    ) -> Result<Agent, RoutingError> {
        require_manager(actor)?;
        self.agents
            .set_active(actor.org_id(), id, false, tenancy::now())
            .await
    }

    // ---- pools ----

    /// Pools (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    pub async fn list_pools(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> Result<Page<Pool>, RoutingError> {
        require_manager(actor)?;
        Ok(self.pools.list(actor.org_id(), page).await?)
    }

    /// One pool (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    pub async fn get_pool(&self, actor: &Actor, id: &PoolId) -> Result<Pool, RoutingError> {
        require_manager(actor)?;
        self.pools
            .find(actor.org_id(), id)
            .await?
            .ok_or(RoutingError::NotFound("pool"))
    }

    /// Creates a pool (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::Invalid`], [`RoutingError::PoolNameTaken`].
    pub async fn create_pool(
        &self,
        actor: &Actor,
        change: PoolChange,
    ) -> Result<Pool, RoutingError> {
        require_manager(actor)?;
        let (Some(name), Some(method)) = (change.name, change.method) else {
            return Err(tenancy::ValidationErrors::single("name", "is required").into());
        };
        let now = tenancy::now();
        let pool = Pool {
            id: PoolId::generate(),
            org_id: actor.org_id().clone(),
            name,
            method,
            member_ids: change.member_ids.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        self.pools.insert(&pool).await?;
        Ok(pool)
    }

    /// Changes a pool (managers).
    ///
    /// # Errors
    /// As [`RoutingService::create_pool`], and [`RoutingError::NotFound`].
    pub async fn update_pool(
        &self,
        actor: &Actor,
        id: &PoolId,
        change: PoolChange,
    ) -> Result<Pool, RoutingError> {
        require_manager(actor)?;
        self.pools
            .update(actor.org_id(), id, change, tenancy::now())
            .await
    }

    /// Deletes a pool (managers).
    ///
    /// # Errors
    /// [`RoutingError::NotFound`], [`RoutingError::PoolInUse`].
    pub async fn delete_pool(&self, actor: &Actor, id: &PoolId) -> Result<(), RoutingError> {
        require_manager(actor)?;
        self.pools.delete(actor.org_id(), id).await
    }

    // ---- rules ----

    /// Rules in evaluation order (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    pub async fn list_rules(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> Result<Page<Rule>, RoutingError> {
        require_manager(actor)?;
        Ok(self.rules.list(actor.org_id(), page).await?)
    }

    /// One rule (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    pub async fn get_rule(&self, actor: &Actor, id: &RuleId) -> Result<Rule, RoutingError> {
        require_manager(actor)?;
        self.rules
            .find(actor.org_id(), id)
            .await?
            .ok_or(RoutingError::NotFound("rule"))
    }

    /// Creates a rule (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::Invalid`].
    pub async fn create_rule(
        &self,
        actor: &Actor,
        change: RuleChange,
    ) -> Result<Rule, RoutingError> {
        require_manager(actor)?;
        let (Some(name), Some(priority), Some(pool_id)) =
            (change.name, change.priority, change.pool_id)
        else {
            return Err(tenancy::ValidationErrors::single("name", "is required").into());
        };
        let now = tenancy::now();
        let rule = Rule {
            id: RuleId::generate(),
            org_id: actor.org_id().clone(),
            name,
            priority,
            conditions: change.conditions.unwrap_or_default(),
            pool_id,
            required_skills: change.required_skills.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        self.rules.insert(&rule).await?;
        Ok(rule)
    }

    /// Changes a rule (managers).
    ///
    /// # Errors
    /// As [`RoutingService::create_rule`], and [`RoutingError::NotFound`].
    pub async fn update_rule(
        &self,
        actor: &Actor,
        id: &RuleId,
        change: RuleChange,
    ) -> Result<Rule, RoutingError> {
        require_manager(actor)?;
        self.rules
            .update(actor.org_id(), id, change, tenancy::now())
            .await
    }

    /// Deletes a rule (managers).
    ///
    /// # Errors
    /// [`RoutingError::NotFound`].
    pub async fn delete_rule(&self, actor: &Actor, id: &RuleId) -> Result<(), RoutingError> {
        require_manager(actor)?;
        self.rules.delete(actor.org_id(), id).await
    }

    // ---- leads ----

    /// Receives a lead and routes it (any role: form backends post with keys).
    ///
    /// # Errors
    /// [`RoutingError::Storage`].
    pub async fn ingest(&self, actor: &Actor, lead: NewLead) -> Result<Routed, RoutingError> {
        let now = tenancy::now();
        let routed = self
            .store
            .ingest(lead.into_lead(actor.org_id().clone(), now), now)
            .await?;
        if routed.created {
            tracing::info!(
                lead_id = %routed.lead.id,
                status = %routed.lead.status,
                agent_id = routed.proposal.as_ref().map(|p| p.agent_id.to_string()),
                "lead routed"
            );
        }
        Ok(routed)
    }

    /// The decision for a lead, writing nothing (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    pub async fn simulate(&self, actor: &Actor, lead: NewLead) -> Result<Plan, RoutingError> {
        require_manager(actor)?;
        let now = tenancy::now();
        self.store
            .simulate(&lead.into_lead(actor.org_id().clone(), now), now)
            .await
    }

    /// The agent record of an agent-role actor, whose leads it may see.
    async fn own_agent(&self, actor: &Actor) -> Result<Option<AgentId>, RoutingError> {
        match actor.principal() {
            Principal::User(user_id) => Ok(self
                .agents
                .find_by_user(actor.org_id(), user_id)
                .await?
                .map(|a| a.id)),
            _ => Ok(None),
        }
    }

    /// Leads: all for managers, only its own for an agent.
    ///
    /// # Errors
    /// [`RoutingError::Storage`].
    pub async fn list_leads(
        &self,
        actor: &Actor,
        mut filter: LeadFilter,
        page: PageRequest,
    ) -> Result<Page<Lead>, RoutingError> {
        if !sees_all_leads(actor) {
            match self.own_agent(actor).await? {
                Some(me) => filter.assigned_agent_id = Some(me),
                None => {
                    return Ok(Page {
                        items: Vec::new(),
                        total: 0,
                        limit: page.limit(),
                        offset: page.offset(),
                    });
                }
            }
        }
        Ok(self.leads.list(actor.org_id(), &filter, page).await?)
    }

    /// One lead and its latest proposal; an agent sees only its own.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`].
    pub async fn get_lead(
        &self,
        actor: &Actor,
        id: &LeadId,
    ) -> Result<(Lead, Option<Proposal>), RoutingError> {
        let lead = self.visible_lead(actor, id).await?;
        let proposal = self.leads.latest_proposal(actor.org_id(), id).await?;
        Ok((lead, proposal))
    }

    async fn visible_lead(&self, actor: &Actor, id: &LeadId) -> Result<Lead, RoutingError> {
        let lead = self
            .leads
            .find(actor.org_id(), id)
            .await?
            .ok_or(RoutingError::NotFound("lead"))?;
        if !sees_all_leads(actor) {
            let me = self.own_agent(actor).await?;
            if me.is_none() || lead.assigned_agent_id() != me.as_ref() {
                return Err(RoutingError::NotFound("lead"));
            }
        }
        Ok(lead)
    }

    /// Changes contact data or moves the status forward; an agent only its own.
    ///
    /// # Errors
    /// [`RoutingError::NotFound`], [`RoutingError::InvalidTransition`].
    pub async fn update_lead(
        &self,
        actor: &Actor,
        id: &LeadId,
        patch: LeadContactPatch,
    ) -> Result<Lead, RoutingError> {
        self.visible_lead(actor, id).await?;
        self.leads
            .update_contact(actor.org_id(), id, patch, tenancy::now())
            .await
    }

    // ---- proposals ----

    /// Proposals, pending first (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    pub async fn list_proposals(
        &self,
        actor: &Actor,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> Result<Page<Proposal>, RoutingError> {
        require_manager(actor)?;
        Ok(self
            .leads
            .list_proposals(actor.org_id(), filter, page)
            .await?)
    }

    /// One proposal (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    pub async fn get_proposal(
        &self,
        actor: &Actor,
        id: &ProposalId,
    ) -> Result<Proposal, RoutingError> {
        require_manager(actor)?;
        self.leads
            .find_proposal(actor.org_id(), id)
            .await?
            .ok_or(RoutingError::NotFound("proposal"))
    }

    /// Approves a pending proposal (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`], [`RoutingError::AlreadyDecided`].
    pub async fn approve(
        &self,
        actor: &Actor,
        id: &ProposalId,
        note: Option<String>,
    ) -> Result<Routed, RoutingError> {
        require_manager(actor)?;
        self.store
            .approve(actor.org_id(), id, &decided_by(actor), note, tenancy::now())
            .await
    }

    /// Rejects a pending proposal, reassigning or re-routing its lead (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`],
    /// [`RoutingError::AlreadyDecided`], [`RoutingError::Invalid`] for `reassignTo`.
    pub async fn reject(
        &self,
        actor: &Actor,
        id: &ProposalId,
        note: Option<String>,
        reassign_to: Option<AgentId>,
    ) -> Result<(Proposal, Routed), RoutingError> {
        require_manager(actor)?;
        self.store
            .reject(
                actor.org_id(),
                id,
                &decided_by(actor),
                note,
                reassign_to,
                tenancy::now(),
            )
            .await
    }

    // ---- dashboard ----

    /// The organization and its counts (any role).
    ///
    /// # Errors
    /// [`RoutingError::NotFound`] when the organization is gone.
    pub async fn dashboard(&self, actor: &Actor) -> Result<Dashboard, RoutingError> {
        let organization = self
            .orgs
            .find(actor.org_id())
            .await?
            .ok_or(RoutingError::NotFound("organization"))?;
        let (users, agents, leads, proposals) = self.leads.counts(actor.org_id()).await?;
        Ok(Dashboard {
            organization,
            users,
            agents,
            leads,
            proposals,
        })
    }

    /// Leads per assigned agent for each of the last `days` UTC calendar days
    /// (the last one being the day of `now`), for the dashboard chart (any
    /// role). Managers and above see every agent of the organization (each
    /// active agent, even idle, and any agent with leads in the window) and
    /// the leads assigned to no one; an agent sees only its own line (the
    /// agent record linked to the signed-in user) and no unassigned leads,
    /// as with [`RoutingService::list_leads`]; an agent-role caller with no
    /// agent record gets an empty chart.
    ///
    /// # Errors
    /// [`RoutingError::Storage`].
    pub async fn leads_per_agent(
        &self,
        actor: &Actor,
        days: ChartDays,
        now: DateTime<Utc>,
    ) -> Result<LeadsPerAgent, RoutingError> {
        let window = DayWindow::ending(now, days);
        let only = if sees_all_leads(actor) {
            None
        } else {
            match self.own_agent(actor).await? {
                Some(me) => Some(me),
                None => return Ok(LeadsPerAgent::empty(&window)),
            }
        };
        let activity = self
            .leads
            .leads_per_agent(actor.org_id(), &window, only.as_ref())
            .await?;
        Ok(LeadsPerAgent::assemble(&window, activity))
    }
}
