//! The importer streams: a large export goes through without its memory growing with the
//! file. Alone in its own test binary so no other test moves the process's peak memory.

use crate::import_support;

use std::time::Instant;

use chargeguard::import::{FileKind, IMPORT_CACHE_BYTES};
use import_support::{TestStore, write_stripe_export};

/// Peak resident memory of this process so far (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("Linux reports VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

#[test]
fn a_large_export_imports_in_bounded_memory() {
    let mut t = TestStore::new();
    let path = t.dir.path().join("unified_payments.csv");
    let rows = 200_000;
    let size = write_stripe_export(&path, rows, 700);
    // SQLite's page caches are a fixed budget; the rest (buffers, one row) is small.
    let bound = IMPORT_CACHE_BYTES + (24 << 20);
    assert!(
        size > 2 * bound,
        "the file must dwarf the bound: {size} bytes"
    );

    let before = peak_rss();
    let report = t.import(FileKind::StripePayments, &path);
    let growth = peak_rss().saturating_sub(before);

    assert_eq!(report.counts.new, rows);
    // Holding the file, or one value per row, would grow by more than the file's size.
    assert!(
        growth < bound,
        "peak memory grew by {} MiB importing a {} MiB file (bound {} MiB)",
        growth >> 20,
        size >> 20,
        bound >> 20
    );
    let stored =
        t.query("SELECT count(*), min(source_line), max(source_line) FROM gateway_charges");
    assert_eq!(stored[0], ["200000", "2", "200001"]);
}

/// The figure for the report: `cargo test --release --test import streaming -- --ignored --nocapture`.
#[test]
#[ignore = "a timing, run by hand in release"]
fn one_million_stripe_rows_timing() {
    let mut t = TestStore::new();
    let path = t.dir.path().join("unified_payments.csv");
    let size = write_stripe_export(&path, 1_000_000, 0);
    let before = peak_rss();
    let started = Instant::now();
    let report = t.import(FileKind::StripePayments, &path);
    let first = started.elapsed();
    let growth = peak_rss().saturating_sub(before);
    let started = Instant::now();
    let again = t.import(FileKind::StripePayments, &path);
    let second = started.elapsed();
    let wal = std::fs::metadata(t.dir.path().join("cg.db-wal")).map_or(0, |m| m.len());
    let db = std::fs::metadata(t.dir.path().join("cg.db")).map_or(0, |m| m.len());
    println!(
        "1M rows, {} MiB: first import {:.2?} ({report}), peak RSS growth {} MiB; re-import {:.2?} ({again}); store {} MiB + WAL {} MiB",
        size >> 20,
        first,
        growth >> 20,
        second,
        db >> 20,
        wal >> 20
    );
}
