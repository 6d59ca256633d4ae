//! Leads, proposals and the dashboard's aggregates, read in memory.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use lead::{Lead, LeadFilter, LeadId, LeadKey, LeadRepository};
use proposal::{
    Proposal, ProposalId, QueueKey,
    ports::{Counts, ProposalFilter, ProposalRepository, Reporting},
};
use routing::{ChartAgent, DayCount, DayWindow, LeadActivity};
use tenancy::{AgentId, Page, PageRequest, StorageError, TenantScope};

use crate::{MemoryStore, state::page_of, tx::latest};

#[async_trait]
impl LeadRepository for MemoryStore {
    async fn find(&self, scope: &TenantScope, id: &LeadId) -> Result<Option<Lead>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(t.leads.iter().find(|l| &l.id == id).cloned())
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<Lead>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(page_of(listed(t.leads, filter), page))
    }

    async fn list_after(
        &self,
        scope: &TenantScope,
        filter: &LeadFilter,
        after: Option<&LeadKey>,
        limit: u64,
    ) -> Result<Vec<Lead>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(listed(t.leads, filter)
            .into_iter()
            .filter(|l| after.is_none_or(|after| after < &LeadKey::of(l)))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect())
    }
}

#[async_trait]
impl ProposalRepository for MemoryStore {
    async fn find(
        &self,
        scope: &TenantScope,
        id: &ProposalId,
    ) -> Result<Option<Proposal>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(t.proposals.iter().find(|p| &p.id == id).cloned())
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> Result<Page<Proposal>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(page_of(review_queue(t.proposals, filter), page))
    }

    async fn queue(
        &self,
        scope: &TenantScope,
        filter: &ProposalFilter,
        after: Option<&QueueKey>,
        limit: u64,
    ) -> Result<Vec<Proposal>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(review_queue(t.proposals, filter)
            .into_iter()
            .filter(|p| after.is_none_or(|after| after < &QueueKey::of(p)))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect())
    }

    async fn count(
        &self,
        scope: &TenantScope,
        filter: &ProposalFilter,
    ) -> Result<u64, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(review_queue(t.proposals, filter).len() as u64)
    }

    async fn latest_for_lead(
        &self,
        scope: &TenantScope,
        lead: &LeadId,
    ) -> Result<Option<Proposal>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(latest(&t, lead))
    }
}

#[async_trait]
impl Reporting for MemoryStore {
    async fn counts(&self, scope: &TenantScope) -> Result<Counts, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(Counts {
            users: t.users.len() as u64,
            agents: t.agents.iter().filter(|a| a.agent.is_active).count() as u64,
            leads: t.leads.len() as u64,
            proposals: t.proposals.len() as u64,
        })
    }

    async fn leads_per_agent(
        &self,
        scope: &TenantScope,
        window: &DayWindow,
        only: Option<&AgentId>,
    ) -> Result<LeadActivity, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        let bounds = window.bounds();
        let (Some(start), Some(end)) = (bounds.first(), bounds.last()) else {
            return Ok(LeadActivity::default());
        };
        let mut grouped: BTreeMap<(usize, Option<AgentId>), u64> = BTreeMap::new();
        for lead in &t.leads {
            if lead.created_at < *start || lead.created_at >= *end {
                continue;
            }
            let owner = lead.assigned_agent_id().cloned();
            if only.is_some() && owner.as_ref() != only {
                continue;
            }
            let day = bounds
                .iter()
                .skip(1)
                .position(|day_end| lead.created_at < *day_end)
                .unwrap_or(0);
            *grouped.entry((day, owner)).or_insert(0) += 1;
        }
        let counts: Vec<DayCount> = grouped
            .into_iter()
            .map(|((day, agent_id), leads)| DayCount {
                day,
                agent_id,
                leads,
            })
            .collect();
        let with_leads: BTreeSet<&AgentId> =
            counts.iter().filter_map(|c| c.agent_id.as_ref()).collect();
        let mut agents: Vec<ChartAgent> = t
            .agents
            .iter()
            .filter(|a| match only {
                Some(id) => &a.agent.id == id,
                None => a.agent.is_active || with_leads.contains(&a.agent.id),
            })
            .map(|a| ChartAgent {
                id: a.agent.id.clone(),
                name: a.agent.name.clone(),
            })
            .collect();
        agents.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        Ok(LeadActivity { counts, agents })
    }
}

#[async_trait]
impl events::EventRepository for MemoryStore {
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &events::EventFilter,
        before: Option<&events::EventId>,
        limit: u64,
    ) -> Result<Vec<events::Event>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(t.events
            .into_iter()
            .rev()
            .filter(|e| before.is_none_or(|b| e.id < *b))
            .filter(|e| filter.matches(e))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect())
    }

    async fn of_lead(
        &self,
        scope: &TenantScope,
        lead_id: &str,
    ) -> Result<Vec<events::Event>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(t.events
            .into_iter()
            .filter(|e| e.lead_id.as_deref() == Some(lead_id))
            .collect())
    }
}

/// The leads `filter` selects, in list order: newest first, ties by id.
fn listed(leads: Vec<Lead>, filter: &LeadFilter) -> Vec<Lead> {
    let mut leads: Vec<Lead> = leads
        .into_iter()
        .filter(|l| filter.status.is_none_or(|s| l.status == s))
        .filter(|l| {
            filter
                .assigned_agent_id
                .as_ref()
                .is_none_or(|a| l.assigned_agent_id() == Some(a))
        })
        .collect();
    leads.sort_by_cached_key(LeadKey::of);
    leads
}

/// The proposals `filter` selects, in review-queue order: what waits for a
/// decision first, then newest first (ties by id).
fn review_queue(proposals: Vec<Proposal>, filter: &ProposalFilter) -> Vec<Proposal> {
    let mut proposals: Vec<Proposal> = proposals
        .into_iter()
        .filter(|p| filter.status.is_none_or(|s| p.status == s))
        .filter(|p| filter.agent_id.as_ref().is_none_or(|a| &p.agent_id == a))
        .filter(|p| filter.lead_id.as_ref().is_none_or(|l| &p.lead_id == l))
        .collect();
    proposals.sort_by_cached_key(QueueKey::of);
    proposals
}
