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

/// Whether the error violates the unique index `index` over `columns` of
/// `table`.
///
/// The engines report it differently: PostgreSQL names the index
/// (`duplicate key value violates unique constraint "uq_users_org_email"`),
/// SQLite lists its columns (`UNIQUE constraint failed: users.org_id,
/// users.email`). Both are checked, so callers can tell which of several
/// unique indexes a write hit.
pub(crate) fn violates_unique(err: &DbErr, index: &str, table: &str, columns: &[&str]) -> bool {
    let Some(SqlErr::UniqueConstraintViolation(message)) = err.sql_err() else {
        return false;
    };
    let sqlite_columns = columns
        .iter()
        .map(|c| format!("{table}.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    message.contains(&format!("\"{index}\""))
        || message.strip_prefix("UNIQUE constraint failed: ") == Some(sqlite_columns.as_str())
}
