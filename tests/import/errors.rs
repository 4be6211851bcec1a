//! Bad input is refused whole: the error names the file, line and column of every bad
//! cell with its value and what to do, and the store's content is exactly what it was.

use crate::import_support;

use chargeguard::import::{FileKind, ImportError, ImportOptions, RowError, import_file};
use import_support::{TestStore, fixture, now};
use rstest::rstest;

const INVOICES: &str = "invoice_number,customer_id,amount,currency,issued_at,due_at,status\n";
const PAYMENTS: &str = "payment_id,invoice_number,kind,amount,currency,recorded_at,gateway_id\n";
const STRIPE: &str =
    "id,Created date (UTC),Amount,Amount Refunded,Currency,Status,Captured,Customer ID\n";

/// A store already holding invoices, payments and charges, so "unchanged" means something.
fn filled_store() -> TestStore {
    let mut t = TestStore::new();
    t.import(FileKind::Invoices, &fixture("invoices.csv"));
    t.import(FileKind::Payments, &fixture("payments.csv"));
    t.import(FileKind::StripePayments, &fixture("stripe_payments.csv"));
    t
}

fn refused(t: &mut TestStore, kind: FileKind, name: &str, content: &[u8]) -> (ImportError, String) {
    let path = t.file(name, content);
    let before = t.dump();
    let err = import_file(&mut t.store, kind, &path, &ImportOptions::default(), now())
        .expect_err("the file must be refused");
    assert_eq!(
        t.dump(),
        before,
        "a refused import leaves the store as it was"
    );
    (err, path.display().to_string())
}

fn row_errors(err: ImportError) -> Vec<RowError> {
    match err {
        ImportError::Rows { errors, .. } => errors,
        other => panic!("expected row errors, got: {other}"),
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[rstest]
#[case::amount_with_more_decimals_than_usd(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,c1,12.345,USD,2026-10-01,,open\n"]),
    2, 3, "amount", "more decimals than USD"
)]
#[case::amount_with_an_exponent(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,c1,1e3,USD,2026-10-01,,open\n"]),
    2, 3, "amount", "plain decimal"
)]
#[case::amount_with_a_decimal_comma(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,c1,\"12,50\",EUR,2026-10-01,,open\n"]),
    2, 3, "amount", "comma"
)]
#[case::amount_empty(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,c1,,USD,2026-10-01,,open\n"]),
    2, 3, "amount", "empty"
)]
#[case::invoice_amount_negative(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,c1,-5.00,USD,2026-10-01,,open\n"]),
    2, 3, "amount", "negative"
)]
#[case::payment_amount_negative(
    FileKind::Payments,
    cat(&[PAYMENTS.as_bytes(), b"P-9,INV-1,payment,-5.00,USD,2026-10-01,ch_1\n"]),
    2, 4, "amount", "set kind to refund"
)]
#[case::unknown_currency(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,c1,5.00,XYZ,2026-10-01,,open\n"]),
    2, 4, "currency", "not an ISO 4217 currency"
)]
#[case::date_not_iso(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,c1,5.00,USD,31/10/2026,,open\n"]),
    2, 5, "issued_at", "not an ISO 8601 date"
)]
#[case::unknown_invoice_status(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,c1,5.00,USD,2026-10-01,,Unpaid\n"]),
    2, 7, "status", "`Unpaid` is not an invoice status"
)]
#[case::unknown_ledger_kind(
    FileKind::Payments,
    cat(&[PAYMENTS.as_bytes(), b"P-9,INV-1,chargeback,5.00,USD,2026-10-01,ch_1\n"]),
    2, 3, "kind", "`chargeback` is not a ledger kind"
)]
#[case::unknown_stripe_status(
    FileKind::StripePayments,
    cat(&[STRIPE.as_bytes(), b"ch_9,2026-10-01 10:00:00,5.00,0.00,usd,Settled,true,cus_1\n"]),
    2, 6, "Status", "`Settled` is not a Stripe payment status"
)]
#[case::refunded_more_than_charged(
    FileKind::StripePayments,
    cat(&[STRIPE.as_bytes(), b"ch_9,2026-10-01 10:00:00,5.00,6.00,usd,Refunded,true,cus_1\n"]),
    2, 4, "Amount Refunded", "more than the charge's amount"
)]
#[case::same_key_with_other_values(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-7,c1,5.00,USD,2026-10-01,,open\nINV-7,c1,6.00,USD,2026-10-01,,open\n"]),
    3, 1, "invoice_number", "also on line 2 with other values"
)]
#[case::same_key_first_seen_unchanged_then_other_values(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1001,cus_A,120.00,USD,2026-10-01,2026-10-31,open\nINV-1001,cus_A,120.00,USD,2026-10-01,2026-10-31,paid\n"]),
    3, 1, "invoice_number", "also on line 2"
)]
#[case::row_with_a_field_too_many(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,c1,5.00,USD,2026-10-01,,open\nINV-2,c1,5,00,USD,2026-10-01,,open\n"]),
    3, 8, "column 8", "has 8 fields but the header has 7"
)]
#[case::quote_never_closed(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,c1,5.00,USD,2026-10-01,,\"open\nINV-2,c1,5.00,USD,2026-10-01,,open\n"]),
    2, 7, "status", "never closed"
)]
#[case::quote_never_closed_mid_row(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,\"c1,5.00,USD,2026-10-01,,open\nINV-2,c1,5.00,USD,2026-10-01,,open\n"]),
    2, 3, "amount", "never closed"
)]
#[case::latin1_bytes_instead_of_utf8(
    FileKind::Invoices,
    cat(&[INVOICES.as_bytes(), b"INV-1,M\xfcller GmbH,5.00,EUR,2026-10-01,,open\n"]),
    2, 2, "customer_id", "not UTF-8"
)]
fn a_bad_cell_is_named_by_line_and_column_and_nothing_is_written(
    #[case] kind: FileKind,
    #[case] content: Vec<u8>,
    #[case] line: u64,
    #[case] column: usize,
    #[case] column_name: &str,
    #[case] reason: &str,
) {
    let mut t = filled_store();
    let (err, file) = refused(&mut t, kind, "bad.csv", &content);
    let message = err.to_string();
    let errors = row_errors(err);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    assert_eq!(
        (e.line, e.column, e.column_name.as_str()),
        (line, column, column_name),
        "{e}"
    );
    assert!(e.reason.contains(reason), "reason: {}", e.reason);
    assert!(
        message.contains(&format!("{file}:{line}:{column}: ")),
        "the message points at file:line:column: {message}"
    );
    assert!(message.contains("nothing was imported"), "{message}");
}

#[test]
fn every_bad_row_is_reported_not_just_the_first() {
    let mut t = filled_store();
    let content = cat(&[
        INVOICES.as_bytes(),
        b"INV-1,c1,5.00,USD,2026-10-01,,open\n",
        b"INV-2,c1,5.001,USD,2026-10-01,,open\n",
        b"INV-3,c1,5.00,USD,2026-10-01,,open\n",
        b"INV-4,,5.00,USD,yesterday,,closed\n",
    ]);
    let (err, _) = refused(&mut t, FileKind::Invoices, "bad.csv", &content);
    let errors = row_errors(err);
    let at: Vec<(u64, usize, &str)> = errors
        .iter()
        .map(|e| (e.line, e.column, e.value.as_str()))
        .collect();
    assert_eq!(
        at,
        [
            (3, 3, "5.001"),
            (5, 2, ""),
            (5, 5, "yesterday"),
            (5, 7, "closed")
        ]
    );
}

#[test]
fn a_flood_of_bad_rows_lists_a_hundred_and_counts_the_rest() {
    let mut t = TestStore::new();
    let mut content = INVOICES.to_string();
    for i in 0..150 {
        content.push_str(&format!("INV-{i},c1,5.00,USD,2026-10-01,,unpaid\n"));
    }
    let (err, _) = refused(&mut t, FileKind::Invoices, "bad.csv", content.as_bytes());
    assert!(err.to_string().contains("150 problems"), "{err}");
    assert!(err.to_string().contains("… and 50 more"), "{err}");
    match err {
        ImportError::Rows { errors, more, .. } => assert_eq!((errors.len(), more), (100, 50)),
        other => panic!("{other}"),
    }
}

#[test]
fn a_missing_column_lists_what_is_missing_and_what_was_found() {
    let mut t = filled_store();
    let content = b"invoice_number,customer,amount,currency,issued_at,status\nINV-1,c1,5.00,USD,2026-10-01,open\n";
    let (err, _) = refused(&mut t, FileKind::Invoices, "bad.csv", content);
    let message = err.to_string();
    match err {
        ImportError::MissingColumns { missing, found, .. } => {
            assert_eq!(missing, ["customer_id", "due_at"]);
            assert_eq!(
                found,
                [
                    "invoice_number",
                    "customer",
                    "amount",
                    "currency",
                    "issued_at",
                    "status"
                ]
            );
        }
        other => panic!("expected missing columns, got: {other}"),
    }
    assert!(message.contains("--mapping"), "{message}");
}

#[test]
fn a_stripe_export_without_its_required_columns_is_refused() {
    let mut t = filled_store();
    let (err, _) = refused(
        &mut t,
        FileKind::StripePayments,
        "bad.csv",
        b"id,Amount,Currency,Status\nch_1,5.00,usd,Paid\n",
    );
    match err {
        ImportError::MissingColumns { missing, .. } => assert_eq!(
            missing,
            ["Created date (UTC)", "Amount Refunded", "Captured"]
        ),
        other => panic!("{other}"),
    }
}

#[test]
fn an_empty_file_has_no_columns() {
    let mut t = filled_store();
    let (err, _) = refused(&mut t, FileKind::Payments, "empty.csv", b"");
    assert!(
        matches!(err, ImportError::MissingColumns { ref found, .. } if found.is_empty()),
        "{err}"
    );
}

#[test]
fn a_file_that_does_not_exist_is_an_io_error_naming_it() {
    let mut t = TestStore::new();
    let path = t.dir.path().join("nowhere.csv");
    let err = import_file(
        &mut t.store,
        FileKind::Invoices,
        &path,
        &ImportOptions::default(),
        now(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::Io { .. }));
    assert!(err.to_string().contains("nowhere.csv"), "{err}");
}
