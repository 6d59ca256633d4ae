#![allow(clippy::unwrap_used)]
//! The auth use cases over the in-memory adapters: a first registration,
//! sign-in and refresh-token rotation with reuse detection, API keys, and
//! another organization's users and keys out of reach.

use std::sync::Arc;

use auth::{
    ApiKeyName, ApiKeyService, AuthError, AuthService, Authenticator, NewApiKey, Password,
    RegisterUser, TokenKeys, Username,
};
use memory::MemoryStore;
use organization::{NewOrganization, OrgName, OrganizationRepository, Settings, Tier};
use tenancy::{Email, OrgId, PageRequest, Role};

async fn org(store: &MemoryStore, name: &str) -> OrgId {
    let org = NewOrganization {
        name: OrgName::parse(name).unwrap(),
        display_name: None,
        email: None,
        phone: None,
        tier: Tier::default(),
        monday_workspace_id: None,
        settings: Settings::default(),
    }
    .into_organization("test".into(), tenancy::now());
    store
        .insert(&tenancy::TenantScope::system(org.id.clone()), &org)
        .await
        .unwrap();
    org.id
}

#[tokio::test]
async fn a_user_registers_signs_in_rotates_and_a_key_authenticates_in_its_organization_only() {
    let store = Arc::new(MemoryStore::new());
    let keys = TokenKeys::new(&[7; 32], "lead-routing", "lead-routing-api").unwrap();
    let auth = AuthService::new(store.clone(), store.clone(), store.clone(), keys.clone());
    let authn = Authenticator::new(store.clone(), store.clone(), store.clone(), keys);
    let api_keys = ApiKeyService::new(store.clone());
    let acme = org(&store, "acme").await;
    let globex = org(&store, "globex").await;

    let email = Email::parse("ann@acme.example").unwrap();
    let ann = auth
        .register(
            None,
            RegisterUser {
                org_id: acme.clone(),
                username: Username::parse("ann").unwrap(),
                email: email.clone(),
                password: Password::parse("correct horse battery").unwrap(),
                role: None,
            },
        )
        .await
        .unwrap();
    // The first user of an organization is its admin.
    assert_eq!(ann.role, Role::Admin);

    let now = tenancy::now();
    let signed_in = auth
        .login(&email, "correct horse battery", None, now)
        .await
        .unwrap();
    let admin = authn
        .authenticate_bearer(&signed_in.access.token, now)
        .await
        .unwrap();
    assert_eq!(admin.org_id(), &acme);
    let wrong = auth.login(&email, "wrong horse battery", None, now).await;
    assert!(matches!(wrong, Err(AuthError::InvalidCredentials)));

    let rotated = auth.refresh(&signed_in.refresh_token, now).await.unwrap();
    let reused = auth.refresh(&signed_in.refresh_token, now).await;
    assert!(matches!(reused, Err(AuthError::TokenReused)));
    // The reuse revoked the whole family, the new token included.
    assert!(auth.refresh(&rotated.refresh_token, now).await.is_err());

    let created = api_keys
        .create(
            &admin,
            NewApiKey {
                name: ApiKeyName::parse("form backend").unwrap(),
                role: Role::Agent,
            },
        )
        .await
        .unwrap();
    let by_key = authn
        .authenticate_api_key(&created.plain_key, false, now)
        .await
        .unwrap();
    assert_eq!(by_key.org_id(), &acme);
    assert_eq!(by_key.role(), Role::Agent);

    // Another organization's admin sees neither the user nor the key.
    let other = auth
        .register(
            None,
            RegisterUser {
                org_id: globex.clone(),
                username: Username::parse("gus").unwrap(),
                email: Email::parse("gus@globex.example").unwrap(),
                password: Password::parse("correct horse battery").unwrap(),
                role: None,
            },
        )
        .await
        .unwrap();
    let gus = auth
        .login(&other.email, "correct horse battery", None, now)
        .await
        .unwrap();
    let gus = authn
        .authenticate_bearer(&gus.access.token, now)
        .await
        .unwrap();
    assert!(matches!(
        auth.get_user(&gus, &ann.id).await,
        Err(AuthError::NotFound)
    ));
    let keys_seen = api_keys.list(&gus, PageRequest::default()).await.unwrap();
    assert_eq!(keys_seen.total, 0);
}

#[tokio::test]
async fn an_access_token_ends_with_its_sign_in_and_stays_dead_after_a_reactivation() {
    let store = Arc::new(MemoryStore::new());
    let keys = TokenKeys::new(&[7; 32], "lead-routing", "lead-routing-api").unwrap();
    let auth = AuthService::new(store.clone(), store.clone(), store.clone(), keys.clone());
    let authn = Authenticator::new(store.clone(), store.clone(), store.clone(), keys);
    let acme = org(&store, "acme").await;
    let register = |name: &str| RegisterUser {
        org_id: acme.clone(),
        username: Username::parse(name).unwrap(),
        email: Email::parse(&format!("{name}@acme.example")).unwrap(),
        password: Password::parse("correct horse battery").unwrap(),
        role: None,
    };
    let ann = auth.register(None, register("ann")).await.unwrap();
    let now = tenancy::now();
    let sign_in = |email: Email| {
        let auth = auth.clone();
        async move {
            auth.login(&email, "correct horse battery", None, now)
                .await
                .unwrap()
        }
    };
    let admin = sign_in(ann.email.clone()).await;
    let admin = authn
        .authenticate_bearer(&admin.access.token, now)
        .await
        .unwrap();
    let bob = auth.register(Some(&admin), register("bob")).await.unwrap();

    // Signed out: the access token of that sign-in is refused.
    let first = sign_in(bob.email.clone()).await;
    auth.logout(&first.refresh_token, now).await.unwrap();
    assert!(matches!(
        authn.authenticate_bearer(&first.access.token, now).await,
        Err(AuthError::InvalidToken)
    ));

    // Deactivated then reactivated: the earlier token stays dead, a new
    // sign-in works.
    let second = sign_in(bob.email.clone()).await;
    auth.deactivate_user(&admin, &bob.id).await.unwrap();
    auth.activate_user(&admin, &bob.id).await.unwrap();
    assert!(matches!(
        authn.authenticate_bearer(&second.access.token, now).await,
        Err(AuthError::InvalidToken)
    ));
    let third = sign_in(bob.email.clone()).await;
    authn
        .authenticate_bearer(&third.access.token, now)
        .await
        .unwrap();
}
