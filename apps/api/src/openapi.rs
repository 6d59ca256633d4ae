//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{
    error::ErrorEnvelope,
    routes::{
        agents, api_keys, audit, auth, dashboard, health, leads, leads_csv, lifecycle,
        organizations, proposals, routing, users, webhooks,
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
        leads::create_batch,
        leads_csv::import,
        leads_csv::export,
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
        webhooks::create,
        webhooks::list,
        webhooks::get,
        webhooks::update,
        webhooks::delete,
        webhooks::rotate_secret,
        webhooks::test,
        webhooks::deliveries,
    ),
    components(schemas(ErrorEnvelope, audit::EventDto, webhooks::SlackMessageDto)),
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
        (name = "webhooks", description = "Events posted to your endpoints (or Slack), signed, at least once"),
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

/// What we post to a webhook endpoint, as OpenAPI 3.1 `webhooks` (utoipa
/// has no attribute for them, so they are added to the rendered document).
fn webhooks() -> serde_json::Value {
    let header = |name: &str, description: &str, example: &str| {
        serde_json::json!({
            "name": name, "in": "header", "required": true,
            "description": description,
            "schema": {"type": "string"}, "example": example,
        })
    };
    serde_json::json!({
        "event": {"post": {
            "summary": "An event of your organization, posted to each endpoint that subscribed to its type",
            "description": "At least once, from the transactional outbox: deduplicate on \
                `X-Lead-Routing-Delivery`. Events of one lead arrive at an endpoint in order. A 2xx \
                answer acknowledges; anything else (or no answer within 10 s) is retried with \
                exponential backoff and jitter (first retry within 30 s) for 24 hours; 410 turns \
                the endpoint off. Redirects are not followed. Verify the signature: HMAC-SHA256 of \
                `<t>.<raw body>` with the endpoint's secret, hex, compared in constant time, and \
                reject a `t` older than 5 minutes. `format: \"slack\"` endpoints receive \
                `SlackMessageDto` instead.",
            "tags": ["webhooks"],
            "parameters": [
                header("X-Lead-Routing-Event", "The event's type", "lead.routed"),
                header("X-Lead-Routing-Delivery", "The event's id: the same on every retry", "evt_01955c5530a47e1e8d2f5b6c7a8b9c0d"),
                header("X-Lead-Routing-Signature", "`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>`", "t=1741010000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"),
            ],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/EventDto"},
                    {"$ref": "#/components/schemas/SlackMessageDto"},
                ]
            }}}},
            "responses": {
                "2XX": {"description": "Acknowledged: not sent again"},
                "410": {"description": "Gone: the endpoint is turned off"},
                "default": {"description": "Retried with backoff"},
            },
            "security": [],
        }}
    })
}

/// A public operation says `security: []` (no requirement), as generators
/// expect, instead of utoipa's `[{}]` (an empty requirement object, which
/// some generators read as "authenticated").
fn public_operations_need_no_security(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut().filter_map(|i| i.as_object_mut()) {
        for op in item.values_mut().filter_map(|o| o.as_object_mut()) {
            let public = op
                .get("security")
                .and_then(|s| s.as_array())
                .is_some_and(|s| {
                    !s.is_empty()
                        && s.iter()
                            .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
                });
            if public {
                op.insert("security".to_owned(), serde_json::json!([]));
            }
        }
    }
}

/// The document as JSON.
pub fn document_json() -> String {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    public_operations_need_no_security(&mut doc);
    if let Some(map) = doc.as_object_mut() {
        map.insert("webhooks".to_owned(), webhooks());
        // Relative: the document describes the server that serves it.
        map.insert(
            "servers".to_owned(),
            serde_json::json!([{"url": "/", "description": "the server serving this document"}]),
        );
    }
    if let Some(license) = doc
        .pointer_mut("/info/license")
        .and_then(|l| l.as_object_mut())
    {
        license.insert("identifier".to_owned(), "MIT OR Apache-2.0".into());
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
