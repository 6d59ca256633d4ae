//! The `lead-routing` binary: reads configuration, sets up logging, runs the
//! command line. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use lead_routing_api::{cli, config::Settings, telemetry};

fn main() -> ExitCode {
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
