//! `chargeguard books`: the accounting system the business keeps its books in (QuickBooks
//! Online today). `connect` prints Intuit's consent address and reads back the address the
//! browser was sent to; `sync` pulls its invoices and payments; `status` and `disconnect`.
//!
//! The app's client secret is read from `CHARGEGUARD_QBO_CLIENT_SECRET` or the first line of
//! standard input (never an argument: the shell history and the process list would keep
//! it). No token is ever printed.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use chargeguard::accounting_sync::connection::{self, Session};
use chargeguard::accounting_sync::{self, BooksProgress, BooksSyncOptions};
use chargeguard::books::BooksSecret;
use chargeguard::books::qbo::{AppCredentials, QboEndpoints};
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
    /// Connect this store to a QuickBooks Online company (one company per store).
    Connect(ConnectArgs),
    /// Pull the company's invoices and payments into the store (what changed since the last sync).
    Sync(SyncArgs),
    /// Which company this store is connected to, and whether it must be connected again.
    Status,
    /// Revoke the connection at Intuit and forget its tokens; the synced books stay.
    Disconnect,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum System {
    Quickbooks,
}

#[derive(Debug, clap::Args)]
struct ConnectArgs {
    system: System,
    /// Your Intuit app's client id (developer.intuit.com, Keys & credentials).
    #[arg(long)]
    client_id: String,
    /// A redirect URI registered for the app; the browser lands there after consent.
    #[arg(long, default_value = "http://localhost:8765/callback")]
    redirect_uri: String,
    /// Intuit's hosts by default; a sandbox's `http://127.0.0.1:PORT` for its stand-in.
    #[arg(long)]
    base: Option<String>,
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

fn connect(ctx: &Ctx, args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let System::Quickbooks = args.system;
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
    let consent = connection::consent(&endpoints, &args.client_id, &args.redirect_uri);
    eprintln!("Open this address, choose the company and click Connect:");
    println!("{}", consent.url);
    std::io::stdout().flush().ok();
    let redirect = read_line("Then paste the address the browser was sent to")?;
    let granted = connection::read_redirect(&redirect, &consent.state)?;
    let app = AppCredentials {
        client_id: args.client_id,
        client_secret: BooksSecret::new(secret),
    };
    let connected = runtime()?.block_on(connection::connect(
        &mut store,
        &endpoints,
        &app,
        &granted,
        &args.redirect_uri,
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
    match connection::connection(&mut store)? {
        None => println!("not connected: run `chargeguard books connect quickbooks`"),
        Some(c) => match &c.reconnect {
            None => println!("connected to QuickBooks company {}", c.realm),
            Some(reason) => {
                println!(
                    "QuickBooks company {}: connect again ({reason}; `chargeguard books connect quickbooks`)",
                    c.realm
                );
                return Ok(ExitCode::from(1));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn disconnect(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let keyring = Keyring::open()?;
    let runtime = runtime()?;
    let opened = runtime.block_on(Session::open(
        &mut store,
        &keyring,
        ctx.http_timeout,
        jiff::Timestamp::now(),
    ));
    match opened {
        Ok(session) => runtime.block_on(session.disconnect(&mut store, &keyring))?,
        // QuickBooks already refused the grant: nothing to revoke there.
        Err(chargeguard::accounting_sync::AccountingError::Reconnect { .. }) => {
            connection::forget_connection(&mut store, &keyring)?;
        }
        Err(chargeguard::accounting_sync::AccountingError::NotConnected) => {
            println!("not connected");
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    }
    println!("disconnected from QuickBooks; the synced invoices and ledger stay");
    Ok(ExitCode::SUCCESS)
}
