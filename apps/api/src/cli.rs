//! The `lead-routing` command line.

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use storage::Database;

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
