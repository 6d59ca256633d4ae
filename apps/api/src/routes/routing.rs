//! `/routing`: pools, rules, and the dry-run of a decision.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use routing::{
    Condition, Pool, PoolChange, PoolId, RawCondition, Rule, RuleChange, RuleId, engine::Plan,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tenancy::PageRequest;
use utoipa::{IntoParams, ToSchema};

use crate::{
    envelope::{self, DataEnvelope, ListEnvelope, MessageEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, JsonBody, QueryParams},
    routes::{
        leads::{LeadBody, MethodDto},
        proposals::TraceEntryDto,
    },
    startup::AppState,
};

/// How a pool picks among eligible members.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PoolMethodDto {
    /// Next eligible member after the last one served.
    RoundRobin,
    /// Fewest assignments per weight.
    Weighted,
    /// Fewest open leads, then least recently served.
    LeastLoaded,
}

impl PoolMethodDto {
    fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::Weighted => "weighted",
            Self::LeastLoaded => "least_loaded",
        }
    }
}

impl From<routing::PoolMethod> for PoolMethodDto {
    fn from(m: routing::PoolMethod) -> Self {
        match m {
            routing::PoolMethod::RoundRobin => Self::RoundRobin,
            routing::PoolMethod::Weighted => Self::Weighted,
            routing::PoolMethod::LeastLoaded => Self::LeastLoaded,
        }
    }
}

/// A pool of agents.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::routing_pool_dto)]
pub struct PoolDto {
    /// Opaque id (`pool_...`).
    pub id: String,
    /// Owner organization.
    pub org_id: String,
    /// Name, unique in the organization.
    pub name: String,
    /// Selection method.
    pub method: PoolMethodDto,
    /// Members, in rotation order.
    pub member_ids: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Pool> for PoolDto {
    fn from(p: Pool) -> Self {
        Self {
            id: p.id.to_string(),
            org_id: p.org_id.to_string(),
            name: p.name,
            method: p.method.into(),
            member_ids: p.member_ids.into_iter().map(String::from).collect(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// Body of `POST /routing/pools` (all required) and `PUT /routing/pools/{id}` (the given fields change).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::routing_pool_body)]
pub struct PoolBody {
    /// Name, 1-100 characters.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false, max_length = 100)]
    pub name: Option<String>,
    /// Selection method.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub method: Option<PoolMethodDto>,
    /// Agent ids in rotation order (replaces the list).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub member_ids: Option<Vec<String>>,
}

impl PoolBody {
    fn into_change(self, creating: bool) -> Result<PoolChange, ApiError> {
        PoolChange::parse(
            self.name,
            self.method.map(|m| m.as_str().to_owned()),
            self.member_ids,
            creating,
        )
        .map_err(|e| ApiError::validation(&e))
    }
}

/// One condition of a rule.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = crate::examples::routing_condition_dto)]
pub struct ConditionDto {
    /// source, region, country, company, emailDomain, score, or `fields.<key>`.
    pub field: String,
    /// eq, neq, in, notIn, contains, gte, lte, exists.
    pub op: String,
    /// A scalar of the field's type; a list for in/notIn; a boolean for exists.
    pub value: Value,
}

impl From<Condition> for ConditionDto {
    fn from(c: Condition) -> Self {
        Self {
            field: c.field,
            op: c.op.as_str().to_owned(),
            value: c.value,
        }
    }
}

/// A routing rule.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::routing_rule_dto)]
pub struct RuleDto {
    /// Opaque id (`rule_...`).
    pub id: String,
    /// Owner organization.
    pub org_id: String,
    /// Name.
    pub name: String,
    /// Lower runs first.
    pub priority: i32,
    /// All must hold.
    pub conditions: Vec<ConditionDto>,
    /// Where matching leads go.
    pub pool_id: String,
    /// Skills the chosen agent must hold.
    pub required_skills: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Rule> for RuleDto {
    fn from(r: Rule) -> Self {
        Self {
            id: r.id.to_string(),
            org_id: r.org_id.to_string(),
            name: r.name,
            priority: r.priority,
            conditions: r.conditions.into_iter().map(Into::into).collect(),
            pool_id: r.pool_id.to_string(),
            required_skills: r.required_skills,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Body of `POST /routing/rules` (`name`, `priority`, `poolId` required) and `PUT /routing/rules/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::routing_rule_body)]
pub struct RuleBody {
    /// Name, 1-100 characters.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// Lower runs first.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub priority: Option<i64>,
    /// Conditions (all must hold; none matches every lead).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub conditions: Option<Vec<ConditionDto>>,
    /// Target pool.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub pool_id: Option<String>,
    /// Skills the chosen agent must hold.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub required_skills: Option<Vec<String>>,
}

impl RuleBody {
    fn into_change(self, creating: bool) -> Result<RuleChange, ApiError> {
        let conditions = self.conditions.map(|cs| {
            cs.into_iter()
                .map(|c| RawCondition {
                    field: c.field,
                    op: c.op,
                    value: c.value,
                })
                .collect()
        });
        RuleChange::parse(
            self.name,
            self.priority,
            conditions,
            self.pool_id,
            self.required_skills,
            creating,
        )
        .map_err(|e| ApiError::validation(&e))
    }
}

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl PageQuery {
    pub(crate) fn page(&self) -> Result<PageRequest, ApiError> {
        PageRequest::new(self.limit, self.offset).map_err(|e| ApiError::validation(&e))
    }
}

fn pool_id(raw: &str) -> Result<PoolId, ApiError> {
    PoolId::parse(raw).ok_or_else(|| ApiError::not_found("Pool"))
}

fn rule_id(raw: &str) -> Result<RuleId, ApiError> {
    RuleId::parse(raw).ok_or_else(|| ApiError::not_found("Rule"))
}

/// List pools (managers).
#[utoipa::path(get, path = "/routing/pools", operation_id = "list_pools", tag = "routing", params(PageQuery),
    responses(
        (status = 200, description = "One page of pools", body = ListEnvelope<PoolDto>),
        (status = 400, description = "Invalid paging", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
    ))]
pub async fn list_pools(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let pools = state.routing.list_pools(&actor, q.page()?).await?;
    Ok(envelope::page(pools, PoolDto::from))
}

/// Create a pool (managers).
#[utoipa::path(post, path = "/routing/pools", operation_id = "create_pool", tag = "routing", request_body = PoolBody,
    responses(
        (status = 201, description = "Created", body = DataEnvelope<PoolDto>),
        (status = 400, description = "Invalid body or unknown member", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 409, description = "Name taken", body = ErrorEnvelope),
    ))]
pub async fn create_pool(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<PoolBody>,
) -> Result<HttpResponse, ApiError> {
    let pool = state
        .routing
        .create_pool(&actor, body.into_change(true)?)
        .await?;
    Ok(envelope::created(PoolDto::from(pool)))
}

/// One pool (managers).
#[utoipa::path(get, path = "/routing/pools/{id}", operation_id = "get_pool", tag = "routing",
    params(("id" = String, Path, description = "Pool id")),
    responses(
        (status = 200, description = "The pool", body = DataEnvelope<PoolDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such pool in your organization", body = ErrorEnvelope),
    ))]
pub async fn get_pool(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pool = state.routing.get_pool(&actor, &pool_id(&id)?).await?;
    Ok(envelope::ok(PoolDto::from(pool)))
}

/// Change a pool (managers).
#[utoipa::path(put, path = "/routing/pools/{id}", operation_id = "update_pool", tag = "routing", request_body = PoolBody,
    params(("id" = String, Path, description = "Pool id")),
    responses(
        (status = 200, description = "Updated", body = DataEnvelope<PoolDto>),
        (status = 400, description = "Invalid body or unknown member", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such pool in your organization", body = ErrorEnvelope),
        (status = 409, description = "Name taken", body = ErrorEnvelope),
    ))]
pub async fn update_pool(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    JsonBody(body): JsonBody<PoolBody>,
) -> Result<HttpResponse, ApiError> {
    let id = pool_id(&id)?;
    let pool = state
        .routing
        .update_pool(&actor, &id, body.into_change(false)?)
        .await?;
    Ok(envelope::ok(PoolDto::from(pool)))
}

/// Delete a pool (managers); refused while rules route to it.
#[utoipa::path(delete, path = "/routing/pools/{id}", operation_id = "delete_pool", tag = "routing",
    params(("id" = String, Path, description = "Pool id")),
    responses(
        (status = 200, description = "Deleted", body = MessageEnvelope<PoolDto>,
            example = crate::examples::routing_delete_pool_200),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such pool in your organization", body = ErrorEnvelope),
        (status = 409, description = "Rules still route to it (`POOL_IN_USE`)", body = ErrorEnvelope),
    ))]
pub async fn delete_pool(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.routing.delete_pool(&actor, &pool_id(&id)?).await?;
    Ok(envelope::message::<PoolDto>("Pool deleted", None))
}

/// List rules in evaluation order (managers).
#[utoipa::path(get, path = "/routing/rules", operation_id = "list_rules", tag = "routing", params(PageQuery),
    responses(
        (status = 200, description = "Rules by priority", body = ListEnvelope<RuleDto>),
        (status = 400, description = "Invalid paging", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
    ))]
pub async fn list_rules(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let rules = state.routing.list_rules(&actor, q.page()?).await?;
    Ok(envelope::page(rules, RuleDto::from))
}

/// Create a rule (managers). Unknown fields, operators and wrongly typed values are 400s now, not surprises later.
#[utoipa::path(post, path = "/routing/rules", operation_id = "create_rule", tag = "routing", request_body = RuleBody,
    responses(
        (status = 201, description = "Created", body = DataEnvelope<RuleDto>),
        (status = 400, description = "Invalid body; `details` names e.g. `conditions[0].op`", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
    ))]
pub async fn create_rule(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<RuleBody>,
) -> Result<HttpResponse, ApiError> {
    let rule = state
        .routing
        .create_rule(&actor, body.into_change(true)?)
        .await?;
    Ok(envelope::created(RuleDto::from(rule)))
}

/// One rule (managers).
#[utoipa::path(get, path = "/routing/rules/{id}", operation_id = "get_rule", tag = "routing",
    params(("id" = String, Path, description = "Rule id")),
    responses(
        (status = 200, description = "The rule", body = DataEnvelope<RuleDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such rule in your organization", body = ErrorEnvelope),
    ))]
pub async fn get_rule(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let rule = state.routing.get_rule(&actor, &rule_id(&id)?).await?;
    Ok(envelope::ok(RuleDto::from(rule)))
}

/// Change a rule (managers).
#[utoipa::path(put, path = "/routing/rules/{id}", operation_id = "update_rule", tag = "routing", request_body = RuleBody,
    params(("id" = String, Path, description = "Rule id")),
    responses(
        (status = 200, description = "Updated", body = DataEnvelope<RuleDto>),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such rule in your organization", body = ErrorEnvelope),
    ))]
pub async fn update_rule(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    JsonBody(body): JsonBody<RuleBody>,
) -> Result<HttpResponse, ApiError> {
    let id = rule_id(&id)?;
    let rule = state
        .routing
        .update_rule(&actor, &id, body.into_change(false)?)
        .await?;
    Ok(envelope::ok(RuleDto::from(rule)))
}

/// Delete a rule (managers).
#[utoipa::path(delete, path = "/routing/rules/{id}", operation_id = "delete_rule", tag = "routing",
    params(("id" = String, Path, description = "Rule id")),
    responses(
        (status = 200, description = "Deleted", body = MessageEnvelope<RuleDto>,
            example = crate::examples::routing_delete_rule_200),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
        (status = 404, description = "No such rule in your organization", body = ErrorEnvelope),
    ))]
pub async fn delete_rule(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.routing.delete_rule(&actor, &rule_id(&id)?).await?;
    Ok(envelope::message::<RuleDto>("Rule deleted", None))
}

/// The decision for a lead, with its trace. Nothing is written.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::routing_simulation_dto)]
pub struct SimulationDto {
    /// `proposed` or `unrouted`.
    pub outcome: &'static str,
    /// The agent that would be proposed.
    pub agent_id: Option<String>,
    /// How it would be chosen.
    pub method: Option<MethodDto>,
    /// The pool.
    pub pool_id: Option<String>,
    /// The matching rule.
    pub rule_id: Option<String>,
    /// Why nobody, when unrouted.
    pub unrouted_reason: Option<String>,
    /// Why each candidate would or would not be chosen.
    pub trace: Vec<TraceEntryDto>,
}

impl From<Plan> for SimulationDto {
    fn from(p: Plan) -> Self {
        Self {
            outcome: if p.choice.is_some() {
                "proposed"
            } else {
                "unrouted"
            },
            agent_id: p.choice.as_ref().map(|c| c.agent_id.to_string()),
            method: p.choice.as_ref().map(|c| c.method.into()),
            pool_id: p
                .choice
                .as_ref()
                .and_then(|c| c.pool_id.as_ref().map(ToString::to_string)),
            rule_id: p
                .choice
                .as_ref()
                .and_then(|c| c.rule_id.as_ref().map(ToString::to_string)),
            unrouted_reason: p.unrouted_reason,
            trace: p.trace.into_iter().map(Into::into).collect(),
        }
    }
}

/// Dry-run: what would happen to this lead now (managers).
#[utoipa::path(post, path = "/routing/simulate", operation_id = "simulate_routing", tag = "routing", request_body = LeadBody,
    responses(
        (status = 200, description = "The decision and its trace", body = DataEnvelope<SimulationDto>,
            examples(
                ("proposed" = (summary = "An agent would be proposed", value = json!(crate::examples::routing_simulate_200_proposed()))),
                ("unrouted" = (summary = "Nobody could take the lead", value = json!(crate::examples::routing_simulate_200_unrouted()))),
            )),
        (status = 400, description = "Invalid lead", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Agents may not", body = ErrorEnvelope),
    ))]
pub async fn simulate(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<LeadBody>,
) -> Result<HttpResponse, ApiError> {
    let plan = state
        .routing
        .simulate(&actor, body.into_new_lead()?)
        .await?;
    Ok(envelope::ok(SimulationDto::from(plan)))
}
