//! The evidence a finding carries (`chargeguard_domain::evidence`): the invoice, its
//! ledger entries and the charges, with times and amounts, filled from the rows a rule chose.
//!
//! It only describes rows the rules already chose; it must never decide anything. Lists are
//! sorted by id, so the evidence is stable from run to run.

use chargeguard_domain::evidence::{
    ChargeEvidence, Evidence, Facts, InvoiceEvidence, LedgerEvidence, LedgerSource,
};

use super::index::{Chain, NONE};
use super::rules::Work;

fn invoice_evidence(w: &Work<'_>, inv: u32) -> InvoiceEvidence {
    let invoice = &w.ix.books.invoices[inv as usize];
    InvoiceEvidence {
        number: invoice.number.clone(),
        customer_id: invoice.customer_id.clone(),
        amount: invoice.amount,
        issued_at: invoice.issued_at,
        due_at: invoice.due_at,
        status: invoice.status,
        order_ref: invoice.order_ref.clone(),
        gateway_invoice_id: invoice.gateway_invoice_id.clone(),
        stated_paid_minor: invoice.stated_paid.map(|m| m.minor()),
        paid_at: invoice.paid_at,
        ledger_from: ledger_from(w, inv),
        gateway_net_minor: super::index::saturate(w.gateway_net[inv as usize]),
    }
}

/// Which record stands for this invoice's ledger: the app's payments, what the invoice
/// export says was paid, the gateway's own invoice, or none.
fn ledger_from(w: &Work<'_>, inv: u32) -> Option<LedgerSource> {
    let invoice = &w.ix.books.invoices[inv as usize];
    if w.ix.ledger_head[inv as usize] != NONE {
        Some(LedgerSource::PaymentsExport)
    } else if invoice.stated_paid.is_some() {
        Some(LedgerSource::InvoiceExport)
    } else if invoice.gateway_invoice_id.is_some() {
        Some(LedgerSource::GatewayInvoice)
    } else {
        None
    }
}

fn charge_evidence(w: &Work<'_>, c: u32, role: &str) -> ChargeEvidence {
    let charge = w.ix.charge(c);
    let (linked_invoice, linked_by) = match w.links[c as usize] {
        Some((inv, by)) => (
            Some(w.ix.books.invoices[inv as usize].number.clone()),
            Some(by.as_str().to_string()),
        ),
        None => (None, None),
    };
    ChargeEvidence {
        id: charge.id.clone(),
        role: role.to_string(),
        amount: charge.amount,
        amount_refunded_minor: charge.amount_refunded.minor(),
        net_minor: charge.net_captured(),
        status: charge.status,
        captured: charge.captured,
        created: charge.created,
        customer: charge.customer.clone(),
        customer_email: charge.customer_email.clone(),
        payment_intent: charge.payment_intent.clone(),
        invoice_ref: charge.invoice_ref.clone(),
        gateway_invoice_id: charge.gateway_invoice_id.clone(),
        linked_invoice,
        linked_by,
        recorded_in_ledger: w.payment_head[c as usize] != NONE,
        accounted_by_invoice: w.accounted[c as usize],
    }
}

fn ledger_evidence(w: &Work<'_>, p: u32) -> LedgerEvidence {
    let entry = &w.ix.books.ledger[p as usize];
    LedgerEvidence {
        payment_id: entry.payment_id.clone(),
        invoice_number: entry.invoice_number.clone(),
        kind: entry.kind,
        amount: entry.amount,
        recorded_at: entry.recorded_at,
        gateway_id: entry.gateway_id.clone(),
    }
}

/// What a finding is about, for [`build`].
pub(super) struct Subject<'a> {
    /// The invoice the finding is on.
    pub invoice: Option<u32>,
    /// Another invoice it is compared with (the earlier of a duplicate pair).
    pub other_invoice: Option<u32>,
    /// Charges with their role in the finding ("surplus", "kept", "orphan", …).
    pub charges: &'a [(u32, &'static str)],
    /// Ledger entries beyond those of the invoices and charges.
    pub ledger: &'a [u32],
    /// Kind-specific facts (the recorded gateway id of a missing charge, …).
    pub facts: Facts,
}

pub(super) fn build(w: &Work<'_>, subject: Subject<'_>) -> Evidence {
    let mut entries: Vec<u32> = subject.ledger.to_vec();
    for inv in subject.invoice.iter().chain(subject.other_invoice.iter()) {
        entries.extend(Chain::from_heads(
            w.ix.ledger_head[*inv as usize],
            &w.ix.ledger_next,
        ));
    }
    for &(c, _) in subject.charges {
        entries.extend(Chain::from_heads(
            w.payment_head[c as usize],
            &w.payment_next,
        ));
        entries.extend(Chain::from_heads(w.refund_head[c as usize], &w.refund_next));
    }
    let ledger = &w.ix.books.ledger;
    entries.sort_unstable_by(|&a, &b| {
        ledger[a as usize]
            .payment_id
            .cmp(&ledger[b as usize].payment_id)
    });
    entries.dedup();

    let mut charges: Vec<(u32, &str)> = subject.charges.to_vec();
    charges.sort_unstable_by(|a, b| w.ix.charge(a.0).id.cmp(&w.ix.charge(b.0).id));

    Evidence {
        invoice: subject.invoice.map(|inv| invoice_evidence(w, inv)),
        earlier_invoice: subject.other_invoice.map(|inv| invoice_evidence(w, inv)),
        ledger_entries: entries.iter().map(|&p| ledger_evidence(w, p)).collect(),
        charges: charges
            .iter()
            .map(|&(c, role)| charge_evidence(w, c, role))
            .collect(),
        payout: None,
        deposit: None,
        dispute: None,
        facts: subject.facts,
    }
}
