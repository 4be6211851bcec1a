//! Disputes in the sandbox, as Stripe's test mode makes them: a charge on one of the
//! dispute test cards is disputed the moment it succeeds; a chargeback takes the disputed
//! amount and a dispute fee from the balance (an `adjustment` balance transaction, reporting
//! category `dispute`); evidence moves it to review, and the magic evidence strings
//! `winning_evidence`, `losing_evidence` and `escalate_inquiry_evidence` decide it at once;
//! a win gives the amount back (a second `adjustment`, `dispute_reversal`) and keeps the fee.
//! Inquiries (`warning_*`) move no money until they escalate.
//!
//! Research with each claim's source: `docs/research/stripe-disputes.md`. Stripe decides a
//! dispute about five seconds after the evidence; the sandbox decides it in the same call, a
//! declared difference, so tests never wait.
//!
//! This module reads and writes the sandbox's state only; it never reads the clock.

use rusqlite::Transaction;
use serde_json::{Map, Value, json};

use super::balance;
use super::state::{self, Column, Kind, StateError, Stored};
use super::wire::{ApiError, Params};

const DAY: i64 = 24 * 60 * 60;

/// What a dispute test card's charge turns into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disputed {
    pub reason: &'static str,
    /// The card network's reason code, as Stripe's test mode reports it.
    pub network_reason_code: &'static str,
    /// An inquiry (`warning_needs_response`): no money moves until it escalates.
    pub inquiry: bool,
}

/// The fee Stripe takes for a chargeback, in the currency's minor units: 15.00 in US pricing.
/// It is kept when the dispute is won (Stripe's current model).
pub const DISPUTE_FEE_MINOR: i64 = 1_500;

/// The evidence fields Stripe accepts (2024-06-20); every one is text or a file id.
const EVIDENCE_FIELDS: &[&str] = &[
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
];

/// Statuses after which nothing but metadata changes.
fn closed(status: &str) -> bool {
    matches!(status, "won" | "lost" | "warning_closed")
}

/// A chargeback still open or lost: Stripe refuses to refund its charge.
fn blocks_refunds(status: &str) -> bool {
    matches!(status, "needs_response" | "under_review" | "lost")
}

/// Opens the dispute a test card asks for on a charge that just succeeded: marks the
/// charge disputed and, for a chargeback, takes the amount and the fee from the balance.
pub fn open(
    tx: &Transaction<'_>,
    charge: &mut Value,
    disputed: Disputed,
    now: i64,
) -> Result<(), ApiError> {
    let id = state::next_id(tx, Kind::Dispute)?;
    let empty_evidence: Map<String, Value> = EVIDENCE_FIELDS
        .iter()
        .map(|f| (f.to_string(), Value::Null))
        .collect();
    let mut dispute = json!({
        "id": id,
        "object": "dispute",
        "amount": charge["amount_captured"],
        "balance_transactions": [],
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": Value::Object(empty_evidence),
        "intended_submission_method": null,
        "evidence_details": {
            // The end of the UTC day eight days on, as Stripe's test mode sets it.
            "due_by": (now.div_euclid(DAY) + 9) * DAY - 1,
            "enhanced_eligibility": {},
            "has_evidence": false,
            "past_due": false,
            "submission_count": 0,
        },
        "is_charge_refundable": disputed.inquiry,
        "livemode": false,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": charge["payment_method_details"]["card"]["brand"],
                "case_type": if disputed.inquiry { "inquiry" } else { "chargeback" },
                "network": charge["payment_method_details"]["card"]["brand"],
                "network_reason_code": disputed.network_reason_code,
            },
            "type": "card",
        },
        "reason": disputed.reason,
        "status": if disputed.inquiry { "warning_needs_response" } else { "needs_response" },
    });
    dispute["evidence"]["enhanced_evidence"] = json!({});
    if !disputed.inquiry {
        withdraw(tx, &mut dispute, now)?;
    }
    charge["disputed"] = json!(true);
    state::insert(tx, Kind::Dispute, &dispute, None)?;
    Ok(())
}

/// The chargeback's withdrawal: the disputed amount and the dispute fee leave the balance.
fn withdraw(tx: &Transaction<'_>, dispute: &mut Value, now: i64) -> Result<(), ApiError> {
    let charge = dispute["charge"].as_str().unwrap_or("").to_string();
    let amount = dispute["amount"].as_i64().unwrap_or(0);
    let txn = balance::for_dispute(
        tx,
        dispute,
        balance::DisputeMove::Withdrawal {
            amount,
            fee: DISPUTE_FEE_MINOR,
            charge: &charge,
        },
        now,
    )?;
    push_transaction(dispute, txn);
    dispute["is_charge_refundable"] = json!(false);
    Ok(())
}

fn push_transaction(dispute: &mut Value, txn: String) {
    if let Some(list) = dispute["balance_transactions"].as_array_mut() {
        list.push(json!(txn));
    }
}

/// `POST /v1/disputes/:id`: stages or submits evidence and merges metadata.
pub fn update(
    tx: &Transaction<'_>,
    params: &Params,
    dispute: &mut Stored,
    now: i64,
) -> Result<(), ApiError> {
    params.allow_only(&[
        "evidence",
        "intended_submission_method",
        "metadata",
        "submit",
        "expand",
    ])?;
    if let Some(method) = params.get("intended_submission_method") {
        if !matches!(
            method,
            "manual" | "prefer_manual" | "prefer_smart_disputes" | "smart_disputes"
        ) {
            return Err(ApiError::invalid_param(
                "intended_submission_method",
                format!(
                    "Invalid intended_submission_method {method}: use manual, prefer_manual, prefer_smart_disputes or smart_disputes."
                ),
            ));
        }
        dispute.body["intended_submission_method"] = json!(method);
    }
    let evidence = params.hash("evidence");
    if let Some(unknown) = evidence
        .keys()
        .find(|k| !EVIDENCE_FIELDS.contains(&k.as_str()))
    {
        let param = format!("evidence[{unknown}]");
        return Err(ApiError::invalid_param(
            &param,
            format!("Received unknown parameter: {param}"),
        )
        .with("code", "parameter_unknown"));
    }
    let submit = params.boolean("submit")?.unwrap_or(true);
    let status = dispute.body["status"].as_str().unwrap_or("").to_string();
    let touches_evidence = !evidence.is_empty() || params.get("submit").is_some();
    if touches_evidence && closed(&status) {
        return Err(already_closed());
    }
    super::api::update_metadata(&mut dispute.body, params);
    if !touches_evidence {
        return Ok(());
    }
    for (field, value) in &evidence {
        dispute.body["evidence"][field] = if value.is_empty() {
            Value::Null
        } else {
            json!(value)
        };
    }
    let details = &mut dispute.body["evidence_details"];
    details["has_evidence"] = json!(true);
    if !submit {
        return Ok(());
    }
    let submissions = details["submission_count"].as_i64().unwrap_or(0);
    details["submission_count"] = json!(submissions + 1);
    let due_by = details["due_by"].as_i64().unwrap_or(i64::MAX);
    details["past_due"] = json!(now > due_by);
    let inquiry = status.starts_with("warning_");
    let magic = dispute.body["evidence"]["uncategorized_text"]
        .as_str()
        .unwrap_or("")
        .to_string();
    match (magic.as_str(), inquiry) {
        ("winning_evidence", false) => win(tx, dispute, now)?,
        ("winning_evidence", true) => set_status(dispute, "warning_closed"),
        ("losing_evidence", false) => set_status(dispute, "lost"),
        ("losing_evidence", true) => set_status(dispute, "warning_closed"),
        ("escalate_inquiry_evidence", true) => {
            set_status(dispute, "needs_response");
            dispute.body["payment_method_details"]["card"]["case_type"] = json!("chargeback");
            withdraw(tx, &mut dispute.body, now)?;
        }
        (_, true) => set_status(dispute, "warning_under_review"),
        (_, false) => set_status(dispute, "under_review"),
    }
    Ok(())
}

/// `POST /v1/disputes/:id/close`: the business accepts the chargeback; nothing comes back.
pub fn close(dispute: &mut Stored) -> Result<(), ApiError> {
    let status = dispute.body["status"].as_str().unwrap_or("").to_string();
    if closed(&status) {
        return Err(already_closed());
    }
    if status.starts_with("warning_") {
        set_status(dispute, "warning_closed");
    } else {
        set_status(dispute, "lost");
    }
    Ok(())
}

/// A won chargeback: the amount comes back (the fee does not), and the charge can be
/// refunded again.
fn win(tx: &Transaction<'_>, dispute: &mut Stored, now: i64) -> Result<(), ApiError> {
    let charge = dispute.body["charge"].as_str().unwrap_or("").to_string();
    let amount = dispute.body["amount"].as_i64().unwrap_or(0);
    let txn = balance::for_dispute(
        tx,
        &dispute.body,
        balance::DisputeMove::Reversal {
            amount,
            charge: &charge,
        },
        now,
    )?;
    push_transaction(&mut dispute.body, txn);
    set_status(dispute, "won");
    dispute.body["is_charge_refundable"] = json!(true);
    Ok(())
}

fn set_status(dispute: &mut Stored, status: &str) {
    dispute.body["status"] = json!(status);
}

/// Stripe's words for acting on a decided dispute: no code and no param.
fn already_closed() -> ApiError {
    ApiError::invalid_request("This dispute is already closed")
}

/// Stripe's refusal to refund a charge with an open or lost chargeback, or `None`.
pub fn refund_refusal(
    tx: &Transaction<'_>,
    charge_id: &str,
) -> Result<Option<ApiError>, StateError> {
    let disputes = state::related(tx, Kind::Dispute, Column::Charge, charge_id)?;
    Ok(disputes
        .iter()
        .any(|d| blocks_refunds(d.body["status"].as_str().unwrap_or("")))
        .then(|| {
            ApiError::invalid_param(
                "charge",
                format!("Charge {charge_id} has been charged back; cannot issue a refund."),
            )
            .with("code", "charge_disputed")
        }))
}

/// Replaces each dispute's `balance_transactions` ids with the transactions themselves, as
/// Stripe always sends them; the state keeps ids so a payout's later change shows.
pub fn embed_transactions(tx: &Transaction<'_>, value: &mut Value) -> Result<(), ApiError> {
    match value {
        Value::Array(items) => {
            for item in items {
                embed_transactions(tx, item)?;
            }
        }
        Value::Object(map) => {
            if map.get("object").and_then(Value::as_str) == Some("dispute")
                && let Some(Value::Array(list)) = map.get_mut("balance_transactions")
            {
                for slot in list.iter_mut() {
                    if let Some(id) = slot.as_str().map(str::to_string)
                        && let Some(stored) = state::get(tx, &id)?
                    {
                        *slot = stored.body;
                    }
                }
                return Ok(());
            }
            for inner in map.values_mut() {
                if inner.is_object() || inner.is_array() {
                    embed_transactions(tx, inner)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}
