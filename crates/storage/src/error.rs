//! Translating sea-orm errors into the domain's vocabulary.

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use tenancy::StorageError;

/// A database error as the domain sees it: unreachable (503) or anything else (500).
pub(crate) fn storage(err: DbErr) -> StorageError {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(RuntimeErr::SqlxError(_)) => {
            StorageError::Unavailable(Box::new(err))
        }
        DbErr::Conn(_) => StorageError::Unavailable(Box::new(err)),
        other if is_io_error(&other) => StorageError::Unavailable(Box::new(other)),
        other => StorageError::Other(Box::new(other)),
    }
}

/// A row that cannot be mapped to a valid domain value: the database holds
/// something the domain rules never allowed.
pub(crate) fn corrupt(what: impl Into<String>) -> StorageError {
    StorageError::Other(what.into().into())
}

/// Whether the error is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn is_io_error(err: &DbErr) -> bool {
    let text = err.to_string();
    text.contains("error communicating with database") || text.contains("pool timed out")
}
