//! Logging: human-readable in development, JSON in production.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{AppEnv, ConfigError};

/// Installs the global subscriber. `RUST_LOG` selects what is logged
/// (default `info`, with the SQL drivers at `warn`).
///
/// # Errors
/// `RUST_LOG` when it cannot be parsed.
pub fn init(env: AppEnv) -> Result<(), ConfigError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => {
            EnvFilter::try_new(&value).map_err(|e| ConfigError {
                var: "RUST_LOG",
                reason: format!("`{value}` is not a valid filter: {e}"),
            })?
        }
        _ => EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"),
    };
    let registry = tracing_subscriber::registry().with(filter);
    // A second initialisation (tests) is harmless; ignore it.
    let _ = match env {
        AppEnv::Production => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init(),
        AppEnv::Development => registry.with(fmt::layer()).try_init(),
    };
    Ok(())
}
