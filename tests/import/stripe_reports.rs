//! Stripe's balance and payout files as Stripe writes them (`tests/fixtures/stripe-reports/
//! SOURCES.md`): each told from its header, stored as the payouts and balance transactions
//! a sync would store, again without change; spreadsheet-rewritten dates read only when
//! the whole file admits one reading; a bad row refused by line and column with nothing
//! stored.

use crate::import_support;

use std::path::{Path, PathBuf};

use chargeguard::import::ImportError;
use chargeguard::import::stripe_reports::{
    DayOrder, ReportOptions, StripeReport, import_stripe_report,
};
use chargeguard::records::PayoutStatus;
use import_support::{TestStore, now};
use rstest::rstest;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stripe-reports")
        .join(name)
}

fn options() -> ReportOptions {
    ReportOptions {
        zone: jiff::tz::TimeZone::get("Europe/London").unwrap(),
        day_order: None,
        dry_run: false,
    }
}

/// Every balance transaction stored, as `id kind amount fee net currency created available
/// source payout`.
fn transactions(t: &mut TestStore) -> Vec<String> {
    let rows = t
        .store
        .read(|tx| tx.balance_transactions("stripe"))
        .unwrap();
    rows.into_iter()
        .map(|b| {
            format!(
                "{} {} {} {} {} {} {} {} {} {}",
                b.id,
                b.kind,
                b.amount.minor(),
                b.fee.minor(),
                b.net.minor(),
                b.amount.currency().lower(),
                b.created,
                b.available_on,
                b.source.as_deref().unwrap_or("-"),
                b.payout.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

#[rstest]
#[case::balance_history_2016("balance-history-2016.csv", StripeReport::BalanceHistory, 0, 2)]
#[case::balance_history_2021("balance-history-2021.csv", StripeReport::BalanceHistory, 0, 1)]
#[case::balance_history_decimal_comma(
    "balance-history-decimal-comma.csv",
    StripeReport::BalanceHistory,
    0,
    2
)]
#[case::payouts_export("payouts-export.csv", StripeReport::PayoutsExport, 1, 0)]
#[case::balance_change_itemized(
    "balance-change-itemized-default.csv",
    StripeReport::BalanceChangeItemized,
    0,
    2
)]
#[case::payout_reconciliation(
    "payout-reconciliation-itemized.csv",
    StripeReport::PayoutReconciliationItemized,
    0,
    1
)]
#[case::payouts_itemized("payouts-itemized.csv", StripeReport::PayoutsItemized, 2, 0)]
#[case::an_empty_report_imports_nothing(
    "payout-reconciliation-empty.csv",
    StripeReport::PayoutReconciliationItemized,
    0,
    0
)]
fn a_stripe_file_is_told_from_its_header_and_again_changes_nothing(
    #[case] name: &str,
    #[case] kind: StripeReport,
    #[case] payouts: u64,
    #[case] transactions: u64,
) {
    let mut t = TestStore::new();
    let first = import_stripe_report(&mut t.store, &fixture(name), &options(), now())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(first.report, kind);
    assert_eq!(
        (first.payouts.new, first.balance_transactions.new),
        (payouts, transactions)
    );
    let again = import_stripe_report(&mut t.store, &fixture(name), &options(), now()).unwrap();
    assert_eq!((again.counts.new, again.counts.changed), (0, 0));
    assert_eq!(again.counts.unchanged, payouts + transactions);
}

#[test]
fn balance_transactions_keep_stripe_amounts_fees_and_the_payout_that_swept_them() {
    let mut t = TestStore::new();
    for name in [
        "balance-history-2016.csv",
        "balance-history-2021.csv",
        "balance-history-decimal-comma.csv",
        "balance-change-itemized-default.csv",
        "payout-reconciliation-itemized.csv",
    ] {
        import_stripe_report(&mut t.store, &fixture(name), &options(), now()).unwrap();
    }
    let seen = transactions(&mut t);
    let expect = [
        // A 2016 charge: the fee apart; swept by a pre-2017 transfer, which is no payout.
        "txn_18X4XT2kdGSXuqwcBrHTyg2s charge 84900 2492 82408 usd 2016-07-14T07:45:00Z 2016-07-16T00:00:00Z ch_18X4XS2kdGSXuqwcFAw6Jwos -",
        "txn_18Wt2c2kdGSXuqwcAk3BN2bS adjustment -84900 1500 -86400 usd 2016-07-13T19:29:00Z 2016-07-13T19:29:00Z ch_18RUCq2kdGSXuqwcxuiNjYA4 -",
        "txn_1Jtgz02kdGSXuqwcKLYFb21q payout -500000 5000 -505000 usd 2021-11-08T23:10:00Z 2021-11-08T23:10:00Z po_1Jtgz02kdGSXuqwc69O4GIEp po_1JvX9I2kdGSXuqwc0RPYSJb8",
        "txn_1NxKbmKh5QAlWt1CdDZfikrx payout -7557 0 -7557 chf 2023-10-04T02:14:00Z 2023-10-09T00:00:00Z po_1NxKblKh5QAlWt1CrSJXaMdA po_1NxKblKh5QAlWt1CrSJXaMdA",
        "txn_1NwgrXKh5QAlWt1CqSk1AKn9 reserved_funds 2519 0 2519 chf 2023-10-02T07:48:00Z 2023-10-13T00:00:00Z - -",
        "txn_14G11HjubSIHf9IKrvJdwN charge 1200 0 1200 usd 2020-01-23T08:26:29Z 2020-01-27T00:00:00Z - -",
        "txn_14G11HjHgubIH9ZvbPgYO7 refund -77 0 -77 usd 2020-01-23T08:26:31Z 2020-01-27T00:00:00Z - -",
        // Local-time columns in the report's zone (London, winter: UTC).
        "txn_3QcrImA0IpYVNU1u0wNC3kOh charge 10200 295 9905 chf 2025-01-02T16:31:18Z 2025-01-07T00:00:00Z - po_1Qe4AXA0IpYVNU1u4vYVbjHd",
    ];
    let mut expect: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
    expect.sort();
    let mut seen_sorted = seen.clone();
    seen_sorted.sort();
    assert_eq!(seen_sorted, expect);
}

#[test]
fn payouts_keep_their_sign_status_and_arrival_and_a_reconciled_payout_is_complete() {
    let mut t = TestStore::new();
    import_stripe_report(
        &mut t.store,
        &fixture("payouts-itemized.csv"),
        &options(),
        now(),
    )
    .unwrap();
    import_stripe_report(
        &mut t.store,
        &fixture("payouts-export.csv"),
        &options(),
        now(),
    )
    .unwrap();
    let mut rows = t.store.read(|tx| tx.payouts("stripe")).unwrap();
    rows.sort_by(|a, b| a.payout.id.cmp(&b.payout.id));
    let seen: Vec<(String, i64, String, PayoutStatus, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.payout.id.clone(),
                r.payout.amount.minor(),
                r.payout.amount.currency().lower(),
                r.payout.status,
                r.payout.created.to_string(),
                r.payout.arrival_date.to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "po_1KE3FRDSYPMwkcNz9SFKuaYd".into(),
                9622,
                "usd".into(),
                PayoutStatus::Paid,
                "2022-01-04T02:59:00Z".into(),
                "2022-01-05T00:00:00Z".into()
            ),
            (
                "po_1PAjqnGtEGgLrOjaqDIXCjBJ".into(),
                6799,
                "gbp".into(),
                PayoutStatus::Paid,
                "2024-05-01T00:00:00Z".into(),
                "2024-05-01T00:00:00Z".into()
            ),
            (
                "po_1PXaO1GtEGgLrOjaLZFzmJ7L".into(),
                -2035,
                "gbp".into(),
                PayoutStatus::Paid,
                "2024-07-03T00:00:00Z".into(),
                "2024-07-03T00:00:00Z".into()
            ),
        ],
        "the bank's sign: a debit payout is negative"
    );
    assert!(rows.iter().all(|r| !r.transactions_listed));

    // The payout the reconciliation report itemizes, as the payouts export has it.
    let export = t.dir.path().join("payouts.csv");
    std::fs::write(
        &export,
        "id,Amount,Created (UTC),Currency,Arrival Date (UTC),Status\n\
         po_1Qe4AXA0IpYVNU1u4vYVbjHd,99.05,2025-01-05 01:10,chf,2025-01-07 00:00,paid\n",
    )
    .unwrap();
    import_stripe_report(&mut t.store, &export, &options(), now()).unwrap();
    let payout = |t: &mut TestStore| {
        t.store
            .read(|tx| tx.payouts("stripe"))
            .unwrap()
            .into_iter()
            .find(|r| r.payout.id == "po_1Qe4AXA0IpYVNU1u4vYVbjHd")
            .unwrap()
    };
    assert!(!payout(&mut t).transactions_listed);
    import_stripe_report(
        &mut t.store,
        &fixture("payout-reconciliation-itemized.csv"),
        &options(),
        now(),
    )
    .unwrap();
    let reconciled = payout(&mut t);
    assert!(
        reconciled.transactions_listed,
        "the reconciliation report lists every transaction of the payouts it names"
    );
    assert_eq!(
        (reconciled.transactions, reconciled.transactions_net.minor()),
        (1, 9905),
        "and they add up to the payout"
    );
}

#[test]
fn spreadsheet_dates_are_read_only_when_the_whole_file_admits_one_reading() {
    let mut t = TestStore::new();
    let ambiguous = fixture("payouts-export-spreadsheet.csv");
    let refused = import_stripe_report(&mut t.store, &ambiguous, &options(), now()).unwrap_err();
    let text = refused.to_string();
    assert!(text.contains("1/4/2022 2:59"), "{text}");
    assert!(text.contains("--dates mdy"), "{text}");
    assert!(t.store.read(|tx| tx.payouts("stripe")).unwrap().is_empty());

    let settled = ReportOptions {
        day_order: Some(DayOrder::MonthFirst),
        ..options()
    };
    import_stripe_report(&mut t.store, &ambiguous, &settled, now()).unwrap();
    let rows = t.store.read(|tx| tx.payouts("stripe")).unwrap();
    let second = rows
        .iter()
        .find(|r| r.payout.id == "po_1KE9XXDSYPMwkcNz9SFKuaZz")
        .unwrap();
    assert_eq!(second.payout.amount.minor(), 102_150, "1021.5 is 1,021.50");
    assert_eq!(second.payout.created.to_string(), "2022-01-10T03:01:00Z");
    assert_eq!(second.payout.status, PayoutStatus::InTransit);

    // `6/22/2026` reads only month first: no option needed.
    import_stripe_report(
        &mut t.store,
        &fixture("balance-history-spreadsheet.csv"),
        &options(),
        now(),
    )
    .unwrap();
    let seen = transactions(&mut t);
    assert!(
        seen.contains(&"txn_1SPAAAA2kdGSXuqwcKLYFb21q payout -77150 0 -77150 usd 2026-06-22T00:08:00Z 2026-06-22T00:08:00Z po_1SPAAAA2kdGSXuqwc69O4GIEp po_1SPAAAA2kdGSXuqwc69O4GIEp".to_string()),
        "{seen:#?}"
    );
}

#[test]
fn a_row_that_does_not_add_up_is_refused_by_line_and_column_and_nothing_is_stored() {
    let mut t = TestStore::new();
    let text = std::fs::read_to_string(fixture("balance-history-2016.csv"))
        .unwrap()
        .replace("824.08", "824.80");
    let path = t.dir.path().join("balance-history.csv");
    std::fs::write(&path, text).unwrap();
    let refused = import_stripe_report(&mut t.store, &path, &options(), now()).unwrap_err();
    let ImportError::Rows { errors, .. } = &refused else {
        panic!("{refused}");
    };
    assert_eq!(errors.len(), 1, "{refused}");
    assert_eq!((errors[0].line, errors[0].column), (2, 6));
    assert_eq!(errors[0].column_name, "Net");
    assert_eq!(errors[0].value, "824.80");
    assert!(transactions(&mut t).is_empty());
}

/// What a sync stored is the gateway's own word: a Stripe file bringing the same payout and
/// transaction again (its times to the minute, its columns fewer) changes neither, and a
/// payout in transit stays one the sync follows.
#[test]
fn a_file_never_overwrites_what_a_sync_stored() {
    use chargeguard::records::{BalanceTransaction, Origin, Payout};
    use chargeguard::store::SourceKind;
    let mut t = TestStore::new();
    let usd = |minor| {
        chargeguard::money::Money::from_minor(
            minor,
            chargeguard::money::Currency::from_code("USD").unwrap(),
        )
    };
    t.store
        .write(|tx| -> Result<(), chargeguard::store::StoreError> {
            let source = tx.begin_source(SourceKind::StripeSync, "sync", None, now())?;
            let origin = Origin {
                source_id: source,
                line: None,
            };
            tx.upsert_payout(
                "stripe",
                &Payout {
                    id: "po_1KE3FRDSYPMwkcNz9SFKuaYd".into(),
                    amount: usd(9622),
                    status: PayoutStatus::InTransit,
                    automatic: true,
                    created: "2022-01-04T02:59:41Z".parse().unwrap(),
                    arrival_date: "2022-01-05T00:00:00Z".parse().unwrap(),
                    failure_code: None,
                },
                &origin,
            )?;
            tx.upsert_balance_transaction(
                "stripe",
                &BalanceTransaction {
                    id: "txn_14G11HjubSIHf9IKrvJdwN".into(),
                    kind: "charge".into(),
                    amount: usd(1200),
                    fee: usd(0),
                    net: usd(1200),
                    created: "2020-01-23T08:26:29Z".parse().unwrap(),
                    available_on: "2020-01-27T00:00:00Z".parse().unwrap(),
                    source: Some("ch_1".into()),
                    payout: Some("po_1".into()),
                },
                &origin,
            )?;
            Ok(())
        })
        .unwrap();
    let before = t.dump();
    for name in ["payouts-export.csv", "balance-change-itemized-default.csv"] {
        let report = import_stripe_report(&mut t.store, &fixture(name), &options(), now()).unwrap();
        assert_eq!(report.counts.changed, 0, "{name}: {report}");
    }
    let stored = t
        .store
        .read(|tx| tx.balance_transactions("stripe"))
        .unwrap();
    let synced = stored
        .iter()
        .find(|b| b.id == "txn_14G11HjubSIHf9IKrvJdwN")
        .unwrap();
    assert_eq!(
        (
            synced.source.as_deref(),
            synced.payout.as_deref(),
            synced.kind.as_str()
        ),
        (Some("ch_1"), Some("po_1"), "charge")
    );
    let followed = t.store.read(|tx| tx.payouts_to_follow("stripe")).unwrap();
    assert!(
        followed
            .iter()
            .any(|p| p.id == "po_1KE3FRDSYPMwkcNz9SFKuaYd"),
        "the sync still follows the payout in transit"
    );
    assert_ne!(t.dump(), before, "the report's other transaction is new");
}

/// A report that lacks a column the balance history export had keeps what that export
/// said: its source and payout stay, its kind stays Stripe's type.
#[test]
fn a_report_without_a_column_keeps_what_an_earlier_file_said() {
    let mut t = TestStore::new();
    let history = t.dir.path().join("history.csv");
    std::fs::write(
        &history,
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),Description,Transfer\n\
         txn_14G11HjubSIHf9IKrvJdwN,charge,ch_9,12.00,0.00,12.00,usd,2020-01-23 08:26,2020-01-27 00:00,,po_9\n",
    )
    .unwrap();
    import_stripe_report(&mut t.store, &history, &options(), now()).unwrap();
    import_stripe_report(
        &mut t.store,
        &fixture("balance-change-itemized-default.csv"),
        &options(),
        now(),
    )
    .unwrap();
    let stored = t
        .store
        .read(|tx| tx.balance_transactions("stripe"))
        .unwrap();
    let kept = stored
        .iter()
        .find(|b| b.id == "txn_14G11HjubSIHf9IKrvJdwN")
        .unwrap();
    assert_eq!(
        (
            kept.source.as_deref(),
            kept.payout.as_deref(),
            kept.kind.as_str()
        ),
        (Some("ch_9"), Some("po_9"), "charge")
    );
}
