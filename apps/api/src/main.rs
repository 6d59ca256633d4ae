//! The `lead-routing` binary: reads configuration, sets up logging, runs the
//! command line. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use lead_routing_api::{cli, config::Settings, telemetry};

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = cli::Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = telemetry::init(settings.env) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match actix_web::rt::System::new().block_on(cli::run(cli, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(cli::InvalidArguments::exit_status(e.as_ref()))
        }
    }
}

/// Two malloc arenas, unless the operator chose a number
/// (`MALLOC_ARENA_MAX`, or `glibc.malloc.arena_max` in `GLIBC_TUNABLES`).
///
/// glibc gives each busy thread an arena of its own (up to 8 per core) and
/// what each keeps adds up: SQLite runs a thread per pooled connection, and
/// after 8 s of 16 clients the server held 69 MB resident with the default,
/// 53 MB with two arenas, at the same throughput (docs/performance.md).
/// Called first in `main`: the limit only stops new arenas, so it must come
/// before any thread allocates.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    let chosen = std::env::var_os("MALLOC_ARENA_MAX").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc.arena_max"));
    if !chosen {
        // SAFETY: `mallopt` sets an allocator parameter under the
        // allocator's own lock; it touches no Rust-owned memory.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Other allocators need no limit.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
