//! A month-end reads only the period's part of the books (`StoreTx::walk_period`), and
//! what it says is what reading every row says: one real store file takes a random
//! sequence of imports, syncs, ledger fixes, dismissals and whole reconciliations; before
//! and after every reconciliation, the tie-out of each month around the books' dates, in
//! zones that move the months' edges, must be the same (the same statement, or the same
//! refusal naming the same money) from both reads; and at the end the package of a month
//! exported from both reads must be the same, file for file.
//!
//! The books come from `support/books.rs`; they span 1 October 2026 09:00 UTC to
//! 1 November, so Honolulu's September and both zones' Octobers and Novembers all hold
//! some of them.

mod support;

use chargeguard_core::export::{self, ExportRequest, Reading};
use chargeguard_core::period::Period;
use chargeguard_core::reconcile;
use chargeguard_core::store::{Store, StoreError};
use jiff::SignedDuration;
use proptest::prelude::*;
use support::books::{Step, apply, open, step, t0};

const PERIODS: [(&str, &str); 5] = [
    ("2026-09", "Pacific/Honolulu"),
    ("2026-10", "UTC"),
    ("2026-10", "Pacific/Honolulu"),
    ("2026-11", "UTC"),
    ("2026-11", "Asia/Tokyo"),
];

/// Each period's tie-out from both reads, as text (a statement or a refusal).
fn tie_outs(store: &mut Store) -> Vec<(String, String, String)> {
    store
        .read(|tx| {
            Ok::<_, StoreError>(
                PERIODS
                    .iter()
                    .map(|(month, zone)| {
                        let period = Period::parse(month, zone).unwrap();
                        let read = |reading| {
                            format!("{:?}", export::check_tie_out_reading(tx, &period, reading))
                        };
                        (
                            format!("{month} in {zone}"),
                            read(Reading::Period),
                            read(Reading::Whole),
                        )
                    })
                    .collect(),
            )
        })
        .unwrap()
}

/// The package of `month` from one read: each file's name, hash and size, or the refusal.
fn package(store: &mut Store, out: &std::path::Path, reading: Reading) -> String {
    let request = ExportRequest {
        month: "2026-10".into(),
        tz: Some("UTC".into()),
        as_of: None,
        out: out.to_path_buf(),
    };
    match export::export_month_reading(store, &request, reading) {
        Ok(report) => report
            .manifest
            .files
            .iter()
            .map(|f| format!("{} {} {}\n", f.name, f.sha256, f.bytes))
            .collect(),
        Err(e) => format!("refused: {e}"),
    }
}

proptest! {
    // CHARGEGUARD_PROPTEST_CASES=20000 for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("CHARGEGUARD_PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_period_read_ties_out_as_reading_every_row_does(
        steps in prop::collection::vec(step(), 1..24)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path(), "books.db");
        for (n, step) in steps.iter().chain([&Step::Reconcile]).enumerate() {
            if !matches!(step, Step::Reconcile) {
                apply(&mut store, step, n);
                continue;
            }
            for (period, by_period, by_every_row) in tie_outs(&mut store) {
                prop_assert_eq!(by_period, by_every_row, "{} before step {}", period, n);
            }
            let now = t0() + SignedDuration::from_hours(24 * 90) + SignedDuration::from_secs(n as i64);
            reconcile::run_whole(&mut store, now).unwrap();
            for (period, by_period, by_every_row) in tie_outs(&mut store) {
                prop_assert_eq!(by_period, by_every_row, "{} after step {}", period, n);
            }
        }
        let by_period = package(&mut store, &dir.path().join("period"), Reading::Period);
        let by_every_row = package(&mut store, &dir.path().join("whole"), Reading::Whole);
        prop_assert_eq!(by_period, by_every_row);
    }
}
