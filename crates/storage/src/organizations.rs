//! [`OrganizationRepository`] on sea-orm.

use ::events::Action;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use organization::{
    DisplayName, ExternalRef, OrgName, Organization, OrganizationError, OrganizationFilter,
    OrganizationPatch, OrganizationRepository, OrganizationStats, Phone, Settings, Tier,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tenancy::{Email, OrgId, Page, PageRequest, StorageError, TenantScope};

use crate::{
    Database,
    entity::{
        agents, leads,
        organizations::{self, Column, Entity},
        proposals, routing_pools, users,
    },
    error::{corrupt, failed, is_unique_violation, storage},
    events::{append_new, record_change},
    scope::Scoped,
    scope::fetch_page,
};

/// The pool and agent ids the settings name must be of the organization,
/// checked in the write's transaction (a lead would otherwise be silently
/// unrouted): `settings.defaultPoolId` a pool, `settings.fallbackAgentId`
/// an agent. Only ids the write changes are checked, so an organization
/// whose pool is gone can still change other fields.
async fn check_references(
    conn: &impl ConnectionTrait,
    before: &Organization,
    after: &Organization,
) -> Result<(), OrganizationError> {
    let org = Scoped::org(&after.id);
    let id_of = |o: &Organization, key: &str| {
        o.settings
            .as_map()
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let mut errors = tenancy::ValidationErrors::new();
    for (key, what) in [("defaultPoolId", "pool"), ("fallbackAgentId", "agent")] {
        let Some(id) = id_of(after, key) else {
            continue;
        };
        if id_of(before, key).as_deref() == Some(id.as_str()) {
            continue;
        }
        let found = if what == "pool" {
            org.find_id::<routing_pools::Entity>(&id).count(conn).await
        } else {
            org.find_id::<agents::Entity>(&id).count(conn).await
        }
        .map_err(failed("organizations: check_references"))?;
        if found == 0 {
            errors.push(tenancy::FieldError::new(
                format!("settings.{key}"),
                format!("is not a {what} of this organization"),
            ));
        }
    }
    errors.into_result(()).map_err(OrganizationError::Invalid)
}

/// Organizations stored in the `organizations` table.
#[derive(Clone, Debug)]
pub struct SeaOrmOrganizationRepository {
    db: Database,
}

impl SeaOrmOrganizationRepository {
    /// A repository on this database.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl OrganizationRepository for SeaOrmOrganizationRepository {
    async fn list(
        &self,
        filter: &OrganizationFilter,
        page: PageRequest,
    ) -> Result<Page<Organization>, StorageError> {
        let mut query = Entity::find();
        if let Some(active) = filter.is_active {
            query = query.filter(Column::IsActive.eq(active));
        }
        if let Some(tier) = filter.tier {
            query = query.filter(Column::Tier.eq(tier.as_str()));
        }
        if let Some(id) = &filter.id {
            query = query.filter(Column::Id.eq(id.as_str()));
        }
        let conn = self.db.connection();
        let (rows, paging) = fetch_page(
            conn,
            query
                .order_by_asc(Column::CreatedAt)
                .order_by_asc(Column::Id),
            page,
            "organizations: list",
        )
        .await?;
        Ok(paging.with(rows.into_iter().map(to_domain).collect::<Result<_, _>>()?))
    }

    async fn find(&self, id: &OrgId) -> Result<Option<Organization>, StorageError> {
        // `organizations` is the directory of tenants, not under row-level
        // security: every read of it names the organization.
        read_org(self.db.connection(), id, false).await
    }

    async fn insert(&self, by: &TenantScope, org: &Organization) -> Result<(), OrganizationError> {
        let txn = self
            .db
            .begin_write(&org.id)
            .await
            .map_err(failed("organizations: insert"))?;
        Entity::insert(to_active(org))
            .exec_without_returning(&txn)
            .await
            .map_err(|e| name_taken_or_storage(e, &org.name))?;
        // The event belongs to the new organization: `by` must be its scope.
        if by.org_id() == &org.id {
            record_change(&txn, by, Action::Created, None, Some(org), org.created_at).await?;
        }
        txn.commit()
            .await
            .map_err(failed("organizations: insert"))?;
        Ok(())
    }

    async fn update(
        &self,
        scope: &TenantScope,
        patch: OrganizationPatch,
        now: DateTime<Utc>,
    ) -> Result<Organization, OrganizationError> {
        let txn = self
            .db
            .begin_write(scope.org_id())
            .await
            .map_err(failed("organizations: update"))?;
        let mut org = read_org(&txn, scope.org_id(), true)
            .await?
            .ok_or(OrganizationError::NotFound)?;
        let before = org.clone();
        org.apply(patch, now)?;
        check_references(&txn, &before, &org).await?;
        Entity::update(to_active(&org))
            .exec(&txn)
            .await
            .map_err(|e| name_taken_or_storage(e, &org.name))?;
        record_change(&txn, scope, Action::Updated, Some(&before), Some(&org), now).await?;
        if let Some(event) = organization::settings_changed(&before, &org, now) {
            append_new(&txn, scope, event).await?;
        }
        txn.commit()
            .await
            .map_err(failed("organizations: update"))?;
        Ok(org)
    }

    async fn delete(&self, id: &OrgId) -> Result<bool, StorageError> {
        let result = Entity::delete_by_id(id.as_str())
            .exec(self.db.connection())
            .await
            .map_err(failed("organizations: delete"))?;
        Ok(result.rows_affected > 0)
    }

    async fn stats(&self, id: &OrgId) -> Result<OrganizationStats, StorageError> {
        let conn = &self.db.reader(id).await?;
        // The organization's own rows, in every tenant table.
        let org = Scoped::org(id);
        let total_users = org
            .find::<users::Entity>()
            .count(conn)
            .await
            .map_err(failed("organizations: stats"))?;
        // Active agents only: deactivated ones take no leads and do not
        // count against `maxAgents` either.
        let total_agents = org
            .find::<agents::Entity>()
            .filter(agents::Column::IsActive.eq(true))
            .count(conn)
            .await
            .map_err(failed("organizations: stats"))?;
        let total_leads = org
            .find::<leads::Entity>()
            .count(conn)
            .await
            .map_err(failed("organizations: stats"))?;
        let total_proposals = org
            .find::<proposals::Entity>()
            .count(conn)
            .await
            .map_err(failed("organizations: stats"))?;
        Ok(OrganizationStats {
            total_users,
            total_proposals,
            total_leads,
            total_agents,
        })
    }
}

async fn read_org(
    conn: &impl ConnectionTrait,
    id: &OrgId,
    for_update: bool,
) -> Result<Option<Organization>, StorageError> {
    let mut query = Entity::find_by_id(id.as_str());
    if for_update {
        // Ignored by SQLite, whose IMMEDIATE transaction already holds the write lock.
        query = query.lock_exclusive();
    }
    query
        .one(conn)
        .await
        .map_err(failed("organizations: read_org"))?
        .map(to_domain)
        .transpose()
}

fn name_taken_or_storage(err: sea_orm::DbErr, name: &OrgName) -> OrganizationError {
    if is_unique_violation(&err) {
        OrganizationError::NameTaken(name.to_string())
    } else {
        OrganizationError::Storage(storage(err))
    }
}

fn to_active(org: &Organization) -> organizations::ActiveModel {
    organizations::ActiveModel {
        id: Set(org.id.to_string()),
        name: Set(org.name.to_string()),
        display_name: Set(org.display_name.as_ref().map(ToString::to_string)),
        email: Set(org.email.as_ref().map(ToString::to_string)),
        phone: Set(org.phone.as_ref().map(ToString::to_string)),
        is_active: Set(org.is_active),
        tier: Set(org.tier.as_str().to_owned()),
        monday_workspace_id: Set(org.monday_workspace_id.as_ref().map(ToString::to_string)),
        stripe_customer_id: Set(org.stripe_customer_id.clone()),
        subscription_status: Set(org.subscription_status.clone()),
        trial_ends_at: Set(org.trial_ends_at),
        created_at: Set(org.created_at),
        updated_at: Set(org.updated_at),
        created_by: Set(org.created_by.clone()),
        settings: Set(org.settings.to_value()),
        config_version: sea_orm::ActiveValue::NotSet,
    }
}

fn to_domain(m: organizations::Model) -> Result<Organization, StorageError> {
    let bad = |field: &str| corrupt(format!("organization {}: invalid {field}", m.id));
    Ok(Organization {
        id: OrgId::parse(&m.id).ok_or_else(|| bad("id"))?,
        name: OrgName::parse(&m.name).map_err(|_| bad("name"))?,
        display_name: m
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(|_| bad("display_name"))?,
        email: m
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|_| bad("email"))?,
        phone: m
            .phone
            .as_deref()
            .map(Phone::parse)
            .transpose()
            .map_err(|_| bad("phone"))?,
        is_active: m.is_active,
        tier: m.tier.parse::<Tier>().map_err(|_| bad("tier"))?,
        monday_workspace_id: m
            .monday_workspace_id
            .as_deref()
            .map(ExternalRef::parse)
            .transpose()
            .map_err(|_| bad("monday_workspace_id"))?,
        stripe_customer_id: m.stripe_customer_id.clone(),
        subscription_status: m.subscription_status.clone(),
        trial_ends_at: m.trial_ends_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
        created_by: m.created_by.clone(),
        settings: Settings::parse(m.settings.clone()).map_err(|_| bad("settings"))?,
    })
}
