//! Sync in from the accounting system (issue 19): a QuickBooks Online company's invoices and
//! the payments applied to them land as the invoices and ledger entries reconcile already
//! reads, so every finding works with no CSV at all; and the connection it reads through
//! ([`connection`]: consent, tokens in the keyring, refresh, revocation).
//!
//! Like the gateway's sync it is incremental and resumable: each kind is read in pages of
//! `MetaData.LastUpdatedTime >= position` ordered by that time, and every page is one
//! transaction holding its rows and the position after them, so a sync killed anywhere
//! resumes with nothing lost and nothing doubled (a page re-read is unchanged rows). Rows
//! sharing one time across a whole page are paged through by `STARTPOSITION`. What an
//! upsert cannot see, deletions, comes from QuickBooks' change data capture since the last
//! sync's answer time; a payment deleted or voided there, or no longer applied to an
//! invoice, leaves the ledger. The invoice's QuickBooks id is kept beside its number
//! (`quickbooks_id`, and the store's `accounting_objects`).
//!
//! Invoices are numbered by `DocNumber`; a second QuickBooks invoice with a number already
//! taken is stored as `NUMBER-QBO{Id}`, so neither overwrites the other (no order reference
//! is set: reconcile's duplicate-invoice guess, same customer and amount both charged, then
//! weighs a double push whatever numbers QuickBooks gave it). It must never write to QuickBooks, and never decide what a row means for the
//! books (reconciliation does).

pub mod connection;

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::accounting::qbo::{self as mapping, Company, MappingError};
use crate::books::qbo::{MAX_PAGE, Page, QboClient, QboError};
use crate::money::Currency;
use crate::records::{Invoice, LedgerEntry, Origin};
use crate::secret::{Keyring, SecretError};
use crate::store::{
    AccountingBooks, ExtraColumns, SourceCounts, SourceKind, Store, StoreError, StoreTx,
};
use connection::{SYSTEM, Session};

/// Why a sync with the accounting system stopped. Each says what the bookkeeper can do.
#[derive(Debug, thiserror::Error)]
pub enum AccountingError {
    #[error(
        "this store is not connected to QuickBooks; run `chargeguard books connect quickbooks` first"
    )]
    NotConnected,
    #[error("{reason}; connect QuickBooks again (`chargeguard books connect quickbooks`)")]
    Reconnect { reason: String },
    #[error(
        "this store keeps the books of QuickBooks company {connected}, not {chosen}; one company per store (disconnect first, or use another store)"
    )]
    OtherCompany { connected: String, chosen: String },
    #[error("{0}")]
    Consent(String),
    #[error(transparent)]
    Qbo(#[from] QboError),
    #[error("the business's time zone: {0}; set it in Settings again")]
    Setting(String),
    #[error("{0}; nothing of that page was stored: correct it in QuickBooks and sync again")]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(
        "the sync position {key} is unreadable ({value}); remove that setting to read again from the start"
    )]
    CorruptState { key: String, value: String },
}

/// How a sync is going, after each committed page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BooksProgress {
    /// `invoices` or `payments`.
    pub kind: &'static str,
    pub pages: u64,
    pub fetched: u64,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BooksSyncReport {
    pub company: String,
    pub invoices: SourceCounts,
    /// Ledger entries (a payment applied to two invoices is two).
    pub ledger_entries: SourceCounts,
    /// Ledger entries whose payment QuickBooks deleted, voided or moved off the invoice.
    pub ledger_entries_removed: u64,
    /// Invoices QuickBooks deleted.
    pub invoices_removed: u64,
}

impl std::fmt::Display for BooksSyncReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "QuickBooks company {}: {} new invoices, {} changed, {} unchanged; {} new ledger entries, {} changed, {} unchanged",
            self.company,
            self.invoices.new,
            self.invoices.changed,
            self.invoices.unchanged,
            self.ledger_entries.new,
            self.ledger_entries.changed,
            self.ledger_entries.unchanged,
        )?;
        if self.ledger_entries_removed + self.invoices_removed > 0 {
            write!(
                f,
                "; removed as QuickBooks no longer has them: {} ledger entries, {} invoices",
                self.ledger_entries_removed, self.invoices_removed
            )?;
        }
        Ok(())
    }
}

/// Options of a sync.
#[derive(Debug, Clone, Copy)]
pub struct BooksSyncOptions {
    /// Objects per page (1–1000).
    pub page_size: usize,
    /// Calls retried after QuickBooks' throttle before the sync gives up.
    pub throttle_retries: u32,
}

impl Default for BooksSyncOptions {
    fn default() -> Self {
        BooksSyncOptions {
            page_size: MAX_PAGE,
            throttle_retries: 5,
        }
    }
}

/// The answer time after which the next sync reads deletions.
const CHANGES_SINCE: &str = "books.quickbooks.changes_since";
/// Change data capture reaches back 30 days; older than this, deletions are found by
/// reading every object's id.
const CHANGES_REACH: jiff::SignedDuration = jiff::SignedDuration::from_hours(29 * 24);

/// One kind read by `LastUpdatedTime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invoice,
    Payment,
}

impl Kind {
    fn entity(self) -> &'static str {
        match self {
            Kind::Invoice => "Invoice",
            Kind::Payment => "Payment",
        }
    }

    /// `accounting_objects.entity`, and the progress line's word.
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

    fn position_key(self) -> String {
        format!("books.quickbooks.{}.position", self.stored())
    }
}

/// Where a kind's reading stands: the last `LastUpdatedTime` stored, and how many objects
/// of exactly that time were read when a whole page had that time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Position {
    since: Option<String>,
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
        let (skip, since) = text.split_once(' ').ok_or_else(corrupt)?;
        instant(since).ok_or_else(corrupt)?;
        Ok(Position {
            since: Some(since.to_string()),
            skip: skip.parse().map_err(|_| corrupt())?,
        })
    }

    fn write(&self, tx: &StoreTx<'_>, kind: Kind) -> Result<(), StoreError> {
        match &self.since {
            Some(since) => tx.set_setting(&kind.position_key(), &format!("{} {since}", self.skip)),
            None => Ok(()),
        }
    }

    fn select(&self, kind: Kind, page: usize) -> String {
        let filter = match &self.since {
            Some(since) => format!(" WHERE MetaData.LastUpdatedTime >= '{since}'"),
            None => String::new(),
        };
        format!(
            "SELECT * FROM {}{filter} ORDERBY MetaData.LastUpdatedTime STARTPOSITION {} MAXRESULTS {page}",
            kind.entity(),
            self.skip + 1
        )
    }

    /// The position after `rows` (ordered by their time).
    fn after(&self, rows: &[Value]) -> Position {
        let Some(last) = rows.last().and_then(updated) else {
            return self.clone();
        };
        let last_at = instant(&last);
        if self.since.as_deref().and_then(instant) == last_at {
            return Position {
                since: self.since.clone(),
                skip: self.skip + rows.len(),
            };
        }
        // Rows of the last time are read again from the start: harmless, they are
        // unchanged; skipping them could pass one of them by.
        Position {
            since: Some(last),
            skip: 0,
        }
    }
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

/// The sync's sources: one per kind of row it writes, created when first needed.
struct Sources {
    origin: String,
    at: Timestamp,
    invoices: Option<i64>,
    payments: Option<i64>,
}

impl Sources {
    fn of(&mut self, tx: &StoreTx<'_>, kind: Kind) -> Result<i64, StoreError> {
        let (slot, source_kind) = match kind {
            Kind::Invoice => (&mut self.invoices, SourceKind::Invoices),
            Kind::Payment => (&mut self.payments, SourceKind::Payments),
        };
        if let Some(id) = *slot {
            return Ok(id);
        }
        let id = tx.begin_source(source_kind, &self.origin, None, self.at)?;
        *slot = Some(id);
        Ok(id)
    }
}

/// Pulls the connected QuickBooks company's invoices and payments into `store`.
pub async fn sync(
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
        now,
    };
    let preferences = caller
        .call(store, |c| Box::pin(async move { c.preferences().await }))
        .await?;
    let company = Company {
        currency: home_currency(&preferences)?,
        zone: store
            .read(crate::period::day_zone)
            .map_err(|e| AccountingError::Setting(e.to_string()))?
            .1,
    };
    let books = AccountingBooks {
        system: SYSTEM,
        company: &realm,
    };
    let mut report = BooksSyncReport {
        company: realm.clone(),
        ..BooksSyncReport::default()
    };
    let mut sources = Sources {
        origin: format!("{SYSTEM}:{realm}"),
        at: now,
        invoices: None,
        payments: None,
    };
    removals(store, &mut caller, books, &mut sources, &mut report).await?;
    for kind in [Kind::Invoice, Kind::Payment] {
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
                Kind::Invoice => Vec::new(),
            };
            let last_page = page.rows.len() < options.page_size.clamp(1, MAX_PAGE);
            let mut next = position.after(&page.rows);
            if last_page {
                // QuickBooks' times are to the second: an object changed later within the
                // last second read sorts among those already read, so the next sync reads
                // that second again from its start.
                next.skip = 0;
            }
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
                    }
                }
                next.write(tx, kind)?;
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
            if last_page {
                break;
            }
            position = next;
        }
    }
    store.write(|tx| {
        if let Some(id) = sources.invoices {
            tx.finish_source(id, report.invoices)?;
        }
        if let Some(id) = sources.payments {
            tx.finish_source(id, report.ledger_entries)?;
        }
        Ok::<_, AccountingError>(())
    })?;
    Ok(report)
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

/// Calls QuickBooks through a session: an access token QuickBooks refuses is refreshed
/// once and the call made again; a throttled call waits as asked and is made again.
struct Caller<'a> {
    session: &'a mut Session,
    keyring: &'a Keyring,
    options: BooksSyncOptions,
    now: Timestamp,
}

type Call<'c, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, QboError>> + Send + 'c>>;

impl Caller<'_> {
    async fn call<T>(
        &mut self,
        store: &mut Store,
        make: impl for<'c> Fn(&'c QboClient) -> Call<'c, T>,
    ) -> Result<T, AccountingError> {
        let mut refreshed = false;
        let mut throttled = 0;
        loop {
            let client = self.session.client();
            match make(&client).await {
                Ok(answer) => return Ok(answer),
                Err(QboError::Unauthorized { .. }) if !refreshed => {
                    refreshed = true;
                    self.session.refresh(store, self.keyring, self.now).await?;
                }
                Err(QboError::Throttled { retry_after })
                    if throttled < self.options.throttle_retries =>
                {
                    throttled += 1;
                    let wait = retry_after.unwrap_or(Duration::from_secs(1 << throttled));
                    tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                }
                Err(QboError::Unauthorized { detail }) => {
                    return Err(AccountingError::Reconnect {
                        reason: format!("QuickBooks refused a fresh access token ({detail})"),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The invoices the payments of a page are applied to that the store does not hold (made
/// after the invoices were read), read one by one.
async fn missing_invoices(
    store: &mut Store,
    caller: &mut Caller<'_>,
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

/// The number a QuickBooks invoice is stored under: its `DocNumber`, unless another
/// QuickBooks invoice holds it (a double push), then `NUMBER-QBO{Id}`.
fn number_for(
    tx: &StoreTx<'_>,
    books: AccountingBooks<'_>,
    id: &str,
    invoice: &Invoice,
) -> Result<String, StoreError> {
    if let Some(kept) = tx
        .accounting_record_keys(books, "invoice", &[id])?
        .remove(id)
    {
        // Stored before: under the number it was given then, unless its DocNumber moved.
        if kept == invoice.number || kept == format!("{}-QBO{id}", invoice.number) {
            return Ok(kept);
        }
    }
    match tx.accounting_object_holding(books, "invoice", &invoice.number)? {
        Some(other) if other != id => Ok(format!("{}-QBO{id}", invoice.number)),
        _ => Ok(invoice.number.clone()),
    }
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
        let mut invoice = mapping::invoice(company, row)?;
        let id = required_id(row, "invoice")?;
        invoice.number = number_for(tx, books, &id, &invoice)?;
        let source_id = self.sources.of(tx, Kind::Invoice)?;
        let set = tx.column_set(&["quickbooks_id".to_string()])?;
        let values = serde_json::to_string(&[&id]).expect("a string list serializes");
        let stored = tx.upsert_invoice(
            &invoice,
            ExtraColumns {
                set,
                values: &values,
            },
            &Origin {
                source_id,
                line: None,
            },
        )?;
        self.report.invoices.tally(&stored.outcome);
        tx.keep_accounting_object(books, "invoice", &id, &invoice.number)?;
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
        let source_id = self.sources.of(tx, Kind::Payment)?;
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

/// What QuickBooks deleted since the last sync leaves the store: through change data
/// capture when the last sync is recent enough, else by reading every object's id.
async fn removals(
    store: &mut Store,
    caller: &mut Caller<'_>,
    books: AccountingBooks<'_>,
    sources: &mut Sources,
    report: &mut BooksSyncReport,
) -> Result<(), AccountingError> {
    let Some(since) = store.read(|tx| tx.setting(CHANGES_SINCE))? else {
        return Ok(());
    };
    let recent = instant(&since).is_some_and(|at| caller.now.duration_since(at) < CHANGES_REACH);
    let (gone, time) = if recent {
        let (changes, time) = caller
            .call(store, |c| {
                let since = since.clone();
                Box::pin(async move { c.changes(&["Invoice", "Payment"], &since).await })
            })
            .await?;
        let gone: Vec<(String, String)> = changes
            .into_iter()
            .filter(|(_, row)| row["status"] == "Deleted")
            .filter_map(|(entity, row)| id_of(&row).map(|id| (entity, id)))
            .collect();
        (gone, time)
    } else {
        let mut gone = Vec::new();
        let mut time = None;
        for kind in [Kind::Invoice, Kind::Payment] {
            let (present, at) = every_id(store, caller, kind).await?;
            time = time.or(at);
            let kept = store.read(|tx| tx.accounting_objects(books, kind.stored()))?;
            gone.extend(
                kept.into_iter()
                    .filter(|(id, _)| !present.contains(id))
                    .map(|(id, _)| (kind.entity().to_string(), id)),
            );
        }
        (gone, time)
    };
    store.write(|tx| {
        for (entity, id) in &gone {
            if entity == "Payment" {
                let source_id = sources.of(tx, Kind::Payment)?;
                for entry in tx.ledger_payment_ids_starting(&format!("qbo:{id}:"))? {
                    if tx.remove_ledger_entry(&entry, source_id)? {
                        report.ledger_entries_removed += 1;
                    }
                }
                tx.forget_accounting_object(books, "payment", id)?;
            } else if entity == "Invoice" {
                let source_id = sources.of(tx, Kind::Invoice)?;
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

/// Every id QuickBooks holds of `kind`, and the first answer's time.
async fn every_id(
    store: &mut Store,
    caller: &mut Caller<'_>,
    kind: Kind,
) -> Result<(HashSet<String>, Option<String>), AccountingError> {
    let mut ids = HashSet::new();
    let mut time = None;
    loop {
        let select = format!(
            "SELECT * FROM {} ORDERBY Id STARTPOSITION {} MAXRESULTS {MAX_PAGE}",
            kind.entity(),
            ids.len() + 1
        );
        let entity = kind.entity();
        let page = caller
            .call(store, |c| {
                let select = select.clone();
                Box::pin(async move { c.query_page(entity, &select).await })
            })
            .await?;
        time = time.or(page.time);
        let short = page.rows.len() < MAX_PAGE;
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
        let invoice = |id: &str, amount: f64| {
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
                w.invoice(&invoice("130", 10.0))?;
                w.invoice(&invoice("131", 10.0))?;
                // Read again (changed), each keeps the number it was given.
                w.invoice(&invoice("130", 12.0))?;
                w.invoice(&invoice("131", 12.0))
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
    fn a_page_of_one_time_is_paged_through_and_a_later_time_starts_again() {
        let at = |t: &str| json!({"MetaData": {"LastUpdatedTime": t}});
        let start = Position::default();
        let one = start.after(&[
            at("2026-11-03T13:16:17-08:00"),
            at("2026-11-03T13:16:17-08:00"),
        ]);
        assert_eq!(
            one,
            Position {
                since: Some("2026-11-03T13:16:17-08:00".into()),
                skip: 0
            }
        );
        // The same instant written in UTC is the same time: paged through.
        let same = one.after(&[at("2026-11-03T21:16:17Z"), at("2026-11-03T21:16:17Z")]);
        assert_eq!(same.skip, 2);
        assert_eq!(same.since, one.since);
        assert!(
            same.select(Kind::Invoice, 2)
                .ends_with("STARTPOSITION 3 MAXRESULTS 2")
        );
        let later = same.after(&[at("2026-11-03T21:16:17Z"), at("2026-11-04T09:00:00Z")]);
        assert_eq!(
            later,
            Position {
                since: Some("2026-11-04T09:00:00Z".into()),
                skip: 0
            }
        );
        assert_eq!(
            later.select(Kind::Payment, 100),
            "SELECT * FROM Payment WHERE MetaData.LastUpdatedTime >= '2026-11-04T09:00:00Z' ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 100"
        );
        assert_eq!(later.after(&[]), later, "an empty page moves nothing");
    }
}
