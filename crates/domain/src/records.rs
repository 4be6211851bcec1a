//! The records the store holds, in the bookkeeper's words: invoices and the app ledger on
//! the business's side; charges, refunds and payment intents on the gateway's side; and
//! the windows of time each gateway source is known to cover.
//!
//! These are plain values. They carry no I/O and no rule beyond what their types state;
//! the importers build them, the store persists them, reconciliation reads them.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Open,
    Paid,
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }

    pub fn parse(text: &str) -> Option<InvoiceStatus> {
        match text.trim().to_ascii_lowercase().as_str() {
            "open" => Some(InvoiceStatus::Open),
            "paid" => Some(InvoiceStatus::Paid),
            "void" => Some(InvoiceStatus::Void),
            _ => None,
        }
    }
}

/// An invoice from the invoicing app: what a customer owes for one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub number: String,
    pub customer_id: String,
    pub amount: Money,
    pub issued_at: Timestamp,
    pub due_at: Option<Timestamp>,
    pub status: InvoiceStatus,
    /// The order this invoice bills; two live invoices with one order ref are a duplicate.
    pub order_ref: Option<String>,
    /// The gateway's own id for this invoice (Stripe Billing's `in_…`), when the invoice
    /// lives at the gateway: a charge naming it pays this invoice, before any other link.
    pub gateway_invoice_id: Option<String>,
    /// What the invoicing app's export says was paid on this invoice (its amount paid, or
    /// its total less the balance due), in the invoice's currency: the ledger of a business
    /// that has no payments export. `None` when the export does not say.
    pub stated_paid: Option<Money>,
    /// When the export says the invoice was (last) paid, where it says.
    pub paid_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    Payment,
    Refund,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Payment => "payment",
            LedgerKind::Refund => "refund",
        }
    }

    pub fn parse(text: &str) -> Option<LedgerKind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "payment" => Some(LedgerKind::Payment),
            "refund" => Some(LedgerKind::Refund),
            _ => None,
        }
    }
}

/// One line of the app's payment ledger: money the business believes it received or
/// gave back. `amount` is always positive; `kind` says which way it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub payment_id: String,
    pub invoice_number: String,
    pub kind: LedgerKind,
    pub amount: Money,
    pub recorded_at: Timestamp,
    /// The gateway object this entry records (`ch_…`, `py_…`, `pi_…`, `re_…`); `None` for
    /// cash, cheque or bank transfer, which the gateway never sees.
    pub gateway_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    Succeeded,
    Pending,
    Failed,
}

impl ChargeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Succeeded => "succeeded",
            ChargeStatus::Pending => "pending",
            ChargeStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<ChargeStatus> {
        match text {
            "succeeded" => Some(ChargeStatus::Succeeded),
            "pending" => Some(ChargeStatus::Pending),
            "failed" => Some(ChargeStatus::Failed),
            _ => None,
        }
    }
}

/// A charge at the gateway: one attempt to take money from a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: Money,
    /// Refunded so far, same currency as `amount`, never more than it.
    pub amount_refunded: Money,
    pub status: ChargeStatus,
    pub captured: bool,
    pub created: Timestamp,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub payment_intent: Option<String>,
    /// The invoice reference the gateway carries (`metadata[invoice_number]`).
    pub invoice_ref: Option<String>,
    /// The gateway's own invoice this charge pays (Stripe Billing's `in_…`: the payments
    /// export's `Invoice ID`, the API's `invoice`).
    pub gateway_invoice_id: Option<String>,
    pub description: Option<String>,
    pub fee: Option<Money>,
    pub metadata: BTreeMap<String, String>,
}

impl Charge {
    /// Whether this charge is money that moved: it succeeded and was captured. A failed,
    /// pending or uncaptured attempt moved nothing. The one rule for which charges count,
    /// read by reconciliation, the tie-out, the guards and the re-charge check alike.
    pub fn counts(&self) -> bool {
        self.status == ChargeStatus::Succeeded && self.captured
    }

    /// The money this charge still holds: captured and succeeded, less what was refunded.
    /// A failed, pending or uncaptured attempt holds nothing.
    pub fn net_captured(&self) -> i64 {
        if self.counts() {
            self.amount.minor() - self.amount_refunded.minor()
        } else {
            0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Succeeded,
    Pending,
    RequiresAction,
    Failed,
    Canceled,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Pending => "pending",
            RefundStatus::RequiresAction => "requires_action",
            RefundStatus::Failed => "failed",
            RefundStatus::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<RefundStatus> {
        match text {
            "succeeded" => Some(RefundStatus::Succeeded),
            "pending" => Some(RefundStatus::Pending),
            "requires_action" => Some(RefundStatus::RequiresAction),
            "failed" => Some(RefundStatus::Failed),
            "canceled" => Some(RefundStatus::Canceled),
            _ => None,
        }
    }
}

/// A refund at the gateway, known from a sync (the CSV export carries only the charge's
/// refunded total).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRefund {
    pub id: String,
    pub charge_id: String,
    pub amount: Money,
    pub status: RefundStatus,
    pub created: Timestamp,
    pub metadata: BTreeMap<String, String>,
}

/// One line of a bank statement: money into (positive) or out of the business's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankLine {
    /// The account's name in Chargeguard.
    pub account: String,
    /// The bank's own id for the line (OFX `FITID`), unique within the account.
    pub id: String,
    /// The day the bank booked it, as the bank wrote it.
    pub booked_on: jiff::civil::Date,
    pub amount: Money,
    pub description: String,
    /// The bank's kind of transaction (OFX `TRNTYPE`: `CREDIT`, `DEBIT`, `XFER`, …).
    pub kind: Option<String>,
}

/// Where a payout stands: Stripe's statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    Paid,
    Pending,
    InTransit,
    Canceled,
    Failed,
}

impl PayoutStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Paid => "paid",
            PayoutStatus::Pending => "pending",
            PayoutStatus::InTransit => "in_transit",
            PayoutStatus::Canceled => "canceled",
            PayoutStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<PayoutStatus> {
        [
            PayoutStatus::Paid,
            PayoutStatus::Pending,
            PayoutStatus::InTransit,
            PayoutStatus::Canceled,
            PayoutStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Money the gateway sent from its balance to the business's bank account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    pub id: String,
    pub amount: Money,
    pub status: PayoutStatus,
    /// Made by the gateway's payout schedule (its balance transactions are listed under it)
    /// rather than asked for by hand.
    pub automatic: bool,
    pub created: Timestamp,
    /// When the money is expected in (or reached) the bank.
    pub arrival_date: Timestamp,
    pub failure_code: Option<String>,
}

/// Where a dispute stands, as Stripe names it. The `warning_…` statuses are inquiries,
/// which move no money; the others are chargebacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    NeedsResponse,
    UnderReview,
    Won,
    Lost,
    WarningNeedsResponse,
    WarningUnderReview,
    WarningClosed,
    /// Stopped before it became a chargeback (newer API versions).
    Prevented,
}

impl DisputeStatus {
    pub const ALL: [DisputeStatus; 8] = [
        DisputeStatus::NeedsResponse,
        DisputeStatus::UnderReview,
        DisputeStatus::Won,
        DisputeStatus::Lost,
        DisputeStatus::WarningNeedsResponse,
        DisputeStatus::WarningUnderReview,
        DisputeStatus::WarningClosed,
        DisputeStatus::Prevented,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::NeedsResponse => "needs_response",
            DisputeStatus::UnderReview => "under_review",
            DisputeStatus::Won => "won",
            DisputeStatus::Lost => "lost",
            DisputeStatus::WarningNeedsResponse => "warning_needs_response",
            DisputeStatus::WarningUnderReview => "warning_under_review",
            DisputeStatus::WarningClosed => "warning_closed",
            DisputeStatus::Prevented => "prevented",
        }
    }

    pub fn parse(text: &str) -> Option<DisputeStatus> {
        DisputeStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Reads a status as the closest safe one when it is none of ours (Stripe adds
    /// statuses; an export may write them as words): an unknown warning is an inquiry
    /// under review, anything else a chargeback under review, which holds the money, so
    /// that nothing is taken as settled that may not be.
    pub fn parse_or_closest(text: &str) -> DisputeStatus {
        let normal: String = text
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        DisputeStatus::parse(&normal).unwrap_or(if normal.starts_with("warning_") {
            DisputeStatus::WarningUnderReview
        } else {
            DisputeStatus::UnderReview
        })
    }

    /// A chargeback not yet decided: the money is out of the balance until it is.
    pub fn is_open_chargeback(self) -> bool {
        matches!(
            self,
            DisputeStatus::NeedsResponse | DisputeStatus::UnderReview
        )
    }

    /// The charge's money is out of the gateway's balance because of it: a chargeback
    /// undecided, or lost for good.
    pub fn holds_the_money(self) -> bool {
        self.is_open_chargeback() || self == DisputeStatus::Lost
    }

    /// Decided: nothing about it changes any more but its metadata.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            DisputeStatus::Won
                | DisputeStatus::Lost
                | DisputeStatus::WarningClosed
                | DisputeStatus::Prevented
        )
    }
}

/// A customer's bank disputing a charge: a chargeback takes the amount (and a fee) from the
/// gateway's balance until it is decided; an inquiry takes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    pub id: String,
    pub charge_id: String,
    pub payment_intent: Option<String>,
    /// What the customer's bank disputes (usually the charge's amount).
    pub amount: Money,
    pub status: DisputeStatus,
    /// The bank's reason: `fraudulent`, `product_not_received`, `general`, ….
    pub reason: String,
    pub created: Timestamp,
    /// When the evidence is due, where the bank allows a response.
    pub evidence_due_by: Option<Timestamp>,
}

/// One movement of the gateway's balance: a charge less its fee, a refund, a payout, …
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceTransaction {
    pub id: String,
    /// Stripe's `type`: `charge`, `refund`, `payout`, `payout_failure`, `adjustment`, ….
    pub kind: String,
    pub amount: Money,
    pub fee: Money,
    /// `amount − fee`: what the balance moved by.
    pub net: Money,
    pub created: Timestamp,
    pub available_on: Timestamp,
    /// The object it came from (a charge, refund, payout or dispute id).
    pub source: Option<String>,
    /// The automatic payout that took it to the bank, once known.
    pub payout: Option<String>,
}

/// A window of time in which the store holds every charge the gateway made: an export's
/// first and last rows, or a sync's `created` window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Coverage {
    pub fn contains(&self, at: Timestamp) -> bool {
        self.from <= at && at <= self.to
    }
}

/// Where a stored row came from: an import of a file (with its line) or a sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub source_id: i64,
    /// 1-based line in the source file; `None` for rows that came from a sync.
    pub line: Option<u64>,
}
