//! Users, refresh sessions and API keys in memory, with the rules the SQL
//! adapter enforces: usernames and e-mails unique per organization, a
//! session only for a user of its organization, rotation exactly once.
//! The discovery lookups (by e-mail, token hash, key prefix) search every
//! organization, as they must.

use async_trait::async_trait;
use auth::{
    ApiKey, ApiKeyId, ApiKeyRepository, AuthError, PasswordHash, Session, SessionFamilyId,
    SessionId, SessionRepository, User, UserCredentials, UserFilter, UserId, UserPatch,
    UserRepository,
};
use chrono::{DateTime, Utc};
use events::Action;
use tenancy::{Email, Page, PageRequest, StorageError, TenantScope};

use crate::{
    MemoryStore,
    state::{Tenant, page_of},
};

/// The username or e-mail of `user` taken by another user of its
/// organization.
fn conflict(t: &Tenant, user: &User) -> Option<AuthError> {
    for c in t.users.iter().filter(|c| c.user.id != user.id) {
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
impl UserRepository for MemoryStore {
    async fn insert(
        &self,
        scope: &TenantScope,
        user: &User,
        password_hash: &PasswordHash,
    ) -> Result<(), AuthError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        let mut user = user.clone();
        user.org_id = scope.org_id().clone();
        if let Some(e) = conflict(t, &user) {
            return Err(e);
        }
        t.record(scope, Action::Created, None, Some(&user), user.created_at);
        t.users.push(UserCredentials {
            user,
            password_hash: password_hash.as_str().to_owned(),
        });
        Ok(())
    }

    async fn insert_first(
        &self,
        scope: &TenantScope,
        user: &User,
        password_hash: &PasswordHash,
    ) -> Result<(), AuthError> {
        // One lock for the check and the insert: exactly one first user.
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        if !t.users.is_empty() {
            return Err(AuthError::Forbidden("the organization already has users"));
        }
        let mut user = user.clone();
        user.org_id = scope.org_id().clone();
        t.record(scope, Action::Created, None, Some(&user), user.created_at);
        t.users.push(UserCredentials {
            user,
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
        let state = self.state.lock().await;
        let Some(t) = state.tenants.get(scope.org_id().as_str()) else {
            return Ok(None);
        };
        let live = t
            .sessions
            .iter()
            .any(|s| &s.family_id == family && &s.user_id == id && s.revoked_at.is_none());
        Ok(t.users
            .iter()
            .find(|c| &c.user.id == id)
            .map(|c| (c.user.clone(), live)))
    }

    async fn find_credentials(
        &self,
        scope: &TenantScope,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(t.users.into_iter().find(|c| &c.user.id == id))
    }

    async fn find_credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Vec<UserCredentials>, StorageError> {
        let state = self.state.lock().await;
        let mut found: Vec<UserCredentials> = state
            .tenants
            .values()
            .flat_map(|t| t.users.iter().filter(|c| &c.user.email == email).cloned())
            .collect();
        found.sort_by(|a, b| {
            (a.user.org_id.as_str(), a.user.id.as_str())
                .cmp(&(b.user.org_id.as_str(), b.user.id.as_str()))
        });
        Ok(found)
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        let mut users: Vec<User> = t
            .users
            .into_iter()
            .map(|c| c.user)
            .filter(|u| filter.role.is_none_or(|r| u.role == r))
            .filter(|u| filter.is_active.is_none_or(|a| u.is_active == a))
            .collect();
        users.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        Ok(page_of(users, page))
    }

    async fn update(
        &self,
        scope: &TenantScope,
        id: &UserId,
        patch: UserPatch,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        let i = t
            .users
            .iter()
            .position(|c| &c.user.id == id)
            .ok_or(AuthError::NotFound)?;
        let before = t.users[i].user.clone();
        let mut user = before.clone();
        user.apply(&patch, now);
        if let Some(e) = conflict(t, &user) {
            return Err(e);
        }
        t.users[i].user = user.clone();
        let mut event = events::record(Action::Updated, Some(&before), Some(&user), now);
        if let Some(hash) = patch.password_hash {
            t.users[i].password_hash = hash.into_string();
            // That it changed, never what it is.
            event = Some(
                event
                    .unwrap_or_else(|| {
                        events::NewEvent::new(
                            events::types::USER_UPDATED,
                            events::Subject::of("user", user.id.to_string()),
                            now,
                        )
                        .with("changes", serde_json::Map::new())
                    })
                    .with("passwordChanged", true),
            );
        }
        if let Some(event) = event {
            t.append(scope, event);
        }
        Ok(user)
    }

    async fn count_in_org(&self, scope: &TenantScope) -> Result<u64, StorageError> {
        Ok(self.state.lock().await.tenant(scope).users.len() as u64)
    }

    async fn record_login(
        &self,
        scope: &TenantScope,
        id: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        for c in &mut t.users {
            if &c.user.id == id {
                c.user.last_login_at = Some(now);
            }
        }
        t.append(scope, auth::audit::login_succeeded(id, now));
        Ok(())
    }

    async fn record_login_failure(
        &self,
        scope: &TenantScope,
        id: &UserId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut state = self.state.lock().await;
        state
            .tenant_mut(scope)
            .append(scope, auth::audit::login_failed(id, reason, now));
        Ok(())
    }

    async fn record_login_throttled(
        &self,
        scope: &TenantScope,
        id: &UserId,
        address: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut state = self.state.lock().await;
        state
            .tenant_mut(scope)
            .append(scope, auth::audit::login_throttled(id, address, now));
        Ok(())
    }
}

/// What a refused reference reads like, as a database's foreign key.
fn not_in_organization(what: &str) -> StorageError {
    StorageError::Other(format!("foreign key: {what} is not of the scope's organization").into())
}

#[async_trait]
impl SessionRepository for MemoryStore {
    async fn insert(&self, scope: &TenantScope, session: &Session) -> Result<(), StorageError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        if !t.users.iter().any(|c| c.user.id == session.user_id) {
            return Err(not_in_organization("the session's user"));
        }
        let mut session = session.clone();
        session.org_id = scope.org_id().clone();
        t.sessions.push(session);
        Ok(())
    }

    async fn find_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, StorageError> {
        let state = self.state.lock().await;
        Ok(state
            .tenants
            .values()
            .flat_map(|t| t.sessions.iter())
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
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        let old = t
            .sessions
            .iter_mut()
            .find(|s| &s.id == old && s.rotated_at.is_none() && s.revoked_at.is_none())
            .ok_or(AuthError::TokenReused)?;
        old.rotated_at = Some(now);
        let mut new = new.clone();
        new.org_id = scope.org_id().clone();
        t.sessions.push(new);
        Ok(())
    }

    async fn revoke_family(
        &self,
        scope: &TenantScope,
        family: &SessionFamilyId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut state = self.state.lock().await;
        for s in &mut state.tenant_mut(scope).sessions {
            if &s.family_id == family && s.revoked_at.is_none() {
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
        let mut state = self.state.lock().await;
        for s in &mut state.tenant_mut(scope).sessions {
            if &s.user_id == user && s.revoked_at.is_none() {
                s.revoked_at = Some(now);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ApiKeyRepository for MemoryStore {
    async fn insert(
        &self,
        scope: &TenantScope,
        key: &ApiKey,
        hash: &str,
    ) -> Result<(), StorageError> {
        let mut state = self.state.lock().await;
        let mut key = key.clone();
        key.org_id = scope.org_id().clone();
        let t = state.tenant_mut(scope);
        t.record(scope, Action::Created, None, Some(&key), key.created_at);
        t.api_keys.push((key, hash.to_owned()));
        Ok(())
    }

    async fn find(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
    ) -> Result<Option<ApiKey>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        Ok(t.api_keys
            .into_iter()
            .find(|(k, _)| &k.id == id)
            .map(|(k, _)| k))
    }

    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<(ApiKey, String)>, StorageError> {
        let state = self.state.lock().await;
        Ok(state
            .tenants
            .values()
            .flat_map(|t| t.api_keys.iter())
            .find(|(k, _)| k.prefix == prefix)
            .cloned())
    }

    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StorageError> {
        let t = self.state.lock().await.tenant(scope);
        let mut keys: Vec<ApiKey> = t.api_keys.into_iter().map(|(k, _)| k).collect();
        keys.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        Ok(page_of(keys, page))
    }

    async fn revoke(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        let (key, _) = t
            .api_keys
            .iter_mut()
            .find(|(k, _)| &k.id == id)
            .ok_or(AuthError::NotFound)?;
        let before = key.clone();
        // Revoking twice keeps the first time.
        key.revoked_at.get_or_insert(now);
        let key = key.clone();
        t.record(scope, Action::Updated, Some(&before), Some(&key), now);
        Ok(key)
    }

    async fn rotate(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        expected_prefix: &str,
        new_prefix: &str,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        let (key, hash) = t
            .api_keys
            .iter_mut()
            .find(|(k, _)| &k.id == id && !k.is_revoked())
            .ok_or(AuthError::NotFound)?;
        if key.prefix != expected_prefix {
            return Err(AuthError::KeyRotatedConcurrently);
        }
        let before = key.clone();
        new_prefix.clone_into(&mut key.prefix);
        new_hash.clone_into(hash);
        key.last_used_at = None;
        let key = key.clone();
        if let Some(event) = events::record(Action::Updated, Some(&before), Some(&key), now) {
            t.append(scope, event.with("secretRotated", true));
        }
        Ok(key)
    }

    async fn touch_last_used(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut state = self.state.lock().await;
        if let Some((key, _)) = state
            .tenant_mut(scope)
            .api_keys
            .iter_mut()
            .find(|(k, _)| &k.id == id)
        {
            key.last_used_at = Some(now);
        }
        Ok(())
    }

    async fn record_new_address(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        address: &str,
        known: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut state = self.state.lock().await;
        let t = state.tenant_mut(scope);
        if let Some((key, _)) = t.api_keys.iter_mut().find(|(k, _)| &k.id == id) {
            key.last_used_at = Some(now);
            key.known_addresses = known.to_vec();
            t.append(
                scope,
                auth::audit::api_key_used_from_new_address(id, address, now),
            );
        }
        Ok(())
    }
}
