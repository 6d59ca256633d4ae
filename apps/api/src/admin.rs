//! `/admin`: the web console, and the cookie session it signs in with.
//!
//! The console is a small front end over the JSON API (no second source of
//! truth): three files embedded in the binary at build time, so it works
//! offline and needs no build step. It signs in through `/admin/session`,
//! which keeps the tokens out of reach of scripts:
//!
//! - `lr_access`: the access token (JWT), `HttpOnly`, `SameSite=Strict`,
//!   `Secure` outside development, for as long as the token lives.
//! - `lr_refresh`: the refresh token, `HttpOnly`, `SameSite=Strict`, sent
//!   only to `/admin/session` (refresh and sign-out).
//! - `lr_csrf`: a random value the page reads and echoes in `x-csrf-token`
//!   on every state-changing request (double-submit). The credentials
//!   middleware refuses a cookie-authenticated `POST`/`PUT`/`DELETE` without
//!   it, and any cookie session request whose `Origin` or `Sec-Fetch-Site`
//!   says it came from another site.
//!
//! Every `/admin` response carries a Content-Security-Policy that allows
//! scripts, styles and connections to this origin only, and no inline script.

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    http::{Method, StatusCode, header},
    middleware::{DefaultHeaders, from_fn},
    web,
};
use auth::LoginResult;
use serde::Serialize;

use crate::{
    error::ApiError,
    routes::{auth::LoginBody, users::UserDto},
    startup::AppState,
};

/// The access token cookie.
pub const ACCESS_COOKIE: &str = "lr_access";
/// The refresh token cookie.
pub const REFRESH_COOKIE: &str = "lr_refresh";
/// The double-submit CSRF cookie, readable by the page.
pub const CSRF_COOKIE: &str = "lr_csrf";
/// The header the page echoes the CSRF cookie in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Where the refresh cookie is sent.
const SESSION_PATH: &str = "/admin/session";

/// Scripts, styles, images and connections from this origin only; no inline
/// script or style, no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../admin/index.html");
const APP_JS: &str = include_str!("../admin/app.js");
const APP_CSS: &str = include_str!("../admin/app.css");
const ICON_SVG: &str = include_str!("../admin/icon.svg");

/// Mounts the console and its session endpoints under `/admin`, and sends
/// `/` there.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(redirect_root));
    cfg.service(
        web::scope("/admin")
            .wrap(
                DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "no-referrer"))
                    .add((header::CACHE_CONTROL, "no-cache")),
            )
            .route("", web::get().to(redirect_to_console))
            .route("/", web::get().to(index))
            .route("/assets/app.js", web::get().to(asset_js))
            .route("/assets/app.css", web::get().to(asset_css))
            .route("/assets/icon.svg", web::get().to(asset_icon))
            // The deadline goes on the resources, after routing (see
            // `startup::deadline`).
            .service(
                web::resource("/session")
                    .route(web::post().to(sign_in))
                    .route(web::delete().to(sign_out))
                    .wrap(from_fn(crate::startup::deadline)),
            )
            .service(
                web::resource("/session/refresh")
                    .route(web::post().to(refresh))
                    .wrap(from_fn(crate::startup::deadline)),
            ),
    );
}

async fn redirect_to_console() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/admin/"))
        .finish()
}

/// `GET /`: a browser opening the server's address lands on the console.
/// A temporary redirect (302), so the root stays free for something else.
async fn redirect_root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/admin/"))
        .finish()
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).body(body)
}

async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn asset_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn asset_css() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

async fn asset_icon() -> HttpResponse {
    asset("image/svg+xml", ICON_SVG)
}

/// What a session endpoint answers: the user, never a token.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionDto {
    user: UserDto,
    /// Seconds until the access cookie expires.
    expires_in: u64,
}

/// `POST /admin/session`: sign in with the `/auth/login` body; the tokens go
/// into cookies.
async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    crate::extract::JsonBody(body): crate::extract::JsonBody<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    require_same_site(&req)?;
    let result = crate::routes::auth::password_sign_in(&state, &req, body).await?;
    Ok(session_response(&state, result))
}

/// `POST /admin/session/refresh`: a new access cookie from the refresh
/// cookie (which rotates).
async fn refresh(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    require_same_site(&req)?;
    require_csrf(&req)?;
    let Some(token) = req.cookie(REFRESH_COOKIE) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "SESSION_EXPIRED",
            "The session has ended; sign in again",
        ));
    };
    match state.auth.refresh(token.value(), tenancy::now()).await {
        Ok(result) => Ok(session_response(&state, result)),
        Err(e) => {
            // A dead refresh token ends the session: clear the cookies too.
            let error = ApiError::from(e);
            let mut response = actix_web::ResponseError::error_response(&error);
            for cookie in expired_cookies(&state) {
                response.add_cookie(&cookie).ok();
            }
            Ok(response)
        }
    }
}

/// `DELETE /admin/session`: sign out; the refresh token's sign-in is revoked
/// and the cookies cleared.
async fn sign_out(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    require_same_site(&req)?;
    require_csrf(&req)?;
    if let Some(token) = req.cookie(REFRESH_COOKIE) {
        state.auth.logout(token.value(), tenancy::now()).await?;
    }
    let mut response = HttpResponse::Ok();
    for cookie in expired_cookies(&state) {
        response.cookie(cookie);
    }
    Ok(response.json(serde_json::json!({"ok": true, "message": "Signed out"})))
}

fn session_response(state: &AppState, result: LoginResult) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    for cookie in session_cookies(
        !state.dev_mode,
        result.access.token,
        result.access.expires_in,
        result.refresh_token,
    ) {
        response.cookie(cookie);
    }
    response.json(serde_json::json!({
        "ok": true,
        "data": SessionDto {
            user: result.user.into(),
            expires_in: result.access.expires_in,
        }
    }))
}

/// The three cookies of a fresh session; `Secure` outside development.
fn session_cookies(
    secure: bool,
    access_token: String,
    access_life_secs: u64,
    refresh_token: String,
) -> [Cookie<'static>; 3] {
    let access_life = i64::try_from(access_life_secs).unwrap_or(i64::MAX);
    let refresh_life = CookieDuration::days(auth::REFRESH_TOKEN_TTL_DAYS);
    let access = Cookie::build(ACCESS_COOKIE, access_token)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(access_life))
        .finish();
    let refresh = Cookie::build(REFRESH_COOKIE, refresh_token)
        .path(SESSION_PATH)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(refresh_life)
        .finish();
    let csrf = Cookie::build(CSRF_COOKIE, auth::csrf_token())
        .path("/")
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(refresh_life)
        .finish();
    [access, refresh, csrf]
}

fn expired_cookies(state: &AppState) -> [Cookie<'static>; 3] {
    let secure = !state.dev_mode;
    let expire = |name: &'static str, path: &'static str| {
        let mut c = Cookie::build(name, "")
            .path(path)
            .secure(secure)
            .same_site(SameSite::Strict)
            .finish();
        c.make_removal();
        c
    };
    [
        expire(ACCESS_COOKIE, "/"),
        expire(REFRESH_COOKIE, SESSION_PATH),
        expire(CSRF_COOKIE, "/"),
    ]
}

fn forbidden(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message.to_owned())
}

/// Refuses a request a browser says came from another site: `Sec-Fetch-Site:
/// cross-site`/`same-site`, or an `Origin` that is not this server's own
/// scheme and host ([`crate::proxy::public_origin`]).
///
/// # Errors
/// 403 `CROSS_SITE_REQUEST`.
pub fn require_same_site(req: &HttpRequest) -> Result<(), ApiError> {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or_default();
        if site != "same-origin" && site != "none" {
            return Err(forbidden(
                "CROSS_SITE_REQUEST",
                "Cookie sessions accept requests from this site only",
            ));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        // Scheme and host, the forwarded ones only from a trusted proxy.
        let origin = origin
            .to_str()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_ascii_lowercase();
        if origin != crate::proxy::public_origin(req) {
            return Err(forbidden(
                "CROSS_SITE_REQUEST",
                "Cookie sessions accept requests from this site only",
            ));
        }
    }
    Ok(())
}

/// Checks the double-submit token: the `x-csrf-token` header must equal the
/// `lr_csrf` cookie.
///
/// # Errors
/// 403 `CSRF_FAILED`.
pub fn require_csrf(req: &HttpRequest) -> Result<(), ApiError> {
    let cookie = req.cookie(CSRF_COOKIE);
    let header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (cookie, header) {
        (Some(cookie), Some(header))
            if !header.is_empty() && auth::hashes_match(cookie.value(), header) =>
        {
            Ok(())
        }
        _ => Err(forbidden(
            "CSRF_FAILED",
            "Missing or wrong x-csrf-token header for a cookie session",
        )),
    }
}

/// Whether a method changes state (and so needs the CSRF token).
pub fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookies_are_secure_outside_development() {
        for secure in [true, false] {
            let cookies = session_cookies(secure, "jwt".into(), 3600, "refresh".into());
            for cookie in &cookies {
                assert_eq!(cookie.secure(), Some(secure), "{}", cookie.name());
                assert_eq!(cookie.same_site(), Some(SameSite::Strict));
            }
            let [access, refresh, csrf] = cookies;
            assert_eq!(access.http_only(), Some(true));
            assert_eq!(refresh.http_only(), Some(true));
            assert_eq!(refresh.path(), Some(SESSION_PATH));
            assert_eq!(csrf.http_only(), None, "the page must read it");
        }
    }

    #[test]
    fn only_safe_methods_skip_the_csrf_check() {
        assert!(!is_state_changing(&Method::GET));
        assert!(!is_state_changing(&Method::HEAD));
        for m in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            assert!(is_state_changing(&m));
        }
    }
}
