//! The rules, case by case, as a bookkeeper would check them: which finding, on which
//! invoice, about which charges, for how much — and the cases that must stay silent.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use rstest::rstest;

use super::*;
use crate::money::Currency;
use crate::money::Money;
use crate::records::{ChargeStatus, InvoiceStatus, LedgerKind};

const T0: &str = "2026-10-01T09:00:00Z";

fn t0() -> Timestamp {
    T0.parse().unwrap()
}

fn minutes(n: i64) -> Timestamp {
    t0() + SignedDuration::from_mins(n)
}

fn cur(code: &str) -> Currency {
    Currency::from_code(code).unwrap()
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, cur("USD"))
}

/// An open USD invoice of customer `cus_1`, issued at T0 and due two weeks later.
fn inv(number: &str, minor: i64) -> Invoice {
    Invoice {
        number: number.into(),
        customer_id: "cus_1".into(),
        amount: usd(minor),
        issued_at: t0(),
        due_at: Some(t0() + SignedDuration::from_hours(14 * 24)),
        status: InvoiceStatus::Open,
        order_ref: None,
        gateway_invoice_id: None,
        stated_paid: None,
        paid_at: None,
    }
}

/// A succeeded, captured USD charge of `cus_1`, created `at` minutes after T0.
fn ch(id: &str, minor: i64, at: i64) -> Charge {
    Charge {
        id: id.into(),
        amount: usd(minor),
        amount_refunded: usd(0),
        status: ChargeStatus::Succeeded,
        captured: true,
        created: minutes(at),
        customer: Some("cus_1".into()),
        customer_email: None,
        payment_intent: None,
        invoice_ref: None,
        gateway_invoice_id: None,
        description: None,
        fee: None,
        metadata: BTreeMap::new(),
    }
}

/// A charge carrying `metadata[invoice_number]`.
fn ch_ref(id: &str, minor: i64, at: i64, invoice: &str) -> Charge {
    Charge {
        invoice_ref: Some(invoice.into()),
        gateway_invoice_id: None,
        ..ch(id, minor, at)
    }
}

fn pay(id: &str, invoice: &str, minor: i64, gateway_id: Option<&str>) -> LedgerEntry {
    LedgerEntry {
        payment_id: id.into(),
        invoice_number: invoice.into(),
        kind: LedgerKind::Payment,
        amount: usd(minor),
        recorded_at: minutes(5),
        gateway_id: gateway_id.map(str::to_string),
    }
}

fn ledger_refund(id: &str, invoice: &str, minor: i64, gateway_id: &str) -> LedgerEntry {
    LedgerEntry {
        kind: LedgerKind::Refund,
        ..pay(id, invoice, minor, Some(gateway_id))
    }
}

fn gateway_refund(id: &str, charge_id: &str, minor: i64) -> GatewayRefund {
    GatewayRefund {
        id: id.into(),
        charge_id: charge_id.into(),
        amount: usd(minor),
        status: crate::records::RefundStatus::Succeeded,
        created: minutes(60),
        metadata: BTreeMap::new(),
    }
}

/// Books whose gateway data covers September to November 2026.
fn books(invoices: Vec<Invoice>, ledger: Vec<LedgerEntry>, charges: Vec<Charge>) -> Books {
    Books {
        invoices,
        ledger,
        charges,
        refunds: Vec::new(),
        coverage: vec![Coverage {
            from: "2026-09-01T00:00:00Z".parse().unwrap(),
            to: "2026-12-01T00:00:00Z".parse().unwrap(),
        }],
        chargebacks: Vec::new(),
    }
}

type Expected = (
    FindingKind,
    Option<&'static str>,
    Vec<&'static str>,
    i64,
    Confidence,
);

/// A finding as the bookkeeper checks it: kind, invoice, charges, amount, confidence.
type Seen = (FindingKind, Option<String>, Vec<String>, i64, Confidence);

fn seen(r: &Reconciliation) -> Vec<Seen> {
    r.findings
        .iter()
        .map(|f| {
            (
                f.kind,
                f.invoice_number.clone(),
                f.charge_ids.clone(),
                f.amount.minor(),
                f.confidence,
            )
        })
        .collect()
}

fn owned(expected: Vec<Expected>) -> Vec<Seen> {
    expected
        .into_iter()
        .map(|(k, i, c, a, conf)| {
            (
                k,
                i.map(str::to_string),
                c.into_iter().map(str::to_string).collect(),
                a,
                conf,
            )
        })
        .collect()
}

use Confidence::{Exact, Heuristic};
use FindingKind::*;

#[rstest]
#[case::double_charge_by_reference(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_a"))],
          vec![ch_ref("ch_a", 10_000, 0, "INV-1"), ch_ref("ch_b", 10_000, 3, "INV-1")]),
    vec![(DoubleCharge, Some("INV-1"), vec!["ch_b"], 10_000, Exact)])]
#[case::double_charge_keeps_the_recorded_charge_even_when_later(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_b"))],
          vec![ch_ref("ch_a", 10_000, 0, "INV-1"), ch_ref("ch_b", 10_000, 3, "INV-1")]),
    vec![(DoubleCharge, Some("INV-1"), vec!["ch_a"], 10_000, Exact)])]
#[case::double_charge_with_two_surplus_charges_is_one_finding(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_a"))],
          vec![ch_ref("ch_a", 10_000, 0, "INV-1"), ch_ref("ch_b", 10_000, 1, "INV-1"),
               ch_ref("ch_c", 10_000, 2, "INV-1")]),
    vec![(DoubleCharge, Some("INV-1"), vec!["ch_b", "ch_c"], 20_000, Exact)])]
#[case::double_charge_on_a_void_invoice_owes_nothing(
    books(vec![Invoice { status: InvoiceStatus::Void, ..inv("INV-1", 10_000) }],
          vec![],
          vec![ch_ref("ch_a", 10_000, 0, "INV-1")]),
    vec![(DoubleCharge, Some("INV-1"), vec!["ch_a"], 10_000, Exact)])]
#[case::double_charge_by_ledger_link_and_heuristic(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_b"))],
          vec![ch("ch_a", 10_000, 0), ch("ch_b", 10_000, 30)]),
    vec![(DoubleCharge, Some("INV-1"), vec!["ch_a"], 10_000, Heuristic)])]
#[case::double_charge_in_yen(
    books(vec![Invoice { amount: Money::from_minor(5_000, cur("JPY")), ..inv("INV-1", 0) }],
          vec![LedgerEntry { amount: Money::from_minor(5_000, cur("JPY")), ..pay("pay_1", "INV-1", 0, Some("ch_a")) }],
          vec![Charge { amount: Money::from_minor(5_000, cur("JPY")), amount_refunded: Money::from_minor(0, cur("JPY")), ..ch_ref("ch_a", 0, 0, "INV-1") },
               Charge { amount: Money::from_minor(5_000, cur("JPY")), amount_refunded: Money::from_minor(0, cur("JPY")), ..ch_ref("ch_b", 0, 1, "INV-1") }]),
    vec![(DoubleCharge, Some("INV-1"), vec!["ch_b"], 5_000, Exact)])]
#[case::a_second_charge_naming_one_billing_invoice_is_a_double_charge(
    books(vec![Invoice { gateway_invoice_id: Some("in_1".into()), ..inv("INV-1", 10_000) }],
          vec![],
          vec![Charge { gateway_invoice_id: Some("in_1".into()), ..ch("ch_a", 10_000, 0) },
               Charge { gateway_invoice_id: Some("in_1".into()), ..ch("ch_b", 10_000, 5) }]),
    vec![(DoubleCharge, Some("INV-1"), vec!["ch_b"], 10_000, Exact)])]
#[case::a_billing_invoice_charge_in_another_currency_is_not_accounted_for(
    books(vec![Invoice { gateway_invoice_id: Some("in_1".into()), ..inv("INV-1", 10_000) }],
          vec![],
          vec![Charge { amount: Money::from_minor(9_500, cur("EUR")), amount_refunded: Money::from_minor(0, cur("EUR")),
                        gateway_invoice_id: Some("in_1".into()), ..ch("ch_a", 0, 0) }]),
    vec![(OrphanCharge, Some("INV-1"), vec!["ch_a"], 9_500, Exact)])]
#[case::a_charge_beyond_what_the_invoice_export_says_was_paid_is_an_orphan(
    books(vec![Invoice { stated_paid: Some(usd(6_000)), ..inv("INV-1", 10_000) }],
          vec![],
          vec![ch_ref("ch_a", 6_000, 0, "INV-1"), ch_ref("ch_b", 4_000, 1, "INV-1")]),
    vec![(OrphanCharge, Some("INV-1"), vec!["ch_b"], 4_000, Exact)])]
#[case::overpayment_inside_the_last_charge_points_at_it(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 6_000, Some("ch_a")), pay("pay_2", "INV-1", 6_000, Some("ch_b"))],
          vec![ch_ref("ch_a", 6_000, 0, "INV-1"), ch_ref("ch_b", 6_000, 1, "INV-1")]),
    vec![(DoubleCharge, Some("INV-1"), vec!["ch_b"], 2_000, Exact)])]
#[case::orphan_charge_on_an_invoice_paid_in_cash(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, None)],
          vec![ch_ref("ch_a", 10_000, 0, "INV-1")]),
    vec![(OrphanCharge, Some("INV-1"), vec!["ch_a"], 10_000, Exact)])]
#[case::orphan_charge_matching_no_invoice(
    books(vec![inv("INV-1", 10_000)],
          vec![],
          vec![Charge { customer: Some("cus_9".into()), ..ch("ch_x", 4_200, 0) }]),
    vec![(OrphanCharge, None, vec!["ch_x"], 4_200, Exact)])]
#[case::orphan_charge_guessed_onto_its_invoice(
    books(vec![inv("INV-1", 10_000)],
          vec![],
          vec![ch("ch_a", 10_000, 60)]),
    vec![(OrphanCharge, Some("INV-1"), vec!["ch_a"], 10_000, Heuristic)])]
#[case::orphan_charge_partly_refunded_counts_what_is_left(
    books(vec![inv("INV-1", 10_000)],
          vec![],
          vec![Charge { amount_refunded: usd(3_000), ..ch_ref("ch_a", 10_000, 0, "INV-1") }]),
    vec![(OrphanCharge, Some("INV-1"), vec!["ch_a"], 7_000, Exact)])]
#[case::missing_charge_absent_inside_coverage(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_zz"))],
          vec![]),
    vec![(MissingCharge, Some("INV-1"), vec!["ch_zz"], 10_000, Exact)])]
#[case::missing_charge_failed_even_outside_coverage(
    books(vec![inv("INV-1", 10_000)],
          vec![LedgerEntry { recorded_at: "2027-03-01T00:00:00Z".parse().unwrap(), ..pay("pay_1", "INV-1", 10_000, Some("ch_f")) }],
          vec![Charge { status: ChargeStatus::Failed, ..ch_ref("ch_f", 10_000, 0, "INV-1") }]),
    vec![(MissingCharge, Some("INV-1"), vec!["ch_f"], 10_000, Exact)])]
#[case::missing_charge_by_payment_intent_that_never_succeeded(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("pi_1"))],
          vec![Charge { status: ChargeStatus::Failed, payment_intent: Some("pi_1".into()), ..ch("ch_f", 10_000, 0) }]),
    vec![(MissingCharge, Some("INV-1"), vec!["ch_f"], 10_000, Exact)])]
#[case::amount_mismatch_one_payment(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 9_000, Some("ch_a"))],
          vec![ch_ref("ch_a", 10_000, 0, "INV-1")]),
    vec![(AmountMismatch, Some("INV-1"), vec!["ch_a"], 1_000, Exact)])]
#[case::amount_mismatch_two_payments_summed(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 5_000, Some("ch_a")), pay("pay_2", "INV-1", 6_000, Some("ch_a"))],
          vec![ch("ch_a", 10_000, 0)]),
    vec![(AmountMismatch, Some("INV-1"), vec!["ch_a"], 1_000, Exact)])]
#[case::amount_mismatch_in_currency_shows_the_ledger_amount(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_a"))],
          vec![Charge { amount: Money::from_minor(9_500, cur("EUR")), amount_refunded: Money::from_minor(0, cur("EUR")), ..ch("ch_a", 0, 0) }]),
    vec![(AmountMismatch, Some("INV-1"), vec!["ch_a"], 10_000, Exact)])]
#[case::unrecorded_partial_refund(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_a"))],
          vec![Charge { amount_refunded: usd(3_000), ..ch("ch_a", 10_000, 0) }]),
    vec![(UnrecordedRefund, Some("INV-1"), vec!["ch_a"], 3_000, Exact)])]
#[case::unrecorded_full_refund_of_a_recorded_payment(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_a"))],
          vec![Charge { amount_refunded: usd(10_000), ..ch("ch_a", 10_000, 0) }]),
    vec![(UnrecordedRefund, Some("INV-1"), vec!["ch_a"], 10_000, Exact)])]
#[case::unrecorded_refund_beyond_what_the_ledger_refunded(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("pi_1")), ledger_refund("ref_1", "INV-1", 4_000, "pi_1")],
          vec![Charge { amount_refunded: usd(10_000), payment_intent: Some("pi_1".into()), ..ch("ch_a", 10_000, 0) }]),
    vec![(UnrecordedRefund, Some("INV-1"), vec!["ch_a"], 6_000, Exact)])]
#[case::duplicate_invoice_by_order_reference(
    books(vec![Invoice { order_ref: Some("ORD-1".into()), ..inv("INV-1", 10_000) },
               Invoice { order_ref: Some("ORD-1".into()), issued_at: minutes(90), ..inv("INV-2", 10_000) }],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_a")), pay("pay_2", "INV-2", 10_000, Some("ch_b"))],
          vec![ch_ref("ch_a", 10_000, 0, "INV-1"), ch_ref("ch_b", 10_000, 95, "INV-2")]),
    vec![(DuplicateInvoice, Some("INV-2"), vec!["ch_b"], 10_000, Exact)])]
#[case::duplicate_invoice_minutes_apart_without_order_reference(
    books(vec![inv("INV-1", 10_000), Invoice { issued_at: minutes(3), ..inv("INV-2", 10_000) }],
          vec![],
          vec![ch_ref("ch_a", 10_000, 1, "INV-1"), ch_ref("ch_b", 10_000, 4, "INV-2")]),
    vec![(DuplicateInvoice, Some("INV-2"), vec!["ch_b"], 10_000, Heuristic),
         (OrphanCharge, Some("INV-1"), vec!["ch_a"], 10_000, Exact)])]
#[case::a_charge_in_another_currency_does_not_cover_its_invoice(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_a"))],
          vec![ch_ref("ch_a", 10_000, 0, "INV-1"),
               Charge { amount: Money::from_minor(10_000, cur("EUR")), amount_refunded: Money::from_minor(0, cur("EUR")), ..ch_ref("ch_b", 0, 1, "INV-1") }]),
    vec![(OrphanCharge, Some("INV-1"), vec!["ch_b"], 10_000, Exact)])]
fn finds(#[case] books: Books, #[case] expected: Vec<Expected>) {
    let r = reconcile(&books);
    assert_eq!(seen(&r), owned(expected), "{:#?}", r.findings);
    assert!(rules::one_charge_one_finding(&r.findings));
}

#[rstest]
#[case::a_charge_later_refunded_in_full_that_the_ledger_never_knew(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_a"))],
          vec![ch_ref("ch_a", 10_000, 0, "INV-1"),
               Charge { amount_refunded: usd(10_000), ..ch_ref("ch_b", 10_000, 2, "INV-1") }]))]
#[case::a_charge_refunded_in_full_with_the_refund_recorded_by_its_refund_id(
    Books {
        refunds: vec![gateway_refund("re_1", "ch_a", 10_000)],
        ..books(vec![inv("INV-1", 10_000)],
                vec![pay("pay_1", "INV-1", 10_000, Some("ch_a")), ledger_refund("ref_1", "INV-1", 10_000, "re_1")],
                vec![Charge { amount_refunded: usd(10_000), ..ch("ch_a", 10_000, 0) }])
    })]
#[case::an_invoice_paid_in_two_partial_charges(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 4_000, Some("ch_a")), pay("pay_2", "INV-1", 6_000, Some("ch_b"))],
          vec![ch_ref("ch_a", 4_000, 0, "INV-1"), ch_ref("ch_b", 6_000, 60, "INV-1")]))]
#[case::a_monthly_plan_same_customer_same_amount(
    books(vec![inv("INV-1", 2_900), Invoice { issued_at: minutes(31 * 24 * 60), due_at: None, ..inv("INV-2", 2_900) }],
          vec![pay("pay_1", "INV-1", 2_900, Some("ch_a")), pay("pay_2", "INV-2", 2_900, Some("ch_b"))],
          vec![ch("ch_a", 2_900, 1), ch("ch_b", 2_900, 31 * 24 * 60 + 1)]))]
#[case::a_declined_attempt_then_a_succeeded_one(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_ok"))],
          vec![Charge { status: ChargeStatus::Failed, ..ch_ref("ch_declined", 10_000, 0, "INV-1") },
               ch_ref("ch_ok", 10_000, 2, "INV-1")]))]
#[case::a_declined_attempt_then_a_succeeded_one_on_one_payment_intent(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 10_000, Some("pi_1"))],
          vec![Charge { status: ChargeStatus::Failed, payment_intent: Some("pi_1".into()), ..ch("ch_declined", 10_000, 0) },
               Charge { payment_intent: Some("pi_1".into()), ..ch("ch_ok", 10_000, 2) }]))]
#[case::cash_payments(
    books(vec![inv("INV-1", 10_000)],
          vec![pay("pay_1", "INV-1", 4_000, None), pay("pay_2", "INV-1", 6_000, None)],
          vec![]))]
#[case::an_uncaptured_authorisation_nobody_recorded(
    books(vec![inv("INV-1", 10_000)],
          vec![],
          vec![Charge { captured: false, ..ch_ref("ch_auth", 10_000, 0, "INV-1") }]))]
#[case::two_invoices_of_one_order_but_only_one_charged(
    books(vec![Invoice { order_ref: Some("ORD-1".into()), ..inv("INV-1", 10_000) },
               Invoice { order_ref: Some("ORD-1".into()), issued_at: minutes(2), ..inv("INV-2", 10_000) }],
          vec![pay("pay_1", "INV-1", 10_000, Some("ch_a"))],
          vec![ch_ref("ch_a", 10_000, 0, "INV-1")]))]
#[case::a_charge_naming_its_stripe_billing_invoice_needs_no_ledger(
    books(vec![Invoice { gateway_invoice_id: Some("in_1".into()), ..inv("INV-1", 10_000) }],
          vec![],
          vec![Charge { gateway_invoice_id: Some("in_1".into()), customer: Some("cus_x".into()), ..ch("ch_a", 10_000, 0) }]))]
#[case::what_the_invoice_export_says_was_paid_accounts_for_its_charges(
    books(vec![Invoice { stated_paid: Some(usd(10_000)), ..inv("INV-1", 10_000) }],
          vec![],
          vec![ch_ref("ch_a", 4_000, 0, "INV-1"), ch_ref("ch_b", 6_000, 1, "INV-1")]))]
fn finds_nothing(#[case] books: Books) {
    let r = reconcile(&books);
    assert_eq!(seen(&r), vec![], "{:#?}", r.findings);
    assert_eq!(r.not_yet_synced, Vec::<String>::new());
}

#[test]
fn a_payment_outside_coverage_is_not_yet_synced_not_missing() {
    let b = books(
        vec![inv("INV-1", 10_000)],
        vec![LedgerEntry {
            recorded_at: "2027-01-15T00:00:00Z".parse().unwrap(),
            ..pay("pay_1", "INV-1", 10_000, Some("ch_later"))
        }],
        vec![],
    );
    let r = reconcile(&b);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.not_yet_synced, vec!["pay_1".to_string()]);
}

#[test]
fn fingerprints_name_the_kind_and_the_ids() {
    let b = books(
        vec![
            inv("INV-7", 10_000),
            inv("INV-9", 10_000),
            Invoice {
                customer_id: "cus_2".into(),
                ..inv("INV-3", 500)
            },
        ],
        vec![
            pay("pay_1", "INV-7", 10_000, Some("ch_a")),
            pay("pay_9", "INV-9", 10_000, Some("ch_gone")),
            pay("pay_3", "INV-3", 400, Some("ch_m")),
            pay("pay_4", "INV-3", 50, Some("ch_m")),
        ],
        vec![
            ch_ref("ch_a", 10_000, 0, "INV-7"),
            ch_ref("ch_c", 10_000, 2, "INV-7"),
            ch_ref("ch_b", 10_000, 1, "INV-7"),
            Charge {
                customer: Some("cus_2".into()),
                ..ch("ch_m", 500, 0)
            },
        ],
    );
    let fingerprints: Vec<String> = reconcile(&b)
        .findings
        .into_iter()
        .map(|f| f.fingerprint)
        .collect();
    assert_eq!(
        fingerprints,
        vec![
            "amount_mismatch:ch_m:pay_3,pay_4",
            "double_charge:INV-7:ch_b,ch_c",
            "missing_charge:pay_9",
        ]
    );
}

#[test]
fn heuristic_prefers_the_invoice_not_yet_covered() {
    // Two weekly invoices of one customer, the first already paid through the gateway: an
    // unrecorded charge between them is the second one's, even though the first is closer.
    let b = books(
        vec![
            inv("INV-1", 1_000),
            Invoice {
                issued_at: minutes(3 * 24 * 60),
                due_at: None,
                ..inv("INV-2", 1_000)
            },
        ],
        vec![pay("pay_1", "INV-1", 1_000, Some("ch_a"))],
        vec![ch("ch_a", 1_000, 0), ch("ch_b", 1_000, 24 * 60)],
    );
    let r = reconcile(&b);
    let link = r.links.iter().find(|l| l.charge_id == "ch_b").unwrap();
    assert_eq!((link.invoice_number, link.by), ("INV-2", LinkBy::Heuristic));
    assert_eq!(
        seen(&r),
        owned(vec![(
            OrphanCharge,
            Some("INV-2"),
            vec!["ch_b"],
            1_000,
            Heuristic
        )])
    );
}

#[test]
fn heuristic_prefers_the_invoice_the_ledger_does_not_call_paid() {
    // INV-1 was paid in cash; the unexplained charge is closer to it but belongs to INV-2.
    let b = books(
        vec![
            inv("INV-1", 1_000),
            Invoice {
                issued_at: minutes(2 * 24 * 60),
                due_at: None,
                ..inv("INV-2", 1_000)
            },
        ],
        vec![pay("pay_1", "INV-1", 1_000, None)],
        vec![ch("ch_b", 1_000, 12 * 60)],
    );
    let r = reconcile(&b);
    assert_eq!(
        seen(&r),
        owned(vec![(
            OrphanCharge,
            Some("INV-2"),
            vec!["ch_b"],
            1_000,
            Heuristic
        )])
    );
}

#[test]
fn links_say_how_each_charge_was_tied() {
    let b = books(
        vec![
            inv("INV-1", 1_000),
            inv("INV-2", 2_000),
            inv("INV-3", 3_000),
        ],
        vec![pay("pay_2", "INV-2", 2_000, Some("pi_2"))],
        vec![
            ch_ref("ch_1", 1_000, 0, "INV-1"),
            Charge {
                payment_intent: Some("pi_2".into()),
                ..ch("ch_2", 2_000, 0)
            },
            ch("ch_3", 3_000, 0),
        ],
    );
    let links: Vec<(&str, &str, LinkBy)> = reconcile(&b)
        .links
        .into_iter()
        .map(|l| (l.charge_id, l.invoice_number, l.by))
        .collect();
    assert_eq!(
        links,
        vec![
            ("ch_1", "INV-1", LinkBy::Reference),
            ("ch_2", "INV-2", LinkBy::Ledger),
            ("ch_3", "INV-3", LinkBy::Heuristic),
        ]
    );
}

#[test]
fn the_order_of_the_rows_does_not_change_the_result() {
    let mut b = books(
        vec![
            inv("INV-1", 10_000),
            inv("INV-2", 10_000),
            inv("INV-3", 10_000),
        ],
        vec![
            pay("pay_1", "INV-1", 10_000, Some("ch_a")),
            pay("pay_2", "INV-2", 9_000, Some("ch_c")),
            pay("pay_3", "INV-3", 10_000, Some("ch_gone")),
        ],
        vec![
            ch("ch_a", 10_000, 0),
            ch("ch_b", 10_000, 1),
            ch("ch_c", 10_000, 2),
            ch("ch_d", 10_000, 3),
            ch("ch_e", 10_000, 4),
        ],
    );
    let original = b.clone();
    let first = reconcile(&original);
    b.invoices.reverse();
    b.ledger.reverse();
    b.charges.reverse();
    let second = reconcile(&b);
    assert_eq!(first, second);
    assert!(!first.findings.is_empty());
}

#[test]
fn evidence_shows_the_invoice_its_ledger_and_its_charges() {
    let b = books(
        vec![inv("INV-1", 10_000)],
        vec![pay("pay_1", "INV-1", 10_000, Some("ch_a"))],
        vec![
            ch_ref("ch_a", 10_000, 0, "INV-1"),
            ch_ref("ch_b", 10_000, 3, "INV-1"),
        ],
    );
    let r = reconcile(&b);
    let evidence = &serde_json::to_value(&r.findings[0].evidence).unwrap();
    assert_eq!(evidence["invoice"]["number"], "INV-1");
    assert_eq!(evidence["invoice"]["amount_minor"], 10_000);
    assert_eq!(evidence["ledger_entries"][0]["payment_id"], "pay_1");
    let roles: Vec<(&str, &str, &str)> = evidence["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["role"].as_str().unwrap(),
                c["created"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            ("ch_a", "kept", "2026-10-01T09:00:00Z"),
            ("ch_b", "surplus", "2026-10-01T09:03:00Z")
        ]
    );
    assert!(
        r.findings[0].reason.contains("Refund ch_b"),
        "{}",
        r.findings[0].reason
    );
}

#[rstest]
#[case::snake_case("double_charge", Some(FindingKind::DoubleCharge))]
#[case::upper_case("ORPHAN_CHARGE", Some(FindingKind::OrphanCharge))]
#[case::unknown("double", None)]
fn finding_kinds_parse_their_names(#[case] text: &str, #[case] kind: Option<FindingKind>) {
    assert_eq!(FindingKind::parse(text), kind);
    if let Some(kind) = kind {
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            serde_json::Value::String(kind.as_str().into())
        );
    }
}

#[test]
fn the_summary_prints_open_findings_by_kind_name() {
    let summary = ReconcileSummary {
        open_by_kind: [
            (FindingKind::DoubleCharge, 2),
            (FindingKind::OrphanCharge, 0),
        ]
        .into_iter()
        .collect(),
        ..ReconcileSummary::default()
    };
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["open_by_kind"]["double_charge"], 2);
    assert_eq!(json["open_by_kind"]["orphan_charge"], 0);
}

/// A refund kept by hand as Chargeguard's adjustment, later entered in the books and synced,
/// counts once: the ledger's refunds of a charge never pass what the gateway gave back.
/// A second refund of the same charge the ledger lacks is still recorded whole.
#[rstest]
#[case::entered_since(vec![ledger_refund("R1", "INV-1", 5_000, "ch_1")], 5_000)]
#[case::one_refund_of_two_entered(vec![ledger_refund("R1", "INV-1", 3_000, "re_1")], 5_000)]
#[case::not_entered(vec![], 5_000)]
fn a_refund_recorded_by_hand_and_in_the_books_counts_once(
    #[case] entered: Vec<LedgerEntry>,
    #[case] refunded_in_the_ledger: i64,
) {
    use crate::store::{Adjustment, AdjustmentKind, StoredAdjustment};
    let mut charge = ch_ref("ch_1", 10_000, 0, "INV-1");
    charge.amount_refunded = usd(5_000);
    let mut ledger = vec![pay("P1", "INV-1", 10_000, Some("ch_1"))];
    ledger.extend(entered);
    let mut b = books(vec![inv("INV-1", 10_000)], ledger, vec![charge]);
    b.refunds = vec![
        gateway_refund("re_1", "ch_1", 3_000),
        gateway_refund("re_2", "ch_1", 2_000),
    ];
    let kept = |key: &str, minor: i64| StoredAdjustment {
        id: 1,
        action_id: 1,
        idempotency_key: key.into(),
        adjustment: Adjustment {
            kind: AdjustmentKind::RecordRefund,
            invoice_number: "INV-1".into(),
            payment_id: None,
            gateway_id: Some("ch_1".into()),
            amount: usd(minor),
            effective_at: minutes(70).as_second(),
        },
        created_at: minutes(70).as_second(),
    };
    // What the ledger lacked when each was kept: re_1 (3,000), then re_2 (2,000).
    adjustments::apply(&mut b, &[kept("k1", 3_000), kept("k2", 2_000)]);
    let refunds: i64 = b
        .ledger
        .iter()
        .filter(|e| e.kind == LedgerKind::Refund)
        .map(|e| e.amount.minor())
        .sum();
    assert_eq!(refunds, refunded_in_the_ledger, "{:#?}", b.ledger);
    assert!(
        reconcile(&b).findings.is_empty(),
        "{:#?}",
        reconcile(&b).findings
    );
}
