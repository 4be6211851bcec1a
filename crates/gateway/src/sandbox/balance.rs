//! Stripe's balance in the sandbox: a balance transaction for every succeeded charge and
//! every refund, with fees from the pricing the sandbox was started with, and payouts that
//! sweep what the balance holds to the bank, each with its own balance transaction.
//!
//! A charge's transaction is `amount − fee` (`net`); a refund's is its amount taken away,
//! with no fee; a payout's takes away what it pays out. What an automatic payout paid out
//! is what `GET /v1/balance_transactions?payout=po_…` lists, the payout's own transaction
//! included, so the lines of a payout always add up to zero, as at Stripe.
//!
//! This module reads and writes the sandbox's state only; it never reads the clock.

use std::collections::BTreeMap;
use std::fmt;

use rusqlite::Transaction;
use serde_json::{Value, json};

use super::state::{self, Kind, StateError, Stored};
use super::wire::ApiError;

const DAY: i64 = 24 * 60 * 60;

/// What a charge costs: a percentage (in hundredths of a percent) plus a fixed amount in
/// the currency's minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fee {
    pub basis_points: i64,
    pub fixed_minor: i64,
}

impl Fee {
    /// The fee on `amount` minor units: the percentage rounded half up, plus the fixed part.
    pub fn on(self, amount: i64) -> i64 {
        (amount * self.basis_points + 5_000) / 10_000 + self.fixed_minor
    }
}

/// The fee of each currency, and of every other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    pub default: Fee,
    pub per_currency: BTreeMap<String, Fee>,
}

impl Default for Pricing {
    /// Stripe's standard US card pricing, 2.9% + 30 minor units, for every currency.
    fn default() -> Self {
        Pricing {
            default: Fee {
                basis_points: 290,
                fixed_minor: 30,
            },
            per_currency: BTreeMap::new(),
        }
    }
}

impl Pricing {
    pub fn fee(&self, currency: &str) -> Fee {
        self.per_currency
            .get(currency)
            .copied()
            .unwrap_or(self.default)
    }

    /// Reads `usd:2.9%+30,eur:1.5%+25,*:3%+0` (`*` for every other currency; minor units
    /// after the `+`).
    pub fn parse(text: &str) -> Result<Pricing, String> {
        let mut pricing = Pricing::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || {
                format!(
                    "cannot read the pricing {part:?}: write CURRENCY:PERCENT%+FIXED, e.g. usd:2.9%+30 (FIXED in minor units; * for every other currency)"
                )
            };
            let (currency, fee) = part.split_once(':').ok_or_else(bad)?;
            let (percent, fixed) = fee.split_once("%+").ok_or_else(bad)?;
            let percent: rust_decimal::Decimal = percent.trim().parse().map_err(|_| bad())?;
            let basis_points = (percent * rust_decimal::Decimal::from(100))
                .normalize()
                .to_string()
                .parse::<i64>()
                .map_err(|_| bad())?;
            let fixed_minor: i64 = fixed.trim().parse().map_err(|_| bad())?;
            if !(0..=10_000).contains(&basis_points) || fixed_minor < 0 {
                return Err(bad());
            }
            let fee = Fee {
                basis_points,
                fixed_minor,
            };
            match currency.trim().to_ascii_lowercase().as_str() {
                "*" => pricing.default = fee,
                code if code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase()) => {
                    pricing.per_currency.insert(code.to_string(), fee);
                }
                _ => return Err(bad()),
            }
        }
        Ok(pricing)
    }
}

impl fmt::Display for Pricing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let write = |f: &mut fmt::Formatter<'_>, code: &str, fee: Fee| {
            let percent = rust_decimal::Decimal::new(fee.basis_points, 2).normalize();
            write!(f, "{code}:{percent}%+{}", fee.fixed_minor)
        };
        for (code, fee) in &self.per_currency {
            write(f, code, *fee)?;
            f.write_str(",")?;
        }
        write(f, "*", self.default)
    }
}

/// Midnight UTC two days after `created`: when a card payment's funds become available.
fn available_on(created: i64) -> i64 {
    (created.div_euclid(DAY) + 2) * DAY
}

/// What a balance transaction is: Stripe's `type`, its `reporting_category`, and the words
/// on it and on its fee.
struct Entry<'a> {
    kind: &'a str,
    category: &'a str,
    amount: i64,
    fee: i64,
    description: Value,
    fee_description: &'a str,
}

impl<'a> Entry<'a> {
    /// A transaction whose type is its reporting category (charges, refunds, payouts).
    fn plain(source: &Value, kind: &'a str, amount: i64, fee: i64) -> Entry<'a> {
        Entry {
            kind,
            category: kind,
            amount,
            fee,
            description: source["description"].clone(),
            fee_description: "Stripe processing fees",
        }
    }
}

impl<'a> Entry<'a> {
    /// A payout's money coming back to the balance (`payout_failure`, `payout_cancel`):
    /// Stripe reports both under the `payout_reversal` category.
    fn reversal(source: &Value, kind: &'a str, amount: i64) -> Entry<'a> {
        Entry {
            category: "payout_reversal",
            ..Entry::plain(source, kind, amount, 0)
        }
    }
}

fn transaction_body(id: &str, source: &Value, entry: &Entry<'_>) -> Value {
    let currency = &source["currency"];
    let created = source["created"].as_i64().unwrap_or(0);
    let fee = entry.fee;
    let fee_details = if fee == 0 {
        json!([])
    } else {
        json!([{
            "amount": fee,
            "application": null,
            "currency": currency,
            "description": entry.fee_description,
            "type": "stripe_fee",
        }])
    };
    json!({
        "id": id,
        "object": "balance_transaction",
        "amount": entry.amount,
        "available_on": available_on(created),
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": entry.description,
        "exchange_rate": null,
        "fee": fee,
        "fee_details": fee_details,
        "net": entry.amount - fee,
        "reporting_category": entry.category,
        "source": source["id"],
        "status": "pending",
        "type": entry.kind,
    })
}

/// Records the balance transaction of a succeeded charge (its fee from the pricing) and
/// returns its id, for the charge's `balance_transaction`.
pub fn for_charge(tx: &Transaction<'_>, charge: &Value) -> Result<String, StateError> {
    let currency = charge["currency"].as_str().unwrap_or("usd");
    let amount = charge["amount_captured"].as_i64().unwrap_or(0);
    let fee = pricing(tx)?.fee(currency).on(amount).min(amount);
    insert(tx, charge, "charge", amount, fee)
}

/// Records the balance transaction of a refund (its amount taken away, no fee).
pub fn for_refund(tx: &Transaction<'_>, refund: &Value) -> Result<String, StateError> {
    let amount = refund["amount"].as_i64().unwrap_or(0);
    insert(tx, refund, "refund", -amount, 0)
}

fn insert(
    tx: &Transaction<'_>,
    source: &Value,
    kind: &str,
    amount: i64,
    fee: i64,
) -> Result<String, StateError> {
    insert_entry(tx, source, &Entry::plain(source, kind, amount, fee))
}

fn insert_entry(
    tx: &Transaction<'_>,
    source: &Value,
    entry: &Entry<'_>,
) -> Result<String, StateError> {
    let id = state::next_id(tx, Kind::BalanceTransaction)?;
    let body = transaction_body(&id, source, entry);
    state::insert(tx, Kind::BalanceTransaction, &body, None)?;
    Ok(id)
}

/// What a dispute does to the balance.
pub enum DisputeMove<'a> {
    /// A chargeback opens: the disputed amount and the dispute fee are taken.
    Withdrawal {
        amount: i64,
        fee: i64,
        charge: &'a str,
    },
    /// The chargeback is won: the amount comes back; the fee is kept.
    Reversal { amount: i64, charge: &'a str },
}

/// Records a dispute's balance transaction (Stripe's type `adjustment`, sourced from the
/// dispute) and returns its id.
pub fn for_dispute(
    tx: &Transaction<'_>,
    dispute: &Value,
    movement: DisputeMove<'_>,
    at: i64,
) -> Result<String, StateError> {
    let entry = match movement {
        DisputeMove::Withdrawal {
            amount,
            fee,
            charge,
        } => Entry {
            kind: "adjustment",
            category: "dispute",
            amount: -amount,
            fee,
            description: json!(format!("Chargeback withdrawal for {charge}")),
            fee_description: "Dispute fee",
        },
        DisputeMove::Reversal { amount, charge } => Entry {
            kind: "adjustment",
            category: "dispute_reversal",
            amount,
            fee: 0,
            description: json!(format!("Chargeback reversal for {charge}")),
            fee_description: "Dispute fee",
        },
    };
    // The transaction is dated when the dispute moved, not when it was opened.
    let mut source = dispute.clone();
    source["created"] = json!(at);
    insert_entry(tx, &source, &entry)
}

const PRICING_SETTING: &str = "pricing";

/// Keeps the pricing in the state file: the fees of every charge from now on.
pub fn set_pricing(tx: &Transaction<'_>, pricing: &Pricing) -> Result<(), StateError> {
    state::set_setting(tx, PRICING_SETTING, &pricing.to_string())?;
    Ok(())
}

fn pricing(tx: &Transaction<'_>) -> Result<Pricing, StateError> {
    match state::setting(tx, PRICING_SETTING)? {
        Some(text) => Pricing::parse(&text).map_err(|detail| StateError::Corrupt {
            id: PRICING_SETTING.to_string(),
            detail,
        }),
        None => Ok(Pricing::default()),
    }
}

/// `GET /v1/balance`: per currency, what the balance holds available (funds whose
/// `available_on` has come, less what payouts took) and pending. Together they are the
/// net of every balance transaction.
pub fn body(tx: &Transaction<'_>, now: i64) -> Result<Value, StateError> {
    let mut available = Vec::new();
    let mut pending = Vec::new();
    for (currency, (ready, waiting)) in state::balance_at(tx, now)? {
        available
            .push(json!({"amount": ready, "currency": currency, "source_types": {"card": ready}}));
        pending.push(
            json!({"amount": waiting, "currency": currency, "source_types": {"card": waiting}}),
        );
    }
    Ok(json!({
        "object": "balance",
        "available": available,
        "livemode": false,
        "pending": pending,
    }))
}

/// How a scheduled payout run ends for each payout it makes (`POST /_sandbox/payouts`).
#[derive(Debug, Clone, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PayoutRun {
    /// `paid` (the default), `pending`, `in_transit` or `failed`.
    #[serde(default)]
    pub status: Option<String>,
    /// When the money reaches the bank; the next midnight UTC by default.
    #[serde(default)]
    pub arrival_date: Option<i64>,
}

/// Marks paid the payouts in transit whose arrival date has come, then pays out, per
/// currency, everything not yet paid out, as Stripe's automatic schedule does; returns the
/// payouts made (none for a currency whose balance is not positive).
pub fn run_payouts(
    tx: &Transaction<'_>,
    run: &PayoutRun,
    now: i64,
) -> Result<Vec<Value>, ApiError> {
    let status = run.status.as_deref().unwrap_or("paid");
    if !matches!(status, "paid" | "pending" | "in_transit" | "failed") {
        return Err(ApiError::invalid_param(
            "status",
            format!("A payout run cannot end {status}: use paid, pending, in_transit or failed."),
        ));
    }
    let arrival_date = run.arrival_date.unwrap_or((now.div_euclid(DAY) + 1) * DAY);
    // Payouts whose arrival date has come are paid, as the bank confirms them.
    for mut arrived in state::payouts_arrived(tx, now)? {
        arrived.body["status"] = json!("paid");
        state::update(tx, &arrived)?;
    }
    let mut by_currency: BTreeMap<String, Vec<Stored>> = BTreeMap::new();
    for stored in state::unpaid_out(tx)? {
        let currency = stored.body["currency"].as_str().unwrap_or("").to_string();
        by_currency.entry(currency).or_default().push(stored);
    }
    let mut payouts = Vec::new();
    for (currency, transactions) in by_currency {
        let amount: i64 = transactions
            .iter()
            .map(|t| t.body["net"].as_i64().unwrap_or(0))
            .sum();
        if amount <= 0 {
            continue;
        }
        let id = state::next_id(tx, Kind::Payout)?;
        let mut payout = payout_body(&id, amount, &currency, now, arrival_date, true, status);
        let own =
            json!({"id": id, "currency": currency, "created": now, "description": "STRIPE PAYOUT"});
        let own_id = insert(tx, &own, "payout", -amount, 0)?;
        payout["balance_transaction"] = json!(own_id);
        let mut paid: Vec<String> = transactions.iter().map(|t| t.id().to_string()).collect();
        paid.push(own_id);
        if status == "failed" {
            let back = insert_entry(tx, &own, &Entry::reversal(&own, "payout_failure", amount))?;
            payout["failure_balance_transaction"] = json!(back);
            payout["failure_code"] = json!("account_closed");
            payout["failure_message"] = json!("The bank account has been closed.");
        }
        state::insert(tx, Kind::Payout, &payout, None)?;
        state::mark_paid_out(tx, &paid, &id)?;
        payouts.push(payout);
    }
    Ok(payouts)
}

/// A payout in Stripe's shape.
pub fn payout_body(
    id: &str,
    amount: i64,
    currency: &str,
    created: i64,
    arrival_date: i64,
    automatic: bool,
    status: &str,
) -> Value {
    json!({
        "id": id,
        "object": "payout",
        "amount": amount,
        "application_fee": null,
        "application_fee_amount": null,
        "arrival_date": arrival_date,
        "automatic": automatic,
        "balance_transaction": null,
        "created": created,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": "ba_1SbxSandboxBank",
        "failure_balance_transaction": null,
        "failure_code": null,
        "failure_message": null,
        "livemode": false,
        "metadata": {},
        "method": "standard",
        "original_payout": null,
        "payout_method": null,
        "reconciliation_status": if automatic { "completed" } else { "not_applicable" },
        "reversed_by": null,
        "source_type": "card",
        "statement_descriptor": null,
        "status": status,
        "trace_id": null,
        "type": "bank_account",
    })
}

/// `POST /v1/payouts`: a manual payout of part of what the balance holds in a currency. It
/// is not tied to the transactions it came from (Stripe ties only automatic payouts); its
/// own transaction stays in the balance, so the next automatic run pays out only the rest.
pub fn create_payout(
    tx: &Transaction<'_>,
    amount: i64,
    currency: &str,
    description: Option<String>,
    metadata: Value,
    now: i64,
) -> Result<Value, ApiError> {
    let balance: i64 = state::unpaid_out(tx)?
        .iter()
        .filter(|t| t.body["currency"] == currency)
        .map(|t| t.body["net"].as_i64().unwrap_or(0))
        .sum();
    if amount > balance {
        return Err(ApiError::invalid_param(
            "amount",
            format!(
                "You have insufficient funds in your Stripe account for this transfer. Your {currency} balance is {balance} and this payout is {amount}."
            ),
        )
        .with("code", "balance_insufficient"));
    }
    let id = state::next_id(tx, Kind::Payout)?;
    let mut payout = payout_body(
        &id,
        amount,
        currency,
        now,
        (now.div_euclid(DAY) + 2) * DAY,
        false,
        "pending",
    );
    if let Some(description) = description {
        payout["description"] = json!(description);
    }
    payout["metadata"] = metadata;
    let own = json!({"id": id, "currency": currency, "created": now, "description": payout["description"]});
    payout["balance_transaction"] = json!(insert(tx, &own, "payout", -amount, 0)?);
    state::insert(tx, Kind::Payout, &payout, None)?;
    Ok(payout)
}

/// `POST /v1/payouts/:id/cancel`: a pending manual payout is called back and its money
/// returns to the balance at once (a `payout_cancel` transaction, the payout's
/// `failure_balance_transaction`). Stripe refuses to cancel an automatic payout or one
/// that is no longer pending.
pub fn cancel_payout(tx: &Transaction<'_>, payout: &mut Stored, now: i64) -> Result<(), ApiError> {
    let status = payout.body["status"].as_str().unwrap_or("").to_string();
    if payout.body["automatic"].as_bool() == Some(true) {
        return Err(ApiError::invalid_request(
            "Automatic payouts cannot be canceled; only a pending manual payout can be.",
        ));
    }
    if status != "pending" {
        return Err(ApiError::invalid_request(format!(
            "This payout is {status} and cannot be canceled; only a pending payout can be."
        )));
    }
    let amount = payout.body["amount"].as_i64().unwrap_or(0);
    let own = json!({
        "id": payout.id(),
        "currency": payout.body["currency"],
        "created": now,
        "description": payout.body["description"],
    });
    let back = insert_entry(tx, &own, &Entry::reversal(&own, "payout_cancel", amount))?;
    payout.body["failure_balance_transaction"] = json!(back);
    payout.body["status"] = json!("canceled");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_round_half_up_and_pricing_reads_back_what_it_writes() {
        let standard = Pricing::default().fee("usd");
        assert_eq!(standard.on(10_000), 320, "2.9% of 100.00 + 0.30");
        assert_eq!(standard.on(1_050), 60, "30.45 rounds to 30, + 30");
        assert_eq!(standard.on(1_052), 61, "30.508 rounds to 31, + 30");
        let pricing = Pricing::parse("eur:1.5%+25, *:3.25%+0").unwrap();
        assert_eq!(pricing.fee("eur").on(2_000), 55);
        assert_eq!(pricing.fee("jpy").on(1_000), 33, "32.5 rounds up");
        assert_eq!(Pricing::parse(&pricing.to_string()).unwrap(), pricing);
        for bad in [
            "usd:2.9+30",
            "usd:2.9%+-1",
            "dollars:1%+0",
            "usd:101%+0",
            "usd",
        ] {
            assert!(Pricing::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn funds_are_available_two_midnights_later() {
        assert_eq!(available_on(DAY * 10 + 5), DAY * 12);
        assert_eq!(available_on(DAY * 10), DAY * 12);
    }
}
