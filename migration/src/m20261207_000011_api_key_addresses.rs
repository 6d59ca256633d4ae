//! The addresses an API key was used from (`api_keys.known_addresses`): a
//! JSON array of the last 16 client addresses, most recent last. A request
//! from an address not in it records `api_key.used_from_new_address` in the
//! audit trail, so a key used from somewhere new (a leaked key) is seen.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE api_keys ADD COLUMN known_addresses TEXT")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE api_keys DROP COLUMN known_addresses")
            .await?;
        Ok(())
    }
}
