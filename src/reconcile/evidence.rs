//! The evidence a finding carries: the invoice, its ledger entries and the charges, with
//! times and amounts, as JSON the bookkeeper's screen and the month-end export show side
//! by side.
//!
//! It only describes rows the rules already chose; it must never decide anything. Keys are
//! sorted (serde_json's map), lists by id, so the evidence is stable from run to run.

use serde_json::{Map, Value, json};

use super::index::{Chain, NONE};
use super::rules::Work;

fn invoice_json(w: &Work<'_>, inv: u32) -> Value {
    let invoice = &w.ix.books.invoices[inv as usize];
    json!({
        "number": invoice.number,
        "customer_id": invoice.customer_id,
        "amount_minor": invoice.amount.minor(),
        "amount": invoice.amount.to_decimal_string(),
        "currency": invoice.amount.currency().lower(),
        "issued_at": invoice.issued_at.to_string(),
        "due_at": invoice.due_at.map(|t| t.to_string()),
        "status": invoice.status.as_str(),
        "order_ref": invoice.order_ref,
        "gateway_invoice_id": invoice.gateway_invoice_id,
        "stated_paid_minor": invoice.stated_paid.map(|m| m.minor()),
        "paid_at": invoice.paid_at.map(|t| t.to_string()),
        "ledger_from": ledger_from(w, inv),
        "gateway_net_minor": super::index::saturate(w.gateway_net[inv as usize]),
    })
}

/// Which record stands for this invoice's ledger: the app's payments (`payments export`),
/// what the invoice export says was paid (`invoice export`), the gateway's own invoice
/// (`gateway invoice`), or none.
fn ledger_from(w: &Work<'_>, inv: u32) -> Option<&'static str> {
    let invoice = &w.ix.books.invoices[inv as usize];
    if w.ix.ledger_head[inv as usize] != NONE {
        Some("payments export")
    } else if invoice.stated_paid.is_some() {
        Some("invoice export")
    } else if invoice.gateway_invoice_id.is_some() {
        Some("gateway invoice")
    } else {
        None
    }
}

fn charge_json(w: &Work<'_>, c: u32, role: &str) -> Value {
    let charge = w.ix.charge(c);
    let (linked_invoice, linked_by) = match w.links[c as usize] {
        Some((inv, by)) => (
            Some(w.ix.books.invoices[inv as usize].number.as_str()),
            Some(by.as_str()),
        ),
        None => (None, None),
    };
    json!({
        "id": charge.id,
        "role": role,
        "amount_minor": charge.amount.minor(),
        "amount": charge.amount.to_decimal_string(),
        "amount_refunded_minor": charge.amount_refunded.minor(),
        "net_minor": charge.net_captured(),
        "currency": charge.amount.currency().lower(),
        "status": charge.status.as_str(),
        "captured": charge.captured,
        "created": charge.created.to_string(),
        "customer": charge.customer,
        "customer_email": charge.customer_email,
        "payment_intent": charge.payment_intent,
        "invoice_ref": charge.invoice_ref,
        "gateway_invoice_id": charge.gateway_invoice_id,
        "linked_invoice": linked_invoice,
        "linked_by": linked_by,
        "recorded_in_ledger": w.payment_head[c as usize] != NONE,
        "accounted_by_invoice": w.accounted[c as usize],
    })
}

fn ledger_json(w: &Work<'_>, p: u32) -> Value {
    let entry = &w.ix.books.ledger[p as usize];
    json!({
        "payment_id": entry.payment_id,
        "invoice_number": entry.invoice_number,
        "kind": entry.kind.as_str(),
        "amount_minor": entry.amount.minor(),
        "amount": entry.amount.to_decimal_string(),
        "currency": entry.amount.currency().lower(),
        "recorded_at": entry.recorded_at.to_string(),
        "gateway_id": entry.gateway_id,
    })
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
    pub facts: Vec<(&'static str, Value)>,
}

pub(super) fn build(w: &Work<'_>, subject: Subject<'_>) -> Value {
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

    let mut map = Map::new();
    map.insert(
        "invoice".into(),
        subject
            .invoice
            .map_or(Value::Null, |inv| invoice_json(w, inv)),
    );
    if let Some(other) = subject.other_invoice {
        map.insert("earlier_invoice".into(), invoice_json(w, other));
    }
    map.insert(
        "ledger_entries".into(),
        Value::Array(entries.iter().map(|&p| ledger_json(w, p)).collect()),
    );
    map.insert(
        "charges".into(),
        Value::Array(
            charges
                .iter()
                .map(|&(c, role)| charge_json(w, c, role))
                .collect(),
        ),
    );
    for (key, value) in subject.facts {
        map.insert(key.into(), value);
    }
    Value::Object(map)
}
