//! Ties each charge to the invoice it pays: by the gateway's own invoice id (Stripe
//! Billing's `in_…`), by the gateway's invoice reference, by the
//! ledger payment that records it, and only then by a heuristic (same customer, amount
//! and currency, close in time), in that order (see the module documentation of
//! [`reconcile`](super)).
//!
//! It owns the matching only; it must never decide what is a finding, and the heuristic
//! must never override an exact link.

use jiff::SignedDuration;

use crate::money::Currency;
use crate::records::{InvoiceStatus, LedgerKind};

use super::LinkBy;
use super::index::{Chain, IdMap, IdSet, Index, NONE, succeeded};

/// How far from an invoice's issue or due date a charge may be and still be guessed to
/// pay it: a week covers a card retried over a few days without reaching the next month
/// of a monthly plan.
pub(super) const HEURISTIC_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);

/// A charge's link: the invoice row and how it was found.
pub(super) type Link = Option<(u32, LinkBy)>;

/// Links every charge it can. `payment_head[c]`/`payment_next` chain the ledger payments
/// recording charge `c`.
pub(super) fn link_charges(
    ix: &Index<'_>,
    payment_head: &[u32],
    payment_next: &[u32],
) -> Vec<Link> {
    let n = ix.books.charges.len();
    let mut links: Vec<Link> = vec![None; n];
    // Each charge's exact link depends on nothing but the index: both cores take half.
    let (first, second) = links.split_at_mut(n / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| link_exactly(ix, payment_head, payment_next, 0, first));
        link_exactly(ix, payment_head, payment_next, n / 2, second);
        other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
    link_by_heuristic(ix, &mut links);
    links
}

/// Links charges `offset..offset + links.len()` by reference, else by ledger.
fn link_exactly(
    ix: &Index<'_>,
    payment_head: &[u32],
    payment_next: &[u32],
    offset: usize,
    links: &mut [Link],
) {
    let books = ix.books;
    for (k, link) in links.iter_mut().enumerate() {
        let c = offset + k;
        let charge = &books.charges[c];
        if let Some(inv) = charge.gateway_invoice_id.as_deref().and_then(|id| {
            ix.invoice_by_gateway_id
                .as_ref()
                .and_then(|by_id| by_id.get(id.trim()))
        }) {
            *link = Some((inv, LinkBy::GatewayInvoice));
            continue;
        }
        if let Some(inv) = charge
            .invoice_ref
            .as_deref()
            .and_then(|r| ix.invoice_by_number.get(r.trim()))
        {
            *link = Some((inv, LinkBy::Reference));
            continue;
        }
        // The lowest payment id on an existing invoice wins, so the result does not depend
        // on the ledger's order.
        let by_ledger = Chain::from_heads(payment_head[c], payment_next)
            .filter(|&p| ix.ledger_invoice[p as usize] != NONE)
            .map(|p| {
                (
                    books.ledger[p as usize].payment_id.as_str(),
                    ix.ledger_invoice[p as usize],
                )
            })
            .min();
        if let Some((_, inv)) = by_ledger {
            *link = Some((inv, LinkBy::Ledger));
        }
    }
}

fn link_by_heuristic(ix: &Index<'_>, links: &mut [Link]) {
    let books = ix.books;
    let mut waiting: Vec<u32> = (0..books.charges.len() as u32)
        .filter(|&c| {
            let charge = ix.charge(c);
            links[c as usize].is_none() && succeeded(charge) && charge.net_captured() > 0
        })
        .collect();
    if waiting.is_empty() {
        return;
    }
    waiting.sort_unstable_by(|&a, &b| {
        let (a, b) = (ix.charge(a), ix.charge(b));
        (a.created, &a.id).cmp(&(b.created, &b.id))
    });
    let customers: IdSet<&str> = waiting
        .iter()
        .flat_map(|&c| {
            let charge = ix.charge(c);
            [charge.customer.as_deref(), charge.customer_email.as_deref()]
        })
        .flatten()
        .collect();
    if customers.is_empty() {
        return;
    }

    // Candidate invoices of those customers only, each under its issue and due instants,
    // sorted by instant so a window is two binary searches.
    type Bucket = Vec<(i64, u32)>;
    let mut buckets: IdMap<(&str, Currency, i64), Bucket> = IdMap::default();
    for (i, invoice) in books.invoices.iter().enumerate() {
        if invoice.status == InvoiceStatus::Void
            || !customers.contains(invoice.customer_id.as_str())
        {
            continue;
        }
        let bucket = buckets
            .entry((
                invoice.customer_id.as_str(),
                invoice.amount.currency(),
                invoice.amount.minor(),
            ))
            .or_default();
        bucket.push((invoice.issued_at.as_second(), i as u32));
        if let Some(due) = invoice.due_at {
            bucket.push((due.as_second(), i as u32));
        }
    }
    for bucket in buckets.values_mut() {
        bucket.sort_unstable();
    }

    // What the gateway already covers on each candidate invoice, from the exact links.
    let mut covered: IdMap<u32, i128> = IdMap::default();
    for (c, link) in links.iter().enumerate() {
        if let Some((inv, _)) = link {
            let charge = &books.charges[c];
            let invoice = &books.invoices[*inv as usize];
            if charge.amount.currency() == invoice.amount.currency()
                && customers.contains(invoice.customer_id.as_str())
            {
                *covered.entry(*inv).or_default() += i128::from(charge.net_captured());
            }
        }
    }

    let window = HEURISTIC_WINDOW.as_secs();
    for c in waiting {
        let charge = ix.charge(c);
        let created = charge.created.as_second();
        let mut best: Option<(bool, i64, &str, u32)> = None;
        for customer in [charge.customer.as_deref(), charge.customer_email.as_deref()]
            .into_iter()
            .flatten()
        {
            let key = (customer, charge.amount.currency(), charge.amount.minor());
            let Some(bucket) = buckets.get(&key) else {
                continue;
            };
            let start = bucket.partition_point(|&(t, _)| t < created.saturating_sub(window));
            let end = bucket.partition_point(|&(t, _)| t <= created.saturating_add(window));
            for &(t, inv) in &bucket[start..end] {
                let invoice = &books.invoices[inv as usize];
                let due = i128::from(invoice.amount.minor());
                let is_covered =
                    covered.get(&inv).copied().unwrap_or(0) >= due || ledger_paid(ix, inv) >= due;
                let candidate = (
                    is_covered,
                    (t - created).abs(),
                    invoice.number.as_str(),
                    inv,
                );
                if best.is_none_or(|b| (candidate.0, candidate.1, candidate.2) < (b.0, b.1, b.2)) {
                    best = Some(candidate);
                }
            }
        }
        if let Some((_, _, _, inv)) = best {
            links[c as usize] = Some((inv, LinkBy::Heuristic));
            *covered.entry(inv).or_default() += i128::from(charge.net_captured());
        }
    }
}

/// What the ledger says was paid on an invoice (payments less refunds, cash included, in
/// the invoice's currency; or what the invoice export states, where that is more): an
/// invoice the ledger calls paid is not the first guess for an unexplained charge.
fn ledger_paid(ix: &Index<'_>, inv: u32) -> i128 {
    let invoice = &ix.books.invoices[inv as usize];
    let currency = invoice.amount.currency();
    let stated = invoice.stated_paid.map_or(0, |m| i128::from(m.minor()));
    let recorded: i128 = Chain::from_heads(ix.ledger_head[inv as usize], &ix.ledger_next)
        .map(|p| &ix.books.ledger[p as usize])
        .filter(|entry| entry.amount.currency() == currency)
        .map(|entry| match entry.kind {
            LedgerKind::Payment => i128::from(entry.amount.minor()),
            LedgerKind::Refund => -i128::from(entry.amount.minor()),
        })
        .sum();
    recorded.max(stated)
}
