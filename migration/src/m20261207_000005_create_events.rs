//! The `events` table: the transactional outbox and audit trail. One
//! immutable row per state change, written in the change's transaction.
//!
//! A tenant table like the others (`org_id` → `organizations(id)` `ON DELETE
//! CASCADE`: hard-deleting an organization removes its events). The subject
//! and the lead are plain columns, not foreign keys: an event outlives what
//! it describes (a deleted pool's `pool.deleted` stays). Ids are UUIDv7 with
//! a prefix, so `ORDER BY id` is creation order: the audit's cursor.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_create_organizations::Organizations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    OrgId,
    Type,
    CreatedAt,
    ActorType,
    ActorId,
    ActorName,
    SubjectType,
    SubjectId,
    LeadId,
    Data,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(string_len(Events::Id, 64).primary_key())
                    .col(string_len(Events::OrgId, 64))
                    .col(string_len(Events::Type, 64))
                    .col(timestamp_with_time_zone(Events::CreatedAt))
                    .col(
                        string_len(Events::ActorType, 16).check(Check::named(
                            "ck_events_actor_type",
                            Expr::col(Events::ActorType)
                                .is_in(["user", "api_key", "system", "operator"]),
                        )),
                    )
                    .col(string_len_null(Events::ActorId, 64))
                    .col(string_len_null(Events::ActorName, 128))
                    .col(string_len(Events::SubjectType, 32))
                    .col(string_len(Events::SubjectId, 64))
                    .col(string_len_null(Events::LeadId, 64))
                    .col(json_binary(Events::Data))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_events_org")
                            .from(Events::Table, Events::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            // The audit trail, newest first, and its cursor.
            ("idx_events_org_id", vec![Events::OrgId, Events::Id]),
            // A lead's timeline.
            (
                "idx_events_org_lead",
                vec![Events::OrgId, Events::LeadId, Events::Id],
            ),
            // `subjectId=` filters.
            (
                "idx_events_org_subject",
                vec![Events::OrgId, Events::SubjectId, Events::Id],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Events::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await
    }
}
