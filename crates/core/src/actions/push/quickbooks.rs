//! QuickBooks Online's side of a push: a payment recorded on its invoice (`POST payment`,
//! the journal's key as its `requestid` and in its `PrivateNote`), a payment voided
//! (`operation=update&include=void`), or a refund the gateway made recorded as a refund
//! receipt (`POST refundreceipt`, paid from the account chosen with `books
//! payment-account`, the key in its note). The guards read the company (the invoice
//! there, not void, owing at least the amount; no live payment for the charge; the
//! payment to void there, not voided, paying only that invoice the same amount; no refund
//! receipt for the charge the store has not seen; all dated after the company's
//! `BookCloseDate`). Recovery finds a recorded payment or refund receipt by the key in the
//! notes of those created since the first send, and a void by the payment's own state.
//!
//! It never decides an outcome: `push` settles what it reads.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Effect, Found, Guarded, Prepared};
use crate::accounting::qbo::{self as mapping, Company};
use crate::accounting_sync::invoice_paid_by;
use crate::accounting_sync::qbo_connection::{SYSTEM, Session, payment_account};
use crate::accounting_sync::quickbooks::{Pushed, company, store_pushed};
use crate::accounting_sync::session::Caller;
use crate::accounting_sync::{AccountingError, BooksSyncOptions};
use crate::books::qbo::request_id;
use crate::money::Money;
use crate::records::InvoiceStatus;
use crate::secret::Keyring;
use crate::store::{AccountingBooks, Adjustment, AdjustmentKind, Store, StoreTx};

/// How far before the first send recovery looks for the payment (QuickBooks' clock and
/// ours differ; its `CreateTime` has whole seconds).
const FIND_SLACK_SECONDS: i64 = 10 * 60;

/// The QuickBooks payment a reversal voids: its ledger entry's id is `qbo:PAYMENT:INVOICE`.
pub(super) fn voided_payment(adjustment: &Adjustment) -> Option<&str> {
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

/// What a ledger fix does in QuickBooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target<'a> {
    /// A payment recorded on the invoice.
    RecordPayment,
    /// That payment voided.
    VoidPayment(&'a str),
    /// A refund receipt for money the gateway paid back on the charge.
    RecordRefund { charge: &'a str },
    /// The invoice voided (a duplicate whose charge the gateway refunded).
    VoidInvoice,
}

impl Target<'_> {
    /// What `adjustment` does in QuickBooks; `None`: it is not pushed there.
    pub(super) fn of(adjustment: &Adjustment) -> Option<Target<'_>> {
        match adjustment.kind {
            AdjustmentKind::RecordPayment => Some(Target::RecordPayment),
            AdjustmentKind::ReversePayment => voided_payment(adjustment).map(Target::VoidPayment),
            AdjustmentKind::RecordRefund => adjustment
                .gateway_id
                .as_deref()
                .map(|charge| Target::RecordRefund { charge }),
            AdjustmentKind::VoidInvoice => Some(Target::VoidInvoice),
            AdjustmentKind::CorrectAmount => None,
        }
    }

    fn pushed(self) -> Pushed {
        match self {
            Target::RecordPayment | Target::VoidPayment(_) => Pushed::Payment,
            Target::RecordRefund { .. } => Pushed::RefundReceipt,
            Target::VoidInvoice => Pushed::Invoice,
        }
    }

    /// The entity as QuickBooks names it.
    pub(super) fn entity(self) -> &'static str {
        match self {
            Target::RecordPayment | Target::VoidPayment(_) => "Payment",
            Target::RecordRefund { .. } => "RefundReceipt",
            Target::VoidInvoice => "Invoice",
        }
    }

    /// The entity in the bookkeeper's words.
    pub(super) fn noun(self) -> &'static str {
        match self {
            Target::RecordPayment | Target::VoidPayment(_) => "payment",
            Target::RecordRefund { .. } => "refund receipt",
            Target::VoidInvoice => "invoice",
        }
    }

    /// The store's name for what it made or changed (`quickbooks:KIND:ID`).
    fn kind(self) -> &'static str {
        match self {
            Target::RecordPayment | Target::VoidPayment(_) => "payment",
            Target::RecordRefund { .. } => "refund_receipt",
            Target::VoidInvoice => "invoice",
        }
    }
}

/// The connected company, opened for one action: its objects' reading and preferences.
pub(super) struct Qbo {
    keyring: Keyring,
    session: Session,
    company: Company,
    preferences: Value,
}

impl Qbo {
    pub(super) async fn open(
        store: &mut Store,
        timeout: Duration,
        now: jiff::Timestamp,
    ) -> Result<Qbo, AccountingError> {
        let keyring = crate::accounting_sync::keyring(store)?;
        let mut session = Session::open(store, &keyring, timeout, now).await?;
        let preferences = Caller {
            session: &mut session,
            keyring: &keyring,
            options: BooksSyncOptions::default(),
        }
        .call(store, |c| Box::pin(async move { c.preferences().await }))
        .await?;
        Ok(Qbo {
            company: company(store, &preferences)?,
            keyring,
            session,
            preferences,
        })
    }

    pub(super) fn realm(&self) -> &str {
        &self.session.connection.realm
    }

    pub(super) fn words(&self) -> String {
        format!("QuickBooks company {}", self.realm())
    }

    fn caller(&mut self) -> Caller<'_, Session> {
        Caller {
            session: &mut self.session,
            keyring: &self.keyring,
            options: BooksSyncOptions::default(),
        }
    }

    /// Where a request to `rest` (after the company) is journaled: the API's address and
    /// the company, so recovery never asks another QuickBooks (a stand-in reusing a realm
    /// id) what became of it.
    fn journaled(&self, rest: &str) -> String {
        format!("{}/company/{}/{rest}", self.api_base(), self.realm())
    }

    fn api_base(&self) -> &str {
        self.session
            .connection
            .endpoints
            .api_base
            .trim_end_matches('/')
    }

    /// Whether a journaled request went to this company at this address (a request
    /// journaled before the address was kept names the company alone).
    pub(super) fn sent_here(&self, path: &str) -> bool {
        let company = format!("/v3/company/{}/", self.realm());
        path.starts_with(&format!("{}/company/{}/", self.api_base(), self.realm()))
            || path.starts_with(&company)
    }

    pub(super) async fn guard(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        match Target::of(adjustment) {
            Some(Target::VoidPayment(payment)) => {
                self.guard_void(store, adjustment, payment, key).await
            }
            Some(Target::RecordRefund { charge }) => {
                self.guard_refund(store, adjustment, charge, key).await
            }
            Some(Target::VoidInvoice) => self.guard_void_invoice(store, adjustment, key).await,
            _ => self.guard_record(store, adjustment, key).await,
        }
    }

    async fn read(
        &mut self,
        store: &mut Store,
        entity: &'static str,
        id: &str,
    ) -> Result<Value, AccountingError> {
        self.caller()
            .call(store, |c| {
                let id = id.to_string();
                Box::pin(async move { c.read(entity, &id).await })
            })
            .await
    }

    /// Voiding payment `payment`: it is still there, not voided, paying only this invoice
    /// the amount the fix reverses, and dated after the closing date.
    async fn guard_void(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        payment: &str,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        let number = adjustment.invoice_number.as_str();
        let row = match self.read(store, "Payment", payment).await {
            Ok(row) => row,
            Err(AccountingError::Qbo(e)) if e.fault_code() == Some("610") => {
                return Err(Guarded::Done(format!(
                    "QuickBooks no longer has payment {payment} (it was deleted there); sync the books and reconcile again"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if is_voided(&row) {
            return Err(Guarded::Done(format!(
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
        self.refuse_if_closed(&row, &format!("payment {payment}"), "reverse it")?;
        // A duplicate's payment is voided only when its invoice's void, the next step, can
        // follow: else the invoice would be left owing in the books.
        if crate::actions::follow_up::then_voids(key) {
            let (_, invoice) = self.invoice_there(store, number, "void").await?;
            self.voidable(number, &invoice, adjustment.amount)?;
        }
        Ok(self.void_request(&row, "payment?operation=update&include=void", key))
    }

    /// Refused when `row` (`what`) is dated on or before the company's closing date;
    /// `instead` is what the bookkeeper does by hand.
    fn refuse_if_closed(&self, row: &Value, what: &str, instead: &str) -> Result<(), Guarded> {
        if let (Some(closed), Some(dated)) = (
            self.closing_date(),
            row["TxnDate"]
                .as_str()
                .and_then(|d| d.parse::<jiff::civil::Date>().ok()),
        ) && dated <= closed
        {
            return Err(Guarded::Refused(format!(
                "QuickBooks' books are closed through {closed} (the company's closing date), and {what} is dated {dated}: reopen that period in QuickBooks, or {instead} there by hand in an open period"
            )));
        }
        Ok(())
    }

    /// The void of `row` as read (its id and `SyncToken`), sent to `operation`.
    fn void_request(&self, row: &Value, operation: &str, key: &str) -> Prepared {
        let body = json!({"Id": row["Id"], "SyncToken": row["SyncToken"], "sparse": true});
        Prepared {
            method: "POST",
            path: self.journaled(&format!("{operation}&requestid={}", request_id(key))),
            body: body.to_string(),
        }
    }

    /// Voiding invoice `number`: still there, not void, no payment or credit applied to it
    /// (QuickBooks keeps a voided invoice's payments as the customer's credit: they are
    /// undone first, by their own action), and dated after the closing date.
    async fn guard_void_invoice(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        let number = adjustment.invoice_number.as_str();
        let (invoice_id, row) = self.invoice_there(store, number, "void").await?;
        self.voidable(number, &row, Money::zero(adjustment.amount.currency()))?;
        if row["Id"].as_str() != Some(invoice_id.as_str()) {
            return Err(Guarded::Refused(format!(
                "QuickBooks answered invoice {invoice_id} with another ({}); sync the books and reconcile again",
                row["Id"]
            )));
        }
        Ok(self.void_request(&row, "invoice?operation=void", key))
    }

    /// Whether invoice `number` (`row`) can be voided once `being_undone` (the payment a
    /// duplicate's reversal voids first, or nothing) is off it: not void, nothing else paid
    /// or credited on it (QuickBooks keeps a voided invoice's payments as the customer's
    /// credit: they are undone first, by their own action), dated after the closing date.
    fn voidable(&self, number: &str, row: &Value, being_undone: Money) -> Result<(), Guarded> {
        let invoice = mapping::invoice(&self.company, row).map_err(AccountingError::from)?;
        if invoice.status == InvoiceStatus::Void {
            return Err(Guarded::Done(format!(
                "invoice {number} is already void in QuickBooks; sync the books and reconcile again"
            )));
        }
        let paid = invoice
            .stated_paid
            .unwrap_or_else(|| Money::zero(being_undone.currency()));
        let only_that = if being_undone.is_zero() {
            paid.is_zero()
        } else {
            paid == being_undone
        };
        if !only_that {
            return Err(Guarded::Refused(format!(
                "invoice {number} has {paid} paid or credited in QuickBooks{}: voiding it would leave that money as the customer's credit; void or delete its payments there first, then sync the books and reconcile again",
                if being_undone.is_zero() {
                    String::new()
                } else {
                    format!(", not only the {being_undone} this fix reverses")
                }
            )));
        }
        self.refuse_if_closed(row, &format!("invoice {number}"), "credit the invoice")
    }

    /// Whether QuickBooks holds invoice `row` void, as a sync reads it (its note says so
    /// and its amounts are zeroed: a memo typed by hand is not a void).
    fn invoice_void(&self, row: &Value) -> bool {
        mapping::invoice(&self.company, row).is_ok_and(|i| i.status == InvoiceStatus::Void)
    }

    fn closing_date(&self) -> Option<jiff::civil::Date> {
        self.preferences["AccountingInfoPrefs"]["BookCloseDate"]
            .as_str()?
            .parse()
            .ok()
    }

    /// Recording a payment on its invoice.
    async fn guard_record(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        let number = adjustment.invoice_number.as_str();
        let (invoice_id, row) = self.invoice_there(store, number, "payment").await?;
        let invoice = mapping::invoice(&self.company, &row).map_err(AccountingError::from)?;
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
        let customer = customer_of(&row, &invoice_id)?;
        if let Some(charge) = adjustment.gateway_id.as_deref()
            && let Some(held) = self.payment_for_charge(store, &customer, charge).await?
        {
            return Err(Guarded::Done(format!(
                "QuickBooks already holds payment {held} for charge {charge}; sync the books and reconcile again"
            )));
        }
        let day = self.open_day(adjustment, "payment")?;
        let amount = adjustment.amount.to_decimal_string();
        let mut body = json!({
            "CustomerRef": {"value": customer},
            "TxnDate": day.to_string(),
            "CurrencyRef": {"value": currency.code()},
            "PrivateNote": mapping::pushed_note(adjustment.gateway_id.as_deref(), key),
            "Line": [{"LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
        });
        // QuickBooks' documented reference number length is unknown; a Stripe id that may
        // not fit stays in the note alone.
        if let Some(charge) = adjustment.gateway_id.as_deref().filter(|c| c.len() <= 21) {
            body["PaymentRefNum"] = json!(charge);
        }
        if let Some(account) = store.read(payment_account)? {
            body["DepositToAccountRef"] = json!({ "value": account });
        }
        Ok(Prepared {
            method: "POST",
            path: self.journaled(&format!("payment?requestid={}", request_id(key))),
            body: with_amounts(&body, &amount),
        })
    }

    /// Invoice `number` as the company holds it now: its id there and its body. One not
    /// synced from this company, or deleted there since, is refused (a `what` is recorded
    /// there by hand then).
    pub(super) async fn invoice_there(
        &mut self,
        store: &mut Store,
        number: &str,
        what: &str,
    ) -> Result<(String, Value), Guarded> {
        let realm = self.realm().to_string();
        let books = AccountingBooks {
            system: SYSTEM,
            company: &realm,
        };
        let invoice_id = store
            .read(|tx| tx.accounting_object_id(books, "invoice", number))
            .map_err(AccountingError::from)?
            .ok_or_else(|| {
                Guarded::Refused(format!(
                    "invoice {number} did not come from QuickBooks company {realm} (it was imported from a file): record the {what} there by hand, or sync the books and propose again"
                ))
            })?;
        match self.read(store, "Invoice", &invoice_id).await {
            Ok(row) => Ok((invoice_id, row)),
            Err(AccountingError::Qbo(e)) if e.fault_code() == Some("610") => {
                Err(Guarded::Refused(format!(
                    "QuickBooks no longer has invoice {number} (it was deleted there); sync the books and reconcile again"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The company's day of the fix, refused when the company's books are closed through it.
    fn open_day(&self, adjustment: &Adjustment, what: &str) -> Result<jiff::civil::Date, Guarded> {
        let day = jiff::Timestamp::from_second(adjustment.effective_at)
            .map_err(|e| Guarded::Refused(format!("the fix's date: {e}")))?
            .to_zoned(self.company.zone.clone())
            .date();
        if let Some(closed) = self.closing_date()
            && day <= closed
        {
            return Err(Guarded::Refused(format!(
                "QuickBooks' books are closed through {closed} (the company's closing date), and this {what} is dated {day}: reopen that period in QuickBooks, or record it there by hand in an open period"
            )));
        }
        Ok(day)
    }

    /// Recording a refund of `charge` as a refund receipt: the account chosen; the charge
    /// recorded on this invoice (where a sync reads the receipt back); no receipt for the
    /// charge in QuickBooks the store has not seen (one entered by hand since the sync);
    /// dated after the closing date. Its line sells the invoice's first item back.
    async fn guard_refund(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        charge: &str,
        key: &str,
    ) -> Result<Prepared, Guarded> {
        let account = store
            .read(payment_account)?
            .ok_or(Guarded::Unavailable(AccountingError::NoRefundAccount))?;
        let number = adjustment.invoice_number.as_str();
        let paid_by = store
            .read(|tx| invoice_paid_by(tx, charge))
            .map_err(AccountingError::from)?;
        if paid_by.as_deref() != Some(number) {
            return Err(Guarded::Refused(format!(
                "charge {charge} is not recorded on invoice {number} in the books ({}): a refund receipt names no invoice, so QuickBooks' would be read back elsewhere; sync the books and reconcile again",
                match paid_by {
                    Some(other) => format!("it pays {other}"),
                    None => "no payment records it".into(),
                }
            )));
        }
        let (invoice_id, row) = self.invoice_there(store, number, "refund").await?;
        let invoice = mapping::invoice(&self.company, &row).map_err(AccountingError::from)?;
        let currency = adjustment.amount.currency();
        if invoice.amount.currency() != currency {
            return Err(Guarded::Refused(format!(
                "invoice {number} is in {} in QuickBooks, the refund in {currency}",
                invoice.amount.currency()
            )));
        }
        let customer = customer_of(&row, &invoice_id)?;
        if let Some(held) = self.unseen_refund_for(store, &customer, charge).await? {
            return Err(Guarded::Done(format!(
                "QuickBooks holds refund receipt {held} for charge {charge}, recorded there since the last sync; sync the books and reconcile again"
            )));
        }
        let day = self.open_day(adjustment, "refund")?;
        let amount = adjustment.amount.to_decimal_string();
        let mut detail = json!({});
        if let Some(item) = row["Line"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|l| l["SalesItemLineDetail"]["ItemRef"].as_object())
        {
            detail["ItemRef"] = Value::Object(item.clone());
        }
        let mut body = json!({
            "CustomerRef": {"value": customer},
            "TxnDate": day.to_string(),
            "CurrencyRef": {"value": currency.code()},
            "DepositToAccountRef": {"value": account},
            "PrivateNote": mapping::pushed_note(Some(charge), key),
            "Line": [{
                "Description": format!("Refund of Stripe charge {charge} on invoice {number}"),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": detail,
            }],
        });
        if charge.len() <= 21 {
            body["PaymentRefNum"] = json!(charge);
        }
        Ok(Prepared {
            method: "POST",
            path: self.journaled(&format!("refundreceipt?requestid={}", request_id(key))),
            body: with_amounts(&body, &amount),
        })
    }

    /// A live refund receipt of `customer` naming `charge` (or one of its refunds) that
    /// the store has not read, by id.
    async fn unseen_refund_for(
        &mut self,
        store: &mut Store,
        customer: &str,
        charge: &str,
    ) -> Result<Option<String>, Guarded> {
        let (names, seen) = store
            .read(|tx| {
                let mut names = vec![charge.to_string()];
                names.extend(tx.refunds_of(&[charge])?.into_iter().map(|r| r.id));
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let seen: Vec<String> = tx
                    .ledger_entries_about(&[], &refs)?
                    .into_iter()
                    .filter_map(|e| e.payment_id.strip_prefix("qbo:refund:").map(str::to_string))
                    .collect();
                Ok::<_, crate::store::StoreError>((names, seen))
            })
            .map_err(AccountingError::from)?;
        let condition = format!("CustomerRef = '{}'", customer.replace('\'', "\\'"));
        let receipts = self
            .caller()
            .call(store, |c| {
                let condition = condition.clone();
                Box::pin(async move { c.query_all("RefundReceipt", &condition, "Id", 1000).await })
            })
            .await?;
        Ok(receipts
            .iter()
            .filter(|r| !is_voided(r))
            .filter(|r| !seen.iter().any(|s| r["Id"].as_str() == Some(s)))
            .find(|r| names.iter().any(|n| receipt_names(r, n)))
            .and_then(|r| r["Id"].as_str().map(str::to_string)))
    }

    /// A live payment of `customer` in QuickBooks that records `charge`, by id.
    async fn payment_for_charge(
        &mut self,
        store: &mut Store,
        customer: &str,
        charge: &str,
    ) -> Result<Option<String>, Guarded> {
        let condition = format!("CustomerRef = '{}'", customer.replace('\'', "\\'"));
        let payments = self
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

    /// Sends the journaled body under the key's request id.
    pub(super) async fn send(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        body: &str,
        key: &str,
    ) -> Result<Value, AccountingError> {
        let request = request_id(key);
        let target = Target::of(adjustment).unwrap_or(Target::RecordPayment);
        let operation: &'static [(&'static str, &'static str)] = match target {
            Target::VoidPayment(_) => &[("operation", "update"), ("include", "void")],
            Target::VoidInvoice => &[("operation", "void")],
            _ => &[],
        };
        let entity = target.entity();
        self.caller()
            .call(store, |c| {
                let (body, request) = (body.to_string(), request.clone());
                Box::pin(async move { c.write(entity, operation, &body, &request).await })
            })
            .await
    }

    /// What an answer shows: the payment, whether it is this action's effect.
    pub(super) fn effect(
        &self,
        adjustment: &Adjustment,
        answer: &Value,
        key: &str,
        journaled: &str,
    ) -> Effect {
        let object = answer["Id"].as_str().unwrap_or_default().to_string();
        let target = Target::of(adjustment).unwrap_or(Target::RecordPayment);
        let (done, ours) = match target {
            Target::VoidPayment(voided) => ("voided", object == voided && is_voided(answer)),
            // The guard saw the invoice live: void now is this action's void (the invoice the
            // journaled request names, by its id: a number may be stored renamed).
            Target::VoidInvoice => (
                "voided",
                answer["Id"].is_string()
                    && serde_json::from_str::<Value>(journaled)
                        .is_ok_and(|j| j["Id"] == answer["Id"])
                    && self.invoice_void(answer),
            ),
            _ => ("recorded", mapping::carries_key(answer, key)),
        };
        Effect {
            object_id: format!("quickbooks:{}:{object}", target.kind()),
            object,
            entity: target.entity(),
            noun: target.noun(),
            done,
            ours,
        }
    }

    /// Stores the object answered as a sync would, and the invoice it changed as read
    /// since.
    pub(super) fn keep(
        &self,
        tx: &StoreTx<'_>,
        adjustment: &Adjustment,
        answer: &Value,
        invoice: Option<&Value>,
        now: jiff::Timestamp,
    ) -> Result<(), AccountingError> {
        if let Some(invoice) = invoice {
            store_pushed(
                tx,
                self.realm(),
                &self.company,
                Pushed::Invoice,
                invoice,
                now,
            )?;
        }
        let pushed = Target::of(adjustment).map_or(Pushed::Payment, Target::pushed);
        store_pushed(tx, self.realm(), &self.company, pushed, answer, now)
    }

    /// A definite refusal, in words; `None` when the write may have happened.
    pub(super) fn refused(e: &AccountingError) -> Option<String> {
        let AccountingError::Qbo(e) = e else {
            return None;
        };
        if !e.is_definite() {
            return None;
        }
        Some(match e.fault_code() {
            Some("6210") => format!(
                "QuickBooks refused it: the period is closed there ({e}); reopen it in QuickBooks or record the payment by hand in an open period"
            ),
            _ => format!("QuickBooks refused it: {e}"),
        })
    }

    /// What became of an undecided push, read from the company.
    pub(super) async fn find(
        &mut self,
        store: &mut Store,
        adjustment: &Adjustment,
        key: &str,
        first_sent: i64,
    ) -> Found {
        if let Some(payment) = voided_payment(adjustment) {
            // A void is read from the payment: the guard saw it live, so voided means ours.
            return match self.read(store, "Payment", payment).await {
                Ok(row) if is_voided(&row) => Found::Done(row),
                Ok(_) => Found::NotDone,
                Err(AccountingError::Qbo(e)) if e.fault_code() == Some("610") => Found::Review(
                    format!("QuickBooks payment {payment} was deleted there meanwhile"),
                ),
                Err(_) => Found::Unavailable,
            };
        }
        if Target::of(adjustment) == Some(Target::VoidInvoice) {
            // Read from the invoice, as a payment's void is.
            let number = adjustment.invoice_number.as_str();
            return match self.invoice_there(store, number, "void").await {
                Ok((_, row)) if self.invoice_void(&row) => Found::Done(row),
                Ok(_) => Found::NotDone,
                Err(Guarded::Refused(why) | Guarded::Done(why)) => Found::Review(why),
                Err(Guarded::Unavailable(_)) => Found::Unavailable,
            };
        }
        let since = jiff::Timestamp::from_second(first_sent - FIND_SLACK_SECONDS)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(self.company.zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
        let condition = format!("MetaData.CreateTime >= '{since}'");
        let target = Target::of(adjustment).unwrap_or(Target::RecordPayment);
        let (entity, noun) = (target.entity(), target.noun());
        let found = self
            .caller()
            .call(store, |c| {
                let condition = condition.clone();
                Box::pin(async move {
                    c.query_all(entity, &condition, "MetaData.CreateTime", 1000)
                        .await
                })
            })
            .await;
        let found = match found {
            Ok(found) => found,
            Err(AccountingError::Qbo(e)) if e.is_definite() => {
                return Found::Review(format!(
                    "QuickBooks refused the search for this action's {noun} ({e})"
                ));
            }
            Err(_) => return Found::Unavailable,
        };
        let mut carrying: Vec<&Value> = found
            .iter()
            .filter(|p| mapping::carries_key(p, key))
            .collect();
        carrying.dedup_by(|a, b| a["Id"] == b["Id"]);
        match carrying.as_slice() {
            [one] => Found::Done((*one).clone()),
            [] => Found::NotDone,
            several => {
                let ids: Vec<&str> = several.iter().filter_map(|p| p["Id"].as_str()).collect();
                Found::Review(format!(
                    "QuickBooks holds {} {noun}s carrying this action's key ({}): a person decides which stays",
                    ids.len(),
                    ids.join(", ")
                ))
            }
        }
    }
}

fn is_voided(payment: &Value) -> bool {
    payment["PrivateNote"]
        .as_str()
        .is_some_and(|n| n.starts_with("Voided"))
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

/// The invoice's customer there.
fn customer_of(invoice: &Value, invoice_id: &str) -> Result<String, Guarded> {
    invoice["CustomerRef"]["value"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            Guarded::Unavailable(AccountingError::Mapping(mapping::MappingError {
                entity: "invoice",
                id: invoice_id.to_string(),
                field: "CustomerRef",
                reason: "is missing".into(),
            }))
        })
}

/// Whether a QuickBooks refund receipt records Stripe object `id` (a charge or a refund):
/// what a sync reads from it, or its reference number cut by hand.
fn receipt_names(receipt: &Value, id: &str) -> bool {
    let reference = receipt["PaymentRefNum"].as_str().unwrap_or("").trim();
    super::reference_names(reference, id)
        || mapping::refund_receipt_gateway_id(receipt).as_deref() == Some(id)
}

/// Whether a QuickBooks payment records Stripe charge `charge`: its reference number is
/// the id, or the id cut to what the field held when typed by hand (at least `ch_` and a
/// dozen characters: QuickBooks' documented length is not known), or Chargeguard's note
/// names it exactly.
fn names_charge(payment: &Value, charge: &str) -> bool {
    let reference = payment["PaymentRefNum"].as_str().unwrap_or("").trim();
    super::reference_names(reference, charge)
        || mapping::charge_in_note(payment).as_deref() == Some(charge)
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
    fn a_refund_receipt_names_a_long_charge_by_our_note_and_a_refund_by_its_reference() {
        // Real Stripe ids are longer than the reference field is known to hold.
        let charge = "ch_3OaFDbEcg9tTZuTg1AbCdEfGh";
        let ours = json!({"PrivateNote": mapping::pushed_note(Some(charge), "cg-k")});
        assert!(receipt_names(&ours, charge));
        assert!(!receipt_names(&ours, &charge[..20]));
        let by_hand = json!({"PaymentRefNum": "re_3OaFDbEcg9tTZuTg1x"});
        assert!(receipt_names(&by_hand, "re_3OaFDbEcg9tTZuTg1xYz"), "cut");
        assert!(!receipt_names(&by_hand, charge));
        assert!(!receipt_names(
            &json!({"PaymentRefNum": "Cheque 12"}),
            charge
        ));
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
