//! Benchmark: generated books at 10k, 100k and 1M invoices (override with
//! `CHARGEGUARD_BENCH_SIZES=10000,100000`), each stage in a child process of its own so
//! that its peak memory (VmHWM) is its own. Prints, per size: rows per second for each
//! file kind's import, the time to load the books from the store, the pure reconcile, and
//! applying the findings, and each stage's peak memory.
//!
//! Targets (DESIGN issue 3): 1M Stripe export rows imported in under 5 s, reconcile of 1M
//! invoices under 2 s, peak memory under 1 GiB.

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chargeguard::demo::{self, DemoSpec};
use chargeguard::reconcile;
use chargeguard::store::Store;

/// Runs one stage in this process and prints `stage seconds rows peak_mib` on stdout.
fn child(stage: &str, db: &Path, file: Option<&Path>) {
    let now = jiff::Timestamp::now();
    let mut store = Store::open(db).expect("open store");
    let start = Instant::now();
    if let Some(rows) = support::import_stage(stage, &mut store, file) {
        support::report(stage, start, rows);
        return;
    }
    let rows: u64 = match stage {
        "load" => {
            let books = reconcile::load_books(&mut store).expect("load");
            books.invoices.len() as u64
        }
        "reconcile" => {
            let books = reconcile::load_books(&mut store).expect("load");
            let start = Instant::now();
            let result = reconcile::reconcile(&books);
            println!(
                "reconcile {:.3} {} {:.1}",
                start.elapsed().as_secs_f64(),
                books.invoices.len(),
                support::peak_rss_mib()
            );
            std::hint::black_box(result);
            return;
        }
        "run" => {
            let summary = reconcile::run_whole(&mut store, now).expect("reconcile run");
            summary.new + summary.still_open
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
    let sizes = support::sizes("10000,100000,1000000");
    println!(
        "{:>9} | {:<17} | {:>9} | {:>10} | {:>12} | {:>9}",
        "invoices", "stage", "rows", "seconds", "rows/s", "peak MiB"
    );
    // CHARGEGUARD_BENCH_KEEP=DIR keeps each size's files and store in DIR/N, for measuring
    // one stage again: `books --stage reconcile DIR/N/bench.db`.
    let keep = std::env::var_os("CHARGEGUARD_BENCH_KEEP").map(PathBuf::from);
    for n in sizes {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = keep
            .as_ref()
            .map_or(temp.path().to_path_buf(), |k| k.join(n.to_string()));
        std::fs::create_dir_all(&dir).expect("bench dir");
        let start = Instant::now();
        let files =
            demo::generate(&dir, &DemoSpec::scale(n), jiff::Timestamp::now()).expect("generate");
        println!(
            "{n:>9} | {:<17} | {:>9} | {:>10.3} | {:>12} | {:>9}",
            "generate files",
            files.invoice_rows + files.payment_rows + files.charge_rows,
            start.elapsed().as_secs_f64(),
            "",
            ""
        );
        let db = dir.join("bench.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        for (stage, label, file) in [
            (
                "invoices",
                "import invoices",
                Some(files.invoices.as_path()),
            ),
            (
                "payments",
                "import payments",
                Some(files.payments.as_path()),
            ),
            (
                "stripe",
                "import stripe",
                Some(files.stripe_payments.as_path()),
            ),
            (
                "stripe",
                "import stripe again",
                Some(files.stripe_payments.as_path()),
            ),
            ("load", "load books", None),
            ("reconcile", "reconcile (pure)", None),
            ("run", "reconcile + store", None),
        ] {
            let (secs, rows, peak) = support::run_stage(stage, &db, file);
            let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
            println!(
                "{n:>9} | {label:<17} | {rows:>9} | {secs:>10.3} | {rate:>12.0} | {peak:>9.1}"
            );
        }
    }
}
