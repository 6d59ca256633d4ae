//! The storage ports of users, refresh sessions and API keys.
//!
//! Every row here belongs to one organization, and every tenant method takes
//! a [`TenantScope`] (made from an authenticated actor, never parsed from a
//! request): the adapter filters on its organization in every statement, so
//! a foreign id is simply not found, and inserts take the organization from
//! the scope. The only lookups without a scope are those by a secret's hash
//! (a refresh token, an API key's prefix) or by e-mail at sign-in: they are
//! how the organization is discovered in the first place
//! (`docs/security.md`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenancy::{Email, Page, PageRequest, StorageError, TenantScope};

use crate::{
    ApiKey, ApiKeyId, AuthError, PasswordHash, Session, SessionFamilyId, SessionId, User,
    UserCredentials, UserFilter, UserId, UserPatch,
};

/// Where users live. Implemented by the `storage` crate; held as
/// `Arc<dyn UserRepository>`.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user with its password hash.
    ///
    /// # Errors
    /// MUST return [`AuthError::UsernameTaken`] when another user of
    /// `user.org_id` has the username, [`AuthError::EmailTaken`] when one has
    /// the e-mail address (unique indexes `(org_id, username)` and
    /// `(org_id, email)`); otherwise only [`AuthError::Storage`].
    async fn insert(
        &self,
        scope: &TenantScope,
        user: &User,
        password_hash: &PasswordHash,
    ) -> Result<(), AuthError>;

    /// The user with this id in this organization, if any.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, scope: &TenantScope, id: &UserId) -> Result<Option<User>, StorageError>;

    /// [`UserRepository::find`], and whether the user's sign-in `family` is
    /// still live: some session of that family, of this user in this
    /// organization, is not revoked (rotated ones count: an access token
    /// issued before a refresh stays valid until it expires). Read together
    /// because every request with an access token asks both.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_with_session(
        &self,
        scope: &TenantScope,
        id: &UserId,
        family: &SessionFamilyId,
    ) -> Result<Option<(User, bool)>, StorageError>;

    /// Stores the first user of the scope's organization, only if it has no
    /// user yet: the check and the insert are one transaction serialized on
    /// the organization, so of simultaneous first registrations exactly one
    /// succeeds.
    ///
    /// # Errors
    /// MUST return [`AuthError::Forbidden`] when the organization already
    /// has a user (nothing written); otherwise as [`UserRepository::insert`].
    async fn insert_first(
        &self,
        scope: &TenantScope,
        user: &User,
        password_hash: &PasswordHash,
    ) -> Result<(), AuthError>;

    /// The user with this id in this organization and its password hash.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_credentials(
        &self,
        scope: &TenantScope,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StorageError>;

    /// Every user with this e-mail address (exact match on the normalized
    /// address), active or not, in any
    /// organization (several may share an address), ordered by organization
    /// id.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Vec<UserCredentials>, StorageError>;

    /// The organization's users matching `filter`, oldest first (ties by
    /// id), and the total count of matches.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, StorageError>;

    /// Reads the user, applies `patch` ([`User::apply`] plus the password
    /// hash) and writes it back, in one transaction. Returns the user as
    /// stored.
    ///
    /// # Errors
    /// MUST return [`AuthError::NotFound`] when no such user is in the scope's organization,
    /// [`AuthError::UsernameTaken`] / [`AuthError::EmailTaken`] on a change
    /// to a value another user of the scope's organization has; otherwise only
    /// [`AuthError::Storage`]. Nothing is written on error.
    async fn update(
        &self,
        scope: &TenantScope,
        id: &UserId,
        patch: UserPatch,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError>;

    /// How many users the organization has, active or not.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn count_in_org(&self, scope: &TenantScope) -> Result<u64, StorageError>;

    /// Sets the user's `last_login_at` to `now` and appends
    /// `auth.login_succeeded`, in one transaction. A missing user is not an
    /// error.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn record_login(
        &self,
        scope: &TenantScope,
        id: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;

    /// Appends `auth.login_failed` for a sign-in with this user's e-mail
    /// that was refused (`reason`: wrong password, user inactive...).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn record_login_failure(
        &self,
        scope: &TenantScope,
        id: &UserId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;

    /// Appends `auth.login_throttled`: attempts on this user's account
    /// were refused by the sign-in throttle, from `address` when known.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn record_login_throttled(
        &self,
        scope: &TenantScope,
        id: &UserId,
        address: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;
}

/// Where refresh-token records live. Held as `Arc<dyn SessionRepository>`.
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session (the first of a family).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn insert(&self, scope: &TenantScope, session: &Session) -> Result<(), StorageError>;

    /// The session whose `token_hash` is this, whatever its state (rotated,
    /// revoked, expired): the caller tells them apart.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, StorageError>;

    /// Marks session `old` of the scope's organization rotated at `now` and stores `new`, in one
    /// transaction, only if `old` is still neither rotated nor revoked (an
    /// `UPDATE … WHERE rotated_at IS NULL AND revoked_at IS NULL` that must
    /// touch exactly one row). Of two concurrent refreshes with the same
    /// token, exactly one succeeds.
    ///
    /// # Errors
    /// MUST return [`AuthError::TokenReused`], writing nothing, when `old` is
    /// absent, already rotated or revoked; otherwise only
    /// [`AuthError::Storage`].
    async fn rotate(
        &self,
        scope: &TenantScope,
        old: &SessionId,
        new: &Session,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError>;

    /// Sets `revoked_at = now` on every not yet revoked session of the
    /// family.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn revoke_family(
        &self,
        scope: &TenantScope,
        family: &SessionFamilyId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;

    /// Sets `revoked_at = now` on every not yet revoked session of the user
    /// (all its devices).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn revoke_all_for_user(
        &self,
        scope: &TenantScope,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;
}

/// The organization of an API key, as [`ApiKeyRepository::find_by_prefix_with_org`]
/// found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrg {
    /// Active.
    Active,
    /// Deactivated.
    Inactive,
    /// Gone.
    Missing,
    /// Not read with the key: ask the organizations.
    Unread,
}

/// Where API keys live. Held as `Arc<dyn ApiKeyRepository>`.
#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    /// Stores a new key with the hash of its secret.
    ///
    /// # Errors
    /// [`StorageError`] only (prefixes are unique; with 36⁸ possible values a
    /// collision is a storage error, not a case to handle).
    async fn insert(
        &self,
        scope: &TenantScope,
        key: &ApiKey,
        hash: &str,
    ) -> Result<(), StorageError>;

    /// The key with this id in this organization, revoked or not.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
    ) -> Result<Option<ApiKey>, StorageError>;

    /// The key with this prefix, in any organization, revoked or not, and
    /// its stored hash.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<(ApiKey, String)>, StorageError>;

    /// [`ApiKeyRepository::find_by_prefix`], with its organization's state
    /// when the adapter reads both at once (a request authenticated by key
    /// then costs one read). The default reads the key alone
    /// ([`KeyOrg::Unread`]).
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_by_prefix_with_org(
        &self,
        prefix: &str,
    ) -> Result<Option<(ApiKey, String, KeyOrg)>, StorageError> {
        Ok(self
            .find_by_prefix(prefix)
            .await?
            .map(|(key, hash)| (key, hash, KeyOrg::Unread)))
    }

    /// The organization's keys, revoked ones included, oldest first (ties by
    /// id), and their total count.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, StorageError>;

    /// Sets `revoked_at = now` unless already set, and returns the key.
    ///
    /// # Errors
    /// MUST return [`AuthError::NotFound`] when no such key is in the scope's organization;
    /// otherwise only [`AuthError::Storage`].
    async fn revoke(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError>;

    /// Replaces the key's prefix and hash (the old secret stops working at
    /// once), clears `last_used_at`, and returns the key, only while its
    /// prefix is still `expected_prefix` (the one the caller read): of two
    /// concurrent rotations exactly one succeeds. `now` is the rotation
    /// time, for adapters that record it.
    ///
    /// # Errors
    /// MUST return [`AuthError::NotFound`] when no such key is in the scope's organization or it
    /// is revoked; [`AuthError::KeyRotatedConcurrently`], writing nothing,
    /// when its prefix is no longer `expected_prefix`; otherwise only
    /// [`AuthError::Storage`].
    #[allow(clippy::too_many_arguments)]
    async fn rotate(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        expected_prefix: &str,
        new_prefix: &str,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError>;

    /// Sets `last_used_at = now`. A missing key is not an error.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn touch_last_used(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;

    /// The key was used from an address it did not know: stores `known`
    /// (its addresses now), sets `last_used_at` to `now` and appends
    /// [`crate::audit::api_key_used_from_new_address`], in one transaction.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn record_new_address(
        &self,
        scope: &TenantScope,
        id: &ApiKeyId,
        address: &str,
        known: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;
}
