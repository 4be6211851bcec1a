//! What the benchmarks share: each measured stage runs in a child process of the bench's
//! own binary (`--stage NAME DB [ARG]`), so its peak memory is its own, and reports one
//! line, `stage seconds rows peak_mib`, that the parent reads back.
#![allow(dead_code)] // a bench uses what it needs of it

use std::path::{Path, PathBuf};

use chargeguard::import::{self, FileKind, ImportOptions};
use chargeguard::store::Store;
use std::process::Command;
use std::time::Instant;

/// This process's peak resident memory in MiB (`VmHWM`), 0 where `/proc` has none.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Prints a finished stage's line, as [`run_stage`] reads it.
pub fn report(stage: &str, start: Instant, rows: u64) {
    println!(
        "{stage} {:.3} {rows} {:.1}",
        start.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
}

/// When this process was started as a stage's child: (stage, store path, its argument).
pub fn stage_args() -> Option<(String, PathBuf, Option<PathBuf>)> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == "--stage")?;
    Some((
        args[i + 1].clone(),
        PathBuf::from(&args[i + 2]),
        args.get(i + 3).map(PathBuf::from),
    ))
}

/// Runs `stage` in a child process of this bench; (seconds, rows, peak MiB).
pub fn run_stage(stage: &str, db: &Path, arg: Option<&Path>) -> (f64, u64, f64) {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.arg("--stage").arg(stage).arg(db);
    if let Some(a) = arg {
        cmd.arg(a);
    }
    let out = cmd.output().expect("run stage");
    assert!(
        out.status.success(),
        "stage {stage} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    let parts: Vec<&str> = line.split_whitespace().collect();
    (
        parts[1].parse().unwrap_or(0.0),
        parts[2].parse().unwrap_or(0),
        parts[3].parse().unwrap_or(0.0),
    )
}

/// The import stages every bench shares: `invoices`, `payments` or `stripe` imports `file`
/// into the store at `db` and returns the rows read; `None` for any other stage.
pub fn import_stage(stage: &str, store: &mut Store, file: Option<&Path>) -> Option<u64> {
    let kind = match stage {
        "invoices" => FileKind::Invoices,
        "payments" => FileKind::Payments,
        "stripe" => FileKind::StripePayments,
        _ => return None,
    };
    let options = ImportOptions {
        dry_run: false,
        zone: jiff::tz::TimeZone::UTC,
        mapping: None,
        ..ImportOptions::default()
    };
    let report = import::import_file(
        store,
        kind,
        file.expect("an import stage names its file"),
        &options,
        jiff::Timestamp::now(),
    )
    .expect("import");
    Some(report.counts.new + report.counts.changed + report.counts.unchanged)
}

/// The sizes a bench runs at: `CHARGEGUARD_BENCH_SIZES` (`10000,1000000`) or `default`.
pub fn sizes(default: &str) -> Vec<usize> {
    std::env::var("CHARGEGUARD_BENCH_SIZES")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}
