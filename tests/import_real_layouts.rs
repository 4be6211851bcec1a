//! The invoicing apps' exports, read with no mapping: each fixture under
//! `tests/fixtures/import/layouts/` follows the real export's header and quirks (see the
//! layout's TOML for where that comes from), and beside it a golden `.expected` file says
//! what a bookkeeper must find in the store: which app was recognised, the import's counts
//! and what it left out, then every invoice with its amount, dates, status and what the
//! export says was paid. Regenerate the golden files after a deliberate change with
//! `CHARGEGUARD_BLESS=1 cargo test --test import_real_layouts`, and read the diff.

mod import_support;

use std::path::Path;

use chargeguard::import::{FileKind, ImportError, ImportOptions, import_file};
use chargeguard::money::Currency;
use import_support::{TestStore, fixture, now};
use rstest::rstest;

fn options(currency: Option<&str>, from: Option<&str>) -> ImportOptions {
    ImportOptions {
        currency: currency.map(|c| Currency::from_code(c).unwrap()),
        from: from.map(str::to_string),
        ..ImportOptions::default()
    }
}

/// Why importing `file` as invoices with `options` is refused.
fn refusal(t: &mut TestStore, file: &Path, options: &ImportOptions) -> ImportError {
    match import_file(&mut t.store, FileKind::Invoices, file, options, now()) {
        Ok(report) => panic!("{} was not refused: {report}", file.display()),
        Err(e) => e,
    }
}

/// What the store holds after importing `file`, as the golden file has it.
fn imported(t: &mut TestStore, file: &Path, options: &ImportOptions) -> String {
    let report = import_file(&mut t.store, FileKind::Invoices, file, options, now())
        .unwrap_or_else(|e| panic!("{} was refused: {e}", file.display()));
    let mut out = format!(
        "recognised: {}\n",
        report.recognised.as_deref().unwrap_or("(our own layout)")
    );
    let name = file.file_name().unwrap().to_string_lossy();
    out.push_str(&format!(
        "{}\n",
        report
            .to_string()
            .replace(&file.display().to_string(), &name)
    ));
    let invoices = t.store.read(|tx| tx.invoices()).unwrap();
    for i in invoices {
        let day = |t: Option<jiff::Timestamp>| t.map_or("-".to_string(), |t| t.to_string());
        out.push_str(&format!(
            "{} | {} | {} {} | issued {} | due {} | {} | paid {} at {} | order {} | gateway {}\n",
            i.number,
            i.customer_id,
            i.amount.minor(),
            i.amount.currency().code(),
            i.issued_at,
            day(i.due_at),
            i.status.as_str(),
            i.stated_paid
                .map_or("-".to_string(), |m| m.minor().to_string()),
            day(i.paid_at),
            i.order_ref.as_deref().unwrap_or("-"),
            i.gateway_invoice_id.as_deref().unwrap_or("-"),
        ));
    }
    out
}

#[rstest]
#[case::stripe_invoices("stripe-invoices.csv", None, None)]
#[case::xero("xero.csv", None, None)]
#[case::freshbooks("freshbooks.csv", None, None)]
#[case::zoho_invoice("zoho-invoice.csv", None, None)]
#[case::zoho_books("zoho-books.csv", None, None)]
#[case::invoice2go("invoice2go.csv", None, None)]
#[case::invoicely_with_a_currency("invoicely.csv", Some("USD"), None)]
#[case::invoice_ninja("invoice-ninja.csv", None, None)]
#[case::invoice_ninja_items("invoice-ninja-items.csv", None, None)]
#[case::wave_with_a_currency("wave.csv", Some("USD"), None)]
#[case::quickbooks_online_with_a_currency("quickbooks-online.csv", Some("USD"), None)]
#[case::xero_for_a_us_organisation("xero-us.csv", None, Some("xero-us"))]
fn an_apps_export_imports_as_its_golden_file_says(
    #[case] name: &str,
    #[case] currency: Option<&str>,
    #[case] from: Option<&str>,
) {
    let file = fixture(&format!("layouts/{name}"));
    let golden = file.with_extension("expected");
    let mut t = TestStore::new();
    let options = options(currency, from);
    let got = imported(&mut t, &file, &options);
    if std::env::var_os("CHARGEGUARD_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden)
        .unwrap_or_else(|e| panic!("{}: {e}; bless it first", golden.display()));
    assert_eq!(
        got,
        want,
        "{name} no longer imports as {}",
        golden.display()
    );

    // The same file again changes nothing.
    let again = import_file(&mut t.store, FileKind::Invoices, &file, &options, now()).unwrap();
    assert_eq!((again.counts.new, again.counts.changed), (0, 0), "{again}");
    assert!(again.source_id.is_none(), "a repeat import writes nothing");
}

#[test]
fn a_file_without_a_currency_names_both_ways_to_give_one() {
    let mut t = TestStore::new();
    let err = refusal(
        &mut t,
        &fixture("layouts/invoicely.csv"),
        &ImportOptions::default(),
    )
    .to_string();
    assert!(err.contains(":1: read as Invoicely"), "{err}");
    assert!(err.contains("--currency"), "{err}");
    assert!(err.contains("default currency"), "{err}");
}

#[test]
fn a_file_no_layout_fits_lists_the_layouts_it_could_name() {
    let mut t = TestStore::new();
    let file = t.file("mystery.csv", b"Ref,Who,Sum\nA-1,Kim,10.00\n");
    let err = refusal(&mut t, &file, &ImportOptions::default());
    let text = err.to_string();
    assert!(
        text.contains("mystery.csv:1: missing required columns"),
        "{text}"
    );
    for known in ["xero", "zoho", "stripe-invoices", "quickbooks-online"] {
        assert!(text.contains(known), "{known} not offered: {text}");
    }
    assert!(matches!(err, ImportError::MissingColumns { .. }));
}

#[test]
fn an_unknown_layout_name_lists_the_known_ones() {
    let mut t = TestStore::new();
    let err = refusal(
        &mut t,
        &fixture("layouts/xero.csv"),
        &options(None, Some("sage")),
    )
    .to_string();
    assert!(err.contains("no layout is called `sage`"), "{err}");
    assert!(err.contains("xero-us"), "{err}");
}

#[test]
fn us_dates_read_as_uk_dates_are_refused_not_guessed() {
    let mut t = TestStore::new();
    let err = refusal(
        &mut t,
        &fixture("layouts/xero-us.csv"),
        &ImportOptions::default(),
    )
    .to_string();
    assert!(
        err.contains("is not a date in this layout's format"),
        "{err}"
    );
    assert!(err.contains("--from"), "{err}");
    assert!(t.store.read(|tx| tx.invoices()).unwrap().is_empty());
}

#[test]
fn lines_of_one_invoice_that_disagree_are_refused_naming_both_in_one_short_line() {
    let mut t = TestStore::new();
    let text = std::fs::read_to_string(fixture("layouts/zoho-invoice.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // Line 3 is INV-000101's second line: give it another customer name.
    lines[2] = lines[2].replacen("Acme Widgets,", "Acme Widgets Two,", 1);
    let file = t.file("zoho.csv", (lines.join("\n") + "\n").as_bytes());
    let before = t.dump();
    let err = refusal(&mut t, &file, &ImportOptions::default());
    let ImportError::Rows { errors, .. } = &err else {
        panic!("not refused by row: {err}");
    };
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!(errors[0].line, 3);
    assert_eq!(errors[0].column_name, "Customer Name");
    assert!(errors[0].reason.contains("line 2"), "{}", errors[0].reason);
    assert!(err.to_string().lines().all(|l| l.len() < 300), "{err}");
    assert_eq!(
        t.dump(),
        before,
        "a refused file leaves the store as it was"
    );
}

// ---------------------------------------------------------------- Stripe's payments export

/// Stripe's current payments export: `Created date (UTC)` first, `Invoice ID`, and the
/// payment attempts that made no charge (empty `id`, `Amount Refunded`, `Captured`, `Fee`).
const STRIPE_2024_HEADER: &str = "id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Converted Amount,Converted Amount Refunded,Converted Currency,Decline Reason,Description,Fee,Refunded date (UTC),Statement Descriptor,Status,Seller Message,Taxes On Fee,Card ID,Customer ID,Customer Description,Customer Email,Invoice ID,Transfer,PaymentIntent ID,invoice_number (metadata)";

fn stripe_row(
    id: &str,
    at: &str,
    amount: &str,
    customer: &str,
    invoice_id: &str,
    reference: &str,
) -> String {
    format!(
        "{id},{at},{amount},0.00,usd,true,{amount},0.00,usd,,Subscription,1.00,,CG,Paid,Payment complete.,0.00,pm_1,{customer},,,{invoice_id},,pi_{id},{reference}\n"
    )
}

#[test]
fn payment_attempts_without_a_charge_are_counted_and_left_out() {
    let mut t = TestStore::new();
    let file = fixture("stripe_payments_2024.csv");
    let report = t.import(FileKind::StripePayments, &file);
    assert_eq!(
        (report.counts.new, report.counts.changed),
        (6, 0),
        "{report}"
    );
    assert!(
        report.to_string().ends_with(
            "6 new, 0 changed, 0 unchanged; 2 payment attempts without a charge were not imported"
        ),
        "{report}"
    );
    let charges = t.store.read(|tx| tx.charges()).unwrap();
    assert_eq!(charges.len(), 6, "no charge is invented for an attempt");
    assert!(charges.iter().all(|c| !c.id.is_empty()));
    let paid = charges
        .iter()
        .find(|c| c.id == "ch_3ZzTestAaaa0001Xq1aB2cD3")
        .unwrap();
    assert_eq!(
        paid.gateway_invoice_id.as_deref(),
        Some("in_1ZzTestInv0001Aa")
    );
    assert_eq!(paid.invoice_ref.as_deref(), Some("CG-2025-0001"));
    assert_eq!(paid.fee.map(|f| f.minor()), Some(378));
    assert_eq!(paid.customer.as_deref(), Some("cus_TestAlpha0001"));
    assert_eq!(
        paid.payment_intent.as_deref(),
        Some("pi_3ZzTestAaaa0001Xq1pI0001")
    );
    let declined = charges
        .iter()
        .find(|c| c.id == "ch_3ZzTestAaaa0004Xq1aB2cD3")
        .unwrap();
    assert_eq!(declined.net_captured(), 0, "a failed charge holds nothing");
    let pending = charges
        .iter()
        .find(|c| c.id == "py_3ZzTestAaaa0006Xq1aB2cD3")
        .unwrap();
    assert_eq!(
        pending.net_captured(),
        0,
        "a pending debit holds nothing yet"
    );

    let again = t.import(FileKind::StripePayments, &file);
    assert_eq!(
        (
            again.counts.new,
            again.counts.changed,
            again.counts.unchanged
        ),
        (0, 0, 6)
    );
}

#[test]
fn the_older_created_utc_layout_imports_too() {
    let mut t = TestStore::new();
    let report = t.import(
        FileKind::StripePayments,
        &fixture("stripe_payments_2023.csv"),
    );
    assert!(report.counts.new > 0, "{report}");
    assert!(report.skipped.is_empty(), "{report}");
    let charges = t.store.read(|tx| tx.charges()).unwrap();
    assert_eq!(charges.len() as u64, report.counts.new);
}

/// Imports Stripe Billing's invoices and a payments export, reconciles, and returns the
/// open findings.
fn billing_findings(payments: &str) -> (TestStore, Vec<chargeguard::store::StoredFinding>) {
    let mut t = TestStore::new();
    t.import(FileKind::Invoices, &fixture("layouts/stripe-invoices.csv"));
    let file = t.file("unified_payments.csv", payments.as_bytes());
    t.import(FileKind::StripePayments, &file);
    chargeguard::reconcile::run(&mut t.store, now()).unwrap();
    let findings = t.store.read(|tx| tx.findings(&Default::default())).unwrap();
    (t, findings)
}

#[test]
fn a_charge_naming_its_stripe_invoice_is_matched_with_no_ledger_at_all() {
    let payments = format!(
        "{STRIPE_2024_HEADER}\n{}",
        stripe_row(
            "ch_paid",
            "2025-03-04 17:32:09",
            "120.00",
            "cus_TestAlpha0001",
            "in_1ZzTestInv0001Aa",
            ""
        )
    );
    let (_t, findings) = billing_findings(&payments);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_second_charge_for_one_stripe_invoice_is_a_double_charge() {
    let payments = format!(
        "{STRIPE_2024_HEADER}\n{}{}",
        stripe_row(
            "ch_first",
            "2025-03-04 17:32:09",
            "120.00",
            "cus_TestAlpha0001",
            "in_1ZzTestInv0001Aa",
            ""
        ),
        stripe_row(
            "ch_again",
            "2025-03-04 17:40:00",
            "120.00",
            "cus_TestAlpha0001",
            "in_1ZzTestInv0001Aa",
            ""
        ),
    );
    let (_t, findings) = billing_findings(&payments);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f.kind.as_str(), "double_charge");
    assert_eq!(f.invoice_number.as_deref(), Some("A1B2C3D4-0001"));
    assert_eq!(f.charge_ids, vec!["ch_again".to_string()]);
    assert_eq!(f.amount_minor, 12_000);
}

#[test]
fn a_charge_naming_no_imported_invoice_is_still_an_orphan() {
    let payments = format!(
        "{STRIPE_2024_HEADER}\n{}",
        stripe_row(
            "ch_stray",
            "2025-03-06 14:22:10",
            "200.00",
            "cus_Nobody",
            "in_NotImported",
            ""
        )
    );
    let (_t, findings) = billing_findings(&payments);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].kind.as_str(), "orphan_charge");
    assert_eq!(findings[0].charge_ids, vec!["ch_stray".to_string()]);
}

// ---------------------------------------------------------------- the ledger an invoice export states

#[test]
fn what_an_invoice_export_says_was_paid_stands_for_the_ledger() {
    let mut t = TestStore::new();
    t.import(FileKind::Invoices, &fixture("layouts/zoho-invoice.csv"));
    // INV-000101 (205.50 USD) is paid in full; INV-000102 (1,200.00 EUR) has 750.00 paid.
    let payments = format!(
        "{STRIPE_2024_HEADER}\n{}{}{}{}",
        stripe_row(
            "ch_101",
            "2024-03-10 10:00:00",
            "205.50",
            "cus_z",
            "",
            "INV-000101"
        ),
        stripe_row(
            "ch_101_again",
            "2024-03-10 10:05:00",
            "205.50",
            "cus_z",
            "",
            "INV-000101"
        ),
        stripe_row(
            "ch_102",
            "2024-03-20 10:00:00",
            "750.00",
            "cus_z",
            "",
            "INV-000102"
        )
        .replace(",usd,", ",eur,"),
        stripe_row(
            "ch_102_more",
            "2024-03-25 10:00:00",
            "450.00",
            "cus_z",
            "",
            "INV-000102"
        )
        .replace(",usd,", ",eur,"),
    );
    let file = t.file("unified_payments.csv", payments.as_bytes());
    t.import(FileKind::StripePayments, &file);
    chargeguard::reconcile::run(&mut t.store, now()).unwrap();
    let findings = t.store.read(|tx| tx.findings(&Default::default())).unwrap();
    let about = |id: &str| {
        findings
            .iter()
            .find(|f| f.charge_ids.iter().any(|c| c == id))
            .map(|f| (f.kind.as_str(), f.evidence.clone()))
    };
    assert_eq!(about("ch_101"), None, "the paid amount accounts for it");
    assert_eq!(about("ch_102"), None, "the 750.00 paid accounts for it");
    let (kind, _) = about("ch_101_again").expect("a second charge on a paid invoice");
    assert_eq!(kind, "double_charge");
    let (kind, evidence) = about("ch_102_more").expect("a charge beyond what was paid");
    assert_eq!(kind, "orphan_charge", "the app does not know of it yet");
    assert_eq!(
        evidence["invoice"]["ledger_from"], "invoice export",
        "{evidence}"
    );
    assert_eq!(
        evidence["invoice"]["stated_paid_minor"], 75_000,
        "{evidence}"
    );
    assert_eq!(findings.len(), 2, "{findings:#?}");
}
