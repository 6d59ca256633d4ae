//! `/organizations` (seed section 6).

use lead_routing_api::config::AppEnv;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, expect_error, expect_invalid_field, expect_status, spawn_app, spawn_app_in,
};

const ROUTES: [(Method, &str); 7] = [
    (Method::GET, "/organizations"),
    (Method::POST, "/organizations"),
    (Method::GET, "/organizations/org_default_001"),
    (Method::PUT, "/organizations/org_default_001"),
    (Method::DELETE, "/organizations/org_default_001"),
    (Method::GET, "/organizations/org_default_001/stats"),
    (Method::POST, "/organizations/org_default_001/activate"),
];

// ---- credentials -----------------------------------------------------------

#[tokio::test]
async fn every_organization_route_requires_credentials() {
    let app = spawn_app().await;
    for (method, path) in ROUTES {
        let res = app
            .anonymous(method.clone(), path)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    }
}

#[tokio::test]
async fn an_unknown_api_key_or_bearer_token_is_a_401() {
    let app = spawn_app().await;
    let res = app
        .anonymous(Method::GET, "/organizations")
        .header("x-api-key", "dev_key_124")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = app
        .anonymous(Method::GET, "/organizations")
        .bearer_auth("not.a.jwt")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn the_dev_key_is_refused_in_production() {
    let app = spawn_app_in(AppEnv::Production).await;
    for (method, path) in ROUTES {
        let res = app
            .dev(method.clone(), path)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    }
    // Nothing was changed by the refused requests.
    let ready = app.anonymous(Method::GET, "/ready").send().await.unwrap();
    expect_status(ready, StatusCode::OK).await;
}

// ---- create and read ---------------------------------------------------------

#[tokio::test]
async fn the_seed_step_1_creates_an_organization() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/organizations",
            &json!({
                "name": "test-org-2",
                "displayName": "Test Organization 2",
                "email": "admin@testorg2.com",
                "tier": "standard"
            }),
        )
        .await;
    let body = expect_status(res, StatusCode::CREATED).await;
    assert_eq!(body["ok"], true);
    let org = &body["data"];
    assert!(org["id"].as_str().unwrap().starts_with("org_"));
    assert_eq!(org["name"], "test-org-2");
    assert_eq!(org["displayName"], "Test Organization 2");
    assert_eq!(org["email"], "admin@testorg2.com");
    assert_eq!(org["isActive"], true);
    assert_eq!(org["tier"], "standard");
    assert_eq!(org["settings"], json!({}));
    assert_eq!(org["createdBy"], "dev_key");
    assert_eq!(org["createdAt"], org["updatedAt"]);

    let fetched = expect_status(
        app.get(&format!("/organizations/{}", org["id"].as_str().unwrap()))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(&fetched["data"], org, "reads back exactly as created");
}

#[tokio::test]
async fn the_full_create_body_of_the_seed_is_stored() {
    let app = spawn_app().await;
    let org = app
        .create_org_with(json!({
            "name": "acme-corp",
            "displayName": "ACME Corporation",
            "email": "admin@acme.com",
            "phone": "+1-555-0123",
            "tier": "enterprise",
            "mondayWorkspaceId": "12345678",
            "settings": {"allowAutoRouting": true, "maxAgents": 50}
        }))
        .await;
    assert_eq!(org["phone"], "+1-555-0123");
    assert_eq!(org["tier"], "enterprise");
    assert_eq!(org["mondayWorkspaceId"], "12345678");
    assert_eq!(
        org["settings"],
        json!({"allowAutoRouting": true, "maxAgents": 50})
    );
    for key in [
        "stripeCustomerId",
        "subscriptionStatus",
        "trialEndsAt",
        "createdAt",
        "updatedAt",
    ] {
        assert!(org.get(key).is_some(), "{key} present");
    }
}

#[tokio::test]
async fn the_default_organization_exists_after_start() {
    let app = spawn_app().await;
    let body = expect_status(
        app.get("/organizations/org_default_001").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["data"]["name"], "default-org");
    assert_eq!(body["data"]["displayName"], "Default Organization");
    assert_eq!(body["data"]["isActive"], true);
}

#[tokio::test]
async fn an_unknown_or_malformed_id_is_a_404() {
    let app = spawn_app().await;
    for id in ["org_missing", "..%2F..%2Fetc", "a%20b", &"x".repeat(65)] {
        for path in [
            format!("/organizations/{id}"),
            format!("/organizations/{id}/stats"),
        ] {
            expect_error(app.get(&path).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        }
        expect_error(
            app.put(&format!("/organizations/{id}"), &json!({})).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        expect_error(
            app.delete(&format!("/organizations/{id}")).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        expect_error(
            app.delete(&format!("/organizations/{id}?hard=true")).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
        let res = app
            .dev(Method::POST, &format!("/organizations/{id}/activate"))
            .send()
            .await
            .unwrap();
        expect_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

#[tokio::test]
async fn stats_count_the_organizations_rows() {
    let app = spawn_app().await;
    let org = app.create_org("stats-org").await;
    let body = expect_status(
        app.get(&format!(
            "/organizations/{}/stats",
            org["id"].as_str().unwrap()
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["data"]["organization"], org);
    assert_eq!(
        body["data"]["stats"],
        json!({"totalUsers": 0, "totalProposals": 0, "totalLeads": 0, "totalAgents": 0})
    );
}

// ---- validation --------------------------------------------------------------

#[tokio::test]
async fn each_invalid_field_is_a_400_naming_it_and_nothing_is_created() {
    let app = spawn_app().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "name"),
        (json!({"name": "ab"}), "name"),
        (json!({"name": "x".repeat(64)}), "name"),
        (json!({"name": "Acme"}), "name"),
        (json!({"name": "acme_corp"}), "name"),
        (json!({"name": "-acme"}), "name"),
        (json!({"name": 42}), "name"),
        (json!({"name": null}), "name"),
        (
            json!({"name": "okay", "displayName": "d".repeat(201)}),
            "displayName",
        ),
        (json!({"name": "okay", "displayName": "   "}), "displayName"),
        (json!({"name": "okay", "email": "not-an-email"}), "email"),
        (json!({"name": "okay", "email": "a@localhost"}), "email"),
        (json!({"name": "okay", "phone": "1".repeat(33)}), "phone"),
        (json!({"name": "okay", "phone": "call me"}), "phone"),
        (json!({"name": "okay", "tier": "gold"}), "tier"),
        (json!({"name": "okay", "tier": null}), "tier"),
        (json!({"name": "okay", "settings": []}), "settings"),
        (json!({"name": "okay", "settings": "x"}), "settings"),
        (
            json!({"name": "okay", "settings": {"allowAutoRouting": "yes"}}),
            "settings.allowAutoRouting",
        ),
        (
            json!({"name": "okay", "settings": {"maxAgents": 0}}),
            "settings.maxAgents",
        ),
        (
            json!({"name": "okay", "settings": {"maxAgents": -5}}),
            "settings.maxAgents",
        ),
        (
            json!({"name": "okay", "settings": {"maxAgents": 2.5}}),
            "settings.maxAgents",
        ),
        (
            json!({"name": "okay", "settings": {"maxAgents": "10"}}),
            "settings.maxAgents",
        ),
        (json!({"name": "okay", "isActive": false}), "isActive"),
        (
            json!({"name": "okay", "stripeCustomerId": "cus_1"}),
            "stripeCustomerId",
        ),
    ];
    for (body, field) in cases {
        let res = app.post("/organizations", &body).await;
        expect_invalid_field(res, field).await;
    }
    assert_eq!(
        app.all_orgs().await.len(),
        1,
        "only the default organization exists"
    );
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/organizations",
            &json!({"name": "X", "email": "bad", "phone": "zzz", "settings": {"maxAgents": 0}}),
        )
        .await;
    let body = expect_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "email", "phone", "settings.maxAgents"]);
}

#[tokio::test]
async fn a_duplicate_name_is_a_409() {
    let app = spawn_app().await;
    app.create_org("acme-corp").await;
    let res = app
        .post("/organizations", &json!({"name": "acme-corp"}))
        .await;
    expect_error(res, StatusCode::CONFLICT, "NAME_TAKEN").await;
    let res = app
        .post("/organizations", &json!({"name": "default-org"}))
        .await;
    expect_error(res, StatusCode::CONFLICT, "NAME_TAKEN").await;
    assert_eq!(app.all_orgs().await.len(), 2);
}

#[tokio::test]
async fn malformed_bodies_are_400_envelopes() {
    let app = spawn_app().await;
    let raw = |body: &'static str, content_type: &'static str| {
        app.dev(Method::POST, "/organizations")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    expect_error(
        raw("{\"name\": ", "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    expect_error(
        raw("[{\"name\": \"acme\"}]", "application/json")
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    expect_error(
        raw("\"acme\"", "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    expect_error(
        raw("", "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    )
    .await;
    expect_error(
        raw("{\"name\": \"acme\"}", "text/plain").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "UNSUPPORTED_CONTENT_TYPE",
    )
    .await;
    expect_error(
        raw("name=acme", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "UNSUPPORTED_CONTENT_TYPE",
    )
    .await;
    let no_type = app
        .dev(Method::POST, "/organizations")
        .body("{\"name\": \"acme\"}")
        .send()
        .await
        .unwrap();
    expect_error(no_type, StatusCode::BAD_REQUEST, "UNSUPPORTED_CONTENT_TYPE").await;
    let charset = raw("{\"name\": \"acme\"}", "application/json; charset=utf-8")
        .await
        .unwrap();
    expect_status(charset, StatusCode::CREATED).await;
    assert_eq!(app.all_orgs().await.len(), 2);
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413() {
    let app = spawn_app().await;
    let big = json!({"name": "big-org", "settings": {"blob": "x".repeat(70 * 1024)}});
    expect_error(
        app.post("/organizations", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    let org = app.create_org("small-org").await;
    let res = app
        .put(
            &format!("/organizations/{}", org["id"].as_str().unwrap()),
            &big,
        )
        .await;
    expect_error(res, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    assert_eq!(app.all_orgs().await.len(), 2);
}

// ---- list --------------------------------------------------------------------

async fn names(app: &TestApp, query: &str) -> (Vec<String>, Value) {
    let body = expect_status(
        app.get(&format!("/organizations{query}")).await,
        StatusCode::OK,
    )
    .await;
    let names = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect();
    (names, body["pagination"].clone())
}

#[tokio::test]
async fn lists_are_paged_in_creation_order() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_org(&format!("org-{i}")).await;
    }
    let (all, pagination) = names(&app, "").await;
    assert_eq!(
        all,
        ["default-org", "org-0", "org-1", "org-2", "org-3", "org-4"]
    );
    assert_eq!(pagination, json!({"total": 6, "limit": 100, "offset": 0}));

    let (page, pagination) = names(&app, "?limit=2&offset=2").await;
    assert_eq!(page, ["org-1", "org-2"]);
    assert_eq!(pagination, json!({"total": 6, "limit": 2, "offset": 2}));

    let (past_end, pagination) = names(&app, "?offset=10").await;
    assert!(past_end.is_empty());
    assert_eq!(pagination["total"], 6);

    let (_, pagination) = names(&app, "?limit=1000").await;
    assert_eq!(pagination["limit"], 1000);
}

#[tokio::test]
async fn lists_filter_by_status_and_tier() {
    let app = spawn_app().await;
    app.create_org_with(json!({"name": "free-one", "tier": "free"}))
        .await;
    let ent = app
        .create_org_with(json!({"name": "ent-one", "tier": "enterprise"}))
        .await;
    app.create_org_with(json!({"name": "ent-two", "tier": "enterprise"}))
        .await;
    expect_status(
        app.delete(&format!("/organizations/{}", ent["id"].as_str().unwrap()))
            .await,
        StatusCode::OK,
    )
    .await;

    assert_eq!(
        names(&app, "?tier=enterprise").await.0,
        ["ent-one", "ent-two"]
    );
    assert_eq!(names(&app, "?isActive=false").await.0, ["ent-one"]);
    assert_eq!(
        names(&app, "?isActive=true&tier=enterprise").await.0,
        ["ent-two"]
    );
    assert_eq!(names(&app, "?tier=free").await.1["total"], 1);
}

#[tokio::test]
async fn bad_list_parameters_are_400s_naming_them() {
    let app = spawn_app().await;
    for (query, field) in [
        ("?limit=1001", "limit"),
        ("?limit=0", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=abc", "limit"),
        ("?offset=-1", "offset"),
        ("?offset=x", "offset"),
        ("?isActive=maybe", "isActive"),
        ("?isActive=1", "isActive"),
        ("?tier=gold", "tier"),
        ("?isactive=true", "isactive"),
        ("?orgId=org_default_001", "orgId"),
    ] {
        expect_invalid_field(app.get(&format!("/organizations{query}")).await, field).await;
    }
}

// ---- update ------------------------------------------------------------------

#[tokio::test]
async fn an_update_changes_only_the_given_fields() {
    let app = spawn_app().await;
    let org = app
        .create_org_with(json!({"name": "acme", "displayName": "ACME", "email": "a@acme.com", "phone": "+1 555", "settings": {"allowAutoRouting": false, "maxAgents": 5, "brand": "red"}}))
        .await;
    let path = format!("/organizations/{}", org["id"].as_str().unwrap());
    let res = app
        .put(&path, &json!({"displayName": "ACME Corp (Updated)", "email": "new-admin@acme.com", "isActive": true, "tier": "enterprise"}))
        .await;
    let updated = expect_status(res, StatusCode::OK).await["data"].clone();
    assert_eq!(updated["displayName"], "ACME Corp (Updated)");
    assert_eq!(updated["email"], "new-admin@acme.com");
    assert_eq!(updated["tier"], "enterprise");
    assert_eq!(updated["phone"], "+1 555", "untouched");
    assert_eq!(updated["name"], "acme", "untouched");
    assert_eq!(updated["settings"], org["settings"], "untouched");
    assert_eq!(updated["createdAt"], org["createdAt"]);
    assert!(
        updated["updatedAt"].as_str() > org["updatedAt"].as_str()
            || updated["updatedAt"] != org["updatedAt"]
    );

    let fetched = expect_status(app.get(&path).await, StatusCode::OK).await["data"].clone();
    assert_eq!(fetched, updated, "persisted");
}

#[tokio::test]
async fn null_clears_optional_fields_and_settings_merge() {
    let app = spawn_app().await;
    let org = app
        .create_org_with(json!({"name": "acme", "displayName": "ACME", "phone": "123", "settings": {"allowAutoRouting": false, "maxAgents": 5, "brand": {"color": "red"}}}))
        .await;
    let path = format!("/organizations/{}", org["id"].as_str().unwrap());
    let res = app
        .put(&path, &json!({"displayName": null, "phone": null, "settings": {"allowAutoRouting": true, "maxAgents": null, "brand": {"font": "serif"}}}))
        .await;
    let updated = expect_status(res, StatusCode::OK).await["data"].clone();
    assert_eq!(updated["displayName"], Value::Null);
    assert_eq!(updated["phone"], Value::Null);
    assert_eq!(
        updated["settings"],
        json!({"allowAutoRouting": true, "brand": {"color": "red", "font": "serif"}})
    );
}

#[tokio::test]
async fn an_invalid_update_changes_nothing() {
    let app = spawn_app().await;
    let other = app.create_org("taken-name").await;
    let org = app
        .create_org_with(json!({"name": "acme", "displayName": "ACME"}))
        .await;
    let path = format!("/organizations/{}", org["id"].as_str().unwrap());
    for (body, field) in [
        (json!({"displayName": "ok", "email": "bad"}), "email"),
        (
            json!({"displayName": "ok", "settings": {"maxAgents": "lots"}}),
            "settings.maxAgents",
        ),
        (json!({"displayName": "ok", "tier": "gold"}), "tier"),
        (json!({"displayName": "ok", "isActive": "no"}), "isActive"),
        (json!({"displayName": "ok", "name": "Bad Name"}), "name"),
        (json!({"displayName": "ok", "name": null}), "name"),
        (json!({"displayName": "ok", "id": "org_x"}), "id"),
        (json!({"displayName": "ok", "settings": null}), "settings"),
    ] {
        expect_invalid_field(app.put(&path, &body).await, field).await;
    }
    let res = app
        .put(&path, &json!({"displayName": "ok", "name": other["name"]}))
        .await;
    expect_error(res, StatusCode::CONFLICT, "NAME_TAKEN").await;

    let fetched = expect_status(app.get(&path).await, StatusCode::OK).await["data"].clone();
    assert_eq!(fetched, org, "nothing half-written");
}

#[tokio::test]
async fn concurrent_setting_updates_lose_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("busy-org").await;
    let path = format!("/organizations/{}", org["id"].as_str().unwrap());
    let updates = (0..16).map(|i| {
        let app = &app;
        let path = &path;
        async move {
            app.put(path, &json!({"settings": {format!("key{i}"): i}}))
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(updates).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let settings =
        expect_status(app.get(&path).await, StatusCode::OK).await["data"]["settings"].clone();
    for i in 0..16 {
        assert_eq!(settings[format!("key{i}")], i, "{settings}");
    }
}

// ---- lifecycle ---------------------------------------------------------------

#[tokio::test]
async fn soft_delete_deactivates_and_activate_restores() {
    let app = spawn_app().await;
    let org = app.create_org("short-lived").await;
    let path = format!("/organizations/{}", org["id"].as_str().unwrap());

    let body = expect_status(app.delete(&path).await, StatusCode::OK).await;
    assert_eq!(body["ok"], true);
    assert_eq!(body["message"], "Organization deactivated");
    assert_eq!(body["data"]["isActive"], false);
    assert_eq!(
        expect_status(app.get(&path).await, StatusCode::OK).await["data"]["isActive"],
        false,
        "data kept"
    );

    // Idempotent.
    expect_status(app.delete(&path).await, StatusCode::OK).await;

    let res = app
        .dev(Method::POST, &format!("{path}/activate"))
        .send()
        .await
        .unwrap();
    let body = expect_status(res, StatusCode::OK).await;
    assert_eq!(body["message"], "Organization activated");
    assert_eq!(body["data"]["isActive"], true);
    assert_eq!(
        expect_status(app.get(&path).await, StatusCode::OK).await["data"]["isActive"],
        true
    );
}

#[tokio::test]
async fn hard_delete_removes_the_organization() {
    let app = spawn_app().await;
    let org = app.create_org("doomed").await;
    let keep = app.create_org("keeper").await;
    let path = format!("/organizations/{}", org["id"].as_str().unwrap());

    let body = expect_status(
        app.delete(&format!("{path}?hard=true")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        body,
        json!({"ok": true, "message": "Organization permanently deleted"})
    );
    expect_error(app.get(&path).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    expect_error(
        app.delete(&format!("{path}?hard=true")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let remaining: Vec<_> = app
        .all_orgs()
        .await
        .into_iter()
        .map(|o| o["id"].clone())
        .collect();
    assert_eq!(remaining, [json!("org_default_001"), keep["id"].clone()]);
}

#[tokio::test]
async fn hard_false_and_bad_hard_values() {
    let app = spawn_app().await;
    let org = app.create_org("soft-only").await;
    let path = format!("/organizations/{}", org["id"].as_str().unwrap());
    expect_invalid_field(app.delete(&format!("{path}?hard=yes")).await, "hard").await;
    expect_invalid_field(app.delete(&format!("{path}?force=true")).await, "force").await;
    let body = expect_status(
        app.delete(&format!("{path}?hard=false")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["message"], "Organization deactivated");
}

#[tokio::test]
async fn the_default_organization_can_be_neither_deactivated_nor_deleted() {
    let app = spawn_app().await;
    let path = "/organizations/org_default_001";
    for res in [
        app.delete(path).await,
        app.delete(&format!("{path}?hard=true")).await,
        app.put(path, &json!({"isActive": false})).await,
    ] {
        expect_error(res, StatusCode::CONFLICT, "DEFAULT_ORGANIZATION_PROTECTED").await;
    }
    let org = expect_status(app.get(path).await, StatusCode::OK).await["data"].clone();
    assert_eq!(org["isActive"], true);
    // Other changes to it remain possible.
    let res = app.put(path, &json!({"displayName": "Platform"})).await;
    assert_eq!(
        expect_status(res, StatusCode::OK).await["data"]["displayName"],
        "Platform"
    );
}
