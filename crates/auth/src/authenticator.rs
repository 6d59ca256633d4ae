//! Turns a request's credential into a [`tenancy::Actor`].
//!
//! Every request reloads what its credential names (the user and its
//! sign-in, the key, the organization), so a deactivation, a revocation, a
//! logout or a role change takes effect on the very next request, whatever
//! tokens are still in flight.

use std::{fmt, net::IpAddr, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use organization::OrganizationRepository;
use tenancy::{Actor, OrgId, Principal};

use crate::{
    ApiKeyRepository, AuthError, KeyOrg, TokenKeys, UserRepository, hash_secret, hashes_match,
    parse_api_key, policy::authorize_switch_org,
};

/// The development key: a super admin of the default organization, accepted
/// only in development mode.
pub const DEV_API_KEY: &str = "dev_key_123";

/// How stale an API key's `last_used_at` may get before a request writes
/// it again: one write per key per minute, not one per request.
pub const API_KEY_TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// Authenticates bearer tokens and API keys. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    users: Arc<dyn UserRepository>,
    api_keys: Arc<dyn ApiKeyRepository>,
    orgs: Arc<dyn OrganizationRepository>,
    keys: TokenKeys,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over these repositories, verifying with `keys`.
    pub fn new(
        users: Arc<dyn UserRepository>,
        api_keys: Arc<dyn ApiKeyRepository>,
        orgs: Arc<dyn OrganizationRepository>,
        keys: TokenKeys,
    ) -> Self {
        Self {
            users,
            api_keys,
            orgs,
            keys,
        }
    }

    /// The actor behind an access token (`Authorization: Bearer <token>`):
    /// the token must verify at `now`, its user must still exist and be
    /// active in an active organization, and its sign-in (`sid`) must not
    /// have ended: a logout, a refresh-token reuse, a password change, a
    /// role change or a deactivation revokes the session family, and the
    /// token dies with it (reactivating the user does not revive it). The
    /// user and its session are one read. The role is the user's current
    /// one, not the token's.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for a bad token, an ended sign-in, or a
    /// user or organization that is gone; [`AuthError::UserInactive`] when
    /// either is deactivated.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate_bearer(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Actor, AuthError> {
        let claims = self.keys.verify_access_at(token, now).map_err(|e| {
            tracing::debug!(reason = %e, "access token refused");
            AuthError::from(e)
        })?;
        let (user, session_live) = self
            .users
            .find_with_session(
                &crate::service::user_scope(&claims.org_id, &claims.user_id),
                &claims.user_id,
                &claims.sid,
            )
            .await?
            .ok_or(AuthError::InvalidToken)?;
        if !user.is_active {
            return Err(AuthError::UserInactive);
        }
        if !session_live {
            tracing::debug!(user_id = %user.id, "access token of an ended sign-in refused");
            return Err(AuthError::InvalidToken);
        }
        self.ensure_org_active(&user.org_id).await?;
        Ok(Actor::new(
            user.org_id,
            Principal::User(user.id.to_string()),
            user.role,
        ))
    }

    /// The actor behind an API key (`x-api-key`). [`DEV_API_KEY`] is the
    /// development super admin when `dev_mode` is on, and nothing otherwise.
    /// Any other key must be one of ours, unrevoked, with a matching hash
    /// (compared in constant time), in an active organization. Its
    /// `last_used_at` is refreshed at most every [`API_KEY_TOUCH_INTERVAL`];
    /// a failure to record it is logged, not fatal.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for an unknown, malformed or revoked key
    /// or a gone organization; [`AuthError::UserInactive`] when its
    /// organization is deactivated.
    pub async fn authenticate_api_key(
        &self,
        raw: &str,
        dev_mode: bool,
        now: DateTime<Utc>,
    ) -> Result<Actor, AuthError> {
        self.authenticate_api_key_from(raw, dev_mode, None, now)
            .await
    }

    /// [`Authenticator::authenticate_api_key`] for a request from the
    /// client `address`: a key used from an address it does not know
    /// records it, with `api_key.used_from_new_address` in the audit trail
    /// (it remembers [`crate::ApiKey::KNOWN_ADDRESSES`] addresses).
    ///
    /// # Errors
    /// As [`Authenticator::authenticate_api_key`].
    #[tracing::instrument(skip_all)]
    pub async fn authenticate_api_key_from(
        &self,
        raw: &str,
        dev_mode: bool,
        address: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<Actor, AuthError> {
        if raw == DEV_API_KEY {
            return if dev_mode {
                Ok(Actor::dev_key())
            } else {
                tracing::warn!("development API key presented outside development mode");
                Err(AuthError::InvalidToken)
            };
        }
        let (prefix, full) = parse_api_key(raw).ok_or(AuthError::InvalidToken)?;
        let (key, stored_hash, org) = self
            .api_keys
            .find_by_prefix_with_org(prefix)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        if !hashes_match(&hash_secret(full), &stored_hash) || key.is_revoked() {
            return Err(AuthError::InvalidToken);
        }
        match org {
            KeyOrg::Active => {}
            KeyOrg::Inactive => return Err(AuthError::UserInactive),
            KeyOrg::Missing => return Err(AuthError::InvalidToken),
            KeyOrg::Unread => self.ensure_org_active(&key.org_id).await?,
        }
        let stale = key
            .last_used_at
            .is_none_or(|at| now - at >= API_KEY_TOUCH_INTERVAL);
        let actor = Actor::new(
            key.org_id.clone(),
            Principal::ApiKey(key.id.to_string()),
            key.role,
        );
        let new_address = address
            .map(|a| a.to_string())
            .and_then(|a| key.remember(&a).map(|known| (a, known)));
        let recorded = match new_address {
            Some((address, known)) => {
                self.api_keys
                    .record_new_address(&actor.scope(), &key.id, &address, &known, now)
                    .await
            }
            None if stale => {
                self.api_keys
                    .touch_last_used(&actor.scope(), &key.id, now)
                    .await
            }
            None => Ok(()),
        };
        if let Err(e) = recorded {
            tracing::warn!(key_id = %key.id, error = %e, "could not record API key use");
        }
        Ok(actor)
    }

    async fn ensure_org_active(&self, org: &OrgId) -> Result<(), AuthError> {
        match self.orgs.find(org).await? {
            Some(org) if org.is_active => Ok(()),
            Some(_) => Err(AuthError::UserInactive),
            None => Err(AuthError::InvalidToken),
        }
    }

    /// [`switch_org`] with this authenticator's organizations.
    ///
    /// # Errors
    /// As [`switch_org`].
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn switch_org(&self, actor: &Actor, target: OrgId) -> Result<Actor, AuthError> {
        switch_org(actor, target, self.orgs.as_ref()).await
    }
}

/// The actor acting in `target` instead (the `X-Org-Id` header): allowed for
/// super admins, into any existing organization, active or not (they manage
/// inactive ones too). Naming one's own organization is a no-op for anyone.
///
/// # Errors
/// [`AuthError::Forbidden`] for anyone else; [`AuthError::OrganizationNotFound`]
/// when `target` does not exist.
pub async fn switch_org(
    actor: &Actor,
    target: OrgId,
    orgs: &dyn OrganizationRepository,
) -> Result<Actor, AuthError> {
    authorize_switch_org(actor, &target)?;
    if target == *actor.org_id() {
        return Ok(actor.clone());
    }
    if orgs.find(&target).await?.is_none() {
        return Err(AuthError::OrganizationNotFound);
    }
    actor.acting_in(target).ok_or(AuthError::Forbidden(
        "only a super admin can act in another organization",
    ))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use tenancy::Role;

    use super::*;
    use crate::{
        NewApiKey, Password, SessionFamilyId, UpdateUser, User, UserPatch,
        testing::{Fakes, PASSWORD},
    };

    fn actor_of(user: &User) -> Actor {
        Actor::new(
            user.org_id.clone(),
            Principal::User(user.id.to_string()),
            user.role,
        )
    }

    #[tokio::test]
    async fn a_valid_bearer_token_becomes_its_users_actor() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Manager);
        let now = tenancy::now();
        let token = f.sign_in(&ann, now);
        let actor = f
            .authn
            .authenticate_bearer(&token.token, now)
            .await
            .unwrap();
        assert_eq!(actor, actor_of(&ann));
    }

    #[tokio::test]
    async fn a_deactivated_user_is_locked_out_at_once_despite_a_valid_token() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let admin = f.add_user(&org, "ann", Role::Admin);
        let bob = f.add_user(&org, "bob", Role::Agent);
        let now = tenancy::now();
        let token = f.sign_in(&bob, now);
        f.auth
            .deactivate_user(&actor_of(&admin), &bob.id)
            .await
            .unwrap();
        assert!(matches!(
            f.authn.authenticate_bearer(&token.token, now).await,
            Err(AuthError::UserInactive)
        ));
    }

    #[tokio::test]
    async fn a_bearer_token_of_a_deactivated_or_deleted_org_is_refused() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Admin);
        let now = tenancy::now();
        let token = f.sign_in(&ann, now);
        f.set_org_active(&org, false);
        assert!(matches!(
            f.authn.authenticate_bearer(&token.token, now).await,
            Err(AuthError::UserInactive)
        ));
        f.remove_org(&org);
        assert!(matches!(
            f.authn.authenticate_bearer(&token.token, now).await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn the_actor_carries_the_current_role_not_the_tokens() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let bob = f.add_user(&org, "bob", Role::Admin);
        let now = tenancy::now();
        let token = f.sign_in(&bob, now);
        // Changed in storage without ending bob's sessions (the service
        // ends them, see below): the role read now is the one that counts.
        let demote = UserPatch {
            role: Some(Role::Agent),
            ..Default::default()
        };
        f.users
            .update(&actor_of(&bob).scope(), &bob.id, demote, now)
            .await
            .unwrap();
        let actor = f
            .authn
            .authenticate_bearer(&token.token, now)
            .await
            .unwrap();
        assert_eq!(actor.role(), Role::Agent);
    }

    fn is_invalid(r: Result<Actor, AuthError>) -> bool {
        matches!(r, Err(AuthError::InvalidToken))
    }

    #[tokio::test]
    async fn an_access_token_dies_with_its_sign_in_at_logout() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let here = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        let there = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        f.auth.logout(&here.refresh_token, now).await.unwrap();
        assert!(is_invalid(
            f.authn.authenticate_bearer(&here.access.token, now).await
        ));
        // Another sign-in of the same user is another family: unaffected.
        f.authn
            .authenticate_bearer(&there.access.token, now)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_access_token_survives_a_refresh_but_not_a_reuse_of_its_family() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let login = f.auth.login(&ann.email, PASSWORD, None, now).await.unwrap();
        let refreshed = f.auth.refresh(&login.refresh_token, now).await.unwrap();
        // Rotated, not revoked: the older token stays valid until it expires.
        for token in [&login.access.token, &refreshed.access.token] {
            f.authn.authenticate_bearer(token, now).await.unwrap();
        }
        assert!(matches!(
            f.auth.refresh(&login.refresh_token, now).await,
            Err(AuthError::TokenReused)
        ));
        for token in [&login.access.token, &refreshed.access.token] {
            assert!(is_invalid(f.authn.authenticate_bearer(token, now).await));
        }
    }

    #[tokio::test]
    async fn a_password_change_ends_every_access_token_of_the_user() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let now = tenancy::now();
        let token = f.sign_in(&ann, now);
        let new = Password::parse("a brand new password").unwrap();
        f.auth
            .change_own_password(&actor_of(&ann), PASSWORD, new)
            .await
            .unwrap();
        assert!(is_invalid(
            f.authn.authenticate_bearer(&token.token, now).await
        ));
    }

    #[tokio::test]
    async fn a_role_change_ends_the_users_access_tokens() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let admin = f.add_user(&org, "ann", Role::Admin);
        let bob = f.add_user(&org, "bob", Role::Manager);
        let now = tenancy::now();
        let token = f.sign_in(&bob, now);
        let demote = UpdateUser {
            role: Some(Role::Agent),
            ..Default::default()
        };
        f.auth
            .update_user(&actor_of(&admin), &bob.id, demote)
            .await
            .unwrap();
        assert!(is_invalid(
            f.authn.authenticate_bearer(&token.token, now).await
        ));
        let fresh = f.sign_in(&f.user(&org, &bob.id), now);
        let actor = f
            .authn
            .authenticate_bearer(&fresh.token, now)
            .await
            .unwrap();
        assert_eq!(actor.role(), Role::Agent);
    }

    #[tokio::test]
    async fn reactivating_a_user_does_not_revive_its_earlier_tokens() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let admin = f.add_user(&org, "ann", Role::Admin);
        let bob = f.add_user(&org, "bob", Role::Agent);
        let now = tenancy::now();
        let token = f.sign_in(&bob, now);
        f.auth
            .deactivate_user(&actor_of(&admin), &bob.id)
            .await
            .unwrap();
        f.auth
            .activate_user(&actor_of(&admin), &bob.id)
            .await
            .unwrap();
        assert!(is_invalid(
            f.authn.authenticate_bearer(&token.token, now).await
        ));
        let fresh = f.auth.login(&bob.email, PASSWORD, None, now).await.unwrap();
        f.authn
            .authenticate_bearer(&fresh.access.token, now)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_token_naming_an_unknown_or_someone_elses_sign_in_is_refused() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let bob = f.add_user(&org, "bob", Role::Agent);
        let now = tenancy::now();
        let unknown = f
            .keys
            .issue_access(&ann, &SessionFamilyId::generate(), now)
            .unwrap();
        assert!(is_invalid(
            f.authn.authenticate_bearer(&unknown.token, now).await
        ));
        // Bob's live family in a token of Ann's: the family must be hers.
        let bobs = f.auth.login(&bob.email, PASSWORD, None, now).await.unwrap();
        let sid = f
            .keys
            .verify_access_at(&bobs.access.token, now)
            .unwrap()
            .sid;
        let borrowed = f.keys.issue_access(&ann, &sid, now).unwrap();
        assert!(is_invalid(
            f.authn.authenticate_bearer(&borrowed.token, now).await
        ));
    }

    #[tokio::test]
    async fn an_expired_or_forged_bearer_token_is_invalid() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let ann = f.add_user(&org, "ann", Role::Agent);
        let then = tenancy::now() - Duration::hours(3);
        let token = f.sign_in(&ann, then);
        assert!(matches!(
            f.authn
                .authenticate_bearer(&token.token, tenancy::now())
                .await,
            Err(AuthError::InvalidToken)
        ));
        assert!(matches!(
            f.authn.authenticate_bearer("x.y.z", tenancy::now()).await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn the_dev_key_works_only_in_dev_mode() {
        let f = Fakes::new();
        let now = tenancy::now();
        assert_eq!(
            f.authn
                .authenticate_api_key(DEV_API_KEY, true, now)
                .await
                .unwrap(),
            Actor::dev_key()
        );
        assert!(matches!(
            f.authn.authenticate_api_key(DEV_API_KEY, false, now).await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn a_valid_api_key_becomes_its_actor_and_records_its_use() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let admin = Actor::new(org.clone(), Principal::User("usr_a".into()), Role::Admin);
        let created = f
            .api_keys
            .create(&admin, NewApiKey::parse("k", Some("manager")).unwrap())
            .await
            .unwrap();
        let now = tenancy::now();
        let actor = f
            .authn
            .authenticate_api_key(&created.plain_key, false, now)
            .await
            .unwrap();
        assert_eq!(*actor.org_id(), org);
        assert_eq!(actor.role(), Role::Manager);
        assert_eq!(
            *actor.principal(),
            Principal::ApiKey(created.key.id.to_string())
        );
        let (stored, _) = f.key_by_prefix(&created.key.prefix).unwrap();
        assert_eq!(stored.last_used_at, Some(now));
        // Within the interval, no new write.
        let soon = now + Duration::seconds(10);
        f.authn
            .authenticate_api_key(&created.plain_key, false, soon)
            .await
            .unwrap();
        let (stored, _) = f.key_by_prefix(&created.key.prefix).unwrap();
        assert_eq!(stored.last_used_at, Some(now));
    }

    #[tokio::test]
    async fn a_key_with_a_known_prefix_but_wrong_secret_is_refused() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let admin = Actor::new(org, Principal::User("usr_a".into()), Role::Admin);
        let created = f
            .api_keys
            .create(&admin, NewApiKey::parse("k", None).unwrap())
            .await
            .unwrap();
        let forged = format!("lr_{}_{}", created.key.prefix, "A".repeat(43));
        assert!(matches!(
            f.authn
                .authenticate_api_key(&forged, false, tenancy::now())
                .await,
            Err(AuthError::InvalidToken)
        ));
        assert!(matches!(
            f.authn
                .authenticate_api_key("garbage", false, tenancy::now())
                .await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn revoked_keys_and_keys_of_inactive_orgs_are_refused() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let admin = Actor::new(org.clone(), Principal::User("usr_a".into()), Role::Admin);
        let k1 = f
            .api_keys
            .create(&admin, NewApiKey::parse("k1", None).unwrap())
            .await
            .unwrap();
        let k2 = f
            .api_keys
            .create(&admin, NewApiKey::parse("k2", None).unwrap())
            .await
            .unwrap();
        f.api_keys.revoke(&admin, &k1.key.id).await.unwrap();
        let now = tenancy::now();
        assert!(matches!(
            f.authn
                .authenticate_api_key(&k1.plain_key, false, now)
                .await,
            Err(AuthError::InvalidToken)
        ));
        f.set_org_active(&org, false);
        assert!(matches!(
            f.authn
                .authenticate_api_key(&k2.plain_key, false, now)
                .await,
            Err(AuthError::UserInactive)
        ));
    }

    #[tokio::test]
    async fn a_super_admin_switches_into_an_existing_org_only() {
        let f = Fakes::new();
        let target = f.add_org(true);
        let sa = Actor::dev_key();
        let switched = f.authn.switch_org(&sa, target.clone()).await.unwrap();
        assert_eq!(*switched.org_id(), target);
        assert_eq!(*switched.home_org_id(), OrgId::default_org());
        assert_eq!(switched.role(), Role::SuperAdmin);
        assert!(matches!(
            f.authn.switch_org(&sa, OrgId::generate()).await,
            Err(AuthError::OrganizationNotFound)
        ));
    }

    #[tokio::test]
    async fn nobody_else_switches_org() {
        let f = Fakes::new();
        let (own, other) = (f.add_org(true), f.add_org(true));
        let admin = Actor::new(own.clone(), Principal::User("usr_a".into()), Role::Admin);
        assert!(matches!(
            f.authn.switch_org(&admin, other).await,
            Err(AuthError::Forbidden(_))
        ));
        assert_eq!(f.authn.switch_org(&admin, own).await.unwrap(), admin);
    }
}
