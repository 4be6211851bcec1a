//! `chargeguard sandbox serve`: runs the sandbox gateway in the foreground.
//!
//! It prints `listening on http://ADDR` (the real bound port) as its first line, flushed,
//! so a script or test can read where to connect, then serves until Ctrl-C or SIGTERM.
//! Everything else lives in `chargeguard::sandbox`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chargeguard::sandbox::{self, SandboxConfig};

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
        /// Listen on an address other than loopback (the sandbox accepts any test key).
        #[arg(long)]
        allow_non_loopback: bool,
        /// The fee of each payment from now on, per currency: `usd:2.9%+30,eur:1.5%+25`
        /// (the fixed part in minor units; `*` for every other currency).
        #[arg(long, default_value = "*:2.9%+30")]
        pricing: String,
    },
}

pub fn run(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SandboxCommand::Serve {
            addr,
            state,
            allow_non_loopback,
            pricing,
        } => {
            let pricing = sandbox::balance::Pricing::parse(&pricing).map_err(anyhow::Error::msg)?;
            let addr: SocketAddr = addr.parse().with_context(|| {
                format!("`{addr}` is not an IP address and port; write it like 127.0.0.1:8420")
            })?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(serve(SandboxConfig {
                addr,
                allow_non_loopback,
                pricing,
                ..SandboxConfig::new(state)
            }))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(config: SandboxConfig) -> anyhow::Result<()> {
    let running = sandbox::start(config).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", running.base_url())?;
        out.flush()?;
    }
    stop_signal().await;
    running.shutdown().await?;
    Ok(())
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
