//! A ledger fix pushed out to the accounting system the store is connected to, exactly
//! once: today, in QuickBooks Online, a payment recorded on its invoice, or a payment the
//! books hold for a charge that never succeeded voided.
//!
//! The lifecycle is a refund's (`execute`): the guards read QuickBooks, not only the store
//! (the invoice is still there, open, owing at least the amount; no payment for this
//! charge is there already; the date is after the company's closing date); the request —
//! path with its `requestid`, the exact body — is journaled with `executing` before a byte
//! leaves; the answer is settled in one transaction, the payment stored as a sync would
//! store it (so the next sync finds it unchanged and reconcile sees the charge recorded).
//! QuickBooks refusing it (a validation or business fault, 6210 for a closed period) is
//! `failed`; anything else is `unknown`, for recovery.
//!
//! The journal's key travels as the `requestid` (QuickBooks answers a request id it has
//! seen with the first answer) and, for a payment recorded, in its `PrivateNote`, since
//! nothing says how long QuickBooks remembers a request id. Recovery reads the payments
//! created since the first send and settles from the one carrying the key (a void it reads
//! from the payment itself: voided or not); only when it finds nothing done, the first
//! send has had a call's time at QuickBooks (a dead process's request may still be there)
//! and is under 23 hours old, it sends the journaled request again, same request id, same
//! bytes. Never under another key, never to another company than the journaled one, and a
//! refusal of that second send, or an answer that is not this action's, goes to a person
//! (`needs_review`) rather than `failed` or `succeeded`.
//!
//! It must never push what the bookkeeper did not approve, nor guess an outcome.

use std::time::Duration;

use serde_json::{Value, json};

use super::execute::{Executed, crash_point, guard_refused, journal_sending};
use super::recovery::REPLAY_WINDOW_SECONDS;
use super::{ActionError, ActionState, Plan};
use crate::accounting::qbo::{self as mapping, Company};
use crate::accounting_sync::qbo_connection::{SYSTEM, Session};
use crate::accounting_sync::quickbooks::{company, store_pushed_payment};
use crate::accounting_sync::session::Caller;
use crate::accounting_sync::{AccountingError, BooksSyncOptions, System, connected_system};
use crate::books::qbo::request_id;
use crate::money::Money;
use crate::records::InvoiceStatus;
use crate::secret::Keyring;
use crate::store::{
    AccountingBooks, ActionRow, Adjustment, AdjustmentKind, MoveWith, Resolution, Sending, Store,
};

/// How far before the first send recovery looks for the payment (QuickBooks' clock and
/// ours differ; its `CreateTime` has whole seconds).
const FIND_SLACK_SECONDS: i64 = 10 * 60;

/// Whether this fix is pushed to the accounting system rather than kept as Chargeguard's
/// own adjustment: the store is connected to QuickBooks and the fix records a payment, or
/// reverses one that came from there. The other kinds, and Xero, are still adjustments the
/// bookkeeper enters there by hand.
pub(crate) fn pushes(store: &mut Store, adjustment: &Adjustment) -> Result<bool, ActionError> {
    if !pushable(adjustment) {
        return Ok(false);
    }
    match connected_system(store) {
        Ok(system) => Ok(system == Some(System::Quickbooks)),
        Err(AccountingError::Store(e)) => Err(e.into()),
        Err(e) => Err(ActionError::BooksUnavailable(e)),
    }
}

fn pushable(adjustment: &Adjustment) -> bool {
    match adjustment.kind {
        AdjustmentKind::RecordPayment => true,
        AdjustmentKind::ReversePayment => voided_payment(adjustment).is_some(),
        _ => false,
    }
}

/// Where an action's effect is written, for the screens: the gateway, the connected
/// QuickBooks company, or Chargeguard's own adjustments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Plain words: "Stripe", "QuickBooks company 4620…", "Chargeguard's ledger
    /// adjustments (enter it in your books by hand)".
    pub words: String,
    /// For a payment made or voided in QuickBooks: its page there, when it has one.
    pub link: Option<String>,
}

/// Where `plan` writes; `made` is the object a succeeded action made, as journaled.
pub fn destination(
    tx: &crate::store::StoreTx<'_>,
    plan: &Plan,
    made: Option<&str>,
) -> Result<Destination, ActionError> {
    let adjustment = match plan {
        Plan::LedgerFix { adjustment } => adjustment,
        _ => {
            return Ok(Destination {
                words: "Stripe".into(),
                link: None,
            });
        }
    };
    let connection =
        crate::accounting_sync::qbo_connection::read_connection(tx).map_err(|e| match e {
            AccountingError::Store(s) => ActionError::Store(s),
            other => ActionError::BooksUnavailable(other),
        })?;
    match connection {
        Some(c) if pushable(adjustment) => Ok(Destination {
            words: format!("QuickBooks company {}", c.realm),
            link: made
                .and_then(|m| m.strip_prefix("quickbooks:payment:"))
                .and_then(|id| c.endpoints.payment_page(id)),
        }),
        _ => Ok(Destination {
            words: "Chargeguard's ledger adjustments (enter it in your books by hand)".into(),
            link: None,
        }),
    }
}

/// The QuickBooks payment a reversal voids: its ledger entry's id is `qbo:PAYMENT:INVOICE`.
fn voided_payment(adjustment: &Adjustment) -> Option<&str> {
    if adjustment.kind != AdjustmentKind::ReversePayment {
        return None;
    }
    let (payment, _invoice) = adjustment
        .payment_id
        .as_deref()?
        .strip_prefix("qbo:")?
        .split_once(':')?;
    Some(payment)
}

/// A push ready to leave: where, and the exact bytes.
struct Prepared {
    path: String,
    body: String,
}

enum Guarded {
    Refused(String),
    Unavailable(AccountingError),
}

impl From<AccountingError> for Guarded {
    fn from(e: AccountingError) -> Self {
        Guarded::Unavailable(e)
    }
}

/// The connection, opened for one action.
struct Connection {
    keyring: Keyring,
    session: Session,
}

impl Connection {
    async fn open(
        store: &mut Store,
        timeout: Duration,
        now: jiff::Timestamp,
    ) -> Result<Connection, AccountingError> {
        let keyring = Keyring::open()?;
        let session = Session::open(store, &keyring, timeout, now).await?;
        Ok(Connection { keyring, session })
    }

    fn realm(&self) -> String {
        self.session.connection.realm.clone()
    }

    fn caller(&mut self) -> Caller<'_, Session> {
        Caller {
            session: &mut self.session,
            keyring: &self.keyring,
            options: BooksSyncOptions::default(),
        }
    }

    /// The connection with the company as its objects read, and its preferences (the
    /// closing date): what the guards start from.
    async fn ready(
        store: &mut Store,
        timeout: Duration,
        now: jiff::Timestamp,
    ) -> Result<(Connection, Company, Value), ActionError> {
        let mut connection = Connection::open(store, timeout, now)
            .await
            .map_err(ActionError::BooksUnavailable)?;
        let (company, preferences) = connection
            .company(store)
            .await
            .map_err(ActionError::BooksUnavailable)?;
        Ok((connection, company, preferences))
    }

    async fn company(&mut self, store: &mut Store) -> Result<(Company, Value), AccountingError> {
        let preferences = self
            .caller()
            .call(store, |c| Box::pin(async move { c.preferences().await }))
            .await?;
        Ok((company(store, &preferences)?, preferences))
    }
}

/// Pushes approved ledger fix `action`: guards, journal, send, settle. Each call to
/// QuickBooks may take `timeout` (the command's `--http-timeout`).
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
    let (mut connection, company, preferences) = Connection::ready(store, timeout, now).await?;
    let prepared = match guard(
        store,
        &mut connection,
        &company,
        &preferences,
        adjustment,
        &action.idempotency_key,
    )
    .await
    {
        Ok(prepared) => prepared,
        Err(Guarded::Refused(reason)) => return Err(guard_refused(store, id, by, reason, now)?),
        Err(Guarded::Unavailable(e)) => return Err(ActionError::BooksUnavailable(e)),
    };

    crash_point!("execute.before_journal");
    journal_sending(
        store,
        action,
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
    let answer = send(
        store,
        &mut connection,
        adjustment,
        &prepared.body,
        &action.idempotency_key,
    )
    .await;
    crash_point!("execute.after_answer");
    settle(store, id, &connection.realm(), &company, answer, by, now)
}

/// What `execute` would send for a fix that pushes, after the same guards.
pub(crate) async fn dry_run(
    store: &mut Store,
    timeout: Duration,
    action: &ActionRow,
    adjustment: &Adjustment,
) -> Result<Value, ActionError> {
    let (mut connection, company, preferences) =
        Connection::ready(store, timeout, jiff::Timestamp::now()).await?;
    match guard(
        store,
        &mut connection,
        &company,
        &preferences,
        adjustment,
        &action.idempotency_key,
    )
    .await
    {
        Ok(prepared) => Ok(json!({
            "action": action.id,
            "describe": action.plan.describe(),
            "state": action.state,
            "destination": format!("QuickBooks company {}", connection.realm()),
            "method": "POST",
            "path": prepared.path,
            "idempotency_key": action.idempotency_key,
            "body": prepared.body,
        })),
        Err(Guarded::Refused(reason)) => Err(ActionError::Refused(format!(
            "the guard would refuse: {reason}"
        ))),
        Err(Guarded::Unavailable(e)) => Err(ActionError::BooksUnavailable(e)),
    }
}

/// The guards, read from QuickBooks; on success, the request.
async fn guard(
    store: &mut Store,
    connection: &mut Connection,
    company: &Company,
    preferences: &Value,
    adjustment: &Adjustment,
    key: &str,
) -> Result<Prepared, Guarded> {
    match voided_payment(adjustment) {
        Some(payment) => guard_void(store, connection, preferences, adjustment, payment, key).await,
        None => guard_record(store, connection, company, preferences, adjustment, key).await,
    }
}

/// Voiding payment `payment`: it is still there, not voided, paying only this invoice
/// the amount the fix reverses, and dated after the closing date.
async fn guard_void(
    store: &mut Store,
    connection: &mut Connection,
    preferences: &Value,
    adjustment: &Adjustment,
    payment: &str,
    key: &str,
) -> Result<Prepared, Guarded> {
    let realm = connection.realm();
    let number = adjustment.invoice_number.as_str();
    let row = match read_payment(store, connection, payment).await {
        Ok(row) => row,
        Err(AccountingError::Qbo(e)) if e.fault_code() == Some("610") => {
            return Err(Guarded::Refused(format!(
                "QuickBooks no longer has payment {payment} (it was deleted there); sync the books and reconcile again"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if is_voided(&row) {
        return Err(Guarded::Refused(format!(
            "payment {payment} is already voided in QuickBooks; sync the books and reconcile again"
        )));
    }
    let invoice_id = adjustment
        .payment_id
        .as_deref()
        .and_then(|p| p.rsplit_once(':'))
        .map(|(_, i)| i)
        .unwrap_or_default();
    let others: Vec<String> = row["Line"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["LinkedTxn"].as_array().into_iter().flatten())
        .filter(|t| t["TxnId"].as_str() != Some(invoice_id))
        .filter_map(|t| t["TxnId"].as_str().map(str::to_string))
        .collect();
    if !others.is_empty() {
        return Err(Guarded::Refused(format!(
            "payment {payment} in QuickBooks also pays other transactions ({}); take its part off invoice {number} there by hand",
            others.join(", ")
        )));
    }
    let total = row["TotalAmt"].to_string();
    let currency = adjustment.amount.currency();
    if Money::parse(&total, currency, crate::money::Sign::NonNegative).ok()
        != Some(adjustment.amount)
    {
        return Err(Guarded::Refused(format!(
            "payment {payment} in QuickBooks is for {total} now, not the {} this fix reverses: it changed since the last sync; sync the books and reconcile again",
            adjustment.amount
        )));
    }
    if let (Some(closed), Some(dated)) = (
        closing_date(preferences),
        row["TxnDate"]
            .as_str()
            .and_then(|d| d.parse::<jiff::civil::Date>().ok()),
    ) && dated <= closed
    {
        return Err(Guarded::Refused(format!(
            "QuickBooks' books are closed through {closed} (the company's closing date), and payment {payment} is dated {dated}: reopen that period in QuickBooks, or reverse it there by hand in an open period"
        )));
    }
    let body = json!({"Id": payment, "SyncToken": row["SyncToken"], "sparse": true});
    Ok(Prepared {
        path: format!(
            "/v3/company/{realm}/payment?operation=update&include=void&requestid={}",
            request_id(key)
        ),
        body: body.to_string(),
    })
}

fn is_voided(payment: &Value) -> bool {
    payment["PrivateNote"]
        .as_str()
        .is_some_and(|n| n.starts_with("Voided"))
}

fn closing_date(preferences: &Value) -> Option<jiff::civil::Date> {
    preferences["AccountingInfoPrefs"]["BookCloseDate"]
        .as_str()?
        .parse()
        .ok()
}

async fn read_payment(
    store: &mut Store,
    connection: &mut Connection,
    payment: &str,
) -> Result<Value, AccountingError> {
    connection
        .caller()
        .call(store, |c| {
            let id = payment.to_string();
            Box::pin(async move { c.read("Payment", &id).await })
        })
        .await
}

/// Recording a payment on its invoice.
async fn guard_record(
    store: &mut Store,
    connection: &mut Connection,
    company: &Company,
    preferences: &Value,
    adjustment: &Adjustment,
    key: &str,
) -> Result<Prepared, Guarded> {
    let realm = connection.realm();
    let number = adjustment.invoice_number.as_str();
    let books = AccountingBooks {
        system: SYSTEM,
        company: &realm,
    };
    let invoice_id = store
        .read(|tx| tx.accounting_object_id(books, "invoice", number))
        .map_err(AccountingError::from)?
        .ok_or_else(|| {
            Guarded::Refused(format!(
                "invoice {number} did not come from QuickBooks company {realm} (it was imported from a file): record the payment there by hand, or sync the books and propose again"
            ))
        })?;
    let read = connection
        .caller()
        .call(store, |c| {
            let id = invoice_id.clone();
            Box::pin(async move { c.read("Invoice", &id).await })
        })
        .await;
    let row = match read {
        Ok(row) => row,
        Err(AccountingError::Qbo(e)) if e.fault_code() == Some("610") => {
            return Err(Guarded::Refused(format!(
                "QuickBooks no longer has invoice {number} (it was deleted there); sync the books and reconcile again"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let invoice = mapping::invoice(company, &row).map_err(AccountingError::from)?;
    if invoice.status == InvoiceStatus::Void {
        return Err(Guarded::Refused(format!(
            "invoice {number} is void in QuickBooks; a payment cannot be recorded on it"
        )));
    }
    let currency = adjustment.amount.currency();
    if invoice.amount.currency() != currency {
        return Err(Guarded::Refused(format!(
            "invoice {number} is in {} in QuickBooks, the payment in {currency}",
            invoice.amount.currency()
        )));
    }
    let paid = invoice
        .stated_paid
        .unwrap_or_else(|| Money::zero(currency))
        .minor();
    let owing = Money::from_minor(invoice.amount.minor() - paid, currency);
    if owing.minor() < adjustment.amount.minor() {
        return Err(Guarded::Refused(format!(
            "QuickBooks shows invoice {number} owing {owing}, less than the {} this fix records: a payment was recorded there since the last sync; sync the books and reconcile again",
            adjustment.amount
        )));
    }
    let customer = row["CustomerRef"]["value"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            Guarded::Unavailable(AccountingError::Mapping(mapping::MappingError {
                entity: "invoice",
                id: invoice_id.clone(),
                field: "CustomerRef",
                reason: "is missing".into(),
            }))
        })?;
    if let Some(charge) = adjustment.gateway_id.as_deref()
        && let Some(held) = payment_for_charge(store, connection, &customer, charge).await?
    {
        return Err(Guarded::Refused(format!(
            "QuickBooks already holds payment {held} for charge {charge}; sync the books and reconcile again"
        )));
    }
    let day = jiff::Timestamp::from_second(adjustment.effective_at)
        .map_err(|e| Guarded::Refused(format!("the fix's date: {e}")))?
        .to_zoned(company.zone.clone())
        .date();
    if let Some(closed) = closing_date(preferences)
        && day <= closed
    {
        return Err(Guarded::Refused(format!(
            "QuickBooks' books are closed through {closed} (the company's closing date), and this payment is dated {day}: reopen that period in QuickBooks, or record it there by hand in an open period"
        )));
    }
    let amount = adjustment.amount.to_decimal_string();
    let mut body = json!({
        "CustomerRef": {"value": customer},
        "TxnDate": day.to_string(),
        "CurrencyRef": {"value": currency.code()},
        "PrivateNote": mapping::pushed_note(adjustment.gateway_id.as_deref(), key),
        "Line": [{"LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
    });
    // QuickBooks' documented reference number length is unknown; a Stripe id that may not
    // fit stays in the note alone.
    if let Some(charge) = adjustment.gateway_id.as_deref().filter(|c| c.len() <= 21) {
        body["PaymentRefNum"] = json!(charge);
    }
    Ok(Prepared {
        path: format!("/v3/company/{realm}/payment?requestid={}", request_id(key)),
        body: with_amounts(&body, &amount),
    })
}

/// The body's text with `TotalAmt` and the line's `Amount` as the exact decimal (JSON
/// numbers, as QuickBooks writes them; never through a float).
fn with_amounts(body: &Value, amount: &str) -> String {
    let mut text = body.to_string();
    assert!(text.starts_with('{') && text.ends_with('}'));
    // The line's amount goes first in its object, the total last in the body.
    text = text.replacen(
        "\"Line\":[{",
        &format!("\"Line\":[{{\"Amount\":{amount},"),
        1,
    );
    text.pop();
    format!("{text},\"TotalAmt\":{amount}}}")
}

/// A live payment of `customer` in QuickBooks that records `charge`, by id.
async fn payment_for_charge(
    store: &mut Store,
    connection: &mut Connection,
    customer: &str,
    charge: &str,
) -> Result<Option<String>, Guarded> {
    let condition = format!("CustomerRef = '{}'", customer.replace('\'', "\\'"));
    let payments = connection
        .caller()
        .call(store, |c| {
            let condition = condition.clone();
            Box::pin(async move { c.query_all("Payment", &condition, "Id", 1000).await })
        })
        .await?;
    Ok(payments
        .iter()
        .find(|p| !is_voided(p) && names_charge(p, charge))
        .and_then(|p| p["Id"].as_str().map(str::to_string)))
}

/// Whether a QuickBooks payment records Stripe charge `charge`: its reference number is
/// the id, or the id cut to what the field held when typed by hand (at least `ch_` and a
/// dozen characters: QuickBooks' documented length is not known), or Chargeguard's note
/// names it exactly.
fn names_charge(payment: &Value, charge: &str) -> bool {
    let reference = payment["PaymentRefNum"].as_str().unwrap_or("").trim();
    let cut = reference.len() >= 15 && charge.starts_with(reference);
    reference == charge || cut || mapping::charge_in_note(payment).as_deref() == Some(charge)
}

/// Sends the journaled body under the key's request id.
async fn send(
    store: &mut Store,
    connection: &mut Connection,
    adjustment: &Adjustment,
    body: &str,
    key: &str,
) -> Result<Value, AccountingError> {
    crash_point!("execute.before_send");
    let request = request_id(key);
    let operation: &'static [(&'static str, &'static str)] = match voided_payment(adjustment) {
        Some(_) => &[("operation", "update"), ("include", "void")],
        None => &[],
    };
    connection
        .caller()
        .call(store, |c| {
            let (body, request) = (body.to_string(), request.clone());
            Box::pin(async move { c.write("Payment", operation, &body, &request).await })
        })
        .await
}

/// Records the outcome of a push (first send, replay, or found by its key).
fn settle(
    store: &mut Store,
    id: i64,
    realm: &str,
    company: &Company,
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
    match answer {
        Ok(payment) => {
            let object = payment["Id"].as_str().unwrap_or_default().to_string();
            // What settles the action is checked, not assumed: an answer that is not the
            // payment this action made (or voided) goes to a person, never `succeeded`.
            let (done, ours) = match voided_payment(adjustment) {
                Some(target) => ("voided", object == target && is_voided(&payment)),
                None => (
                    "recorded",
                    mapping::carries_key(&payment, &action.idempotency_key),
                ),
            };
            if !ours {
                let why = format!(
                    "QuickBooks answered with payment {object}, which does not show this action's effect (its key, or voided): a person checks it in QuickBooks"
                );
                return review(store, id, from, &why, by, now, &describe);
            }
            let written = store.write(|tx| {
                let outcome = json!({
                    "pushed_to": "quickbooks",
                    "company": realm,
                    "entity": "Payment",
                    "id": object,
                    "done": done,
                });
                tx.move_action(
                    id,
                    from,
                    ActionState::Succeeded,
                    now,
                    MoveWith {
                        gateway_object_id: Some(format!("quickbooks:payment:{object}")),
                        outcome: Some(outcome.clone()),
                        ..MoveWith::default()
                    },
                )?;
                store_pushed_payment(tx, realm, company, &payment, now)
                    .map_err(ActionError::BooksUnavailable)?;
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
                    message: format!(
                        "{describe} — {done} in QuickBooks company {realm}: payment {object}"
                    ),
                    action: tx.action(id)?.ok_or(ActionError::NotFound(id))?,
                })
            });
            match written {
                // Done in QuickBooks but not storable here (the invoice it pays is no
                // longer synced): a person looks, and recovery of the others goes on.
                Err(ActionError::BooksUnavailable(e)) => {
                    let why = format!(
                        "payment {object} was {done} in QuickBooks, but the store could not take it ({e}): sync the books, then settle it"
                    );
                    review(store, id, from, &why, by, now, &describe)
                }
                other => other,
            }
        }
        Err(AccountingError::Qbo(e)) if e.is_definite() => {
            let why = match e.fault_code() {
                Some("6210") => format!(
                    "QuickBooks refused it: the period is closed there ({e}); reopen it in QuickBooks or record the payment by hand in an open period"
                ),
                _ => format!("QuickBooks refused it: {e}"),
            };
            move_with_message(
                store,
                id,
                from,
                ActionState::Failed,
                &why,
                by,
                now,
                &describe,
            )
        }
        Err(e) => {
            let to = if from == ActionState::Executing {
                ActionState::Unknown
            } else {
                from
            };
            let why = format!(
                "the outcome is not known yet ({e}); it may have been recorded. Nothing will be sent under another key: run `chargeguard recover` to settle it"
            );
            move_with_message(store, id, from, to, &why, by, now, &describe)
        }
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
            tx.append_audit(
                now,
                by,
                &format!("action_{to}"),
                &format!("action:{id}"),
                &json!({ "error": why }),
            )?;
        }
        Ok(Executed {
            message: format!("{describe} — {why}"),
            action: tx.action(id)?.ok_or(ActionError::NotFound(id))?,
        })
    })
}

/// Decides an undecided push (its lease held by the caller, moved to `unknown`): found by
/// its key, settled from it; else replayed within the window; else a person's review.
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
    // QuickBooks cannot be asked now: still unknown, try again later.
    let Ok(mut connection) = Connection::open(store, timeout, now).await else {
        return current(store);
    };
    let Ok((company, _)) = connection.company(store).await else {
        return current(store);
    };
    let realm = connection.realm();
    let Plan::LedgerFix { adjustment } = &action.plan else {
        unreachable!("only ledger fixes are pushed");
    };
    // Only the company it was sent to can say what became of it.
    let sent_to = format!("/v3/company/{realm}/");
    if !action
        .request_path
        .as_deref()
        .is_some_and(|p| p.starts_with(&sent_to))
    {
        let why = format!(
            "it was sent to another QuickBooks company than the one connected now ({realm}): a person checks that company"
        );
        return super::recovery::to_review(store, id, &why, now);
    }
    let pending = Pending {
        action: &action,
        adjustment,
        body: &body,
        first_sent,
        realm: &realm,
        company: &company,
        timeout,
    };
    if let Some(payment) = voided_payment(adjustment) {
        // A void is read from the payment: the guard saw it live, so voided means ours.
        match read_payment(store, &mut connection, payment).await {
            Ok(row) if is_voided(&row) => {
                return Ok(settle(store, id, &realm, &company, Ok(row), "recovery", now)?.action);
            }
            Ok(_) => return replay(store, &mut connection, pending, now).await,
            Err(AccountingError::Qbo(e)) if e.fault_code() == Some("610") => {
                let why = format!("QuickBooks payment {payment} was deleted there meanwhile");
                return super::recovery::to_review(store, id, &why, now);
            }
            Err(_) => return current(store),
        }
    }
    let since = jiff::Timestamp::from_second(first_sent - FIND_SLACK_SECONDS)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(company.zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    let condition = format!("MetaData.CreateTime >= '{since}'");
    let found = connection
        .caller()
        .call(store, |c| {
            let condition = condition.clone();
            Box::pin(async move {
                c.query_all("Payment", &condition, "MetaData.CreateTime", 1000)
                    .await
            })
        })
        .await;
    let Ok(found) = found else {
        return current(store);
    };
    let mut carrying: Vec<&Value> = found
        .iter()
        .filter(|p| mapping::carries_key(p, &action.idempotency_key))
        .collect();
    carrying.dedup_by(|a, b| a["Id"] == b["Id"]);
    match carrying.as_slice() {
        [one] => {
            let answer = Ok((*one).clone());
            return Ok(settle(store, id, &realm, &company, answer, "recovery", now)?.action);
        }
        [] => {}
        several => {
            let ids: Vec<&str> = several.iter().filter_map(|p| p["Id"].as_str()).collect();
            let why = format!(
                "QuickBooks holds {} payments carrying this action's key ({}): a person decides which stays",
                ids.len(),
                ids.join(", ")
            );
            return super::recovery::to_review(store, id, &why, now);
        }
    }
    replay(store, &mut connection, pending, now).await
}

/// An undecided push as the journal holds it.
struct Pending<'a> {
    action: &'a ActionRow,
    adjustment: &'a Adjustment,
    body: &'a str,
    first_sent: i64,
    realm: &'a str,
    company: &'a Company,
    /// How long a call may take: a request younger than this may still be at QuickBooks.
    timeout: Duration,
}

/// Nothing done found: the journaled request again, same request id and bytes, while
/// QuickBooks may still remember it; past that, a person's review.
async fn replay(
    store: &mut Store,
    connection: &mut Connection,
    p: Pending<'_>,
    now: jiff::Timestamp,
) -> Result<ActionRow, ActionError> {
    let id = p.action.id;
    // A request a dead process sent may still be at QuickBooks, which says nothing of two
    // requests with one request id at once: not sent again before it has had as long as a
    // call may take, and found by its key first.
    let waited = now.as_second() - p.first_sent;
    if waited
        < i64::try_from(p.timeout.as_secs())
            .unwrap_or(i64::MAX)
            .max(1)
    {
        return store
            .read(|tx| tx.action(id))?
            .ok_or(ActionError::NotFound(id));
    }
    if waited < REPLAY_WINDOW_SECONDS {
        let key = &p.action.idempotency_key;
        let answer = send(store, connection, p.adjustment, p.body, key).await;
        // A refusal of the second send does not say the first never happened (QuickBooks
        // may refuse a payment the first one already applied): a person decides.
        if let Err(AccountingError::Qbo(e)) = &answer
            && e.is_definite()
        {
            let why = format!(
                "sent again after no trace of the first was found, QuickBooks refused it ({e}): a person checks whether the first went through"
            );
            return super::recovery::to_review(store, id, &why, now);
        }
        return Ok(settle(store, id, p.realm, p.company, answer, "recovery", now)?.action);
    }
    super::recovery::to_review(
        store,
        id,
        "QuickBooks shows nothing done under its key and the request is too old to send again safely",
        now,
    )
}

/// Whether a journaled ledger fix went out to the accounting system (its request kept).
pub(crate) fn was_pushed(action: &ActionRow) -> bool {
    action.request_path.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_names_its_charge_whole_cut_by_hand_or_in_our_note_and_not_a_longer_one() {
        let charge = "ch_3OaFDbEcg9tTZuTg1AbCdEf";
        let with =
            |reference: &str, note: &str| json!({"PaymentRefNum": reference, "PrivateNote": note});
        assert!(names_charge(&with(charge, ""), charge));
        assert!(names_charge(&with(&charge[..21], ""), charge), "cut to 21");
        assert!(
            !names_charge(&with("ch_3Oa", ""), charge),
            "too short to say"
        );
        let note = mapping::pushed_note(Some(charge), "cg-k");
        assert!(names_charge(&with("", &note), charge));
        let longer = mapping::pushed_note(Some(&format!("{charge}9")), "cg-k");
        assert!(!names_charge(&with("", &longer), charge), "{longer}");
    }

    #[test]
    fn amounts_go_into_the_body_as_exact_json_numbers() {
        let body = json!({"CustomerRef": {"value": "1"}, "Line": [{"LinkedTxn": []}]});
        let text = with_amounts(&body, "1234567890123.45");
        assert!(text.contains("\"Amount\":1234567890123.45,"), "{text}");
        assert!(text.ends_with(",\"TotalAmt\":1234567890123.45}"), "{text}");
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["CustomerRef"]["value"], "1");
        assert!(parsed["Line"][0]["LinkedTxn"].is_array());
    }
}
