//! The `agents` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub email: String,
    pub user_id: Option<String>,
    pub skills: Json,
    pub regions: Json,
    pub weight: i32,
    pub capacity: Option<i32>,
    pub daily_cap: Option<i32>,
    pub status: String,
    pub working_hours: Option<Json>,
    pub is_active: bool,
    pub daily_count: i32,
    pub daily_count_day: Option<String>,
    pub last_assigned_at: Option<DateTimeUtc>,
    /// Open leads held, kept by triggers on `leads` (migration 8).
    pub open_leads: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
