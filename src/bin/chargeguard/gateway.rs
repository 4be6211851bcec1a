//! `chargeguard connect`, `chargeguard sync` and `chargeguard payouts`: the gateway
//! commands.
//!
//! `connect` reads the secret key from standard input (never from an argument, which would
//! land in the shell history and the process list) and hands it to the core, which checks
//! it and files it in the keyring. `sync` shows a progress bar on a terminal and plain
//! lines otherwise (scripts and tests read them). Neither prints the key: only its mask.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chargeguard::gateway::stripe::{RetryPolicy, STRIPE_API_BASE, StripeClient};
use chargeguard::secret::{self, Keyring, SecretKey};
use chargeguard::store::Store;
use chargeguard::sync::{self, ObjectKind, SyncError, SyncOptions, SyncProgress};

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// The gateway's API base: Stripe's, or a sandbox's `http://127.0.0.1:PORT`.
    #[arg(long, default_value = STRIPE_API_BASE)]
    pub api_base: String,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Objects per page (1-100); smaller pages commit more often on a slow link.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub page_size: u8,
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn connect(ctx: &Ctx, args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let timeout = ctx.http_timeout;
    let mut store = ctx.open_store()?;
    let (key, keyring) = match secret::key_from_env()? {
        Some(key) => {
            eprintln!(
                "using the key from {} ({key}); nothing is written to the keyring",
                secret::API_KEY_ENV
            );
            (key, None)
        }
        None => {
            // Open the keyring before asking for the key: a missing keyring is reported
            // before anyone pastes a secret for nothing.
            let keyring = Keyring::open()?;
            (read_key()?, Some(keyring))
        }
    };
    let mask = key.masked();
    let connection = runtime()?.block_on(sync::connect(
        &mut store,
        &args.api_base,
        key,
        keyring.as_ref(),
        timeout,
    ))?;
    println!(
        "connected to {} with key {mask} (account {})",
        connection.api_base, connection.account
    );
    Ok(ExitCode::SUCCESS)
}

fn read_key() -> anyhow::Result<SecretKey> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Paste the secret key (sk_…) and press Enter: ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the key from standard input")?;
    Ok(SecretKey::new(&line)?)
}

/// A client for the store's gateway connection (`connect` must have run).
pub fn client(ctx: &Ctx, store: &mut Store) -> anyhow::Result<StripeClient> {
    let connection = sync::connection(store)?.ok_or(SyncError::NotConnected)?;
    let policy = RetryPolicy {
        max_attempts: ctx.http_attempts,
        ..RetryPolicy::default()
    };
    Ok(connection
        .client(ctx.http_timeout)?
        .with_retry_policy(policy))
}

pub fn sync(ctx: &Ctx, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let client = client(ctx, &mut store)?;
    let options = SyncOptions {
        page_size: args.page_size,
    };
    let now = jiff::Timestamp::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let report = runtime()?.block_on(sync::sync(
        &mut store,
        &client,
        now,
        options,
        |p: SyncProgress| match &bar {
            Some(bar) => bar.set_message(progress_line(&p)),
            None => {
                println!("{}", progress_line(&p));
                std::io::stdout().flush().ok();
            }
        },
    ));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("synced: {report}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct PayoutsArgs {}

/// One payout as `payouts --json` prints it (DESIGN.md's fields, then what its balance
/// transactions add up to).
#[derive(Debug, serde::Serialize)]
struct PayoutLine {
    id: String,
    amount_minor: i64,
    currency: String,
    arrival_date: jiff::Timestamp,
    status: &'static str,
    automatic: bool,
    /// The id of the bank line it arrived as, or none.
    deposit: Option<String>,
    /// Where it stands against the bank: `deposited`, `not_yet_in_the_bank`, `missing`
    /// or `not_expected` (not paid yet, failed or canceled).
    bank: &'static str,
    deposit_account: Option<String>,
    deposit_booked_on: Option<String>,
    /// The deposit less the payout (a bank fee, a conversion).
    deposit_difference_minor: Option<i64>,
    /// Its balance transactions stored (its own debit left out), and their net total.
    transactions: u64,
    transactions_net_minor: i64,
    failure_code: Option<String>,
}

pub fn payouts(ctx: &Ctx, _args: PayoutsArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let rows = chargeguard::deposits::payouts(&mut store)?;
    let lines: Vec<PayoutLine> = rows
        .into_iter()
        .map(|row| PayoutLine {
            id: row.payout.id,
            amount_minor: row.payout.amount.minor(),
            currency: row.payout.amount.currency().lower(),
            arrival_date: row.payout.arrival_date,
            status: row.payout.status.as_str(),
            automatic: row.payout.automatic,
            deposit: row.deposit.as_ref().map(|d| d.line_id.clone()),
            bank: row.bank,
            deposit_account: row.deposit.as_ref().map(|d| d.account.clone()),
            deposit_booked_on: row.deposit.as_ref().map(|d| d.booked_on.to_string()),
            deposit_difference_minor: row.deposit.as_ref().map(|d| d.difference_minor),
            transactions: row.transactions,
            transactions_net_minor: row.transactions_net_minor,
            failure_code: row.payout.failure_code,
        })
        .collect();
    if ctx.json {
        return crate::output::json(&lines).map(|()| ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        println!("No payouts. `chargeguard sync` pulls them from the gateway.");
        return Ok(ExitCode::SUCCESS);
    }
    let table = crate::output::table(
        &[
            "payout",
            "arrives",
            "amount",
            "status",
            "transactions",
            "they add up to",
            "bank",
        ],
        lines.iter().map(|l| {
            let money = |minor| {
                chargeguard::money::Currency::from_code(&l.currency)
                    .map(|c| chargeguard::money::Money::from_minor(minor, c).to_string())
                    .unwrap_or_else(|_| format!("{minor} {}", l.currency))
            };
            let bank = match (&l.deposit_booked_on, l.deposit_difference_minor) {
                (Some(on), Some(0)) => format!("deposited {on}"),
                (Some(on), Some(d)) => format!("deposited {on}, {} off", money(d)),
                _ => l.bank.replace('_', " "),
            };
            vec![
                l.id.clone(),
                l.arrival_date.strftime("%Y-%m-%d").to_string(),
                money(l.amount_minor),
                l.status.to_string(),
                l.transactions.to_string(),
                money(l.transactions_net_minor),
                bank,
            ]
        }),
    );
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

fn progress_line(p: &SyncProgress) -> String {
    let kind = match p.kind {
        ObjectKind::Charge => "charges",
        ObjectKind::Refund => "refunds",
        ObjectKind::Payout => "payouts",
        ObjectKind::BalanceTransaction => "balance transactions",
        ObjectKind::Dispute => "disputes",
    };
    format!(
        "{kind}: page {} committed, {} fetched, {} new, {} changed",
        p.pages, p.fetched, p.new, p.changed
    )
}
