//! The admin console over plain HTTP: embedded assets, security headers, and
//! the cookie session (flags, CSRF, cross-site refusal, refresh, sign-out).

use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, expect_error, expect_status, spawn_app};

/// `name=value` of every `Set-Cookie`, with its attributes.
fn set_cookies(res: &Response) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie<'a>(cookies: &'a [String], name: &str) -> &'a str {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
}

fn value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

/// A browser's cookie jar, by hand: the three session cookies.
struct Jar {
    access: String,
    refresh: String,
    csrf: String,
}

impl Jar {
    fn from(res: &Response) -> Self {
        let cookies = set_cookies(res);
        Self {
            access: value(cookie(&cookies, "lr_access")),
            refresh: value(cookie(&cookies, "lr_refresh")),
            csrf: value(cookie(&cookies, "lr_csrf")),
        }
    }

    fn api(&self, app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
        app.anonymous(method, path).header(
            header::COOKIE,
            format!("lr_access={}; lr_csrf={}", self.access, self.csrf),
        )
    }

    fn session(&self, app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
        app.anonymous(method, path)
            .header(
                header::COOKIE,
                format!("lr_refresh={}; lr_csrf={}", self.refresh, self.csrf),
            )
            .header("x-csrf-token", &self.csrf)
    }
}

async fn sign_in(app: &TestApp, email: &str, org_id: &str) -> Response {
    app.anonymous(Method::POST, "/admin/session")
        .json(&json!({"email": email, "password": PASSWORD, "orgId": org_id}))
        .send()
        .await
        .unwrap()
}

async fn admin_of(app: &TestApp, name: &str) -> (Value, String) {
    let (org, _) = app.org_with_admin(name).await;
    (org, format!("admin@{name}.test"))
}

#[tokio::test]
async fn the_console_is_served_offline_with_a_strict_policy() {
    let app = spawn_app().await;
    let res = app.anonymous(Method::GET, "/admin").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()[header::LOCATION], "/admin/");

    let res = app.anonymous(Method::GET, "/admin/").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<script src="/admin/assets/app.js" defer></script>"#));
    // No inline script, and nothing fetched from elsewhere.
    assert_eq!(html.matches("<script").count(), 1);
    for asset in [
        "/admin/assets/app.js",
        "/admin/assets/app.css",
        "/admin/assets/icon.svg",
    ] {
        let res = app.anonymous(Method::GET, asset).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        // The SVG namespace is a name, not an address.
        let body = res
            .text()
            .await
            .unwrap()
            .replace("http://www.w3.org/2000/svg", "");
        assert!(
            !body.contains("http://") && !body.contains("https://") && !body.contains("@import"),
            "{asset} fetches nothing remote"
        );
    }
}

#[tokio::test]
async fn signing_in_sets_http_only_strict_cookies_and_returns_no_token() {
    let app = spawn_app().await;
    let (org, email) = admin_of(&app, "cookie-co").await;
    let res = sign_in(&app, &email, org["id"].as_str().unwrap()).await;
    let cookies = set_cookies(&res);
    let body = expect_status(res, StatusCode::OK).await;
    assert_eq!(body["data"]["user"]["email"], email);
    assert!(
        !body.to_string().contains("eyJ"),
        "no token in the body: {body}"
    );

    let access = cookie(&cookies, "lr_access");
    assert!(
        access.contains("HttpOnly") && access.contains("SameSite=Strict"),
        "{access}"
    );
    assert!(
        access.contains("Path=/;") || access.ends_with("Path=/"),
        "{access}"
    );
    let refresh = cookie(&cookies, "lr_refresh");
    assert!(refresh.contains("HttpOnly") && refresh.contains("SameSite=Strict"));
    assert!(refresh.contains("Path=/admin/session"), "{refresh}");
    let csrf = cookie(&cookies, "lr_csrf");
    assert!(!csrf.contains("HttpOnly"), "the page reads the CSRF cookie");
    // Development serves plain HTTP: no Secure there.
    assert!(!access.contains("Secure"));
}

#[tokio::test]
async fn the_cookie_authenticates_reads_but_writes_need_the_csrf_token() {
    let app = spawn_app().await;
    let (org, email) = admin_of(&app, "csrf-co").await;
    let jar = Jar::from(&sign_in(&app, &email, org["id"].as_str().unwrap()).await);

    let me = expect_status(
        jar.api(&app, Method::GET, "/auth/me").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["data"]["email"], email);

    let body = json!({"name": "form key", "role": "agent"});
    let res = jar
        .api(&app, Method::POST, "/api-keys")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "CSRF_FAILED").await;
    let res = jar
        .api(&app, Method::POST, "/api-keys")
        .header("x-csrf-token", "guessed")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "CSRF_FAILED").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys").await, 0);

    let res = jar
        .api(&app, Method::POST, "/api-keys")
        .header("x-csrf-token", &jar.csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_status(res, StatusCode::CREATED).await;

    // Another site's page cannot ride on the cookie, even for a read.
    let res = jar
        .api(&app, Method::GET, "/auth/me")
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "CROSS_SITE_REQUEST").await;
    let res = jar
        .api(&app, Method::GET, "/auth/me")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "CROSS_SITE_REQUEST").await;
    let res = app
        .anonymous(Method::POST, "/admin/session")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "CROSS_SITE_REQUEST").await;
}

#[tokio::test]
async fn refresh_rotates_the_session_and_sign_out_ends_it() {
    let app = spawn_app().await;
    let (org, email) = admin_of(&app, "refresh-co").await;
    let jar = Jar::from(&sign_in(&app, &email, org["id"].as_str().unwrap()).await);

    // Without the CSRF header the refresh is refused.
    let res = app
        .anonymous(Method::POST, "/admin/session/refresh")
        .header(
            header::COOKIE,
            format!("lr_refresh={}; lr_csrf={}", jar.refresh, jar.csrf),
        )
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "CSRF_FAILED").await;

    let res = jar
        .session(&app, Method::POST, "/admin/session/refresh")
        .send()
        .await
        .unwrap();
    let renewed = Jar::from(&res);
    expect_status(res, StatusCode::OK).await;
    assert_ne!(renewed.refresh, jar.refresh, "the refresh token rotates");
    expect_status(
        renewed
            .api(&app, Method::GET, "/auth/me")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;

    let res = renewed
        .session(&app, Method::DELETE, "/admin/session")
        .send()
        .await
        .unwrap();
    let cleared = set_cookies(&res);
    expect_status(res, StatusCode::OK).await;
    for name in ["lr_access", "lr_refresh", "lr_csrf"] {
        assert!(
            cookie(&cleared, name).contains("Max-Age=0"),
            "{name} is cleared"
        );
    }
    // The signed-out refresh token is dead.
    let res = renewed
        .session(&app, Method::POST, "/admin/session/refresh")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // No refresh cookie at all: the session has ended.
    let res = app
        .anonymous(Method::POST, "/admin/session/refresh")
        .header(header::COOKIE, format!("lr_csrf={}", jar.csrf))
        .header("x-csrf-token", &jar.csrf)
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, "SESSION_EXPIRED").await;
}

#[tokio::test]
async fn wrong_credentials_get_the_same_errors_as_the_api() {
    let app = spawn_app().await;
    let (org, email) = admin_of(&app, "wrong-co").await;
    let res = app
        .anonymous(Method::POST, "/admin/session")
        .json(&json!({"email": email, "password": "not the password", "orgId": org["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookies(&res).is_empty(),
        "no cookie for a failed sign-in"
    );
    let res = app
        .anonymous(Method::POST, "/admin/session")
        .json(&json!({"email": "not-an-email", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    crate::helpers::expect_invalid_field(res, "email").await;
}

/// Finding 13: the console's origin check believed `X-Forwarded-Host` from
/// anyone and ignored the scheme; forwarding headers are now believed only
/// from `TRUSTED_PROXIES`, for the origin check and the throttle's address.
#[tokio::test]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let app = spawn_app().await;
    let (_, email) = admin_of(&app, "acme").await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let attempt = |app: &TestApp, origin: String, headers: Vec<(&'static str, String)>| {
        let mut req = app
            .anonymous(Method::POST, "/admin/session")
            .header(header::ORIGIN, origin)
            .json(&json!({"email": email, "password": "not the password"}));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        req.send()
    };
    // A forged forwarded host from an untrusted peer changes nothing.
    let res = attempt(
        &app,
        "https://evil.example".into(),
        vec![
            ("x-forwarded-host", "evil.example".into()),
            ("x-forwarded-proto", "https".into()),
        ],
    )
    .await
    .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "CROSS_SITE_REQUEST").await;
    // The scheme counts: this development server is http.
    let res = attempt(&app, format!("https://{host}"), vec![])
        .await
        .unwrap();
    expect_error(res, StatusCode::FORBIDDEN, "CROSS_SITE_REQUEST").await;
    let res = attempt(&app, format!("http://{host}"), vec![])
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    // An untrusted peer's X-Forwarded-For does not escape the throttle: with
    // the sign-in of `admin_of` and the attempt above, five are spent.
    for n in 0..3 {
        let res = attempt(
            &app,
            format!("http://{host}"),
            vec![("x-forwarded-for", format!("198.51.100.{n}"))],
        )
        .await
        .unwrap();
        assert_ne!(res.status(), StatusCode::TOO_MANY_REQUESTS, "attempt {n}");
    }
    let res = attempt(
        &app,
        format!("http://{host}"),
        vec![("x-forwarded-for", "198.51.100.99".into())],
    )
    .await
    .unwrap();
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;

    // Behind a trusted proxy: its forwarded origin and client address hold.
    let proxied = crate::helpers::spawn_app_with(|s| {
        s.trusted_proxies =
            lead_routing_api::proxy::TrustedProxies::parse("127.0.0.1").unwrap_or_default();
    })
    .await;
    let (_, email) = admin_of(&proxied, "acme").await;
    let behind = |client: &'static str| {
        proxied
            .anonymous(Method::POST, "/admin/session")
            .header(header::ORIGIN, "https://console.example.com")
            .header("x-forwarded-host", "console.example.com")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-for", client)
            .json(&json!({"email": email, "password": "not the password"}))
            .send()
    };
    for _ in 0..5 {
        let res = behind("203.0.113.7").await.unwrap();
        expect_error(res, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    }
    let res = behind("203.0.113.7").await.unwrap();
    expect_error(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // Another client behind the same proxy is another address.
    let res = behind("198.51.100.1").await.unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
}
