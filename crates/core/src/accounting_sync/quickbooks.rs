//! QuickBooks Online's side of the sync: a company's invoices, then the payments applied
//! to them, read in pages of `MetaData.LastUpdatedTime` ordered by that time (a second that
//! fills whole pages, as a bulk import makes, is read by `Id`); deletions, which an upsert
//! cannot see, from change data capture since the last sync's answer (or by listing every
//! id when that is beyond its reach or full), so a payment deleted or voided there, or no
//! longer applied to an invoice, leaves the ledger. Written through `accounting/qbo.rs`.

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use super::qbo_connection::{SYSTEM, Session};
use super::session::Caller;
use super::{
    AccountingError, BooksProgress, BooksSyncOptions, BooksSyncReport, Naming, Sources,
    store_invoice,
};
use crate::accounting::qbo::{self as mapping, Company, MappingError};
use crate::books::qbo::{MAX_PAGE, Page};
use crate::money::Currency;
use crate::records::{LedgerEntry, Origin};
use crate::secret::Keyring;
use crate::store::{AccountingBooks, ExtraColumns, SourceKind, Store, StoreError, StoreTx};

/// The answer time after which the next sync reads deletions.
const CHANGES_SINCE: &str = "books.quickbooks.changes_since";
/// Change data capture reaches back 30 days; older than this, deletions are found by
/// reading every object's id.
const CHANGES_REACH: jiff::SignedDuration = jiff::SignedDuration::from_hours(29 * 24);
/// The most objects of one kind a change-data-capture answer holds.
const CHANGES_CAP: usize = 1000;
/// How far before an answer's time the next change-data-capture call starts.
const CHANGES_OVERLAP: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// One kind read by `LastUpdatedTime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invoice,
    Payment,
    RefundReceipt,
}

/// In the order a sync reads them: a payment's invoice first, a refund's payment first.
const KINDS: [Kind; 3] = [Kind::Invoice, Kind::Payment, Kind::RefundReceipt];

impl Kind {
    fn entity(self) -> &'static str {
        match self {
            Kind::Invoice => "Invoice",
            Kind::Payment => "Payment",
            Kind::RefundReceipt => "RefundReceipt",
        }
    }

    /// `accounting_objects.entity`, and the progress line's word.
    fn stored(self) -> &'static str {
        match self {
            Kind::Invoice => "invoice",
            Kind::Payment => "payment",
            Kind::RefundReceipt => "refund_receipt",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::Invoice => "invoices",
            Kind::Payment => "payments",
            Kind::RefundReceipt => "refund receipts",
        }
    }

    fn position_key(self) -> String {
        format!("books.quickbooks.{}.position", self.stored())
    }
}

/// How the next page of a kind is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// `LastUpdatedTime >= since`, oldest first: the usual reading. Rows of `since`
    /// itself are read again (unchanged, harmless); skipping them could pass one by.
    #[default]
    From,
    /// `LastUpdatedTime = since`, by `Id`, from `skip`: a second that fills whole pages
    /// (a bulk import), paged in an order that does not change between calls.
    Tied,
    /// `LastUpdatedTime > since`: after such a second.
    After,
}

/// Where a kind's reading stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Position {
    since: Option<String>,
    mode: Mode,
    skip: usize,
}

impl Position {
    fn read(tx: &StoreTx<'_>, kind: Kind) -> Result<Position, AccountingError> {
        let key = kind.position_key();
        let Some(text) = tx.setting(&key)? else {
            return Ok(Position::default());
        };
        let corrupt = || AccountingError::CorruptState {
            key: key.clone(),
            value: text.clone(),
        };
        let mut parts = text.splitn(3, ' ');
        let mode = match parts.next() {
            Some("from") => Mode::From,
            Some("tied") => Mode::Tied,
            Some("after") => Mode::After,
            _ => return Err(corrupt()),
        };
        let skip = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(corrupt)?;
        let since = parts
            .next()
            .filter(|s| instant(s).is_some())
            .ok_or_else(corrupt)?;
        Ok(Position {
            since: Some(since.to_string()),
            mode,
            skip,
        })
    }

    fn write(&self, tx: &StoreTx<'_>, kind: Kind) -> Result<(), StoreError> {
        let Some(since) = &self.since else {
            return Ok(());
        };
        let mode = match self.mode {
            Mode::From => "from",
            Mode::Tied => "tied",
            Mode::After => "after",
        };
        tx.set_setting(
            &kind.position_key(),
            &format!("{mode} {} {since}", self.skip),
        )
    }

    fn select(&self, kind: Kind, page: usize) -> String {
        let entity = kind.entity();
        let Some(since) = &self.since else {
            return format!(
                "SELECT * FROM {entity} ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS {page}"
            );
        };
        let (op, order, start) = match self.mode {
            Mode::From => (">=", "MetaData.LastUpdatedTime", 1),
            Mode::Tied => ("=", "Id", self.skip + 1),
            Mode::After => (">", "MetaData.LastUpdatedTime", 1),
        };
        format!(
            "SELECT * FROM {entity} WHERE MetaData.LastUpdatedTime {op} '{since}' ORDERBY {order} STARTPOSITION {start} MAXRESULTS {page}"
        )
    }

    /// The position after a page of `rows` (each with a time: see `times_of`); `full`
    /// when the page was as long as asked. `None` when the kind is read to its end.
    fn after(&self, rows: &[Value], full: bool) -> Option<Position> {
        let times: Vec<String> = rows.iter().filter_map(updated).collect();
        if self.mode == Mode::Tied {
            return Some(if full {
                Position {
                    skip: self.skip + rows.len(),
                    ..self.clone()
                }
            } else {
                Position {
                    mode: Mode::After,
                    skip: 0,
                    ..self.clone()
                }
            });
        }
        let (Some(first), Some(last)) = (times.first(), times.last()) else {
            return None;
        };
        if !full {
            return None;
        }
        if instant(first) == instant(last) {
            // One second fills the page: read it by id.
            return Some(Position {
                since: Some(last.clone()),
                mode: Mode::Tied,
                skip: 0,
            });
        }
        Some(Position {
            since: Some(last.clone()),
            mode: Mode::From,
            skip: 0,
        })
    }

    /// Where the next sync starts once this kind is read to its end after `rows`:
    /// from the last second read, which it reads again (an object changed later within
    /// that second sorts among those already read).
    fn at_end(&self, rows: &[Value]) -> Position {
        Position {
            since: rows
                .iter()
                .filter_map(updated)
                .next_back()
                .or(self.since.clone()),
            mode: Mode::From,
            skip: 0,
        }
    }
}

/// Each row's `LastUpdatedTime`; a row without a readable one is refused, since the
/// position could not move past it.
fn times_of(kind: Kind, rows: &[Value]) -> Result<(), MappingError> {
    for row in rows {
        if updated(row).as_deref().and_then(instant).is_none() {
            return Err(MappingError {
                entity: kind.stored(),
                id: id_of(row).unwrap_or_else(|| "(no Id)".into()),
                field: "MetaData.LastUpdatedTime",
                reason: "is missing or not a time".into(),
            });
        }
    }
    Ok(())
}

fn updated(row: &Value) -> Option<String> {
    row["MetaData"]["LastUpdatedTime"]
        .as_str()
        .map(str::to_string)
}

fn instant(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

fn id_of(row: &Value) -> Option<String> {
    match &row["Id"] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Pulls the connected QuickBooks company's invoices and payments into `store`.
pub(super) async fn sync(
    store: &mut Store,
    keyring: &Keyring,
    timeout: Duration,
    now: Timestamp,
    options: BooksSyncOptions,
    mut progress: impl FnMut(BooksProgress),
) -> Result<BooksSyncReport, AccountingError> {
    let mut session = Session::open(store, keyring, timeout, now).await?;
    let realm = session.connection.realm.clone();
    let mut caller = Caller {
        session: &mut session,
        keyring,
        options,
    };
    let preferences = caller
        .call(store, |c| Box::pin(async move { c.preferences().await }))
        .await?;
    let company = company(store, &preferences)?;
    let books = AccountingBooks {
        system: SYSTEM,
        company: &realm,
    };
    let mut report = BooksSyncReport {
        company: format!("QuickBooks company {realm}"),
        ..BooksSyncReport::default()
    };
    let mut sources = Sources {
        origin: format!("{SYSTEM}:{realm}"),
        at: now,
        invoices: None,
        payments: None,
    };
    removals(store, now, &mut caller, books, &mut sources, &mut report).await?;
    for kind in KINDS {
        let mut position = store.read(|tx| Position::read(tx, kind))?;
        let mut pages = 0;
        let mut fetched = 0;
        loop {
            let select = position.select(kind, options.page_size.clamp(1, MAX_PAGE));
            let entity = kind.entity();
            let page: Page = caller
                .call(store, |c| {
                    let select = select.clone();
                    Box::pin(async move { c.query_page(entity, &select).await })
                })
                .await?;
            let missing = match kind {
                Kind::Payment => missing_invoices(store, &mut caller, books, &page.rows).await?,
                Kind::Invoice | Kind::RefundReceipt => Vec::new(),
            };
            times_of(kind, &page.rows)?;
            let full = page.rows.len() >= options.page_size.clamp(1, MAX_PAGE);
            let next = position.after(&page.rows, full);
            let saved = next.clone().unwrap_or_else(|| position.at_end(&page.rows));
            store.write(|tx| {
                let mut w = Writer {
                    tx,
                    books,
                    company: &company,
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
                        Kind::RefundReceipt => w.refund_receipt(row)?,
                    }
                }
                saved.write(tx, kind)?;
                if tx.setting(CHANGES_SINCE)?.is_none()
                    && let Some(time) = &page.time
                {
                    // The first sync: deletions from this answer on are the next one's.
                    tx.set_setting(CHANGES_SINCE, time)?;
                }
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

/// The company as its objects are read: its home currency (from its preferences) and the
/// business's days.
pub(crate) fn company(store: &mut Store, preferences: &Value) -> Result<Company, AccountingError> {
    Ok(Company {
        currency: home_currency(preferences)?,
        zone: store
            .read(crate::period::day_zone)
            .map_err(|e| AccountingError::Setting(e.to_string()))?
            .1,
    })
}

/// What kind of object a push made or changed in QuickBooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    Payment,
    RefundReceipt,
    /// The invoice a pushed payment changed (paid, or owed again).
    Invoice,
}

/// Stores an object QuickBooks answered a push with (a payment, a refund receipt) exactly
/// as a sync stores it, in the caller's transaction (the one that settles the push), so the
/// next sync finds it unchanged.
pub(crate) fn store_pushed(
    tx: &StoreTx<'_>,
    realm: &str,
    company: &Company,
    pushed: Pushed,
    row: &Value,
    at: Timestamp,
) -> Result<(), AccountingError> {
    let mut report = BooksSyncReport::default();
    let mut sources = Sources {
        origin: format!("{SYSTEM}:{realm}"),
        at,
        invoices: None,
        payments: None,
    };
    let mut writer = Writer {
        tx,
        books: AccountingBooks {
            system: SYSTEM,
            company: realm,
        },
        company,
        sources: &mut sources,
        report: &mut report,
    };
    match pushed {
        Pushed::Payment => writer.payment(row)?,
        Pushed::RefundReceipt => writer.refund_receipt(row)?,
        Pushed::Invoice => writer.invoice(row)?,
    }
    sources.finish(tx, &report)?;
    Ok(())
}

fn home_currency(preferences: &Value) -> Result<Currency, AccountingError> {
    let code = preferences["CurrencyPrefs"]["HomeCurrency"]["value"]
        .as_str()
        .unwrap_or("");
    Currency::from_code(code).map_err(|e| {
        AccountingError::Mapping(MappingError {
            entity: "preferences",
            id: "CurrencyPrefs".into(),
            field: "HomeCurrency",
            reason: format!("{code:?} is not a currency ({e})"),
        })
    })
}

/// The invoices the payments of a page are applied to that the store does not hold (made
/// after the invoices were read), read one by one.
async fn missing_invoices(
    store: &mut Store,
    caller: &mut Caller<'_, Session>,
    books: AccountingBooks<'_>,
    payments: &[Value],
) -> Result<Vec<Value>, AccountingError> {
    let named: Vec<String> = payments
        .iter()
        .flat_map(|p| p["Line"].as_array().into_iter().flatten())
        .flat_map(|l| l["LinkedTxn"].as_array().into_iter().flatten())
        .filter(|t| t["TxnType"] == "Invoice")
        .filter_map(|t| id_of(&serde_json::json!({"Id": t["TxnId"]})))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let refs: Vec<&str> = named.iter().map(String::as_str).collect();
    let known = store.read(|tx| tx.accounting_record_keys(books, "invoice", &refs))?;
    let mut out = Vec::new();
    for id in named.iter().filter(|id| !known.contains_key(*id)) {
        let id = id.clone();
        out.push(
            caller
                .call(store, |c| {
                    let id = id.clone();
                    Box::pin(async move { c.read("Invoice", &id).await })
                })
                .await?,
        );
    }
    Ok(out)
}

/// An object's `Id`, which every QuickBooks object has.
fn required_id(row: &Value, entity: &'static str) -> Result<String, MappingError> {
    id_of(row).ok_or_else(|| MappingError {
        entity,
        id: "(no Id)".into(),
        field: "Id",
        reason: "is missing".into(),
    })
}

/// How QuickBooks' objects are named in the store.
const NAMING: Naming = Naming {
    tag: "QBO",
    ledger_prefix: "qbo:",
    id_column: "quickbooks_id",
};

/// Writes one page's objects in its transaction, counting them.
struct Writer<'w, 't> {
    tx: &'w StoreTx<'t>,
    books: AccountingBooks<'w>,
    company: &'w Company,
    sources: &'w mut Sources,
    report: &'w mut BooksSyncReport,
}

impl Writer<'_, '_> {
    fn invoice(&mut self, row: &Value) -> Result<(), AccountingError> {
        let (tx, books, company) = (self.tx, self.books, self.company);
        let invoice = mapping::invoice(company, row)?;
        let id = required_id(row, "invoice")?;
        store_invoice(tx, books, &NAMING, &id, invoice, self.sources, self.report)?;
        Ok(())
    }

    fn payment(&mut self, row: &Value) -> Result<(), AccountingError> {
        let (tx, books, company) = (self.tx, self.books, self.company);
        let id = required_id(row, "payment")?;
        let invoice_ids: Vec<String> = row["Line"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| l["LinkedTxn"].as_array().into_iter().flatten())
            .filter_map(|t| id_of(&serde_json::json!({"Id": t["TxnId"]})))
            .collect();
        let refs: Vec<&str> = invoice_ids.iter().map(String::as_str).collect();
        let numbers = tx.accounting_record_keys(books, "invoice", &refs)?;
        let entries: Vec<LedgerEntry> = mapping::payment_entries(company, row, &numbers)?;
        let source_id = self.sources.of(tx, SourceKind::Payments)?;
        let keep: HashSet<&str> = entries.iter().map(|e| e.payment_id.as_str()).collect();
        for stale in tx.ledger_payment_ids_starting(&format!("qbo:{id}:"))? {
            if !keep.contains(stale.as_str()) && tx.remove_ledger_entry(&stale, source_id)? {
                self.report.ledger_entries_removed += 1;
            }
        }
        for entry in &entries {
            let stored = tx.upsert_ledger_entry(
                entry,
                ExtraColumns::NONE,
                &Origin {
                    source_id,
                    line: None,
                },
            )?;
            self.report.ledger_entries.tally(&stored.outcome);
        }
        tx.keep_accounting_object(books, "payment", &id, &format!("qbo:{id}:"))?;
        Ok(())
    }
}

impl Writer<'_, '_> {
    /// A refund receipt naming a Stripe object: a ledger refund on the invoice that
    /// object pays (its ledger payment's, else the charge's own reference), or, where the
    /// store knows neither yet, under `QBO-REFUND-{Id}` (reconcile matches a refund by its
    /// Stripe id, not its invoice). One outside Stripe is not the gateway's to reconcile.
    fn refund_receipt(&mut self, row: &Value) -> Result<(), AccountingError> {
        let (tx, books, company) = (self.tx, self.books, self.company);
        let id = required_id(row, "refund receipt")?;
        let key = format!("qbo:refund:{id}");
        let source_id = self.sources.of(tx, SourceKind::Payments)?;
        let entry = match mapping::refund_receipt_gateway_id(row) {
            Some(gateway_id) => {
                let number = super::invoice_paid_by(tx, &gateway_id)?
                    .unwrap_or_else(|| format!("QBO-REFUND-{id}"));
                mapping::refund_receipt_entry(company, row, &number, &gateway_id)?
            }
            None => None,
        };
        match entry {
            Some(entry) => {
                let stored = tx.upsert_ledger_entry(
                    &entry,
                    ExtraColumns::NONE,
                    &Origin {
                        source_id,
                        line: None,
                    },
                )?;
                self.report.ledger_entries.tally(&stored.outcome);
                tx.keep_accounting_object(books, "refund_receipt", &id, &key)?;
            }
            None => {
                // Voided, zeroed, or outside Stripe: nothing of it stays in the ledger.
                if tx.remove_ledger_entry(&key, source_id)? {
                    self.report.ledger_entries_removed += 1;
                }
            }
        }
        Ok(())
    }
}

/// What QuickBooks deleted since the last sync leaves the store: through change data
/// capture when the last sync is recent enough, else by reading every object's id.
async fn removals(
    store: &mut Store,
    now: Timestamp,
    caller: &mut Caller<'_, Session>,
    books: AccountingBooks<'_>,
    sources: &mut Sources,
    report: &mut BooksSyncReport,
) -> Result<(), AccountingError> {
    let Some(since) = store.read(|tx| tx.setting(CHANGES_SINCE))? else {
        return Ok(());
    };
    let recent = instant(&since).is_some_and(|at| now.duration_since(at) < CHANGES_REACH);
    let mut through_changes = None;
    if recent {
        let (changes, time) = caller
            .call(store, |c| {
                let since = since.clone();
                let entities = KINDS.map(Kind::entity);
                Box::pin(async move { c.changes(&entities, &since).await })
            })
            .await?;
        // An answer holds at most 1,000 objects of a kind: a fuller one may have left
        // deletions out, so every id is read instead.
        let capped = KINDS
            .map(Kind::entity)
            .iter()
            .any(|e| changes.iter().filter(|(entity, _)| entity == e).count() >= CHANGES_CAP);
        if !capped {
            let gone: Vec<(String, String)> = changes
                .into_iter()
                .filter(|(_, row)| row["status"] == "Deleted")
                .filter_map(|(entity, row)| id_of(&row).map(|id| (entity, id)))
                .collect();
            through_changes = Some((gone, time));
        }
    }
    let (gone, time) = match through_changes {
        Some(found) => found,
        None => {
            let mut gone = Vec::new();
            let mut time = None;
            for kind in KINDS {
                let (present, at) = every_id(store, caller, kind).await?;
                time = time.or(at);
                let kept = store.read(|tx| tx.accounting_objects(books, kind.stored()))?;
                for (id, _) in kept.into_iter().filter(|(id, _)| !present.contains(id)) {
                    // Offset paging can pass a row by when another is deleted meanwhile:
                    // each missing id is read before it is removed.
                    if confirmed_gone(store, caller, kind, &id).await? {
                        gone.push((kind.entity().to_string(), id));
                    }
                }
            }
            (gone, time)
        }
    };
    // The next sync reads changes from a little before this answer: removals are
    // harmless to repeat, and QuickBooks may compare whole seconds with this time.
    let time = time
        .as_deref()
        .and_then(instant)
        .map(|t| (t - CHANGES_OVERLAP).to_string());
    store.write(|tx| {
        for (entity, id) in &gone {
            if entity == "Payment" || entity == "RefundReceipt" {
                // A payment's entries, one per invoice; a refund receipt's one entry.
                let (entries, stored) = if entity == "Payment" {
                    (
                        tx.ledger_payment_ids_starting(&format!("qbo:{id}:"))?,
                        "payment",
                    )
                } else {
                    (vec![format!("qbo:refund:{id}")], "refund_receipt")
                };
                let source_id = sources.of(tx, SourceKind::Payments)?;
                for entry in entries {
                    if tx.remove_ledger_entry(&entry, source_id)? {
                        report.ledger_entries_removed += 1;
                    }
                }
                tx.forget_accounting_object(books, stored, id)?;
            } else if entity == "Invoice" {
                let source_id = sources.of(tx, SourceKind::Invoices)?;
                if let Some(number) = tx
                    .accounting_record_keys(books, "invoice", &[id])?
                    .remove(id)
                    && tx.remove_invoice(&number, source_id)?
                {
                    report.invoices_removed += 1;
                }
                tx.forget_accounting_object(books, "invoice", id)?;
            }
        }
        if let Some(time) = &time {
            tx.set_setting(CHANGES_SINCE, time)?;
        }
        Ok::<_, AccountingError>(())
    })
}

/// Whether QuickBooks answers that object `id` of `kind` no longer exists (fault 610).
async fn confirmed_gone(
    store: &mut Store,
    caller: &mut Caller<'_, Session>,
    kind: Kind,
    id: &str,
) -> Result<bool, AccountingError> {
    let entity = kind.entity();
    let id = id.to_string();
    let read = caller
        .call(store, |c| {
            let id = id.clone();
            Box::pin(async move { c.read(entity, &id).await })
        })
        .await;
    match read {
        Ok(_) => Ok(false),
        Err(AccountingError::Qbo(e)) if e.fault_code() == Some("610") => Ok(true),
        Err(e) => Err(e),
    }
}

/// Every id QuickBooks holds of `kind`, and the first answer's time.
async fn every_id(
    store: &mut Store,
    caller: &mut Caller<'_, Session>,
    kind: Kind,
) -> Result<(HashSet<String>, Option<String>), AccountingError> {
    let mut ids = HashSet::new();
    let mut time = None;
    let mut read = 0;
    let page_size = caller.options.page_size.clamp(1, MAX_PAGE);
    loop {
        let select = format!(
            "SELECT * FROM {} ORDERBY Id STARTPOSITION {} MAXRESULTS {page_size}",
            kind.entity(),
            read + 1
        );
        let entity = kind.entity();
        let page = caller
            .call(store, |c| {
                let select = select.clone();
                Box::pin(async move { c.query_page(entity, &select).await })
            })
            .await?;
        time = time.or(page.time);
        read += page.rows.len();
        let short = page.rows.len() < page_size;
        ids.extend(page.rows.iter().filter_map(id_of));
        if short {
            return Ok((ids, time));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_second_quickbooks_invoice_under_a_taken_number_is_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let company = Company {
            currency: Currency::from_code("USD").unwrap(),
            zone: jiff::tz::TimeZone::UTC,
        };
        let books = AccountingBooks {
            system: SYSTEM,
            company: "4620816365",
        };
        // Amounts as QuickBooks writes them: JSON numbers, from their exact text.
        let invoice = |id: &str, amount: &str| {
            let amount: Value = serde_json::from_str(amount).unwrap();
            json!({"Id": id, "DocNumber": "1037", "TxnDate": "2026-11-20", "TotalAmt": amount,
                   "Balance": amount, "CustomerRef": {"value": "24"}})
        };
        let mut sources = Sources {
            origin: "quickbooks:4620816365".into(),
            at: Timestamp::now(),
            invoices: None,
            payments: None,
        };
        let mut report = BooksSyncReport::default();
        store
            .write(|tx| {
                let mut w = Writer {
                    tx,
                    books,
                    company: &company,
                    sources: &mut sources,
                    report: &mut report,
                };
                w.invoice(&invoice("130", "10.00"))?;
                w.invoice(&invoice("131", "10.00"))?;
                // Read again (changed), each keeps the number it was given.
                w.invoice(&invoice("130", "12.00"))?;
                w.invoice(&invoice("131", "12.00"))
            })
            .unwrap();
        let invoices = store.read(|tx| tx.invoices()).unwrap();
        let seen: Vec<(&str, i64)> = invoices
            .iter()
            .map(|i| (i.number.as_str(), i.amount.minor()))
            .collect();
        assert_eq!(seen, [("1037", 1_200), ("1037-QBO131", 1_200)]);
        assert_eq!((report.invoices.new, report.invoices.changed), (2, 2));
    }

    #[test]
    fn a_second_that_fills_a_page_is_read_by_id_then_reading_goes_on_after_it() {
        let at = |t: &str| json!({"MetaData": {"LastUpdatedTime": t}});
        let start = Position::default();
        assert_eq!(
            start.select(Kind::Invoice, 2),
            "SELECT * FROM Invoice ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 2"
        );
        // Two times in a full page: from the last, which is read again.
        let from = start
            .after(
                &[
                    at("2026-11-03T13:16:16-08:00"),
                    at("2026-11-03T13:16:17-08:00"),
                ],
                true,
            )
            .unwrap();
        assert_eq!(
            from.select(Kind::Invoice, 2),
            "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2026-11-03T13:16:17-08:00' ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 2"
        );
        // One instant (written two ways) fills the page: that second by id, page by page.
        let tied = from
            .after(
                &[at("2026-11-03T13:16:17-08:00"), at("2026-11-03T21:16:17Z")],
                true,
            )
            .unwrap();
        assert_eq!(tied.mode, Mode::Tied);
        assert_eq!(
            tied.select(Kind::Payment, 2),
            "SELECT * FROM Payment WHERE MetaData.LastUpdatedTime = '2026-11-03T21:16:17Z' ORDERBY Id STARTPOSITION 1 MAXRESULTS 2"
        );
        let tied = tied
            .after(
                &[at("2026-11-03T21:16:17Z"), at("2026-11-03T21:16:17Z")],
                true,
            )
            .unwrap();
        assert!(
            tied.select(Kind::Payment, 2)
                .ends_with("ORDERBY Id STARTPOSITION 3 MAXRESULTS 2")
        );
        // Its short page ends it: then strictly after it.
        let after = tied.after(&[at("2026-11-03T21:16:17Z")], false).unwrap();
        assert_eq!(
            after.select(Kind::Payment, 2),
            "SELECT * FROM Payment WHERE MetaData.LastUpdatedTime > '2026-11-03T21:16:17Z' ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 2"
        );
        // A short page ends the kind; the next sync starts from its last second again.
        let rows = [at("2026-11-04T09:00:00Z")];
        assert_eq!(after.after(&rows, false), None);
        assert_eq!(
            after.at_end(&rows),
            Position {
                since: Some("2026-11-04T09:00:00Z".into()),
                mode: Mode::From,
                skip: 0
            }
        );
        assert_eq!(
            after.at_end(&[]).since.as_deref(),
            Some("2026-11-03T21:16:17Z")
        );
        assert!(times_of(Kind::Invoice, &[json!({"Id": "7"})]).is_err());
    }
}
