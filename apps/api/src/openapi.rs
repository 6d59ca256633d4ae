//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{
    error::ErrorEnvelope,
    routes::{
        agents, api_keys, audit, auth, dashboard, health, leads, lifecycle, organizations,
        proposals, routing, users,
    },
};

/// The API description served at `/openapi.json`.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Lead Routing API",
        description = "Multi-tenant lead routing. Every response is an envelope: `{ok: true, data}` \
            (lists add `pagination`), or `{ok: false, error: {code, message, details}}`.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        health::health,
        health::ready,
        health::openapi,
        health::metrics,
        organizations::list,
        organizations::create,
        organizations::get,
        organizations::update,
        organizations::delete,
        organizations::stats,
        organizations::activate,
        auth::register,
        auth::login,
        auth::refresh,
        auth::logout,
        auth::me,
        users::list,
        users::create,
        users::get,
        users::update,
        users::deactivate,
        api_keys::list,
        api_keys::create,
        api_keys::revoke,
        api_keys::rotate,
        agents::list,
        agents::create,
        agents::get,
        agents::update,
        agents::deactivate,
        lifecycle::reroute_agent_leads,
        routing::list_pools,
        routing::create_pool,
        routing::get_pool,
        routing::update_pool,
        routing::delete_pool,
        routing::list_rules,
        routing::create_rule,
        routing::get_rule,
        routing::update_rule,
        routing::delete_rule,
        routing::simulate,
        leads::list,
        leads::create,
        leads::get,
        leads::update,
        lifecycle::accept,
        lifecycle::decline,
        lifecycle::assign,
        lifecycle::reroute,
        audit::timeline,
        proposals::list,
        proposals::get,
        proposals::approve,
        proposals::reject,
        dashboard::dashboard,
        dashboard::leads_per_agent,
        audit::list,
    ),
    components(schemas(ErrorEnvelope)),
    modifiers(&SecuritySchemes),
    security(("apiKey" = []), ("bearerAuth" = [])),
    tags(
        (name = "health", description = "Liveness, readiness and this document; no credentials"),
        (name = "organizations", description = "Tenants (seed section 6)"),
        (name = "auth", description = "Registration, sign-in, tokens"),
        (name = "users", description = "Users of your organization"),
        (name = "api-keys", description = "API keys of your organization"),
        (name = "agents", description = "Agents leads are routed to"),
        (name = "routing", description = "Pools, rules and the dry-run of a decision"),
        (name = "leads", description = "Leads and where they went"),
        (name = "proposals", description = "The manager's review queue"),
        (name = "dashboard", description = "Your organization at a glance"),
        (name = "audit", description = "Every change, by whom, when: the audit trail"),
    )
)]
pub struct ApiDoc;

/// Declares the two ways to authenticate.
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "An organization API key (`dev_key_123` in development mode)",
            ))),
        );
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from `POST /auth/login`"))
                    .build(),
            ),
        );
    }
}

/// The document as JSON.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
