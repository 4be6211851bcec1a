//! `expand[]`: which fields of which objects Stripe lets a client expand, and expanding
//! them. A path such as `data.latest_charge.balance_transaction` walks lists (`data`) and
//! expandable fields; a field Stripe does not expand is a 400 naming the path, as at
//! Stripe, never a silent success. A charge's `refunds` list is one of those fields: since
//! API version 2022-11-15 Stripe sends it only when expanded.
//!
//! This module reads state and never writes it.

use rusqlite::Transaction;
use serde_json::{Value, json};

use super::disputes;
use super::state::{self, Column, Kind};
use super::wire::{ApiError, list_envelope};

/// The fields of an object (by its `object` value) that `expand[]` may name, after the
/// OpenAPI spec's `x-expandableFields`; a nested one is written with a dot.
fn expandable(object: &str) -> &'static [&'static str] {
    match object {
        "charge" => &[
            "application",
            "application_fee",
            "balance_transaction",
            "customer",
            "failure_balance_transaction",
            "invoice",
            "on_behalf_of",
            "payment_intent",
            "refunds",
            "review",
            "source_transfer",
            "transfer",
        ],
        "payment_intent" => &[
            "application",
            "customer",
            "invoice",
            "latest_charge",
            "on_behalf_of",
            "payment_method",
            "review",
        ],
        "refund" => &[
            "balance_transaction",
            "charge",
            "failure_balance_transaction",
            "payment_intent",
            "source_transfer_reversal",
            "transfer_reversal",
        ],
        "customer" => &[
            "default_source",
            "invoice_settings.default_payment_method",
            "test_clock",
        ],
        "payment_method" => &["customer"],
        "balance_transaction" => &["source"],
        "dispute" => &[
            "balance_transactions",
            "charge",
            "evidence",
            "evidence_details",
            "payment_intent",
            "payment_method_details",
        ],
        "payout" => &[
            "application_fee",
            "balance_transaction",
            "destination",
            "failure_balance_transaction",
            "original_payout",
            "reversed_by",
        ],
        _ => &[],
    }
}

/// Replaces the id strings named by `expand[]` paths (`latest_charge`, `data.customer`,
/// `payment_intent.latest_charge`) with the objects they name.
pub fn expand(tx: &Transaction<'_>, body: &mut Value, paths: &[String]) -> Result<(), ApiError> {
    for path in paths {
        let parts: Vec<&str> = path.split('.').collect();
        expand_path(tx, body, &parts, 0)?;
    }
    disputes::embed_transactions(tx, body)
}

/// Stripe's refusal: no code and no param, the path up to the segment that failed, and on
/// a list the path the client probably meant.
fn refused(parts: &[&str], failed_at: usize, in_list: bool) -> ApiError {
    let path = parts[..=failed_at.min(parts.len() - 1)].join(".");
    let mut message = format!("This property cannot be expanded ({path}).");
    if in_list {
        message.push_str(&format!(
            " You may want to try expanding 'data.{path}' instead."
        ));
    }
    ApiError::invalid_request(message)
}

/// Expands `parts[at..]` inside `value`, which `parts[..at]` led to.
fn expand_path(
    tx: &Transaction<'_>,
    value: &mut Value,
    parts: &[&str],
    at: usize,
) -> Result<(), ApiError> {
    if at >= parts.len() || value.is_null() {
        return Ok(());
    }
    let rest = &parts[at..];
    let object = value["object"].as_str().unwrap_or("").to_string();
    if matches!(object.as_str(), "list" | "search_result") {
        let (Some(&"data"), Some(items)) = (
            rest.first(),
            value.get_mut("data").and_then(Value::as_array_mut),
        ) else {
            return Err(refused(parts, at, at == 0));
        };
        for item in items {
            expand_path(tx, item, parts, at + 1)?;
        }
        return Ok(());
    }
    let Some(field) = expandable(&object).iter().find_map(|field| {
        let segments: Vec<&str> = field.split('.').collect();
        rest.starts_with(&segments).then_some(segments)
    }) else {
        return Err(refused(parts, at, false));
    };
    if object == "charge" && field == ["refunds"] {
        let id = value["id"].as_str().unwrap_or("").to_string();
        value["refunds"] = refunds_of(tx, &id)?;
    }
    let mut slot = &mut *value;
    for segment in &field {
        slot = match slot.get_mut(*segment) {
            Some(inner) => inner,
            // An expandable field the object does not carry (a feature the sandbox does
            // not model) expands to what Stripe sends when it is unset.
            None => return Ok(()),
        };
    }
    if let Some(id) = slot.as_str().map(str::to_string)
        && let Some(stored) = state::get(tx, &id)?
    {
        *slot = stored.body;
    }
    expand_path(tx, slot, parts, at + field.len())
}

/// A charge's refunds, newest first, as the list Stripe expands `refunds` into.
fn refunds_of(tx: &Transaction<'_>, charge: &str) -> Result<Value, ApiError> {
    let refunds = state::related(tx, Kind::Refund, Column::Charge, charge)?;
    let count = refunds.len();
    let data: Vec<Value> = refunds.into_iter().rev().map(|r| r.body).collect();
    let mut list = list_envelope(&format!("/v1/charges/{charge}/refunds"), data, false);
    list["total_count"] = json!(count);
    Ok(list)
}
