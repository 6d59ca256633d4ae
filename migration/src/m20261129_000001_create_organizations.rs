//! The organizations table (the tenants) and the default organization.

use sea_orm_migration::{prelude::*, schema::*};

use crate::DEFAULT_ORG_ID;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub(crate) enum Organizations {
    Table,
    Id,
    Name,
    DisplayName,
    Email,
    Phone,
    IsActive,
    Tier,
    MondayWorkspaceId,
    StripeCustomerId,
    SubscriptionStatus,
    TrialEndsAt,
    CreatedAt,
    UpdatedAt,
    CreatedBy,
    Settings,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(string_len(Organizations::Id, 64).primary_key())
                    .col(string_len_uniq(Organizations::Name, 63))
                    .col(string_len_null(Organizations::DisplayName, 200))
                    .col(string_len_null(Organizations::Email, 254))
                    .col(string_len_null(Organizations::Phone, 32))
                    .col(boolean(Organizations::IsActive).default(true))
                    .col(
                        string_len(Organizations::Tier, 16)
                            .default("standard")
                            .check(Expr::col(Organizations::Tier).is_in([
                                "free",
                                "standard",
                                "enterprise",
                            ])),
                    )
                    .col(string_len_null(Organizations::MondayWorkspaceId, 128))
                    .col(string_len_null(Organizations::StripeCustomerId, 128))
                    .col(string_len_null(Organizations::SubscriptionStatus, 64))
                    .col(timestamp_with_time_zone_null(Organizations::TrialEndsAt))
                    .col(timestamp_with_time_zone(Organizations::CreatedAt))
                    .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                    .col(string_len_null(Organizations::CreatedBy, 128))
                    .col(json_binary(Organizations::Settings))
                    .to_owned(),
            )
            .await?;

        for (name, cols) in [
            (
                "idx_organizations_is_active",
                vec![
                    Organizations::IsActive,
                    Organizations::CreatedAt,
                    Organizations::Id,
                ],
            ),
            (
                "idx_organizations_created_at",
                vec![Organizations::CreatedAt, Organizations::Id],
            ),
            (
                "idx_organizations_monday_workspace_id",
                vec![Organizations::MondayWorkspaceId],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Organizations::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Organizations::Table)
                    .columns([
                        Organizations::Id,
                        Organizations::Name,
                        Organizations::DisplayName,
                        Organizations::IsActive,
                        Organizations::Tier,
                        Organizations::CreatedAt,
                        Organizations::UpdatedAt,
                        Organizations::Settings,
                    ])
                    .values_panic([
                        DEFAULT_ORG_ID.into(),
                        "default-org".into(),
                        "Default Organization".into(),
                        true.into(),
                        "standard".into(),
                        now.into(),
                        now.into(),
                        serde_json_object().into(),
                    ])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Organizations::Table).to_owned())
            .await
    }
}

fn serde_json_object() -> sea_orm::JsonValue {
    sea_orm::JsonValue::Object(Default::default())
}
