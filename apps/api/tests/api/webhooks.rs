//! Webhooks: endpoints admins manage, signed deliveries a real receiver
//! verifies, in order per lead, retried after a failure, a 410 that turns
//! an endpoint off, the Slack sentence, test pings and secret rotation, and
//! one organization's events never reaching another's endpoints.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use webhook::signature;

use crate::{
    helpers::{
        Session, TestApp, expect_error, expect_invalid_field, expect_status, ok, spawn_app,
        spawn_app_with,
    },
    receiver::{Received, Receiver},
};

/// Two agents in a round-robin pool every lead goes to: (pool, rule, ann).
async fn routing(app: &TestApp, admin: &Session) -> (Value, Value, String) {
    let (ids, pool, rule) =
        crate::helpers::ann_and_bob_get_every_lead(app, admin, "Inbound", "EMEA").await;
    (pool, rule, ids[0].clone())
}

async fn endpoint(app: &TestApp, admin: &Session, body: Value) -> Value {
    let res = app
        .as_user(&admin.access_token, Method::POST, "/webhooks")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_status(res, StatusCode::CREATED).await["data"].clone()
}

fn verified(r: &Received, secret: &str) -> bool {
    signature::verify(
        secret,
        r.header(signature::SIGNATURE_HEADER),
        &r.body,
        chrono::Utc::now().timestamp(),
        300,
    )
}

#[tokio::test]
async fn signed_deliveries_reach_the_endpoint_in_the_order_of_the_lead_s_story() {
    let app = spawn_app().await;
    let receiver = Receiver::start();
    let (org, admin) = app.org_with_admin("acme").await;
    routing(&app, &admin).await;
    let hook = endpoint(
        &app,
        &admin,
        json!({"url": receiver.url("/all"), "events": ["*"], "description": "everything"}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(hook["format"], "json");
    // The secret is shown once.
    let id = hook["id"].as_str().unwrap();
    let read = ok(&app, &admin, Method::GET, &format!("/webhooks/{id}"), None).await;
    assert!(read["data"].get("secret").is_none() && !read.to_string().contains(&secret));

    let routed = ok(
        &app,
        &admin,
        Method::POST,
        "/leads",
        Some(json!({"name": "Jane"})),
    )
    .await;
    let lead = routed["data"]["lead"]["id"].as_str().unwrap().to_owned();
    let first = routed["data"]["proposal"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app,
        &admin,
        Method::POST,
        &format!("/manager/proposals/{first}/reject"),
        None,
    )
    .await;
    let timeline = ok(
        &app,
        &admin,
        Method::GET,
        &format!("/leads/{lead}/timeline"),
        None,
    )
    .await;
    let story: Vec<String> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(story.len() >= 6, "{story:?}");

    let got = receiver.wait_for("/all", |r| r.len() >= story.len()).await;
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.header(signature::DELIVERY_HEADER))
        .collect();
    assert_eq!(ids, story, "every event of the lead, in order, once");
    for r in &got {
        assert!(
            verified(r, &secret),
            "signature of {}",
            r.header(signature::DELIVERY_HEADER)
        );
        assert!(!verified(r, "whsec_wrong"));
        let body = r.json();
        assert_eq!(body["id"], r.header(signature::DELIVERY_HEADER));
        assert_eq!(body["type"], r.header(signature::EVENT_HEADER));
        assert_eq!(body["orgId"], org["id"]);
        for field in ["createdAt", "actor", "subject", "data"] {
            assert!(body.get(field).is_some(), "{field} in {body}");
        }
        assert_eq!(r.header("content-type"), "application/json");
    }

    // The deliveries list says what happened, once the sender has recorded
    // the last answer (it does so after the receiver has the request).
    let mut rows = Vec::new();
    for _ in 0..50 {
        let deliveries = ok(
            &app,
            &admin,
            Method::GET,
            &format!("/webhooks/{id}/deliveries"),
            None,
        )
        .await;
        rows = deliveries["data"].as_array().unwrap().clone();
        if rows.iter().all(|d| d["status"] != "pending") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows.len(), story.len());
    assert!(
        rows.iter().all(|d| d["status"] == "delivered"
            && d["attempts"] == 1
            && d["attemptLog"][0]["statusCode"] == 200),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_a_410_turns_the_endpoint_off() {
    let app = spawn_app().await;
    let receiver = Receiver::start();
    let (_, admin) = app.org_with_admin("acme").await;
    routing(&app, &admin).await;
    receiver.answer("/flaky", &[500, 503]);
    receiver.answer("/gone", &[410]);
    let flaky = endpoint(
        &app,
        &admin,
        json!({"url": receiver.url("/flaky"), "events": ["lead.created"]}),
    )
    .await;
    let gone = endpoint(
        &app,
        &admin,
        json!({"url": receiver.url("/gone"), "events": ["lead.created"]}),
    )
    .await;
    ok(
        &app,
        &admin,
        Method::POST,
        "/leads",
        Some(json!({"name": "Jane"})),
    )
    .await;

    let got = receiver.wait_for("/flaky", |r| r.len() >= 3).await;
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.header(signature::DELIVERY_HEADER))
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "the same event each time: {ids:?}"
    );
    let flaky_id = flaky["id"].as_str().unwrap();
    let deliveries = loop {
        let d = ok(
            &app,
            &admin,
            Method::GET,
            &format!("/webhooks/{flaky_id}/deliveries"),
            None,
        )
        .await;
        if d["data"][0]["status"] == "delivered" {
            break d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let log: Vec<Value> = deliveries["data"][0]["attemptLog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].clone())
        .collect();
    assert_eq!(
        log,
        [json!(200), json!(503), json!(500)],
        "the latest first"
    );
    assert_eq!(deliveries["data"][0]["attempts"], 3);
    assert_eq!(
        deliveries["data"][0]["attemptLog"][2]["error"],
        "the endpoint answered 500"
    );

    // 410: given up at once, and the endpoint is off, with an event saying so.
    receiver.wait_for("/gone", |r| !r.is_empty()).await;
    let gone_id = gone["id"].as_str().unwrap();
    let off = loop {
        let w = ok(
            &app,
            &admin,
            Method::GET,
            &format!("/webhooks/{gone_id}"),
            None,
        )
        .await;
        if w["data"]["isActive"] == false {
            break w;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        off["data"]["disabledReason"],
        "the endpoint answered 410 Gone"
    );
    let audit = ok(
        &app,
        &admin,
        Method::GET,
        "/audit?type=webhook.disabled",
        None,
    )
    .await;
    assert_eq!(audit["data"][0]["subject"]["id"], gone["id"]);
    // Nothing more goes to a disabled endpoint.
    ok(
        &app,
        &admin,
        Method::POST,
        "/leads",
        Some(json!({"name": "June"})),
    )
    .await;
    receiver.wait_for("/flaky", |r| r.len() >= 4).await;
    assert_eq!(receiver.received("/gone").len(), 1);
    // Turned on again by hand: its failure is forgotten.
    let on = ok(
        &app,
        &admin,
        Method::PUT,
        &format!("/webhooks/{gone_id}"),
        Some(json!({"isActive": true})),
    )
    .await;
    assert_eq!(on["data"]["disabledReason"], Value::Null);
}

#[tokio::test]
async fn a_slack_endpoint_gets_a_sentence() {
    let app = spawn_app().await;
    let receiver = Receiver::start();
    let (_, admin) = app.org_with_admin("acme").await;
    routing(&app, &admin).await;
    endpoint(
        &app,
        &admin,
        json!({"url": receiver.url("/slack"), "events": ["lead.routed"], "format": "slack"}),
    )
    .await;
    ok(
        &app,
        &admin,
        Method::POST,
        "/leads",
        Some(json!({"name": "Jane Doe", "company": "Globex"})),
    )
    .await;
    let got = receiver.wait_for("/slack", |r| !r.is_empty()).await;
    assert_eq!(
        got[0].json(),
        json!({"text": "Lead Jane Doe (Globex) proposed to Ann by rule EMEA → pool Inbound"})
    );
    assert_eq!(got[0].header(signature::EVENT_HEADER), "lead.routed");
}

#[tokio::test]
async fn a_test_ping_and_a_rotated_secret() {
    let app = spawn_app().await;
    let receiver = Receiver::start();
    let (_, admin) = app.org_with_admin("acme").await;
    let hook = endpoint(
        &app,
        &admin,
        json!({"url": receiver.url("/ping"), "events": ["lead.routed"], "isActive": false}),
    )
    .await;
    let id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap().to_owned();
    let res = app
        .as_user(
            &admin.access_token,
            Method::POST,
            &format!("/webhooks/{id}/test"),
        )
        .send()
        .await
        .unwrap();
    let queued = expect_status(res, StatusCode::ACCEPTED).await;
    assert_eq!(queued["data"]["eventType"], "webhook.test");
    let got = receiver.wait_for("/ping", |r| !r.is_empty()).await;
    assert!(
        verified(&got[0], &old),
        "a turned-off endpoint can still be tested"
    );
    assert_eq!(got[0].json()["type"], "webhook.test");

    let rotated = ok(
        &app,
        &admin,
        Method::POST,
        &format!("/webhooks/{id}/rotate-secret"),
        None,
    )
    .await;
    let new = rotated["data"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    ok(
        &app,
        &admin,
        Method::POST,
        &format!("/webhooks/{id}/test"),
        None,
    )
    .await;
    let got = receiver.wait_for("/ping", |r| r.len() >= 2).await;
    assert!(verified(&got[1], &new) && !verified(&got[1], &old));

    let res = app
        .as_user(
            &admin.access_token,
            Method::DELETE,
            &format!("/webhooks/{id}"),
        )
        .send()
        .await
        .unwrap();
    expect_status(res, StatusCode::OK).await;
    expect_error(
        app.as_user(
            &admin.access_token,
            Method::GET,
            &format!("/webhooks/{id}/deliveries"),
        )
        .send()
        .await
        .unwrap(),
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn endpoints_are_validated_and_only_admins_manage_them() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let manager = app.add_user(&admin, "manny", "manager").await;
    expect_error(
        app.as_user(&manager.access_token, Method::GET, "/webhooks")
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    let post = |body: Value| {
        app.as_user(&admin.access_token, Method::POST, "/webhooks")
            .json(&body)
            .send()
    };
    expect_invalid_field(
        post(json!({"url": "ftp://x", "events": ["*"]}))
            .await
            .unwrap(),
        "url",
    )
    .await;
    expect_invalid_field(
        post(json!({"url": "https://example.com", "events": ["lead.routd"]}))
            .await
            .unwrap(),
        "events[0]",
    )
    .await;
    expect_invalid_field(
        post(json!({"url": "https://example.com", "events": []}))
            .await
            .unwrap(),
        "events",
    )
    .await;
    expect_invalid_field(
        post(json!({"url": "https://example.com", "events": ["*"], "format": "xml"}))
            .await
            .unwrap(),
        "format",
    )
    .await;
    let none = ok(&app, &admin, Method::GET, "/webhooks", None).await;
    assert_eq!(none["pagination"]["total"], 0, "nothing written");

    // The production policy (what APP_ENV=production sets): https and
    // public addresses only.
    let prod = spawn_app_with(|s| {
        s.webhooks.allow_http = false;
        s.webhooks.allow_private = false;
    })
    .await;
    let (_, padmin) = prod.org_with_admin("prod").await;
    for url in [
        "http://example.com/h",
        "https://127.0.0.1/h",
        "https://localhost/h",
        "https://169.254.169.254/latest",
        "https://10.0.0.8/h",
    ] {
        let res = prod
            .as_user(&padmin.access_token, Method::POST, "/webhooks")
            .json(&json!({"url": url, "events": ["*"]}))
            .send()
            .await
            .unwrap();
        expect_invalid_field(res, "url").await;
    }
    let res = prod
        .as_user(&padmin.access_token, Method::POST, "/webhooks")
        .json(&json!({"url": "https://hooks.slack.com/services/T/B/X", "events": ["*"]}))
        .send()
        .await
        .unwrap();
    expect_status(res, StatusCode::CREATED).await;
}

#[tokio::test]
async fn one_organization_s_events_never_reach_another_s_endpoints() {
    let app = spawn_app().await;
    let receiver = Receiver::start();
    let (org_a, admin_a) = app.org_with_admin("org-a").await;
    let (org_b, admin_b) = app.org_with_admin("org-b").await;
    for (admin, path) in [(&admin_a, "/a"), (&admin_b, "/b")] {
        routing(&app, admin).await;
        endpoint(
            &app,
            admin,
            json!({"url": receiver.url(path), "events": ["*"]}),
        )
        .await;
    }
    for n in 0..3 {
        ok(
            &app,
            &admin_a,
            Method::POST,
            "/leads",
            Some(json!({"name": format!("A{n}")})),
        )
        .await;
    }
    ok(
        &app,
        &admin_b,
        Method::POST,
        "/leads",
        Some(json!({"name": "B0"})),
    )
    .await;
    let a = receiver.wait_for("/a", |r| r.len() >= 9).await;
    let b = receiver.wait_for("/b", |r| r.len() >= 3).await;
    assert!(a.iter().all(|r| r.json()["orgId"] == org_a["id"]));
    assert!(b.iter().all(|r| r.json()["orgId"] == org_b["id"]));
    // B's admin sees none of A's endpoints.
    let listed = ok(&app, &admin_b, Method::GET, "/webhooks", None).await;
    assert_eq!(listed["pagination"]["total"], 1);
    assert!(!listed.to_string().contains("/a\""));
}

/// Runs `program script secret header < body`; `None` when the program is
/// not installed (the suite needs nothing but Rust).
fn run_verifier(
    program: &str,
    script: &str,
    secret: &str,
    header: &str,
    body: &[u8],
) -> Option<String> {
    use std::io::Write;
    let path = format!(
        "{}/../../docs/webhooks/{script}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = std::process::Command::new(program)
        .args([path.as_str(), secret, header])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} {script} failed");
    Some(String::from_utf8(out.stdout).unwrap().trim().to_owned())
}

#[tokio::test]
async fn the_documented_python_and_node_verifiers_accept_a_real_delivery() {
    let app = spawn_app().await;
    let receiver = Receiver::start();
    let (_, admin) = app.org_with_admin("acme").await;
    let hook = endpoint(
        &app,
        &admin,
        json!({"url": receiver.url("/v"), "events": ["*"]}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap();
    let id = hook["id"].as_str().unwrap();
    ok(
        &app,
        &admin,
        Method::POST,
        &format!("/webhooks/{id}/test"),
        None,
    )
    .await;
    let got = receiver.wait_for("/v", |r| !r.is_empty()).await;
    let header = got[0].header(signature::SIGNATURE_HEADER);
    let readme =
        std::fs::read_to_string(format!("{}/../../README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    for (program, script) in [("python3", "verify.py"), ("node", "verify.js")] {
        let Some(valid) = run_verifier(program, script, secret, header, &got[0].body) else {
            eprintln!("{program} is not installed: its verifier is not tried");
            continue;
        };
        assert_eq!(valid, "valid", "{script}");
        let mut tampered = got[0].body.clone();
        tampered.push(b' ');
        assert_eq!(
            run_verifier(program, script, secret, header, &tampered).unwrap(),
            "invalid"
        );
        assert_eq!(
            run_verifier(program, script, "whsec_other", header, &got[0].body).unwrap(),
            "invalid"
        );
        // The README shows exactly the function that was tried.
        let file = std::fs::read_to_string(format!(
            "{}/../../docs/webhooks/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let function: String = file
            .lines()
            .skip_while(|l| !l.starts_with("def verify") && !l.starts_with("function verify"))
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            readme.contains(&function),
            "README shows the {script} function:\n{function}"
        );
    }
}

/// SSRF at send time: an endpoint saved under a permissive policy whose
/// name resolves to a loopback address gets no connection from a sender
/// with the production policy (the resolver drops non-public addresses),
/// and the attempt says why.
#[tokio::test]
async fn a_name_that_resolves_inside_the_network_gets_no_connection() {
    use std::sync::Arc;

    use lead_routing_api::{
        config::WebhookSettings,
        webhook_sender::{NameSources, Sender},
    };
    use storage::{
        Database, DatabaseSettings, SeaOrmAgentRepository, SeaOrmDeliveryQueue,
        SeaOrmLeadRepository, SeaOrmPoolRepository, SeaOrmRuleRepository,
    };

    // The app itself sends nothing: the strict sender below does.
    let app = spawn_app_with(|s| s.webhooks.sender = false).await;
    let receiver = Receiver::start();
    let (_, admin) = app.org_with_admin("acme").await;
    let port = receiver.base.rsplit(':').next().unwrap().to_owned();
    let hook = endpoint(
        &app,
        &admin,
        json!({"url": format!("http://localhost:{port}/ssrf"), "events": ["*"]}),
    )
    .await;
    let id = hook["id"].as_str().unwrap();
    ok(
        &app,
        &admin,
        Method::POST,
        &format!("/webhooks/{id}/test"),
        None,
    )
    .await;

    let db = Database::connect(&DatabaseSettings::new(app.database_url()))
        .await
        .unwrap();
    let strict = WebhookSettings {
        allow_private: false,
        allow_http: true,
        timeout: std::time::Duration::from_secs(2),
        retry_base: std::time::Duration::from_millis(200),
        sender: true,
    };
    let names = NameSources {
        leads: Arc::new(SeaOrmLeadRepository::new(db.clone())),
        agents: Arc::new(SeaOrmAgentRepository::new(db.clone())),
        pools: Arc::new(SeaOrmPoolRepository::new(db.clone())),
        rules: Arc::new(SeaOrmRuleRepository::new(db.clone())),
    };
    let sender = Sender::new(
        Arc::new(SeaOrmDeliveryQueue::new(db.clone())),
        names,
        &strict,
    );
    assert_eq!(
        sender.pass().await.unwrap(),
        1,
        "the test ping was attempted"
    );
    assert!(
        receiver.received("/ssrf").is_empty(),
        "no connection was made"
    );
    let deliveries = ok(
        &app,
        &admin,
        Method::GET,
        &format!("/webhooks/{id}/deliveries"),
        None,
    )
    .await;
    let attempt = &deliveries["data"][0]["attemptLog"][0];
    assert_eq!(attempt["statusCode"], Value::Null);
    assert!(
        attempt["error"]
            .as_str()
            .unwrap()
            .contains("no public address"),
        "{attempt}"
    );
    assert_eq!(deliveries["data"][0]["status"], "pending", "retried later");
}
