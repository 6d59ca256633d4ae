//! The `proposals` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "proposals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub lead_id: String,
    pub agent_id: String,
    pub status: String,
    pub method: String,
    pub pool_id: Option<String>,
    pub rule_id: Option<String>,
    pub trace: Json,
    pub created_at: DateTimeUtc,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
