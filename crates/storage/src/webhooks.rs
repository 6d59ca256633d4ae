//! Webhooks on sea-orm: the endpoints ([`SeaOrmWebhookRepository`]), the
//! deliveries made beside every event ([`fan_out`], called by the event
//! append of every transaction), and the sender's queue
//! ([`SeaOrmDeliveryQueue`]): leases taken with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, in an `IMMEDIATE` transaction on SQLite.

use ::events::{Event, EventId, NewEvent};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Statement, sea_query::Expr,
};
use serde_json::Value;
use tenancy::{OrgId, Page, PageRequest, StorageError, TenantScope};
use webhook::{
    Attempt, Delivery, DeliveryId, DeliveryStatus, EventPattern, Verdict, Webhook, WebhookFormat,
    WebhookId, WebhookSecret,
    ports::{Claimed, DeliveryQueue, DeliveryView, WebhookRepository},
};

use crate::{
    Database, Engine,
    entity::{events as event_rows, webhook_attempts, webhook_deliveries, webhooks},
    error::{corrupt, failed},
    scope::{Scoped, fetch_page},
};

fn to_active(org: &str, w: &Webhook) -> webhooks::ActiveModel {
    webhooks::ActiveModel {
        id: Set(w.id.to_string()),
        org_id: Set(org.to_owned()),
        url: Set(w.url.clone()),
        events: Set(Value::from(
            w.events
                .iter()
                .map(|p| Value::from(p.as_str()))
                .collect::<Vec<_>>(),
        )),
        description: Set(w.description.clone()),
        format: Set(w.format.as_str().to_owned()),
        secret: Set(w.secret.expose().to_owned()),
        is_active: Set(w.is_active),
        disabled_reason: Set(w.disabled_reason.clone()),
        failing_since: Set(w.failing_since),
        created_at: Set(w.created_at),
        updated_at: Set(w.updated_at),
    }
}

fn to_domain(m: webhooks::Model) -> Result<Webhook, StorageError> {
    let bad = |field: &str| corrupt(format!("webhook {}: invalid {field}", m.id));
    let events = m
        .events
        .as_array()
        .ok_or_else(|| bad("events"))?
        .iter()
        .map(|p| {
            p.as_str()
                .and_then(|p| EventPattern::parse(p).ok())
                .ok_or_else(|| bad("events"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Webhook {
        id: WebhookId::parse(&m.id).ok_or_else(|| bad("id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        url: m.url,
        events,
        description: m.description,
        format: WebhookFormat::parse(&m.format).map_err(|_| bad("format"))?,
        is_active: m.is_active,
        secret: WebhookSecret::from_stored(m.secret),
        disabled_reason: m.disabled_reason,
        failing_since: m.failing_since,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn delivery_to_active(d: &Delivery) -> webhook_deliveries::ActiveModel {
    webhook_deliveries::ActiveModel {
        id: Set(d.id.to_string()),
        org_id: Set(d.org_id.to_string()),
        webhook_id: Set(d.webhook_id.to_string()),
        event_id: Set(d.event_id.to_string()),
        event_type: Set(d.event_type.clone()),
        ordering_key: Set(d.ordering_key.clone()),
        status: Set(d.status.as_str().to_owned()),
        attempts: Set(i32::try_from(d.attempts).unwrap_or(i32::MAX)),
        next_attempt_at: Set(d.next_attempt_at),
        last_status_code: Set(d.last_status_code.map(i32::from)),
        last_error: Set(d.last_error.clone()),
        last_latency_ms: Set(d
            .last_latency_ms
            .map(|l| i64::try_from(l).unwrap_or(i64::MAX))),
        created_at: Set(d.created_at),
        delivered_at: Set(d.delivered_at),
    }
}

fn delivery_to_domain(m: webhook_deliveries::Model) -> Result<Delivery, StorageError> {
    let bad = |field: &str| corrupt(format!("delivery {}: invalid {field}", m.id));
    Ok(Delivery {
        id: DeliveryId::parse(&m.id).ok_or_else(|| bad("id"))?,
        org_id: OrgId::parse(&m.org_id).ok_or_else(|| bad("org_id"))?,
        webhook_id: WebhookId::parse(&m.webhook_id).ok_or_else(|| bad("webhook_id"))?,
        event_id: EventId::parse(&m.event_id).ok_or_else(|| bad("event_id"))?,
        event_type: m.event_type,
        ordering_key: m.ordering_key,
        status: DeliveryStatus::parse(&m.status).map_err(|_| bad("status"))?,
        attempts: u32::try_from(m.attempts).unwrap_or(0),
        next_attempt_at: m.next_attempt_at,
        last_status_code: m.last_status_code.and_then(|c| u16::try_from(c).ok()),
        last_error: m.last_error,
        last_latency_ms: m.last_latency_ms.and_then(|l| u64::try_from(l).ok()),
        created_at: m.created_at,
        delivered_at: m.delivered_at,
    })
}

fn attempt_to_domain(m: webhook_attempts::Model) -> Result<Attempt, StorageError> {
    Ok(Attempt {
        delivery_id: DeliveryId::parse(&m.delivery_id)
            .ok_or_else(|| corrupt(format!("attempt {}: invalid delivery_id", m.id)))?,
        number: u32::try_from(m.number).unwrap_or(0),
        at: m.at,
        status_code: m.status_code.and_then(|c| u16::try_from(c).ok()),
        latency_ms: u64::try_from(m.latency_ms).unwrap_or(0),
        error: m.error,
    })
}

/// The organization's active endpoints (what an event may fan out to).
pub(crate) async fn active_webhooks(
    conn: &impl ConnectionTrait,
    org: Scoped<'_>,
) -> Result<Vec<Webhook>, StorageError> {
    org.find::<webhooks::Entity>()
        .filter(webhooks::Column::IsActive.eq(true))
        .all(conn)
        .await
        .map_err(failed("webhooks: active"))?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// The deliveries of `event` to each of `endpoints` that wants it, in the
/// caller's transaction (the event's own).
pub(crate) async fn fan_out(
    conn: &impl ConnectionTrait,
    event: &Event,
    endpoints: &[Webhook],
) -> Result<(), StorageError> {
    fan_out_all(conn, std::slice::from_ref(event), endpoints).await
}

/// The deliveries of every one of `events` (per
/// [`crate::events::ROWS_PER_INSERT`] rows a statement).
pub(crate) async fn fan_out_all(
    conn: &impl ConnectionTrait,
    events: &[Event],
    endpoints: &[Webhook],
) -> Result<(), StorageError> {
    let rows: Vec<_> = events
        .iter()
        .flat_map(|event| {
            endpoints
                .iter()
                .filter(|w| w.wants(&event.kind))
                .map(|w| delivery_to_active(&Delivery::of(event, &w.id)))
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(crate::events::ROWS_PER_INSERT).collect();
        webhook_deliveries::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await
            .map_err(failed("webhooks: fan out"))?;
    }
    Ok(())
}

/// Endpoints and their deliveries.
#[derive(Clone, Debug)]
pub struct SeaOrmWebhookRepository {
    db: Database,
}

impl SeaOrmWebhookRepository {
    /// A repository on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl WebhookRepository for SeaOrmWebhookRepository {
    async fn insert(&self, scope: &TenantScope, webhook: &Webhook) -> Result<(), StorageError> {
        let conn = self.db.writer(scope.org_id()).await?;
        webhooks::Entity::insert(to_active(Scoped::new(scope).org_id(), webhook))
            .exec_without_returning(&conn)
            .await
            .map_err(failed("webhooks: insert"))?;
        conn.done().await
    }

    async fn find(
        &self,
        scope: &TenantScope,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StorageError> {
        Scoped::new(scope)
            .find_id::<webhooks::Entity>(id.as_str())
            .one(&self.db.reader(scope.org_id()).await?)
            .await
            .map_err(failed("webhooks: find"))?
            .map(to_domain)
            .transpose()
    }

    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<Webhook>, StorageError> {
        let query = Scoped::new(scope)
            .find::<webhooks::Entity>()
            .order_by_asc(webhooks::Column::CreatedAt)
            .order_by_asc(webhooks::Column::Id);
        let (rows, paging) = fetch_page(
            &self.db.reader(scope.org_id()).await?,
            query,
            page,
            "webhooks: list",
        )
        .await?;
        Ok(paging.with(rows.into_iter().map(to_domain).collect::<Result<_, _>>()?))
    }

    async fn update(&self, scope: &TenantScope, w: &Webhook) -> Result<bool, StorageError> {
        let org = Scoped::new(scope);
        let row = to_active(org.org_id(), w);
        let conn = self.db.writer(scope.org_id()).await?;
        let done = org
            .update::<webhooks::Entity>()
            .set(webhooks::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                org_id: sea_orm::ActiveValue::NotSet,
                created_at: sea_orm::ActiveValue::NotSet,
                ..row
            })
            .filter(webhooks::Column::Id.eq(w.id.as_str()))
            .exec(&conn)
            .await
            .map_err(failed("webhooks: update"))?;
        conn.done().await?;
        Ok(done.rows_affected == 1)
    }

    async fn delete(&self, scope: &TenantScope, id: &WebhookId) -> Result<bool, StorageError> {
        // Deliveries and attempts go with it (foreign keys, ON DELETE CASCADE).
        let conn = self.db.writer(scope.org_id()).await?;
        let done = Scoped::new(scope)
            .delete::<webhooks::Entity>()
            .filter(webhooks::Column::Id.eq(id.as_str()))
            .exec(&conn)
            .await
            .map_err(failed("webhooks: delete"))?;
        conn.done().await?;
        Ok(done.rows_affected == 1)
    }

    async fn deliveries(
        &self,
        scope: &TenantScope,
        id: &WebhookId,
        page: PageRequest,
    ) -> Result<Page<DeliveryView>, StorageError> {
        let org = Scoped::new(scope);
        let query = org
            .find::<webhook_deliveries::Entity>()
            .filter(webhook_deliveries::Column::WebhookId.eq(id.as_str()))
            .order_by_desc(webhook_deliveries::Column::Id);
        let conn = &self.db.reader(scope.org_id()).await?;
        let (rows, paging) = fetch_page(conn, query, page, "webhooks: deliveries").await?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut attempts = org
            .find::<webhook_attempts::Entity>()
            .filter(webhook_attempts::Column::DeliveryId.is_in(ids))
            .order_by_desc(webhook_attempts::Column::Number)
            .all(conn)
            .await
            .map_err(failed("webhooks: attempts"))?;
        let mut views = Vec::with_capacity(rows.len());
        for row in rows {
            let delivery = delivery_to_domain(row)?;
            let (mine, rest): (Vec<_>, Vec<_>) = attempts
                .into_iter()
                .partition(|a| a.delivery_id == delivery.id.as_str());
            attempts = rest;
            views.push(DeliveryView {
                delivery,
                attempts: mine
                    .into_iter()
                    .map(attempt_to_domain)
                    .collect::<Result<_, _>>()?,
            });
        }
        Ok(paging.with(views))
    }

    async fn enqueue_test(
        &self,
        scope: &TenantScope,
        id: &WebhookId,
        event: NewEvent,
    ) -> Result<Delivery, StorageError> {
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("webhooks: begin a test"))?;
        let event = event.stamp(scope);
        crate::events::insert(&txn, Scoped::new(scope), &event).await?;
        let delivery = Delivery::of(&event, id);
        webhook_deliveries::Entity::insert(delivery_to_active(&delivery))
            .exec_without_returning(&txn)
            .await
            .map_err(failed("webhooks: enqueue a test"))?;
        txn.commit()
            .await
            .map_err(failed("webhooks: commit a test"))?;
        Ok(delivery)
    }
}

/// Every organization's deliveries, for the sender.
#[derive(Clone, Debug)]
pub struct SeaOrmDeliveryQueue {
    db: Database,
}

impl SeaOrmDeliveryQueue {
    /// The queue on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Due deliveries: pending, due, of an active endpoint (or a test ping),
/// and the earliest pending one of their endpoint and ordering key. On
/// PostgreSQL the same query is the migration's `lr_lease_due_deliveries`.
const DUE: &str = "SELECT d.org_id, d.id FROM webhook_deliveries d \
     JOIN webhooks w ON w.org_id = d.org_id AND w.id = d.webhook_id \
     WHERE d.status = 'pending' AND d.next_attempt_at <= {now} \
       AND (w.is_active OR d.event_type = 'webhook.test') \
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
         WHERE e.webhook_id = d.webhook_id AND e.ordering_key = d.ordering_key \
           AND e.status = 'pending' AND e.event_id < d.event_id) \
     ORDER BY d.next_attempt_at, d.id LIMIT {limit}";

impl SeaOrmDeliveryQueue {
    /// Leases the due deliveries of every organization until
    /// `lease_until`: `(org_id, id)` of each, by id. The one cross-tenant
    /// write: on PostgreSQL the function `lr_lease_due_deliveries` (rows
    /// another sender holds are skipped, not waited for), on SQLite one
    /// write transaction.
    async fn lease_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let read = |rows: Vec<sea_orm::QueryResult>| {
            rows.iter()
                .map(|row| {
                    Ok((
                        row.try_get::<String>("", "org_id")?,
                        row.try_get::<String>("", "id")?,
                    ))
                })
                .collect::<Result<Vec<_>, sea_orm::DbErr>>()
                .map_err(failed("deliveries: read due ids"))
        };
        let mut leased = match self.db.engine() {
            Engine::Postgres => read(
                self.db
                    .connection()
                    .query_all_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT org_id, id FROM lr_lease_due_deliveries($1, $2, $3)",
                        [now.into(), lease_until.into(), limit.into()],
                    ))
                    .await
                    .map_err(failed("deliveries: lease"))?,
            )?,
            Engine::Sqlite => {
                let txn = self
                    .db
                    .begin_write_unscoped()
                    .await
                    .map_err(failed("deliveries: begin a claim"))?;
                let due = read(
                    txn.query_all_raw(Statement::from_sql_and_values(
                        DbBackend::Sqlite,
                        DUE.replace("{now}", "?").replace("{limit}", "?"),
                        [now.into(), limit.into()],
                    ))
                    .await
                    .map_err(failed("deliveries: find due"))?,
                )?;
                if !due.is_empty() {
                    webhook_deliveries::Entity::update_many()
                        .col_expr(
                            webhook_deliveries::Column::NextAttemptAt,
                            Expr::value(lease_until),
                        )
                        .filter(
                            webhook_deliveries::Column::Id
                                .is_in(due.iter().map(|(_, id)| id.clone())),
                        )
                        .exec(&txn)
                        .await
                        .map_err(failed("deliveries: lease"))?;
                }
                txn.commit()
                    .await
                    .map_err(failed("deliveries: commit a claim"))?;
                due
            }
        };
        leased.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(leased)
    }
}

#[async_trait]
impl DeliveryQueue for SeaOrmDeliveryQueue {
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Claimed>, StorageError> {
        let leased = self.lease_due(now, lease_until, limit).await?;
        // Each leased delivery is read in its organization's own scope.
        let mut claimed = Vec::with_capacity(leased.len());
        for (org_id, id) in leased {
            let org_id = OrgId::parse(&org_id).ok_or_else(|| corrupt("delivery org_id"))?;
            let scope = TenantScope::system(org_id);
            let org = Scoped::new(&scope);
            let conn = self.db.reader(scope.org_id()).await?;
            let Some(row) = org
                .find_id::<webhook_deliveries::Entity>(&id)
                .one(&conn)
                .await
                .map_err(failed("deliveries: read leased"))?
            else {
                continue;
            };
            let webhook = org
                .find_id::<webhooks::Entity>(&row.webhook_id)
                .one(&conn)
                .await
                .map_err(failed("deliveries: read endpoint"))?;
            let event = org
                .find_id::<event_rows::Entity>(&row.event_id)
                .one(&conn)
                .await
                .map_err(failed("deliveries: read event"))?;
            if let (Some(webhook), Some(event)) = (webhook, event) {
                claimed.push(Claimed {
                    delivery: delivery_to_domain(row)?,
                    webhook: to_domain(webhook)?,
                    event: crate::events::to_domain(event)?,
                });
            }
        }
        Ok(claimed)
    }

    async fn record(
        &self,
        claimed: &Claimed,
        attempt: &Attempt,
        verdict: &Verdict,
    ) -> Result<(), StorageError> {
        let scope = TenantScope::system(claimed.delivery.org_id.clone());
        let org = Scoped::new(&scope);
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("deliveries: begin a record"))?;
        webhook_attempts::Entity::insert(webhook_attempts::ActiveModel {
            id: Set(tenancy::new_id("att")),
            org_id: Set(org.org_id().to_owned()),
            delivery_id: Set(attempt.delivery_id.to_string()),
            number: Set(i32::try_from(attempt.number).unwrap_or(i32::MAX)),
            at: Set(attempt.at),
            status_code: Set(attempt.status_code.map(i32::from)),
            latency_ms: Set(i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX)),
            error: Set(attempt.error.clone()),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(failed("deliveries: record an attempt"))?;
        let delivered = verdict.status == DeliveryStatus::Delivered;
        org.update::<webhook_deliveries::Entity>()
            .col_expr(
                webhook_deliveries::Column::Status,
                Expr::value(verdict.status.as_str()),
            )
            .col_expr(
                webhook_deliveries::Column::Attempts,
                Expr::value(i32::try_from(attempt.number).unwrap_or(i32::MAX)),
            )
            .col_expr(
                webhook_deliveries::Column::NextAttemptAt,
                Expr::value(verdict.next_attempt_at),
            )
            .col_expr(
                webhook_deliveries::Column::LastStatusCode,
                Expr::value(attempt.status_code.map(i32::from)),
            )
            .col_expr(
                webhook_deliveries::Column::LastError,
                Expr::value(attempt.error.clone()),
            )
            .col_expr(
                webhook_deliveries::Column::LastLatencyMs,
                Expr::value(i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX)),
            )
            .col_expr(
                webhook_deliveries::Column::DeliveredAt,
                Expr::value(delivered.then_some(attempt.at)),
            )
            .filter(webhook_deliveries::Column::Id.eq(claimed.delivery.id.as_str()))
            .exec(&txn)
            .await
            .map_err(failed("deliveries: record a verdict"))?;
        let mut endpoint = org
            .update::<webhooks::Entity>()
            .col_expr(
                webhooks::Column::FailingSince,
                Expr::value(verdict.failing_since),
            )
            .filter(webhooks::Column::Id.eq(claimed.webhook.id.as_str()));
        if let Some(reason) = &verdict.disable {
            endpoint = endpoint
                .col_expr(webhooks::Column::IsActive, Expr::value(false))
                .col_expr(
                    webhooks::Column::DisabledReason,
                    Expr::value(reason.clone()),
                )
                .filter(webhooks::Column::IsActive.eq(true));
        }
        let turned_off = endpoint
            .exec(&txn)
            .await
            .map_err(failed("deliveries: record an endpoint's health"))?
            .rows_affected
            == 1;
        if let Some(reason) = verdict.disable.as_ref().filter(|_| turned_off) {
            let event = NewEvent::new(
                ::events::types::WEBHOOK_DISABLED,
                ::events::Subject::of("webhook", claimed.webhook.id.to_string()),
                attempt.at,
            )
            .with("reason", reason.clone())
            .with("url", claimed.webhook.url.clone())
            .stamp(&scope);
            crate::events::append(&txn, org, &event, None).await?;
        }
        txn.commit()
            .await
            .map_err(failed("deliveries: commit a record"))
    }
}
