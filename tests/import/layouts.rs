//! Each default layout imports as a bookkeeper would check it: the stored invoices, ledger
//! entries and charges say exactly what the file says, every row names its source line,
//! and extra columns are kept.

use crate::import_support;

use std::collections::BTreeMap;

use chargeguard::import::FileKind;
use chargeguard::money::Currency;
use chargeguard::records::{ChargeStatus, InvoiceStatus, LedgerKind};
use chargeguard::store::StoredRow;
use import_support::{TestStore, fixture};
use jiff::Timestamp;

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn cur(code: &str) -> Currency {
    Currency::from_code(code).unwrap()
}

#[test]
fn invoices_import_with_their_amounts_dates_and_statuses() {
    let mut t = TestStore::new();
    let report = t.import(FileKind::Invoices, &fixture("invoices.csv"));
    assert_eq!(
        (
            report.counts.new,
            report.counts.changed,
            report.counts.unchanged
        ),
        (3, 0, 0)
    );
    assert!(
        report
            .to_string()
            .ends_with("invoices.csv: 3 new, 0 changed, 0 unchanged"),
        "{report}"
    );

    let invoices = t.store.read(|tx| tx.invoices()).unwrap();
    assert_eq!(invoices.len(), 3);
    let usd = &invoices[0];
    assert_eq!(usd.number, "INV-1001");
    assert_eq!(usd.customer_id, "cus_A");
    assert_eq!(
        (usd.amount.minor(), usd.amount.currency()),
        (12_000, cur("USD"))
    );
    assert_eq!(usd.issued_at, ts("2026-10-01T00:00:00Z"));
    assert_eq!(usd.due_at, Some(ts("2026-10-31T00:00:00Z")));
    assert_eq!(usd.status, InvoiceStatus::Open);
    assert_eq!(usd.order_ref.as_deref(), Some("ORD-1"));

    let jpy = &invoices[1];
    assert_eq!(
        (jpy.amount.minor(), jpy.amount.currency()),
        (5_000, cur("JPY"))
    );
    assert_eq!(
        jpy.issued_at,
        ts("2026-10-02T00:30:00Z"),
        "the file's +09:00 offset is honoured"
    );
    assert_eq!(jpy.due_at, None);
    assert_eq!(jpy.order_ref, None, "an empty order_ref is no order");
    assert_eq!(jpy.status, InvoiceStatus::Paid);

    let kwd = &invoices[2];
    assert_eq!(
        (kwd.amount.minor(), kwd.amount.currency()),
        (1_250, cur("KWD"))
    );
    assert_eq!(kwd.status, InvoiceStatus::Void);

    let origin = t.query(
        "SELECT invoice_number, source_id, source_line FROM invoices ORDER BY invoice_number",
    );
    assert_eq!(origin[0], ["INV-1001", "1", "2"]);
    assert_eq!(origin[1], ["INV-1002", "1", "3"]);
    assert_eq!(origin[2], ["INV-1003", "1", "4"]);
    let extra = |t: &mut TestStore, number| t.extra(StoredRow::Invoice(number));
    assert_eq!(
        extra(&mut t, "INV-1001"),
        BTreeMap::from([("notes".to_string(), "first order".to_string())])
    );
    assert_eq!(extra(&mut t, "INV-1002"), BTreeMap::new());
    assert_eq!(
        extra(&mut t, "INV-1003"),
        BTreeMap::from([("notes".to_string(), "quoted, with a comma".to_string())])
    );

    let sources = t.query("SELECT kind, content_sha256, rows_new FROM sources");
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0][0], "invoices");
    assert_eq!(sources[0][1], report.content_sha256);
    assert_eq!(sources[0][1].len(), 64);
    assert_eq!(sources[0][2], "3");
}

#[test]
fn headers_match_in_any_order_and_case_after_a_byte_order_mark() {
    let mut t = TestStore::new();
    let report = t.import(FileKind::Invoices, &fixture("invoices_bom_shuffled.csv"));
    assert_eq!(report.counts.new, 1);
    let invoices = t.store.read(|tx| tx.invoices()).unwrap();
    assert_eq!(invoices[0].number, "INV-2001");
    assert_eq!(invoices[0].amount.minor(), 9_990);
    assert_eq!(invoices[0].amount.currency(), cur("EUR"));
    assert_eq!(invoices[0].status, InvoiceStatus::Open);
    assert_eq!(invoices[0].order_ref, None);
}

#[test]
fn payments_import_as_ledger_entries_with_cash_left_without_a_gateway_id() {
    let mut t = TestStore::new();
    let report = t.import(FileKind::Payments, &fixture("payments.csv"));
    assert_eq!(report.counts.new, 3);
    let entries = t.store.read(|tx| tx.ledger_entries()).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].payment_id, "PAY-1");
    assert_eq!(entries[0].invoice_number, "INV-1001");
    assert_eq!(entries[0].kind, LedgerKind::Payment);
    assert_eq!(entries[0].amount.minor(), 12_000);
    assert_eq!(entries[0].recorded_at, ts("2026-10-05T10:00:00Z"));
    assert_eq!(entries[0].gateway_id.as_deref(), Some("ch_3Q1usdPaid"));
    assert_eq!(entries[1].gateway_id, None, "an empty gateway id is cash");
    assert_eq!(
        (entries[1].amount.minor(), entries[1].amount.currency()),
        (5_000, cur("JPY"))
    );
    assert_eq!(entries[2].kind, LedgerKind::Refund);
    assert_eq!(
        (entries[2].amount.minor(), entries[2].amount.currency()),
        (250, cur("KWD"))
    );
    assert_eq!(entries[2].recorded_at, ts("2026-10-07T10:00:00Z"));
}

#[test]
fn a_wide_stripe_export_imports_jpy_usd_and_kwd_charges_with_metadata() {
    let mut t = TestStore::new();
    let report = t.import(FileKind::StripePayments, &fixture("stripe_payments.csv"));
    assert_eq!(report.counts.new, 6);
    let coverage = report.coverage.expect("an export covers its rows' window");
    assert_eq!(coverage.from, ts("2026-10-01T07:00:00Z"));
    assert_eq!(coverage.to, ts("2026-10-06T18:45:30Z"));

    let charges = t.store.read(|tx| tx.charges()).unwrap();
    let by_id = |id: &str| charges.iter().find(|c| c.id == id).unwrap().clone();

    let usd = by_id("ch_3Q1usdPaid");
    assert_eq!(
        (usd.amount.minor(), usd.amount.currency()),
        (12_000, cur("USD"))
    );
    assert_eq!(usd.amount_refunded.minor(), 0);
    assert_eq!((usd.status, usd.captured), (ChargeStatus::Succeeded, true));
    assert_eq!(usd.created, ts("2026-10-03T14:22:10Z"));
    assert_eq!(usd.customer.as_deref(), Some("cus_A"));
    assert_eq!(usd.customer_email.as_deref(), Some("alice@example.com"));
    assert_eq!(usd.payment_intent.as_deref(), Some("pi_3Q1usd"));
    assert_eq!(usd.description.as_deref(), Some("Invoice INV-1001"));
    assert_eq!(usd.invoice_ref.as_deref(), Some("INV-1001"));
    assert_eq!(
        usd.metadata.get("order_id").map(String::as_str),
        Some("ORD-1")
    );
    assert_eq!(
        usd.metadata.get("invoice_number").map(String::as_str),
        Some("INV-1001")
    );
    assert_eq!(usd.fee.map(|f| f.minor()), Some(378));
    assert_eq!(usd.net_captured(), 12_000);

    let jpy = by_id("ch_3Q2jpyPaid");
    assert_eq!(
        (jpy.amount.minor(), jpy.amount.currency()),
        (5_000, cur("JPY"))
    );
    assert_eq!(
        jpy.created,
        ts("2026-10-04T09:00:00Z"),
        "a time without seconds is read"
    );
    assert_eq!(jpy.fee, None, "a fee in USD is not a JPY fee");

    let kwd = by_id("ch_3Q3kwdPart");
    assert_eq!(
        (kwd.amount.minor(), kwd.amount.currency()),
        (1_250, cur("KWD"))
    );
    assert_eq!(kwd.amount_refunded.minor(), 250);
    assert_eq!(kwd.fee.map(|f| f.minor()), Some(40));
    assert_eq!(kwd.net_captured(), 1_000);

    let failed = by_id("ch_3Q4usdFail");
    assert_eq!(
        (failed.status, failed.captured),
        (ChargeStatus::Failed, false)
    );
    assert_eq!(failed.fee, None);
    assert!(
        !failed.metadata.contains_key("order_id"),
        "an empty metadata cell is no key"
    );
    assert_eq!(failed.net_captured(), 0);

    let uncaptured = by_id("ch_3Q5usdAuth");
    assert_eq!(
        (uncaptured.status, uncaptured.captured),
        (ChargeStatus::Succeeded, false)
    );
    assert_eq!(uncaptured.invoice_ref, None);
    assert_eq!(uncaptured.net_captured(), 0);

    let refunded = by_id("ch_3Q6usdRefd");
    assert_eq!(refunded.amount_refunded.minor(), 12_000);
    assert_eq!(refunded.net_captured(), 0);

    // What reconciliation does not read is kept, and the USD fee of a JPY charge with it.
    let extra = t.extra(StoredRow::Charge {
        gateway: "stripe",
        id: "ch_3Q2jpyPaid",
    });
    assert_eq!(extra["Card Brand"], "JCB");
    assert_eq!(extra["Converted Amount"], "33.50");
    assert_eq!(extra["Converted Currency"], "usd");
    assert_eq!(extra["Fee"], "1.27");
    assert_eq!(extra["Seller Message"], "Payment complete.");
    assert!(!extra.contains_key("Card Name"), "empty cells are not kept");
    assert!(
        !extra.contains_key("Amount"),
        "used columns are not repeated"
    );
    let usd_extra = t.extra(StoredRow::Charge {
        gateway: "stripe",
        id: "ch_3Q1usdPaid",
    });
    assert!(
        !usd_extra.contains_key("Fee"),
        "a fee stored as the fee is not repeated"
    );

    let coverage_rows =
        t.query("SELECT gateway, object_kind, covered_from, covered_to FROM coverage");
    assert_eq!(
        coverage_rows,
        [[
            "stripe".to_string(),
            "charge".to_string(),
            coverage.from.as_second().to_string(),
            coverage.to.as_second().to_string()
        ]]
    );
    let lines = t.query("SELECT charge_id, source_line FROM gateway_charges ORDER BY source_line");
    assert_eq!(lines[0], ["ch_3Q1usdPaid", "2"]);
    assert_eq!(lines[5], ["ch_3Q6usdRefd", "7"]);
}
