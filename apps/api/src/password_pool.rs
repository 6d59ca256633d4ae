//! Password hashing off the HTTP workers.
//!
//! argon2id is slow on purpose (tens of milliseconds of CPU and 19 MiB per
//! call). Run on an actix worker, a burst of sign-ins would stall every
//! tenant's requests on that worker. [`BlockingHasher`] runs each hash or
//! verification on tokio's blocking pool, at most `permits` at once: a burst
//! waits its turn in a queue instead of taking every core (or every thread
//! of the blocking pool), and the workers stay free to answer.

use std::sync::Arc;

use async_trait::async_trait;
use auth::{CryptoError, Password, PasswordHash, PasswordHasher};
use tokio::sync::Semaphore;

/// The server's [`PasswordHasher`]: argon2 on blocking threads, bounded.
#[derive(Clone, Debug)]
pub struct BlockingHasher {
    permits: Arc<Semaphore>,
}

impl BlockingHasher {
    /// At most `permits` hashes or verifications at once (at least one).
    pub fn new(permits: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits.max(1))),
        }
    }

    /// As many at once as this machine has cores.
    pub fn for_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, usize::from))
    }

    /// Runs `work` on a blocking thread once a permit is free; `None` when
    /// it could not run (the runtime is shutting down, or it panicked).
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let _permit = self.permits.clone().acquire_owned().await.ok()?;
        tokio::task::spawn_blocking(work).await.ok()
    }
}

#[async_trait]
impl PasswordHasher for BlockingHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, CryptoError> {
        let password = password.clone();
        self.run(move || auth::hash_password(&password))
            .await
            .unwrap_or_else(|| Err(CryptoError("password hashing could not run".into())))
    }

    async fn verify(&self, candidate: &str, phc: &str) -> bool {
        let (candidate, phc) = (candidate.to_owned(), phc.to_owned());
        self.run(move || auth::verify_password(&candidate, &phc))
            .await
            .unwrap_or(false)
    }

    async fn verify_dummy(&self, candidate: &str) {
        let candidate = candidate.to_owned();
        self.run(move || auth::verify_against_dummy(&candidate))
            .await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn hashes_and_verifies_off_the_calling_thread_one_at_a_time() {
        let hasher = BlockingHasher::new(1);
        let password = Password::parse("correct horse battery").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        // Several at once through one permit: each waits its turn, all finish.
        let checks = futures::future::join_all([
            hasher.verify("correct horse battery", hash.as_str()),
            hasher.verify("wrong horse battery", hash.as_str()),
            hasher.verify("correct horse battery", "not a phc string"),
        ])
        .await;
        assert_eq!(checks, [true, false, false]);
        hasher.verify_dummy("anything").await;
    }
}
