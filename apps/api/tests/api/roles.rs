//! The permission matrix of docs/security.md, cell by cell, and API keys.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, expect_error, expect_status, spawn_app};

#[tokio::test]
async fn the_role_matrix_for_users_keys_and_organizations() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with_admin("acme").await;
    let manager = app.add_user(&admin, "manager1", "manager").await;
    let agent = app.add_user(&admin, "agent1", "agent").await;
    let (other, _) = app.org_with_admin("other").await;
    let org_path = format!("/organizations/{}", org["id"].as_str().unwrap());
    let other_path = format!("/organizations/{}", other["id"].as_str().unwrap());

    let call = |token: &str, method: Method, path: &str, body: Option<serde_json::Value>| {
        let req = app.as_user(token, method, path);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        async move { req.send().await.unwrap().status() }
    };
    let new_user = |name: &str, role: &str| json!({"username": name, "email": format!("{name}@acme.test"), "password": PASSWORD, "role": role});

    // Users.
    assert_eq!(
        call(&admin.access_token, Method::GET, "/users", None).await,
        StatusCode::OK
    );
    assert_eq!(
        call(&manager.access_token, Method::GET, "/users", None).await,
        StatusCode::OK
    );
    assert_eq!(
        call(&agent.access_token, Method::GET, "/users", None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &agent.access_token,
            Method::GET,
            &format!("/users/{}", agent.id()),
            None
        )
        .await,
        StatusCode::OK,
        "an agent reads itself"
    );
    assert_eq!(
        call(
            &agent.access_token,
            Method::GET,
            &format!("/users/{}", manager.id()),
            None
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &admin.access_token,
            Method::POST,
            "/users",
            Some(new_user("user1", "manager"))
        )
        .await,
        StatusCode::CREATED
    );
    assert_eq!(
        call(
            &admin.access_token,
            Method::POST,
            "/users",
            Some(new_user("user2", "super_admin"))
        )
        .await,
        StatusCode::FORBIDDEN,
        "nobody grants above their own"
    );
    assert_eq!(
        call(
            &manager.access_token,
            Method::POST,
            "/users",
            Some(new_user("user3", "agent"))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &agent.access_token,
            Method::POST,
            "/users",
            Some(new_user("user4", "agent"))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &manager.access_token,
            Method::PUT,
            &format!("/users/{}", agent.id()),
            Some(json!({"role": "manager"}))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &agent.access_token,
            Method::PUT,
            &format!("/users/{}", agent.id()),
            Some(json!({"role": "admin"}))
        )
        .await,
        StatusCode::FORBIDDEN,
        "no self-promotion"
    );
    assert_eq!(
        call(
            &agent.access_token,
            Method::GET,
            &format!("{org_path}/stats"),
            None
        )
        .await,
        StatusCode::OK,
        "agents read their org"
    );
    assert_eq!(
        call(
            &admin.access_token,
            Method::PUT,
            &format!("/users/{}", agent.id()),
            Some(json!({"role": "manager"}))
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        call(&agent.access_token, Method::GET, "/auth/me", None).await,
        StatusCode::UNAUTHORIZED,
        "a role change ends the user's sign-in"
    );
    assert_eq!(
        call(
            &admin.access_token,
            Method::DELETE,
            &format!("/users/{}", admin.id()),
            None
        )
        .await,
        StatusCode::FORBIDDEN,
        "no self lock-out"
    );

    // API keys.
    assert_eq!(
        call(&admin.access_token, Method::GET, "/api-keys", None).await,
        StatusCode::OK
    );
    assert_eq!(
        call(&manager.access_token, Method::GET, "/api-keys", None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &manager.access_token,
            Method::POST,
            "/api-keys",
            Some(json!({"name": "k", "role": "agent"}))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &admin.access_token,
            Method::POST,
            "/api-keys",
            Some(json!({"name": "k", "role": "super_admin"}))
        )
        .await,
        StatusCode::FORBIDDEN
    );

    // Organizations.
    assert_eq!(
        call(
            &admin.access_token,
            Method::POST,
            "/organizations",
            Some(json!({"name": "mine-now"}))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&admin.access_token, Method::GET, &org_path, None).await,
        StatusCode::OK
    );
    assert_eq!(
        call(&admin.access_token, Method::GET, &other_path, None).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(
            &admin.access_token,
            Method::PUT,
            &org_path,
            Some(json!({"displayName": "ACME"}))
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &admin.access_token,
            Method::PUT,
            &org_path,
            Some(json!({"tier": "enterprise"}))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &manager.access_token,
            Method::PUT,
            &org_path,
            Some(json!({"displayName": "X"}))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&admin.access_token, Method::DELETE, &org_path, None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &admin.access_token,
            Method::POST,
            &format!("{org_path}/activate"),
            None
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let list = expect_status(
        app.as_user(&admin.access_token, Method::GET, "/organizations")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        list["pagination"]["total"], 1,
        "an admin lists only its own organization"
    );
    assert_eq!(list["data"][0]["id"], org["id"]);
}

#[tokio::test]
async fn only_super_admins_switch_organizations_with_x_org_id() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with_admin("acme").await;
    let (other, _) = app.org_with_admin("other").await;
    // A super admin (the dev key) acts inside acme: acme's users.
    let res = app
        .dev(Method::GET, "/users")
        .header("x-org-id", org["id"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let body = expect_status(res, StatusCode::OK).await;
    assert_eq!(body["data"][0]["orgId"], org["id"]);
    // An admin naming another organization is refused; naming its own is fine.
    let res = app
        .as_user(&admin.access_token, Method::GET, "/users")
        .header("x-org-id", other["id"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let res = app
        .as_user(&admin.access_token, Method::GET, "/users")
        .header("x-org-id", org["id"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_status(res, StatusCode::OK).await;
    // An unknown organization.
    let res = app
        .dev(Method::GET, "/users")
        .header("x-org-id", "org_missing")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn api_keys_are_shown_once_and_can_be_rotated_and_revoked() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let (key, secret) = app.add_api_key(&admin, "manager").await;
    assert!(secret.starts_with("lr_"));
    assert_eq!(key["role"], "manager");
    assert!(secret.contains(key["prefix"].as_str().unwrap()));

    // The secret never appears again.
    let list = expect_status(
        app.as_user(&admin.access_token, Method::GET, "/api-keys")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(!list.to_string().contains(&secret));
    assert_eq!(list["data"][0]["id"], key["id"]);

    // The key works, as a manager of its organization.
    let users = expect_status(
        app.with_key(&secret, Method::GET, "/users")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(users["pagination"]["total"], 1);
    expect_error(
        app.with_key(&secret, Method::POST, "/api-keys")
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;

    // Rotate: the old secret dies, the new one works.
    let path = format!("/api-keys/{}", key["id"].as_str().unwrap());
    let rotated = expect_status(
        app.as_user(&admin.access_token, Method::POST, &format!("{path}/rotate"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let new_secret = rotated["data"]["key"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    expect_error(
        app.with_key(&secret, Method::GET, "/users")
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    expect_status(
        app.with_key(&new_secret, Method::GET, "/users")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;

    // Revoke: refused from now on.
    let revoked = expect_status(
        app.as_user(&admin.access_token, Method::DELETE, &path)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(revoked["data"]["revokedAt"].is_string());
    expect_error(
        app.with_key(&new_secret, Method::GET, "/users")
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    // A tampered key with a real prefix.
    let forged = format!("{}x", &new_secret[..new_secret.len() - 1]);
    expect_error(
        app.with_key(&forged, Method::GET, "/users")
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
}

#[tokio::test]
async fn users_change_their_own_password_with_the_current_one() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let agent = app.add_user(&admin, "agent1", "agent").await;
    let path = format!("/users/{}", agent.id());
    let put = |token: &str, body: serde_json::Value| {
        app.as_user(token, Method::PUT, &path).json(&body).send()
    };

    expect_error(
        put(
            &agent.access_token,
            json!({"password": "a-brand-new-passphrase"}),
        )
        .await
        .unwrap(),
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    )
    .await;
    expect_error(
        put(
            &agent.access_token,
            json!({"password": "a-brand-new-passphrase", "currentPassword": "wrong"}),
        )
        .await
        .unwrap(),
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    )
    .await;
    expect_error(
        put(
            &admin.access_token,
            json!({"password": "a-brand-new-passphrase", "currentPassword": PASSWORD}),
        )
        .await
        .unwrap(),
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    expect_status(
        put(
            &agent.access_token,
            json!({"password": "a-brand-new-passphrase", "currentPassword": PASSWORD}),
        )
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;

    let email = agent.user["email"].as_str().unwrap();
    let old = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": email, "password": "a-brand-new-passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(new.status(), StatusCode::OK);
    // Earlier refresh tokens were revoked with the change.
    let res = app
        .anonymous(Method::POST, "/auth/refresh")
        .json(&json!({"refreshToken": agent.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
