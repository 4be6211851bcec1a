//! Benchmark: exporting a month of a million charges (override with
//! `CHARGEGUARD_MONTHEND_CHARGES=100000`), then verifying the package. Books are written
//! in the default layouts (every charge of October 2026 with its invoice and its ledger
//! payment; one charge in a thousand never recorded, so the tie-out has findings to
//! explain), imported and reconciled; then each stage runs in a child process of its own
//! so that its peak memory (VmHWM) is its own. Prints seconds, rows per second and peak
//! MiB per stage, and the package's size.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chargeguard::export::{self, ExportRequest};
use chargeguard::import::{self, FileKind, ImportOptions};
use chargeguard::reconcile;
use chargeguard::store::Store;

/// Writes the three files for `n` charges spread over October 2026 (UTC).
fn write_books(dir: &Path, n: usize) -> [PathBuf; 3] {
    let start = jiff::Timestamp::from_second(1_790_812_800).unwrap(); // 2026-10-01T00:00:00Z
    let month_seconds = 31 * 86_400 - 120;
    let mut invoices =
        String::from("invoice_number,customer_id,amount,currency,issued_at,due_at,status\n");
    let mut payments =
        String::from("payment_id,invoice_number,kind,amount,currency,recorded_at,gateway_id\n");
    let mut stripe = String::from(
        "id,Description,Created date (UTC),Amount,Amount Refunded,Currency,Fee,Status,Customer ID,Customer Email,Captured,PaymentIntent ID,invoice_number (metadata)\n",
    );
    for i in 0..n {
        let at = start
            .checked_add(jiff::SignedDuration::from_secs(
                (i as i64 * month_seconds) / n as i64,
            ))
            .unwrap();
        let paid = at.checked_add(jiff::SignedDuration::from_secs(60)).unwrap();
        let cents = 500 + (i % 20_000) as i64;
        let amount = format!("{}.{:02}", cents / 100, cents % 100);
        let fee = cents * 29 / 1000 + 30;
        let fee = format!("{}.{:02}", fee / 100, fee % 100);
        let (currency, upper) = if i % 4 == 0 {
            ("eur", "EUR")
        } else {
            ("usd", "USD")
        };
        let _ = writeln!(
            invoices,
            "INV-{i:08},cus_{:06},{amount},{upper},{},,paid",
            i % 100_000,
            at.strftime("%Y-%m-%dT%H:%M:%SZ")
        );
        if i % 1000 != 999 {
            let _ = writeln!(
                payments,
                "pay_{i:08},INV-{i:08},payment,{amount},{upper},{},ch_bench{i:016}",
                paid.strftime("%Y-%m-%dT%H:%M:%SZ")
            );
        }
        let _ = writeln!(
            stripe,
            "ch_bench{i:016},Invoice INV-{i:08},{},{amount},0.00,{currency},{fee},Paid,cus_{:06},,true,pi_bench{i:016},INV-{i:08}",
            at.strftime("%Y-%m-%d %H:%M:%S"),
            i % 100_000
        );
    }
    let paths = [
        dir.join("invoices.csv"),
        dir.join("payments.csv"),
        dir.join("stripe.csv"),
    ];
    for (path, text) in paths.iter().zip([invoices, payments, stripe]) {
        std::fs::write(path, text).expect("write books");
    }
    paths
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Runs one stage in this process and prints `stage seconds rows peak_mib` on stdout.
fn child(stage: &str, db: &Path, arg: Option<&Path>) {
    let now = jiff::Timestamp::now();
    let mut store = Store::open(db).expect("open store");
    let start = Instant::now();
    let rows: u64 = match stage {
        "invoices" | "payments" | "stripe" => {
            let kind = match stage {
                "invoices" => FileKind::Invoices,
                "payments" => FileKind::Payments,
                _ => FileKind::StripePayments,
            };
            let options = ImportOptions {
                dry_run: false,
                zone: jiff::tz::TimeZone::UTC,
                mapping: None,
                ..ImportOptions::default()
            };
            let report = import::import_file(&mut store, kind, arg.expect("file"), &options, now)
                .expect("import");
            report.counts.new + report.counts.changed + report.counts.unchanged
        }
        "reconcile" => {
            let summary = reconcile::run(&mut store, now).expect("reconcile");
            summary.new + summary.still_open
        }
        "export" => {
            let out = arg.expect("out folder").to_path_buf();
            let report = export::export_month(
                &mut store,
                &ExportRequest {
                    month: "2026-10".into(),
                    tz: Some("UTC".into()),
                    as_of: None,
                    out,
                },
            )
            .expect("export");
            report
                .manifest
                .files
                .iter()
                .find(|f| f.name == "gateway_charges.csv")
                .and_then(|f| f.records)
                .unwrap_or(0)
        }
        "verify" => {
            export::verify(arg.expect("package"))
                .expect("verify")
                .records
        }
        other => panic!("unknown stage {other}"),
    };
    support::report(stage, start, rows);
}

#[global_allocator]
static ALLOCATOR: chargeguard::Allocator = chargeguard::Allocator;

fn main() {
    if let Some((stage, db, arg)) = support::stage_args() {
        child(&stage, &db, arg.as_deref());
        return;
    }
    let n: usize = std::env::var("CHARGEGUARD_MONTHEND_CHARGES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let start = Instant::now();
    let [invoices, payments, stripe] = write_books(dir.path(), n);
    println!(
        "{:>9} | {:<17} | {:>9} | {:>10} | {:>12} | {:>9}",
        "charges", "stage", "rows", "seconds", "rows/s", "peak MiB"
    );
    println!(
        "{n:>9} | {:<17} | {:>9} | {:>10.3} | {:>12} | {:>9}",
        "write books",
        n * 3,
        start.elapsed().as_secs_f64(),
        "",
        ""
    );
    let db = dir.path().join("bench.db");
    let package = dir.path().join("close-2026-10");
    for (stage, label, arg) in [
        ("invoices", "import invoices", Some(invoices.as_path())),
        ("payments", "import payments", Some(payments.as_path())),
        ("stripe", "import stripe", Some(stripe.as_path())),
        ("reconcile", "reconcile + store", None),
        ("export", "export month", Some(package.as_path())),
        ("verify", "export verify", Some(package.as_path())),
    ] {
        let (secs, rows, peak) = support::run_stage(stage, &db, arg);
        let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
        println!("{n:>9} | {label:<17} | {rows:>9} | {secs:>10.3} | {rate:>12.0} | {peak:>9.1}");
    }
    let zip = std::fs::metadata(export::zip_path_of(&package)).map_or(0, |m| m.len());
    println!(
        "package: folder {:.1} MiB, zip {:.1} MiB",
        dir_bytes(&package) as f64 / 1_048_576.0,
        zip as f64 / 1_048_576.0
    );
}
