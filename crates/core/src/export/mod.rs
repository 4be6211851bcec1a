//! Month-end: the audit package of one period, its tie-out, and checking a package.
//!
//! `export_month` reads the store in one transaction, builds the tie-out (`tieout`) and
//! the Stripe clearing account (`clearing`: opening balance, the period's balance
//! transactions in lines, closing balance, and the fees journal) and refuses — with
//! nothing written — when either does not balance to the minor unit. Only then does it
//! write, into a staging folder renamed into place at the end: one CSV file per table
//! (`tables`: the books' tables, then `clearing.csv`, `clearing_transactions.csv` and
//! `fees_journal.csv`), the same tables as one workbook (`workbook`), a printable
//! `summary.html` (`html`) and `manifest.json` (`manifest`) holding every file's SHA-256;
//! then the folder again as one `.zip` beside it. `verify` checks a folder or a zip.
//!
//! Decisions:
//! - **Deterministic.** Rows are sorted; no file holds a time the export made. The
//!   package speaks "as of" the period's close (or `--as-of`); an open period exported
//!   without one says so and carries no time at all. Zip entries carry a fixed date. So
//!   exporting a closed period twice gives the same bytes, and a changed byte means
//!   changed books.
//! - **No secrets.** Nothing from the settings, the keyring or a request body is
//!   exported; an action's outcome is what the gateway answered.
//! - **Memory and time follow the month.** The period's rows are read once (`books`:
//!   its own money movements, and across all time only what its tie-out weighs; of the
//!   Stripe balance, the period's own transactions and one sum per currency for each of
//!   its edges); the files stream to disk row by row, the workbook in constant-memory mode.
//! - **Two cores.** The workbook (its XML is ten times the CSVs) is written on a thread of
//!   its own while the CSVs are written and deflated into the zip, both from the same
//!   tables; deflate runs at a fast fixed level (`DEFLATE_LEVEL`).

pub mod adjustments;
mod books;
pub mod clearing;
pub mod daily;
pub mod html;
pub mod manifest;
pub mod tables;
pub mod tieout;
pub mod verify;
pub mod workbook;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::period::{self, Period, PeriodError};
use crate::records::LedgerKind;
use crate::store::{PeriodClose, Store, StoreError, StoreTx};

use books::Books;
use clearing::{Clearing, ClearingError};
use manifest::{AuditHead, BlockHasher, ClosedBy, FileEntry, Manifest};
use tables::{Cell, Table};
use tieout::{Rows, TieOutError};

pub use verify::{VerifyError, VerifyReport, verify};

/// Why no package was written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}; no package was written")]
    TieOut(#[from] TieOutError),
    #[error("{0}; no package was written")]
    Clearing(#[from] ClearingError),
    #[error(transparent)]
    Period(#[from] PeriodError),
    #[error(
        "{0} already exists; choose another --out folder or remove it (a package is never written over another)"
    )]
    Exists(PathBuf),
    #[error("cannot write {path}: {detail}; no package was written")]
    Write { path: PathBuf, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> ExportError {
    ExportError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// `YYYY-MM`.
    pub month: String,
    /// The time zone, overriding the business's setting (a closed period keeps its own).
    pub tz: Option<String>,
    /// The instant an open period's package speaks for (a closed one: its close).
    pub as_of: Option<jiff::Timestamp>,
    pub out: PathBuf,
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub folder: PathBuf,
    pub zip: PathBuf,
    pub manifest: Manifest,
    pub tie_out: Vec<tieout::CurrencyTieOut>,
    /// The Stripe clearing account per currency.
    pub clearing: Vec<clearing::CurrencyClearing>,
}

/// Everything an export reads, owned, from one consistent read of the store.
struct Loaded {
    books: Books,
    invoices: Vec<crate::records::Invoice>,
    actions: Vec<crate::store::ActionRow>,
    audit: Vec<crate::audit::AuditEntry>,
    audit_head: Option<(i64, String)>,
    schema_version: i64,
    /// The Stripe balance: the period's own transactions, oldest first, and per currency
    /// the `net` of every transaction before its start and before its end.
    balance: Balance,
}

struct Balance {
    rows: Vec<crate::records::BalanceTransaction>,
    opening: Vec<crate::money::Money>,
    at_end: Vec<crate::money::Money>,
}

impl Balance {
    fn read(tx: &StoreTx<'_>, period: &Period) -> Result<Balance, StoreError> {
        let gateway = crate::sync::GATEWAY;
        Ok(Balance {
            rows: tx.balance_transactions_created_between(gateway, period.start(), period.end())?,
            opening: tx.balance_net_before(gateway, period.start())?,
            at_end: tx.balance_net_before(gateway, period.end())?,
        })
    }

    fn clearing(&self, period: &Period) -> Result<Clearing, ClearingError> {
        clearing::clearing(period, &self.opening, &self.rows, &self.at_end)
    }
}

/// Which rows of the store a month-end reads (`books`). All give the same tie-out and
/// package (a property test holds them to it); they differ in cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The period's part when it is a small part of the books, else every row: what every
    /// command reads. Through the date indexes a row costs several times what it costs
    /// in one pass over the whole table, so a month that is a good part of the books is
    /// read whole.
    Cheapest,
    /// What the period's tie-out and package need (see `books`): its own money movements
    /// and, across all time, the rest of the charges whose movements inside it do not
    /// cancel out.
    Period,
    /// Every row of the store.
    Whole,
}

fn load(
    tx: &StoreTx<'_>,
    period: &Period,
    schema_version: i64,
    reading: Reading,
) -> Result<Loaded, StoreError> {
    let mut audit = tx.audit_entries(
        Some(period.start().as_second()),
        Some(period.end().as_second()),
    )?;
    for e in tx.audit_entries_about(&format!("period:{}", period.label()))? {
        if !audit.iter().any(|a| a.seq == e.seq) {
            audit.push(e);
        }
    }
    audit.sort_by_key(|e| e.seq);
    let books = Books::read(tx, period, reading, true)?;
    let actions = tx.actions(None)?;
    let invoices = match reading {
        Reading::Whole => tx.invoices()?,
        Reading::Period | Reading::Cheapest => books.invoices_shown(tx, period, &actions)?,
    };
    Ok(Loaded {
        books,
        invoices,
        actions,
        audit,
        audit_head: tx.audit_head()?,
        schema_version,
        balance: Balance::read(tx, period)?,
    })
}

/// The tie-out of `period` on the books as `tx` sees them; what `close` checks and
/// records, and what month-end status shows. Refuses when it does not balance.
pub fn check_tie_out(
    tx: &StoreTx<'_>,
    period: &Period,
) -> Result<Vec<tieout::CurrencyTieOut>, ExportError> {
    check_tie_out_reading(tx, period, Reading::Cheapest)
}

/// [`check_tie_out`], reading the rows `reading` says.
pub fn check_tie_out_reading(
    tx: &StoreTx<'_>,
    period: &Period,
    reading: Reading,
) -> Result<Vec<tieout::CurrencyTieOut>, ExportError> {
    let books = Books::read(tx, period, reading, false)?;
    let tie = tieout::tie_out(&books.rows(), period)?;
    Ok(tie.currencies)
}

/// The Stripe clearing account of `period` as `tx` sees it, per currency: what month-end
/// status shows and close checks. Refuses when it does not close at the stored balance.
pub fn check_clearing(
    tx: &StoreTx<'_>,
    period: &Period,
) -> Result<Vec<clearing::CurrencyClearing>, ExportError> {
    Ok(Balance::read(tx, period)?.clearing(period)?.currencies)
}

/// Closes a period after checking its books tie out (see `period::close`).
pub fn close_period(
    store: &mut Store,
    month: &str,
    tz: Option<&str>,
    by: &str,
    passphrase: &str,
    now: jiff::Timestamp,
) -> Result<period::CloseReport, ExportError> {
    let (period, closed) = store.read(|tx| period::resolve(tx, month, tz))?;
    if closed.is_some() {
        return Err(StoreError::PeriodAlreadyClosed(period.label()).into());
    }
    period::close(store, &period, by, passphrase, now, |tx, p| {
        check_clearing(tx, p)?;
        let currencies = check_tie_out(tx, p)?;
        serde_json::to_value(&currencies).map_err(|e| ExportError::Write {
            path: PathBuf::from("(tie-out)"),
            detail: e.to_string(),
        })
    })
}

/// A CSV file being written: hashed as it goes, its records hashed in blocks.
struct CsvOut {
    path: PathBuf,
    writer: csv::Writer<HashingWriter<BufWriter<File>>>,
    blocks: BlockHasher,
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_table(dir: &Path, table: &Table<'_>) -> Result<FileEntry, ExportError> {
    let path = dir.join(table.file);
    let file = File::create(&path).map_err(|e| write_err(&path, e))?;
    let mut out = CsvOut {
        writer: csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(HashingWriter {
                inner: BufWriter::with_capacity(1 << 20, file),
                hasher: Sha256::new(),
                bytes: 0,
            }),
        blocks: BlockHasher::new(table.len as u64),
        path,
    };
    out.writer
        .write_record(table.header)
        .map_err(|e| write_err(&out.path, e))?;
    let mut cells: Vec<Cell<'_>> = Vec::with_capacity(table.header.len());
    let mut texts: Vec<String> = Vec::with_capacity(table.header.len());
    for i in 0..table.len {
        cells.clear();
        (table.row)(i, &mut cells);
        texts.clear();
        texts.extend(cells.iter().map(|c| c.text().into_owned()));
        out.writer
            .write_record(&texts)
            .map_err(|e| write_err(&out.path, e))?;
        out.blocks.record(texts.iter().map(String::as_str));
    }
    let per_block = out.blocks.per_block();
    let hashing = out
        .writer
        .into_inner()
        .map_err(|e| write_err(&out.path, e.error()))?;
    let mut inner = hashing.inner;
    inner.flush().map_err(|e| write_err(&out.path, e))?;
    inner
        .get_ref()
        .sync_all()
        .map_err(|e| write_err(&out.path, e))?;
    let (records, blocks) = out.blocks.finish();
    Ok(FileEntry {
        name: table.file.to_string(),
        sha256: hex::encode(hashing.hasher.finalize()),
        bytes: hashing.bytes,
        records: Some(records),
        block_records: Some(per_block),
        blocks,
    })
}

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Result<FileEntry, ExportError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| write_err(&path, e))?;
    Ok(FileEntry {
        name: name.to_string(),
        sha256: manifest::sha256_hex(bytes),
        bytes: bytes.len() as u64,
        records: None,
        block_records: None,
        blocks: Vec::new(),
    })
}

fn hash_file(dir: &Path, name: &str) -> Result<FileEntry, ExportError> {
    let path = dir.join(name);
    let file = File::open(&path).map_err(|e| write_err(&path, e))?;
    let (sha256, bytes) = manifest::sha256_reader(file).map_err(|e| write_err(&path, e))?;
    Ok(FileEntry {
        name: name.to_string(),
        sha256,
        bytes,
        records: None,
        block_records: None,
        blocks: Vec::new(),
    })
}

/// Per currency and local day: gateway and ledger money, for the chart.
fn daily(
    rows: &Rows<'_>,
    sel: &tables::Selection<'_>,
    tie: &tieout::TieOut<'_>,
    period: &Period,
) -> html::Daily {
    let days = period.days().len();
    let mut out = html::Daily::new();
    let mut add = |code: String, at: jiff::Timestamp, gateway: i128, ledger: i128| {
        let day = (period.local_day(at).day() as usize)
            .saturating_sub(1)
            .min(days - 1);
        let series = out.entry(code).or_insert_with(|| vec![(0, 0); days]);
        series[day].0 += gateway;
        series[day].1 += ledger;
    };
    for &i in &sel.charges {
        let c = &rows.charges[i];
        if tieout::captured(c) {
            add(
                c.amount.currency().lower(),
                c.created,
                c.amount.minor().into(),
                0,
            );
        }
    }
    for r in &sel.refunds {
        match *r {
            tables::RefundRow::Object(i) => {
                let r = &rows.refunds[i];
                if tieout::refund_counts(r.status) {
                    add(
                        r.amount.currency().lower(),
                        r.created,
                        -i128::from(r.amount.minor()),
                        0,
                    );
                }
            }
            tables::RefundRow::ChargeTotal(i, amount) => {
                let c = &rows.charges[i];
                add(
                    c.amount.currency().lower(),
                    c.created,
                    -i128::from(amount),
                    0,
                );
            }
            tables::RefundRow::Chargeback(i) => {
                let m = &rows.chargebacks[i];
                add(
                    m.amount.currency().lower(),
                    m.at,
                    i128::from(m.amount.minor()),
                    0,
                );
            }
        }
    }
    for &i in &sel.ledger {
        let e = &rows.ledger[i];
        let v = i128::from(e.amount.minor());
        let v = if e.kind == LedgerKind::Payment { v } else { -v };
        add(e.amount.currency().lower(), e.recorded_at, 0, v);
    }
    for &i in &sel.adjustments {
        let a = &rows.adjustments[i].adjustment;
        if let Ok(at) = jiff::Timestamp::from_second(a.effective_at) {
            add(
                a.amount.currency().lower(),
                at,
                0,
                tie.adjustment_effects[i].into(),
            );
        }
    }
    out
}

/// Deflate level of the package's zip and of the workbook: zlib-rs's fast strategy
/// (levels 2 and 3) is several times faster than the default 6, which spent most of the
/// export in `longest_match`, and the CSVs still shrink about sevenfold. A fixed level
/// keeps two exports of the same books byte-identical.
pub(crate) const DEFLATE_LEVEL: i64 = 2;

/// The package's zip while it is written: entries in manifest order with a fixed date.
struct ZipOut {
    path: PathBuf,
    zip: zip::ZipWriter<BufWriter<File>>,
}

impl ZipOut {
    fn create(path: &Path) -> Result<ZipOut, ExportError> {
        let file = File::create(path).map_err(|e| write_err(path, e))?;
        Ok(ZipOut {
            path: path.to_path_buf(),
            zip: zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Adds `dir/name`, deflated (the workbook too: at the fast level it writes, its XML
    /// still shrinks about threefold again).
    fn add(&mut self, dir: &Path, name: &str) -> Result<(), ExportError> {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(DEFLATE_LEVEL))
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644)
            .large_file(true);
        let path = &self.path;
        self.zip
            .start_file(name, options)
            .map_err(|e| write_err(path, e))?;
        let mut f = File::open(dir.join(name)).map_err(|e| write_err(path, e))?;
        std::io::copy(&mut f, &mut self.zip).map_err(|e| write_err(path, e))?;
        Ok(())
    }

    fn finish(self) -> Result<(), ExportError> {
        let path = self.path;
        let mut inner = self.zip.finish().map_err(|e| write_err(&path, e))?;
        inner.flush().map_err(|e| write_err(&path, e))?;
        inner
            .get_ref()
            .sync_all()
            .map_err(|e| write_err(&path, e))?;
        Ok(())
    }
}

/// Exports one period as a package. Nothing is written unless the tie-out balances.
pub fn export_month(
    store: &mut Store,
    request: &ExportRequest,
) -> Result<ExportReport, ExportError> {
    export_month_reading(store, request, Reading::Cheapest)
}

/// [`export_month`], reading the rows `reading` says.
pub fn export_month_reading(
    store: &mut Store,
    request: &ExportRequest,
    reading: Reading,
) -> Result<ExportReport, ExportError> {
    let schema_version = store.schema_version()?;
    let (period, close, loaded) = store.read(|tx| {
        let (period, close) = period::resolve(tx, &request.month, request.tz.as_deref())?;
        let loaded = load(tx, &period, schema_version, reading)?;
        Ok::<_, ExportError>((period, close, loaded))
    })?;
    let rows = loaded.books.rows();
    let tie = tieout::tie_out(&rows, &period)?;
    let clearing = loaded.balance.clearing(&period)?;
    let journal = clearing::fees_journal(&period, &clearing);

    let folder = request.out.clone();
    let zip_path = zip_path_of(&folder);
    for path in [&folder, &zip_path] {
        if path.exists() {
            return Err(ExportError::Exists(path.clone()));
        }
    }
    let as_of = close_time(close.as_ref()).or(request.as_of);
    let sel = tables::select(
        &rows,
        &tie,
        &period,
        &loaded.invoices,
        &loaded.actions,
        loaded.audit.clone(),
    );
    let staging = staging_path(&folder);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| write_err(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| write_err(&staging, e))?;
    let zip_staging = staging.with_extension("zip.partial");
    let result = (|| {
        let mut all = tables::tables(rows, &tie, &sel, &period);
        all.extend(tables::clearing_tables(
            &clearing,
            &loaded.balance.rows,
            &journal,
            &period,
        ));
        let summary = tables::tieout_table(&tie, &loaded.books.findings);
        let created = as_of.unwrap_or(period.end());
        let xlsx = staging.join("workbook.xlsx");
        // The workbook is written on a second core while the CSVs are written and deflated
        // into the zip: the two read the same tables and share nothing else.
        let (csvs, written) = std::thread::scope(|scope| {
            let workbook = scope.spawn(|| {
                workbook::write(&xlsx, &summary, &all, created).map_err(|e| write_err(&xlsx, e))
            });
            let csvs = (|| {
                let mut files = vec![write_table(&staging, &summary)?];
                for table in &all {
                    files.push(write_table(&staging, table)?);
                }
                let mut zip = ZipOut::create(&zip_staging)?;
                for file in &files {
                    zip.add(&staging, &file.name)?;
                }
                Ok::<_, ExportError>((files, zip))
            })();
            // rust_xlsxwriter panics when its temporary files cannot be written (a full
            // disk): that is this export's failure to write, not the program's.
            let written = workbook.join().unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("the workbook writer stopped");
                Err(write_err(&xlsx, why))
            });
            (csvs, written)
        });
        let (mut files, mut zip) = csvs?;
        written?;
        files.push(hash_file(&staging, "workbook.xlsx")?);
        all.clear();
        let mut manifest = Manifest {
            format: manifest::FORMAT.to_string(),
            period: period.label(),
            time_zone: period.zone_name().to_string(),
            starts_at: period.local_text(period.start()),
            ends_at: period.local_text(period.end()),
            as_of: as_of.map(|t| period.local_text(t)),
            closed: close.as_ref().map(|c| ClosedBy {
                closed_at: jiff::Timestamp::from_second(c.closed_at)
                    .map(|t| period.local_text(t))
                    .unwrap_or_default(),
                closed_by: c.closed_by.clone(),
            }),
            schema_version: loaded.schema_version,
            chargeguard_version: env!("CARGO_PKG_VERSION").to_string(),
            audit_head: loaded
                .audit_head
                .clone()
                .map(|(seq, hash)| AuditHead { seq, hash }),
            files,
        };
        let page = html::render(
            &manifest,
            &period,
            &tie.currencies,
            &loaded.books.findings,
            &daily(&rows, &sel, &tie, &period),
            &clearing.currencies,
            &journal,
        );
        manifest
            .files
            .push(write_bytes(&staging, "summary.html", page.as_bytes())?);
        let mut json = serde_json::to_vec_pretty(&manifest).map_err(|e| write_err(&staging, e))?;
        json.push(b'\n');
        write_bytes(&staging, "manifest.json", &json)?;
        for name in ["workbook.xlsx", "summary.html", "manifest.json"] {
            zip.add(&staging, name)?;
        }
        zip.finish()?;
        Ok::<_, ExportError>(manifest)
    })();
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            let _ = std::fs::remove_file(&zip_staging);
            return Err(e);
        }
    };
    std::fs::rename(&staging, &folder).map_err(|e| write_err(&folder, e))?;
    std::fs::rename(&zip_staging, &zip_path).map_err(|e| write_err(&zip_path, e))?;
    Ok(ExportReport {
        folder,
        zip: zip_path,
        manifest,
        tie_out: tie.currencies.clone(),
        clearing: clearing.currencies,
    })
}

fn close_time(close: Option<&PeriodClose>) -> Option<jiff::Timestamp> {
    close.and_then(|c| jiff::Timestamp::from_second(c.closed_at).ok())
}

/// `close-2026-10` → `close-2026-10.zip`, beside it.
pub fn zip_path_of(folder: &Path) -> PathBuf {
    let mut name = folder
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "package".into());
    name.push(".zip");
    folder.with_file_name(name)
}

/// Where a package of `period` (`YYYY-MM`) goes inside `parent` when nobody names a
/// folder: `chargeguard-2026-10`, else `chargeguard-2026-10-2`, `-3`, … — the first name
/// whose folder and zip are both free, since a package is never written over another.
pub fn free_package_folder(parent: &Path, period: &str) -> PathBuf {
    let base = format!("chargeguard-{period}");
    (1u32..)
        .map(|n| match n {
            1 => parent.join(&base),
            n => parent.join(format!("{base}-{n}")),
        })
        .find(|folder| !folder.exists() && !zip_path_of(folder).exists())
        .expect("some numbered name is free")
}

fn staging_path(folder: &Path) -> PathBuf {
    let mut name = folder
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "package".into());
    name.push(".partial");
    folder.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_package_folder_never_lands_on_an_earlier_package_or_its_zip() {
        let dir = tempfile::tempdir().unwrap();
        let first = free_package_folder(dir.path(), "2026-10");
        assert_eq!(first, dir.path().join("chargeguard-2026-10"));
        std::fs::create_dir(&first).unwrap();
        let second = free_package_folder(dir.path(), "2026-10");
        assert_eq!(second, dir.path().join("chargeguard-2026-10-2"));
        // Only the zip of the second is left (its folder was moved away): still taken.
        std::fs::write(zip_path_of(&second), b"zip").unwrap();
        assert_eq!(
            free_package_folder(dir.path(), "2026-10"),
            dir.path().join("chargeguard-2026-10-3")
        );
        assert_eq!(
            free_package_folder(dir.path(), "2026-11"),
            dir.path().join("chargeguard-2026-11")
        );
    }
}
