//! Reconciling a real store file: the findings queue keeps its ids across runs, a cleared
//! finding stays resolved, a dismissed one stays dismissed even when the data still shows
//! it, and a regressed one reopens (whole runs, so that every count is the whole queue's);
//! a run of what changed looks at the changed part alone and leaves the rest as it was.

use std::collections::BTreeMap;

use chargeguard::money::{Currency, Money};
use chargeguard::reconcile::{self, FindingKind, ReconcileSummary, RunScope};
use chargeguard::records::{
    Charge, ChargeStatus, Coverage, Invoice, InvoiceStatus, LedgerEntry, LedgerKind, Origin,
};
use chargeguard::store::{
    ExtraColumns, FindingFilter, FindingStatus, Resolution, SourceKind, Store, StoredFinding,
};
use jiff::{SignedDuration, Timestamp};

fn t(minutes: i64) -> Timestamp {
    "2026-10-01T09:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_mins(minutes)
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::from_code("usd").unwrap())
}

fn invoice(number: &str, minor: i64) -> Invoice {
    Invoice {
        number: number.into(),
        customer_id: "cus_1".into(),
        amount: usd(minor),
        issued_at: t(0),
        due_at: None,
        status: InvoiceStatus::Open,
        order_ref: None,
        gateway_invoice_id: None,
        stated_paid: None,
        paid_at: None,
    }
}

fn charge(id: &str, minor: i64, refunded: i64, invoice: &str, at: i64) -> Charge {
    Charge {
        id: id.into(),
        amount: usd(minor),
        amount_refunded: usd(refunded),
        status: ChargeStatus::Succeeded,
        captured: true,
        created: t(at),
        customer: Some("cus_1".into()),
        customer_email: None,
        payment_intent: None,
        invoice_ref: Some(invoice.into()),
        gateway_invoice_id: None,
        description: None,
        fee: None,
        metadata: BTreeMap::new(),
    }
}

fn payment(id: &str, invoice: &str, minor: i64, gateway_id: Option<&str>, at: i64) -> LedgerEntry {
    LedgerEntry {
        payment_id: id.into(),
        invoice_number: invoice.into(),
        kind: LedgerKind::Payment,
        amount: usd(minor),
        recorded_at: t(at),
        gateway_id: gateway_id.map(str::to_string),
    }
}

/// A store with two problems: INV-1 charged twice (ch_b is surplus) and INV-2 paid in
/// cash and also charged (ch_x is an orphan). The gateway data covers October.
fn store_with_two_problems(dir: &tempfile::TempDir) -> Store {
    let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
    store
        .write(|tx| {
            let source = tx.begin_source(SourceKind::StripeExport, "fixture", None, t(0))?;
            let origin = Origin {
                source_id: source,
                line: None,
            };
            tx.upsert_invoice(&invoice("INV-1", 10_000), ExtraColumns::NONE, &origin)?;
            tx.upsert_invoice(&invoice("INV-2", 2_500), ExtraColumns::NONE, &origin)?;
            tx.upsert_ledger_entry(
                &payment("pay_1", "INV-1", 10_000, Some("ch_a"), 5),
                ExtraColumns::NONE,
                &origin,
            )?;
            tx.upsert_ledger_entry(
                &payment("pay_2", "INV-2", 2_500, None, 5),
                ExtraColumns::NONE,
                &origin,
            )?;
            tx.upsert_charge(
                "stripe",
                &charge("ch_a", 10_000, 0, "INV-1", 1),
                ExtraColumns::NONE,
                &origin,
            )?;
            tx.upsert_charge(
                "stripe",
                &charge("ch_b", 10_000, 0, "INV-1", 3),
                ExtraColumns::NONE,
                &origin,
            )?;
            tx.upsert_charge(
                "stripe",
                &charge("ch_x", 2_500, 0, "INV-2", 4),
                ExtraColumns::NONE,
                &origin,
            )?;
            tx.add_charge_coverage(
                source,
                "stripe",
                Coverage {
                    from: "2026-10-01T00:00:00Z".parse().unwrap(),
                    to: "2026-11-01T00:00:00Z".parse().unwrap(),
                },
            )?;
            Ok::<_, chargeguard::store::StoreError>(())
        })
        .unwrap();
    store
}

/// Re-imports one charge with other values, as a later sync would.
fn sync_charge(store: &mut Store, updated: &Charge, at: Timestamp) {
    store
        .write(|tx| {
            let source = tx.begin_source(SourceKind::StripeSync, "sync", None, at)?;
            tx.upsert_charge(
                "stripe",
                updated,
                ExtraColumns::NONE,
                &Origin {
                    source_id: source,
                    line: None,
                },
            )?;
            Ok::<_, chargeguard::store::StoreError>(())
        })
        .unwrap();
}

fn all_findings(store: &mut Store) -> Vec<StoredFinding> {
    store
        .read(|tx| tx.findings(&FindingFilter::default()))
        .unwrap()
}

fn by_fingerprint<'a>(findings: &'a [StoredFinding], fingerprint: &str) -> &'a StoredFinding {
    findings
        .iter()
        .find(|f| f.fingerprint == fingerprint)
        .unwrap_or_else(|| panic!("no {fingerprint} in {findings:#?}"))
}

const DOUBLE: &str = "double_charge:INV-1:ch_b";
const ORPHAN: &str = "orphan_charge:ch_x";

#[test]
fn reconciling_twice_updates_the_same_findings_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_two_problems(&dir);

    let first = reconcile::run_whole(&mut store, t(60)).unwrap();
    assert_eq!(
        (first.new, first.still_open, first.resolved, first.reopened),
        (2, 0, 0, 0)
    );
    assert_eq!(first.open_by_kind[&FindingKind::DoubleCharge], 1);
    assert_eq!(first.open_by_kind[&FindingKind::OrphanCharge], 1);
    assert_eq!(first.open_by_kind[&FindingKind::MissingCharge], 0);
    let before = all_findings(&mut store);

    let second = reconcile::run_whole(&mut store, t(120)).unwrap();
    assert_eq!(
        (
            second.new,
            second.still_open,
            second.resolved,
            second.reopened
        ),
        (0, 2, 0, 0)
    );
    let after = all_findings(&mut store);

    assert_eq!(before.len(), 2);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.last_seen_at, t(120));
        assert_eq!(b.last_seen_at, t(60));
        // Nothing but last_seen moves.
        let moved_back = StoredFinding {
            last_seen_at: b.last_seen_at,
            ..a.clone()
        };
        assert_eq!(&moved_back, b);
    }
    assert_eq!(store.read(|tx| tx.reconcile_run_count()).unwrap(), 2);

    let double = by_fingerprint(&after, DOUBLE);
    assert_eq!(double.kind, FindingKind::DoubleCharge);
    assert_eq!(double.status, FindingStatus::Open);
    assert_eq!(double.invoice_number.as_deref(), Some("INV-1"));
    assert_eq!(double.charge_ids, vec!["ch_b".to_string()]);
    assert_eq!(double.amount.to_string(), "100.00 USD");
    assert_eq!(double.first_seen_at, t(60));
}

#[test]
fn a_cleared_finding_stays_resolved_on_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_two_problems(&dir);
    reconcile::run_whole(&mut store, t(60)).unwrap();
    let id = by_fingerprint(&all_findings(&mut store), DOUBLE).id;

    // Someone refunded the surplus charge at the gateway; the next sync shows it.
    sync_charge(
        &mut store,
        &charge("ch_b", 10_000, 10_000, "INV-1", 3),
        t(90),
    );
    let summary = reconcile::run_whole(&mut store, t(120)).unwrap();
    assert_eq!(
        (
            summary.new,
            summary.still_open,
            summary.resolved,
            summary.reopened
        ),
        (0, 1, 1, 0)
    );

    let again = reconcile::run_whole(&mut store, t(180)).unwrap();
    assert_eq!(
        (again.new, again.still_open, again.resolved, again.reopened),
        (0, 1, 0, 0)
    );
    let double = store.read(|tx| tx.finding(id)).unwrap().unwrap();
    assert_eq!(double.status, FindingStatus::Resolved);
    assert_eq!(double.resolution, Some(Resolution::Cleared));
    assert_eq!(double.resolved_at, Some(t(120)));
    assert_eq!(again.open_by_kind[&FindingKind::DoubleCharge], 0);
}

#[test]
fn a_dismissed_finding_stays_resolved_while_the_data_still_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_two_problems(&dir);
    reconcile::run_whole(&mut store, t(60)).unwrap();
    let id = by_fingerprint(&all_findings(&mut store), ORPHAN).id;
    let dismissed = store
        .write(|tx| tx.resolve_finding(id, Resolution::Dismissed, t(70)))
        .unwrap();
    assert!(dismissed);

    let summary: ReconcileSummary = reconcile::run_whole(&mut store, t(120)).unwrap();
    assert_eq!(
        (
            summary.new,
            summary.still_open,
            summary.resolved,
            summary.reopened
        ),
        (0, 1, 0, 0)
    );
    assert_eq!(summary.open_by_kind[&FindingKind::OrphanCharge], 0);
    let findings = all_findings(&mut store);
    assert_eq!(findings.len(), 2, "no copy of the dismissed finding");
    let orphan = by_fingerprint(&findings, ORPHAN);
    assert_eq!(orphan.id, id);
    assert_eq!(orphan.status, FindingStatus::Resolved);
    assert_eq!(orphan.resolution, Some(Resolution::Dismissed));
    assert_eq!(orphan.resolved_at, Some(t(70)));
    assert_eq!(orphan.last_seen_at, t(120), "the data still shows it");
}

#[test]
fn a_regressed_finding_reopens_with_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_two_problems(&dir);
    reconcile::run_whole(&mut store, t(60)).unwrap();
    let id = by_fingerprint(&all_findings(&mut store), DOUBLE).id;

    sync_charge(
        &mut store,
        &charge("ch_b", 10_000, 10_000, "INV-1", 3),
        t(90),
    );
    reconcile::run_whole(&mut store, t(120)).unwrap();
    // A corrected export says the refund never went through.
    sync_charge(&mut store, &charge("ch_b", 10_000, 0, "INV-1", 3), t(150));
    let summary = reconcile::run_whole(&mut store, t(180)).unwrap();
    assert_eq!(
        (
            summary.new,
            summary.still_open,
            summary.resolved,
            summary.reopened
        ),
        (0, 1, 0, 1)
    );

    let double = store.read(|tx| tx.finding(id)).unwrap().unwrap();
    assert_eq!(double.status, FindingStatus::Open);
    assert_eq!(double.resolution, None);
    assert_eq!(double.resolved_at, None);
    assert_eq!(double.first_seen_at, t(60));
    assert_eq!(all_findings(&mut store).len(), 2);
}

#[test]
fn a_run_of_what_changed_looks_at_the_changed_invoice_alone_and_leaves_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_two_problems(&dir);
    let first = reconcile::run(&mut store, t(60)).unwrap();
    assert_eq!(
        first.scope,
        RunScope::Whole,
        "a store's first run sees every row"
    );

    let quiet = reconcile::run(&mut store, t(90)).unwrap();
    let RunScope::Changed(size) = quiet.scope else {
        panic!("a second run looks at what changed: {quiet:?}")
    };
    assert_eq!(size.invoices + size.charges + size.ledger_entries, 0);
    assert_eq!(
        (quiet.new, quiet.still_open, quiet.resolved, quiet.reopened),
        (0, 0, 0, 0)
    );
    assert_eq!(quiet.open_by_kind[&FindingKind::DoubleCharge], 1);
    assert_eq!(quiet.open_by_kind[&FindingKind::OrphanCharge], 1);

    // The surplus charge on INV-1 is refunded; the orphan ch_x, on INV-2, is for another amount.
    sync_charge(
        &mut store,
        &charge("ch_b", 10_000, 10_000, "INV-1", 3),
        t(100),
    );
    let summary = reconcile::run(&mut store, t(120)).unwrap();
    let RunScope::Changed(size) = summary.scope else {
        panic!("{summary:?}")
    };
    assert_eq!(size.invoices, 1, "INV-1 alone: {size:?}");
    assert_eq!(
        (summary.new, summary.still_open, summary.resolved),
        (0, 0, 1)
    );
    let findings = all_findings(&mut store);
    let double = by_fingerprint(&findings, DOUBLE);
    assert_eq!(double.resolution, Some(Resolution::Cleared));
    let orphan = by_fingerprint(&findings, ORPHAN);
    assert_eq!(orphan.status, FindingStatus::Open);
    assert_eq!(orphan.last_seen_at, t(60), "not looked at again");
    assert_eq!(summary.to_string().lines().count(), 1);
    assert!(
        summary
            .to_string()
            .starts_with("Reconciled what changed (1 invoices"),
        "{summary}"
    );
}

#[test]
fn findings_filter_by_kind_and_status_and_print_the_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_two_problems(&dir);
    reconcile::run(&mut store, t(60)).unwrap();
    let id = by_fingerprint(&all_findings(&mut store), ORPHAN).id;
    store
        .write(|tx| tx.resolve_finding(id, Resolution::Fixed, t(70)))
        .unwrap();

    let open = store
        .read(|tx| {
            tx.findings(&FindingFilter {
                kind: None,
                status: Some(FindingStatus::Open),
            })
        })
        .unwrap();
    assert_eq!(
        open.iter()
            .map(|f| f.fingerprint.as_str())
            .collect::<Vec<_>>(),
        vec![DOUBLE]
    );
    let orphans = store
        .read(|tx| {
            tx.findings(&FindingFilter {
                kind: Some(FindingKind::OrphanCharge),
                status: Some(FindingStatus::Resolved),
            })
        })
        .unwrap();
    assert_eq!(orphans.len(), 1);

    let json = serde_json::to_value(&orphans[0]).unwrap();
    assert_eq!(json["id"], id);
    assert_eq!(json["fingerprint"], ORPHAN);
    assert_eq!(json["kind"], "orphan_charge");
    assert_eq!(json["status"], "resolved");
    assert_eq!(json["resolution"], "fixed");
    assert_eq!(json["invoice_number"], "INV-2");
    assert_eq!(json["charge_ids"], serde_json::json!(["ch_x"]));
    assert_eq!(json["amount_minor"], 2_500);
    assert_eq!(json["currency"], "usd");
    assert_eq!(json["confidence"], "exact");
    assert_eq!(json["evidence"]["charges"][0]["id"], "ch_x");
    assert_eq!(json["first_seen_at"], "2026-10-01T10:00:00Z");
    assert!(store.read(|tx| tx.finding(9_999)).unwrap().is_none());
}

#[test]
fn a_payment_outside_the_synced_window_waits_instead_of_being_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = store_with_two_problems(&dir);
    store
        .write(|tx| {
            let source = tx.begin_source(SourceKind::Payments, "payments.csv", None, t(0))?;
            let origin = Origin {
                source_id: source,
                line: Some(2),
            };
            // November: after the coverage window; and October: inside it.
            let november = payment("pay_nov", "INV-1", 10_000, Some("ch_nov"), 45 * 24 * 60);
            let october = payment("pay_oct", "INV-1", 10_000, Some("ch_oct"), 10);
            tx.upsert_ledger_entry(&november, ExtraColumns::NONE, &origin)?;
            tx.upsert_ledger_entry(&october, ExtraColumns::NONE, &origin)?;
            Ok::<_, chargeguard::store::StoreError>(())
        })
        .unwrap();
    let summary = reconcile::run(&mut store, t(60)).unwrap();
    assert_eq!(summary.not_yet_synced, 1);
    let missing = store
        .read(|tx| {
            tx.findings(&FindingFilter {
                kind: Some(FindingKind::MissingCharge),
                status: None,
            })
        })
        .unwrap();
    assert_eq!(
        missing
            .iter()
            .map(|f| f.fingerprint.as_str())
            .collect::<Vec<_>>(),
        vec!["missing_charge:pay_oct"]
    );
}
