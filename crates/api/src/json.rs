//! The API's transport types: what crosses into the front end, and nothing else.
//!
//! They live only at this boundary (gitbutler's `json` module): the core's records and
//! rows are converted into them here and never carry `ts-rs` themselves. The TypeScript
//! twins in `ui/src/generated/` are generated from these definitions (see
//! `api::generated`), and a test fails when they drift.
//!
//! Money crosses as an [`Amount`]: the minor units as a decimal *string* (a JavaScript
//! number would round above 2^53), the ISO code and the currency's exponent, so the front
//! end formats it with string/BigInt arithmetic and never a float. Ids and counts are
//! plain numbers (they stay far below 2^53).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use chargeguard_core::money::{Currency, Money};

/// An amount of money, exact: `minor` units of `currency` with `exponent` decimals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Amount.ts")]
pub struct Amount {
    /// Minor units as a decimal integer string ("-1250" is -12.50 USD).
    pub minor: String,
    /// Upper-case ISO 4217 code ("USD").
    pub currency: String,
    /// Decimals of the minor unit: JPY 0, USD 2, KWD 3.
    pub exponent: u32,
}

impl Amount {
    pub fn from_money(money: Money) -> Amount {
        Amount {
            minor: money.minor().to_string(),
            currency: money.currency().code().to_string(),
            exponent: money.currency().exponent(),
        }
    }

    /// From the store's (minor, lower-case code) pair; an unknown code keeps exponent 0.
    pub fn from_parts(minor: i64, code: &str) -> Amount {
        match Currency::from_code(code) {
            Ok(c) => Amount::from_money(Money::from_minor(minor, c)),
            Err(_) => Amount {
                minor: minor.to_string(),
                currency: code.to_ascii_uppercase(),
                exponent: 0,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "FindingKind.ts")]
pub enum FindingKind {
    DoubleCharge,
    OrphanCharge,
    MissingCharge,
    AmountMismatch,
    UnrecordedRefund,
    DuplicateInvoice,
    PayoutMissingDeposit,
    PayoutUnbalanced,
    DepositWithoutPayout,
    DepositAmountDiffers,
    DisputeInvoiceStillPaid,
    DisputeLostUnrecorded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "FindingStatus.ts")]
pub enum FindingStatus {
    Open,
    Resolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "Resolution.ts")]
pub enum Resolution {
    Cleared,
    Fixed,
    Dismissed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "Confidence.ts")]
pub enum Confidence {
    Exact,
    Heuristic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "ActionState.ts")]
pub enum ActionState {
    Proposed,
    Approved,
    Executing,
    Succeeded,
    Failed,
    Unknown,
    NeedsReview,
    Cancelled,
}

/// The morning's overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Today.ts")]
pub struct Today {
    /// The store is the demo's (show the "Demo data" banner).
    pub demo: bool,
    /// In the demo only: its approvers and their passphrases, for the banner (no secret:
    /// made-up people of a made-up store).
    pub demo_approvers: Vec<DemoApprover>,
    /// The gateway's API base, when the store is connected.
    pub gateway: Option<String>,
    pub last_sync: Option<LastSync>,
    /// Windows in which the store holds every gateway charge (RFC 3339 instants).
    pub coverage: Vec<CoverageWindow>,
    /// Every finding kind, zero included, in DESIGN.md's order.
    pub open_by_kind: Vec<KindTotal>,
    pub open_findings: u32,
    /// Actions whose outcome the gateway has not confirmed yet.
    pub undecided_actions: u32,
    /// Actions waiting for an approval or an execution.
    pub waiting_actions: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "DemoApprover.ts")]
pub struct DemoApprover {
    pub name: String,
    pub passphrase: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "LastSync.ts")]
pub struct LastSync {
    /// RFC 3339 instant.
    pub at: String,
    pub new: u32,
    pub changed: u32,
    pub unchanged: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "CoverageWindow.ts")]
pub struct CoverageWindow {
    pub from: String,
    pub to: String,
}

/// Open findings of one kind, and the money at stake per currency (never added across
/// currencies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "KindTotal.ts")]
pub struct KindTotal {
    pub kind: FindingKind,
    pub count: u32,
    pub amounts: Vec<Amount>,
}

/// Which findings to list; a `None` filter lets everything through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "FindingsQuery.ts")]
pub struct FindingsQuery {
    #[ts(optional)]
    pub kind: Option<FindingKind>,
    #[ts(optional)]
    pub status: Option<FindingStatus>,
    #[ts(optional)]
    pub confidence: Option<Confidence>,
    /// At most this many findings (a page); every one when absent.
    #[ts(optional)]
    pub limit: Option<u32>,
    /// Only findings after this id: the last id of the page before.
    #[ts(optional)]
    pub after: Option<u32>,
}

/// One row of the findings queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "FindingRow.ts")]
pub struct FindingRow {
    pub id: u32,
    pub kind: FindingKind,
    pub status: FindingStatus,
    pub resolution: Option<Resolution>,
    pub invoice_number: Option<String>,
    pub charge_ids: Vec<String>,
    pub amount: Amount,
    pub confidence: Confidence,
    /// Plain words: why this was flagged.
    pub reason: String,
    pub first_seen_at: String,
}

/// One finding opened: the evidence side by side, the fix and its actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "FindingDetail.ts")]
pub struct FindingDetail {
    pub finding: FindingRow,
    pub evidence: Evidence,
    /// The one fix the finding calls for; `None` when a person must deal with it
    /// (`no_fix_reason` says why).
    pub fix: Option<ProposedFix>,
    pub no_fix_reason: Option<String>,
    /// Actions proposed for this finding, newest first.
    pub actions: Vec<ActionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ProposedFix.ts")]
pub struct ProposedFix {
    /// `refund`, `recharge` or `ledger_fix`.
    pub kind: String,
    /// Plain words: "Refund 49.00 USD of charge ch_… ".
    pub description: String,
    pub amount: Amount,
    /// Moves money at the gateway (a refund or a re-charge), not only the ledger.
    pub moves_money: bool,
    /// Where it will be written: "Stripe", "QuickBooks company …", or Chargeguard's own
    /// ledger adjustments.
    pub destination: String,
}

/// The rows a finding is about, side by side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Evidence.ts")]
pub struct Evidence {
    pub invoice: Option<EvidenceInvoice>,
    /// For a duplicate invoice: the earlier one of the pair.
    pub earlier_invoice: Option<EvidenceInvoice>,
    pub ledger_entries: Vec<EvidenceLedgerEntry>,
    pub charges: Vec<EvidenceCharge>,
    /// For a payout or deposit finding: the gateway's payout.
    pub payout: Option<EvidencePayout>,
    /// For a payout or deposit finding: the bank line.
    pub deposit: Option<EvidenceDeposit>,
    /// For a dispute finding: the dispute.
    pub dispute: Option<EvidenceDispute>,
    /// Kind-specific facts, as label and text.
    pub facts: Vec<EvidenceFact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "EvidencePayout.ts")]
pub struct EvidencePayout {
    pub id: String,
    pub amount: Amount,
    pub status: String,
    pub created: String,
    /// The day it was to arrive at the bank (`YYYY-MM-DD`).
    pub arrival_date: String,
    /// Its balance transactions, its own debit left out.
    pub transactions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "EvidenceDispute.ts")]
pub struct EvidenceDispute {
    /// Stripe's id (`du_…`); `None` while only the payments export has stated the
    /// dispute (it names none), until a sync brings it.
    pub id: Option<String>,
    pub amount: Amount,
    /// Stripe's status: `needs_response`, `under_review`, `won`, `lost`, `warning_…`.
    pub status: String,
    /// The customer's bank's reason: `fraudulent`, `product_not_received`, ….
    pub reason: String,
    pub created: String,
    /// When the evidence is due at Stripe, where the bank allows a response.
    pub evidence_due_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "EvidenceDeposit.ts")]
pub struct EvidenceDeposit {
    pub account: String,
    pub line_id: String,
    /// The day the bank booked it (`YYYY-MM-DD`).
    pub booked_on: String,
    pub amount: Amount,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "EvidenceInvoice.ts")]
pub struct EvidenceInvoice {
    pub number: String,
    pub customer_id: String,
    pub amount: Amount,
    pub issued_at: String,
    pub due_at: Option<String>,
    pub status: String,
    pub order_ref: Option<String>,
    /// What the gateway holds for it, net of refunds.
    pub gateway_net: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "EvidenceLedgerEntry.ts")]
pub struct EvidenceLedgerEntry {
    pub payment_id: String,
    pub invoice_number: String,
    /// `payment` or `refund`.
    pub kind: String,
    pub amount: Amount,
    pub recorded_at: String,
    pub gateway_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "EvidenceCharge.ts")]
pub struct EvidenceCharge {
    pub id: String,
    /// Its part in the finding: `surplus`, `kept`, `orphan`, …
    pub role: String,
    pub amount: Amount,
    pub refunded: Amount,
    pub net: Amount,
    pub status: String,
    pub created: String,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub invoice_ref: Option<String>,
    pub linked_invoice: Option<String>,
    /// How it was tied to the invoice: `reference`, `ledger` or `heuristic`.
    pub linked_by: Option<String>,
    pub recorded_in_ledger: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "EvidenceFact.ts")]
pub struct EvidenceFact {
    pub label: String,
    /// The fact as text (an amount's minor units are given in `amount` instead).
    pub value: String,
    /// Set when the fact is an amount of money.
    pub amount: Option<Amount>,
}

/// One action of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ActionView.ts")]
pub struct ActionView {
    pub id: u32,
    /// `refund`, `recharge` or `ledger_fix`.
    pub kind: String,
    pub state: ActionState,
    /// Plain words for the state ("checking with the gateway" for `unknown`).
    pub state_words: String,
    /// Plain words: what it does.
    pub description: String,
    pub finding_id: Option<u32>,
    pub invoice_number: Option<String>,
    pub charge_id: Option<String>,
    pub amount: Amount,
    /// The idempotency key, the same for every retry.
    pub key: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub approvers: Vec<String>,
    pub updated_at: String,
    /// The gateway object it made (`re_…`, `pi_…`), once known; for a fix pushed to
    /// QuickBooks, `quickbooks:payment:ID`.
    pub gateway_object_id: Option<String>,
    /// Where it is written: "Stripe", "QuickBooks company …", or Chargeguard's own
    /// ledger adjustments.
    pub destination: String,
    /// The made object's page in the accounting system's own web app, when it has one.
    pub object_link: Option<String>,
    /// For a refund's or re-charge's books' side (approved with it, pushed after it): that
    /// refund's or re-charge's action.
    pub follow_up_of: Option<u32>,
    /// Different approvers it takes: 2 above its currency's threshold, else 1.
    pub approvals_needed: u32,
    /// Its currency's threshold (none for a ledger fix, which one approver signs).
    pub threshold: Option<super::settings::ThresholdView>,
}

/// Names one finding or action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "IdRequest.ts")]
pub struct IdRequest {
    pub id: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ProposeRequest.ts")]
pub struct ProposeRequest {
    pub finding_id: u32,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ApproveRequest.ts")]
pub struct ApproveRequest {
    pub action_id: u32,
    pub name: String,
    pub passphrase: String,
    /// The approver compared a heuristic match's evidence themselves.
    pub heuristic_checked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Approved.ts")]
pub struct Approved {
    pub action: ActionView,
    pub approvals: u32,
    pub needed: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "DismissRequest.ts")]
pub struct DismissRequest {
    pub finding_id: u32,
    pub by: String,
    /// Required: why this finding is not a problem (kept in the audit log).
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ExecuteRequest.ts")]
pub struct ExecuteRequest {
    pub action_id: u32,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Executed.ts")]
pub struct Executed {
    pub action: ActionView,
    /// Plain words: what happened and what to do next.
    pub message: String,
    /// A refund's or re-charge's books' side, pushed to the connected accounting system
    /// right after it: each follow-up action as it ended.
    pub follow_ups: Vec<ActionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Recovered.ts")]
pub struct Recovered {
    pub examined: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub needs_review: u32,
    pub still_unknown: u32,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Synced.ts")]
pub struct Synced {
    pub new: u32,
    pub changed: u32,
    pub unchanged: u32,
    /// Findings after reconciling what came in.
    pub open_findings: u32,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "AuditVerified.ts")]
pub struct AuditVerified {
    pub holds: bool,
    pub entries: u32,
    pub head_hash: Option<String>,
    /// Where the chain breaks, when it does.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "ImportKind.ts")]
pub enum ImportKind {
    Invoices,
    Payments,
    StripePayments,
    /// Stripe's balance history or payouts export, or an itemized balance or payout report.
    StripeReport,
    /// A bank statement: OFX/QFX, camt.053 or a bank's CSV export.
    BankStatement,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ImportRequest.ts")]
pub struct ImportRequest {
    pub kind: ImportKind,
    /// A file on this computer.
    pub path: String,
    /// A saved column mapping for another app's layout.
    #[ts(optional)]
    pub mapping: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Imported.ts")]
pub struct Imported {
    pub new: u32,
    pub changed: u32,
    pub unchanged: u32,
    /// "invoices.csv: 0 new, 3,000 unchanged".
    pub message: String,
}
