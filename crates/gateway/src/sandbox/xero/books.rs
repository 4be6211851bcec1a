//! A Xero organisation's books in the stand-in: contacts, sales invoices and the payments
//! applied to them, credit notes and the cash refunds paid on them, as Xero keeps them. An
//! invoice moves DRAFT/SUBMITTED → AUTHORISED → PAID as payments bring `AmountDue` to zero;
//! deleting a payment moves it back; an authorised invoice is voided (keeping its `Total`),
//! a draft deleted; one with payments cannot be voided. A credit note moves AUTHORISED →
//! PAID as refunds (payments on it, `ARCREDITPAYMENT`) bring its `RemainingCredit` to zero;
//! allocating credit to invoices is not kept. Every change moves `UpdatedDateUTC`. Nothing dated on or before the
//! organisation's lock date changes. Xero has no version token: updates are
//! last-writer-wins, as there.

use rusqlite::Transaction;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::state::{self, Tenant};
use super::wire::{XeroError, ms_date, ms_time, parse_date, uuid_like};
use crate::sandbox::decimal_json::{cents_of, number};

/// A new document's checked head (see `Books::head`).
struct Head {
    kind: String,
    contact: Value,
    date: jiff::civil::Date,
    status: String,
    lines: Vec<Value>,
    total: i64,
}

pub struct Books<'t, 'c> {
    pub tx: &'t Transaction<'c>,
    pub tenant: Tenant,
    pub now: jiff::Timestamp,
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// A field of a JSON object named in any case (clients write `InvoiceID`, `invoiceID`…).
fn get<'a>(object: &'a Value, name: &str) -> &'a Value {
    object
        .as_object()
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .unwrap_or(&Value::Null)
}

fn money(value: &Value, field: &str, element: &Value) -> Result<i64, XeroError> {
    cents_of(value).ok_or_else(|| {
        XeroError::validation(
            element.clone(),
            &[format!(
                "{field} must be an amount with at most two decimals"
            )],
        )
    })
}

impl Books<'_, '_> {
    fn id(&self) -> &str {
        &self.tenant.tenant
    }

    pub fn all(&self, kind: &str) -> Result<Vec<Value>, XeroError> {
        Ok(state::objects(self.tx, self.id(), kind)?)
    }

    pub fn one(&self, kind: &str, id: &str) -> Result<Value, XeroError> {
        state::object(self.tx, self.id(), kind, &id.to_lowercase())?
            .ok_or_else(|| XeroError::not_found(&format!("{kind} {id}")))
    }

    fn save(&self, kind: &str, id_field: &str, body: &mut Value) -> Result<(), XeroError> {
        body["UpdatedDateUTC"] = json!(ms_time(self.now));
        let id = body[id_field].as_str().unwrap_or_default().to_string();
        state::put_object(self.tx, self.id(), kind, &id, body)?;
        Ok(())
    }

    /// Refuses a document dated on or before a lock date, in Xero's words for each lock.
    fn check_unlocked(&self, date: jiff::civil::Date, element: &Value) -> Result<(), XeroError> {
        let lock = |d: &Option<String>| {
            d.as_deref()
                .and_then(|d| d.parse::<jiff::civil::Date>().ok())
        };
        if let Some(end_of_year) = lock(&self.tenant.end_of_year_lock_date)
            && date <= end_of_year
        {
            return Err(XeroError::validation(
                element.clone(),
                &[format!(
                    "The document date cannot be before the end of year lock date, currently set at {}",
                    end_of_year.strftime("%d %B %Y")
                )],
            ));
        }
        if let Some(period) = lock(&self.tenant.period_lock_date)
            && date <= period
        {
            return Err(XeroError::validation(
                element.clone(),
                &["The document date cannot be before the period lock date".to_string()],
            ));
        }
        Ok(())
    }

    fn date_of(
        &self,
        sent: &Value,
        field: &str,
        element: &Value,
    ) -> Result<Option<jiff::civil::Date>, XeroError> {
        match text(get(sent, field)) {
            None => Ok(None),
            Some(t) => parse_date(&t).map(Some).ok_or_else(|| {
                XeroError::validation(element.clone(), &[format!("{field} {t} is not a date")])
            }),
        }
    }

    fn today(&self) -> jiff::civil::Date {
        self.now.to_zoned(jiff::tz::TimeZone::UTC).date()
    }

    /// `PUT /Contacts`: a contact by name (a name already used is that contact).
    pub fn create_contact(&self, sent: &Value) -> Result<Value, XeroError> {
        let name = text(get(sent, "Name")).ok_or_else(|| {
            XeroError::validation(
                sent.clone(),
                &["The contact name must be specified.".into()],
            )
        })?;
        if self
            .all("Contact")?
            .iter()
            .any(|c| c["Name"] == name.as_str())
        {
            return Err(XeroError::validation(
                sent.clone(),
                &["Please enter a unique Name.".into()],
            ));
        }
        self.contact_named(&name)
    }

    fn contact_named(&self, name: &str) -> Result<Value, XeroError> {
        if let Some(found) = self.all("Contact")?.into_iter().find(|c| c["Name"] == name) {
            return Ok(found);
        }
        let mut contact = json!({
            "ContactID": uuid_like(),
            "Name": name,
            "ContactStatus": "ACTIVE",
            "IsSupplier": false,
            "IsCustomer": true,
            "HasAttachments": false,
            "HasValidationErrors": false,
        });
        self.save("Contact", "ContactID", &mut contact)?;
        Ok(contact)
    }

    fn contact_of(&self, sent: &Value, element: &Value) -> Result<Value, XeroError> {
        let contact = get(sent, "Contact");
        if let Some(id) = text(get(contact, "ContactID")) {
            return self.one("Contact", &id).map_err(|_| {
                XeroError::validation(
                    element.clone(),
                    &[format!("The contact with ID {id} could not be found")],
                )
            });
        }
        match text(get(contact, "Name")) {
            Some(name) => self.contact_named(&name),
            None => Err(XeroError::validation(
                element.clone(),
                &["A Contact must be specified for this type of transaction".into()],
            )),
        }
    }

    fn line_items(&self, sent: &Value, element: &Value) -> Result<(Vec<Value>, i64), XeroError> {
        let mut out = Vec::new();
        let mut total = 0i64;
        for line in get(sent, "LineItems").as_array().into_iter().flatten() {
            let amount = if let Some(a) = cents_of(get(line, "LineAmount")) {
                a
            } else {
                let quantity: Decimal = match get(line, "Quantity") {
                    Value::Null => Decimal::ONE,
                    q => q.to_string().trim_matches('"').parse().map_err(|_| {
                        XeroError::validation(
                            element.clone(),
                            &["Quantity must be a number".into()],
                        )
                    })?,
                };
                let unit = money(get(line, "UnitAmount"), "UnitAmount", element)?;
                let exact = quantity * Decimal::from(unit);
                i64::try_from(exact.round_dp_with_strategy(
                    0,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                ))
                .map_err(|_| {
                    XeroError::validation(element.clone(), &["The line amount is too large".into()])
                })?
            };
            let mut line = line.clone();
            line["LineAmount"] = number(amount);
            if line.get("LineItemID").is_none() {
                line["LineItemID"] = json!(uuid_like());
            }
            total += amount;
            out.push(line);
        }
        if out.is_empty() {
            return Err(XeroError::validation(
                element.clone(),
                &["At least one line item must be specified".into()],
            ));
        }
        Ok((out, total))
    }

    /// What every new document (an invoice, a credit note) states, checked: its type (one of
    /// `kinds`), contact, date (after the lock dates), first status and lines.
    fn head(
        &self,
        sent: &Value,
        element: &Value,
        kinds: [&str; 2],
        what: &str,
    ) -> Result<Head, XeroError> {
        let kind = text(get(sent, "Type")).unwrap_or_default();
        if !kinds.contains(&kind.as_str()) {
            return Err(XeroError::validation(
                element.clone(),
                &[format!(
                    "The Type field is mandatory ({} or {})",
                    kinds[0], kinds[1]
                )],
            ));
        }
        let contact = self.contact_of(sent, element)?;
        let date = self
            .date_of(sent, "Date", element)?
            .unwrap_or_else(|| self.today());
        self.check_unlocked(date, element)?;
        let status = text(get(sent, "Status")).unwrap_or_else(|| "DRAFT".into());
        if !matches!(status.as_str(), "DRAFT" | "SUBMITTED" | "AUTHORISED") {
            return Err(XeroError::validation(
                element.clone(),
                &[format!("{what} cannot be created {status}")],
            ));
        }
        let (lines, total) = self.line_items(sent, element)?;
        Ok(Head {
            kind,
            contact,
            date,
            status,
            lines,
            total,
        })
    }

    fn number_taken(&self, number: &str, except: Option<&str>) -> Result<bool, XeroError> {
        Ok(self.all("Invoice")?.iter().any(|i| {
            i["InvoiceNumber"] == number
                && i["Status"] != "DELETED"
                && i["InvoiceID"].as_str() != except
        }))
    }

    /// `PUT /Invoices` (one element): a sales invoice.
    pub fn create_invoice(&self, sent: &Value) -> Result<Value, XeroError> {
        let element = sent.clone();
        let Head {
            kind,
            contact,
            date,
            status,
            lines,
            total,
        } = self.head(sent, &element, ["ACCREC", "ACCPAY"], "An invoice")?;
        let due = self.date_of(sent, "DueDate", &element)?;
        let invoice_number = match text(get(sent, "InvoiceNumber")) {
            Some(n) => n,
            // The next number no invoice holds (a person may have typed one ahead).
            None => loop {
                let candidate = format!("INV-{:04}", state::next_number(self.tx, self.id())?);
                if !self.number_taken(&candidate, None)? {
                    break candidate;
                }
            },
        };
        if kind == "ACCREC" && self.number_taken(&invoice_number, None)? {
            return Err(XeroError::validation(
                element,
                &["Invoice # must be unique.".into()],
            ));
        }
        let mut invoice = json!({
            "Type": kind,
            "InvoiceID": uuid_like(),
            "InvoiceNumber": invoice_number,
            "Reference": text(get(sent, "Reference")).unwrap_or_default(),
            "Payments": [],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": [],
            "AmountDue": number(total),
            "AmountPaid": number(0),
            "AmountCredited": number(0),
            "SentToContact": false,
            "CurrencyRate": 1.0, // float-ok: an exchange rate of one, as Xero writes it; not money
            "IsDiscounted": false,
            "HasAttachments": false,
            "HasErrors": false,
            "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
            "DateString": format!("{date}T00:00:00"),
            "Date": ms_date(date),
            "Status": status,
            "LineAmountTypes": "Exclusive",
            "LineItems": lines,
            "SubTotal": number(total),
            "TotalTax": number(0),
            "Total": number(total),
            "CurrencyCode": text(get(sent, "CurrencyCode")).unwrap_or_else(|| self.tenant.currency.clone()),
        });
        if let Some(due) = due {
            invoice["DueDateString"] = json!(format!("{due}T00:00:00"));
            invoice["DueDate"] = json!(ms_date(due));
        }
        self.save("Invoice", "InvoiceID", &mut invoice)?;
        Ok(invoice)
    }

    fn invoice_date(invoice: &Value) -> Option<jiff::civil::Date> {
        invoice["Date"].as_str().and_then(parse_date)
    }

    /// `POST /Invoices/{id}` (one element): a status move (AUTHORISED, VOIDED, DELETED) or
    /// a change of its reference, due date or lines while nothing is paid.
    pub fn update_invoice(&self, id: &str, sent: &Value) -> Result<Value, XeroError> {
        let mut invoice = self.one("Invoice", id)?;
        let element = json!({"InvoiceID": invoice["InvoiceID"]});
        if let Some(date) = Self::invoice_date(&invoice) {
            self.check_unlocked(date, &element)?;
        }
        let paid = cents_of(&invoice["AmountPaid"]).unwrap_or(0) > 0;
        let current = invoice["Status"].as_str().unwrap_or_default().to_string();
        if let Some(status) = text(get(sent, "Status"))
            && status != current
        {
            let allowed = match (current.as_str(), status.as_str()) {
                ("DRAFT" | "SUBMITTED", "DELETED" | "AUTHORISED" | "SUBMITTED") => true,
                ("AUTHORISED" | "PAID", "VOIDED") if paid => {
                    return Err(XeroError::validation(element, &["The status VOIDED cannot be applied to the invoice because it has payments or credit notes allocated to it.".into()]));
                }
                ("AUTHORISED", "VOIDED") => true,
                _ => false,
            };
            if !allowed {
                return Err(XeroError::validation(
                    element,
                    &[format!(
                        "Invoice not of valid status for modification: {current} to {status}"
                    )],
                ));
            }
            invoice["Status"] = json!(status);
            if status == "VOIDED" || status == "DELETED" {
                invoice["AmountDue"] = number(0);
            }
        }
        if let Some(reference) = get(sent, "Reference").as_str() {
            invoice["Reference"] = json!(reference);
        }
        if let Some(due) = self.date_of(sent, "DueDate", &element)? {
            invoice["DueDateString"] = json!(format!("{due}T00:00:00"));
            invoice["DueDate"] = json!(ms_date(due));
        }
        if get(sent, "LineItems").is_array() {
            if paid || matches!(current.as_str(), "PAID" | "VOIDED" | "DELETED") {
                return Err(XeroError::validation(element, &["This document cannot be edited as it has a payment or credit note allocated to it.".into()]));
            }
            let (lines, total) = self.line_items(sent, &element)?;
            invoice["LineItems"] = json!(lines);
            for key in ["SubTotal", "Total", "AmountDue"] {
                invoice[key] = number(total);
            }
        }
        self.save("Invoice", "InvoiceID", &mut invoice)?;
        Ok(invoice)
    }

    /// The document (`Invoice`, `CreditNote`) a payment names by id or number.
    fn find_document(
        &self,
        kind: &str,
        reference: &Value,
        element: &Value,
    ) -> Result<Value, XeroError> {
        if let Some(id) = text(get(reference, &format!("{kind}ID"))) {
            return self.one(kind, &id).map_err(|_| {
                XeroError::validation(
                    element.clone(),
                    &["The document with the supplied id was not found for this endpoint.".into()],
                )
            });
        }
        let field = format!("{kind}Number");
        if let Some(n) = text(get(reference, &field))
            && let Some(found) = self
                .all(kind)?
                .into_iter()
                .find(|d| d[&field] == n.as_str() && d["Status"] != "DELETED")
        {
            return Ok(found);
        }
        Err(XeroError::validation(
            element.clone(),
            &["An Invoice, CreditNote, Prepayment or Overpayment must be specified".into()],
        ))
    }

    /// `PUT /CreditNotes` (one element): a credit note, sales (`ACCRECCREDIT`) or purchase.
    pub fn create_credit_note(&self, sent: &Value) -> Result<Value, XeroError> {
        let element = sent.clone();
        let Head {
            kind,
            contact,
            date,
            status,
            lines,
            total,
        } = self.head(
            sent,
            &element,
            ["ACCRECCREDIT", "ACCPAYCREDIT"],
            "A credit note",
        )?;
        let note_number = match text(get(sent, "CreditNoteNumber")) {
            Some(n) => n,
            None => format!("CN-{:04}", state::next_number(self.tx, self.id())?),
        };
        let mut note = json!({
            "Type": kind,
            "CreditNoteID": uuid_like(),
            "CreditNoteNumber": note_number,
            "Reference": text(get(sent, "Reference")).unwrap_or_default(),
            "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
            "DateString": format!("{date}T00:00:00"),
            "Date": ms_date(date),
            "Status": status,
            "LineAmountTypes": "Exclusive",
            "LineItems": lines,
            "SubTotal": number(total),
            "TotalTax": number(0),
            "Total": number(total),
            "RemainingCredit": number(total),
            "Allocations": [],
            "Payments": [],
            "CurrencyRate": 1.0, // float-ok: an exchange rate of one, as Xero writes it; not money
            "CurrencyCode": text(get(sent, "CurrencyCode")).unwrap_or_else(|| self.tenant.currency.clone()),
            "HasErrors": false,
        });
        self.save("CreditNote", "CreditNoteID", &mut note)?;
        Ok(note)
    }

    /// `POST /CreditNotes/{id}` with a `Status`: an authorised credit note with none of
    /// its credit paid back or allocated is voided; a draft deleted.
    pub fn update_credit_note(&self, id: &str, sent: &Value) -> Result<Value, XeroError> {
        let mut note = self.one("CreditNote", id)?;
        let element = json!({"CreditNoteID": note["CreditNoteID"]});
        if let Some(date) = note["Date"].as_str().and_then(parse_date) {
            self.check_unlocked(date, &element)?;
        }
        let current = note["Status"].as_str().unwrap_or_default().to_string();
        let status = text(get(sent, "Status")).unwrap_or_else(|| current.clone());
        let untouched = note["RemainingCredit"] == note["Total"];
        let allowed = match (current.as_str(), status.as_str()) {
            (a, b) if a == b => true,
            ("DRAFT" | "SUBMITTED", "DELETED" | "AUTHORISED") => true,
            ("AUTHORISED", "VOIDED") => untouched,
            _ => false,
        };
        if !allowed {
            return Err(XeroError::validation(
                element,
                &[format!(
                    "Credit note not of valid status for modification: {current} to {status}"
                )],
            ));
        }
        note["Status"] = json!(status);
        if status == "VOIDED" || status == "DELETED" {
            note["RemainingCredit"] = number(0);
        }
        self.save("CreditNote", "CreditNoteID", &mut note)?;
        Ok(note)
    }

    /// A payment against a document (an invoice, or a credit note whose credit is paid back)
    /// of `outstanding` minor units, checked as Xero checks it and stored; `document` is its
    /// summary inside the payment (`("Invoice", {…})`). The amount and the day it is dated.
    fn new_payment(
        &self,
        sent: &Value,
        element: Value,
        status: &Value,
        outstanding: i64,
        payment_type: &str,
        document: (&str, Value),
    ) -> Result<(Value, i64, jiff::civil::Date), XeroError> {
        let account = get(sent, "Account");
        if text(get(account, "Code")).is_none() && text(get(account, "AccountID")).is_none() {
            return Err(XeroError::validation(
                element,
                &["An Account must be specified (its Code or AccountID)".into()],
            ));
        }
        if status != "AUTHORISED" {
            return Err(XeroError::validation(
                element,
                &["Payments can only be made against Authorised documents".into()],
            ));
        }
        let amount = money(get(sent, "Amount"), "Amount", &element)?;
        if amount <= 0 {
            return Err(XeroError::validation(
                element,
                &["The payment amount must be greater than zero".into()],
            ));
        }
        if amount > outstanding {
            return Err(XeroError::validation(
                element,
                &["Payment amount exceeds the amount outstanding on this document".into()],
            ));
        }
        let date = self
            .date_of(sent, "Date", &element)?
            .unwrap_or_else(|| self.today());
        self.check_unlocked(date, &element)?;
        let mut payment = json!({
            "PaymentID": uuid_like(),
            "Date": ms_date(date),
            "Amount": number(amount),
            "BankAmount": number(amount),
            "Reference": text(get(sent, "Reference")).unwrap_or_default(),
            "CurrencyRate": 1.0, // float-ok: an exchange rate of one, as Xero writes it; not money
            "PaymentType": payment_type,
            "Status": "AUTHORISED",
            "IsReconciled": false,
            "HasAccount": true,
            "HasValidationErrors": false,
            "Account": account,
        });
        payment[document.0] = document.1;
        self.save("Payment", "PaymentID", &mut payment)?;
        Ok((payment, amount, date))
    }

    /// The payment's summary in its document's `Payments` list.
    fn summary(payment: &Value) -> Value {
        json!({
            "PaymentID": payment["PaymentID"],
            "Date": payment["Date"],
            "Amount": payment["Amount"],
            "Reference": payment["Reference"],
            "CurrencyRate": 1.0, // float-ok: an exchange rate of one, as Xero writes it; not money
            "HasAccount": true,
            "HasValidationErrors": false,
        })
    }

    /// A payment on a sales invoice (or a bill), or a credit note's remaining credit paid
    /// back in cash: the document owes (or holds) the amount less.
    pub fn create_payment(&self, sent: &Value) -> Result<Value, XeroError> {
        let element = sent.clone();
        let on_credit = get(sent, "Invoice").is_null() && !get(sent, "CreditNote").is_null();
        let (kind, open_field) = if on_credit {
            ("CreditNote", "RemainingCredit")
        } else {
            ("Invoice", "AmountDue")
        };
        let mut document = self.find_document(kind, get(sent, kind), &element)?;
        let open = cents_of(&document[open_field]).unwrap_or(0);
        let payment_type = match (kind, document["Type"].as_str()) {
            ("CreditNote", Some("ACCPAYCREDIT")) => "APCREDITPAYMENT",
            ("CreditNote", _) => "ARCREDITPAYMENT",
            (_, Some("ACCPAY")) => "ACCPAYPAYMENT",
            _ => "ACCRECPAYMENT",
        };
        let id_field = format!("{kind}ID");
        let number_field = format!("{kind}Number");
        let summary = json!({
            "Type": document["Type"],
            id_field.clone(): document[&id_field],
            number_field.clone(): document[&number_field],
            "Contact": document["Contact"],
            "CurrencyCode": document["CurrencyCode"],
        });
        let (payment, amount, date) = self.new_payment(
            sent,
            element,
            &document["Status"],
            open,
            payment_type,
            (kind, summary),
        )?;
        document[open_field] = number(open - amount);
        if kind == "Invoice" {
            document["AmountPaid"] =
                number(cents_of(&document["AmountPaid"]).unwrap_or(0) + amount);
        }
        if let Some(list) = document["Payments"].as_array_mut() {
            list.push(Self::summary(&payment));
        }
        if open == amount {
            document["Status"] = json!("PAID");
            document["FullyPaidOnDate"] = json!(ms_date(date));
        }
        self.save(kind, &id_field, &mut document)?;
        Ok(payment)
    }

    /// `POST /Payments/{id}` with `Status: DELETED`: the payment is reversed and its
    /// invoice owes the amount again (a refund's credit note holds the credit again).
    pub fn delete_payment(&self, id: &str, sent: &Value) -> Result<Value, XeroError> {
        let mut payment = self.one("Payment", id)?;
        let element = json!({"PaymentID": payment["PaymentID"]});
        if text(get(sent, "Status")).as_deref() != Some("DELETED") {
            return Err(XeroError::validation(
                element,
                &["A payment can only be changed to DELETED".into()],
            ));
        }
        if payment["Status"] == "DELETED" {
            return Ok(payment);
        }
        if let Some(date) = payment["Date"].as_str().and_then(parse_date) {
            self.check_unlocked(date, &element)?;
        }
        let amount = cents_of(&payment["Amount"]).unwrap_or(0);
        // The document paid (an invoice) or paid back (a credit note) holds it again.
        let (kind, id_field, open_field) = match payment["CreditNote"]["CreditNoteID"].as_str() {
            Some(_) => ("CreditNote", "CreditNoteID", "RemainingCredit"),
            None => ("Invoice", "InvoiceID", "AmountDue"),
        };
        let document_id = payment[kind][id_field]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut document = self.one(kind, &document_id)?;
        document[open_field] = number(cents_of(&document[open_field]).unwrap_or(0) + amount);
        if kind == "Invoice" {
            document["AmountPaid"] =
                number(cents_of(&document["AmountPaid"]).unwrap_or(0) - amount);
        }
        if let Some(list) = document["Payments"].as_array_mut() {
            list.retain(|p| p["PaymentID"] != payment["PaymentID"]);
        }
        if document["Status"] == "PAID" {
            document["Status"] = json!("AUTHORISED");
            if let Some(map) = document.as_object_mut() {
                map.remove("FullyPaidOnDate");
            }
        }
        self.save(kind, id_field, &mut document)?;
        payment["Status"] = json!("DELETED");
        self.save("Payment", "PaymentID", &mut payment)?;
        Ok(payment)
    }

    /// `GET /Organisation`.
    pub fn organisation(&self) -> Value {
        let mut org = json!({
            "OrganisationID": self.tenant.tenant,
            "Name": self.tenant.name,
            "LegalName": self.tenant.name,
            "BaseCurrency": self.tenant.currency,
            "CountryCode": "US",
            "IsDemoCompany": true,
            "OrganisationStatus": "ACTIVE",
            // What Xero's web links name the organisation by: `!` and five characters.
            "ShortCode": format!("!{}", self.tenant.tenant.chars().filter(char::is_ascii_alphanumeric).take(5).collect::<String>()),
            "Version": "US",
            "OrganisationType": "COMPANY",
            "Timezone": "UTC",
        });
        if let Some(d) = &self.tenant.period_lock_date
            && let Ok(date) = d.parse()
        {
            org["PeriodLockDate"] = json!(ms_date(date));
        }
        if let Some(d) = &self.tenant.end_of_year_lock_date
            && let Ok(date) = d.parse()
        {
            org["EndOfYearLockDate"] = json!(ms_date(date));
        }
        org
    }
}
