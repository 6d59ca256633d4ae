//! The storage ports of users, refresh sessions and API keys.
//!
//! Every row here belongs to one organization, and every method that reaches
//! a row by its id takes that organization's id: the adapter filters on it in
//! every statement, so a foreign id is simply not found. The only lookups
//! without an organization are those by a secret's hash (a refresh token, an
//! API key's prefix) or by e-mail at login: they are how the organization is
//! discovered in the first place.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenancy::{Email, OrgId, Page, PageRequest, StorageError};

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
    async fn insert(&self, user: &User, password_hash: &PasswordHash) -> Result<(), AuthError>;

    /// The user with this id in this organization, if any.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, org: &OrgId, id: &UserId) -> Result<Option<User>, StorageError>;

    /// The user with this id in this organization and its password hash.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_credentials(
        &self,
        org: &OrgId,
        id: &UserId,
    ) -> Result<Option<UserCredentials>, StorageError>;

    /// Every user with this e-mail address (exact match on the normalized
    /// address), active or not, in `org` when given, else in any
    /// organization (several may share an address), ordered by organization
    /// id.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_credentials_by_email(
        &self,
        email: &Email,
        org: Option<&OrgId>,
    ) -> Result<Vec<UserCredentials>, StorageError>;

    /// The organization's users matching `filter`, oldest first (ties by
    /// id), and the total count of matches.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(
        &self,
        org: &OrgId,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, StorageError>;

    /// Reads the user, applies `patch` ([`User::apply`] plus the password
    /// hash) and writes it back, in one transaction. Returns the user as
    /// stored.
    ///
    /// # Errors
    /// MUST return [`AuthError::NotFound`] when no such user is in `org`,
    /// [`AuthError::UsernameTaken`] / [`AuthError::EmailTaken`] on a change
    /// to a value another user of `org` has; otherwise only
    /// [`AuthError::Storage`]. Nothing is written on error.
    async fn update(
        &self,
        org: &OrgId,
        id: &UserId,
        patch: UserPatch,
        now: DateTime<Utc>,
    ) -> Result<User, AuthError>;

    /// How many users the organization has, active or not.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn count_in_org(&self, org: &OrgId) -> Result<u64, StorageError>;

    /// Sets the user's `last_login_at` to `now`. A missing user is not an
    /// error.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn record_login(
        &self,
        org: &OrgId,
        id: &UserId,
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
    async fn insert(&self, session: &Session) -> Result<(), StorageError>;

    /// The session whose `token_hash` is this, whatever its state (rotated,
    /// revoked, expired): the caller tells them apart.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, StorageError>;

    /// Marks session `old` of `org` rotated at `now` and stores `new`, in one
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
        org: &OrgId,
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
        org: &OrgId,
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
        org: &OrgId,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;
}

/// Where API keys live. Held as `Arc<dyn ApiKeyRepository>`.
#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    /// Stores a new key with the hash of its secret.
    ///
    /// # Errors
    /// [`StorageError`] only (prefixes are unique; with 36⁸ possible values a
    /// collision is a storage error, not a case to handle).
    async fn insert(&self, key: &ApiKey, hash: &str) -> Result<(), StorageError>;

    /// The key with this id in this organization, revoked or not.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find(&self, org: &OrgId, id: &ApiKeyId) -> Result<Option<ApiKey>, StorageError>;

    /// The key with this prefix, in any organization, revoked or not, and
    /// its stored hash.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<(ApiKey, String)>, StorageError>;

    /// The organization's keys, revoked ones included, oldest first (ties by
    /// id), and their total count.
    ///
    /// # Errors
    /// [`StorageError`] only.
    async fn list(&self, org: &OrgId, page: PageRequest) -> Result<Page<ApiKey>, StorageError>;

    /// Sets `revoked_at = now` unless already set, and returns the key.
    ///
    /// # Errors
    /// MUST return [`AuthError::NotFound`] when no such key is in `org`;
    /// otherwise only [`AuthError::Storage`].
    async fn revoke(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, AuthError>;

    /// Replaces the key's prefix and hash (the old secret stops working at
    /// once), clears `last_used_at`, and returns the key. `now` is the
    /// rotation time, for adapters that record it.
    ///
    /// # Errors
    /// MUST return [`AuthError::NotFound`] when no such key is in `org` or it
    /// is revoked; otherwise only [`AuthError::Storage`].
    async fn rotate(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
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
        org: &OrgId,
        id: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError>;
}
