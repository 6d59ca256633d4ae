//! [`LeadRepository`] on sea-orm: the read side of leads and proposals, and
//! contact updates.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lead::{Lead, LeadContactPatch, LeadFilter, LeadId};
use routing::{
    ChartAgent, DayCount, DayWindow, LeadActivity, Proposal, ProposalId, ProposalStatus,
    RoutingError,
    ports::{LeadRepository, ProposalFilter},
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{CaseStatement, Expr},
};
use tenancy::{AgentId, OrgId, Page, PageRequest, StorageError};

use crate::{
    Database,
    entity::{agents, leads, proposals, users},
    error::{corrupt, storage},
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

    async fn leads_per_agent(
        &self,
        org: &OrgId,
        window: &DayWindow,
        only: Option<&AgentId>,
    ) -> Result<LeadActivity, StorageError> {
        let conn = self.db.connection();
        let bounds = window.bounds();
        let (Some(start), Some(end)) = (bounds.first(), bounds.last()) else {
            return Ok(LeadActivity::default());
        };
        // The day of each lead, as the index of the first day end it precedes:
        // bound values compare correctly on both engines (PostgreSQL
        // timestamptz; SQLite RFC 3339 text in UTC, whose order is the time
        // order).
        let day =
            bounds
                .iter()
                .skip(1)
                .enumerate()
                .fold(CaseStatement::new(), |case, (i, day_end)| {
                    let i = i32::try_from(i).unwrap_or(i32::MAX);
                    case.case(leads::Column::CreatedAt.lt(*day_end), i)
                });
        // The assigned agent, as `Lead::assigned_agent_id`: a proposal is not an assignment.
        let assignee = Expr::case(
            leads::Column::Status.is_in(ASSIGNED_STATUSES),
            Expr::col((leads::Entity, leads::Column::AgentId)),
        );
        let mut query = leads::Entity::find()
            .select_only()
            .expr_as(day, "day_index")
            .expr_as(assignee, "assignee")
            .expr_as(leads::Column::Id.count(), "n")
            // `idx_leads_org_created` (org_id, created_at, id) serves this range.
            .filter(leads::Column::OrgId.eq(org.as_str()))
            .filter(leads::Column::CreatedAt.gte(*start))
            .filter(leads::Column::CreatedAt.lt(*end));
        if let Some(agent) = only {
            query = query
                .filter(leads::Column::AgentId.eq(agent.as_str()))
                .filter(leads::Column::Status.is_in(ASSIGNED_STATUSES));
        }
        // Grouped by the output columns' names: both engines accept them.
        let rows = query
            .group_by(Expr::col("day_index"))
            .group_by(Expr::col("assignee"))
            .into_tuple::<(i32, Option<String>, i64)>()
            .all(conn)
            .await
            .map_err(storage)?;
        let counts = rows
            .into_iter()
            .map(|(day, agent, n)| {
                Ok(DayCount {
                    day: usize::try_from(day)
                        .map_err(|_| corrupt(format!("leads per agent: day {day}")))?,
                    agent_id: agent
                        .map(|id| {
                            AgentId::parse(&id)
                                .ok_or_else(|| corrupt(format!("lead agent id {id}")))
                        })
                        .transpose()?,
                    leads: u64::try_from(n).unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;

        let agents = agents::Entity::find()
            .select_only()
            .column(agents::Column::Id)
            .column(agents::Column::Name)
            .filter(agents::Column::OrgId.eq(org.as_str()));
        let agents = match only {
            Some(agent) => agents.filter(agents::Column::Id.eq(agent.as_str())),
            None => {
                let with_leads = counts
                    .iter()
                    .filter_map(|c| c.agent_id.as_ref().map(AgentId::as_str))
                    .collect::<std::collections::BTreeSet<_>>();
                agents.filter(
                    Condition::any()
                        .add(agents::Column::IsActive.eq(true))
                        .add(agents::Column::Id.is_in(with_leads)),
                )
            }
        };
        let agents = agents
            .order_by_asc(agents::Column::Id)
            .into_tuple::<(String, String)>()
            .all(conn)
            .await
            .map_err(storage)?
            .into_iter()
            .map(|(id, name)| {
                Ok(ChartAgent {
                    id: AgentId::parse(&id).ok_or_else(|| corrupt(format!("agent id {id}")))?,
                    name,
                })
            })
            .collect::<Result<_, StorageError>>()?;
        Ok(LeadActivity { counts, agents })
    }
}
