//! A ledger fix pushed out to the accounting system the store is connected to, exactly
//! once: a payment recorded on its invoice, a payment the books hold for a charge that
//! never succeeded undone (voided in QuickBooks Online, deleted in Xero), a duplicate
//! invoice voided (a refund's follow-up, `follow_up`), or a refund the gateway made
//! recorded (a refund receipt in QuickBooks; a credit note paid back in Xero,
//! two writes journaled together and finished by recovery when only the first was made). Each system's
//! reads, requests and answers are its own module (`quickbooks`, `xero`); the lifecycle
//! here is the same for both.
//!
//! The lifecycle is a refund's (`execute`): the guards read the system, not only the store
//! (the invoice is still there, open, owing at least the amount; no payment for this
//! charge is there already; the date is after the books' closing or lock date); the
//! request — how, where, the exact body — is journaled with `executing` before a byte
//! leaves; the answer is settled in one transaction, the payment stored as a sync would
//! store it (so the next sync finds it unchanged and reconcile sees the charge recorded).
//! The system refusing it (a validation error, a closed period) is `failed`; anything else
//! is `unknown`, for recovery.
//!
//! The journal's key travels as QuickBooks' `requestid` or Xero's `Idempotency-Key` (each
//! answers a key it has seen with the first answer, for a while) and, for a payment
//! recorded, inside the object (QuickBooks' `PrivateNote`, Xero's `Reference`), since
//! neither remembers a key for ever. Recovery finds the payment carrying the key (an undo
//! it reads from the payment itself); only when it finds nothing done, the first send has
//! had a call's time (a dead process's request may still be there) and is under 23 hours
//! old, it sends the journaled request again, same key, same bytes. Never under another
//! key, never to another company than the journaled one, and a refusal of that second
//! send, or an answer that is not this action's, goes to a person (`needs_review`) rather
//! than `failed` or `succeeded`.
//!
//! It must never push what the bookkeeper did not approve, nor guess an outcome.

mod quickbooks;
mod xero;

use std::time::Duration;

use serde_json::{Value, json};

use super::execute::{Executed, crash_point, guard_refused, journal_sending};
use super::follow_up::Ended;
use super::recovery::REPLAY_WINDOW_SECONDS;
use super::{ActionError, ActionState, Plan};
use crate::accounting_sync::{AccountingError, System, connected_system};
use crate::store::{ActionRow, Adjustment, AdjustmentKind, MoveWith, Resolution, Sending, Store};
use quickbooks::Qbo;
use xero::Xero;

/// Whether this fix is pushed to the accounting system rather than kept as Chargeguard's
/// own adjustment: the store is connected to QuickBooks or Xero and the fix records a
/// payment, or reverses one that came from there, or records a refund of a charge, or
/// voids an invoice. A corrected amount is still an adjustment the bookkeeper enters
/// there by hand.
pub(crate) fn pushes(store: &mut Store, adjustment: &Adjustment) -> Result<bool, ActionError> {
    match connected_system(store) {
        Ok(Some(system)) => Ok(pushable(system, adjustment)),
        Ok(None) => Ok(false),
        Err(AccountingError::Store(e)) => Err(e.into()),
        Err(e) => Err(ActionError::BooksUnavailable(e)),
    }
}

fn pushable(system: System, adjustment: &Adjustment) -> bool {
    match system {
        System::Quickbooks => quickbooks::Target::of(adjustment).is_some(),
        System::Xero => xero::Target::of(adjustment).is_some(),
    }
}

/// Where an action's effect is written, for the screens: the gateway, the connected
/// company, or Chargeguard's own adjustments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Plain words: "Stripe", "QuickBooks company 4620…", "Xero organisation …",
    /// "Chargeguard's ledger adjustments (enter it in your books by hand)".
    pub words: String,
    /// For a payment made or voided, or a refund receipt made, in QuickBooks: its page
    /// there, when it has one.
    pub link: Option<String>,
}

/// Where a ledger fix goes when no accounting system takes it.
const BY_HAND: &str = "Chargeguard's ledger adjustments (enter it in your books by hand)";

/// Refuses to write approved ledger fix `action` anywhere but where its approvers were
/// shown it would go (kept in the approval's audit entry): a store connected to (or
/// disconnected from) an accounting system since then must propose it again. An approval
/// from before destinations were kept is honoured only where nothing is pushed.
pub(crate) fn refuse_if_moved(store: &mut Store, action: &ActionRow) -> Result<(), ActionError> {
    let id = action.id;
    let (approved, approved_id, now, now_id) = store.read(|tx| {
        let approved = super::follow_up::approval_says(tx, id, "destination")?;
        let approved_id = super::follow_up::approval_says(tx, id, "destination_id")?;
        let now = destination(tx, &action.plan, None)?.words;
        let now_id = (now != BY_HAND)
            .then(|| books_place(tx))
            .transpose()?
            .flatten()
            .map(|p| p.id);
        Ok::<_, ActionError>((approved, approved_id, now, now_id))
    })?;
    // The same words may name another company (a Xero organisation of the same name):
    // where the approval kept which one, it must be the one connected now.
    let same_company = approved_id.is_none() || approved_id == now_id;
    match approved {
        Some(approved) if approved == now && same_company => Ok(()),
        None if now == BY_HAND => Ok(()),
        Some(approved) => Err(ActionError::Refused(format!(
            "action {id} was approved to be written to {approved}, and would now go to {now}{} (the books' connection changed since): nothing was written; cancel it and propose the fix again",
            if approved == now {
                ", another company of that name"
            } else {
                ""
            }
        ))),
        None => Err(ActionError::Refused(format!(
            "action {id} was approved before Chargeguard showed where a fix is written, and would now go to {now}: nothing was written; cancel it and propose the fix again, so its approvers see where"
        ))),
    }
}

/// The connected accounting company: in the bookkeeper's words, and which one it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    /// "QuickBooks company …", "Xero organisation …".
    pub words: String,
    /// The system, the company's id there and where its API is: what an approval keeps so
    /// that a company of the same name (a Xero organisation made again) is not taken for it.
    pub id: String,
}

/// The connected accounting company, or `None`.
pub(crate) fn books_place(tx: &crate::store::StoreTx<'_>) -> Result<Option<Place>, ActionError> {
    if let Some(c) =
        crate::accounting_sync::qbo_connection::read_connection(tx).map_err(unavailable)?
    {
        return Ok(Some(Place {
            words: format!("QuickBooks company {}", c.realm),
            id: format!("quickbooks:{}@{}", c.realm, c.endpoints.api_base),
        }));
    }
    Ok(crate::accounting_sync::xero_connection::read_connection(tx)
        .map_err(unavailable)?
        .map(|c| Place {
            words: format!("Xero organisation {}", c.tenant.name),
            id: format!("xero:{}@{}", c.tenant.id, c.endpoints.api_base),
        }))
}

/// The connected accounting company in the bookkeeper's words, or `None`.
pub(crate) fn books_words(tx: &crate::store::StoreTx<'_>) -> Result<Option<String>, ActionError> {
    Ok(books_place(tx)?.map(|p| p.words))
}

fn unavailable(e: AccountingError) -> ActionError {
    match e {
        AccountingError::Store(s) => ActionError::Store(s),
        other => ActionError::BooksUnavailable(other),
    }
}

/// Where `plan` writes; `made` is the object a succeeded action made, as journaled. A
/// refund or re-charge goes to Stripe, and what it changes in the ledger (its follow-ups)
/// to the connected company.
pub fn destination(
    tx: &crate::store::StoreTx<'_>,
    plan: &Plan,
    made: Option<&str>,
) -> Result<Destination, ActionError> {
    let adjustment = match plan {
        Plan::LedgerFix { adjustment } => adjustment,
        _ => {
            return Ok(Destination {
                words: match books_words(tx)? {
                    Some(place) => format!("Stripe, then {place} for the books' side"),
                    None => "Stripe".into(),
                },
                link: None,
            });
        }
    };
    let by_hand = Destination {
        words: BY_HAND.into(),
        link: None,
    };
    if let Some(c) =
        crate::accounting_sync::qbo_connection::read_connection(tx).map_err(unavailable)?
    {
        if !pushable(System::Quickbooks, adjustment) {
            return Ok(by_hand);
        }
        return Ok(Destination {
            words: format!("QuickBooks company {}", c.realm),
            link: made
                .and_then(|m| m.strip_prefix("quickbooks:"))
                .and_then(|m| m.split_once(':'))
                .and_then(|(entity, id)| c.endpoints.page(entity, id)),
        });
    }
    match crate::accounting_sync::xero_connection::read_connection(tx).map_err(unavailable)? {
        Some(c) if pushable(System::Xero, adjustment) => Ok(Destination {
            words: format!("Xero organisation {}", c.tenant.name),
            link: made
                .and_then(|m| m.strip_prefix("xero:"))
                .and_then(|m| m.split_once(':'))
                .zip(c.short_code.as_deref())
                .and_then(|((entity, id), code)| c.endpoints.page(code, entity, id)),
        }),
        _ => Ok(by_hand),
    }
}

/// A push ready to leave: how, where, and the exact bytes.
struct Prepared {
    method: &'static str,
    path: String,
    body: String,
}

enum Guarded {
    Refused(String),
    /// Refused because the books already show what the fix would do (the payment already
    /// voided or deleted, the invoice already void, a payment or refund for the charge
    /// already there): nothing of it is left to enter by hand.
    Done(String),
    Unavailable(AccountingError),
}

impl From<AccountingError> for Guarded {
    fn from(e: AccountingError) -> Self {
        Guarded::Unavailable(e)
    }
}

/// What an answer shows about the action: the object, what was done to it, and whether
/// it is this action's effect (its key, or the state the action leaves it in).
struct Effect {
    object: String,
    /// `quickbooks:payment:ID`, `quickbooks:refund_receipt:ID`, `xero:payment:ID`: the
    /// action's `gateway_object_id`.
    object_id: String,
    /// The object's entity as the system names it (`Payment`, `RefundReceipt`).
    entity: &'static str,
    /// The object in the bookkeeper's words ("payment", "refund receipt").
    noun: &'static str,
    done: &'static str,
    ours: bool,
}

/// What recovery read of an undecided push.
enum Found {
    /// The object showing the action's effect.
    Done(Value),
    /// Nothing done yet: the journaled request may go again.
    NotDone,
    /// The first of two writes done (Xero's credit note for a refund, as answered): the
    /// journaled second write may go.
    Unfinished(Value),
    /// Something a person must look at.
    Review(String),
    /// The system could not be asked: still unknown.
    Unavailable,
}

/// Whether a reference typed by hand names Stripe charge `charge`: the id, or the id cut
/// to what the field held (at least `ch_` and a dozen characters).
fn reference_names(reference: &str, charge: &str) -> bool {
    let reference = reference.trim();
    reference == charge || (reference.len() >= 15 && charge.starts_with(reference))
}

/// The connected accounting system, opened for one action.
enum Side {
    Quickbooks(Box<Qbo>),
    Xero(Box<Xero>),
}

impl Side {
    async fn open(
        store: &mut Store,
        timeout: Duration,
        now: jiff::Timestamp,
    ) -> Result<Side, AccountingError> {
        match connected_system(store)? {
            Some(System::Quickbooks) => Ok(Side::Quickbooks(Box::new(
                Qbo::open(store, timeout, now).await?,
            ))),
            Some(System::Xero) => Ok(Side::Xero(Box::new(Xero::open(store, timeout, now).await?))),
            None => Err(AccountingError::NotConnected),
        }
    }

    /// "QuickBooks company …", "Xero organisation …".
    fn words(&self) -> String {
        match self {
            Side::Quickbooks(q) => q.words(),
            Side::Xero(x) => x.words(),
        }
    }

    fn system(&self) -> &'static str {
        match self {
            Side::Quickbooks(_) => "quickbooks",
            Side::Xero(_) => "xero",
        }
    }

    fn sent_here(&self, path: &str) -> bool {
        match self {
            Side::Quickbooks(q) => q.sent_here(path),
            Side::Xero(x) => x.sent_here(path),
        }
    }

    async fn guard(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        match self {
            Side::Quickbooks(q) => q.guard(store, adjustment, key).await,
            Side::Xero(x) => x.guard(store, adjustment, key).await,
        }
    }

    async fn send(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        body: &str,
        key: &str,
    ) -> Result<Value, AccountingError> {
        crash_point!("execute.before_send");
        match self {
            Side::Quickbooks(q) => q.send(store, adjustment, body, key).await,
            Side::Xero(x) => x.send(store, adjustment, body, key).await,
        }
    }

    /// The second write of a two-write push whose first is `made`.
    async fn finish(
        &mut self,
        store: &mut Store,
        made: &Value,
        body: &str,
        key: &str,
    ) -> Result<Value, AccountingError> {
        match self {
            Side::Xero(x) => {
                let (_, second) = xero::refund_parts(body)?;
                x.finish(store, made, second, key).await
            }
            Side::Quickbooks(_) => Err(AccountingError::PushUnfinished(
                "QuickBooks' pushes are one write".into(),
            )),
        }
    }

    /// What `answer` shows of the action whose request the journal holds as `journaled`.
    fn effect(
        &self,
        adjustment: &Adjustment,
        answer: &Value,
        key: &str,
        journaled: &str,
    ) -> Effect {
        match self {
            Side::Quickbooks(q) => q.effect(adjustment, answer, key, journaled),
            Side::Xero(x) => x.effect(adjustment, answer, key, journaled),
        }
    }

    fn keep(
        &self,
        tx: &crate::store::StoreTx<'_>,
        adjustment: &Adjustment,
        answer: &Value,
        invoice: Option<&Value>,
        now: jiff::Timestamp,
    ) -> Result<(), AccountingError> {
        match self {
            Side::Quickbooks(q) => q.keep(tx, adjustment, answer, invoice, now),
            Side::Xero(x) => x.keep(tx, adjustment, answer, invoice, now),
        }
    }

    /// The invoice a payment pushed or undone changed, as the system holds it now; `None`
    /// for a refund (it changes no invoice), a void (the answer is the invoice) or when it
    /// cannot be read (the next sync brings it).
    async fn invoice_now(&mut self, store: &mut Store, adjustment: &Adjustment) -> Option<Value> {
        if matches!(
            adjustment.kind,
            AdjustmentKind::RecordRefund | AdjustmentKind::VoidInvoice
        ) {
            return None;
        }
        let number = adjustment.invoice_number.as_str();
        let read = match self {
            Side::Quickbooks(q) => q.invoice_there(store, number, "payment").await,
            Side::Xero(x) => x.invoice_there(store, number, "payment").await,
        };
        read.ok().map(|(_, row)| row)
    }

    fn refused(&self, e: &AccountingError) -> Option<String> {
        match self {
            Side::Quickbooks(_) => Qbo::refused(e),
            Side::Xero(_) => Xero::refused(e),
        }
    }

    async fn find(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
        first_sent: i64,
    ) -> Found {
        match self {
            Side::Quickbooks(q) => q.find(store, adjustment, key, first_sent).await,
            Side::Xero(x) => x.find(store, adjustment, key).await,
        }
    }
}

/// Pushes approved ledger fix `action`: guards, journal, send, settle. Each call to the
/// system may take `timeout` (the command's `--http-timeout`).
pub(crate) async fn execute(
    store: &mut Store,
    timeout: Duration,
    action: &ActionRow,
    adjustment: &Adjustment,
    by: &str,
    now: jiff::Timestamp,
) -> Result<Executed, ActionError> {
    let id = action.id;
    // The period may have been closed here since the fix was proposed.
    store.read(|tx| {
        super::journal::refuse_if_closed_at(tx, adjustment.effective_at, "a ledger fix dated")
    })?;
    let Some(_lease) = store.try_lease(id)? else {
        return Err(ActionError::AlreadyInProgress {
            target: format!("action {id}"),
            holder: Some(id),
        });
    };
    let mut side = Side::open(store, timeout, now)
        .await
        .map_err(ActionError::BooksUnavailable)?;
    let prepared = match side.guard(store, adjustment, &action.idempotency_key).await {
        Ok(prepared) => prepared,
        Err(Guarded::Refused(reason)) => {
            return Err(guard_refused(store, id, by, reason, Ended::NotMade, now)?);
        }
        Err(Guarded::Done(reason)) => {
            return Err(guard_refused(
                store,
                id,
                by,
                reason,
                Ended::AlreadyThere,
                now,
            )?);
        }
        Err(Guarded::Unavailable(e)) => return Err(ActionError::BooksUnavailable(e)),
    };

    crash_point!("execute.before_journal");
    journal_sending(
        store,
        action,
        Sending {
            method: prepared.method.into(),
            path: prepared.path.clone(),
            body: prepared.body.clone(),
            // When it leaves, not when the command began (the guards' calls, a throttle's
            // wait): recovery gives a request a call's time from here before sending again.
            first_sent_at: jiff::Timestamp::now().max(now),
        },
        by,
        now,
    )?;
    crash_point!("execute.after_journal");
    let answer = side
        .send(store, adjustment, &prepared.body, &action.idempotency_key)
        .await;
    crash_point!("execute.after_answer");
    settle(store, id, &mut side, answer, by, now).await
}

/// What `execute` would send for a fix that pushes, after the same guards.
pub(crate) async fn dry_run(
    store: &mut Store,
    timeout: Duration,
    action: &ActionRow,
    adjustment: &Adjustment,
) -> Result<Value, ActionError> {
    let mut side = Side::open(store, timeout, jiff::Timestamp::now())
        .await
        .map_err(ActionError::BooksUnavailable)?;
    match side.guard(store, adjustment, &action.idempotency_key).await {
        Ok(prepared) => Ok(json!({
            "action": action.id,
            "describe": action.plan.describe(),
            "state": action.state,
            "destination": side.words(),
            "method": prepared.method,
            "path": prepared.path,
            "idempotency_key": action.idempotency_key,
            "body": prepared.body,
        })),
        Err(Guarded::Refused(reason) | Guarded::Done(reason)) => Err(ActionError::Refused(
            format!("the guard would refuse: {reason}"),
        )),
        Err(Guarded::Unavailable(e)) => Err(ActionError::BooksUnavailable(e)),
    }
}

/// Records the outcome of a push (first send, replay, or found by its key).
async fn settle(
    store: &mut Store,
    id: i64,
    side: &mut Side,
    answer: Result<Value, AccountingError>,
    by: &str,
    now: jiff::Timestamp,
) -> Result<Executed, ActionError> {
    crash_point!("execute.before_settle");
    let action = store
        .read(|tx| tx.action(id))?
        .ok_or(ActionError::NotFound(id))?;
    let from = action.state;
    if !matches!(
        from,
        ActionState::Executing | ActionState::Unknown | ActionState::NeedsReview
    ) {
        return Ok(Executed {
            follow_ups: Vec::new(),
            message: format!(
                "action {id} was settled meanwhile by another window or process: {from}"
            ),
            action,
        });
    }
    let describe = action.plan.describe();
    let Plan::LedgerFix { adjustment } = &action.plan else {
        unreachable!("only ledger fixes are pushed");
    };
    let place = side.words();
    match answer {
        Ok(answer) => {
            let journaled = action.request_body.as_deref().unwrap_or_default();
            let effect = side.effect(adjustment, &answer, &action.idempotency_key, journaled);
            let (object, done, noun) = (&effect.object, effect.done, effect.noun);
            // What settles the action is checked, not assumed: an answer that is not the
            // object this action made (or undid) goes to a person, never `succeeded`.
            if !effect.ours {
                let why = format!(
                    "{place} answered with {noun} {object}, which does not show this action's effect (its key, or {done}): a person checks it there"
                );
                return review(store, id, from, &why, by, now, &describe);
            }
            // The invoice it paid (or made owed again) as the system holds it now, so the
            // store shows it at once rather than at the next sync.
            let invoice = side.invoice_now(store, adjustment).await;
            let (object, done, noun) = (&effect.object, effect.done, effect.noun);
            let written = store.write(|tx| {
                let outcome = json!({
                    "pushed_to": side.system(),
                    "company": place,
                    "entity": effect.entity,
                    "id": object,
                    "done": done,
                });
                tx.move_action(
                    id,
                    from,
                    ActionState::Succeeded,
                    now,
                    MoveWith {
                        gateway_object_id: Some(effect.object_id.clone()),
                        outcome: Some(outcome.clone()),
                        ..MoveWith::default()
                    },
                )?;
                side.keep(tx, adjustment, &answer, invoice.as_ref(), now)
                    .map_err(ActionError::BooksUnavailable)?;
                // A duplicate's payment reversed: its invoice's void is next.
                super::follow_up::next(tx, &action, by, now)?;
                if let Some(finding_id) = action.finding_id {
                    tx.resolve_finding(finding_id, Resolution::Fixed, now)?;
                }
                tx.append_audit(
                    now,
                    by,
                    "action_succeeded",
                    &format!("action:{id}"),
                    &outcome,
                )?;
                Ok(Executed {
                    follow_ups: Vec::new(),
                    message: format!("{describe} — {done} in {place}: {noun} {object}"),
                    action: tx.action(id)?.ok_or(ActionError::NotFound(id))?,
                })
            });
            match written {
                // Done there but not storable here (the invoice it pays is no longer
                // synced): a person looks, and recovery of the others goes on.
                Err(ActionError::BooksUnavailable(e)) => {
                    let why = format!(
                        "{noun} {object} was {done} in {place}, but the store could not take it ({e}): sync the books, then settle it"
                    );
                    review(store, id, from, &why, by, now, &describe)
                }
                other => other,
            }
        }
        // Half of a two-write push made and the other refused: not failed (something was
        // written), and sending it again would be refused again: a person decides.
        Err(AccountingError::PushUnfinished(why)) => {
            review(store, id, from, &why, by, now, &describe)
        }
        Err(e) => match side.refused(&e) {
            Some(why) => move_with_message(
                store,
                id,
                from,
                ActionState::Failed,
                &why,
                by,
                now,
                &describe,
            ),
            None => {
                let to = if from == ActionState::Executing {
                    ActionState::Unknown
                } else {
                    from
                };
                let why = format!(
                    "the outcome is not known yet ({e}); it may have been done. Nothing will be sent under another key: run `chargeguard recover` to settle it"
                );
                move_with_message(store, id, from, to, &why, by, now, &describe)
            }
        },
    }
}

/// Hands an undecided push to a person (`needs_review`), with why.
fn review(
    store: &mut Store,
    id: i64,
    from: ActionState,
    why: &str,
    by: &str,
    now: jiff::Timestamp,
    describe: &str,
) -> Result<Executed, ActionError> {
    if from == ActionState::Executing {
        move_with_message(
            store,
            id,
            from,
            ActionState::Unknown,
            why,
            by,
            now,
            describe,
        )?;
    }
    let from = if from == ActionState::Executing {
        ActionState::Unknown
    } else {
        from
    };
    move_with_message(
        store,
        id,
        from,
        ActionState::NeedsReview,
        why,
        by,
        now,
        describe,
    )
}

#[allow(clippy::too_many_arguments)]
fn move_with_message(
    store: &mut Store,
    id: i64,
    from: ActionState,
    to: ActionState,
    why: &str,
    by: &str,
    now: jiff::Timestamp,
    describe: &str,
) -> Result<Executed, ActionError> {
    store.write(|tx| {
        if to != from {
            tx.move_action(
                id,
                from,
                to,
                now,
                MoveWith::outcome(json!({ "error": why })),
            )?;
            // The books refused a refund's books' side: it is entered by hand.
            if to == ActionState::Failed
                && let Some(action) = tx.action(id)?
            {
                super::follow_up::fell_through(tx, &action, Ended::NotMade, now)?;
            }
            tx.append_audit(
                now,
                by,
                &format!("action_{to}"),
                &format!("action:{id}"),
                &json!({ "error": why }),
            )?;
        }
        Ok(Executed {
            follow_ups: Vec::new(),
            message: format!("{describe} — {why}"),
            action: tx.action(id)?.ok_or(ActionError::NotFound(id))?,
        })
    })
}

/// Decides an undecided push (its lease held by the caller, moved to `unknown`): found by
/// its key (or its object's state), settled from it; else replayed within the window; else
/// a person's review.
pub(crate) async fn recover(
    store: &mut Store,
    timeout: Duration,
    action: ActionRow,
    now: jiff::Timestamp,
) -> Result<ActionRow, ActionError> {
    let id = action.id;
    let current = |store: &mut Store| {
        store
            .read(|tx| tx.action(id))?
            .ok_or(ActionError::NotFound(id))
    };
    let (Some(body), Some(first_sent)) = (action.request_body.clone(), action.first_sent_at) else {
        return super::recovery::to_review(store, id, "the journal holds no request for it", now);
    };
    // A request younger than a call's time may still be at the system, which says nothing
    // of two requests with one key at once: nothing is asked of it or sent again yet (a
    // question now could not settle it, and each one counts against the system's rate
    // limit, which a recover run again and again would spend).
    if now.as_second() - first_sent < i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX).max(1) {
        return current(store);
    }
    // The system cannot be asked now: still unknown, try again later.
    let Ok(mut side) = Side::open(store, timeout, now).await else {
        return current(store);
    };
    let Plan::LedgerFix { adjustment } = &action.plan else {
        unreachable!("only ledger fixes are pushed");
    };
    // Only the company it was sent to can say what became of it.
    if !action
        .request_path
        .as_deref()
        .is_some_and(|p| side.sent_here(p))
    {
        let why = format!(
            "it was sent to another company than the one connected now ({}): a person checks that company",
            side.words()
        );
        return super::recovery::to_review(store, id, &why, now);
    }
    let key = &action.idempotency_key;
    match side.find(store, adjustment, key, first_sent).await {
        Found::Done(object) => Ok(settle(store, id, &mut side, Ok(object), "recovery", now)
            .await?
            .action),
        Found::Review(why) => super::recovery::to_review(store, id, &why, now),
        Found::Unavailable => current(store),
        found @ (Found::NotDone | Found::Unfinished(_)) => {
            let pending = Pending {
                action: &action,
                adjustment,
                body: &body,
                first_sent,
                made: match found {
                    Found::Unfinished(made) => Some(made),
                    _ => None,
                },
            };
            replay(store, &mut side, pending, now).await
        }
    }
}

/// An undecided push as the journal holds it.
struct Pending<'a> {
    action: &'a ActionRow,
    adjustment: &'a Adjustment,
    body: &'a str,
    first_sent: i64,
    /// What the first of two writes made, when only it was found: the second goes.
    made: Option<Value>,
}

/// Nothing done found: the journaled request again, same request id (idempotency key) and
/// bytes, while the system may still remember it; past that, a person's review.
async fn replay(
    store: &mut Store,
    side: &mut Side,
    p: Pending<'_>,
    now: jiff::Timestamp,
) -> Result<ActionRow, ActionError> {
    let id = p.action.id;
    // `recover` came here only once the first send has had a call's time.
    let waited = now.as_second() - p.first_sent;
    if waited < REPLAY_WINDOW_SECONDS {
        let key = &p.action.idempotency_key;
        // The system may have forgotten the key by now (Xero after six minutes), so the
        // journaled request may be a new write: it goes only while the guards still hold
        // (a payment entered by hand since, a lock date moved, goes to a person).
        match side.guard(store, p.adjustment, key).await {
            Ok(_) => {}
            Err(Guarded::Refused(reason) | Guarded::Done(reason)) => {
                let why = match &p.made {
                    Some(made) => format!(
                        "only the first of its two writes was found in {} ({}), and making the second is no longer right: {reason}",
                        side.words(),
                        made_words(made)
                    ),
                    None => format!(
                        "no trace of the first send was found in {}, and sending it again is no longer right: {reason}",
                        side.words()
                    ),
                };
                return super::recovery::to_review(store, id, &why, now);
            }
            Err(Guarded::Unavailable(_)) => {
                return store
                    .read(|tx| tx.action(id))?
                    .ok_or(ActionError::NotFound(id));
            }
        }
        let answer = match &p.made {
            Some(made) => side.finish(store, made, p.body, key).await,
            None => side.send(store, p.adjustment, p.body, key).await,
        };
        // Half of a two-write push made and the other refused: a person decides.
        if let Err(AccountingError::PushUnfinished(why)) = &answer {
            return super::recovery::to_review(store, id, why, now);
        }
        // A refusal of the second send does not say the first never happened (the system
        // may refuse a payment the first one already applied): a person decides.
        if let Err(e) = &answer
            && side.refused(e).is_some()
        {
            let why = format!(
                "sent again after no trace of the first was found, {} refused it ({e}): a person checks whether the first went through",
                side.words()
            );
            return super::recovery::to_review(store, id, &why, now);
        }
        return Ok(settle(store, id, side, answer, "recovery", now)
            .await?
            .action);
    }
    let why = match &p.made {
        Some(made) => format!(
            "{} shows only the first of its two writes ({}) and the second is too old to send safely",
            side.words(),
            made_words(made)
        ),
        None => format!(
            "{} shows nothing done under its key and the request is too old to send again safely",
            side.words()
        ),
    };
    super::recovery::to_review(store, id, &why, now)
}

/// The first write of a two-write push, as found, in words: Xero's credit note.
fn made_words(made: &Value) -> String {
    format!(
        "credit note {}",
        made["CreditNoteNumber"]
            .as_str()
            .or(made["CreditNoteID"].as_str())
            .unwrap_or("without a number")
    )
}

/// Whether a journaled ledger fix went out to the accounting system (its request kept).
pub(crate) fn was_pushed(action: &ActionRow) -> bool {
    action.request_path.is_some()
}
