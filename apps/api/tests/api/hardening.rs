//! Regression tests of attack findings: each failed before its fix.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_error, expect_status, spawn_app};

async fn send(
    app: &TestApp,
    who: &Session,
    method: Method,
    path: &str,
    body: Value,
) -> reqwest::Response {
    app.as_user(&who.access_token, method, path)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// One agent record per name, linked to the user of the same name when
/// given, in a round-robin pool every lead goes to.
async fn agents_in_a_pool(
    app: &TestApp,
    admin: &Session,
    agents: &[(&str, Option<&Session>)],
) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, user) in agents {
        let mut body = json!({"name": name, "email": format!("{name}@acme.test")});
        if let Some(user) = user {
            body["userId"] = user.user["id"].clone();
        }
        let agent = expect_status(
            send(app, admin, Method::POST, "/agents", body).await,
            StatusCode::CREATED,
        )
        .await;
        ids.push(agent["data"]["id"].as_str().unwrap().to_owned());
    }
    let pool = expect_status(
        send(
            app,
            admin,
            Method::POST,
            "/routing/pools",
            json!({"name": "all", "method": "round_robin", "memberIds": ids}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect_status(
        send(
            app,
            admin,
            Method::POST,
            "/routing/rules",
            json!({"name": "all", "priority": 1, "conditions": [], "poolId": pool["data"]["id"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    ids
}

#[tokio::test]
async fn an_agent_cannot_read_someone_else_s_lead_by_replaying_its_external_id() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let ann = app.add_user(&admin, "ann", "agent").await;
    let eve = app.add_user(&admin, "eve", "agent").await;
    agents_in_a_pool(&app, &admin, &[("ann", Some(&ann)), ("eve", Some(&eve))]).await;
    let (_, agent_key) = app.add_api_key(&admin, "agent").await;

    let lead = json!({"name": "Jane Secret", "email": "jane@secret.test", "externalId": "crm-7"});
    let routed = expect_status(
        send(&app, &admin, Method::POST, "/leads", lead.clone()).await,
        StatusCode::CREATED,
    )
    .await;
    let proposal = routed["data"]["proposal"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_status(
        send(
            &app,
            &admin,
            Method::POST,
            &format!("/manager/proposals/{proposal}/approve"),
            json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // Eve's own credential and an agent-role key: a conflict, and nothing of the lead.
    for res in [
        send(&app, &eve, Method::POST, "/leads", lead.clone()).await,
        app.with_key(&agent_key, Method::POST, "/leads")
            .json(&lead)
            .send()
            .await
            .unwrap(),
    ] {
        let body = expect_error(res, StatusCode::CONFLICT, "DUPLICATE_EXTERNAL_ID").await;
        assert!(!body.to_string().contains("Jane"), "{body}");
        assert!(!body.to_string().contains("secret.test"), "{body}");
    }
    // Ann owns it: her replay shows it, as her read does.
    let replay = expect_status(
        send(&app, &ann, Method::POST, "/leads", lead).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replay["data"]["lead"]["id"], routed["data"]["lead"]["id"]);
}

#[tokio::test]
async fn a_proposal_for_an_agent_deactivated_since_is_not_approved() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let ids = agents_in_a_pool(&app, &admin, &[("ann", None), ("bob", None)]).await;
    let routed = expect_status(
        send(
            &app,
            &admin,
            Method::POST,
            "/leads",
            json!({"name": "Jane"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let proposal = routed["data"]["proposal"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(routed["data"]["proposal"]["agentId"], ids[0].as_str());
    expect_status(
        app.as_user(
            &admin.access_token,
            Method::DELETE,
            &format!("/agents/{}", ids[0]),
        )
        .send()
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;

    let approve = send(
        &app,
        &admin,
        Method::POST,
        &format!("/manager/proposals/{proposal}/approve"),
        json!({}),
    )
    .await;
    expect_error(approve, StatusCode::CONFLICT, "AGENT_INACTIVE").await;
    let still = expect_status(
        app.as_user(
            &admin.access_token,
            Method::GET,
            &format!("/manager/proposals/{proposal}"),
        )
        .send()
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["data"]["status"], "pending");
    // Rejecting routes it to someone who still works.
    let next = expect_status(
        send(
            &app,
            &admin,
            Method::POST,
            &format!("/manager/proposals/{proposal}/reject"),
            json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(next["data"]["proposal"]["agentId"], ids[1].as_str());
}

#[tokio::test]
async fn settings_cannot_grow_without_bound() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with_admin("acme").await;
    let path = format!("/organizations/{}", org["id"].as_str().unwrap());
    let huge = json!({"settings": {"brand": {"logo": "x".repeat(20_000)}}});
    let body = expect_status(
        send(&app, &admin, Method::PUT, &path, huge).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(body["error"]["details"][0]["field"], "settings");

    let mut refused = false;
    for i in 0..10 {
        let patch = json!({"settings": {format!("k{i}"): "y".repeat(4_000)}});
        let res = send(&app, &admin, Method::PUT, &path, patch).await;
        if res.status() == StatusCode::BAD_REQUEST {
            refused = true;
            break;
        }
        expect_status(res, StatusCode::OK).await;
    }
    assert!(refused, "merge patches stop at the limit");
    let stored = expect_status(
        app.as_user(&admin.access_token, Method::GET, &path)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(stored["data"]["settings"].to_string().len() <= 16 * 1024);
}
