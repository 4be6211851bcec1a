//! `chargeguard`: the command line over the core, for scripts, scheduled runs and tests.
//!
//! Each command parses its arguments, calls the core and prints the result: a readable
//! table by default, JSON with `--json`. It holds no business rule of its own. Errors end
//! the program with a non-zero exit code and a message that says what to do next.

mod actions;
mod books;
mod check;
mod demo;
mod findings;
mod gateway;
mod import;
mod monthend;
mod output;
mod sandbox;
mod ui_server;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "chargeguard",
    version,
    about = "Reconcile a payment gateway with your invoices and ledger, and fix what does not add up without ever charging twice."
)]
struct Cli {
    /// The store file (default: chargeguard.db in the app's data folder).
    #[arg(long, global = true, env = "CHARGEGUARD_DB")]
    db: Option<PathBuf>,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,

    /// Timeout for every gateway call, in seconds.
    #[arg(long, global = true, default_value_t = 30)]
    http_timeout: u64,

    /// Attempts per gateway call, the first included (1: never retry). Retries of a
    /// refund or re-charge always reuse its idempotency key.
    #[arg(long, global = true, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10))]
    http_attempts: u32,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import invoices, ledger payments, a Stripe payments export (CSV) or a bank statement.
    Import(import::ImportArgs),
    /// Save, list or show column mappings for other invoicing apps' layouts.
    Mapping(import::MappingArgs),
    /// The invoicing apps' exports read with no mapping, or one's layout as TOML.
    Layouts(import::LayoutsArgs),
    /// Set the business's defaults: the currency of files without one.
    Settings(import::SettingsArgs),
    /// Lay the gateway beside the ledger and update the findings (what changed since the
    /// last run; `--full` for every row).
    Reconcile(findings::ReconcileArgs),
    /// List findings.
    Findings(findings::FindingsArgs),
    /// Build a demo store full of realistic incidents, reconcile it and show the findings.
    Demo(demo::DemoArgs),
    /// Run the sandbox gateway, a local stand-in for Stripe.
    Sandbox(sandbox::SandboxArgs),
    /// Propose a finding's fix as an action.
    Propose(actions::ProposeArgs),
    /// Propose a guarded re-charge of an unpaid invoice.
    Recharge(actions::RechargeArgs),
    /// Add or list the people who approve actions.
    User(actions::UserArgs),
    /// Approve an action (passphrase from the terminal, or standard input).
    Approve(actions::ApproveArgs),
    /// Execute an approved action, exactly once.
    Execute(actions::ExecuteArgs),
    /// List every action with its state and key.
    Actions,
    /// Settle every action whose outcome is unknown.
    Recover,
    /// Cancel an action that has not started.
    Cancel(actions::CancelArgs),
    /// Dismiss a finding that is not a problem, with a reason.
    Dismiss(actions::DismissArgs),
    /// Verify or print the audit log.
    Audit(actions::AuditArgs),
    /// Scheduled run: sync, recover, reconcile, report what is new (exit 10 when something is).
    Check,
    /// Check a gateway secret key (read from stdin) and keep it in the OS keyring.
    Connect(gateway::ConnectArgs),
    /// Pull the gateway's charges, refunds and payouts into the store.
    Sync(gateway::SyncArgs),
    /// List the gateway's payouts and what their balance transactions add up to.
    Payouts(gateway::PayoutsArgs),
    /// Connect and sync the accounting system the books are kept in (QuickBooks Online).
    Books(books::BooksArgs),
    /// List the bank statement lines imported.
    Bank,
    /// Write or check a month-end audit package.
    Export(monthend::ExportArgs),
    /// Close a month: no new actions or ledger fixes dated inside it.
    Close(monthend::CloseArgs),
    /// Reopen a closed month, with a reason.
    Reopen(monthend::ReopenArgs),
    /// Serve the app's API and its web front end on loopback (browser tests, no desktop).
    UiServer(ui_server::UiServerArgs),
}

/// What every command may need: where the store is and how to print.
pub struct Ctx {
    pub db: Option<PathBuf>,
    pub json: bool,
    pub http_timeout: std::time::Duration,
    pub http_attempts: u32,
}

impl Ctx {
    /// The store path: `--db`, else the app's data folder.
    pub fn db_path(&self) -> anyhow::Result<PathBuf> {
        match &self.db {
            Some(path) => Ok(path.clone()),
            None => {
                let dir = data_dir()?;
                chargeguard::places::adopt_legacy_books(&dir).with_context(|| {
                    format!(
                        "moving the books an earlier desktop version kept into {}",
                        dir.display()
                    )
                })?;
                Ok(chargeguard::places::real_store(&dir))
            }
        }
    }

    pub fn open_store(&self) -> anyhow::Result<chargeguard::store::Store> {
        let path = self.db_path()?;
        chargeguard::store::Store::open(&path)
            .with_context(|| format!("opening the store {}", path.display()))
    }
}

pub fn data_dir() -> anyhow::Result<PathBuf> {
    Ok(chargeguard::places::data_dir()?)
}

#[global_allocator]
static ALLOCATOR: chargeguard::Allocator = chargeguard::Allocator;

fn main() -> ExitCode {
    // Crash points for the kill tests, armed by the FAILPOINTS environment variable; not
    // compiled into a build without the `failpoints` feature.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    let ctx = Ctx {
        db: cli.db,
        json: cli.json,
        http_timeout: std::time::Duration::from_secs(cli.http_timeout),
        http_attempts: cli.http_attempts,
    };
    let result = match cli.command {
        Command::Import(args) => import::run(&ctx, args),
        Command::Mapping(args) => import::mapping(&ctx, args),
        Command::Layouts(args) => import::layouts(&ctx, args),
        Command::Settings(args) => import::settings(&ctx, args),
        Command::Reconcile(args) => findings::reconcile(&ctx, args),
        Command::Findings(args) => findings::list(&ctx, args),
        Command::Demo(args) => demo::run(&ctx, args),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Propose(args) => actions::propose(&ctx, args),
        Command::Recharge(args) => actions::recharge(&ctx, args),
        Command::User(args) => actions::user(&ctx, args),
        Command::Approve(args) => actions::approve(&ctx, args),
        Command::Execute(args) => actions::execute(&ctx, args),
        Command::Actions => actions::list(&ctx),
        Command::Recover => actions::recover(&ctx),
        Command::Cancel(args) => actions::cancel(&ctx, args),
        Command::Dismiss(args) => actions::dismiss(&ctx, args),
        Command::Audit(args) => actions::audit(&ctx, args),
        Command::Check => check::run(&ctx),
        Command::Connect(args) => gateway::connect(&ctx, args),
        Command::Sync(args) => gateway::sync(&ctx, args),
        Command::Payouts(args) => gateway::payouts(&ctx, args),
        Command::Books(args) => books::run(&ctx, args),
        Command::Bank => import::bank(&ctx),
        Command::Export(args) => monthend::export(&ctx, args),
        Command::Close(args) => monthend::close(&ctx, args),
        Command::Reopen(args) => monthend::reopen(&ctx, args),
        Command::UiServer(args) => ui_server::run(&ctx, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
