//! In-memory fakes of every port, for the unit tests of the services.
//!
//! They follow the ports' documented contracts (tenant filtering, unique
//! constraints, atomic rotation) closely enough to test the use cases; the
//! real adapters have their own integration suite.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, OnceLock},
};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use organization::{
    NewOrganization, OrgName, Organization, OrganizationError, OrganizationFilter,
    OrganizationPatch, OrganizationRepository, OrganizationStats, Settings, Tier,
};
use tenancy::{Email, OrgId, Page, PageRequest, Role, StorageError, TenantScope};

use crate::{
    AccessToken, ApiKey, ApiKeyId, ApiKeyRepository, ApiKeyService, AuthError, AuthService,
    Authenticator, PasswordHash, RefreshToken, Session, SessionFamilyId, SessionId,
    SessionRepository, TokenKeys, User, UserCredentials, UserFilter, UserId, UserPatch,
    UserRepository, Username,
};

/// The password of every user made by [`Fakes::add_user`].
pub const PASSWORD: &str = "correct horse battery";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A hash of [`PASSWORD`] with tiny argon2 parameters: verification reads
/// the parameters from the hash, so the tests that sign in stay fast.
fn cheap_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let params = Params::new(8, 1, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_with_salt(PASSWORD.as_bytes(), b"test-salt-16byte")
            .unwrap()
            .to_string()
    })
    .clone()
}

fn page<T: Clone>(rows: Vec<T>, page: PageRequest) -> Page<T> {
    let total = rows.len() as u64;
    let items = rows
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.limit() as usize)
        .collect();
    Page {
        items,
        total,
        limit: page.limit(),
        offset: page.offset(),
    }
}

/// An organization with the given id and status.
pub fn organization(id: OrgId, is_active: bool) -> Organization {
    let new = NewOrganization {
        name: OrgName::parse("acme-corp").unwrap(),
        display_name: None,
        email: None,
        phone: None,
        tier: Tier::default(),
        monday_workspace_id: None,
        settings: Settings::default(),
    };
    Organization {
        id,
        is_active,
        ..new.into_organization("dev_key".into(), tenancy::now())
    }
}

#[derive(Default)]
pub struct FakeOrgs(Mutex<HashMap<OrgId, Organization>>);

#[async_trait]
impl OrganizationRepository for FakeOrgs {
    async fn list(
        &self,
        _filter: &OrganizationFilter,
        p: PageRequest,
    ) -> Result<Page<Organization>, StorageError> {
        Ok(page(lock(&self.0).values().cloned().collect(), p))
    }

    async fn find(&self, id: &OrgId) -> Result<Option<Organization>, StorageError> {
        Ok(lock(&self.0).get(id).cloned())
    }

    async fn insert(&self, _by: &TenantScope, org: &Organization) -> Result<(), OrganizationError> {
        lock(&self.0).insert(org.id.clone(), org.clone());
        Ok(())
    }

    async fn update(
        &self,
        scope: &TenantScope,
        patch: OrganizationPatch,
        now: DateTime<Utc>,
    ) -> Result<Organization, OrganizationError> {
        let mut orgs = lock(&self.0);
        let org = orgs
            .get_mut(scope.org_id())
            .ok_or(OrganizationError::NotFound)?;
        org.apply(patch, now)?;
        Ok(org.clone())
    }

    async fn delete(&self, id: &OrgId) -> Result<bool, StorageError> {
        Ok(lock(&self.0).remove(id).is_some())
    }

    async fn stats(&self, _id: &OrgId) -> Result<OrganizationStats, StorageError> {
        Ok(OrganizationStats::default())
    }
}

/// Users, the refused sign-ins recorded, and the sessions (read with the
/// user by [`UserRepository::find_with_session`], as the SQL adapter does).
pub struct FakeUsers(
    Mutex<Vec<UserCredentials>>,
    Mutex<Vec<(UserId, String)>>,
    Arc<FakeSessions>,
);

impl FakeUsers {
    fn over(sessions: Arc<FakeSessions>) -> Self {
        Self(Mutex::default(), Mutex::default(), sessions)
    }

    /// The refused sign-ins recorded: (user, reason).
    pub fn login_failures(&self) -> Vec<(UserId, String)> {
        lock(&self.1).clone()
    }
}

fn conflict(rows: &[UserCredentials], user: &User) -> Option<AuthError> {
    let others = rows
        .iter()
        .filter(|c| c.user.org_id == user.org_id && c.user.id != user.id);
    for c in others {
        if c.user.username == user.username {
            return Some(AuthError::UsernameTaken);
        }
        if c.user.email == user.email {
            return Some(AuthError::EmailTaken);
        }
    }
    None
}

#[async_trait]
impl UserRepository for FakeUsers {
    async fn insert(
        &self,
        _scope: &TenantScope,
        user: &User,
        password_hash: &PasswordHash,
    ) -> Result<(), AuthError> {
        let mut rows = lock(&self.0);
        if let Some(e) = conflict(&rows, user) {
            return Err(e);
        }
        rows.push(UserCredentials {
            user: user.clone(),
            password_hash: password_hash.as_str().to_owned(),
        });
        Ok(())
    }

    async fn find(&self, scope: &TenantScope, id: &UserId) -> Result<Option<User>, StorageError> {
        Ok(self.find_credentials(scope, id).await?.map(|c| c.user))
    }

    async fn find_with_session(
        &self,
        scope: &TenantScope,
        id: &UserId,
        family: &SessionFamilyId,
    ) -> Result<Option<(User, bool)>, StorageError> {
        let org = scope.org_id();
        let live = lock(&self.2.0).iter().any(|s| {
            s.org_id == *org && s.family_id == *family && s.user_id == *id && s.revoked_at.is_none()
        });
        Ok(self.find(scope, id).await?.map(|user| (user, live)))
    }

    async fn insert_first(
        &self,
        scope: &TenantScope,
        user: &User,
        password_hash: &PasswordHash,
    ) -> Result<(), AuthError> {
        if lock(&self.0)
            .iter()
            .any(|c| c.user.org_id == *scope.org_id())
        {
            return Err(AuthError::Forbidden("the organization already has users"));
        }
        self.insert(scope, user, password_hash).await
    }

    async fn find_credentials(
        &self,
        scope: &TenantScope,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StorageError> {
        let org = scope.org_id();
        Ok(lock(&self.0)
            .iter()
            .find(|c| c.user.org_id == *org && c.user.id == *id)
            .cloned())
    }

    async fn find_credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Vec<UserCredentials>, StorageError> {
        let mut found: Vec<_> = lock(&self.0)
            .iter()
            .filter(|c| c.user.email == *email)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.user.org_id.cmp(&b.user.org_id));
        Ok(found)
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &UserFilter,
        p: PageRequest,
    ) -> Result<Page<User>, StorageError> {
        let org = scope.org_id();
        let mut rows: Vec<User> = lock(&self.0)
            .iter()
            .map(|c| c.user.clone())
            .filter(|u| u.org_id == *org)
            .filter(|u| filter.role.is_none_or(|r| u.role == r))
            .filter(|u| filter.is_active.is_none_or(|a| u.is_active == a))
            .collect();
        rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(page(rows, p))
    }

    async fn update(
        &self,
        scope: &TenantScope,
        id: &UserId,
        patch: UserPatch,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError> {
        let org = scope.org_id();
        let mut rows = lock(&self.0);
        let i = rows
            .iter()
            .position(|c| c.user.org_id == *org && c.user.id == *id)
            .ok_or(AuthError::NotFound)?;
        let mut user = rows[i].user.clone();
        user.apply(&patch, now);
        if let Some(e) = conflict(&rows, &user) {
            return Err(e);
        }
        rows[i].user = user.clone();
        if let Some(hash) = patch.password_hash {
            rows[i].password_hash = hash.into_string();
        }
        Ok(user)
    }

    async fn count_in_org(&self, scope: &TenantScope) -> Result<u64, StorageError> {
        let org = scope.org_id();
        Ok(lock(&self.0)
            .iter()
            .filter(|c| c.user.org_id == *org)
            .count() as u64)
    }

    async fn record_login(
        &self,
        scope: &TenantScope,
        id: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let org = scope.org_id();
        for c in lock(&self.0).iter_mut() {
            if c.user.org_id == *org && c.user.id == *id {
                c.user.last_login_at = Some(now);
            }
        }
        Ok(())
    }

    async fn record_login_failure(
        &self,
        _scope: &TenantScope,
        id: &UserId,
        reason: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        lock(&self.1).push((id.clone(), reason.to_owned()));
        Ok(())
    }

    async fn record_login_throttled(
        &self,
        _scope: &TenantScope,
        id: &UserId,
        _address: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        lock(&self.1).push((id.clone(), "throttled".to_owned()));
        Ok(())
    }
}

#[derive(Default)]
pub struct FakeSessions(Mutex<Vec<Session>>);

#[async_trait]
impl SessionRepository for FakeSessions {
    async fn insert(&self, _scope: &TenantScope, session: &Session) -> Result<(), StorageError> {
        lock(&self.0).push(session.clone());
        Ok(())
    }

    async fn find_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, StorageError> {
        Ok(lock(&self.0)
            .iter()
            .find(|s| s.token_hash == token_hash)
            .cloned())
    }

    async fn rotate(
        &self,
        scope: &TenantScope,
        old: &SessionId,
        new: &Session,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let org = scope.org_id();
        let mut rows = lock(&self.0);
        let old = rows
            .iter_mut()
            .find(|s| {
                s.org_id == *org && s.id == *old && s.rotated_at.is_none() && s.revoked_at.is_none()
            })
            .ok_or(AuthError::TokenReused)?;
        old.rotated_at = Some(now);
        rows.push(new.clone());
        Ok(())
    }

    async fn revoke_family(
        &self,
        scope: &TenantScope,
        family: &SessionFamilyId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let org = scope.org_id();
        for s in lock(&self.0).iter_mut() {
            if s.org_id == *org && s.family_id == *family && s.revoked_at.is_none() {
                s.revoked_at = Some(now);
            }
        }
        Ok(())
    }

    async fn revoke_all_for_user(
        &self,
        scope: &TenantScope,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let org = scope.org_id();
        for s in lock(&self.0).iter_mut() {
            if s.org_id == *org && s.user_id == *user && s.revoked_at.is_none() {
                s.revoked_at = Some(now);
            }
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct FakeApiKeys(Mutex<Vec<(ApiKey, String)>>);

impl FakeApiKeys {
    fn with_key<T>(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        f: impl FnOnce(&mut (ApiKey, String)) -> T,
    ) -> Option<T> {
        lock(&self.0)
            .iter_mut()
            .find(|(k, _)| k.org_id == *org && k.id == *id)
            .map(f)
    }
}

#[async_trait]
impl ApiKeyRepository for FakeApiKeys {
    async fn insert(
        &self,
        _scope: &TenantScope,
        key: &ApiKey,
        hash: &str,
    ) -> Result<(), StorageError> {
        lock(&self.0).push((key.clone(), hash.to_owned()));
        Ok(())
    }

    async fn find(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
    ) -> Result<Option<ApiKey>, StorageError> {
        let org = scope.org_id();
        Ok(self.with_key(org, id, |(k, _)| k.clone()))
    }

    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<(ApiKey, String)>, StorageError> {
        Ok(lock(&self.0)
            .iter()
            .find(|(k, _)| k.prefix == prefix)
            .cloned())
    }

    async fn list(
        &self,
        scope: &TenantScope,
        p: PageRequest,
    ) -> Result<Page<ApiKey>, StorageError> {
        let org = scope.org_id();
        let rows = lock(&self.0)
            .iter()
            .filter(|(k, _)| k.org_id == *org)
            .map(|(k, _)| k.clone())
            .collect();
        Ok(page(rows, p))
    }

    async fn revoke(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError> {
        let org = scope.org_id();
        self.with_key(org, id, |(k, _)| {
            k.revoked_at.get_or_insert(now);
            k.clone()
        })
        .ok_or(AuthError::NotFound)
    }

    async fn rotate(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        expected_prefix: &str,
        new_prefix: &str,
        new_hash: &str,
        _now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError> {
        let org = scope.org_id();
        self.with_key(org, id, |(k, h)| {
            if k.is_revoked() {
                return None;
            }
            if k.prefix != expected_prefix {
                return Some(Err(AuthError::KeyRotatedConcurrently));
            }
            k.prefix = new_prefix.to_owned();
            k.last_used_at = None;
            *h = new_hash.to_owned();
            Some(Ok(k.clone()))
        })
        .flatten()
        .ok_or(AuthError::NotFound)?
    }

    async fn touch_last_used(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let org = scope.org_id();
        self.with_key(org, id, |(k, _)| k.last_used_at = Some(now));
        Ok(())
    }

    async fn record_new_address(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        _address: &str,
        known: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let org = scope.org_id();
        self.with_key(org, id, |(k, _)| {
            k.last_used_at = Some(now);
            k.known_addresses = known.to_vec();
        });
        Ok(())
    }
}

/// Every fake, wired into every service.
pub struct Fakes {
    pub orgs: Arc<FakeOrgs>,
    pub users: Arc<FakeUsers>,
    pub sessions: Arc<FakeSessions>,
    pub key_repo: Arc<FakeApiKeys>,
    pub keys: TokenKeys,
    pub auth: AuthService,
    pub api_keys: ApiKeyService,
    pub authn: Authenticator,
}

impl Fakes {
    pub fn new() -> Self {
        let orgs = Arc::new(FakeOrgs::default());
        let sessions = Arc::new(FakeSessions::default());
        let users = Arc::new(FakeUsers::over(sessions.clone()));
        let key_repo = Arc::new(FakeApiKeys::default());
        let keys = TokenKeys::new(
            b"test secret of at least thirty-two bytes",
            "lead-routing",
            "lead-routing-api",
        )
        .unwrap();
        Self {
            auth: AuthService::new(users.clone(), sessions.clone(), orgs.clone(), keys.clone()),
            api_keys: ApiKeyService::new(key_repo.clone()),
            authn: Authenticator::new(users.clone(), key_repo.clone(), orgs.clone(), keys.clone()),
            orgs,
            users,
            sessions,
            key_repo,
            keys,
        }
    }

    pub fn add_org(&self, active: bool) -> OrgId {
        self.add_org_with_id(OrgId::generate(), active)
    }

    pub fn add_org_with_id(&self, id: OrgId, active: bool) -> OrgId {
        lock(&self.orgs.0).insert(id.clone(), organization(id.clone(), active));
        id
    }

    pub fn set_org_active(&self, id: &OrgId, active: bool) {
        if let Some(org) = lock(&self.orgs.0).get_mut(id) {
            org.is_active = active;
        }
    }

    pub fn remove_org(&self, id: &OrgId) {
        lock(&self.orgs.0).remove(id);
    }

    /// A user `<name>@acme.com` with password [`PASSWORD`].
    pub fn add_user(&self, org: &OrgId, name: &str, role: Role) -> User {
        let user = User::new(
            org.clone(),
            Username::parse(name).unwrap(),
            Email::parse(&format!("{name}@acme.com")).unwrap(),
            role,
            tenancy::now(),
        );
        lock(&self.users.0).push(UserCredentials {
            user: user.clone(),
            password_hash: cheap_hash(),
        });
        user
    }

    pub fn set_user_active(&self, org: &OrgId, id: &UserId, active: bool) {
        for c in lock(&self.users.0).iter_mut() {
            if c.user.org_id == *org && c.user.id == *id {
                c.user.is_active = active;
            }
        }
    }

    pub fn user(&self, org: &OrgId, id: &UserId) -> User {
        lock(&self.users.0)
            .iter()
            .find(|c| c.user.org_id == *org && c.user.id == *id)
            .map(|c| c.user.clone())
            .unwrap()
    }

    /// A sign-in of `user` at `now` without its password: a new session
    /// family and an access token of it.
    pub fn sign_in(&self, user: &User, now: DateTime<Utc>) -> AccessToken {
        let session = Session::start(user, &RefreshToken::generate(), now);
        lock(&self.sessions.0).push(session.clone());
        self.keys
            .issue_access(user, &session.family_id, now)
            .unwrap()
    }

    pub fn session_count(&self) -> usize {
        lock(&self.sessions.0).len()
    }

    /// Whether any stored session holds this plain token (it never should).
    pub fn sessions_contain_plain(&self, token: &str) -> bool {
        lock(&self.sessions.0).iter().any(|s| s.token_hash == token)
    }

    pub fn key_by_prefix(&self, prefix: &str) -> Option<(ApiKey, String)> {
        lock(&self.key_repo.0)
            .iter()
            .find(|(k, _)| k.prefix == prefix)
            .cloned()
    }
}
