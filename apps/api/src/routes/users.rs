//! `/users`: the users of the caller's organization.

use actix_web::{HttpResponse, web};
use auth::{CreateUser, Password, UpdateUser, User, UserFilter, UserId, Username};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenancy::{Email, PageRequest, Role, ValidationErrors};
use utoipa::{IntoParams, ToSchema};

use crate::{
    envelope::{self, DataEnvelope, ListEnvelope, MessageEnvelope},
    error::{ApiError, ErrorEnvelope},
    extract::{Authenticated, JsonBody, QueryParams},
    startup::AppState,
};

/// A role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleDto {
    /// Operates the platform (default organization only).
    SuperAdmin,
    /// Manages its organization, users and keys.
    Admin,
    /// Reviews routing.
    Manager,
    /// Works its own leads.
    Agent,
}

impl RoleDto {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        Role::from(self).as_str()
    }
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::SuperAdmin => Role::SuperAdmin,
            RoleDto::Admin => Role::Admin,
            RoleDto::Manager => Role::Manager,
            RoleDto::Agent => Role::Agent,
        }
    }
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::SuperAdmin => RoleDto::SuperAdmin,
            Role::Admin => RoleDto::Admin,
            Role::Manager => RoleDto::Manager,
            Role::Agent => RoleDto::Agent,
        }
    }
}

/// A user as the API shows it (never a password or its hash).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = crate::examples::users_user_dto)]
pub struct UserDto {
    /// Opaque id (`usr_...`).
    pub id: String,
    /// The user's organization.
    pub org_id: String,
    /// Unique in the organization (lower-case).
    pub username: String,
    /// Unique in the organization.
    pub email: String,
    /// Role.
    pub role: RoleDto,
    /// Deactivated users cannot sign in; their tokens stop working.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last successful sign-in.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            org_id: u.org_id.to_string(),
            username: u.username.to_string(),
            email: u.email.to_string(),
            role: u.role.into(),
            is_active: u.is_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_login_at: u.last_login_at,
        }
    }
}

/// Body of `POST /users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = crate::examples::users_create_user_body)]
pub struct CreateUserBody {
    /// 3-64 letters, digits, `.`, `_`, `-`.
    #[schema(min_length = 3, max_length = 64)]
    pub username: String,
    /// E-mail, unique in the organization.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// At least 10 characters.
    #[schema(min_length = 10, max_length = 1024)]
    pub password: String,
    /// Role (default `agent`); at most your own.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub role: Option<RoleDto>,
}

/// Body of `PUT /users/{id}`: the given fields change. `role` and `isActive`
/// are for admins; `password` (with `currentPassword`) only for oneself.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateUserBody {
    /// New username.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false, min_length = 3, max_length = 64)]
    pub username: Option<String>,
    /// New e-mail.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false, format = "email")]
    pub email: Option<String>,
    /// New role (admins).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub role: Option<RoleDto>,
    /// Activate or deactivate (admins).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    /// New password (own account only; needs `currentPassword`).
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false, min_length = 10, max_length = 1024)]
    pub password: Option<String>,
    /// The current password, to change it.
    #[serde(default, deserialize_with = "crate::extract::non_null")]
    #[schema(nullable = false)]
    pub current_password: Option<String>,
}

/// Filters and paging of `GET /users`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// Only this role.
    pub role: Option<RoleDto>,
    /// Only active (`true`) or deactivated (`false`) users.
    pub is_active: Option<bool>,
    /// Page size, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).ok_or_else(|| ApiError::not_found("User"))
}

/// List the users of your organization.
#[utoipa::path(get, path = "/users", operation_id = "list_users", tag = "users", params(ListUsersQuery),
    responses(
        (status = 200, description = "One page of users, oldest first", body = ListEnvelope<UserDto>),
        (status = 400, description = "Invalid filter or paging", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Your role may not list users", body = ErrorEnvelope),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListUsersQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::new(q.limit, q.offset).map_err(|e| ApiError::validation(&e))?;
    let filter = UserFilter {
        role: q.role.map(Role::from),
        is_active: q.is_active,
    };
    let users = state.auth.list_users(&actor, &filter, page).await?;
    Ok(envelope::page(users, UserDto::from))
}

/// Create a user in your organization (admins).
#[utoipa::path(post, path = "/users", operation_id = "create_user", tag = "users", request_body = CreateUserBody,
    responses(
        (status = 201, description = "Created", body = DataEnvelope<UserDto>,
            example = crate::examples::users_create_201),
        (status = 400, description = "Invalid body", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin, or a role above yours", body = ErrorEnvelope),
        (status = 409, description = "Username or e-mail taken", body = ErrorEnvelope),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    JsonBody(body): JsonBody<CreateUserBody>,
) -> Result<HttpResponse, ApiError> {
    let cmd = CreateUser::parse(
        &body.username,
        &body.email,
        &body.password,
        body.role.map(RoleDto::as_str),
    )
    .map_err(|e| ApiError::validation(&e))?;
    let user = state.auth.create_user(&actor, cmd).await?;
    Ok(envelope::created(UserDto::from(user)))
}

/// One user of your organization.
#[utoipa::path(get, path = "/users/{id}", operation_id = "get_user", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = DataEnvelope<UserDto>),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Your role may not read other users", body = ErrorEnvelope),
        (status = 404, description = "No such user in your organization", body = ErrorEnvelope),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.auth.get_user(&actor, &user_id(&id)?).await?;
    Ok(envelope::ok(UserDto::from(user)))
}

/// Change a user: admins change username, e-mail, role and status; anyone
/// changes their own username, e-mail and password.
#[utoipa::path(put, path = "/users/{id}", operation_id = "update_user", tag = "users", request_body = UpdateUserBody,
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Updated", body = DataEnvelope<UserDto>),
        (status = 400, description = "Invalid body, or wrong current password", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Your role may not make this change", body = ErrorEnvelope),
        (status = 404, description = "No such user in your organization", body = ErrorEnvelope),
        (status = 409, description = "Username or e-mail taken", body = ErrorEnvelope),
        (status = 429, description = "Too many password checks (`currentPassword` is throttled like a sign-in)", body = ErrorEnvelope),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
    JsonBody(body): JsonBody<UpdateUserBody>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&id)?;
    let mut errors = ValidationErrors::new();
    let change = UpdateUser {
        username: body
            .username
            .and_then(|v| errors.check("username", Username::parse(&v))),
        email: body
            .email
            .and_then(|v| errors.check("email", Email::parse(&v))),
        role: body.role.map(Role::from),
        is_active: body.is_active,
    };
    let password = body
        .password
        .and_then(|v| errors.check("password", Password::parse(&v)));
    if password.is_some() && body.current_password.is_none() {
        errors.push(tenancy::FieldError::new(
            "currentPassword",
            "is required to change the password",
        ));
    }
    errors
        .into_result(())
        .map_err(|e| ApiError::validation(&e))?;

    let password = match (password, body.current_password.as_deref()) {
        (Some(new), Some(current)) => Some((current, new)),
        _ => None,
    };
    // A current password is a password check: throttled as a sign-in is,
    // per account and per address, so it is no guessing oracle.
    if password.is_some() {
        let account = format!("user:{id}");
        let address = crate::proxy::client_addr(&req);
        if let Err(wait) = state.login_limiter.check(&account, address) {
            if state.login_limiter.report_refusal(&account) {
                let address = address.map(|a| a.to_string());
                if let Err(e) = state
                    .auth
                    .record_throttled_password_check(
                        actor.org_id(),
                        &id,
                        address.as_deref(),
                        tenancy::now(),
                    )
                    .await
                {
                    tracing::warn!(error = %e, "could not record a throttled password check");
                }
            }
            return Err(ApiError::too_many_requests(wait));
        }
    }
    // One use case: every check before any write.
    let user = state
        .auth
        .update_account(&actor, &id, change, password)
        .await?;
    Ok(envelope::ok(UserDto::from(user)))
}

/// Deactivate a user (admins): they can no longer sign in and their tokens stop working.
#[utoipa::path(delete, path = "/users/{id}", operation_id = "deactivate_user", tag = "users",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Deactivated", body = MessageEnvelope<UserDto>,
            example = crate::examples::users_deactivate_200),
        (status = 401, description = "Missing or invalid credentials", body = ErrorEnvelope),
        (status = 403, description = "Not an admin, or yourself", body = ErrorEnvelope),
        (status = 404, description = "No such user in your organization", body = ErrorEnvelope),
    ))]
pub async fn deactivate(
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.auth.deactivate_user(&actor, &user_id(&id)?).await?;
    Ok(envelope::message(
        "User deactivated",
        Some(UserDto::from(user)),
    ))
}
