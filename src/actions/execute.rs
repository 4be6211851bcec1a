//! Executing an approved action, exactly once.
//!
//! The order never changes: recover anything undecided on the same target; run the guards
//! against the gateway (not only the store); build the request; write it — body, key,
//! `executing`, the audit entry — in one committed transaction; only then send it; then
//! settle the answer in one transaction: `succeeded` with its effects (adjustments, the
//! finding fixed, the gateway objects stored), `failed` on a definite "no", and `unknown`
//! on anything else. `unknown` is never guessed at here: recovery decides it.
//!
//! Named points on this path (`fail` crate failpoints, compiled in with the `failpoints`
//! feature) let the kill tests stop the process at each of them.

use serde::Serialize;
use serde_json::json;

use super::plan::{self, Plan};
use super::{ActionError, ActionState, recovery};
use crate::gateway::stripe::{
    NewPaymentIntent, NewRefund, PreparedCreate, StripeClient, StripeError, wire,
};
use crate::money::Money;
use crate::reconcile::{self, Books};
use crate::records::{ChargeStatus, InvoiceStatus, LedgerKind};
use crate::store::{ActionRow, Adjustment, AdjustmentKind, Resolution, SourceKind, Store, StoreTx};

/// How an execution ended.
#[derive(Debug, Clone, Serialize)]
pub struct Executed {
    pub action: ActionRow,
    /// Plain words: what happened and what to do next.
    pub message: String,
}

/// Executes action `id` through `client`. Calling it again for the same action (a double
/// click, a retry, a second window) never sends a second request with another key.
pub async fn execute(
    store: &mut Store,
    client: &StripeClient,
    id: i64,
    by: &str,
    now: jiff::Timestamp,
) -> Result<Executed, ActionError> {
    let action = store
        .read(|tx| tx.action(id))?
        .ok_or(ActionError::NotFound(id))?;
    // Anything undecided on the same invoice or charge is settled first.
    recovery::recover_target(
        store,
        client,
        action.invoice_number.as_deref(),
        action.charge_id.as_deref(),
        now,
    )
    .await?;
    let action = store
        .read(|tx| tx.action(id))?
        .ok_or(ActionError::NotFound(id))?;
    match action.state {
        ActionState::Approved => {}
        ActionState::Succeeded => {
            return Ok(Executed {
                message: format!("action {id} had already succeeded; nothing was sent again"),
                action,
            });
        }
        ActionState::Executing | ActionState::Unknown | ActionState::NeedsReview => {
            return Err(ActionError::AlreadyInProgress {
                target: format!("action {id}"),
                holder: Some(id),
            });
        }
        state => {
            return Err(ActionError::WrongState {
                id,
                state,
                wanted: "approved",
            });
        }
    }
    let plan: Plan = serde_json::from_str(&action.plan)
        .map_err(|e| ActionError::Refused(format!("action {id} has an unreadable plan: {e}")))?;

    if let Plan::LedgerFix { adjustment } = &plan {
        return ledger_fix(store, &action, adjustment, by, now);
    }

    let books = store.read(reconcile::books_in)?;
    let prepared = match guard(client, &books, &plan, &action.idempotency_key).await {
        Ok(prepared) => prepared,
        Err(Guarded::Refused(reason)) => {
            let action = store.write(|tx| {
                tx.move_action(
                    id,
                    ActionState::Approved,
                    ActionState::Cancelled,
                    now,
                    &[(
                        "outcome",
                        json!({ "guard_refused": reason }).to_string().into(),
                    )],
                )?;
                tx.append_audit(
                    now,
                    by,
                    "action_guard_refused",
                    &format!("action:{id}"),
                    &json!({ "reason": reason }),
                )?;
                tx.action(id)?.ok_or(ActionError::NotFound(id))
            })?;
            return Err(ActionError::Guard {
                id: action.id,
                reason,
            });
        }
        Err(Guarded::Gateway(e)) => return Err(ActionError::GatewayUnavailable(e)),
    };

    fail::fail_point!("execute.before_journal");
    store.write(|tx| {
        tx.move_action(
            id,
            ActionState::Approved,
            ActionState::Executing,
            now,
            &[
                ("request_method", "POST".to_string().into()),
                ("request_path", prepared.path.clone().into()),
                ("request_body", prepared.body.clone().into()),
                ("first_sent_at", now.as_second().into()),
                ("executor_pid", i64::from(std::process::id()).into()),
            ],
        )?;
        tx.append_audit(
            now,
            by,
            "action_executing",
            &format!("action:{id}"),
            &json!({ "key": action.idempotency_key, "path": prepared.path, "body": prepared.body }),
        )?;
        Ok::<_, ActionError>(())
    })?;
    fail::fail_point!("execute.after_journal");

    let answer = send(client, &plan, &prepared).await;
    fail::fail_point!("execute.after_answer");
    settle(store, id, &plan, answer, by, now)
}

/// What `execute` would send for action `id`, after the same guards, without sending or
/// writing anything: the request (path, body, key), or for a ledger fix the adjustment.
pub async fn dry_run(
    store: &mut Store,
    client: &StripeClient,
    id: i64,
) -> Result<serde_json::Value, ActionError> {
    let action = store
        .read(|tx| tx.action(id))?
        .ok_or(ActionError::NotFound(id))?;
    let plan: Plan = serde_json::from_str(&action.plan)
        .map_err(|e| ActionError::Refused(format!("action {id} has an unreadable plan: {e}")))?;
    if let Plan::LedgerFix { adjustment } = &plan {
        return Ok(json!({ "action": id, "describe": plan.describe(), "adjustment": adjustment }));
    }
    let books = store.read(reconcile::books_in)?;
    match guard(client, &books, &plan, &action.idempotency_key).await {
        Ok(prepared) => Ok(json!({
            "action": id,
            "describe": plan.describe(),
            "state": action.state,
            "method": "POST",
            "path": prepared.path,
            "idempotency_key": prepared.idempotency_key,
            "body": prepared.body,
        })),
        Err(Guarded::Refused(reason)) => Err(ActionError::Refused(format!(
            "the guard would refuse: {reason}"
        ))),
        Err(Guarded::Gateway(e)) => Err(ActionError::GatewayUnavailable(e)),
    }
}

/// The gateway's answer to a create, reduced to what settles an action.
#[derive(Debug)]
pub(crate) enum Answer {
    Refund(wire::Refund),
    Intent(wire::PaymentIntent),
}

pub(crate) async fn send(
    client: &StripeClient,
    plan: &Plan,
    prepared: &PreparedCreate,
) -> Result<Answer, StripeError> {
    fail::fail_point!("execute.before_send");
    match plan {
        Plan::Refund { .. } => client.send_create(prepared).await.map(Answer::Refund),
        Plan::Recharge { .. } => client.send_create(prepared).await.map(Answer::Intent),
        Plan::LedgerFix { .. } => unreachable!("a ledger fix sends nothing"),
    }
}

/// Records the outcome of a send (first or replay) in one transaction.
pub(crate) fn settle(
    store: &mut Store,
    id: i64,
    plan: &Plan,
    answer: Result<Answer, StripeError>,
    by: &str,
    now: jiff::Timestamp,
) -> Result<Executed, ActionError> {
    fail::fail_point!("execute.before_settle");
    let from = store
        .read(|tx| tx.action(id))?
        .ok_or(ActionError::NotFound(id))?
        .state;
    match answer {
        Ok(answer) => store.write(|tx| {
            let (object_id, succeeded, outcome) = match &answer {
                Answer::Refund(r) => (
                    r.id.clone(),
                    !matches!(r.status.as_deref(), Some("failed" | "canceled")),
                    json!({ "refund": r.id, "status": r.status, "amount": r.amount }),
                ),
                Answer::Intent(pi) => (
                    pi.id.clone(),
                    pi.status == "succeeded" || pi.status == "processing",
                    json!({ "payment_intent": pi.id, "status": pi.status, "latest_charge": pi.latest_charge.as_ref().map(|c| c.id().to_string()) }),
                ),
            };
            let to = if succeeded { ActionState::Succeeded } else { ActionState::Failed };
            tx.move_action(
                id,
                from,
                to,
                now,
                &[
                    ("gateway_object_id", object_id.clone().into()),
                    ("outcome", outcome.to_string().into()),
                ],
            )?;
            let action = tx.action(id)?.ok_or(ActionError::NotFound(id))?;
            if succeeded {
                effects(tx, &action, plan, &answer, now)?;
            }
            tx.append_audit(
                now,
                by,
                if succeeded { "action_succeeded" } else { "action_failed" },
                &format!("action:{id}"),
                &json!({ "gateway_object_id": object_id, "outcome": outcome }),
            )?;
            Ok(Executed {
                message: if succeeded {
                    format!("{} — done ({object_id})", plan.describe())
                } else {
                    format!("{} — the gateway refused it ({object_id})", plan.describe())
                },
                action: tx.action(id)?.ok_or(ActionError::NotFound(id))?,
            })
        }),
        Err(e) if refused_for_good(&e) => {
            // A definite answer: nothing moved (a decline, a refusal). An idempotency
            // mismatch is a bug, not a reason to send again: a person looks.
            let to = if matches!(e, StripeError::Idempotency { in_flight: false, .. }) {
                if from == ActionState::Executing { ActionState::Unknown } else { ActionState::NeedsReview }
            } else {
                ActionState::Failed
            };
            store.write(|tx| {
                tx.move_action(id, from, to, now, &[("outcome", json!({ "error": e.to_string() }).to_string().into())])?;
                tx.append_audit(now, by, &format!("action_{to}"), &format!("action:{id}"), &json!({ "error": e.to_string() }))?;
                Ok(Executed {
                    message: format!("{} — {e}", plan.describe()),
                    action: tx.action(id)?.ok_or(ActionError::NotFound(id))?,
                })
            })
        }
        Err(e) => {
            // No answer, a 5xx, a conflict: it may have happened. Unknown, for recovery.
            let to = if from == ActionState::Executing { ActionState::Unknown } else { from };
            store.write(|tx| {
                if to != from {
                    tx.move_action(id, from, to, now, &[("outcome", json!({ "undecided": e.to_string() }).to_string().into())])?;
                    tx.append_audit(now, by, "action_unknown", &format!("action:{id}"), &json!({ "error": e.to_string() }))?;
                }
                Ok(Executed {
                    message: format!(
                        "{} — the outcome is not known yet ({e}); it may have happened. Nothing will be sent with another key: run `chargeguard recover` to settle it",
                        plan.describe()
                    ),
                    action: tx.action(id)?.ok_or(ActionError::NotFound(id))?,
                })
            })
        }
    }
}

/// Whether the gateway said a definite "no" (nothing moved, and sending the same again
/// would get the same "no"), or flagged an idempotency mismatch. Everything else — no
/// answer, a 5xx, a rate limit, an in-flight conflict, a refused key — leaves the outcome
/// open, for recovery.
fn refused_for_good(e: &StripeError) -> bool {
    matches!(
        e,
        StripeError::CardDeclined { .. }
            | StripeError::InvalidRequest { .. }
            | StripeError::NotFound { .. }
            | StripeError::Idempotency {
                in_flight: false,
                ..
            }
    )
}

/// What a succeeded action changes in the books, in the same transaction as `succeeded`.
fn effects(
    tx: &StoreTx<'_>,
    action: &ActionRow,
    plan: &Plan,
    answer: &Answer,
    now: jiff::Timestamp,
) -> Result<(), ActionError> {
    let source = tx.begin_source(
        SourceKind::StripeSync,
        &format!("action:{}", action.id),
        None,
        now,
    )?;
    let origin = crate::records::Origin {
        source_id: source,
        line: None,
    };
    let books = reconcile::books_in(tx)?;
    match (plan, answer) {
        (
            Plan::Refund {
                charge_id,
                amount,
                invoice_number,
                void_invoice,
            },
            Answer::Refund(refund),
        ) => {
            if let Ok(record) = wire::refund_record(refund) {
                tx.upsert_refund(crate::sync::GATEWAY, &record, "{}", &origin)?;
            }
            if let Some(mut charge) = books.charges.iter().find(|c| &c.id == charge_id).cloned() {
                charge.amount_refunded = charge
                    .amount_refunded
                    .checked_add(*amount)
                    .map_err(|e| ActionError::Refused(e.to_string()))?;
                assert!(
                    charge.amount_refunded.minor() <= charge.amount.minor(),
                    "a charge is never refunded beyond its amount"
                );
                tx.upsert_charge(crate::sync::GATEWAY, &charge, "{}", &origin)?;
            }
            // If the ledger records this charge, it must learn of the refund too.
            let recorded = books.ledger.iter().any(|e| {
                e.kind == LedgerKind::Payment
                    && e.gateway_id.as_deref().is_some_and(|g| {
                        g == charge_id
                            || books.charges.iter().any(|c| {
                                &c.id == charge_id && c.payment_intent.as_deref() == Some(g)
                            })
                    })
            });
            if let (true, Some(inv)) = (recorded, invoice_number) {
                tx.insert_adjustment(
                    action.id,
                    &format!("{}/refund", action.idempotency_key),
                    &Adjustment {
                        kind: AdjustmentKind::RecordRefund,
                        invoice_number: inv.clone(),
                        payment_id: None,
                        gateway_id: Some(charge_id.clone()),
                        amount: *amount,
                        effective_at: now.as_second(),
                    },
                    now,
                )?;
            }
            if let Some(inv) = void_invoice {
                tx.insert_adjustment(
                    action.id,
                    &format!("{}/void", action.idempotency_key),
                    &Adjustment {
                        kind: AdjustmentKind::VoidInvoice,
                        invoice_number: inv.clone(),
                        payment_id: None,
                        gateway_id: None,
                        amount: Money::zero(amount.currency()),
                        effective_at: now.as_second(),
                    },
                    now,
                )?;
            }
        }
        (
            Plan::Recharge {
                invoice_number,
                amount,
                ..
            },
            Answer::Intent(pi),
        ) => {
            let charge_id = pi.latest_charge.as_ref().map(|c| c.id().to_string());
            tx.insert_adjustment(
                action.id,
                &format!("{}/payment", action.idempotency_key),
                &Adjustment {
                    kind: AdjustmentKind::RecordPayment,
                    invoice_number: invoice_number.clone(),
                    payment_id: None,
                    gateway_id: charge_id.or_else(|| Some(pi.id.clone())),
                    amount: *amount,
                    effective_at: now.as_second(),
                },
                now,
            )?;
        }
        _ => {}
    }
    if let Some(finding_id) = action.finding_id {
        tx.resolve_finding(finding_id, Resolution::Fixed, now)?;
    }
    Ok(())
}

fn ledger_fix(
    store: &mut Store,
    action: &ActionRow,
    adjustment: &Adjustment,
    by: &str,
    now: jiff::Timestamp,
) -> Result<Executed, ActionError> {
    let id = action.id;
    store.write(|tx| {
        // The period may have been closed since the fix was proposed.
        super::journal::refuse_if_closed_at(tx, adjustment.effective_at, "a ledger fix dated")?;
        tx.move_action(
            id,
            ActionState::Approved,
            ActionState::Executing,
            now,
            &[("executor_pid", i64::from(std::process::id()).into())],
        )?;
        tx.insert_adjustment(id, &action.idempotency_key, adjustment, now)?;
        tx.move_action(
            id,
            ActionState::Executing,
            ActionState::Succeeded,
            now,
            &[(
                "outcome",
                json!({ "adjustment": adjustment }).to_string().into(),
            )],
        )?;
        if let Some(finding_id) = action.finding_id {
            tx.resolve_finding(finding_id, Resolution::Fixed, now)?;
        }
        tx.append_audit(
            now,
            by,
            "action_succeeded",
            &format!("action:{id}"),
            &json!({ "adjustment": adjustment }),
        )?;
        let plan = Plan::LedgerFix {
            adjustment: adjustment.clone(),
        };
        Ok(Executed {
            message: format!("{} — recorded in the ledger adjustments", plan.describe()),
            action: tx.action(id)?.ok_or(ActionError::NotFound(id))?,
        })
    })
}

pub(crate) enum Guarded {
    Refused(String),
    Gateway(StripeError),
}

impl From<StripeError> for Guarded {
    fn from(e: StripeError) -> Self {
        Guarded::Gateway(e)
    }
}

/// The guards of DESIGN.md rule 4, read from the gateway; on success, the request to send.
pub(crate) async fn guard(
    client: &StripeClient,
    books: &Books,
    plan: &Plan,
    key: &str,
) -> Result<PreparedCreate, Guarded> {
    match plan {
        Plan::Refund {
            charge_id,
            amount,
            invoice_number,
            void_invoice,
        } => {
            let charge = client.retrieve_charge(charge_id).await?;
            if charge.status != "succeeded" || !charge.captured {
                return Err(Guarded::Refused(format!(
                    "charge {charge_id} did not succeed at the gateway ({})",
                    charge.status
                )));
            }
            if !charge
                .currency
                .eq_ignore_ascii_case(&amount.currency().lower())
            {
                return Err(Guarded::Refused(format!(
                    "charge {charge_id} is in {}, the refund in {}",
                    charge.currency,
                    amount.currency()
                )));
            }
            let refundable = charge.amount - charge.amount_refunded;
            if refundable <= 0 {
                return Err(Guarded::Refused(format!(
                    "charge {charge_id} is already refunded in full"
                )));
            }
            if amount.minor() > refundable {
                return Err(Guarded::Refused(format!(
                    "only {} of charge {charge_id} is still refundable, less than the {amount} planned",
                    Money::from_minor(refundable, amount.currency())
                )));
            }
            if let (Some(inv), None) = (invoice_number, void_invoice) {
                still_covered(
                    client,
                    books,
                    inv,
                    charge_id,
                    charge.amount - charge.amount_refunded - amount.minor(),
                )
                .await?;
            }
            Ok(PreparedCreate::refund(
                &NewRefund {
                    charge: charge_id.clone(),
                    amount: Some(*amount),
                    reason: Some("duplicate".into()),
                    metadata: [("chargeguard_action".to_string(), "refund".to_string())].into(),
                },
                key,
            ))
        }
        Plan::Recharge {
            invoice_number,
            customer,
            amount,
            ..
        } => {
            let invoice = books
                .invoices
                .iter()
                .find(|i| &i.number == invoice_number)
                .ok_or_else(|| {
                    Guarded::Refused(format!("invoice {invoice_number} is not in the store"))
                })?;
            let owed = invoice.amount.minor() - plan::ledger_paid(books, invoice_number);
            if invoice.status != InvoiceStatus::Open || owed < amount.minor() {
                return Err(Guarded::Refused(format!(
                    "the ledger no longer says invoice {invoice_number} is unpaid"
                )));
            }
            if let Some(c) = paid_at_gateway(client, books, invoice_number, customer).await? {
                return Err(Guarded::Refused(format!(
                    "the gateway already holds succeeded charge {c} for invoice {invoice_number}"
                )));
            }
            let payment_method = saved_card(client, customer).await?.ok_or_else(|| {
                Guarded::Refused(format!(
                    "customer {customer} has no saved card at the gateway"
                ))
            })?;
            Ok(PreparedCreate::payment_intent(
                &NewPaymentIntent {
                    amount: *amount,
                    customer: customer.clone(),
                    payment_method,
                    off_session: true,
                    description: Some(format!("Invoice {invoice_number}")),
                    metadata: [("invoice_number".to_string(), invoice_number.clone())].into(),
                },
                key,
            ))
        }
        Plan::LedgerFix { .. } => Err(Guarded::Refused("a ledger fix sends nothing".into())),
    }
}

/// Refuses a refund that would leave its invoice owing: what remains on this charge, the
/// other charges of the invoice as the gateway has them now, and cash must cover it.
async fn still_covered(
    client: &StripeClient,
    books: &Books,
    invoice_number: &str,
    charge_id: &str,
    remaining_on_charge: i64,
) -> Result<(), Guarded> {
    let Some(invoice) = books.invoices.iter().find(|i| i.number == invoice_number) else {
        return Ok(());
    };
    if invoice.status == InvoiceStatus::Void {
        return Ok(());
    }
    let mut others: Vec<String> = books
        .charges
        .iter()
        .filter(|c| c.id != charge_id && c.invoice_ref.as_deref() == Some(invoice_number))
        .map(|c| c.id.clone())
        .collect();
    for entry in books
        .ledger
        .iter()
        .filter(|e| e.invoice_number == invoice_number && e.kind == LedgerKind::Payment)
    {
        if let Some(g) = entry.gateway_id.as_deref() {
            for c in books
                .charges
                .iter()
                .filter(|c| c.id == g || c.payment_intent.as_deref() == Some(g))
            {
                if c.id != charge_id && !others.contains(&c.id) {
                    others.push(c.id.clone());
                }
            }
        }
    }
    let mut covered = remaining_on_charge;
    for other in &others {
        let c = client.retrieve_charge(other).await?;
        if c.status == "succeeded"
            && c.captured
            && c.currency
                .eq_ignore_ascii_case(&invoice.amount.currency().lower())
        {
            covered += c.amount - c.amount_refunded;
        }
    }
    covered += books
        .ledger
        .iter()
        .filter(|e| e.invoice_number == invoice_number && e.gateway_id.is_none())
        .map(|e| {
            if e.kind == LedgerKind::Payment {
                e.amount.minor()
            } else {
                -e.amount.minor()
            }
        })
        .sum::<i64>();
    if covered < invoice.amount.minor() {
        return Err(Guarded::Refused(format!(
            "after this refund invoice {invoice_number} would hold {} of the {} it is due",
            Money::from_minor(covered, invoice.amount.currency()),
            invoice.amount
        )));
    }
    Ok(())
}

/// A succeeded charge the gateway holds for the invoice: in the store, by search on the
/// invoice reference, or among the customer's recent charges (lists are read-your-writes;
/// search may lag, so it is never the only read).
async fn paid_at_gateway(
    client: &StripeClient,
    books: &Books,
    invoice_number: &str,
    customer: &str,
) -> Result<Option<String>, Guarded> {
    let holds = |status: &str, captured: bool, amount: i64, refunded: i64| {
        status == "succeeded" && captured && amount > refunded
    };
    if let Some(c) = books.charges.iter().find(|c| {
        c.invoice_ref.as_deref() == Some(invoice_number)
            && c.status == ChargeStatus::Succeeded
            && c.net_captured() > 0
    }) {
        // The store may be stale: ask the gateway about it.
        let now = client.retrieve_charge(&c.id).await?;
        if holds(&now.status, now.captured, now.amount, now.amount_refunded) {
            return Ok(Some(c.id.clone()));
        }
    }
    let query = crate::gateway::stripe::metadata_query("invoice_number", invoice_number);
    let found = client.search_charges(&query, None).await?;
    if let Some(c) = found
        .data
        .iter()
        .find(|c| holds(&c.status, c.captured, c.amount, c.amount_refunded))
    {
        return Ok(Some(c.id.clone()));
    }
    let mut pages = client.pages::<wire::Charge>(crate::gateway::stripe::ListParams {
        customer: Some(customer.to_string()),
        ..Default::default()
    });
    while let Some(page) = pages.next_page().await {
        for c in page?.data {
            if c.metadata.get("invoice_number").map(String::as_str) == Some(invoice_number)
                && holds(&c.status, c.captured, c.amount, c.amount_refunded)
            {
                return Ok(Some(c.id));
            }
        }
    }
    Ok(None)
}

/// The customer's card to charge: the default one, else the first saved card.
async fn saved_card(client: &StripeClient, customer: &str) -> Result<Option<String>, Guarded> {
    let found = client.retrieve_customer(customer).await?;
    if let Some(default) = found
        .invoice_settings
        .and_then(|s| s.default_payment_method)
    {
        return Ok(Some(default.id().to_string()));
    }
    let methods = client.list_payment_methods(customer).await?;
    Ok(methods.data.into_iter().next().map(|m| m.id))
}
