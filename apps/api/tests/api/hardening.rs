//! Regression tests of attack findings: each failed before its fix.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    auth::{decode_claims, forge},
    helpers::{JWT_SECRET, Session, TestApp, expect_error, expect_status, spawn_app},
};

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
    // The same through a batch: the lead's result is the conflict alone.
    let batch = expect_status(
        send(
            &app,
            &eve,
            Method::POST,
            "/leads/batch",
            json!({"leads": [lead.clone()]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(batch["data"]["results"][0]["status"], 409, "{batch}");
    assert_eq!(
        batch["data"]["results"][0]["error"]["code"],
        "DUPLICATE_EXTERNAL_ID"
    );
    assert!(!batch.to_string().contains("Jane"), "{batch}");
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

#[tokio::test]
async fn duplicate_keys_and_nul_characters_are_400s_naming_the_field_on_every_engine() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let raw = |method: Method, path: &str, body: &'static str| {
        app.as_user(&admin.access_token, method, path)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (path, body, field) in [
        (
            "/organizations",
            r#"{"name": "one-org", "name": "two-org"}"#,
            "name",
        ),
        ("/leads", r#"{"name": "Jane\u0000Doe"}"#, "name"),
        (
            "/leads",
            r#"{"name": "Jane", "fields": {"plan": "a\u0000"}}"#,
            "fields.plan",
        ),
        (
            "/agents",
            r#"{"name": "Ann", "email": "ann@acme.test", "skills": ["fr\u0000"]}"#,
            "skills[0]",
        ),
    ] {
        let body = expect_status(
            raw(Method::POST, path, body).await.unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(
            body["error"]["details"][0]["field"], field,
            "{path}: {body}"
        );
    }
    let query = app
        .as_user(&admin.access_token, Method::GET, "/leads?status=new%00")
        .send()
        .await
        .unwrap();
    let body = expect_status(query, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"]["details"][0]["field"], "status");
    // Nothing was stored.
    let leads = expect_status(
        app.as_user(&admin.access_token, Method::GET, "/leads")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(leads["pagination"]["total"], 0);
}

#[tokio::test]
async fn a_refused_account_update_changes_nothing_not_even_the_password() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let me = admin.user["id"].as_str().unwrap().to_owned();
    let path = format!("/users/{me}");
    let email = admin.user["email"].as_str().unwrap().to_owned();
    let org = admin.user["orgId"].as_str().unwrap().to_owned();
    let new_password = "a-brand-new-password";

    // Changing one's own role is forbidden: the password in the same request stays.
    let forbidden = send(
        &app,
        &admin,
        Method::PUT,
        &path,
        json!({"password": new_password, "currentPassword": crate::helpers::PASSWORD, "role": "agent"}),
    )
    .await;
    expect_status(forbidden, StatusCode::FORBIDDEN).await;
    // A wrong current password: the username in the same request stays.
    let wrong = send(
        &app,
        &admin,
        Method::PUT,
        &path,
        json!({"password": new_password, "currentPassword": "not-my-password", "username": "renamed"}),
    )
    .await;
    let body = expect_status(wrong, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"]["details"][0]["field"], "currentPassword");

    let still = app.login(&email, Some(&org)).await;
    assert_eq!(still.user["username"], admin.user["username"]);
    let refused = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": email, "password": new_password}))
        .send()
        .await
        .unwrap();
    expect_status(refused, StatusCode::UNAUTHORIZED).await;

    // Allowed: both at once, in one write.
    let ok = send(
        &app,
        &still,
        Method::PUT,
        &path,
        json!({"password": new_password, "currentPassword": crate::helpers::PASSWORD, "username": "renamed"}),
    )
    .await;
    let body = expect_status(ok, StatusCode::OK).await;
    assert_eq!(body["data"]["username"], "renamed");
    let signed_in = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": email, "password": new_password}))
        .send()
        .await
        .unwrap();
    expect_status(signed_in, StatusCode::OK).await;
}

#[tokio::test]
async fn of_simultaneous_first_registrations_exactly_one_wins() {
    let app = spawn_app().await;
    let org = app.create_org("fresh-org").await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let attempts = (0..10).map(|i| {
        app.anonymous(Method::POST, "/auth/register")
            .json(&json!({
                "username": format!("first{i}"),
                "email": format!("first{i}@fresh.test"),
                "password": crate::helpers::PASSWORD,
                "orgId": org_id,
            }))
            .send()
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(won, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::FORBIDDEN),
        "{statuses:?}"
    );
    let stats = expect_status(
        app.get(&format!("/organizations/{org_id}/stats")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stats["data"]["stats"]["totalUsers"], 1, "{stats}");
}

/// Finding 11: the ids settings name must be of the organization (else
/// leads are silently unrouted), and the default pool cannot be deleted.
#[tokio::test]
async fn settings_name_only_the_organization_s_own_pool_and_agent() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with_admin("acme").await;
    let (_, other) = app.org_with_admin("other").await;
    let path = format!("/organizations/{}", org["id"].as_str().unwrap());
    let create = |who: &Session, route: &'static str, body: Value| {
        let req = app
            .as_user(&who.access_token, Method::POST, route)
            .json(&body);
        async move {
            expect_status(req.send().await.unwrap(), StatusCode::CREATED).await["data"]["id"]
                .clone()
        }
    };
    let foreign_agent = create(
        &other,
        "/agents",
        json!({"name": "Zed", "email": "zed@other.test"}),
    )
    .await;
    let foreign_pool = create(
        &other,
        "/routing/pools",
        json!({"name": "Z", "method": "round_robin", "memberIds": [foreign_agent]}),
    )
    .await;
    let agent = create(
        &admin,
        "/agents",
        json!({"name": "Ann", "email": "ann@acme.test"}),
    )
    .await;
    let pool = create(
        &admin,
        "/routing/pools",
        json!({"name": "P", "method": "round_robin", "memberIds": [agent]}),
    )
    .await;

    for (settings, field) in [
        (
            json!({"defaultPoolId": foreign_pool}),
            "settings.defaultPoolId",
        ),
        (
            json!({"defaultPoolId": "pool_0000000000000000000000000000dead"}),
            "settings.defaultPoolId",
        ),
        (
            json!({"fallbackAgentId": foreign_agent}),
            "settings.fallbackAgentId",
        ),
    ] {
        let res = send(
            &app,
            &admin,
            Method::PUT,
            &path,
            json!({"settings": settings}),
        )
        .await;
        crate::helpers::expect_invalid_field(res, field).await;
    }
    let unchanged = expect_status(
        send(&app, &admin, Method::GET, &path, json!(null)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["data"]["settings"], json!({}), "nothing written");

    let res = send(
        &app,
        &admin,
        Method::PUT,
        &path,
        json!({"settings": {"defaultPoolId": pool, "fallbackAgentId": agent}}),
    )
    .await;
    expect_status(res, StatusCode::OK).await;
    let pool_path = format!("/routing/pools/{}", pool.as_str().unwrap());
    expect_error(
        send(&app, &admin, Method::DELETE, &pool_path, json!(null)).await,
        StatusCode::CONFLICT,
        "POOL_IN_USE",
    )
    .await;
    let res = send(
        &app,
        &admin,
        Method::PUT,
        &path,
        json!({"settings": {"defaultPoolId": null}}),
    )
    .await;
    expect_status(res, StatusCode::OK).await;
    expect_status(
        send(&app, &admin, Method::DELETE, &pool_path, json!(null)).await,
        StatusCode::OK,
    )
    .await;
}

/// Finding 10: `currentPassword` was an unthrottled password oracle; it is
/// throttled like a sign-in.
#[tokio::test]
async fn current_password_guesses_are_throttled_like_sign_ins() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let path = format!("/users/{}", admin.id());
    let mut statuses = Vec::new();
    for n in 0..8 {
        let res = send(
            &app,
            &admin,
            Method::PUT,
            &path,
            json!({"password": "a brand new password", "currentPassword": format!("guess number {n}")}),
        )
        .await;
        statuses.push(res.status().as_u16());
    }
    assert!(statuses.iter().take(5).all(|s| *s == 400), "{statuses:?}");
    assert!(statuses.iter().skip(5).all(|s| *s == 429), "{statuses:?}");
    // Other changes of the account are not throttled.
    let res = send(
        &app,
        &admin,
        Method::PUT,
        &path,
        json!({"username": "admin2"}),
    )
    .await;
    expect_status(res, StatusCode::OK).await;
}

/// Finding 2: an admin of org B who creates a user with org A's admin
/// e-mail learned that the address exists elsewhere (`AMBIGUOUS_EMAIL`),
/// and org A's admin could no longer sign in without `orgId`. Sign-in now
/// goes to the one account whose password matches.
#[tokio::test]
async fn an_account_elsewhere_with_the_same_email_reveals_nothing_and_blocks_nobody() {
    let app = spawn_app().await;
    let (org_a, _) = app.org_with_admin("acme").await;
    let (org_b, admin_b) = app.org_with_admin("other").await;
    let res = send(
        &app,
        &admin_b,
        Method::POST,
        "/users",
        json!({"username": "shadow", "email": "admin@acme.test", "password": "org b's own password", "role": "agent"}),
    )
    .await;
    expect_status(res, StatusCode::CREATED).await;
    let login = |password: &'static str| {
        app.anonymous(Method::POST, "/auth/login")
            .json(&json!({"email": "admin@acme.test", "password": password}))
            .send()
    };
    let b = expect_status(login("org b's own password").await.unwrap(), StatusCode::OK).await;
    assert_eq!(b["user"]["orgId"], org_b["id"]);
    let a = expect_status(
        login(crate::helpers::PASSWORD).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(a["user"]["orgId"], org_a["id"]);
    let wrong = expect_error(
        login("neither password").await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    let unknown = app
        .anonymous(Method::POST, "/auth/login")
        .json(&json!({"email": "nobody@acme.test", "password": "neither password"}))
        .send()
        .await
        .unwrap();
    let unknown = expect_error(unknown, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    assert_eq!(wrong["error"], unknown["error"], "the same answer");
}

/// `GET /auth/me` with this access token.
async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.as_user(token, Method::GET, "/auth/me")
        .send()
        .await
        .unwrap()
}

/// The token is refused as any bad token is: 401 `UNAUTHORIZED`.
async fn assert_refused(app: &TestApp, token: &str) {
    expect_error(
        me(app, token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
}

async fn assert_accepted(app: &TestApp, token: &str) {
    expect_status(me(app, token).await, StatusCode::OK).await;
}

/// `POST /auth/<action>` (`refresh`, `logout`) with this refresh token.
async fn with_refresh_token(app: &TestApp, action: &str, token: &str) -> reqwest::Response {
    app.anonymous(Method::POST, &format!("/auth/{action}"))
        .json(&json!({"refreshToken": token}))
        .send()
        .await
        .unwrap()
}

// Finding 8: an access token outlived its sign-in by up to an hour (after a
// logout, a refresh-token reuse, a password or role change), a reactivation
// revived the tokens of before the deactivation, and a token forged with
// the key lived as long as its `exp` said. Tokens now carry their sign-in
// (`sid`, checked with the user on every request) and are accepted for one
// hour after `iat` at most.

#[tokio::test]
async fn an_access_token_is_refused_after_its_sign_in_is_signed_out() {
    let app = spawn_app().await;
    let (org, admin) = app.org_with_admin("acme").await;
    let elsewhere = app.login("admin@acme.test", org["id"].as_str()).await;
    assert_accepted(&app, &admin.access_token).await;
    expect_status(
        with_refresh_token(&app, "logout", &admin.refresh_token).await,
        StatusCode::OK,
    )
    .await;
    assert_refused(&app, &admin.access_token).await;
    // The user's other sign-in goes on.
    assert_accepted(&app, &elsewhere.access_token).await;
}

#[tokio::test]
async fn access_tokens_of_a_sign_in_are_refused_after_refresh_token_reuse() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let refreshed = expect_status(
        with_refresh_token(&app, "refresh", &admin.refresh_token).await,
        StatusCode::OK,
    )
    .await;
    let newer = refreshed["tokens"]["accessToken"].as_str().unwrap();
    // A refresh alone ends nothing: both access tokens of the sign-in work.
    assert_accepted(&app, &admin.access_token).await;
    assert_accepted(&app, newer).await;

    expect_error(
        with_refresh_token(&app, "refresh", &admin.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_REUSED",
    )
    .await;
    assert_refused(&app, &admin.access_token).await;
    assert_refused(&app, newer).await;
}

#[tokio::test]
async fn an_access_token_is_refused_after_its_users_own_password_change() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let ann = app.add_user(&admin, "ann", "agent").await;
    let res = send(
        &app,
        &ann,
        Method::PUT,
        &format!("/users/{}", ann.id()),
        json!({"password": "a brand new password", "currentPassword": crate::helpers::PASSWORD}),
    )
    .await;
    expect_status(res, StatusCode::OK).await;
    assert_refused(&app, &ann.access_token).await;
    assert_accepted(&app, &admin.access_token).await;
}

#[tokio::test]
async fn an_access_token_is_refused_after_an_admin_changes_the_users_role() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let ann = app.add_user(&admin, "ann", "manager").await;
    let res = send(
        &app,
        &admin,
        Method::PUT,
        &format!("/users/{}", ann.id()),
        json!({"role": "agent"}),
    )
    .await;
    expect_status(res, StatusCode::OK).await;
    assert_refused(&app, &ann.access_token).await;
    // Signed in again, with the new role.
    let again = app
        .login(
            ann.user["email"].as_str().unwrap(),
            ann.user["orgId"].as_str(),
        )
        .await;
    let body = expect_status(me(&app, &again.access_token).await, StatusCode::OK).await;
    assert_eq!(body["data"]["role"], "agent");
}

#[tokio::test]
async fn an_access_token_stays_dead_after_its_user_is_deactivated_and_reactivated() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let ann = app.add_user(&admin, "ann", "agent").await;
    let path = format!("/users/{}", ann.id());
    expect_status(
        send(&app, &admin, Method::DELETE, &path, json!(null)).await,
        StatusCode::OK,
    )
    .await;
    let res = send(&app, &admin, Method::PUT, &path, json!({"isActive": true})).await;
    assert_eq!(
        expect_status(res, StatusCode::OK).await["data"]["isActive"],
        true
    );

    assert_refused(&app, &ann.access_token).await;
    expect_error(
        with_refresh_token(&app, "refresh", &ann.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    // A fresh sign-in works.
    let again = app
        .login(
            ann.user["email"].as_str().unwrap(),
            ann.user["orgId"].as_str(),
        )
        .await;
    assert_accepted(&app, &again.access_token).await;
}

#[tokio::test]
async fn a_token_signed_with_the_right_key_is_refused_an_hour_after_its_iat_whatever_its_exp() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let mut claims = decode_claims(&admin.access_token);
    let now = claims["iat"].as_i64().unwrap();
    // Sanity: the genuine claims, re-signed, are accepted.
    assert_accepted(&app, &forge(&claims, JWT_SECRET)).await;

    claims["iat"] = json!(now - 7200);
    claims["nbf"] = json!(now - 7200);
    claims["exp"] = json!(now + 365 * 24 * 3600);
    assert_refused(&app, &forge(&claims, JWT_SECRET)).await;
    // Issued now but claiming a day of life: refused too.
    claims["iat"] = json!(now);
    claims["nbf"] = json!(now);
    claims["exp"] = json!(now + 24 * 3600);
    assert_refused(&app, &forge(&claims, JWT_SECRET)).await;
}

#[tokio::test]
async fn a_token_without_a_session_id_is_refused() {
    let app = spawn_app().await;
    let (_, admin) = app.org_with_admin("acme").await;
    let mut claims = decode_claims(&admin.access_token);
    assert!(claims["sid"].is_string(), "{claims}");
    claims.as_object_mut().unwrap().remove("sid");
    assert_refused(&app, &forge(&claims, JWT_SECRET)).await;
    // Nor is one naming a sign-in that does not exist.
    claims["sid"] = json!("fam_0123456789abcdef0123456789abcdef");
    assert_refused(&app, &forge(&claims, JWT_SECRET)).await;
}
