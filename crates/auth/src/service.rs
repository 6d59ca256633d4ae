//! Sign-in, refresh-token rotation and user management.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use organization::OrganizationRepository;
use tenancy::{Actor, Email, OrgId, Page, PageRequest, Principal, Role, TenantScope};

use crate::{
    Argon2Hasher, AuthError, CreateUser, LoginResult, Password, PasswordHasher, RefreshToken,
    RegisterUser, Session, SessionRepository, TokenKeys, UpdateUser, User, UserFilter, UserId,
    UserPatch, UserRepository, hash_secret,
    policy::{
        authorize_create_user, authorize_list_users, authorize_own_account, authorize_read_user,
        authorize_registration, authorize_update_user, registration_is_bootstrap,
    },
};

/// The scope of user `id` in its organization `org`: what a verified
/// credential of that user (its password, a refresh token of its session)
/// or its own registration amounts to. A scope carries no role.
pub(crate) fn user_scope(org: &OrgId, id: &UserId) -> TenantScope {
    Actor::new(org.clone(), Principal::User(id.to_string()), Role::Agent).scope()
}

/// The scope of the actor's home organization (a super admin acting in
/// another one is still itself there).
fn home_scope(actor: &Actor) -> Result<TenantScope, AuthError> {
    actor
        .acting_in(actor.home_org_id().clone())
        .map(|home| home.scope())
        .ok_or(AuthError::NotFound)
}

/// Authentication and user-management use cases. Cheap to clone.
///
/// User management always acts in `actor.org_id()`: a user of another
/// organization is [`AuthError::NotFound`].
#[derive(Clone)]
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    orgs: Arc<dyn OrganizationRepository>,
    keys: TokenKeys,
    hasher: Arc<dyn PasswordHasher>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl AuthService {
    /// A service over these repositories, signing with `keys`.
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionRepository>,
        orgs: Arc<dyn OrganizationRepository>,
        keys: TokenKeys,
    ) -> Self {
        Self {
            users,
            sessions,
            orgs,
            keys,
            hasher: Arc::new(Argon2Hasher),
        }
    }

    /// The same service hashing and verifying passwords with `hasher` (a
    /// server runs them off its request threads).
    #[must_use]
    pub fn with_hasher(self, hasher: Arc<dyn PasswordHasher>) -> Self {
        Self { hasher, ..self }
    }

    /// Registers a user in `cmd.org_id` (`POST /auth/register`). Without a
    /// credential this only works while the organization has no users; see
    /// [`authorize_registration`] for the roles.
    ///
    /// A registration without an admin's credential may only create the
    /// organization's first user; the repository re-checks that in the
    /// insert's transaction, so of simultaneous ones exactly one succeeds.
    ///
    /// # Errors
    /// [`AuthError::OrganizationNotFound`], [`AuthError::OrganizationInactive`],
    /// [`AuthError::Forbidden`], [`AuthError::Invalid`],
    /// [`AuthError::UsernameTaken`], [`AuthError::EmailTaken`].
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        actor: Option<&Actor>,
        cmd: RegisterUser,
    ) -> Result<User, AuthError> {
        let org = self
            .orgs
            .find(&cmd.org_id)
            .await?
            .ok_or(AuthError::OrganizationNotFound)?;
        let user = User::new(
            org.id.clone(),
            cmd.username,
            cmd.email,
            cmd.role.unwrap_or(Role::Agent),
            tenancy::now(),
        );
        // The registrant acts as the user it becomes.
        let scope = user_scope(&org.id, &user.id);
        let users_in_org = self.users.count_in_org(&scope).await?;
        let role = authorize_registration(actor, &org, users_in_org, cmd.role)?;
        let user = User { role, ..user };
        let hash = self.hasher.hash(&cmd.password).await?;
        if registration_is_bootstrap(actor, &org) {
            // "No users yet" checked again in the insert's own transaction:
            // of simultaneous first registrations exactly one wins.
            self.users.insert_first(&scope, &user, &hash).await?;
        } else {
            self.users.insert(&scope, &user, &hash).await?;
        }
        tracing::info!(
            user_id = %user.id,
            org_id = %user.org_id,
            role = %user.role,
            by = actor.map(|a| a.principal().to_string()),
            "user registered"
        );
        Ok(user)
    }

    /// Records that the sign-in throttle refused attempts on `email`:
    /// `auth.login_throttled` (with the client `address`) in the audit trail
    /// of every account with that address, each in its own organization.
    /// An address without accounts records nothing. The caller decides how
    /// often (the throttle reports once a minute per account), so a flood of
    /// refused attempts is not a flood of writes.
    ///
    /// # Errors
    /// [`AuthError::Storage`] when the accounts cannot be read or the events
    /// written.
    pub async fn record_throttled_sign_in(
        &self,
        email: &Email,
        address: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        for c in self.users.find_credentials_by_email(email).await? {
            let user = &c.user;
            self.users
                .record_login_throttled(&user_scope(&user.org_id, &user.id), &user.id, address, now)
                .await?;
        }
        Ok(())
    }

    /// As [`AuthService::record_throttled_sign_in`], for the `currentPassword`
    /// checks of `user` of organization `org` (a password change).
    ///
    /// # Errors
    /// [`AuthError::Storage`] when the event cannot be written.
    pub async fn record_throttled_password_check(
        &self,
        org: &OrgId,
        user: &UserId,
        address: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        self.users
            .record_login_throttled(&user_scope(org, user), user, address, now)
            .await?;
        Ok(())
    }

    /// Signs in with e-mail and password, in `org_id` when given (needed when
    /// the address exists in several organizations). Records the login and
    /// starts a new refresh-token family.
    ///
    /// Unknown address and wrong password are the same
    /// [`AuthError::InvalidCredentials`] after the same argon2 work. Only once
    /// the password is right does the caller learn more: that the user or its
    /// organization is deactivated ([`AuthError::UserInactive`]), or that the
    /// password is right for accounts of several organizations
    /// ([`AuthError::AmbiguousEmail`]). Accounts of other organizations with
    /// the same address and another password are invisible.
    ///
    /// # Errors
    /// [`AuthError::InvalidCredentials`], [`AuthError::AmbiguousEmail`],
    /// [`AuthError::UserInactive`].
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &Email,
        password: &str,
        org_id: Option<&OrgId>,
        now: DateTime<Utc>,
    ) -> Result<LoginResult, AuthError> {
        let mut candidates = self.users.find_credentials_by_email(email).await?;
        if let Some(org) = org_id {
            candidates.retain(|c| &c.user.org_id == org);
        }
        if candidates.is_empty() {
            self.hasher.verify_dummy(password).await;
            return Err(AuthError::InvalidCredentials);
        }
        // Verify against every candidate, so that a caller without the
        // password learns nothing, not even that the address is in several
        // organizations; and sign in to the one account whose password
        // matches, so that an account elsewhere with the same address
        // changes nothing (only several matching accounts need `orgId`).
        let mut matching = Vec::new();
        let mut refused = Vec::new();
        for c in candidates {
            if self.hasher.verify(password, &c.password_hash).await {
                matching.push(c.user);
            } else {
                refused.push(c.user);
            }
        }
        let several = matching.len() > 1;
        let Some(user) = matching.into_iter().next() else {
            // Each organization's admins see the attempts on their users.
            for user in &refused {
                let scope = user_scope(&user.org_id, &user.id);
                self.users
                    .record_login_failure(&scope, &user.id, "wrong password", now)
                    .await?;
            }
            return Err(AuthError::InvalidCredentials);
        };
        if several {
            return Err(AuthError::AmbiguousEmail);
        }
        if let Err(refusal) = self.ensure_active(&user).await {
            let scope = user_scope(&user.org_id, &user.id);
            let reason = refusal.to_string();
            self.users
                .record_login_failure(&scope, &user.id, &reason, now)
                .await?;
            return Err(refusal);
        }
        let scope = user_scope(&user.org_id, &user.id);
        self.users.record_login(&scope, &user.id, now).await?;
        let user = User {
            last_login_at: Some(now),
            ..user
        };
        let token = RefreshToken::generate();
        let session = Session::start(&user, &token, now);
        self.sessions.insert(&scope, &session).await?;
        let access = self.keys.issue_access(&user, &session.family_id, now)?;
        tracing::info!(user_id = %user.id, org_id = %user.org_id, "user signed in");
        Ok(LoginResult {
            user,
            access,
            refresh_token: token.into_string(),
        })
    }

    /// Refused unless the user and its organization are active.
    async fn ensure_active(&self, user: &User) -> Result<(), AuthError> {
        if !user.is_active {
            return Err(AuthError::UserInactive);
        }
        match self.orgs.find(&user.org_id).await? {
            Some(org) if org.is_active => Ok(()),
            Some(_) => Err(AuthError::UserInactive),
            None => Err(AuthError::InvalidToken),
        }
    }

    /// Exchanges a refresh token for a new access token and a new refresh
    /// token (rotation). The presented token stops working.
    ///
    /// Presenting a token that was already exchanged means it leaked (or a
    /// client retried): the whole family is revoked, so both the thief and
    /// the user must sign in again.
    ///
    /// # Errors
    /// [`AuthError::TokenReused`]; [`AuthError::InvalidToken`] when unknown,
    /// revoked, expired, or the user is gone; [`AuthError::UserInactive`]
    /// when the user or its organization is deactivated (the family is
    /// revoked too).
    #[tracing::instrument(skip_all)]
    pub async fn refresh(
        &self,
        refresh_token: &str,
        now: DateTime<Utc>,
    ) -> Result<LoginResult, AuthError> {
        let session = self
            .sessions
            .find_by_token_hash(&hash_secret(refresh_token))
            .await?
            .ok_or(AuthError::InvalidToken)?;
        if session.revoked_at.is_some() {
            return Err(AuthError::InvalidToken);
        }
        if session.rotated_at.is_some() {
            return Err(self.reuse_detected(&session, now).await);
        }
        if session.is_expired(now) {
            return Err(AuthError::InvalidToken);
        }
        let scope = user_scope(&session.org_id, &session.user_id);
        let user = match self.users.find(&scope, &session.user_id).await? {
            Some(user) => user,
            None => {
                self.revoke_family(&session, now).await?;
                return Err(AuthError::InvalidToken);
            }
        };
        if let Err(e) = self.ensure_active(&user).await {
            self.revoke_family(&session, now).await?;
            return Err(e);
        }
        let token = RefreshToken::generate();
        let next = session.successor(&user, &token, now);
        match self.sessions.rotate(&scope, &session.id, &next, now).await {
            Ok(()) => {}
            // A concurrent refresh with the same token won the race.
            Err(AuthError::TokenReused) => return Err(self.reuse_detected(&session, now).await),
            Err(e) => return Err(e),
        }
        let access = self.keys.issue_access(&user, &next.family_id, now)?;
        Ok(LoginResult {
            user,
            access,
            refresh_token: token.into_string(),
        })
    }

    async fn reuse_detected(&self, session: &Session, now: DateTime<Utc>) -> AuthError {
        tracing::warn!(
            user_id = %session.user_id,
            org_id = %session.org_id,
            family_id = %session.family_id,
            "refresh token reused; revoking its family"
        );
        match self.revoke_family(session, now).await {
            Ok(()) => AuthError::TokenReused,
            Err(e) => e,
        }
    }

    async fn revoke_family(&self, session: &Session, now: DateTime<Utc>) -> Result<(), AuthError> {
        Ok(self
            .sessions
            .revoke_family(
                &user_scope(&session.org_id, &session.user_id),
                &session.family_id,
                now,
            )
            .await?)
    }

    /// Signs out: revokes the refresh token's family (this login on this
    /// device). An unknown token is not an error, so logout is idempotent.
    ///
    /// # Errors
    /// [`AuthError::Storage`] only.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, refresh_token: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
        if let Some(session) = self
            .sessions
            .find_by_token_hash(&hash_secret(refresh_token))
            .await?
        {
            self.revoke_family(&session, now).await?;
            tracing::info!(user_id = %session.user_id, "user signed out");
        }
        Ok(())
    }

    /// The signed-in user's own profile (`GET /auth/me`), read from its home
    /// organization (a super admin acting in another one is still itself).
    ///
    /// # Errors
    /// [`AuthError::Forbidden`] for an API key; [`AuthError::NotFound`] when
    /// the user no longer exists.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn me(&self, actor: &Actor) -> Result<User, AuthError> {
        let id = authorize_own_account(actor)?;
        self.users
            .find(&home_scope(actor)?, &id)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// The users of the actor's organization.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`] for agents.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn list_users(
        &self,
        actor: &Actor,
        filter: &UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>, AuthError> {
        authorize_list_users(actor)?;
        Ok(self.users.list(&actor.scope(), filter, page).await?)
    }

    /// One user of the actor's organization.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`] for an agent asking for someone else;
    /// [`AuthError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn get_user(&self, actor: &Actor, id: &UserId) -> Result<User, AuthError> {
        authorize_read_user(actor, id)?;
        self.users
            .find(&actor.scope(), id)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// Creates a user in the actor's organization.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`], [`AuthError::Invalid`],
    /// [`AuthError::UsernameTaken`], [`AuthError::EmailTaken`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn create_user(&self, actor: &Actor, cmd: CreateUser) -> Result<User, AuthError> {
        authorize_create_user(actor, cmd.role)?;
        let hash = self.hasher.hash(&cmd.password).await?;
        let user = User::new(
            actor.org_id().clone(),
            cmd.username,
            cmd.email,
            cmd.role,
            tenancy::now(),
        );
        self.users.insert(&actor.scope(), &user, &hash).await?;
        tracing::info!(
            user_id = %user.id,
            org_id = %user.org_id,
            role = %user.role,
            by = %actor.principal(),
            "user created"
        );
        Ok(user)
    }

    /// Changes a user of the actor's organization. A deactivation or a role
    /// change also revokes the user's refresh tokens, and with their
    /// families its access tokens: they stop working at once, and a later
    /// reactivation does not revive them.
    ///
    /// # Errors
    /// [`AuthError::NotFound`], [`AuthError::Forbidden`],
    /// [`AuthError::Invalid`], [`AuthError::UsernameTaken`],
    /// [`AuthError::EmailTaken`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: &UserId,
        update: UpdateUser,
    ) -> Result<User, AuthError> {
        let scope = actor.scope();
        let target = self
            .users
            .find(&scope, id)
            .await?
            .ok_or(AuthError::NotFound)?;
        authorize_update_user(actor, &target, &update)?;
        let now = tenancy::now();
        let updated = self
            .users
            .update(&scope, id, UserPatch::from(update), now)
            .await?;
        if updated.role != target.role || updated.is_active != target.is_active {
            self.sessions.revoke_all_for_user(&scope, id, now).await?;
            tracing::info!(
                user_id = %id,
                org_id = %actor.org_id(),
                role = %updated.role,
                active = updated.is_active,
                by = %actor.principal(),
                "user role or status changed"
            );
        }
        Ok(updated)
    }

    /// `PUT /users/{id}`: changes the given profile fields and, for one's
    /// own account given the current password, the password, in one write.
    /// Every check (authorization of each field, the current password, the
    /// new one's hash) happens before anything is written, so a refused
    /// request changes nothing. A password or role/status change revokes
    /// the user's refresh tokens, and with them its access tokens.
    ///
    /// # Errors
    /// As [`AuthService::update_user`]; [`AuthError::Forbidden`] for another
    /// user's password; [`AuthError::Invalid`] on `currentPassword` when it
    /// is wrong.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn update_account(
        &self,
        actor: &Actor,
        id: &UserId,
        update: UpdateUser,
        password: Option<(&str, Password)>,
    ) -> Result<User, AuthError> {
        if password.is_none() {
            return if update == UpdateUser::default() {
                self.get_user(actor, id).await
            } else {
                self.update_user(actor, id, update).await
            };
        }
        let scope = actor.scope();
        let target = self
            .users
            .find(&scope, id)
            .await?
            .ok_or(AuthError::NotFound)?;
        if update != UpdateUser::default() {
            authorize_update_user(actor, &target, &update)?;
        }
        let mut patch = UserPatch::from(update);
        if let Some((current, new)) = password {
            if authorize_own_account(actor)? != *id {
                return Err(AuthError::Forbidden(
                    "a password can only be changed by its owner",
                ));
            }
            let creds = self
                .users
                .find_credentials(&scope, id)
                .await?
                .ok_or(AuthError::NotFound)?;
            if !self.hasher.verify(current, &creds.password_hash).await {
                return Err(AuthError::invalid("currentPassword", "is incorrect"));
            }
            patch.password_hash = Some(self.hasher.hash(&new).await?);
        }
        let now = tenancy::now();
        let updated = self.users.update(&scope, id, patch, now).await?;
        // The password changed (or the role or status with it): every
        // other sign-in of the user ends.
        self.sessions.revoke_all_for_user(&scope, id, now).await?;
        tracing::info!(user_id = %id, org_id = %actor.org_id(), "password changed");
        Ok(updated)
    }

    /// Deactivates a user of the actor's organization: it can no longer sign
    /// in and its tokens stop working.
    ///
    /// # Errors
    /// As [`AuthService::update_user`]; [`AuthError::Forbidden`] on oneself.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn deactivate_user(&self, actor: &Actor, id: &UserId) -> Result<User, AuthError> {
        self.update_user(actor, id, UpdateUser::active(false)).await
    }

    /// Reactivates a user of the actor's organization.
    ///
    /// # Errors
    /// As [`AuthService::update_user`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn activate_user(&self, actor: &Actor, id: &UserId) -> Result<User, AuthError> {
        self.update_user(actor, id, UpdateUser::active(true)).await
    }

    /// Changes the signed-in user's own password, given the current one.
    /// Every refresh token of the user is revoked, and with them its access
    /// tokens: every device, this one included, must sign in again.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`] for an API key; [`AuthError::Invalid`] on
    /// field `currentPassword` when it is wrong; [`AuthError::NotFound`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        current: &str,
        new: Password,
    ) -> Result<(), AuthError> {
        let id = authorize_own_account(actor)?;
        let org = actor.home_org_id();
        let scope = home_scope(actor)?;
        let creds = self
            .users
            .find_credentials(&scope, &id)
            .await?
            .ok_or(AuthError::NotFound)?;
        if !self.hasher.verify(current, &creds.password_hash).await {
            return Err(AuthError::invalid("currentPassword", "is incorrect"));
        }
        let patch = UserPatch {
            password_hash: Some(self.hasher.hash(&new).await?),
            ..UserPatch::default()
        };
        let now = tenancy::now();
        self.users.update(&scope, &id, patch, now).await?;
        self.sessions.revoke_all_for_user(&scope, &id, now).await?;
        tracing::info!(user_id = %id, org_id = %org, "password changed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use tenancy::{Principal, Role};

    use super::*;
    use crate::{
        TokenError, Username,
        testing::{Fakes, PASSWORD},
    };

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    fn register_cmd(org: &OrgId, name: &str, role: Option<Role>) -> RegisterUser {
        RegisterUser {
            org_id: org.clone(),
            username: Username::parse(name).unwrap(),
            email: email(&format!("{name}@acme.com")),
            password: Password::parse(PASSWORD).unwrap(),
            role,
        }
    }

    fn actor_of(user: &User) -> Actor {
        Actor::new(
            user.org_id.clone(),
            Principal::User(user.id.to_string()),
            user.role,
        )
    }

    #[tokio::test]
    async fn the_first_registration_of_an_org_makes_its_admin_and_then_closes() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let first = f
            .auth
            .register(None, register_cmd(&org, "ann", None))
            .await
            .unwrap();
        assert_eq!(first.role, Role::Admin);
        assert_eq!(first.org_id, org);
        let again = f.auth.register(None, register_cmd(&org, "bob", None)).await;
        assert!(matches!(again, Err(AuthError::Forbidden(_))));
        let by_admin = f
            .auth
            .register(Some(&actor_of(&first)), register_cmd(&org, "bob", None))
            .await
            .unwrap();
        assert_eq!(by_admin.role, Role::Agent);
    }

    #[tokio::test]
    async fn registration_names_an_existing_active_organization() {
        let f = Fakes::new();
        let unknown = OrgId::generate();
        assert!(matches!(
            f.auth
                .register(None, register_cmd(&unknown, "ann", None))
                .await,
            Err(AuthError::OrganizationNotFound)
        ));
        let inactive = f.add_org(false);
        assert!(matches!(
            f.auth
                .register(None, register_cmd(&inactive, "ann", None))
                .await,
            Err(AuthError::OrganizationInactive)
        ));
    }

    #[tokio::test]
    async fn a_duplicate_username_or_email_in_the_org_is_a_conflict() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let admin = f.add_user(&org, "ann", Role::Admin);
        let a = actor_of(&admin);
        let dup_name = CreateUser {
            email: email("other@acme.com"),
            ..CreateUser::parse("ANN", "x@acme.com", PASSWORD, None).unwrap()
        };
        assert!(matches!(
            f.auth.create_user(&a, dup_name).await,
            Err(AuthError::UsernameTaken)
        ));
        let dup_mail = CreateUser::parse("zed", "ann@acme.com", PASSWORD, None).unwrap();
        assert!(matches!(
            f.auth.create_user(&a, dup_mail).await,
            Err(AuthError::EmailTaken)
        ));
    }

    #[tokio::test]
    async fn login_returns_tokens_records_the_login_and_starts_a_session() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Manager);
        let now = tenancy::now();
        let result = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        assert_eq!(result.user.id, ann.id);
        assert_eq!(result.user.last_login_at, Some(now));
        assert_eq!(result.access.expires_in, 3600);
        let claims = f.keys.verify_access_at(&result.access.token, now).unwrap();
        assert_eq!(claims.user_id, ann.id);
        assert_eq!(claims.role, Role::Manager);
        let stored = f.user(&org, &ann.id);
        assert_eq!(stored.last_login_at, Some(now));
        assert_eq!(f.session_count(), 1);
        assert!(!f.sessions_contain_plain(&result.refresh_token));
    }

    #[tokio::test]
    async fn an_unknown_email_and_a_wrong_password_fail_the_same_way() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let wrong = f.auth.login(&ann.email, "wrong password!", None, now).await;
        let unknown = f
            .auth
            .login(&email("nobody@acme.com"), PASSWORD, None, now)
            .await;
        let (Err(a), Err(b)) = (wrong, unknown) else {
            panic!("both must fail");
        };
        assert!(matches!(a, AuthError::InvalidCredentials));
        assert_eq!(a.to_string(), b.to_string());
        // The organization learns of the attempt on its user; an unknown
        // address is nobody's to record.
        assert_eq!(
            f.users.login_failures(),
            vec![(ann.id.clone(), "wrong password".to_owned())]
        );
    }

    #[tokio::test]
    async fn an_email_in_several_orgs_needs_an_org_id_but_only_with_the_right_password() {
        let f = Fakes::new();
        let (o1, o2) = (f.add_org(true), f.add_org(true));
        let a1 = f.add_user(&o1, "ann", Role::Agent);
        f.add_user(&o2, "ann", Role::Agent);
        let now = tenancy::now();
        assert!(matches!(
            f.auth.login(&a1.email, PASSWORD, None, now).await,
            Err(AuthError::AmbiguousEmail)
        ));
        assert!(matches!(
            f.auth.login(&a1.email, "wrong password!", None, now).await,
            Err(AuthError::InvalidCredentials)
        ));
        let ok = f
            .auth
            .login(&a1.email, PASSWORD, Some(&o1), now)
            .await
            .unwrap();
        assert_eq!(ok.user.id, a1.id);
    }

    #[tokio::test]
    async fn an_inactive_user_or_org_cannot_sign_in_even_with_the_right_password() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        f.set_user_active(&org, &ann.id, false);
        let now = tenancy::now();
        assert!(matches!(
            f.auth.login(&ann.email, PASSWORD, None, now).await,
            Err(AuthError::UserInactive)
        ));
        let org2 = f.add_org(true);
        let bob = f.add_user(&org2, "bob", Role::Agent);
        f.set_org_active(&org2, false);
        assert!(matches!(
            f.auth.login(&bob.email, PASSWORD, None, now).await,
            Err(AuthError::UserInactive)
        ));
        assert_eq!(f.session_count(), 0);
    }

    #[tokio::test]
    async fn a_refresh_rotates_the_token_and_the_old_one_stops_working() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let login = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        let later = now + Duration::minutes(10);
        let refreshed = f.auth.refresh(&login.refresh_token, later).await.unwrap();
        assert_ne!(refreshed.refresh_token, login.refresh_token);
        let claims = f
            .keys
            .verify_access_at(&refreshed.access.token, later)
            .unwrap();
        // Same sign-in, same `sid`.
        let first = f.keys.verify_access_at(&login.access.token, now).unwrap();
        assert_eq!(claims.sid, first.sid);
        // The next token of the chain works in turn.
        let third = f
            .auth
            .refresh(&refreshed.refresh_token, later + Duration::minutes(1))
            .await
            .unwrap();
        assert_ne!(third.refresh_token, refreshed.refresh_token);
    }

    #[tokio::test]
    async fn presenting_a_rotated_token_again_revokes_the_whole_family() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let login = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        let refreshed = f.auth.refresh(&login.refresh_token, now).await.unwrap();
        assert!(matches!(
            f.auth.refresh(&login.refresh_token, now).await,
            Err(AuthError::TokenReused)
        ));
        // The legitimate successor is dead too.
        assert!(matches!(
            f.auth.refresh(&refreshed.refresh_token, now).await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn other_logins_survive_a_reuse_in_one_family() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let laptop = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        let phone = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        f.auth.refresh(&laptop.refresh_token, now).await.unwrap();
        let _ = f.auth.refresh(&laptop.refresh_token, now).await;
        assert!(f.auth.refresh(&phone.refresh_token, now).await.is_ok());
    }

    #[tokio::test]
    async fn an_expired_or_unknown_refresh_token_is_invalid() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let login = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        assert!(matches!(
            f.auth
                .refresh(&login.refresh_token, now + Duration::days(31))
                .await,
            Err(AuthError::InvalidToken)
        ));
        assert!(matches!(
            f.auth.refresh("not-a-token", now).await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn a_refresh_is_refused_once_the_user_or_org_is_deactivated() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let login = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        f.set_org_active(&org, false);
        assert!(matches!(
            f.auth.refresh(&login.refresh_token, now).await,
            Err(AuthError::UserInactive)
        ));
        // And the family is gone for good, even after reactivation.
        f.set_org_active(&org, true);
        assert!(matches!(
            f.auth.refresh(&login.refresh_token, now).await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn logout_revokes_the_family_and_is_idempotent() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let login = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        f.auth.logout(&login.refresh_token, now).await.unwrap();
        f.auth.logout(&login.refresh_token, now).await.unwrap();
        f.auth.logout("unknown", now).await.unwrap();
        assert!(matches!(
            f.auth.refresh(&login.refresh_token, now).await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn me_is_the_signed_in_user_and_not_an_api_key() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        assert_eq!(f.auth.me(&actor_of(&ann)).await.unwrap().id, ann.id);
        let key = Actor::new(org, Principal::ApiKey("key_1".into()), Role::Admin);
        assert!(matches!(
            f.auth.me(&key).await,
            Err(AuthError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn user_management_never_reaches_another_org() {
        let f = Fakes::new();
        let (mine, theirs) = (f.add_org(true), f.add_org(true));
        let admin = f.add_user(&mine, "ann", Role::Admin);
        let stranger = f.add_user(&theirs, "bob", Role::Agent);
        let a = actor_of(&admin);
        assert!(matches!(
            f.auth.get_user(&a, &stranger.id).await,
            Err(AuthError::NotFound)
        ));
        assert!(matches!(
            f.auth.deactivate_user(&a, &stranger.id).await,
            Err(AuthError::NotFound)
        ));
        let page = f
            .auth
            .list_users(&a, &UserFilter::default(), PageRequest::default())
            .await
            .unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.items[0].id, admin.id);
        assert!(f.user(&theirs, &stranger.id).is_active);
    }

    #[tokio::test]
    async fn an_agent_cannot_list_users() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let agent = f.add_user(&org, "ann", Role::Agent);
        assert!(matches!(
            f.auth
                .list_users(
                    &actor_of(&agent),
                    &UserFilter::default(),
                    PageRequest::default()
                )
                .await,
            Err(AuthError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn deactivating_a_user_revokes_its_sessions() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let admin = f.add_user(&org, "ann", Role::Admin);
        let agent = f.add_user(&org, "bob", Role::Agent);
        let now = tenancy::now();
        let login = f
            .auth
            .login(&agent.email, PASSWORD, None, now)
            .await
            .unwrap();
        let updated = f
            .auth
            .deactivate_user(&actor_of(&admin), &agent.id)
            .await
            .unwrap();
        assert!(!updated.is_active);
        f.set_user_active(&org, &agent.id, true);
        assert!(matches!(
            f.auth.refresh(&login.refresh_token, now).await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn an_admin_cannot_deactivate_itself() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let admin = f.add_user(&org, "ann", Role::Admin);
        assert!(matches!(
            f.auth.deactivate_user(&actor_of(&admin), &admin.id).await,
            Err(AuthError::Forbidden(_))
        ));
        assert!(f.user(&org, &admin.id).is_active);
    }

    #[tokio::test]
    async fn a_password_change_needs_the_current_one_and_signs_out_everywhere() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let login = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        let new = Password::parse("a brand new passphrase").unwrap();
        assert!(matches!(
            f.auth
                .change_own_password(&actor_of(&ann), "not my password", new.clone())
                .await,
            Err(AuthError::Invalid(_))
        ));
        f.auth
            .change_own_password(&actor_of(&ann), PASSWORD, new)
            .await
            .unwrap();
        assert!(matches!(
            f.auth.refresh(&login.refresh_token, now).await,
            Err(AuthError::InvalidToken)
        ));
        assert!(matches!(
            f.auth.login(&ann.email, PASSWORD, None, now).await,
            Err(AuthError::InvalidCredentials)
        ));
        assert!(
            f.auth
                .login(&ann.email, "a brand new passphrase", None, now)
                .await
                .is_ok()
        );
    }

    #[test]
    fn token_errors_all_become_invalid_token() {
        assert!(matches!(
            AuthError::from(TokenError::Expired),
            AuthError::InvalidToken
        ));
    }
}
