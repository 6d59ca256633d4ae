//! Password hashing: argon2id with the `argon2` crate's default parameters,
//! stored as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//!
//! The PHC string records its own parameters, so hashes made with older
//! parameters keep verifying after the defaults change.
//!
//! Hashing is deliberately slow (tens of milliseconds, 19 MiB of memory):
//! that is what makes a stolen hash expensive to crack. The services never
//! call the free functions here directly: they go through the
//! [`PasswordHasher`] port, so that a server can run the work off its
//! request threads (the API's implementation uses a bounded blocking pool),
//! while tests and embedders use the synchronous [`Argon2Hasher`].

use std::{fmt, sync::OnceLock};

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier};
use async_trait::async_trait;

use crate::{CryptoError, Password};

/// An argon2id hash of a password, in PHC string format. Safe to store; never
/// sent to a client.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The PHC string, for storage.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not the password, but it is offline-crackable material.
        f.write_str("PasswordHash(***)")
    }
}

/// Hashes a new password with argon2id, the crate's default parameters and a
/// fresh random salt.
///
/// # Errors
/// [`CryptoError`] when the random generator or argon2 fails (not expected).
pub fn hash_password(password: &Password) -> Result<PasswordHash, CryptoError> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|phc| PasswordHash(phc.to_string()))
        .map_err(|e| CryptoError(format!("argon2 hashing failed: {e}")))
}

/// Whether `candidate` is the password `phc` was made from. A malformed or
/// unsupported `phc` never matches.
pub fn verify_password(candidate: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(candidate.as_bytes(), phc)
        .is_ok()
}

/// Runs a full verification of `candidate` against a fixed hash and discards
/// the result, so that a login for an unknown e-mail costs the same time as
/// one with a wrong password and response times reveal no registered address.
pub fn verify_against_dummy(candidate: &str) {
    let _ = verify_password(candidate, dummy_hash());
}

/// Where passwords are hashed and verified: the slow, CPU-bound part of
/// sign-in. Held as `Arc<dyn PasswordHasher>` by the services.
///
/// An implementation decides where the work runs. [`Argon2Hasher`] runs it
/// on the calling thread; a server should run it on threads of its own so
/// that a burst of sign-ins does not stall every other request.
#[async_trait]
pub trait PasswordHasher: Send + Sync + fmt::Debug {
    /// Hashes a new password ([`hash_password`]).
    ///
    /// # Errors
    /// [`CryptoError`] when argon2 or the random generator fails, or the
    /// work could not be scheduled.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, CryptoError>;

    /// Whether `candidate` is the password `phc` was made from
    /// ([`verify_password`]). A malformed hash, or work that could not be
    /// scheduled, never matches.
    async fn verify(&self, candidate: &str, phc: &str) -> bool;

    /// A full verification against a fixed hash, result discarded
    /// ([`verify_against_dummy`]): the cost of a wrong password for an
    /// address nobody has.
    async fn verify_dummy(&self, candidate: &str);
}

/// [`PasswordHasher`] on the calling thread: for tests, the command line and
/// embedding in a program that has no request threads to protect.
#[derive(Clone, Copy, Debug, Default)]
pub struct Argon2Hasher;

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, CryptoError> {
        hash_password(password)
    }

    async fn verify(&self, candidate: &str, phc: &str) -> bool {
        verify_password(candidate, phc)
    }

    async fn verify_dummy(&self, candidate: &str) {
        verify_against_dummy(candidate);
    }
}

/// A hash with the current default parameters, computed once per process.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        // A fixed salt is fine: nothing is protected by this hash.
        Argon2::default()
            .hash_password_with_salt(b"lead-routing dummy password", b"lead-routing-dummy")
            .map(|phc| phc.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let password = Password::parse("correct horse battery").unwrap();
        let hash = hash_password(&password).unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery", hash.as_str()));
        assert!(!verify_password("correct horse battery!", hash.as_str()));
        assert_eq!(format!("{hash:?}"), "PasswordHash(***)");
    }

    #[test]
    fn a_malformed_hash_never_matches() {
        assert!(!verify_password("anything", "not a phc string"));
        assert!(!verify_password("", ""));
    }

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash() {
        assert!(dummy_hash().starts_with("$argon2id$"));
        verify_against_dummy("whatever");
    }
}
