//! Stripe's JSON objects, exactly as the API sends them, and their one conversion into the
//! core's records.
//!
//! These types follow Stripe's field names and optionality (an expandable field is an id
//! or an object; metadata values are strings; amounts are integers in minor units with a
//! lower-case currency). Nothing outside `gateway::stripe` should hold them: callers get
//! `records::Charge` and `records::GatewayRefund` from [`charge_record`] and
//! [`refund_record`], the only place where Stripe's shape meets ours.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use super::error::StripeError;
use crate::money::{Currency, Money};
use crate::records::{self, ChargeStatus, RefundStatus};

/// A page of a list endpoint (`GET /v1/charges`, …), newest first.
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    #[serde(default)]
    pub url: Option<String>,
}

/// A page of a search endpoint (`GET /v1/charges/search`); `next_page` is the cursor.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchResult<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    #[serde(default)]
    pub next_page: Option<String>,
}

/// An expandable field: an id, or the object itself when the request expanded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }
    }
}

/// A balance transaction, as far as a charge's fee goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BalanceTransactionRef {
    Object { fee: i64 },
    Id(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BillingDetails {
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    pub status: String,
    #[serde(default)]
    pub captured: bool,
    pub created: i64,
    #[serde(default)]
    pub customer: Option<Expandable>,
    #[serde(default)]
    pub billing_details: Option<BillingDetails>,
    #[serde(default)]
    pub receipt_email: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
    /// Stripe Billing's invoice the charge pays (API versions before 2025-03-31 send it on
    /// the charge; later ones leave it out).
    #[serde(default)]
    pub invoice: Option<Expandable>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub balance_transaction: Option<BalanceTransactionRef>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub refunded: bool,
    #[serde(default)]
    pub failure_code: Option<String>,
    #[serde(default)]
    pub livemode: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub charge: Option<Expandable>,
    pub currency: String,
    #[serde(default)]
    pub status: Option<String>,
    pub created: i64,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A payout (`GET /v1/payouts`).
#[derive(Debug, Clone, Deserialize)]
pub struct Payout {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub created: i64,
    pub arrival_date: i64,
    #[serde(default)]
    pub automatic: bool,
    #[serde(default)]
    pub failure_code: Option<String>,
}

/// The account's balance (`GET /v1/balance`): per currency, what is available and what
/// is pending; together, the net of every balance transaction so far.
#[derive(Debug, Clone, Deserialize)]
pub struct Balance {
    #[serde(default)]
    pub available: Vec<BalanceAmount>,
    #[serde(default)]
    pub pending: Vec<BalanceAmount>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BalanceAmount {
    pub amount: i64,
    pub currency: String,
}

/// What the balance holds per currency, available and pending added up.
pub fn balance_by_currency(balance: &Balance) -> Result<BTreeMap<Currency, i64>, StripeError> {
    let mut held = BTreeMap::new();
    for part in balance.available.iter().chain(&balance.pending) {
        let cur = currency("balance", &part.currency)?;
        let sum: &mut i64 = held.entry(cur).or_default();
        *sum = sum
            .checked_add(part.amount)
            .ok_or_else(|| unreadable("balance", format!("{} overflows", part.amount)))?;
    }
    Ok(held)
}

/// A balance transaction (`GET /v1/balance_transactions`).
#[derive(Debug, Clone, Deserialize)]
pub struct BalanceTransaction {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
    pub currency: String,
    pub created: i64,
    pub available_on: i64,
    #[serde(default)]
    pub source: Option<Expandable>,
}

/// A dispute (`GET /v1/disputes`): Stripe always sends its balance transactions whole.
#[derive(Debug, Clone, Deserialize)]
pub struct Dispute {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub created: i64,
    pub charge: Expandable,
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub evidence_details: Option<DisputeEvidenceDetails>,
    #[serde(default)]
    pub balance_transactions: Vec<BalanceTransaction>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DisputeEvidenceDetails {
    /// 0 where the bank allows no response.
    #[serde(default)]
    pub due_by: Option<i64>,
}

/// A dispute as a sync stores it: the dispute, and what it moved in the gateway's balance
/// (its withdrawal and, once won, its reversal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeMoves {
    pub dispute: records::Dispute,
    pub transactions: Vec<records::BalanceTransaction>,
}

/// Stripe's dispute status. Stripe lets the list grow without a new API version (its
/// spec marks it `x-stripeBypassValidation`), so a status not known here is read as the
/// closest one that keeps money safe rather than stopping every sync: an inquiry's
/// (`warning_…`) as an inquiry under review, any other as a chargeback under review, which
/// holds the charge's money (no refund of it is sent, the ledger is asked to catch up).
fn dispute_status(text: &str) -> records::DisputeStatus {
    records::DisputeStatus::parse_or_closest(text)
}

pub fn dispute_record(d: &Dispute) -> Result<DisputeMoves, StripeError> {
    let cur = currency(&d.id, &d.currency)?;
    let status = dispute_status(&d.status);
    if d.amount < 0 {
        return Err(unreadable(&d.id, format!("negative amount {}", d.amount)));
    }
    let evidence_due_by = match d.evidence_details.as_ref().and_then(|e| e.due_by) {
        None | Some(0) => None,
        Some(at) => Some(instant(&d.id, at)?),
    };
    let transactions = d
        .balance_transactions
        .iter()
        .map(balance_transaction_record)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DisputeMoves {
        dispute: records::Dispute {
            id: d.id.clone(),
            charge_id: d.charge.id().to_string(),
            payment_intent: d.payment_intent.as_ref().map(|p| p.id().to_string()),
            amount: Money::from_minor(d.amount, cur),
            status,
            reason: d.reason.clone().unwrap_or_default(),
            created: instant(&d.id, d.created)?,
            evidence_due_by,
        },
        transactions,
    })
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub created: i64,
    #[serde(default)]
    pub customer: Option<Expandable>,
    #[serde(default)]
    pub payment_method: Option<Expandable>,
    #[serde(default)]
    pub latest_charge: Option<Expandable>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub last_payment_error: Option<ErrorObject>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceSettings {
    #[serde(default)]
    pub default_payment_method: Option<Expandable>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub invoice_settings: Option<InvoiceSettings>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Card {
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
    #[serde(default)]
    pub exp_month: Option<u8>,
    #[serde(default)]
    pub exp_year: Option<u16>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub card: Option<Card>,
    #[serde(default)]
    pub customer: Option<Expandable>,
    #[serde(default)]
    pub created: Option<i64>,
}

/// The body of every Stripe error answer: `{"error": {...}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorObject,
}

/// Stripe's error object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorObject {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
    /// The declined charge's id, on card errors.
    #[serde(default)]
    pub charge: Option<String>,
    /// The payment intent a card error happened on (an object in Stripe's answer).
    #[serde(default)]
    pub payment_intent: Option<Expandable>,
}

fn unreadable(id: &str, detail: impl Into<String>) -> StripeError {
    StripeError::Unreadable {
        what: id.to_string(),
        detail: detail.into(),
    }
}

fn currency(id: &str, code: &str) -> Result<Currency, StripeError> {
    Currency::from_code(code).map_err(|e| unreadable(id, e.to_string()))
}

fn instant(id: &str, seconds: i64) -> Result<Timestamp, StripeError> {
    Timestamp::from_second(seconds).map_err(|e| unreadable(id, e.to_string()))
}

/// The key in a charge's metadata that names the invoice it pays (the same key the
/// dashboard export shows as `invoice_number (metadata)`).
pub const INVOICE_METADATA_KEY: &str = "invoice_number";

/// The core's record of a Stripe charge.
pub fn charge_record(c: &Charge) -> Result<records::Charge, StripeError> {
    let cur = currency(&c.id, &c.currency)?;
    let status = ChargeStatus::parse(&c.status)
        .ok_or_else(|| unreadable(&c.id, format!("unknown charge status {:?}", c.status)))?;
    if c.amount < 0 || c.amount_refunded < 0 || c.amount_refunded > c.amount {
        return Err(unreadable(
            &c.id,
            format!(
                "refunded {} of an amount of {}",
                c.amount_refunded, c.amount
            ),
        ));
    }
    let fee = match &c.balance_transaction {
        Some(BalanceTransactionRef::Object { fee }) => Some(Money::from_minor(*fee, cur)),
        _ => None,
    };
    let customer_email = c
        .billing_details
        .as_ref()
        .and_then(|b| b.email.clone())
        .or_else(|| c.receipt_email.clone())
        .filter(|e| !e.is_empty());
    Ok(records::Charge {
        id: c.id.clone(),
        amount: Money::from_minor(c.amount, cur),
        amount_refunded: Money::from_minor(c.amount_refunded, cur),
        status,
        captured: c.captured,
        created: instant(&c.id, c.created)?,
        customer: c.customer.as_ref().map(|x| x.id().to_string()),
        customer_email,
        payment_intent: c.payment_intent.as_ref().map(|x| x.id().to_string()),
        invoice_ref: c
            .metadata
            .get(INVOICE_METADATA_KEY)
            .filter(|v| !v.is_empty())
            .cloned(),
        gateway_invoice_id: c
            .invoice
            .as_ref()
            .map(|x| x.id().to_string())
            .filter(|id| !id.is_empty()),
        description: c.description.clone().filter(|d| !d.is_empty()),
        fee,
        metadata: c.metadata.clone(),
    })
}

/// The core's record of a Stripe refund. A refund not tied to a charge cannot be
/// reconciled and is refused.
pub fn refund_record(r: &Refund) -> Result<records::GatewayRefund, StripeError> {
    let cur = currency(&r.id, &r.currency)?;
    let charge_id = r
        .charge
        .as_ref()
        .map(|c| c.id().to_string())
        .ok_or_else(|| unreadable(&r.id, "the refund names no charge"))?;
    // Refunds created before Stripe reported a status were all immediate.
    let status = match r.status.as_deref() {
        None => RefundStatus::Succeeded,
        Some(s) => RefundStatus::parse(s)
            .ok_or_else(|| unreadable(&r.id, format!("unknown refund status {s:?}")))?,
    };
    if r.amount < 0 {
        return Err(unreadable(&r.id, format!("negative amount {}", r.amount)));
    }
    Ok(records::GatewayRefund {
        id: r.id.clone(),
        charge_id,
        amount: Money::from_minor(r.amount, cur),
        status,
        created: instant(&r.id, r.created)?,
        metadata: r.metadata.clone(),
    })
}

pub fn payout_record(p: &Payout) -> Result<records::Payout, StripeError> {
    let cur = currency(&p.id, &p.currency)?;
    let status = records::PayoutStatus::parse(&p.status)
        .ok_or_else(|| unreadable(&p.id, format!("unknown payout status {:?}", p.status)))?;
    Ok(records::Payout {
        id: p.id.clone(),
        amount: Money::from_minor(p.amount, cur),
        status,
        automatic: p.automatic,
        created: instant(&p.id, p.created)?,
        arrival_date: instant(&p.id, p.arrival_date)?,
        failure_code: p.failure_code.clone(),
    })
}

/// A balance transaction; `payout` is known only from listing a payout's transactions.
pub fn balance_transaction_record(
    t: &BalanceTransaction,
) -> Result<records::BalanceTransaction, StripeError> {
    let cur = currency(&t.id, &t.currency)?;
    if t.amount - t.fee != t.net {
        return Err(unreadable(
            &t.id,
            format!(
                "amount {} less fee {} is not its net {}",
                t.amount, t.fee, t.net
            ),
        ));
    }
    Ok(records::BalanceTransaction {
        id: t.id.clone(),
        kind: t.kind.clone(),
        amount: Money::from_minor(t.amount, cur),
        fee: Money::from_minor(t.fee, cur),
        net: Money::from_minor(t.net, cur),
        created: instant(&t.id, t.created)?,
        available_on: instant(&t.id, t.available_on)?,
        source: t.source.as_ref().map(|s| s.id().to_string()),
        payout: None,
    })
}

/// A payment intent as the journal settles a re-charge: typed status, no wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub status: IntentStatus,
    pub amount: Money,
    /// The charge it made last (the one a succeeded intent's money is on).
    pub latest_charge: Option<String>,
    pub created: Timestamp,
    pub metadata: BTreeMap<String, String>,
}

/// A payment intent's status, as Stripe names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl IntentStatus {
    const ALL: [(IntentStatus, &'static str); 7] = [
        (
            IntentStatus::RequiresPaymentMethod,
            "requires_payment_method",
        ),
        (IntentStatus::RequiresConfirmation, "requires_confirmation"),
        (IntentStatus::RequiresAction, "requires_action"),
        (IntentStatus::Processing, "processing"),
        (IntentStatus::RequiresCapture, "requires_capture"),
        (IntentStatus::Canceled, "canceled"),
        (IntentStatus::Succeeded, "succeeded"),
    ];

    pub fn parse(text: &str) -> Option<IntentStatus> {
        IntentStatus::ALL
            .iter()
            .find(|(_, name)| *name == text)
            .map(|(s, _)| *s)
    }

    pub fn as_str(self) -> &'static str {
        IntentStatus::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("unknown", |(_, name)| name)
    }

    /// Whether the customer's money moved (or is moving, as a bank debit does): the
    /// re-charge happened and must not happen again.
    pub fn moved_money(self) -> bool {
        matches!(self, IntentStatus::Succeeded | IntentStatus::Processing)
    }
}

/// The core's reading of a Stripe payment intent.
pub fn intent_record(pi: &PaymentIntent) -> Result<Intent, StripeError> {
    let cur = currency(&pi.id, &pi.currency)?;
    let status = IntentStatus::parse(&pi.status).ok_or_else(|| {
        unreadable(
            &pi.id,
            format!("unknown payment intent status {:?}", pi.status),
        )
    })?;
    Ok(Intent {
        id: pi.id.clone(),
        status,
        amount: Money::from_minor(pi.amount, cur),
        latest_charge: pi.latest_charge.as_ref().map(|c| c.id().to_string()),
        created: instant(&pi.id, pi.created)?,
        metadata: pi.metadata.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispute_status_stripe_adds_later_keeps_the_money_safe_instead_of_stopping_the_sync() {
        use records::DisputeStatus;
        assert_eq!(dispute_status("lost"), DisputeStatus::Lost);
        assert_eq!(
            dispute_status("warning_closed"),
            DisputeStatus::WarningClosed
        );
        assert_eq!(
            dispute_status("warning_escalating"),
            DisputeStatus::WarningUnderReview,
            "an inquiry moves no money"
        );
        let unknown = dispute_status("awaiting_network");
        assert_eq!(unknown, DisputeStatus::UnderReview);
        assert!(unknown.holds_the_money(), "no refund is sent on top of it");
    }

    // Trimmed from the Stripe API reference's example charge object.
    const CHARGE: &str = r#"{
      "id": "ch_3MmlLrLkdIwHu7ix0snN0B15",
      "object": "charge",
      "amount": 1099,
      "amount_captured": 1099,
      "amount_refunded": 250,
      "balance_transaction": "txn_3MmlLrLkdIwHu7ix0uke3Ezy",
      "billing_details": {"address": null, "email": "jenny@example.com", "name": null, "phone": null},
      "captured": true,
      "created": 1679090539,
      "currency": "jpy",
      "customer": "cus_NffrFeUfNV2Hib",
      "description": null,
      "failure_code": null,
      "livemode": false,
      "metadata": {"invoice_number": "INV-1042", "idempotency_key": "k1"},
      "paid": true,
      "payment_intent": {"id": "pi_3MmlLrLkdIwHu7ix0BCl1lWd", "object": "payment_intent"},
      "refunded": false,
      "status": "succeeded"
    }"#;

    #[test]
    fn a_charge_becomes_the_record_a_bookkeeper_sees() {
        let wire: Charge = serde_json::from_str(CHARGE).unwrap();
        let c = charge_record(&wire).unwrap();
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(c.id, "ch_3MmlLrLkdIwHu7ix0snN0B15");
        assert_eq!(c.amount, Money::from_minor(1099, jpy));
        assert_eq!(c.amount_refunded, Money::from_minor(250, jpy));
        assert_eq!(c.net_captured(), 849);
        assert_eq!(c.invoice_ref.as_deref(), Some("INV-1042"));
        assert_eq!(c.customer.as_deref(), Some("cus_NffrFeUfNV2Hib"));
        assert_eq!(c.customer_email.as_deref(), Some("jenny@example.com"));
        assert_eq!(
            c.payment_intent.as_deref(),
            Some("pi_3MmlLrLkdIwHu7ix0BCl1lWd")
        );
        assert_eq!(c.created.as_second(), 1679090539);
        assert_eq!(c.fee, None);
        assert_eq!(c.gateway_invoice_id, None, "today's API sends no invoice");
    }

    #[test]
    fn a_charge_of_an_older_api_version_names_its_billing_invoice() {
        for invoice in [
            r#""in_1MtHbELkdIwHu7ixl4OzzPMv""#,
            r#"{"id": "in_1MtHbELkdIwHu7ixl4OzzPMv", "object": "invoice"}"#,
        ] {
            let json = CHARGE.replacen(
                "\"paid\": true,",
                &format!("\"paid\": true, \"invoice\": {invoice},"),
                1,
            );
            let wire: Charge = serde_json::from_str(&json).unwrap();
            let c = charge_record(&wire).unwrap();
            assert_eq!(
                c.gateway_invoice_id.as_deref(),
                Some("in_1MtHbELkdIwHu7ixl4OzzPMv")
            );
        }
    }

    #[test]
    fn a_charge_refunded_beyond_its_amount_is_refused() {
        let mut wire: Charge = serde_json::from_str(CHARGE).unwrap();
        wire.amount_refunded = 2000;
        let err = charge_record(&wire).unwrap_err();
        assert!(
            err.to_string().contains("ch_3MmlLrLkdIwHu7ix0snN0B15"),
            "{err}"
        );
    }

    #[test]
    fn a_refund_names_its_charge() {
        let wire: Refund = serde_json::from_str(
            r#"{"id": "re_1Nispe2eZvKYlo2Cd31jOCgZ", "object": "refund", "amount": 1000,
                "charge": "ch_1NirD82eZvKYlo2CIvbtLWuY", "created": 1692942318,
                "currency": "usd", "metadata": {}, "payment_intent": "pi_1", "reason": null,
                "status": "succeeded"}"#,
        )
        .unwrap();
        let r = refund_record(&wire).unwrap();
        assert_eq!(r.charge_id, "ch_1NirD82eZvKYlo2CIvbtLWuY");
        assert_eq!(r.amount.minor(), 1000);
        assert_eq!(r.status, RefundStatus::Succeeded);
    }

    #[test]
    fn a_card_error_carries_its_decline_and_charge() {
        let e: ErrorEnvelope = serde_json::from_str(
            r#"{"error": {"type": "card_error", "code": "card_declined",
                "decline_code": "generic_decline", "message": "Your card was declined.",
                "charge": "ch_declined", "payment_intent": {"id": "pi_9", "object": "payment_intent"}}}"#,
        )
        .unwrap();
        assert_eq!(e.error.kind.as_deref(), Some("card_error"));
        assert_eq!(e.error.decline_code.as_deref(), Some("generic_decline"));
        assert_eq!(e.error.charge.as_deref(), Some("ch_declined"));
        assert_eq!(e.error.payment_intent.unwrap().id(), "pi_9");
    }
}
