//! Organizations, agents, pools and rules in memory, with the rules the
//! SQL adapter enforces with its constraints: unique names, members and
//! pools of the same organization, a pool in use is not deleted,
//! `settings.maxAgents`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use events::Action;
use organization::{
    Organization, OrganizationError, OrganizationFilter, OrganizationPatch, OrganizationRepository,
    OrganizationStats,
};
use routing::{
    Agent, AgentChange, Pool, PoolChange, PoolId, PoolMethod, RoutingError, Rule, RuleChange,
    RuleId, lifted_assignments,
    ports::{AgentFilter, AgentRepository, AgentView, PoolRepository, RuleRepository},
};
use tenancy::{AgentId, OrgId, Page, PageRequest, StorageError, TenantScope, ValidationErrors};

use crate::{
    MemoryStore,
    state::{AgentRow, PoolRow, State, Tenant, page_of},
};

#[async_trait]
impl OrganizationRepository for MemoryStore {
    async fn list(
        &self,
        filter: &OrganizationFilter,
        page: PageRequest,
    ) -> Result<Page<Organization>, StorageError> {
        let state = self.state.lock().await;
        let mut orgs: Vec<Organization> = state
            .orgs
            .values()
            .filter(|o| filter.is_active.is_none_or(|a| o.is_active == a))
            .filter(|o| filter.tier.is_none_or(|t| o.tier == t))
            .filter(|o| filter.id.as_ref().is_none_or(|id| &o.id == id))
            .cloned()
            .collect();
        orgs.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        Ok(page_of(orgs, page))
    }

    async fn find(&self, id: &OrgId) -> Result<Option<Organization>, StorageError> {
        Ok(self.state.lock().await.orgs.get(id.as_str()).cloned())
    }

    async fn insert(&self, by: &TenantScope, org: &Organization) -> Result<(), OrganizationError> {
        let mut state = self.state.lock().await;
        if state.orgs.values().any(|o| o.name == org.name) {
            return Err(OrganizationError::NameTaken(org.name.to_string()));
        }
        state.orgs.insert(org.id.to_string(), org.clone());
        if by.org_id() == &org.id {
            state
                .tenant_mut(by)
                .record(by, Action::Created, None, Some(org), org.created_at);
        }
        Ok(())
    }

    async fn update(
        &self,
        scope: &TenantScope,
        patch: OrganizationPatch,
        now: DateTime<Utc>,
    ) -> Result<Organization, OrganizationError> {
        let mut state = self.state.lock().await;
        let mut org = state
            .orgs
            .get(scope.org_id().as_str())
            .cloned()
            .ok_or(OrganizationError::NotFound)?;
        let before = org.clone();
        org.apply(patch, now)?;
        // As the SQL adapter: ids the write sets must be of the organization.
        let tenant = state.tenant(scope);
        let mut errors = ValidationErrors::new();
        for key in ["defaultPoolId", "fallbackAgentId"] {
            let id_of = |o: &Organization| {
                o.settings
                    .as_map()
                    .get(key)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let Some(id) = id_of(&org).filter(|id| id_of(&before).as_ref() != Some(id)) else {
                continue;
            };
            let known = if key == "defaultPoolId" {
                tenant.pools.iter().any(|p| p.pool.id.as_str() == id)
            } else {
                tenant.agents.iter().any(|a| a.agent.id.as_str() == id)
            };
            if !known {
                let what = if key == "defaultPoolId" {
                    "pool"
                } else {
                    "agent"
                };
                errors.push(tenancy::FieldError::new(
                    format!("settings.{key}"),
                    format!("is not a {what} of this organization"),
                ));
            }
        }
        errors.into_result(()).map_err(OrganizationError::Invalid)?;
        if state
            .orgs
            .values()
            .any(|o| o.id != org.id && o.name == org.name)
        {
            return Err(OrganizationError::NameTaken(org.name.to_string()));
        }
        state.orgs.insert(org.id.to_string(), org.clone());
        let tenant = state.tenant_mut(scope);
        tenant.record(scope, Action::Updated, Some(&before), Some(&org), now);
        if let Some(event) = organization::settings_changed(&before, &org, now) {
            tenant.append(scope, event);
        }
        Ok(org)
    }

    async fn delete(&self, id: &OrgId) -> Result<bool, StorageError> {
        let mut state = self.state.lock().await;
        state.tenants.remove(id.as_str());
        Ok(state.orgs.remove(id.as_str()).is_some())
    }

    async fn stats(&self, id: &OrgId) -> Result<OrganizationStats, StorageError> {
        let state = self.state.lock().await;
        let Some(t) = state.tenants.get(id.as_str()) else {
            return Ok(OrganizationStats::default());
        };
        Ok(OrganizationStats {
            total_users: t.users.len() as u64,
            total_proposals: t.proposals.len() as u64,
            total_leads: t.leads.len() as u64,
            total_agents: t.agents.iter().filter(|a| a.agent.is_active).count() as u64,
        })
    }
}

/// [`RoutingError::MaxAgentsReached`] when the organization has its
/// `settings.maxAgents` active agents already.
fn check_room(state: &State, scope: &TenantScope) -> Result<(), RoutingError> {
    let Some(max) = state.settings(scope).max_agents() else {
        return Ok(());
    };
    let active = state
        .tenants
        .get(scope.org_id().as_str())
        .map_or(0, |t| t.agents.iter().filter(|a| a.agent.is_active).count());
    if active as u64 >= max {
        return Err(RoutingError::MaxAgentsReached(max));
    }
    Ok(())
}

fn view(t: &Tenant, row: &AgentRow, now: DateTime<Utc>) -> Option<AgentView> {
    t.candidate(&row.agent.id, now).map(|c| AgentView {
        agent: c.agent,
        load: c.load,
    })
}

/// Lifts a returning agent's count in every weighted pool it is in, as
/// [`lifted_assignments`] says.
fn lift_in_weighted_pools(t: &mut Tenant, agent: &Agent) {
    let weights: HashMap<AgentId, u32> = t
        .agents
        .iter()
        .map(|a| (a.agent.id.clone(), a.agent.weight))
        .collect();
    for row in t
        .pools
        .iter_mut()
        .filter(|p| p.pool.method == PoolMethod::Weighted && p.pool.member_ids.contains(&agent.id))
    {
        let own = row.assignments.get(&agent.id).copied().unwrap_or(0);
        let others = row
            .pool
            .member_ids
            .iter()
            .filter(|m| **m != agent.id)
            .map(|m| {
                (
                    row.assignments.get(m).copied().unwrap_or(0),
                    weights.get(m).copied().unwrap_or(0),
                )
            });
        let lifted = lifted_assignments(own, agent.weight, others);
        if lifted > own {
            row.assignments.insert(agent.id.clone(), lifted);
        }
    }
}

#[async_trait]
impl AgentRepository for MemoryStore {
    async fn insert(&self, scope: &TenantScope, agent: &Agent) -> Result<(), RoutingError> {
        let mut state = self.state.lock().await;
        if agent.is_active {
            check_room(&state, scope)?;
        }
        let mut agent = agent.clone();
        agent.org_id = scope.org_id().clone();
        let tenant = state.tenant_mut(scope);
        tenant.record(scope, Action::Created, None, Some(&agent), agent.created_at);
        tenant.agents.push(AgentRow {
            agent,
            daily_count: 0,
            counted_day: None,
            last_assigned_at: None,
        });
        Ok(())
    }

    async fn find(
        &self,
        scope: &TenantScope,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<AgentView>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(t.agent(id).and_then(|row| view(&t, row, now)))
    }

    async fn find_by_user(
        &self,
        scope: &TenantScope,
        user_id: &str,
    ) -> Result<Option<Agent>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        // Several agents could name one user; the oldest wins, always the same.
        Ok(t.agents
            .iter()
            .filter(|a| a.agent.user_id.as_deref() == Some(user_id))
            .min_by(|a, b| {
                (a.agent.created_at, a.agent.id.as_str())
                    .cmp(&(b.agent.created_at, b.agent.id.as_str()))
            })
            .map(|a| a.agent.clone()))
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &AgentFilter,
        page: PageRequest,
        now: DateTime<Utc>,
    ) -> Result<Page<AgentView>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        let mut rows: Vec<&AgentRow> = t
            .agents
            .iter()
            .filter(|a| filter.status.is_none_or(|s| a.agent.status == s))
            .filter(|a| filter.is_active.is_none_or(|v| a.agent.is_active == v))
            .collect();
        rows.sort_by(|a, b| {
            (a.agent.created_at, a.agent.id.as_str())
                .cmp(&(b.agent.created_at, b.agent.id.as_str()))
        });
        let views = rows.iter().filter_map(|row| view(&t, row, now)).collect();
        Ok(page_of(views, page))
    }

    async fn update(
        &self,
        scope: &TenantScope,
        id: &AgentId,
        change: AgentChange,
        now: DateTime<Utc>,
    ) -> Result<Agent, RoutingError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        let row = t.agent_mut(id).ok_or(RoutingError::NotFound("agent"))?;
        let before = row.agent.clone();
        let came_back = row.agent.apply(change, now);
        let agent = row.agent.clone();
        if came_back {
            lift_in_weighted_pools(t, &agent);
        }
        t.record(scope, Action::Updated, Some(&before), Some(&agent), now);
        Ok(agent)
    }

    async fn set_active(
        &self,
        scope: &TenantScope,
        id: &AgentId,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<Agent, RoutingError> {
        let mut state = self.state.lock().await;
        let current = state
            .tenant(scope)
            .agent(id)
            .map(|a| a.agent.clone())
            .ok_or(RoutingError::NotFound("agent"))?;
        if current.is_active == active {
            return Ok(current);
        }
        if active {
            check_room(&state, scope)?;
        }
        let t = state.tenant_mut(scope);
        let row = t.agent_mut(id).ok_or(RoutingError::NotFound("agent"))?;
        row.agent.is_active = active;
        row.agent.updated_at = now;
        let agent = row.agent.clone();
        t.record(scope, Action::Updated, Some(&current), Some(&agent), now);
        Ok(agent)
    }
}

/// [`RoutingError::Invalid`] (field `memberIds`) naming the ids that are
/// not agents of the organization.
fn check_members(t: &Tenant, members: &[AgentId]) -> Result<(), RoutingError> {
    let unknown: Vec<&str> = members
        .iter()
        .filter(|id| t.agent(id).is_none())
        .map(AgentId::as_str)
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors::single(
            "memberIds",
            format!("unknown agents: {}", unknown.join(", ")),
        )
        .into())
    }
}

#[async_trait]
impl PoolRepository for MemoryStore {
    async fn insert(&self, scope: &TenantScope, pool: &Pool) -> Result<(), RoutingError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        check_members(t, &pool.member_ids)?;
        if t.pools.iter().any(|p| p.pool.name == pool.name) {
            return Err(RoutingError::PoolNameTaken);
        }
        let mut pool = pool.clone();
        pool.org_id = scope.org_id().clone();
        t.record(scope, Action::Created, None, Some(&pool), pool.created_at);
        t.pools.push(PoolRow {
            pool,
            last_agent_id: None,
            assignments: HashMap::new(),
        });
        Ok(())
    }

    async fn find(&self, scope: &TenantScope, id: &PoolId) -> Result<Option<Pool>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(t.pools
            .iter()
            .find(|p| &p.pool.id == id)
            .map(|p| p.pool.clone()))
    }

    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<Pool>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        let mut pools: Vec<Pool> = t.pools.iter().map(|p| p.pool.clone()).collect();
        pools.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        Ok(page_of(pools, page))
    }

    async fn update(
        &self,
        scope: &TenantScope,
        id: &PoolId,
        change: PoolChange,
        now: DateTime<Utc>,
    ) -> Result<Pool, RoutingError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        if let Some(members) = &change.member_ids {
            check_members(t, members)?;
        }
        if let Some(name) = &change.name
            && t.pools
                .iter()
                .any(|p| &p.pool.id != id && &p.pool.name == name)
        {
            return Err(RoutingError::PoolNameTaken);
        }
        let row = t
            .pools
            .iter_mut()
            .find(|p| &p.pool.id == id)
            .ok_or(RoutingError::NotFound("pool"))?;
        let before = row.pool.clone();
        if let Some(name) = change.name {
            row.pool.name = name;
        }
        if let Some(method) = change.method {
            row.pool.method = method;
        }
        if let Some(members) = change.member_ids {
            // Members that stay keep their weighted counts.
            let kept: HashSet<&AgentId> = members.iter().collect();
            row.assignments.retain(|id, _| kept.contains(id));
            row.pool.member_ids = members;
        }
        row.pool.updated_at = now;
        let pool = row.pool.clone();
        t.record(scope, Action::Updated, Some(&before), Some(&pool), now);
        Ok(pool)
    }

    async fn delete(&self, scope: &TenantScope, id: &PoolId) -> Result<(), RoutingError> {
        let mut state = self.state.lock().await;
        let default_pool = state
            .settings(scope)
            .as_map()
            .get("defaultPoolId")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let t = state.tenant_mut(scope);
        let Some(before) = t
            .pools
            .iter()
            .find(|p| &p.pool.id == id)
            .map(|p| p.pool.clone())
        else {
            return Err(RoutingError::NotFound("pool"));
        };
        if t.rules.iter().any(|r| &r.pool_id == id) {
            return Err(RoutingError::PoolInUse);
        }
        if default_pool.as_deref() == Some(id.as_str()) {
            return Err(RoutingError::PoolIsDefault);
        }
        t.pools.retain(|p| &p.pool.id != id);
        t.record(scope, Action::Deleted, Some(&before), None, tenancy::now());
        Ok(())
    }
}

fn check_pool(t: &Tenant, pool: &PoolId) -> Result<(), RoutingError> {
    if t.pools.iter().any(|p| &p.pool.id == pool) {
        Ok(())
    } else {
        Err(ValidationErrors::single("poolId", "is not a pool of this organization").into())
    }
}

#[async_trait]
impl RuleRepository for MemoryStore {
    async fn insert(&self, scope: &TenantScope, rule: &Rule) -> Result<(), RoutingError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        check_pool(t, &rule.pool_id)?;
        let mut rule = rule.clone();
        rule.org_id = scope.org_id().clone();
        t.record(scope, Action::Created, None, Some(&rule), rule.created_at);
        t.rules.push(rule);
        Ok(())
    }

    async fn find(&self, scope: &TenantScope, id: &RuleId) -> Result<Option<Rule>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(t.rules.iter().find(|r| &r.id == id).cloned())
    }

    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<Rule>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(page_of(t.rules_in_order(), page))
    }

    async fn update(
        &self,
        scope: &TenantScope,
        id: &RuleId,
        change: RuleChange,
        now: DateTime<Utc>,
    ) -> Result<Rule, RoutingError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        if let Some(pool) = &change.pool_id {
            check_pool(t, pool)?;
        }
        let rule = t
            .rules
            .iter_mut()
            .find(|r| &r.id == id)
            .ok_or(RoutingError::NotFound("rule"))?;
        let before = rule.clone();
        if let Some(pool_id) = change.pool_id {
            rule.pool_id = pool_id;
        }
        if let Some(name) = change.name {
            rule.name = name;
        }
        if let Some(priority) = change.priority {
            rule.priority = priority;
        }
        if let Some(conditions) = change.conditions {
            rule.conditions = conditions;
        }
        if let Some(skills) = change.required_skills {
            rule.required_skills = skills;
        }
        rule.updated_at = now;
        let rule = rule.clone();
        t.record(scope, Action::Updated, Some(&before), Some(&rule), now);
        Ok(rule)
    }

    async fn delete(&self, scope: &TenantScope, id: &RuleId) -> Result<(), RoutingError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        let Some(before) = t.rules.iter().find(|r| &r.id == id).cloned() else {
            return Err(RoutingError::NotFound("rule"));
        };
        t.rules.retain(|r| &r.id != id);
        t.record(scope, Action::Deleted, Some(&before), None, tenancy::now());
        Ok(())
    }
}
