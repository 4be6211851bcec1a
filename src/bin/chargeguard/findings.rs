//! `chargeguard reconcile` and `chargeguard findings`.

use std::process::ExitCode;

use chargeguard::reconcile::{self, FindingKind};
use chargeguard::store::StoredFinding;
use chargeguard::store::{FindingFilter, FindingStatus};

use crate::{Ctx, output};

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// Look at every row of the books, not only what changed since the last run. The
    /// findings are the same; this is for peace of mind, and costs the whole books.
    #[arg(long)]
    full: bool,
}

pub fn reconcile(ctx: &Ctx, args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let now = jiff::Timestamp::now();
    let summary = if args.full {
        reconcile::run_whole(&mut store, now)?
    } else {
        reconcile::run(&mut store, now)?
    };
    if ctx.json {
        output::json(&summary)?;
    } else {
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct FindingsArgs {
    /// Only this kind (double_charge, orphan_charge, missing_charge, amount_mismatch,
    /// unrecorded_refund, duplicate_invoice, payout_missing_deposit, payout_unbalanced,
    /// deposit_without_payout, deposit_amount_differs, dispute_invoice_still_paid,
    /// dispute_lost_unrecorded).
    #[arg(long)]
    kind: Option<String>,
    /// Only open or only resolved findings.
    #[arg(long, value_parser = ["open", "resolved"])]
    status: Option<String>,
}

pub fn list(ctx: &Ctx, args: FindingsArgs) -> anyhow::Result<ExitCode> {
    let kind = match &args.kind {
        Some(k) => Some(FindingKind::parse(k).ok_or_else(|| {
            let kinds: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
            anyhow::anyhow!(
                "unknown finding kind `{k}`; use one of {}",
                kinds.join(", ")
            )
        })?),
        None => None,
    };
    let filter = FindingFilter {
        kind,
        status: args.status.as_deref().and_then(FindingStatus::parse),
    };
    let mut store = ctx.open_store()?;
    let findings = store.read(|tx| tx.findings(&filter))?;
    if ctx.json {
        output::json(&findings)?;
    } else {
        print_table(&findings);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_table(findings: &[StoredFinding]) {
    if findings.is_empty() {
        println!("No findings.");
        return;
    }
    let rows = findings.iter().map(|f| {
        vec![
            f.id.to_string(),
            f.kind.to_string(),
            f.status.to_string(),
            f.confidence.to_string(),
            f.invoice_number.clone().unwrap_or_else(|| "—".into()),
            f.amount.to_string(),
            f.charge_ids.join(" "),
            f.reason.clone(),
        ]
    });
    println!(
        "{}",
        output::table(
            &[
                "id",
                "kind",
                "status",
                "confidence",
                "invoice",
                "amount",
                "charges",
                "why"
            ],
            rows
        )
    );
}
