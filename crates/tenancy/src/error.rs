//! The storage failure every repository port may return.

/// A failure of the storage behind a repository, which no caller can fix by
/// changing its request.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached (connection refused, pool exhausted, timed
    /// out). The API answers 503: retrying later may succeed.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A concurrent transaction wrote what this one had found absent (a new
    /// lead's `externalId`), so nothing of this one was written. Running it
    /// again sees the other write; the API answers 503 when it still fails.
    #[error("a concurrent write got there first")]
    Contended(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else (a bug, a broken invariant, corrupt data). The API answers
    /// 500 and logs the cause.
    #[error("storage failure")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}
