//! The routing configuration use cases (agents, pools, rules) and the
//! simulation of a decision, each checked against [`crate::policy`].

use std::{collections::HashSet, sync::Arc};

use lead::NewLead;
use tenancy::{Actor, AgentId, Page, PageRequest};

use crate::{
    Agent, AgentChange, Pool, PoolChange, PoolId, RoutingError, Rule, RuleChange, RuleId,
    decide::{DecisionSource, decide},
    engine::Plan,
    policy::require_manager,
    ports::{AgentFilter, AgentRepository, AgentView, PoolRepository, RuleRepository},
};

/// Agents, pools, rules and simulations. Cheap to clone.
#[derive(Clone)]
pub struct RoutingService {
    agents: Arc<dyn AgentRepository>,
    pools: Arc<dyn PoolRepository>,
    rules: Arc<dyn RuleRepository>,
    decisions: Arc<dyn DecisionSource>,
}

impl std::fmt::Debug for RoutingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutingService").finish_non_exhaustive()
    }
}

impl RoutingService {
    /// A service over these repositories.
    pub fn new(
        agents: Arc<dyn AgentRepository>,
        pools: Arc<dyn PoolRepository>,
        rules: Arc<dyn RuleRepository>,
        decisions: Arc<dyn DecisionSource>,
    ) -> Self {
        Self {
            agents,
            pools,
            rules,
            decisions,
        }
    }

    /// The agent record linked to user `user_id` in the actor's organization.
    ///
    /// # Errors
    /// [`RoutingError::Storage`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn agent_of_user(
        &self,
        actor: &Actor,
        user_id: &str,
    ) -> Result<Option<Agent>, RoutingError> {
        Ok(self.agents.find_by_user(&actor.scope(), user_id).await?)
    }

    /// The decision for a lead, writing nothing (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn simulate(&self, actor: &Actor, lead: NewLead) -> Result<Plan, RoutingError> {
        require_manager(actor)?;
        let now = tenancy::now();
        let lead = lead.into_lead(actor.org_id().clone(), now);
        let mut reads = self.decisions.read(&actor.scope()).await?;
        let decision = decide(reads.as_mut(), &lead, &HashSet::new(), now, false).await?;
        Ok(decision.plan)
    }

    // ---- agents ----

    /// Agents with their loads (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn list_agents(
        &self,
        actor: &Actor,
        filter: &AgentFilter,
        page: PageRequest,
    ) -> Result<Page<AgentView>, RoutingError> {
        require_manager(actor)?;
        Ok(self
            .agents
            .list(&actor.scope(), filter, page, tenancy::now())
            .await?)
    }

    /// One agent with its load (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn get_agent(&self, actor: &Actor, id: &AgentId) -> Result<AgentView, RoutingError> {
        require_manager(actor)?;
        self.agents
            .find(&actor.scope(), id, tenancy::now())
            .await?
            .ok_or(RoutingError::NotFound("agent"))
    }

    /// Creates an agent (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::MaxAgentsReached`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn create_agent(
        &self,
        actor: &Actor,
        change: AgentChange,
    ) -> Result<Agent, RoutingError> {
        require_manager(actor)?;
        let agent = change.into_agent(actor.org_id().clone(), tenancy::now())?;
        self.agents.insert(&actor.scope(), &agent).await?;
        Ok(agent)
    }

    /// Changes an agent (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn update_agent(
        &self,
        actor: &Actor,
        id: &AgentId,
        change: AgentChange,
    ) -> Result<Agent, RoutingError> {
        require_manager(actor)?;
        self.agents
            .update(&actor.scope(), id, change, tenancy::now())
            .await
    }

    /// Deactivates an agent (managers); its open leads stay where they are.
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn deactivate_agent(
        &self,
        actor: &Actor,
        id: &AgentId,
    ) -> Result<Agent, RoutingError> {
        require_manager(actor)?;
        self.agents
            .set_active(&actor.scope(), id, false, tenancy::now())
            .await
    }

    // ---- pools ----

    /// Pools (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn list_pools(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> Result<Page<Pool>, RoutingError> {
        require_manager(actor)?;
        Ok(self.pools.list(&actor.scope(), page).await?)
    }

    /// One pool (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn get_pool(&self, actor: &Actor, id: &PoolId) -> Result<Pool, RoutingError> {
        require_manager(actor)?;
        self.pools
            .find(&actor.scope(), id)
            .await?
            .ok_or(RoutingError::NotFound("pool"))
    }

    /// Creates a pool (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::Invalid`], [`RoutingError::PoolNameTaken`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
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
        self.pools.insert(&actor.scope(), &pool).await?;
        Ok(pool)
    }

    /// Changes a pool (managers).
    ///
    /// # Errors
    /// As [`RoutingService::create_pool`], and [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn update_pool(
        &self,
        actor: &Actor,
        id: &PoolId,
        change: PoolChange,
    ) -> Result<Pool, RoutingError> {
        require_manager(actor)?;
        self.pools
            .update(&actor.scope(), id, change, tenancy::now())
            .await
    }

    /// Deletes a pool (managers).
    ///
    /// # Errors
    /// [`RoutingError::NotFound`], [`RoutingError::PoolInUse`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn delete_pool(&self, actor: &Actor, id: &PoolId) -> Result<(), RoutingError> {
        require_manager(actor)?;
        self.pools.delete(&actor.scope(), id).await
    }

    // ---- rules ----

    /// Rules in evaluation order (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn list_rules(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> Result<Page<Rule>, RoutingError> {
        require_manager(actor)?;
        Ok(self.rules.list(&actor.scope(), page).await?)
    }

    /// One rule (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn get_rule(&self, actor: &Actor, id: &RuleId) -> Result<Rule, RoutingError> {
        require_manager(actor)?;
        self.rules
            .find(&actor.scope(), id)
            .await?
            .ok_or(RoutingError::NotFound("rule"))
    }

    /// Creates a rule (managers).
    ///
    /// # Errors
    /// [`RoutingError::Forbidden`], [`RoutingError::Invalid`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
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
        self.rules.insert(&actor.scope(), &rule).await?;
        Ok(rule)
    }

    /// Changes a rule (managers).
    ///
    /// # Errors
    /// As [`RoutingService::create_rule`], and [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn update_rule(
        &self,
        actor: &Actor,
        id: &RuleId,
        change: RuleChange,
    ) -> Result<Rule, RoutingError> {
        require_manager(actor)?;
        self.rules
            .update(&actor.scope(), id, change, tenancy::now())
            .await
    }

    /// Deletes a rule (managers).
    ///
    /// # Errors
    /// [`RoutingError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn delete_rule(&self, actor: &Actor, id: &RuleId) -> Result<(), RoutingError> {
        require_manager(actor)?;
        self.rules.delete(&actor.scope(), id).await
    }
}
