//! Random books for the core's property tests: strategies for invoices, ledger entries,
//! charges, refunds and ledger fixes drawn from small pools, so rows collide the way they
//! do in real books (a re-import that moves a charge to another invoice, two invoices of
//! one order, a charge guessed to pay the invoice of the same customer and amount, a
//! ledger payment whose charge arrives in a later sync), and [`apply`], which writes a
//! step the way the importers, the sync, a ledger fix and a dismissal write it.
#![allow(dead_code)] // each test uses what it needs

use std::collections::BTreeMap;
use std::path::Path;

use chargeguard_core::money::{Currency, Money};
use chargeguard_core::records::{
    BalanceTransaction, Charge, ChargeStatus, Coverage, Dispute, DisputeStatus, GatewayRefund,
    Invoice, InvoiceStatus, LedgerEntry, LedgerKind, Origin, RefundStatus,
};
use chargeguard_core::store::{
    Adjustment, AdjustmentKind, ExtraColumns, NewAction, Resolution, SourceKind, Store,
};
use chargeguard_domain::lifecycle::ActionState;
use chargeguard_domain::plan::Plan;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

const GATEWAY: &str = chargeguard_core::sync::GATEWAY;

pub fn t0() -> Timestamp {
    "2026-10-01T09:00:00Z".parse().unwrap()
}

/// Instants a few minutes, days or weeks apart: inside and outside the guesses' windows.
pub fn at(slot: u8) -> Timestamp {
    const MINUTES: [i64; 8] = [
        0,
        4,
        25,
        60 * 24,
        60 * 24 * 3,
        60 * 24 * 8,
        60 * 24 * 15,
        60 * 24 * 31,
    ];
    t0() + SignedDuration::from_mins(MINUTES[slot as usize % MINUTES.len()])
}

pub fn money(minor: i64, eur: bool) -> Money {
    Money::from_minor(
        minor,
        Currency::from_code(if eur { "EUR" } else { "USD" }).unwrap(),
    )
}

pub fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![Just(1000i64), Just(2000), Just(500)]
}

pub fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(pool).prop_map(str::to_string)
}

pub fn maybe(pool: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.6, pick(pool))
}

pub const INVOICES: &[&str] = &["INV-1", "INV-2", "INV-3", "INV-4", "INV-5", "INV-6"];
pub const CUSTOMERS: &[&str] = &["cus_a", "cus_b", "cus_c"];
pub const CHARGES: &[&str] = &[
    "ch_1", "ch_2", "ch_3", "ch_4", "ch_5", "ch_6", "ch_7", "ch_8",
];
pub const INTENTS: &[&str] = &["pi_1", "pi_2", "pi_3", "pi_4"];
pub const REFUNDS: &[&str] = &["re_1", "re_2", "re_3"];
pub const PAYMENTS: &[&str] = &[
    "pay_1", "pay_2", "pay_3", "pay_4", "pay_5", "pay_6", "pay_7",
];
/// What a ledger entry may name at the gateway: a charge, an intent, a refund, or nothing
/// the gateway has.
pub const GATEWAY_IDS: &[&str] = &[
    "ch_1", "ch_2", "ch_3", "ch_5", "pi_1", "pi_2", "re_1", "ch_404",
];
pub const ORDERS: &[&str] = &["ord_1", "ord_2"];
pub const GATEWAY_INVOICES: &[&str] = &["in_1", "in_2"];
/// Invoice references a charge may carry, one of them for an invoice that never comes.
pub const REFS: &[&str] = &["INV-1", "INV-2", "INV-3", "INV-4", "INV-99"];

pub fn invoice() -> impl Strategy<Value = Invoice> {
    (
        pick(INVOICES),
        pick(CUSTOMERS),
        amount(),
        prop::bool::weighted(0.1),
        0u8..8,
        prop_oneof![
            Just(InvoiceStatus::Open),
            Just(InvoiceStatus::Paid),
            Just(InvoiceStatus::Void)
        ],
        maybe(ORDERS),
        prop::option::weighted(0.2, pick(GATEWAY_INVOICES)),
        prop::option::weighted(0.2, amount()),
    )
        .prop_map(
            |(
                number,
                customer_id,
                minor,
                eur,
                slot,
                status,
                order_ref,
                gateway_invoice_id,
                stated,
            )| Invoice {
                number,
                customer_id,
                amount: money(minor, eur),
                issued_at: at(slot),
                due_at: Some(at(slot) + SignedDuration::from_hours(14 * 24)),
                status,
                order_ref,
                gateway_invoice_id,
                stated_paid: stated.map(|m| money(m, eur)),
                paid_at: None,
            },
        )
}

pub fn ledger_entry() -> impl Strategy<Value = LedgerEntry> {
    (
        pick(PAYMENTS),
        pick(INVOICES),
        prop_oneof![4 => Just(LedgerKind::Payment), 1 => Just(LedgerKind::Refund)],
        amount(),
        prop::bool::weighted(0.1),
        0u8..8,
        maybe(GATEWAY_IDS),
    )
        .prop_map(
            |(payment_id, invoice_number, kind, minor, eur, slot, gateway_id)| LedgerEntry {
                payment_id,
                invoice_number,
                kind,
                amount: money(minor, eur),
                recorded_at: at(slot),
                gateway_id,
            },
        )
}

pub fn charge() -> impl Strategy<Value = Charge> {
    (
        (pick(CHARGES), amount(), prop::bool::weighted(0.1), 0u8..3),
        prop_oneof![6 => Just((ChargeStatus::Succeeded, true)), 1 => Just((ChargeStatus::Succeeded, false)), 1 => Just((ChargeStatus::Failed, false)), 1 => Just((ChargeStatus::Pending, false))],
        0u8..8,
        (maybe(CUSTOMERS), prop::option::weighted(0.2, pick(CUSTOMERS))),
        maybe(INTENTS),
        maybe(REFS),
        prop::option::weighted(0.15, pick(GATEWAY_INVOICES)),
    )
        .prop_map(
            |((id, minor, eur, refunded_part), (status, captured), slot, (customer, email), intent, invoice_ref, gateway_invoice_id)| {
                let refunded = if captured { minor * i64::from(refunded_part) / 2 } else { 0 };
                Charge {
                    id,
                    amount: money(minor, eur),
                    amount_refunded: money(refunded.min(minor), eur),
                    status,
                    captured,
                    created: at(slot) + SignedDuration::from_secs(90),
                    customer,
                    customer_email: email,
                    payment_intent: intent,
                    invoice_ref,
                    gateway_invoice_id,
                    description: None,
                    fee: None,
                    metadata: BTreeMap::new(),
                }
            },
        )
}

pub fn refund() -> impl Strategy<Value = GatewayRefund> {
    (
        pick(REFUNDS),
        pick(CHARGES),
        amount(),
        prop_oneof![
            Just(RefundStatus::Succeeded),
            Just(RefundStatus::Pending),
            Just(RefundStatus::Failed)
        ],
        0u8..8,
    )
        .prop_map(|(id, charge_id, minor, status, slot)| GatewayRefund {
            id,
            charge_id,
            amount: money(minor / 2, false),
            status,
            created: at(slot),
            metadata: BTreeMap::new(),
        })
}

pub fn adjustment() -> impl Strategy<Value = Adjustment> {
    (
        prop_oneof![
            Just(AdjustmentKind::RecordPayment),
            Just(AdjustmentKind::ReversePayment),
            Just(AdjustmentKind::CorrectAmount),
            Just(AdjustmentKind::RecordRefund),
            Just(AdjustmentKind::VoidInvoice),
        ],
        pick(INVOICES),
        maybe(PAYMENTS),
        maybe(GATEWAY_IDS),
        amount(),
        0u8..8,
    )
        .prop_map(
            |(kind, invoice_number, payment_id, gateway_id, minor, slot)| Adjustment {
                kind,
                invoice_number,
                payment_id,
                gateway_id,
                amount: money(minor, false),
                effective_at: at(slot).as_second(),
            },
        )
}

#[derive(Debug, Clone)]
pub enum Step {
    ImportInvoices(Vec<Invoice>),
    ImportLedger(Vec<LedgerEntry>),
    /// Charges and refunds as a sync or an export stores them, with the window it covers.
    Sync(Vec<Charge>, Vec<GatewayRefund>, Option<(u8, u8)>),
    LedgerFix(Adjustment),
    /// Dismiss the n-th open finding (by fingerprint), if there is one.
    Dismiss(usize),
    /// A dispute of a charge as a sync stores it (one per charge, so a later one moves it
    /// on), with the balance transactions it moved when `moved`.
    Dispute(DisputeOf),
    Reconcile,
}

/// What a [`Step::Dispute`] writes.
#[derive(Debug, Clone)]
pub struct DisputeOf {
    pub charge_id: String,
    pub minor: i64,
    pub status: DisputeStatus,
    pub opened: u8,
    pub decided: u8,
    /// Its withdrawal (and a won one's reversal) stored as balance transactions; else the
    /// store holds the dispute alone, as an export brings it.
    pub moved: bool,
}

pub fn dispute() -> impl Strategy<Value = DisputeOf> {
    (
        pick(CHARGES),
        amount(),
        prop_oneof![
            Just(DisputeStatus::NeedsResponse),
            Just(DisputeStatus::UnderReview),
            Just(DisputeStatus::Won),
            Just(DisputeStatus::Lost),
            Just(DisputeStatus::WarningNeedsResponse),
        ],
        0u8..8,
        0u8..8,
        prop::bool::weighted(0.7),
    )
        .prop_map(|(charge_id, minor, status, a, b, moved)| DisputeOf {
            charge_id,
            minor,
            status,
            opened: a.min(b),
            decided: a.max(b),
            moved,
        })
}

pub fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => prop::collection::vec(invoice(), 1..4).prop_map(Step::ImportInvoices),
        3 => prop::collection::vec(ledger_entry(), 1..4).prop_map(Step::ImportLedger),
        3 => (
            prop::collection::vec(charge(), 0..4),
            prop::collection::vec(refund(), 0..2),
            prop::option::weighted(0.5, (0u8..8, 0u8..8)),
        )
            .prop_map(|(c, r, w)| Step::Sync(c, r, w)),
        1 => adjustment().prop_map(Step::LedgerFix),
        1 => (0usize..4).prop_map(Step::Dismiss),
        1 => dispute().prop_map(Step::Dispute),
        3 => Just(Step::Reconcile),
    ]
}

/// Applies one step to a store, the way the importers, the sync, a ledger fix and a
/// dismissal write it.
pub fn apply(store: &mut Store, step: &Step, n: usize) {
    let now = t0() + SignedDuration::from_hours(24 * 60) + SignedDuration::from_secs(n as i64);
    store
        .write(|tx| -> Result<(), chargeguard_core::store::StoreError> {
            match step {
                Step::ImportInvoices(rows) => {
                    let source =
                        tx.begin_source(SourceKind::Invoices, "invoices.csv", None, now)?;
                    for (line, invoice) in rows.iter().enumerate() {
                        let origin = Origin {
                            source_id: source,
                            line: Some(line as u64 + 2),
                        };
                        tx.upsert_invoice(invoice, ExtraColumns::NONE, &origin)?;
                    }
                }
                Step::ImportLedger(rows) => {
                    let source =
                        tx.begin_source(SourceKind::Payments, "payments.csv", None, now)?;
                    for (line, entry) in rows.iter().enumerate() {
                        let origin = Origin {
                            source_id: source,
                            line: Some(line as u64 + 2),
                        };
                        tx.upsert_ledger_entry(entry, ExtraColumns::NONE, &origin)?;
                    }
                }
                Step::Sync(charges, refunds, window) => {
                    let source = tx.begin_source(SourceKind::StripeSync, "stripe", None, now)?;
                    let origin = Origin {
                        source_id: source,
                        line: None,
                    };
                    for charge in charges {
                        tx.upsert_charge(GATEWAY, charge, ExtraColumns::NONE, &origin)?;
                    }
                    for refund in refunds {
                        tx.upsert_refund(GATEWAY, refund, ExtraColumns::NONE, &origin)?;
                    }
                    if let Some((a, b)) = window {
                        let (from, to) = (at(*a.min(b)), at(*a.max(b)));
                        tx.add_charge_coverage(source, GATEWAY, Coverage { from, to })?;
                    }
                }
                Step::LedgerFix(adjustment) => {
                    let key = format!("fix-{n}");
                    let plan = Plan::LedgerFix {
                        adjustment: adjustment.clone(),
                    };
                    let action = tx.insert_action(
                        &NewAction {
                            plan: &plan,
                            finding_id: None,
                            finding_snapshot: None,
                            idempotency_key: &key,
                            attempt: 1,
                            proposed_by: "test",
                        },
                        now,
                    )?;
                    tx.insert_adjustment(action, &key, adjustment, now)?;
                    tx.move_action(
                        action,
                        ActionState::Proposed,
                        ActionState::Cancelled,
                        now,
                        Default::default(),
                    )?;
                }
                Step::Dismiss(k) => {
                    let open: Vec<String> = findings(tx)
                        .into_iter()
                        .filter(|row| row[1] == "open")
                        .map(|row| row[0].clone())
                        .collect();
                    if let Some(fingerprint) = open.get(*k) {
                        let id = tx.finding_by_fingerprint(fingerprint)?.unwrap().id;
                        tx.resolve_finding(id, Resolution::Dismissed, now)?;
                    }
                }
                Step::Dispute(d) => {
                    let source = tx.begin_source(SourceKind::StripeSync, "stripe", None, now)?;
                    let origin = Origin {
                        source_id: source,
                        line: None,
                    };
                    let id = format!("du_{}", d.charge_id);
                    tx.upsert_dispute(
                        GATEWAY,
                        &Dispute {
                            id: id.clone(),
                            charge_id: d.charge_id.clone(),
                            payment_intent: None,
                            amount: money(d.minor, false),
                            status: d.status,
                            reason: "fraudulent".into(),
                            created: at(d.opened),
                            evidence_due_by: None,
                        },
                        &origin,
                    )?;
                    let warning = matches!(d.status, DisputeStatus::WarningNeedsResponse);
                    if d.moved && !warning {
                        let moved =
                            |suffix: &str, amount: i64, fee: i64, slot: u8| BalanceTransaction {
                                id: format!("txn_{id}_{suffix}"),
                                kind: "adjustment".into(),
                                amount: money(amount, false),
                                fee: money(fee, false),
                                net: money(amount - fee, false),
                                created: at(slot) + SignedDuration::from_secs(30),
                                available_on: at(slot) + SignedDuration::from_secs(30),
                                source: Some(id.clone()),
                                payout: None,
                            };
                        tx.upsert_balance_transaction(
                            GATEWAY,
                            &moved("withdrawal", -d.minor, 1_500, d.opened),
                            &origin,
                        )?;
                        if d.status == DisputeStatus::Won {
                            tx.upsert_balance_transaction(
                                GATEWAY,
                                &moved("reversal", d.minor, 0, d.decided),
                                &origin,
                            )?;
                        }
                    }
                }
                Step::Reconcile => unreachable!("reconciled by the test"),
            }
            Ok(())
        })
        .unwrap();
}

/// Every finding as stored, by fingerprint: every column but the row id and when a run
/// last saw it (a run that looks at part of the books does not see the rest again).
pub fn findings(tx: &chargeguard_core::store::StoreTx<'_>) -> Vec<Vec<String>> {
    tx.findings(&Default::default())
        .unwrap()
        .into_iter()
        .map(|f| {
            let mut row = serde_json::to_value(&f).unwrap();
            let fields = row.as_object_mut().unwrap();
            fields.remove("id");
            fields.remove("last_seen_at");
            (
                f.fingerprint.clone(),
                vec![
                    f.fingerprint,
                    f.status.as_str().to_string(),
                    row.to_string(),
                ],
            )
        })
        .collect::<BTreeMap<_, _>>()
        .into_values()
        .collect()
}

pub fn open(dir: &Path, name: &str) -> Store {
    Store::open(&dir.join(name)).unwrap()
}
