//! Disputes against the ledger (DESIGN.md's `dispute_…` findings): a chargeback takes a
//! charge's money back through the card network, and the books must say so once it is lost.
//!
//! A pure function of the disputes and, for each, the books about its charge: no I/O, no
//! clock, its output sorted. The rules:
//!
//! 1. **An undecided chargeback** (`needs_response`, `under_review`) on a charge the ledger
//!    still records as paid is `dispute_invoice_still_paid`: the money is out of the
//!    gateway's balance until the bank decides, and the invoice shows paid. The bookkeeper
//!    answers it at the gateway; no fix here changes the books yet.
//! 2. **A lost chargeback** whose money the ledger still records (its payments less its
//!    refunds of the charge) is `dispute_lost_unrecorded`, for what the ledger has not
//!    given back, up to the disputed amount. Its fix records a refund of the charge, as for
//!    a refund the gateway made; once recorded, the finding clears.
//! 3. A won chargeback, an inquiry (no money moves) or a dispute on a charge the ledger
//!    never recorded (the charge's own finding covers it) is no finding.
//!
//! One finding per dispute; its fingerprint is the kind and the dispute's id, so a dispute
//! that moves from undecided to lost resolves one finding and opens the other.

use chargeguard_domain::evidence::{DisputeEvidence, Facts};
use chargeguard_domain::finding::{Confidence, Finding, FindingKind};

use super::Books;
use super::index::saturate;
use super::rules::charge_in_books;
use crate::money::Money;
use crate::records::{Dispute, DisputeStatus};

/// The finding one dispute calls for, from the books about its charge.
pub fn finding(dispute: &Dispute, books: &Books) -> Option<Finding> {
    let kind = match dispute.status {
        s if s.is_open_chargeback() => FindingKind::DisputeInvoiceStillPaid,
        DisputeStatus::Lost => FindingKind::DisputeLostUnrecorded,
        _ => return None,
    };
    let charge = books.charges.iter().find(|c| c.id == dispute.charge_id)?;
    if charge.amount.currency() != dispute.amount.currency() {
        return None;
    }
    let seen = charge_in_books(books, &dispute.charge_id, "disputed", Facts::default())?;
    let unrecorded = seen.ledger_net.min(i128::from(dispute.amount.minor()));
    if unrecorded <= 0 {
        return None;
    }
    let currency = dispute.amount.currency();
    let amount = Money::from_minor(saturate(unrecorded), currency);
    let on_invoice = seen
        .invoice_number
        .as_deref()
        .map_or(String::new(), |n| format!(" (invoice {n})"));
    let reason = match kind {
        FindingKind::DisputeInvoiceStillPaid => format!(
            "The customer's bank disputes charge {}{on_invoice} ({}, reason {}): the gateway took {} back until the bank decides, but the ledger still records {amount} as paid. Answer the dispute at Stripe{}; if it is lost, record the chargeback.",
            dispute.charge_id,
            dispute.id,
            dispute.reason,
            dispute.amount,
            dispute.evidence_due_by.map_or(String::new(), |due| format!(
                " by {}",
                due.strftime("%Y-%m-%d")
            )),
        ),
        _ => format!(
            "The dispute {} on charge {}{on_invoice} was lost: the customer's bank took {} back, but the ledger still records {amount} of that charge as paid. Record a refund of {amount} in the ledger.",
            dispute.id, dispute.charge_id, dispute.amount,
        ),
    };
    let mut evidence = seen.evidence;
    evidence.dispute = Some(DisputeEvidence {
        id: dispute.id.clone(),
        amount: dispute.amount,
        status: dispute.status,
        reason: dispute.reason.clone(),
        created: dispute.created,
        evidence_due_by: dispute.evidence_due_by,
    });
    debug_assert!(kind.is_about_disputes());
    Some(Finding {
        kind,
        fingerprint: format!("{}:{}", kind.as_str(), dispute.id),
        confidence: Confidence::Exact,
        invoice_number: seen.invoice_number,
        charge_ids: vec![dispute.charge_id.clone()],
        payment_ids: seen.payment_ids,
        amount,
        reason,
        evidence,
    })
}
