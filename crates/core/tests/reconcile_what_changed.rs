//! Reconciling what changed gives the findings a whole reconciliation gives, byte for
//! byte: two real store files take the same random sequence of imports, syncs (charges,
//! refunds, coverage windows), disputes, ledger fixes and dismissals; one reconciles what changed
//! ([`reconcile::run`]), the other every row ([`reconcile::run_whole`]), and after every
//! run their findings tables must be equal.
//!
//! The books come from `support/books.rs`.

mod support;

use chargeguard_core::reconcile::{self, RunScope};
use jiff::SignedDuration;
use proptest::prelude::*;
use support::books::{Step, apply, findings, open, step, t0};

proptest! {
    // CHARGEGUARD_PROPTEST_CASES=20000 for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("CHARGEGUARD_PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn reconciling_what_changed_finds_what_a_whole_run_finds(
        steps in prop::collection::vec(step(), 1..24)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut changed = open(dir.path(), "changed.db");
        let mut whole = open(dir.path(), "whole.db");
        let mut runs = 0;
        // A change in the chargebacks makes the next run whole (their money moves off the
        // charges every rule weighs); a dispute written again unchanged does not.
        let mut dispute_since_last_run = false;
        for (n, step) in steps.iter().chain([&Step::Reconcile]).enumerate() {
            if !matches!(step, Step::Reconcile) {
                dispute_since_last_run |= matches!(step, Step::Dispute(_));
                apply(&mut changed, step, n);
                apply(&mut whole, step, n);
                continue;
            }
            let now = t0() + SignedDuration::from_hours(24 * 90) + SignedDuration::from_secs(n as i64);
            let a = reconcile::run(&mut changed, now).unwrap();
            let b = reconcile::run_whole(&mut whole, now).unwrap();
            if runs == 0 {
                prop_assert_eq!(a.scope, RunScope::Whole, "the first run looks at every row");
            } else if !dispute_since_last_run {
                prop_assert_ne!(a.scope, RunScope::Whole, "a run after no dispute looks at what changed");
            }
            runs += 1;
            dispute_since_last_run = false;
            let left = changed.read(|tx| Ok::<_, chargeguard_core::store::StoreError>(findings(tx))).unwrap();
            let right = whole.read(|tx| Ok::<_, chargeguard_core::store::StoreError>(findings(tx))).unwrap();
            prop_assert_eq!(left, right, "after step {}", n);
            prop_assert_eq!(a.open_by_kind, b.open_by_kind);
            prop_assert_eq!(a.not_yet_synced, b.not_yet_synced);
        }
    }
}
