//! One row's cells, read as the values our records hold: text, money, currencies, dates.
//!
//! Every problem is noted as a row error at its own line and column, with the value and a
//! reason that says what to write instead; a row with any refused cell is refused whole.
//! Amounts go through [`Money::parse`] only (never a float), dates through
//! [`dates::parse_instant`].

use std::path::{Path, PathBuf};

use csv::StringRecord;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::RowError;
use super::columns::{Col, Columns};
use crate::dates;
use crate::money::{Currency, Money, MoneyError, Sign};

pub(crate) struct Cells<'r> {
    record: &'r StringRecord,
    pub line: u64,
    columns: &'r Columns,
    errors: &'r mut RowErrors,
    failed: bool,
}

impl<'r> Cells<'r> {
    pub fn new(
        record: &'r StringRecord,
        line: u64,
        columns: &'r Columns,
        errors: &'r mut RowErrors,
    ) -> Self {
        Cells {
            record,
            line,
            columns,
            errors,
            failed: false,
        }
    }

    /// The trimmed text of a column, after the mapping's value translation.
    pub fn text(&self, col: Col) -> &'r str {
        self.columns.text(self.record, col)
    }

    /// The text, or `None` when the cell is empty.
    pub fn optional(&self, col: Col) -> Option<&'r str> {
        Some(self.text(col)).filter(|t| !t.is_empty())
    }

    /// A text that must not be empty (an id, a number).
    pub fn required(&mut self, col: Col, what: &str) -> Option<&'r str> {
        let text = self.text(col);
        if text.is_empty() {
            self.fail(col, format!("the {what} is empty; every row needs one"));
            return None;
        }
        Some(text)
    }

    /// A currency code, looked up through `cache`.
    pub fn currency(&mut self, col: Col, cache: &mut CurrencyCache) -> Option<Currency> {
        let text = self.text(col);
        match cache.get(text) {
            Ok(c) => Some(c),
            Err(MoneyError::UnknownCurrency(_)) if text.is_empty() => {
                self.fail(
                    col,
                    "the currency is empty; write an ISO 4217 code such as USD",
                );
                None
            }
            Err(e) => {
                self.fail(
                    col,
                    format!("{e}; write an ISO 4217 code such as USD, EUR or JPY"),
                );
                None
            }
        }
    }

    /// An amount in `currency`'s major unit.
    pub fn money(&mut self, col: Col, currency: Currency, sign: Sign) -> Option<Money> {
        let result = Money::parse(self.text(col), currency, sign);
        self.money_result(col, result)
    }

    /// An amount written for people (`$1,020.00`), with `decimal` as its decimal mark.
    pub fn written_money(
        &mut self,
        col: Col,
        currency: Currency,
        sign: Sign,
        decimal: char,
    ) -> Option<Money> {
        let result = Money::parse_written(self.text(col), currency, sign, decimal);
        self.money_result(col, result)
    }

    fn money_result(&mut self, col: Col, result: Result<Money, MoneyError>) -> Option<Money> {
        match result {
            Ok(m) => Some(m),
            Err(e) => {
                let advice = match e {
                    MoneyError::Empty => "; every row needs one (write 0 for nothing)",
                    MoneyError::TooPrecise { .. } => "; write the exact amount the document shows",
                    MoneyError::Negative { .. } => "; amounts here are never below zero",
                    _ => "",
                };
                self.fail(col, format!("{e}{advice}"));
                None
            }
        }
    }

    /// An instant; text without an offset is read in `zone`.
    pub fn instant(&mut self, col: Col, zone: &TimeZone) -> Option<Timestamp> {
        self.instant_from(col, |text| dates::parse_instant(text, zone))
    }

    /// An instant read by `parse`, with the error reported at `col`.
    pub fn instant_from(
        &mut self,
        col: Col,
        parse: impl FnOnce(&str) -> Result<Timestamp, dates::DateError>,
    ) -> Option<Timestamp> {
        match parse(self.text(col)) {
            Ok(t) => Some(t),
            Err(dates::DateError::Empty) => {
                self.fail(col, "the date is empty; every row needs one");
                None
            }
            Err(e) => {
                self.fail(col, e.to_string());
                None
            }
        }
    }

    /// Refuses the row because of this column.
    pub fn fail(&mut self, col: Col, reason: impl Into<String>) {
        self.failed = true;
        let value = self.record.get(col.0).unwrap_or("").trim().to_string();
        self.errors.push(RowError {
            file: self.errors.file.clone(),
            line: self.line,
            column: col.0 + 1,
            column_name: self.columns.header.display_name(col.0),
            value,
            reason: reason.into(),
        });
    }

    pub fn failed(&self) -> bool {
        self.failed
    }
}

/// How one file writes its dates and amounts: ISO 8601 and plain decimals (our own
/// layouts), or the app's own formats a mapping names.
pub(crate) struct Formats {
    pub zone: TimeZone,
    pub date: Option<String>,
    pub decimal: Option<char>,
}

impl Formats {
    pub fn new(zone: TimeZone, mapping: Option<&super::mapping::ColumnMapping>) -> Formats {
        let format = mapping.map(|m| &m.format);
        Formats {
            zone,
            date: format.and_then(|f| f.date.clone()),
            decimal: format.and_then(|f| f.decimal.as_deref()?.chars().next()),
        }
    }

    pub fn money(
        &self,
        cells: &mut Cells<'_>,
        col: Col,
        currency: Currency,
        sign: Sign,
    ) -> Option<Money> {
        match self.decimal {
            Some(decimal) => cells.written_money(col, currency, sign, decimal),
            None => cells.money(col, currency, sign),
        }
    }

    pub fn instant(&self, cells: &mut Cells<'_>, col: Col) -> Option<Timestamp> {
        match &self.date {
            Some(format) => {
                cells.instant_from(col, |t| dates::parse_instant_as(t, format, &self.zone))
            }
            None => cells.instant(col, &self.zone),
        }
    }
}

/// Currency codes seen so far in a file: a file has a handful, looked up once each.
#[derive(Debug, Default)]
pub(crate) struct CurrencyCache {
    seen: Vec<(String, Currency)>,
}

impl CurrencyCache {
    pub fn get(&mut self, text: &str) -> Result<Currency, MoneyError> {
        if let Some((_, c)) = self.seen.iter().find(|(t, _)| t == text) {
            return Ok(*c);
        }
        let currency = Currency::from_code(text)?;
        if self.seen.len() < 64 {
            self.seen.push((text.to_string(), currency));
        }
        Ok(currency)
    }
}

/// The bad rows of one file: the first [`RowErrors::CAP`] in full, the rest counted.
pub(crate) struct RowErrors {
    pub file: PathBuf,
    pub list: Vec<RowError>,
    pub more: u64,
}

impl RowErrors {
    pub const CAP: usize = 100;

    pub fn new(file: &Path) -> Self {
        RowErrors {
            file: file.to_path_buf(),
            list: Vec::new(),
            more: 0,
        }
    }

    pub fn push(&mut self, mut error: RowError) {
        if self.list.len() < Self::CAP {
            // What a message quotes of a cell or header is cut short; `value` keeps it whole.
            error.reason = super::clip_quoted(&error.reason);
            error.column_name = super::clip(&error.column_name).into_owned();
            self.list.push(error);
        } else {
            self.more += 1;
        }
    }

    /// Adds the errors another pass over the same file found: the list stays in file
    /// order, the first [`RowErrors::CAP`] in full.
    pub fn merge(&mut self, other: RowErrors) {
        self.more += other.more;
        self.list.extend(other.list);
        self.list.sort_by_key(|e| e.line);
        if self.list.len() > Self::CAP {
            self.more += (self.list.len() - Self::CAP) as u64;
            self.list.truncate(Self::CAP);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
