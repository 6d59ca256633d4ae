//! The organization aggregate and the commands that create and change it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use tenancy::{Email, OrgId};

use crate::{DisplayName, ExternalRef, OrgName, OrganizationError, Phone, Settings, Tier};

/// A tenant: every other row of the system belongs to exactly one.
#[derive(Clone, Debug, PartialEq)]
pub struct Organization {
    /// Primary key.
    pub id: OrgId,
    /// Unique slug.
    pub name: OrgName,
    /// Human-readable name.
    pub display_name: Option<DisplayName>,
    /// Contact address.
    pub email: Option<Email>,
    /// Contact number.
    pub phone: Option<Phone>,
    /// Inactive organizations keep their data but nobody of theirs can sign in.
    pub is_active: bool,
    /// Commercial tier.
    pub tier: Tier,
    /// The Monday.com workspace this organization syncs with.
    pub monday_workspace_id: Option<ExternalRef>,
    /// Billing: the Stripe customer (set by billing, read-only in the API).
    pub stripe_customer_id: Option<String>,
    /// Billing: the subscription status (set by billing, read-only in the API).
    pub subscription_status: Option<String>,
    /// Billing: when the trial ends (set by billing, read-only in the API).
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Who created it (`user:<id>`, `api_key:<id>`, `dev_key`), if known.
    pub created_by: Option<String>,
    /// Typed, extensible settings.
    pub settings: Settings,
}

/// Everything needed to create an organization, already validated.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOrganization {
    /// Unique slug.
    pub name: OrgName,
    /// Human-readable name.
    pub display_name: Option<DisplayName>,
    /// Contact address.
    pub email: Option<Email>,
    /// Contact number.
    pub phone: Option<Phone>,
    /// Commercial tier (default standard).
    pub tier: Tier,
    /// Monday.com workspace.
    pub monday_workspace_id: Option<ExternalRef>,
    /// Initial settings.
    pub settings: Settings,
}

impl NewOrganization {
    /// The organization this command creates, with a fresh id.
    pub fn into_organization(self, created_by: String, now: DateTime<Utc>) -> Organization {
        Organization {
            id: OrgId::generate(),
            name: self.name,
            display_name: self.display_name,
            email: self.email,
            phone: self.phone,
            is_active: true,
            tier: self.tier,
            monday_workspace_id: self.monday_workspace_id,
            stripe_customer_id: None,
            subscription_status: None,
            trial_ends_at: None,
            created_at: now,
            updated_at: now,
            created_by: Some(created_by),
            settings: self.settings,
        }
    }
}

/// A partial update. `None` leaves a field as it is; for optional fields
/// `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrganizationPatch {
    /// New slug.
    pub name: Option<OrgName>,
    /// New or cleared display name.
    pub display_name: Option<Option<DisplayName>>,
    /// New or cleared contact address.
    pub email: Option<Option<Email>>,
    /// New or cleared contact number.
    pub phone: Option<Option<Phone>>,
    /// New tier (super admins only).
    pub tier: Option<Tier>,
    /// Activate or deactivate (super admins only).
    pub is_active: Option<bool>,
    /// New or cleared Monday.com workspace.
    pub monday_workspace_id: Option<Option<ExternalRef>>,
    /// A JSON merge patch (RFC 7396) for the settings.
    pub settings: Option<Map<String, Value>>,
}

impl OrganizationPatch {
    /// A patch that only sets `isActive`.
    pub fn active(is_active: bool) -> Self {
        Self {
            is_active: Some(is_active),
            ..Self::default()
        }
    }

    /// Whether the patch touches what only a super admin may change.
    pub fn touches_platform_fields(&self) -> bool {
        self.tier.is_some() || self.is_active.is_some()
    }
}

impl Organization {
    /// Applies a patch. Storage adapters call this inside the transaction that
    /// read the row, so concurrent updates never lose each other's changes.
    ///
    /// # Errors
    /// [`OrganizationError::DefaultOrganizationProtected`] when it would
    /// deactivate the default organization; [`OrganizationError::Invalid`] when
    /// the merged settings are invalid. `self` is unchanged on error.
    pub fn apply(
        &mut self,
        patch: OrganizationPatch,
        now: DateTime<Utc>,
    ) -> Result<(), OrganizationError> {
        if patch.is_active == Some(false) && self.id.is_default() {
            return Err(OrganizationError::DefaultOrganizationProtected);
        }
        let settings = match patch.settings {
            Some(merge) => Some(
                self.settings
                    .merged(merge)
                    .map_err(OrganizationError::Invalid)?,
            ),
            None => None,
        };
        if let Some(v) = patch.name {
            self.name = v;
        }
        if let Some(v) = patch.display_name {
            self.display_name = v;
        }
        if let Some(v) = patch.email {
            self.email = v;
        }
        if let Some(v) = patch.phone {
            self.phone = v;
        }
        if let Some(v) = patch.tier {
            self.tier = v;
        }
        if let Some(v) = patch.is_active {
            self.is_active = v;
        }
        if let Some(v) = patch.monday_workspace_id {
            self.monday_workspace_id = v;
        }
        if let Some(v) = settings {
            self.settings = v;
        }
        self.updated_at = now;
        Ok(())
    }
}

/// Which organizations a list returns. Every set field must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrganizationFilter {
    /// Only active (or only inactive) organizations.
    pub is_active: Option<bool>,
    /// Only this tier.
    pub tier: Option<Tier>,
    /// Only this organization (how non-super-admins see the list).
    pub id: Option<OrgId>,
}

/// Row counts of one organization's data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrganizationStats {
    /// Users of the organization.
    pub total_users: u64,
    /// Routing proposals made in it.
    pub total_proposals: u64,
    /// Leads it received.
    pub total_leads: u64,
    /// Its agents.
    pub total_agents: u64,
}

impl events::Audited for Organization {
    const SUBJECT: &'static str = "organization";

    fn audit_id(&self) -> String {
        self.id.to_string()
    }

    /// Its fields but `settings`, whose changes are `settings.changed`.
    fn audit_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let value = serde_json::json!({
            "name": self.name.as_str(),
            "displayName": self.display_name.as_ref().map(|v| v.as_str().to_owned()),
            "email": self.email.as_ref().map(ToString::to_string),
            "phone": self.phone.as_ref().map(|v| v.as_str().to_owned()),
            "isActive": self.is_active,
            "tier": self.tier.as_str(),
            "mondayWorkspaceId": self.monday_workspace_id.as_ref().map(|v| v.as_str().to_owned()),
        });
        match value {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        }
    }
}

/// The `settings.changed` event of a write, when the settings changed:
/// `data.changes` per top-level key.
pub fn settings_changed(
    before: &Organization,
    after: &Organization,
    at: DateTime<Utc>,
) -> Option<events::NewEvent> {
    let changes = events::changes(before.settings.as_map(), after.settings.as_map());
    (!changes.is_empty()).then(|| {
        events::NewEvent::new(
            events::types::SETTINGS_CHANGED,
            events::Subject::of("organization", after.id.to_string()),
            at,
        )
        .with("changes", changes)
    })
}
