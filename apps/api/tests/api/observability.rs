//! Request ids, CORS and metrics.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{expect_status, spawn_app, spawn_app_with};

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sane_client_one_is_kept() {
    let app = spawn_app().await;
    let res = app.anonymous(Method::GET, "/health").send().await.unwrap();
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let res = app
        .anonymous(Method::GET, "/no/such")
        .header("x-request-id", "client-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        res.headers()["x-request-id"],
        "client-abc-123",
        "errors carry it too"
    );
    let res = app
        .anonymous(Method::GET, "/health")
        .header("x-request-id", "x".repeat(200))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["x-request-id"].len(),
        36,
        "an unusable id is replaced"
    );
}

#[tokio::test]
async fn cors_is_closed_by_default() {
    let app = spawn_app().await;
    let res = app
        .anonymous(Method::OPTIONS, "/organizations")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = spawn_app_with(|s| s.cors_origins = vec!["https://app.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        app.anonymous(Method::OPTIONS, "/organizations")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_leads_by_outcome() {
    let app = spawn_app().await;
    let org = app.create_org("metered").await;
    let id = org["id"].as_str().unwrap();
    expect_status(
        app.get(&format!("/organizations/{id}")).await,
        StatusCode::OK,
    )
    .await;
    let res = app
        .dev(Method::POST, "/leads")
        .header("x-org-id", id)
        .json(&json!({"name": "Jane"}))
        .send()
        .await
        .unwrap();
    expect_status(res, StatusCode::CREATED).await;
    let text = app
        .anonymous(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/organizations/{id}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"leads_routed_total{outcome="unrouted"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(r#"db_pool_connections{state="open"}"#),
        "{text}"
    );
    assert!(!text.contains(id), "no organization in any label");
}
