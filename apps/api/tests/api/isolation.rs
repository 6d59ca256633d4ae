//! Tenant isolation: every route that takes an id, from the route table, is
//! walked with another organization's credentials (JWT and API key): the
//! object answers 404, and never appears in that organization's lists.

use std::collections::HashMap;

use lead_routing_api::routes::route_table;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_status, spawn_app};

/// For each resource (the path up to `{id}`), an object of organization A.
pub(crate) async fn objects_of_org_a(
    app: &TestApp,
    org_a: &Value,
    admin_a: &crate::helpers::Session,
) -> HashMap<&'static str, String> {
    let agent = app.add_user(admin_a, "agent-a", "agent").await;
    let (key, _) = app.add_api_key(admin_a, "agent").await;
    let post = |path: &'static str, body: Value| {
        let token = admin_a.access_token.clone();
        async move {
            let res = app
                .as_user(&token, Method::POST, path)
                .json(&body)
                .send()
                .await
                .unwrap();
            expect_status(res, StatusCode::CREATED).await["data"].clone()
        }
    };
    let routing_agent = post("/agents", json!({"name": "Ann", "email": "ann@a.test"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pool = post(
        "/routing/pools",
        json!({"name": "P", "method": "round_robin", "memberIds": [routing_agent]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rule = post(
        "/routing/rules",
        json!({"name": "R", "priority": 1, "conditions": [], "poolId": pool}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let routed = post("/leads", json!({"name": "Jane", "externalId": "shared-1"})).await;
    let webhook = post(
        "/webhooks",
        json!({"url": "https://hooks.example.com/a", "events": ["*"]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    HashMap::from([
        ("/organizations", org_a["id"].as_str().unwrap().to_owned()),
        ("/users", agent.id()),
        ("/api-keys", key["id"].as_str().unwrap().to_owned()),
        ("/agents", routing_agent),
        ("/routing/pools", pool),
        ("/routing/rules", rule),
        ("/leads", routed["lead"]["id"].as_str().unwrap().to_owned()),
        (
            "/manager/proposals",
            routed["proposal"]["id"].as_str().unwrap().to_owned(),
        ),
        ("/webhooks", webhook),
    ])
}

#[tokio::test]
async fn every_id_route_hides_other_organizations_objects() {
    let app = spawn_app().await;
    let (org_a, admin_a) = app.org_with_admin("org-a").await;
    let (_, admin_b) = app.org_with_admin("org-b").await;
    let (_, key_b) = app.add_api_key(&admin_b, "admin").await;
    let objects = objects_of_org_a(&app, &org_a, &admin_a).await;
    // Bodies that name objects do so with org B's own (valid for B).
    let res = app
        .as_user(&admin_b.access_token, Method::POST, "/agents")
        .json(&json!({"name": "Bea", "email": "bea@b.test"}))
        .send()
        .await
        .unwrap();
    let agent_b = expect_status(res, StatusCode::CREATED).await["data"]["id"].clone();

    let mut walked = 0;
    for route in route_table()
        .into_iter()
        .filter(|r| r.path.contains("{id}"))
    {
        let (prefix, _) = route.path.split_once("/{id}").unwrap();
        let id = objects.get(prefix).unwrap_or_else(|| {
            panic!(
                "no fixture for `{}`: add an object of org A for `{prefix}` in isolation.rs",
                route.path
            )
        });
        let path = route.path.replace("{id}", id);
        // actix and reqwest use different versions of the `http` crate.
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        for (credential, request) in [
            (
                "JWT",
                app.as_user(&admin_b.access_token, method.clone(), &path),
            ),
            ("API key", app.with_key(&key_b, method.clone(), &path)),
        ] {
            let request = if route.path.ends_with("/assign") {
                request.json(&json!({"agentId": agent_b}))
            } else if [Method::POST, Method::PUT].contains(&method) {
                request.json(&json!({}))
            } else {
                request
            };
            let res = request.send().await.unwrap();
            assert_eq!(
                res.status(),
                StatusCode::NOT_FOUND,
                "{} {} by org B's {credential}",
                route.method,
                route.path
            );
        }
        walked += 1;
    }
    assert!(walked >= 24, "walked {walked} routes");

    // An `externalId` is the organization's own: B sending A's creates B's
    // lead, alone and in a batch, and never replays A's.
    let batch = expect_status(
        app.with_key(&key_b, Method::POST, "/leads/batch")
            .json(&json!({"leads": [{"name": "B's Jane", "externalId": "shared-1"}]}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(batch["data"]["results"][0]["status"], 201, "{batch}");
    assert_ne!(
        batch["data"]["results"][0]["lead"]["id"].as_str(),
        Some(objects["/leads"].as_str())
    );

    // Nothing of A in B's lists.
    for list in [
        "/organizations",
        "/users",
        "/api-keys",
        "/agents",
        "/routing/pools",
        "/routing/rules",
        "/leads",
        "/manager/proposals",
        "/audit",
        "/webhooks",
    ] {
        for (credential, request) in [
            ("JWT", app.as_user(&admin_b.access_token, Method::GET, list)),
            ("API key", app.with_key(&key_b, Method::GET, list)),
        ] {
            let body = expect_status(request.send().await.unwrap(), StatusCode::OK).await;
            let text = body.to_string();
            for id in objects.values() {
                assert!(
                    !text.contains(id.as_str()),
                    "{list} by {credential} shows {id}"
                );
            }
        }
    }
    // Nor in B's CSV export, nor do A's `externalId`s replay in B's import.
    for (credential, request) in [
        (
            "JWT",
            app.as_user(&admin_b.access_token, Method::GET, "/leads/export"),
        ),
        (
            "API key",
            app.with_key(&key_b, Method::GET, "/leads/export"),
        ),
    ] {
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.unwrap();
        for id in objects.values() {
            assert!(
                !text.contains(id.as_str()),
                "/leads/export by {credential} shows {id}"
            );
        }
    }
    let import = expect_status(
        app.with_key(&key_b, Method::POST, "/leads/import")
            .header("content-type", "text/csv")
            .body("name,externalId\nB's other Jane,shared-1\n")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    // B already has its own `shared-1` from the batch above: a replay of it.
    assert_eq!(import["data"]["replayed"], 1, "{import}");

    // And A's objects still exist for A.
    let res = app
        .as_user(
            &admin_a.access_token,
            Method::GET,
            &format!("/users/{}", objects["/users"]),
        )
        .send()
        .await
        .unwrap();
    expect_status(res, StatusCode::OK).await;
}
