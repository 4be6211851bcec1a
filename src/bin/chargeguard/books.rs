//! `chargeguard books`: the accounting system the business keeps its books in, QuickBooks
//! Online or Xero. `connect` prints the system's consent address and reads back the address
//! the browser was sent to (pasted, or received on the loopback redirect with `--listen`); `sync` pulls its invoices and payments; `status` and
//! `disconnect`.
//!
//! QuickBooks' app client secret is read from `CHARGEGUARD_QBO_CLIENT_SECRET` or the first
//! line of standard input (never an argument: the shell history and the process list would
//! keep it); Xero's desktop consent (PKCE) needs none. No token is ever printed.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use chargeguard::accounting_sync::qbo_connection::{self as connection, Session};
use chargeguard::accounting_sync::xero_connection::{self, XeroSession};
use chargeguard::accounting_sync::{
    self, AccountingError, BooksProgress, BooksSyncOptions, System,
};
use chargeguard::books::BooksSecret;
use chargeguard::books::qbo::{AppCredentials, QboEndpoints};
use chargeguard::books::redirect::RedirectListener;
use chargeguard::books::xero::XeroEndpoints;
use chargeguard::secret::Keyring;

use crate::Ctx;
use crate::gateway::runtime;

/// The environment variable holding the Intuit app's client secret.
const CLIENT_SECRET_ENV: &str = "CHARGEGUARD_QBO_CLIENT_SECRET";

#[derive(Debug, clap::Args)]
pub struct BooksArgs {
    #[command(subcommand)]
    command: BooksCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BooksCommand {
    /// Connect this store to a QuickBooks Online company or a Xero organisation (one per store).
    Connect(ConnectArgs),
    /// Pull the company's invoices and payments into the store (what changed since the last sync).
    Sync(SyncArgs),
    /// Which company this store is connected to, and whether it must be connected again.
    Status,
    /// Revoke the connection at Intuit and forget its tokens; the synced books stay.
    Disconnect,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Which {
    Quickbooks,
    Xero,
}

#[derive(Debug, clap::Args)]
struct ConnectArgs {
    system: Which,
    /// Your app's client id (Intuit: Keys & credentials; Xero: an "Auth Code with PKCE" app).
    #[arg(long)]
    client_id: String,
    /// A redirect URI registered for the app; the browser lands there after consent
    /// (default: http://localhost:8765/callback for QuickBooks, :8766 for Xero).
    #[arg(long)]
    redirect_uri: Option<String>,
    /// Xero: the organisation to keep (its name or tenant id) when the consent connected
    /// several.
    #[arg(long)]
    tenant: Option<String>,
    /// The system's own hosts by default; a sandbox's `http://127.0.0.1:PORT` for its stand-in.
    #[arg(long)]
    base: Option<String>,
    /// Wait for the browser on the redirect URI's loopback port (it must be
    /// `http://127.0.0.1:PORT/…` or `http://localhost:PORT/…`) instead of reading the
    /// address pasted back.
    #[arg(long)]
    listen: bool,
}

#[derive(Debug, clap::Args)]
struct SyncArgs {
    /// Objects per page (1-1000); smaller pages commit more often on a slow link.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(1..=1000))]
    page_size: u16,
}

pub fn run(ctx: &Ctx, args: BooksArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        BooksCommand::Connect(a) => connect(ctx, a),
        BooksCommand::Sync(a) => sync(ctx, a),
        BooksCommand::Status => status(ctx),
        BooksCommand::Disconnect => disconnect(ctx),
    }
}

fn read_line(what: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{what}: ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read {what} from standard input"))?;
    Ok(line.trim().to_string())
}

/// How long `--listen` waits for the person to consent.
const CONSENT_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Shows the consent address (standard output, alone on its line) and gets back the
/// address the browser was sent to: on the redirect URI's loopback port with `--listen`
/// (bound before the address is shown), else pasted on standard input.
fn consent_answer(
    rt: &tokio::runtime::Runtime,
    listen: bool,
    redirect_uri: &str,
    url: &str,
    state: &str,
) -> anyhow::Result<String> {
    let listener = match listen {
        true => Some(rt.block_on(RedirectListener::bind(redirect_uri))?),
        false => None,
    };
    println!("{url}");
    std::io::stdout().flush().ok();
    match listener {
        Some(listener) => {
            eprintln!("Waiting for the browser to come back to {redirect_uri} …");
            Ok(rt.block_on(listener.receive(state, CONSENT_WAIT))?)
        }
        None => read_line("Then paste the address the browser was sent to"),
    }
}

fn connect(ctx: &Ctx, args: ConnectArgs) -> anyhow::Result<ExitCode> {
    match args.system {
        Which::Quickbooks => connect_quickbooks(ctx, args),
        Which::Xero => connect_xero(ctx, args),
    }
}

fn connect_quickbooks(ctx: &Ctx, args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    // The keyring first: a missing one is reported before anyone pastes a secret.
    let keyring = Keyring::open()?;
    let secret = match std::env::var(CLIENT_SECRET_ENV) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => read_line("Paste the Intuit app's client secret")?,
    };
    anyhow::ensure!(
        !secret.is_empty(),
        "no client secret: set {CLIENT_SECRET_ENV} or paste it on the first line"
    );
    let endpoints = match &args.base {
        Some(base) => QboEndpoints::at(base),
        None => QboEndpoints::production(),
    };
    let redirect_uri = args
        .redirect_uri
        .unwrap_or_else(|| "http://localhost:8765/callback".into());
    let consent = connection::consent(&endpoints, &args.client_id, &redirect_uri);
    eprintln!("Open this address, choose the company and click Connect:");
    let rt = runtime()?;
    let redirect = consent_answer(
        &rt,
        args.listen,
        &redirect_uri,
        &consent.url,
        &consent.state,
    )?;
    let granted = connection::read_redirect(&redirect, &consent.state)?;
    let app = AppCredentials {
        client_id: args.client_id,
        client_secret: BooksSecret::new(secret),
    };
    let connected = rt.block_on(connection::connect(
        &mut store,
        &endpoints,
        &app,
        &granted,
        &redirect_uri,
        &keyring,
        ctx.http_timeout,
        jiff::Timestamp::now(),
    ))?;
    println!(
        "connected to QuickBooks company {}; its tokens are in this computer's keyring",
        connected.realm
    );
    Ok(ExitCode::SUCCESS)
}

fn connect_xero(ctx: &Ctx, args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let keyring = Keyring::open()?;
    let endpoints = match &args.base {
        Some(base) => XeroEndpoints::at(base),
        None => XeroEndpoints::production(),
    };
    let redirect_uri = args
        .redirect_uri
        .unwrap_or_else(|| "http://localhost:8766/callback".into());
    let consent = xero_connection::consent(&endpoints, &args.client_id, &redirect_uri);
    eprintln!("Open this address, sign in to Xero and allow access:");
    let rt = runtime()?;
    let redirect = consent_answer(
        &rt,
        args.listen,
        &redirect_uri,
        &consent.url,
        &consent.state,
    )?;
    let code = xero_connection::read_redirect(&redirect, &consent.state)?;
    let connected = rt.block_on(xero_connection::connect(
        &mut store,
        &endpoints,
        &args.client_id,
        &code,
        &consent.verifier,
        &redirect_uri,
        args.tenant.as_deref(),
        &keyring,
        ctx.http_timeout,
        jiff::Timestamp::now(),
    ))?;
    println!(
        "connected to Xero organisation {}; its tokens are in this computer's keyring",
        connected.tenant.name
    );
    Ok(ExitCode::SUCCESS)
}

fn sync(ctx: &Ctx, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let keyring = Keyring::open()?;
    let options = BooksSyncOptions {
        page_size: usize::from(args.page_size),
        ..BooksSyncOptions::default()
    };
    let report = runtime()?.block_on(accounting_sync::sync(
        &mut store,
        &keyring,
        ctx.http_timeout,
        jiff::Timestamp::now(),
        options,
        |p: BooksProgress| {
            println!("{}: page {} ({} read)", p.kind, p.pages, p.fetched);
            std::io::stdout().flush().ok();
        },
    ))?;
    if ctx.json {
        crate::output::json(&report)?;
    } else {
        println!("synced: {report}");
    }
    Ok(ExitCode::SUCCESS)
}

fn status(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let (name, reconnect) = match accounting_sync::connected_system(&mut store)? {
        None => {
            println!("not connected: run `chargeguard books connect quickbooks` (or `xero`)");
            return Ok(ExitCode::SUCCESS);
        }
        Some(System::Quickbooks) => {
            let c = connection::connection(&mut store)?.expect("connected");
            (format!("QuickBooks company {}", c.realm), c.reconnect)
        }
        Some(System::Xero) => {
            let c = xero_connection::connection(&mut store)?.expect("connected");
            (format!("Xero organisation {}", c.tenant.name), c.reconnect)
        }
    };
    match reconnect {
        None => println!("connected to {name}"),
        Some(reason) => {
            println!("{name}: connect again ({reason}; `chargeguard books connect`)");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn disconnect(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let keyring = Keyring::open()?;
    let runtime = runtime()?;
    let now = jiff::Timestamp::now();
    let done = match accounting_sync::connected_system(&mut store)? {
        None => {
            println!("not connected");
            return Ok(ExitCode::SUCCESS);
        }
        Some(System::Quickbooks) => {
            match runtime.block_on(Session::open(&mut store, &keyring, ctx.http_timeout, now)) {
                Ok(session) => runtime.block_on(session.disconnect(&mut store, &keyring)),
                // The system already refused the grant: nothing to revoke there.
                Err(AccountingError::Reconnect { .. }) => {
                    connection::forget_connection(&mut store, &keyring).map(|_| ())
                }
                Err(e) => Err(e),
            }
        }
        Some(System::Xero) => {
            match runtime.block_on(XeroSession::open(
                &mut store,
                &keyring,
                ctx.http_timeout,
                now,
            )) {
                Ok(session) => runtime.block_on(session.disconnect(&mut store, &keyring)),
                Err(AccountingError::Reconnect { .. }) => {
                    xero_connection::forget_connection(&mut store, &keyring).map(|_| ())
                }
                Err(e) => Err(e),
            }
        }
    };
    done?;
    println!("disconnected; the synced invoices and ledger stay");
    Ok(ExitCode::SUCCESS)
}
