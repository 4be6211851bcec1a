//! The books' side of a gateway action: what a refund or re-charge Stripe made changes in
//! the ledger (the refund recorded, the duplicate invoice voided, the re-charge's payment
//! recorded). Kept as Chargeguard's own adjustments when no accounting system takes it;
//! pushed to the connected one, exactly once, when its approvers were shown it would be
//! (the approval's audit entry keeps `follow_ups`, the place, as it keeps a ledger fix's
//! `destination`).
//!
//! A pushed follow-up is an ordinary ledger-fix action, approved with its parent (the same
//! approvers, in the transaction that settles the parent), keyed `PARENT_KEY/refund`,
//! `/void`, `/payment` or `/reverse`, and executed right after it through `push`, with the
//! journal, recovery and guards every push has. One invoice holds one open action, so a
//! duplicate invoice whose charge the books recorded is undone in two steps: its payment
//! reversed (`/reverse`), and only once that succeeded the invoice voided (`/void`, made
//! by the settling of the first).
//!
//! It never pushes what was approved to stay by hand, nor anything to a place other than
//! the one shown: a connection changed since the approval keeps the follow-ups by hand.

use serde_json::{Value, json};

use super::push::Place;
use super::{ActionError, ActionState, Plan};
use crate::reconcile::Books;
use crate::records::LedgerKind;
use crate::store::{ActionRow, Adjustment, AdjustmentKind, MoveWith, NewAction, StoreTx};

/// The step of a duplicate's undoing that reverses its payment, before the void.
const REVERSE: &str = "/reverse";

/// Whether the action keyed `key` is a duplicate's reversal, which its invoice's void
/// follows (its guard checks that the void could go too).
pub(super) fn then_voids(key: &str) -> bool {
    key.ends_with(REVERSE)
}
/// The step that voids the invoice.
const VOID: &str = "/void";

/// Where the follow-ups of gateway action `plan` go, as its approvers see it: the connected
/// company, or `None` (Chargeguard's own adjustments, entered by hand). Every approval
/// keeps it (`follow_ups`, and which company, `follow_ups_id`).
pub(super) fn place(tx: &StoreTx<'_>, plan: &Plan) -> Result<Option<Place>, ActionError> {
    if matches!(plan, Plan::LedgerFix { .. }) {
        return Ok(None);
    }
    super::push::books_place(tx)
}

/// What each approval of action `id` kept as `field`, oldest first (`None` where one kept
/// nothing).
fn every_approval_says(
    tx: &StoreTx<'_>,
    id: i64,
    field: &str,
) -> Result<Vec<Option<String>>, ActionError> {
    Ok(tx
        .audit_entries_about(&format!("action:{id}"))?
        .iter()
        .filter(|e| e.event == "action_approval")
        .map(|e| {
            serde_json::from_str::<Value>(&e.details)
                .ok()
                .and_then(|d| d[field].as_str().map(str::to_string))
        })
        .collect())
}

/// Records the follow-ups `wanted` (key, fix) of gateway action `parent`, which just
/// succeeded, in its settling transaction: as actions for the connected company when the
/// approval said so and it takes every one of them, else as adjustments. What happened,
/// in words, for the parent's message (`None`: nothing to record).
pub(super) fn record(
    tx: &StoreTx<'_>,
    parent: &ActionRow,
    books: &Books,
    wanted: Vec<(String, Adjustment)>,
    by: &str,
    now: jiff::Timestamp,
) -> Result<Option<String>, ActionError> {
    if wanted.is_empty() {
        return Ok(None);
    }
    // Every approver, not only the last, was shown this company (two may approve a
    // refund, and the books may have been connected between them).
    let saw = every_approval_says(tx, parent.id, "follow_ups_id")?;
    let current = super::push::books_place(tx)?;
    if let Some(current) = &current
        && !saw.is_empty()
        && saw
            .iter()
            .all(|s| s.as_deref() == Some(current.id.as_str()))
        && let Some(steps) = in_the_books(books, &wanted)
        && steps.iter().all(|(_, a)| pushes_to(tx, a, &current.words))
    {
        let (key, first) = &steps[0];
        if made(insert_approved(
            tx,
            parent,
            &parent.approvers,
            key,
            first,
            current,
            by,
            now,
        ))? {
            return Ok(Some(format!("its books' side goes to {}", current.words)));
        }
    }
    for (key, adjustment) in &wanted {
        tx.insert_adjustment(parent.id, key, adjustment, now)?;
    }
    let approved = every_approval_says(tx, parent.id, "follow_ups")?
        .into_iter()
        .flatten()
        .next_back();
    Ok(Some(match approved {
        Some(place) if current.as_ref().map(|c| &c.words) != Some(&place) => format!(
            "its books' side was approved for {place}, which is no longer connected: it is kept as Chargeguard's adjustments, enter it in your books by hand"
        ),
        Some(_) if current.is_some() => "not every approver was shown where its books' side would be written: it is kept as Chargeguard's adjustments, enter it in your books by hand".into(),
        _ => {
            "its books' side is kept as Chargeguard's adjustments (enter it in your books by hand)"
                .into()
        }
    }))
}

/// The follow-ups as the books take them, in order. A duplicate invoice the books hold a
/// payment of its refunded charge on is undone there: that payment reversed, then the
/// invoice voided (the refund itself is not recorded: nothing was sold, nothing kept). `None`
/// when the payment cannot be told (none, or several).
fn in_the_books(
    books: &Books,
    wanted: &[(String, Adjustment)],
) -> Option<Vec<(String, Adjustment)>> {
    let void = wanted
        .iter()
        .find(|(_, a)| a.kind == AdjustmentKind::VoidInvoice);
    let refund = wanted
        .iter()
        .find(|(_, a)| a.kind == AdjustmentKind::RecordRefund);
    let (Some((void_key, void)), Some((_, refund))) = (void, refund) else {
        return Some(wanted.to_vec());
    };
    let charge = refund.gateway_id.as_deref()?;
    let intent = books
        .charges
        .iter()
        .find(|c| c.id == charge)
        .and_then(|c| c.payment_intent.as_deref());
    let recording: Vec<_> = books
        .ledger
        .iter()
        .filter(|e| e.kind == LedgerKind::Payment && e.invoice_number == void.invoice_number)
        .filter(|e| {
            e.gateway_id
                .as_deref()
                .is_some_and(|g| g == charge || Some(g) == intent)
        })
        .collect();
    let [payment] = recording.as_slice() else {
        return None;
    };
    if payment.amount != refund.amount {
        return None;
    }
    let parent_key = void_key.strip_suffix(VOID)?;
    Some(vec![
        (
            format!("{parent_key}{REVERSE}"),
            Adjustment {
                kind: AdjustmentKind::ReversePayment,
                invoice_number: void.invoice_number.clone(),
                payment_id: Some(payment.payment_id.clone()),
                gateway_id: Some(charge.to_string()),
                amount: payment.amount,
                effective_at: void.effective_at,
            },
        ),
        (void_key.clone(), void.clone()),
    ])
}

/// Whether the connected company, `place`, takes `adjustment` (else it is entered by hand).
fn pushes_to(tx: &StoreTx<'_>, adjustment: &Adjustment, place: &str) -> bool {
    let plan = Plan::LedgerFix {
        adjustment: adjustment.clone(),
    };
    super::push::destination(tx, &plan, None).is_ok_and(|d| d.words == place)
}

/// A follow-up as an approved ledger-fix action: approved with `parent` by `approvers`, for
/// `place`, audited as such: made by `by` (whoever settled the parent), the approvers it
/// inherits named as data.
#[allow(clippy::too_many_arguments)]
fn insert_approved(
    tx: &StoreTx<'_>,
    parent: &ActionRow,
    approvers: &[String],
    key: &str,
    adjustment: &Adjustment,
    place: &Place,
    by: &str,
    now: jiff::Timestamp,
) -> Result<i64, ActionError> {
    let plan = Plan::LedgerFix {
        adjustment: adjustment.clone(),
    };
    let id = tx.insert_action(
        &NewAction {
            plan: &plan,
            finding_id: None,
            finding_snapshot: None,
            idempotency_key: key,
            attempt: 1,
            proposed_by: &parent.proposed_by,
        },
        now,
    )?;
    let about = format!("action:{id}");
    tx.append_audit(
        now,
        by,
        "action_proposed",
        &about,
        &json!({
            "kind": plan.kind().as_str(),
            "plan": plan,
            "describe": plan.describe(),
            "key": key,
            "follow_up_of": parent.id,
        }),
    )?;
    for approver in approvers {
        tx.add_approval(id, approver, now)?;
    }
    tx.move_action(
        id,
        ActionState::Proposed,
        ActionState::Approved,
        now,
        MoveWith::default(),
    )?;
    tx.append_audit(
        now,
        by,
        "action_approved",
        &about,
        &json!({
            "approvers": approvers,
            "destination": place.words,
            "destination_id": place.id,
            "follow_up_of": parent.id,
        }),
    )?;
    Ok(id)
}

/// After follow-up `done` succeeded in the books, the next step of its parent's, approved
/// alike: a duplicate's payment reversed is followed by the invoice's void.
pub(super) fn next(
    tx: &StoreTx<'_>,
    done: &ActionRow,
    by: &str,
    now: jiff::Timestamp,
) -> Result<(), ActionError> {
    let Some(parent_key) = done.idempotency_key.strip_suffix(REVERSE) else {
        return Ok(());
    };
    let Plan::LedgerFix { adjustment } = &done.plan else {
        return Ok(());
    };
    let void_key = format!("{parent_key}{VOID}");
    if tx.action_by_key(&void_key)?.is_some() {
        return Ok(());
    }
    let Some(parent) = tx.action_by_key(parent_key)? else {
        return Ok(());
    };
    // An approval from before the company's identity was kept names it by words alone:
    // the company connected now, if those are its words (the reversal just went there).
    // Else the void is entered by hand, never dropped.
    let words = approval_says(tx, done.id, "destination")?;
    let place = match (words, approval_says(tx, done.id, "destination_id")?) {
        (Some(words), Some(id)) => Some(Place { words, id }),
        (Some(words), None) => super::push::books_place(tx)?.filter(|p| p.words == words),
        (None, _) => None,
    };
    let Some(place) = place else {
        tx.insert_adjustment(parent.id, &void_key, &void_of(adjustment), now)?;
        return Ok(());
    };
    let void = void_of(adjustment);
    if !made(insert_approved(
        tx,
        &parent,
        &done.approvers,
        &void_key,
        &void,
        &place,
        by,
        now,
    ))? {
        tx.insert_adjustment(parent.id, &void_key, &void, now)?;
    }
    Ok(())
}

/// Whether a follow-up action was made. Another open action holding its invoice or charge
/// (none can: its refund held both until this transaction) keeps the step by hand rather
/// than failing the transaction that records a refund Stripe made; the refused insert
/// wrote nothing.
fn made(inserted: Result<i64, ActionError>) -> Result<bool, ActionError> {
    match inserted {
        Ok(_) => Ok(true),
        Err(ActionError::Store(crate::store::StoreError::TargetBusy(_))) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What the approval of action `id` kept as `field`: where its approvers were shown a
/// ledger fix (`destination`) or a gateway action's follow-ups (`follow_ups`) go.
pub(super) fn approval_says(
    tx: &StoreTx<'_>,
    id: i64,
    field: &str,
) -> Result<Option<String>, ActionError> {
    Ok(tx
        .audit_entries_about(&format!("action:{id}"))?
        .iter()
        .rev()
        .find(|e| e.event == "action_approved")
        .and_then(|e| serde_json::from_str::<Value>(&e.details).ok())
        .and_then(|d| d[field].as_str().map(str::to_string)))
}

/// Every follow-up still waiting to go whose gateway action succeeded, oldest first.
pub(super) fn all_waiting(tx: &StoreTx<'_>) -> Result<Vec<ActionRow>, crate::store::StoreError> {
    let mut waiting = Vec::new();
    for action in tx.actions(Some(&[ActionState::Approved]))? {
        let parent = parent_of(tx, &action)?;
        if parent.is_some_and(|p| p.state == ActionState::Succeeded) {
            waiting.push(action);
        }
    }
    waiting.sort_by_key(|a| a.id);
    Ok(waiting)
}

/// The void of the invoice a duplicate's reversal `adjustment` took the payment off.
fn void_of(adjustment: &Adjustment) -> Adjustment {
    Adjustment {
        kind: AdjustmentKind::VoidInvoice,
        invoice_number: adjustment.invoice_number.clone(),
        payment_id: None,
        gateway_id: None,
        amount: crate::money::Money::zero(adjustment.amount.currency()),
        effective_at: adjustment.effective_at,
    }
}

/// The follow-ups of gateway action `parent`, in any state, oldest first.
pub(super) fn of_parent(
    tx: &StoreTx<'_>,
    parent: &ActionRow,
) -> Result<Vec<ActionRow>, ActionError> {
    let prefix = format!("{}/", parent.idempotency_key);
    let mut all: Vec<ActionRow> = tx
        .actions(None)?
        .into_iter()
        .filter(|a| a.idempotency_key.starts_with(&prefix))
        .collect();
    all.sort_by_key(|a| a.id);
    Ok(all)
}

/// The refund or re-charge whose books' side `action` is, by id: what the screens show
/// beside it.
pub fn follow_up_of(
    tx: &StoreTx<'_>,
    action: &ActionRow,
) -> Result<Option<i64>, crate::store::StoreError> {
    Ok(parent_of(tx, action)?.map(|p| p.id))
}

/// Whether `action` is a gateway action's follow-up (its books' side).
pub(super) fn is_follow_up(
    tx: &StoreTx<'_>,
    action: &ActionRow,
) -> Result<bool, crate::store::StoreError> {
    Ok(parent_of(tx, action)?.is_some())
}

/// The gateway action whose follow-up `action` is (by its key, `PARENT_KEY/step`), if any.
fn parent_of(
    tx: &StoreTx<'_>,
    action: &ActionRow,
) -> Result<Option<ActionRow>, crate::store::StoreError> {
    if !matches!(action.plan, Plan::LedgerFix { .. }) {
        return Ok(None);
    }
    let Some((parent_key, step)) = action.idempotency_key.rsplit_once('/') else {
        return Ok(None);
    };
    if !matches!(step, "refund" | "void" | "reverse" | "payment") {
        return Ok(None);
    }
    Ok(tx
        .action_by_key(parent_key)?
        .filter(|p| !matches!(p.plan, Plan::LedgerFix { .. })))
}

/// Why a follow-up ended without this action making it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// It was not made (its guard or the books refused it, a person cancelled it): what it
    /// had to do is still to do.
    NotMade,
    /// Its guard found the books already showing it (the payment already gone, the invoice
    /// already void, the refund or payment already there): only what follows it is left.
    AlreadyThere,
}

/// Follow-up `action` ended without being made in the books: what was still to do there
/// becomes Chargeguard's adjustments, as if it had never been pushed, so the books' side is
/// entered by hand rather than lost, and what the books already show is not counted twice.
/// A reversal not made leaves the refund and the void, one already there the void alone; a
/// void (its reversal made) leaves the void; any other its own fix; nothing when already
/// there. Nothing for an action that is not a follow-up. In the caller's transaction, with
/// the move.
pub(super) fn fell_through(
    tx: &StoreTx<'_>,
    action: &ActionRow,
    ended: Ended,
    now: jiff::Timestamp,
) -> Result<(), ActionError> {
    let (Some(parent), Plan::LedgerFix { adjustment }) = (parent_of(tx, action)?, &action.plan)
    else {
        return Ok(());
    };
    let mut left = match ended {
        Ended::NotMade => vec![(action.idempotency_key.clone(), adjustment.clone())],
        Ended::AlreadyThere => Vec::new(),
    };
    if let Some(parent_key) = action.idempotency_key.strip_suffix(REVERSE) {
        let void = (format!("{parent_key}{VOID}"), void_of(adjustment));
        let refund = (
            format!("{parent_key}/refund"),
            Adjustment {
                kind: AdjustmentKind::RecordRefund,
                payment_id: None,
                ..adjustment.clone()
            },
        );
        left = match ended {
            Ended::NotMade => vec![refund, void],
            Ended::AlreadyThere => vec![void],
        };
    }
    if left.is_empty() {
        return Ok(());
    }
    for (key, adjustment) in &left {
        tx.insert_adjustment(parent.id, key, adjustment, now)?;
    }
    tx.append_audit(
        now,
        "chargeguard",
        "follow_up_by_hand",
        &format!("action:{}", action.id),
        &json!({
            "follow_up_of": parent.id,
            "adjustments": left.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        }),
    )?;
    Ok(())
}
