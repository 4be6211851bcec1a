//! Xero's sales invoices and their payments as Chargeguard's records.
//!
//! - An **invoice** (`Type: ACCREC`) is its `InvoiceNumber` (`XERO-{InvoiceID}` where it has
//!   none), its contact's id, `Total` in its `CurrencyCode` (else the organisation's), issued
//!   on `Date` and due on `DueDate` at the start of that day in the business's zone (Xero
//!   writes a date as midnight UTC: `/Date(1539993600000+0000)/`). `AUTHORISED` is open,
//!   `PAID` paid, `VOIDED` void (Xero keeps its total; nothing is owed); what it states paid is
//!   `AmountPaid`. A `DRAFT` or `SUBMITTED` invoice is not yet issued and is no record; a
//!   `DELETED` one (only drafts can be) is removed if stored. Bills (`ACCPAY`) are not ours.
//! - A **payment** on a sales invoice (`PaymentType: ACCRECPAYMENT`) is one ledger entry
//!   (`xero:{PaymentID}`), dated by its `Date`; a `Reference` that is a Stripe id (`ch_`,
//!   `py_`, `pi_`) is the gateway object it records. A `DELETED` payment (Xero's reversal) is
//!   removed.
//! - A **refund** (a sales credit note's, an overpayment's or a prepayment's credit paid back
//!   in cash: `ARCREDITPAYMENT`, `AROVERPAYMENTPAYMENT`, `ARPREPAYMENTPAYMENT`) whose
//!   `Reference` names a Stripe charge, payment or refund (`re_`, `pyr_`) is a ledger refund
//!   (`xero:{PaymentID}`) on the invoice that Stripe object pays, which the caller finds (a
//!   refund names no invoice); one outside Stripe (a cheque) is not the gateway's. Credit
//!   notes themselves move no money and are no ledger entries.
//!
//! Amounts are read exactly from the JSON number's decimal text; an amount the currency
//! cannot hold is refused, naming the object and field. Pure: no I/O.

use serde_json::Value;

use crate::money::{Currency, Money, Sign};
use crate::records::{Invoice, InvoiceStatus, LedgerEntry, LedgerKind};

pub use super::qbo::MappingError;

/// The organisation the objects come from.
#[derive(Debug, Clone)]
pub struct Organisation {
    /// Its `BaseCurrency`.
    pub currency: Currency,
    /// The business's zone, whose day a Xero date names.
    pub zone: jiff::tz::TimeZone,
}

/// What one Xero object means for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read<T> {
    /// Store it (new or changed).
    Record(T),
    /// Remove what was stored under its id, if anything.
    Removed,
    /// Not a record of ours (a draft, a bill, a payment on something not a sales invoice).
    NotOurs,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A Microsoft JSON date's milliseconds (`/Date(1539993600000+0000)/`).
pub fn ms_of(text: &str) -> Option<i64> {
    let inner = text.strip_prefix("/Date(")?;
    let digits = inner.strip_prefix('-').unwrap_or(inner);
    let end = inner.len() - digits.len() + digits.find(|c: char| !c.is_ascii_digit())?;
    inner[..end].parse().ok()
}

/// The day a Xero date (`/Date(ms+0000)/`, midnight UTC) names.
pub fn xero_day(text: &str) -> Option<jiff::civil::Date> {
    let ms = ms_of(text)?;
    Some(
        jiff::Timestamp::from_millisecond(ms)
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date(),
    )
}

struct Reader<'a> {
    entity: &'static str,
    id_field: &'static str,
    body: &'a Value,
    organisation: &'a Organisation,
}

impl Reader<'_> {
    fn id(&self) -> String {
        text(&self.body[self.id_field]).unwrap_or_else(|| format!("(no {})", self.id_field))
    }

    fn fail(&self, field: &'static str, reason: impl Into<String>) -> MappingError {
        MappingError {
            entity: self.entity,
            id: self.id(),
            field,
            reason: reason.into(),
        }
    }

    fn currency(&self, v: &Value) -> Result<Currency, MappingError> {
        match text(v) {
            None => Ok(self.organisation.currency),
            Some(code) => Currency::from_code(&code)
                .map_err(|e| self.fail("CurrencyCode", format!("is not a currency ({e})"))),
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

    /// The start, in the business's zone, of the day a Xero date names.
    fn day(&self, field: &'static str) -> Result<Option<jiff::Timestamp>, MappingError> {
        let Some(written) = text(&self.body[field]) else {
            return Ok(None);
        };
        let date = xero_day(&written)
            .ok_or_else(|| self.fail(field, format!("{written} is not a Xero date")))?;
        date.to_zoned(self.organisation.zone.clone())
            .map(|z| Some(z.timestamp()))
            .map_err(|e| self.fail(field, e.to_string()))
    }
}

/// A Xero `Invoice`.
pub fn invoice(organisation: &Organisation, body: &Value) -> Result<Read<Invoice>, MappingError> {
    let r = Reader {
        entity: "invoice",
        id_field: "InvoiceID",
        body,
        organisation,
    };
    if body["Type"] != "ACCREC" {
        return Ok(Read::NotOurs);
    }
    let status = match body["Status"].as_str().unwrap_or("") {
        "AUTHORISED" => InvoiceStatus::Open,
        "PAID" => InvoiceStatus::Paid,
        "VOIDED" => InvoiceStatus::Void,
        "DELETED" => return Ok(Read::Removed),
        "DRAFT" | "SUBMITTED" => return Ok(Read::NotOurs),
        other => {
            return Err(r.fail(
                "Status",
                format!("{other:?} is not a status Xero documents"),
            ));
        }
    };
    let currency = r.currency(&body["CurrencyCode"])?;
    let total = r.money(&body["Total"], "Total", currency)?;
    let paid = r.money(&body["AmountPaid"], "AmountPaid", currency)?;
    Ok(Read::Record(Invoice {
        number: text(&body["InvoiceNumber"]).unwrap_or_else(|| format!("XERO-{}", r.id())),
        customer_id: text(&body["Contact"]["ContactID"])
            .ok_or_else(|| r.fail("Contact", "names no ContactID"))?,
        amount: total,
        issued_at: r.day("Date")?.ok_or_else(|| r.fail("Date", "is missing"))?,
        due_at: r.day("DueDate")?,
        status,
        order_ref: None,
        gateway_invoice_id: None,
        stated_paid: (status != InvoiceStatus::Void).then_some(paid),
        paid_at: r.day("FullyPaidOnDate")?,
    }))
}

/// What comes before the journal's key in the `Reference` of a payment Chargeguard made.
const REFERENCE_KEY: &str = "Chargeguard ";

/// The `Reference` of a payment Chargeguard records: the Stripe charge first (what a
/// person or a sync reads as the payment's Stripe id), then the journal's key, which
/// recovery finds the payment by (`Reference.Contains`).
pub fn pushed_reference(charge: Option<&str>, key: &str) -> String {
    match charge {
        Some(c) => format!("{c} {REFERENCE_KEY}{key}"),
        None => format!("{REFERENCE_KEY}{key}"),
    }
}

/// Whether payment `body`'s `Reference` carries `key` as Chargeguard writes it.
pub fn carries_key(body: &Value, key: &str) -> bool {
    body["Reference"]
        .as_str()
        .and_then(|r| r.split_once(REFERENCE_KEY))
        .is_some_and(|(_, rest)| rest.split_whitespace().next() == Some(key))
}

/// The Stripe object a payment's reference names, if it names one: the reference, or its
/// first word (a Stripe id followed by words, as Chargeguard's own references are).
pub fn stripe_id(reference: Option<String>) -> Option<String> {
    let reference = reference?;
    let first = reference.split_whitespace().next()?;
    ["ch_", "py_", "pi_"]
        .iter()
        .any(|p| first.starts_with(p))
        .then(|| first.to_string())
}

/// The payment types that pay a customer back: a sales credit note's, an overpayment's or a
/// prepayment's credit, refunded in cash.
const REFUND_TYPES: [&str; 3] = [
    "ARCREDITPAYMENT",
    "AROVERPAYMENTPAYMENT",
    "ARPREPAYMENTPAYMENT",
];

/// Whether a Xero `Payment` pays a customer back (see [`refund_entry`]).
pub fn is_refund(body: &Value) -> bool {
    body["PaymentType"]
        .as_str()
        .is_some_and(|t| REFUND_TYPES.contains(&t))
}

/// The Stripe object a refund's reference names: a charge, payment or intent, or a Stripe
/// refund (`re_`, `pyr_`); its first word, as [`stripe_id`].
pub fn refund_gateway_id(body: &Value) -> Option<String> {
    let reference = text(&body["Reference"])?;
    let first = reference.split_whitespace().next()?;
    ["ch_", "py_", "pi_", "re_", "pyr_"]
        .iter()
        .any(|p| first.starts_with(p))
        .then(|| first.to_string())
}

/// A Xero refund `Payment` (see [`is_refund`]) naming Stripe object `gateway_id`, as a
/// ledger refund on `invoice_number` in `currency`. A deleted one is removed.
pub fn refund_entry(
    organisation: &Organisation,
    body: &Value,
    invoice_number: &str,
    gateway_id: &str,
    currency: Currency,
) -> Result<Read<LedgerEntry>, MappingError> {
    if body["Status"] != "DELETED" && !is_refund(body) {
        return Ok(Read::NotOurs);
    }
    let entry = Entry {
        invoice_number,
        kind: LedgerKind::Refund,
        gateway_id: Some(gateway_id.to_string()),
        currency,
    };
    entry.read(organisation, body)
}

/// The ledger entry a live Xero payment makes.
struct Entry<'a> {
    invoice_number: &'a str,
    kind: LedgerKind,
    gateway_id: Option<String>,
    currency: Currency,
}

impl Entry<'_> {
    /// `body` as this entry: removed when deleted, nothing when it moves no money.
    fn read(
        self,
        organisation: &Organisation,
        body: &Value,
    ) -> Result<Read<LedgerEntry>, MappingError> {
        let r = Reader {
            entity: "payment",
            id_field: "PaymentID",
            body,
            organisation,
        };
        if body["Status"] == "DELETED" {
            return Ok(Read::Removed);
        }
        let amount = r.money(&body["Amount"], "Amount", self.currency)?;
        if amount.is_zero() {
            return Ok(Read::NotOurs);
        }
        Ok(Read::Record(LedgerEntry {
            payment_id: format!("xero:{}", r.id()),
            invoice_number: self.invoice_number.to_string(),
            kind: self.kind,
            amount,
            recorded_at: r.day("Date")?.ok_or_else(|| r.fail("Date", "is missing"))?,
            gateway_id: self.gateway_id,
        }))
    }
}

/// A Xero `Payment` on a sales invoice, as a ledger entry on `invoice_number` (the number
/// its invoice is stored under). `currency` is that invoice's.
pub fn payment_entry(
    organisation: &Organisation,
    body: &Value,
    invoice_number: &str,
    currency: Currency,
) -> Result<Read<LedgerEntry>, MappingError> {
    if body["Status"] != "DELETED"
        && (body["PaymentType"] != "ACCRECPAYMENT" || body["Invoice"]["InvoiceID"].is_null())
    {
        return Ok(Read::NotOurs);
    }
    let entry = Entry {
        invoice_number,
        kind: LedgerKind::Payment,
        gateway_id: stripe_id(text(&body["Reference"])),
        currency,
    };
    entry.read(organisation, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn organisation() -> Organisation {
        Organisation {
            currency: Currency::from_code("NZD").unwrap(),
            zone: jiff::tz::TimeZone::get("Pacific/Auckland").unwrap(),
        }
    }

    /// Xero's documented voided invoice (docs/research/xero.md §2a), its contact trimmed.
    fn documented_invoice() -> Value {
        json!({"Type":"ACCREC","InvoiceID":"d4956132-ed94-4dd7-9eaa-aa22dfdf06f2","InvoiceNumber":"INV-0001",
            "Reference":"Red Fish, Blue Fish","Payments":[],"CreditNotes":[],"Prepayments":[],"Overpayments":[],
            "AmountDue":0.00,"AmountPaid":0.00,"AmountCredited":0.00,"SentToContact":true,"CurrencyRate":1.000000,
            "HasErrors":false,"IsDiscounted":false,"HasAttachments":false,
            "Contact":{"ContactID":"a3675fc4-f8dd-4f03-ba5b-f1870566bcd7","Name":"Barney Rubble-83203"},
            "DateString":"2018-10-20T00:00:00","Date":"/Date(1539993600000+0000)/",
            "DueDateString":"2018-12-30T00:00:00","DueDate":"/Date(1546128000000+0000)/",
            "Status":"VOIDED","LineAmountTypes":"Exclusive","LineItems":[],"SubTotal":40.00,"TotalTax":0.00,"Total":40.00,
            "UpdatedDateUTC":"/Date(1541176290160+0000)/","CurrencyCode":"NZD"})
    }

    #[test]
    fn xeros_documented_invoices_read_as_void_paid_and_open() {
        let Read::Record(i) = invoice(&organisation(), &documented_invoice()).unwrap() else {
            panic!("a voided invoice is a record");
        };
        assert_eq!(i.number, "INV-0001");
        assert_eq!(i.customer_id, "a3675fc4-f8dd-4f03-ba5b-f1870566bcd7");
        assert_eq!(
            i.amount.minor(),
            4_000,
            "Xero keeps a voided invoice's total"
        );
        assert_eq!((i.status, i.stated_paid), (InvoiceStatus::Void, None));
        // The 20th of October at the start of Auckland's day (NZDT, UTC+13).
        assert_eq!(i.issued_at.to_string(), "2018-10-19T11:00:00Z");
        assert_eq!(i.due_at.unwrap().to_string(), "2018-12-29T11:00:00Z");

        // The documented paid one.
        let mut paid = documented_invoice();
        paid["Status"] = json!("PAID");
        paid["Total"] = json!(46.00);
        paid["AmountPaid"] = json!(46.00);
        paid["FullyPaidOnDate"] = json!("/Date(1543449600000+0000)/");
        let Read::Record(i) = invoice(&organisation(), &paid).unwrap() else {
            panic!()
        };
        assert_eq!(
            (i.status, i.stated_paid.unwrap().minor()),
            (InvoiceStatus::Paid, 4_600)
        );
        assert!(i.paid_at.is_some());

        let mut open = documented_invoice();
        open["Status"] = json!("AUTHORISED");
        open["AmountPaid"] = json!(15.5);
        let Read::Record(i) = invoice(&organisation(), &open).unwrap() else {
            panic!()
        };
        assert_eq!(
            (i.status, i.stated_paid.unwrap().minor()),
            (InvoiceStatus::Open, 1_550)
        );
    }

    #[test]
    fn drafts_bills_and_deleted_invoices_are_not_records() {
        for (field, value, read) in [
            ("Status", "DRAFT", Read::NotOurs),
            ("Status", "SUBMITTED", Read::NotOurs),
            ("Status", "DELETED", Read::Removed),
            ("Type", "ACCPAY", Read::NotOurs),
        ] {
            let mut body = documented_invoice();
            body[field] = json!(value);
            assert_eq!(invoice(&organisation(), &body).unwrap(), read, "{value}");
        }
        let mut odd = documented_invoice();
        odd["Status"] = json!("ARCHIVED");
        assert_eq!(invoice(&organisation(), &odd).unwrap_err().field, "Status");
        let mut bad = documented_invoice();
        bad["Total"] = json!(40.005);
        assert_eq!(invoice(&organisation(), &bad).unwrap_err().field, "Total");
    }

    #[test]
    fn a_payment_is_a_ledger_entry_and_a_deleted_one_is_removed() {
        let body = json!({"PaymentID":"99ea7f6b-c8b3-4a4c-bf7e-7f8dcd3bd3e2","Date":"/Date(1543449600000+0000)/",
            "Amount":46.00,"CurrencyRate":1.000000,"PaymentType":"ACCRECPAYMENT","Status":"AUTHORISED",
            "Reference":"ch_3OaFDbEcg9tTZuTg","IsReconciled":false,
            "Invoice":{"InvoiceID":"d4956132-ed94-4dd7-9eaa-aa22dfdf06f2","InvoiceNumber":"INV-0001"},
            "UpdatedDateUTC":"/Date(1543449600000+0000)/"});
        let nzd = Currency::from_code("NZD").unwrap();
        let Read::Record(e) = payment_entry(&organisation(), &body, "INV-0001", nzd).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (
                e.payment_id.as_str(),
                e.invoice_number.as_str(),
                e.amount.minor(),
                e.gateway_id.as_deref()
            ),
            (
                "xero:99ea7f6b-c8b3-4a4c-bf7e-7f8dcd3bd3e2",
                "INV-0001",
                4_600,
                Some("ch_3OaFDbEcg9tTZuTg")
            )
        );
        let mut deleted = body.clone();
        deleted["Status"] = json!("DELETED");
        assert_eq!(
            payment_entry(&organisation(), &deleted, "INV-0001", nzd).unwrap(),
            Read::Removed
        );
        let mut refund = body.clone();
        refund["PaymentType"] = json!("ARCREDITPAYMENT");
        assert_eq!(
            payment_entry(&organisation(), &refund, "INV-0001", nzd).unwrap(),
            Read::NotOurs,
            "a refund is not a payment of the invoice"
        );
        let mut cheque = body;
        cheque["Reference"] = json!("Cheque 1044");
        let Read::Record(e) = payment_entry(&organisation(), &cheque, "INV-0001", nzd).unwrap()
        else {
            panic!()
        };
        assert_eq!(e.gateway_id, None);
    }

    #[test]
    fn microsoft_dates_read_with_or_without_an_offset() {
        assert_eq!(ms_of("/Date(1539993600000+0000)/"), Some(1_539_993_600_000));
        assert_eq!(ms_of("/Date(1552326816230)/"), Some(1_552_326_816_230));
        assert_eq!(ms_of("/Date(-86400000)/"), Some(-86_400_000));
        assert_eq!(ms_of("/Date(1539993600000-0500)/"), Some(1_539_993_600_000));
        assert_eq!(ms_of("2018-10-20"), None);
    }

    #[test]
    fn a_pushed_reference_names_the_charge_first_and_carries_the_key() {
        let key = "cg-ledger_fix-0123456789abcdef";
        let reference = pushed_reference(Some("ch_3OaFDbEcg9tTZuTg"), key);
        let payment = json!({ "Reference": reference });
        assert!(carries_key(&payment, key));
        assert!(
            !carries_key(&payment, "cg-ledger_fix-0123"),
            "a prefix is not the key"
        );
        assert!(
            !carries_key(&json!({"Reference": key}), key),
            "only as Chargeguard writes it"
        );
        assert_eq!(
            stripe_id(Some(reference)).as_deref(),
            Some("ch_3OaFDbEcg9tTZuTg")
        );
        assert_eq!(stripe_id(Some(pushed_reference(None, key))), None);
        assert_eq!(stripe_id(Some("Cheque 1044".into())), None);
    }

    #[test]
    fn a_cash_refund_naming_stripe_is_a_ledger_refund_and_a_cheque_is_not() {
        let body = json!({"PaymentID":"0d666415-cf77-43fa-80c7-56775591d426","Date":"/Date(1543449600000+0000)/",
            "Amount":20.00,"PaymentType":"ARCREDITPAYMENT","Status":"AUTHORISED",
            "Reference":"re_3OaFDbEcg9tTZuTg1x Stripe refund",
            "CreditNote":{"CreditNoteID":"7df8949c-b71f-40c0-bbcf-39f2f450f286","CreditNoteNumber":"CN-0002"},
            "UpdatedDateUTC":"/Date(1543449600000+0000)/"});
        assert!(is_refund(&body));
        let gateway = refund_gateway_id(&body).unwrap();
        assert_eq!(gateway, "re_3OaFDbEcg9tTZuTg1x");
        let nzd = Currency::from_code("NZD").unwrap();
        let Read::Record(e) =
            refund_entry(&organisation(), &body, "INV-0001", &gateway, nzd).unwrap()
        else {
            panic!()
        };
        assert_eq!(e.kind, LedgerKind::Refund);
        assert_eq!(e.payment_id, "xero:0d666415-cf77-43fa-80c7-56775591d426");
        assert_eq!(e.amount.minor(), 2_000);
        assert_eq!(e.gateway_id.as_deref(), Some(gateway.as_str()));
        let mut cheque = body.clone();
        cheque["Reference"] = json!("Cheque 1044");
        assert_eq!(refund_gateway_id(&cheque), None);
        let mut paid = body.clone();
        paid["PaymentType"] = json!("ACCRECPAYMENT");
        assert!(!is_refund(&paid));
        let mut deleted = body;
        deleted["Status"] = json!("DELETED");
        assert_eq!(
            refund_entry(&organisation(), &deleted, "INV-0001", &gateway, nzd).unwrap(),
            Read::Removed
        );
    }
}
