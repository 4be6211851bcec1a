//! Benchmark: a bookkeeper's morning against rebuilding the books (issue 17, target 1).
//!
//! Generated books at 200k and 1M invoices (override with `CHARGEGUARD_BENCH_SIZES`), each
//! file split by its own date column into the history and the day (its newest 1%). In one
//! run, each stage in a child process of its own (its peak memory is its own):
//! - **rebuild**: the three whole files imported into an empty store and reconciled;
//! - **the day**: the history imported and reconciled first (not timed), then the day's
//!   three files imported and what changed reconciled: the figure, printed beside the
//!   rebuild's as a share of it (target: at most 5%);
//! - **whole reconcile** of those same books afterwards (`reconcile --full`), the peer of
//!   the day's reconcile.

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chargeguard::demo::{self, DemoSpec};
use chargeguard::reconcile::{self, RunScope};
use chargeguard::store::Store;

/// Runs one stage in this process and prints `stage seconds rows peak_mib` on stdout.
fn child(stage: &str, db: &Path, file: Option<&Path>) {
    let mut store = Store::open(db).expect("open store");
    let start = Instant::now();
    if let Some(rows) = support::import_stage(stage, &mut store, file) {
        support::report(stage, start, rows);
        return;
    }
    let now = jiff::Timestamp::now();
    let summary = match stage {
        "reconcile" => reconcile::run(&mut store, now),
        "reconcile-full" => reconcile::run_whole(&mut store, now),
        other => panic!("unknown stage {other}"),
    }
    .expect("reconcile");
    let rows = match summary.scope {
        RunScope::Whole => u64::MAX,
        RunScope::Changed(size) => size.invoices,
    };
    support::report(stage, start, rows);
}

/// Splits `file` by the text of its `column` (ISO instants sort as text) into the oldest
/// rows and the newest `share` of them, written beside it as `.history.csv` and
/// `.day.csv`. Returns (history, day).
fn split(file: &Path, column: &str, share: f64) -> (PathBuf, PathBuf) {
    let mut reader = csv::Reader::from_path(file).expect("read generated file");
    let headers = reader.headers().expect("headers").clone();
    let at = headers
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("{} has no column {column}", file.display()));
    let mut rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    rows.sort_by(|a, b| a[at].cmp(&b[at]));
    let day_rows = ((rows.len() as f64) * share).ceil() as usize;
    let cut = rows.len() - day_rows;
    let path = |suffix: &str| file.with_extension(format!("{suffix}.csv"));
    let (history, day) = (path("history"), path("day"));
    for (target, part) in [(&history, &rows[..cut]), (&day, &rows[cut..])] {
        let mut writer = csv::Writer::from_path(target).expect("write split file");
        writer.write_record(&headers).expect("header");
        for row in part {
            writer.write_record(row).expect("row");
        }
        writer.flush().expect("flush");
    }
    (history, day)
}

fn fresh(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

/// Runs `stages` on `db` in order, printing each; returns the summed seconds and the
/// highest peak.
fn timed(n: usize, db: &Path, stages: &[(&str, &str, Option<&Path>)]) -> (f64, f64) {
    let (mut total, mut peak) = (0.0, 0.0f64);
    for &(stage, label, file) in stages {
        let (secs, rows, mib) = support::run_stage(stage, db, file);
        let rows = if rows == u64::MAX {
            "all".to_string()
        } else {
            rows.to_string()
        };
        println!("{n:>9} | {label:<32} | {rows:>9} | {secs:>9.3} | {mib:>9.1}");
        total += secs;
        peak = peak.max(mib);
    }
    (total, peak)
}

#[global_allocator]
static ALLOCATOR: chargeguard::Allocator = chargeguard::Allocator;

fn main() {
    if let Some((stage, db, arg)) = support::stage_args() {
        child(&stage, &db, arg.as_deref());
        return;
    }
    let sizes = support::sizes("200000,1000000");
    println!(
        "{:>9} | {:<32} | {:>9} | {:>9} | {:>9}",
        "invoices", "stage", "rows", "seconds", "peak MiB"
    );
    let mut results = Vec::new();
    for n in sizes {
        // CHARGEGUARD_BENCH_KEEP=DIR keeps each size's files and stores in DIR/N, for
        // measuring one stage again: `daily --stage reconcile DIR/N/daily.db`.
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = std::env::var_os("CHARGEGUARD_BENCH_KEEP")
            .map_or(temp.path().to_path_buf(), |k| {
                PathBuf::from(k).join(n.to_string())
            });
        std::fs::create_dir_all(&dir).expect("bench dir");
        let files =
            demo::generate(&dir, &DemoSpec::scale(n), jiff::Timestamp::now()).expect("generate");
        let (invoices_old, invoices_day) = split(&files.invoices, "issued_at", 0.01);
        let (payments_old, payments_day) = split(&files.payments, "recorded_at", 0.01);
        let (stripe_old, stripe_day) = split(&files.stripe_payments, "Created date (UTC)", 0.01);

        let rebuild_db = dir.join("rebuild.db");
        fresh(&rebuild_db);
        let (rebuild, rebuild_peak) = timed(
            n,
            &rebuild_db,
            &[
                (
                    "invoices",
                    "rebuild: import invoices",
                    Some(&files.invoices),
                ),
                (
                    "payments",
                    "rebuild: import payments",
                    Some(&files.payments),
                ),
                (
                    "stripe",
                    "rebuild: import stripe",
                    Some(&files.stripe_payments),
                ),
                ("reconcile", "rebuild: reconcile (whole)", None),
            ],
        );
        let daily_db = dir.join("daily.db");
        fresh(&daily_db);
        timed(
            n,
            &daily_db,
            &[
                ("invoices", "history: import invoices", Some(&invoices_old)),
                ("payments", "history: import payments", Some(&payments_old)),
                ("stripe", "history: import stripe", Some(&stripe_old)),
                ("reconcile", "history: reconcile (whole)", None),
            ],
        );
        let (day, day_peak) = timed(
            n,
            &daily_db,
            &[
                ("invoices", "day: import invoices", Some(&invoices_day)),
                ("payments", "day: import payments", Some(&payments_day)),
                ("stripe", "day: import stripe", Some(&stripe_day)),
                ("reconcile", "day: reconcile what changed", None),
            ],
        );
        let (whole, _) = timed(
            n,
            &daily_db,
            &[("reconcile-full", "peer: reconcile --full, same books", None)],
        );
        results.push((n, rebuild, rebuild_peak, day, day_peak, whole));
    }
    println!();
    println!(
        "{:>9} | {:>11} | {:>11} | {:>12} | {:>14} | {:>13}",
        "invoices", "rebuild s", "the day s", "day/rebuild", "target", "peak MiB"
    );
    for (n, rebuild, rebuild_peak, day, day_peak, whole) in results {
        println!(
            "{n:>9} | {rebuild:>11.3} | {day:>11.3} | {:>11.1}% | {:>14} | {:>13.1}",
            100.0 * day / rebuild,
            "<= 5%",
            rebuild_peak.max(day_peak)
        );
        println!(
            "{:>9}   (a whole reconcile of the same books took {whole:.3} s)",
            ""
        );
    }
}
