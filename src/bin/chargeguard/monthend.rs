//! `export month`, `export verify`, `close` and `reopen`: month-end.
//!
//! Exit codes: 0 done; 1 `export verify` found something that does not hold; 2 an error
//! (an export whose books do not tie out is one: nothing is written).

use std::path::PathBuf;
use std::process::ExitCode;

use chargeguard::export::{self, ExportRequest};
use chargeguard::money::{Currency, Money};
use chargeguard::period;

use crate::actions::passphrase;
use crate::{Ctx, output};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    what: ExportWhat,
}

#[derive(Debug, clap::Subcommand)]
enum ExportWhat {
    /// Write the audit package of one month: CSV files, a workbook, summary.html and
    /// manifest.json, in a folder and the same as a .zip beside it.
    Month {
        /// The month, as YYYY-MM.
        month: String,
        /// The folder to create (it must not exist yet); the zip goes beside it.
        #[arg(long)]
        out: PathBuf,
        /// The business's time zone (IANA name), overriding the `timezone` setting.
        #[arg(long)]
        tz: Option<String>,
        /// For an open period: the instant the package speaks for (ISO 8601 with offset).
        /// A closed period speaks as of its close.
        #[arg(long)]
        as_of: Option<jiff::Timestamp>,
    },
    /// Check a package (its folder or its .zip): every file's hash, every total re-added.
    Verify { package: PathBuf },
    /// Write every ledger fix as a CSV the invoicing app can import back, each row with
    /// its idempotency key.
    Adjustments {
        /// The CSV file to write.
        #[arg(long)]
        out: PathBuf,
    },
}

fn money(minor: i64, code: &str) -> String {
    Currency::from_code(code)
        .map(|c| Money::from_minor(minor, c).to_string())
        .unwrap_or_else(|_| format!("{minor} {code}"))
}

pub fn export(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        ExportWhat::Adjustments { out } => {
            let mut store = ctx.open_store()?;
            let file = std::fs::File::create(&out)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
            let rows = chargeguard::export::adjustments::write_adjustments(&mut store, file)?;
            println!("{}: {rows} adjustment(s)", out.display());
            Ok(ExitCode::SUCCESS)
        }
        ExportWhat::Month {
            month,
            out,
            tz,
            as_of,
        } => {
            let mut store = ctx.open_store()?;
            let report = export::export_month(
                &mut store,
                &ExportRequest {
                    month,
                    tz,
                    as_of,
                    out,
                },
            )?;
            if ctx.json {
                output::json(&report)?;
                return Ok(ExitCode::SUCCESS);
            }
            output::line(&format!(
                "Exported {} ({}) to {} and {}",
                report.manifest.period,
                report.manifest.time_zone,
                report.folder.display(),
                report.zip.display()
            ))?;
            for c in &report.tie_out {
                output::line(&format!(
                    "  {}: gateway net {}, ledger net {}, difference {} explained by {} line(s)",
                    c.currency.to_uppercase(),
                    money(c.gateway_net, &c.currency),
                    money(c.ledger_net, &c.currency),
                    money(c.difference, &c.currency),
                    c.lines.values().filter(|v| **v != 0).count()
                ))?;
            }
            for c in &report.clearing {
                output::line(&format!(
                    "  {}: Stripe clearing opens at {}, closes at {}",
                    c.currency.to_uppercase(),
                    money(c.opening, &c.currency),
                    money(c.closing, &c.currency)
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        ExportWhat::Verify { package } => match export::verify(&package) {
            Ok(report) => {
                if ctx.json {
                    output::json(&report)?;
                } else {
                    output::line(&format!(
                        "Package {} holds: {} files, {} records, every hash matches and every total adds up again.",
                        report.period, report.files, report.records
                    ))?;
                    for (currency, difference) in &report.differences {
                        output::line(&format!(
                            "  {}: difference {difference}, explained in full",
                            currency.to_uppercase()
                        ))?;
                    }
                    for (currency, closing) in &report.clearing {
                        output::line(&format!(
                            "  {}: Stripe clearing closes at {closing}, every line traced to its balance transactions",
                            currency.to_uppercase()
                        ))?;
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(problem) => {
                if ctx.json {
                    output::json(&problem)?;
                }
                eprintln!("verify failed: {problem}");
                Ok(ExitCode::from(1))
            }
        },
    }
}

#[derive(Debug, clap::Args)]
pub struct CloseArgs {
    /// The month, as YYYY-MM.
    month: String,
    /// The approver who signs the period off (passphrase from the terminal or stdin).
    #[arg(long)]
    by: String,
    /// The business's time zone, overriding the `timezone` setting.
    #[arg(long)]
    tz: Option<String>,
}

pub fn close(ctx: &Ctx, args: CloseArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let secret = passphrase(&format!("Passphrase for {}: ", args.by))?;
    let report = export::close_period(
        &mut store,
        &args.month,
        args.tz.as_deref(),
        &args.by,
        &secret,
        jiff::Timestamp::now(),
    )?;
    if ctx.json {
        output::json(&report)?;
    } else {
        output::line(&format!(
            "Closed {} ({}) by {}; audit entry {}",
            report.close.period, report.close.time_zone, report.close.closed_by, report.audit_seq
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ReopenArgs {
    /// The month, as YYYY-MM.
    month: String,
    /// The approver who reopens it (passphrase from the terminal or stdin).
    #[arg(long)]
    by: String,
    /// Why the period must change; kept in the audit log.
    #[arg(long)]
    reason: String,
}

pub fn reopen(ctx: &Ctx, args: ReopenArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let secret = passphrase(&format!("Passphrase for {}: ", args.by))?;
    let report = period::reopen(
        &mut store,
        &args.month,
        &args.by,
        &secret,
        &args.reason,
        jiff::Timestamp::now(),
    )?;
    if ctx.json {
        output::json(&report)?;
    } else {
        output::line(&format!(
            "Reopened {} by {}; audit entry {}",
            report.close.period, args.by, report.audit_seq
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
