//! A charge's dispute as Stripe's payments export states it (`Disputed Amount`, `Dispute
//! Status`, `Dispute Reason`, `Dispute Date (UTC)`, `Dispute Evidence Due (UTC)`, the
//! columns real exports carry): stored as the charge's dispute, idempotent on re-import,
//! changed when a later export moves it on, and found by reconciliation without a sync.

use crate::import_support::{TestStore, fixture};
use chargeguard::import::FileKind;
use chargeguard::reconcile::FindingKind;
use chargeguard::records::DisputeStatus;
use chargeguard::store::FindingFilter;

/// A payments export with the real export's header (the fixture's), one row per charge;
/// each row names only the cells it sets, the others left empty.
fn export(rows: &[&[(&str, &str)]]) -> String {
    let text = std::fs::read_to_string(fixture("stripe_payments.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        let cells: Vec<&str> = header
            .iter()
            .map(|name| {
                row.iter()
                    .find(|(n, _)| n == name)
                    .map_or("", |(_, value)| value)
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn charge<'a>(
    id: &'a str,
    invoice: &'a str,
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut row = vec![
        ("id", id),
        ("Created date (UTC)", "2026-10-03 14:22:10"),
        ("Amount", "120.00"),
        ("Amount Refunded", "0.00"),
        ("Currency", "usd"),
        ("Status", "Paid"),
        ("Captured", "true"),
        ("Customer ID", "cus_A"),
        ("invoice_number (metadata)", invoice),
    ];
    row.extend_from_slice(more);
    row
}

const INVOICES: &str = "invoice_number,customer_id,amount,currency,issued_at,due_at,status
INV-1,cus_A,120.00,USD,2026-10-03T09:00:00Z,2026-10-17,paid
INV-2,cus_A,120.00,USD,2026-10-03T09:00:00Z,2026-10-17,paid
INV-3,cus_A,120.00,USD,2026-10-03T09:00:00Z,2026-10-17,paid
";

const PAYMENTS: &str = "payment_id,invoice_number,kind,amount,currency,recorded_at,gateway_id
pay_1,INV-1,payment,120.00,USD,2026-10-03T14:30:00Z,ch_A
pay_2,INV-2,payment,120.00,USD,2026-10-03T14:30:00Z,ch_B
pay_3,INV-3,payment,120.00,USD,2026-10-03T14:30:00Z,ch_C
";

#[test]
fn a_dispute_the_export_states_is_stored_once_moves_on_with_a_later_export_and_is_found() {
    let mut t = TestStore::new();
    let a = charge(
        "ch_A",
        "INV-1",
        &[
            ("Status", "Disputed"),
            ("Disputed Amount", "120.00"),
            ("Dispute Status", "needs_response"),
            ("Dispute Reason", "fraudulent"),
            ("Dispute Date (UTC)", "2026-10-10 08:00:00"),
            ("Dispute Evidence Due (UTC)", "2026-10-18 23:59:59"),
        ],
    );
    // An export may write 0.00 on every undisputed row: no dispute.
    let b = charge("ch_B", "INV-2", &[("Disputed Amount", "0.00")]);
    // Words as a dashboard writes them, and no amount: the whole charge.
    let c = charge(
        "ch_C",
        "INV-3",
        &[
            ("Dispute Status", "Lost"),
            ("Dispute Reason", "product_not_received"),
            ("Dispute Date (UTC)", "2026-10-12 09:30"),
        ],
    );
    let first = t.file("payments-1.csv", export(&[&a, &b, &c]).as_bytes());
    let report = t.import(FileKind::StripePayments, &first);
    assert_eq!(report.counts.new, 3);

    let disputes = t.store.read(|tx| tx.disputes("stripe")).unwrap();
    let summary: Vec<(&str, DisputeStatus, i64, &str, String)> = disputes
        .iter()
        .map(|d| {
            (
                d.charge_id.as_str(),
                d.status,
                d.amount.minor(),
                d.reason.as_str(),
                d.created.to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "ch_A",
                DisputeStatus::NeedsResponse,
                12_000,
                "fraudulent",
                "2026-10-10T08:00:00Z".to_string()
            ),
            (
                "ch_C",
                DisputeStatus::Lost,
                12_000,
                "product_not_received",
                "2026-10-12T09:30:00Z".to_string()
            ),
        ]
    );
    assert_eq!(
        disputes[0]
            .evidence_due_by
            .map(|t| t.to_string())
            .as_deref(),
        Some("2026-10-18T23:59:59Z")
    );
    assert!(disputes.iter().all(|d| d.payment_intent.is_none()));

    let dump = t.dump();
    let again = t.import(FileKind::StripePayments, &first);
    assert_eq!((again.counts.unchanged, again.counts.changed), (3, 0));
    assert_eq!(
        t.dump(),
        dump,
        "importing the same file twice changes nothing"
    );

    // A week later the bank decided: the next export says lost.
    let a_lost: Vec<(&str, &str)> = a
        .iter()
        .map(|&(n, v)| {
            if n == "Dispute Status" {
                (n, "lost")
            } else {
                (n, v)
            }
        })
        .collect();
    let later = t.file("payments-2.csv", export(&[&a_lost, &b, &c]).as_bytes());
    let moved = t.import(FileKind::StripePayments, &later);
    assert_eq!((moved.counts.unchanged, moved.counts.changed), (2, 1));
    let change = &moved.changed[0];
    assert_eq!(change.key, "ch_A");
    assert_eq!(change.changes[0].field, "dispute status");
    assert_eq!(
        (
            change.changes[0].old.as_deref(),
            change.changes[0].new.as_deref()
        ),
        (Some("needs_response"), Some("lost"))
    );

    // Without a sync, the ledger's books meet the export's chargebacks.
    let invoices = t.file("invoices.csv", INVOICES.as_bytes());
    let payments = t.file("payments.csv", PAYMENTS.as_bytes());
    t.import(FileKind::Invoices, &invoices);
    t.import(FileKind::Payments, &payments);
    chargeguard::reconcile::run(&mut t.store, crate::import_support::now()).unwrap();
    let open = t
        .store
        .read(|tx| tx.findings(&FindingFilter::default()))
        .unwrap();
    let found: Vec<(FindingKind, Vec<String>, i64)> = open
        .iter()
        .map(|f| (f.kind, f.charge_ids.clone(), f.amount.minor()))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                FindingKind::DisputeLostUnrecorded,
                vec!["ch_A".to_string()],
                12_000
            ),
            (
                FindingKind::DisputeLostUnrecorded,
                vec!["ch_C".to_string()],
                12_000
            ),
        ]
    );
    assert!(
        open[0].reason.contains("payments export"),
        "{}",
        open[0].reason
    );
}

#[test]
fn a_dispute_without_its_date_is_refused_naming_the_line_and_column() {
    let mut t = TestStore::new();
    let ok = charge("ch_A", "INV-1", &[]);
    let undated = charge(
        "ch_B",
        "INV-2",
        &[
            ("Disputed Amount", "120.00"),
            ("Dispute Status", "under_review"),
        ],
    );
    let file = t.file("undated.csv", export(&[&ok, &undated]).as_bytes());
    let before = t.dump();
    let message = t.refused(FileKind::StripePayments, &file);
    assert!(
        message.contains("undated.csv:3:42: Dispute Date (UTC)"),
        "{message}"
    );
    assert_eq!(t.dump(), before, "nothing stored on a refusal");
}
