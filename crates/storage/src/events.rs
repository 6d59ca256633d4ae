//! [`EventRepository`] on sea-orm, and the row mapping the routing
//! transaction uses to append events.

use ::events::{
    ActorKind, Event, EventActor, EventFilter, EventId, EventRepository, Subject, TypeFilter,
};
use async_trait::async_trait;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, sea_query::WithClause,
};
use serde_json::Value;
use tenancy::{OrgId, StorageError, TenantScope};

use crate::{
    Database,
    entity::events::{self as rows, Column, Entity},
    error::{corrupt, failed},
    scope::Scoped,
};

/// Events stored in the `events` table.
#[derive(Clone, Debug)]
pub struct SeaOrmEventRepository {
    db: Database,
}

impl SeaOrmEventRepository {
    /// A repository on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl EventRepository for SeaOrmEventRepository {
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &EventFilter,
        before: Option<&EventId>,
        limit: u64,
    ) -> Result<Vec<Event>, StorageError> {
        let mut query = Scoped::new(scope).find::<Entity>();
        match &filter.kind {
            Some(TypeFilter::Exact(t)) => query = query.filter(Column::Kind.eq(t.as_str())),
            Some(TypeFilter::Prefix(p)) => {
                query = query.filter(Column::Kind.starts_with(p.as_str()));
            }
            None => {}
        }
        if let Some(visible) = &filter.visible {
            let any = visible
                .iter()
                .fold(Condition::any(), |c, p| c.add(Column::Kind.starts_with(*p)));
            query = query.filter(any);
        }
        if let Some(subject) = &filter.subject_id {
            query = query.filter(Column::SubjectId.eq(subject.as_str()));
        }
        if let Some(actor) = &filter.actor_id {
            query = query.filter(
                Condition::any()
                    .add(Column::ActorId.eq(actor.as_str()))
                    .add(Column::ActorName.eq(actor.as_str())),
            );
        }
        if let Some(from) = filter.from {
            query = query.filter(Column::CreatedAt.gte(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(Column::CreatedAt.lt(to));
        }
        if let Some(before) = before {
            query = query.filter(Column::Id.lt(before.as_str()));
        }
        query
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(&self.db.reader(scope.org_id()).await?)
            .await
            .map_err(failed("events: list"))?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn of_lead(
        &self,
        scope: &TenantScope,
        lead_id: &str,
    ) -> Result<Vec<Event>, StorageError> {
        Scoped::new(scope)
            .find::<Entity>()
            .filter(Column::LeadId.eq(lead_id))
            .order_by_asc(Column::Id)
            .all(&self.db.reader(scope.org_id()).await?)
            .await
            .map_err(failed("events: of_lead"))?
            .into_iter()
            .map(to_domain)
            .collect()
    }
}

/// Appends `event` in the caller's transaction, with its webhook
/// deliveries: to `endpoints` when the caller read the organization's
/// active endpoints already (a transaction appending several events reads
/// them once), else to those read now.
pub(crate) async fn append(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    event: &Event,
    endpoints: Option<&[webhook::Webhook]>,
) -> Result<(), StorageError> {
    insert(conn, org, event).await?;
    match endpoints {
        Some(endpoints) => crate::webhooks::fan_out(conn, event, endpoints).await,
        None => {
            let endpoints = crate::webhooks::active_webhooks(conn, org).await?;
            crate::webhooks::fan_out(conn, event, &endpoints).await
        }
    }
}

/// Rows per multi-row insert, well under either engine's limit on bound
/// values (SQLite 32,766; PostgreSQL 65,535) for the tables written so.
pub(crate) const ROWS_PER_INSERT: usize = 500;

/// Appends `events` in the caller's transaction, in order, with their
/// deliveries to `endpoints`: one statement for the events and one for
/// all their deliveries (per [`ROWS_PER_INSERT`] rows). The first events'
/// statement carries `with`, other writes of the transaction as
/// data-modifying `WITH` parts (PostgreSQL only), so that they cost no
/// round trip of their own.
pub(crate) async fn append_all(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    events: &[Event],
    endpoints: &[webhook::Webhook],
    mut with: Option<WithClause>,
) -> Result<(), StorageError> {
    // Bounded statements: SQLite takes at most 32,766 bound values, and a
    // batch of 1,000 routed leads appends 3,000 events of 11 columns.
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let insert = Entity::insert_many(chunk.iter().map(|e| to_active(org, e))).into_query();
        let done = match with.take() {
            Some(with) => conn.execute(&insert.with(with)).await,
            None => conn.execute(&insert).await,
        };
        done.map_err(failed("events: append"))?;
    }
    crate::webhooks::fan_out_all(conn, events, endpoints).await
}

/// Writes the event row alone (a test ping's delivery is made by hand).
pub(crate) async fn insert(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
    event: &Event,
) -> Result<(), StorageError> {
    Entity::insert(to_active(org, event))
        .exec_without_returning(conn)
        .await
        .map_err(failed("events: append"))?;
    Ok(())
}

fn to_active(org: Scoped<'_>, event: &Event) -> rows::ActiveModel {
    rows::ActiveModel {
        id: Set(event.id.to_string()),
        org_id: Set(org.org_id().to_owned()),
        kind: Set(event.kind.clone()),
        created_at: Set(event.created_at),
        actor_type: Set(event.actor.kind.as_str().to_owned()),
        actor_id: Set(event.actor.id.clone()),
        actor_name: Set(event.actor.name.clone()),
        subject_type: Set(event.subject.kind.clone()),
        subject_id: Set(event.subject.id.clone()),
        lead_id: Set(event.lead_id.clone()),
        data: Set(Value::Object(event.data.clone())),
    }
}

pub(crate) fn to_domain(m: rows::Model) -> Result<Event, StorageError> {
    let bad = |field: &str| corrupt(format!("event {}: invalid {field}", m.id));
    Ok(Event {
        id: EventId::parse(&m.id).ok_or_else(|| bad("id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        created_at: m.created_at,
        actor: EventActor {
            kind: ActorKind::parse(&m.actor_type).map_err(|_| bad("actor_type"))?,
            id: m.actor_id,
            name: m.actor_name,
        },
        subject: Subject::of(&m.subject_type, m.subject_id),
        lead_id: m.lead_id,
        data: match m.data {
            Value::Object(map) => map,
            _ => return Err(bad("data")),
        },
        kind: m.kind,
    })
}

/// Appends the event of a configuration write ([`::events::record`]), in
/// the write's transaction, by the scope's principal; nothing when the
/// write changed nothing.
pub(crate) async fn record_change<T: ::events::Audited>(
    conn: &impl ConnectionTrait,
    scope: &TenantScope,
    action: ::events::Action,
    before: Option<&T>,
    after: Option<&T>,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StorageError> {
    match ::events::record(action, before, after, at) {
        Some(event) => append_new(conn, scope, event).await,
        None => Ok(()),
    }
}

/// Appends an event the caller made, in the caller's transaction.
pub(crate) async fn append_new(
    conn: &impl ConnectionTrait,
    scope: &TenantScope,
    event: ::events::NewEvent,
) -> Result<(), StorageError> {
    let event = event.stamp(scope);
    append(conn, Scoped::new(scope), &event, None).await
}
