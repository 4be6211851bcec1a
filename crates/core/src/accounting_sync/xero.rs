//! Xero's side of the sync: an organisation's sales invoices, then the payments on them,
//! read by `If-Modified-Since` oldest change first (`order=UpdatedDateUTC ASC`), a page per
//! transaction with the position after it. Xero keeps what is voided or deleted with its
//! status, and a status change moves `UpdatedDateUTC`, so no deletion feed is needed: a
//! `DELETED` payment (Xero's reversal) leaves the ledger as it is read. Written through
//! `accounting/xero.rs`.
//!
//! The position is the last change read (to the millisecond) and the page within it: a
//! full page moves it to its last row's change, read again from page 1 (unchanged rows,
//! harmless); a page whose rows all changed in that same millisecond moves to the next
//! page instead.

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use super::session::Caller;
use super::xero_connection::{SYSTEM, XeroSession};
use super::{
    AccountingError, BooksProgress, BooksSyncOptions, BooksSyncReport, Naming, Sources,
    store_invoice,
};
use crate::accounting::qbo::MappingError;
use crate::accounting::xero::{self as mapping, Organisation, Read, ms_of};
use crate::books::xero::{MAX_PAGE, Page};
use crate::money::Currency;
use crate::records::{LedgerEntry, Origin};
use crate::secret::Keyring;
use crate::store::{AccountingBooks, ExtraColumns, SourceKind, Store, StoreError, StoreTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invoice,
    Payment,
}

impl Kind {
    fn list(self) -> &'static str {
        match self {
            Kind::Invoice => "Invoices",
            Kind::Payment => "Payments",
        }
    }

    fn stored(self) -> &'static str {
        match self {
            Kind::Invoice => "invoice",
            Kind::Payment => "payment",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::Invoice => "invoices",
            Kind::Payment => "payments",
        }
    }

    fn id_field(self) -> &'static str {
        match self {
            Kind::Invoice => "InvoiceID",
            Kind::Payment => "PaymentID",
        }
    }

    fn position_key(self) -> String {
        format!("books.xero.{}.position", self.stored())
    }
}

/// Where a kind's reading stands: the last change read; in memory also the page, when
/// the changes of about one second fill whole pages.
///
/// Each call asks for what changed since a second before the last change read, oldest
/// first: rows read again are unchanged (harmless), and whether Xero compares with `>` or
/// `>=`, to the millisecond or to the second, nothing after the last change read is passed
/// by. A full page that does not move that time (a batch stamped in one instant) is paged
/// forward, in memory only: the store keeps the time, so a resumed sync reads the batch
/// again from its first page rather than trust an order Xero does not promise for ties.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    since: Option<Timestamp>,
    page: usize,
}

/// How far before the last change read each call starts.
const OVERLAP: jiff::SignedDuration = jiff::SignedDuration::from_secs(1);

impl Position {
    fn read(tx: &StoreTx<'_>, kind: Kind) -> Result<Position, AccountingError> {
        let key = kind.position_key();
        let since = match tx.setting(&key)? {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| AccountingError::CorruptState {
                key: key.clone(),
                value: text.clone(),
            })?),
        };
        Ok(Position { since, page: 1 })
    }

    fn write(&self, tx: &StoreTx<'_>, kind: Kind) -> Result<(), StoreError> {
        match self.since {
            Some(since) => tx.set_setting(&kind.position_key(), &since.to_string()),
            None => Ok(()),
        }
    }

    /// The `If-Modified-Since` of the next call.
    fn asked_since(&self) -> Option<String> {
        self.since.map(|t| (t - OVERLAP).to_string())
    }

    /// The position after a page of `rows`; `None` at the end (a short page).
    fn after(&self, rows: &[Value], full: bool) -> Option<Position> {
        if !full {
            return None;
        }
        let last = rows.iter().filter_map(changed).max();
        match (last, self.since) {
            (Some(last), Some(since)) if last <= since => Some(Position {
                since: self.since,
                page: self.page + 1,
            }),
            (Some(last), _) => Some(Position {
                since: Some(last),
                page: 1,
            }),
            (None, _) => Some(Position {
                since: self.since,
                page: self.page + 1,
            }),
        }
    }

    /// What the store keeps after a page: the latest change read (never a page number).
    fn kept(&self, rows: &[Value]) -> Position {
        Position {
            since: rows.iter().filter_map(changed).chain(self.since).max(),
            page: 1,
        }
    }
}

/// When a Xero object last changed.
fn changed(row: &Value) -> Option<Timestamp> {
    row["UpdatedDateUTC"]
        .as_str()
        .and_then(ms_of)
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn required(row: &Value, kind: Kind, field: &'static str) -> Result<String, MappingError> {
    text(&row[field]).ok_or_else(|| MappingError {
        entity: kind.stored(),
        id: format!("(no {field})"),
        field,
        reason: "is missing".into(),
    })
}

/// The organisation as its objects read: its `BaseCurrency` (from Xero's `org`) and the
/// business's zone (the store's setting). Its short code is kept on the way (the links to
/// its pages).
pub(crate) fn organisation(
    store: &mut Store,
    tenant: &str,
    org: &Value,
) -> Result<Organisation, AccountingError> {
    super::xero_connection::keep_short_code(store, org)?;
    let code = org["BaseCurrency"].as_str().unwrap_or("");
    Ok(Organisation {
        currency: Currency::from_code(code).map_err(|e| MappingError {
            entity: "organisation",
            id: tenant.to_string(),
            field: "BaseCurrency",
            reason: format!("{code:?} is not a currency ({e})"),
        })?,
        zone: store
            .read(crate::period::day_zone)
            .map_err(|e| AccountingError::Setting(e.to_string()))?
            .1,
    })
}

/// Stores a payment Xero answered a push with exactly as a sync stores it, in the caller's
/// transaction (the one that settles the push), so the next sync finds it unchanged (a
/// deleted one leaves the ledger, as a sync takes it off); with it the invoice it paid as
/// Xero holds it since, when read.
pub(crate) fn store_pushed(
    tx: &StoreTx<'_>,
    tenant: &str,
    organisation: &Organisation,
    payment: Option<&Value>,
    invoice: Option<&Value>,
    at: Timestamp,
) -> Result<(), AccountingError> {
    let mut report = BooksSyncReport::default();
    let mut sources = Sources {
        origin: format!("{SYSTEM}:{tenant}"),
        at,
        invoices: None,
        payments: None,
    };
    let mut writer = Writer {
        tx,
        books: AccountingBooks {
            system: SYSTEM,
            company: tenant,
        },
        organisation,
        sources: &mut sources,
        report: &mut report,
    };
    if let Some(invoice) = invoice {
        writer.invoice(invoice)?;
    }
    if let Some(payment) = payment {
        writer.payment(payment)?;
    }
    sources.finish(tx, &report)?;
    Ok(())
}

/// Pulls the connected Xero organisation's sales invoices and their payments into `store`.
pub(super) async fn sync(
    store: &mut Store,
    keyring: &Keyring,
    timeout: Duration,
    now: Timestamp,
    options: BooksSyncOptions,
    mut progress: impl FnMut(BooksProgress),
) -> Result<BooksSyncReport, AccountingError> {
    let mut session = XeroSession::open(store, keyring, timeout, now).await?;
    let tenant = session.connection.tenant.clone();
    let mut caller = Caller {
        session: &mut session,
        keyring,
        options,
    };
    let org = caller
        .call(store, |c| Box::pin(async move { c.organisation().await }))
        .await?;
    let organisation = organisation(store, &tenant.id, &org)?;
    let books = AccountingBooks {
        system: SYSTEM,
        company: &tenant.id,
    };
    let mut report = BooksSyncReport {
        company: format!("Xero organisation {}", tenant.name),
        ..BooksSyncReport::default()
    };
    let mut sources = Sources {
        origin: format!("{SYSTEM}:{}", tenant.id),
        at: now,
        invoices: None,
        payments: None,
    };
    let page_size = options.page_size.clamp(1, MAX_PAGE);
    for kind in [Kind::Invoice, Kind::Payment] {
        if kind == Kind::Payment {
            store.write(read_refunds_once)?;
        }
        let mut position = store.read(|tx| Position::read(tx, kind))?;
        let (mut pages, mut fetched) = (0, 0);
        loop {
            let since = position.asked_since();
            let page_number = position.page;
            let page: Page = caller
                .call(store, |c| {
                    let since = since.clone();
                    Box::pin(async move {
                        c.list_page(kind.list(), since.as_deref(), page_number, page_size)
                            .await
                    })
                })
                .await?;
            for row in &page.rows {
                if changed(row).is_none() {
                    return Err(MappingError {
                        entity: kind.stored(),
                        id: text(&row[kind.id_field()]).unwrap_or_default(),
                        field: "UpdatedDateUTC",
                        reason: "is missing or not a Xero time".into(),
                    }
                    .into());
                }
            }
            let missing = match kind {
                Kind::Payment => missing_invoices(store, &mut caller, books, &page.rows).await?,
                Kind::Invoice => Vec::new(),
            };
            let full = page.rows.len() >= page_size;
            let next = position.after(&page.rows, full);
            let saved = position.kept(&page.rows);
            store.write(|tx| {
                let mut w = Writer {
                    tx,
                    books,
                    organisation: &organisation,
                    sources: &mut sources,
                    report: &mut report,
                };
                for invoice in &missing {
                    w.invoice(invoice)?;
                }
                for row in &page.rows {
                    match kind {
                        Kind::Invoice => w.invoice(row)?,
                        Kind::Payment => w.payment(row)?,
                    }
                }
                saved.write(tx, kind)?;
                Ok::<_, AccountingError>(())
            })?;
            pages += 1;
            fetched += page.rows.len() as u64;
            progress(BooksProgress {
                kind: kind.plural(),
                pages,
                fetched,
            });
            match next {
                Some(next) => position = next,
                None => break,
            }
        }
    }
    store.write(|tx| sources.finish(tx, &report))?;
    Ok(report)
}

/// What the payments reader reads, by version: 2 reads cash refunds too. A store whose
/// payments were read by an older reader reads them all again once (nothing it holds
/// changes; the refunds it skipped come in).
const PAYMENTS_READER: &str = "books.xero.payment.reader";
const PAYMENTS_READER_VERSION: &str = "2";

fn read_refunds_once(tx: &StoreTx<'_>) -> Result<(), AccountingError> {
    if tx.setting(PAYMENTS_READER)?.as_deref() != Some(PAYMENTS_READER_VERSION) {
        tx.clear_setting(&Kind::Payment.position_key())?;
        tx.set_setting(PAYMENTS_READER, PAYMENTS_READER_VERSION)?;
    }
    Ok(())
}

/// The invoices a page's payments are on that the store does not hold yet, read by id.
async fn missing_invoices(
    store: &mut Store,
    caller: &mut Caller<'_, XeroSession>,
    books: AccountingBooks<'_>,
    payments: &[Value],
) -> Result<Vec<Value>, AccountingError> {
    let named: Vec<String> = payments
        .iter()
        .filter(|p| p["PaymentType"] == "ACCRECPAYMENT" && p["Status"] != "DELETED")
        .filter_map(|p| text(&p["Invoice"]["InvoiceID"]))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let refs: Vec<&str> = named.iter().map(String::as_str).collect();
    let known = store.read(|tx| tx.accounting_record_keys(books, "invoice", &refs))?;
    let wanted: Vec<String> = named
        .into_iter()
        .filter(|id| !known.contains_key(id))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    // A few dozen ids a call: a thousand would not fit in an address.
    let mut out = Vec::new();
    for chunk in wanted.chunks(50) {
        let ids = chunk.join(",");
        out.extend(
            caller
                .call(store, |c| {
                    let ids = ids.clone();
                    Box::pin(async move { c.invoices_by_id(&ids).await })
                })
                .await?,
        );
    }
    Ok(out)
}

/// How Xero's objects are named in the store.
const NAMING: Naming = Naming {
    tag: "XERO",
    ledger_prefix: "xero:",
    id_column: "xero_id",
};

/// Writes one page's objects in its transaction, counting them.
struct Writer<'w, 't> {
    tx: &'w StoreTx<'t>,
    books: AccountingBooks<'w>,
    organisation: &'w Organisation,
    sources: &'w mut Sources,
    report: &'w mut BooksSyncReport,
}

impl Writer<'_, '_> {
    fn invoice(&mut self, row: &Value) -> Result<(), AccountingError> {
        let (tx, books) = (self.tx, self.books);
        let id = required(row, Kind::Invoice, "InvoiceID")?;
        let invoice = match mapping::invoice(self.organisation, row)? {
            Read::Record(invoice) => invoice,
            Read::NotOurs => return Ok(()),
            Read::Removed => {
                let source_id = self.sources.of(tx, SourceKind::Invoices)?;
                if let Some(number) = tx
                    .accounting_record_keys(books, "invoice", &[&id])?
                    .remove(&id)
                    && tx.remove_invoice(&number, source_id)?
                {
                    self.report.invoices_removed += 1;
                }
                tx.forget_accounting_object(books, "invoice", &id)?;
                return Ok(());
            }
        };
        store_invoice(tx, books, &NAMING, &id, invoice, self.sources, self.report)?;
        Ok(())
    }

    fn payment(&mut self, row: &Value) -> Result<(), AccountingError> {
        if mapping::is_refund(row) {
            return self.refund(row);
        }
        let (tx, books) = (self.tx, self.books);
        let id = required(row, Kind::Payment, "PaymentID")?;
        let invoice_id = text(&row["Invoice"]["InvoiceID"]);
        let number = match &invoice_id {
            Some(i) => tx.accounting_record_keys(books, "invoice", &[i])?.remove(i),
            None => None,
        };
        let currency = match &number {
            Some(n) => tx
                .invoices_numbered(&[n])?
                .first()
                .map(|i| i.amount.currency())
                .unwrap_or(self.organisation.currency),
            None => self.organisation.currency,
        };
        let read = match (&number, row["Status"] == "DELETED") {
            (_, true) => Read::Removed,
            (Some(n), false) => mapping::payment_entry(self.organisation, row, n, currency)?,
            // A sales invoice's payment whose invoice Xero did not give: never dropped
            // quietly (the page is refused, naming both).
            (None, false) if row["PaymentType"] == "ACCRECPAYMENT" && invoice_id.is_some() => {
                return Err(MappingError {
                    entity: "payment",
                    id,
                    field: "Invoice",
                    reason: format!(
                        "names invoice {}, which Xero did not return",
                        invoice_id.unwrap_or_default()
                    ),
                }
                .into());
            }
            // A payment on something that is not a sales invoice (a bill, a credit note,
            // an overpayment).
            (None, false) => Read::NotOurs,
        };
        self.keep(&id, read)
    }

    /// A customer paid back in cash, naming a Stripe object: a ledger refund on the invoice
    /// that object pays (its ledger payment's, else the charge's own reference), or, where
    /// the store knows neither yet, under `XERO-REFUND-{PaymentID}` (reconcile matches a
    /// refund by its Stripe id, not its invoice). One outside Stripe is not the gateway's.
    fn refund(&mut self, row: &Value) -> Result<(), AccountingError> {
        let tx = self.tx;
        let id = required(row, Kind::Payment, "PaymentID")?;
        let read = match mapping::refund_gateway_id(row) {
            Some(gateway_id) => {
                let number = super::invoice_paid_by(tx, &gateway_id)?
                    .unwrap_or_else(|| format!("{}-REFUND-{id}", NAMING.tag));
                // The invoice's currency, else the one the refunded document names.
                let named = ["CreditNote", "Overpayment", "Prepayment"]
                    .iter()
                    .find_map(|d| row[*d]["CurrencyCode"].as_str())
                    .and_then(|c| Currency::from_code(c).ok());
                let currency = tx
                    .invoices_numbered(&[&number])?
                    .first()
                    .map(|i| i.amount.currency())
                    .or(named)
                    .unwrap_or(self.organisation.currency);
                mapping::refund_entry(self.organisation, row, &number, &gateway_id, currency)?
            }
            None => Read::NotOurs,
        };
        self.keep(&id, read)
    }

    /// Stores (or, removed or not ours, takes out) payment `id`'s ledger entry.
    fn keep(&mut self, id: &str, read: Read<LedgerEntry>) -> Result<(), AccountingError> {
        let (tx, books) = (self.tx, self.books);
        let entry_id = format!("xero:{id}");
        let source_id = self.sources.of(tx, SourceKind::Payments)?;
        match read {
            Read::Record(entry) => {
                let stored = tx.upsert_ledger_entry(
                    &entry,
                    ExtraColumns::NONE,
                    &Origin {
                        source_id,
                        line: None,
                    },
                )?;
                self.report.ledger_entries.tally(&stored.outcome);
                tx.keep_accounting_object(books, "payment", id, &entry_id)?;
            }
            Read::Removed | Read::NotOurs => {
                if tx.remove_ledger_entry(&entry_id, source_id)? {
                    self.report.ledger_entries_removed += 1;
                }
                tx.forget_accounting_object(books, "payment", id)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_call_starts_a_second_early_and_a_batch_of_one_instant_is_paged_through() {
        let at = |ms: i64| json!({"UpdatedDateUTC": format!("/Date({ms}+0000)/")});
        let start = Position {
            since: None,
            page: 1,
        };
        assert_eq!(start.asked_since(), None);
        let moved = start.after(&[at(1_000), at(2_000)], true).unwrap();
        assert_eq!(
            (moved.since, moved.page),
            (Timestamp::from_millisecond(2_000).ok(), 1)
        );
        assert_eq!(moved.asked_since().as_deref(), Some("1970-01-01T00:00:01Z"));
        // The page read again from a second before ends where it started: page forward.
        let same = moved.after(&[at(1_500), at(2_000)], true).unwrap();
        assert_eq!((same.since, same.page), (moved.since, 2));
        // ... but the store keeps only the time: a resumed sync reads the batch again.
        assert_eq!(same.kept(&[at(1_500), at(2_000)]), moved);
        let later = same.after(&[at(2_000), at(3_500)], true).unwrap();
        assert_eq!(
            (later.since, later.page),
            (Timestamp::from_millisecond(3_500).ok(), 1)
        );
        assert_eq!(later.after(&[at(4_000)], false), None);
        assert_eq!(
            later.kept(&[at(4_000)]).since,
            Timestamp::from_millisecond(4_000).ok()
        );
        assert_eq!(later.kept(&[]), later);
    }
}
