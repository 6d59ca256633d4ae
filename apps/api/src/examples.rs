//! The examples of the OpenAPI document, one function per example, named
//! `<module>_<type>` for a schema and `<module>_<handler>_<status>` for a
//! response. The handlers' annotations refer to them, so the route modules
//! hold the API's shape and this module holds its sample data.

#![allow(clippy::too_many_lines)]

use serde_json::{Value, json};

/// Example of `agents.rs`.
pub fn agents_working_hours_dto() -> Value {
    json!({
        "timezone": "Europe/Paris",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00"
    })
}

/// Example of `agents.rs`.
pub fn agents_load_dto() -> Value {
    json!({"openLeads": 7, "today": 3, "lastAssignedAt": "2025-03-03T14:07:21.482915Z"})
}

/// Example of `agents.rs`.
pub fn agents_agent_dto() -> Value {
    json!({
        "id": "agt_01946943b2a076b6896da1da72ff5d2a",
        "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
        "name": "Ann Lee",
        "email": "ann@acme.com",
        "userId": null,
        "skills": ["french", "spanish"],
        "regions": ["EMEA"],
        "weight": 2,
        "capacity": 20,
        "dailyCap": 10,
        "status": "available",
        "workingHours": {
            "timezone": "Europe/Paris",
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "09:00",
            "end": "17:00"
        },
        "isActive": true,
        "createdAt": "2025-01-15T09:20:31.904127Z",
        "updatedAt": "2025-02-03T16:12:58.004711Z",
        "load": {"openLeads": 7, "today": 3, "lastAssignedAt": "2025-03-03T14:07:21.482915Z"}
    })
}

/// Example of `agents.rs`.
pub fn agents_agent_body() -> Value {
    json!({
        "name": "Ann Lee",
        "email": "ann@acme.com",
        "skills": ["spanish"],
        "regions": ["EMEA"],
        "weight": 2,
        "capacity": 20,
        "dailyCap": 10,
        "status": "available",
        "workingHours": {
            "timezone": "Europe/Paris",
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "09:00",
            "end": "17:00"
        }
    })
}

/// Example of `agents.rs`.
pub fn agents_create_201() -> Value {
    json!({
        "ok": true,
        "data": {
            "id": "agt_01946943b2a076b6896da1da72ff5d2a",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "name": "Ann Lee",
            "email": "ann@acme.com",
            "userId": null,
            "skills": ["french", "spanish"],
            "regions": ["EMEA"],
            "weight": 2,
            "capacity": 20,
            "dailyCap": 10,
            "status": "available",
            "workingHours": {
                "timezone": "Europe/Paris",
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "start": "09:00",
                "end": "17:00"
            },
            "isActive": true,
            "createdAt": "2025-01-15T09:20:31.904127Z",
            "updatedAt": "2025-01-15T09:20:31.904127Z"
        }
    })
}

/// Example of `agents.rs`.
pub fn agents_update_200() -> Value {
    json!({
        "ok": true,
        "data": {
            "id": "agt_01946943b2a076b6896da1da72ff5d2a",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "name": "Ann Lee",
            "email": "ann@acme.com",
            "userId": null,
            "skills": ["french", "spanish"],
            "regions": ["EMEA"],
            "weight": 2,
            "capacity": 20,
            "dailyCap": 10,
            "status": "away",
            "workingHours": {
                "timezone": "Europe/Paris",
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "start": "09:00",
                "end": "17:00"
            },
            "isActive": true,
            "createdAt": "2025-01-15T09:20:31.904127Z",
            "updatedAt": "2025-03-17T07:58:12.640385Z"
        }
    })
}

/// Example of `agents.rs`.
pub fn agents_deactivate_200() -> Value {
    json!({
        "ok": true,
        "message": "Agent deactivated",
        "data": {
            "id": "agt_01946943b2a076b6896da1da72ff5d2a",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "name": "Ann Lee",
            "email": "ann@acme.com",
            "userId": null,
            "skills": ["french", "spanish"],
            "regions": ["EMEA"],
            "weight": 2,
            "capacity": 20,
            "dailyCap": 10,
            "status": "available",
            "workingHours": {
                "timezone": "Europe/Paris",
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "start": "09:00",
                "end": "17:00"
            },
            "isActive": false,
            "createdAt": "2025-01-15T09:20:31.904127Z",
            "updatedAt": "2025-03-20T09:15:40.583006Z"
        }
    })
}

/// Example of `api_keys.rs`.
pub fn api_keys_api_key_dto() -> Value {
    json!({
        "id": "key_019469559338706cab74d0fb32e70629",
        "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
        "name": "web form",
        "prefix": "k7m2q9xa",
        "role": "agent",
        "createdBy": "user:usr_01946935aa997ad3a8b9d243e465e150",
        "createdAt": "2025-01-15T09:40:03.512907Z",
        "lastUsedAt": "2025-03-03T14:07:21.401377Z",
        "revokedAt": null
    })
}

/// Example of `api_keys.rs`.
pub fn api_keys_created_api_key_dto() -> Value {
    json!({
        "id": "key_019469559338706cab74d0fb32e70629",
        "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
        "name": "web form",
        "prefix": "k7m2q9xa",
        "role": "agent",
        "createdBy": "user:usr_01946935aa997ad3a8b9d243e465e150",
        "createdAt": "2025-01-15T09:40:03.512907Z",
        "lastUsedAt": null,
        "revokedAt": null,
        "key": "lr_k7m2q9xa_XJMxtBELqTrFSvwU2jvdGWFHdKLVXSleWjWrRLPvrqU"
    })
}

/// Example of `api_keys.rs`.
pub fn api_keys_create_api_key_body() -> Value {
    json!({"name": "web form", "role": "agent"})
}

/// Example of `api_keys.rs`.
pub fn api_keys_revoke_200() -> Value {
    json!({
        "ok": true,
        "message": "API key revoked",
        "data": {
            "id": "key_019469559338706cab74d0fb32e70629",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "name": "web form",
            "prefix": "k7m2q9xa",
            "role": "agent",
            "createdBy": "user:usr_01946935aa997ad3a8b9d243e465e150",
            "createdAt": "2025-01-15T09:40:03.512907Z",
            "lastUsedAt": "2025-03-03T14:07:21.401377Z",
            "revokedAt": "2025-03-14T17:22:09.048551Z"
        }
    })
}

/// Example of `auth.rs`.
pub fn auth_register_body() -> Value {
    json!({
        "username": "admin2",
        "email": "admin@testorg2.com",
        "password": "SecurePass123!",
        "role": "admin",
        "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b"
    })
}

/// Example of `auth.rs`.
pub fn auth_login_body() -> Value {
    json!({"email": "admin@testorg2.com", "password": "SecurePass123!"})
}

/// Example of `auth.rs`.
pub fn auth_login_response() -> Value {
    json!({
        "ok": true,
        "user": {
            "id": "usr_0194693c7fb87082837f8a8817fc695a",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "username": "jane",
            "email": "jane@acme.com",
            "role": "manager",
            "isActive": true,
            "createdAt": "2025-01-15T09:12:40.120034Z",
            "updatedAt": "2025-02-20T11:48:05.660917Z",
            "lastLoginAt": "2025-03-03T08:59:47.201533Z"
        },
        "tokens": {
            "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJ1c3JfMDE5NDY5M2M3ZmI4NzA4MjgzN2Y4YTg4MTdmYzY5NWEiLCJ1c2VybmFtZSI6ImphbmUiLCJlbWFpbCI6ImphbmVAYWNtZS5jb20iLCJyb2xlIjoibWFuYWdlciIsIm9yZ0lkIjoib3JnXzAxOTNhNWIyYzRkMTdlOGY5YTBiMWMyZDNlNGY1YTZiIiwiaWF0IjoxNzQwOTkyMzg3LCJleHAiOjE3NDA5OTU5ODcsIm5iZiI6MTc0MDk5MjM4NywiaXNzIjoibGVhZC1yb3V0aW5nIiwiYXVkIjoibGVhZC1yb3V0aW5nLWFwaSIsInR5cCI6ImFjY2VzcyJ9.8WzqE8b9KGcKUEZ3CthfbifwGQXuCQEMR2E4Mv5XSLQ",
            "refreshToken": "EpuiK4i6Pil2YUX97KOwjjivU9fExg460gjOUGZEEDY",
            "expiresIn": 3600
        }
    })
}

/// Example of `auth.rs`.
pub fn auth_tokens_dto() -> Value {
    json!({
        "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJ1c3JfMDE5NDY5M2M3ZmI4NzA4MjgzN2Y4YTg4MTdmYzY5NWEiLCJ1c2VybmFtZSI6ImphbmUiLCJlbWFpbCI6ImphbmVAYWNtZS5jb20iLCJyb2xlIjoibWFuYWdlciIsIm9yZ0lkIjoib3JnXzAxOTNhNWIyYzRkMTdlOGY5YTBiMWMyZDNlNGY1YTZiIiwiaWF0IjoxNzQwOTkyMzg3LCJleHAiOjE3NDA5OTU5ODcsIm5iZiI6MTc0MDk5MjM4NywiaXNzIjoibGVhZC1yb3V0aW5nIiwiYXVkIjoibGVhZC1yb3V0aW5nLWFwaSIsInR5cCI6ImFjY2VzcyJ9.8WzqE8b9KGcKUEZ3CthfbifwGQXuCQEMR2E4Mv5XSLQ",
        "refreshToken": "EpuiK4i6Pil2YUX97KOwjjivU9fExg460gjOUGZEEDY",
        "expiresIn": 3600
    })
}

/// Example of `auth.rs`.
pub fn auth_register_201() -> Value {
    json!({
        "ok": true,
        "data": {
            "id": "usr_01946935aa997ad3a8b9d243e465e150",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "username": "admin2",
            "email": "admin@testorg2.com",
            "role": "admin",
            "isActive": true,
            "createdAt": "2025-01-15T09:05:12.345678Z",
            "updatedAt": "2025-01-15T09:05:12.345678Z",
            "lastLoginAt": null
        }
    })
}

/// Example of `auth.rs`.
pub fn auth_logout_200() -> Value {
    json!({"ok": true, "message": "Signed out"})
}

/// Example of `dashboard.rs`.
pub fn dashboard_dashboard_response() -> Value {
    json!({
        "ok": true,
        "organization": {"id": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b", "name": "acme-corp", "displayName": "ACME Corporation", "email": "admin@acme.com", "phone": "+1-555-0123", "isActive": true, "tier": "enterprise", "mondayWorkspaceId": "12345678", "stripeCustomerId": null, "subscriptionStatus": null, "trialEndsAt": null, "createdAt": "2024-12-08T09:56:16.721Z", "updatedAt": "2025-01-15T09:02:37.480112Z", "createdBy": "user:usr_01939f6c2a4b7d10b8e5c3a9f2d6e7b1", "settings": {"allowAutoRouting": true, "maxAgents": 50}},
        "stats": {"totalUsers": 12, "totalProposals": 260, "totalLeads": 240, "totalAgents": 8},
        "health": {"usersPerAgent": 1.5, "proposalsPerLead": 1.0833333333333333}
    })
}

/// Example of `dashboard.rs`.
pub fn dashboard_leads_per_agent_dto() -> Value {
    json!({
        "days": ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"],
        "agents": [
            {"agentId": "agt_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b", "name": "Ada", "counts": [0, 1, 3, 0, 0, 2, 5], "total": 11},
            {"agentId": "agt_0193a5b2c4d17e8f9a0b1c2d3e4f5a6c", "name": "Bob", "counts": [0, 0, 0, 0, 0, 0, 0], "total": 0}
        ],
        "unassigned": [1, 0, 0, 2, 0, 0, 1]
    })
}

/// Example of `dashboard.rs`.
pub fn dashboard_leads_per_agent_200() -> Value {
    json!({"ok": true, "data": {
        "days": ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29"],
        "agents": [
            {"agentId": "agt_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b", "name": "Ada", "counts": [0, 1, 3, 0, 0, 2, 5], "total": 11},
            {"agentId": "agt_0193a5b2c4d17e8f9a0b1c2d3e4f5a6c", "name": "Bob", "counts": [0, 0, 0, 0, 0, 0, 0], "total": 0}
        ],
        "unassigned": [1, 0, 0, 2, 0, 0, 1]
    }})
}

/// Example of `health.rs`.
pub fn health_health_200() -> Value {
    json!({"ok": true, "data": {"status": "ok"}})
}

/// Example of `health.rs`.
pub fn health_ready_200() -> Value {
    json!({"ok": true, "data": {"status": "ready"}})
}

/// Example of `health.rs`.
pub fn health_openapi_200() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Lead Routing API", "license": {"name": "MIT OR Apache-2.0"}, "version": "0.1.0"},
        "paths": {"/openapi.json": {"get": {
            "tags": ["health"],
            "summary": "This API's OpenAPI 3.1 document.",
            "operationId": "openapi",
            "responses": {"200": {"description": "The OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}},
            "security": [{}]
        }}},
        "components": {"securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}}
    })
}

/// Example of `health.rs`.
pub fn health_metrics_200() -> Value {
    json!(
        "# HELP db_pool_connections Database pool connections by state\n\
            # TYPE db_pool_connections gauge\n\
            db_pool_connections{state=\"idle\"} 4\n\
            db_pool_connections{state=\"open\"} 5\n\
            # HELP http_request_duration_seconds HTTP request latency by route pattern\n\
            # TYPE http_request_duration_seconds histogram\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.001\"} 0\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.0025\"} 3\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.005\"} 41\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.01\"} 102\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.025\"} 117\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.05\"} 119\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.1\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.25\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"0.5\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"1\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"2.5\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"5\"} 120\n\
            http_request_duration_seconds_bucket{method=\"POST\",route=\"/leads\",le=\"+Inf\"} 120\n\
            http_request_duration_seconds_sum{method=\"POST\",route=\"/leads\"} 1.183472561\n\
            http_request_duration_seconds_count{method=\"POST\",route=\"/leads\"} 120\n\
            # HELP http_requests_total HTTP requests by route pattern and status\n\
            # TYPE http_requests_total counter\n\
            http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1440\n\
            http_requests_total{method=\"POST\",route=\"/leads\",status=\"200\"} 2\n\
            http_requests_total{method=\"POST\",route=\"/leads\",status=\"201\"} 118\n\
            # HELP leads_routed_total Leads received, by routing outcome\n\
            # TYPE leads_routed_total counter\n\
            leads_routed_total{outcome=\"assigned\"} 15\n\
            leads_routed_total{outcome=\"proposed\"} 97\n\
            leads_routed_total{outcome=\"replayed\"} 2\n\
            leads_routed_total{outcome=\"unrouted\"} 6\n"
    )
}

/// Example of `leads.rs`.
pub fn leads_lead_dto() -> Value {
    json!({
        "id": "lead_01955c552f8a743bbbacfb3d0b1f9163",
        "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
        "externalId": "form-4711",
        "name": "Jane Doe",
        "email": "jane@globex.com",
        "phone": null,
        "company": "Globex",
        "source": "web",
        "region": null,
        "country": "FR",
        "score": 72,
        "fields": {"plan": "pro"},
        "status": "assigned",
        "assignedAgentId": "agt_01946943b2a076b6896da1da72ff5d2a",
        "unroutedReason": null,
        "createdAt": "2025-03-03T14:07:21.482915Z",
        "updatedAt": "2025-03-03T14:12:03.918455Z"
    })
}

/// Example of `leads.rs`.
pub fn leads_routed_lead_dto() -> Value {
    json!({
        "lead": {
            "id": "lead_01955c552f8a743bbbacfb3d0b1f9163",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "externalId": "form-4711",
            "name": "Jane Doe",
            "email": "jane@globex.com",
            "phone": null,
            "company": "Globex",
            "source": "web",
            "region": null,
            "country": "FR",
            "score": 72,
            "fields": {"plan": "pro"},
            "status": "proposed",
            "assignedAgentId": null,
            "unroutedReason": null,
            "createdAt": "2025-03-03T14:07:21.482915Z",
            "updatedAt": "2025-03-03T14:07:21.482915Z"
        },
        "proposal": {
            "id": "prop_01955c552f8a7c41b07e2d9f5a3c6e18",
            "leadId": "lead_01955c552f8a743bbbacfb3d0b1f9163",
            "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
            "status": "pending",
            "method": "round_robin",
            "poolId": "pool_0194694d0c1d74728f50bea6371ecd7b",
            "ruleId": "rule_0194695118b4717b95be612818c26797",
            "trace": [
                {
                    "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
                    "eligible": true,
                    "reason": "selected: next in rotation after agt_0194694434c2701ab28df6ecce4a2bbd"
                },
                {
                    "agentId": "agt_0194694434c2701ab28df6ecce4a2bbd",
                    "eligible": true,
                    "reason": "eligible; not next in rotation"
                }
            ],
            "createdAt": "2025-03-03T14:07:21.482915Z",
            "decidedBy": null,
            "decidedAt": null,
            "note": null
        }
    })
}

/// Example of `leads.rs`.
pub fn leads_lead_body() -> Value {
    json!({
        "externalId": "form-4711",
        "name": "Jane Doe",
        "email": "jane@globex.com",
        "company": "Globex",
        "source": "web",
        "country": "FR",
        "score": 72,
        "fields": {"plan": "pro"}
    })
}

/// Example of `leads.rs`.
pub fn leads_update_200() -> Value {
    json!({
        "ok": true,
        "data": {
            "id": "lead_01955c552f8a743bbbacfb3d0b1f9163",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "externalId": "form-4711",
            "name": "Jane Doe",
            "email": "jane@globex.com",
            "phone": "+33 1 23 45 67 89",
            "company": "Globex",
            "source": "web",
            "region": null,
            "country": "FR",
            "score": 72,
            "fields": {"plan": "pro"},
            "status": "contacted",
            "assignedAgentId": "agt_01946943b2a076b6896da1da72ff5d2a",
            "unroutedReason": null,
            "createdAt": "2025-03-03T14:07:21.482915Z",
            "updatedAt": "2025-03-04T10:02:44.371590Z"
        }
    })
}

/// Example of `organizations.rs`.
pub fn organizations_organization_dto() -> Value {
    json!({
        "id": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
        "name": "acme-corp",
        "displayName": "ACME Corporation",
        "email": "admin@acme.com",
        "phone": "+1-555-0123",
        "isActive": true,
        "tier": "enterprise",
        "mondayWorkspaceId": "12345678",
        "stripeCustomerId": null,
        "subscriptionStatus": null,
        "trialEndsAt": null,
        "createdAt": "2024-12-08T09:56:16.721Z",
        "updatedAt": "2025-01-15T09:02:37.480112Z",
        "createdBy": "user:usr_01939f6c2a4b7d10b8e5c3a9f2d6e7b1",
        "settings": {"allowAutoRouting": true, "maxAgents": 50}
    })
}

/// Example of `organizations.rs`.
pub fn organizations_tier_dto() -> Value {
    json!({"allowAutoRouting": true, "maxAgents": 50})
}

/// Example of `organizations.rs`.
pub fn organizations_stats_dto() -> Value {
    json!({"totalUsers": 12, "totalProposals": 1534, "totalLeads": 1420, "totalAgents": 8})
}

/// Example of `organizations.rs`.
pub fn organizations_create_organization_body() -> Value {
    json!({
        "name": "acme-corp",
        "displayName": "ACME Corporation",
        "email": "admin@acme.com",
        "phone": "+1-555-0123",
        "tier": "enterprise",
        "mondayWorkspaceId": "12345678",
        "settings": {"allowAutoRouting": true, "maxAgents": 50}
    })
}

/// Example of `organizations.rs`.
pub fn organizations_update_organization_body() -> Value {
    json!({
        "displayName": "ACME Corp (Updated)",
        "email": "new-admin@acme.com",
        "isActive": true,
        "tier": "enterprise"
    })
}

/// Example of `organizations.rs`.
pub fn organizations_delete_200_deactivated() -> Value {
    json!({
        "ok": true,
        "message": "Organization deactivated",
        "data": {
            "id": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "name": "acme-corp",
            "displayName": "ACME Corporation",
            "email": "admin@acme.com",
            "phone": "+1-555-0123",
            "isActive": false,
            "tier": "enterprise",
            "mondayWorkspaceId": "12345678",
            "stripeCustomerId": null,
            "subscriptionStatus": null,
            "trialEndsAt": null,
            "createdAt": "2024-12-08T09:56:16.721Z",
            "updatedAt": "2025-03-10T16:45:02.118734Z",
            "createdBy": "user:usr_01939f6c2a4b7d10b8e5c3a9f2d6e7b1",
            "settings": {"allowAutoRouting": true, "maxAgents": 50}
        }
    })
}

/// Example of `organizations.rs`.
pub fn organizations_delete_200_deleted() -> Value {
    json!({"ok": true, "message": "Organization permanently deleted"})
}

/// Example of `organizations.rs`.
pub fn organizations_activate_200() -> Value {
    json!({
        "ok": true,
        "message": "Organization activated",
        "data": {
            "id": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "name": "acme-corp",
            "displayName": "ACME Corporation",
            "email": "admin@acme.com",
            "phone": "+1-555-0123",
            "isActive": true,
            "tier": "enterprise",
            "mondayWorkspaceId": "12345678",
            "stripeCustomerId": null,
            "subscriptionStatus": null,
            "trialEndsAt": null,
            "createdAt": "2024-12-08T09:56:16.721Z",
            "updatedAt": "2025-03-11T08:30:15.902441Z",
            "createdBy": "user:usr_01939f6c2a4b7d10b8e5c3a9f2d6e7b1",
            "settings": {"allowAutoRouting": true, "maxAgents": 50}
        }
    })
}

/// Example of `proposals.rs`.
pub fn proposals_proposal_dto() -> Value {
    json!({
        "id": "prop_01955c552f8a7c41b07e2d9f5a3c6e18",
        "leadId": "lead_01955c552f8a743bbbacfb3d0b1f9163",
        "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
        "status": "pending",
        "method": "round_robin",
        "poolId": "pool_0194694d0c1d74728f50bea6371ecd7b",
        "ruleId": "rule_0194695118b4717b95be612818c26797",
        "trace": [
            {
                "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
                "eligible": true,
                "reason": "selected: next in rotation after agt_0194694434c2701ab28df6ecce4a2bbd"
            },
            {
                "agentId": "agt_0194694434c2701ab28df6ecce4a2bbd",
                "eligible": true,
                "reason": "eligible; not next in rotation"
            }
        ],
        "createdAt": "2025-03-03T14:07:21.482915Z",
        "decidedBy": null,
        "decidedAt": null,
        "note": null
    })
}

/// Example of `proposals.rs`.
pub fn proposals_rejection_dto() -> Value {
    json!({
        "rejected": {
            "id": "prop_01955c552f8a7c41b07e2d9f5a3c6e18",
            "leadId": "lead_01955c552f8a743bbbacfb3d0b1f9163",
            "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
            "status": "rejected",
            "method": "round_robin",
            "poolId": "pool_0194694d0c1d74728f50bea6371ecd7b",
            "ruleId": "rule_0194695118b4717b95be612818c26797",
            "trace": [
                {
                    "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
                    "eligible": true,
                    "reason": "selected: next in rotation after agt_0194694434c2701ab28df6ecce4a2bbd"
                },
                {
                    "agentId": "agt_0194694434c2701ab28df6ecce4a2bbd",
                    "eligible": true,
                    "reason": "eligible; not next in rotation"
                }
            ],
            "createdAt": "2025-03-03T14:07:21.482915Z",
            "decidedBy": "user:usr_0194693c7fb87082837f8a8817fc695a",
            "decidedAt": "2025-03-03T14:26:09.771402Z",
            "note": "Ann is on leave this week"
        },
        "lead": {
            "id": "lead_01955c552f8a743bbbacfb3d0b1f9163",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "externalId": "form-4711",
            "name": "Jane Doe",
            "email": "jane@globex.com",
            "phone": null,
            "company": "Globex",
            "source": "web",
            "region": null,
            "country": "FR",
            "score": 72,
            "fields": {"plan": "pro"},
            "status": "proposed",
            "assignedAgentId": null,
            "unroutedReason": null,
            "createdAt": "2025-03-03T14:07:21.482915Z",
            "updatedAt": "2025-03-03T14:26:09.771402Z"
        },
        "proposal": {
            "id": "prop_01955c6666eb7a0eadc98d2ce2acf72f",
            "leadId": "lead_01955c552f8a743bbbacfb3d0b1f9163",
            "agentId": "agt_0194694434c2701ab28df6ecce4a2bbd",
            "status": "pending",
            "method": "round_robin",
            "poolId": "pool_0194694d0c1d74728f50bea6371ecd7b",
            "ruleId": "rule_0194695118b4717b95be612818c26797",
            "trace": [
                {
                    "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
                    "eligible": false,
                    "reason": "already had this lead"
                },
                {
                    "agentId": "agt_0194694434c2701ab28df6ecce4a2bbd",
                    "eligible": true,
                    "reason": "selected: next in rotation after agt_01946943b2a076b6896da1da72ff5d2a"
                }
            ],
            "createdAt": "2025-03-03T14:26:09.771402Z",
            "decidedBy": null,
            "decidedAt": null,
            "note": null
        }
    })
}

/// Example of `proposals.rs`.
pub fn proposals_approve_200() -> Value {
    json!({
        "ok": true,
        "data": {
            "lead": {
                "id": "lead_01955c552f8a743bbbacfb3d0b1f9163",
                "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
                "externalId": "form-4711",
                "name": "Jane Doe",
                "email": "jane@globex.com",
                "phone": null,
                "company": "Globex",
                "source": "web",
                "region": null,
                "country": "FR",
                "score": 72,
                "fields": {"plan": "pro"},
                "status": "assigned",
                "assignedAgentId": "agt_01946943b2a076b6896da1da72ff5d2a",
                "unroutedReason": null,
                "createdAt": "2025-03-03T14:07:21.482915Z",
                "updatedAt": "2025-03-03T14:12:03.918455Z"
            },
            "proposal": {
                "id": "prop_01955c552f8a7c41b07e2d9f5a3c6e18",
                "leadId": "lead_01955c552f8a743bbbacfb3d0b1f9163",
                "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
                "status": "approved",
                "method": "round_robin",
                "poolId": "pool_0194694d0c1d74728f50bea6371ecd7b",
                "ruleId": "rule_0194695118b4717b95be612818c26797",
                "trace": [
                    {
                        "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
                        "eligible": true,
                        "reason": "selected: next in rotation after agt_0194694434c2701ab28df6ecce4a2bbd"
                    },
                    {
                        "agentId": "agt_0194694434c2701ab28df6ecce4a2bbd",
                        "eligible": true,
                        "reason": "eligible; not next in rotation"
                    }
                ],
                "createdAt": "2025-03-03T14:07:21.482915Z",
                "decidedBy": "user:usr_0194693c7fb87082837f8a8817fc695a",
                "decidedAt": "2025-03-03T14:12:03.918455Z",
                "note": "Ann speaks French"
            }
        }
    })
}

/// Example of `routing.rs`.
pub fn routing_pool_dto() -> Value {
    json!({
        "id": "pool_0194694d0c1d74728f50bea6371ecd7b",
        "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
        "name": "EMEA",
        "method": "round_robin",
        "memberIds": ["agt_01946943b2a076b6896da1da72ff5d2a", "agt_0194694434c2701ab28df6ecce4a2bbd"],
        "createdAt": "2025-01-15T09:30:44.637201Z",
        "updatedAt": "2025-01-15T09:30:44.637201Z"
    })
}

/// Example of `routing.rs`.
pub fn routing_pool_body() -> Value {
    json!({"name": "EMEA", "method": "round_robin", "memberIds": ["agt_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b"]})
}

/// Example of `routing.rs`.
pub fn routing_condition_dto() -> Value {
    json!({"field": "country", "op": "in", "value": ["FR", "BE"]})
}

/// Example of `routing.rs`.
pub fn routing_rule_dto() -> Value {
    json!({
        "id": "rule_0194695118b4717b95be612818c26797",
        "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
        "name": "France to EMEA",
        "priority": 10,
        "conditions": [{"field": "country", "op": "eq", "value": "FR"}],
        "poolId": "pool_0194694d0c1d74728f50bea6371ecd7b",
        "requiredSkills": ["french"],
        "createdAt": "2025-01-15T09:35:10.004518Z",
        "updatedAt": "2025-01-15T09:35:10.004518Z"
    })
}

/// Example of `routing.rs`.
pub fn routing_rule_body() -> Value {
    json!({
        "name": "France to EMEA",
        "priority": 10,
        "conditions": [{"field": "country", "op": "eq", "value": "FR"}],
        "poolId": "pool_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
        "requiredSkills": ["french"]
    })
}

/// Example of `routing.rs`.
pub fn routing_delete_pool_200() -> Value {
    json!({"ok": true, "message": "Pool deleted"})
}

/// Example of `routing.rs`.
pub fn routing_delete_rule_200() -> Value {
    json!({"ok": true, "message": "Rule deleted"})
}

/// Example of `routing.rs`.
pub fn routing_simulation_dto() -> Value {
    json!({
        "outcome": "proposed",
        "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
        "method": "round_robin",
        "poolId": "pool_0194694d0c1d74728f50bea6371ecd7b",
        "ruleId": "rule_0194695118b4717b95be612818c26797",
        "unroutedReason": null,
        "trace": [
            {
                "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
                "eligible": true,
                "reason": "selected: next in rotation after agt_0194694434c2701ab28df6ecce4a2bbd"
            },
            {
                "agentId": "agt_0194694434c2701ab28df6ecce4a2bbd",
                "eligible": true,
                "reason": "eligible; not next in rotation"
            }
        ]
    })
}

/// Example of `routing.rs`.
pub fn routing_simulate_200_proposed() -> Value {
    json!({
        "ok": true,
        "data": {
            "outcome": "proposed",
            "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
            "method": "round_robin",
            "poolId": "pool_0194694d0c1d74728f50bea6371ecd7b",
            "ruleId": "rule_0194695118b4717b95be612818c26797",
            "unroutedReason": null,
            "trace": [
                {
                    "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
                    "eligible": true,
                    "reason": "selected: next in rotation after agt_0194694434c2701ab28df6ecce4a2bbd"
                },
                {
                    "agentId": "agt_0194694434c2701ab28df6ecce4a2bbd",
                    "eligible": true,
                    "reason": "eligible; not next in rotation"
                }
            ]
        }
    })
}

/// Example of `routing.rs`.
pub fn routing_simulate_200_unrouted() -> Value {
    json!({
        "ok": true,
        "data": {
            "outcome": "unrouted",
            "agentId": null,
            "method": null,
            "poolId": null,
            "ruleId": null,
            "unroutedReason": "no member of pool EMEA is eligible",
            "trace": [
                {
                    "agentId": "agt_01946943b2a076b6896da1da72ff5d2a",
                    "eligible": false,
                    "reason": "away"
                },
                {
                    "agentId": "agt_0194694434c2701ab28df6ecce4a2bbd",
                    "eligible": false,
                    "reason": "at capacity (20/20 open leads)"
                }
            ]
        }
    })
}

/// Example of `users.rs`.
pub fn users_user_dto() -> Value {
    json!({
        "id": "usr_0194693c7fb87082837f8a8817fc695a",
        "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
        "username": "jane",
        "email": "jane@acme.com",
        "role": "manager",
        "isActive": true,
        "createdAt": "2025-01-15T09:12:40.120034Z",
        "updatedAt": "2025-02-20T11:48:05.660917Z",
        "lastLoginAt": "2025-03-03T08:59:47.201533Z"
    })
}

/// Example of `users.rs`.
pub fn users_create_user_body() -> Value {
    json!({"username": "jane", "email": "jane@acme.com", "password": "a-long-passphrase", "role": "manager"})
}

/// Example of `users.rs`.
pub fn users_create_201() -> Value {
    json!({
        "ok": true,
        "data": {
            "id": "usr_0194693c7fb87082837f8a8817fc695a",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "username": "jane",
            "email": "jane@acme.com",
            "role": "manager",
            "isActive": true,
            "createdAt": "2025-01-15T09:12:40.120034Z",
            "updatedAt": "2025-01-15T09:12:40.120034Z",
            "lastLoginAt": null
        }
    })
}

/// Example of `users.rs`.
pub fn users_deactivate_200() -> Value {
    json!({
        "ok": true,
        "message": "User deactivated",
        "data": {
            "id": "usr_0194693c7fb87082837f8a8817fc695a",
            "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
            "username": "jane",
            "email": "jane@acme.com",
            "role": "manager",
            "isActive": false,
            "createdAt": "2025-01-15T09:12:40.120034Z",
            "updatedAt": "2025-03-12T10:04:51.337260Z",
            "lastLoginAt": "2025-03-03T08:59:47.201533Z"
        }
    })
}

/// Example of `envelope.rs`.
pub fn envelope_pagination() -> Value {
    json!({"total": 1, "limit": 100, "offset": 0})
}

/// Example of `proposals.rs`: a cursor page of the review queue.
pub fn proposals_queue_pagination() -> Value {
    json!({"limit": 50, "nextCursor": "MC4xNzY1MTAwMDAwMDAwMDAwLnByb19hYmM"})
}

/// Example of `error.rs`.
pub fn error_error_envelope() -> Value {
    json!({"ok": false, "error": {"code": "VALIDATION_ERROR", "message": "The request has invalid fields", "details": [{"field": "name", "message": "must be 3 to 63 characters"}]}})
}

/// Example of `audit.rs`.
pub fn audit_event_dto() -> Value {
    json!({
        "id": "evt_01955c5530a47e1e8d2f5b6c7a8b9c0d",
        "orgId": "org_0193a5b2c4d17e8f9a0b1c2d3e4f5a6b",
        "type": "proposal.approved",
        "createdAt": "2025-03-03T14:12:03.918455Z",
        "actor": {"type": "user", "id": "usr_0193a5b2c4d17e8f9a0b1c2d3e4f5a70", "name": null},
        "subject": {"type": "proposal", "id": "prop_01955c552f9b7a61b0c4d2e3f4a5b6c7"},
        "data": {"agentId": "agt_01946943b2a076b6896da1da72ff5d2a", "note": "Good fit."}
    })
}

/// Example of `audit.rs`.
pub fn audit_list_200() -> Value {
    json!({
        "ok": true,
        "data": [audit_event_dto()],
        "pagination": {"limit": 1, "nextCursor": "evt_01955c5530a47e1e8d2f5b6c7a8b9c0d"}
    })
}

/// Example of `lifecycle.rs`.
pub fn lifecycle_assigned_dto() -> Value {
    let mut routed = leads_routed_lead_dto();
    let agent = "agt_0194694434c2701ab28df6ecce4a2bbd";
    routed["lead"]["status"] = json!("assigned");
    routed["lead"]["assignedAgentId"] = json!(agent);
    routed["lead"]["updatedAt"] = json!("2025-03-03T14:20:02.117204Z");
    routed["proposal"] = json!({
        "id": "prop_01955c5d1c4a7e21a1b3c5d7e9f1a3b5",
        "leadId": "lead_01955c552f8a743bbbacfb3d0b1f9163",
        "agentId": agent,
        "status": "approved",
        "method": "manual",
        "poolId": null,
        "ruleId": null,
        "trace": [{"agentId": agent, "eligible": true, "reason": "selected: reassigned by user:usr_0193a5b2c4d17e8f9a0b1c2d3e4f5a70"}],
        "createdAt": "2025-03-03T14:20:02.117204Z",
        "decidedBy": "user:usr_0193a5b2c4d17e8f9a0b1c2d3e4f5a70",
        "decidedAt": "2025-03-03T14:20:02.117204Z",
        "note": "Knows the account"
    });
    routed["warnings"] = json!(["the agent is away"]);
    routed
}

/// Example of `lifecycle.rs`.
pub fn lifecycle_rerouted_dto() -> Value {
    json!({"rerouted": 1, "leads": [leads_routed_lead_dto()]})
}

/// Example of `webhooks.rs`.
pub fn webhooks_webhook_dto() -> Value {
    json!({
        "id": "whk_01955c60a1b27c3d9e8f0a1b2c3d4e5f",
        "url": "https://hooks.slack.com/services/T000/B000/XXXX",
        "events": ["lead.routed", "lead.assigned", "proposal.*"],
        "description": "#sales-inbound",
        "format": "slack",
        "isActive": true,
        "disabledReason": null,
        "failingSince": null,
        "createdAt": "2025-03-03T15:00:00.000000Z",
        "updatedAt": "2025-03-03T15:00:00.000000Z"
    })
}

/// Example of `webhooks.rs`.
pub fn webhooks_created_webhook_dto() -> Value {
    let mut created = webhooks_webhook_dto();
    created["secret"] =
        json!("whsec_5f0c1d2e3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d");
    created
}

/// Example of `webhooks.rs`.
pub fn webhooks_webhook_body() -> Value {
    json!({
        "url": "https://hooks.slack.com/services/T000/B000/XXXX",
        "events": ["lead.routed", "lead.assigned", "proposal.*"],
        "description": "#sales-inbound",
        "format": "slack"
    })
}

/// Example of `webhooks.rs`.
pub fn webhooks_delivery_dto() -> Value {
    json!({
        "id": "dlv_01955c61b2c37d4e8f9a0b1c2d3e4f5a",
        "eventId": "evt_01955c5530a47e1e8d2f5b6c7a8b9c0d",
        "eventType": "lead.routed",
        "status": "delivered",
        "attempts": 2,
        "nextAttemptAt": null,
        "lastStatusCode": 200,
        "lastError": null,
        "lastLatencyMs": 84,
        "createdAt": "2025-03-03T15:01:00.000000Z",
        "deliveredAt": "2025-03-03T15:01:16.210000Z",
        "attemptLog": [
            {"number": 2, "at": "2025-03-03T15:01:16.126000Z", "statusCode": 200, "latencyMs": 84, "error": null},
            {"number": 1, "at": "2025-03-03T15:01:00.031000Z", "statusCode": 500, "latencyMs": 112, "error": "the endpoint answered 500"}
        ]
    })
}

/// Example of `webhooks.rs`.
pub fn webhooks_delete_200() -> Value {
    json!({"ok": true, "message": "Webhook deleted", "data": webhooks_webhook_dto()})
}

/// `POST /leads/import`: what a file did.
pub fn leads_import_dto() -> Value {
    json!({
        "rows": 3,
        "created": 1,
        "replayed": 1,
        "failed": 1,
        "errors": [{"row": 3, "field": "email", "message": "must be a valid e-mail address"}],
        "errorsTruncated": false,
        "ignoredColumns": []
    })
}

/// `POST /leads/batch`: one result per lead sent, in order.
pub fn leads_batch_dto() -> Value {
    let routed = leads_routed_lead_dto();
    json!({
        "results": [
            {"index": 0, "status": 201, "lead": routed["lead"], "proposal": routed["proposal"], "error": null},
            {"index": 1, "status": 400, "lead": null, "proposal": null, "error": {
                "code": "VALIDATION_ERROR",
                "message": "The request has invalid fields",
                "details": [{"field": "name", "message": "missing field `name`"}]
            }}
        ],
        "created": 1,
        "replayed": 0,
        "failed": 1
    })
}
