#![allow(clippy::unwrap_used)]
//! The auth repositories against a real, freshly migrated database: SQLite
//! in a temporary folder, or a fresh PostgreSQL database created on the
//! server `TEST_DATABASE_URL` names when it is set (and dropped afterwards).
//!
//! These check what the SQL itself must guarantee (tenant scoping, unique
//! and foreign-key constraints, cascades, the conditional rotation); the
//! behaviour seen by clients is covered by the API's HTTP suite.

mod common;

use common::TestDb;

use std::sync::{Arc, OnceLock};

use auth::{
    ApiKey, ApiKeyId, ApiKeyName, ApiKeyRepository, ApiKeySecret, AuthError, Password,
    PasswordHash, RefreshToken, Session, SessionRepository, User, UserFilter, UserPatch,
    UserRepository, Username, hash_password,
};
use chrono::Duration;
use organization::OrganizationRepository;
use storage::{SeaOrmApiKeyRepository, SeaOrmSessionRepository, SeaOrmUserRepository};
use tenancy::{Email, OrgId, PageRequest, Role};

/// The scope of a test operator acting in `org`.
fn sc(org: &OrgId) -> tenancy::TenantScope {
    tenancy::Actor::operator("test")
        .acting_in(org.clone())
        .unwrap()
        .scope()
}

impl TestDb {
    fn users(&self) -> SeaOrmUserRepository {
        SeaOrmUserRepository::new(self.db.clone())
    }

    fn sessions(&self) -> SeaOrmSessionRepository {
        SeaOrmSessionRepository::new(self.db.clone())
    }

    fn keys(&self) -> SeaOrmApiKeyRepository {
        SeaOrmApiKeyRepository::new(self.db.clone())
    }

    /// A new agent `username` of `org`, stored, with e-mail `username@acme.com`.
    async fn user(&self, org: &OrgId, username: &str) -> User {
        let user = new_user(org, username, &format!("{username}@acme.com"));
        self.users()
            .insert(&sc(&user.org_id), &user, password_hash())
            .await
            .unwrap();
        user
    }

    /// A new API key of `org`, stored; returns it and its hash.
    async fn key(&self, org: &OrgId, name: &str) -> (ApiKey, String) {
        let generated = ApiKeySecret::generate();
        let key = ApiKey {
            id: ApiKeyId::generate(),
            org_id: org.clone(),
            name: ApiKeyName::parse(name).unwrap(),
            prefix: generated.prefix,
            role: Role::Agent,
            created_by: "dev_key".into(),
            created_at: tenancy::now(),
            last_used_at: None,
            revoked_at: None,
            known_addresses: Vec::new(),
        };
        self.keys()
            .insert(&sc(&key.org_id), &key, &generated.hash)
            .await
            .unwrap();
        (key, generated.hash)
    }
}

/// One argon2 hash for every user: hashing is deliberately slow.
fn password_hash() -> &'static PasswordHash {
    static HASH: OnceLock<PasswordHash> = OnceLock::new();
    HASH.get_or_init(|| hash_password(&Password::parse("correct horse battery").unwrap()).unwrap())
}

fn new_user(org: &OrgId, username: &str, email: &str) -> User {
    User::new(
        org.clone(),
        Username::parse(username).unwrap(),
        Email::parse(email).unwrap(),
        Role::Agent,
        tenancy::now(),
    )
}

/// When the session with this token hash was revoked, if it was.
async fn revoked_at_of(
    sessions: &SeaOrmSessionRepository,
    token_hash: String,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let session = sessions.find_by_token_hash(&token_hash).await.unwrap();
    session.unwrap().revoked_at
}

fn session_of(user: &User) -> Session {
    Session::start(user, &RefreshToken::generate(), tenancy::now())
}

#[tokio::test]
async fn users_round_trip_and_duplicates_map_to_taken() {
    let t = TestDb::create().await;
    let users = t.users();
    let acme = t.org("acme").await;
    let ann = t.user(&acme, "ann").await;

    assert_eq!(
        users.find(&sc(&acme), &ann.id).await.unwrap(),
        Some(ann.clone())
    );
    let creds = users
        .find_credentials(&sc(&acme), &ann.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.user, ann);
    assert_eq!(creds.password_hash, password_hash().as_str());

    let same_name = new_user(&acme, "ANN", "other@acme.com");
    let err = users
        .insert(&sc(&same_name.org_id), &same_name, password_hash())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::UsernameTaken), "{err:?}");
    let same_email = new_user(&acme, "ann2", "ann@acme.com");
    let err = users
        .insert(&sc(&same_email.org_id), &same_email, password_hash())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::EmailTaken), "{err:?}");

    // Another organization may reuse both.
    let globex = t.org("globex").await;
    let ann_elsewhere = new_user(&globex, "ann", "ann@acme.com");
    users
        .insert(&sc(&ann_elsewhere.org_id), &ann_elsewhere, password_hash())
        .await
        .unwrap();
    let both = users.find_credentials_by_email(&ann.email).await.unwrap();
    let mut expected = vec![acme.clone(), globex.clone()];
    expected.sort();
    assert_eq!(
        both.iter()
            .map(|c| c.user.org_id.clone())
            .collect::<Vec<_>>(),
        expected
    );
    let one = users
        .find_credentials_by_email(&ann.email)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.user.org_id == globex)
        .collect::<Vec<_>>();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].user.id, ann_elsewhere.id);

    // Updates hit the same indexes, and write nothing when they do.
    let bob = t.user(&acme, "bob").await;
    let later = ann.created_at + Duration::seconds(5);
    let err = users
        .update(
            &sc(&acme),
            &bob.id,
            UserPatch {
                email: Some(ann.email.clone()),
                role: Some(Role::Manager),
                ..UserPatch::default()
            },
            later,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::EmailTaken), "{err:?}");
    let err = users
        .update(
            &sc(&acme),
            &bob.id,
            UserPatch {
                username: Some(Username::parse("ann").unwrap()),
                ..UserPatch::default()
            },
            later,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::UsernameTaken), "{err:?}");
    assert_eq!(
        users.find(&sc(&acme), &bob.id).await.unwrap(),
        Some(bob.clone())
    );

    let new_hash = hash_password(&Password::parse("another long password").unwrap()).unwrap();
    let updated = users
        .update(
            &sc(&acme),
            &bob.id,
            UserPatch {
                role: Some(Role::Manager),
                is_active: Some(false),
                password_hash: Some(new_hash.clone()),
                ..UserPatch::default()
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(updated.role, Role::Manager);
    assert!(!updated.is_active);
    assert_eq!(updated.updated_at, later);
    let creds = users
        .find_credentials(&sc(&acme), &bob.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.user, updated);
    assert_eq!(creds.password_hash, new_hash.as_str());

    let managers = users
        .list(
            &sc(&acme),
            &UserFilter {
                role: Some(Role::Manager),
                ..UserFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(managers.total, 1);
    assert_eq!(managers.items, vec![updated]);
    let all = users
        .list(&sc(&acme), &UserFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(all.items[0].id, ann.id, "oldest first");
    assert_eq!(users.count_in_org(&sc(&acme)).await.unwrap(), 2);
    assert_eq!(t.orgs().stats(&acme).await.unwrap().total_users, 2);

    users
        .record_login(&sc(&acme), &ann.id, later)
        .await
        .unwrap();
    let ann_now = users.find(&sc(&acme), &ann.id).await.unwrap().unwrap();
    assert_eq!(ann_now.last_login_at, Some(later));
}

#[tokio::test]
async fn another_organization_never_reaches_a_user() {
    let t = TestDb::create().await;
    let users = t.users();
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    let ann = t.user(&acme, "ann").await;

    assert_eq!(users.find(&sc(&globex), &ann.id).await.unwrap(), None);
    assert!(
        users
            .find_credentials(&sc(&globex), &ann.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        users
            .find_credentials_by_email(&ann.email)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.user.org_id == globex)
            .collect::<Vec<_>>()
            .is_empty()
    );
    let err = users
        .update(&sc(&globex), &ann.id, UserPatch::default(), tenancy::now())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::NotFound), "{err:?}");
    users
        .record_login(&sc(&globex), &ann.id, tenancy::now())
        .await
        .unwrap();
    assert_eq!(users.find(&sc(&acme), &ann.id).await.unwrap(), Some(ann));
    let page = users
        .list(&sc(&globex), &UserFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (0, 0));
    assert_eq!(users.count_in_org(&sc(&globex)).await.unwrap(), 0);
}

#[tokio::test]
async fn a_session_rotates_once_and_the_second_rotation_is_reuse() {
    let t = TestDb::create().await;
    let sessions = t.sessions();
    let acme = t.org("acme").await;
    let ann = t.user(&acme, "ann").await;
    let first = session_of(&ann);
    sessions.insert(&sc(&first.org_id), &first).await.unwrap();
    assert_eq!(
        sessions
            .find_by_token_hash(&first.token_hash)
            .await
            .unwrap(),
        Some(first.clone())
    );

    let now = tenancy::now();
    let second = first.successor(&ann, &RefreshToken::generate(), now);
    // Another organization cannot rotate it.
    let globex = t.org("globex").await;
    let err = sessions
        .rotate(&sc(&globex), &first.id, &second, now)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::TokenReused), "{err:?}");

    sessions
        .rotate(&sc(&acme), &first.id, &second, now)
        .await
        .unwrap();
    let old = sessions
        .find_by_token_hash(&first.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.rotated_at, Some(now));
    assert_eq!(
        sessions
            .find_by_token_hash(&second.token_hash)
            .await
            .unwrap(),
        Some(second.clone())
    );

    let third = first.successor(&ann, &RefreshToken::generate(), now);
    let err = sessions
        .rotate(&sc(&acme), &first.id, &third, now)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::TokenReused), "{err:?}");
    assert_eq!(
        sessions
            .find_by_token_hash(&third.token_hash)
            .await
            .unwrap(),
        None,
        "nothing is written on reuse"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_rotations_exactly_one_succeeds() {
    let t = TestDb::create().await;
    let sessions = Arc::new(t.sessions());
    let acme = t.org("acme").await;
    let ann = t.user(&acme, "ann").await;
    let first = session_of(&ann);
    sessions.insert(&sc(&first.org_id), &first).await.unwrap();

    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (sessions, acme, first, ann) =
                (sessions.clone(), acme.clone(), first.clone(), ann.clone());
            tokio::spawn(async move {
                let now = tenancy::now();
                let next = first.successor(&ann, &RefreshToken::generate(), now);
                sessions.rotate(&sc(&acme), &first.id, &next, now).await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(AuthError::TokenReused) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(t.count("refresh_sessions", &acme).await, 2);
}

#[tokio::test]
async fn revoking_a_family_or_a_user_revokes_only_those_sessions() {
    let t = TestDb::create().await;
    let sessions = t.sessions();
    let acme = t.org("acme").await;
    let ann = t.user(&acme, "ann").await;
    let bob = t.user(&acme, "bob").await;

    let laptop = session_of(&ann);
    sessions.insert(&sc(&laptop.org_id), &laptop).await.unwrap();
    let now = tenancy::now();
    let laptop2 = laptop.successor(&ann, &RefreshToken::generate(), now);
    sessions
        .rotate(&sc(&acme), &laptop.id, &laptop2, now)
        .await
        .unwrap();
    let phone = session_of(&ann);
    sessions.insert(&sc(&phone.org_id), &phone).await.unwrap();
    let bobs = session_of(&bob);
    sessions.insert(&sc(&bobs.org_id), &bobs).await.unwrap();

    let revoked_at = now + Duration::seconds(1);
    // Scoped by organization: another one revokes nothing.
    let globex = t.org("globex").await;
    sessions
        .revoke_family(&sc(&globex), &laptop.family_id, revoked_at)
        .await
        .unwrap();
    let state = |s: &Session| revoked_at_of(&sessions, s.token_hash.clone());
    assert_eq!(state(&laptop).await, None);

    sessions
        .revoke_family(&sc(&acme), &laptop.family_id, revoked_at)
        .await
        .unwrap();
    assert_eq!(state(&laptop).await, Some(revoked_at));
    assert_eq!(state(&laptop2).await, Some(revoked_at));
    assert_eq!(state(&phone).await, None);

    // Already revoked sessions keep their time.
    let later = revoked_at + Duration::seconds(1);
    sessions
        .revoke_all_for_user(&sc(&acme), &ann.id, later)
        .await
        .unwrap();
    assert_eq!(state(&laptop2).await, Some(revoked_at));
    assert_eq!(state(&phone).await, Some(later));
    assert_eq!(state(&bobs).await, None);
}

#[tokio::test]
async fn a_user_is_read_with_whether_its_sign_in_is_still_live() {
    let t = TestDb::create().await;
    let (users, sessions) = (t.users(), t.sessions());
    let acme = t.org("acme").await;
    let ann = t.user(&acme, "ann").await;
    let bob = t.user(&acme, "bob").await;
    let laptop = session_of(&ann);
    sessions.insert(&sc(&acme), &laptop).await.unwrap();
    let phone = session_of(&ann);
    sessions.insert(&sc(&acme), &phone).await.unwrap();
    let live = |user: &User, family: &auth::SessionFamilyId, org: &OrgId| {
        let (users, user, family, org) = (&users, user.id.clone(), family.clone(), org.clone());
        async move {
            users
                .find_with_session(&sc(&org), &user, &family)
                .await
                .unwrap()
                .map(|(found, live)| (found.id, live))
        }
    };
    assert_eq!(
        live(&ann, &laptop.family_id, &acme).await,
        Some((ann.id.clone(), true))
    );

    // Rotated, not revoked: still live.
    let now = tenancy::now();
    let next = laptop.successor(&ann, &RefreshToken::generate(), now);
    sessions
        .rotate(&sc(&acme), &laptop.id, &next, now)
        .await
        .unwrap();
    assert_eq!(
        live(&ann, &laptop.family_id, &acme).await,
        Some((ann.id.clone(), true))
    );
    // Another user's family, an unknown one, another organization: not hers.
    assert_eq!(
        live(&bob, &laptop.family_id, &acme).await,
        Some((bob.id.clone(), false))
    );
    assert_eq!(
        live(&ann, &auth::SessionFamilyId::generate(), &acme).await,
        Some((ann.id.clone(), false))
    );
    let globex = t.org("globex").await;
    assert_eq!(live(&ann, &laptop.family_id, &globex).await, None);

    // Revoked: the family ends, the other sign-in goes on until the user's end.
    sessions
        .revoke_family(&sc(&acme), &laptop.family_id, now)
        .await
        .unwrap();
    assert_eq!(
        live(&ann, &laptop.family_id, &acme).await,
        Some((ann.id.clone(), false))
    );
    assert_eq!(
        live(&ann, &phone.family_id, &acme).await,
        Some((ann.id.clone(), true))
    );
    sessions
        .revoke_all_for_user(&sc(&acme), &ann.id, now)
        .await
        .unwrap();
    assert_eq!(
        live(&ann, &phone.family_id, &acme).await,
        Some((ann.id.clone(), false))
    );
}

#[tokio::test]
async fn api_keys_are_found_by_prefix_revoked_and_rotated() {
    let t = TestDb::create().await;
    let keys = t.keys();
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    let (zapier, zapier_hash) = t.key(&acme, "zapier").await;
    let (crm, _) = t.key(&acme, "crm").await;

    assert_eq!(
        keys.find_by_prefix(&zapier.prefix).await.unwrap(),
        Some((zapier.clone(), zapier_hash))
    );
    assert_eq!(
        keys.find(&sc(&acme), &zapier.id).await.unwrap(),
        Some(zapier.clone())
    );
    assert_eq!(keys.find(&sc(&globex), &zapier.id).await.unwrap(), None);
    let page = keys.list(&sc(&acme), PageRequest::default()).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items, vec![zapier.clone(), crm.clone()]);
    assert_eq!(
        keys.list(&sc(&globex), PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );

    let used = tenancy::now();
    keys.touch_last_used(&sc(&acme), &crm.id, used)
        .await
        .unwrap();
    assert_eq!(
        keys.find(&sc(&acme), &crm.id)
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(used)
    );

    // Rotation: the new prefix is found, the old one is gone.
    let next = ApiKeySecret::generate();
    let rotated = keys
        .rotate(
            &sc(&acme),
            &crm.id,
            &crm.prefix,
            &next.prefix,
            &next.hash,
            tenancy::now(),
        )
        .await
        .unwrap();
    assert_eq!(rotated.prefix, next.prefix);
    // A rotation from the prefix read before that one changes nothing.
    let late = ApiKeySecret::generate();
    let err = keys
        .rotate(
            &sc(&acme),
            &crm.id,
            &crm.prefix,
            &late.prefix,
            &late.hash,
            tenancy::now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::KeyRotatedConcurrently), "{err:?}");
    assert_eq!(rotated.last_used_at, None);
    assert_eq!(keys.find_by_prefix(&crm.prefix).await.unwrap(), None);
    assert_eq!(
        keys.find_by_prefix(&next.prefix).await.unwrap(),
        Some((rotated.clone(), next.hash.clone()))
    );
    let err = keys
        .rotate(
            &sc(&globex),
            &crm.id,
            &next.prefix,
            "zzzzzzzz",
            "h",
            tenancy::now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::NotFound), "{err:?}");

    // Revocation: only in its organization, once.
    let err = keys
        .revoke(&sc(&globex), &zapier.id, tenancy::now())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::NotFound), "{err:?}");
    let first = tenancy::now();
    let revoked = keys.revoke(&sc(&acme), &zapier.id, first).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(first));
    let again = keys
        .revoke(&sc(&acme), &zapier.id, first + Duration::seconds(9))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(first));
    assert_eq!(
        keys.find(&sc(&acme), &zapier.id).await.unwrap(),
        Some(revoked)
    );
    let fresh = ApiKeySecret::generate();
    let err = keys
        .rotate(
            &sc(&acme),
            &zapier.id,
            &zapier.prefix,
            &fresh.prefix,
            &fresh.hash,
            tenancy::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::NotFound),
        "a revoked key is not rotated"
    );
    let err = keys
        .revoke(&sc(&acme), &ApiKeyId::generate(), tenancy::now())
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::NotFound), "{err:?}");
}

#[tokio::test]
async fn deleting_an_organization_deletes_its_users_sessions_and_keys() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    for org in [&acme, &globex] {
        let ann = t.user(org, "ann").await;
        t.sessions()
            .insert(&sc(&ann.org_id), &session_of(&ann))
            .await
            .unwrap();
        t.key(org, "zapier").await;
    }
    for table in ["users", "refresh_sessions", "api_keys"] {
        assert_eq!(t.count(table, &acme).await, 1, "{table}");
    }

    assert!(t.orgs().delete(&acme).await.unwrap());

    for table in ["users", "refresh_sessions", "api_keys"] {
        assert_eq!(t.count(table, &acme).await, 0, "{table} of the deleted org");
        assert_eq!(t.count(table, &globex).await, 1, "{table} of another org");
    }
}

#[tokio::test]
async fn a_session_cannot_name_a_user_of_another_organization() {
    let t = TestDb::create().await;
    let acme = t.org("acme").await;
    let globex = t.org("globex").await;
    let ann = t.user(&acme, "ann").await;

    let mut forged = session_of(&ann);
    forged.org_id = globex.clone();
    let err = t
        .sessions()
        .insert(&sc(&forged.org_id), &forged)
        .await
        .unwrap_err();
    let cause = format!("{:?}", std::error::Error::source(&err)).to_lowercase();
    assert!(cause.contains("foreign key"), "{cause}");
    assert_eq!(t.count("refresh_sessions", &globex).await, 0);
    assert_eq!(t.count("refresh_sessions", &acme).await, 0);
}
