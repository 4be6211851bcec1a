//! Benchmark: what the desktop asks for when each screen opens, on generated books of a
//! small size and a large one (default 10,000 and 1,000,000 invoices; override with
//! `CHARGEGUARD_BENCH_SIZES=10000,200000`). Each call is timed through the API the windows
//! call (the median of five, after one warm-up), and printed beside the same call on the
//! small books from the same run and beside the 100 ms budget: a screen whose cost follows
//! the page, not the books, shows a ratio near 1.
//!
//! `CHARGEGUARD_BENCH_KEEP=DIR` keeps each size's store in `DIR/N` and reuses it.

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chargeguard::api::json::{FindingStatus, FindingsQuery, IdRequest};
use chargeguard::api::monthend::{MonthRequest, TieOutState};
use chargeguard::api::today_sync::DailyTotalsRequest;
use chargeguard::api::{self, Api};
use chargeguard::demo::{self, DemoSpec};
use chargeguard::import::{self, FileKind, ImportOptions};
use chargeguard::store::Store;

/// The most a screen may take to answer.
const BUDGET_MS: f64 = 100.0;
/// The findings a page asks for.
const PAGE: u32 = 200;

#[global_allocator]
static ALLOCATOR: chargeguard::Allocator = chargeguard::Allocator;

/// Books of `n` invoices, imported and reconciled, in `dir`; reused when already there.
fn books(dir: &Path, n: usize) -> PathBuf {
    let db = dir.join("bench.db");
    let done = dir.join("reconciled");
    if done.exists() {
        return db;
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let now = jiff::Timestamp::now();
    let files = demo::generate(dir, &DemoSpec::scale(n), now).expect("generate the books");
    let mut store = Store::open(&db).expect("open the store");
    let options = ImportOptions {
        zone: jiff::tz::TimeZone::UTC,
        ..ImportOptions::default()
    };
    for (kind, file) in [
        (FileKind::Invoices, &files.invoices),
        (FileKind::Payments, &files.payments),
        (FileKind::StripePayments, &files.stripe_payments),
    ] {
        import::import_file(&mut store, kind, file, &options, now).expect("import");
    }
    chargeguard::reconcile::run(&mut store, now).expect("reconcile");
    std::fs::write(&done, b"").expect("mark the books built");
    db
}

/// Candidates the Re-charge screen asks for at a time (`ui/src/views/Recharge.tsx`).
const RECHARGE_PAGE: u32 = 200;

/// The median of five timed calls after a warm-up, in milliseconds.
fn time_ms<T>(mut call: impl FnMut() -> T) -> f64 {
    std::hint::black_box(call());
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(call());
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

/// The median of five rounds that each time their own part, in milliseconds.
fn median_ms(mut round: impl FnMut() -> std::time::Duration) -> f64 {
    round();
    let mut times: Vec<f64> = (0..5).map(|_| round().as_secs_f64() * 1000.0).collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

/// Each screen's calls on the books in `db`: (call, milliseconds).
fn screens(db: &Path) -> Vec<(&'static str, f64)> {
    let api = Api::new(db);
    let open = FindingsQuery {
        status: Some(FindingStatus::Open),
        limit: Some(PAGE),
        ..FindingsQuery::default()
    };
    let first = api::findings(&api, &open).expect("findings")[0].id;
    let month = api::today(&api)
        .expect("today")
        .coverage
        .last()
        .map(|c| c.to[..7].to_string())
        .unwrap_or_else(|| jiff::Timestamp::now().to_string()[..7].to_string());
    let month_end = || {
        api::monthend::period_status(
            &api,
            &MonthRequest {
                month: month.clone(),
                tz: Some("UTC".into()),
            },
        )
        .expect("period status")
    };
    let write = || {
        chargeguard::store::Store::open(db)
            .expect("store")
            .write(|_| Ok::<_, chargeguard::store::StoreError>(()))
            .expect("a write")
    };
    let until_current = || loop {
        let view = month_end();
        if view.tie_out_state == TieOutState::Current {
            return view;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    // The screen has opened on this month once: its tie-out is kept.
    until_current();
    vec![
        ("today", time_ms(|| api::today(&api).expect("today"))),
        (
            "findings (a page)",
            time_ms(|| api::findings(&api, &open).expect("findings")),
        ),
        (
            "a finding's detail",
            time_ms(|| api::finding(&api, &IdRequest { id: first }).expect("finding")),
        ),
        (
            "chart (14 days)",
            time_ms(|| {
                api::today_sync::daily_totals(&api, &DailyTotalsRequest { days: None })
                    .expect("chart")
            }),
        ),
        (
            "re-charge candidates",
            time_ms(|| {
                // The screen's first page.
                let query = api::recharge::RechargeQuery {
                    limit: Some(RECHARGE_PAGE),
                    after_invoice: None,
                };
                api::recharge::recharge_candidates(&api, &query).expect("candidates")
            }),
        ),
        ("month-end status (kept)", time_ms(month_end)),
        (
            "month-end, 1st after a write",
            median_ms(|| {
                // What a window finds when it opens before the refresh after a write
                // is done: an empty write moves the store on, as any commit does. It
                // answers with the earlier tie-out, marked, while the books' as they are
                // now is computed on the runtime's blocking threads (the window's case).
                write();
                let start = Instant::now();
                let view = month_end();
                let took = start.elapsed();
                assert_ne!(view.tie_out_state, TieOutState::Current);
                // Untimed: the next round starts from a current tie-out again.
                until_current();
                took
            }),
        ),
        (
            "month-end, to current (background)",
            time_ms(|| {
                // Not an answer's time: how long after a write the screen, asking again,
                // shows the books as they are now (the tie-out itself, in the background).
                write();
                until_current()
            }),
        ),
        (
            "settings",
            time_ms(|| api::settings::settings(&api).expect("settings")),
        ),
        (
            "actions",
            time_ms(|| api::actions_list(&api).expect("actions")),
        ),
    ]
}

fn main() {
    // The calls run as a window's do: inside the runtime, whose blocking threads compute a
    // month's tie-out off the request.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _inside = runtime.enter();
    let sizes = support::sizes("10000,1000000");
    let keep = std::env::var_os("CHARGEGUARD_BENCH_KEEP").map(PathBuf::from);
    let temp = tempfile::tempdir().expect("temp dir");
    let mut runs: Vec<(usize, Vec<(&'static str, f64)>)> = Vec::new();
    for &n in &sizes {
        let dir = keep
            .as_ref()
            .map_or(temp.path(), PathBuf::as_path)
            .join(n.to_string());
        std::fs::create_dir_all(&dir).expect("bench dir");
        let start = Instant::now();
        let db = books(&dir, n);
        eprintln!(
            "{n} invoices: books ready in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        runs.push((n, screens(&db)));
    }
    let Some((small, base)) = runs.first() else {
        return;
    };
    println!(
        "{:<36} | {:>9} | {:>10} | {:>10} | {:>8} | {:>9}",
        "screen call", "invoices", "ms", "ms at 1st", "ratio", "budget"
    );
    for (n, figures) in &runs {
        for ((call, ms), (_, base_ms)) in figures.iter().zip(base) {
            println!(
                "{call:<36} | {n:>9} | {ms:>10.2} | {base_ms:>10.2} | {:>8.1} | {:>9}",
                ms / base_ms.max(0.001),
                if call.ends_with("(background)") {
                    "n/a"
                } else if *ms <= BUDGET_MS {
                    "ok"
                } else {
                    "OVER"
                }
            );
        }
    }
    println!(
        "(\"ms at 1st\" is the same call on {small} invoices, in this run; budget {BUDGET_MS} ms)"
    );
    println!(
        "peak memory of this process: {:.0} MiB",
        support::peak_rss_mib()
    );
}
