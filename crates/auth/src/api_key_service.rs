//! API key use cases: create, list, revoke, rotate.

use std::{fmt, sync::Arc};

use tenancy::{Actor, Page, PageRequest};

use crate::{
    ApiKey, ApiKeyId, ApiKeyRepository, ApiKeySecret, AuthError, NewApiKey,
    policy::{authorize_change_api_key, authorize_create_api_key, authorize_list_api_keys},
};

/// A key just created or rotated, with its plain text: the only time the
/// server ever has it. Show it once; it cannot be recovered.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedApiKey {
    /// The key as stored.
    pub key: ApiKey,
    /// The whole key, `lr_<prefix>_<secret>`.
    pub plain_key: String,
}

impl fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key", &self.key)
            .field("plain_key", &"***")
            .finish()
    }
}

/// API key use cases, in the actor's organization. Cheap to clone.
#[derive(Clone)]
pub struct ApiKeyService {
    keys: Arc<dyn ApiKeyRepository>,
}

impl fmt::Debug for ApiKeyService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyService").finish_non_exhaustive()
    }
}

impl ApiKeyService {
    /// A service over this repository.
    pub fn new(keys: Arc<dyn ApiKeyRepository>) -> Self {
        Self { keys }
    }

    /// Creates a key in the actor's organization. The plain key is returned
    /// once; only its hash is stored.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`] below admin or for a role above the actor's;
    /// [`AuthError::Invalid`] for `super_admin` outside the default
    /// organization.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn create(&self, actor: &Actor, new: NewApiKey) -> Result<CreatedApiKey, AuthError> {
        authorize_create_api_key(actor, new.role)?;
        let generated = ApiKeySecret::generate();
        let key = ApiKey {
            id: ApiKeyId::generate(),
            org_id: actor.org_id().clone(),
            name: new.name,
            prefix: generated.prefix,
            role: new.role,
            created_by: actor.principal().to_string(),
            created_at: tenancy::now(),
            last_used_at: None,
            revoked_at: None,
            known_addresses: Vec::new(),
        };
        self.keys
            .insert(&actor.scope(), &key, &generated.hash)
            .await?;
        tracing::info!(
            key_id = %key.id,
            org_id = %key.org_id,
            role = %key.role,
            by = %actor.principal(),
            "API key created"
        );
        Ok(CreatedApiKey {
            key,
            plain_key: generated.full_key,
        })
    }

    /// The keys of the actor's organization, revoked ones included.
    ///
    /// # Errors
    /// [`AuthError::Forbidden`] below admin.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn list(&self, actor: &Actor, page: PageRequest) -> Result<Page<ApiKey>, AuthError> {
        authorize_list_api_keys(actor)?;
        Ok(self.keys.list(&actor.scope(), page).await?)
    }

    /// Revokes a key of the actor's organization; it stops working at once.
    /// Revoking a revoked key changes nothing.
    ///
    /// # Errors
    /// [`AuthError::NotFound`]; [`AuthError::Forbidden`] below admin or for
    /// a key whose role is above the actor's.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn revoke(&self, actor: &Actor, id: &ApiKeyId) -> Result<ApiKey, AuthError> {
        let key = self.find(actor, id).await?;
        authorize_change_api_key(actor, &key)?;
        let key = self.keys.revoke(&actor.scope(), id, tenancy::now()).await?;
        tracing::info!(key_id = %id, org_id = %actor.org_id(), by = %actor.principal(), "API key revoked");
        Ok(key)
    }

    /// Gives a key a new secret (and prefix); the old one stops working at
    /// once. The new plain key is returned once.
    ///
    /// # Errors
    /// [`AuthError::NotFound`] when absent or revoked; [`AuthError::Forbidden`]
    /// below admin or for a key whose role is above the actor's.
    #[tracing::instrument(skip_all, fields(org_id = %actor.org_id()))]
    pub async fn rotate(&self, actor: &Actor, id: &ApiKeyId) -> Result<CreatedApiKey, AuthError> {
        let key = self.find(actor, id).await?;
        authorize_change_api_key(actor, &key)?;
        if key.is_revoked() {
            return Err(AuthError::NotFound);
        }
        let generated = ApiKeySecret::generate();
        let key = self
            .keys
            .rotate(
                &actor.scope(),
                id,
                &key.prefix,
                &generated.prefix,
                &generated.hash,
                tenancy::now(),
            )
            .await?;
        tracing::info!(key_id = %id, org_id = %actor.org_id(), by = %actor.principal(), "API key rotated");
        Ok(CreatedApiKey {
            key,
            plain_key: generated.full_key,
        })
    }

    async fn find(&self, actor: &Actor, id: &ApiKeyId) -> Result<ApiKey, AuthError> {
        authorize_list_api_keys(actor)?;
        self.keys
            .find(&actor.scope(), id)
            .await?
            .ok_or(AuthError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use tenancy::{OrgId, Principal, Role};

    use super::*;
    use crate::{hash_secret, parse_api_key, testing::Fakes};

    fn admin(org: &OrgId) -> Actor {
        Actor::new(
            org.clone(),
            Principal::User("usr_admin".into()),
            Role::Admin,
        )
    }

    #[tokio::test]
    async fn a_created_key_is_shown_once_and_only_its_hash_is_stored() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let created = f
            .api_keys
            .create(
                &admin(&org),
                NewApiKey::parse("zapier", Some("manager")).unwrap(),
            )
            .await
            .unwrap();
        let (prefix, _) = parse_api_key(&created.plain_key).unwrap();
        assert_eq!(prefix, created.key.prefix);
        assert_eq!(created.key.role, Role::Manager);
        assert_eq!(created.key.created_by, "user:usr_admin");
        let (_, stored_hash) = f.key_by_prefix(prefix).unwrap();
        assert_eq!(stored_hash, hash_secret(&created.plain_key));
        assert!(!format!("{created:?}").contains(&created.plain_key));
    }

    #[tokio::test]
    async fn a_manager_cannot_create_or_list_keys() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let manager = Actor::new(org, Principal::User("usr_m".into()), Role::Manager);
        assert!(matches!(
            f.api_keys
                .create(&manager, NewApiKey::parse("k", None).unwrap())
                .await,
            Err(AuthError::Forbidden(_))
        ));
        assert!(matches!(
            f.api_keys.list(&manager, PageRequest::default()).await,
            Err(AuthError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn an_admin_cannot_mint_a_key_above_its_role() {
        let f = Fakes::new();
        let org = OrgId::default_org();
        f.add_org_with_id(org.clone(), true);
        assert!(matches!(
            f.api_keys
                .create(
                    &admin(&org),
                    NewApiKey::parse("k", Some("super_admin")).unwrap()
                )
                .await,
            Err(AuthError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn keys_of_another_org_are_not_found() {
        let f = Fakes::new();
        let (mine, theirs) = (f.add_org(true), f.add_org(true));
        let theirs_key = f
            .api_keys
            .create(&admin(&theirs), NewApiKey::parse("k", None).unwrap())
            .await
            .unwrap();
        let a = admin(&mine);
        assert!(matches!(
            f.api_keys.revoke(&a, &theirs_key.key.id).await,
            Err(AuthError::NotFound)
        ));
        assert!(matches!(
            f.api_keys.rotate(&a, &theirs_key.key.id).await,
            Err(AuthError::NotFound)
        ));
        assert_eq!(
            f.api_keys
                .list(&a, PageRequest::default())
                .await
                .unwrap()
                .total,
            0
        );
    }

    #[tokio::test]
    async fn rotation_replaces_the_secret_and_revocation_is_final() {
        let f = Fakes::new();
        let org = f.add_org(true);
        let a = admin(&org);
        let created = f
            .api_keys
            .create(&a, NewApiKey::parse("k", None).unwrap())
            .await
            .unwrap();
        let rotated = f.api_keys.rotate(&a, &created.key.id).await.unwrap();
        assert_eq!(rotated.key.id, created.key.id);
        assert_ne!(rotated.plain_key, created.plain_key);
        assert!(f.key_by_prefix(&created.key.prefix).is_none());
        let revoked = f.api_keys.revoke(&a, &created.key.id).await.unwrap();
        assert!(revoked.is_revoked());
        assert!(matches!(
            f.api_keys.rotate(&a, &created.key.id).await,
            Err(AuthError::NotFound)
        ));
    }
}
