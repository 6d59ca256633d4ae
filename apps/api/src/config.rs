//! Typed configuration, read once from the environment in `main`.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `HOST` | `127.0.0.1` | address to listen on |
//! | `PORT` | `3000` | port to listen on (0 = any free port) |
//! | `DATABASE_URL` | `sqlite://./data/lead-routing.db` | `sqlite://...` or `postgres://...` |
//! | `DATABASE_MIGRATION_URL` | none (`DATABASE_URL` migrates) | PostgreSQL: the tables' owner, who migrates and grants `DATABASE_URL`'s role row access (row-level security then binds the server) |
//! | `DATABASE_MAX_CONNECTIONS` | `10` | connection pool size |
//! | `APP_ENV` | `development` | `development` or `production` |
//! | `WORKERS` | number of cores | HTTP worker threads |
//! | `RUST_LOG` | `info` | log filter (`tracing_subscriber::EnvFilter` syntax) |
//! | `CORS_ORIGINS` | none (CORS closed) | comma-separated origins allowed to call the API from a browser |
//! | `REQUEST_TIMEOUT_SECS` | `30` | a request still running after this answers 503 |
//! | `JWT_SECRET` | random per process in development | HS256 signing secret; required (at least 32 bytes) in production |
//! | `TRUSTED_PROXIES` | none | comma-separated addresses or CIDR ranges of reverse proxies whose `X-Forwarded-*` headers are believed |
//! | `WEBHOOK_ALLOW_PRIVATE` | `false` (`true` in development) | webhook endpoints may be loopback, private or link-local addresses |
//! | `WEBHOOK_TIMEOUT_SECS` | `10` | one delivery attempt's limit (a delivery is leased for this plus 5 s) |
//! | `WEBHOOK_RETRY_BASE_MS` | `15000` | the first retry's wait; each next one doubles, up to an hour |
//! | `WEBHOOK_SENDER` | `on` | `off`: this instance sends no webhook (another one does) |

use std::{fmt, str::FromStr};

use auth::JwtSecret;
use storage::{DatabaseSettings, Engine};

/// The default database: a SQLite file beside the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/lead-routing.db";

/// Where the server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    /// Local development: the development API key works, logs are human-readable.
    Development,
    /// Production: no development key, JSON logs.
    Production,
}

impl FromStr for AppEnv {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "development" => Ok(AppEnv::Development),
            "production" => Ok(AppEnv::Production),
            other => Err(format!("`{other}` is not `development` or `production`")),
        }
    }
}

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free one (tests).
    pub port: u16,
    /// The database.
    pub database: DatabaseSettings,
    /// Development or production.
    pub env: AppEnv,
    /// HTTP worker threads; `None` = one per core.
    pub workers: Option<usize>,
    /// The secret access tokens are signed with.
    pub jwt_secret: JwtSecret,
    /// Browser origins allowed by CORS; empty = CORS closed.
    pub cors_origins: Vec<String>,
    /// How long a request may run.
    pub request_timeout: std::time::Duration,
    /// Webhook delivery.
    pub webhooks: WebhookSettings,
    /// Reverse proxies whose forwarding headers are believed.
    pub trusted_proxies: crate::proxy::TrustedProxies,
}

/// How webhooks are delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Loopback, private and link-local endpoints allowed.
    pub allow_private: bool,
    /// Plain `http://` endpoints allowed (development only).
    pub allow_http: bool,
    /// One attempt's limit.
    pub timeout: std::time::Duration,
    /// The first retry's wait.
    pub retry_base: std::time::Duration,
    /// Whether this instance runs a sender.
    pub sender: bool,
}

/// A configuration variable with an unusable value.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name.
    pub var: &'static str,
    /// Why its value cannot be used.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.reason)
    }
}

impl std::error::Error for ConfigError {}

impl Settings {
    /// Reads the settings from the process environment.
    ///
    /// # Errors
    /// The first variable whose value is unusable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// The first variable whose value is unusable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &'static str| lookup(var).filter(|v| !v.trim().is_empty());
        let host = get("HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
        let port = parse_or(
            get("PORT"),
            "PORT",
            3000u16,
            "is not a port number (0-65535)",
        )?;
        let explicit_database = get("DATABASE_URL");
        let database_url = explicit_database
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if Engine::from_url(&database_url).is_none() {
            return Err(ConfigError {
                var: "DATABASE_URL",
                reason: "must start with sqlite:// or postgres://".into(),
            });
        }
        let max_connections = parse_or(
            get("DATABASE_MAX_CONNECTIONS"),
            "DATABASE_MAX_CONNECTIONS",
            10u32,
            "is not a positive integer",
        )?;
        if max_connections == 0 {
            return Err(ConfigError {
                var: "DATABASE_MAX_CONNECTIONS",
                reason: "must be at least 1".into(),
            });
        }
        let env = match get("APP_ENV") {
            None => AppEnv::Development,
            Some(v) => v.parse().map_err(|reason| ConfigError {
                var: "APP_ENV",
                reason,
            })?,
        };
        let workers = match get("WORKERS") {
            None => None,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=1024).contains(&n) => Some(n),
                _ => {
                    return Err(ConfigError {
                        var: "WORKERS",
                        reason: format!("`{v}` is not an integer between 1 and 1024"),
                    });
                }
            },
        };
        // A production server silently serving a fresh embedded database
        // would look healthy while every tenant's data is elsewhere.
        if env == AppEnv::Production && explicit_database.is_none() {
            return Err(ConfigError {
                var: "DATABASE_URL",
                reason: "must be set in production (the embedded default is for development)"
                    .into(),
            });
        }
        let jwt_secret = JwtSecret::from_env_value(lookup("JWT_SECRET"), env == AppEnv::Production)
            .map_err(|e| ConfigError {
                var: "JWT_SECRET",
                reason: e.to_string().trim_start_matches("JWT_SECRET ").to_owned(),
            })?;
        let cors_origins: Vec<String> = get("CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(bad) = cors_origins
            .iter()
            .find(|o| !(o.starts_with("http://") || o.starts_with("https://")) || o.contains('*'))
        {
            return Err(ConfigError {
                var: "CORS_ORIGINS",
                reason: format!("`{bad}` is not an origin like https://app.example.com"),
            });
        }
        let timeout_secs = parse_or(
            get("REQUEST_TIMEOUT_SECS"),
            "REQUEST_TIMEOUT_SECS",
            30u64,
            "is not a number of seconds",
        )?;
        if !(1..=3600).contains(&timeout_secs) {
            return Err(ConfigError {
                var: "REQUEST_TIMEOUT_SECS",
                reason: "must be between 1 and 3600".into(),
            });
        }
        let flag = |var: &'static str, default: bool| match get(var).as_deref() {
            None => Ok(default),
            Some("true" | "on" | "1") => Ok(true),
            Some("false" | "off" | "0") => Ok(false),
            Some(other) => Err(ConfigError {
                var,
                reason: format!("`{other}` is not true or false"),
            }),
        };
        let development = env == AppEnv::Development;
        let webhook_timeout = parse_or(
            get("WEBHOOK_TIMEOUT_SECS"),
            "WEBHOOK_TIMEOUT_SECS",
            10u64,
            "is not a number of seconds",
        )?;
        let retry_base = parse_or(
            get("WEBHOOK_RETRY_BASE_MS"),
            "WEBHOOK_RETRY_BASE_MS",
            15_000u64,
            "is not a number of milliseconds",
        )?;
        if !(1..=60).contains(&webhook_timeout) || !(100..=3_600_000).contains(&retry_base) {
            return Err(ConfigError {
                var: if (1..=60).contains(&webhook_timeout) {
                    "WEBHOOK_RETRY_BASE_MS"
                } else {
                    "WEBHOOK_TIMEOUT_SECS"
                },
                reason: "out of range (timeout 1-60 s, retry base 100 ms - 1 h)".into(),
            });
        }
        let webhooks = WebhookSettings {
            allow_private: flag("WEBHOOK_ALLOW_PRIVATE", development)?,
            allow_http: development,
            timeout: std::time::Duration::from_secs(webhook_timeout),
            retry_base: std::time::Duration::from_millis(retry_base),
            sender: flag("WEBHOOK_SENDER", true)?,
        };
        let trusted_proxies =
            crate::proxy::TrustedProxies::parse(&get("TRUSTED_PROXIES").unwrap_or_default())
                .map_err(|reason| ConfigError {
                    var: "TRUSTED_PROXIES",
                    reason,
                })?;
        let migration_url = get("DATABASE_MIGRATION_URL");
        if let Some(url) = &migration_url
            && Engine::from_url(url) != Engine::from_url(&database_url)
        {
            return Err(ConfigError {
                var: "DATABASE_MIGRATION_URL",
                reason: "must name the same engine as DATABASE_URL".into(),
            });
        }
        let mut database = DatabaseSettings::new(database_url);
        database.max_connections = max_connections;
        database.migration_url = migration_url;
        Ok(Self {
            host,
            port,
            database,
            env,
            workers,
            jwt_secret,
            cors_origins,
            request_timeout: std::time::Duration::from_secs(timeout_secs),
            webhooks,
            trusted_proxies,
        })
    }

    /// Whether the development conveniences (the `dev_key_123` key) are on.
    pub fn is_development(&self) -> bool {
        self.env == AppEnv::Development
    }
}

fn parse_or<T: FromStr>(
    value: Option<String>,
    var: &'static str,
    default: T,
    reason: &str,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError {
            var,
            reason: format!("`{v}` {reason}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_development_on_local_sqlite_port_3000() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.env),
            ("127.0.0.1", 3000, AppEnv::Development)
        );
        assert_eq!(s.database.url, DEFAULT_DATABASE_URL);
        assert!(s.is_development());
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (var, value) in [
            ("PORT", "http"),
            ("PORT", "70000"),
            ("APP_ENV", "staging"),
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("WORKERS", "many"),
            ("CORS_ORIGINS", "*"),
            ("CORS_ORIGINS", "app.example.com"),
            ("REQUEST_TIMEOUT_SECS", "0"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn production_requires_an_explicit_database() {
        let secret = "s".repeat(32);
        let err = settings(&[("APP_ENV", "production"), ("JWT_SECRET", &secret)]).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
        let explicit = settings(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", &secret),
            ("DATABASE_URL", DEFAULT_DATABASE_URL),
        ]);
        assert!(explicit.is_ok());
    }

    #[test]
    fn production_requires_a_long_jwt_secret() {
        let db = ("DATABASE_URL", "sqlite://./prod.db");
        let err = settings(&[("APP_ENV", "production"), db]).unwrap_err();
        assert_eq!(err.var, "JWT_SECRET");
        let err = settings(&[("APP_ENV", "production"), ("JWT_SECRET", "short"), db]).unwrap_err();
        assert_eq!(err.var, "JWT_SECRET");
        let dev = settings(&[]).unwrap();
        assert!(dev.jwt_secret.was_generated());
    }

    #[test]
    fn production_is_recognised() {
        let secret = "s".repeat(32);
        let s = settings(&[
            ("APP_ENV", "production"),
            ("PORT", "8080"),
            ("JWT_SECRET", &secret),
            ("DATABASE_URL", "postgres://lr@db/lead_routing"),
        ])
        .unwrap();
        assert_eq!((s.env, s.port), (AppEnv::Production, 8080));
        assert!(!s.is_development());
    }
}
