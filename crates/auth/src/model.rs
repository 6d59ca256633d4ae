//! Users, API keys and refresh sessions, and the commands that create and
//! change them.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use tenancy::{Email, OrgId, Role, ValidationErrors};

use crate::{
    AccessToken, ApiKeyId, ApiKeyName, Password, PasswordHash, RefreshToken, SessionFamilyId,
    SessionId, UserId, Username,
};

/// How long a refresh token lives, in days. Each rotation issues a new one
/// with a fresh 30 days, so a session used at least monthly stays signed in.
pub const REFRESH_TOKEN_TTL_DAYS: i64 = 30;

/// A person who signs in to one organization. Carries no password: that
/// lives only in [`UserCredentials`], on the login path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Primary key.
    pub id: UserId,
    /// The organization it belongs to, for good.
    pub org_id: OrgId,
    /// Unique in the organization, lower-case.
    pub username: Username,
    /// Unique in the organization (the same address may exist in others).
    pub email: Email,
    /// What it may do.
    pub role: Role,
    /// Inactive users cannot sign in, and their tokens stop working at once.
    pub is_active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it last signed in with its password.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl User {
    /// A new active user with a fresh id.
    pub fn new(
        org_id: OrgId,
        username: Username,
        email: Email,
        role: Role,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: UserId::generate(),
            org_id,
            username,
            email,
            role,
            is_active: true,
            created_at: now,
            updated_at: now,
            last_login_at: None,
        }
    }

    /// Applies the profile fields of a patch (its `password_hash` is a column
    /// of the credentials, which the adapter writes itself). Storage adapters
    /// call this inside the transaction that read the row.
    pub fn apply(&mut self, patch: &UserPatch, now: DateTime<Utc>) {
        if let Some(v) = &patch.username {
            self.username = v.clone();
        }
        if let Some(v) = &patch.email {
            self.email = v.clone();
        }
        if let Some(v) = patch.role {
            self.role = v;
        }
        if let Some(v) = patch.is_active {
            self.is_active = v;
        }
        self.updated_at = now;
    }
}

/// A user with its password hash: what the login path reads, and nothing
/// else.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// Its argon2id PHC string.
    pub password_hash: String,
}

impl fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user", &self.user)
            .field("password_hash", &"***")
            .finish()
    }
}

fn parse_role(errors: &mut ValidationErrors, raw: Option<&str>) -> Option<Role> {
    raw.and_then(|r| errors.check("role", r.parse::<Role>()))
}

/// `POST /auth/register`: a new user in a named organization, already
/// validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterUser {
    /// The organization to join.
    pub org_id: OrgId,
    /// The username.
    pub username: Username,
    /// The e-mail address.
    pub email: Email,
    /// The password.
    pub password: Password,
    /// The role asked for; see [`crate::policy::authorize_registration`] for
    /// the default and the limits.
    pub role: Option<Role>,
}

impl RegisterUser {
    /// Validates raw fields, reporting every bad one at once (`username`,
    /// `email`, `password`, `role`).
    ///
    /// # Errors
    /// One [`tenancy::FieldError`] per bad field.
    pub fn parse(
        org_id: OrgId,
        username: &str,
        email: &str,
        password: &str,
        role: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let username = errors.check("username", Username::parse(username));
        let email = errors.check("email", Email::parse(email));
        let password = errors.check("password", Password::parse(password));
        let role = parse_role(&mut errors, role);
        match (username, email, password) {
            (Some(username), Some(email), Some(password)) if errors.is_empty() => Ok(Self {
                org_id,
                username,
                email,
                password,
                role,
            }),
            _ => Err(errors),
        }
    }
}

/// An admin creates a user in the organization it acts in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateUser {
    /// The username.
    pub username: Username,
    /// The e-mail address.
    pub email: Email,
    /// The initial password.
    pub password: Password,
    /// The role.
    pub role: Role,
}

impl CreateUser {
    /// Validates raw fields, reporting every bad one at once. `role`
    /// defaults to `agent`.
    ///
    /// # Errors
    /// One [`tenancy::FieldError`] per bad field.
    pub fn parse(
        username: &str,
        email: &str,
        password: &str,
        role: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let username = errors.check("username", Username::parse(username));
        let email = errors.check("email", Email::parse(email));
        let password = errors.check("password", Password::parse(password));
        let role = parse_role(&mut errors, role).unwrap_or(Role::Agent);
        match (username, email, password) {
            (Some(username), Some(email), Some(password)) if errors.is_empty() => Ok(Self {
                username,
                email,
                password,
                role,
            }),
            _ => Err(errors),
        }
    }
}

/// What a user-management request may change. `None` leaves a field as it
/// is. Passwords change only through
/// [`crate::AuthService::change_own_password`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateUser {
    /// New username.
    pub username: Option<Username>,
    /// New e-mail address.
    pub email: Option<Email>,
    /// New role (admins, never one's own).
    pub role: Option<Role>,
    /// Activate or deactivate (admins, never oneself).
    pub is_active: Option<bool>,
}

impl UpdateUser {
    /// An update that only sets `isActive`.
    pub fn active(is_active: bool) -> Self {
        Self {
            is_active: Some(is_active),
            ..Self::default()
        }
    }

    /// Whether it touches what only an admin may change (role, active flag).
    pub fn touches_admin_fields(&self) -> bool {
        self.role.is_some() || self.is_active.is_some()
    }
}

/// A partial update as the repository applies it: [`UpdateUser`] plus the
/// password hash.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserPatch {
    /// New username.
    pub username: Option<Username>,
    /// New e-mail address.
    pub email: Option<Email>,
    /// New role.
    pub role: Option<Role>,
    /// New active flag.
    pub is_active: Option<bool>,
    /// New password hash.
    pub password_hash: Option<PasswordHash>,
}

impl From<UpdateUser> for UserPatch {
    fn from(u: UpdateUser) -> Self {
        Self {
            username: u.username,
            email: u.email,
            role: u.role,
            is_active: u.is_active,
            password_hash: None,
        }
    }
}

/// Which users a list returns. Every set field must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Only this role.
    pub role: Option<Role>,
    /// Only active (or only inactive) users.
    pub is_active: Option<bool>,
}

/// A credential for machines: acts in one organization with one role. Only
/// the hash of its secret is stored (beside this struct, not in it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Primary key.
    pub id: ApiKeyId,
    /// The organization it acts in.
    pub org_id: OrgId,
    /// What it is for.
    pub name: ApiKeyName,
    /// The visible lookup prefix (unique across all organizations).
    pub prefix: String,
    /// The role it carries: at most its creator's.
    pub role: Role,
    /// Who created it (`user:<id>`, `api_key:<id>`, `dev_key`).
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked key never works again.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The client addresses it was used from, most recent last, at most
    /// [`ApiKey::KNOWN_ADDRESSES`].
    pub known_addresses: Vec<String>,
}

impl ApiKey {
    /// How many addresses a key remembers.
    pub const KNOWN_ADDRESSES: usize = 16;

    /// Whether it has been revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// The addresses to remember after a request from `address`, when it
    /// is one the key was not used from (the oldest is forgotten beyond
    /// [`ApiKey::KNOWN_ADDRESSES`]); `None` when it is known already.
    pub fn remember(&self, address: &str) -> Option<Vec<String>> {
        if self.known_addresses.iter().any(|a| a == address) {
            return None;
        }
        let mut known = self.known_addresses.clone();
        known.push(address.to_owned());
        let extra = known.len().saturating_sub(Self::KNOWN_ADDRESSES);
        known.drain(..extra);
        Some(known)
    }
}

/// An admin creates an API key in the organization it acts in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiKey {
    /// What it is for.
    pub name: ApiKeyName,
    /// The role it carries.
    pub role: Role,
}

impl NewApiKey {
    /// Validates raw fields (`name`, `role`; role defaults to `agent`).
    ///
    /// # Errors
    /// One [`tenancy::FieldError`] per bad field.
    pub fn parse(name: &str, role: Option<&str>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", ApiKeyName::parse(name));
        let role = parse_role(&mut errors, role).unwrap_or(Role::Agent);
        match name {
            Some(name) if errors.is_empty() => Ok(Self { name, role }),
            _ => Err(errors),
        }
    }
}

/// One refresh token's record. A login starts a family; each refresh marks
/// the presented session rotated and adds its successor to the family.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// Primary key.
    pub id: SessionId,
    /// The login it descends from.
    pub family_id: SessionFamilyId,
    /// The user.
    pub user_id: UserId,
    /// The user's organization.
    pub org_id: OrgId,
    /// [`crate::hash_secret`] of the refresh token (unique).
    pub token_hash: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for its successor; presenting it again is reuse.
    pub rotated_at: Option<DateTime<Utc>>,
    /// When it was revoked (logout, reuse, password change, deactivation).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("family_id", &self.family_id)
            .field("user_id", &self.user_id)
            .field("org_id", &self.org_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("rotated_at", &self.rotated_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The first session of a new family, for `token`.
    pub fn start(user: &User, token: &RefreshToken, now: DateTime<Utc>) -> Self {
        Self::in_family(SessionFamilyId::generate(), user, token, now)
    }

    /// The session that replaces `self` when it is rotated.
    pub fn successor(&self, user: &User, token: &RefreshToken, now: DateTime<Utc>) -> Self {
        Self::in_family(self.family_id.clone(), user, token, now)
    }

    fn in_family(
        family_id: SessionFamilyId,
        user: &User,
        token: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: SessionId::generate(),
            family_id,
            user_id: user.id.clone(),
            org_id: user.org_id.clone(),
            token_hash: token.hash(),
            created_at: now,
            expires_at: now + Duration::days(REFRESH_TOKEN_TTL_DAYS),
            rotated_at: None,
            revoked_at: None,
        }
    }

    /// Whether it is past its expiry at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

/// What a login or a refresh returns: the user, a new access token and a new
/// refresh token (plain text, given to the client once).
#[derive(Clone, PartialEq, Eq)]
pub struct LoginResult {
    /// The signed-in user, as stored now.
    pub user: User,
    /// The access token.
    pub access: AccessToken,
    /// The refresh token.
    pub refresh_token: String,
}

impl fmt::Debug for LoginResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginResult")
            .field("user", &self.user)
            .field("access", &self.access)
            .field("refresh_token", &"***")
            .finish()
    }
}

impl events::Audited for User {
    const SUBJECT: &'static str = "user";

    fn audit_id(&self) -> String {
        self.id.to_string()
    }

    /// Never the password or its hash.
    fn audit_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("username".into(), self.username.as_str().into());
        m.insert("email".into(), self.email.to_string().into());
        m.insert("role".into(), self.role.as_str().into());
        m.insert("isActive".into(), self.is_active.into());
        m
    }
}

impl events::Audited for ApiKey {
    const SUBJECT: &'static str = "api_key";

    fn audit_id(&self) -> String {
        self.id.to_string()
    }

    /// The visible prefix only, never the secret or its hash.
    fn audit_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), self.name.as_str().into());
        m.insert("prefix".into(), self.prefix.clone().into());
        m.insert("role".into(), self.role.as_str().into());
        m.insert(
            "revokedAt".into(),
            self.revoked_at.map(|t| t.to_rfc3339()).into(),
        );
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_remembers_its_last_sixteen_addresses() {
        let mut key = ApiKey {
            id: ApiKeyId::generate(),
            org_id: OrgId::parse("org_a").unwrap(),
            name: ApiKeyName::parse("k").unwrap(),
            prefix: "abcd1234".into(),
            role: Role::Agent,
            created_by: "user:u".into(),
            created_at: tenancy::now(),
            last_used_at: None,
            revoked_at: None,
            known_addresses: Vec::new(),
        };
        assert_eq!(key.remember("10.0.0.1"), Some(vec!["10.0.0.1".to_owned()]));
        for i in 1..=ApiKey::KNOWN_ADDRESSES {
            key.known_addresses = key
                .remember(&format!("10.0.0.{i}"))
                .unwrap_or(key.known_addresses);
        }
        assert_eq!(key.remember("10.0.0.3"), None, "known");
        let known = key.remember("192.0.2.1").unwrap();
        assert_eq!(known.len(), ApiKey::KNOWN_ADDRESSES);
        assert_eq!(
            known.first().map(String::as_str),
            Some("10.0.0.2"),
            "the oldest goes"
        );
        assert_eq!(known.last().map(String::as_str), Some("192.0.2.1"));
    }

    fn fields(e: &ValidationErrors) -> Vec<&str> {
        e.fields().iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn a_registration_reports_every_bad_field_at_once() {
        let e = RegisterUser::parse(OrgId::default_org(), "a", "nope", "short", Some("root"))
            .unwrap_err();
        assert_eq!(fields(&e), ["username", "email", "password", "role"]);
        let ok = RegisterUser::parse(
            OrgId::default_org(),
            "Ann",
            "ann@acme.com",
            "correct horse battery",
            None,
        )
        .unwrap();
        assert_eq!(ok.username.as_str(), "ann");
        assert_eq!(ok.role, None);
    }

    #[test]
    fn a_created_user_defaults_to_agent() {
        let c = CreateUser::parse("bob", "bob@acme.com", "correct horse battery", None).unwrap();
        assert_eq!(c.role, Role::Agent);
        let e = CreateUser::parse("bob", "bob@acme.com", "x", Some("admin")).unwrap_err();
        assert_eq!(fields(&e), ["password"]);
    }

    #[test]
    fn a_new_api_key_needs_a_name_and_a_known_role() {
        assert_eq!(NewApiKey::parse("zapier", None).unwrap().role, Role::Agent);
        let e = NewApiKey::parse(" ", Some("boss")).unwrap_err();
        assert_eq!(fields(&e), ["name", "role"]);
    }

    #[test]
    fn a_session_lives_30_days_and_its_successor_stays_in_the_family() {
        let now = tenancy::now();
        let user = User::new(
            OrgId::default_org(),
            Username::parse("ann").unwrap(),
            Email::parse("ann@acme.com").unwrap(),
            Role::Agent,
            now,
        );
        let t = RefreshToken::generate();
        let s = Session::start(&user, &t, now);
        assert_eq!(s.token_hash, t.hash());
        assert_eq!(s.expires_at - now, Duration::days(30));
        assert!(!s.is_expired(now + Duration::days(29)));
        assert!(s.is_expired(now + Duration::days(30)));
        let next = s.successor(&user, &RefreshToken::generate(), now);
        assert_eq!(next.family_id, s.family_id);
        assert_ne!(next.id, s.id);
        assert!(!format!("{s:?}").contains(&s.token_hash));
    }

    #[test]
    fn applying_a_patch_changes_only_the_given_fields() {
        let now = tenancy::now();
        let mut user = User::new(
            OrgId::default_org(),
            Username::parse("ann").unwrap(),
            Email::parse("ann@acme.com").unwrap(),
            Role::Agent,
            now,
        );
        let later = now + Duration::seconds(5);
        user.apply(
            &UserPatch {
                role: Some(Role::Manager),
                ..Default::default()
            },
            later,
        );
        assert_eq!(user.role, Role::Manager);
        assert_eq!(user.username.as_str(), "ann");
        assert!(user.is_active);
        assert_eq!(user.updated_at, later);
    }
}
