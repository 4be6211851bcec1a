//! Recovery: deciding every action whose outcome is not known, without ever sending
//! anything under a new key and without guessing.
//!
//! An action is undecided when it is `unknown` (a timeout, a 5xx, a dropped connection),
//! or `executing` while the process that sent it is gone (killed mid-request). Which of
//! the `executing` ones are gone is told by their lease (`Store::try_lease`): an executor
//! holds it from before the journal write until the answer is settled, and the system
//! releases it when the process dies. Recovery works only on an action whose lease it has
//! taken, and leaves one whose lease is held alone; two recoveries never work on one
//! action at once either. For each:
//!
//! 1. Look the object up by its idempotency key in metadata, with *list* calls (the
//!    refunds of the charge; the customer's payment intents since the first send). Lists
//!    read what was written; search lags behind writes and is never the only read.
//!    Found: settled from what the gateway holds.
//! 2. Not found and the first send is under 23 hours old (Stripe keeps keys 24): replay the
//!    journaled request, same key, same bytes. If the first send did arrive meanwhile,
//!    the gateway answers with the first answer; if it never arrived, this is the one send.
//! 3. Otherwise: `needs_review`, for a person. Never a re-send with a new key.
//!
//! Last, a refund's or re-charge's books' side left waiting (approved with it, for the
//! connected accounting system: settled here, or the books could not be asked when it was
//! made) is pushed, as `execute` would have right after it (`follow_up`).

use serde::Serialize;
use serde_json::json;

use super::execute::{Answer, send, settle};
use super::plan::Plan;
use super::{ActionError, ActionState};
use crate::gateway::stripe::{IDEMPOTENCY_METADATA_KEY, PreparedCreate, StripeClient};
use crate::store::{ActionRow, MoveWith, Store};

/// Stripe forgets idempotency keys after 24 hours; we stop replaying an hour before.
pub const REPLAY_WINDOW_SECONDS: i64 = 23 * 3600;

/// What one recovery run decided.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecoveryReport {
    pub examined: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub needs_review: u64,
    /// Still undecided (the gateway could not be reached, or the first send is in flight),
    /// or a books' side still waiting for the books.
    pub still_unknown: u64,
    /// Left alone: another window or process is sending or settling them now.
    pub in_flight: u64,
    pub actions: Vec<ActionRow>,
}

impl std::fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let busy = match self.in_flight {
            0 => String::new(),
            n => format!("; {n} being sent by another window or process right now, left to it"),
        };
        if self.examined == 0 {
            return write!(
                f,
                "Nothing to recover: every action's outcome is known{busy}."
            );
        }
        write!(
            f,
            "Recovered {} action(s): {} succeeded, {} failed, {} need a person's review, {} still unknown{busy}",
            self.examined, self.succeeded, self.failed, self.needs_review, self.still_unknown
        )
    }
}

/// Whether an action may be undecided: `unknown`, or `executing` with a request that may
/// have left (a ledger fix sends nothing). Its lease says whether anyone is still at it.
fn may_be_undecided(action: &ActionRow) -> bool {
    action.state == ActionState::Unknown
        || (action.state == ActionState::Executing
            && (action.kind.moves_money() || super::push::was_pushed(action)))
}

/// Settles every undecided action of the store, then pushes the books' sides left waiting.
pub async fn recover(
    store: &mut Store,
    client: &StripeClient,
    now: jiff::Timestamp,
) -> Result<RecoveryReport, ActionError> {
    let actions =
        store.read(|tx| tx.actions(Some(&[ActionState::Unknown, ActionState::Executing])))?;
    let mut report = recover_these(
        store,
        client,
        actions.into_iter().filter(may_be_undecided).collect(),
        now,
    )
    .await?;
    // A duplicate's void is made when its reversal settles: a second pass takes it.
    // Each is tried once a run, whatever becomes of the others.
    let mut tried = std::collections::HashSet::new();
    for _ in 0..2 {
        let waiting: Vec<ActionRow> = store
            .read(super::follow_up::all_waiting)?
            .into_iter()
            .filter(|a| tried.insert(a.id))
            .collect();
        if waiting.is_empty() {
            break;
        }
        for action in waiting {
            let ended = match Box::pin(super::execute::execute(
                store, client, action.id, "recovery", now,
            ))
            .await
            {
                Ok(done) => done.action,
                Err(ActionError::AlreadyInProgress { .. }) => {
                    report.in_flight += 1;
                    continue;
                }
                // The books could not be asked: it waits, approved, for the next run.
                Err(ActionError::BooksUnavailable(_) | ActionError::GatewayUnavailable(_)) => {
                    report.examined += 1;
                    report.still_unknown += 1;
                    report.actions.push(current(store, action.id)?);
                    continue;
                }
                Err(_) => current(store, action.id)?,
            };
            report.examined += 1;
            match ended.state {
                ActionState::Succeeded => report.succeeded += 1,
                ActionState::Failed | ActionState::Cancelled => report.failed += 1,
                // Still approved after a refusal no run can change (a period closed here
                // since): a person decides.
                ActionState::NeedsReview | ActionState::Approved => report.needs_review += 1,
                _ => report.still_unknown += 1,
            }
            report.actions.push(ended);
        }
    }
    Ok(report)
}

/// Settles the undecided actions holding an invoice or a charge (before a new action on it).
pub async fn recover_target(
    store: &mut Store,
    client: &StripeClient,
    invoice_number: Option<&str>,
    charge_id: Option<&str>,
    now: jiff::Timestamp,
) -> Result<RecoveryReport, ActionError> {
    let actions = store.read(|tx| tx.open_actions_for(invoice_number, charge_id))?;
    recover_these(
        store,
        client,
        actions.into_iter().filter(may_be_undecided).collect(),
        now,
    )
    .await
}

async fn recover_these(
    store: &mut Store,
    client: &StripeClient,
    actions: Vec<ActionRow>,
    now: jiff::Timestamp,
) -> Result<RecoveryReport, ActionError> {
    let mut report = RecoveryReport::default();
    for action in actions {
        let Some(_lease) = store.try_lease(action.id)? else {
            report.in_flight += 1;
            continue;
        };
        // Read again under the lease: whoever held it may have settled it meanwhile.
        let Some(action) = store
            .read(|tx| tx.action(action.id))?
            .filter(may_be_undecided)
        else {
            continue;
        };
        report.examined += 1;
        let settled = recover_one(store, client, action, now).await?;
        match settled.state {
            ActionState::Succeeded => report.succeeded += 1,
            ActionState::Failed => report.failed += 1,
            ActionState::NeedsReview => report.needs_review += 1,
            _ => report.still_unknown += 1,
        }
        report.actions.push(settled);
    }
    Ok(report)
}

async fn recover_one(
    store: &mut Store,
    client: &StripeClient,
    action: ActionRow,
    now: jiff::Timestamp,
) -> Result<ActionRow, ActionError> {
    let id = action.id;
    let by = "recovery";
    if action.state == ActionState::Executing {
        // Its process died between the journal write and the answer. Another recovery may
        // have moved it first; settling is a compare-and-set, so carry on either way.
        let moved = store.write(|tx| {
            tx.move_action(
                id,
                ActionState::Executing,
                ActionState::Unknown,
                now,
                MoveWith::default(),
            )?;
            tx.append_audit(
                now,
                by,
                "action_unknown",
                &format!("action:{id}"),
                &json!({ "cause": "the process executing it is gone (its lease was free)" }),
            )
        });
        match moved {
            Ok(_) | Err(crate::store::StoreError::StateMoved { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let plan = action.plan.clone();
    if let Plan::LedgerFix { .. } = plan {
        return super::push::recover(store, client.timeout(), action, now).await;
    }
    let (Some(path), Some(body), Some(first_sent)) = (
        action.request_path.clone(),
        action.request_body.clone(),
        action.first_sent_at,
    ) else {
        return to_review(store, id, "the journal holds no request for it", now);
    };
    let prepared = PreparedCreate {
        path,
        body,
        idempotency_key: action.idempotency_key.clone(),
    };

    match lookup(client, &plan, &action).await {
        Ok(Some(answer)) => return Ok(settle(store, id, &plan, Ok(answer), by, now)?.action),
        Ok(None) => {}
        // Cannot read the gateway now: still unknown, try again later.
        Err(_) => return current(store, id),
    }
    if now.as_second() - first_sent < REPLAY_WINDOW_SECONDS {
        let answer = send(client, &plan, &prepared).await;
        return Ok(settle(store, id, &plan, answer, by, now)?.action);
    }
    to_review(
        store,
        id,
        "the gateway shows nothing under its key and the key is too old to replay safely",
        now,
    )
}

/// The object the action created, found by its key in metadata through list calls.
async fn lookup(
    client: &StripeClient,
    plan: &Plan,
    action: &ActionRow,
) -> Result<Option<Answer>, crate::gateway::stripe::StripeError> {
    let key = action.idempotency_key.as_str();
    match plan {
        Plan::Refund { charge_id, .. } => Ok(client
            .charge_refund_with(charge_id, IDEMPOTENCY_METADATA_KEY, key)
            .await?
            .map(Answer::Refund)),
        Plan::Recharge { customer, .. } => {
            let since = action.first_sent_at.map(|t| t - 3600);
            Ok(client
                .customer_intent_with(customer, since, IDEMPOTENCY_METADATA_KEY, key)
                .await?
                .map(Answer::Intent))
        }
        Plan::LedgerFix { .. } => Ok(None),
    }
}

fn current(store: &mut Store, id: i64) -> Result<ActionRow, ActionError> {
    store
        .read(|tx| tx.action(id))?
        .ok_or(ActionError::NotFound(id))
}

pub(super) fn to_review(
    store: &mut Store,
    id: i64,
    why: &str,
    now: jiff::Timestamp,
) -> Result<ActionRow, ActionError> {
    store.write(|tx| {
        tx.move_action(
            id,
            ActionState::Unknown,
            ActionState::NeedsReview,
            now,
            MoveWith::outcome(json!({ "needs_review": why })),
        )?;
        tx.append_audit(
            now,
            "recovery",
            "action_needs_review",
            &format!("action:{id}"),
            &json!({ "why": why }),
        )?;
        tx.action(id)?.ok_or(ActionError::NotFound(id))
    })
}
