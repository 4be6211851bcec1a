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
//! feature) let the kill tests stop the process at each of them: `execute.before_journal`,
//! `execute.after_journal`, `execute.before_send`, `execute.after_answer`,
//! `execute.before_settle`. An armed point says so on standard error as it is reached
//! (`failpoint NAME reached`), so a test can wait for that line, then kill.

use serde::Serialize;
use serde_json::json;

use super::follow_up::Ended;
use super::plan::{self, Plan};
use super::{ActionError, ActionState, recovery};
use crate::gateway::stripe::{
    Intent, NewPaymentIntent, NewRefund, PreparedCreate, StripeClient, StripeError,
};
use crate::money::Money;
use crate::reconcile::Books;
use crate::records::{GatewayRefund, InvoiceStatus, LedgerKind, RefundStatus};
use crate::store::{
    ActionRow, Adjustment, AdjustmentKind, ExtraColumns, MoveWith, Resolution, Sending, SourceKind,
    Store, StoreTx,
};

/// A named crash point: `fail::fail_point!`, announced on standard error when `FAILPOINTS`
/// arms it. The `fail` crate runs only the first action of a chain (`print(…)->sleep(…)`
/// prints and never sleeps), so the announcement cannot be one of its actions.
macro_rules! crash_point {
    ($name:literal) => {{
        #[cfg(feature = "failpoints")]
        if fail::list().iter().any(|(armed, _)| armed == $name) {
            eprintln!("failpoint {} reached", $name);
        }
        fail::fail_point!($name);
    }};
}
pub(crate) use crash_point;

/// How an execution ended.
#[derive(Debug, Clone, Serialize)]
pub struct Executed {
    pub action: ActionRow,
    /// Plain words: what happened and what to do next.
    pub message: String,
    /// The follow-ups a gateway action's books' side ran as, as each ended now (an
    /// undecided one is for `recover`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub follow_ups: Vec<ActionRow>,
}

impl Executed {
    /// Whether something this execution started is still undecided: the action, or one of
    /// its follow-ups (undecided, or still waiting for the books).
    pub fn undecided(&self) -> bool {
        let open = |a: &ActionRow| {
            matches!(
                a.state,
                ActionState::Executing | ActionState::Unknown | ActionState::NeedsReview
            )
        };
        open(&self.action)
            || self
                .follow_ups
                .iter()
                .any(|a| open(a) || a.state == ActionState::Approved)
    }
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
            let done = Executed {
                follow_ups: Vec::new(),
                message: format!("action {id} had already succeeded; nothing was sent again"),
                action,
            };
            // Its books' side may still wait (the books could not be asked then).
            return follow_ups(store, client, done, by, now).await;
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
    let plan = action.plan.clone();

    if let Plan::LedgerFix { adjustment } = &plan {
        if let Err(moved) = super::push::refuse_if_moved(store, &action) {
            // A refund's books' side whose company changed since it was approved goes
            // nowhere else: it is cancelled and kept as adjustments, entered by hand.
            if store.read(|tx| super::follow_up::is_follow_up(tx, &action))? {
                let reason = moved.to_string();
                return Err(guard_refused(store, id, by, reason, Ended::NotMade, now)?);
            }
            return Err(moved);
        }
        if super::push::pushes(store, adjustment)? {
            return super::push::execute(store, client.timeout(), &action, adjustment, by, now)
                .await;
        }
        return ledger_fix(store, &action, adjustment, by, now);
    }

    // From here until the answer is settled this process holds the action's lease, which
    // the system releases if the process dies: recovery takes over only an action whose
    // lease it can take, so it never replays beside a live send.
    let Some(_lease) = store.try_lease(id)? else {
        return Err(ActionError::AlreadyInProgress {
            target: format!("action {id}"),
            holder: Some(id),
        });
    };
    let books = store.read(|tx| plan::books_for_plan(tx, &plan))?;
    let prepared = match guard(client, &books, &plan, &action.idempotency_key).await {
        Ok(prepared) => prepared,
        Err(Guarded::Refused(reason)) => {
            return Err(guard_refused(store, id, by, reason, Ended::NotMade, now)?);
        }
        Err(Guarded::Gateway(e)) => return Err(ActionError::GatewayUnavailable(e)),
    };

    crash_point!("execute.before_journal");
    journal_sending(
        store,
        &action,
        Sending {
            method: "POST".into(),
            path: prepared.path.clone(),
            body: prepared.body.clone(),
            first_sent_at: now,
        },
        by,
        now,
    )?;
    crash_point!("execute.after_journal");

    let answer = send(client, &plan, &prepared).await;
    crash_point!("execute.after_answer");
    let done = settle(store, id, &plan, answer, by, now)?;
    follow_ups(store, client, done, by, now).await
}

/// Executes the follow-ups a succeeded gateway action left for the accounting system (its
/// books' side), in order, each through its own journal; what became of them joins the
/// message. One that does not succeed now stops the rest and waits, approved or for
/// recovery, as any push does: the gateway action itself stands.
async fn follow_ups(
    store: &mut Store,
    client: &StripeClient,
    mut done: Executed,
    by: &str,
    now: jiff::Timestamp,
) -> Result<Executed, ActionError> {
    if done.action.state != ActionState::Succeeded
        || matches!(done.action.plan, Plan::LedgerFix { .. })
    {
        return Ok(done);
    }
    let parent = done.action.clone();
    // A duplicate's undoing is two steps, each made by the one before.
    for _ in 0..2 {
        let Some(next) = store
            .read(|tx| super::follow_up::of_parent(tx, &parent))?
            .into_iter()
            .find(|a| a.state == ActionState::Approved)
        else {
            break;
        };
        let step = Box::pin(execute(store, client, next.id, by, now)).await;
        let (said, succeeded) = match step {
            Ok(step) => {
                let succeeded = step.action.state == ActionState::Succeeded;
                done.follow_ups.push(step.action);
                (step.message, succeeded)
            }
            Err(e) => {
                if let Some(now) = store.read(|tx| tx.action(next.id))? {
                    done.follow_ups.push(now);
                }
                (
                    format!(
                        "action {} (its books' side) did not go: {e}. It waits, approved: `chargeguard recover` (or the morning check) sends it",
                        next.id
                    ),
                    false,
                )
            }
        };
        done.message = format!("{}\n{said}", done.message);
        if !succeeded {
            break;
        }
    }
    // One still undecided from before (a recovery's to finish) keeps the outcome open.
    let undecided = store.read(|tx| super::follow_up::of_parent(tx, &parent))?;
    for a in undecided.into_iter().filter(|a| {
        matches!(
            a.state,
            ActionState::Executing | ActionState::Unknown | ActionState::NeedsReview
        )
    }) {
        if !done.follow_ups.iter().any(|f| f.id == a.id) {
            done.message = format!(
                "{}\naction {} (its books' side) is {}: `chargeguard recover` settles it",
                done.message, a.id, a.state
            );
            done.follow_ups.push(a);
        }
    }
    Ok(done)
}

/// A guard said no: the action is cancelled (nothing was sent), and the refusal is the
/// error the caller returns.
pub(super) fn guard_refused(
    store: &mut Store,
    id: i64,
    by: &str,
    reason: String,
    ended: Ended,
    now: jiff::Timestamp,
) -> Result<ActionError, ActionError> {
    store.write(|tx| {
        tx.move_action(
            id,
            ActionState::Approved,
            ActionState::Cancelled,
            now,
            MoveWith::outcome(json!({ "guard_refused": reason })),
        )?;
        if let Some(action) = tx.action(id)? {
            super::follow_up::fell_through(tx, &action, ended, now)?;
        }
        tx.append_audit(
            now,
            by,
            "action_guard_refused",
            &format!("action:{id}"),
            &json!({ "reason": reason }),
        )?;
        Ok::<_, ActionError>(())
    })?;
    Ok(ActionError::Guard { id, reason })
}

/// The journal write before a byte leaves: `executing`, the exact request and the key,
/// and the audit entry, in one committed transaction.
pub(super) fn journal_sending(
    store: &mut Store,
    action: &ActionRow,
    sending: Sending,
    by: &str,
    now: jiff::Timestamp,
) -> Result<(), ActionError> {
    let id = action.id;
    let audit =
        json!({ "key": action.idempotency_key, "path": sending.path, "body": sending.body });
    store.write(|tx| {
        tx.move_action(
            id,
            ActionState::Approved,
            ActionState::Executing,
            now,
            MoveWith {
                sending: Some(sending),
                executor_pid: Some(std::process::id()),
                ..MoveWith::default()
            },
        )
        .map_err(|e| ActionError::started_elsewhere(id, e))?;
        tx.append_audit(now, by, "action_executing", &format!("action:{id}"), &audit)?;
        Ok::<_, ActionError>(())
    })
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
    let plan = action.plan.clone();
    if let Plan::LedgerFix { adjustment } = &plan {
        if super::push::pushes(store, adjustment)? {
            return super::push::dry_run(store, client.timeout(), &action, adjustment).await;
        }
        return Ok(json!({ "action": id, "describe": plan.describe(), "adjustment": adjustment }));
    }
    let books = store.read(|tx| plan::books_for_plan(tx, &plan))?;
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
    Refund(GatewayRefund),
    Intent(Intent),
}

pub(crate) async fn send(
    client: &StripeClient,
    plan: &Plan,
    prepared: &PreparedCreate,
) -> Result<Answer, StripeError> {
    crash_point!("execute.before_send");
    match plan {
        Plan::Refund { .. } => client.send_refund(prepared).await.map(Answer::Refund),
        Plan::Recharge { .. } => client
            .send_payment_intent(prepared)
            .await
            .map(Answer::Intent),
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
    crash_point!("execute.before_settle");
    let from = store
        .read(|tx| tx.action(id))?
        .ok_or(ActionError::NotFound(id))?
        .state;
    // Two recoveries (two windows, or an execute's and a `recover`) may settle one action
    // at once: the moves are compare-and-set, so the first decides and the other reports it.
    if !matches!(
        from,
        ActionState::Executing | ActionState::Unknown | ActionState::NeedsReview
    ) {
        return settled_elsewhere(store, id);
    }
    match settle_from(store, id, from, plan, answer, by, now) {
        Err(ActionError::Store(crate::store::StoreError::StateMoved { .. })) => {
            settled_elsewhere(store, id)
        }
        other => other,
    }
}

fn settled_elsewhere(store: &mut Store, id: i64) -> Result<Executed, ActionError> {
    let action = store
        .read(|tx| tx.action(id))?
        .ok_or(ActionError::NotFound(id))?;
    Ok(Executed {
        follow_ups: Vec::new(),
        message: format!(
            "action {id} was settled meanwhile by another window or process: {}",
            action.state
        ),
        action,
    })
}

fn settle_from(
    store: &mut Store,
    id: i64,
    from: ActionState,
    plan: &Plan,
    answer: Result<Answer, StripeError>,
    by: &str,
    now: jiff::Timestamp,
) -> Result<Executed, ActionError> {
    match answer {
        Ok(answer) => store.write(|tx| {
            let (object_id, succeeded, outcome) = match &answer {
                Answer::Refund(r) => (
                    r.id.clone(),
                    !matches!(r.status, RefundStatus::Failed | RefundStatus::Canceled),
                    json!({ "refund": r.id, "status": r.status.as_str(), "amount": r.amount.minor() }),
                ),
                Answer::Intent(pi) => (
                    pi.id.clone(),
                    pi.status.moved_money(),
                    json!({ "payment_intent": pi.id, "status": pi.status.as_str(), "latest_charge": pi.latest_charge }),
                ),
            };
            let to = if succeeded { ActionState::Succeeded } else { ActionState::Failed };
            tx.move_action(
                id,
                from,
                to,
                now,
                MoveWith {
                    gateway_object_id: Some(object_id.clone()),
                    outcome: Some(outcome.clone()),
                    ..MoveWith::default()
                },
            )?;
            let action = tx.action(id)?.ok_or(ActionError::NotFound(id))?;
            let follow_ups = if succeeded {
                effects(tx, &action, plan, &answer, by, now)?
            } else {
                None
            };
            tx.append_audit(
                now,
                by,
                if succeeded { "action_succeeded" } else { "action_failed" },
                &format!("action:{id}"),
                &json!({ "gateway_object_id": object_id, "outcome": outcome }),
            )?;
            Ok(Executed {
                follow_ups: Vec::new(),
                message: if succeeded {
                    let then = follow_ups.map(|f| format!("; {f}")).unwrap_or_default();
                    format!("{} — done ({object_id}){then}", plan.describe())
                } else {
                    format!("{} — the gateway refused it ({object_id})", plan.describe())
                },
                action: tx.action(id)?.ok_or(ActionError::NotFound(id))?,
            })
        }),
        Err(e) if e.is_definite() => {
            // A definite answer: nothing moved (a decline, a refusal). An idempotency
            // mismatch is a bug, not a reason to send again: a person looks.
            let to = if matches!(e, StripeError::Idempotency { in_flight: false, .. }) {
                if from == ActionState::Executing { ActionState::Unknown } else { ActionState::NeedsReview }
            } else {
                ActionState::Failed
            };
            store.write(|tx| {
                tx.move_action(id, from, to, now, MoveWith::outcome(json!({ "error": e.to_string() })))?;
                tx.append_audit(now, by, &format!("action_{to}"), &format!("action:{id}"), &json!({ "error": e.to_string() }))?;
                Ok(Executed {
                    follow_ups: Vec::new(),
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
                    tx.move_action(id, from, to, now, MoveWith::outcome(json!({ "undecided": e.to_string() })))?;
                    tx.append_audit(now, by, "action_unknown", &format!("action:{id}"), &json!({ "error": e.to_string() }))?;
                }
                Ok(Executed {
                    follow_ups: Vec::new(),
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

/// What a succeeded action changes in the books, in the same transaction as `succeeded`:
/// the gateway's objects stored, and its follow-ups (the ledger's side) recorded, as
/// adjustments or as actions for the connected accounting system (`follow_up`). What
/// became of the follow-ups, in words.
fn effects(
    tx: &StoreTx<'_>,
    action: &ActionRow,
    plan: &Plan,
    answer: &Answer,
    by: &str,
    now: jiff::Timestamp,
) -> Result<Option<String>, ActionError> {
    let mut wanted: Vec<(String, Adjustment)> = Vec::new();
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
    let books = plan::books_for_plan(tx, plan)?;
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
            tx.upsert_refund(crate::sync::GATEWAY, refund, ExtraColumns::NONE, &origin)?;
            // The books' charge lacks what reconciliation never reads (its description and
            // metadata): store the charge read whole, with the refunded total the books know.
            let booked = books.charges.iter().find(|c| &c.id == charge_id);
            let stored = match booked {
                Some(_) => tx.charge(crate::sync::GATEWAY, charge_id)?,
                None => None,
            };
            // A sync that ran after the refund was made (the morning run syncs before it
            // recovers) brought the refund already, and the books' total counts it: adding
            // it again would refund the charge twice on paper.
            let known = books.refunds.iter().any(|r| r.id == refund.id);
            if let (Some(booked), Some(mut charge)) = (booked, stored) {
                charge.amount_refunded = if known {
                    booked.amount_refunded
                } else {
                    booked
                        .amount_refunded
                        .checked_add(*amount)
                        .map_err(|e| ActionError::Refused(e.to_string()))?
                };
                assert!(
                    charge.amount_refunded.minor() <= charge.amount.minor(),
                    "a charge is never refunded beyond its amount"
                );
                // Keep the columns an export brought for this charge.
                let stored = tx.stored_charge_extras(crate::sync::GATEWAY, charge_id)?;
                let extra = stored.as_ref().map_or(ExtraColumns::NONE, |s| s.extra());
                tx.upsert_charge(crate::sync::GATEWAY, &charge, extra, &origin)?;
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
                wanted.push((
                    format!("{}/refund", action.idempotency_key),
                    Adjustment {
                        kind: AdjustmentKind::RecordRefund,
                        invoice_number: inv.clone(),
                        payment_id: None,
                        gateway_id: Some(charge_id.clone()),
                        amount: *amount,
                        effective_at: made_at(now, refund.created),
                    },
                ));
            }
            if let Some(inv) = void_invoice {
                wanted.push((
                    format!("{}/void", action.idempotency_key),
                    Adjustment {
                        kind: AdjustmentKind::VoidInvoice,
                        invoice_number: inv.clone(),
                        payment_id: None,
                        gateway_id: None,
                        amount: Money::zero(amount.currency()),
                        effective_at: now.as_second(),
                    },
                ));
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
            let charge_id = pi.latest_charge.clone();
            wanted.push((
                format!("{}/payment", action.idempotency_key),
                Adjustment {
                    kind: AdjustmentKind::RecordPayment,
                    invoice_number: invoice_number.clone(),
                    payment_id: None,
                    gateway_id: charge_id.or_else(|| Some(pi.id.clone())),
                    amount: *amount,
                    effective_at: made_at(now, pi.created),
                },
            ));
        }
        _ => {}
    }
    let said = super::follow_up::record(tx, action, &books, wanted, by, now)?;
    if let Some(finding_id) = action.finding_id {
        tx.resolve_finding(finding_id, Resolution::Fixed, now)?;
    }
    Ok(said)
}

/// When a recorded payment or refund took place: when the gateway made it, never earlier.
///
/// `now` is when the command started, which can be seconds before the gateway made the
/// object (the guards' reads, retries, a replay waiting out a request still in flight). A
/// ledger entry dated before its charge existed lies inside the coverage of a sync that
/// ran in the charge's own second without listing it, and reconciliation would call the
/// fresh payment a missing charge and propose reversing it.
fn made_at(now: jiff::Timestamp, gateway_created: jiff::Timestamp) -> i64 {
    now.as_second().max(gateway_created.as_second())
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
            MoveWith {
                executor_pid: Some(std::process::id()),
                ..MoveWith::default()
            },
        )
        .map_err(|e| ActionError::started_elsewhere(id, e))?;
        tx.insert_adjustment(id, &action.idempotency_key, adjustment, now)?;
        tx.move_action(
            id,
            ActionState::Executing,
            ActionState::Succeeded,
            now,
            MoveWith::outcome(json!({ "adjustment": adjustment })),
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
            follow_ups: Vec::new(),
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

/// Refuses to refund a charge the customer's bank has charged back (undecided or lost):
/// the card network already took the money back, and a refund would pay the customer twice
/// (Stripe refuses it too, with `charge_disputed`). An inquiry moves no money and a won
/// dispute gave it back: those do not stand in the way.
async fn charged_back(client: &StripeClient, charge_id: &str) -> Result<(), Guarded> {
    match chargebacks_of(client, charge_id).await?.first() {
        Some(d) => Err(Guarded::Refused(format!(
            "the customer's bank has charged back charge {charge_id} (dispute {}, {}): the money already went back through the card network, and a refund would pay it twice; answer the dispute at Stripe instead",
            d.id,
            d.status.as_str()
        ))),
        None => Ok(()),
    }
}

/// The chargebacks holding a charge's money, as the gateway has them now (a charge has
/// one dispute, rarely two).
async fn chargebacks_of(
    client: &StripeClient,
    charge_id: &str,
) -> Result<Vec<crate::records::Dispute>, Guarded> {
    let params = crate::gateway::stripe::ListParams {
        charge: Some(charge_id.to_string()),
        ..Default::default()
    };
    let page = client
        .list_records::<crate::gateway::stripe::DisputeMoves>(&params)
        .await?;
    Ok(page
        .records
        .into_iter()
        .map(|m| m.dispute)
        .filter(|d| d.status.holds_the_money())
        .collect())
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
            let charge = client.charge(charge_id).await?;
            if !charge.counts() {
                return Err(Guarded::Refused(format!(
                    "charge {charge_id} did not succeed at the gateway ({})",
                    if charge.captured {
                        charge.status.as_str()
                    } else {
                        "not captured"
                    }
                )));
            }
            if charge.amount.currency() != amount.currency() {
                return Err(Guarded::Refused(format!(
                    "charge {charge_id} is in {}, the refund in {}",
                    charge.amount.currency(),
                    amount.currency()
                )));
            }
            charged_back(client, charge_id).await?;
            let refundable = charge.net_captured();
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
                    charge.net_captured() - amount.minor(),
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
        let c = client.charge(other).await?;
        if c.amount.currency() == invoice.amount.currency() {
            // A charged-back charge no longer covers anything: the bank took it back.
            let taken: i64 = chargebacks_of(client, other)
                .await?
                .iter()
                .filter(|d| d.amount.currency() == c.amount.currency())
                .map(|d| d.amount.minor())
                .sum();
            covered += (c.net_captured() - taken).max(0);
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
pub(crate) async fn paid_at_gateway(
    client: &StripeClient,
    books: &Books,
    invoice_number: &str,
    customer: &str,
) -> Result<Option<String>, Guarded> {
    // It still holds money for the invoice: it counts, and was not refunded in full.
    let holds = |c: &crate::records::Charge| c.net_captured() > 0;
    if let Some(c) = books
        .charges
        .iter()
        .find(|c| c.invoice_ref.as_deref() == Some(invoice_number) && holds(c))
    {
        // The store may be stale: ask the gateway about it.
        if holds(&client.charge(&c.id).await?) {
            return Ok(Some(c.id.clone()));
        }
    }
    let by_reference = client
        .charges_by_metadata(crate::gateway::stripe::INVOICE_METADATA_KEY, invoice_number)
        .await?;
    if let Some(c) = by_reference.iter().find(|c| holds(c)) {
        return Ok(Some(c.id.clone()));
    }
    Ok(client
        .customer_charge_where(customer, |c| {
            c.invoice_ref.as_deref() == Some(invoice_number) && holds(c)
        })
        .await?
        .map(|c| c.id))
}

/// The customer's card to charge: the default one, else the first saved card.
pub(crate) async fn saved_card(
    client: &StripeClient,
    customer: &str,
) -> Result<Option<String>, Guarded> {
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

#[cfg(test)]
mod tests {

    use super::{Answer, settle};
    use crate::actions::{ActionState, Plan};
    use crate::money::{Currency, Money};
    use crate::reconcile;
    use crate::records::{Coverage, Invoice, InvoiceStatus, Origin};
    use crate::store::{
        FindingFilter, MoveWith, NewAction, Sending, SourceKind, Store, StoreError,
    };

    /// Regression (found by the kill tests): a re-charge recorded its payment at the
    /// instant the command started. When the charge was made seconds later (a replay
    /// waiting out the first request, still in flight) and the next sync ran in the
    /// charge's own second, the sync covered the payment's date without listing the
    /// charge, and reconciliation told the bookkeeper to reverse a real payment.
    #[test]
    fn a_recharge_paid_after_the_command_started_is_not_reported_missing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let usd = Currency::from_code("usd").unwrap();
        let started = jiff::Timestamp::from_second(1_795_000_000).unwrap();
        let charged_at = started.as_second() + 3;
        let plan = Plan::Recharge {
            invoice_number: "INV-2".into(),
            customer: "cus_brio".into(),
            amount: Money::from_minor(12_000, usd),
            attempt: 1,
        };
        let id = store
            .write(|tx| {
                let source =
                    tx.begin_source(SourceKind::Invoices, "invoices.csv", None, started)?;
                tx.upsert_invoice(
                    &Invoice {
                        number: "INV-2".into(),
                        customer_id: "cus_brio".into(),
                        amount: Money::from_minor(12_000, usd),
                        issued_at: started - jiff::SignedDuration::from_hours(24),
                        due_at: None,
                        status: InvoiceStatus::Open,
                        order_ref: None,
                        gateway_invoice_id: None,
                        stated_paid: None,
                        paid_at: None,
                    },
                    crate::store::ExtraColumns::NONE,
                    &Origin {
                        source_id: source,
                        line: Some(2),
                    },
                )?;
                let id = tx.insert_action(
                    &NewAction {
                        plan: &plan,
                        finding_id: None,
                        finding_snapshot: None,
                        idempotency_key: "cg-recharge-test",
                        attempt: 1,
                        proposed_by: "alice",
                    },
                    started,
                )?;
                tx.move_action(
                    id,
                    ActionState::Proposed,
                    ActionState::Approved,
                    started,
                    MoveWith::default(),
                )?;
                tx.move_action(
                    id,
                    ActionState::Approved,
                    ActionState::Executing,
                    started,
                    MoveWith {
                        sending: Some(Sending {
                            method: "POST".into(),
                            path: "/v1/payment_intents".into(),
                            body: "amount=12000".into(),
                            first_sent_at: started,
                        }),
                        ..MoveWith::default()
                    },
                )?;
                // A sync that ran in the charge's second: it covers up to the second before.
                let sync = tx.begin_source(SourceKind::StripeSync, "sync", None, started)?;
                tx.add_charge_coverage(
                    sync,
                    crate::sync::GATEWAY,
                    Coverage {
                        from: started - jiff::SignedDuration::from_hours(48),
                        to: jiff::Timestamp::from_second(charged_at - 1).unwrap(),
                    },
                )?;
                Ok::<_, StoreError>(id)
            })
            .unwrap();
        let intent = crate::gateway::stripe::Intent {
            id: "pi_new".into(),
            status: crate::gateway::stripe::IntentStatus::Succeeded,
            amount: Money::from_minor(12_000, Currency::from_code("USD").unwrap()),
            latest_charge: Some("ch_new".into()),
            created: jiff::Timestamp::from_second(charged_at).unwrap(),
            metadata: [
                ("invoice_number".to_string(), "INV-2".to_string()),
                (
                    "idempotency_key".to_string(),
                    "cg-recharge-test".to_string(),
                ),
            ]
            .into(),
        };
        let executed = settle(
            &mut store,
            id,
            &plan,
            Ok(Answer::Intent(intent)),
            "alice",
            started,
        )
        .unwrap();
        assert_eq!(executed.action.state, ActionState::Succeeded);

        reconcile::run(&mut store, started).unwrap();
        let findings = store
            .read(|tx| tx.findings(&FindingFilter::default()))
            .unwrap();
        assert!(
            findings.is_empty(),
            "the fresh payment is not yet synced, not missing: {findings:#?}"
        );
        let adjustments = store.read(|tx| tx.adjustments()).unwrap();
        assert_eq!(adjustments[0].adjustment.effective_at, charged_at);
    }
}
