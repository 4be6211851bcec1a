//! Ledger fixes on top of the imported ledger: what the books look like once the
//! adjustments Chargeguard made are applied. Pure, like the rest of reconciliation.
//!
//! The invoicing app's own export stays as it was imported; an adjustment only changes the
//! books reconciliation reads, so a later import of a ledger that already carries the fix
//! is seen for what it is (the app recorded it too) rather than applied twice: a recorded
//! payment whose gateway id the ledger already records is skipped.

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

/// Applies `adjustments` (oldest first) to `books`.
pub fn apply(books: &mut Books, adjustments: &[StoredAdjustment]) {
    if adjustments.is_empty() {
        return;
    }
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
                if !known {
                    books.ledger.push(LedgerEntry {
                        payment_id: format!("adj-{}", stored.idempotency_key),
                        invoice_number: adj.invoice_number.clone(),
                        kind,
                        amount: adj.amount,
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
