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
use chargeguard::accounting_sync::{self, BooksProgress, BooksSyncOptions, System, connecting};
use chargeguard::books::BooksSecret;
use chargeguard::books::redirect::RedirectListener;
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
    /// The account Stripe's money goes through (a clearing account or the bank). Xero: its
    /// code in the chart of accounts; payments Chargeguard records are paid into it.
    /// QuickBooks: its Id; refunds Chargeguard records are paid from it, and payments
    /// deposited into it.
    PaymentAccount(PaymentAccountArgs),
}

#[derive(Debug, clap::Args)]
struct PaymentAccountArgs {
    /// Xero: the account's code, as its chart of accounts shows it (like 090). QuickBooks:
    /// the account's Id (like 35).
    code: String,
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
        BooksCommand::PaymentAccount(a) => {
            let mut store = ctx.open_store()?;
            let status = connecting::set_payment_account(&mut store, &a.code)?;
            println!("{}", account_words(&status, a.code.trim()));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What the chosen account is used for, in the system's words.
fn account_words(status: &connecting::Status, account: &str) -> String {
    match status.system {
        System::Quickbooks => format!(
            "refunds Chargeguard records in {status} are paid from account {account}, and payments it records are deposited into it"
        ),
        System::Xero => {
            format!(
                "payments Chargeguard records in {status} are paid into account {account}, and refunds it records are paid from it"
            )
        }
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
    let mut store = ctx.open_store()?;
    // The keyring first: a missing one is reported before anyone pastes a secret.
    let keyring = Keyring::open()?;
    let system = match args.system {
        Which::Quickbooks => System::Quickbooks,
        Which::Xero => System::Xero,
    };
    let client_secret = match system {
        System::Quickbooks => {
            let secret = match std::env::var(CLIENT_SECRET_ENV) {
                Ok(s) if !s.trim().is_empty() => s,
                _ => read_line("Paste the Intuit app's client secret")?,
            };
            anyhow::ensure!(
                !secret.trim().is_empty(),
                "no client secret: set {CLIENT_SECRET_ENV} or paste it on the first line"
            );
            Some(BooksSecret::new(secret))
        }
        System::Xero => None,
    };
    let pending = connecting::Pending::begin(connecting::ConnectRequest {
        system,
        client_id: args.client_id,
        client_secret,
        redirect_uri: args.redirect_uri,
        tenant: args.tenant,
        base: args.base,
    })?;
    eprintln!(
        "{}",
        match system {
            System::Quickbooks => "Open this address, choose the company and click Connect:",
            System::Xero => "Open this address, sign in to Xero and allow access:",
        }
    );
    let rt = runtime()?;
    let redirect = consent_answer(
        &rt,
        args.listen,
        pending.redirect_uri(),
        pending.url(),
        pending.state(),
    )?;
    let connected = rt.block_on(pending.finish(
        &mut store,
        &redirect,
        &keyring,
        ctx.http_timeout,
        jiff::Timestamp::now(),
    ))?;
    println!("connected to {connected}; its tokens are in this computer's keyring");
    Ok(ExitCode::SUCCESS)
}

fn sync(ctx: &Ctx, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let keyring = accounting_sync::keyring(&mut store)?;
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
    match connecting::status(&mut store)? {
        None => {
            println!("not connected: run `chargeguard books connect quickbooks` (or `xero`)");
        }
        Some(status) => match &status.reconnect {
            None => {
                println!("connected to {status}");
                match &status.payment_account {
                    Some(account) => println!("{}", account_words(&status, account)),
                    None => println!(
                        "no account chosen for Stripe's money there (fixes that record a {} wait for one): `chargeguard books payment-account {}`",
                        match status.system {
                            System::Quickbooks => "refund",
                            System::Xero => "payment",
                        },
                        match status.system {
                            System::Quickbooks => "ID",
                            System::Xero => "CODE",
                        }
                    ),
                }
            }
            Some(reason) => {
                println!("{status}: connect again ({reason}; `chargeguard books connect`)");
                return Ok(ExitCode::from(1));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn disconnect(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let keyring = accounting_sync::keyring(&mut store)?;
    let was = runtime()?.block_on(connecting::disconnect(
        &mut store,
        &keyring,
        ctx.http_timeout,
        jiff::Timestamp::now(),
    ))?;
    match was {
        true => println!("disconnected; the synced invoices and ledger stay"),
        false => println!("not connected"),
    }
    Ok(ExitCode::SUCCESS)
}
