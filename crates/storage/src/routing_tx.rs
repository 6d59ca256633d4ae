//! The routing workflow's unit of work on sea-orm: [`SeaOrmUnitOfWork`]
//! begins [`SqlRoutingTx`]s, which answer the reads of a decision
//! ([`DecisionReads`]) and make the writes of the workflow ([`RoutingTx`])
//! with queries only. What to read and write, and when, is the workflow's
//! (`proposal::workflow`).
//!
//! A write transaction begins `IMMEDIATE` on SQLite ([`Database::begin_write`]),
//! so writers run one at a time and every read is exact. On PostgreSQL the
//! target pool's row is locked (`FOR UPDATE`) before its state and its
//! members' loads are read: that lock is the one ordering point of a pool,
//! which makes round robin and weighted counts exact under concurrency while
//! other pools proceed in parallel. The capacity re-check locks the chosen
//! agent's row inside a savepoint, so that an agent found full is let go at
//! once and a step never holds one agent's lock while it waits for another's.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use events::NewEvent;
use lead::{Lead, LeadId, LeadStatus};
use proposal::{
    Proposal, ProposalId, ProposalStatus, Timer, TimerId,
    ports::{Inserted, RoutingTx, UnitOfWork},
};
use routing::{
    Candidate, DecisionReads, DecisionSource, PoolId, PoolSnapshot, PoolState, RoutingSettings,
    Rule,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use tenancy::{AgentId, StorageError, TenantScope};

use crate::{
    Database,
    entity::{agents, leads, pool_members, proposals, routing_pools, timers},
    error::{corrupt, failed, violates_unique},
    routing_rows::{
        AgentSet, all_rules, candidate, candidates, day_key, find_lead, latest_proposal,
        lead_to_active, lead_to_domain, member_id, members_of, open_lead_counts, org_settings,
        pool_member_ids, pool_to_domain, proposal_to_active, proposal_to_domain, status_names,
        update_lead,
    },
    scope::Scoped,
    timers::{timer_to_active, timer_to_domain},
};

/// The name of the savepoint of the capacity re-check.
const AGENT_LOCK: &str = "agent_lock";

/// Begins routing transactions on a database.
#[derive(Clone, Debug)]
pub struct SeaOrmUnitOfWork {
    db: Database,
}

impl SeaOrmUnitOfWork {
    /// Transactions on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl UnitOfWork for SeaOrmUnitOfWork {
    async fn begin(&self, scope: &TenantScope) -> Result<Box<dyn RoutingTx>, StorageError> {
        let txn = self
            .db
            .begin_write()
            .await
            .map_err(failed("begin a routing transaction"))?;
        Ok(Box::new(SqlRoutingTx {
            txn,
            scope: scope.clone(),
            write: true,
            webhooks: None,
        }))
    }
}

#[async_trait]
impl DecisionSource for SeaOrmUnitOfWork {
    async fn read(&self, scope: &TenantScope) -> Result<Box<dyn DecisionReads>, StorageError> {
        // Plain reads, no locks: a simulation decides nothing.
        let txn = self
            .db
            .connection()
            .begin()
            .await
            .map_err(failed("begin a read transaction"))?;
        Ok(Box::new(SqlRoutingTx {
            txn,
            scope: scope.clone(),
            write: false,
            webhooks: None,
        }))
    }
}

/// One transaction of one organization. Dropped without a commit, sea-orm
/// rolls it back.
#[derive(Debug)]
pub struct SqlRoutingTx {
    txn: DatabaseTransaction,
    scope: TenantScope,
    /// Whether rows are locked (`FOR UPDATE`) where the workflow says so.
    write: bool,
    /// The organization's active webhook endpoints, read at the first event
    /// the transaction appends.
    webhooks: Option<Vec<webhook::Webhook>>,
}

impl SqlRoutingTx {
    fn scoped(&self) -> Scoped<'_> {
        Scoped::new(&self.scope)
    }

    async fn run(&self, sql: &str, op: &'static str) -> Result<(), StorageError> {
        self.txn
            .execute_unprepared(sql)
            .await
            .map(drop)
            .map_err(failed(op))
    }
}

#[async_trait]
impl DecisionReads for SqlRoutingTx {
    async fn routing_settings(&mut self) -> Result<RoutingSettings, StorageError> {
        Ok(RoutingSettings::from(
            &org_settings(&self.txn, self.scoped(), false).await?,
        ))
    }

    async fn rules(&mut self) -> Result<Vec<Rule>, StorageError> {
        all_rules(&self.txn, self.scoped()).await
    }

    async fn pool(
        &mut self,
        id: &PoolId,
        now: DateTime<Utc>,
    ) -> Result<Option<PoolSnapshot>, StorageError> {
        let org = self.scoped();
        let conn = &self.txn;
        // The ordering point of the pool on PostgreSQL.
        let Some(row) = org
            .one::<routing_pools::Entity>(conn, id.as_str(), self.write)
            .await?
        else {
            return Ok(None);
        };
        // Four queries whatever the pool's size.
        let member_rows = members_of(conn, org, std::slice::from_ref(&row.id))
            .await?
            .remove(&row.id)
            .unwrap_or_default();
        let agent_rows = org
            .find::<agents::Entity>()
            .filter(agents::Column::Id.in_subquery(pool_member_ids(org, &row.id)))
            .all(conn)
            .await
            .map_err(failed("read pool members"))?;
        let counts = open_lead_counts(conn, org, AgentSet::Pool(&row.id)).await?;
        let mut by_id: HashMap<String, agents::Model> =
            agent_rows.into_iter().map(|a| (a.id.clone(), a)).collect();
        let ordered: Vec<agents::Model> = member_rows
            .iter()
            .filter_map(|m| by_id.remove(&m.agent_id))
            .collect();
        let members = candidates(&ordered, &counts, now)?;
        let mut assignments = HashMap::with_capacity(member_rows.len());
        let mut member_ids = Vec::with_capacity(member_rows.len());
        for m in &member_rows {
            let id = member_id(m)?;
            assignments.insert(id.clone(), u64::try_from(m.assignments).unwrap_or(0));
            member_ids.push(id);
        }
        Ok(Some(PoolSnapshot {
            pool: pool_to_domain(&row, member_ids)?,
            state: PoolState {
                last_agent_id: row.last_agent_id.as_deref().and_then(AgentId::parse),
                assignments,
            },
            members,
        }))
    }

    async fn agent(
        &mut self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Candidate>, StorageError> {
        candidate(&self.txn, self.scoped(), id.as_str(), false, now).await
    }

    async fn domain_owner(
        &mut self,
        domain: &str,
        except: &LeadId,
    ) -> Result<Option<AgentId>, StorageError> {
        let owner = self
            .scoped()
            .find::<leads::Entity>()
            .select_only()
            .column(leads::Column::AgentId)
            .filter(leads::Column::EmailDomain.eq(domain))
            .filter(leads::Column::Status.is_in(status_names(LeadStatus::OWNED)))
            .filter(leads::Column::AgentId.is_not_null())
            .filter(leads::Column::Id.ne(except.as_str()))
            .order_by_desc(leads::Column::CreatedAt)
            .order_by_desc(leads::Column::Id)
            .into_tuple::<String>()
            .one(&self.txn)
            .await
            .map_err(failed("read the owner of an e-mail domain"))?;
        owner
            .map(|id| AgentId::parse(&id).ok_or_else(|| corrupt(format!("lead agent id {id}"))))
            .transpose()
    }

    async fn lock_agent(
        &mut self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Candidate>, StorageError> {
        self.run(&format!("SAVEPOINT {AGENT_LOCK}"), "open a savepoint")
            .await?;
        // Counted after the lock: on PostgreSQL this statement sees what the
        // previous holder of the lock committed.
        candidate(&self.txn, self.scoped(), id.as_str(), self.write, now).await
    }

    async fn keep_agent_lock(&mut self) -> Result<(), StorageError> {
        self.run(
            &format!("RELEASE SAVEPOINT {AGENT_LOCK}"),
            "release a savepoint",
        )
        .await
    }

    async fn release_agent_lock(&mut self) -> Result<(), StorageError> {
        // Rolling back to the savepoint lets the row lock taken after it go.
        self.run(
            &format!("ROLLBACK TO SAVEPOINT {AGENT_LOCK}"),
            "roll back to a savepoint",
        )
        .await?;
        self.run(
            &format!("RELEASE SAVEPOINT {AGENT_LOCK}"),
            "release a savepoint",
        )
        .await
    }
}

#[async_trait]
impl RoutingTx for SqlRoutingTx {
    async fn lead_by_external_id(
        &mut self,
        external_id: &str,
    ) -> Result<Option<Lead>, StorageError> {
        self.scoped()
            .find::<leads::Entity>()
            .filter(leads::Column::ExternalId.eq(external_id))
            .one(&self.txn)
            .await
            .map_err(failed("find a lead by externalId"))?
            .as_ref()
            .map(lead_to_domain)
            .transpose()
    }

    async fn insert_lead(&mut self, lead: &Lead) -> Result<Inserted, StorageError> {
        let mut row = lead_to_active(lead);
        row.org_id = sea_orm::ActiveValue::Set(self.scoped().org_id().to_owned());
        match leads::Entity::insert(row)
            .exec_without_returning(&self.txn)
            .await
        {
            Ok(_) => Ok(Inserted::Yes),
            Err(err)
                if violates_unique(
                    &err,
                    "uq_leads_org_external_id",
                    "leads",
                    &["org_id", "external_id"],
                ) =>
            {
                Ok(Inserted::DuplicateExternalId)
            }
            Err(err) => Err(failed("insert a lead")(err)),
        }
    }

    async fn lock_lead(&mut self, id: &LeadId) -> Result<Option<Lead>, StorageError> {
        find_lead(&self.txn, self.scoped(), id.as_str(), self.write).await
    }

    async fn update_lead(&mut self, lead: &Lead) -> Result<(), StorageError> {
        update_lead(&self.txn, self.scoped(), lead).await
    }

    async fn lock_proposal(&mut self, id: &ProposalId) -> Result<Option<Proposal>, StorageError> {
        self.scoped()
            .one::<proposals::Entity>(&self.txn, id.as_str(), self.write)
            .await?
            .as_ref()
            .map(proposal_to_domain)
            .transpose()
    }

    async fn latest_proposal(&mut self, lead: &LeadId) -> Result<Option<Proposal>, StorageError> {
        latest_proposal(&self.txn, self.scoped(), lead.as_str()).await
    }

    async fn insert_proposal(&mut self, proposal: &Proposal) -> Result<(), StorageError> {
        let mut row = proposal_to_active(proposal);
        row.org_id = sea_orm::ActiveValue::Set(self.scoped().org_id().to_owned());
        proposals::Entity::insert(row)
            .exec_without_returning(&self.txn)
            .await
            .map_err(failed("insert a proposal"))?;
        Ok(())
    }

    async fn update_review(&mut self, p: &Proposal) -> Result<(), StorageError> {
        self.scoped()
            .update::<proposals::Entity>()
            .col_expr(proposals::Column::Status, Expr::value(p.status.as_str()))
            .col_expr(
                proposals::Column::DecidedBy,
                Expr::value(p.decided_by.clone()),
            )
            .col_expr(proposals::Column::DecidedAt, Expr::value(p.decided_at))
            .col_expr(proposals::Column::Note, Expr::value(p.note.clone()))
            .filter(proposals::Column::Id.eq(p.id.as_str()))
            .exec(&self.txn)
            .await
            .map_err(failed("write a review"))?;
        Ok(())
    }

    async fn agents_proposed(
        &mut self,
        lead: &LeadId,
        status: Option<ProposalStatus>,
    ) -> Result<HashSet<AgentId>, StorageError> {
        let mut query = self
            .scoped()
            .find::<proposals::Entity>()
            .select_only()
            .column(proposals::Column::AgentId)
            .filter(proposals::Column::LeadId.eq(lead.as_str()));
        if let Some(status) = status {
            query = query.filter(proposals::Column::Status.eq(status.as_str()));
        }
        query
            .into_tuple::<String>()
            .all(&self.txn)
            .await
            .map_err(failed("read the agents proposed for a lead"))?
            .iter()
            .map(|id| AgentId::parse(id).ok_or_else(|| corrupt(format!("proposal agent id {id}"))))
            .collect()
    }

    async fn leads_held_by(
        &mut self,
        agent: &AgentId,
        statuses: &[LeadStatus],
        limit: u64,
    ) -> Result<Vec<LeadId>, StorageError> {
        self.scoped()
            .find::<leads::Entity>()
            .select_only()
            .column(leads::Column::Id)
            .filter(leads::Column::AgentId.eq(agent.as_str()))
            .filter(leads::Column::Status.is_in(statuses.iter().map(|s| s.as_str())))
            .order_by_asc(leads::Column::CreatedAt)
            .order_by_asc(leads::Column::Id)
            .limit(limit)
            .into_tuple::<String>()
            .all(&self.txn)
            .await
            .map_err(failed("read the leads an agent holds"))?
            .iter()
            .map(|id| LeadId::parse(id).ok_or_else(|| corrupt(format!("lead id {id}"))))
            .collect()
    }

    async fn arm_timer(&mut self, timer: &Timer) -> Result<(), StorageError> {
        timers::Entity::insert(timer_to_active(self.scoped().org_id(), timer))
            .exec_without_returning(&self.txn)
            .await
            .map_err(failed("arm a timer"))?;
        Ok(())
    }

    async fn disarm_timers(&mut self, lead: &LeadId) -> Result<(), StorageError> {
        self.scoped()
            .delete::<timers::Entity>()
            .filter(timers::Column::LeadId.eq(lead.as_str()))
            .exec(&self.txn)
            .await
            .map_err(failed("disarm a lead's timers"))?;
        Ok(())
    }

    async fn timer(&mut self, id: &TimerId) -> Result<Option<Timer>, StorageError> {
        self.scoped()
            .one::<timers::Entity>(&self.txn, id.as_str(), false)
            .await?
            .as_ref()
            .map(timer_to_domain)
            .transpose()
    }

    async fn take_timer(&mut self, id: &TimerId) -> Result<bool, StorageError> {
        // Of two transactions deleting the row, the second waits for the
        // first and then deletes nothing.
        let done = self
            .scoped()
            .delete::<timers::Entity>()
            .filter(timers::Column::Id.eq(id.as_str()))
            .exec(&self.txn)
            .await
            .map_err(failed("take a timer"))?;
        Ok(done.rows_affected == 1)
    }

    async fn count_assignment(
        &mut self,
        agent: &AgentId,
        day: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let day = day_key(day);
        // One more on the day already counted, else 1: one expression, so
        // concurrent writers never lose an increment.
        let count = Expr::case(
            agents::Column::DailyCountDay.eq(day.as_str()),
            agents::Column::DailyCount.into_expr().add(1),
        )
        .finally(1);
        self.scoped()
            .update::<agents::Entity>()
            .col_expr(agents::Column::DailyCount, count.into())
            .col_expr(agents::Column::DailyCountDay, Expr::value(day))
            .col_expr(agents::Column::LastAssignedAt, Expr::value(now))
            .filter(agents::Column::Id.eq(agent.as_str()))
            .exec(&self.txn)
            .await
            .map_err(failed("count an assignment"))?;
        Ok(())
    }

    async fn uncount_assignment(
        &mut self,
        agent: &AgentId,
        day: NaiveDate,
    ) -> Result<(), StorageError> {
        self.scoped()
            .update::<agents::Entity>()
            .col_expr(
                agents::Column::DailyCount,
                agents::Column::DailyCount.into_expr().sub(1),
            )
            .filter(agents::Column::Id.eq(agent.as_str()))
            .filter(agents::Column::DailyCountDay.eq(day_key(day)))
            .filter(agents::Column::DailyCount.gt(0))
            .exec(&self.txn)
            .await
            .map_err(failed("take back an assignment"))?;
        Ok(())
    }

    async fn record_pool_turn(
        &mut self,
        pool: &PoolId,
        agent: &AgentId,
    ) -> Result<(), StorageError> {
        self.scoped()
            .update::<routing_pools::Entity>()
            .col_expr(
                routing_pools::Column::LastAgentId,
                Expr::value(agent.as_str()),
            )
            .filter(routing_pools::Column::Id.eq(pool.as_str()))
            .exec(&self.txn)
            .await
            .map_err(failed("move a pool's cursor"))?;
        self.scoped()
            .update::<pool_members::Entity>()
            .col_expr(
                pool_members::Column::Assignments,
                pool_members::Column::Assignments.into_expr().add(1),
            )
            .filter(pool_members::Column::PoolId.eq(pool.as_str()))
            .filter(pool_members::Column::AgentId.eq(agent.as_str()))
            .exec(&self.txn)
            .await
            .map_err(failed("count a pool turn"))?;
        Ok(())
    }

    async fn release_pool_turn(
        &mut self,
        pool: &PoolId,
        agent: &AgentId,
    ) -> Result<(), StorageError> {
        self.scoped()
            .update::<pool_members::Entity>()
            .col_expr(
                pool_members::Column::Assignments,
                pool_members::Column::Assignments.into_expr().sub(1),
            )
            .filter(pool_members::Column::PoolId.eq(pool.as_str()))
            .filter(pool_members::Column::AgentId.eq(agent.as_str()))
            .filter(pool_members::Column::Assignments.gt(0))
            .exec(&self.txn)
            .await
            .map_err(failed("give back a pool turn"))?;
        Ok(())
    }

    async fn append_event(&mut self, event: NewEvent) -> Result<(), StorageError> {
        let event = event.stamp(&self.scope);
        if self.webhooks.is_none() {
            self.webhooks = Some(crate::webhooks::active_webhooks(&self.txn, self.scoped()).await?);
        }
        let endpoints = self.webhooks.as_deref();
        crate::events::append(&self.txn, Scoped::new(&self.scope), &event, endpoints).await
    }

    async fn commit(self: Box<Self>) -> Result<(), StorageError> {
        self.txn.commit().await.map_err(failed("commit"))
    }

    async fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        self.txn.rollback().await.map_err(failed("roll back"))
    }
}
