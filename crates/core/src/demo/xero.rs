//! The demo's books in the sandbox's Xero stand-in: a demo organisation holding the demo's
//! invoices, their payments and the refunds paid back, the demo store connected to it and
//! its books synced in from it (not imported from CSV), so that a finding's ledger side is
//! fixed there, through the push journal, as in a real business's Xero.
//!
//! The organisation is made from the demo's own generated files, as a bookkeeper would
//! have entered them: each invoice authorised with one line, each payment against its
//! invoice with the Stripe id as its reference, each refund a credit note whose credit is
//! paid back in cash. The stand-in's tokens are no secret (any client of the loopback
//! stand-in is granted them): they live in the process's memory (`Keyring::in_memory`),
//! and a new window connects again. It must never connect a store that is not the demo's.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{DEMO_TIME_ZONE, DemoFiles, PlantedFinding};
use crate::accounting_sync::{
    self, AccountingError, BooksSyncOptions, BooksSyncReport, System, connecting,
};
use crate::money::{Currency, Money, Sign};
use crate::secret::Keyring;
use crate::store::Store;

/// The demo organisation's tenant id in the stand-in.
pub const DEMO_TENANT: &str = "c4a7e1d2-0b5f-4c1e-9a3d-2f6b8e0d5a17";
/// Its name, as Settings and a fix's destination show it.
pub const DEMO_ORGANISATION: &str = "Chargeguard Demo Company (Xero stand-in)";
/// The bank account (its code in the chart) Stripe's money goes through.
pub const DEMO_PAYMENT_ACCOUNT: &str = "090";
/// The sales account the invoices' lines are coded to.
const SALES_ACCOUNT: &str = "200";
/// The demo's app at the stand-in (a desktop app: no client secret).
const DEMO_CLIENT_ID: &str = "chargeguard-demo";

/// The store setting saying the demo's invoices and ledger live in the stand-in: a window
/// connects the store to it again at start.
pub const DEMO_BOOKS_SETTING: &str = "demo_books";
const IN_XERO: &str = "xero";

#[derive(Debug, thiserror::Error)]
pub enum DemoBooksError {
    #[error("cannot read the demo's {file}: {detail}")]
    Files { file: String, detail: String },
    #[error("cannot reach the demo's Xero stand-in at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the demo's Xero stand-in refused the demo's books (HTTP {status}): {body}")]
    Refused { status: u16, body: String },
    #[error("cannot connect the demo store to its Xero stand-in: {0}")]
    Books(#[from] AccountingError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(
        "this store holds real books, not the demo's: only the demo store is connected to the demo's Xero stand-in"
    )]
    NotTheDemo,
    #[error(
        "the demo's Xero stand-in no longer holds the demo organisation its store was built from (was the sandbox folder removed?); remove the demo's folder to build the demo again ({0})"
    )]
    StandInLost(String),
}

#[derive(Debug, Deserialize)]
struct InvoiceRow {
    invoice_number: String,
    customer_id: String,
    amount: String,
    currency: String,
    issued_at: String,
    due_at: String,
    order_ref: String,
    plan: String,
}

#[derive(Debug, Deserialize)]
struct PaymentRow {
    payment_id: String,
    invoice_number: String,
    kind: String,
    amount: String,
    currency: String,
    recorded_at: String,
    gateway_id: String,
}

fn rows<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, DemoBooksError> {
    let fail = |detail: String| DemoBooksError::Files {
        file: path.display().to_string(),
        detail,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| fail(e.to_string()))?;
    reader
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| fail(e.to_string()))
}

/// The day an instant of the demo's falls on, in its books' zone (as Xero dates it).
fn day(text: &str, file: &Path) -> Result<String, DemoBooksError> {
    let zone = jiff::tz::TimeZone::get(DEMO_TIME_ZONE).expect("the demo's zone is known");
    text.parse::<Timestamp>()
        .map(|t| t.to_zoned(zone).date().to_string())
        .map_err(|e| DemoBooksError::Files {
            file: file.display().to_string(),
            detail: format!("{text} is not an instant ({e})"),
        })
}

/// An amount of the files, read exactly.
fn money(text: &str, currency: &str, file: &Path) -> Result<Money, DemoBooksError> {
    let fail = |detail: String| DemoBooksError::Files {
        file: file.display().to_string(),
        detail,
    };
    let currency = Currency::from_code(currency).map_err(|e| fail(e.to_string()))?;
    Money::parse(text, currency, Sign::NonNegative).map_err(|e| fail(e.to_string()))
}

/// An amount of the files as the exact decimal text Xero takes (never a float).
fn amount(text: &str, currency: &str, file: &Path) -> Result<String, DemoBooksError> {
    money(text, currency, file).map(|m| m.to_decimal_string())
}

/// What the stand-in's `POST /_sandbox/xero/seed` is given to hold the demo's books:
/// invoices, then the refunds' credit notes, then payments and cash refunds.
pub fn seed_request(files: &DemoFiles) -> Result<Value, DemoBooksError> {
    let invoices: Vec<InvoiceRow> = rows(&files.invoices)?;
    let payments: Vec<PaymentRow> = rows(&files.payments)?;
    let customer_of: std::collections::HashMap<&str, &str> = invoices
        .iter()
        .map(|i| (i.invoice_number.as_str(), i.customer_id.as_str()))
        .collect();
    let mut xero_invoices = Vec::new();
    for i in &invoices {
        let mut invoice = json!({
            "Type": "ACCREC",
            "Contact": {"Name": i.customer_id},
            "InvoiceNumber": i.invoice_number,
            "Date": day(&i.issued_at, &files.invoices)?,
            "DueDate": i.due_at,
            "CurrencyCode": i.currency,
            "Status": "AUTHORISED",
            "LineAmountTypes": "NoTax",
            "LineItems": [{
                "Description": format!("Subscription ({})", i.plan),
                "Quantity": 1,
                "UnitAmount": amount(&i.amount, &i.currency, &files.invoices)?,
                "AccountCode": SALES_ACCOUNT,
            }],
        });
        if !i.order_ref.is_empty() {
            invoice["Reference"] = json!(i.order_ref);
        }
        xero_invoices.push(invoice);
    }
    let mut credit_notes = Vec::new();
    let mut xero_payments = Vec::new();
    // What each invoice still owes: Xero takes no payment beyond it.
    let mut owed: std::collections::HashMap<&str, Money> = std::collections::HashMap::new();
    for i in &invoices {
        owed.insert(
            i.invoice_number.as_str(),
            money(&i.amount, &i.currency, &files.invoices)?,
        );
    }
    let unfit = |detail: String| DemoBooksError::Files {
        file: files.payments.display().to_string(),
        detail,
    };
    for p in &payments {
        let paid = amount(&p.amount, &p.currency, &files.payments)?;
        let date = day(&p.recorded_at, &files.payments)?;
        match p.kind.as_str() {
            "payment" => {
                let whole = money(&p.amount, &p.currency, &files.payments)?;
                let left = owed.get_mut(p.invoice_number.as_str()).ok_or_else(|| {
                    unfit(format!(
                        "payment {} is of invoice {}, which the invoices do not hold",
                        p.payment_id, p.invoice_number
                    ))
                })?;
                if whole.minor() > left.minor() {
                    return Err(unfit(format!(
                        "payment {} of {whole} is more than invoice {} owes ({left}): Xero takes no such payment",
                        p.payment_id, p.invoice_number
                    )));
                }
                *left = Money::from_minor(left.minor() - whole.minor(), left.currency());
                xero_payments.push(json!({
                    "Invoice": {"InvoiceNumber": p.invoice_number},
                    "Account": {"Code": DEMO_PAYMENT_ACCOUNT},
                    "Date": date,
                    "Amount": paid,
                    "Reference": p.gateway_id,
                }));
            }
            "refund" => {
                let number = format!("CN-{}", p.payment_id);
                let contact = customer_of.get(p.invoice_number.as_str()).ok_or_else(|| {
                    unfit(format!(
                        "refund {} is of invoice {}, which the invoices do not hold",
                        p.payment_id, p.invoice_number
                    ))
                })?;
                credit_notes.push(json!({
                    "Type": "ACCRECCREDIT",
                    "Contact": {"Name": contact},
                    "CreditNoteNumber": number,
                    "Reference": p.invoice_number,
                    "Date": date,
                    "CurrencyCode": p.currency,
                    "Status": "AUTHORISED",
                    "LineAmountTypes": "NoTax",
                    "LineItems": [{
                        "Description": format!("Refund on invoice {}", p.invoice_number),
                        "Quantity": 1,
                        "UnitAmount": paid,
                        "AccountCode": SALES_ACCOUNT,
                    }],
                }));
                xero_payments.push(json!({
                    "CreditNote": {"CreditNoteNumber": number},
                    "Account": {"Code": DEMO_PAYMENT_ACCOUNT},
                    "Date": date,
                    "Amount": paid,
                    "Reference": p.gateway_id,
                }));
            }
            other => {
                return Err(unfit(format!(
                    "{} is a {other}, neither payment nor refund",
                    p.payment_id
                )));
            }
        }
    }
    Ok(json!({
        "tenant": DEMO_TENANT,
        "organisation": {"name": DEMO_ORGANISATION, "currency": "USD"},
        "invoices": xero_invoices,
        "credit_notes": credit_notes,
        "payments": xero_payments,
    }))
}

async fn control(base_url: &str, path: &str, body: &Value) -> Result<Value, DemoBooksError> {
    let url = format!("{base_url}{path}");
    let (status, text) = super::sandbox::post_control(&url, body)
        .await
        .map_err(|detail| DemoBooksError::Unreachable {
            url: url.clone(),
            detail,
        })?;
    if !(200..300).contains(&status) {
        return Err(DemoBooksError::Refused { status, body: text });
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Makes the demo organisation in the stand-in at `base_url` and enters the demo's books
/// in it (all or nothing; once: a stand-in holding them already changes nothing).
pub async fn seed(base_url: &str, files: &DemoFiles) -> Result<(), DemoBooksError> {
    control(base_url, "/_sandbox/xero/seed", &seed_request(files)?).await?;
    Ok(())
}

/// Connects the demo store to its organisation in the stand-in at `base_url`: the consent
/// answered as the stand-in's page answers it, the tokens in this process's memory, and
/// Stripe's money paid through [`DEMO_PAYMENT_ACCOUNT`]. Made again by every window.
pub async fn connect(
    store: &mut Store,
    base_url: &str,
    timeout: Duration,
    now: Timestamp,
) -> Result<connecting::Status, DemoBooksError> {
    if !super::is_demo(store)? {
        return Err(DemoBooksError::NotTheDemo);
    }
    let pending = connecting::Pending::begin(connecting::ConnectRequest {
        system: System::Xero,
        client_id: DEMO_CLIENT_ID.into(),
        client_secret: None,
        redirect_uri: None,
        tenant: Some(DEMO_TENANT.into()),
        base: Some(base_url.into()),
    })?;
    let unreachable = |e: reqwest::Error| DemoBooksError::Unreachable {
        url: base_url.to_string(),
        detail: e.to_string(),
    };
    // The stand-in's consent page allows at once; its redirect carries the code back.
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(unreachable)?
        .get(pending.url())
        .send()
        .await
        .map_err(unreachable)?;
    let Some(redirect) = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string)
    else {
        return Err(DemoBooksError::Refused {
            status: answer.status().as_u16(),
            body: answer.text().await.unwrap_or_default(),
        });
    };
    match pending
        .finish(store, &redirect, &Keyring::in_memory(), timeout, now)
        .await
    {
        Ok(_) => {}
        // The consent connected no demo organisation: the stand-in's state was reset.
        Err(AccountingError::Consent(detail)) => return Err(DemoBooksError::StandInLost(detail)),
        Err(e) => return Err(e.into()),
    }
    Ok(connecting::set_payment_account(
        store,
        DEMO_PAYMENT_ACCOUNT,
    )?)
}

/// Whether the demo store keeps its books in the stand-in (and so connects to it).
pub fn books_in_stand_in(store: &mut Store) -> Result<bool, DemoBooksError> {
    Ok(store.read(|tx| tx.setting(DEMO_BOOKS_SETTING))?.as_deref() == Some(IN_XERO))
}

/// Marks the demo store as keeping its books in the stand-in.
pub(super) fn mark_books_in_stand_in(store: &mut Store) -> Result<(), crate::store::StoreError> {
    store.write(|tx| tx.set_setting(DEMO_BOOKS_SETTING, IN_XERO))
}

/// Enters the demo's books in the stand-in at `base_url`, connects the store to it and
/// syncs them in: the store's invoices and ledger, as any Xero business's arrive.
pub async fn seed_connect_and_sync(
    store: &mut Store,
    files: &DemoFiles,
    base_url: &str,
    timeout: Duration,
    now: Timestamp,
) -> Result<BooksSyncReport, DemoBooksError> {
    if !books_in_stand_in(store)? {
        return Err(DemoBooksError::NotTheDemo);
    }
    seed(base_url, files).await?;
    connect(store, base_url, timeout, now).await?;
    Ok(accounting_sync::sync(
        store,
        &Keyring::in_memory(),
        timeout,
        now,
        BooksSyncOptions::default(),
        |_| {},
    )
    .await?)
}

/// The planted findings as books synced from Xero show them. Xero keeps no order
/// reference Chargeguard reads (an invoice's `Reference` is free text, not an order id),
/// so a duplicate invoice is found by its customer, amount and time: a guess. Its invoices
/// name Xero's contacts, not Stripe's customers, so a charge nobody recorded is not guessed
/// to be a customer's open invoice: it is an orphan for certain.
pub fn planted_as_synced(planted: &[PlantedFinding]) -> Vec<PlantedFinding> {
    let mut out: Vec<PlantedFinding> = planted
        .iter()
        .cloned()
        .map(|mut p| {
            match p.kind {
                "duplicate_invoice" => p.confidence = "heuristic",
                "orphan_charge" if p.confidence == "heuristic" => {
                    p.invoice_number = None;
                    p.confidence = "exact";
                }
                _ => {}
            }
            p
        })
        .collect();
    out.sort();
    out
}
