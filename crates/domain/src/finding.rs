//! What reconciliation finds, and what becomes of it: a [`Finding`] (its kind, how sure it
//! is, the money and the evidence), and a stored finding's status and resolution. Plain
//! values; the rules that make findings live in reconciliation, the lifecycle that keeps
//! them in the store's queue beside it.

use serde::{Deserialize, Serialize};

use crate::money::Money;

/// One thing that does not add up, with the money it is about and the evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// Kind plus the ids it is about; stable across runs so a finding is updated, not copied.
    pub fingerprint: String,
    pub confidence: Confidence,
    pub invoice_number: Option<String>,
    /// The gateway charges this finding is about, sorted. A charge is in at most one finding.
    pub charge_ids: Vec<String>,
    /// The ledger entries this finding is about, sorted.
    pub payment_ids: Vec<String>,
    pub amount: Money,
    /// Plain words for the bookkeeper: what is wrong and what would fix it.
    pub reason: String,
    /// The invoice, its ledger entries and the charges, with times and amounts.
    pub evidence: crate::evidence::Evidence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    DoubleCharge,
    OrphanCharge,
    MissingCharge,
    AmountMismatch,
    UnrecordedRefund,
    DuplicateInvoice,
    /// A payout the gateway marked paid that no bank deposit shows, where the statements
    /// cover its arrival.
    PayoutMissingDeposit,
    /// A payout whose balance transactions do not add up to it (an integrity check of our
    /// own sync: Stripe's always do).
    PayoutUnbalanced,
    /// A deposit described as the gateway's transfer that no payout explains.
    DepositWithoutPayout,
    /// A deposit that met its payout with another amount (bank fees, FX), beyond the
    /// account's tolerance.
    DepositAmountDiffers,
    /// A chargeback not yet decided on a charge whose invoice the ledger still shows paid:
    /// the money is out of the gateway's balance.
    DisputeInvoiceStillPaid,
    /// A chargeback lost, with no ledger entry giving the money back.
    DisputeLostUnrecorded,
}

impl FindingKind {
    pub const ALL: [FindingKind; 12] = [
        FindingKind::DoubleCharge,
        FindingKind::OrphanCharge,
        FindingKind::MissingCharge,
        FindingKind::AmountMismatch,
        FindingKind::UnrecordedRefund,
        FindingKind::DuplicateInvoice,
        FindingKind::PayoutMissingDeposit,
        FindingKind::PayoutUnbalanced,
        FindingKind::DepositWithoutPayout,
        FindingKind::DepositAmountDiffers,
        FindingKind::DisputeInvoiceStillPaid,
        FindingKind::DisputeLostUnrecorded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::DoubleCharge => "double_charge",
            FindingKind::OrphanCharge => "orphan_charge",
            FindingKind::MissingCharge => "missing_charge",
            FindingKind::AmountMismatch => "amount_mismatch",
            FindingKind::UnrecordedRefund => "unrecorded_refund",
            FindingKind::DuplicateInvoice => "duplicate_invoice",
            FindingKind::PayoutMissingDeposit => "payout_missing_deposit",
            FindingKind::PayoutUnbalanced => "payout_unbalanced",
            FindingKind::DepositWithoutPayout => "deposit_without_payout",
            FindingKind::DepositAmountDiffers => "deposit_amount_differs",
            FindingKind::DisputeInvoiceStillPaid => "dispute_invoice_still_paid",
            FindingKind::DisputeLostUnrecorded => "dispute_lost_unrecorded",
        }
    }

    /// Whether the kind is about money reaching the bank (payouts and deposits), which is
    /// reconciled whole on every run: a handful of payouts a month, not the invoices.
    pub fn is_about_the_bank(self) -> bool {
        matches!(
            self,
            FindingKind::PayoutMissingDeposit
                | FindingKind::PayoutUnbalanced
                | FindingKind::DepositWithoutPayout
                | FindingKind::DepositAmountDiffers
        )
    }

    /// Whether the kind is about a dispute: a chargeback the ledger has not caught up with
    /// (found by the same rule as an unrecorded refund).
    pub fn is_about_disputes(self) -> bool {
        matches!(
            self,
            FindingKind::DisputeInvoiceStillPaid | FindingKind::DisputeLostUnrecorded
        )
    }

    pub fn parse(text: &str) -> Option<FindingKind> {
        let text = text.trim();
        FindingKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(text))
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the finding is: `exact` rests only on references and recorded ids;
/// `heuristic` rests on at least one guess (customer, amount and time) and is never
/// auto-approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Exact,
    Heuristic,
}

impl Confidence {
    pub const ALL: [Confidence; 2] = [Confidence::Exact, Confidence::Heuristic];

    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Heuristic => "heuristic",
        }
    }

    pub fn parse(text: &str) -> Option<Confidence> {
        match text.trim() {
            "exact" => Some(Confidence::Exact),
            "heuristic" => Some(Confidence::Heuristic),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Open,
    Resolved,
}

impl FindingStatus {
    pub const ALL: [FindingStatus; 2] = [FindingStatus::Open, FindingStatus::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<FindingStatus> {
        match text.trim() {
            "open" => Some(FindingStatus::Open),
            "resolved" => Some(FindingStatus::Resolved),
            _ => None,
        }
    }
}

impl std::fmt::Display for FindingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a finding is no longer open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The data no longer shows it (a later import or sync settled it).
    Cleared,
    /// An approved action fixed it.
    Fixed,
    /// A person judged it fine.
    Dismissed,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [
        Resolution::Cleared,
        Resolution::Fixed,
        Resolution::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Cleared => "cleared",
            Resolution::Fixed => "fixed",
            Resolution::Dismissed => "dismissed",
        }
    }

    pub fn parse(text: &str) -> Option<Resolution> {
        match text.trim() {
            "cleared" => Some(Resolution::Cleared),
            "fixed" => Some(Resolution::Fixed),
            "dismissed" => Some(Resolution::Dismissed),
            _ => None,
        }
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
