//! Bulk seeding for demos and benchmarks (`POST /_sandbox/seed`): customers, charges (each
//! with its payment intent unless told otherwise) and refunds with explicit `created`
//! times, metadata and outcomes, in one transaction.
//!
//! Seeded objects have the same shape as objects made through the API, and refunds go
//! through the same rule as `POST /v1/refunds` (never more than what remains). Seeding
//! never bypasses the state module and never touches idempotency records.

use std::collections::{BTreeMap, HashMap};

use rusqlite::Transaction;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::api::{self, ChargeFacts, IntentFacts, RefundFacts};
use super::balance;
use super::cards::{Outcome, test_card};
use super::state::{self, Kind, Stored};
use super::wire::ApiError;
use crate::money::Currency;

/// The body of `POST /_sandbox/seed`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRequest {
    #[serde(default)]
    pub customers: Vec<SeedCustomer>,
    #[serde(default)]
    pub charges: Vec<SeedCharge>,
    #[serde(default)]
    pub refunds: Vec<SeedRefund>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCustomer {
    pub id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub created: Option<i64>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// A test token (`pm_card_visa`) to attach as the customer's payment method.
    pub payment_method: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCharge {
    pub id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub created: Option<i64>,
    /// `succeeded` (default) or `failed`.
    pub status: Option<String>,
    /// The test token deciding the card and, for failed charges, the decline
    /// (default `pm_card_visa`, or `pm_card_chargeDeclined` when `status` is `failed`).
    pub payment_method: Option<String>,
    pub customer: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Make a payment intent for the charge (default true).
    pub with_payment_intent: Option<bool>,
    /// Use this id for the payment intent; an existing one gets this charge as its latest
    /// attempt (a decline followed by a success on one intent).
    pub payment_intent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRefund {
    pub charge: String,
    /// Default: what remains refundable.
    pub amount: Option<i64>,
    pub created: Option<i64>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub reason: Option<String>,
}

/// The ids made, in the order given.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Seeded {
    pub customers: Vec<String>,
    pub payment_intents: Vec<String>,
    pub charges: Vec<String>,
    pub refunds: Vec<String>,
}

fn bad(what: String) -> ApiError {
    ApiError::invalid_request(format!("Cannot seed: {what}. Nothing was seeded."))
}

fn metadata(map: &BTreeMap<String, String>) -> Value {
    json!(map)
}

/// Makes everything in `request`, or nothing.
pub fn apply(tx: &Transaction<'_>, request: &SeedRequest, now: i64) -> Result<Seeded, ApiError> {
    let mut seeded = Seeded::default();
    let mut methods: HashMap<String, String> = HashMap::new();
    let taken = |tx: &Transaction<'_>, id: &str| -> Result<(), ApiError> {
        if state::get(tx, id)?.is_some() {
            return Err(bad(format!("the id {id} already exists")));
        }
        Ok(())
    };

    for (i, c) in request.customers.iter().enumerate() {
        let id = match &c.id {
            Some(id) => {
                taken(tx, id)?;
                id.clone()
            }
            None => state::next_id(tx, Kind::Customer)?,
        };
        let created = c.created.unwrap_or(now);
        let mut default_pm = None;
        if let Some(token) = &c.payment_method {
            let card = test_card(token).ok_or_else(|| {
                bad(format!(
                    "customers[{i}]: {token} is not a test payment method"
                ))
            })?;
            let pm = api::new_payment_method(tx, token, &card, Some(&id), created)?;
            default_pm = Some(pm.id().to_string());
        }
        let body = json!({
            "id": id,
            "object": "customer",
            "balance": 0,
            "created": created,
            "currency": null,
            "delinquent": false,
            "description": null,
            "email": c.email,
            "invoice_settings": {"default_payment_method": default_pm},
            "livemode": false,
            "metadata": metadata(&c.metadata),
            "name": c.name,
            "phone": null,
        });
        state::insert(tx, Kind::Customer, &body, None)?;
        seeded.customers.push(id);
    }

    let mut charge_ids = state::reserve_ids(
        tx,
        Kind::Charge,
        request.charges.iter().filter(|c| c.id.is_none()).count(),
    )?;
    let mut intent_ids = state::reserve_ids(
        tx,
        Kind::PaymentIntent,
        request
            .charges
            .iter()
            .filter(|c| c.with_payment_intent.unwrap_or(true) && c.payment_intent_id.is_none())
            .count(),
    )?;
    let exhausted = || ApiError::internal("Seeding ran out of reserved ids.");
    for (i, c) in request.charges.iter().enumerate() {
        let failed = match c.status.as_deref() {
            None | Some("succeeded") => false,
            Some("failed") => true,
            Some(other) => {
                return Err(bad(format!(
                    "charges[{i}]: status {other} is not succeeded or failed"
                )));
            }
        };
        let token = c.payment_method.clone().unwrap_or_else(|| {
            if failed {
                "pm_card_chargeDeclined"
            } else {
                "pm_card_visa"
            }
            .to_string()
        });
        let card = test_card(&token).ok_or_else(|| {
            bad(format!(
                "charges[{i}]: {token} is not a test payment method"
            ))
        })?;
        if failed != matches!(card.outcome, Outcome::Declines(_)) {
            return Err(bad(format!(
                "charges[{i}]: {token} does not end in status {}",
                if failed { "failed" } else { "succeeded" }
            )));
        }
        if c.amount < 1 {
            return Err(bad(format!("charges[{i}]: amount must be at least 1")));
        }
        let currency = Currency::from_code(&c.currency)
            .map_err(|e| bad(format!("charges[{i}]: {e}")))?
            .lower();
        let created = c.created.unwrap_or(now);
        let pm_id = match methods.get(&token) {
            Some(id) => id.clone(),
            None => {
                let pm = api::new_payment_method(tx, &token, &card, None, created)?;
                methods.insert(token.clone(), pm.id().to_string());
                pm.id().to_string()
            }
        };
        let charge_id = match &c.id {
            Some(id) => {
                taken(tx, id)?;
                id.clone()
            }
            None => charge_ids.next().ok_or_else(exhausted)?,
        };
        let mut existing_intent: Option<Stored> = None;
        let intent_id = if c.with_payment_intent.unwrap_or(true) || c.payment_intent_id.is_some() {
            match &c.payment_intent_id {
                Some(id) => {
                    existing_intent = state::get_kind(tx, Kind::PaymentIntent, id)?;
                    if existing_intent.is_none() {
                        taken(tx, id)?;
                    }
                    Some(id.clone())
                }
                None => Some(intent_ids.next().ok_or_else(exhausted)?),
            }
        } else {
            None
        };
        let meta = metadata(&c.metadata);
        if let Some(pi) = &intent_id {
            let status = if failed {
                "requires_payment_method"
            } else {
                "succeeded"
            };
            let last_error = match card.outcome {
                Outcome::Declines(d) => json!({
                    "type": "card_error", "code": d.code, "decline_code": d.decline_code,
                    "message": d.message, "charge": charge_id,
                }),
                Outcome::Succeeds => Value::Null,
            };
            match existing_intent.take() {
                Some(mut intent) => {
                    intent.body["status"] = json!(status);
                    intent.body["latest_charge"] = json!(charge_id);
                    intent.body["last_payment_error"] = last_error;
                    intent.body["amount_received"] = json!(if failed { 0 } else { c.amount });
                    state::update(tx, &intent)?;
                }
                None => {
                    let mut body = api::payment_intent_body(IntentFacts {
                        id: pi,
                        amount: c.amount,
                        currency: &currency,
                        created,
                        customer: c.customer.as_deref(),
                        description: c.description.as_deref(),
                        metadata: meta.clone(),
                        payment_method: (!failed).then_some(pm_id.as_str()),
                        status,
                    });
                    body["amount_received"] = json!(if failed { 0 } else { c.amount });
                    body["last_payment_error"] = last_error;
                    body["latest_charge"] = json!(charge_id);
                    state::insert(tx, Kind::PaymentIntent, &body, None)?;
                    seeded.payment_intents.push(pi.clone());
                }
            }
        }
        let mut body = api::charge_body(ChargeFacts {
            id: &charge_id,
            amount: c.amount,
            currency: &currency,
            created,
            customer: c.customer.as_deref(),
            payment_intent: intent_id.as_deref(),
            payment_method: Some(&pm_id),
            description: c.description.as_deref(),
            metadata: meta,
            receipt_email: None,
            card: &card,
        });
        if body["status"] == "succeeded" {
            body["balance_transaction"] = json!(balance::for_charge(tx, &body)?);
            if let Some(disputed) = card.dispute {
                super::disputes::open(tx, &mut body, disputed, created)?;
            }
        }
        state::insert(tx, Kind::Charge, &body, None)?;
        seeded.charges.push(charge_id);
    }

    for (i, r) in request.refunds.iter().enumerate() {
        let mut charge = state::get_kind(tx, Kind::Charge, &r.charge)?
            .ok_or_else(|| bad(format!("refunds[{i}]: no charge {}", r.charge)))?;
        let facts = RefundFacts {
            amount: r.amount,
            created: r.created.unwrap_or(now),
            metadata: metadata(&r.metadata),
            reason: r.reason.as_deref(),
        };
        match api::refund_charge(tx, &mut charge, facts)? {
            Ok(body) => seeded
                .refunds
                .push(body["id"].as_str().unwrap_or_default().to_string()),
            Err(refusal) => {
                let why = refusal.error["message"]
                    .as_str()
                    .unwrap_or("refused")
                    .to_string();
                return Err(bad(format!("refunds[{i}]: {why}")));
            }
        }
    }
    Ok(seeded)
}

/// Makes each of `rows` (of one `kind`) through `create`, the stand-in's own API rules,
/// answering each one's `id_field` in order. The first refusal ends the seed, naming the
/// row: the caller's transaction then rolls back, so no books are half seeded.
pub(crate) fn create_all(
    kind: &str,
    rows: &[Value],
    id_field: &str,
    create: impl Fn(&Value) -> Result<Value, String>,
) -> Result<Value, ApiError> {
    let mut ids = Vec::new();
    for row in rows {
        let made =
            create(row).map_err(|why| ApiError::invalid_request(format!("{kind} {row}: {why}")))?;
        ids.push(made[id_field].clone());
    }
    Ok(json!(ids))
}
