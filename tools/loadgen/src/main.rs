//! `loadgen`: the performance tooling of Lead Routing.
//!
//! - `loadgen http`: concurrent clients drive a running server through the
//!   main job (authenticated `POST /leads`, routed at once, and every tenth
//!   request `GET /manager/proposals`) and report leads routed per second,
//!   latency percentiles per request type and errors by status.
//! - `loadgen raw`: the same database work per lead, directly through the
//!   storage crate in one process (no HTTP, no JSON, no authentication): the
//!   physical limit the API is compared with.
//! - `loadgen batch`: concurrent clients sending `POST /leads/batch` of
//!   `--size` leads each; leads routed per second.
//! - `loadgen compare`: API / raw from the two JSON reports.
//! - `loadgen tenant-scale`: one organization's review queue, timed with 10
//!   and with 1,000 organizations in the database.
//!
//! `just load`, `just bench-db` and `just tenant-scale` run them;
//! `docs/performance.md` has the commands and the results.

mod batch;
mod cpu;
mod fixture;
mod http;
mod raw;
mod report;
mod tenant;
mod workload;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};

/// Any failure, reported on one line.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Load generator and storage benchmarks for Lead Routing.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drive a running server over HTTP with concurrent clients.
    Http(http::HttpArgs),
    /// The same per-lead database work, directly against the database.
    Raw(raw::RawArgs),
    /// Drive a running server with `POST /leads/batch` requests.
    Batch(batch::BatchArgs),
    /// Print API / raw from two reports written with `--json-out`.
    Compare {
        /// The report of `loadgen http`.
        #[arg(long)]
        api_json: PathBuf,
        /// The report of `loadgen raw`.
        #[arg(long)]
        raw_json: PathBuf,
    },
    /// Time one organization's proposal listing with 10 vs 1,000 organizations.
    TenantScale(tenant::TenantArgs),
}

/// The options `http`, `raw` and `batch` share.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Requests in flight (one worker each).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// How long to measure: `20s`, `500ms`, `1m`.
    #[arg(long, default_value = "20s", value_parser = workload::parse_duration)]
    duration: Duration,
    /// Load before measuring (connections, caches), not recorded.
    #[arg(long, default_value = "2s", value_parser = workload::parse_duration)]
    warmup: Duration,
    /// Agents in the round-robin pool the setup creates.
    #[arg(long, default_value_t = 5)]
    agents: usize,
    /// A label kept in the report (engine, build, ...).
    #[arg(long, default_value = "")]
    label: String,
    /// Also print the report as one line of JSON.
    #[arg(long)]
    json: bool,
    /// Write the JSON report to this file (for `loadgen compare`).
    #[arg(long)]
    json_out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Http(args) => http::run(args).await,
        Command::Raw(args) => raw::run(args).await,
        Command::Batch(args) => batch::run(args).await,
        Command::Compare { api_json, raw_json } => {
            report::Report::read(&api_json).and_then(|api| {
                let raw = report::Report::read(&raw_json)?;
                report::compare(&api, &raw);
                Ok(())
            })
        }
        Command::TenantScale(args) => tenant::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
