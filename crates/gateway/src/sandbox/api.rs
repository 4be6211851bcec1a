//! The subset of Stripe's REST API the sandbox serves, and what each call does to state:
//! customers, payment methods, payment intents (confirming one makes a charge), charges,
//! refunds, balance transactions, payouts and disputes; lists, search and `expand[]`.
//!
//! Every call runs inside one SQLite transaction handed in by the server. A call returns
//! `Ok(answer)` when its effect (possibly a decline or a refused refund, which Stripe also
//! records) must commit and be remembered under the idempotency key; it returns `Err` for
//! a request that never started executing (bad parameters, unknown ids), which rolls back
//! and is not remembered — Stripe's own rule. This module never does I/O besides that
//! transaction and never reads the clock: `now` is passed in.

use axum::http::{Method, StatusCode};
use rusqlite::Transaction;
use serde_json::{Map, Value, json};

use super::balance;
use super::cards::{Outcome, TestCard, test_card};
use super::charge_amounts;
use super::disputes;
use super::expand::expand;
use super::search;
use super::state::{self, Column, Cursor, Kind, ListQuery, StateError, Stored};
use super::wire::{Answer, ApiError, Params, list_envelope};
use crate::money::Currency;

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        ApiError::internal(format!("The sandbox could not use its state file: {e}"))
    }
}

/// One API operation, decoded from method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    CreateCustomer,
    ListCustomers,
    GetCustomer(String),
    CustomerPaymentMethods(String),
    ListPaymentMethods,
    GetPaymentMethod(String),
    CreatePaymentIntent,
    ListPaymentIntents,
    SearchPaymentIntents,
    GetPaymentIntent(String),
    ConfirmPaymentIntent(String),
    ListCharges,
    SearchCharges,
    GetCharge(String),
    UpdateCharge(String),
    UpdatePaymentIntent(String),
    CreateRefund,
    ListRefunds,
    GetRefund(String),
    UpdateRefund(String),
    ListBalanceTransactions,
    GetBalanceTransaction(String),
    CreatePayout,
    ListPayouts,
    GetPayout(String),
    GetBalance,
    ListDisputes,
    GetDispute(String),
    UpdateDispute(String),
    CloseDispute(String),
    CancelPayout(String),
}

impl Route {
    pub fn parse(method: &Method, path: &str) -> Option<Route> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let get = method == Method::GET;
        let post = method == Method::POST;
        let id = |s: &str| s.to_string();
        Some(match segments.as_slice() {
            ["v1", "customers"] if post => Route::CreateCustomer,
            ["v1", "customers"] if get => Route::ListCustomers,
            ["v1", "customers", c] if get => Route::GetCustomer(id(c)),
            ["v1", "customers", c, "payment_methods"] if get => {
                Route::CustomerPaymentMethods(id(c))
            }
            ["v1", "payment_methods"] if get => Route::ListPaymentMethods,
            ["v1", "payment_methods", p] if get => Route::GetPaymentMethod(id(p)),
            ["v1", "payment_intents"] if post => Route::CreatePaymentIntent,
            ["v1", "payment_intents"] if get => Route::ListPaymentIntents,
            ["v1", "payment_intents", "search"] if get => Route::SearchPaymentIntents,
            ["v1", "payment_intents", p] if get => Route::GetPaymentIntent(id(p)),
            ["v1", "payment_intents", p] if post => Route::UpdatePaymentIntent(id(p)),
            ["v1", "payment_intents", p, "confirm"] if post => Route::ConfirmPaymentIntent(id(p)),
            ["v1", "charges"] if get => Route::ListCharges,
            ["v1", "charges", "search"] if get => Route::SearchCharges,
            ["v1", "charges", c] if get => Route::GetCharge(id(c)),
            ["v1", "charges", c] if post => Route::UpdateCharge(id(c)),
            ["v1", "refunds"] if post => Route::CreateRefund,
            ["v1", "refunds"] if get => Route::ListRefunds,
            ["v1", "refunds", r] if get => Route::GetRefund(id(r)),
            ["v1", "refunds", r] if post => Route::UpdateRefund(id(r)),
            ["v1", "balance_transactions"] if get => Route::ListBalanceTransactions,
            ["v1", "balance_transactions", t] if get => Route::GetBalanceTransaction(id(t)),
            ["v1", "payouts"] if post => Route::CreatePayout,
            ["v1", "payouts"] if get => Route::ListPayouts,
            ["v1", "payouts", p] if get => Route::GetPayout(id(p)),
            ["v1", "payouts", p, "cancel"] if post => Route::CancelPayout(id(p)),
            ["v1", "balance"] if get => Route::GetBalance,
            ["v1", "disputes"] if get => Route::ListDisputes,
            ["v1", "disputes", d] if get => Route::GetDispute(id(d)),
            ["v1", "disputes", d] if post => Route::UpdateDispute(id(d)),
            ["v1", "disputes", d, "close"] if post => Route::CloseDispute(id(d)),
            _ => return None,
        })
    }
}

/// Runs `route` in `tx`.
pub fn execute(
    tx: &Transaction<'_>,
    route: &Route,
    params: &Params,
    now: i64,
) -> Result<Answer, ApiError> {
    match route {
        Route::CreateCustomer => create_customer(tx, params, now),
        Route::ListCustomers => list(tx, params, Kind::Customer, "/v1/customers", vec![], &[]),
        Route::GetCustomer(id) => retrieve(tx, params, Kind::Customer, id),
        Route::CustomerPaymentMethods(id) => {
            must_exist(tx, Kind::Customer, id, "customer")?;
            let url = format!("/v1/customers/{id}/payment_methods");
            list(
                tx,
                params,
                Kind::PaymentMethod,
                &url,
                vec![(Column::Customer, id.clone())],
                &["type"],
            )
        }
        Route::ListPaymentMethods => {
            let equal = equal_to(params, &[("customer", Column::Customer)]);
            list(
                tx,
                params,
                Kind::PaymentMethod,
                "/v1/payment_methods",
                equal,
                &["customer", "type"],
            )
        }
        Route::GetPaymentMethod(id) => retrieve(tx, params, Kind::PaymentMethod, id),
        Route::CreatePaymentIntent => create_payment_intent(tx, params, now),
        Route::ConfirmPaymentIntent(id) => confirm_existing(tx, params, id, now),
        Route::ListPaymentIntents => {
            let equal = equal_to(params, &[("customer", Column::Customer)]);
            list(
                tx,
                params,
                Kind::PaymentIntent,
                "/v1/payment_intents",
                equal,
                &["customer"],
            )
        }
        Route::SearchPaymentIntents => search_objects(
            tx,
            params,
            Kind::PaymentIntent,
            "/v1/payment_intents/search",
        ),
        Route::GetPaymentIntent(id) => retrieve(tx, params, Kind::PaymentIntent, id),
        Route::ListCharges => {
            let equal = equal_to(
                params,
                &[
                    ("customer", Column::Customer),
                    ("payment_intent", Column::PaymentIntent),
                ],
            );
            list(
                tx,
                params,
                Kind::Charge,
                "/v1/charges",
                equal,
                &["customer", "payment_intent", "transfer_group"],
            )
        }
        Route::SearchCharges => search_objects(tx, params, Kind::Charge, "/v1/charges/search"),
        Route::GetCharge(id) => retrieve(tx, params, Kind::Charge, id),
        Route::CreateRefund => create_refund(tx, params, now),
        Route::ListRefunds => {
            let equal = equal_to(params, BY_CHARGE);
            list(
                tx,
                params,
                Kind::Refund,
                "/v1/refunds",
                equal,
                &["charge", "payment_intent"],
            )
        }
        Route::GetRefund(id) => retrieve(tx, params, Kind::Refund, id),
        Route::UpdateCharge(id) => update_charge(tx, params, id),
        Route::UpdatePaymentIntent(id) => update_payment_intent(tx, params, id, now),
        Route::UpdateRefund(id) => update_refund(tx, params, id),
        Route::ListBalanceTransactions => {
            let equal = equal_to(
                params,
                &[
                    ("payout", Column::Payout),
                    ("source", Column::Source),
                    ("type", Column::Type),
                    ("currency", Column::Currency),
                ],
            );
            if let Some(payout) = params.text("payout") {
                must_exist(tx, Kind::Payout, &payout, "payout")?;
            }
            list(
                tx,
                params,
                Kind::BalanceTransaction,
                "/v1/balance_transactions",
                equal,
                &["payout", "source", "type", "currency"],
            )
        }
        Route::GetBalanceTransaction(id) => retrieve(tx, params, Kind::BalanceTransaction, id),
        Route::CreatePayout => create_payout(tx, params, now),
        Route::ListPayouts => {
            let equal = equal_to(params, &[("status", Column::Status)]);
            list(
                tx,
                params,
                Kind::Payout,
                "/v1/payouts",
                equal,
                &["status", "arrival_date", "destination"],
            )
        }
        Route::GetPayout(id) => retrieve(tx, params, Kind::Payout, id),
        Route::CancelPayout(id) => {
            params.allow_only(&["expand"])?;
            let mut payout = must_exist(tx, Kind::Payout, id, "payout")?;
            balance::cancel_payout(tx, &mut payout, now)?;
            state::update(tx, &payout)?;
            answer_with_expand(tx, params, &payout)
        }
        Route::GetBalance => {
            params.allow_only(&["expand"])?;
            Ok(Answer::ok(balance::body(tx, now)?))
        }
        Route::ListDisputes => {
            let equal = equal_to(params, BY_CHARGE);
            list(
                tx,
                params,
                Kind::Dispute,
                "/v1/disputes",
                equal,
                &["charge", "payment_intent"],
            )
        }
        Route::GetDispute(id) => retrieve(tx, params, Kind::Dispute, id),
        Route::UpdateDispute(id) => {
            let mut dispute = must_exist(tx, Kind::Dispute, id, "dispute")?;
            disputes::update(tx, params, &mut dispute, now)?;
            state::update(tx, &dispute)?;
            answer_with_expand(tx, params, &dispute)
        }
        Route::CloseDispute(id) => {
            params.allow_only(&["expand"])?;
            let mut dispute = must_exist(tx, Kind::Dispute, id, "dispute")?;
            disputes::close(&mut dispute)?;
            state::update(tx, &dispute)?;
            answer_with_expand(tx, params, &dispute)
        }
    }
}

fn must_exist(tx: &Transaction<'_>, kind: Kind, id: &str, param: &str) -> Result<Stored, ApiError> {
    state::get_kind(tx, kind, id)?.ok_or_else(|| ApiError::no_such(kind.label(), id, param))
}

fn retrieve(
    tx: &Transaction<'_>,
    params: &Params,
    kind: Kind,
    id: &str,
) -> Result<Answer, ApiError> {
    params.allow_only(&["expand"])?;
    let stored = must_exist(tx, kind, id, "id")?;
    let mut body = stored.body;
    expand(tx, &mut body, &params.array("expand"))?;
    Ok(Answer::ok(body))
}

fn list(
    tx: &Transaction<'_>,
    params: &Params,
    kind: Kind,
    url: &str,
    equal: Vec<(Column, String)>,
    filters: &[&str],
) -> Result<Answer, ApiError> {
    let mut known = vec![
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "expand",
    ];
    known.extend_from_slice(filters);
    params.allow_only(&known)?;
    let limit = limit(params)?;
    let after = params.text("starting_after");
    let before = params.text("ending_before");
    let cursor = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_param(
                "ending_before",
                "You may only specify one of these parameters: starting_after, ending_before.",
            ));
        }
        (Some(id), None) => {
            let s = must_exist(tx, kind, &id, "starting_after")?;
            Cursor::After {
                created: s.created(),
                seq: s.seq,
            }
        }
        (None, Some(id)) => {
            let s = must_exist(tx, kind, &id, "ending_before")?;
            Cursor::Before {
                created: s.created(),
                seq: s.seq,
            }
        }
        (None, None) => Cursor::Start,
    };
    let query = ListQuery {
        kind,
        limit,
        cursor,
        created: params.created()?,
        equal,
        conditions: vec![],
    };
    let (objects, has_more) = state::page(tx, &query)?;
    let data: Vec<Value> = objects.into_iter().map(|o| o.body).collect();
    let mut body = list_envelope(url, data, has_more);
    expand(tx, &mut body, &params.array("expand"))?;
    Ok(Answer::ok(body))
}

/// Refunds and disputes are listed by their charge or payment intent.
const BY_CHARGE: &[(&str, Column)] = &[
    ("charge", Column::Charge),
    ("payment_intent", Column::PaymentIntent),
];

/// The list filters sent, each an equality on its column.
fn equal_to(params: &Params, filters: &[(&str, Column)]) -> Vec<(Column, String)> {
    filters
        .iter()
        .filter_map(|(param, column)| params.text(param).map(|value| (*column, value)))
        .collect()
}

fn limit(params: &Params) -> Result<i64, ApiError> {
    let limit = params.integer("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_param(
            "limit",
            format!("Invalid limit {limit}: it must be between 1 and 100."),
        ));
    }
    Ok(limit)
}

const PAGE_PREFIX: &str = "sbxpage_";

fn search_objects(
    tx: &Transaction<'_>,
    params: &Params,
    kind: Kind,
    url: &str,
) -> Result<Answer, ApiError> {
    params.allow_only(&["query", "limit", "page", "expand"])?;
    let query_text = params
        .text("query")
        .ok_or_else(|| ApiError::missing_param("query"))?;
    let conditions = search::compile(kind, &query_text)?;
    let cursor = match params.text("page") {
        None => Cursor::Start,
        Some(token) => {
            let bad = || ApiError::invalid_param("page", format!("Invalid page token: {token}"));
            let (created, seq) = token
                .strip_prefix(PAGE_PREFIX)
                .and_then(|t| t.split_once('_'))
                .ok_or_else(bad)?;
            Cursor::After {
                created: created.parse().map_err(|_| bad())?,
                seq: seq.parse().map_err(|_| bad())?,
            }
        }
    };
    let query = ListQuery {
        kind,
        limit: limit(params)?,
        cursor,
        created: Default::default(),
        equal: vec![],
        conditions,
    };
    let (objects, has_more) = state::page(tx, &query)?;
    let next_page = match objects.last() {
        Some(last) if has_more => json!(format!("{PAGE_PREFIX}{}_{}", last.created(), last.seq)),
        _ => Value::Null,
    };
    let data: Vec<Value> = objects.into_iter().map(|o| o.body).collect();
    let mut body = json!({
        "object": "search_result",
        "url": url,
        "has_more": has_more,
        "next_page": next_page,
        "data": data,
    });
    expand(tx, &mut body, &params.array("expand"))?;
    Ok(Answer::ok(body))
}

fn metadata(params: &Params) -> Value {
    Value::Object(
        params
            .hash("metadata")
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<Map<_, _>>(),
    )
}

fn currency(params: &Params) -> Result<String, ApiError> {
    let text = params
        .text("currency")
        .ok_or_else(|| ApiError::missing_param("currency"))?;
    Currency::from_code(&text)
        .map(|c| c.lower())
        .map_err(|_| ApiError::invalid_param("currency", format!("Invalid currency: {text}.")))
}

fn amount(params: &Params, required: bool) -> Result<Option<i64>, ApiError> {
    match params.integer("amount")? {
        None if required => Err(ApiError::missing_param("amount")),
        Some(a) if a < 1 => Err(ApiError::invalid_param(
            "amount",
            "Invalid positive integer: amount must be at least 1 (in the currency's minor unit).",
        )),
        other => Ok(other),
    }
}

/// A fresh payment method cloned from a test token, as Stripe does with `pm_card_visa`.
pub fn new_payment_method(
    tx: &Transaction<'_>,
    token: &str,
    card: &TestCard,
    customer: Option<&str>,
    now: i64,
) -> Result<Stored, ApiError> {
    let id = state::next_id(tx, Kind::PaymentMethod)?;
    let body = json!({
        "id": id,
        "object": "payment_method",
        "type": "card",
        "card": card.card_json(),
        "billing_details": {"address": null, "email": null, "name": null, "phone": null},
        "created": now,
        "customer": customer,
        "customer_account": null,
        "livemode": false,
        "metadata": {},
    });
    let seq = state::insert(tx, Kind::PaymentMethod, &body, Some(token))?;
    Ok(Stored {
        seq,
        kind: Kind::PaymentMethod,
        body,
        test_token: Some(token.to_string()),
    })
}

/// A payment method named by a test token (cloned) or by its id.
fn resolve_payment_method(
    tx: &Transaction<'_>,
    value: &str,
    customer: Option<&str>,
    now: i64,
) -> Result<(Stored, TestCard), ApiError> {
    if let Some(card) = test_card(value) {
        return Ok((new_payment_method(tx, value, &card, customer, now)?, card));
    }
    let stored = must_exist(tx, Kind::PaymentMethod, value, "payment_method")?;
    let card = stored
        .test_token
        .as_deref()
        .and_then(test_card)
        .ok_or_else(|| {
            ApiError::internal(format!(
                "The payment method {value} has lost its test card."
            ))
        })?;
    Ok((stored, card))
}

fn create_customer(tx: &Transaction<'_>, params: &Params, now: i64) -> Result<Answer, ApiError> {
    params.allow_only(&[
        "email",
        "name",
        "description",
        "phone",
        "metadata",
        "payment_method",
        "invoice_settings",
        "expand",
    ])?;
    let id = state::next_id(tx, Kind::Customer)?;
    let mut default_pm = params.text("invoice_settings[default_payment_method]");
    if let Some(pm) = params.text("payment_method") {
        let (mut stored, _) = resolve_payment_method(tx, &pm, Some(&id), now)?;
        if stored.body["customer"].is_null() {
            stored.body["customer"] = json!(id);
            state::update(tx, &stored)?;
        }
        if default_pm.as_deref() == Some(pm.as_str()) {
            default_pm = Some(stored.id().to_string());
        }
    }
    let body = json!({
        "id": id,
        "object": "customer",
        "balance": 0,
        "created": now,
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": params.text("description"),
        "email": params.text("email"),
        "invoice_settings": {"default_payment_method": default_pm},
        "livemode": false,
        "metadata": metadata(params),
        "name": params.text("name"),
        "phone": params.text("phone"),
        "shipping": null,
    });
    state::insert(tx, Kind::Customer, &body, None)?;
    Ok(Answer::ok(body))
}

const PAYMENT_INTENT_PARAMS: &[&str] = &[
    "amount",
    "currency",
    "customer",
    "payment_method",
    "payment_method_types",
    "confirm",
    "metadata",
    "description",
    "off_session",
    "capture_method",
    "confirmation_method",
    "receipt_email",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "setup_future_usage",
    "automatic_payment_methods",
    "error_on_requires_action",
    "return_url",
    "expand",
];

fn create_payment_intent(
    tx: &Transaction<'_>,
    params: &Params,
    now: i64,
) -> Result<Answer, ApiError> {
    params.allow_only(PAYMENT_INTENT_PARAMS)?;
    let amount = amount(params, true)?;
    let currency = currency(params)?;
    charge_amounts::check(amount.unwrap_or(0), &currency)?;
    let customer = params.text("customer");
    if let Some(c) = &customer {
        must_exist(tx, Kind::Customer, c, "customer")?;
    }
    let confirm = params.boolean("confirm")?.unwrap_or(false);
    let off_session = params.boolean("off_session")?.unwrap_or(false);
    if off_session && !confirm {
        return Err(ApiError::invalid_param(
            "off_session",
            "off_session can only be used with confirm=true.",
        ));
    }
    if params
        .text("capture_method")
        .is_some_and(|m| m != "automatic")
    {
        return Err(ApiError::invalid_param(
            "capture_method",
            "The sandbox captures automatically only; send capture_method=automatic or leave it out.",
        ));
    }
    let pm_param = params.text("payment_method");
    if confirm && pm_param.is_none() {
        return Err(ApiError::invalid_param(
            "payment_method",
            "You cannot confirm this PaymentIntent because it's missing a payment method. Send payment_method (e.g. pm_card_visa).",
        ));
    }
    let payment_method = pm_param
        .map(|pm| resolve_payment_method(tx, &pm, None, now))
        .transpose()?;
    let setup_future_usage = params.text("setup_future_usage");
    if let Some(usage) = &setup_future_usage
        && !matches!(usage.as_str(), "off_session" | "on_session")
    {
        return Err(ApiError::invalid_param(
            "setup_future_usage",
            format!("Invalid setup_future_usage {usage}: use off_session or on_session."),
        ));
    }
    let id = state::next_id(tx, Kind::PaymentIntent)?;
    let status = if payment_method.is_some() {
        "requires_confirmation"
    } else {
        "requires_payment_method"
    };
    let body = payment_intent_body(IntentFacts {
        id: &id,
        amount: amount.unwrap_or(0),
        currency: &currency,
        created: now,
        customer: customer.as_deref(),
        description: params.text("description").as_deref(),
        metadata: metadata(params),
        payment_method: payment_method.as_ref().map(|(pm, _)| pm.id()),
        status,
    });
    let mut body = body;
    body["receipt_email"] = json!(params.text("receipt_email"));
    body["setup_future_usage"] = json!(setup_future_usage);
    body["shipping"] = params.object("shipping").unwrap_or(Value::Null);
    body["statement_descriptor"] = json!(params.text("statement_descriptor"));
    body["statement_descriptor_suffix"] = json!(params.text("statement_descriptor_suffix"));
    let seq = state::insert(tx, Kind::PaymentIntent, &body, None)?;
    let mut intent = Stored {
        seq,
        kind: Kind::PaymentIntent,
        body,
        test_token: None,
    };
    match payment_method {
        Some((pm, card)) if confirm => confirm_intent(tx, params, &mut intent, &pm, &card, now),
        _ => answer_with_expand(tx, params, &intent),
    }
}

fn answer_with_expand(
    tx: &Transaction<'_>,
    params: &Params,
    stored: &Stored,
) -> Result<Answer, ApiError> {
    let mut body = stored.body.clone();
    expand(tx, &mut body, &params.array("expand"))?;
    Ok(Answer::ok(body))
}

fn confirm_existing(
    tx: &Transaction<'_>,
    params: &Params,
    id: &str,
    now: i64,
) -> Result<Answer, ApiError> {
    params.allow_only(&[
        "payment_method",
        "off_session",
        "return_url",
        "expand",
        "error_on_requires_action",
    ])?;
    let mut intent = must_exist(tx, Kind::PaymentIntent, id, "intent")?;
    let status = intent.body["status"].as_str().unwrap_or("");
    if !matches!(status, "requires_confirmation" | "requires_payment_method") {
        return Err(ApiError::invalid_request(format!(
            "This PaymentIntent's status is {status}, so it cannot be confirmed. Create a new PaymentIntent to charge again."
        ))
        .with("code", "payment_intent_unexpected_state"));
    }
    let pm_value = params
        .text("payment_method")
        .or_else(|| intent.body["payment_method"].as_str().map(str::to_string))
        .ok_or_else(|| ApiError::missing_param("payment_method"))?;
    let (pm, card) = resolve_payment_method(tx, &pm_value, None, now)?;
    intent.body["payment_method"] = json!(pm.id());
    confirm_intent(tx, params, &mut intent, &pm, &card, now)
}

/// Charges the card: a succeeded or failed charge is recorded either way, and the intent
/// moves to `succeeded` or back to `requires_payment_method` with `last_payment_error`.
fn confirm_intent(
    tx: &Transaction<'_>,
    params: &Params,
    intent: &mut Stored,
    pm: &Stored,
    card: &TestCard,
    now: i64,
) -> Result<Answer, ApiError> {
    let amount = intent.body["amount"].as_i64().unwrap_or(0);
    let charge_id = state::next_id(tx, Kind::Charge)?;
    let charge = charge_body(ChargeFacts {
        id: &charge_id,
        amount,
        currency: intent.body["currency"].as_str().unwrap_or("usd"),
        created: now,
        customer: intent.body["customer"].as_str(),
        payment_intent: Some(intent.id()),
        payment_method: Some(pm.id()),
        description: intent.body["description"].as_str(),
        metadata: intent.body["metadata"].clone(),
        receipt_email: intent.body["receipt_email"].as_str(),
        card,
    });
    let mut charge = charge;
    if matches!(card.outcome, Outcome::Succeeds) {
        charge["balance_transaction"] = json!(balance::for_charge(tx, &charge)?);
        if let Some(disputed) = card.dispute {
            disputes::open(tx, &mut charge, disputed, now)?;
        }
    }
    state::insert(tx, Kind::Charge, &charge, None)?;
    intent.body["latest_charge"] = json!(charge_id);
    match card.outcome {
        Outcome::Succeeds => {
            intent.body["status"] = json!("succeeded");
            intent.body["amount_received"] = json!(amount);
            intent.body["last_payment_error"] = Value::Null;
            state::update(tx, intent)?;
            answer_with_expand(tx, params, intent)
        }
        Outcome::Declines(d) => {
            let mut pm_json = pm.body.clone();
            pm_json["object"] = json!("payment_method");
            let mut error = json!({
                "type": "card_error",
                "code": d.code,
                "message": d.message,
                "charge": charge_id,
                "doc_url": format!("https://stripe.com/docs/error-codes/{}", d.code.replace('_', "-")),
                "payment_method": pm_json,
            });
            if let Some(dc) = d.decline_code {
                error["decline_code"] = json!(dc);
            }
            let mut last_error = error.clone();
            if let Some(obj) = last_error.as_object_mut() {
                obj.remove("doc_url");
            }
            intent.body["status"] = json!("requires_payment_method");
            intent.body["last_payment_error"] = last_error;
            intent.body["payment_method"] = Value::Null;
            state::update(tx, intent)?;
            error["payment_intent"] = intent.body.clone();
            Ok(Answer {
                status: StatusCode::PAYMENT_REQUIRED,
                body: json!({ "error": error }),
            })
        }
    }
}

/// What a new payment intent is made of; the fields a create request may also set
/// (receipt email, shipping, descriptors) start unset.
pub struct IntentFacts<'a> {
    pub id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub created: i64,
    pub customer: Option<&'a str>,
    pub description: Option<&'a str>,
    pub metadata: Value,
    pub payment_method: Option<&'a str>,
    pub status: &'a str,
}

/// A payment intent in Stripe's shape, before any charge.
pub fn payment_intent_body(f: IntentFacts<'_>) -> Value {
    json!({
        "id": f.id,
        "object": "payment_intent",
        "allowed_payment_method_types": null,
        "amount": f.amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": null,
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": "automatic",
        "client_secret": format!("{}_secret_sandbox", f.id),
        "confirmation_method": "automatic",
        "created": f.created,
        "currency": f.currency,
        "customer": f.customer,
        "customer_account": null,
        "description": f.description,
        "excluded_payment_method_types": null,
        "invoice": null,
        "last_payment_error": null,
        "latest_charge": null,
        "livemode": false,
        "managed_payments": null,
        "metadata": f.metadata,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": f.payment_method,
        "payment_method_configuration_details": null,
        "payment_method_options": {"card": {
            "installments": null,
            "mandate_options": null,
            "network": null,
            "request_three_d_secure": "automatic",
        }},
        "payment_method_types": ["card"],
        "payment_record": null,
        "processing": null,
        "receipt_email": null,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "source": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": f.status,
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// What a new charge is made of.
pub struct ChargeFacts<'a> {
    pub id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub created: i64,
    pub customer: Option<&'a str>,
    pub payment_intent: Option<&'a str>,
    pub payment_method: Option<&'a str>,
    pub description: Option<&'a str>,
    pub metadata: Value,
    pub receipt_email: Option<&'a str>,
    pub card: &'a TestCard,
}

/// A charge in Stripe's shape; its status follows the card's outcome.
pub fn charge_body(f: ChargeFacts<'_>) -> Value {
    let (succeeded, failure_code, failure_message) = match f.card.outcome {
        Outcome::Succeeds => (true, None, None),
        Outcome::Declines(d) => (false, Some(d.code), Some(d.message)),
    };
    json!({
        "id": f.id,
        "object": "charge",
        "amount": f.amount,
        "amount_captured": if succeeded { f.amount } else { 0 },
        "amount_refunded": 0,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": null,
        "billing_details": {"address": null, "email": null, "name": null, "phone": null},
        "calculated_statement_descriptor": "CHARGEGUARD SANDBOX",
        "captured": succeeded,
        "created": f.created,
        "currency": f.currency,
        "customer": f.customer,
        "description": f.description,
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "fraud_details": {},
        "invoice": null,
        "livemode": false,
        "metadata": f.metadata,
        "on_behalf_of": null,
        "outcome": f.card.outcome_json(),
        "paid": succeeded,
        "payment_intent": f.payment_intent,
        "payment_method": f.payment_method,
        "payment_method_details": {"type": "card", "card": f.card.card_json()},
        "receipt_email": f.receipt_email,
        "receipt_number": null,
        "receipt_url": null,
        "refunded": false,
        "review": null,
        "shipping": null,
        "source": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": if succeeded { "succeeded" } else { "failed" },
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// What a new refund is made of.
pub struct RefundFacts<'a> {
    pub amount: Option<i64>,
    pub created: i64,
    pub metadata: Value,
    pub reason: Option<&'a str>,
}

/// Refunds `amount` (or all that remains) of a charge, updating the charge in the same
/// transaction. The inner `Err` is Stripe's refusal; the caller decides whether it is stored.
pub fn refund_charge(
    tx: &Transaction<'_>,
    charge: &mut Stored,
    facts: RefundFacts<'_>,
) -> Result<Result<Value, ApiError>, StateError> {
    let charge_id = charge.id().to_string();
    if charge.body["status"] != "succeeded" {
        return Ok(Err(ApiError::invalid_param(
            "charge",
            format!("Charge {charge_id} did not succeed, so there is nothing to refund."),
        )));
    }
    if let Some(refusal) = disputes::refund_refusal(tx, &charge_id)? {
        return Ok(Err(refusal));
    }
    let captured = charge.body["amount_captured"].as_i64().unwrap_or(0);
    let refunded = charge.body["amount_refunded"].as_i64().unwrap_or(0);
    let remaining = captured - refunded;
    if remaining <= 0 {
        return Ok(Err(ApiError::invalid_request(format!(
            "Charge {charge_id} has already been refunded."
        ))
        .with("code", "charge_already_refunded")));
    }
    let amount = facts.amount.unwrap_or(remaining);
    if amount > remaining {
        return Ok(Err(ApiError::invalid_param(
            "amount",
            format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining}); refund at most {remaining}."
            ),
        )
        .with("code", "amount_too_large")));
    }
    let id = state::next_id(tx, Kind::Refund)?;
    let mut body = json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "application": null,
        "balance_transaction": null,
        "charge": charge_id,
        "created": facts.created,
        "currency": charge.body["currency"],
        "customer": charge.body["customer"],
        "customer_account": null,
        "destination_details": {"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"}, "type": "card"},
        "metadata": facts.metadata,
        "payment_intent": charge.body["payment_intent"],
        "payment_method": charge.body["payment_method"],
        "reason": facts.reason,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null,
    });
    body["balance_transaction"] = json!(balance::for_refund(tx, &body)?);
    state::insert(tx, Kind::Refund, &body, None)?;
    charge.body["amount_refunded"] = json!(refunded + amount);
    charge.body["refunded"] = json!(refunded + amount == captured);
    state::update(tx, charge)?;
    Ok(Ok(body))
}

fn create_refund(tx: &Transaction<'_>, params: &Params, now: i64) -> Result<Answer, ApiError> {
    params.allow_only(&[
        "charge",
        "payment_intent",
        "amount",
        "metadata",
        "reason",
        "expand",
        "instructions_email",
        "refund_application_fee",
        "reverse_transfer",
    ])?;
    let amount = amount(params, false)?;
    let reason = params.text("reason");
    if let Some(r) = &reason
        && !matches!(
            r.as_str(),
            "duplicate" | "fraudulent" | "requested_by_customer"
        )
    {
        return Err(ApiError::invalid_param(
            "reason",
            format!("Invalid reason {r}: use duplicate, fraudulent or requested_by_customer."),
        ));
    }
    let mut charge = match (params.text("charge"), params.text("payment_intent")) {
        (Some(c), _) => must_exist(tx, Kind::Charge, &c, "charge")?,
        (None, Some(p)) => {
            let intent = must_exist(tx, Kind::PaymentIntent, &p, "payment_intent")?;
            let latest = intent.body["latest_charge"]
                .as_str()
                .unwrap_or("")
                .to_string();
            match state::get_kind(tx, Kind::Charge, &latest)? {
                Some(c) if intent.body["status"] == "succeeded" => c,
                _ => {
                    return Err(ApiError::invalid_param(
                        "payment_intent",
                        format!("PaymentIntent {p} has no successful charge to refund."),
                    ));
                }
            }
        }
        (None, None) => {
            return Err(ApiError::invalid_request(
                "One of `charge` or `payment_intent` is required to create a refund.",
            ));
        }
    };
    let facts = RefundFacts {
        amount,
        created: now,
        metadata: metadata(params),
        reason: reason.as_deref(),
    };
    // A refusal here depends on the charge's state, not on the request's shape: Stripe
    // records it under the idempotency key like any executed request, so it is `Ok`.
    match refund_charge(tx, &mut charge, facts)? {
        Ok(body) => {
            let stored = must_exist(tx, Kind::Refund, body["id"].as_str().unwrap_or(""), "id")?;
            answer_with_expand(tx, params, &stored)
        }
        Err(refusal) => Ok(refusal.into_answer()),
    }
}

// ---------------------------------------------------------------- updates

/// Stripe's metadata update: keys sent are set, a key sent empty is removed, and
/// `metadata=` clears them all.
pub(super) fn update_metadata(body: &mut Value, params: &Params) {
    if params.get("metadata") == Some("") {
        body["metadata"] = json!({});
    }
    for (key, value) in params.hash("metadata") {
        let Some(metadata) = body["metadata"].as_object_mut() else {
            body["metadata"] = json!({});
            return update_metadata(body, params);
        };
        if value.is_empty() {
            metadata.remove(&key);
        } else {
            metadata.insert(key, Value::String(value));
        }
    }
}

/// Sets a text field from its parameter when sent; sent empty, the field is unset.
fn update_text(body: &mut Value, params: &Params, field: &str) {
    if let Some(value) = params.get(field) {
        body[field] = if value.is_empty() {
            Value::Null
        } else {
            json!(value)
        };
    }
}

/// Sets a hash field (`shipping`) from its parameter when sent.
fn update_object(body: &mut Value, params: &Params, field: &str) {
    if let Some(value) = params.object(field) {
        body[field] = value;
    }
}

/// `POST /v1/charges/:id`: what Stripe lets change on a charge after the fact.
fn update_charge(tx: &Transaction<'_>, params: &Params, id: &str) -> Result<Answer, ApiError> {
    params.allow_only(&[
        "customer",
        "description",
        "fraud_details",
        "metadata",
        "receipt_email",
        "shipping",
        "transfer_group",
        "expand",
    ])?;
    let mut charge = must_exist(tx, Kind::Charge, id, "id")?;
    if let Some(customer) = params.text("customer") {
        must_exist(tx, Kind::Customer, &customer, "customer")?;
        match charge.body["customer"].as_str() {
            Some(current) if current != customer => {
                return Err(ApiError::invalid_param(
                    "customer",
                    format!(
                        "Charge {id} already belongs to customer {current}; a charge's customer can only be set when it has none."
                    ),
                ));
            }
            _ => charge.body["customer"] = json!(customer),
        }
    }
    if let Some(report) = params.text("fraud_details[user_report]") {
        if !matches!(report.as_str(), "fraudulent" | "safe") {
            return Err(ApiError::invalid_param(
                "fraud_details[user_report]",
                format!("Invalid fraud_details[user_report] {report}: use fraudulent or safe."),
            ));
        }
        charge.body["fraud_details"]["user_report"] = json!(report);
    }
    if let Some(group) = params.text("transfer_group")
        && let Some(current) = charge.body["transfer_group"].as_str()
        && current != group
    {
        return Err(ApiError::invalid_param(
            "transfer_group",
            format!(
                "Charge {id} already has the transfer group {current}; it can only be set once."
            ),
        ));
    }
    for field in ["description", "receipt_email", "transfer_group"] {
        update_text(&mut charge.body, params, field);
    }
    update_object(&mut charge.body, params, "shipping");
    update_metadata(&mut charge.body, params);
    state::update(tx, &charge)?;
    answer_with_expand(tx, params, &charge)
}

/// What may change on a payment intent whatever its status; the rest only before it is
/// confirmed.
const ALWAYS_UPDATABLE: &[&str] = &[
    "description",
    "metadata",
    "receipt_email",
    "shipping",
    "expand",
];

/// `POST /v1/payment_intents/:id`.
fn update_payment_intent(
    tx: &Transaction<'_>,
    params: &Params,
    id: &str,
    now: i64,
) -> Result<Answer, ApiError> {
    params.allow_only(&[
        "amount",
        "currency",
        "customer",
        "description",
        "metadata",
        "payment_method",
        "payment_method_types",
        "receipt_email",
        "setup_future_usage",
        "shipping",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_group",
        "expand",
    ])?;
    let mut intent = must_exist(tx, Kind::PaymentIntent, id, "intent")?;
    let status = intent.body["status"].as_str().unwrap_or("").to_string();
    if !matches!(
        status.as_str(),
        "requires_payment_method" | "requires_confirmation" | "requires_action"
    ) && let Some(param) = params.names().find(|p| !ALWAYS_UPDATABLE.contains(p))
    {
        return Err(ApiError::invalid_param(
            param,
            format!(
                "This PaymentIntent's {param} could not be updated because it has a status of {status}. You may only update the {param} of a PaymentIntent with one of the following statuses: requires_payment_method, requires_confirmation, requires_action."
            ),
        )
        .with("code", "payment_intent_unexpected_state")
        .with("payment_intent", intent.body.clone()));
    }
    if params.get("currency").is_some() {
        intent.body["currency"] = json!(currency(params)?);
    }
    if let Some(amount) = amount(params, false)? {
        intent.body["amount"] = json!(amount);
    }
    let currency = intent.body["currency"]
        .as_str()
        .unwrap_or("usd")
        .to_string();
    let amount = intent.body["amount"].as_i64().unwrap_or(0);
    charge_amounts::check(amount, &currency)?;
    if let Some(customer) = params.text("customer") {
        must_exist(tx, Kind::Customer, &customer, "customer")?;
        intent.body["customer"] = json!(customer);
    }
    if let Some(pm) = params.text("payment_method") {
        let customer = intent.body["customer"].as_str().map(str::to_string);
        let (pm, _) = resolve_payment_method(tx, &pm, customer.as_deref(), now)?;
        intent.body["payment_method"] = json!(pm.id());
        intent.body["status"] = json!("requires_confirmation");
    }
    if let Some(usage) = params.get("setup_future_usage") {
        if !matches!(usage, "" | "off_session" | "on_session") {
            return Err(ApiError::invalid_param(
                "setup_future_usage",
                format!("Invalid setup_future_usage {usage}: use off_session or on_session."),
            ));
        }
        update_text(&mut intent.body, params, "setup_future_usage");
    }
    for field in [
        "description",
        "receipt_email",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_group",
    ] {
        update_text(&mut intent.body, params, field);
    }
    update_object(&mut intent.body, params, "shipping");
    update_metadata(&mut intent.body, params);
    state::update(tx, &intent)?;
    answer_with_expand(tx, params, &intent)
}

/// `POST /v1/refunds/:id`: only its metadata changes.
fn update_refund(tx: &Transaction<'_>, params: &Params, id: &str) -> Result<Answer, ApiError> {
    params.allow_only(&["metadata", "expand"])?;
    let mut refund = must_exist(tx, Kind::Refund, id, "id")?;
    update_metadata(&mut refund.body, params);
    state::update(tx, &refund)?;
    answer_with_expand(tx, params, &refund)
}

/// `POST /v1/payouts`: a manual payout from what the balance holds.
fn create_payout(tx: &Transaction<'_>, params: &Params, now: i64) -> Result<Answer, ApiError> {
    params.allow_only(&[
        "amount",
        "currency",
        "description",
        "metadata",
        "method",
        "statement_descriptor",
        "destination",
        "source_type",
        "expand",
    ])?;
    let amount = amount(params, true)?.unwrap_or(0);
    let currency = currency(params)?;
    if params.text("method").is_some_and(|m| m != "standard") {
        return Err(ApiError::invalid_param(
            "method",
            "The sandbox pays out by the standard method only; send method=standard or leave it out.",
        ));
    }
    let payout = balance::create_payout(
        tx,
        amount,
        &currency,
        params.text("description"),
        metadata(params),
        now,
    )?;
    let stored = must_exist(tx, Kind::Payout, payout["id"].as_str().unwrap_or(""), "id")?;
    answer_with_expand(tx, params, &stored)
}
