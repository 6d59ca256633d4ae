//! Registration, sign-in, tokens, refresh sessions and lock-out (seed
//! "Testing Multi-Org Setup" steps 2-5).

use base64::Engine;
use jsonwebtoken::{EncodingKey, Header, encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    JWT_SECRET, PASSWORD, expect_error, expect_invalid_field, expect_status, spawn_app,
};

#[tokio::test]
async fn the_seed_walkthrough_steps_1_to_5() {
    let app = spawn_app().await;
    // Step 1: an organization.
    let org = app
        .create_org_with(json!({"name": "test-org-2", "displayName": "Test Organization 2", "email": "admin@testorg2.com", "tier": "standard"}))
        .await;
    let org_id = org["id"].as_str().unwrap();

    // Step 2: its first user registers without credentials.
    let res = app
        .anonymous(Method::POST, "/auth/register")
        .json(&json!({"username": "admin2", "email": "admin@testorg2.com", "password": "SecurePass123!", "role": "admin", "orgId": org_id}))
        .send()
        .await
        .unwrap();
    let body = expect_status(res, StatusCode::CREATED).await;
    let user = &body["data"];
    assert_eq!(user["username"], "admin2");
    assert_eq!(user["role"], "admin");
    assert_eq!(user["orgId"], org_id);
    let text = body.to_string().to_lowercase();
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "no password in {body}"
    );

    // Step 3: sign in; the JWT carries the organization.
    let res = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": "admin@testorg2.com", "password": "SecurePass123!"}))
        .send()
        .await
        .unwrap();
    let body = expect_status(res, StatusCode::OK).await;
    assert_eq!(body["ok"], true);
    assert_eq!(body["user"]["email"], "admin@testorg2.com");
    assert_eq!(body["user"]["orgId"], org_id);
    assert_eq!(body["tokens"]["expiresIn"], 3600);
    let access = body["tokens"]["accessToken"].as_str().unwrap();
    assert!(body["tokens"]["refreshToken"].as_str().unwrap().len() >= 43);
    let claims = decode_claims(access);
    for key in [
        "userId", "username", "email", "role", "orgId", "sid", "iat", "exp", "nbf", "iss", "aud",
    ] {
        assert!(claims.get(key).is_some(), "claim {key} in {claims}");
    }
    assert_eq!(claims["orgId"], org_id);
    assert_eq!(claims["role"], "admin");

    // Step 4: a request with the JWT sees only its organization.
    let me = expect_status(
        app.as_user(access, Method::GET, "/auth/me")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["data"]["orgId"], org_id);

    // Step 5: another organization's admin sees only its own data.
    let (_, other) = app.org_with_admin("org-1").await;
    let mine = expect_status(
        app.as_user(access, Method::GET, "/users")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let theirs = expect_status(
        app.as_user(&other.access_token, Method::GET, "/users")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let emails = |v: &Value| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(emails(&mine), ["admin@testorg2.com"]);
    assert_eq!(emails(&theirs), ["admin@org-1.test"]);
    assert_eq!(mine["pagination"]["total"], 1);
}

/// The claims of a JWT, unverified.
pub(crate) fn decode_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn registration_rules() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with_admin("acme").await;
    let org_id = org["id"].as_str().unwrap();
    let register = |body: Value| {
        app.anonymous(Method::POST, "/auth/register")
            .json(&body)
            .send()
    };

    // Closed once the organization has users...
    let res = register(
        json!({"username": "eve", "email": "eve@acme.test", "password": PASSWORD, "orgId": org_id}),
    )
    .await
    .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    // ...but open to its admin, and to a super admin.
    let res = app
        .as_user(&admin.access_token, Method::POST, "/auth/register")
        .json(&json!({"username": "bob", "email": "bob@acme.test", "password": PASSWORD, "role": "manager", "orgId": org_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_status(res, StatusCode::CREATED).await["data"]["role"],
        "manager"
    );
    let res = app
        .dev(Method::POST, "/auth/register")
        .json(&json!({"username": "carl", "email": "carl@acme.test", "password": PASSWORD, "orgId": org_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_status(res, StatusCode::CREATED).await["data"]["role"],
        "agent"
    );

    // Field rules, uniqueness.
    let as_admin = |body: Value| {
        app.as_user(&admin.access_token, Method::POST, "/auth/register")
            .json(&body)
            .send()
    };
    expect_invalid_field(as_admin(json!({"username": "dan", "email": "dan@acme.test", "password": "short", "orgId": org_id})).await.unwrap(), "password").await;
    expect_invalid_field(as_admin(json!({"username": "d", "email": "dan@acme.test", "password": PASSWORD, "orgId": org_id})).await.unwrap(), "username").await;
    expect_invalid_field(
        as_admin(
            json!({"username": "dan", "email": "nope", "password": PASSWORD, "orgId": org_id}),
        )
        .await
        .unwrap(),
        "email",
    )
    .await;
    expect_invalid_field(as_admin(json!({"username": "dan", "email": "dan@acme.test", "password": PASSWORD, "role": "root", "orgId": org_id})).await.unwrap(), "role").await;
    expect_error(as_admin(json!({"username": "BOB", "email": "new@acme.test", "password": PASSWORD, "orgId": org_id})).await.unwrap(), StatusCode::CONFLICT, "USERNAME_TAKEN").await;
    expect_error(as_admin(json!({"username": "new", "email": "bob@acme.test", "password": PASSWORD, "orgId": org_id})).await.unwrap(), StatusCode::CONFLICT, "EMAIL_TAKEN").await;
    // An admin cannot create a super admin, nor register into another organization.
    expect_error(as_admin(json!({"username": "zed", "email": "zed@acme.test", "password": PASSWORD, "role": "super_admin", "orgId": org_id})).await.unwrap(), StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let (other, _) = app.org_with_admin("other-org").await;
    let res = as_admin(json!({"username": "spy", "email": "spy@x.test", "password": PASSWORD, "orgId": other["id"]})).await.unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    // Unknown, malformed and inactive organizations; the default organization.
    expect_error(register(json!({"username": "xavier", "email": "xavier@x.test", "password": PASSWORD, "orgId": "org_nope"})).await.unwrap(), StatusCode::NOT_FOUND, "NOT_FOUND").await;
    expect_error(register(json!({"username": "xavier", "email": "xavier@x.test", "password": PASSWORD, "orgId": "../x"})).await.unwrap(), StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let sleepy = app.create_org("sleepy").await;
    expect_status(
        app.delete(&format!(
            "/organizations/{}",
            sleepy["id"].as_str().unwrap()
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    expect_error(register(json!({"username": "xavier", "email": "xavier@x.test", "password": PASSWORD, "orgId": sleepy["id"]})).await.unwrap(), StatusCode::BAD_REQUEST, "ORGANIZATION_INACTIVE").await;
    expect_error(register(json!({"username": "root", "email": "root@x.test", "password": PASSWORD, "orgId": "org_default_001"})).await.unwrap(), StatusCode::FORBIDDEN, "FORBIDDEN").await;
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = spawn_app().await;
    app.org_with_admin("acme").await;
    let attempt = |email: &'static str, password: &'static str| {
        app.anonymous(Method::POST, "/auth/login")
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    let wrong = expect_error(
        attempt("admin@acme.test", "not the password")
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    let unknown = expect_error(
        attempt("ghost@acme.test", "not the password")
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn an_email_in_two_organizations_needs_an_org_id() {
    let app = spawn_app().await;
    let (a, admin_a) = app.org_with_admin("org-a").await;
    let (_, admin_b) = app.org_with_admin("org-b").await;
    for (admin, org) in [(&admin_a, "a"), (&admin_b, "b")] {
        let res = app
            .as_user(&admin.access_token, Method::POST, "/users")
            .json(&json!({"username": format!("sam{org}"), "email": "sam@shared.test", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        expect_status(res, StatusCode::CREATED).await;
    }
    let res = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": "sam@shared.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let body = expect_error(res, StatusCode::BAD_REQUEST, "AMBIGUOUS_EMAIL").await;
    assert_eq!(body["error"]["details"][0]["field"], "orgId");
    let session = app.login("sam@shared.test", a["id"].as_str()).await;
    assert_eq!(session.user["orgId"], a["id"]);
}

/// A JWT of these claims signed (HS256) with `secret`.
pub(crate) fn forge(claims: &Value, secret: &str) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let good = decode_claims(&admin.access_token);
    let now = good["iat"].as_i64().unwrap();
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let (header, payload, _) = {
        let mut parts = admin.access_token.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let tampered_payload = b64(&with(json!({"role": "super_admin"})));
    let none_header = b64(&json!({"alg": "none", "typ": "JWT"}));
    let hs512 = encode(
        &Header::new(jsonwebtoken::Algorithm::HS512),
        &good,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap();

    let cases = [
        (
            "expired",
            forge(
                &with(json!({"exp": now - 120, "iat": now - 3720, "nbf": now - 3720})),
                JWT_SECRET,
            ),
        ),
        (
            "not yet valid",
            forge(&with(json!({"nbf": now + 600})), JWT_SECRET),
        ),
        (
            "wrong key",
            forge(&good, "another-secret-that-is-long-enough-000"),
        ),
        (
            "wrong issuer",
            forge(&with(json!({"iss": "someone-else"})), JWT_SECRET),
        ),
        (
            "wrong audience",
            forge(&with(json!({"aud": "another-api"})), JWT_SECRET),
        ),
        (
            "wrong type",
            forge(&with(json!({"typ": "refresh"})), JWT_SECRET),
        ),
        ("alg none", format!("{none_header}.{payload}.")),
        (
            "tampered",
            format!(
                "{header}.{tampered_payload}.{}",
                admin.access_token.rsplit('.').next().unwrap()
            ),
        ),
        ("hs512", hs512),
        ("garbage", "abc.def.ghi".to_owned()),
    ];
    for (what, token) in cases {
        let res = app
            .as_user(&token, Method::GET, "/auth/me")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
    }
    // Sanity: the genuine token works, and a token forged with the right key passes only when the claims are right.
    expect_status(
        app.as_user(&admin.access_token, Method::GET, "/auth/me")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    expect_status(
        app.as_user(&forge(&good, JWT_SECRET), Method::GET, "/auth/me")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let _ = payload;
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let refresh = |token: String| {
        app.anonymous(Method::POST, "/auth/refresh")
            .json(&json!({"refreshToken": token}))
            .send()
    };

    let first = expect_status(
        refresh(admin.refresh_token.clone()).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    let second_token = first["tokens"]["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(second_token, admin.refresh_token);
    let access = first["tokens"]["accessToken"].as_str().unwrap();
    expect_status(
        app.as_user(access, Method::GET, "/auth/me")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;

    // The first token again: reuse. The whole family dies, the newer token too.
    expect_error(
        refresh(admin.refresh_token.clone()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "TOKEN_REUSED",
    )
    .await;
    expect_error(
        refresh(second_token).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    expect_error(
        refresh("made-up".into()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let res = app
        .anonymous(Method::POST, "/auth/logout")
        .json(&json!({"refreshToken": admin.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_status(res, StatusCode::OK).await["message"],
        "Signed out"
    );
    let res = app
        .anonymous(Method::POST, "/auth/refresh")
        .json(&json!({"refreshToken": admin.refresh_token}))
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn deactivation_locks_out_tokens_and_keys_on_the_next_request() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with_admin("acme").await;
    let agent = app.add_user(&admin, "agent1", "agent").await;
    let (_, key) = app.add_api_key(&admin, "manager").await;
    let me = |token: String| app.as_user(&token, Method::GET, "/auth/me").send();

    // A deactivated user: its token stops working, others keep theirs.
    let res = app
        .as_user(
            &admin.access_token,
            Method::DELETE,
            &format!("/users/{}", agent.id()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_status(res, StatusCode::OK).await["data"]["isActive"],
        false
    );
    expect_error(
        me(agent.access_token.clone()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "ACCOUNT_DISABLED",
    )
    .await;
    expect_status(
        me(admin.access_token.clone()).await.unwrap(),
        StatusCode::OK,
    )
    .await;

    // A deactivated organization: every token and key of it.
    let org_path = format!("/organizations/{}", org["id"].as_str().unwrap());
    expect_status(app.delete(&org_path).await, StatusCode::OK).await;
    expect_error(
        me(admin.access_token.clone()).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "ACCOUNT_DISABLED",
    )
    .await;
    let res = app
        .with_key(&key, Method::GET, "/users")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, "ACCOUNT_DISABLED").await;
    let res = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": "admin@acme.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Reactivated: back in.
    expect_status(
        app.dev(Method::POST, &format!("{org_path}/activate"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    expect_status(
        me(admin.access_token.clone()).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    expect_status(
        app.with_key(&key, Method::GET, "/users")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn hard_deleting_an_organization_removes_its_users_keys_and_sessions() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with_admin("doomed").await;
    app.add_user(&admin, "agent1", "agent").await;
    let (_, key) = app.add_api_key(&admin, "agent").await;
    let (keep, _) = app.org_with_admin("keeper").await;
    let id = org["id"].as_str().unwrap();
    let stats = expect_status(
        app.get(&format!("/organizations/{id}/stats")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stats["data"]["stats"]["totalUsers"], 2);

    expect_status(
        app.delete(&format!("/organizations/{id}?hard=true")).await,
        StatusCode::OK,
    )
    .await;
    for table in ["users", "refresh_sessions", "api_keys"] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM {table} WHERE org_id = '{id}'"
            ))
            .await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE org_id = '{}'",
            keep["id"].as_str().unwrap()
        ))
        .await,
        1
    );
    expect_error(
        app.as_user(&admin.access_token, Method::GET, "/auth/me")
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    expect_error(
        app.with_key(&key, Method::GET, "/users")
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
}

#[tokio::test]
async fn rapid_failed_logins_are_throttled_with_retry_after() {
    let app = spawn_app().await;
    app.org_with_admin("acme").await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let res = app
            .anonymous(Method::POST, "/auth/login")
            .json(&json!({"email": "admin@acme.test", "password": "wrong-password!"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry));
            expect_error(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
            break;
        }
    }
    assert!(
        statuses
            .iter()
            .take(4)
            .all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Even the right password waits now.
    let res = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": "admin@acme.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}
