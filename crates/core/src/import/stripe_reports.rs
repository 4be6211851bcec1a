//! Stripe's balance and payout files, for users who do not connect the API: each is told
//! from its header and read into the same payouts and balance transactions a sync stores.
//!
//! The files, as Stripe writes them (see `tests/fixtures/stripe-reports/SOURCES.md`):
//! - the Dashboard's **balance history** export (`id, Type, Source, Amount, Fee, Net,
//!   Currency, Created (UTC), Available On (UTC), …, Transfer, …`): balance transactions,
//!   a payout's own negative; `Transfer` is the payout that swept the row;
//! - the Dashboard's **payouts** export (`id, Amount, Created (UTC), Currency, …, Arrival
//!   Date (UTC), …, Status, …, Method, …, Failure Code, …`): payouts, positive;
//! - the **itemized balance change from activity** report (`balance_transaction_id,
//!   created_utc, …, gross, fee, net, reporting_category, …`) and the **itemized payout
//!   reconciliation** report (the same with `automatic_payout_id`): balance transactions,
//!   the report's `reporting_category` kept as their kind; a payout reconciliation report
//!   lists every transaction of each payout it names, so those payouts count as listed;
//! - the **itemized payouts** report (`payout_id, effective_at_utc, …, gross, …,
//!   payout_expected_arrival_date, payout_status, …`): payouts.
//!
//! Columns are found by name, never by position (Stripe's own files differ from its docs),
//! and unknown ones are ignored. A `*_utc` column is preferred to its twin in the report's
//! time zone, which is read in the import's zone. A report with no rows imports nothing
//! and is no error. Files that went through a spreadsheet (`6/22/2026 0:08`, `-771.5`, a
//! decimal comma) are read when the whole file admits one reading, and refused naming
//! what is ambiguous and the option that settles it otherwise. Like every import: one
//! transaction, idempotent, every bad row named by line and column, nothing stored on a
//! refusal. It never decides what a row means for the books.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ImportError, MAX_ROW_ERRORS, RowError};
use crate::dates;
use crate::money::{Currency, Money, Sign};
use crate::records::{BalanceTransaction, Origin, Payout, PayoutStatus};
use crate::store::{SourceCounts, SourceKind, Store, StoreError};

/// The gateway these rows are filed under: the one sync fills.
const GATEWAY: &str = super::stripe_payments::GATEWAY;

/// Which of Stripe's files a header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StripeReport {
    BalanceHistory,
    PayoutsExport,
    BalanceChangeItemized,
    PayoutReconciliationItemized,
    PayoutsItemized,
}

impl StripeReport {
    pub fn name(self) -> &'static str {
        match self {
            StripeReport::BalanceHistory => "Stripe balance history export",
            StripeReport::PayoutsExport => "Stripe payouts export",
            StripeReport::BalanceChangeItemized => {
                "Stripe itemized balance change from activity report"
            }
            StripeReport::PayoutReconciliationItemized => {
                "Stripe itemized payout reconciliation report"
            }
            StripeReport::PayoutsItemized => "Stripe itemized payouts report",
        }
    }

    fn writes_payouts(self) -> bool {
        matches!(
            self,
            StripeReport::PayoutsExport | StripeReport::PayoutsItemized
        )
    }
}

/// Says which of Stripe's balance and payout files a header is, if any (names compared
/// without case).
pub fn recognise(names: &[String]) -> Option<StripeReport> {
    let lower: BTreeSet<String> = names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let has = |n: &str| lower.contains(n);
    if has("id") && has("arrival date (utc)") && has("amount") && has("status") {
        return Some(StripeReport::PayoutsExport);
    }
    if has("id") && has("available on (utc)") && has("net") && has("type") {
        return Some(StripeReport::BalanceHistory);
    }
    if has("payout_id") && (has("payout_status") || has("payout_expected_arrival_date")) {
        return Some(StripeReport::PayoutsItemized);
    }
    if has("balance_transaction_id") && has("net") && has("reporting_category") {
        return Some(
            if has("automatic_payout_id") && first_is(names, "automatic_payout_id") {
                StripeReport::PayoutReconciliationItemized
            } else {
                StripeReport::BalanceChangeItemized
            },
        );
    }
    None
}

fn first_is(names: &[String], name: &str) -> bool {
    names
        .first()
        .is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
}

/// Which of Stripe's balance and payout files `path` is, from its header; `None` for any
/// other file (the payments export among them).
pub fn recognise_file(path: &Path) -> Result<Option<StripeReport>, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    // Only the header matters, and a file that is not UTF-8 is not one of these.
    let head = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    };
    let first = head
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or_default();
    let names: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(first.as_bytes())
        .records()
        .next()
        .and_then(Result::ok)
        .map(|r| r.iter().map(|n| n.trim().to_string()).collect())
        .unwrap_or_default();
    Ok(recognise(&names))
}

/// How dates written without a year first are to be read (`6/22/2026` after a
/// spreadsheet): only needed when the file admits both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayOrder {
    MonthFirst,
    DayFirst,
}

/// How to read a Stripe report.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The zone of columns written in the report's time zone (`created`, not `created_utc`).
    pub zone: TimeZone,
    pub day_order: Option<DayOrder>,
    pub dry_run: bool,
}

/// What importing a Stripe report did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportImport {
    pub file: PathBuf,
    pub report: StripeReport,
    /// Payouts and balance transactions together.
    pub counts: SourceCounts,
    pub payouts: SourceCounts,
    pub balance_transactions: SourceCounts,
    pub dry_run: bool,
    pub content_sha256: String,
}

impl fmt::Display for ReportImport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let thousands = super::thousands;
        let (what, c) = if self.report.writes_payouts() {
            ("payouts", self.payouts)
        } else {
            ("balance transactions", self.balance_transactions)
        };
        write!(
            f,
            "{} ({}): {} new, {} changed, {} unchanged {what}{}",
            self.file.display(),
            self.report.name(),
            thousands(c.new),
            thousands(c.changed),
            thousands(c.unchanged),
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        )
    }
}

/// One row read, before it meets the store.
enum Row {
    Payout(Payout),
    Transaction(BalanceTransaction),
}

/// Imports one of Stripe's balance or payout files, recognised by its header.
pub fn import_stripe_report(
    store: &mut Store,
    path: &Path,
    options: &ReportOptions,
    now: Timestamp,
) -> Result<ReportImport, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let table = Table::read(&bytes, path)?;
    let report = recognise(&table.names).ok_or_else(|| ImportError::Setting {
        detail: format!(
            "{}: the header is none of Stripe's balance or payout files Chargeguard reads (the balance history and payouts exports, the itemized balance change, payout reconciliation and payouts reports); found columns: {}",
            path.display(),
            table
                .names
                .iter()
                .map(|n| super::clip(n))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })?;
    let reading = Reading::of(&table, report, options, path)?;
    let mut rows = Vec::with_capacity(table.rows.len());
    let mut errors = Vec::new();
    let mut more = 0u64;
    // A file lists each object once; a second row of the same id would make the file
    // disagree with itself, and importing it twice change the store twice.
    let mut lines_of: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for record in &table.rows {
        let read = reading.row(record, report).and_then(|row| match row {
            Some(row) => {
                let id = match &row {
                    Row::Payout(p) => &p.id,
                    Row::Transaction(t) => &t.id,
                };
                match lines_of.insert(id.clone(), record.line) {
                    Some(first) => Err(reading.refuse(
                        record,
                        reading.id,
                        format!("line {first} has the same id; a file lists each once"),
                    )),
                    None => Ok(Some(row)),
                }
            }
            None => Ok(None),
        });
        match read {
            Ok(Some(row)) => rows.push((row, record.line)),
            Ok(None) => {}
            Err(e) if errors.len() < MAX_ROW_ERRORS => errors.push(e),
            Err(_) => more += 1,
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Rows {
            file: path.to_path_buf(),
            errors,
            more,
        });
    }
    let listed: BTreeSet<&str> = if report == StripeReport::PayoutReconciliationItemized {
        rows.iter()
            .filter_map(|(r, _)| match r {
                Row::Transaction(t) => t.payout.as_deref(),
                Row::Payout(_) => None,
            })
            .collect()
    } else {
        BTreeSet::new()
    };
    let origin_name = path.display().to_string();
    let written = store.write(|tx| -> Result<ReportImport, Abort> {
        let source = tx.begin_source(SourceKind::StripeExport, &origin_name, Some(&sha256), now)?;
        let mut payouts = SourceCounts::default();
        let mut transactions = SourceCounts::default();
        for (row, line) in &rows {
            let origin = Origin {
                source_id: source,
                line: Some(*line),
            };
            // What a sync stored is the gateway's own word: a file never overwrites it (its
            // minutes-only times and the columns it lacks would read as changes, and a
            // payout the sync follows would stop being followed).
            match row {
                Row::Payout(p)
                    if tx.stored_from(GATEWAY, "payout", &p.id)?.as_deref()
                        == Some(SourceKind::StripeSync.as_str()) =>
                {
                    payouts.unchanged += 1;
                }
                Row::Payout(p) => payouts.tally(&tx.upsert_payout(GATEWAY, p, &origin)?.outcome),
                Row::Transaction(t) => {
                    match tx
                        .stored_from(GATEWAY, "balance_transaction", &t.id)?
                        .as_deref()
                    {
                        Some(kind) if kind == SourceKind::StripeSync.as_str() => {
                            transactions.unchanged += 1;
                        }
                        stored => {
                            let t = match stored {
                                Some(_) => with_what_the_file_lacks(tx, t, &reading, report)?,
                                None => t.clone(),
                            };
                            transactions.tally(
                                &tx.upsert_balance_transaction(GATEWAY, &t, &origin)?.outcome,
                            )
                        }
                    }
                }
            }
        }
        // A payout newly known to be complete is news, even when each of its transactions
        // was stored before.
        let mut completed = 0;
        for payout in &listed {
            if tx.mark_payout_transactions_listed(GATEWAY, payout)? {
                completed += 1;
            }
        }
        let mut counts = payouts;
        counts.add(transactions);

        tx.finish_source(source, counts)?;
        let done = ReportImport {
            file: path.to_path_buf(),
            report,
            counts,
            payouts,
            balance_transactions: transactions,
            dry_run: options.dry_run,
            content_sha256: sha256.clone(),
        };
        if options.dry_run || (counts.new == 0 && counts.changed == 0 && completed == 0) {
            // A dry run, or nothing new: roll back, so not even the source is recorded.
            return Err(Abort::RollBack(Box::new(done)));
        }
        Ok(done)
    });
    match written {
        Ok(done) => Ok(done),
        Err(Abort::RollBack(done)) => Ok(*done),
        Err(Abort::Store(e)) => Err(e.into()),
    }
}

/// A transaction a report brings again, with what the report has no column for (its
/// source, the payout that took it) and its kind as stored before: an itemized report's
/// `reporting_category` does not replace the `type` a balance history export gave it.
fn with_what_the_file_lacks(
    tx: &crate::store::StoreTx<'_>,
    t: &BalanceTransaction,
    reading: &Reading<'_>,
    report: StripeReport,
) -> Result<BalanceTransaction, StoreError> {
    let Some(stored) = tx.balance_transaction(GATEWAY, &t.id)? else {
        return Ok(t.clone());
    };
    let itemized = matches!(
        report,
        StripeReport::BalanceChangeItemized | StripeReport::PayoutReconciliationItemized
    );
    Ok(BalanceTransaction {
        kind: if itemized {
            stored.kind
        } else {
            t.kind.clone()
        },
        source: if reading.source.is_some() {
            t.source.clone()
        } else {
            stored.source
        },
        payout: if reading.payout.is_some() {
            t.payout.clone()
        } else {
            stored.payout
        },
        ..t.clone()
    })
}

enum Abort {
    RollBack(Box<ReportImport>),
    Store(StoreError),
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Abort::Store(e)
    }
}

/// The file's header and rows, as text.
struct Table {
    names: Vec<String>,
    rows: Vec<Record>,
}

struct Record {
    line: u64,
    cells: Vec<String>,
}

impl Table {
    fn read(bytes: &[u8], path: &Path) -> Result<Table, ImportError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ImportError::Setting {
            detail: format!(
                "{}: byte {} is not UTF-8, which Stripe's files always are; download the file from Stripe again rather than saving it from a spreadsheet",
                path.display(),
                e.valid_up_to()
            ),
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(text.as_bytes());
        let bad = |e: csv::Error| ImportError::Setting {
            detail: format!(
                "{}: not a CSV file Chargeguard can read: {e}",
                path.display()
            ),
        };
        let names: Vec<String> = reader
            .headers()
            .map_err(bad)?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(bad)?;
            let line = record.position().map_or(0, |p| p.line());
            let cells: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
            if cells.iter().all(String::is_empty) {
                continue;
            }
            rows.push(Record { line, cells });
        }
        Ok(Table { names, rows })
    }

    fn column(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|want| self.names.iter().position(|n| n.eq_ignore_ascii_case(want)))
    }
}

/// Where each field is, and how the whole file's dates and amounts are written.
struct Reading<'a> {
    path: &'a Path,
    names: &'a [String],
    id: usize,
    currency: usize,
    amount: usize,
    fee: Option<usize>,
    net: Option<usize>,
    kind: Option<usize>,
    source: Option<usize>,
    payout: Option<usize>,
    created: When,
    /// When money is available (transactions) or reaches the bank (payouts).
    later: Option<When>,
    status: Option<usize>,
    method: Option<usize>,
    failure_code: Option<usize>,
    dates: DateForm,
    decimal: char,
    /// The zone of the columns in the report's time zone.
    local_zone: TimeZone,
}

/// A date column and the zone its values are in.
#[derive(Clone, Copy)]
struct When {
    column: usize,
    utc: bool,
}

/// How the file writes dates: ISO (`2026-06-22 00:08`), or as a spreadsheet rewrote them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DateForm {
    Iso,
    Slashed(DayOrder),
}

impl<'a> Reading<'a> {
    fn of(
        table: &'a Table,
        report: StripeReport,
        options: &ReportOptions,
        path: &'a Path,
    ) -> Result<Reading<'a>, ImportError> {
        let missing = |what: &[&str]| ImportError::MissingColumns {
            file: path.to_path_buf(),
            missing: vec![what.join(" or ")],
            ambiguous: Vec::new(),
            found: table.names.clone(),
            layouts: Box::new(super::LayoutsTried {
                read_as: Some(report.name().to_string()),
                known: Vec::new(),
            }),
        };
        let need = |names: &[&str]| table.column(names).ok_or_else(|| missing(names));
        let when = |utc: &str, local: &str| {
            table
                .column(&[utc])
                .map(|column| When { column, utc: true })
                .or_else(|| {
                    table.column(&[local]).map(|column| When {
                        column,
                        utc: utc == local,
                    })
                })
        };
        let need_when =
            |utc: &str, local: &str| when(utc, local).ok_or_else(|| missing(&[utc, local]));
        let opt = |names: &[&str]| table.column(names);
        let mut reading = match report {
            StripeReport::BalanceHistory => Reading {
                id: need(&["id"])?,
                currency: need(&["Currency"])?,
                amount: need(&["Amount"])?,
                fee: Some(need(&["Fee"])?),
                net: Some(need(&["Net"])?),
                kind: Some(need(&["Type"])?),
                source: opt(&["Source"]),
                payout: opt(&["Transfer"]),
                created: need_when("Created (UTC)", "Created (UTC)")?,
                later: when("Available On (UTC)", "Available On (UTC)"),
                status: None,
                method: None,
                failure_code: None,
                ..Reading::blank(path, &table.names)
            },
            StripeReport::PayoutsExport => Reading {
                id: need(&["id"])?,
                currency: need(&["Currency"])?,
                amount: need(&["Amount"])?,
                created: need_when("Created (UTC)", "Created (UTC)")?,
                later: Some(need_when("Arrival Date (UTC)", "Arrival Date (UTC)")?),
                status: Some(need(&["Status"])?),
                method: opt(&["Method"]),
                failure_code: opt(&["Failure Code"]),
                ..Reading::blank(path, &table.names)
            },
            StripeReport::BalanceChangeItemized | StripeReport::PayoutReconciliationItemized => {
                Reading {
                    id: need(&["balance_transaction_id"])?,
                    currency: need(&["currency"])?,
                    amount: need(&["gross"])?,
                    fee: Some(need(&["fee"])?),
                    net: Some(need(&["net"])?),
                    kind: Some(need(&["reporting_category"])?),
                    source: opt(&["source_id"]),
                    payout: opt(&["automatic_payout_id"]),
                    created: need_when("created_utc", "created")?,
                    later: when("available_on_utc", "available_on"),
                    ..Reading::blank(path, &table.names)
                }
            }
            StripeReport::PayoutsItemized => Reading {
                id: need(&["payout_id"])?,
                currency: need(&["currency"])?,
                amount: need(&["gross"])?,
                created: need_when("effective_at_utc", "effective_at")?,
                // Stripe writes it at midnight of the day, in no zone but UTC.
                later: Some(need_when(
                    "payout_expected_arrival_date",
                    "payout_expected_arrival_date",
                )?),
                status: Some(need(&["payout_status"])?),
                kind: opt(&["reporting_category"]),
                ..Reading::blank(path, &table.names)
            },
        };
        reading.dates = reading.date_form(table, options)?;
        reading.decimal = reading.decimal_mark(table)?;
        reading.local_zone = options.zone.clone();
        Ok(reading)
    }

    fn blank(path: &'a Path, names: &'a [String]) -> Reading<'a> {
        Reading {
            path,
            names,
            id: 0,
            currency: 0,
            amount: 0,
            fee: None,
            net: None,
            kind: None,
            source: None,
            payout: None,
            created: When {
                column: 0,
                utc: true,
            },
            later: None,
            status: None,
            method: None,
            failure_code: None,
            dates: DateForm::Iso,
            decimal: '.',
            local_zone: TimeZone::UTC,
        }
    }

    /// ISO dates as Stripe writes them, or one reading of a spreadsheet's `6/22/2026 0:08`
    /// for the whole file: month first or day first, whichever every date admits; when
    /// every date admits both, the option decides, and without it the file is refused.
    fn date_form(&self, table: &Table, options: &ReportOptions) -> Result<DateForm, ImportError> {
        let columns: Vec<usize> = std::iter::once(self.created.column)
            .chain(self.later.map(|w| w.column))
            .collect();
        let values: Vec<&str> = table
            .rows
            .iter()
            .flat_map(|r| columns.iter().filter_map(|&c| r.cells.get(c)))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .collect();
        if !values.iter().any(|v| v.contains('/')) {
            return Ok(DateForm::Iso);
        }
        let fits = |order: DayOrder| values.iter().all(|v| slashed(v, order).is_some());
        match (
            fits(DayOrder::MonthFirst),
            fits(DayOrder::DayFirst),
            options.day_order,
        ) {
            (true, false, _) => Ok(DateForm::Slashed(DayOrder::MonthFirst)),
            (false, true, _) => Ok(DateForm::Slashed(DayOrder::DayFirst)),
            (true, true, Some(order)) => Ok(DateForm::Slashed(order)),
            (true, true, None) => Err(ImportError::Setting {
                detail: format!(
                    "{}: its dates were rewritten by a spreadsheet ({}), and every one of them reads both month first and day first; say which (--dates mdy or --dates dmy, or the Import screen's date order), or download the file from Stripe again",
                    self.path.display(),
                    super::clip(values[0])
                ),
            }),
            (false, false, _) => Ok(DateForm::Iso),
        }
    }

    /// `.` as Stripe writes amounts, or `,` where a locale's export writes `-75,57`: the
    /// one mark every amount of the file reads with.
    fn decimal_mark(&self, table: &Table) -> Result<char, ImportError> {
        let columns: Vec<usize> = [Some(self.amount), self.fee, self.net]
            .into_iter()
            .flatten()
            .collect();
        let reads_with = |mark: char| {
            table.rows.iter().all(|r| {
                let Some(currency) = r
                    .cells
                    .get(self.currency)
                    .and_then(|c| Currency::from_code(c).ok())
                else {
                    return true;
                };
                columns.iter().all(|&c| match r.cells.get(c) {
                    Some(v) if !v.is_empty() => {
                        Money::parse_written(v, currency, Sign::Any, mark).is_ok()
                    }
                    _ => true,
                })
            })
        };
        Ok(if reads_with('.') || !reads_with(',') {
            '.'
        } else {
            ','
        })
    }

    fn cell<'r>(&self, record: &'r Record, column: usize) -> &'r str {
        record.cells.get(column).map_or("", String::as_str)
    }

    /// A refused cell. The refusal's words quote the file's text (a header, a value in a
    /// reason) cut short, however long it is; `value` keeps the cell whole.
    fn refuse(&self, record: &Record, column: usize, reason: impl Into<String>) -> RowError {
        let reason: String = reason.into();
        RowError {
            file: self.path.to_path_buf(),
            line: record.line,
            column: column + 1,
            column_name: self
                .names
                .get(column)
                .map(|n| super::clip(n).into_owned())
                .unwrap_or_default(),
            value: self.cell(record, column).to_string(),
            reason: super::clip_quoted(&reason)
                .split(' ')
                .map(super::clip)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    fn text(&self, record: &Record, column: Option<usize>) -> Option<String> {
        column
            .map(|c| self.cell(record, c))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    fn money(&self, record: &Record, column: usize, currency: Currency) -> Result<Money, RowError> {
        Money::parse_written(self.cell(record, column), currency, Sign::Any, self.decimal)
            .map_err(|e| self.refuse(record, column, e.to_string()))
    }

    fn instant(&self, record: &Record, when: When, zone: &TimeZone) -> Result<Timestamp, RowError> {
        let text = self.cell(record, when.column);
        let zone = if when.utc { &TimeZone::UTC } else { zone };
        let read = match self.dates {
            DateForm::Iso => dates::parse_instant(text, zone).map_err(|e| e.to_string()),
            DateForm::Slashed(order) => slashed(text, order)
                .ok_or_else(|| "not a date in the form the rest of the file uses".to_string())
                .and_then(|civil| {
                    zone.to_ambiguous_zoned(civil)
                        .unambiguous()
                        .map(|z| z.timestamp())
                        .map_err(|e| e.to_string())
                }),
        };
        read.map_err(|reason| self.refuse(record, when.column, reason))
    }

    fn row(&self, record: &Record, report: StripeReport) -> Result<Option<Row>, RowError> {
        let id = self.cell(record, self.id);
        if id.is_empty() {
            return Err(self.refuse(record, self.id, "the row has no id"));
        }
        let currency = Currency::from_code(self.cell(record, self.currency))
            .map_err(|e| self.refuse(record, self.currency, e.to_string()))?;
        let amount = self.money(record, self.amount, currency)?;
        // A `*_utc` column is UTC; the option's zone is only for the local twins.
        let zone = &self.local_zone;
        let created = self.instant(record, self.created, zone)?;
        let later = self
            .later
            .filter(|w| !self.cell(record, w.column).is_empty())
            .map(|w| self.instant(record, w, zone))
            .transpose()?;
        if report.writes_payouts() {
            // The payouts report writes a failed payout's return as a second row of the
            // same payout (`payout_reversal`); the payout's own row says it failed.
            if self
                .text(record, self.kind)
                .is_some_and(|k| !k.eq_ignore_ascii_case("payout"))
            {
                return Ok(None);
            }
            let status_column = self.status.expect("payout files have a status");
            let status_text = self.cell(record, status_column);
            let status = PayoutStatus::parse(status_text).ok_or_else(|| {
                self.refuse(
                    record,
                    status_column,
                    "not a payout status Stripe writes (paid, pending, in_transit, canceled, failed)",
                )
            })?;
            let arrival = later.ok_or_else(|| {
                self.refuse(
                    record,
                    self.later.map_or(self.id, |w| w.column),
                    "a payout needs its arrival date",
                )
            })?;
            let instant = self
                .text(record, self.method)
                .is_some_and(|m| m.eq_ignore_ascii_case("instant"));
            return Ok(Some(Row::Payout(Payout {
                id: id.to_string(),
                amount,
                status,
                // The files do not say; an instant payout is always asked for by hand.
                automatic: !instant,
                created,
                arrival_date: arrival,
                failure_code: self.text(record, self.failure_code),
            })));
        }
        let fee_column = self.fee.expect("transaction files have a fee");
        let net_column = self.net.expect("transaction files have a net");
        let fee = if self.cell(record, fee_column).is_empty() {
            Money::zero(currency)
        } else {
            self.money(record, fee_column, currency)?
        };
        let net = self.money(record, net_column, currency)?;
        if amount.checked_sub(fee).ok() != Some(net) {
            return Err(self.refuse(
                record,
                net_column,
                format!(
                    "the net is not the amount {} less the fee {}; the row does not add up",
                    amount.to_decimal_string(),
                    fee.to_decimal_string()
                ),
            ));
        }
        let kind = self
            .text(record, self.kind)
            .unwrap_or_else(|| "unknown".into());
        let payout = self
            .text(record, self.payout)
            .filter(|p| p.starts_with("po_"));
        Ok(Some(Row::Transaction(BalanceTransaction {
            id: id.to_string(),
            kind,
            amount,
            fee,
            net,
            created,
            available_on: later.unwrap_or(created),
            source: self.text(record, self.source),
            payout,
        })))
    }
}

/// `6/22/2026 0:08` or `22/06/2026 00:08:00` (a date, optionally a time) in `order`.
fn slashed(text: &str, order: DayOrder) -> Option<jiff::civil::DateTime> {
    let (date, time) = match text.trim().split_once(' ') {
        Some((d, t)) => (d, Some(t.trim())),
        None => (text.trim(), None),
    };
    let mut parts = date.split('/');
    let (a, b, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 {
        return None;
    }
    let (month, day) = match order {
        DayOrder::MonthFirst => (a, b),
        DayOrder::DayFirst => (b, a),
    };
    let date =
        jiff::civil::Date::new(y.parse().ok()?, month.parse().ok()?, day.parse().ok()?).ok()?;
    let time = match time {
        None => jiff::civil::Time::midnight(),
        Some(t) => {
            let mut hms = t.split(':');
            let h: i8 = hms.next()?.parse().ok()?;
            let m: i8 = hms.next()?.parse().ok()?;
            let s: i8 = hms.next().map_or(Some(0), |s| s.parse().ok())?;
            jiff::civil::Time::new(h, m, s, 0).ok()?
        }
    };
    Some(date.to_datetime(time))
}
