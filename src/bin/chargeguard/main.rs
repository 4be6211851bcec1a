//! `chargeguard`: the command line over the core, for scripts, scheduled runs and tests.
//!
//! Each command parses its arguments, calls the core and prints the result: a readable
//! table by default, JSON with `--json`. It holds no business rule of its own. Errors end
//! the program with a non-zero exit code and a message that says what to do next.

mod sandbox;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "chargeguard", version, about = "Reconcile a payment gateway with your invoices and ledger, and fix what does not add up without ever charging twice.")]
struct Cli {
    /// The store file (default: chargeguard.db in the app's data folder).
    #[arg(long, global = true, env = "CHARGEGUARD_DB")]
    db: Option<PathBuf>,

    /// Timeout for every gateway call, in seconds.
    #[arg(long, global = true, default_value_t = 30)]
    http_timeout: u64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sandbox gateway, a local stand-in for Stripe.
    Sandbox(sandbox::SandboxArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sandbox(args) => sandbox::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
