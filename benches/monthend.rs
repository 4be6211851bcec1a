//! Benchmark: exporting a month of a million charges (override with
//! `CHARGEGUARD_MONTHEND_CHARGES=100000`), then verifying the package. Books are written
//! in the default layouts (every charge of October 2026 with its invoice and its ledger
//! payment; one charge in a thousand never recorded, so the tie-out has findings to
//! explain), imported and reconciled; then each stage runs in a child process of its own
//! so that its peak memory (VmHWM) is its own. Prints seconds, rows per second and peak
//! MiB per stage, and the package's size. The export's peer, from the same run, is the
//! `sqlite3` program writing the same tables of the same month as CSV files (`sqlite3
//! dump`; skipped where `sqlite3` is not installed): issue 17 asks the package for at most
//! twice its time, and under 256 MiB.

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
        "sqlite3" => {
            let out = arg.expect("out folder");
            std::fs::create_dir_all(out).expect("peer folder");
            sqlite3_dump(db, out)
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

/// The month's money tables and what the package names beside them, as `sqlite3` writes
/// them to CSV files in `out`, sorted as the package sorts them; the rows written.
fn sqlite3_dump(db: &Path, out: &Path) -> u64 {
    let (start, end) = (1_790_812_800, 1_793_491_200); // October 2026, UTC
    let inside = |column: &str| format!("{column} >= {start} AND {column} < {end}");
    let queries = [
        (
            "invoices",
            format!(
                "SELECT * FROM invoices WHERE {} ORDER BY invoice_number",
                inside("issued_at")
            ),
        ),
        (
            "ledger_payments",
            format!(
                "SELECT * FROM ledger_entries WHERE {} ORDER BY recorded_at, payment_id",
                inside("recorded_at")
            ),
        ),
        (
            "adjustments",
            format!(
                "SELECT * FROM adjustments WHERE {} ORDER BY id",
                inside("effective_at")
            ),
        ),
        (
            "gateway_charges",
            format!(
                "SELECT * FROM gateway_charges WHERE {} ORDER BY created_at, charge_id",
                inside("created_at")
            ),
        ),
        (
            "gateway_refunds",
            format!(
                "SELECT * FROM gateway_refunds WHERE {} ORDER BY created_at, refund_id",
                inside("created_at")
            ),
        ),
        ("findings", "SELECT * FROM findings ORDER BY id".to_string()),
        ("actions", "SELECT * FROM actions ORDER BY id".to_string()),
        (
            "audit_log",
            format!(
                "SELECT * FROM audit_log WHERE {} ORDER BY seq",
                inside("at")
            ),
        ),
    ];
    let mut script = String::from(".headers on\n.mode csv\n");
    for (name, query) in &queries {
        let _ = writeln!(
            script,
            ".once '{}'",
            out.join(format!("{name}.csv")).display()
        );
        let _ = writeln!(script, "{query};");
    }
    let mut child = std::process::Command::new("sqlite3")
        .arg("-bail")
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run sqlite3");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write the script");
    assert!(child.wait().expect("sqlite3").success(), "sqlite3 failed");
    queries
        .iter()
        .map(|(name, _)| {
            let text = std::fs::read_to_string(out.join(format!("{name}.csv"))).unwrap_or_default();
            text.lines().count().saturating_sub(1) as u64
        })
        .sum()
}

fn has_sqlite3() -> bool {
    std::process::Command::new("sqlite3")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
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
    let tmp = tempfile::tempdir().expect("temp dir");
    // `CHARGEGUARD_BENCH_KEEP=DIR` leaves the books and the package in `DIR` to look at.
    let kept = std::env::var_os("CHARGEGUARD_BENCH_KEEP").map(PathBuf::from);
    if let Some(keep) = &kept {
        let _ = std::fs::remove_dir_all(keep);
        std::fs::create_dir_all(keep).expect("keep folder");
    }
    let dir = kept.as_deref().unwrap_or(tmp.path());
    let start = Instant::now();
    let [invoices, payments, stripe] = write_books(dir, n);
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
    let db = dir.join("bench.db");
    let package = dir.join("close-2026-10");
    let peer = dir.join("sqlite3-dump");
    let mut stages = vec![
        ("invoices", "import invoices", Some(invoices.as_path())),
        ("payments", "import payments", Some(payments.as_path())),
        ("stripe", "import stripe", Some(stripe.as_path())),
        ("reconcile", "reconcile + store", None),
        ("export", "export month", Some(package.as_path())),
        ("verify", "export verify", Some(package.as_path())),
    ];
    if has_sqlite3() {
        stages.push(("sqlite3", "sqlite3 dump", Some(peer.as_path())));
    }
    let mut seconds = std::collections::HashMap::new();
    for (stage, label, arg) in stages {
        let (secs, rows, peak) = support::run_stage(stage, &db, arg);
        seconds.insert(stage, secs);
        let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
        // The peer's memory is sqlite3's, not this child's: not shown.
        let peak = if stage == "sqlite3" {
            "—".to_string()
        } else {
            format!("{peak:.1}")
        };
        println!("{n:>9} | {label:<17} | {rows:>9} | {secs:>10.3} | {rate:>12.0} | {peak:>9}");
    }
    if let (Some(export), Some(dump)) = (seconds.get("export"), seconds.get("sqlite3")) {
        println!(
            "export month ÷ sqlite3 dump: {:.2} (issue 17 asks at most 2)",
            export / dump
        );
    }
    let zip = std::fs::metadata(export::zip_path_of(&package)).map_or(0, |m| m.len());
    println!(
        "package: folder {:.1} MiB, zip {:.1} MiB",
        dir_bytes(&package) as f64 / 1_048_576.0,
        zip as f64 / 1_048_576.0
    );
}
