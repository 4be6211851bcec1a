//! The words of a dispute's finding (DESIGN.md's `dispute_…`). A chargeback takes a
//! charge's money back through the card network: the books see it taken off the charge
//! (`with_chargebacks`), and the rule that finds money the gateway gave back which the
//! ledger has not recorded (`unrecorded_refund`) speaks of the dispute instead:
//!
//! 1. **An undecided chargeback** (`needs_response`, `under_review`) on a charge the ledger
//!    still records as paid is `dispute_invoice_still_paid`: the money is out of the
//!    gateway's balance until the bank decides. The bookkeeper answers it at the gateway;
//!    no fix here changes the books yet. Won, the money is back and the finding clears.
//! 2. **A lost chargeback** whose money the ledger still records is
//!    `dispute_lost_unrecorded`. Its fix records a refund of the charge, as for a refund
//!    the gateway made; once recorded, the finding clears.
//!
//! Being the same rule, a dispute's finding keeps "one charge, one finding" with the
//! others. Its fingerprint is the kind and the charge (a charge has one dispute, whether
//! an export stated it or a sync brought it with its id), so a dispute that moves from
//! undecided to lost resolves one finding and opens the other, and a sync that names a
//! dispute an export stated keeps its finding. Pure: it words, never decides.

use chargeguard_domain::evidence::DisputeEvidence;
use chargeguard_domain::finding::FindingKind;

use crate::money::Money;
use crate::records::Dispute;

/// What a dispute's finding says.
pub(super) struct Words {
    pub kind: FindingKind,
    pub fingerprint: String,
    pub reason: String,
    pub evidence: DisputeEvidence,
}

/// The finding of `dispute`, whose charge the ledger still records `unrecorded` of.
pub(super) fn words(dispute: &Dispute, unrecorded: Money, invoice: Option<&str>) -> Words {
    let kind = if dispute.status.is_open_chargeback() {
        FindingKind::DisputeInvoiceStillPaid
    } else {
        FindingKind::DisputeLostUnrecorded
    };
    debug_assert!(dispute.status.holds_the_money() && kind.is_about_disputes());
    let on_invoice = invoice.map_or(String::new(), |n| format!(" (invoice {n})"));
    let named = if crate::store::is_exported_dispute(&dispute.id) {
        "as Stripe's payments export states".to_string()
    } else {
        dispute.id.clone()
    };
    let reason = match kind {
        FindingKind::DisputeInvoiceStillPaid => format!(
            "The customer's bank disputes charge {}{on_invoice} ({named}, reason {}): the gateway took {} back until the bank decides, but the ledger still records {unrecorded} as paid. Answer the dispute at Stripe{}; if it is lost, record the chargeback.",
            dispute.charge_id,
            dispute.reason,
            dispute.amount,
            dispute.evidence_due_by.map_or(String::new(), |due| format!(
                " by {}",
                due.strftime("%Y-%m-%d")
            )),
        ),
        _ => format!(
            "The dispute on charge {}{on_invoice} ({named}) was lost: the customer's bank took {} back, but the ledger still records {unrecorded} of that charge as paid. Record a refund of {unrecorded} in the ledger.",
            dispute.charge_id, dispute.amount,
        ),
    };
    Words {
        kind,
        fingerprint: format!("{}:{}", kind.as_str(), dispute.charge_id),
        reason,
        evidence: DisputeEvidence {
            id: dispute.id.clone(),
            amount: dispute.amount,
            status: dispute.status,
            reason: dispute.reason.clone(),
            created: dispute.created,
            evidence_due_by: dispute.evidence_due_by,
        },
    }
}
