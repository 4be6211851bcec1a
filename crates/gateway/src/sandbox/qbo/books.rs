//! A QuickBooks company's books in the stand-in: customers, invoices, payments applied to
//! them, credit memos and refund receipts, as QBO keeps them. Each object carries `Id`,
//! `SyncToken` (moved on every change; a stale one is refused), `MetaData` times with the
//! company's offset and the totals QBO computes (an invoice's `Balance` falls as payments
//! apply to it). A void zeroes the amounts and writes `Voided` into `PrivateNote`; a
//! delete leaves a tombstone change data capture reports. Nothing dated on or before the
//! company's book close date changes (6210).
//!
//! Assumptions where Intuit's documents are silent, so a test meets them plainly: a
//! payment may not apply more than an invoice's balance (6000), an invoice with payments
//! applied is not voided or deleted until they are (6000), and a payment's lines are not
//! changed by an update (void it and record another).

use serde_json::{Map, Value, json};

use super::query::text_of as text;
use super::state::{self, Company};
use super::wire::{Fault, amount, cents, meta_time, today};
use rusqlite::Transaction;

/// The entities the stand-in keeps, in QBO's spelling.
pub const ENTITIES: [&str; 5] = [
    "Customer",
    "Invoice",
    "Payment",
    "CreditMemo",
    "RefundReceipt",
];

/// QBO's spelling of an entity named in any case (a path segment, a query).
pub fn entity_name(text: &str) -> Option<&'static str> {
    ENTITIES.into_iter().find(|e| e.eq_ignore_ascii_case(text))
}

/// What a write runs against.
pub struct Books<'t, 'c> {
    pub tx: &'t Transaction<'c>,
    pub company: Company,
    pub now: jiff::Timestamp,
}

fn id_of(body: &Value) -> Option<i64> {
    match body.get("Id")? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn sync_token(body: &Value) -> i64 {
    body["SyncToken"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn is_deleted(body: &Value) -> bool {
    body["status"] == "Deleted"
}

fn voided(note: &Value) -> Value {
    match note.as_str().filter(|n| !n.is_empty()) {
        Some(n) if n.starts_with("Voided") => json!(n),
        Some(n) => json!(format!("Voided - {n}")),
        None => json!("Voided"),
    }
}

impl Books<'_, '_> {
    fn realm(&self) -> &str {
        &self.company.realm
    }

    fn stamp(&self) -> String {
        meta_time(self.now, &self.company.zone)
    }

    /// An object by id, deleted ones as not found.
    pub fn read(&self, entity: &str, id: &str) -> Result<Value, Fault> {
        let found = id
            .parse::<i64>()
            .ok()
            .map(|n| state::entity(self.tx, self.realm(), entity, n))
            .transpose()?
            .flatten()
            .filter(|b| !is_deleted(b));
        found.ok_or_else(|| Fault::not_found(entity, id))
    }

    /// Every live object of a kind.
    pub fn all(&self, entity: &str) -> Result<Vec<Value>, Fault> {
        let mut rows = state::entities(self.tx, self.realm(), entity)?;
        rows.retain(|b| !is_deleted(b));
        Ok(rows)
    }

    /// Objects of `entity` changed at or after `since` (tombstones included), for CDC: at,
    /// since times are whole seconds and a client asks again from the last answer's time.
    pub fn changed_since(&self, entity: &str, since: jiff::Timestamp) -> Result<Vec<Value>, Fault> {
        let zone = self.company.zone.clone();
        // Objects carry whole seconds, clients send the envelope's milliseconds.
        let since = jiff::Timestamp::from_second(since.as_second()).unwrap_or(since);
        let mut rows = state::entities(self.tx, self.realm(), entity)?;
        rows.retain(|b| {
            b["MetaData"]["LastUpdatedTime"]
                .as_str()
                .and_then(|t| super::wire::parse_time(t, &zone))
                .is_some_and(|t| t >= since)
        });
        Ok(rows)
    }

    fn check_open(&self, txn_date: Option<&str>) -> Result<(), Fault> {
        if let (Some(close), Some(date)) = (&self.company.book_close_date, txn_date)
            && date <= close.as_str()
        {
            return Err(Fault::period_closed());
        }
        Ok(())
    }

    fn save(&self, entity: &str, body: &Value) -> Result<(), Fault> {
        let id = id_of(body).ok_or_else(|| Fault::internal("an object without an Id"))?;
        state::put_entity(self.tx, self.realm(), entity, id, body)?;
        Ok(())
    }

    /// Moves `SyncToken` and `LastUpdatedTime` of a changed object and keeps it.
    fn touch(&self, entity: &str, body: &mut Value) -> Result<(), Fault> {
        body["SyncToken"] = json!((sync_token(body) + 1).to_string());
        body["MetaData"]["LastUpdatedTime"] = json!(self.stamp());
        self.save(entity, body)
    }

    /// `POST /{entity}` without an `Id`: creates it.
    pub fn create(&self, entity: &str, sent: &Value) -> Result<Value, Fault> {
        let Some(fields) = sent.as_object() else {
            return Err(Fault::validation(
                2010,
                "Request has invalid or unsupported property",
                format!("The request body is not a {entity} object"),
            ));
        };
        let mut body: Map<String, Value> = fields.clone();
        let id = state::next_id(self.tx, self.realm())?;
        body.insert("Id".into(), json!(id.to_string()));
        body.insert("SyncToken".into(), json!("0"));
        body.insert("domain".into(), json!("QBO"));
        body.insert("sparse".into(), json!(false));
        let stamp = self.stamp();
        body.insert(
            "MetaData".into(),
            json!({"CreateTime": stamp, "LastUpdatedTime": stamp}),
        );
        let mut body = Value::Object(body);
        match entity {
            "Customer" => self.new_customer(&mut body)?,
            "Invoice" => self.new_invoice(&mut body)?,
            "Payment" => self.new_payment(&mut body)?,
            "CreditMemo" | "RefundReceipt" => self.new_sales_document(entity, &mut body)?,
            _ => return Err(Fault::internal(format!("{entity} is not kept"))),
        }
        self.save(entity, &body)?;
        Ok(body)
    }

    fn new_customer(&self, body: &mut Value) -> Result<(), Fault> {
        let name = body["DisplayName"]
            .as_str()
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| Fault::required("DisplayName"))?
            .to_string();
        if self
            .all("Customer")?
            .iter()
            .any(|c| c["DisplayName"] == name.as_str())
        {
            return Err(Fault::validation(
                6240,
                "Duplicate Name Exists Error",
                format!("The name supplied already exists. : {name}"),
            ));
        }
        body["Active"] = json!(true);
        body["Balance"] = json!(0);
        Ok(())
    }

    fn customer_ref(&self, body: &Value) -> Result<(), Fault> {
        let id = super::query::field(body, "CustomerRef")
            .map(text)
            .ok_or_else(|| Fault::required("CustomerRef"))?;
        self.read("Customer", &id)
            .map(|_| ())
            .map_err(|_| Fault::invalid_reference("Customer", &id))
    }

    /// A transaction date: a real date, in an open period.
    fn check_txn_date(&self, date: &str) -> Result<(), Fault> {
        if date.parse::<jiff::civil::Date>().is_err() {
            return Err(Fault::validation(
                2040,
                "Invalid Date",
                format!("Invalid date : TxnDate {date} is not a date (YYYY-MM-DD)"),
            )
            .on("TxnDate"));
        }
        self.check_open(Some(date))
    }

    fn dated(&self, body: &mut Value) -> Result<(), Fault> {
        // Clients send an unset date as "" (python-quickbooks) or null.
        if body["TxnDate"].as_str().is_none_or(str::is_empty) {
            body["TxnDate"] = json!(today(self.now, &self.company.zone));
        }
        let date = body["TxnDate"].as_str().unwrap_or_default().to_string();
        self.check_txn_date(&date)?;
        if body.get("CurrencyRef").is_none() {
            body["CurrencyRef"] = json!({"value": self.company.currency});
        }
        Ok(())
    }

    /// Sums the amounts of a document's lines (subtotals excluded), writing each back as
    /// QBO does.
    fn line_total(body: &mut Value) -> Result<i64, Fault> {
        let lines = body
            .get_mut("Line")
            .and_then(Value::as_array_mut)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| Fault::required("Line"))?;
        let mut total = 0i64;
        for (n, line) in lines.iter_mut().enumerate() {
            let minor = cents(&line["Amount"], "Line.Amount")?;
            line["Amount"] = amount(minor);
            if line.get("Id").is_none() {
                line["Id"] = json!((n + 1).to_string());
            }
            if line["DetailType"] != "SubTotalLineDetail" {
                total += minor;
            }
        }
        Ok(total)
    }

    fn doc_number(&self, entity: &str, body: &mut Value) -> Result<(), Fault> {
        match body["DocNumber"].as_str().filter(|n| !n.is_empty()) {
            None => {
                body["DocNumber"] =
                    json!(state::next_doc_number(self.tx, self.realm())?.to_string());
            }
            Some(number) if number.chars().count() > 21 => {
                return Err(Fault::validation(
                    2050,
                    "String length is either shorter or longer than supported by specification",
                    format!("DocNumber {number} is longer than 21 characters"),
                )
                .on("DocNumber"));
            }
            Some(number) => {
                if self
                    .all(entity)?
                    .iter()
                    .any(|d| d["DocNumber"] == number && id_of(d) != id_of(body))
                {
                    return Err(Fault::validation(
                        6140,
                        "Duplicate Document Number Error",
                        "Duplicate Document Number Error : You must specify a different number. This number has already been used.",
                    ));
                }
            }
        }
        Ok(())
    }

    fn new_invoice(&self, body: &mut Value) -> Result<(), Fault> {
        self.customer_ref(body)?;
        self.dated(body)?;
        let total = Self::line_total(body)?;
        self.doc_number("Invoice", body)?;
        body["TotalAmt"] = amount(total);
        body["Balance"] = amount(total);
        body["LinkedTxn"] = json!([]);
        Ok(())
    }

    fn new_sales_document(&self, entity: &str, body: &mut Value) -> Result<(), Fault> {
        self.customer_ref(body)?;
        self.dated(body)?;
        if entity == "RefundReceipt" && body.get("DepositToAccountRef").is_none() {
            return Err(Fault::required("DepositToAccountRef"));
        }
        let total = Self::line_total(body)?;
        self.doc_number(entity, body)?;
        body["TotalAmt"] = amount(total);
        if entity == "CreditMemo" {
            body["RemainingCredit"] = amount(total);
            body["Balance"] = amount(total);
        } else {
            body["Balance"] = amount(0);
        }
        Ok(())
    }

    /// The invoices a payment applies to, with the amount of each line.
    fn applied(payment: &Value) -> Result<Vec<(String, i64)>, Fault> {
        let mut out = Vec::new();
        for line in payment["Line"].as_array().into_iter().flatten() {
            let minor = cents(&line["Amount"], "Line.Amount")?;
            for linked in line["LinkedTxn"].as_array().into_iter().flatten() {
                if linked["TxnType"] == "Invoice" {
                    out.push((text(&linked["TxnId"]), minor));
                }
            }
        }
        Ok(out)
    }

    fn new_payment(&self, body: &mut Value) -> Result<(), Fault> {
        self.customer_ref(body)?;
        let total = cents(
            body.get("TotalAmt")
                .ok_or_else(|| Fault::required("TotalAmt"))?,
            "TotalAmt",
        )?;
        self.dated(body)?;
        let applied = Self::applied(body)?;
        if total < 0 || applied.iter().any(|(_, minor)| *minor < 0) {
            return Err(Fault::validation(
                2170,
                "Invalid Number",
                "Invalid Number : a payment's amounts cannot be negative",
            ));
        }
        let applied_sum: i64 = applied.iter().map(|(_, m)| m).sum();
        if applied_sum > total {
            return Err(Fault::business(format!(
                "The payment applies {} but its TotalAmt is {}",
                Decimal2(applied_sum),
                Decimal2(total)
            )));
        }
        let payment_id = body["Id"].as_str().unwrap_or_default().to_string();
        for (invoice_id, minor) in &applied {
            let mut invoice = self
                .read("Invoice", invoice_id)
                .map_err(|_| Fault::invalid_reference("Invoice", invoice_id))?;
            let balance = cents(&invoice["Balance"], "Balance")?;
            if *minor > balance {
                return Err(Fault::business(format!(
                    "The payment applies {} to invoice {invoice_id}, whose balance is {}",
                    Decimal2(*minor),
                    Decimal2(balance)
                )));
            }
            invoice["Balance"] = amount(balance - minor);
            let links = invoice["LinkedTxn"].as_array_mut();
            let link = json!({"TxnId": payment_id, "TxnType": "Payment"});
            match links {
                Some(l) => l.push(link),
                None => invoice["LinkedTxn"] = json!([link]),
            }
            self.touch("Invoice", &mut invoice)?;
        }
        body["TotalAmt"] = amount(total);
        body["UnappliedAmt"] = amount(total - applied_sum);
        if let Some(lines) = body["Line"].as_array_mut() {
            for line in lines {
                let minor = cents(&line["Amount"], "Line.Amount")?;
                line["Amount"] = amount(minor);
            }
        }
        Ok(())
    }

    /// The stored object an update, void or delete names, with its `SyncToken` checked.
    fn current(&self, entity: &str, sent: &Value) -> Result<Value, Fault> {
        let id = sent
            .get("Id")
            .map(text)
            .ok_or_else(|| Fault::required("Id"))?;
        let stored = self.read(entity, &id)?;
        let token = sent
            .get("SyncToken")
            .map(text)
            .ok_or_else(|| Fault::required("SyncToken"))?;
        if token != stored["SyncToken"].as_str().unwrap_or_default() {
            return Err(Fault::stale(entity));
        }
        self.check_open(stored["TxnDate"].as_str())?;
        Ok(stored)
    }

    /// `POST /{entity}` with `Id` and `SyncToken`: a full or sparse update of the fields
    /// that do not move money (`PrivateNote`, `DocNumber`, `DueDate`, …).
    pub fn update(&self, entity: &str, sent: &Value) -> Result<Value, Fault> {
        let mut stored = self.current(entity, sent)?;
        let fields = sent.as_object().cloned().unwrap_or_default();
        if entity == "Payment" {
            // Amounts compared as cents: clients send 25, 25.0 or "25.00" for one amount.
            let same_total = fields.get("TotalAmt").is_none_or(|t| {
                cents(t, "TotalAmt").ok() == cents(&stored["TotalAmt"], "TotalAmt").ok()
            });
            let same_lines = fields
                .get("Line")
                .is_none_or(|_| Self::applied(sent).ok() == Self::applied(&stored).ok());
            if !same_total || !same_lines {
                return Err(Fault::business(
                    "the sandbox does not change a payment's amounts: void it and record another",
                ));
            }
        }
        // Clients send an unset date as "" (python-quickbooks): it changes nothing.
        let new_date = fields
            .get("TxnDate")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        if let Some(date) = new_date.as_deref() {
            self.check_txn_date(date)?;
        }
        for (key, value) in fields {
            if key == "TxnDate" && new_date.is_none() {
                continue;
            }
            if matches!(
                key.as_str(),
                "Id" | "SyncToken"
                    | "MetaData"
                    | "domain"
                    | "sparse"
                    | "Balance"
                    | "LinkedTxn"
                    | "TotalAmt"
                    | "UnappliedAmt"
                    | "RemainingCredit"
            ) {
                continue;
            }
            stored[key.as_str()] = value;
        }
        if matches!(entity, "CreditMemo" | "RefundReceipt") && sent.get("Line").is_some() {
            let total = Self::line_total(&mut stored)?;
            stored["TotalAmt"] = amount(total);
            let credit = if entity == "CreditMemo" { total } else { 0 };
            stored["Balance"] = amount(credit);
            if entity == "CreditMemo" {
                stored["RemainingCredit"] = amount(credit);
            }
        }
        if entity == "Invoice" && sent.get("Line").is_some() {
            let paid =
                cents(&stored["TotalAmt"], "TotalAmt")? - cents(&stored["Balance"], "Balance")?;
            let total = Self::line_total(&mut stored)?;
            if total < paid {
                return Err(Fault::business(format!(
                    "the invoice's new total {} is less than what is paid on it ({})",
                    Decimal2(total),
                    Decimal2(paid)
                )));
            }
            stored["TotalAmt"] = amount(total);
            stored["Balance"] = amount(total - paid);
        }
        if sent.get("DocNumber").is_some() && entity != "Payment" && entity != "Customer" {
            self.doc_number(entity, &mut stored)?;
        }
        self.touch(entity, &mut stored)?;
        Ok(stored)
    }

    fn payments_on(&self, invoice_id: &str) -> Result<Vec<String>, Fault> {
        let mut out = Vec::new();
        for payment in self.all("Payment")? {
            if Self::applied(&payment)?
                .iter()
                .any(|(id, minor)| id == invoice_id && *minor > 0)
            {
                out.push(payment["Id"].as_str().unwrap_or_default().to_string());
            }
        }
        Ok(out)
    }

    /// An invoice with payments applied is not voided or deleted until they are.
    fn refuse_if_paid(&self, invoice_id: &str) -> Result<(), Fault> {
        let paid = self.payments_on(invoice_id)?;
        if paid.is_empty() {
            return Ok(());
        }
        Err(Fault::business(format!(
            "invoice {invoice_id} has payments applied ({}); void or delete them first",
            paid.join(", ")
        )))
    }

    /// Gives back to each invoice what `payment` applied to it.
    fn unapply(&self, payment: &Value) -> Result<(), Fault> {
        let payment_id = payment["Id"].as_str().unwrap_or_default();
        for (invoice_id, minor) in Self::applied(payment)? {
            if let Ok(mut invoice) = self.read("Invoice", &invoice_id) {
                let balance = cents(&invoice["Balance"], "Balance")?;
                invoice["Balance"] = amount(balance + minor);
                if let Some(links) = invoice["LinkedTxn"].as_array_mut() {
                    links.retain(|l| l["TxnId"] != payment_id || l["TxnType"] != "Payment");
                }
                self.touch("Invoice", &mut invoice)?;
            }
        }
        Ok(())
    }

    /// Voids an invoice or a payment: amounts zeroed, `Voided` in the private note.
    pub fn void(&self, entity: &str, sent: &Value) -> Result<Value, Fault> {
        let mut stored = self.current(entity, sent)?;
        let id = stored["Id"].as_str().unwrap_or_default().to_string();
        match entity {
            "Invoice" => self.refuse_if_paid(&id)?,
            "Payment" => self.unapply(&stored)?,
            _ => {
                return Err(Fault::validation(
                    2010,
                    "Request has invalid or unsupported property",
                    format!("{entity} cannot be voided"),
                ));
            }
        }
        if let Some(lines) = stored["Line"].as_array_mut() {
            for line in lines {
                line["Amount"] = amount(0);
                if let Some(detail) = line
                    .get_mut("SalesItemLineDetail")
                    .and_then(Value::as_object_mut)
                    && detail.contains_key("Qty")
                {
                    detail.insert("Qty".into(), json!(0));
                }
            }
        }
        for key in ["TotalAmt", "Balance"] {
            stored[key] = amount(0);
        }
        if entity == "Payment" {
            stored["UnappliedAmt"] = amount(0);
        }
        stored["PrivateNote"] = voided(&stored["PrivateNote"]);
        self.touch(entity, &mut stored)?;
        Ok(stored)
    }

    /// Deletes a transaction: a tombstone stays for change data capture.
    pub fn delete(&self, entity: &str, sent: &Value) -> Result<Value, Fault> {
        let stored = self.current(entity, sent)?;
        let id = stored["Id"].as_str().unwrap_or_default().to_string();
        match entity {
            "Invoice" => self.refuse_if_paid(&id)?,
            "Payment" => self.unapply(&stored)?,
            "Customer" => {
                return Err(Fault::validation(
                    2010,
                    "Request has invalid or unsupported property",
                    "Customers are made inactive, not deleted",
                ));
            }
            _ => {}
        }
        let mut tombstone = json!({
            "Id": id,
            "status": "Deleted",
            "domain": "QBO",
            "SyncToken": stored["SyncToken"],
            "MetaData": stored["MetaData"],
        });
        self.touch(entity, &mut tombstone)?;
        Ok(json!({"Id": id, "status": "Deleted", "domain": "QBO"}))
    }

    /// `GET /preferences`: what the stand-in keeps of them.
    pub fn preferences(&self) -> Value {
        let mut accounting = json!({});
        if let Some(date) = &self.company.book_close_date {
            accounting["BookCloseDate"] = json!(date);
        }
        json!({
            "Id": "1",
            "SyncToken": "0",
            "domain": "QBO",
            "AccountingInfoPrefs": accounting,
            "CurrencyPrefs": {
                "MultiCurrencyEnabled": false,
                "HomeCurrency": {"value": self.company.currency},
            },
        })
    }
}

/// Cents as a decimal, for messages.
struct Decimal2(i64);

impl std::fmt::Display for Decimal2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", rust_decimal::Decimal::new(self.0, 2))
    }
}
