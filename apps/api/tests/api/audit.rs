//! The events written with every routing change: a lead's timeline, the
//! audit trail with its filters and cursor, who may read it, and that a
//! refused change writes no event.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, call, expect_error, expect_status, ok, spawn_app};

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
    let (ids, _, _) = crate::helpers::ann_and_bob_get_every_lead(app, admin, "all", "all").await;
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
    // The setup's 9 (organization.created; user.created and
    // auth.login_succeeded twice; agent.created twice; pool.created;
    // rule.created), then 3 leads × (lead.created, proposal.created,
    // lead.routed).
    let all = ok(&app, &admin, Method::GET, "/audit", None).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 18);
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
    // 4 leads × 3, and the admin's own 7: its registration and sign-in,
    // agnes, two agents, the pool and the rule.
    assert_eq!(by["data"].as_array().unwrap().len(), 19);
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

/// The events of `type` (newest first) as `who` reads them.
async fn audit_of(app: &TestApp, who: &Session, kind: &str) -> Vec<Value> {
    ok(app, who, Method::GET, &format!("/audit?type={kind}"), None).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn configuration_changes_and_sign_ins_are_recorded_field_by_field_without_secrets() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with_admin("acme").await;
    let org_id = org["id"].as_str().unwrap();
    let admin_id = admin.user["id"].as_str().unwrap().to_owned();

    // Agents: created with every field, then only what changed.
    let agent = ok(
        &app,
        &admin,
        Method::POST,
        "/agents",
        Some(json!({"name": "Ann", "email": "ann@acme.test"})),
    )
    .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app,
        &admin,
        Method::PUT,
        &format!("/agents/{agent}"),
        Some(json!({"status": "away", "name": "Ann"})),
    )
    .await;
    ok(
        &app,
        &admin,
        Method::DELETE,
        &format!("/agents/{agent}"),
        None,
    )
    .await;
    let events = audit_of(&app, &admin, "agent.").await;
    assert_eq!(
        types(&json!(events)),
        ["agent.updated", "agent.updated", "agent.created"]
    );
    assert_eq!(
        events[2]["data"]["changes"]["name"],
        json!({"from": null, "to": "Ann"})
    );
    assert_eq!(
        events[1]["data"]["changes"],
        json!({"status": {"from": "available", "to": "away"}})
    );
    assert_eq!(
        events[0]["data"]["changes"],
        json!({"isActive": {"from": true, "to": false}})
    );
    assert!(events.iter().all(|e| e["actor"]["id"] == admin_id.as_str()));
    assert!(
        events
            .iter()
            .all(|e| e["subject"] == json!({"type": "agent", "id": agent}))
    );

    // Pools and rules: created, changed, deleted.
    let other = ok(
        &app,
        &admin,
        Method::POST,
        "/agents",
        Some(json!({"name": "Bob", "email": "bob@acme.test"})),
    )
    .await;
    let pool = ok(
        &app,
        &admin,
        Method::POST,
        "/routing/pools",
        Some(json!({"name": "P", "method": "round_robin", "memberIds": [other["data"]["id"]]})),
    )
    .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rule = ok(
        &app,
        &admin,
        Method::POST,
        "/routing/rules",
        Some(json!({"name": "R", "priority": 1, "conditions": [], "poolId": pool})),
    )
    .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app,
        &admin,
        Method::PUT,
        &format!("/routing/rules/{rule}"),
        Some(json!({"priority": 5})),
    )
    .await;
    ok(
        &app,
        &admin,
        Method::DELETE,
        &format!("/routing/rules/{rule}"),
        None,
    )
    .await;
    ok(
        &app,
        &admin,
        Method::PUT,
        &format!("/routing/pools/{pool}"),
        Some(json!({"method": "weighted"})),
    )
    .await;
    ok(
        &app,
        &admin,
        Method::DELETE,
        &format!("/routing/pools/{pool}"),
        None,
    )
    .await;
    let rules = audit_of(&app, &admin, "rule.").await;
    assert_eq!(
        types(&json!(rules)),
        ["rule.deleted", "rule.updated", "rule.created"]
    );
    assert_eq!(
        rules[1]["data"]["changes"],
        json!({"priority": {"from": 1, "to": 5}})
    );
    assert_eq!(
        rules[0]["data"]["changes"]["name"],
        json!({"from": "R", "to": null})
    );
    let pools = audit_of(&app, &admin, "pool.").await;
    assert_eq!(
        types(&json!(pools)),
        ["pool.deleted", "pool.updated", "pool.created"]
    );
    assert_eq!(
        pools[1]["data"]["changes"],
        json!({"method": {"from": "round_robin", "to": "weighted"}})
    );

    // Settings and the organization itself.
    ok(
        &app,
        &admin,
        Method::PUT,
        &format!("/organizations/{org_id}"),
        Some(json!({"displayName": "Acme Inc", "settings": {"reviewSlaSeconds": 60}})),
    )
    .await;
    let settings = audit_of(&app, &admin, "settings.changed").await;
    assert_eq!(
        settings[0]["data"]["changes"],
        json!({"reviewSlaSeconds": {"from": null, "to": 60}})
    );
    let updated = audit_of(&app, &admin, "organization.updated").await;
    assert_eq!(
        updated[0]["data"]["changes"],
        json!({"displayName": {"from": null, "to": "Acme Inc"}})
    );

    // Users and keys: never a password, a hash or a secret.
    let manager = app.add_user(&admin, "manny", "manager").await;
    ok(
        &app,
        &manager,
        Method::PUT,
        &format!("/users/{}", manager.id()),
        Some(json!({"password": "another long password", "currentPassword": crate::helpers::PASSWORD})),
    )
    .await;
    let (key, secret) = app.add_api_key(&admin, "agent").await;
    let key_id = key["id"].as_str().unwrap();
    let rotated = ok(
        &app,
        &admin,
        Method::POST,
        &format!("/api-keys/{key_id}/rotate"),
        None,
    )
    .await;
    let new_secret = rotated["data"]["key"].as_str().unwrap().to_owned();
    ok(
        &app,
        &admin,
        Method::DELETE,
        &format!("/api-keys/{key_id}"),
        None,
    )
    .await;
    let users = audit_of(&app, &admin, "user.").await;
    assert_eq!(
        types(&json!(users)),
        ["user.updated", "user.created", "user.created"]
    );
    assert_eq!(users[0]["data"]["passwordChanged"], true);
    assert_eq!(users[0]["data"]["changes"], json!({}));
    assert_eq!(users[0]["actor"]["id"], json!(manager.id()));
    let keys = audit_of(&app, &admin, "api_key.").await;
    assert_eq!(
        types(&json!(keys)),
        ["api_key.updated", "api_key.updated", "api_key.created"]
    );
    assert_eq!(keys[1]["data"]["secretRotated"], true);
    assert!(keys[0]["data"]["changes"]["revokedAt"]["to"].is_string());

    // Sign-ins, good and bad.
    let res = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": "admin@acme.test", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    expect_status(res, StatusCode::UNAUTHORIZED).await;
    let failed = audit_of(&app, &admin, "auth.login_failed").await;
    assert_eq!(failed[0]["data"]["reason"], "wrong password");
    assert_eq!(failed[0]["subject"]["id"], json!(admin_id));
    assert!(
        !audit_of(&app, &admin, "auth.login_succeeded")
            .await
            .is_empty()
    );

    let everything = ok(&app, &admin, Method::GET, "/audit?limit=500", None)
        .await
        .to_string();
    for secret in [
        secret.as_str(),
        new_secret.as_str(),
        crate::helpers::PASSWORD,
        "another long password",
        "argon2",
    ] {
        assert!(
            !everything.contains(secret),
            "the audit trail shows {secret}"
        );
    }
    // Managers read the routing configuration's events, not the rest.
    let seen = ok(
        &app,
        &manager_session(&app, &manager).await,
        Method::GET,
        "/audit?limit=500",
        None,
    )
    .await;
    let kinds = types(&seen["data"]);
    assert!(kinds.iter().any(|k| k == "agent.created"));
    assert!(kinds.iter().all(|k| !k.starts_with("user.")
        && !k.starts_with("api_key.")
        && !k.starts_with("auth.")
        && !k.starts_with("settings.")
        && !k.starts_with("organization.")));
}

/// The manager signed in again with its new password.
async fn manager_session(app: &TestApp, manager: &Session) -> Session {
    let res = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": manager.user["email"], "password": "another long password"}))
        .send()
        .await
        .unwrap();
    let body = expect_status(res, StatusCode::OK).await;
    Session {
        user: body["user"].clone(),
        access_token: body["tokens"]["accessToken"].as_str().unwrap().to_owned(),
        refresh_token: body["tokens"]["refreshToken"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn throttled_sign_ins_and_password_checks_reach_the_audit_trail_once_a_minute() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let admin_id = admin.user["id"].as_str().unwrap().to_owned();
    let mut throttled = 0;
    for _ in 0..9 {
        let res = app
            .anonymous(Method::POST, "/auth/login")
            .json(&json!({"email": "admin@acme.test", "password": "not the password"}))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
        }
    }
    assert!(throttled >= 3, "{throttled} refusals");
    let events = audit_of(&app, &admin, "auth.login_throttled").await;
    assert_eq!(
        events.len(),
        1,
        "one event a minute, not one per refusal: {events:?}"
    );
    assert_eq!(events[0]["subject"]["id"], json!(admin_id));
    assert_eq!(events[0]["data"]["address"], "127.0.0.1");

    // `currentPassword` guesses are throttled and recorded the same way.
    let agent = app.add_user(&admin, "guessed", "agent").await;
    let path = format!("/users/{}", agent.id());
    let mut refused = false;
    for _ in 0..7 {
        let res = app
            .as_user(&agent.access_token, Method::PUT, &path)
            .json(&json!({"password": "a brand new password", "currentPassword": "a wrong guess!"}))
            .send()
            .await
            .unwrap();
        refused |= res.status() == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(refused, "the sixth guess is throttled");
    let events = audit_of(&app, &admin, "auth.login_throttled").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["subject"]["id"], json!(agent.id()));
}

#[tokio::test]
async fn an_api_key_used_from_a_new_address_is_recorded_once_per_address() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let (key, secret) = app.add_api_key(&admin, "manager").await;
    for _ in 0..3 {
        let res = app
            .with_key(&secret, Method::GET, "/agents")
            .send()
            .await
            .unwrap();
        expect_status(res, StatusCode::OK).await;
    }
    let events = audit_of(&app, &admin, "api_key.used_from_new_address").await;
    assert_eq!(
        events.len(),
        1,
        "the first use from 127.0.0.1, then nothing: {events:?}"
    );
    assert_eq!(events[0]["subject"]["id"], key["id"]);
    assert_eq!(events[0]["data"]["address"], "127.0.0.1");
    assert_eq!(events[0]["actor"]["id"], key["id"], "the key itself acted");
}
