//! Ledger fixes on top of the imported ledger: what the books look like once the
//! adjustments Chargeguard made are applied. Pure, like the rest of reconciliation.
//!
//! The invoicing app's own export stays as it was imported; an adjustment only changes the
//! books reconciliation reads, so a later import of a ledger that already carries the fix
//! is seen for what it is (the app recorded it too) rather than applied twice: a recorded
//! payment whose gateway id the ledger already records is skipped, and a charge's recorded
//! refunds never take the ledger's refunds of it past what the gateway gave back
//! ([`refund_room`]): a refund kept by hand, then entered in the books and synced, counts
//! once.

use std::collections::HashSet;

use crate::records::{InvoiceStatus, LedgerEntry, LedgerKind, RefundStatus};
use crate::store::{AdjustmentKind, StoredAdjustment};

use super::Books;

/// Takes each chargeback off its charge, after the refunds: the charge's `amount_refunded`
/// grows by the disputed amount (never past the charge), so every rule sees what the charge
/// still holds.
pub fn chargebacks_onto_charges(books: &mut Books) {
    if books.chargebacks.is_empty() {
        return;
    }
    // One pass over the charges, not one per dispute: a whole book holds a million.
    let disputed: std::collections::HashMap<&str, Vec<usize>> = books
        .chargebacks
        .iter()
        .enumerate()
        .fold(std::collections::HashMap::new(), |mut m, (i, d)| {
            m.entry(d.charge_id.as_str())
                .or_insert_with(Vec::new)
                .push(i);
            m
        });
    for charge in books.charges.iter_mut() {
        let Some(on_it) = disputed.get(charge.id.as_str()) else {
            continue;
        };
        for d in on_it.iter().map(|&i| &books.chargebacks[i]) {
            if charge.amount.currency() != d.amount.currency() {
                continue;
            }
            let taken =
                (charge.amount_refunded.minor() + d.amount.minor()).min(charge.amount.minor());
            charge.amount_refunded =
                crate::money::Money::from_minor(taken, charge.amount.currency());
        }
    }
}

/// Brings each charge's refunded total up to the refunds the gateway is known to hold for
/// it. A sync pulls a refund made in the dashboard on an old charge as a refund object,
/// while the charge row keeps the total it had when it was last fetched; the larger of the
/// two is the truth (a pending refund counts, as it does in Stripe's `amount_refunded`).
pub fn refunds_onto_charges(books: &mut Books) {
    if books.refunds.is_empty() {
        return;
    }
    let mut refunded: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for r in &books.refunds {
        if matches!(r.status, RefundStatus::Failed | RefundStatus::Canceled) {
            continue;
        }
        *refunded.entry(r.charge_id.as_str()).or_default() += r.amount.minor();
    }
    let totals: Vec<(usize, i64)> = books
        .charges
        .iter()
        .enumerate()
        .filter_map(|(i, c)| refunded.get(c.id.as_str()).map(|&total| (i, total)))
        .collect();
    for (i, total) in totals {
        let charge = &mut books.charges[i];
        let total = total.min(charge.amount.minor());
        if total > charge.amount_refunded.minor() {
            charge.amount_refunded =
                crate::money::Money::from_minor(total, charge.amount.currency());
        }
    }
}

/// What a charge gave back, in minor units: its refunds (the larger of its stored total and
/// its refund objects that count, never past its amount) and the chargebacks holding its
/// money (`held`), never past its amount: what `refunds_onto_charges` and
/// `chargebacks_onto_charges` leave in `amount_refunded`.
pub fn given_back(charge: &crate::records::Charge, refunds_total: i64, held: i64) -> i64 {
    let amount = charge.amount.minor();
    let refunded = charge
        .amount_refunded
        .minor()
        .max(refunds_total.min(amount));
    (refunded + held.max(0)).min(amount)
}

/// What refund adjustments may still record for a charge on invoice `invoice`: what the
/// gateway gave back on it (`given_back`) less the refunds the imported ledger (not the
/// adjustments: `adj-…`) records on that invoice naming it (`names`: the charge, its
/// payment intent, one of its refunds).
pub fn refund_room<'a>(
    given_back: i64,
    ledger: impl IntoIterator<Item = &'a LedgerEntry>,
    invoice: &str,
    names: impl Fn(&str) -> bool,
) -> i64 {
    let recorded: i64 = ledger
        .into_iter()
        .filter(|e| e.kind == LedgerKind::Refund && e.invoice_number == invoice)
        .filter(|e| !e.payment_id.starts_with("adj-"))
        .filter(|e| e.gateway_id.as_deref().is_some_and(&names))
        .map(|e| e.amount.minor())
        .sum();
    (given_back - recorded).max(0)
}

/// The refund adjustments taken so far, per charge and invoice.
#[derive(Debug, Default)]
pub struct RefundsTaken(std::collections::HashMap<(String, String), i64>);

/// How much of refund adjustment `adj` the ledger takes: all of it when the charge it names
/// (by the charge's own id, as every refund fix does) is not among `charges` or is in
/// another currency; else what [`refund_room`] leaves of what the charge gave back
/// (`given_back`) after the charge's earlier adjustments on the invoice (`taken`).
/// Reconciliation and the tie-out both ask it, each with its own reading of what a charge
/// gave back.
pub fn refund_taken(
    charges: &[crate::records::Charge],
    refunds: &[crate::records::GatewayRefund],
    ledger: &[LedgerEntry],
    adj: &crate::store::Adjustment,
    given_back: impl Fn(&crate::records::Charge) -> i64,
    taken: &mut RefundsTaken,
) -> i64 {
    let Some(g) = adj.gateway_id.as_deref() else {
        return adj.amount.minor();
    };
    let Some(charge) = charges
        .iter()
        .find(|c| c.id == g)
        .filter(|c| c.amount.currency() == adj.amount.currency())
    else {
        return adj.amount.minor();
    };
    let names = |id: &str| {
        id == charge.id
            || charge.payment_intent.as_deref() == Some(id)
            || refunds
                .iter()
                .any(|r| r.charge_id == charge.id && r.id == id)
    };
    let room = refund_room(given_back(charge), ledger, &adj.invoice_number, names);
    let earlier = taken
        .0
        .entry((charge.id.clone(), adj.invoice_number.clone()))
        .or_default();
    let amount = adj.amount.minor().min((room - *earlier).max(0));
    *earlier += amount;
    amount
}

/// Applies `adjustments` (oldest first) to `books`, whose charges already hold their
/// refunds and chargebacks.
pub fn apply(books: &mut Books, adjustments: &[StoredAdjustment]) {
    if adjustments.is_empty() {
        return;
    }
    let mut refunds_taken = RefundsTaken::default();
    for stored in adjustments {
        let adj = &stored.adjustment;
        let at =
            jiff::Timestamp::from_second(adj.effective_at).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        match adj.kind {
            AdjustmentKind::RecordPayment | AdjustmentKind::RecordRefund => {
                let kind = if adj.kind == AdjustmentKind::RecordPayment {
                    LedgerKind::Payment
                } else {
                    LedgerKind::Refund
                };
                let already: HashSet<&str> = books
                    .ledger
                    .iter()
                    .filter(|e| e.kind == kind && e.invoice_number == adj.invoice_number)
                    .filter_map(|e| e.gateway_id.as_deref())
                    .collect();
                let known = adj
                    .gateway_id
                    .as_deref()
                    .is_some_and(|g| already.contains(g) && kind == LedgerKind::Payment);
                let amount = match kind {
                    LedgerKind::Payment => adj.amount.minor(),
                    LedgerKind::Refund => refund_taken(
                        &books.charges,
                        &books.refunds,
                        &books.ledger,
                        adj,
                        |c| c.amount_refunded.minor(),
                        &mut refunds_taken,
                    ),
                };
                if !known && amount > 0 {
                    books.ledger.push(LedgerEntry {
                        payment_id: format!("adj-{}", stored.idempotency_key),
                        invoice_number: adj.invoice_number.clone(),
                        kind,
                        amount: crate::money::Money::from_minor(amount, adj.amount.currency()),
                        recorded_at: at,
                        gateway_id: adj.gateway_id.clone(),
                    });
                }
            }
            AdjustmentKind::ReversePayment => {
                if let Some(id) = &adj.payment_id {
                    books.ledger.retain(|e| &e.payment_id != id);
                }
            }
            AdjustmentKind::CorrectAmount => {
                if let Some(id) = &adj.payment_id {
                    for entry in books.ledger.iter_mut().filter(|e| &e.payment_id == id) {
                        entry.amount = adj.amount;
                    }
                }
            }
            AdjustmentKind::VoidInvoice => {
                for invoice in books
                    .invoices
                    .iter_mut()
                    .filter(|i| i.number == adj.invoice_number)
                {
                    invoice.status = InvoiceStatus::Void;
                }
            }
        }
    }
}
