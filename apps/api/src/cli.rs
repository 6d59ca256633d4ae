//! The `lead-routing` command line.

use std::{error::Error, io::BufRead};

use auth::{ApiKeyName, AuthError, CreateUser, NewApiKey, Password, Username};
use clap::{Args, Parser, Subcommand, ValueEnum};
use migration::{Migrator, MigratorTrait};
use organization::{
    DisplayName, NewOrganization, OrgName, OrganizationError, Settings as OrgSettings, Tier,
};
use storage::Database;
use tenancy::{Actor, Email, OrgId, Role, ValidationErrors};

use crate::{
    config::Settings,
    seed::{self, DemoOptions},
    services::Services,
    startup::Application,
};

/// Lead Routing: a multi-tenant lead-routing server.
///
/// Configuration comes from the environment (HOST, PORT, DATABASE_URL,
/// APP_ENV, RUST_LOG...; see the README). Without a command, `serve` runs.
///
/// Exit status of every command: 0 done; 1 it failed (database, conflict,
/// unknown organization); 2 invalid arguments or configuration. Errors are
/// one line on standard error starting `error: `.
#[derive(Debug, Parser)]
#[command(name = "lead-routing", version, about, long_about = None, after_help = TOP_HELP)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve the HTTP API until SIGINT/SIGTERM.
    #[command(after_help = SERVE_HELP)]
    Serve,
    /// Manage the database schema of DATABASE_URL.
    #[command(after_help = MIGRATE_HELP)]
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
    /// Manage organizations (tenants).
    Org {
        /// The organization action.
        #[command(subcommand)]
        action: OrgAction,
    },
    /// Manage the API keys of an organization.
    ApiKey {
        /// The API key action.
        #[command(subcommand)]
        action: ApiKeyAction,
    },
    /// Fill the database with demo data (`seed --demo`).
    #[command(long_about = SEED_ABOUT, after_help = SEED_HELP)]
    Seed(SeedArgs),
}

const SERVE_HELP: &str = "\
Environment (a bad value stops the server with exit status 2, naming it):
  HOST                      address to listen on (127.0.0.1)
  PORT                      port to listen on (3000)
  DATABASE_URL              sqlite://path or postgres://user:pass@host/db
                            (sqlite://./data/lead-routing.db; required in production)
  DATABASE_MIGRATION_URL    PostgreSQL: the tables' owner, who migrates; DATABASE_URL's
                            role then owns nothing and row-level security binds it
  DATABASE_MAX_CONNECTIONS  connection pool size (10)
  APP_ENV                   development or production (development)
  WORKERS                   HTTP worker threads (one per core)
  RUST_LOG                  log filter (info)
  REQUEST_TIMEOUT_SECS      a request still running after this answers 503 (30)
  CORS_ORIGINS              comma-separated browser origins allowed (none)
  JWT_SECRET                access-token secret, at least 32 bytes; required in production

Examples:
  lead-routing serve
  PORT=8080 DATABASE_URL=postgres://lr@db/lead_routing APP_ENV=production \\
      JWT_SECRET=\"$(openssl rand -base64 48)\" lead-routing serve
  curl -s http://127.0.0.1:3000/health

Exit status: 0 stopped by SIGINT/SIGTERM after in-flight requests finished;
1 the database or the port failed; 2 invalid configuration.";

const MIGRATE_HELP: &str = "\
Examples:
  lead-routing migrate status
  lead-routing migrate up
  lead-routing migrate down --steps 1
  DATABASE_URL=postgres://lr@db/lead_routing lead-routing migrate up
  DATABASE_MIGRATION_URL=postgres://lr_owner@db/lead_routing \\
      DATABASE_URL=postgres://lr_app@db/lead_routing lead-routing migrate up

`serve` applies pending migrations itself; run `migrate up` first to see a
migration fail before a deployment, and `migrate down` to go back one release.

Exit status: 0 done; 1 the database failed; 2 an invalid argument.";

const TOP_HELP: &str = "\
Getting started:
  lead-routing seed --demo            three demo organizations, then sign in
  lead-routing                        serve on http://127.0.0.1:3000
  lead-routing org create --name acme-corp
  lead-routing api-key create --org <ORG_ID> --role admin

Exit status: 0 done, 1 failed (database, conflict), 2 invalid arguments.
`lead-routing <COMMAND> --help` explains each command, with examples.";

/// What `org` does.
#[derive(Debug, Subcommand)]
pub enum OrgAction {
    /// Create an organization and print its id.
    ///
    /// The organization is created as the platform (a super admin), exactly
    /// as `POST /organizations` would. The id is printed alone on the last
    /// line of standard output, for scripts. Every invalid argument is
    /// reported at once.
    #[command(after_help = ORG_CREATE_HELP)]
    Create {
        /// Unique name: 3 to 63 lower-case letters, digits and hyphens,
        /// starting and ending with a letter or digit (`acme-corp`).
        #[arg(long, value_name = "SLUG")]
        name: String,
        /// Human-readable name (`"Acme Corporation"`), up to 200 characters.
        #[arg(long, value_name = "TEXT")]
        display_name: Option<String>,
        /// Contact e-mail of the organization.
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
        /// Commercial tier.
        #[arg(long, value_enum, default_value_t = TierArg::Standard)]
        tier: TierArg,
    },
}

const ORG_CREATE_HELP: &str = "\
Examples:
  lead-routing org create --name acme-corp
  lead-routing org create --name acme-corp --display-name \"Acme Corporation\" \\
      --email ops@acme.example --tier enterprise
  ORG_ID=$(lead-routing org create --name acme-corp | tail -n 1)

Next, give it a credential:
  lead-routing api-key create --org \"$ORG_ID\" --role admin
or register its first admin, which needs no credential:
  POST /auth/register {\"orgId\": \"<ORG_ID>\", \"username\", \"email\", \"password\"}

Exit status: 0 created; 1 the name is taken or the database failed;
2 an invalid argument (each one is named).";

/// A commercial tier, as `--tier` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TierArg {
    /// The free tier.
    Free,
    /// The standard tier.
    Standard,
    /// The enterprise tier.
    Enterprise,
}

impl From<TierArg> for Tier {
    fn from(t: TierArg) -> Self {
        match t {
            TierArg::Free => Tier::Free,
            TierArg::Standard => Tier::Standard,
            TierArg::Enterprise => Tier::Enterprise,
        }
    }
}

/// What `api-key` does.
#[derive(Debug, Subcommand)]
pub enum ApiKeyAction {
    /// Create an API key in an organization and print it, once.
    ///
    /// The key acts in the organization with the role given; clients send it
    /// as the `x-api-key` header. Only its hash is stored, so the key is
    /// printed this once, alone on the last line of standard output: store it
    /// now. A lost key cannot be recovered; revoke it and create another (or
    /// rotate it with `POST /api-keys/{id}/rotate`).
    #[command(after_help = API_KEY_CREATE_HELP)]
    Create {
        /// The organization the key acts in: its id (`org_...`), as printed by
        /// `org create` or listed by `GET /organizations`.
        #[arg(long, value_name = "ORG_ID")]
        org: String,
        /// The role the key carries.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// What the key is for, shown in `GET /api-keys` (1 to 100 characters).
        #[arg(long, value_name = "TEXT", default_value = "cli")]
        name: String,
    },
}

const API_KEY_CREATE_HELP: &str = "\
Examples:
  lead-routing api-key create --org org_0193... --role admin
  KEY=$(lead-routing api-key create --org \"$ORG_ID\" --role agent --name \"web form\" | tail -n 1)
  curl -s http://127.0.0.1:3000/leads -H \"x-api-key: $KEY\"

Exit status: 0 created; 1 no such organization, or the database failed;
2 an invalid argument.";

/// A role a key may carry, as `--role` takes it. Super admin keys are not
/// handed out here: platform operators are users (`admin create`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Manages the organization, its users and its keys.
    Admin,
    /// Reviews routing proposals; manages agents, pools and rules.
    Manager,
    /// Posts and works leads.
    Agent,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Manager => Role::Manager,
            RoleArg::Agent => Role::Agent,
        }
    }
}

/// The arguments of `seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Create the demo organizations (the one data set there is).
    #[arg(long, required = true)]
    pub demo: bool,
    /// Leads posted through the routing engine per organization.
    #[arg(
        long,
        value_name = "N",
        default_value_t = seed::DEFAULT_DEMO_LEADS,
        value_parser = clap::value_parser!(u32).range(0..=i64::from(seed::MAX_DEMO_LEADS))
    )]
    pub leads: u32,
    /// The password of every demo user (at least 10 characters). For demos
    /// only: it is printed in the summary.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "LEAD_ROUTING_DEMO_PASSWORD",
        default_value = seed::DEFAULT_DEMO_PASSWORD,
        hide_env_values = true
    )]
    pub password: String,
}

const SEED_ABOUT: &str = "\
Fill the database with demo data: three organizations (acme-demo,
globex-demo, initech-demo), each with an admin, a manager and an agent user,
6 to 8 routing agents (skills, regions, weights, capacities, statuses,
working hours), three pools (round robin, weighted, least loaded), three
rules, a default pool and a fallback agent; globex-demo approves proposals
automatically. Then N leads per organization go through the real routing
engine, and the manager approves about half of the proposals, rejects a few
and moves some leads on to contacted, won or lost.

It prints the leads by status and how to sign in. It refuses to run twice:
if acme-demo (or another demo organization) exists, nothing is written.";

const SEED_HELP: &str = "\
Examples:
  lead-routing seed --demo
  lead-routing seed --demo --leads 50
  LEAD_ROUTING_DEMO_PASSWORD='my demo secret' lead-routing seed --demo
  DATABASE_URL=sqlite://./demo.db lead-routing seed --demo && DATABASE_URL=sqlite://./demo.db lead-routing

The default password, demo-password-123, is public: never seed a database
that is reachable by others.

Exit status: 0 seeded; 1 already seeded, or the database failed;
2 an invalid argument.";

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
    let command = cli.command.unwrap_or(Command::Serve);
    let _quiet = match command {
        Command::Org { .. } | Command::ApiKey { .. } | Command::Seed(_) => quiet_logs(),
        _ => None,
    };
    match command {
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
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                std::env::var("LEAD_ROUTING_ADMIN_PASSWORD").ok()
            };
            // Every invalid argument at once, before anything is opened.
            let mut errors = ValidationErrors::new();
            let email = errors.check("--email", Email::parse(&email));
            let username = errors.check("--username", Username::parse(&username));
            let password = match password {
                Some(p) => errors.check("password", Password::parse(&p)),
                None => {
                    errors.push(tenancy::FieldError::new(
                        "password",
                        "missing: pass --password-stdin or set LEAD_ROUTING_ADMIN_PASSWORD",
                    ));
                    None
                }
            };
            let (Some(email), Some(username), Some(password)) = (email, username, password) else {
                return Err(invalid(errors));
            };
            let services = connect(&settings).await?;
            // The operator acts in the default organization, where platform
            // super admins live, through the same use case as `POST /users`.
            let user = services
                .auth
                .create_user(
                    &Actor::operator("cli"),
                    CreateUser {
                        username,
                        email,
                        password,
                        role: Role::SuperAdmin,
                    },
                )
                .await
                .map_err(|e| -> Box<dyn Error> {
                    match e {
                        AuthError::Invalid(errors) => invalid(errors),
                        e => format!("cannot create the admin: {}", one_line(&e)).into(),
                    }
                })?;
            println!(
                "Created super admin {} ({}) in {}.",
                user.username, user.id, user.org_id
            );
            println!(
                "Sign in at /admin/ (the console), or POST /auth/login {{\"email\": \"{}\", \"password\": ...}}",
                user.email
            );
            services.db.close().await.map_err(|e| one_line(&e))?;
        }
        Command::Org {
            action:
                OrgAction::Create {
                    name,
                    display_name,
                    email,
                    tier,
                },
        } => org_create(&settings, &name, display_name, email, tier).await?,
        Command::ApiKey {
            action: ApiKeyAction::Create { org, role, name },
        } => api_key_create(&settings, &org, role, &name).await?,
        Command::Seed(args) => seed_demo(&settings, args).await?,
        Command::Migrate { action } => {
            // The schema is the owner's to change (`DATABASE_MIGRATION_URL`).
            let mut owner = settings.database.clone();
            if let Some(url) = owner.migration_url.take() {
                owner.url = url;
            }
            let db = Database::connect(&owner).await?;
            let conn = db.connection();
            match action {
                MigrateAction::Up => {
                    // As `serve` does: migrate, then grant the server's role.
                    Database::connect(&settings.database)
                        .await?
                        .migrate()
                        .await?;
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

/// Operator commands log warnings only (to standard error), so their standard
/// output stays what they print, unless `RUST_LOG` asks for more.
fn quiet_logs() -> Option<tracing::subscriber::DefaultGuard> {
    if std::env::var("RUST_LOG").is_ok_and(|v| !v.trim().is_empty()) {
        return None;
    }
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .finish();
    Some(tracing::subscriber::set_default(subscriber))
}

/// Invalid arguments or configuration: `main` exits with status 2, like
/// clap's own errors. Returned before anything is written.
#[derive(Debug, thiserror::Error)]
#[error("invalid arguments: {0}")]
pub struct InvalidArguments(pub ValidationErrors);

impl InvalidArguments {
    /// The exit status of a command that failed with `err`: 2 for invalid
    /// arguments, 1 for anything else.
    pub fn exit_status(err: &(dyn Error + 'static)) -> u8 {
        if err.downcast_ref::<Self>().is_some() {
            2
        } else {
            1
        }
    }
}

fn invalid(errors: ValidationErrors) -> Box<dyn Error> {
    Box::new(InvalidArguments(errors))
}

/// Writes a line to standard output; a closed output (`| head`) is an
/// error, not a panic.
fn say(text: impl std::fmt::Display) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to standard output: {e}"))
}

/// An error and its causes, on one line.
fn one_line(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.replace(['\n', '\r'], " ")
}

async fn connect(settings: &Settings) -> Result<Services, String> {
    Services::connect(settings).await.map_err(|e| one_line(&e))
}

async fn org_create(
    settings: &Settings,
    name: &str,
    display_name: Option<String>,
    email: Option<String>,
    tier: TierArg,
) -> Result<(), Box<dyn Error>> {
    let mut errors = ValidationErrors::new();
    let name = errors.check("--name", OrgName::parse(name));
    let display_name =
        display_name.and_then(|v| errors.check("--display-name", DisplayName::parse(&v)));
    let email = email.and_then(|v| errors.check("--email", Email::parse(&v)));
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(invalid(errors));
    };
    let services = connect(settings).await?;
    let new = NewOrganization {
        name,
        display_name,
        email,
        phone: None,
        tier: tier.into(),
        monday_workspace_id: None,
        settings: OrgSettings::default(),
    };
    let org = services
        .orgs
        .create(&Actor::operator("cli"), new)
        .await
        .map_err(|e| match e {
            OrganizationError::Invalid(errors) => invalid(errors),
            e => one_line(&e).into(),
        })?;
    say(format_args!(
        "Created organization {} (tier {}). Its id:\n{}",
        org.name, org.tier, org.id
    ))?;
    services.db.close().await.map_err(|e| one_line(&e))?;
    Ok(())
}

async fn api_key_create(
    settings: &Settings,
    org: &str,
    role: RoleArg,
    name: &str,
) -> Result<(), Box<dyn Error>> {
    let mut errors = ValidationErrors::new();
    let org_id = OrgId::parse(org);
    if org_id.is_none() {
        errors.push(tenancy::FieldError::new(
            "--org",
            "is not an organization id (letters, digits, `_` and `-`; e.g. org_0193...)",
        ));
    }
    let name = errors.check("--name", ApiKeyName::parse(name));
    let (Some(org_id), Some(name)) = (org_id, name) else {
        return Err(invalid(errors));
    };
    let services = connect(settings).await?;
    let org = match services.orgs.get(&Actor::operator("cli"), &org_id).await {
        Ok(org) => org,
        Err(OrganizationError::NotFound) => {
            return Err(format!(
                "no organization has the id `{org_id}` (list them with GET /organizations)"
            )
            .into());
        }
        Err(e) => return Err(one_line(&e).into()),
    };
    // A platform super admin switched into the organization.
    let actor = Actor::operator("cli")
        .acting_in(org.id.clone())
        .ok_or("the command line's operator is a super admin")?;
    let created = services
        .api_keys
        .create(
            &actor,
            NewApiKey {
                name,
                role: role.into(),
            },
        )
        .await
        .map_err(|e| match e {
            AuthError::Invalid(errors) => invalid(errors),
            e => one_line(&e).into(),
        })?;
    if !org.is_active {
        eprintln!(
            "warning: {} is deactivated; the key works once it is reactivated",
            org.name
        );
    }
    say(format_args!(
        "Created API key {} ({:?}, role {}) in {} ({}).\n\
         Send it as the `x-api-key` header. It cannot be shown again: store it now.\n{}",
        created.key.id,
        created.key.name.as_str(),
        created.key.role,
        org.name,
        org.id,
        created.plain_key
    ))?;
    services.db.close().await.map_err(|e| one_line(&e))?;
    Ok(())
}

async fn seed_demo(settings: &Settings, args: SeedArgs) -> Result<(), Box<dyn Error>> {
    let password = match Password::parse(&args.password) {
        Ok(p) => p,
        Err(e) => return Err(invalid(ValidationErrors::single("--password", e))),
    };
    let services = connect(settings).await?;
    let options = DemoOptions {
        leads: args.leads,
        password,
    };
    // Progress is best effort; the summary below reports a closed output.
    let report = seed::seed_demo(&services, &options, |line| {
        let _ = say(line);
    })
    .await
    .map_err(|e| match e {
        seed::SeedError::AlreadySeeded { .. } => one_line(&e),
        e => format!(
            "seeding stopped, what was created so far stays: {}",
            one_line(&e)
        ),
    })?;
    let host = match settings.host.as_str() {
        "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
        host => host,
    };
    let base_url = if settings.port == 0 {
        format!("http://{host}:<PORT>")
    } else {
        format!("http://{host}:{}", settings.port)
    };
    say(report
        .render(&base_url, "cargo run --release", &options.password)
        .trim_end())?;
    if settings.is_development() {
        say(format_args!(
            "In development the key `x-api-key: {}` also works, as a super admin; \
             add `X-Org-Id: <id>` to act in one of these organizations.",
            auth::DEV_API_KEY
        ))?;
    }
    services.db.close().await.map_err(|e| one_line(&e))?;
    Ok(())
}
