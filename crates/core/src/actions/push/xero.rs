//! Xero's side of a push: a payment recorded on its invoice (`PUT Payments` into the
//! account the bookkeeper chose, `books payment-account`), a payment deleted (`POST
//! Payments/{id}` with `Status: DELETED`, Xero's reversal), or a refund Stripe made
//! recorded as Xero records one: a credit note for the amount (`PUT CreditNotes`), then
//! its credit paid back from that account (`PUT Payments` on the credit note). The refund
//! is two writes, both journaled before the first leaves (the second waits only for the
//! credit note's id); each carries the key in its `Reference`, so recovery finds the
//! refund, or the credit note alone and finishes it. The journal's key is the
//! `Idempotency-Key` (Xero replays the first answer for six minutes) and goes into the
//! payment's `Reference` after the Stripe charge (`accounting::xero::pushed_reference`),
//! so recovery finds it after Xero has forgotten the key (`Reference.Contains`). The guards
//! read the organisation: the invoice there, `AUTHORISED`, owing at least the amount; no
//! live payment naming the charge; the payment to delete there, live, on this invoice for
//! this amount; for a refund, the charge recorded on that invoice and no refund naming it
//! (or its Stripe refunds) that the store has not read; all dated after the organisation's
//! lock dates.
//!
//! It never decides an outcome: `push` settles what it reads.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Effect, Found, Guarded, Prepared};
use crate::accounting::xero::{
    self as mapping, Organisation, Read, carries_key, is_refund, pushed_reference, stripe_id,
    xero_day,
};
use crate::accounting_sync::invoice_paid_by;
use crate::accounting_sync::session::Caller;
use crate::accounting_sync::xero::{organisation, store_pushed};
use crate::accounting_sync::xero_connection::{SYSTEM, XeroSession, payment_account};
use crate::accounting_sync::{AccountingError, BooksSyncOptions};
use crate::actions::execute::crash_point;
use crate::books::xero::idempotency_key;
use crate::money::{Money, Sign};
use crate::records::InvoiceStatus;
use crate::secret::Keyring;
use crate::store::{AccountingBooks, Adjustment, AdjustmentKind, Store, StoreTx};

/// The Xero payment a reversal deletes: its ledger entry's id is `xero:PAYMENT`.
pub(super) fn deleted_payment(adjustment: &Adjustment) -> Option<&str> {
    if adjustment.kind != AdjustmentKind::ReversePayment {
        return None;
    }
    adjustment.payment_id.as_deref()?.strip_prefix("xero:")
}

/// What a ledger fix does in Xero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target<'a> {
    /// A payment recorded on the invoice.
    RecordPayment,
    /// That payment deleted.
    DeletePayment(&'a str),
    /// A credit note, its credit paid back: money the gateway refunded on the charge.
    RecordRefund { charge: &'a str },
    /// The invoice voided (a duplicate whose charge the gateway refunded).
    VoidInvoice,
}

impl Target<'_> {
    /// What `adjustment` does in Xero; `None`: it is not pushed there.
    pub(super) fn of(adjustment: &Adjustment) -> Option<Target<'_>> {
        match adjustment.kind {
            AdjustmentKind::RecordPayment => Some(Target::RecordPayment),
            AdjustmentKind::ReversePayment => {
                deleted_payment(adjustment).map(Target::DeletePayment)
            }
            AdjustmentKind::RecordRefund => adjustment
                .gateway_id
                .as_deref()
                .map(|charge| Target::RecordRefund { charge }),
            AdjustmentKind::VoidInvoice => Some(Target::VoidInvoice),
            AdjustmentKind::CorrectAmount => None,
        }
    }
}

/// Where the credit note's id goes in a refund's journaled second write.
const CREDIT_NOTE_ID: &str = "{credit-note-id}";

/// Where the exact amount goes in a body built as JSON (then replaced by its decimal text:
/// a JSON number as Xero writes it, never a float).
const AMOUNT: &str = "\"{amount}\"";

/// `body`'s text with its one amount placeholder made the exact amount. `None` when the
/// placeholder's text shows more than once (a name from Xero spelling it).
fn with_amount(body: &Value, amount: &Money) -> Option<String> {
    let text = body.to_string();
    (text.matches(AMOUNT).count() == 1).then(|| text.replace(AMOUNT, &amount.to_decimal_string()))
}

/// The connected organisation, opened for one action.
pub(super) struct Xero {
    keyring: Keyring,
    session: XeroSession,
    organisation: Organisation,
    /// Xero's `Organisation` (its lock dates).
    org: Value,
}

/// A Xero date (`/Date(ms+0000)/` at midnight UTC, or `YYYY-MM-DD…`) as the day it names.
fn day_of(value: &Value) -> Option<jiff::civil::Date> {
    let text = value.as_str()?;
    xero_day(text).or_else(|| text.get(..10)?.parse().ok())
}

/// Whether `text` can go into a `where` filter's quoted string as it is: Stripe's ids and
/// Chargeguard's keys are letters, digits, `_`, `-` and (a follow-up's step, `KEY/refund`)
/// `/`; no quote or backslash can end the string early.
fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/'))
}

/// Whether an object's `Reference` names Stripe object `id`: its first word is the id, or
/// the id cut to what a field typed by hand held.
fn names(object: &Value, id: &str) -> bool {
    let reference = object["Reference"].as_str().unwrap_or("");
    let first = reference.split_whitespace().next().unwrap_or("");
    super::reference_names(first, id)
        || stripe_id(Some(reference.to_string())).as_deref() == Some(id)
}

/// A refund's journaled body: the credit note's exact bytes, then the refund's.
pub(super) fn refund_parts(body: &str) -> Result<(&str, &str), AccountingError> {
    body.split_once('\n').ok_or_else(|| {
        AccountingError::PushUnfinished("the journal holds no second write for this refund".into())
    })
}

/// Whether `id` has a Xero id's shape (it goes into a request body as it is).
fn uuid_shaped(id: &str) -> bool {
    id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

impl Xero {
    pub(super) async fn open(
        store: &mut Store,
        timeout: Duration,
        now: jiff::Timestamp,
    ) -> Result<Xero, AccountingError> {
        let keyring = crate::accounting_sync::keyring(store)?;
        let mut session = XeroSession::open(store, &keyring, timeout, now).await?;
        let org = Caller {
            session: &mut session,
            keyring: &keyring,
            options: BooksSyncOptions::default(),
        }
        .call(store, |c| Box::pin(async move { c.organisation().await }))
        .await?;
        let tenant = session.connection.tenant.id.clone();
        Ok(Xero {
            organisation: organisation(store, &tenant, &org)?,
            keyring,
            session,
            org,
        })
    }

    fn tenant(&self) -> &str {
        &self.session.connection.tenant.id
    }

    pub(super) fn words(&self) -> String {
        format!("Xero organisation {}", self.session.connection.tenant.name)
    }

    fn caller(&mut self) -> Caller<'_, XeroSession> {
        Caller {
            session: &mut self.session,
            keyring: &self.keyring,
            options: BooksSyncOptions::default(),
        }
    }

    /// Where a request to `path` is journaled: Xero names the organisation in a header,
    /// which the journal keeps after the path.
    fn journaled(&self, path: &str) -> String {
        format!(
            "{}/{path}#xero-tenant-id={}",
            self.api_base(),
            self.tenant()
        )
    }

    fn api_base(&self) -> &str {
        self.session
            .connection
            .endpoints
            .api_base
            .trim_end_matches('/')
    }

    /// Whether a journaled request went to this organisation, at this Xero (not a
    /// stand-in holding the same tenant id).
    pub(super) fn sent_here(&self, path: &str) -> bool {
        path.starts_with(&format!("{}/", self.api_base()))
            && path.ends_with(&format!("#xero-tenant-id={}", self.tenant()))
    }

    /// The latest lock date, and which lock it is.
    fn locked_through(&self) -> Option<(jiff::civil::Date, &'static str)> {
        let period = day_of(&self.org["PeriodLockDate"]).map(|d| (d, "lock date"));
        let year = day_of(&self.org["EndOfYearLockDate"]).map(|d| (d, "end of year lock date"));
        period.into_iter().chain(year).max_by_key(|(d, _)| *d)
    }

    async fn one(
        &mut self,
        store: &mut Store,
        list: &'static str,
        id: &str,
    ) -> Result<Value, AccountingError> {
        self.caller()
            .call(store, |c| {
                let id = id.to_string();
                Box::pin(async move { c.one(list, &id).await })
            })
            .await
    }

    async fn all_where(
        &mut self,
        store: &mut Store,
        list: &'static str,
        filter: String,
    ) -> Result<Vec<Value>, AccountingError> {
        self.caller()
            .call(store, |c| {
                let filter = filter.clone();
                Box::pin(async move { c.all_where(list, &filter).await })
            })
            .await
    }

    /// The objects of `list` whose reference begins with `id` cut to 15 characters (what
    /// a reference typed by hand still holds of it).
    async fn referencing(
        &mut self,
        store: &mut Store,
        list: &'static str,
        id: &str,
    ) -> Result<Vec<Value>, AccountingError> {
        let prefix: String = id.chars().take(15).collect();
        self.all_where(
            store,
            list,
            format!("Reference!=null AND Reference.StartsWith(\"{prefix}\")"),
        )
        .await
    }

    pub(super) async fn guard(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        // Not a refusal of the fix: once connected again with write access, it goes.
        let lists: &[&str] = match Target::of(adjustment) {
            Some(Target::RecordRefund { .. }) => &["CreditNotes", "Payments"],
            Some(Target::VoidInvoice) => &["Invoices"],
            // A duplicate's payment goes only if its invoice's void can follow.
            Some(Target::DeletePayment(_)) if crate::actions::follow_up::then_voids(key) => {
                &["Payments", "Invoices"]
            }
            _ => &["Payments"],
        };
        self.session.refuse_unless_writable(lists)?;
        match Target::of(adjustment) {
            Some(Target::DeletePayment(payment)) => {
                self.guard_delete(store, adjustment, payment, key).await
            }
            Some(Target::RecordRefund { charge }) => {
                self.guard_refund(store, adjustment, charge, key).await
            }
            Some(Target::VoidInvoice) => self.guard_void_invoice(store, adjustment).await,
            _ => self.guard_record(store, adjustment, key).await,
        }
    }

    fn invoice_id(&self, store: &mut Store, number: &str) -> Result<Option<String>, Guarded> {
        let books = AccountingBooks {
            system: SYSTEM,
            company: self.tenant(),
        };
        Ok(store
            .read(|tx| tx.accounting_object_id(books, "invoice", number))
            .map_err(AccountingError::from)?)
    }

    /// Invoice `number` as the organisation holds it now: its id there and its body. One
    /// not synced from this organisation, or gone there since, is refused (a `what` is
    /// recorded there by hand then).
    pub(super) async fn invoice_there(
        &mut self,
        store: &mut Store,
        number: &str,
        what: &str,
    ) -> Result<(String, Value), Guarded> {
        let name = self.words();
        let invoice_id = self.invoice_id(store, number)?.ok_or_else(|| {
            Guarded::Refused(format!(
                "invoice {number} did not come from {name} (it was imported from a file): record the {what} there by hand, or sync the books and propose again"
            ))
        })?;
        match self.one(store, "Invoices", &invoice_id).await {
            Ok(row) => Ok((invoice_id, row)),
            Err(AccountingError::Xero(e)) if e.is_definite() => Err(Guarded::Refused(format!(
                "Xero no longer has invoice {number} ({e}); sync the books and reconcile again"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The organisation's day of the fix, refused when Xero is locked through it.
    fn open_day(&self, adjustment: &Adjustment, what: &str) -> Result<jiff::civil::Date, Guarded> {
        let day = jiff::Timestamp::from_second(adjustment.effective_at)
            .map_err(|e| Guarded::Refused(format!("the fix's date: {e}")))?
            .to_zoned(self.organisation.zone.clone())
            .date();
        if let Some((locked, which)) = self.locked_through()
            && day <= locked
        {
            return Err(Guarded::Refused(format!(
                "{} is locked through {locked} (its {which}), and this {what} is dated {day}: move the lock date in Xero, or record it there by hand in an open period",
                self.words()
            )));
        }
        Ok(day)
    }

    /// Recording a payment on its invoice.
    async fn guard_record(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        let number = adjustment.invoice_number.as_str();
        // Not a refusal of the fix: once an account is chosen, the same action goes.
        let account = store
            .read(payment_account)?
            .ok_or(Guarded::Unavailable(AccountingError::NoPaymentAccount))?;
        let (invoice_id, row) = self.invoice_there(store, number, "payment").await?;
        let invoice = match mapping::invoice(&self.organisation, &row)
            .map_err(AccountingError::from)?
        {
            Read::Record(invoice) => invoice,
            Read::NotOurs | Read::Removed => {
                return Err(Guarded::Refused(format!(
                    "invoice {number} is no longer a sales invoice in Xero (it is {}); sync the books and reconcile again",
                    row["Status"].as_str().unwrap_or("gone")
                )));
            }
        };
        if invoice.status == InvoiceStatus::Void {
            return Err(Guarded::Refused(format!(
                "invoice {number} is void in Xero; a payment cannot be recorded on it"
            )));
        }
        let currency = adjustment.amount.currency();
        if invoice.amount.currency() != currency {
            return Err(Guarded::Refused(format!(
                "invoice {number} is in {} in Xero, the payment in {currency}",
                invoice.amount.currency()
            )));
        }
        let due = Money::parse(&row["AmountDue"].to_string(), currency, Sign::NonNegative)
            .unwrap_or_else(|_| Money::zero(currency));
        if due.minor() < adjustment.amount.minor() {
            return Err(Guarded::Refused(format!(
                "Xero shows invoice {number} owing {due}, less than the {} this fix records: a payment was recorded there since the last sync; sync the books and reconcile again",
                adjustment.amount
            )));
        }
        if let Some(charge) = adjustment.gateway_id.as_deref()
            && let Some(held) = self.payment_for_charge(store, charge).await?
        {
            return Err(Guarded::Done(format!(
                "Xero already holds payment {held} for charge {charge}; sync the books and reconcile again"
            )));
        }
        let day = self.open_day(adjustment, "payment")?;
        let body = json!({
            "Invoice": {"InvoiceID": invoice_id},
            "Account": {"Code": account},
            "Date": day.to_string(),
            "Reference": pushed_reference(adjustment.gateway_id.as_deref(), key),
        });
        // The amount as the exact decimal, a JSON number as Xero writes it (never a float).
        let mut text = body.to_string();
        text.pop();
        Ok(Prepared {
            method: "PUT",
            path: self.journaled("Payments"),
            body: format!(
                "{text},\"Amount\":{}}}",
                adjustment.amount.to_decimal_string()
            ),
        })
    }

    /// A live payment (not a refund) in Xero whose reference names `charge` (whole, or cut
    /// when typed by hand), by id.
    async fn payment_for_charge(
        &mut self,
        store: &mut Store,
        charge: &str,
    ) -> Result<Option<String>, Guarded> {
        // Only an id of Stripe's alphabet goes into Xero's filter (a CSV could hold anything).
        if !is_plain(charge) {
            return Err(Guarded::Refused(format!(
                "{charge:?} is not a Stripe charge id; record the payment in Xero by hand"
            )));
        }
        let payments = self.referencing(store, "Payments", charge).await?;
        Ok(payments
            .iter()
            // A refund naming the charge pays money back; it records no payment of it.
            .filter(|p| p["Status"] != "DELETED" && !is_refund(p))
            .find(|p| names(p, charge))
            .and_then(|p| p["PaymentID"].as_str().map(str::to_string)))
    }

    /// Recording a refund of `charge`: the account chosen; the charge recorded on this
    /// invoice in the store (a refund names no invoice: the sync reads it back by the
    /// charge); the invoice still in Xero, in the refund's currency; no live refund there
    /// naming the charge or one of its Stripe refunds that the store has not read (one
    /// entered by hand since the sync); dated after the lock dates. Two writes, journaled
    /// together: the credit note, then (its id put in) the refund of its credit.
    async fn guard_refund(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        charge: &str,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        let number = adjustment.invoice_number.as_str();
        let account = store
            .read(payment_account)?
            .ok_or(Guarded::Unavailable(AccountingError::NoPaymentAccount))?;
        if !is_plain(charge) {
            return Err(Guarded::Refused(format!(
                "{charge:?} is not a Stripe charge id; record the refund in Xero by hand"
            )));
        }
        let paid_by = store
            .read(|tx| invoice_paid_by(tx, charge))
            .map_err(AccountingError::from)?;
        if paid_by.as_deref() != Some(number) {
            return Err(Guarded::Refused(format!(
                "charge {charge} is not recorded on invoice {number} in the books: a refund names no invoice, so Xero's would be read back elsewhere; sync the books and reconcile again"
            )));
        }
        let (_, row) = self.invoice_there(store, number, "refund").await?;
        let currency = adjustment.amount.currency();
        let invoice_currency = row["CurrencyCode"].as_str().unwrap_or_default();
        if invoice_currency != currency.code() {
            return Err(Guarded::Refused(format!(
                "invoice {number} is in {invoice_currency} in Xero, the refund in {currency}"
            )));
        }
        let (Some(contact), Some(code)) = (
            row["Contact"]["ContactID"].as_str(),
            row["LineItems"][0]["AccountCode"].as_str(),
        ) else {
            return Err(Guarded::Refused(format!(
                "invoice {number} in Xero names no contact or no account on its first line: record the refund there by hand"
            )));
        };
        if let Some(held) = self.unseen_refund_for(store, charge).await? {
            return Err(Guarded::Done(format!(
                "Xero holds refund {held} for charge {charge}, recorded there since the last sync; sync the books and reconcile again"
            )));
        }
        let day = self.open_day(adjustment, "refund")?;
        let reference = pushed_reference(Some(charge), key);
        let credit_note = json!({"CreditNotes": [{
            "Type": "ACCRECCREDIT",
            "Contact": {"ContactID": contact},
            "Date": day.to_string(),
            "Status": "AUTHORISED",
            "CurrencyCode": currency.code(),
            // The refund is the amount Stripe paid back, tax or not.
            "LineAmountTypes": "NoTax",
            "Reference": reference,
            "LineItems": [{
                "Description": format!("Refund of Stripe charge {charge} on invoice {number}"),
                "Quantity": 1,
                "AccountCode": code,
                "UnitAmount": "{amount}",
            }],
        }]});
        let refund = json!({
            "CreditNote": {"CreditNoteID": CREDIT_NOTE_ID},
            "Account": {"Code": account},
            "Date": day.to_string(),
            "Reference": reference,
            "Amount": "{amount}",
        });
        Ok(Prepared {
            method: "PUT",
            path: self.journaled("CreditNotes"),
            // One line each: serde_json's compact text holds no line break.
            body: match (
                with_amount(&credit_note, &adjustment.amount),
                with_amount(&refund, &adjustment.amount),
            ) {
                (Some(note), Some(refund)) => format!("{note}\n{refund}"),
                _ => {
                    return Err(Guarded::Refused(format!(
                        "invoice {number}'s names in Xero spell Chargeguard's own placeholder: record the refund there by hand"
                    )));
                }
            },
        })
    }

    /// A live refund in Xero naming `charge` or one of its Stripe refunds that the store
    /// has not read (its ledger holds every refund a sync read, as `xero:PAYMENT`), by id.
    async fn unseen_refund_for(
        &mut self,
        store: &mut Store,
        charge: &str,
    ) -> Result<Option<String>, Guarded> {
        let (ids, seen) = store
            .read(|tx| {
                let mut ids = vec![charge.to_string()];
                ids.extend(tx.refunds_of(&[charge])?.into_iter().map(|r| r.id));
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                let seen: Vec<String> = tx
                    .ledger_entries_about(&[], &refs)?
                    .into_iter()
                    .filter_map(|e| e.payment_id.strip_prefix("xero:").map(str::to_lowercase))
                    .collect();
                Ok::<_, crate::store::StoreError>((ids, seen))
            })
            .map_err(AccountingError::from)?;
        for id in ids.iter().filter(|i| is_plain(i)) {
            let refunds = self.referencing(store, "Payments", id).await?;
            if let Some(held) = refunds
                .iter()
                .filter(|p| p["Status"] != "DELETED" && is_refund(p) && names(p, id))
                .filter_map(|p| p["PaymentID"].as_str())
                .find(|p| !seen.contains(&p.to_lowercase()))
            {
                return Ok(Some(held.to_string()));
            }
        }
        Ok(None)
    }

    /// Deleting payment `payment`: still there, live, on this invoice, for the amount the
    /// fix reverses, and dated after the lock dates.
    async fn guard_delete(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        payment: &str,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        let number = adjustment.invoice_number.as_str();
        let row = match self.one(store, "Payments", payment).await {
            Ok(row) => row,
            Err(AccountingError::Xero(e)) if e.is_definite() => {
                return Err(Guarded::Done(format!(
                    "Xero no longer has payment {payment} ({e}); sync the books and reconcile again"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if row["Status"] == "DELETED" {
            return Err(Guarded::Done(format!(
                "payment {payment} is already deleted in Xero; sync the books and reconcile again"
            )));
        }
        let on = row["Invoice"]["InvoiceID"].as_str().unwrap_or_default();
        if self.invoice_id(store, number)?.as_deref() != Some(on) {
            return Err(Guarded::Refused(format!(
                "payment {payment} in Xero is not on invoice {number} any more; sync the books and reconcile again"
            )));
        }
        let amount = row["Amount"].to_string();
        let currency = adjustment.amount.currency();
        if Money::parse(&amount, currency, Sign::NonNegative).ok() != Some(adjustment.amount) {
            return Err(Guarded::Refused(format!(
                "payment {payment} in Xero is for {amount} now, not the {} this fix reverses: it changed since the last sync; sync the books and reconcile again",
                adjustment.amount
            )));
        }
        if let (Some((locked, which)), Some(dated)) = (self.locked_through(), day_of(&row["Date"]))
            && dated <= locked
        {
            return Err(Guarded::Refused(format!(
                "{} is locked through {locked} (its {which}), and payment {payment} is dated {dated}: move the lock date in Xero, or reverse it there by hand in an open period",
                self.words()
            )));
        }
        // A duplicate's payment is deleted only when its invoice's void, the next step, can
        // follow: else the invoice would be left owing in the books.
        if crate::actions::follow_up::then_voids(key) {
            let (_, invoice) = self.invoice_there(store, number, "void").await?;
            self.voidable(number, &invoice, adjustment.amount)?;
        }
        Ok(Prepared {
            method: "POST",
            path: self.journaled(&format!("Payments/{payment}")),
            body: json!({"Payments": [{"Status": "DELETED"}]}).to_string(),
        })
    }

    /// Voiding invoice `number`: still there, `AUTHORISED` (Xero voids nothing else), no
    /// payment or credit allocated to it (Xero refuses, and they are undone first, by their
    /// own action), and dated after the lock dates.
    async fn guard_void_invoice(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
    ) -> Result<Prepared, Guarded> {
        let number = adjustment.invoice_number.as_str();
        let (invoice_id, row) = self.invoice_there(store, number, "void").await?;
        self.voidable(number, &row, Money::zero(adjustment.amount.currency()))?;
        if !uuid_shaped(&invoice_id) {
            return Err(Guarded::Refused(format!(
                "invoice {number}'s id in Xero ({invoice_id}) is not one; sync the books and reconcile again"
            )));
        }
        Ok(Prepared {
            method: "POST",
            path: self.journaled(&format!("Invoices/{invoice_id}")),
            body: json!({"Invoices": [{"InvoiceID": invoice_id, "Status": "VOIDED"}]}).to_string(),
        })
    }

    /// Whether invoice `number` (`row`) can be voided once `being_undone` (the payment a
    /// duplicate's deletion takes off first, or nothing) is off it: approved (paid, while
    /// that payment is on it), nothing else paid and nothing credited (Xero voids no invoice
    /// with money allocated to it; amounts it does not state are refused, not read as
    /// none), dated after the lock dates.
    fn voidable(&self, number: &str, row: &Value, being_undone: Money) -> Result<(), Guarded> {
        let status = row["Status"].as_str().unwrap_or_default();
        if status == "VOIDED" {
            return Err(Guarded::Done(format!(
                "invoice {number} is already void in Xero; sync the books and reconcile again"
            )));
        }
        let currency = being_undone.currency();
        let amount =
            |field: &str| Money::parse(&row[field].to_string(), currency, Sign::NonNegative);
        let (Ok(paid), Ok(credited)) = (amount("AmountPaid"), amount("AmountCredited")) else {
            return Err(Guarded::Refused(format!(
                "Xero does not say what is paid and credited on invoice {number} in {currency}: void it there by hand"
            )));
        };
        if paid != being_undone || !credited.is_zero() {
            return Err(Guarded::Refused(format!(
                "invoice {number} has {paid} paid and {credited} credited in Xero{}, which voids no invoice with money allocated to it: delete its payments or credit notes there first, then sync the books and reconcile again",
                if being_undone.is_zero() {
                    String::new()
                } else {
                    format!(", not only the {being_undone} this fix deletes")
                }
            )));
        }
        let approved = status == "AUTHORISED" || (status == "PAID" && !being_undone.is_zero());
        if !approved {
            return Err(Guarded::Refused(format!(
                "invoice {number} is {status} in Xero, which voids only an approved invoice; sync the books and reconcile again"
            )));
        }
        if let (Some((locked, which)), Some(dated)) = (self.locked_through(), day_of(&row["Date"]))
            && dated <= locked
        {
            return Err(Guarded::Refused(format!(
                "{} is locked through {locked} (its {which}), and invoice {number} is dated {dated}: move the lock date in Xero, or credit the invoice there by hand in an open period",
                self.words()
            )));
        }
        Ok(())
    }

    /// Sends the journaled body under the key's `Idempotency-Key`.
    pub(super) async fn send(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        body: &str,
        key: &str,
    ) -> Result<Value, AccountingError> {
        let (method, path) = match Target::of(adjustment) {
            Some(Target::DeletePayment(payment)) => {
                (reqwest::Method::POST, format!("Payments/{payment}"))
            }
            Some(Target::VoidInvoice) => {
                let sent: Value = serde_json::from_str(body).unwrap_or_default();
                let id = sent["Invoices"][0]["InvoiceID"]
                    .as_str()
                    .unwrap_or_default();
                if !uuid_shaped(id) {
                    return Err(AccountingError::PushUnfinished(format!(
                        "the journaled void names no Xero invoice ({body})"
                    )));
                }
                (reqwest::Method::POST, format!("Invoices/{id}"))
            }
            Some(Target::RecordRefund { .. }) => {
                let (credit_note, refund) = refund_parts(body)?;
                let note = self
                    .write(
                        store,
                        reqwest::Method::PUT,
                        "CreditNotes",
                        credit_note,
                        &format!("{key}:credit-note"),
                    )
                    .await?;
                crash_point!("push.between_writes");
                return self.finish(store, &note, refund, key).await;
            }
            _ => (reqwest::Method::PUT, "Payments".to_string()),
        };
        self.write(store, method, &path, body, key).await
    }

    /// Writes `body` to `path` under `key`'s `Idempotency-Key`.
    async fn write(
        &mut self,
        store: &mut Store,
        method: reqwest::Method,
        path: &str,
        body: &str,
        key: &str,
    ) -> Result<Value, AccountingError> {
        let key = idempotency_key(key);
        self.caller()
            .call(store, |c| {
                let (method, path, body, key) = (
                    method.clone(),
                    path.to_string(),
                    body.to_string(),
                    key.clone(),
                );
                Box::pin(async move { c.write(method, &path, &body, &key).await })
            })
            .await
    }

    /// A refund's second write: credit note `note` (made under this action's key) paid
    /// back as the journaled `refund` says. A refusal is not the action's failure (the
    /// credit note is there): recovery or a person settles it.
    pub(super) async fn finish(
        &mut self,
        store: &mut Store,
        note: &Value,
        refund: &str,
        key: &str,
    ) -> Result<Value, AccountingError> {
        let id = note["CreditNoteID"].as_str().unwrap_or_default();
        let number = note["CreditNoteNumber"].as_str().unwrap_or(id);
        if !carries_key(note, key) || !uuid_shaped(id) {
            return Err(AccountingError::PushUnfinished(format!(
                "Xero answered the credit note with {note}, which is not this action's"
            )));
        }
        let body = refund.replace(CREDIT_NOTE_ID, id);
        match self
            .write(store, reqwest::Method::PUT, "Payments", &body, key)
            .await
        {
            Err(AccountingError::Xero(e)) if e.is_definite() => {
                Err(AccountingError::PushUnfinished(format!(
                    "credit note {number} was made in {}, and paying its credit back was refused ({e}): pay it back there by hand, or delete the credit note",
                    self.words()
                )))
            }
            other => other,
        }
    }

    pub(super) fn effect(
        &self,
        adjustment: &Adjustment,
        answer: &Value,
        key: &str,
        journaled: &str,
    ) -> Effect {
        let target = Target::of(adjustment).unwrap_or(Target::RecordPayment);
        let id_field = match target {
            Target::VoidInvoice => "InvoiceID",
            _ => "PaymentID",
        };
        let object = answer[id_field].as_str().unwrap_or_default().to_string();
        let deleted = answer["Status"] == "DELETED";
        let (done, ours) = match target {
            // The guard saw it approved: void now is this action's void (the invoice the
            // journaled request names, by its id: a number may be stored renamed).
            Target::VoidInvoice => {
                let named = serde_json::from_str::<Value>(journaled).is_ok_and(|j| {
                    j["Invoices"][0]["InvoiceID"]
                        .as_str()
                        .is_some_and(|id| !id.is_empty() && id.eq_ignore_ascii_case(&object))
                });
                ("voided", named && answer["Status"] == "VOIDED")
            }
            Target::DeletePayment(deleting) => {
                ("deleted", object.eq_ignore_ascii_case(deleting) && deleted)
            }
            Target::RecordRefund { .. } => (
                "recorded",
                carries_key(answer, key) && is_refund(answer) && !deleted,
            ),
            Target::RecordPayment => (
                "recorded",
                carries_key(answer, key) && !is_refund(answer) && !deleted,
            ),
        };
        let (kind, entity, noun) = match target {
            Target::VoidInvoice => ("invoice", "Invoice", "invoice"),
            Target::RecordRefund { .. } => ("payment", "Payment", "refund"),
            _ => ("payment", "Payment", "payment"),
        };
        Effect {
            object_id: format!("xero:{kind}:{object}"),
            object,
            entity,
            noun,
            done,
            ours,
        }
    }

    /// Stores the object answered as a sync would, and the invoice it changed as read
    /// since (a voided invoice is the answer itself).
    pub(super) fn keep(
        &self,
        tx: &StoreTx<'_>,
        adjustment: &Adjustment,
        answer: &Value,
        invoice: Option<&Value>,
        now: jiff::Timestamp,
    ) -> Result<(), AccountingError> {
        let (payment, invoice) = match Target::of(adjustment) {
            Some(Target::VoidInvoice) => (None, Some(answer)),
            _ => (Some(answer), invoice),
        };
        store_pushed(tx, self.tenant(), &self.organisation, payment, invoice, now)
    }

    /// A definite refusal, in words; `None` when the write may have happened.
    pub(super) fn refused(e: &AccountingError) -> Option<String> {
        let AccountingError::Xero(e) = e else {
            return None;
        };
        if !e.is_definite() {
            return None;
        }
        let text = e.to_string();
        Some(if text.contains("lock date") {
            format!(
                "Xero refused it: the period is locked there ({e}); move the lock date in Xero or record it by hand in an open period"
            )
        } else {
            format!("Xero refused it: {e}")
        })
    }

    /// What became of an undecided push, read from the organisation.
    pub(super) async fn find(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
    ) -> Found {
        if let Some(payment) = deleted_payment(adjustment) {
            // The guard saw it live: deleted now means this action's delete (or a person's,
            // which leaves the books the same).
            return match self.one(store, "Payments", payment).await {
                Ok(row) if row["Status"] == "DELETED" => Found::Done(row),
                Ok(_) => Found::NotDone,
                Err(AccountingError::Xero(e)) if e.is_definite() => {
                    Found::Review(format!("Xero payment {payment} is gone there ({e})"))
                }
                Err(_) => Found::Unavailable,
            };
        }
        if Target::of(adjustment) == Some(Target::VoidInvoice) {
            // Read from the invoice, as a deleted payment is.
            let number = adjustment.invoice_number.as_str();
            return match self.invoice_there(store, number, "void").await {
                Ok((_, row)) if row["Status"] == "VOIDED" => Found::Done(row),
                Ok(_) => Found::NotDone,
                Err(Guarded::Refused(why) | Guarded::Done(why)) => Found::Review(why),
                Err(Guarded::Unavailable(_)) => Found::Unavailable,
            };
        }
        if !is_plain(key) {
            return Found::Review(format!("the key {key:?} cannot be searched for in Xero"));
        }
        let refund = matches!(Target::of(adjustment), Some(Target::RecordRefund { .. }));
        // Xero refuses a string method on an optional field without a null guard first.
        let filter = format!("Reference!=null AND Reference.Contains(\"{key}\")");
        let found = match self.all_where(store, "Payments", filter.clone()).await {
            Ok(found) => found,
            Err(AccountingError::Xero(e)) if e.is_definite() => {
                return Found::Review(format!(
                    "Xero refused the search for this action's payment ({e})"
                ));
            }
            Err(_) => return Found::Unavailable,
        };
        let carrying: Vec<&Value> = found
            .iter()
            .filter(|p| carries_key(p, key) && is_refund(p) == refund)
            .collect();
        let live: Vec<&&Value> = carrying
            .iter()
            .filter(|p| p["Status"] != "DELETED")
            .collect();
        match (live.as_slice(), carrying.len()) {
            ([one], _) => Found::Done((**one).clone()),
            ([], 0) if refund => self.credit_note_made(store, key, filter).await,
            ([], 0) => Found::NotDone,
            ([], _) => Found::Review(
                "Xero holds this action's payment, deleted there since: a person decides whether it stands".into(),
            ),
            (several, _) => {
                let ids: Vec<&str> = several
                    .iter()
                    .filter_map(|p| p["PaymentID"].as_str())
                    .collect();
                Found::Review(format!(
                    "Xero holds {} payments carrying this action's key ({}): a person decides which stays",
                    ids.len(),
                    ids.join(", ")
                ))
            }
        }
    }

    /// A refund's credit note made under this action's key, not paid back: the action is
    /// half done, and recovery finishes it. None: nothing was done.
    async fn credit_note_made(&mut self, store: &mut Store, key: &str, filter: String) -> Found {
        let notes = match self.all_where(store, "CreditNotes", filter).await {
            Ok(notes) => notes,
            Err(AccountingError::Xero(e)) if e.is_definite() => {
                return Found::Review(format!(
                    "Xero refused the search for this action's credit note ({e})"
                ));
            }
            Err(_) => return Found::Unavailable,
        };
        let carrying: Vec<&Value> = notes.iter().filter(|n| carries_key(n, key)).collect();
        let live: Vec<&Value> = carrying
            .iter()
            .copied()
            .filter(|n| n["Status"] != "DELETED" && n["Status"] != "VOIDED")
            .collect();
        match live.as_slice() {
            // Ours was voided or deleted there: a person did it, and decides (sending again
            // would make a second credit note).
            [] if !carrying.is_empty() => Found::Review(format!(
                "Xero holds this action's credit note {}, {} there since: a person decides whether the refund is recorded",
                carrying[0]["CreditNoteNumber"].as_str().unwrap_or_default(),
                carrying[0]["Status"].as_str().unwrap_or_default()
            )),
            [] => Found::NotDone,
            [one] if one["Status"] == "AUTHORISED" => Found::Unfinished((*one).clone()),
            [one] => Found::Review(format!(
                "Xero holds this action's credit note {}, {} there without this action's refund: a person checks it",
                one["CreditNoteNumber"].as_str().unwrap_or_default(),
                one["Status"].as_str().unwrap_or_default()
            )),
            several => Found::Review(format!(
                "Xero holds {} credit notes carrying this action's key: a person decides which stays",
                several.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follow_ups_key_can_be_searched_for_and_nothing_can_end_the_filter_early() {
        // A follow-up's key names its step after a `/`: recovery finds its payment by it.
        assert!(is_plain("cg-refund-5b1ea2ebadd3ef6c/refund"));
        assert!(is_plain("cg-recharge-5b1ea2ebadd3ef6c/payment"));
        assert!(is_plain("ch_3PzudorYTH7h1MThaU1tfowg"));
        for hostile in ["", "a\"b", "a\\b", "a b", "a'b", "a)b"] {
            assert!(!is_plain(hostile), "{hostile:?}");
        }
    }

    #[test]
    fn xero_dates_read_as_the_day_they_name() {
        let day = |v: Value| day_of(&v).map(|d| d.to_string());
        assert_eq!(
            day(json!("/Date(1767139200000+0000)/")).as_deref(),
            Some("2025-12-31")
        );
        assert_eq!(
            day(json!("2026-01-31T00:00:00")).as_deref(),
            Some("2026-01-31")
        );
        assert_eq!(day(Value::Null), None);
    }
}
