//! `chargeguard ui-server`: the API over HTTP on loopback, with the built front end, for
//! browser tests and machines without a desktop. All of it lives in `chargeguard::api`;
//! this only reads the flags, starts the demo's sandbox when asked, and serves.
//!
//! It prints `sandbox on http://ADDR` (with `--sandbox-state`) and then
//! `listening on http://ADDR/#token=SECRET` as its last start-up line, flushed, so a test
//! can wait for it: the window opened at that address is the only one that drives the API.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chargeguard::api::{self, Api};

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct UiServerArgs {
    /// Where to listen (loopback only); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,
    /// Run the demo's sandbox gateway in this process, with its state in DIR (made by
    /// `chargeguard demo --sandbox-state DIR`), and connect the store to it.
    #[arg(long)]
    sandbox_state: Option<PathBuf>,
    /// The built front end (`npm run build` in ui/ writes ui/dist).
    #[arg(long = "static", default_value = "ui/dist")]
    static_dir: PathBuf,
}

pub fn run(ctx: &Ctx, args: UiServerArgs) -> anyhow::Result<ExitCode> {
    let addr: SocketAddr = args.addr.parse().with_context(|| {
        format!(
            "`{}` is not an IP address and port; write it like 127.0.0.1:8421",
            args.addr
        )
    })?;
    let db = ctx.db_path()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut api = Api::new(&db).with_http_timeout(ctx.http_timeout);
        let _sandbox = match &args.sandbox_state {
            Some(dir) => {
                let (with_key, running) = api::session::with_demo_sandbox(api, dir).await?;
                api = with_key;
                println!("sandbox on {}", running.base_url());
                Some(running)
            }
            None => None,
        };
        let static_dir = args.static_dir.is_dir().then(|| args.static_dir.clone());
        if static_dir.is_none() {
            eprintln!(
                "warning: {} is not a folder; only the API is served (build the front end with `npm run build` in ui/)",
                args.static_dir.display()
            );
        }
        let (listener, bound) = api::http::bind(addr).await?;
        let secret = api::http::ApiSecret::generate();
        println!("listening on http://{bound}/#token={}", secret.reveal());
        std::io::stdout().flush().ok();
        axum::serve(listener, api::http::router(api, static_dir, secret))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("the UI server stopped with an error")?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
