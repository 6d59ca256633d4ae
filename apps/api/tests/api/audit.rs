//! The events written with every routing change: a lead's timeline, the
//! audit trail with its filters and cursor, who may read it, and that a
//! refused change writes no event.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, expect_error, expect_status, spawn_app};

async fn call(
    app: &TestApp,
    who: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let req = app.as_user(&who.access_token, method, path);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    req.send().await.unwrap()
}

async fn ok(
    app: &TestApp,
    who: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let res = call(app, who, method, path, body).await;
    let status = res.status();
    assert!(
        status.is_success(),
        "{path}: {status} {}",
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

fn types(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// Two agents in a round-robin pool every lead goes to; returns their ids.
async fn two_agents_in_a_pool(app: &TestApp, admin: &Session) -> (String, String) {
    let mut ids = Vec::new();
    for name in ["Ann", "Bob"] {
        let agent = ok(
            app,
            admin,
            Method::POST,
            "/agents",
            Some(json!({"name": name, "email": format!("{name}@acme.test")})),
        )
        .await;
        ids.push(agent["data"]["id"].as_str().unwrap().to_owned());
    }
    let pool = ok(
        app,
        admin,
        Method::POST,
        "/routing/pools",
        Some(json!({"name": "all", "method": "round_robin", "memberIds": ids})),
    )
    .await;
    ok(
        app,
        admin,
        Method::POST,
        "/routing/rules",
        Some(json!({"name": "all", "priority": 1, "conditions": [], "poolId": pool["data"]["id"]})),
    )
    .await;
    (ids[0].clone(), ids[1].clone())
}

#[tokio::test]
async fn a_lead_s_timeline_tells_its_story_in_order_with_who_did_what() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let manager = app.add_user(&admin, "manny", "manager").await;
    let (ann, bob) = two_agents_in_a_pool(&app, &admin).await;

    let routed = ok(
        &app,
        &admin,
        Method::POST,
        "/leads",
        Some(json!({"name": "Jane", "externalId": "f-1"})),
    )
    .await;
    let lead = routed["data"]["lead"]["id"].as_str().unwrap().to_owned();
    let first = routed["data"]["proposal"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A replay changes nothing and records nothing.
    ok(
        &app,
        &admin,
        Method::POST,
        "/leads",
        Some(json!({"name": "Jane", "externalId": "f-1"})),
    )
    .await;
    let rejected = ok(
        &app,
        &manager,
        Method::POST,
        &format!("/manager/proposals/{first}/reject"),
        Some(json!({"note": "on holiday"})),
    )
    .await;
    let second = rejected["data"]["proposal"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app,
        &manager,
        Method::POST,
        &format!("/manager/proposals/{second}/approve"),
        None,
    )
    .await;
    ok(
        &app,
        &admin,
        Method::PUT,
        &format!("/leads/{lead}"),
        Some(json!({"status": "contacted", "phone": "+33 1 23"})),
    )
    .await;

    let timeline = ok(
        &app,
        &manager,
        Method::GET,
        &format!("/leads/{lead}/timeline"),
        None,
    )
    .await;
    let events = &timeline["data"];
    assert_eq!(
        types(events),
        [
            "lead.created",
            "proposal.created",
            "lead.routed",
            "proposal.rejected",
            "proposal.created",
            "lead.routed",
            "proposal.approved",
            "lead.assigned",
            "lead.status_changed",
            "lead.updated",
        ]
    );
    let e = events.as_array().unwrap();
    assert_eq!(e[1]["subject"], json!({"type": "proposal", "id": first}));
    assert_eq!(e[1]["data"]["agentId"], ann.as_str());
    assert_eq!(
        e[1]["data"]["trace"][0]["reason"],
        "selected: first in rotation"
    );
    assert_eq!(e[3]["data"]["note"], "on holiday");
    assert_eq!(e[3]["actor"]["type"], "user");
    assert_eq!(e[3]["actor"]["id"], manager.user["id"]);
    assert_eq!(e[4]["data"]["agentId"], bob.as_str());
    assert_eq!(e[7]["data"]["agentId"], bob.as_str());
    assert_eq!(e[8]["data"], json!({"from": "assigned", "to": "contacted"}));
    assert_eq!(
        e[9]["data"]["changes"],
        json!({"phone": {"from": null, "to": "+33 1 23"}})
    );
    assert_eq!(e[0]["actor"]["id"], admin.user["id"]);
    for event in e {
        assert_eq!(event["orgId"], admin.user["orgId"]);
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    }
}

#[tokio::test]
async fn the_audit_trail_pages_by_cursor_filters_and_is_for_managers_and_admins() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let agent = app.add_user(&admin, "agnes", "agent").await;
    two_agents_in_a_pool(&app, &admin).await;
    for i in 0..3 {
        ok(
            &app,
            &admin,
            Method::POST,
            "/leads",
            Some(json!({"name": format!("Lead {i}")})),
        )
        .await;
    }
    // 3 leads × (lead.created, proposal.created, lead.routed).
    let all = ok(&app, &admin, Method::GET, "/audit", None).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 9);
    assert_eq!(all["pagination"], json!({"limit": 100, "nextCursor": null}));
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let mut newest_first = ids.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first);

    // Pages of 4 by cursor: every event once, in order, whatever is added meanwhile.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/audit?limit=4&cursor={c}"),
            None => "/audit?limit=4".to_owned(),
        };
        let page = ok(&app, &admin, Method::GET, &path, None).await;
        for e in page["data"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_owned());
        }
        if seen.len() == 4 {
            // A new lead after the first page appears before it, never inside a later one.
            ok(
                &app,
                &admin,
                Method::POST,
                "/leads",
                Some(json!({"name": "Late"})),
            )
            .await;
        }
        match page["pagination"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let proposals = ok(&app, &admin, Method::GET, "/audit?type=proposal.*", None).await;
    assert_eq!(types(&proposals["data"]), ["proposal.created"; 4]);
    let exact = ok(
        &app,
        &admin,
        Method::GET,
        "/audit?type=lead.created&limit=2",
        None,
    )
    .await;
    assert_eq!(types(&exact["data"]), ["lead.created"; 2]);
    let subject = proposals["data"][0]["subject"]["id"].as_str().unwrap();
    let about = ok(
        &app,
        &admin,
        Method::GET,
        &format!("/audit?subjectId={subject}"),
        None,
    )
    .await;
    assert_eq!(about["data"].as_array().unwrap().len(), 1);
    let by_admin = admin.user["id"].as_str().unwrap();
    let by = ok(
        &app,
        &admin,
        Method::GET,
        &format!("/audit?actorId={by_admin}"),
        None,
    )
    .await;
    assert_eq!(by["data"].as_array().unwrap().len(), 12);
    let future = ok(
        &app,
        &admin,
        Method::GET,
        "/audit?from=2999-01-01T00:00:00Z",
        None,
    )
    .await;
    assert_eq!(future["data"], json!([]));

    expect_error(
        call(&app, &agent, Method::GET, "/audit", None).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    for bad in [
        "/audit?type=Bad Type",
        "/audit?cursor=lead_123",
        "/audit?limit=0",
        "/audit?limit=501",
        "/audit?orgId=x",
    ] {
        expect_status(
            call(&app, &admin, Method::GET, bad, None).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
}

#[tokio::test]
async fn a_refused_review_writes_no_event() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    two_agents_in_a_pool(&app, &admin).await;
    let routed = ok(
        &app,
        &admin,
        Method::POST,
        "/leads",
        Some(json!({"name": "Jane"})),
    )
    .await;
    let proposal = routed["data"]["proposal"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = ok(&app, &admin, Method::GET, "/audit", None).await;

    let bad = call(
        &app,
        &admin,
        Method::POST,
        &format!("/manager/proposals/{proposal}/reject"),
        Some(json!({"reassignTo": "agt_0000000000000000000000000000dead"})),
    )
    .await;
    expect_status(bad, StatusCode::BAD_REQUEST).await;
    let after = ok(&app, &admin, Method::GET, "/audit", None).await;
    assert_eq!(after["data"], before["data"]);
}
