//! `POST /leads/batch`: many leads, one transaction, one result each.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ann_and_bob_get_every_lead, call, expect_invalid_field, expect_status, ok, spawn_app,
};

#[tokio::test]
async fn a_batch_routes_its_leads_in_order_and_answers_for_each() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let (agents, _, _) = ann_and_bob_get_every_lead(&app, &admin, "All", "all").await;
    // Stored before the batch: the batch replays it.
    let earlier = ok(
        &app,
        &admin,
        Method::POST,
        "/leads",
        Some(json!({"name": "Earlier", "externalId": "crm-1"})),
    )
    .await;
    let leads = json!([
        {"name": "L0", "externalId": "crm-2"},
        {"name": "L1"},
        {"nome": "typo"},
        {"name": "L3", "externalId": "crm-1"},
        {"name": "L4", "score": 101},
        {"name": "L5", "externalId": "crm-2"},
        {"name": "L6"},
        "not an object",
    ]);
    let body = ok(
        &app,
        &admin,
        Method::POST,
        "/leads/batch",
        Some(json!({"leads": leads})),
    )
    .await;
    let results = body["data"]["results"].as_array().unwrap();
    let statuses: Vec<i64> = results
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 201, 400, 200, 400, 200, 201, 400], "{body}");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_eq!(body["data"]["created"], 3);
    assert_eq!(body["data"]["replayed"], 2);
    assert_eq!(body["data"]["failed"], 3);
    // Each invalid lead names its field.
    assert_eq!(results[2]["error"]["details"][0]["field"], "nome");
    assert_eq!(results[4]["error"]["details"][0]["field"], "score");
    assert!(results[2]["lead"].is_null());
    // Replays: the stored lead, and the one created earlier in the batch.
    assert_eq!(results[3]["lead"]["id"], earlier["data"]["lead"]["id"]);
    assert_eq!(results[5]["lead"]["id"], results[0]["lead"]["id"]);
    // In order through the rotation: Earlier went to Ann, then Bob, Ann, Bob.
    let got: Vec<&str> = [0, 1, 6]
        .iter()
        .map(|&i| results[i]["proposal"]["agentId"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [agents[1].as_str(), agents[0].as_str(), agents[1].as_str()]
    );
    // Stored as the results say, events included.
    let listed = ok(&app, &admin, Method::GET, "/leads?limit=100", None).await;
    assert_eq!(listed["pagination"]["total"], 4);
    let created = app
        .count("SELECT COUNT(*) FROM events WHERE type = 'lead.created'")
        .await;
    assert_eq!(created, 4);
    app.assert_counters_match_rows().await;
}

#[tokio::test]
async fn a_batch_is_one_to_a_thousand_leads() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    for leads in [json!([]), Value::Array(vec![json!({"name": "x"}); 1001])] {
        let res = call(
            &app,
            &admin,
            Method::POST,
            "/leads/batch",
            Some(json!({"leads": leads})),
        )
        .await;
        expect_invalid_field(res, "leads").await;
    }
    let res = call(&app, &admin, Method::POST, "/leads/batch", Some(json!({}))).await;
    expect_invalid_field(res, "leads").await;
    // A thousand leads, with their custom fields, fit in the body limit;
    // routed, each writes three events, and a webhook endpoint gets them all.
    ann_and_bob_get_every_lead(&app, &admin, "All", "all").await;
    ok(
        &app,
        &admin,
        Method::POST,
        "/webhooks",
        Some(json!({"url": "https://hooks.example.com/all", "events": ["*"]})),
    )
    .await;
    let leads: Vec<Value> = (0..1000)
        .map(|i| json!({"name": format!("Lead {i}"), "email": format!("l{i}@example.com"), "fields": {"note": "x".repeat(200)}}))
        .collect();
    let body = expect_status(
        call(
            &app,
            &admin,
            Method::POST,
            "/leads/batch",
            Some(json!({"leads": leads})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["data"]["created"], 1000);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM leads").await,
        1000,
        "every lead stored"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE type LIKE 'lead.%' OR type LIKE 'proposal.%'")
            .await,
        3000
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        3000
    );
    app.assert_counters_match_rows().await;
}
