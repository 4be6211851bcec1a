//! QuickBooks Online's invoices and payments as Chargeguard's records.
//!
//! - An **invoice** is its `DocNumber` (QBO numbers every invoice; `QBO-{Id}` where one has
//!   none), its customer's id, `TotalAmt` in its `CurrencyRef` (else the company's), issued
//!   on `TxnDate` and due on `DueDate` at the start of that day in the company's zone. A
//!   voided one (QBO zeroes its amounts and writes `Voided` into `PrivateNote`) is void;
//!   one whose `Balance` is zero is paid; what it states paid is `TotalAmt − Balance`.
//! - A **payment** is one ledger entry per invoice it is applied to (`qbo:{payment}:{invoice}`),
//!   dated by its `TxnDate`; a `PaymentRefNum` that is a Stripe id (`ch_`, `py_`, `pi_`)
//!   is the gateway object it records. Only the money received (`TotalAmt`) is recorded:
//!   where the payment also applies a credit memo, the invoices take the cash in the
//!   payment's order and the credit covers the rest. A voided payment records nothing.
//!
//! Amounts are read exactly from the JSON number's decimal text, in the currency's minor
//! units; an amount the currency cannot hold is refused, naming the object and field.

use std::collections::HashMap;

use serde_json::Value;

use crate::money::{Currency, Money, Sign};
use crate::records::{Invoice, InvoiceStatus, LedgerEntry, LedgerKind};

/// The company the objects come from.
#[derive(Debug, Clone)]
pub struct Company {
    pub currency: Currency,
    pub zone: jiff::tz::TimeZone,
}

/// An object that does not read as a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("QuickBooks {entity} {id}: {field} {reason}")]
pub struct MappingError {
    pub entity: &'static str,
    pub id: String,
    pub field: &'static str,
    pub reason: String,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A reference's id (`{"value": "24", "name": …}`).
fn reference(v: &Value) -> Option<String> {
    text(&v["value"])
}

struct Reader<'a> {
    entity: &'static str,
    body: &'a Value,
    company: &'a Company,
}

impl Reader<'_> {
    fn id(&self) -> String {
        text(&self.body["Id"]).unwrap_or_else(|| "(no Id)".into())
    }

    fn fail(&self, field: &'static str, reason: impl Into<String>) -> MappingError {
        MappingError {
            entity: self.entity,
            id: self.id(),
            field,
            reason: reason.into(),
        }
    }

    fn currency(&self) -> Result<Currency, MappingError> {
        match reference(&self.body["CurrencyRef"]) {
            None => Ok(self.company.currency),
            Some(code) => Currency::from_code(&code)
                .map_err(|e| self.fail("CurrencyRef", format!("is not a currency ({e})"))),
        }
    }

    fn money(
        &self,
        v: &Value,
        field: &'static str,
        currency: Currency,
    ) -> Result<Money, MappingError> {
        let written = text(v).ok_or_else(|| self.fail(field, "is missing"))?;
        Money::parse(&written, currency, Sign::NonNegative).map_err(|e| {
            self.fail(
                field,
                format!("{written} is not an amount in {currency}: {e}"),
            )
        })
    }

    /// The start of a `YYYY-MM-DD` day in the company's zone.
    fn day(&self, field: &'static str) -> Result<Option<jiff::Timestamp>, MappingError> {
        let Some(written) = text(&self.body[field]) else {
            return Ok(None);
        };
        let date: jiff::civil::Date = written
            .parse()
            .map_err(|_| self.fail(field, format!("{written} is not a date (YYYY-MM-DD)")))?;
        date.to_zoned(self.company.zone.clone())
            .map(|z| Some(z.timestamp()))
            .map_err(|e| self.fail(field, e.to_string()))
    }

    fn voided(&self) -> bool {
        self.body["PrivateNote"]
            .as_str()
            .is_some_and(|n| n.starts_with("Voided"))
    }
}

/// A QBO `Invoice` as an invoice.
pub fn invoice(company: &Company, body: &Value) -> Result<Invoice, MappingError> {
    let r = Reader {
        entity: "invoice",
        body,
        company,
    };
    let currency = r.currency()?;
    let total = r.money(&body["TotalAmt"], "TotalAmt", currency)?;
    let balance = r.money(&body["Balance"], "Balance", currency)?;
    let paid = total
        .checked_sub(balance)
        .ok()
        .filter(|p| !p.is_negative())
        .ok_or_else(|| {
            r.fail(
                "Balance",
                format!("{balance} is more than the total {total}"),
            )
        })?;
    let voided = r.voided() && total.is_zero();
    let status = if voided {
        InvoiceStatus::Void
    } else if balance.is_zero() && !total.is_zero() {
        InvoiceStatus::Paid
    } else {
        InvoiceStatus::Open
    };
    Ok(Invoice {
        number: text(&body["DocNumber"]).unwrap_or_else(|| format!("QBO-{}", r.id())),
        customer_id: reference(&body["CustomerRef"])
            .ok_or_else(|| r.fail("CustomerRef", "is missing"))?,
        amount: total,
        issued_at: r
            .day("TxnDate")?
            .ok_or_else(|| r.fail("TxnDate", "is missing"))?,
        due_at: r.day("DueDate")?,
        status,
        order_ref: None,
        gateway_invoice_id: None,
        stated_paid: (!voided).then_some(paid),
        paid_at: None,
    })
}

/// The Stripe object a payment's reference number names, if it names one.
fn stripe_id(reference: Option<String>) -> Option<String> {
    reference.filter(|r| ["ch_", "py_", "pi_"].iter().any(|p| r.starts_with(p)))
}

/// Where a payment Chargeguard pushed names its Stripe charge in `PrivateNote` (the
/// reference number's length is not documented, and a Stripe id may not fit it).
const NOTE_CHARGE: &str = "Stripe charge ";
/// Where it carries the journal's key, which recovery looks for.
const NOTE_KEY: &str = "Chargeguard key ";

/// The `PrivateNote` of a payment Chargeguard pushes: the charge it records, the key.
pub fn pushed_note(charge: Option<&str>, key: &str) -> String {
    match charge {
        Some(c) => format!("Recorded by Chargeguard. {NOTE_CHARGE}{c}. {NOTE_KEY}{key}"),
        None => format!("Recorded by Chargeguard. {NOTE_KEY}{key}"),
    }
}

/// Whether `body`'s `PrivateNote` carries `key` as Chargeguard writes it.
pub fn carries_key(body: &Value, key: &str) -> bool {
    body["PrivateNote"]
        .as_str()
        .and_then(|n| n.split_once(NOTE_KEY))
        .is_some_and(|(_, rest)| rest.split_whitespace().next() == Some(key))
}

/// The Stripe charge a pushed payment's note names.
pub fn charge_in_note(body: &Value) -> Option<String> {
    let (_, rest) = body["PrivateNote"].as_str()?.split_once(NOTE_CHARGE)?;
    let id = rest.split_whitespace().next()?.trim_end_matches('.');
    stripe_id(Some(id.to_string()))
}

/// The Stripe object (a charge, payment or refund) a `RefundReceipt` records: its
/// reference number, else the note Chargeguard writes. `None`: a refund outside Stripe
/// (cash, cheque), which is not the gateway's to reconcile.
pub fn refund_receipt_gateway_id(body: &Value) -> Option<String> {
    let any = |r: String| {
        ["ch_", "py_", "pi_", "re_", "pyr_"]
            .iter()
            .any(|p| r.starts_with(p))
            .then_some(r)
    };
    text(&body["PaymentRefNum"])
        .and_then(any)
        .or_else(|| charge_in_note(body))
}

/// A QBO `RefundReceipt` (money paid back to a customer) as a ledger refund on
/// `invoice_number` (the invoice its Stripe object pays: a refund receipt names no
/// invoice), keyed `qbo:refund:{Id}`; a voided one records nothing.
pub fn refund_receipt_entry(
    company: &Company,
    body: &Value,
    invoice_number: &str,
    gateway_id: &str,
) -> Result<Option<LedgerEntry>, MappingError> {
    let r = Reader {
        entity: "refund receipt",
        body,
        company,
    };
    if r.voided() {
        return Ok(None);
    }
    let currency = r.currency()?;
    let amount = r.money(&body["TotalAmt"], "TotalAmt", currency)?;
    if amount.is_zero() {
        return Ok(None);
    }
    Ok(Some(LedgerEntry {
        payment_id: format!("qbo:refund:{}", r.id()),
        invoice_number: invoice_number.to_string(),
        kind: LedgerKind::Refund,
        amount,
        recorded_at: r
            .day("TxnDate")?
            .ok_or_else(|| r.fail("TxnDate", "is missing"))?,
        gateway_id: Some(gateway_id.to_string()),
    }))
}

/// A QBO `Payment` as ledger entries, one per invoice it is applied to; `numbers` maps a
/// QBO invoice id to its number. An invoice not among them is refused (sync invoices
/// first); a voided payment records nothing.
pub fn payment_entries(
    company: &Company,
    body: &Value,
    numbers: &HashMap<String, String>,
) -> Result<Vec<LedgerEntry>, MappingError> {
    let r = Reader {
        entity: "payment",
        body,
        company,
    };
    if r.voided() {
        return Ok(Vec::new());
    }
    let currency = r.currency()?;
    let recorded_at = r
        .day("TxnDate")?
        .ok_or_else(|| r.fail("TxnDate", "is missing"))?;
    let gateway_id = stripe_id(text(&body["PaymentRefNum"])).or_else(|| charge_in_note(body));
    // The money received. A payment that also applies a credit memo links the invoice
    // for more than that (the credit covers the rest): only the cash is a ledger
    // payment, given to the invoices in the payment's order.
    let mut cash = r.money(&body["TotalAmt"], "TotalAmt", currency)?;
    let mut out = Vec::new();
    for line in body["Line"].as_array().into_iter().flatten() {
        for linked in line["LinkedTxn"].as_array().into_iter().flatten() {
            if linked["TxnType"] != "Invoice" {
                continue;
            }
            let invoice_id =
                text(&linked["TxnId"]).ok_or_else(|| r.fail("LinkedTxn", "names no TxnId"))?;
            let number = numbers.get(&invoice_id).ok_or_else(|| {
                r.fail(
                    "LinkedTxn",
                    format!("names invoice {invoice_id}, which is not synced"),
                )
            })?;
            let applied = r.money(&line["Amount"], "Line.Amount", currency)?;
            let amount = if applied.minor() <= cash.minor() {
                applied
            } else {
                cash
            };
            if amount.is_zero() {
                continue;
            }
            cash = Money::from_minor(cash.minor() - amount.minor(), currency);
            out.push(LedgerEntry {
                payment_id: format!("qbo:{}:{invoice_id}", r.id()),
                invoice_number: number.clone(),
                kind: LedgerKind::Payment,
                amount,
                recorded_at,
                gateway_id: gateway_id.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn company() -> Company {
        Company {
            currency: Currency::from_code("USD").unwrap(),
            zone: jiff::tz::TimeZone::get("America/Los_Angeles").unwrap(),
        }
    }

    /// Intuit's documented invoice sample (docs/research/quickbooks-online.md §2a), trimmed.
    fn documented_invoice() -> Value {
        json!({"TxnDate":"2014-09-19","domain":"QBO","TotalAmt":362.07,
            "Line":[{"Description":"Rock Fountain","DetailType":"SalesItemLineDetail","Amount":275.0,"Id":"1"}],
            "DueDate":"2014-10-19","DocNumber":"1037","sparse":false,"Deposit":0,"Balance":362.07,
            "CustomerRef":{"name":"Sonnenschein Family Store","value":"24"},"SyncToken":"0",
            "MetaData":{"CreateTime":"2014-09-19T13:16:17-07:00","LastUpdatedTime":"2014-09-19T13:16:17-07:00"},
            "Id":"130"})
    }

    #[test]
    fn intuits_documented_invoice_reads_as_an_open_invoice() {
        let i = invoice(&company(), &documented_invoice()).unwrap();
        assert_eq!(i.number, "1037");
        assert_eq!(i.customer_id, "24");
        assert_eq!(i.amount.minor(), 36_207);
        assert_eq!(i.issued_at.to_string(), "2014-09-19T07:00:00Z");
        assert_eq!(i.due_at.unwrap().to_string(), "2014-10-19T07:00:00Z");
        assert_eq!(i.status, InvoiceStatus::Open);
        assert_eq!(i.stated_paid.unwrap().minor(), 0);
    }

    #[test]
    fn a_paid_a_part_paid_and_a_voided_invoice() {
        let mut paid = documented_invoice();
        paid["Balance"] = json!(0);
        let i = invoice(&company(), &paid).unwrap();
        assert_eq!(
            (i.status, i.stated_paid.unwrap().minor()),
            (InvoiceStatus::Paid, 36_207)
        );
        let mut part = documented_invoice();
        part["Balance"] = json!(100.07);
        let i = invoice(&company(), &part).unwrap();
        assert_eq!(
            (i.status, i.stated_paid.unwrap().minor()),
            (InvoiceStatus::Open, 26_200)
        );
        // Intuit's documented voided sample: amounts zeroed, "Voided" in the private note.
        let mut voided = documented_invoice();
        voided["TotalAmt"] = json!(0);
        voided["Balance"] = json!(0);
        voided["PrivateNote"] = json!("Voided");
        let i = invoice(&company(), &voided).unwrap();
        assert_eq!((i.status, i.stated_paid), (InvoiceStatus::Void, None));
    }

    #[test]
    fn what_does_not_read_is_refused_naming_the_object_and_field() {
        let mut bad = documented_invoice();
        bad["TotalAmt"] = json!(362.075);
        let e = invoice(&company(), &bad).unwrap_err();
        assert_eq!(
            (e.entity, e.id.as_str(), e.field),
            ("invoice", "130", "TotalAmt")
        );
        let mut over = documented_invoice();
        over["Balance"] = json!(400);
        assert_eq!(invoice(&company(), &over).unwrap_err().field, "Balance");
        let mut yen = documented_invoice();
        yen["CurrencyRef"] = json!({"value": "JPY"});
        assert_eq!(
            invoice(&company(), &yen).unwrap_err().field,
            "TotalAmt",
            "362.07 yen is not an amount"
        );
    }

    #[test]
    fn intuits_documented_payment_records_its_invoice_and_a_stripe_reference() {
        // docs/research/quickbooks-online.md §2b.
        let mut body = json!({"CustomerRef":{"value":"20","name":"Red Rock Diner"},"TotalAmt":25,
            "UnappliedAmt":0,"Id":"125","SyncToken":"0","TxnDate":"2014-09-14",
            "CurrencyRef":{"value":"USD","name":"United States Dollar"},
            "Line":[{"Amount":25,"LinkedTxn":[{"TxnId":"67","TxnType":"Invoice"}]}]});
        let numbers = HashMap::from([("67".to_string(), "1021".to_string())]);
        let entries = payment_entries(&company(), &body, &numbers).unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(
            (
                e.payment_id.as_str(),
                e.invoice_number.as_str(),
                e.amount.minor(),
                e.gateway_id.as_deref()
            ),
            ("qbo:125:67", "1021", 2_500, None)
        );
        body["PaymentRefNum"] = json!("ch_3OaFDbEcg9tTZuTg");
        assert_eq!(
            payment_entries(&company(), &body, &numbers).unwrap()[0]
                .gateway_id
                .as_deref(),
            Some("ch_3OaFDbEcg9tTZuTg")
        );
        let unsynced = payment_entries(&company(), &body, &HashMap::new()).unwrap_err();
        assert_eq!(unsynced.field, "LinkedTxn");
        // A credit memo of 10 applied with 15 of cash to an invoice of 25: 15 received.
        let mut with_credit = body.clone();
        with_credit["TotalAmt"] = json!(15);
        with_credit["Line"] = json!([
            {"Amount":25,"LinkedTxn":[{"TxnId":"67","TxnType":"Invoice"}]},
            {"Amount":10,"LinkedTxn":[{"TxnId":"70","TxnType":"CreditMemo"}]}]);
        let entries = payment_entries(&company(), &with_credit, &numbers).unwrap();
        assert_eq!(
            entries.iter().map(|e| e.amount.minor()).collect::<Vec<_>>(),
            [1_500]
        );
        // A credit memo alone (no cash) records nothing.
        with_credit["TotalAmt"] = json!(0);
        with_credit["Line"][1]["Amount"] = json!(25);
        assert!(
            payment_entries(&company(), &with_credit, &numbers)
                .unwrap()
                .is_empty()
        );
        body["PrivateNote"] = json!("Voided");
        assert!(
            payment_entries(&company(), &body, &numbers)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_pushed_payments_note_names_its_charge_and_key_and_nothing_else_does() {
        let key = "cg-ledger_fix-0123456789abcdef0123456789abcdef01234567";
        let mut body = json!({"PrivateNote": pushed_note(Some("ch_3OaFDbEcg9tTZuTgLong1"), key)});
        assert!(carries_key(&body, key));
        assert!(
            !carries_key(&body, "cg-ledger_fix-0123"),
            "a prefix is not the key"
        );
        assert_eq!(
            charge_in_note(&body).as_deref(),
            Some("ch_3OaFDbEcg9tTZuTgLong1")
        );
        body["PrivateNote"] = json!("paid by phone, see ch_123");
        assert_eq!(
            charge_in_note(&body),
            None,
            "only Chargeguard's own wording"
        );
        assert!(!carries_key(&body, key));
    }

    #[test]
    fn a_refund_receipt_naming_a_stripe_refund_is_a_ledger_refund_and_a_cash_one_is_not() {
        let body = json!({"Id": "42", "TxnDate": "2026-12-01", "TotalAmt": 40.0,
            "PaymentRefNum": "re_3OaFDbEcg9tTZuTg1", "CustomerRef": {"value": "5"}});
        let gateway = refund_receipt_gateway_id(&body).unwrap();
        assert_eq!(gateway, "re_3OaFDbEcg9tTZuTg1");
        let entry = refund_receipt_entry(&company(), &body, "INV-5", &gateway)
            .unwrap()
            .unwrap();
        assert_eq!(entry.payment_id, "qbo:refund:42");
        assert_eq!(entry.kind, LedgerKind::Refund);
        assert_eq!(entry.amount.minor(), 4_000);
        assert_eq!(entry.invoice_number, "INV-5");
        let mut cash = body.clone();
        cash["PaymentRefNum"] = json!("Cheque 1044");
        assert_eq!(refund_receipt_gateway_id(&cash), None);
        let mut voided = body;
        voided["PrivateNote"] = json!("Voided");
        voided["TotalAmt"] = json!(0);
        assert_eq!(
            refund_receipt_entry(&company(), &voided, "INV-5", &gateway).unwrap(),
            None
        );
    }
}
