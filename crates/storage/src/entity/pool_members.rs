//! The `pool_members` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pool_members")]
pub struct Model {
    pub org_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub pool_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agent_id: String,
    pub position: i32,
    pub assignments: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
