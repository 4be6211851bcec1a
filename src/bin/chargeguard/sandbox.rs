//! `chargeguard sandbox serve`: runs the sandbox gateway in the foreground.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Serve Stripe's API subset on ADDR, keeping state under DIR.
    Serve {
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
        #[arg(long)]
        state: PathBuf,
    },
}

pub fn run(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SandboxCommand::Serve { addr, state } => {
            anyhow::bail!("the sandbox gateway is being built (addr {addr}, state {})", state.display())
        }
    }
}
