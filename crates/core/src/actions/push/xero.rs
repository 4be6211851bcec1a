//! Xero's side of a push: a payment recorded on its invoice (`PUT Payments` into the
//! account the bookkeeper chose, `books payment-account`), or a payment deleted (`POST
//! Payments/{id}` with `Status: DELETED`, Xero's reversal). The journal's key is the
//! `Idempotency-Key` (Xero replays the first answer for six minutes) and goes into the
//! payment's `Reference` after the Stripe charge (`accounting::xero::pushed_reference`),
//! so recovery finds it after Xero has forgotten the key (`Reference.Contains`). The guards
//! read the organisation: the invoice there, `AUTHORISED`, owing at least the amount; no
//! live payment naming the charge; the payment to delete there, live, on this invoice for
//! this amount; both dated after the organisation's lock dates.
//!
//! It never decides an outcome: `push` settles what it reads.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Effect, Found, Guarded, Prepared};
use crate::accounting::xero::{
    self as mapping, Organisation, Read, carries_key, pushed_reference, stripe_id, xero_day,
};
use crate::accounting_sync::session::Caller;
use crate::accounting_sync::xero::{organisation, store_pushed_payment};
use crate::accounting_sync::xero_connection::{SYSTEM, XeroSession, payment_account};
use crate::accounting_sync::{AccountingError, BooksSyncOptions};
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

/// Whether `text` can go into a `where` filter as it is: Stripe's ids and Chargeguard's
/// keys are letters, digits, `_` and `-`.
fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Xero {
    pub(super) async fn open(
        store: &mut Store,
        timeout: Duration,
        now: jiff::Timestamp,
    ) -> Result<Xero, AccountingError> {
        let keyring = Keyring::open()?;
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

    async fn payments_where(
        &mut self,
        store: &mut Store,
        filter: String,
    ) -> Result<Vec<Value>, AccountingError> {
        self.caller()
            .call(store, |c| {
                let filter = filter.clone();
                Box::pin(async move { c.payments_where(&filter).await })
            })
            .await
    }

    pub(super) async fn guard(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        // Not a refusal of the fix: once connected again with write access, it goes.
        self.session.refuse_unless_payments_writable()?;
        match deleted_payment(adjustment) {
            Some(payment) => self.guard_delete(store, adjustment, payment).await,
            None => self.guard_record(store, adjustment, key).await,
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

    /// Recording a payment on its invoice.
    async fn guard_record(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        let name = self.words();
        let number = adjustment.invoice_number.as_str();
        // Not a refusal of the fix: once an account is chosen, the same action goes.
        let account = store
            .read(payment_account)?
            .ok_or(Guarded::Unavailable(AccountingError::NoPaymentAccount))?;
        let invoice_id = self.invoice_id(store, number)?.ok_or_else(|| {
            Guarded::Refused(format!(
                "invoice {number} did not come from {name} (it was imported from a file): record the payment there by hand, or sync the books and propose again"
            ))
        })?;
        let row = match self.one(store, "Invoices", &invoice_id).await {
            Ok(row) => row,
            Err(AccountingError::Xero(e)) if e.is_definite() => {
                return Err(Guarded::Refused(format!(
                    "Xero no longer has invoice {number} ({e}); sync the books and reconcile again"
                )));
            }
            Err(e) => return Err(e.into()),
        };
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
            return Err(Guarded::Refused(format!(
                "Xero already holds payment {held} for charge {charge}; sync the books and reconcile again"
            )));
        }
        let day = jiff::Timestamp::from_second(adjustment.effective_at)
            .map_err(|e| Guarded::Refused(format!("the fix's date: {e}")))?
            .to_zoned(self.organisation.zone.clone())
            .date();
        if let Some((locked, which)) = self.locked_through()
            && day <= locked
        {
            return Err(Guarded::Refused(format!(
                "{name} is locked through {locked} (its {which}), and this payment is dated {day}: move the lock date in Xero, or record it there by hand in an open period"
            )));
        }
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
        // A reference cut by hand still starts with the charge's first 15 characters.
        let prefix: String = charge.chars().take(15).collect();
        let filter = format!("Reference!=null AND Reference.StartsWith(\"{prefix}\")");
        let payments = self.payments_where(store, filter).await?;
        Ok(payments
            .iter()
            // A refund naming the charge pays money back; it records no payment of it.
            .filter(|p| p["Status"] != "DELETED" && !crate::accounting::xero::is_refund(p))
            .find(|p| {
                let reference = p["Reference"].as_str().unwrap_or("");
                let first = reference.split_whitespace().next().unwrap_or("");
                super::reference_names(first, charge)
                    || stripe_id(Some(reference.to_string())).as_deref() == Some(charge)
            })
            .and_then(|p| p["PaymentID"].as_str().map(str::to_string)))
    }

    /// Deleting payment `payment`: still there, live, on this invoice, for the amount the
    /// fix reverses, and dated after the lock dates.
    async fn guard_delete(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        payment: &str,
    ) -> Result<Prepared, Guarded> {
        let number = adjustment.invoice_number.as_str();
        let row = match self.one(store, "Payments", payment).await {
            Ok(row) => row,
            Err(AccountingError::Xero(e)) if e.is_definite() => {
                return Err(Guarded::Refused(format!(
                    "Xero no longer has payment {payment} ({e}); sync the books and reconcile again"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if row["Status"] == "DELETED" {
            return Err(Guarded::Refused(format!(
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
        Ok(Prepared {
            method: "POST",
            path: self.journaled(&format!("Payments/{payment}")),
            body: json!({"Payments": [{"Status": "DELETED"}]}).to_string(),
        })
    }

    /// Sends the journaled body under the key's `Idempotency-Key`.
    pub(super) async fn send(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        body: &str,
        key: &str,
    ) -> Result<Value, AccountingError> {
        let (method, path) = match deleted_payment(adjustment) {
            Some(payment) => (reqwest::Method::POST, format!("Payments/{payment}")),
            None => (reqwest::Method::PUT, "Payments".to_string()),
        };
        let key = idempotency_key(key);
        self.caller()
            .call(store, |c| {
                let (method, path, body, key) =
                    (method.clone(), path.clone(), body.to_string(), key.clone());
                Box::pin(async move { c.write(method, &path, &body, &key).await })
            })
            .await
    }

    pub(super) fn effect(&self, adjustment: &Adjustment, payment: &Value, key: &str) -> Effect {
        let object = payment["PaymentID"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let deleted = payment["Status"] == "DELETED";
        let (done, ours) = match deleted_payment(adjustment) {
            Some(target) => ("deleted", object.eq_ignore_ascii_case(target) && deleted),
            None => ("recorded", carries_key(payment, key) && !deleted),
        };
        Effect {
            object_id: format!("xero:payment:{object}"),
            object,
            entity: "Payment",
            noun: "payment",
            done,
            ours,
        }
    }

    pub(super) fn keep(
        &self,
        tx: &StoreTx<'_>,
        _adjustment: &Adjustment,
        payment: &Value,
        now: jiff::Timestamp,
    ) -> Result<(), AccountingError> {
        store_pushed_payment(tx, self.tenant(), &self.organisation, payment, now)
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
        if !is_plain(key) {
            return Found::Review(format!("the key {key:?} cannot be searched for in Xero"));
        }
        // Xero refuses a string method on an optional field without a null guard first.
        let filter = format!("Reference!=null AND Reference.Contains(\"{key}\")");
        let found = match self.payments_where(store, filter).await {
            Ok(found) => found,
            Err(AccountingError::Xero(e)) if e.is_definite() => {
                return Found::Review(format!(
                    "Xero refused the search for this action's payment ({e})"
                ));
            }
            Err(_) => return Found::Unavailable,
        };
        let carrying: Vec<&Value> = found.iter().filter(|p| carries_key(p, key)).collect();
        let live: Vec<&&Value> = carrying
            .iter()
            .filter(|p| p["Status"] != "DELETED")
            .collect();
        match (live.as_slice(), carrying.len()) {
            ([one], _) => Found::Done((**one).clone()),
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
