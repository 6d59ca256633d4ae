//! The `lead-routing` command line.

use std::io::BufRead;

use auth::{Password, User, UserRepository, Username, hash_password};
use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use storage::{Database, SeaOrmUserRepository};
use tenancy::{Email, OrgId, Role};

use crate::{config::Settings, startup::Application};

/// Lead Routing: a multi-tenant lead-routing server.
///
/// Configuration comes from the environment (HOST, PORT, DATABASE_URL,
/// APP_ENV, RUST_LOG...; see the README). Without a command, `serve` runs.
#[derive(Debug, Parser)]
#[command(name = "lead-routing", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve the HTTP API until SIGINT/SIGTERM.
    Serve,
    /// Manage the database schema of DATABASE_URL.
    Migrate {
        /// The migration action.
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Manage platform super admins (users of the default organization).
    Admin {
        /// The admin action.
        #[command(subcommand)]
        action: AdminAction,
    },
}

/// What `admin` does.
#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Create a super admin. The password is read from standard input
    /// (`--password-stdin`) or from LEAD_ROUTING_ADMIN_PASSWORD, never from an argument.
    ///
    /// Example: `printf '%s' "$PASS" | lead-routing admin create --email ops@example.com --username ops --password-stdin`
    Create {
        /// The admin's e-mail (sign-in name).
        #[arg(long)]
        email: String,
        /// The admin's username.
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// What `migrate` does.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the most recent migrations.
    Down {
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Runs the command line.
///
/// # Errors
/// Anything that stops the command, as a message for the operator.
pub async fn run(cli: Cli, settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            if settings.jwt_secret.was_generated() {
                tracing::warn!(
                    "JWT_SECRET is not set: using a random secret for this process; \
                     access tokens stop working when it restarts"
                );
            }
            let app = Application::build(&settings).await?;
            tracing::info!(
                host = %settings.host,
                port = app.port(),
                env = ?settings.env,
                "lead-routing listening on http://{}:{}",
                settings.host,
                app.port()
            );
            app.run_until_stopped().await?;
            tracing::info!("lead-routing stopped");
        }
        Command::Admin {
            action:
                AdminAction::Create {
                    email,
                    username,
                    password_stdin,
                },
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                std::env::var("LEAD_ROUTING_ADMIN_PASSWORD").map_err(
                    |_| "no password: pass --password-stdin or set LEAD_ROUTING_ADMIN_PASSWORD",
                )?
            };
            let email = Email::parse(&email).map_err(|e| format!("--email: {e}"))?;
            let username = Username::parse(&username).map_err(|e| format!("--username: {e}"))?;
            let password = Password::parse(&password).map_err(|e| format!("password: {e}"))?;
            let db = Database::connect(&settings.database).await?;
            db.migrate().await?;
            let user = User::new(
                OrgId::default_org(),
                username,
                email,
                Role::SuperAdmin,
                tenancy::now(),
            );
            let hash = hash_password(&password)?;
            SeaOrmUserRepository::new(db)
                .insert(&user, &hash)
                .await
                .map_err(|e| format!("cannot create the admin: {e}"))?;
            println!(
                "Created super admin {} ({}) in {}.",
                user.username, user.id, user.org_id
            );
            println!(
                "Sign in: POST /auth/login {{\"email\": \"{}\", \"password\": ...}}",
                user.email
            );
        }
        Command::Migrate { action } => {
            let db = Database::connect(&settings.database).await?;
            let conn = db.connection();
            match action {
                MigrateAction::Up => {
                    Migrator::up(conn, None).await?;
                    println!("All migrations applied.");
                }
                MigrateAction::Down { steps } => {
                    Migrator::down(conn, Some(steps)).await?;
                    println!("Reverted {steps} migration(s).");
                }
                MigrateAction::Status => {
                    for m in Migrator::get_migration_with_status(conn).await? {
                        println!("{:<10} {}", m.status().to_string(), m.name());
                    }
                }
            }
        }
    }
    Ok(())
}
