//! `/auth`: registration, sign-in, token refresh, sign-out, the current user
//! (seed "Testing Multi-Org Setup", steps 2-3).

use actix_web::{HttpRequest, HttpResponse, web};
use auth::{LoginResult, RegisterUser};
use serde::{Deserialize, Serialize};
use tenancy::{Email, OrgId, ValidationErrors};
use utoipa::ToSchema;

use crate::{
    envelope::{self, DataEnvelope, MessageEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, JsonBody, MaybeAuthenticated},
    routes::users::{RoleDto, UserDto},
    startup::AppState,
};

/// Body of `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::auth_register_body)]
pub struct RegisterBody {
    /// 3-64 letters, digits, `.`, `_`, `-`; unique in the organization.
    #[schema(min_length = 3, max_length = 64)]
    pub username: String,
    /// Unique in the organization.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// At least 10 characters.
    #[schema(min_length = 10, max_length = 1024)]
    pub password: String,
    /// Role (default: `admin` for an organization's first user, else `agent`).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub role: Option<RoleDto>,
    /// The organization to join.
    pub org_id: String,
}

/// Body of `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::auth_login_body)]
pub struct LoginBody {
    /// The account's e-mail.
    #[schema(format = "email")]
    pub email: String,
    /// The account's password.
    pub password: String,
    /// Needed only when the e-mail exists in several organizations.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub org_id: Option<String>,
}

/// Body of `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshBody {
    /// The refresh token of the last sign-in or refresh.
    pub refresh_token: String,
}

/// `{ok, user, tokens}`: the answer to a sign-in or a refresh.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = crate::examples::auth_login_response)]
pub struct LoginResponse {
    /// Always `true`.
    pub ok: bool,
    /// The signed-in user.
    pub user: UserDto,
    /// The new tokens.
    pub tokens: TokensDto,
}

/// A token pair.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::auth_tokens_dto)]
pub struct TokensDto {
    /// JWT for `Authorization: Bearer`, valid `expiresIn` seconds.
    pub access_token: String,
    /// Opaque, single-use token for `POST /auth/refresh`, valid 30 days.
    pub refresh_token: String,
    /// Lifetime of the access token in seconds (3600).
    pub expires_in: u64,
}

fn login_response(result: LoginResult) -> HttpResponse {
    HttpResponse::Ok().json(LoginResponse {
        ok: true,
        user: result.user.into(),
        tokens: TokensDto {
            access_token: result.access.token,
            refresh_token: result.refresh_token,
            expires_in: result.access.expires_in,
        },
    })
}

/// Register a user: an organization's first admin without credentials, or
/// anyone by an admin of the organization or a super admin.
#[utoipa::path(post, path = "/auth/register", operation_id = "register", tag = "auth", request_body = RegisterBody,
    security((), ("bearerAuth" = []), ("apiKey" = [])),
    responses(
        (status = 201, description = "Registered", body = DataEnvelope<UserDto>,
            example = crate::examples::auth_register_201),
        (status = 400, description = "Invalid body, or the organization is deactivated", body = ErrorEnvelope),
        (status = 401, description = "Invalid credentials were sent", body = ErrorEnvelope),
        (status = 403, description = "The organization has users and you are not its admin", body = ErrorEnvelope),
        (status = 404, description = "No such organization", body = ErrorEnvelope),
        (status = 409, description = "Username or e-mail taken in the organization", body = ErrorEnvelope),
    ))]
pub async fn register(
    state: web::Data<AppState>,
    MaybeAuthenticated(actor): MaybeAuthenticated,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let org_id = OrgId::parse(&body.org_id).ok_or_else(|| ApiError::not_found("Organization"))?;
    let cmd = RegisterUser::parse(
        org_id,
        &body.username,
        &body.email,
        &body.password,
        body.role.map(RoleDto::as_str),
    )
    .map_err(|e| ApiError::validation(&e))?;
    let user = state.auth.register(actor.as_ref(), cmd).await?;
    Ok(envelope::created(UserDto::from(user)))
}

/// Sign in with e-mail and password.
#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "auth", request_body = LoginBody, security(()),
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 400, description = "Invalid body, or the e-mail needs an orgId", body = ErrorEnvelope),
        (status = 401, description = "Wrong e-mail or password, or account deactivated", body = ErrorEnvelope),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorEnvelope),
    ))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let result = password_sign_in(&state, &req, body).await?;
    Ok(login_response(result))
}

/// Validates a sign-in body, applies the throttle and checks the password.
/// Shared by `POST /auth/login` and the console's `POST /admin/session`.
///
/// # Errors
/// 400 for a malformed e-mail or organization id, 429 when throttled, 401
/// for wrong credentials.
pub async fn password_sign_in(
    state: &AppState,
    req: &HttpRequest,
    body: LoginBody,
) -> Result<LoginResult, ApiError> {
    let mut errors = ValidationErrors::new();
    let email = errors.check("email", Email::parse(&body.email));
    let org_id = match body.org_id.as_deref().map(OrgId::parse) {
        Some(None) => {
            errors.push(tenancy::FieldError::new(
                "orgId",
                "is not an organization id",
            ));
            None
        }
        Some(id) => id,
        None => None,
    };
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(&errors));
    };
    let address = crate::proxy::client_addr(req);
    if let Err(wait) = state.login_limiter.check(email.as_str(), address) {
        if state.login_limiter.report_refusal(email.as_str()) {
            let address = address.map(|a| a.to_string());
            // The audit trail is a record, not a gate: the answer is 429
            // whether or not it could be written.
            if let Err(e) = state
                .auth
                .record_throttled_sign_in(&email, address.as_deref(), tenancy::now())
                .await
            {
                tracing::warn!(error = %e, "could not record a throttled sign-in");
            }
        }
        return Err(ApiError::too_many_requests(wait));
    }
    Ok(state
        .auth
        .login(&email, &body.password, org_id.as_ref(), tenancy::now())
        .await?)
}

/// Exchange a refresh token for a new token pair. Each refresh token works
/// once; presenting a used one revokes every token of that sign-in.
#[utoipa::path(post, path = "/auth/refresh", operation_id = "refresh_tokens", tag = "auth", request_body = RefreshBody, security(()),
    responses(
        (status = 200, description = "New tokens", body = LoginResponse),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = ErrorEnvelope),
    ))]
pub async fn refresh(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let result = state
        .auth
        .refresh(&body.refresh_token, tenancy::now())
        .await?;
    Ok(login_response(result))
}

/// Sign out: revoke the refresh token and every token of its sign-in.
#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "auth", request_body = RefreshBody, security(()),
    responses(
        (status = 200, description = "Signed out (also for an unknown token)", body = MessageEnvelope<UserDto>,
            example = crate::examples::auth_logout_200),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
    ))]
pub async fn logout(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    state
        .auth
        .logout(&body.refresh_token, tenancy::now())
        .await?;
    Ok(envelope::message::<UserDto>("Signed out", None))
}

/// The signed-in user.
#[utoipa::path(get, path = "/auth/me", operation_id = "get_current_user", tag = "auth",
    responses(
        (status = 200, description = "The current user", body = DataEnvelope<UserDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "The credential is an API key, not a user", body = ErrorEnvelope),
    ))]
pub async fn me(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = state.auth.me(&actor).await?;
    Ok(envelope::ok(UserDto::from(user)))
}
