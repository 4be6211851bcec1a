//! The journal's store-only steps: proposing an action (a finding's fix, or a re-charge),
//! approving it, cancelling it, dismissing a finding. Each is one transaction with its
//! audit entry. Nothing here talks to a gateway; `execute` and `recovery` do.

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::plan::{self, Plan};
use super::{ActionError, ActionKind, ActionState, key};
use crate::people::{self, Role};
use crate::reconcile::{self, Confidence};
use crate::store::{
    ActionRow, FindingStatus, MoveWith, NewAction, Resolution, Store, StoreTx, StoredFinding,
};

/// What a finding looked like when its fix was proposed; an approval of a finding that has
/// changed since is refused.
fn snapshot(finding: &StoredFinding) -> String {
    let mut hasher = Sha256::new();
    hasher.update(finding.fingerprint.as_bytes());
    hasher.update(finding.amount.minor().to_be_bytes());
    hasher.update(finding.amount.currency().lower().as_bytes());
    hasher.update(finding.evidence.canonical_json().as_bytes());
    hex::encode(hasher.finalize())
}

/// Proposes the fix of finding `finding_id`. Proposing the same fix again (a double click,
/// a second window) returns the action already proposed.
pub fn propose_for_finding(
    store: &mut Store,
    finding_id: i64,
    by: &str,
    now: jiff::Timestamp,
) -> Result<ActionRow, ActionError> {
    store.write(|tx| {
        let finding = tx
            .finding(finding_id)?
            .ok_or(ActionError::FindingNotFound(finding_id))?;
        let books = plan::books_for_finding(tx, &finding)?;
        let plan = plan::for_finding(&finding, &books, now)?;
        let attempt = next_attempt(tx, plan.kind(), |a| a.finding_id == Some(finding_id))?;
        let amount = plan.amount().minor().to_string();
        let attempt_text = attempt.to_string();
        let mut parts = vec![
            finding.fingerprint.as_str(),
            amount.as_str(),
            attempt_text.as_str(),
        ];
        if let Some(charge) = plan.charge_id() {
            parts.push(charge);
        }
        let key = key::derive(plan.kind().as_str(), &parts);
        insert(tx, &plan, Some(&finding), &key, attempt, by, now)
    })
}

/// Proposes a re-charge of unpaid invoice `invoice_number`. The attempt number moves on
/// only after a definite decline of the previous attempt.
pub fn propose_recharge(
    store: &mut Store,
    invoice_number: &str,
    by: &str,
    now: jiff::Timestamp,
) -> Result<ActionRow, ActionError> {
    store.write(|tx| {
        let books = reconcile::books_about(tx, &[invoice_number], &[])?;
        let invoice = books
            .invoices
            .iter()
            .find(|i| i.number == invoice_number)
            .ok_or_else(|| ActionError::InvoiceNotFound(invoice_number.to_string()))?;
        let owed = super::recharge::owed_in_ledger(&books, invoice_number)
            .map_err(ActionError::Refused)?;
        let attempt = next_attempt(tx, ActionKind::Recharge, |a| {
            a.invoice_number.as_deref() == Some(invoice_number)
        })?;
        let plan = Plan::Recharge {
            invoice_number: invoice_number.to_string(),
            customer: super::recharge::gateway_customer(&books, invoice),
            amount: owed,
            attempt,
        };
        let attempt_text = attempt.to_string();
        let key = key::derive("recharge", &[invoice_number, &attempt_text]);
        insert(tx, &plan, None, &key, attempt, by, now)
    })
}

/// 1 + the number of earlier actions of this kind on the same thing that ended without
/// money moving: definitely failed (a decline), or cancelled (by a person, or by a guard).
/// A cancel only ever moves an action that sent nothing (`proposed` or `approved`, compare
/// and set), so its key never reached the gateway and a new one is safe. A retry after a
/// timeout reuses the journal's key: `unknown`, `executing` and `succeeded` never move on.
pub(super) fn next_attempt(
    tx: &StoreTx<'_>,
    kind: ActionKind,
    same_target: impl Fn(&ActionRow) -> bool,
) -> Result<i64, ActionError> {
    let ended = tx
        .actions(Some(&[ActionState::Failed, ActionState::Cancelled]))?
        .into_iter()
        .filter(|a| a.kind == kind && same_target(a))
        .count();
    Ok(ended as i64 + 1)
}

fn insert(
    tx: &StoreTx<'_>,
    plan: &Plan,
    finding: Option<&StoredFinding>,
    key: &str,
    attempt: i64,
    by: &str,
    now: jiff::Timestamp,
) -> Result<ActionRow, ActionError> {
    if let Some(existing) = tx.action_by_key(key)? {
        // The same action proposed again: the one in the journal is the answer.
        return Ok(existing);
    }
    refuse_if_closed(tx, now, "an action proposed")?;
    if let Plan::LedgerFix { adjustment } = plan {
        refuse_if_closed_at(tx, adjustment.effective_at, "a ledger fix dated")?;
    }
    let snap = finding.map(snapshot);
    let id = tx
        .insert_action(
            &NewAction {
                plan,
                finding_id: finding.map(|f| f.id),
                finding_snapshot: snap.as_deref(),
                idempotency_key: key,
                attempt,
                proposed_by: by,
            },
            now,
        )
        .map_err(|e| busy(tx, e, plan))?;
    tx.append_audit(
        now,
        by,
        "action_proposed",
        &format!("action:{id}"),
        &json!({
            "kind": plan.kind().as_str(),
            "plan": plan,
            "describe": plan.describe(),
            "key": key,
            "finding_id": finding.map(|f| f.id),
            "finding_fingerprint": finding.map(|f| f.fingerprint.clone()),
        }),
    )?;
    tx.action(id)?.ok_or(ActionError::NotFound(id))
}

/// Refuses what would be dated inside a closed period (month-end): it stays closed until
/// a named approver reopens it with a reason.
pub(super) fn refuse_if_closed(
    tx: &StoreTx<'_>,
    at: jiff::Timestamp,
    what: &str,
) -> Result<(), ActionError> {
    match tx.period_closed(at)? {
        Some(period) => Err(ActionError::Refused(format!(
            "{what} {at} falls in {period}, which is closed; reopen it first (`chargeguard reopen {period} --by NAME --reason TEXT`)"
        ))),
        None => Ok(()),
    }
}

pub(super) fn refuse_if_closed_at(
    tx: &StoreTx<'_>,
    seconds: i64,
    what: &str,
) -> Result<(), ActionError> {
    let at = jiff::Timestamp::from_second(seconds)
        .map_err(|e| ActionError::Refused(format!("{what} at {seconds}: {e}")))?;
    refuse_if_closed(tx, at, what)
}

/// A unique-index refusal, named with the action that holds the target.
fn busy(tx: &StoreTx<'_>, e: crate::store::StoreError, plan: &Plan) -> ActionError {
    match e {
        crate::store::StoreError::TargetBusy(target) => {
            let holder = tx
                .open_actions_for(plan.invoice_number(), plan.charge_id())
                .ok()
                .and_then(|open| open.first().map(|a| a.id));
            ActionError::AlreadyInProgress { target, holder }
        }
        other => other.into(),
    }
}

/// How many approvals an action needs: two, by different people, for a refund or re-charge
/// above its currency's threshold; one otherwise.
pub fn approvals_needed(tx: &StoreTx<'_>, action: &ActionRow) -> Result<usize, ActionError> {
    Ok(approval_rule(tx, action)?.map_or(1, |rule| rule.needed))
}

/// What decides an action's approvals: its currency's threshold and what follows from it
/// (`None` for a ledger fix, which moves no money at a gateway and needs one approver).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalRule {
    pub threshold: super::threshold::Threshold,
    pub needed: usize,
}

pub fn approval_rule(
    tx: &StoreTx<'_>,
    action: &ActionRow,
) -> Result<Option<ApprovalRule>, ActionError> {
    if !action.kind.moves_money() {
        return Ok(None);
    }
    let threshold = super::threshold::threshold(tx, action.amount.currency())?;
    let needed = if action.amount.minor() > threshold.amount.minor() {
        2
    } else {
        1
    };
    Ok(Some(ApprovalRule { threshold, needed }))
}

/// What an approval did.
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub action: ActionRow,
    pub approvals: usize,
    pub needed: usize,
    /// The currency's threshold that decided `needed` (none for a ledger fix).
    #[serde(skip)]
    pub threshold: Option<super::threshold::Threshold>,
}

/// Records `name`'s approval of action `id`, after checking their passphrase. A heuristic
/// finding's fix is approved only with `heuristic_checked` (a person looked at the match).
pub fn approve(
    store: &mut Store,
    id: i64,
    name: &str,
    passphrase: &str,
    heuristic_checked: bool,
    now: jiff::Timestamp,
) -> Result<Approval, ActionError> {
    let refusal = match people::check_passphrase(store, name, passphrase) {
        Ok(Role::Approver) => None,
        Ok(Role::Bookkeeper) => Some(ActionError::NotAnApprover(name.to_string())),
        Err(e) => Some(ActionError::People(e)),
    };
    if let Some(refusal) = refusal {
        store.write(|tx| {
            tx.append_audit(
                now,
                name,
                "approval_refused",
                &format!("action:{id}"),
                &json!({ "reason": refusal.to_string() }),
            )
        })?;
        return Err(refusal);
    }
    store.write(|tx| {
        let action = tx.action(id)?.ok_or(ActionError::NotFound(id))?;
        if action.state != ActionState::Proposed {
            return Err(ActionError::WrongState {
                id,
                state: action.state,
                wanted: "proposed",
            });
        }
        if let Some(finding_id) = action.finding_id {
            let finding = tx.finding(finding_id)?;
            let current = finding
                .as_ref()
                .filter(|f| f.status == FindingStatus::Open)
                .map(snapshot);
            if current != action.finding_snapshot {
                return Err(ActionError::Stale { id });
            }
            if finding.is_some_and(|f| f.confidence == Confidence::Heuristic) && !heuristic_checked {
                return Err(ActionError::HeuristicUnchecked { id });
            }
        }
        if action.approvers.iter().any(|a| a == name) {
            return Err(ActionError::SameApprover {
                id,
                name: name.to_string(),
            });
        }
        tx.add_approval(id, name, now)?;
        let approvals = action.approvers.len() + 1;
        let rule = approval_rule(tx, &action)?;
        let needed = rule.map_or(1, |r| r.needed);
        let mut approval = json!({ "approvals": approvals, "needed": needed });
        // Where a refund's or re-charge's books' side will be written, as this approver
        // was shown it: it is pushed there only if every approver saw that company and it
        // is still the connected one (`follow_up`).
        if let Some(place) = super::follow_up::place(tx, &action.plan)? {
            approval["follow_ups"] = json!(place.words);
            approval["follow_ups_id"] = json!(place.id);
        }
        tx.append_audit(now, name, "action_approval", &format!("action:{id}"), &approval)?;
        if approvals >= needed {
            tx.move_action(id, ActionState::Proposed, ActionState::Approved, now, MoveWith::default())?;
            let mut approved = json!({ "approvers": action.approvers.iter().chain([&name.to_string()]).collect::<Vec<_>>() });
            // Where a ledger fix will be written, as its approvers were shown: execute
            // writes it nowhere else (`push::refuse_if_moved`).
            if matches!(action.plan, Plan::LedgerFix { .. }) {
                let words = super::push::destination(tx, &action.plan, None)?.words;
                // Which company, where words could name two (`push::refuse_if_moved`).
                if let Some(place) = super::push::books_place(tx)?.filter(|p| p.words == words) {
                    approved["destination_id"] = json!(place.id);
                }
                approved["destination"] = json!(words);
            }
            tx.append_audit(now, name, "action_approved", &format!("action:{id}"), &approved)?;
        }
        let action = tx.action(id)?.ok_or(ActionError::NotFound(id))?;
        Ok(Approval {
            action,
            approvals,
            needed,
            threshold: rule.map(|r| r.threshold),
        })
    })
}

/// Cancels an action that has not started: it frees its invoice and charge.
pub fn cancel(
    store: &mut Store,
    id: i64,
    by: &str,
    reason: &str,
    now: jiff::Timestamp,
) -> Result<ActionRow, ActionError> {
    store.write(|tx| {
        let action = tx.action(id)?.ok_or(ActionError::NotFound(id))?;
        if !matches!(action.state, ActionState::Proposed | ActionState::Approved) {
            return Err(ActionError::WrongState {
                id,
                state: action.state,
                wanted: "proposed or approved",
            });
        }
        tx.move_action(
            id,
            action.state,
            ActionState::Cancelled,
            now,
            MoveWith::outcome(json!({ "cancelled_by": by, "reason": reason })),
        )?;
        // A refund's books' side cancelled is entered by hand: kept as adjustments.
        super::follow_up::fell_through(tx, &action, super::follow_up::Ended::NotMade, now)?;
        tx.append_audit(
            now,
            by,
            "action_cancelled",
            &format!("action:{id}"),
            &json!({ "reason": reason }),
        )?;
        tx.action(id)?.ok_or(ActionError::NotFound(id))
    })
}

/// Dismisses a finding a person judged fine; it stays dismissed through every later
/// reconciliation (its fingerprint remembers), with the reason in the audit log.
pub fn dismiss(
    store: &mut Store,
    finding_id: i64,
    by: &str,
    reason: &str,
    now: jiff::Timestamp,
) -> Result<StoredFinding, ActionError> {
    if reason.trim().is_empty() {
        return Err(ActionError::Refused("a dismissal needs a reason".into()));
    }
    store.write(|tx| {
        let finding = tx
            .finding(finding_id)?
            .ok_or(ActionError::FindingNotFound(finding_id))?;
        if finding.status != FindingStatus::Open {
            return Err(ActionError::Refused(format!(
                "finding {finding_id} is not open"
            )));
        }
        if !tx
            .actions(None)?
            .iter()
            .filter(|a| a.finding_id == Some(finding_id))
            .all(|a| !a.state.is_open())
        {
            return Err(ActionError::Refused(format!(
                "finding {finding_id} has an open action; cancel it first"
            )));
        }
        tx.resolve_finding(finding_id, Resolution::Dismissed, now)?;
        tx.append_audit(
            now,
            by,
            "finding_dismissed",
            &format!("finding:{finding_id}"),
            &json!({ "fingerprint": finding.fingerprint, "reason": reason }),
        )?;
        tx.finding(finding_id)?
            .ok_or(ActionError::FindingNotFound(finding_id))
    })
}
