//! The tables of authentication: users, refresh sessions and API keys.
//!
//! All three are tenant tables (`org_id` → `organizations(id)` `ON DELETE
//! CASCADE`). Foreign keys are declared inside `CREATE TABLE` because SQLite
//! cannot add them with `ALTER TABLE`. Every index, foreign key and check is
//! named, so that PostgreSQL's error messages (which name the violated index)
//! can be told apart and later migrations can drop them by name. Primary keys
//! keep the engine's default name, and SQLite drops foreign-key names (sea-query
//! does not emit them there; SQLite never reports them anyway).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_create_organizations::Organizations;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The roles a user or key may hold, as stored. Frozen here: a new role is a
/// new migration that replaces the checks.
const ROLES: [&str; 4] = ["super_admin", "admin", "manager", "agent"];

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    OrgId,
    Username,
    Email,
    PasswordHash,
    Role,
    IsActive,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum RefreshSessions {
    Table,
    Id,
    OrgId,
    FamilyId,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    RotatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    OrgId,
    Name,
    Prefix,
    KeyHash,
    Role,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

/// `org_id` → `organizations(id)`, deleted with the organization.
fn org_fk(name: &str, table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Organizations::Table, Organizations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// A named index (unique or not) over `cols` of `table`.
fn index<T, C>(
    name: &str,
    table: T,
    cols: impl IntoIterator<Item = C>,
    unique: bool,
) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIndexColumn,
{
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    if unique {
        index.unique();
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string_len(Users::Id, 64).primary_key())
                    .col(string_len(Users::OrgId, 64))
                    .col(string_len(Users::Username, 64))
                    .col(string_len(Users::Email, 254))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(string_len(Users::Role, 16).check(Check::named(
                        "ck_users_role",
                        Expr::col(Users::Role).is_in(ROLES),
                    )))
                    .col(boolean(Users::IsActive).default(true))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .foreign_key(&mut org_fk("fk_users_org", Users::Table, Users::OrgId))
                    .to_owned(),
            )
            .await?;
        for statement in [
            // The target of the `(org_id, user_id)` foreign keys of tenant rows
            // that point at a user: the database refuses cross-tenant links.
            index(
                "uq_users_org_id",
                Users::Table,
                [Users::OrgId, Users::Id],
                true,
            ),
            index(
                "uq_users_org_username",
                Users::Table,
                [Users::OrgId, Users::Username],
                true,
            ),
            index(
                "uq_users_org_email",
                Users::Table,
                [Users::OrgId, Users::Email],
                true,
            ),
            index(
                "idx_users_org_role",
                Users::Table,
                [Users::OrgId, Users::Role],
                false,
            ),
            // The one index not led by org_id: a login names an e-mail and
            // (usually) no organization, so the organization is discovered
            // from the address, across tenants.
            index("idx_users_email", Users::Table, [Users::Email], false),
        ] {
            manager.create_index(statement).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(RefreshSessions::Table)
                    .col(string_len(RefreshSessions::Id, 64).primary_key())
                    .col(string_len(RefreshSessions::OrgId, 64))
                    .col(string_len(RefreshSessions::FamilyId, 64))
                    .col(string_len(RefreshSessions::UserId, 64))
                    .col(string_len(RefreshSessions::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshSessions::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshSessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshSessions::RotatedAt))
                    .col(timestamp_with_time_zone_null(RefreshSessions::RevokedAt))
                    .foreign_key(&mut org_fk(
                        "fk_refresh_sessions_org",
                        RefreshSessions::Table,
                        RefreshSessions::OrgId,
                    ))
                    // Through (org_id, id): a session can only belong to a
                    // user of its own organization.
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_sessions_user")
                            .from_tbl(RefreshSessions::Table)
                            .from_col(RefreshSessions::OrgId)
                            .from_col(RefreshSessions::UserId)
                            .to_tbl(Users::Table)
                            .to_col(Users::OrgId)
                            .to_col(Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for statement in [
            // Global, not per tenant: a refresh is looked up by the token's
            // hash alone, which is how its organization is discovered.
            index(
                "uq_refresh_sessions_token_hash",
                RefreshSessions::Table,
                [RefreshSessions::TokenHash],
                true,
            ),
            index(
                "idx_refresh_sessions_org_family",
                RefreshSessions::Table,
                [RefreshSessions::OrgId, RefreshSessions::FamilyId],
                false,
            ),
            // Also serves the cascade from a deleted user.
            index(
                "idx_refresh_sessions_org_user",
                RefreshSessions::Table,
                [RefreshSessions::OrgId, RefreshSessions::UserId],
                false,
            ),
        ] {
            manager.create_index(statement).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(string_len(ApiKeys::Id, 64).primary_key())
                    .col(string_len(ApiKeys::OrgId, 64))
                    .col(string_len(ApiKeys::Name, 100))
                    .col(string_len(ApiKeys::Prefix, 16))
                    .col(string_len(ApiKeys::KeyHash, 128))
                    .col(string_len(ApiKeys::Role, 16).check(Check::named(
                        "ck_api_keys_role",
                        Expr::col(ApiKeys::Role).is_in(ROLES),
                    )))
                    .col(string_len(ApiKeys::CreatedBy, 128))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(&mut org_fk(
                        "fk_api_keys_org",
                        ApiKeys::Table,
                        ApiKeys::OrgId,
                    ))
                    .to_owned(),
            )
            .await?;
        for statement in [
            // Global, not per tenant: a request's key is looked up by its
            // prefix alone, which is how its organization is discovered.
            index(
                "uq_api_keys_prefix",
                ApiKeys::Table,
                [ApiKeys::Prefix],
                true,
            ),
            index(
                "uq_api_keys_org_id",
                ApiKeys::Table,
                [ApiKeys::OrgId, ApiKeys::Id],
                true,
            ),
            // The list order: oldest first, ties by id.
            index(
                "idx_api_keys_org_created",
                ApiKeys::Table,
                [ApiKeys::OrgId, ApiKeys::CreatedAt, ApiKeys::Id],
                false,
            ),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children first; their indexes go with them.
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RefreshSessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}
