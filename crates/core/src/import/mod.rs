//! Importers: the business's invoices and payment ledger, and Stripe's payments export,
//! from CSV files into the store.
//!
//! An import is one store transaction. The file streams through a CSV reader one record
//! at a time (never collected: memory does not grow with the file), its bytes hashed on
//! the way for the source's `content_sha256`. Each row is read through columns resolved
//! once from the header, checked, and upserted by its natural key, keeping its origin
//! (source and line). The rules that make an import safe to repeat:
//!
//! - Any bad row refuses the whole file. Every bad row is reported (the first
//!   [`MAX_ROW_ERRORS`] in full), each with file, line, column, value and reason, and the
//!   store is left exactly as it was.
//! - Importing a file again changes nothing: when no row is new or changed the
//!   transaction is rolled back, so not even a `sources` row is added.
//! - A key seen twice in one file must carry the same values both times; otherwise the
//!   row is refused naming both lines. Identical repeats count as unchanged. The stored
//!   row's origin tells a repeat: a row this import wrote names its source and line; one
//!   it found unchanged is remembered in a fixed-size filter ([`seen`]).
//! - `dry_run` does all of it in a transaction that is always rolled back.
//!
//! Reading, hashing and parsing run on a thread of their own, a few batches of rows ahead
//! of the one writer that holds the transaction (a million-row file keeps both cores busy).
//!
//! Memory is a fixed budget: the CSV buffers, the batches in flight, SQLite's page cache set
//! for the import's length and the filter of keys found unchanged ([`IMPORT_CACHE_BYTES`]),
//! never a map that grows with the file.
//!
//! The importers never talk to a gateway and never decide what a row means for
//! reconciliation; they only make the store hold what the file says.

pub mod bank;
mod cells;
mod columns;
pub mod defaults;
mod invoices;
pub mod layouts;
pub mod mapping;
mod payments;
mod recognise;
mod seen;
mod source_file;
mod stripe_payments;
pub mod stripe_reports;

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use csv::StringRecord;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::records::{Coverage, Origin};
use crate::store::{
    ExtraColumns, FieldChange, SourceCounts, SourceKind, Store, StoreError, StoreTx, UpsertOutcome,
    Upserted,
};
use cells::{Cells, RowErrors};
use columns::{Col, ColumnResolver, Columns, Header};
pub use mapping::{ColumnMapping, MappingError, MappingLayout};
use seen::SeenKeys;
use source_file::HashingReader;

pub use recognise::{Recognised, recognise_file};

/// At most this many bad rows are reported in full; the rest are counted.
pub const MAX_ROW_ERRORS: usize = RowErrors::CAP;
/// At most this many changed rows are listed in a report; the rest are counted (the store
/// records every change in `row_changes` regardless).
pub const MAX_LISTED_CHANGES: usize = 1_000;

/// Which kind of file is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Invoices,
    Payments,
    StripePayments,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Invoices => "invoices",
            FileKind::Payments => "payments",
            FileKind::StripePayments => "stripe-payments",
        }
    }

    fn source_kind(self) -> SourceKind {
        match self {
            FileKind::Invoices => SourceKind::Invoices,
            FileKind::Payments => SourceKind::Payments,
            FileKind::StripePayments => SourceKind::StripeExport,
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to import a file.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Report what would happen and write nothing.
    pub dry_run: bool,
    /// The zone for dates written without an offset (Stripe's export is always UTC).
    pub zone: TimeZone,
    /// Another app's layout, for invoices and payments files.
    pub mapping: Option<ColumnMapping>,
    /// A shipped layout by name (`--from xero`), where the headers do not say which.
    pub from: Option<String>,
    /// The currency of a file that has no currency column (`--currency`, or the store's
    /// default currency).
    pub currency: Option<crate::money::Currency>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dry_run: false,
            zone: TimeZone::UTC,
            mapping: None,
            from: None,
            currency: None,
        }
    }
}

/// A row the import changed: which line, which record, what it said before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedRow {
    pub line: u64,
    pub key: String,
    pub changes: Vec<FieldChange>,
}

impl fmt::Display for ChangedRow {
    /// "line 12, INV-7: status open → paid"
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, {}:", self.line, self.key)?;
        for (i, change) in self.changes.iter().enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            write!(
                f,
                "{sep}{} {} → {}",
                change.field,
                change.old.as_deref().unwrap_or("(empty)"),
                change.new.as_deref().unwrap_or("(empty)")
            )?;
        }
        Ok(())
    }
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub file: PathBuf,
    pub kind: FileKind,
    pub counts: SourceCounts,
    /// The first [`MAX_LISTED_CHANGES`] changed rows, in file order.
    pub changed: Vec<ChangedRow>,
    /// Changed rows beyond those listed.
    pub changed_unlisted: u64,
    /// For a Stripe export: the window of its rows' creation times.
    pub coverage: Option<Coverage>,
    pub dry_run: bool,
    /// The store's id for this import; `None` when nothing was written (a dry run, or a
    /// file with nothing new).
    pub source_id: Option<i64>,
    /// SHA-256 of the file's bytes, hex.
    pub content_sha256: String,
    /// Rows left out because they are not records of ours, each kind counted.
    pub skipped: Vec<SkippedRows>,
    /// The app whose export this was, when a layout was recognised by its headers or
    /// picked (`Zoho Invoice / Zoho Books`); `None` for our own layout.
    pub recognised: Option<String>,
    /// The first records as they were read ("line 2: INV-1 · cus_A · 120.00 USD · open …"),
    /// for a bookkeeper to see the file was understood before importing it.
    pub preview: Vec<String>,
}

/// How many records a report previews.
pub const PREVIEW_RECORDS: usize = 5;

/// Rows of a file that are not ours to import, and what they are: "11 payment attempts
/// without a charge".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRows {
    pub count: u64,
    /// What they are, in the plural where `count` is not 1.
    pub what: String,
}

impl SkippedRows {
    /// `count` rows of one kind, or nothing when there are none.
    pub(crate) fn some(count: u64, one: &str, many: &str) -> Vec<SkippedRows> {
        let what = match count {
            0 => return Vec::new(),
            1 => one,
            _ => many,
        };
        vec![SkippedRows {
            count,
            what: what.to_string(),
        }]
    }
}

impl fmt::Display for SkippedRows {
    /// "11 payment attempts without a charge were not imported"
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.count == 1 { "was" } else { "were" };
        write!(
            f,
            "{} {} {verb} not imported",
            thousands(self.count),
            self.what
        )
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} new, {} changed, {} unchanged",
            self.file.display(),
            thousands(self.counts.new),
            thousands(self.counts.changed),
            thousands(self.counts.unchanged)
        )?;
        for skipped in &self.skipped {
            write!(f, "; {skipped}")?;
        }
        if self.dry_run {
            f.write_str(" (dry run: nothing was written)")?;
        }
        Ok(())
    }
}

/// `2997` -> `2,997`: counts in reports, for people.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One refused cell (or row): where it is, what it held, and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub file: PathBuf,
    /// 1-based line in the file where the row starts (the header is line 1).
    pub line: u64,
    /// 1-based field position in the row.
    pub column: usize,
    /// The header of that field, as the file spells it.
    pub column_name: String,
    pub value: String,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.column_name,
            self.reason
        )
    }
}

/// Why an import did not happen. Whatever the variant, the store is as it was.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {file}: {source}; check the path and that the file is readable")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:1: {}{}found columns: {}. {}",
        .layouts.read_as.as_deref().map(|l| format!("read as {}: ", clip(l))).unwrap_or_default(),
        describe_missing(.missing, .ambiguous),
        if .found.is_empty() { "none (the file is empty)".to_string() } else { .found.iter().map(|f| clip(f)).collect::<Vec<_>>().join(", ") },
        if let Some(app) = .layouts.read_as.as_deref().map(clip) {
            format!("Give what is missing as it says; if this is not {app}'s export, import with --from another layout or a column mapping (--mapping)")
        } else if .layouts.known.is_empty() {
            "Rename the file's headers, or import with a column mapping (--mapping)".to_string()
        } else {
            format!("No layout Chargeguard knows has these headers: rename them, import with a column mapping (--mapping), or name the app's layout with --from, one of: {}", .layouts.known.join(", "))
        })]
    MissingColumns {
        file: PathBuf,
        /// Our column names the header lacks (with the header a mapping looked for).
        missing: Vec<String>,
        /// Our columns that more than one header matched.
        ambiguous: Vec<String>,
        /// The file's headers, as read.
        found: Vec<String>,
        /// Which layout the file was read as, or could have been.
        layouts: Box<LayoutsTried>,
    },
    #[error("{detail}")]
    Setting { detail: String },
    #[error("no layout is called `{name}`; --from takes one of: {}", .known.join(", "))]
    UnknownLayout { name: String, known: Vec<String> },
    #[error("{file}: {} refused, nothing was imported; fix {} and import again:\n{}{}",
        rows_phrase(.errors.len() as u64 + .more),
        if .errors.len() as u64 + .more == 1 { "it" } else { "them" },
        .errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"),
        if *.more > 0 { format!("\n  … and {} more", thousands(*.more)) } else { String::new() })]
    Rows {
        file: PathBuf,
        errors: Vec<RowError>,
        /// Problems beyond the first [`MAX_ROW_ERRORS`].
        more: u64,
    },
    #[error("{file}:{line}: {path}{}: {reason}; nothing was imported",
        if .value.is_empty() { String::new() } else { format!(" {:?}", clip(.value)) })]
    Statement {
        file: PathBuf,
        line: u64,
        /// The element's path in the statement (`STMTRS/BANKTRANLIST/STMTTRN/TRNAMT`).
        path: String,
        value: String,
        reason: String,
    },
    #[error(
        "{file} is not a bank statement Chargeguard reads: it reads OFX and QFX files (versions 1 and 2), ISO 20022 camt.053, and the CSV exports of the banks `chargeguard layouts --bank` lists; export the account's transactions as OFX, QFX, Quicken, Money or camt.053, or describe your bank's CSV in a layout file (--layout)"
    )]
    NotABankStatement { file: PathBuf },
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The layouts behind a missing-columns refusal.
#[derive(Debug, Default)]
pub struct LayoutsTried {
    /// The layout the file was read as (a mapping's app), if any.
    pub read_as: Option<String>,
    /// The shipped layouts of this kind, when none was tried: what `--from` takes.
    pub known: Vec<String>,
}

fn describe_missing(missing: &[String], ambiguous: &[String]) -> String {
    let mut out = String::new();
    if !missing.is_empty() {
        out.push_str(&format!(
            "missing required columns: {}; ",
            clip_quoted(&missing.join(", "))
        ));
    }
    if !ambiguous.is_empty() {
        out.push_str(&format!(
            "more than one column could be: {}; ",
            clip_quoted(&ambiguous.join(", "))
        ));
    }
    out
}

/// The most of one cell or header a message quotes: a value can be any length, and a
/// refusal must stay readable (a row error's `value` keeps it whole).
const QUOTED_CHARS: usize = 60;

/// `text` cut to [`QUOTED_CHARS`] characters, ending in `…` where it was cut.
pub(crate) fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => text.into(),
        Some(_) => {
            let end = text
                .char_indices()
                .nth(QUOTED_CHARS - 1)
                .map_or(0, |(i, _)| i);
            format!("{}…", &text[..end]).into()
        }
    }
}

/// A message with each value it quotes between backticks clipped.
pub(crate) fn clip_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(1024));
    for (i, part) in message.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        out.push_str(if i % 2 == 1 { clip(part) } else { part.into() }.as_ref());
    }
    out
}

fn rows_phrase(n: u64) -> String {
    if n == 1 {
        "1 problem".to_string()
    } else {
        format!("{} problems", thousands(n))
    }
}

/// Imports one file of `kind` into the store, as one transaction.
pub fn import_file(
    store: &mut Store,
    kind: FileKind,
    path: &Path,
    options: &ImportOptions,
    now: Timestamp,
) -> Result<ImportReport, ImportError> {
    if kind == FileKind::StripePayments && (options.mapping.is_some() || options.from.is_some()) {
        return Err(MappingError::NotForStripe.into());
    }
    let io_error = |source| ImportError::Io {
        file: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    let mut reader = csv_reader(file);
    let header = read_header(&mut reader, path)?;
    let mapping = choose_mapping(store, kind, &header, options)?;
    let mut report = store.bulk_write(|store| {
        import_rows(
            store,
            kind,
            path,
            options,
            mapping.as_ref(),
            now,
            reader,
            header,
        )
    })??;
    report.recognised = mapping
        .filter(|m| m.name.is_some())
        .map(|m| m.display_name().to_string());
    Ok(report)
}

/// The mapping a file is read through (see [`layouts`] for the order), or `None` for our
/// own layout.
fn choose_mapping(
    store: &mut Store,
    kind: FileKind,
    header: &Header,
    options: &ImportOptions,
) -> Result<Option<ColumnMapping>, ImportError> {
    let layout = match kind {
        FileKind::Invoices => MappingLayout::Invoices,
        FileKind::Payments => MappingLayout::Payments,
        FileKind::StripePayments => return Ok(None),
    };
    let chosen = if let Some(m) = &options.mapping {
        Some(m.clone())
    } else if let Some(name) = &options.from {
        let shipped = layouts::named(name).ok_or_else(|| ImportError::UnknownLayout {
            name: name.clone(),
            known: layouts::names(layout),
        })?;
        Some(shipped.mapping.clone())
    } else if layouts::fits_own_layout(layout, &header.names) {
        None
    } else {
        // Only a file our own layout does not fit reads the user's saved mappings.
        let saved = saved_mappings(store)?;
        layouts::recognise(layout, &header.names, &saved)
    };
    if let Some(m) = &chosen
        && m.layout != layout
    {
        return Err(MappingError::WrongLayout {
            mapping: m.layout,
            file_kind: kind.as_str(),
        }
        .into());
    }
    Ok(chosen)
}

/// The user's saved mappings that can recognise a file by its headers.
fn saved_mappings(store: &mut Store) -> Result<Vec<ColumnMapping>, ImportError> {
    let saved = store.read(|tx| -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for (name, _) in tx.mappings()? {
            if let Some(m) = tx.mapping(&name)? {
                out.push(m.definition);
            }
        }
        Ok(out)
    })?;
    // A saved mapping that no longer reads (an older program's) recognises nothing.
    Ok(saved
        .iter()
        .filter_map(|text| ColumnMapping::from_toml(text).ok())
        .filter(|m| !m.recognise.is_empty())
        .collect())
}

/// What to do about a file without a currency column.
const NO_CURRENCY: &str =
    "the file has none: import with --currency CODE, or set a default currency in Settings";

/// What an import may hold in the store's page cache and its filter of seen keys, whatever
/// the file's size.
pub const IMPORT_CACHE_BYTES: u64 = crate::store::BULK_WRITE_CACHE_BYTES + SeenKeys::BYTES;

/// The CSV reader every import reads through (and a second pass for repeated keys).
fn csv_reader(file: File) -> CsvReader {
    // `\n` alone ends a record: csv counts lines one short after a `\r\n`, and every cell
    // is trimmed anyway, so the `\r` of a Windows line end goes with the spaces. Field
    // counts are checked here (`flexible`), where a blank line can be told from a bad row.
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(64 * 1024)
        .from_reader(HashingReader::open(file))
}

#[allow(clippy::too_many_arguments)]
fn import_rows(
    store: &mut Store,
    kind: FileKind,
    path: &Path,
    options: &ImportOptions,
    mapping: Option<&ColumnMapping>,
    now: Timestamp,
    reader: CsvReader,
    header: Header,
) -> Result<ImportReport, ImportError> {
    let mut resolver = ColumnResolver::new(header, mapping);
    let input = Input {
        reader,
        path,
        options,
        now,
    };
    match kind {
        FileKind::Invoices => {
            let layout = invoices::InvoicesLayout::resolve(
                &mut resolver,
                mapping,
                options.zone.clone(),
                options.currency,
            );
            let columns = resolver
                .finish(path)
                .map_err(|e| with_known_layouts(e, mapping, MappingLayout::Invoices))?;
            run(store, layout, columns, input)
        }
        FileKind::Payments => {
            let layout = payments::PaymentsLayout::resolve(
                &mut resolver,
                mapping,
                options.zone.clone(),
                options.currency,
            );
            let columns = resolver
                .finish(path)
                .map_err(|e| with_known_layouts(e, mapping, MappingLayout::Payments))?;
            run(store, layout, columns, input)
        }
        FileKind::StripePayments => {
            let layout = stripe_payments::StripePaymentsLayout::resolve(&mut resolver);
            let mut columns = resolver.finish(path)?;
            layout.prepare(&mut columns);
            run(store, layout, columns, input)
        }
    }
}

/// A header our own layout does not fit, where no layout was recognised either: the
/// refusal lists the layouts `--from` could name.
fn with_known_layouts(
    error: ImportError,
    mapping: Option<&ColumnMapping>,
    layout: MappingLayout,
) -> ImportError {
    match error {
        ImportError::MissingColumns {
            file,
            missing,
            ambiguous,
            found,
            layouts: tried,
        } if mapping.is_none() => ImportError::MissingColumns {
            file,
            missing,
            ambiguous,
            found,
            layouts: Box::new(LayoutsTried {
                read_as: tried.read_as,
                known: layouts::names(layout),
            }),
        },
        other => other,
    }
}

/// Reads a mapping: `name_or_path` is a `.toml` file when one exists there (or the text
/// looks like a path), else the name of a mapping saved in the store.
pub fn resolve_mapping(
    store: &mut Store,
    name_or_path: &str,
) -> Result<ColumnMapping, ImportError> {
    let path = Path::new(name_or_path);
    let looks_like_path = name_or_path.ends_with(".toml")
        || name_or_path.contains(std::path::MAIN_SEPARATOR)
        || name_or_path.contains('/');
    if looks_like_path || path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        return Ok(ColumnMapping::from_toml(&text)?);
    }
    let (saved, names) = store.read(|tx| -> Result<_, StoreError> {
        let saved = tx.mapping(name_or_path)?;
        let names = if saved.is_none() {
            tx.mappings()?.into_iter().map(|(n, _)| n).collect()
        } else {
            Vec::new()
        };
        Ok((saved, names))
    })?;
    match saved {
        Some(saved) => Ok(ColumnMapping::from_toml(&saved.definition)?),
        None => Err(MappingError::NotFound {
            name: name_or_path.to_string(),
            saved: names,
        }
        .into()),
    }
}

/// Saves a mapping in the store under `name` (replacing one of that name).
pub fn save_mapping(
    store: &mut Store,
    name: &str,
    mapping: &ColumnMapping,
) -> Result<(), ImportError> {
    let name = mapping::check_name(name)?;
    store.write(|tx| -> Result<(), ImportError> {
        Ok(tx.save_mapping(name, &mapping.to_toml(), mapping.layout.as_str())?)
    })
}

type CsvReader = csv::Reader<HashingReader<std::io::BufReader<File>>>;

fn read_header(reader: &mut CsvReader, path: &Path) -> Result<Header, ImportError> {
    let raw = match reader.byte_headers() {
        Ok(raw) => raw.clone(),
        Err(e) => return Err(csv_fatal(e, path)),
    };
    let mut names = Vec::with_capacity(raw.len());
    for (i, field) in raw.iter().enumerate() {
        match std::str::from_utf8(field) {
            Ok(name) => names.push(name.to_string()),
            Err(_) => {
                return Err(ImportError::Rows {
                    file: path.to_path_buf(),
                    errors: vec![RowError {
                        file: path.to_path_buf(),
                        line: 1,
                        column: i + 1,
                        column_name: clip(&String::from_utf8_lossy(field)).into_owned(),
                        value: String::from_utf8_lossy(field).into_owned(),
                        reason: NOT_UTF8.to_string(),
                    }],
                    more: 0,
                });
            }
        }
    }
    // A file with no bytes at all has no header: every column is missing.
    if names.len() == 1 && names[0].is_empty() {
        names.clear();
    }
    Ok(Header::new(&names))
}

const NOT_UTF8: &str =
    "the text is not UTF-8; save the file as UTF-8 (CSV UTF-8 in a spreadsheet) and import again";

fn csv_fatal(e: csv::Error, path: &Path) -> ImportError {
    let source = match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    };
    ImportError::Io {
        file: path.to_path_buf(),
        source,
    }
}

/// One of our file layouts: how a row's cells become a record, and how it is stored.
trait Layout {
    type Row;
    const KIND: FileKind;

    /// Reads one row; `None` when any cell was refused (each noted in `cells`).
    fn parse(&mut self, cells: &mut Cells<'_>) -> Option<Self::Row>;
    /// The row's natural key, unique in the store.
    fn key(row: &Self::Row) -> &str;
    /// The column holding the key, for duplicate-key messages.
    fn key_column(&self) -> Col;
    /// Whether the row keeps the column of [`Columns::keep_when_unused`] in its extra.
    fn keeps_unused(&self, _row: &Self::Row) -> bool {
        false
    }
    fn store(
        tx: &StoreTx<'_>,
        row: &Self::Row,
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<Upserted, StoreError>;
    /// The gateway window this file covers, known once every row was read.
    fn coverage(&self) -> Option<Coverage> {
        None
    }
    /// Rows the file holds that are not records of ours (payment attempts, drafts),
    /// counted once every row was read.
    fn skipped(&self) -> Vec<SkippedRows> {
        Vec::new()
    }
    /// Whether consecutive rows with one key are one record's lines (line items).
    fn groups(&self) -> bool {
        false
    }
    /// Takes the next line of the record that started on `first_line` into it; where
    /// they disagree, refuses the line in `cells`. Only layouts that group.
    fn merge(
        &mut self,
        _into: &mut Self::Row,
        _first_line: u64,
        _next: Self::Row,
        _cells: &mut Cells<'_>,
    ) {
        unreachable!("only a layout that groups merges rows")
    }
    /// The record in a few words, for the report's preview.
    fn describe(row: &Self::Row) -> String {
        Self::key(row).to_string()
    }
    /// Finishes a record once all its lines are in; `Err` says why it is refused.
    fn complete(&self, _row: &mut Self::Row) -> Result<(), String> {
        Ok(())
    }
}

struct Input<'a> {
    reader: CsvReader,
    path: &'a Path,
    options: &'a ImportOptions,
    now: Timestamp,
}

/// Ends a transaction early: on failure, or to roll back an import that changed nothing.
enum Abort {
    Failed(ImportError),
    NothingNew(Box<ImportReport>),
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Abort::Failed(ImportError::Store(e))
    }
}

/// A row the reading thread parsed, for the writing one.
struct ParsedRow<R> {
    row: R,
    /// The row's extra columns (see [`ExtraColumns`]).
    extra: String,
    line: u64,
}

/// Rows go from the reading thread to the writer in batches of this many, at most
/// [`BATCHES_IN_FLIGHT`] batches ahead: a fixed amount of memory, whatever the file.
const BATCH_ROWS: usize = 512;
const BATCHES_IN_FLIGHT: usize = 4;

fn run<L: Layout + Send>(
    store: &mut Store,
    layout: L,
    columns: Columns,
    input: Input<'_>,
) -> Result<ImportReport, ImportError>
where
    L::Row: Send,
{
    let Input {
        reader,
        path,
        options,
        now,
    } = input;
    let dry_run = options.dry_run;
    let columns = &columns;
    let key_col = layout.key_column();
    let work = move |tx: &StoreTx<'_>| -> Result<ImportReport, Abort> {
        let source_id = tx.begin_source(
            L::KIND.source_kind(),
            &path.display().to_string(),
            None,
            now,
        )?;
        let extra_set = tx.column_set(&columns.extra_names())?;
        let deferred = tx.index_after_rows_if_empty(L::KIND.source_kind())?;
        // Reading, hashing and parsing the file run on a thread of their own beside the one
        // writer: the transaction stays on this thread, and the store sees rows in file order.
        let (sender, receiver) = std::sync::mpsc::sync_channel(BATCHES_IN_FLIGHT);
        // Stored batches go back to be dropped where their rows were allocated: freeing
        // another thread's allocations costs the allocator a lock per row.
        let (done, returned) = std::sync::mpsc::channel();
        let (read, written) = std::thread::scope(|scope| {
            let rows = Batches {
                send: sender,
                returned,
            };
            let reading = scope.spawn(move || read_rows(reader, layout, columns, path, rows));
            let written = write_rows::<L>(
                tx,
                (receiver, done),
                source_id,
                extra_set,
                key_col,
                columns,
                path,
            );
            let read = reading
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (read, written)
        });
        let written = written?;
        // `None`: the writer stopped, and said why above.
        let read = read
            .map_err(Abort::Failed)?
            .expect("the writer took every row");
        let Written {
            counts,
            preview,
            changed,
            changed_unlisted,
            suspects,
            errors: store_errors,
        } = written;
        let mut errors = read.errors;
        errors.merge(store_errors);
        if let Some(unclosed) = read.open_quote.filter(|_| read.last_byte != Some(b'"')) {
            // What else that row got wrong came from the swallowed text: the quote is the
            // one thing to fix.
            errors.list.retain(|e| e.line != unclosed.line);
            errors.push(unclosed);
        }
        if !suspects.is_empty() {
            settle_suspects(path, columns, key_col, suspects, &mut errors)
                .map_err(Abort::Failed)?;
        }
        if !errors.is_empty() {
            return Err(Abort::Failed(ImportError::Rows {
                file: path.to_path_buf(),
                errors: errors.list,
                more: errors.more,
            }));
        }
        tx.rebuild_indexes(deferred)?;
        tx.set_source_content_sha256(source_id, &read.content_sha256)?;
        tx.finish_source(source_id, counts)?;
        let coverage = read.layout.coverage();
        let mut skipped = read.layout.skipped();
        for (header, count) in read.other_kinds {
            skipped.extend(SkippedRows::some(
                count,
                &format!("row of another kind (by its {header})"),
                &format!("rows of other kinds (by their {header})"),
            ));
        }
        if let Some(window) = coverage {
            tx.add_charge_coverage(source_id, stripe_payments::GATEWAY, window)?;
        }
        let nothing_new = counts.new == 0 && counts.changed == 0;
        let report = ImportReport {
            file: path.to_path_buf(),
            kind: L::KIND,
            counts,
            changed,
            changed_unlisted,
            coverage,
            dry_run,
            source_id: (!dry_run && !nothing_new).then_some(source_id),
            content_sha256: read.content_sha256,
            skipped,
            recognised: None,
            preview,
        };
        if nothing_new {
            return Err(Abort::NothingNew(Box::new(report)));
        }
        Ok(report)
    };
    let result = if dry_run {
        store.dry_run(work)
    } else {
        store.write(work)
    };
    match result {
        Ok(report) => Ok(report),
        Err(Abort::NothingNew(report)) => Ok(*report),
        Err(Abort::Failed(e)) => Err(e),
    }
}

/// The reading thread's ends of the channels: rows to the writer, stored batches back.
struct Batches<R> {
    send: std::sync::mpsc::SyncSender<Vec<ParsedRow<R>>>,
    returned: std::sync::mpsc::Receiver<Vec<ParsedRow<R>>>,
}

impl<R> Batches<R> {
    /// Sends a full batch; `false` when the writer stopped taking rows.
    fn send(&self, batch: Vec<ParsedRow<R>>) -> bool {
        self.send.send(batch).is_ok()
    }

    /// An empty batch: one the writer gave back (its rows dropped here), else a new one.
    fn empty(&self) -> Vec<ParsedRow<R>> {
        let mut reuse = None;
        while let Ok(mut stored) = self.returned.try_recv() {
            stored.clear();
            reuse = Some(stored);
        }
        reuse.unwrap_or_else(|| Vec::with_capacity(BATCH_ROWS))
    }
}

/// The writer's ends of the channels: rows from the reader, stored batches back to it.
type WriterEnds<R> = (
    std::sync::mpsc::Receiver<Vec<ParsedRow<R>>>,
    std::sync::mpsc::Sender<Vec<ParsedRow<R>>>,
);

/// What reading the whole file found, besides its rows.
struct ReadRows<L> {
    /// The layout after every row (it knows the file's coverage).
    layout: L,
    /// The cells refused.
    errors: RowErrors,
    /// The last row whose last field spans lines: an unclosed quote, if the file does
    /// not end with a quote.
    open_quote: Option<RowError>,
    content_sha256: String,
    last_byte: Option<u8>,
    /// Rows of another kind than the layout imports: each header that said so, and how many
    /// rows it left out, in the order first met.
    other_kinds: Vec<(String, u64)>,
}

/// Reads, checks and parses every row of the file, in order, and sends the good ones to
/// the writer. `Ok(None)` when the writer stopped taking rows.
fn read_rows<L: Layout>(
    mut reader: CsvReader,
    mut layout: L,
    columns: &Columns,
    path: &Path,
    rows: Batches<L::Row>,
) -> Result<Option<ReadRows<L>>, ImportError> {
    let mut record = StringRecord::new();
    let mut errors = RowErrors::new(path);
    let width = columns.header.names.len();
    let mut open_quote: Option<RowError> = None;
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    // A record whose lines may go on (layouts that group line items).
    let mut pending: Option<ParsedRow<L::Row>> = None;
    let mut other_kinds: Vec<(String, u64)> = Vec::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                if let Some(row_error) = csv_row_error(&e, columns, path) {
                    errors.push(row_error);
                    continue;
                }
                return Err(csv_fatal(e, path));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != width {
            if record.len() == 1 && record[0].trim().is_empty() {
                continue;
            }
            errors.push(field_count_error(&record, line, columns, path));
            continue;
        }
        open_quote = record
            .get(width - 1)
            .filter(|last| last.contains('\n'))
            .map(|_| RowError {
                file: path.to_path_buf(),
                line,
                column: width,
                column_name: columns.header.display_name(width - 1),
                value: String::new(),
                reason: "a quote opened in this field is never closed, so the rest of the file became one value; close the quote".to_string(),
            });
        if let Err(header) = columns.kept(&record) {
            match other_kinds.iter_mut().find(|(h, _)| h == header) {
                Some((_, count)) => *count += 1,
                None => other_kinds.push((header.to_string(), 1)),
            }
            continue;
        }
        let mut cells = Cells::new(&record, line, columns, &mut errors);
        let Some(row) = layout.parse(&mut cells) else {
            continue;
        };
        if let Some(first) = pending.as_mut()
            && L::key(&first.row) == L::key(&row)
        {
            layout.merge(&mut first.row, first.line, row, &mut cells);
            continue;
        }
        // A record with lines keeps its first line's extra columns.
        let mut extra = String::with_capacity(256);
        columns.write_extra(&record, layout.keeps_unused(&row), &mut extra);
        let parsed = ParsedRow { row, extra, line };
        let ready = if layout.groups() {
            pending.replace(parsed)
        } else {
            Some(parsed)
        };
        if let Some(ready) = ready
            && !send_complete(&layout, ready, &mut batch, &rows, &mut errors, columns)
        {
            return Ok(None);
        }
    }
    if let Some(last) = pending.take()
        && !send_complete(&layout, last, &mut batch, &rows, &mut errors, columns)
    {
        return Ok(None);
    }
    if !batch.is_empty() && !rows.send(batch) {
        return Ok(None);
    }
    drop(rows);
    let (content_sha256, last_byte) =
        reader
            .into_inner()
            .finish()
            .map_err(|source| ImportError::Io {
                file: path.to_path_buf(),
                source,
            })?;
    Ok(Some(ReadRows {
        layout,
        errors,
        open_quote,
        content_sha256,
        last_byte,
        other_kinds,
    }))
}

/// Completes a record and adds it to the batch, sending a full batch to the writer;
/// `false` when the writer stopped taking rows. A record its layout refuses is noted at
/// its first line.
fn send_complete<L: Layout>(
    layout: &L,
    mut parsed: ParsedRow<L::Row>,
    batch: &mut Vec<ParsedRow<L::Row>>,
    rows: &Batches<L::Row>,
    errors: &mut RowErrors,
    columns: &Columns,
) -> bool {
    if let Err(reason) = layout.complete(&mut parsed.row) {
        let key = layout.key_column();
        errors.push(RowError {
            file: errors.file.clone(),
            line: parsed.line,
            column: key.0 + 1,
            column_name: columns.header.display_name(key.0),
            value: L::key(&parsed.row).to_string(),
            reason,
        });
        return true;
    }
    batch.push(parsed);
    if batch.len() == BATCH_ROWS {
        let full = std::mem::replace(batch, rows.empty());
        return rows.send(full);
    }
    true
}

/// What storing the rows did.
struct Written {
    counts: SourceCounts,
    /// The first records, described (see [`ImportReport::preview`]).
    preview: Vec<String>,
    changed: Vec<ChangedRow>,
    changed_unlisted: u64,
    suspects: Vec<Suspect>,
    /// Keys repeated in the file with other values.
    errors: RowErrors,
}

/// Stores every row the reading thread sends, in file order, in the one transaction.
fn write_rows<L: Layout>(
    tx: &StoreTx<'_>,
    (rows, done): WriterEnds<L::Row>,
    source_id: i64,
    extra_set: Option<i64>,
    key_col: Col,
    columns: &Columns,
    path: &Path,
) -> Result<Written, StoreError> {
    let mut seen = SeenKeys::new();
    let mut written = Written {
        counts: SourceCounts::default(),
        preview: Vec::new(),
        changed: Vec::new(),
        changed_unlisted: 0,
        suspects: Vec::new(),
        errors: RowErrors::new(path),
    };
    for batch in rows {
        for ParsedRow { row, extra, line } in &batch {
            let line = *line;
            let key = L::key(row);
            if written.preview.len() < PREVIEW_RECORDS {
                written
                    .preview
                    .push(format!("line {line}: {}", L::describe(row)));
            }
            let origin = Origin {
                source_id,
                line: Some(line),
            };
            let extra = ExtraColumns {
                set: extra_set,
                values: extra,
            };
            let Upserted { outcome, previous } = L::store(tx, row, extra, &origin)?;
            // A row this import already wrote: the key is on an earlier line of the file.
            let first_line = previous
                .filter(|p| p.source_id == source_id)
                .map(|p| p.line.unwrap_or(0));
            match (outcome, first_line) {
                (UpsertOutcome::New, _) => written.counts.new += 1,
                (UpsertOutcome::Unchanged, first) => {
                    if first.is_none() {
                        seen.insert(key);
                    }
                    written.counts.unchanged += 1;
                }
                (UpsertOutcome::Changed(changes), Some(first)) => {
                    written.errors.push(RowError {
                        file: path.to_path_buf(),
                        line,
                        column: key_col.0 + 1,
                        column_name: columns.header.display_name(key_col.0),
                        value: key.to_string(),
                        reason: repeated_key(key, first, &changes),
                    });
                }
                (UpsertOutcome::Changed(changes), None) => {
                    if seen.may_contain(key) {
                        written.suspects.push(Suspect {
                            key: key.to_string(),
                            line,
                            reason_if_repeat: changes.clone(),
                        });
                    }
                    written.counts.changed += 1;
                    if written.changed.len() < MAX_LISTED_CHANGES {
                        written.changed.push(ChangedRow {
                            line,
                            key: key.to_string(),
                            changes,
                        });
                    } else {
                        written.changed_unlisted += 1;
                    }
                }
            }
        }
        // Gone once the reader has finished: then the batch is dropped here.
        let _ = done.send(batch);
    }
    Ok(written)
}

/// Why a row whose key is also on line `first` is refused.
fn repeated_key(key: &str, first: u64, changes: &[FieldChange]) -> String {
    format!(
        "`{key}` is also on line {first} with other values ({}); keep one of the two lines",
        describe_changes(changes)
    )
}

/// A changed row whose key the file may have had on an earlier line, unchanged there.
struct Suspect {
    key: String,
    line: u64,
    /// What differs from the stored row: from that earlier line, if there is one.
    reason_if_repeat: Vec<FieldChange>,
}

/// Reads the file again for the first line of each suspect's key: a suspect whose key is on
/// an earlier line is a repeat with other values, refused naming both lines; the others
/// were ordinary changes.
fn settle_suspects(
    path: &Path,
    columns: &Columns,
    key_col: Col,
    suspects: Vec<Suspect>,
    errors: &mut RowErrors,
) -> Result<(), ImportError> {
    let io_error = |source| ImportError::Io {
        file: path.to_path_buf(),
        source,
    };
    let mut first: std::collections::HashMap<&str, Option<u64>> =
        suspects.iter().map(|s| (s.key.as_str(), None)).collect();
    let last = suspects.iter().map(|s| s.line).max().unwrap_or(0);
    let mut reader = csv_reader(File::open(path).map_err(io_error)?);
    let mut record = StringRecord::new();
    let width = columns.header.names.len();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            // The first pass read this file whole; what fails now was reported there.
            Err(_) => continue,
        }
        let line = record.position().map_or(0, |p| p.line());
        if line >= last {
            break;
        }
        if record.len() != width {
            continue;
        }
        if let Some(slot) = first.get_mut(columns.text(&record, key_col))
            && slot.is_none()
        {
            *slot = Some(line);
        }
    }
    for suspect in &suspects {
        if let Some(&Some(first_line)) = first.get(suspect.key.as_str())
            && first_line < suspect.line
        {
            errors.push(RowError {
                file: path.to_path_buf(),
                line: suspect.line,
                column: key_col.0 + 1,
                column_name: columns.header.display_name(key_col.0),
                value: suspect.key.clone(),
                reason: repeated_key(&suspect.key, first_line, &suspect.reason_if_repeat),
            });
        }
    }
    Ok(())
}

/// "customer_id cus_A vs cus_B, Item Name Bracket vs Install": what differs, short enough
/// for one line however wide the rows (at most three values, each cut at 40 characters; the
/// extra columns named one by one).
fn describe_changes(changes: &[FieldChange]) -> String {
    const MOST: usize = 3;
    let short = |v: Option<&str>| -> String {
        match v {
            None | Some("") => "empty".to_string(),
            Some(v) if v.chars().count() > 40 => {
                format!("{}…", v.chars().take(39).collect::<String>())
            }
            Some(v) => v.to_string(),
        }
    };
    let mut parts: Vec<String> = Vec::new();
    for c in changes {
        if c.field == "extra" {
            let map = |v: &Option<String>| -> std::collections::BTreeMap<String, String> {
                v.as_deref()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_default()
            };
            let (old, new) = (map(&c.old), map(&c.new));
            let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                let (a, b) = (old.get(key), new.get(key));
                if a != b {
                    // An extra column's header is the file's text: cut short like a value.
                    parts.push(format!(
                        "{} {} vs {}",
                        short(Some(key.as_str())),
                        short(a.map(String::as_str)),
                        short(b.map(String::as_str))
                    ));
                }
            }
        } else {
            parts.push(format!(
                "{} {} vs {}",
                c.field,
                short(c.old.as_deref()),
                short(c.new.as_deref())
            ));
        }
    }
    let more = parts.len().saturating_sub(MOST);
    parts.truncate(MOST);
    let mut text = parts.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// A row with more or fewer fields than the header.
fn field_count_error(record: &StringRecord, line: u64, columns: &Columns, path: &Path) -> RowError {
    let (expected, len) = (columns.header.names.len(), record.len());
    let column = len.min(expected) + 1;
    let quote = if record.iter().any(|f| f.contains('\n')) {
        "a quote is never closed, or a value holds an unquoted comma"
    } else {
        "a value may hold an unquoted comma, or the row lost a field"
    };
    RowError {
        file: path.to_path_buf(),
        line,
        column,
        column_name: columns.header.display_name(column - 1),
        value: String::new(),
        reason: format!("this row has {len} fields but the header has {expected}; {quote}"),
    }
}

/// A CSV problem confined to one record, as a row error; `None` for what stops reading.
fn csv_row_error(e: &csv::Error, columns: &Columns, path: &Path) -> Option<RowError> {
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, err } => Some(RowError {
            file: path.to_path_buf(),
            line: pos.as_ref().map_or(0, |p| p.line()),
            column: err.field() + 1,
            column_name: columns.header.display_name(err.field()),
            value: String::new(),
            reason: format!(
                "{NOT_UTF8} (the field's byte {} is not valid)",
                err.valid_up_to() + 1
            ),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::thousands;
    use rstest::rstest;

    #[rstest]
    #[case::small(7, "7")]
    #[case::three_digits(997, "997")]
    #[case::four_digits(2_997, "2,997")]
    #[case::a_million(1_000_000, "1,000,000")]
    fn counts_read_with_thousands_separators(#[case] n: u64, #[case] text: &str) {
        assert_eq!(thousands(n), text);
    }
}
