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
        other if is_deadlock(&other) => StorageError::Contended(Box::new(other)),
        other => StorageError::Other(Box::new(other)),
    }
}

/// What failed, and why: the operation travels with the database error, so
/// that a log line says which step of a use case broke.
#[derive(Debug, thiserror::Error)]
#[error("{op} failed")]
pub(crate) struct OperationFailed {
    op: &'static str,
    #[source]
    source: DbErr,
}

/// [`storage`], naming the operation that failed.
pub(crate) fn failed(op: &'static str) -> impl Fn(DbErr) -> StorageError {
    move |err| match storage(err) {
        StorageError::Unavailable(e) => StorageError::Unavailable(wrap(op, e)),
        StorageError::Contended(e) => StorageError::Contended(wrap(op, e)),
        StorageError::Other(e) => StorageError::Other(wrap(op, e)),
    }
}

fn wrap(
    op: &'static str,
    err: Box<dyn std::error::Error + Send + Sync>,
) -> Box<dyn std::error::Error + Send + Sync> {
    match err.downcast::<DbErr>() {
        Ok(source) => Box::new(OperationFailed {
            op,
            source: *source,
        }),
        Err(other) => other,
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

/// Whether PostgreSQL ended the transaction to break a deadlock (`40P01`):
/// two transactions locked rows of agents in different orders, and running
/// the victim again succeeds.
fn is_deadlock(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| code == "40P01"),
        _ => false,
    }
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
