//! Reconciliation: lays the gateway's charges beside the business's invoices and ledger
//! and says what does not add up.
//!
//! It owns the rules of DESIGN.md "Findings" and nothing else. [`reconcile`] is a pure
//! function from [`Books`] (the store's rows) to a [`Reconciliation`] (links, findings,
//! payments not yet synced); it must never touch I/O, a clock or a random source, and its
//! output is sorted so that two runs over the same books are byte-for-byte equal. [`run`]
//! and [`run_whole`] are the doors to the store: each loads the books (what changed since
//! the last run and everything it reaches, or every row), reconciles and applies the result
//! in one write transaction.
//!
//! How a charge is tied to an invoice, in order: the gateway's own invoice id the charge
//! names (Stripe Billing's `in_…`, the export's `Invoice ID`) on an invoice imported with
//! that id (`gateway_invoice`, exact); the invoice reference the gateway carries
//! (`metadata[invoice_number]`) naming an existing invoice (`reference`, exact); a ledger
//! payment whose gateway id is the charge id or the charge's payment intent id, on an
//! existing invoice (`ledger`, exact; the lowest payment id wins if several disagree);
//! only then, for a charge that still holds money, a heuristic (`heuristic`): an invoice
//! of the same customer (the charge's customer id or e-mail equals the invoice's customer
//! id), same amount and currency, not void, issued or due within 7 days of the charge.
//! Invoices not yet covered come first (neither the gateway's linked charges nor the
//! ledger's payments, cash included, reach the amount), then the closest in time, then
//! the lowest number. Unlinked charges are matched oldest first. A finding that rests on a
//! heuristic link is `heuristic`, never auto-approved.
//!
//! Decisions where the contract is silent, as a careful bookkeeper would expect them:
//! - Money that counts is a charge's `net_captured()`; a charge "succeeded" only when it is
//!   succeeded *and* captured. A charge in another currency than its invoice never counts
//!   towards that invoice.
//! - A ledger payment naming a payment intent records that intent's succeeded charge (the
//!   earliest, should there be several); a ledger refund may name the charge, its payment
//!   intent or a gateway refund (`re_…`) of that charge. Refund entries in another
//!   currency than the charge are not counted.
//! - A charge refunded in full holds nothing, so it is never an orphan nor surplus. But when
//!   the ledger recorded that charge as a payment and not its refund, the ledger still says
//!   "paid": that is an `unrecorded_refund`, which is exactly what the bookkeeper must fix.
//! - `missing_charge` lists the charge ids the ledger's gateway id resolves to (a failed or
//!   pending attempt), or none when the gateway has no such object; the recorded gateway id
//!   is always in the evidence.
//! - `duplicate_invoice` by order reference compares invoices that both carry one; the
//!   heuristic (same customer, amount and currency, issued within 10 minutes) only compares
//!   invoices that both lack one (two different order references are two orders). The later
//!   invoice (issued_at, then number) is the duplicate of the earliest qualifying one.
//! - `double_charge` keeps charges (ledger-recorded first, then earliest) until the amount
//!   due is reached; the rest are surplus. When the overpayment lies inside the last kept
//!   charge (60 + 60 on an invoice of 100), that charge is the one named, for a partial
//!   refund of the surplus amount.
//! - `payment_ids` are the ledger entries that record the finding's charges (for
//!   `missing_charge`, the payment itself; for `unrecorded_refund`, the charge's payments
//!   and refunds).
//! - On a million rows the hash maps are most of the time, so independent halves of the
//!   index, the exact links and the links list run on scoped threads; the result does not
//!   depend on how they interleave.
//! - Sums are taken in `i128` and saturate into `i64` minor units: no realistic book
//!   reaches the limit, and a saturated amount is still visibly wrong rather than a panic.

pub mod adjustments;
pub mod deposits;
pub mod disputes;
mod evidence;
mod index;
mod links;
mod queue;
mod rules;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::records::{Charge, Coverage, GatewayRefund, Invoice, LedgerEntry};
use crate::store::{ScopeSize, ScopeWindows, Store, StoreError, StoreTx};
pub use chargeguard_domain::finding::{Confidence, Finding, FindingKind};

/// Everything reconciliation reads: the store's rows, in any order.
#[derive(Debug, Clone, Default)]
pub struct Books {
    pub invoices: Vec<Invoice>,
    pub ledger: Vec<LedgerEntry>,
    pub charges: Vec<Charge>,
    pub refunds: Vec<GatewayRefund>,
    pub coverage: Vec<Coverage>,
    /// The chargebacks holding the money of charges in these books (undecided or lost),
    /// already taken off their charges' net by [`with_chargebacks`].
    pub chargebacks: Vec<crate::records::Dispute>,
}

/// The outcome of one reconciliation, sorted: findings by fingerprint, links by charge id,
/// payment ids alphabetically. Its links borrow their ids from the books it was made of (a
/// million links would otherwise copy two million strings nobody writes anywhere).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciliation<'b> {
    pub findings: Vec<Finding>,
    pub links: Vec<ChargeLink<'b>>,
    /// Ledger payments whose gateway charge is absent and whose date lies outside every
    /// coverage window: not findings, just "not yet synced".
    pub not_yet_synced: Vec<String>,
}

/// A charge tied to the invoice it pays, and by what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChargeLink<'b> {
    pub charge_id: &'b str,
    pub invoice_number: &'b str,
    pub by: LinkBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkBy {
    /// The charge names the gateway's own invoice (Stripe Billing's `in_…`), which an
    /// imported invoice carries.
    GatewayInvoice,
    /// The gateway carries the invoice number (metadata).
    Reference,
    /// A ledger payment records the charge (or its payment intent).
    Ledger,
    /// Same customer, amount and currency, close in time: a guess.
    Heuristic,
}

impl LinkBy {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkBy::GatewayInvoice => "gateway_invoice",
            LinkBy::Reference => "reference",
            LinkBy::Ledger => "ledger",
            LinkBy::Heuristic => "heuristic",
        }
    }
}

/// Which part of the books a run looked at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "looked_at", rename_all = "snake_case")]
pub enum RunScope {
    /// Every row: the first run, a run under new rules, or `reconcile --full`.
    #[default]
    Whole,
    /// The rows written since the last run and everything they reach.
    Changed(ScopeSize),
}

/// What applying a reconciliation did to the stored findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileSummary {
    /// The part of the books this run looked at.
    pub scope: RunScope,
    /// Findings seen for the first time.
    pub new: u64,
    /// Findings already open and still there.
    pub still_open: u64,
    /// Open findings the data no longer shows, now resolved as `cleared`.
    pub resolved: u64,
    /// Findings once cleared that the data shows again (it regressed).
    pub reopened: u64,
    /// Open findings after this run, per kind (every kind listed, zero included).
    pub open_by_kind: BTreeMap<FindingKind, u64>,
    /// Ledger payments waiting for a sync that covers their date.
    pub not_yet_synced: u64,
}

/// Why a reconciliation could not run. Nothing is half-applied: the run is one
/// transaction.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("reconciliation could not read or update the store: {0}")]
    Store(#[from] StoreError),
}

/// Reconciles the books, purely. See the module documentation for the rules.
pub fn reconcile(books: &Books) -> Reconciliation<'_> {
    rules::reconcile(books)
}

/// Reads the books as one consistent snapshot of the store.
pub fn load_books(store: &mut Store) -> Result<Books, ReconcileError> {
    store.read(books_in)
}

/// The books as reconciliation sees them: the imported rows with Chargeguard's own ledger
/// fixes (adjustments) applied on top. Charges come without their description and
/// metadata, which no rule reads ([`StoreTx::charges_to_reconcile`]): to store a charge
/// again, read it whole from the store.
pub fn books_in(tx: &StoreTx<'_>) -> Result<Books, ReconcileError> {
    let books = Books {
        invoices: tx.invoices()?,
        ledger: tx.ledger_entries()?,
        charges: tx.charges_to_reconcile()?,
        refunds: tx.refunds()?,
        coverage: tx.charge_coverage()?,
        chargebacks: Vec::new(),
    };
    let adjustments = tx.adjustments()?;
    Ok(with_adjustments(books, &adjustments, chargebacks(tx)?))
}

/// The disputes holding a charge's money (an undecided chargeback, or a lost one), a few
/// a year: read whole.
fn chargebacks(tx: &StoreTx<'_>) -> Result<Vec<crate::records::Dispute>, ReconcileError> {
    Ok(tx
        .disputes(crate::sync::GATEWAY)?
        .into_iter()
        .filter(|d| d.status.holds_the_money())
        .collect())
}

/// The books with each chargeback taken off its charge: the card network took that money
/// back, so the charge holds no more of it, as after a refund the ledger must record (the
/// rules word such a finding as the dispute's: `dispute_…`).
fn with_chargebacks(mut books: Books, mut all: Vec<crate::records::Dispute>) -> Books {
    if all.is_empty() {
        return books;
    }
    let here: std::collections::HashSet<&str> =
        books.charges.iter().map(|c| c.id.as_str()).collect();
    all.retain(|d| here.contains(d.charge_id.as_str()));
    books.chargebacks = all;
    adjustments::chargebacks_onto_charges(&mut books);
    books
}

/// What the store's chargebacks are now, as one text: a run whose text differs from the
/// last run's is whole, since a dispute's change reaches its charge's findings and the
/// walk of what changed does not follow disputes.
fn chargebacks_seen(chargebacks: &[crate::records::Dispute]) -> String {
    chargebacks
        .iter()
        .map(|d| format!("{}:{}:{}", d.id, d.status.as_str(), d.amount.minor()))
        .collect::<Vec<_>>()
        .join(",")
}

const CHARGEBACKS_SEEN: &str = "reconcile.chargebacks_seen";

/// The stored rows as reconciliation sees them: the gateway's refunds and then its
/// chargebacks brought onto their charges, and Chargeguard's ledger fixes applied on top
/// (a recorded refund is held to what its charge gave back).
fn with_adjustments(
    mut books: Books,
    adjustments: &[crate::store::StoredAdjustment],
    chargebacks: Vec<crate::records::Dispute>,
) -> Books {
    books.ledger.reserve(adjustments.len());
    adjustments::refunds_onto_charges(&mut books);
    let mut books = with_chargebacks(books, chargebacks);
    adjustments::apply(&mut books, adjustments);
    books
}

/// The part of the books one action or finding is about, read with targeted queries: the
/// invoices named, the charges named, and around them everything the plan and the guards
/// weigh — the ledger entries on those invoices or naming those charges (or their payment
/// intents), the charges those entries name or that name those invoices, their refunds,
/// and the adjustments on any of it. The same rows [`books_in`] would give for these
/// invoices and charges, without reading the rest of the books.
pub fn books_about(
    tx: &StoreTx<'_>,
    invoice_numbers: &[&str],
    charge_ids: &[&str],
) -> Result<Books, ReconcileError> {
    let named_charges = tx.charges_about(crate::sync::GATEWAY, charge_ids, &[], &[])?;
    let mut gateway_ids: Vec<&str> = charge_ids.to_vec();
    gateway_ids.extend(
        named_charges
            .iter()
            .filter_map(|c| c.payment_intent.as_deref()),
    );
    let ledger = tx.ledger_entries_about(invoice_numbers, &gateway_ids)?;
    // The charges the ledger names (by charge id or by payment intent), and those naming
    // the invoices.
    let mut ids: Vec<&str> = charge_ids.to_vec();
    ids.extend(ledger.iter().filter_map(|e| e.gateway_id.as_deref()));
    ids.sort_unstable();
    ids.dedup();
    let charges = tx.charges_about(crate::sync::GATEWAY, &ids, invoice_numbers, &ids)?;
    let charge_ids: Vec<&str> = charges.iter().map(|c| c.id.as_str()).collect();
    let refunds = tx.refunds_of(&charge_ids)?;
    let mut recorded: Vec<&str> = charge_ids.clone();
    recorded.extend(charges.iter().filter_map(|c| c.payment_intent.as_deref()));
    let adjustments = tx.adjustments_about(invoice_numbers, &recorded)?;
    let books = Books {
        invoices: tx.invoices_numbered(invoice_numbers)?,
        ledger,
        charges,
        refunds,
        coverage: tx.charge_coverage()?,
        chargebacks: Vec::new(),
    };
    Ok(with_adjustments(books, &adjustments, chargebacks(tx)?))
}

/// What the bank rules read ([`deposits`]): the gateway's payouts, every bank line, what
/// the statements cover, the tolerances people set and how far the payouts are synced.
pub fn bank_books_in(tx: &StoreTx<'_>) -> Result<deposits::BankBooks, ReconcileError> {
    Ok(deposits::BankBooks {
        payouts: tx.payouts(crate::sync::GATEWAY)?,
        lines: tx.bank_lines()?.into_iter().map(|s| s.line).collect(),
        coverage: tx.bank_coverage()?,
        tolerances: crate::deposits::tolerance::all(tx)?,
        payouts_known: payouts_known(tx)?,
    })
}

/// The spans in which every payout is in the store: from the beginning to the sync's
/// payout cursor, and each of Stripe's files from its first payout to its last (a file
/// lists the payouts of its period, and nothing before or after it). A cursor a sync
/// cannot read is no cursor here: the sync itself refuses it, and until it runs no deposit
/// is called unexplained for it.
fn payouts_known(tx: &StoreTx<'_>) -> Result<Vec<(Timestamp, Timestamp)>, ReconcileError> {
    let mut spans = tx.payout_spans_of_files(crate::sync::GATEWAY)?;
    if let Some(synced) = crate::sync::window::cursor(tx, crate::sync::ObjectKind::Payout)
        .ok()
        .flatten()
        .and_then(|s| Timestamp::from_second(s).ok())
    {
        spans.push((Timestamp::MIN, synced));
    }
    Ok(spans)
}

fn bank_kinds() -> Vec<FindingKind> {
    FindingKind::ALL
        .into_iter()
        .filter(|k| k.is_about_the_bank())
        .collect()
}

/// Adds the bank's findings to the books', keeping them sorted by fingerprint.
fn with_bank_findings(
    tx: &StoreTx<'_>,
    reconciliation: &mut Reconciliation<'_>,
) -> Result<(), ReconcileError> {
    let bank = bank_books_in(tx)?;
    let matching = deposits::reconcile(&bank);
    reconciliation.findings.extend(matching.findings);
    reconciliation
        .findings
        .sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    Ok(())
}

/// The version of the rules above. A store notes changes for the rules it was last wholly
/// reconciled under; when this moves (a rule changed), the next run is whole, so no
/// finding is left as older rules decided it. Bump it with any change to what a rule finds.
pub const RULES_VERSION: i64 = 4;

/// The windows of the guesses, for the store's walk of what changed rows reach.
fn scope_windows() -> ScopeWindows {
    ScopeWindows {
        heuristic_window_seconds: links::HEURISTIC_WINDOW.as_secs(),
        duplicate_window_seconds: rules::DUPLICATE_WINDOW_SECONDS,
    }
}

/// Reconciles what changed since the last run and applies the findings, all in one write
/// transaction: a concurrent import is either wholly seen or not at all.
///
/// It looks at the rows written since the last run and everything they reach (their
/// invoices, charges, ledger entries, refunds and ledger fixes, and the guesses' time
/// windows around them; see the store's `scope` module) and leaves every other finding as
/// it is: the same findings a whole run gives, for the cost of the day's rows. The first
/// run on a store, and the first under new rules, look at everything ([`run_whole`]).
pub fn run(store: &mut Store, now: Timestamp) -> Result<ReconcileSummary, ReconcileError> {
    store.write(|tx| {
        let held = chargebacks(tx)?;
        if tx.reconcile_tracking()? != Some(RULES_VERSION)
            || tx.setting(CHARGEBACKS_SEEN)?.unwrap_or_default() != chargebacks_seen(&held)
        {
            return whole(tx, now);
        }
        let size = tx.walk_changed_scope(crate::sync::GATEWAY, scope_windows())?;
        let books = Books {
            invoices: tx.invoices_in_scope()?,
            ledger: tx.ledger_entries_in_scope()?,
            charges: tx.charges_in_scope()?,
            refunds: tx.refunds_in_scope()?,
            coverage: tx.charge_coverage()?,
            chargebacks: Vec::new(),
        };
        let books = with_adjustments(books, &tx.adjustments_in_scope()?, held);
        let mut reconciliation = reconcile(&books);
        with_bank_findings(tx, &mut reconciliation)?;
        // The bank's findings are reconciled whole on every run (a few payouts a month),
        // so each open one is the run's to clear.
        let mut clearable = tx.open_findings_in_scope()?;
        clearable.extend(tx.open_findings_of_kinds(&bank_kinds())?);
        clearable.sort_unstable();
        clearable.dedup();
        tx.replace_unsynced_payments(false, &reconciliation.not_yet_synced)?;
        let mut summary = queue::apply(tx, &reconciliation, Some(&clearable), now)?;
        summary.scope = RunScope::Changed(size);
        Ok(summary)
    })
}

/// Reconciles every row of the books (`reconcile --full`) and applies the findings in one
/// write transaction; from then on the store notes what changes for [`run`].
pub fn run_whole(store: &mut Store, now: Timestamp) -> Result<ReconcileSummary, ReconcileError> {
    store.write(|tx| whole(tx, now))
}

fn whole(tx: &StoreTx<'_>, now: Timestamp) -> Result<ReconcileSummary, ReconcileError> {
    let books = books_in(tx)?;
    let mut reconciliation = reconcile(&books);
    with_bank_findings(tx, &mut reconciliation)?;
    tx.replace_unsynced_payments(true, &reconciliation.not_yet_synced)?;
    let summary = queue::apply(tx, &reconciliation, None, now)?;
    tx.track_changes_from_here(RULES_VERSION)?;
    // All of them, as `run` compares: the books keep only those whose charge is stored.
    tx.set_setting(CHARGEBACKS_SEEN, &chargebacks_seen(&chargebacks(tx)?))?;
    Ok(summary)
}

impl std::fmt::Display for ReconcileSummary {
    /// "Reconciled what changed (…): 3 new, 12 still open, 1 resolved. Open: 2 double_charge, …"
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.scope {
            RunScope::Whole => write!(f, "Reconciled every row")?,
            RunScope::Changed(size) => write!(
                f,
                "Reconciled what changed ({} invoices, {} ledger entries, {} charges looked at)",
                size.invoices, size.ledger_entries, size.charges
            )?,
        }
        write!(
            f,
            ": {} new, {} still open, {} resolved",
            self.new, self.still_open, self.resolved
        )?;
        if self.reopened > 0 {
            write!(f, ", {} reopened (the data regressed)", self.reopened)?;
        }
        let open: Vec<String> = self
            .open_by_kind
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        if open.is_empty() {
            write!(f, ". Nothing is open.")?;
        } else {
            write!(f, ". Open: {}.", open.join(", "))?;
        }
        if self.not_yet_synced > 0 {
            write!(
                f,
                " {} ledger payment(s) are not yet synced: their date is outside what the gateway data covers.",
                self.not_yet_synced
            )?;
        }
        Ok(())
    }
}
