//! The Import screen's commands: bring a CSV file in, preview it (a dry run), import it,
//! and edit, preview and save column mappings for other invoicing apps' layouts.
//!
//! **Where the file comes from.** The core imports a real file (it streams it, hashes its
//! bytes and names it in every error), and both shells keep it that way:
//!
//! - The desktop app gets a path from the operating system (a file dialog, or a file
//!   dropped on the window) and names it in the request (`ImportCsvRequest::path`).
//! - A browser cannot give a path, so the web front end first sends the file's bytes with
//!   [`upload_csv`] (base64, so a file that is not UTF-8 arrives as it is and the importer,
//!   not the browser, says where it is not), which writes them to
//!   `uploads/RANDOM/NAME` beside the store and answers that path. The import then runs
//!   on it exactly as on a file the desktop named. The file keeps its own name in that
//!   folder, so errors read `invoices.csv:4:3`; the folder is removed after the real
//!   import (kept after a dry run, which the import follows), and folders left behind for
//!   a day are removed at the next upload.
//!
//! Both routes take the same commands from `commands.rs`, so the choice is the front
//! end's: it uploads only where it has no path.
//!
//! **Refusals are data.** An import refused for bad rows or missing columns is an answer
//! the screen shows as a table (file, line, column, value, reason), not an error: a
//! bookkeeper fixes the file from it. Errors (`ApiError`) are what the table cannot hold:
//! an unreadable file, an unknown mapping, a broken store.
//!
//! Dates without an offset are read in the business's time zone (Settings), else UTC; the
//! answer says which, so the bookkeeper sees it before importing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::json::ImportKind;
use super::{Api, ApiError, ApiErrorCode, count32, now, required};
use chargeguard_core::import::mapping::{self as core_mapping, MappingPreview as CorePreview};
use chargeguard_core::import::{
    self, ColumnMapping, FileKind, ImportError, ImportOptions, MappingLayout,
};
use chargeguard_core::store::SourceCounts;

/// How many rows a mapping preview shows.
pub const PREVIEW_ROWS: usize = 5;
/// The largest file the web front end may upload (the desktop app names a path instead).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// Upload folders older than this are removed at the next upload.
const UPLOAD_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

// ---------------------------------------------------------------- transport types

/// A file's bytes from a browser, which cannot name a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "UploadRequest.ts")]
pub struct UploadRequest {
    /// The file's own name (`invoices.csv`); only its last part is kept.
    pub name: String,
    /// The bytes, base64 (standard alphabet, padded).
    pub content_base64: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "Uploaded.ts")]
pub struct Uploaded {
    /// Where the bytes were written; pass it as the import's `path`.
    pub path: String,
    /// The name the file keeps (and errors name).
    pub name: String,
    pub bytes: u32,
}

/// A file on this computer, by path: from the desktop's file dialog or a drop, or an
/// upload's `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "FileRequest.ts")]
pub struct FileRequest {
    pub path: String,
}

/// What a file's header says it is: the kind to pre-select, which the person can change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "FileKindView.ts")]
pub struct FileKindView {
    /// The file's name, as the screen and every error name it.
    pub name: String,
    /// `None` when nothing in the header says.
    pub kind: Option<ImportKind>,
    /// The app's layout (or saved mapping) that reads it, for another app's export.
    pub layout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ImportCsvRequest.ts")]
pub struct ImportCsvRequest {
    pub kind: ImportKind,
    /// A file on this computer (from the desktop's dialog, or `upload_csv`).
    pub path: String,
    /// A saved mapping's name, for another app's layout (invoices and payments only).
    #[ts(optional)]
    pub mapping: Option<String>,
    /// A shipped layout's name (`xero-us`), where the headers do not say which app's.
    #[ts(optional)]
    pub from: Option<String>,
    /// The currency of a file without a currency column (else the default currency).
    #[ts(optional)]
    pub currency: Option<String>,
    /// Say what would be added, changed and refused; write nothing.
    pub dry_run: bool,
    /// A bank statement's account name in Chargeguard, where the file names none (a CSV
    /// export: else it is filed under the bank's name, and two accounts of one bank mix).
    #[ts(optional)]
    pub account: Option<String>,
    /// How a Stripe file's spreadsheet-rewritten dates read, when each reads both ways:
    /// `mdy` (month first) or `dmy`.
    #[ts(optional)]
    pub dates: Option<String>,
}

/// What an import did, would do (a dry run), or why it refused the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ImportOutcome.ts")]
pub struct ImportOutcome {
    /// The file's name.
    pub file: String,
    pub dry_run: bool,
    /// Rows were written (never for a dry run, a refusal, or a file with nothing new).
    pub written: bool,
    pub new: u32,
    pub changed: u32,
    pub unchanged: u32,
    /// "invoices.csv: 0 new, 3,000 unchanged", or why nothing was imported.
    pub message: String,
    /// Rows that changed since the last import, first ones only.
    pub changed_rows: Vec<ChangedRowView>,
    /// Changed rows beyond those listed.
    pub changed_unlisted: u32,
    /// Why the file was refused (empty when it was not), first ones only.
    pub problems: Vec<ImportProblem>,
    /// Problems beyond those listed.
    pub problems_more: u32,
    /// The zone dates without an offset were read in.
    pub zone: String,
    /// The app whose export this was, recognised by its headers (`Zoho Invoice / Zoho
    /// Books`); `None` for Chargeguard's own layout.
    pub recognised: Option<String>,
    /// Rows left out as not ours: "2 drafts (never due) were not imported".
    pub skipped: Vec<String>,
    /// The first records as read ("line 2: INV-1 · cus_A · 120.00 USD · open · …"): the
    /// dry run's preview, before anything is written.
    pub preview: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ChangedRowView.ts")]
pub struct ChangedRowView {
    pub line: u32,
    pub key: String,
    /// "status open → paid".
    pub changes: String,
}

/// One refused cell, row or column, where the bookkeeper finds it in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ImportProblem.ts")]
pub struct ImportProblem {
    pub file: String,
    /// 1-based line (the header is line 1).
    pub line: u32,
    /// 1-based field position; `None` for a column the file lacks.
    pub column: Option<u32>,
    /// The column's header as the file spells it (or our name, for a missing one).
    pub column_name: String,
    pub value: String,
    /// What is wrong and what to do.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "MappingLayout.ts", rename = "MappingLayout")]
pub enum Layout {
    Invoices,
    Payments,
}

/// A column mapping as a form holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "MappingDraft.ts")]
pub struct MappingDraft {
    pub layout: Layout,
    /// Which of their headers feeds which of our columns; a blank `theirs` is left out.
    pub columns: Vec<ColumnPair>,
    /// Their value → ours, per column; blank rows are left out.
    pub values: Vec<ValuePair>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ColumnPair.ts")]
pub struct ColumnPair {
    pub ours: String,
    pub theirs: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ValuePair.ts")]
pub struct ValuePair {
    pub column: String,
    pub theirs: String,
    pub ours: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "MappingSummary.ts")]
pub struct MappingSummary {
    pub name: String,
    pub layout: Layout,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "MappingView.ts")]
pub struct MappingView {
    pub name: String,
    pub draft: MappingDraft,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "MappingNameRequest.ts")]
pub struct MappingNameRequest {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "MappingSaveRequest.ts")]
pub struct MappingSaveRequest {
    pub name: String,
    pub draft: MappingDraft,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "MappingPreviewRequest.ts")]
pub struct MappingPreviewRequest {
    pub path: String,
    pub draft: MappingDraft,
}

/// The first rows of a file as a mapping reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "MappingPreviewView.ts")]
pub struct MappingPreviewView {
    /// The file's headers, as read.
    pub headers: Vec<String>,
    /// Our columns, in the layout's order.
    pub columns: Vec<PreviewColumnView>,
    pub rows: Vec<PreviewRowView>,
    /// Headers no column reads (kept with each row, never dropped).
    pub unused_headers: Vec<String>,
    /// Required columns the file lacks: the import would refuse it.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "PreviewColumnView.ts")]
pub struct PreviewColumnView {
    pub name: String,
    /// The header it reads.
    pub header: String,
    /// 1-based position of that header in the file, when it has it.
    pub position: Option<u32>,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "PreviewRowView.ts")]
pub struct PreviewRowView {
    pub line: u32,
    /// One per column of `columns`; `None` where the file lacks the column.
    pub cells: Vec<Option<String>>,
}

// ---------------------------------------------------------------- conversions

fn layout_in(l: Layout) -> MappingLayout {
    match l {
        Layout::Invoices => MappingLayout::Invoices,
        Layout::Payments => MappingLayout::Payments,
    }
}

fn layout_out(l: MappingLayout) -> Layout {
    match l {
        MappingLayout::Invoices => Layout::Invoices,
        MappingLayout::Payments => Layout::Payments,
    }
}

/// The core's kind of CSV file, for the kinds the CSV importer reads (a bank statement and
/// a Stripe report have importers of their own).
pub(crate) fn kind_in(k: ImportKind) -> Option<FileKind> {
    match k {
        ImportKind::Invoices => Some(FileKind::Invoices),
        ImportKind::Payments => Some(FileKind::Payments),
        ImportKind::StripePayments => Some(FileKind::StripePayments),
        ImportKind::StripeReport | ImportKind::BankStatement => None,
    }
}

/// The draft as the core's mapping, checked by the core; blank form rows are left out.
fn mapping_of(draft: &MappingDraft) -> Result<ColumnMapping, ApiError> {
    let columns: BTreeMap<String, String> = draft
        .columns
        .iter()
        .filter(|p| !p.theirs.trim().is_empty())
        .map(|p| (p.ours.clone(), p.theirs.clone()))
        .collect();
    let mut values: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for v in draft
        .values
        .iter()
        .filter(|v| !v.theirs.trim().is_empty() || !v.ours.trim().is_empty())
    {
        if v.theirs.trim().is_empty() || v.ours.trim().is_empty() {
            return Err(ApiError::invalid(format!(
                "a value translation for `{}` needs both their value and ours; fill both or clear the row",
                v.column
            )));
        }
        let map = values.entry(v.column.clone()).or_default();
        if map.insert(v.theirs.clone(), v.ours.clone()).is_some() {
            return Err(ApiError::invalid(format!(
                "`{}` is translated twice for `{}`; keep one row",
                v.theirs, v.column
            )));
        }
    }
    ColumnMapping::new(layout_in(draft.layout), &columns, &values)
        .map_err(|e| ApiError::invalid(e.to_string()))
}

fn draft_of(mapping: &ColumnMapping) -> MappingDraft {
    MappingDraft {
        layout: layout_out(mapping.layout),
        columns: mapping
            .columns
            .iter()
            .map(|(ours, theirs)| ColumnPair {
                ours: ours.clone(),
                theirs: theirs.clone(),
            })
            .collect(),
        values: mapping
            .values
            .iter()
            .flat_map(|(column, map)| {
                map.iter().map(move |(theirs, ours)| ValuePair {
                    column: column.clone(),
                    theirs: theirs.clone(),
                    ours: ours.clone(),
                })
            })
            .collect(),
    }
}

fn preview_out(p: CorePreview) -> MappingPreviewView {
    let missing = p.missing();
    MappingPreviewView {
        headers: p.headers,
        columns: p
            .columns
            .into_iter()
            .map(|c| PreviewColumnView {
                name: c.name.to_string(),
                header: c.header,
                position: c.position.map(|i| count32(i as u64 + 1)),
                required: c.required,
            })
            .collect(),
        rows: p
            .rows
            .into_iter()
            .map(|(line, cells)| PreviewRowView {
                line: count32(line),
                cells,
            })
            .collect(),
        unused_headers: p.unused_headers,
        missing,
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A core message with the file's full path (an upload folder, a long desktop path)
/// shortened to its name, as the rest of the screen shows it.
fn with_name(message: String, path: &Path, name: &str) -> String {
    message.replace(&path.display().to_string(), name)
}

// ---------------------------------------------------------------- uploads

/// The folder beside the store where uploaded files wait for their import.
pub fn uploads_dir(api: &Api) -> PathBuf {
    api.data_dir().join("uploads")
}

/// The part of a browser's file name that is safe as a file name here.
fn safe_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "upload.csv".to_string()
    } else {
        cleaned
    }
}

fn remove_stale_uploads(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > UPLOAD_MAX_AGE);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Writes a browser's file under the store's `uploads/` folder and answers its path.
pub fn upload_csv(api: &Api, request: &UploadRequest) -> Result<Uploaded, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(request.content_base64.trim())
        .map_err(|e| {
            ApiError::invalid(format!(
                "the file did not arrive whole ({e}); choose it again"
            ))
        })?;
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ApiError::invalid(format!(
            "the file is larger than {} MB, too large to send through the browser; import it with `chargeguard import` or the desktop app",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        )));
    }
    let root = uploads_dir(api);
    remove_stale_uploads(&root);
    let dir = root.join(format!("{:016x}", rand::random::<u64>()));
    let name = safe_name(&request.name);
    let path = dir.join(&name);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(&path, &bytes)
    };
    write().map_err(|e| {
        ApiError::internal(format!(
            "cannot keep the file beside the store in {} ({e}); check that the data folder is writable",
            root.display()
        ))
    })?;
    Ok(Uploaded {
        path: path.display().to_string(),
        name,
        bytes: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
    })
}

/// Removes an uploaded file's folder once its import ran; a file elsewhere is left alone.
fn forget_upload(api: &Api, path: &Path) {
    let root = uploads_dir(api);
    if let Some(dir) = path.parent()
        && dir.parent() == Some(root.as_path())
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}

// ---------------------------------------------------------------- import

/// Which kind of file `path` is, from its header alone; reads nothing else, writes nothing.
pub fn file_kind(api: &Api, request: &FileRequest) -> Result<FileKindView, ApiError> {
    required("a file", &request.path)?;
    let path = PathBuf::from(&request.path);
    let name = file_name(&path);
    let mut store = api.open()?;
    let refused = |e: ImportError| match e {
        ImportError::Store(e) => e.into(),
        other => ApiError::new(
            ApiErrorCode::Refused,
            with_name(other.to_string(), &path, &name),
        ),
    };
    let view = |kind, layout| FileKindView {
        name: name.clone(),
        kind: Some(kind),
        layout,
    };
    if let Some(report) = import::stripe_reports::recognise_file(&path).map_err(refused)? {
        return Ok(view(
            ImportKind::StripeReport,
            Some(report.name().to_string()),
        ));
    }
    let statement = import::bank::recognise_file(&path).map_err(refused)?;
    if let Some(format) = statement.as_deref().filter(|f| f.ends_with(" statement")) {
        return Ok(view(ImportKind::BankStatement, Some(format.to_string())));
    }
    let recognised = import::recognise_file(&mut store, &path).map_err(refused)?;
    if recognised.kind.is_none()
        && let Some(bank) = statement
    {
        return Ok(view(ImportKind::BankStatement, Some(bank)));
    }
    Ok(FileKindView {
        name,
        kind: recognised.kind.map(|k| match k {
            FileKind::Invoices => ImportKind::Invoices,
            FileKind::Payments => ImportKind::Payments,
            FileKind::StripePayments => ImportKind::StripePayments,
        }),
        layout: recognised.layout,
    })
}

/// The outcome of an import that had nothing to say yet.
fn blank_outcome(name: &str, dry_run: bool, zone: String) -> ImportOutcome {
    ImportOutcome {
        file: name.to_string(),
        dry_run,
        written: false,
        new: 0,
        changed: 0,
        unchanged: 0,
        message: String::new(),
        changed_rows: Vec::new(),
        changed_unlisted: 0,
        problems: Vec::new(),
        problems_more: 0,
        zone,
        recognised: None,
        skipped: Vec::new(),
        preview: Vec::new(),
    }
}

/// "name: refused for 2 problems, nothing was imported; fix them …".
fn refused_message(name: &str, total: u64) -> String {
    format!(
        "{name}: refused for {}, nothing was imported; fix {} in the file and import it again",
        if total == 1 {
            "1 problem".to_string()
        } else {
            format!("{} problems", import::thousands(total))
        },
        if total == 1 { "it" } else { "them" }
    )
}

/// A file refused for its rows: each problem with its line and column.
fn refused_rows(outcome: &mut ImportOutcome, errors: Vec<import::RowError>, more: u64) {
    let total = errors.len() as u64 + more;
    outcome.problems = errors
        .into_iter()
        .map(|e| ImportProblem {
            file: outcome.file.clone(),
            line: count32(e.line),
            column: Some(count32(e.column as u64)),
            column_name: e.column_name,
            value: e.value,
            reason: e.reason,
        })
        .collect();
    outcome.problems_more = count32(more);
    outcome.message = refused_message(&outcome.file, total);
}

/// The counts of an import as the screen words them.
fn counted(outcome: &mut ImportOutcome, counts: SourceCounts, what: &str) {
    outcome.written = !outcome.dry_run && counts.new + counts.changed > 0;
    outcome.new = count32(counts.new);
    outcome.changed = count32(counts.changed);
    outcome.unchanged = count32(counts.unchanged);
    outcome.message = format!(
        "{}: {} new, {} changed, {} unchanged{what}{}",
        outcome.file,
        import::thousands(counts.new),
        import::thousands(counts.changed),
        import::thousands(counts.unchanged),
        if outcome.dry_run {
            " (dry run: nothing was written)"
        } else {
            ""
        }
    );
}

/// A bank statement (OFX, camt.053, a bank's CSV) through the import screen.
fn import_statement(
    api: &Api,
    request: &ImportCsvRequest,
    path: &Path,
    name: &str,
) -> Result<ImportOutcome, ApiError> {
    let (mut store, defaults) = store_and_defaults(api)?;
    let currency = currency_of(request)?;
    let options = import::bank::BankOptions {
        currency,
        account: request
            .account
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string),
        dry_run: request.dry_run,
        ..import::bank::BankOptions::default()
    };
    let result = import::bank::import_bank_file(&mut store, path, &options, now());
    if !request.dry_run {
        forget_upload(api, path);
    }
    let mut outcome = blank_outcome(name, request.dry_run, defaults.zone_name);
    match result {
        Ok(report) => {
            counted(
                &mut outcome,
                report.counts,
                &format!(" bank lines ({})", report.accounts.join(", ")),
            );
            outcome.recognised = report.recognised.clone().or(Some(match report.format {
                "ofx" => "OFX statement".to_string(),
                other => format!("{other} statement"),
            }));
            if report.not_booked > 0 {
                outcome.skipped.push(format!(
                    "{} pending entries the bank has not booked were left out",
                    import::thousands(report.not_booked)
                ));
            }
            for c in report
                .balance_checks
                .iter()
                .filter(|c| c.difference_minor != 0)
            {
                outcome.skipped.push(format!(
                    "{}'s lines do not explain its statement's closing balance (a difference of {} minor units of {}): a line may be missing from the file",
                    c.account, c.difference_minor, c.currency
                ));
            }
            for gap in &report.coverage_gaps {
                outcome.skipped.push(gap.to_string());
            }
        }
        Err(ImportError::Statement {
            line,
            path: at,
            value,
            reason,
            ..
        }) => {
            outcome.problems.push(ImportProblem {
                file: name.to_string(),
                line: count32(line),
                column: None,
                column_name: at,
                value,
                reason,
            });
            outcome.message = refused_message(name, 1);
        }
        Err(ImportError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::invalid(with_name(e.to_string(), path, name))),
    }
    Ok(outcome)
}

/// One of Stripe's balance or payout files through the import screen.
fn import_report(
    api: &Api,
    request: &ImportCsvRequest,
    path: &Path,
    name: &str,
) -> Result<ImportOutcome, ApiError> {
    let (mut store, defaults) = store_and_defaults(api)?;
    let day_order = match request.dates.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("mdy") => Some(import::stripe_reports::DayOrder::MonthFirst),
        Some("dmy") => Some(import::stripe_reports::DayOrder::DayFirst),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "`{}` is no order of dates; choose month first (mdy) or day first (dmy)",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let options = import::stripe_reports::ReportOptions {
        zone: defaults.zone.clone(),
        day_order,
        dry_run: request.dry_run,
    };
    let result = import::stripe_reports::import_stripe_report(&mut store, path, &options, now());
    if !request.dry_run {
        forget_upload(api, path);
    }
    let mut outcome = blank_outcome(name, request.dry_run, defaults.zone_name);
    match result {
        Ok(report) => {
            let what = if report.payouts.new + report.payouts.changed + report.payouts.unchanged > 0
            {
                " payouts"
            } else {
                " balance transactions"
            };
            counted(&mut outcome, report.counts, what);
            outcome.recognised = Some(report.report.name().to_string());
        }
        Err(ImportError::Rows { errors, more, .. }) => refused_rows(&mut outcome, errors, more),
        Err(ImportError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::invalid(with_name(e.to_string(), path, name))),
    }
    Ok(outcome)
}

/// The store and the defaults Settings keep for imports (zone, currency).
fn store_and_defaults(
    api: &Api,
) -> Result<
    (
        chargeguard_core::store::Store,
        import::defaults::ImportDefaults,
    ),
    ApiError,
> {
    let mut store = api.open()?;
    let defaults =
        import::defaults::defaults(&mut store).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok((store, defaults))
}

/// The currency the request names, if any.
fn currency_of(
    request: &ImportCsvRequest,
) -> Result<Option<chargeguard_core::money::Currency>, ApiError> {
    request
        .currency
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|code| {
            chargeguard_core::money::Currency::from_code(code)
                .map_err(|e| ApiError::invalid(format!("{e}; type a code such as USD")))
        })
        .transpose()
}

/// Imports (or, with `dry_run`, tries) one CSV file; a refusal comes back as problems.
pub fn import_csv(api: &Api, request: &ImportCsvRequest) -> Result<ImportOutcome, ApiError> {
    required("a file", &request.path)?;
    let path = PathBuf::from(&request.path);
    let name = file_name(&path);
    let Some(kind) = kind_in(request.kind) else {
        return match request.kind {
            ImportKind::BankStatement => import_statement(api, request, &path, &name),
            _ => import_report(api, request, &path, &name),
        };
    };
    let (mut store, defaults) = store_and_defaults(api)?;
    let currency = currency_of(request)?.or(defaults.currency);
    let zone_name = defaults.zone_name;
    let zone = defaults.zone;
    let mapping = match request.mapping.as_deref().filter(|m| !m.trim().is_empty()) {
        Some(name) => Some(
            import::resolve_mapping(&mut store, name)
                .map_err(|e| ApiError::invalid(e.to_string()))?,
        ),
        None => None,
    };
    let options = ImportOptions {
        dry_run: request.dry_run,
        zone,
        mapping,
        from: request.from.clone().filter(|f| !f.trim().is_empty()),
        currency,
    };
    let result = import::import_file(&mut store, kind, &path, &options, now());
    if !request.dry_run {
        forget_upload(api, &path);
    }
    let mut outcome = blank_outcome(&name, request.dry_run, zone_name);
    match result {
        Ok(report) => {
            outcome.written = report.source_id.is_some();
            outcome.new = count32(report.counts.new);
            outcome.changed = count32(report.counts.changed);
            outcome.unchanged = count32(report.counts.unchanged);
            outcome.message = format!(
                "{name}: {} new, {} changed, {} unchanged{}",
                import::thousands(report.counts.new),
                import::thousands(report.counts.changed),
                import::thousands(report.counts.unchanged),
                if report.dry_run {
                    " (dry run: nothing was written)"
                } else {
                    ""
                }
            );
            outcome.changed_rows = report
                .changed
                .iter()
                .map(|row| {
                    let text = row.to_string();
                    let changes = text
                        .split_once(": ")
                        .map_or(text.clone(), |(_, c)| c.to_string());
                    ChangedRowView {
                        line: count32(row.line),
                        key: row.key.clone(),
                        changes,
                    }
                })
                .collect();
            outcome.changed_unlisted = count32(report.changed_unlisted);
            outcome.recognised = report.recognised.clone();
            outcome.skipped = report.skipped.iter().map(|s| s.to_string()).collect();
            outcome.preview = report.preview.clone();
        }
        Err(ImportError::Rows { errors, more, .. }) => refused_rows(&mut outcome, errors, more),
        Err(ImportError::MissingColumns {
            missing,
            ambiguous,
            found,
            layouts,
            ..
        }) => {
            let known = layouts.known;
            outcome.recognised = layouts.read_as;
            let found_text = if found.is_empty() {
                "none (the file is empty)".to_string()
            } else {
                found.join(", ")
            };
            let column_problem = |column_name: String, reason: String| ImportProblem {
                file: name.clone(),
                line: 1,
                column: None,
                column_name,
                value: String::new(),
                reason,
            };
            outcome.problems = missing
                .into_iter()
                .map(|m| {
                    column_problem(
                        m,
                        format!("the header has no such column (it has: {found_text}); rename the header, or map it in a column mapping"),
                    )
                })
                .chain(ambiguous.into_iter().map(|a| {
                    column_problem(
                        a,
                        "more than one header could be this column; rename one of them".into(),
                    )
                }))
                .collect();
            outcome.message = if known.is_empty() {
                format!(
                    "{name}: the columns do not match this kind of file, nothing was imported; pick another kind, or a column mapping"
                )
            } else {
                format!(
                    "{name}: the columns do not match this kind of file, nor any app's layout Chargeguard knows, nothing was imported; pick another kind or a column mapping (layouts known: {})",
                    known.join(", ")
                )
            };
        }
        // Only a bank statement import refuses with these; the screen's CSV kinds never do.
        Err(
            e @ (ImportError::UnknownLayout { .. }
            | ImportError::Setting { .. }
            | ImportError::Statement { .. }
            | ImportError::NotABankStatement { .. }),
        ) => {
            return Err(ApiError::invalid(e.to_string()));
        }
        Err(ImportError::Store(e)) => return Err(e.into()),
        Err(e @ ImportError::Mapping(_)) => return Err(ApiError::invalid(e.to_string())),
        Err(e @ ImportError::Io { .. }) => {
            return Err(ApiError::new(
                ApiErrorCode::Refused,
                with_name(e.to_string(), &path, &name),
            ));
        }
    }
    Ok(outcome)
}

// ---------------------------------------------------------------- mappings

/// Every saved mapping, by name.
pub fn mappings_list(api: &Api) -> Result<Vec<MappingSummary>, ApiError> {
    let mut store = api.open()?;
    let all = store.read(|tx| tx.mappings())?;
    Ok(all
        .into_iter()
        .filter_map(|(name, layout)| {
            MappingLayout::parse(&layout).map(|l| MappingSummary {
                name,
                layout: layout_out(l),
            })
        })
        .collect())
}

/// One saved mapping, as the form edits it.
pub fn mapping_get(api: &Api, request: &MappingNameRequest) -> Result<MappingView, ApiError> {
    required("a mapping name", &request.name)?;
    let mut store = api.open()?;
    let saved = store.read(|tx| tx.mapping(request.name.trim()))?;
    let saved = saved.ok_or_else(|| {
        ApiError::new(
            ApiErrorCode::NotFound,
            format!("no mapping is saved as `{}`; reload the list", request.name),
        )
    })?;
    let mapping = ColumnMapping::from_toml(&saved.definition)
        .map_err(|e| ApiError::internal(format!("the saved mapping `{}`: {e}", saved.name)))?;
    Ok(MappingView {
        name: saved.name,
        draft: draft_of(&mapping),
    })
}

/// Saves a mapping under a name (replacing one of that name), checked by the core first.
pub fn mapping_save(api: &Api, request: &MappingSaveRequest) -> Result<MappingView, ApiError> {
    let mapping = mapping_of(&request.draft)?;
    let name = core_mapping::check_name(&request.name)
        .map_err(|e| ApiError::invalid(e.to_string()))?
        .to_string();
    let mut store = api.open()?;
    // The form shows columns and values only: what else a saved mapping says stays.
    let saved = store.read(|tx| tx.mapping(&name))?;
    let mapping = match saved.and_then(|s| ColumnMapping::from_toml(&s.definition).ok()) {
        Some(saved) => mapping.keeping_beyond_the_form(&saved),
        None => mapping,
    };
    import::save_mapping(&mut store, &name, &mapping).map_err(|e| match e {
        ImportError::Store(s) => ApiError::from(s),
        other => ApiError::invalid(other.to_string()),
    })?;
    Ok(MappingView {
        name,
        draft: draft_of(&mapping),
    })
}

/// The first rows of a file as a draft mapping (or a layout as documented) reads them.
pub fn mapping_preview(
    _api: &Api,
    request: &MappingPreviewRequest,
) -> Result<MappingPreviewView, ApiError> {
    required("a file", &request.path)?;
    let mapping = mapping_of(&request.draft)?;
    let path = Path::new(&request.path);
    let preview = core_mapping::preview(path, &mapping, PREVIEW_ROWS).map_err(|e| match e {
        ImportError::Store(s) => ApiError::from(s),
        other => ApiError::new(
            ApiErrorCode::Refused,
            with_name(other.to_string(), path, &file_name(path)),
        ),
    })?;
    Ok(preview_out(preview))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::plain("invoices.csv", "invoices.csv")]
    #[case::a_windows_path("C:\\Users\\kim\\Oct invoices.csv", "Oct invoices.csv")]
    #[case::climbing_out("../../etc/passwd", "passwd")]
    #[case::hidden(".bashrc", "bashrc")]
    #[case::nothing_left("../", "upload.csv")]
    #[case::odd_characters("a;b$c.csv", "a_b_c.csv")]
    fn an_uploaded_file_keeps_only_a_safe_last_name(#[case] given: &str, #[case] kept: &str) {
        assert_eq!(safe_name(given), kept);
    }
}
