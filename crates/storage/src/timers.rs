//! SLA timers on sea-orm: the rows the routing transaction arms and takes
//! ([`crate::SqlRoutingTx`]), and the scheduler's cross-tenant read of the
//! due ones ([`SeaOrmTimerQueue`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proposal::{DueTimer, ProposalId, Timer, TimerId, TimerKind, TimerQueue};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Statement,
};
use tenancy::{AgentId, OrgId, StorageError};

use crate::{
    Database, Engine,
    entity::timers::{self, Column, Entity},
    error::{corrupt, failed},
};

/// The due timers of every organization, for the scheduler.
#[derive(Clone, Debug)]
pub struct SeaOrmTimerQueue {
    db: Database,
}

impl SeaOrmTimerQueue {
    /// Timers on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl TimerQueue for SeaOrmTimerQueue {
    async fn due(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<DueTimer>, StorageError> {
        // The one read without an organization's filter: it returns ids
        // only, each fired in its organization's own transaction (on
        // PostgreSQL through the cross-tenant function `lr_due_timers`).
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let statement = match self.db.engine() {
            Engine::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT org_id, id FROM lr_due_timers($1, $2)",
                [now.into(), limit.into()],
            ),
            Engine::Sqlite => Entity::find()
                .select_only()
                .column(Column::OrgId)
                .column(Column::Id)
                .filter(Column::DueAt.lte(now))
                .order_by_asc(Column::DueAt)
                .order_by_asc(Column::Id)
                .limit(u64::try_from(limit).unwrap_or(u64::MAX))
                .build(DbBackend::Sqlite),
        };
        self.db
            .connection()
            .query_all_raw(statement)
            .await
            .map_err(failed("read the due timers"))?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<String>("", "org_id")?,
                    row.try_get::<String>("", "id")?,
                ))
            })
            .collect::<Result<Vec<_>, sea_orm::DbErr>>()
            .map_err(failed("read the due timers"))?
            .into_iter()
            .map(|(org, id)| {
                Ok(DueTimer {
                    org_id: OrgId::parse(&org)
                        .ok_or_else(|| corrupt(format!("timer {id}: invalid org_id")))?,
                    id: TimerId::parse(&id).ok_or_else(|| corrupt(format!("timer id {id}")))?,
                })
            })
            .collect()
    }
}

/// A row of a timer of organization `org`.
pub(crate) fn timer_to_active(org: &str, t: &Timer) -> timers::ActiveModel {
    timers::ActiveModel {
        id: Set(t.id.to_string()),
        org_id: Set(org.to_owned()),
        kind: Set(t.kind.as_str().to_owned()),
        lead_id: Set(t.lead_id.to_string()),
        proposal_id: Set(t.proposal_id.to_string()),
        agent_id: Set(t.agent_id.to_string()),
        due_at: Set(t.due_at),
    }
}

/// The timer a row holds.
pub(crate) fn timer_to_domain(m: &timers::Model) -> Result<Timer, StorageError> {
    let bad = |field: &str| corrupt(format!("timer {}: invalid {field}", m.id));
    Ok(Timer {
        id: TimerId::parse(&m.id).ok_or_else(|| bad("id"))?,
        kind: TimerKind::parse(&m.kind).map_err(|_| bad("kind"))?,
        lead_id: lead::LeadId::parse(&m.lead_id).ok_or_else(|| bad("lead_id"))?,
        proposal_id: ProposalId::parse(&m.proposal_id).ok_or_else(|| bad("proposal_id"))?,
        agent_id: AgentId::parse(&m.agent_id).ok_or_else(|| bad("agent_id"))?,
        due_at: m.due_at,
    })
}
