//! [`LeadRepository`] on sea-orm: the read side of leads and proposals, and
//! contact updates.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lead::{Lead, LeadContactPatch, LeadFilter, LeadId};
use routing::{
    Proposal, ProposalId, ProposalStatus, RoutingError,
    ports::{LeadRepository, ProposalFilter},
};
use sea_orm::{
    ColumnTrait, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tenancy::{OrgId, Page, PageRequest, StorageError};

use crate::{
    Database,
    entity::{agents, leads, proposals, users},
    error::storage,
    routing_rows::{
        ASSIGNED_STATUSES, find_lead, finish, latest_proposal, lead_to_domain, proposal_to_domain,
        update_lead,
    },
};

/// Leads and proposals stored in the `leads` and `proposals` tables.
#[derive(Clone, Debug)]
pub struct SeaOrmLeadRepository {
    db: Database,
}

impl SeaOrmLeadRepository {
    /// A repository on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl LeadRepository for SeaOrmLeadRepository {
    async fn find(&self, org: &OrgId, id: &LeadId) -> Result<Option<Lead>, StorageError> {
        find_lead(self.db.connection(), org, id.as_str(), false).await
    }

    async fn list(
        &self,
        org: &OrgId,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<Lead>, StorageError> {
        let mut query = leads::Entity::find().filter(leads::Column::OrgId.eq(org.as_str()));
        if let Some(status) = filter.status {
            query = query.filter(leads::Column::Status.eq(status.as_str()));
        }
        if let Some(agent) = &filter.assigned_agent_id {
            // Assigned, not merely proposed: as `Lead::assigned_agent_id`.
            query = query
                .filter(leads::Column::AgentId.eq(agent.as_str()))
                .filter(leads::Column::Status.is_in(ASSIGNED_STATUSES));
        }
        let conn = self.db.connection();
        let total = query.clone().count(conn).await.map_err(storage)?;
        let rows = query
            .order_by_desc(leads::Column::CreatedAt)
            .order_by_desc(leads::Column::Id)
            .limit(page.limit())
            .offset(page.offset())
            .all(conn)
            .await
            .map_err(storage)?;
        Ok(Page {
            items: rows.iter().map(lead_to_domain).collect::<Result<_, _>>()?,
            total,
            limit: page.limit(),
            offset: page.offset(),
        })
    }

    async fn update_contact(
        &self,
        org: &OrgId,
        id: &LeadId,
        patch: LeadContactPatch,
        now: DateTime<Utc>,
    ) -> Result<Lead, RoutingError> {
        let txn = self.db.begin_write().await.map_err(storage)?;
        let result = async {
            let mut lead = find_lead(&txn, org, id.as_str(), true)
                .await?
                .ok_or(RoutingError::NotFound("lead"))?;
            lead.apply(patch, now)?;
            update_lead(&txn, &lead).await?;
            Ok(lead)
        }
        .await;
        finish(txn, result).await
    }

    async fn find_proposal(
        &self,
        org: &OrgId,
        id: &ProposalId,
    ) -> Result<Option<Proposal>, StorageError> {
        proposals::Entity::find_by_id(id.as_str())
            .filter(proposals::Column::OrgId.eq(org.as_str()))
            .one(self.db.connection())
            .await
            .map_err(storage)?
            .as_ref()
            .map(proposal_to_domain)
            .transpose()
    }

    async fn list_proposals(
        &self,
        org: &OrgId,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> Result<Page<Proposal>, StorageError> {
        let mut query = proposals::Entity::find().filter(proposals::Column::OrgId.eq(org.as_str()));
        if let Some(status) = filter.status {
            query = query.filter(proposals::Column::Status.eq(status.as_str()));
        }
        if let Some(agent) = &filter.agent_id {
            query = query.filter(proposals::Column::AgentId.eq(agent.as_str()));
        }
        if let Some(lead) = &filter.lead_id {
            query = query.filter(proposals::Column::LeadId.eq(lead.as_str()));
        }
        let conn = self.db.connection();
        let total = query.clone().count(conn).await.map_err(storage)?;
        // The review queue: what waits for a decision comes first.
        let pending_first: Expr = Expr::case(
            proposals::Column::Status.eq(ProposalStatus::Pending.as_str()),
            0,
        )
        .finally(1)
        .into();
        let rows = query
            .order_by(pending_first, Order::Asc)
            .order_by_desc(proposals::Column::CreatedAt)
            .order_by_desc(proposals::Column::Id)
            .limit(page.limit())
            .offset(page.offset())
            .all(conn)
            .await
            .map_err(storage)?;
        Ok(Page {
            items: rows
                .iter()
                .map(proposal_to_domain)
                .collect::<Result<_, _>>()?,
            total,
            limit: page.limit(),
            offset: page.offset(),
        })
    }

    async fn latest_proposal(
        &self,
        org: &OrgId,
        lead: &LeadId,
    ) -> Result<Option<Proposal>, StorageError> {
        latest_proposal(self.db.connection(), org, lead.as_str()).await
    }

    async fn counts(&self, org: &OrgId) -> Result<(u64, u64, u64, u64), StorageError> {
        let conn = self.db.connection();
        let users = users::Entity::find()
            .filter(users::Column::OrgId.eq(org.as_str()))
            .count(conn)
            .await
            .map_err(storage)?;
        let agents = agents::Entity::find()
            .filter(agents::Column::OrgId.eq(org.as_str()))
            .filter(agents::Column::IsActive.eq(true))
            .count(conn)
            .await
            .map_err(storage)?;
        let leads = leads::Entity::find()
            .filter(leads::Column::OrgId.eq(org.as_str()))
            .count(conn)
            .await
            .map_err(storage)?;
        let proposals = proposals::Entity::find()
            .filter(proposals::Column::OrgId.eq(org.as_str()))
            .count(conn)
            .await
            .map_err(storage)?;
        Ok((users, agents, leads, proposals))
    }
}
