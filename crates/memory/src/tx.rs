//! The routing workflow's unit of work in memory.
//!
//! A write transaction holds the store's lock from begin to commit, so
//! writers run one at a time (as on SQLite) and every read is exact; it
//! works on a copy of its organization's rows, which a commit puts back and
//! a rollback (or a drop) throws away. Locks and savepoints are therefore
//! plain reads.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use events::NewEvent;
use lead::{Lead, LeadId, LeadStatus};
use proposal::{
    DueTimer, Proposal, ProposalId, ProposalStatus, Timer, TimerId, TimerQueue,
    ports::{Inserted, RoutingTx, UnitOfWork},
};
use routing::{
    Candidate, DecisionReads, DecisionSource, PoolId, PoolSnapshot, PoolState, RoutingSettings,
    Rule,
};
use tenancy::{AgentId, OrgId, StorageError, TenantScope};
use tokio::sync::OwnedMutexGuard;

use crate::{
    MemoryStore,
    state::{State, Tenant},
};

/// One transaction of one organization.
#[derive(Debug)]
pub struct MemoryTx {
    /// Held by write transactions until they end.
    guard: Option<OwnedMutexGuard<State>>,
    scope: TenantScope,
    settings: organization::Settings,
    work: Tenant,
}

#[async_trait]
impl UnitOfWork for MemoryStore {
    async fn begin(&self, scope: &TenantScope) -> Result<Box<dyn RoutingTx>, StorageError> {
        let guard = self.state.clone().lock_owned().await;
        Ok(Box::new(MemoryTx {
            settings: guard.settings(scope),
            work: guard.tenant(scope),
            scope: scope.clone(),
            guard: Some(guard),
        }))
    }
}

#[async_trait]
impl DecisionSource for MemoryStore {
    async fn read(&self, scope: &TenantScope) -> Result<Box<dyn DecisionReads>, StorageError> {
        let state = self.state.lock().await;
        Ok(Box::new(MemoryTx {
            settings: state.settings(scope),
            work: state.tenant(scope),
            scope: scope.clone(),
            guard: None,
        }))
    }
}

#[async_trait]
impl DecisionReads for MemoryTx {
    async fn routing_settings(&mut self) -> Result<RoutingSettings, StorageError> {
        Ok(RoutingSettings::from(&self.settings))
    }

    async fn rules(&mut self) -> Result<Vec<Rule>, StorageError> {
        Ok(self.work.rules_in_order())
    }

    async fn pool(
        &mut self,
        id: &PoolId,
        now: DateTime<Utc>,
    ) -> Result<Option<PoolSnapshot>, StorageError> {
        let Some(row) = self.work.pools.iter().find(|p| &p.pool.id == id) else {
            return Ok(None);
        };
        let members = row
            .pool
            .member_ids
            .iter()
            .filter_map(|m| self.work.candidate(m, now))
            .collect();
        Ok(Some(PoolSnapshot {
            pool: row.pool.clone(),
            state: PoolState {
                last_agent_id: row.last_agent_id.clone(),
                assignments: row.assignments.clone(),
            },
            members,
            config_version: None,
        }))
    }

    async fn agent(
        &mut self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Candidate>, StorageError> {
        Ok(self.work.candidate(id, now))
    }

    async fn domain_owner(
        &mut self,
        domain: &str,
        except: &LeadId,
    ) -> Result<Option<AgentId>, StorageError> {
        Ok(self
            .work
            .leads
            .iter()
            .filter(|l| {
                &l.id != except
                    && l.status.is_owned()
                    && l.email.as_ref().is_some_and(|e| e.domain() == domain)
            })
            .filter_map(|l| Some((l.created_at, l.id.as_str(), l.agent_id.clone()?)))
            .max_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)))
            .map(|(_, _, agent)| agent))
    }

    async fn lock_agent(
        &mut self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Candidate>, StorageError> {
        Ok(self.work.candidate(id, now))
    }

    async fn keep_agent_lock(&mut self) -> Result<(), StorageError> {
        Ok(())
    }

    async fn release_agent_lock(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
}

#[async_trait]
impl RoutingTx for MemoryTx {
    async fn lead_by_external_id(
        &mut self,
        external_id: &str,
    ) -> Result<Option<Lead>, StorageError> {
        Ok(self
            .work
            .leads
            .iter()
            .find(|l| l.external_id.as_deref() == Some(external_id))
            .cloned())
    }

    async fn known_external_ids(
        &mut self,
        external_ids: &[&str],
    ) -> Result<HashSet<String>, StorageError> {
        let asked: HashSet<&str> = external_ids.iter().copied().collect();
        Ok(self
            .work
            .leads
            .iter()
            .filter_map(|l| l.external_id.as_deref())
            .filter(|id| asked.contains(id))
            .map(str::to_owned)
            .collect())
    }

    async fn insert_lead(
        &mut self,
        lead: &Lead,
        first: Option<&Proposal>,
    ) -> Result<Inserted, StorageError> {
        if let Some(external_id) = &lead.external_id
            && self.lead_by_external_id(external_id).await?.is_some()
        {
            return Ok(Inserted::DuplicateExternalId);
        }
        let mut lead = lead.clone();
        lead.org_id = self.scope.org_id().clone();
        self.work.leads.push(lead);
        if let Some(p) = first {
            self.insert_proposal(p).await?;
        }
        Ok(Inserted::Yes)
    }

    async fn lock_lead(&mut self, id: &LeadId) -> Result<Option<Lead>, StorageError> {
        Ok(self.work.leads.iter().find(|l| &l.id == id).cloned())
    }

    async fn update_lead(&mut self, lead: &Lead) -> Result<(), StorageError> {
        if let Some(stored) = self.work.leads.iter_mut().find(|l| l.id == lead.id) {
            let (org_id, external_id, created_at) = (
                stored.org_id.clone(),
                stored.external_id.clone(),
                stored.created_at,
            );
            *stored = Lead {
                org_id,
                external_id,
                created_at,
                ..lead.clone()
            };
        }
        Ok(())
    }

    async fn lock_proposal(&mut self, id: &ProposalId) -> Result<Option<Proposal>, StorageError> {
        Ok(self.work.proposals.iter().find(|p| &p.id == id).cloned())
    }

    async fn latest_proposal(&mut self, lead: &LeadId) -> Result<Option<Proposal>, StorageError> {
        Ok(latest(&self.work, lead))
    }

    async fn insert_proposal(&mut self, proposal: &Proposal) -> Result<(), StorageError> {
        let mut proposal = proposal.clone();
        proposal.org_id = self.scope.org_id().clone();
        self.work.proposals.push(proposal);
        Ok(())
    }

    async fn update_review(&mut self, p: &Proposal) -> Result<(), StorageError> {
        if let Some(stored) = self.work.proposals.iter_mut().find(|s| s.id == p.id) {
            stored.status = p.status;
            stored.decided_by.clone_from(&p.decided_by);
            stored.decided_at = p.decided_at;
            stored.note.clone_from(&p.note);
        }
        Ok(())
    }

    async fn agents_proposed(
        &mut self,
        lead: &LeadId,
        status: Option<ProposalStatus>,
    ) -> Result<HashSet<AgentId>, StorageError> {
        Ok(self
            .work
            .proposals
            .iter()
            .filter(|p| &p.lead_id == lead && status.is_none_or(|s| p.status == s))
            .map(|p| p.agent_id.clone())
            .collect())
    }

    async fn leads_held_by(
        &mut self,
        agent: &AgentId,
        statuses: &[LeadStatus],
        limit: u64,
    ) -> Result<Vec<LeadId>, StorageError> {
        let mut held: Vec<&Lead> = self
            .work
            .leads
            .iter()
            .filter(|l| l.agent_id.as_ref() == Some(agent) && statuses.contains(&l.status))
            .collect();
        held.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        Ok(held
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|l| l.id.clone())
            .collect())
    }

    async fn arm_timer(&mut self, timer: &Timer) -> Result<(), StorageError> {
        self.work.timers.push(timer.clone());
        Ok(())
    }

    async fn disarm_timers(&mut self, lead: &LeadId) -> Result<(), StorageError> {
        self.work.timers.retain(|t| &t.lead_id != lead);
        Ok(())
    }

    async fn timer(&mut self, id: &TimerId) -> Result<Option<Timer>, StorageError> {
        Ok(self.work.timers.iter().find(|t| &t.id == id).cloned())
    }

    async fn take_timer(&mut self, id: &TimerId) -> Result<bool, StorageError> {
        let before = self.work.timers.len();
        self.work.timers.retain(|t| &t.id != id);
        Ok(self.work.timers.len() < before)
    }

    async fn count_assignment(
        &mut self,
        agent: &AgentId,
        day: NaiveDate,
        now: DateTime<Utc>,
        turn: Option<&PoolId>,
    ) -> Result<(), StorageError> {
        if let Some(row) = self.work.agent_mut(agent) {
            row.daily_count = if row.counted_day == Some(day) {
                row.daily_count.saturating_add(1)
            } else {
                1
            };
            row.counted_day = Some(day);
            row.last_assigned_at = Some(now);
        }
        if let Some(row) =
            turn.and_then(|pool| self.work.pools.iter_mut().find(|p| &p.pool.id == pool))
        {
            row.last_agent_id = Some(agent.clone());
            if row.pool.member_ids.contains(agent) {
                *row.assignments.entry(agent.clone()).or_insert(0) += 1;
            }
        }
        Ok(())
    }

    async fn uncount_assignment(
        &mut self,
        agent: &AgentId,
        day: NaiveDate,
    ) -> Result<(), StorageError> {
        if let Some(row) = self.work.agent_mut(agent)
            && row.counted_day == Some(day)
        {
            row.daily_count = row.daily_count.saturating_sub(1);
        }
        Ok(())
    }

    async fn release_pool_turn(
        &mut self,
        pool: &PoolId,
        agent: &AgentId,
    ) -> Result<(), StorageError> {
        if let Some(count) = self
            .work
            .pools
            .iter_mut()
            .find(|p| &p.pool.id == pool)
            .and_then(|row| row.assignments.get_mut(agent))
        {
            *count = count.saturating_sub(1);
        }
        Ok(())
    }

    async fn append_event(&mut self, event: NewEvent) -> Result<(), StorageError> {
        self.work.events.push(event.stamp(&self.scope));
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let MemoryTx {
            guard, scope, work, ..
        } = *self;
        if let Some(mut state) = guard {
            *state.tenant_mut(&scope) = work;
        }
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        Ok(())
    }
}

/// The latest proposal of a lead: newest first, ties by id.
pub(crate) fn latest(t: &Tenant, lead: &LeadId) -> Option<Proposal> {
    t.proposals
        .iter()
        .filter(|p| &p.lead_id == lead)
        .max_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())))
        .cloned()
}

#[async_trait]
impl TimerQueue for MemoryStore {
    async fn due(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<DueTimer>, StorageError> {
        let state = self.state.lock().await;
        let mut due: Vec<(DateTime<Utc>, DueTimer)> = state
            .tenants
            .iter()
            .flat_map(|(org, tenant)| {
                tenant
                    .timers
                    .iter()
                    .filter(|t| t.due_at <= now)
                    .filter_map(move |t| {
                        Some((
                            t.due_at,
                            DueTimer {
                                org_id: OrgId::parse(org)?,
                                id: t.id.clone(),
                            },
                        ))
                    })
            })
            .collect();
        due.sort_by(|a, b| (a.0, a.1.id.as_str()).cmp(&(b.0, b.1.id.as_str())));
        Ok(due
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(_, d)| d)
            .collect())
    }
}
