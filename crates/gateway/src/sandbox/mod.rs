//! The sandbox gateway: a local HTTP server that speaks the subset of Stripe's REST API
//! Chargeguard uses, with Stripe's idempotency rules, state on disk and faults armed from
//! outside the client. It serves the demo and the tests; the client code that talks to it
//! is the same code that talks to Stripe, so it is a faithful stand-in, never a shortcut.
//!
//! Map: [`wire`] (form parameters, Stripe's error object), [`api`] (routes and their
//! effects), [`balance`] (balance transactions, fees and payouts), [`disputes`] (chargebacks and
//! inquiries the dispute test cards open), [`expand`] (what
//! `expand[]` may name), [`cards`] (test payment methods decide outcomes), [`search`] (Stripe's query
//! language), [`state`] (its own SQLite file, the only SQL here), [`faults`], [`seed`],
//! and `server` (authentication, idempotency, fault striking, the connection it can drop).
//! [`qbo`] and [`xero`] are QuickBooks Online and Xero stand-ins served beside it, on the
//! same port and file.
//!
//! It must never share a file with the Chargeguard store, never bind a non-loopback
//! address unless told to explicitly, and never accept a key that is not `sk_test_…`.

pub mod api;
pub mod balance;
pub mod cards;
mod charge_amounts;
pub mod decimal_json;
pub mod disputes;
mod expand;
pub mod faults;
pub mod qbo;
pub mod search;
pub mod seed;
mod server;
pub mod state;
mod strike;
pub mod wire;
pub mod xero;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{FaultKind, FaultSpec};
pub use seed::{SeedCharge, SeedCustomer, SeedRefund, SeedRequest, Seeded};

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free port (read it back from [`RunningSandbox::addr`]).
    pub addr: SocketAddr,
    /// The folder holding the state file (`sandbox.sqlite3`); created if missing.
    pub state_dir: PathBuf,
    /// Allow an address other than loopback. Off by default: the sandbox accepts any
    /// `sk_test_` key and has control endpoints, so it must not face a network by accident.
    pub allow_non_loopback: bool,
    /// How long idempotency keys are remembered (Stripe: at least 24 hours).
    pub idempotency_ttl: Duration,
    /// The fees charged on each payment from now on; kept in the state file.
    pub pricing: balance::Pricing,
}

impl SandboxConfig {
    /// Loopback, a free port, keys kept 24 hours.
    pub fn new(state_dir: impl Into<PathBuf>) -> SandboxConfig {
        SandboxConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: state_dir.into(),
            allow_non_loopback: false,
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            pricing: balance::Pricing::default(),
        }
    }
}

/// What can stop the sandbox from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "refusing to listen on {addr}: it is not a loopback address, and the sandbox accepts any test key; use 127.0.0.1, or pass --allow-non-loopback if you really mean it"
    )]
    NonLoopback { addr: SocketAddr },
    #[error(
        "cannot listen on {addr}: {source}; pick another address or port (port 0 picks a free one)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error("the sandbox server stopped with an error: {0}")]
    Serve(String),
}

/// A sandbox serving in the background of the current tokio runtime.
#[derive(Debug)]
pub struct RunningSandbox {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningSandbox {
    /// The address actually bound (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, what a Stripe client takes as its API base.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, ends held requests, lets answers in progress finish, and returns
    /// once the server is gone.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        let _ = self.stop.send(true);
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| SandboxError::Serve(e.to_string()))?
                .map_err(|e| SandboxError::Serve(e.to_string())),
            None => Ok(()),
        }
    }

    /// Resolves when the server stops by itself (it only does on an error).
    pub async fn wait(mut self) -> Result<(), SandboxError> {
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| SandboxError::Serve(e.to_string()))?
                .map_err(|e| SandboxError::Serve(e.to_string())),
            None => Ok(()),
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Opens the state under `config.state_dir`, binds `config.addr` and serves in the
/// background until [`RunningSandbox::shutdown`].
pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
    if !config.allow_non_loopback && !config.addr.ip().is_loopback() {
        return Err(SandboxError::NonLoopback { addr: config.addr });
    }
    let dir = config.state_dir.clone();
    let pricing = config.pricing.clone();
    let db = tokio::task::spawn_blocking(move || -> Result<_, state::StateError> {
        let mut db = state::open(&dir)?;
        let tx = db.transaction()?;
        balance::set_pricing(&tx, &pricing)?;
        tx.commit()?;
        Ok(db)
    })
    .await
    .map_err(|e| SandboxError::Serve(e.to_string()))??;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: config.addr,
        source,
    })?;
    let (stop, stopped) = watch::channel(false);
    let app = Arc::new(server::App::new(
        db,
        config.idempotency_ttl,
        stopped.clone(),
    ));
    let service =
        server::router(app).into_make_service_with_connect_info::<server::ClientConnection>();
    let mut until = stopped;
    let task = tokio::spawn(async move {
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = until.wait_for(|stop| *stop).await;
            })
            .await
    });
    Ok(RunningSandbox {
        addr,
        stop,
        task: Some(task),
    })
}
