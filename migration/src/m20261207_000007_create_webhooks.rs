//! Webhooks: `webhooks` (an organization's endpoints), `webhook_deliveries`
//! (one row per event and endpoint, made in the event's transaction: the
//! outbox the sender drains) and `webhook_attempts` (every try, for the
//! deliveries list).
//!
//! Tenant tables like the others. `idx_webhook_deliveries_due` is the
//! sender's index across organizations (status, next attempt), like the
//! timers' one; `idx_webhook_deliveries_order` finds an earlier pending
//! delivery of the same endpoint and lead (in-order delivery).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_create_organizations::Organizations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    OrgId,
    Url,
    Events,
    Description,
    Format,
    Secret,
    IsActive,
    DisabledReason,
    FailingSince,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    OrgId,
    WebhookId,
    EventId,
    EventType,
    OrderingKey,
    Status,
    Attempts,
    NextAttemptAt,
    LastStatusCode,
    LastError,
    LastLatencyMs,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    OrgId,
    DeliveryId,
    Number,
    At,
    StatusCode,
    LatencyMs,
    Error,
}

fn org_fk(name: &str, table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(string_len(Webhooks::Id, 64).primary_key())
                    .col(string_len(Webhooks::OrgId, 64))
                    .col(string_len(Webhooks::Url, 2048))
                    .col(json_binary(Webhooks::Events))
                    .col(string_len_null(Webhooks::Description, 500))
                    .col(string_len(Webhooks::Format, 16).check(Check::named(
                        "ck_webhooks_format",
                        Expr::col(Webhooks::Format).is_in(["json", "slack"]),
                    )))
                    .col(string_len(Webhooks::Secret, 128))
                    .col(boolean(Webhooks::IsActive))
                    .col(string_len_null(Webhooks::DisabledReason, 500))
                    .col(timestamp_with_time_zone_null(Webhooks::FailingSince))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(timestamp_with_time_zone(Webhooks::UpdatedAt))
                    .foreign_key(&mut org_fk(
                        "fk_webhooks_org",
                        Webhooks::Table,
                        Webhooks::OrgId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_webhooks_org_id")
                    .table(Webhooks::Table)
                    .col(Webhooks::OrgId)
                    .col(Webhooks::Id)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(string_len(WebhookDeliveries::Id, 64).primary_key())
                    .col(string_len(WebhookDeliveries::OrgId, 64))
                    .col(string_len(WebhookDeliveries::WebhookId, 64))
                    .col(string_len(WebhookDeliveries::EventId, 64))
                    .col(string_len(WebhookDeliveries::EventType, 64))
                    .col(string_len(WebhookDeliveries::OrderingKey, 64))
                    .col(
                        string_len(WebhookDeliveries::Status, 16).check(Check::named(
                            "ck_webhook_deliveries_status",
                            Expr::col(WebhookDeliveries::Status).is_in([
                                "pending",
                                "delivered",
                                "failed",
                            ]),
                        )),
                    )
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::NextAttemptAt,
                    ))
                    .col(integer_null(WebhookDeliveries::LastStatusCode))
                    .col(string_len_null(WebhookDeliveries::LastError, 500))
                    .col(big_integer_null(WebhookDeliveries::LastLatencyMs))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::DeliveredAt,
                    ))
                    .foreign_key(&mut org_fk(
                        "fk_webhook_deliveries_org",
                        WebhookDeliveries::Table,
                        WebhookDeliveries::OrgId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_webhook")
                            .from(
                                WebhookDeliveries::Table,
                                (WebhookDeliveries::OrgId, WebhookDeliveries::WebhookId),
                            )
                            .to(Webhooks::Table, (Webhooks::OrgId, Webhooks::Id))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_webhook_deliveries_org_id")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::OrgId)
                    .col(WebhookDeliveries::Id)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for statement in [
            index(
                "idx_webhook_deliveries_due",
                WebhookDeliveries::Table,
                vec![
                    WebhookDeliveries::Status.into_iden(),
                    WebhookDeliveries::NextAttemptAt.into_iden(),
                ],
            ),
            index(
                "idx_webhook_deliveries_order",
                WebhookDeliveries::Table,
                vec![
                    WebhookDeliveries::WebhookId.into_iden(),
                    WebhookDeliveries::OrderingKey.into_iden(),
                    WebhookDeliveries::EventId.into_iden(),
                ],
            ),
            index(
                "idx_webhook_deliveries_org_webhook",
                WebhookDeliveries::Table,
                vec![
                    WebhookDeliveries::OrgId.into_iden(),
                    WebhookDeliveries::WebhookId.into_iden(),
                    WebhookDeliveries::Id.into_iden(),
                ],
            ),
        ] {
            manager.create_index(statement).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(string_len(WebhookAttempts::Id, 64).primary_key())
                    .col(string_len(WebhookAttempts::OrgId, 64))
                    .col(string_len(WebhookAttempts::DeliveryId, 64))
                    .col(integer(WebhookAttempts::Number))
                    .col(timestamp_with_time_zone(WebhookAttempts::At))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    .col(big_integer(WebhookAttempts::LatencyMs))
                    .col(string_len_null(WebhookAttempts::Error, 500))
                    .foreign_key(&mut org_fk(
                        "fk_webhook_attempts_org",
                        WebhookAttempts::Table,
                        WebhookAttempts::OrgId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_attempts_delivery")
                            .from(
                                WebhookAttempts::Table,
                                (WebhookAttempts::OrgId, WebhookAttempts::DeliveryId),
                            )
                            .to(
                                WebhookDeliveries::Table,
                                (WebhookDeliveries::OrgId, WebhookDeliveries::Id),
                            )
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_webhook_attempts_org_delivery",
                WebhookAttempts::Table,
                vec![
                    WebhookAttempts::OrgId.into_iden(),
                    WebhookAttempts::DeliveryId.into_iden(),
                    WebhookAttempts::Number.into_iden(),
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            Webhooks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
