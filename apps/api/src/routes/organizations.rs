//! `/organizations`: the tenants (seed section 6).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use organization::{
    DisplayName, ExternalRef, NewOrganization, OrgName, Organization, OrganizationFilter,
    OrganizationPatch, OrganizationStats, Phone, Settings, Tier,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tenancy::{Email, OrgId, PageRequest, ValidationErrors};
use utoipa::{IntoParams, ToSchema};

use crate::{
    envelope::{self, DataEnvelope, ListEnvelope, MessageEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, JsonBody, QueryParams},
    startup::AppState,
};

/// An organization as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::organizations_organization_dto)]
pub struct OrganizationDto {
    /// Opaque id (`org_...`; the default organization is `org_default_001`).
    #[schema(example = "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b")]
    pub id: String,
    /// Unique slug.
    #[schema(example = "acme-corp")]
    pub name: String,
    /// Human-readable name.
    #[schema(example = "ACME Corporation")]
    pub display_name: Option<String>,
    /// Contact address.
    #[schema(example = "admin@acme.com")]
    pub email: Option<String>,
    /// Contact number.
    #[schema(example = "+1-555-0123")]
    pub phone: Option<String>,
    /// Inactive organizations keep their data; their users cannot sign in.
    pub is_active: bool,
    /// Commercial tier.
    pub tier: TierDto,
    /// Monday.com workspace id.
    #[schema(example = "12345678")]
    pub monday_workspace_id: Option<String>,
    /// Billing: Stripe customer (read-only).
    pub stripe_customer_id: Option<String>,
    /// Billing: subscription status (read-only).
    pub subscription_status: Option<String>,
    /// Billing: end of the trial (read-only).
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// Creation time (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
    /// Who created it (`dev_key`, `user:<id>`, `api_key:<id>`).
    pub created_by: Option<String>,
    /// Settings; known keys: `allowAutoRouting` (boolean), `maxAgents` (positive integer).
    #[schema(value_type = Object, example = crate::examples::organizations_tier_dto)]
    pub settings: Value,
}

impl From<Organization> for OrganizationDto {
    fn from(o: Organization) -> Self {
        Self {
            id: o.id.to_string(),
            name: o.name.to_string(),
            display_name: o.display_name.map(String::from),
            email: o.email.map(String::from),
            phone: o.phone.map(String::from),
            is_active: o.is_active,
            tier: o.tier.into(),
            monday_workspace_id: o.monday_workspace_id.map(String::from),
            stripe_customer_id: o.stripe_customer_id,
            subscription_status: o.subscription_status,
            trial_ends_at: o.trial_ends_at,
            created_at: o.created_at,
            updated_at: o.updated_at,
            created_by: o.created_by,
            settings: o.settings.to_value(),
        }
    }
}

/// Commercial tier.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TierDto {
    /// Free.
    Free,
    /// Standard (default).
    Standard,
    /// Enterprise.
    Enterprise,
}

impl From<Tier> for TierDto {
    fn from(t: Tier) -> Self {
        match t {
            Tier::Free => TierDto::Free,
            Tier::Standard => TierDto::Standard,
            Tier::Enterprise => TierDto::Enterprise,
        }
    }
}

impl From<TierDto> for Tier {
    fn from(t: TierDto) -> Self {
        match t {
            TierDto::Free => Tier::Free,
            TierDto::Standard => Tier::Standard,
            TierDto::Enterprise => Tier::Enterprise,
        }
    }
}

/// An organization with its row counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationStatsDto {
    /// The organization.
    pub organization: OrganizationDto,
    /// Its row counts.
    pub stats: StatsDto,
}

/// Row counts of one organization.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::organizations_stats_dto)]
pub struct StatsDto {
    /// Users.
    pub total_users: u64,
    /// Routing proposals.
    pub total_proposals: u64,
    /// Leads.
    pub total_leads: u64,
    /// Agents.
    pub total_agents: u64,
}

impl From<OrganizationStats> for StatsDto {
    fn from(s: OrganizationStats) -> Self {
        Self {
            total_users: s.total_users,
            total_proposals: s.total_proposals,
            total_leads: s.total_leads,
            total_agents: s.total_agents,
        }
    }
}

/// Body of `POST /organizations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::organizations_create_organization_body)]
pub struct CreateOrganizationBody {
    /// Unique slug: 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit.
    #[schema(
        pattern = "^[a-z0-9]([a-z0-9-]{1,61})[a-z0-9]$",
        min_length = 3,
        max_length = 63
    )]
    pub name: String,
    /// Human-readable name, at most 200 characters.
    #[schema(max_length = 200)]
    pub display_name: Option<String>,
    /// Contact address.
    #[schema(format = "email", max_length = 254)]
    pub email: Option<String>,
    /// Contact number: at most 32 digits, spaces and `+ - ( ) .`.
    #[schema(max_length = 32)]
    pub phone: Option<String>,
    /// Commercial tier (default `standard`).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub tier: Option<TierDto>,
    /// Monday.com workspace id.
    #[schema(max_length = 128)]
    pub monday_workspace_id: Option<String>,
    /// Settings object; known keys are type-checked.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(value_type = Object, nullable = false)]
    pub settings: Option<Map<String, Value>>,
}

/// Body of `PUT /organizations/{id}`: only the fields given change; `null`
/// clears an optional field. `settings` is merged as a JSON merge patch
/// (RFC 7396): given keys are set, `null` removes a key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::organizations_update_organization_body)]
pub struct UpdateOrganizationBody {
    /// New unique slug.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(
        nullable = false,
        pattern = "^[a-z0-9]([a-z0-9-]{1,61})[a-z0-9]$",
        min_length = 3,
        max_length = 63
    )]
    pub name: Option<String>,
    /// New display name, or `null` to clear.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub display_name: Option<Option<String>>,
    /// New contact address, or `null` to clear.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<String>, format = "email", max_length = 254)]
    pub email: Option<Option<String>>,
    /// New contact number, or `null` to clear.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<String>, max_length = 32)]
    pub phone: Option<Option<String>>,
    /// New tier (super admins only).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub tier: Option<TierDto>,
    /// Activate or deactivate (super admins only).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    /// New Monday.com workspace id, or `null` to clear.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<String>, max_length = 128)]
    pub monday_workspace_id: Option<Option<String>>,
    /// Settings merge patch.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(value_type = Object, nullable = false)]
    pub settings: Option<Map<String, Value>>,
}

/// Parses an optional raw value, recording the error under `field`.
fn parse_opt<T, E: std::fmt::Display>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<String>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Option<T> {
    raw.and_then(|v| errors.check(field, parse(&v)))
}

/// Parses a present-or-null raw value, recording the error under `field`.
fn parse_clearable<T, E: std::fmt::Display>(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    match raw {
        None => None,
        Some(None) => Some(None),
        Some(Some(v)) => errors.check(field, parse(&v)).map(Some),
    }
}

impl CreateOrganizationBody {
    fn into_command(self) -> Result<NewOrganization, ApiError> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", OrgName::parse(&self.name));
        let display_name = parse_opt(
            &mut errors,
            "displayName",
            self.display_name,
            DisplayName::parse,
        );
        let email = parse_opt(&mut errors, "email", self.email, Email::parse);
        let phone = parse_opt(&mut errors, "phone", self.phone, Phone::parse);
        let monday_workspace_id = parse_opt(
            &mut errors,
            "mondayWorkspaceId",
            self.monday_workspace_id,
            ExternalRef::parse,
        );
        let settings = match self.settings {
            None => Some(Settings::default()),
            Some(map) => Settings::parse_input(Value::Object(map))
                .map_err(|e| errors.extend(e))
                .ok(),
        };
        match (name, settings) {
            (Some(name), Some(settings)) if errors.is_empty() => Ok(NewOrganization {
                name,
                display_name,
                email,
                phone,
                tier: self.tier.map(Tier::from).unwrap_or_default(),
                monday_workspace_id,
                settings,
            }),
            _ => Err(ApiError::validation(&errors)),
        }
    }
}

impl UpdateOrganizationBody {
    fn into_patch(self) -> Result<OrganizationPatch, ApiError> {
        let mut errors = ValidationErrors::new();
        let patch = OrganizationPatch {
            name: parse_opt(&mut errors, "name", self.name, OrgName::parse),
            display_name: parse_clearable(
                &mut errors,
                "displayName",
                self.display_name,
                DisplayName::parse,
            ),
            email: parse_clearable(&mut errors, "email", self.email, Email::parse),
            phone: parse_clearable(&mut errors, "phone", self.phone, Phone::parse),
            tier: self.tier.map(Tier::from),
            is_active: self.is_active,
            monday_workspace_id: parse_clearable(
                &mut errors,
                "mondayWorkspaceId",
                self.monday_workspace_id,
                ExternalRef::parse,
            ),
            settings: self.settings,
        };
        errors
            .into_result(patch)
            .map_err(|e| ApiError::validation(&e))
    }
}

/// Filters and paging of `GET /organizations`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListOrganizationsQuery {
    /// Only active (`true`) or inactive (`false`) organizations.
    pub is_active: Option<bool>,
    /// Only this tier.
    pub tier: Option<TierDto>,
    /// Page size, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Rows to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Options of `DELETE /organizations/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteOrganizationQuery {
    /// `true` deletes the organization and ALL its data, irreversibly.
    /// Otherwise it is deactivated.
    pub hard: Option<bool>,
}

fn org_id(raw: &str) -> Result<OrgId, ApiError> {
    OrgId::parse(raw).ok_or_else(|| ApiError::not_found("Organization"))
}

/// List organizations (super admins: all; others: their own).
#[utoipa::path(get, path = "/organizations", operation_id = "list_organizations", tag = "organizations", params(ListOrganizationsQuery),
    responses(
        (status = 200, description = "One page of organizations, oldest first", body = ListEnvelope<OrganizationDto>),
        (status = 400, description = "Invalid filter or paging", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListOrganizationsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(q.limit, q.offset).map_err(|e| ApiError::validation(&e))?;
    let filter = OrganizationFilter {
        is_active: q.is_active,
        tier: q.tier.map(Tier::from),
        id: None,
    };
    let result = state.orgs.list(&actor, filter, page).await?;
    Ok(envelope::page(result, OrganizationDto::from))
}

/// Get one organization.
#[utoipa::path(get, path = "/organizations/{id}", operation_id = "get_organization", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    responses(
        (status = 200, description = "The organization", body = DataEnvelope<OrganizationDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 404, description = "No such organization (or not visible to you)", body = ErrorEnvelope),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = state.orgs.get(&actor, &org_id(&id)?).await?;
    Ok(envelope::ok(OrganizationDto::from(org)))
}

/// Get one organization with usage statistics.
#[utoipa::path(get, path = "/organizations/{id}/stats", operation_id = "get_organization_stats", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    responses(
        (status = 200, description = "The organization and its row counts", body = DataEnvelope<OrganizationStatsDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 404, description = "No such organization (or not visible to you)", body = ErrorEnvelope),
    ))]
pub async fn stats(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (org, stats) = state.orgs.stats(&actor, &org_id(&id)?).await?;
    Ok(envelope::ok(OrganizationStatsDto {
        organization: org.into(),
        stats: stats.into(),
    }))
}

/// Create an organization (super admins).
#[utoipa::path(post, path = "/organizations", operation_id = "create_organization", tag = "organizations", request_body = CreateOrganizationBody,
    responses(
        (status = 201, description = "Created", body = DataEnvelope<OrganizationDto>),
        (status = 400, description = "Invalid body; `details` names each field", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not a super admin", body = ErrorEnvelope),
        (status = 409, description = "The name is taken (`NAME_TAKEN`)", body = ErrorEnvelope),
        (status = 413, description = "Body over 64 KiB", body = ErrorEnvelope),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<CreateOrganizationBody>,
) -> Result<HttpResponse, ApiError> {
    let org = state.orgs.create(&actor, body.into_command()?).await?;
    Ok(envelope::created(OrganizationDto::from(org)))
}

/// Update the given fields of an organization.
#[utoipa::path(put, path = "/organizations/{id}", operation_id = "update_organization", tag = "organizations", request_body = UpdateOrganizationBody,
    params(("id" = String, Path, description = "Organization id")),
    responses(
        (status = 200, description = "Updated", body = DataEnvelope<OrganizationDto>),
        (status = 400, description = "Invalid body; `details` names each field", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Your role may not change this", body = ErrorEnvelope),
        (status = 404, description = "No such organization (or not visible to you)", body = ErrorEnvelope),
        (status = 409, description = "Name taken, or the default organization would be deactivated", body = ErrorEnvelope),
        (status = 413, description = "Body over 64 KiB", body = ErrorEnvelope),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    JsonBody(body): JsonBody<UpdateOrganizationBody>,
) -> Result<HttpResponse, ApiError> {
    let id = org_id(&id)?;
    let org = state.orgs.update(&actor, &id, body.into_patch()?).await?;
    Ok(envelope::ok(OrganizationDto::from(org)))
}

/// Deactivate an organization, or with `hard=true` delete it and all its data.
#[utoipa::path(delete, path = "/organizations/{id}", operation_id = "delete_organization", tag = "organizations",
    params(("id" = String, Path, description = "Organization id"), DeleteOrganizationQuery),
    responses(
        (status = 200, description = "Deactivated (with `data`) or deleted", body = MessageEnvelope<OrganizationDto>,
            examples(
                ("deactivated" = (summary = "Without `hard`: deactivated", value = json!(crate::examples::organizations_delete_200_deactivated()))),
                ("deleted" = (summary = "With `hard=true`: deleted with all its data", value = json!(crate::examples::organizations_delete_200_deleted()))),
            )),
        (status = 400, description = "Invalid query", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not a super admin", body = ErrorEnvelope),
        (status = 404, description = "No such organization", body = ErrorEnvelope),
        (status = 409, description = "The default organization is protected (`DEFAULT_ORGANIZATION_PROTECTED`)", body = ErrorEnvelope),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    QueryParams(q): QueryParams<DeleteOrganizationQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = org_id(&id)?;
    if q.hard == Some(true) {
        state.orgs.delete_permanently(&actor, &id).await?;
        Ok(envelope::message::<OrganizationDto>(
            "Organization permanently deleted",
            None,
        ))
    } else {
        let org = state.orgs.deactivate(&actor, &id).await?;
        Ok(envelope::message(
            "Organization deactivated",
            Some(OrganizationDto::from(org)),
        ))
    }
}

/// Reactivate a deactivated organization.
#[utoipa::path(post, path = "/organizations/{id}/activate", operation_id = "activate_organization", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    responses(
        (status = 200, description = "Activated", body = MessageEnvelope<OrganizationDto>,
            example = crate::examples::organizations_activate_200),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not a super admin", body = ErrorEnvelope),
        (status = 404, description = "No such organization", body = ErrorEnvelope),
    ))]
pub async fn activate(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = state.orgs.activate(&actor, &org_id(&id)?).await?;
    Ok(envelope::message(
        "Organization activated",
        Some(OrganizationDto::from(org)),
    ))
}
