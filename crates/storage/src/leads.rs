//! The read side on sea-orm: leads ([`LeadRepository`]), proposals
//! ([`ProposalRepository`]) and the dashboard's aggregates ([`Reporting`]).
//! Writes go through the routing workflow's unit of work
//! ([`crate::SeaOrmUnitOfWork`]).

use async_trait::async_trait;
use lead::{Lead, LeadFilter, LeadId, LeadKey, LeadRepository, LeadStatus};
use migration::QUEUE_RANK;
use proposal::{
    Proposal, ProposalId, ProposalStatus, QueueKey,
    ports::{Counts, ProposalFilter, ProposalRepository, Reporting},
};
use routing::{ChartAgent, DayCount, DayWindow, LeadActivity};
use sea_orm::{
    ColumnTrait, Condition, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{CaseStatement, Expr, ExprTrait},
};
use tenancy::{AgentId, Page, PageRequest, StorageError, TenantScope};

use crate::{
    Database,
    entity::{agents, leads, proposals, users},
    error::{corrupt, failed},
    routing_rows::{find_lead, latest_proposal, lead_to_domain, proposal_to_domain, status_names},
    scope::Scoped,
    scope::fetch_page,
};

macro_rules! read_repository {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            db: Database,
        }

        impl $name {
            /// A repository on this database.
            pub fn new(db: Database) -> Self {
                Self { db }
            }
        }
    };
}

read_repository!(
    /// Leads stored in the `leads` table.
    SeaOrmLeadRepository
);
read_repository!(
    /// Proposals stored in the `proposals` table.
    SeaOrmProposalRepository
);
read_repository!(
    /// Counts and charts over the tenant tables.
    SeaOrmReporting
);

#[async_trait]
impl LeadRepository for SeaOrmLeadRepository {
    async fn find(&self, scope: &TenantScope, id: &LeadId) -> Result<Option<Lead>, StorageError> {
        find_lead(
            &self.db.reader(scope.org_id()).await?,
            Scoped::new(scope),
            id.as_str(),
            false,
        )
        .await
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<Lead>, StorageError> {
        let conn = &self.db.reader(scope.org_id()).await?;
        let (rows, paging) = fetch_page(conn, listed(scope, filter), page, "leads: list").await?;
        Ok(paging.with(rows.iter().map(lead_to_domain).collect::<Result<_, _>>()?))
    }

    async fn list_after(
        &self,
        scope: &TenantScope,
        filter: &LeadFilter,
        after: Option<&LeadKey>,
        limit: u64,
    ) -> Result<Vec<Lead>, StorageError> {
        let mut query = listed(scope, filter);
        if let Some(after) = after {
            // Older, or as old with a smaller id: `(created_at, id) < (?, ?)`,
            // a row comparison both engines take as an index bound, which
            // the same condition spelt as an OR would not be. EXPLAIN: SQLite
            // searches `idx_leads_org_created` from it whatever the filter;
            // PostgreSQL too without a filter, and with a status bounds
            // `idx_leads_org_status_created` by `created_at <=`.
            query = query.filter(
                Expr::tuple([
                    Expr::col(leads::Column::CreatedAt),
                    Expr::col(leads::Column::Id),
                ])
                .lt(Expr::tuple([
                    Expr::value(after.created_at()),
                    Expr::value(after.id().as_str()),
                ])),
            );
        }
        let conn = &self.db.reader(scope.org_id()).await?;
        query
            .limit(limit)
            .all(conn)
            .await
            .map_err(failed("leads: list_after"))?
            .iter()
            .map(lead_to_domain)
            .collect()
    }
}

/// The organization's leads `filter` selects, in list order: newest first,
/// ties by id (`idx_leads_org_created` without a filter).
fn listed(scope: &TenantScope, filter: &LeadFilter) -> Select<leads::Entity> {
    let mut query = Scoped::new(scope).find::<leads::Entity>();
    if let Some(status) = filter.status {
        query = query.filter(leads::Column::Status.eq(status.as_str()));
    }
    if let Some(agent) = &filter.assigned_agent_id {
        // Assigned, not merely proposed: as `Lead::assigned_agent_id`.
        query = query
            .filter(leads::Column::AgentId.eq(agent.as_str()))
            .filter(leads::Column::Status.is_in(status_names(LeadStatus::OWNED)));
    }
    query
        .order_by_desc(leads::Column::CreatedAt)
        .order_by_desc(leads::Column::Id)
}

#[async_trait]
impl ProposalRepository for SeaOrmProposalRepository {
    async fn find(
        &self,
        scope: &TenantScope,
        id: &ProposalId,
    ) -> Result<Option<Proposal>, StorageError> {
        Scoped::new(scope)
            .one::<proposals::Entity>(&self.db.reader(scope.org_id()).await?, id.as_str(), false)
            .await?
            .as_ref()
            .map(proposal_to_domain)
            .transpose()
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &ProposalFilter,
        page: PageRequest,
    ) -> Result<Page<Proposal>, StorageError> {
        let conn = &self.db.reader(scope.org_id()).await?;
        // The review queue: what waits for a decision comes first. The
        // order is the index's (`idx_proposals_org_queue`).
        let (rows, paging) = fetch_page(
            conn,
            matching(scope, filter)
                .order_by(Expr::cust(QUEUE_RANK), Order::Asc)
                .order_by_desc(proposals::Column::CreatedAt)
                .order_by_desc(proposals::Column::Id),
            page,
            "proposals: list",
        )
        .await?;
        Ok(paging.with(
            rows.iter()
                .map(proposal_to_domain)
                .collect::<Result<_, _>>()?,
        ))
    }

    async fn queue(
        &self,
        scope: &TenantScope,
        filter: &ProposalFilter,
        after: Option<&QueueKey>,
        limit: u64,
    ) -> Result<Vec<Proposal>, StorageError> {
        let conn = &self.db.reader(scope.org_id()).await?;
        let mut found = Vec::new();
        // Two index ranges, pending then the rest, each newest first from
        // the cursor: the condition "after the cursor" across ranks would
        // be an OR the engines cannot turn into one range.
        for pending in [true, false] {
            let wanted = limit.saturating_sub(found.len() as u64);
            if wanted == 0
                || filter
                    .status
                    .is_some_and(|s| (s == ProposalStatus::Pending) != pending)
                // A cursor among the decided ones is past every pending one.
                || (pending && after.is_some_and(|a| !a.pending))
            {
                continue;
            }
            let rank = u8::from(!pending);
            let mut query =
                matching(scope, filter).filter(Expr::cust(format!("{QUEUE_RANK} = {rank}")));
            if let Some(after) = after.filter(|a| a.pending == pending) {
                query = query.filter(
                    Expr::tuple([
                        Expr::col(proposals::Column::CreatedAt),
                        Expr::col(proposals::Column::Id),
                    ])
                    .lt(Expr::tuple([
                        Expr::value(after.created_at),
                        Expr::value(after.id.as_str()),
                    ])),
                );
            }
            let rows = query
                .order_by_desc(proposals::Column::CreatedAt)
                .order_by_desc(proposals::Column::Id)
                .limit(wanted)
                .all(conn)
                .await
                .map_err(failed("proposals: queue"))?;
            for row in &rows {
                found.push(proposal_to_domain(row)?);
            }
        }
        Ok(found)
    }

    async fn count(
        &self,
        scope: &TenantScope,
        filter: &ProposalFilter,
    ) -> Result<u64, StorageError> {
        matching(scope, filter)
            .count(&self.db.reader(scope.org_id()).await?)
            .await
            .map_err(failed("proposals: count"))
    }

    async fn latest_for_lead(
        &self,
        scope: &TenantScope,
        lead: &LeadId,
    ) -> Result<Option<Proposal>, StorageError> {
        latest_proposal(
            &self.db.reader(scope.org_id()).await?,
            Scoped::new(scope),
            lead.as_str(),
        )
        .await
    }
}

#[async_trait]
impl Reporting for SeaOrmReporting {
    async fn counts(&self, scope: &TenantScope) -> Result<Counts, StorageError> {
        let conn = &self.db.reader(scope.org_id()).await?;
        let users = Scoped::new(scope)
            .find::<users::Entity>()
            .count(conn)
            .await
            .map_err(failed("leads: counts"))?;
        let agents = Scoped::new(scope)
            .find::<agents::Entity>()
            .filter(agents::Column::IsActive.eq(true))
            .count(conn)
            .await
            .map_err(failed("leads: counts"))?;
        let leads = Scoped::new(scope)
            .find::<leads::Entity>()
            .count(conn)
            .await
            .map_err(failed("leads: counts"))?;
        let proposals = Scoped::new(scope)
            .find::<proposals::Entity>()
            .count(conn)
            .await
            .map_err(failed("leads: counts"))?;
        Ok(Counts {
            users,
            agents,
            leads,
            proposals,
        })
    }

    async fn leads_per_agent(
        &self,
        scope: &TenantScope,
        window: &DayWindow,
        only: Option<&AgentId>,
    ) -> Result<LeadActivity, StorageError> {
        let conn = &self.db.reader(scope.org_id()).await?;
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
            leads::Column::Status.is_in(status_names(LeadStatus::OWNED)),
            Expr::col((leads::Entity, leads::Column::AgentId)),
        );
        // `idx_leads_org_created` (org_id, created_at, id) serves this range.
        let mut query = Scoped::new(scope)
            .find::<leads::Entity>()
            .select_only()
            .expr_as(day, "day_index")
            .expr_as(assignee, "assignee")
            .expr_as(leads::Column::Id.count(), "n")
            .filter(leads::Column::CreatedAt.gte(*start))
            .filter(leads::Column::CreatedAt.lt(*end));
        if let Some(agent) = only {
            query = query
                .filter(leads::Column::AgentId.eq(agent.as_str()))
                .filter(leads::Column::Status.is_in(status_names(LeadStatus::OWNED)));
        }
        // Grouped by the output columns' names: both engines accept them.
        let rows = query
            .group_by(Expr::col("day_index"))
            .group_by(Expr::col("assignee"))
            .into_tuple::<(i32, Option<String>, i64)>()
            .all(conn)
            .await
            .map_err(failed("leads: leads_per_agent"))?;
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

        let agents = Scoped::new(scope)
            .find::<agents::Entity>()
            .select_only()
            .column(agents::Column::Id)
            .column(agents::Column::Name);
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
            .map_err(failed("leads: leads_per_agent"))?
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

/// The organization's proposals `filter` selects.
fn matching(scope: &TenantScope, filter: &ProposalFilter) -> Select<proposals::Entity> {
    let mut query = Scoped::new(scope).find::<proposals::Entity>();
    if let Some(status) = filter.status {
        query = query.filter(proposals::Column::Status.eq(status.as_str()));
    }
    if let Some(agent) = &filter.agent_id {
        query = query.filter(proposals::Column::AgentId.eq(agent.as_str()));
    }
    if let Some(lead) = &filter.lead_id {
        query = query.filter(proposals::Column::LeadId.eq(lead.as_str()));
    }
    query
}
