//! Liveness, readiness, unknown routes and methods.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{expect_error, expect_status, spawn_app};

#[tokio::test]
async fn health_and_ready_need_no_credentials() {
    let app = spawn_app().await;
    let health = expect_status(
        app.anonymous(Method::GET, "/health").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(health, json!({"ok": true, "data": {"status": "ok"}}));
    let ready = expect_status(
        app.anonymous(Method::GET, "/ready").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(ready, json!({"ok": true, "data": {"status": "ready"}}));
}

#[tokio::test]
async fn ready_fails_while_migrations_are_pending() {
    use migration::{Migrator, MigratorTrait};

    let app = spawn_app().await;
    let conn = sea_orm::Database::connect(app.database_url())
        .await
        .unwrap();
    Migrator::down(&conn, Some(1)).await.unwrap();
    let res = app.anonymous(Method::GET, "/ready").send().await.unwrap();
    let body = expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "MIGRATIONS_PENDING").await;
    assert!(
        body.to_string().contains("1 migration(s) pending"),
        "{body}"
    );
    Migrator::up(&conn, None).await.unwrap();
    expect_status(
        app.anonymous(Method::GET, "/ready").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    let _ = conn.close().await;
}

#[tokio::test]
async fn health_ignores_invalid_credentials() {
    let app = spawn_app().await;
    let res = app
        .anonymous(Method::GET, "/health")
        .header("x-api-key", "nope")
        .send()
        .await
        .unwrap();
    expect_status(res, StatusCode::OK).await;
}

#[tokio::test]
async fn an_unknown_route_is_a_404_envelope() {
    let app = spawn_app().await;
    expect_error(
        app.get("/no/such/route").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_method_on_a_known_route_is_a_405_envelope() {
    let app = spawn_app().await;
    let res = app
        .dev(Method::PATCH, "/organizations")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn head_answers_wherever_get_does_with_headers_and_no_body() {
    let app = spawn_app().await;
    for path in ["/health", "/openapi.json", "/admin/"] {
        let get = app.anonymous(Method::GET, path).send().await.unwrap();
        let head = app.anonymous(Method::HEAD, path).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "{path}: HEAD has no body"
        );
    }
}

#[tokio::test]
async fn the_root_sends_a_browser_to_the_console() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/admin/");
}
