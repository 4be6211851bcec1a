//! Column mappings: how another invoicing app's CSV layout reads as ours.
//!
//! A mapping is a small TOML file a bookkeeper can write by hand:
//!
//! ```toml
//! layout = "invoices"
//! [columns]            # our column = their header
//! invoice_number = "Invoice #"
//! amount = "Total"
//! [values.status]      # their value = our value
//! Unpaid = "open"
//! ```
//!
//! Beyond renaming headers and translating values, a mapping can say what another app's
//! export needs to read as ours (see `layouts/README.md`):
//!
//! ```toml
//! name = "Zoho Invoice"          # the app, for "recognised: Zoho Invoice"
//! recognise = ["Invoice Status", "Currency Code", "Balance"]  # all present: this app
//! [constants]                    # our column = a value the app never writes
//! [format]
//! date = "%d/%m/%Y"              # the app's one date format (never guessed per row)
//! decimal = "."                  # thousands separators and currency symbols are skipped
//! [lines]                        # one row per line item, grouped by invoice number
//! sum = ["Item Total"]           # the total is the sum of these (else `amount` repeats it)
//! ```
//!
//! One header may feed two of our columns. A mapping never computes beyond that (a sum of
//! line columns, a total less its balance), so what a row means is still decided by the
//! importer's own rules. Mappings apply to the invoices and payments layouts only:
//! Stripe's export has one layout, Stripe's. A mapping is checked when it is read, so a
//! typo in a column name is reported before any file is opened. The layouts shipped with
//! the program are mappings too ([`super::layouts`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which of our layouts a mapping renames onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingLayout {
    Invoices,
    Payments,
}

impl MappingLayout {
    pub fn as_str(self) -> &'static str {
        match self {
            MappingLayout::Invoices => "invoices",
            MappingLayout::Payments => "payments",
        }
    }

    pub fn parse(text: &str) -> Option<MappingLayout> {
        match text.trim().to_ascii_lowercase().as_str() {
            "invoices" => Some(MappingLayout::Invoices),
            "payments" => Some(MappingLayout::Payments),
            _ => None,
        }
    }

    /// Our column names for this layout, the only names a mapping may use.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            MappingLayout::Invoices => super::invoices::COLUMN_NAMES,
            MappingLayout::Payments => super::payments::COLUMN_NAMES,
        }
    }
}

impl fmt::Display for MappingLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a mapping cannot be used; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("the mapping is not valid TOML: {detail}")]
    Toml { detail: String },
    #[error(
        "the mapping's layout `{found}` is not one a mapping can describe; use `invoices` or `payments`"
    )]
    UnknownLayout { found: String },
    #[error("the mapping names a column `{column}` that the {layout} layout does not have; use one of: {}", .allowed.join(", "))]
    UnknownColumn {
        column: String,
        layout: MappingLayout,
        allowed: Vec<&'static str>,
    },
    #[error(
        "the mapping maps column `{column}` to an empty header; write the header as it appears in the file"
    )]
    EmptyHeader { column: String },
    #[error("the mapping gives `{column}` both a header and a constant; keep one of the two")]
    HeaderAndConstant { column: String },
    #[error(
        "the mapping's [format] date `{format}` is not a date format: {detail}; write it with %Y, %m, %d, %b, %H, %M, %S (e.g. \"%d/%m/%Y\")"
    )]
    DateFormat { format: String, detail: String },
    #[error(
        "the mapping's [format] decimal `{found}` is not one a number is written with; use \".\" or \",\""
    )]
    Decimal { found: String },
    #[error(
        "the mapping's [lines] needs `sum = [\"…\"]` (the line columns to add up) or `total = true` (`amount` repeats the invoice's total on every line)"
    )]
    Lines,
    #[error(
        "the mapping's [keep] or [drop] `{header}` needs a header and the values of the rows to keep, as `Type = [\"Sales invoice\"]`"
    )]
    Keep { header: String },
    #[error("a mapping for {layout} files has no [lines]: each row is one record")]
    LinesNotForLayout { layout: MappingLayout },
    #[error(
        "the mapping's [values.{column}] lists `{value}` twice (letter case does not count); keep one"
    )]
    DuplicateValue { column: String, value: String },
    #[error("no saved mapping is called `{name}`; saved mappings: {}", if .saved.is_empty() { "none".to_string() } else { .saved.join(", ") })]
    NotFound { name: String, saved: Vec<String> },
    #[error("cannot read the mapping file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the mapping is for {mapping} files, but this is a{article} {file_kind} import; pick a {file_kind} mapping", article = if .file_kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "n" } else { "" })]
    WrongLayout {
        mapping: MappingLayout,
        file_kind: &'static str,
    },
    #[error(
        "a Stripe payments export has Stripe's own layout and takes no column mapping; import it without --mapping"
    )]
    NotForStripe,
    #[error(
        "`{name}` cannot name a saved mapping: use 1 to 64 letters, digits, spaces, `-` or `_` (a name with `/` or ending in .toml is read as a file)"
    )]
    BadName { name: String },
}

/// Checks the name a mapping is saved under: one that `resolve_mapping` would read as a
/// path (a `/`, a `.toml` ending) could be saved but never found again.
pub fn check_name(name: &str) -> Result<&str, MappingError> {
    let trimmed = name.trim();
    let fits = !trimmed.is_empty()
        && trimmed.chars().count() <= 64
        && trimmed
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'));
    if fits {
        Ok(trimmed)
    } else {
        Err(MappingError::BadName {
            name: name.to_string(),
        })
    }
}

/// Another app's layout described as ours: which of its headers feeds each of our columns,
/// and which of its values mean ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    pub layout: MappingLayout,
    /// The app whose export this reads ("Zoho Invoice"), for messages.
    pub name: Option<String>,
    /// Headers that, all present, identify the app's export.
    pub recognise: Vec<String>,
    /// Our column -> their header. Columns not listed keep our name.
    pub columns: BTreeMap<String, String>,
    /// Our column -> (their value -> our value). Values not listed pass through.
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// Our column -> a value every row has (a column the app never writes).
    pub constants: BTreeMap<String, String>,
    pub format: ValueFormat,
    /// The file has one row per line item: how an invoice's lines make one invoice.
    pub lines: Option<LineItems>,
    /// Their header -> the values (any case) of the rows to import; other rows are
    /// another kind of record the export holds too (Xero's credit notes), counted and left
    /// out.
    pub keep: BTreeMap<String, Vec<String>>,
    /// Their header -> the values (any case) of rows that are not ours (Wave's payment
    /// rows among its invoices), counted and left out.
    pub drop: BTreeMap<String, Vec<String>>,
    /// The app writes no amount paid: an invoice it calls paid states it was paid in full.
    pub paid_in_full_by_status: bool,
}

/// How the app writes dates and numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueFormat {
    /// A strftime-style format every date of the file has (`%b %d %Y`); `None`: ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The decimal mark, `.` or `,`; set, amounts may carry thousands separators and
    /// currency symbols (`$1,020.00`). `None`: plain decimals only, as our own layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimal: Option<String>,
}

/// How line-item rows make one invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineItems {
    /// The columns whose sum over an invoice's lines is its amount (line total, tax); a
    /// header ending in `?` is added where the file has it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sum: Vec<String>,
    /// `amount` holds the invoice's total, repeated on every line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub total: bool,
}

/// The TOML's shape, kept apart so that unknown keys are refused rather than ignored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    layout: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    recognise: Vec<String>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    constants: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_default_format")]
    format: ValueFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lines: Option<LineItems>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    paid_in_full_by_status: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    keep: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    drop: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

fn is_default_format(format: &ValueFormat) -> bool {
    *format == ValueFormat::default()
}

impl ColumnMapping {
    /// Reads and checks a mapping.
    pub fn from_toml(text: &str) -> Result<Self, MappingError> {
        let file: MappingFile = toml::from_str(text).map_err(|e| MappingError::Toml {
            detail: e.to_string(),
        })?;
        let layout =
            MappingLayout::parse(&file.layout).ok_or_else(|| MappingError::UnknownLayout {
                found: file.layout.clone(),
            })?;
        let mut mapping = ColumnMapping::new(layout, &file.columns, &file.values)?;
        mapping.name = file
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        mapping.recognise = file
            .recognise
            .iter()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .collect();
        for (column, value) in &file.constants {
            let canonical = mapping.check_column(column)?;
            if mapping.columns.contains_key(&canonical) {
                return Err(MappingError::HeaderAndConstant { column: canonical });
            }
            mapping
                .constants
                .insert(canonical, value.trim().to_string());
        }
        if let Some(date) = &file.format.date {
            check_date_format(date)?;
        }
        if let Some(decimal) = &file.format.decimal
            && decimal != "."
            && decimal != ","
        {
            return Err(MappingError::Decimal {
                found: decimal.clone(),
            });
        }
        mapping.format = file.format;
        if let Some(lines) = file.lines {
            if layout != MappingLayout::Invoices {
                return Err(MappingError::LinesNotForLayout { layout });
            }
            if lines.sum.is_empty() != lines.total || lines.sum.iter().any(|h| h.trim().is_empty())
            {
                return Err(MappingError::Lines);
            }
            mapping.lines = Some(lines);
        }
        mapping.keep = row_values(file.keep)?;
        mapping.drop = row_values(file.drop)?;
        mapping.paid_in_full_by_status = file.paid_in_full_by_status;
        Ok(mapping)
    }

    /// Our column's canonical name, or the error naming the ones allowed.
    fn check_column(&self, column: &str) -> Result<String, MappingError> {
        let canonical = column.trim().to_ascii_lowercase();
        if self.layout.columns().contains(&canonical.as_str()) {
            Ok(canonical)
        } else {
            Err(MappingError::UnknownColumn {
                column: column.to_string(),
                layout: self.layout,
                allowed: self.layout.columns().to_vec(),
            })
        }
    }

    /// This mapping (made from a form of columns and values) with what the form does not
    /// show kept from the `saved` mapping it replaces: its name, recognition, formats, line
    /// grouping, row filters and constants (but a constant for a column the form now
    /// gives a header). Editing a copied layout in the window must not lose its date format.
    pub fn keeping_beyond_the_form(mut self, saved: &ColumnMapping) -> ColumnMapping {
        if saved.layout != self.layout {
            return self;
        }
        self.name = saved.name.clone();
        self.recognise = saved.recognise.clone();
        self.format = saved.format.clone();
        self.lines = saved.lines.clone();
        self.keep = saved.keep.clone();
        self.drop = saved.drop.clone();
        self.paid_in_full_by_status = saved.paid_in_full_by_status;
        self.constants = saved
            .constants
            .iter()
            .filter(|(column, _)| !self.columns.contains_key(*column))
            .map(|(c, v)| (c.clone(), v.clone()))
            .collect();
        self
    }

    /// The app's name, or "your mapping".
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("your mapping")
    }

    /// Whether a file with these headers (trimmed, any case, a leading `*` ignored) is
    /// this app's export.
    pub fn recognises(&self, headers: &[String]) -> bool {
        let bare = |h: &String| h.strip_prefix('*').unwrap_or(h).trim().to_string();
        !self.recognise.is_empty()
            && self
                .recognise
                .iter()
                .all(|r| headers.iter().any(|h| bare(h).eq_ignore_ascii_case(r)))
    }

    /// A mapping from its parts (a form in the window), with the same checks as
    /// [`ColumnMapping::from_toml`]: our column names only, one header per column, no value
    /// listed twice.
    pub fn new(
        layout: MappingLayout,
        columns_in: &BTreeMap<String, String>,
        values_in: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Self, MappingError> {
        let allowed = layout.columns();
        let check_column = |column: &str| -> Result<String, MappingError> {
            let canonical = column.trim().to_ascii_lowercase();
            if allowed.contains(&canonical.as_str()) {
                Ok(canonical)
            } else {
                Err(MappingError::UnknownColumn {
                    column: column.to_string(),
                    layout,
                    allowed: allowed.to_vec(),
                })
            }
        };
        // One header may feed two columns (an app with one date for issue and due).
        let mut columns = BTreeMap::new();
        for (column, header) in columns_in {
            let canonical = check_column(column)?;
            let header = header.trim();
            if header.is_empty() {
                return Err(MappingError::EmptyHeader { column: canonical });
            }
            columns.insert(canonical, header.to_string());
        }
        let mut values = BTreeMap::new();
        for (column, map) in values_in {
            let canonical = check_column(column)?;
            let mut seen = BTreeMap::new();
            for theirs in map.keys() {
                if seen.insert(theirs.trim().to_lowercase(), ()).is_some() {
                    return Err(MappingError::DuplicateValue {
                        column: canonical,
                        value: theirs.clone(),
                    });
                }
            }
            let map = map
                .iter()
                .map(|(theirs, ours)| (theirs.trim().to_string(), ours.trim().to_string()))
                .collect();
            values.insert(canonical, map);
        }
        Ok(ColumnMapping {
            layout,
            columns,
            values,
            ..ColumnMapping::identity(layout)
        })
    }

    /// The mapping as TOML that [`ColumnMapping::from_toml`] reads back to the same value.
    pub fn to_toml(&self) -> String {
        let file = MappingFile {
            layout: self.layout.as_str().to_string(),
            name: self.name.clone(),
            recognise: self.recognise.clone(),
            columns: self.columns.clone(),
            constants: self.constants.clone(),
            format: self.format.clone(),
            lines: self.lines.clone(),
            paid_in_full_by_status: self.paid_in_full_by_status,
            keep: self.keep.clone(),
            drop: self.drop.clone(),
            values: self.values.clone(),
        };
        // Only strings in string-keyed tables: serializing cannot fail.
        toml::to_string(&file).unwrap_or_default()
    }

    /// The header that feeds our column `canonical` in their files.
    pub fn header_for<'m>(&'m self, canonical: &'m str) -> &'m str {
        self.columns
            .get(canonical)
            .map(String::as_str)
            .unwrap_or(canonical)
    }

    /// Their value -> our value pairs for one column, if the mapping has any.
    pub fn values_for(&self, canonical: &str) -> Option<&BTreeMap<String, String>> {
        self.values.get(canonical)
    }

    /// The layout read as it is documented: every header under our own name.
    pub fn identity(layout: MappingLayout) -> ColumnMapping {
        ColumnMapping {
            layout,
            name: None,
            recognise: Vec::new(),
            columns: BTreeMap::new(),
            values: BTreeMap::new(),
            constants: BTreeMap::new(),
            format: ValueFormat::default(),
            lines: None,
            keep: BTreeMap::new(),
            drop: BTreeMap::new(),
            paid_in_full_by_status: false,
        }
    }

    /// Their value translated to ours (letter case and surrounding spaces do not count, as
    /// on import); a value the mapping does not list passes through.
    fn translate(&self, canonical: &str, theirs: &str) -> String {
        let theirs = theirs.trim();
        self.values_for(canonical)
            .and_then(|map| {
                map.iter()
                    .find(|(t, _)| t.to_lowercase() == theirs.to_lowercase())
                    .map(|(_, ours)| ours.clone())
            })
            .unwrap_or_else(|| theirs.to_string())
    }
}

/// One of our columns in a preview: the header it reads and where the file has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviewColumn {
    /// Our column name.
    pub name: &'static str,
    /// The header it is read from (the mapping's, else our name).
    pub header: String,
    /// 0-based position of that header in the file; `None` when the file lacks it.
    pub position: Option<usize>,
    /// The import refuses a file without it.
    pub required: bool,
}

/// The first rows of a file as a mapping makes them read: for a bookkeeper to see that
/// "Total" lands in `amount` and "Unpaid" becomes `open` before importing anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingPreview {
    /// The file's headers, as read (trimmed).
    pub headers: Vec<String>,
    pub columns: Vec<PreviewColumn>,
    /// Per row: its line in the file and one cell per column of `columns` (`None` where
    /// the file lacks the column), values translated by the mapping.
    pub rows: Vec<(u64, Vec<Option<String>>)>,
    /// Headers no column reads: kept with each row as extra columns, never dropped.
    pub unused_headers: Vec<String>,
}

impl MappingPreview {
    /// Required columns the file lacks, as "amount (mapped to `Total`)".
    pub fn missing(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| c.required && c.position.is_none())
            .map(|c| {
                if c.header == c.name {
                    c.name.to_string()
                } else {
                    format!("{} (mapped to `{}`)", c.name, c.header)
                }
            })
            .collect()
    }
}

impl MappingLayout {
    /// Whether the import refuses a file without `column` (in our own layout: a file
    /// with line items needs no `amount`, one with a currency setting no `currency`).
    pub fn requires(self, column: &str) -> bool {
        match self {
            MappingLayout::Invoices => super::invoices::REQUIRED.contains(&column),
            MappingLayout::Payments => true,
        }
    }
}

/// A `[keep]` or `[drop]` table: each header with the values it names, trimmed.
fn row_values(
    table: BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<String, Vec<String>>, MappingError> {
    let mut out = BTreeMap::new();
    for (header, values) in table {
        let header = header.trim().to_string();
        if header.is_empty() || values.is_empty() {
            return Err(MappingError::Keep { header });
        }
        out.insert(
            header,
            values.iter().map(|v| v.trim().to_string()).collect(),
        );
    }
    Ok(out)
}

/// Checks a strftime-style date format by writing a date with it.
fn check_date_format(format: &str) -> Result<(), MappingError> {
    let error = |detail: String| MappingError::DateFormat {
        format: format.to_string(),
        detail,
    };
    if !format.contains('%') {
        return Err(error("it has no % directive".into()));
    }
    jiff::fmt::strtime::format(format, jiff::civil::date(2021, 1, 28).at(13, 5, 9, 0))
        .map(|_| ())
        .map_err(|e| error(e.to_string()))
}

/// Reads the header and the first `rows` rows of `path` through `mapping`. Reads only;
/// whether a value is valid is the import's to say (a dry run says it for every row).
pub fn preview(
    path: &std::path::Path,
    mapping: &ColumnMapping,
    rows: usize,
) -> Result<MappingPreview, super::ImportError> {
    let io = |source| super::ImportError::Io {
        file: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(std::io::BufReader::new(file));
    let not_text = |e: csv::Error| {
        io(std::io::Error::other(format!(
            "{e}; save the file as UTF-8 CSV"
        )))
    };
    let raw: Vec<String> = reader
        .headers()
        .map_err(not_text)?
        .iter()
        .map(str::to_string)
        .collect();
    // Read as the import reads a header: trimmed, a byte order mark ignored.
    let headers = super::columns::Header::new(&raw).names;
    let columns: Vec<PreviewColumn> = mapping
        .layout
        .columns()
        .iter()
        .map(|&name| {
            let header = mapping.header_for(name).to_string();
            let position = headers
                .iter()
                .position(|h| h.to_lowercase() == header.to_lowercase());
            PreviewColumn {
                name,
                header,
                position,
                required: mapping.layout.requires(name),
            }
        })
        .collect();
    let unused_headers = headers
        .iter()
        .enumerate()
        .filter(|(i, h)| !h.is_empty() && !columns.iter().any(|c| c.position == Some(*i)))
        .map(|(_, h)| h.clone())
        .collect();
    let mut out = Vec::new();
    for record in reader.records().take(rows) {
        let record = record.map_err(not_text)?;
        let line = record.position().map_or(0, |p| p.line());
        let cells = columns
            .iter()
            .map(|c| {
                c.position
                    .map(|i| mapping.translate(c.name, record.get(i).unwrap_or("")))
            })
            .collect();
        out.push((line, cells));
    }
    Ok(MappingPreview {
        headers,
        columns,
        rows: out,
        unused_headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const ACME: &str = r#"
layout = "invoices"
[columns]
invoice_number = "Invoice #"
amount = "Total"
[values.status]
Unpaid = "open"
Settled = "paid"
"#;

    #[test]
    fn a_mapping_round_trips_through_toml() {
        let mapping = ColumnMapping::from_toml(ACME).unwrap();
        assert_eq!(mapping.layout, MappingLayout::Invoices);
        assert_eq!(mapping.header_for("amount"), "Total");
        assert_eq!(mapping.header_for("currency"), "currency");
        assert_eq!(mapping.values_for("status").unwrap()["Unpaid"], "open");
        let again = ColumnMapping::from_toml(&mapping.to_toml()).unwrap();
        assert_eq!(again, mapping);
    }

    #[test]
    fn a_copied_layout_edited_in_a_form_keeps_what_the_form_does_not_show() {
        let saved = ColumnMapping::from_toml(
            "layout = \"invoices\"\nname = \"Mine\"\nrecognise = [\"Ref\"]\n\
             [columns]\ninvoice_number = \"Ref\"\n[constants]\nstatus = \"open\"\ncurrency = \"USD\"\n\
             [format]\ndate = \"%d/%m/%Y\"\n[lines]\ntotal = true\n",
        )
        .unwrap();
        let columns = BTreeMap::from([
            ("invoice_number".to_string(), "Ref".to_string()),
            ("status".to_string(), "State".to_string()),
        ]);
        let form = ColumnMapping::new(MappingLayout::Invoices, &columns, &BTreeMap::new()).unwrap();
        let kept = form.keeping_beyond_the_form(&saved);
        assert_eq!(kept.format.date.as_deref(), Some("%d/%m/%Y"));
        assert_eq!(kept.lines, saved.lines);
        assert_eq!(kept.recognise, vec!["Ref"]);
        assert_eq!(kept.header_for("status"), "State", "the form's header wins");
        assert_eq!(
            kept.constants,
            BTreeMap::from([("currency".to_string(), "USD".to_string())]),
            "a constant the form replaced with a header is gone"
        );
        assert_eq!(ColumnMapping::from_toml(&kept.to_toml()).unwrap(), kept);
    }

    #[test]
    fn a_mapping_from_a_form_is_checked_like_one_from_toml() {
        let columns = BTreeMap::from([("Amount".to_string(), "Total".to_string())]);
        let values = BTreeMap::from([(
            "status".to_string(),
            BTreeMap::from([("Unpaid".to_string(), "open".to_string())]),
        )]);
        let mapping = ColumnMapping::new(MappingLayout::Invoices, &columns, &values).unwrap();
        assert_eq!(mapping.header_for("amount"), "Total");
        let wrong = BTreeMap::from([("payment_id".to_string(), "Ref".to_string())]);
        let err =
            ColumnMapping::new(MappingLayout::Invoices, &wrong, &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("does not have"), "{err}");
    }

    #[test]
    fn a_preview_shows_the_first_rows_as_our_columns_with_values_translated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.csv");
        std::fs::write(
            &path,
            "Invoice #,customer_id,Total,currency,issued_at,due_at,status,Salesperson\n\
             A-1,c1,10.00,USD,2026-10-01,2026-10-31,Unpaid,Kim\n\
             A-2,c2,20.00,USD,2026-10-02,2026-11-01,SETTLED,Lee\n\
             A-3,c3,30.00,USD,2026-10-03,2026-11-02,Unpaid,Kim\n",
        )
        .unwrap();
        let mapping = ColumnMapping::from_toml(ACME).unwrap();
        let preview = preview(&path, &mapping, 2).unwrap();
        assert_eq!(preview.rows.len(), 2, "only the rows asked for");
        let col = |name: &str| preview.columns.iter().position(|c| c.name == name).unwrap();
        let (line, cells) = &preview.rows[1];
        assert_eq!(*line, 3, "the header is line 1");
        assert_eq!(cells[col("invoice_number")].as_deref(), Some("A-2"));
        assert_eq!(cells[col("amount")].as_deref(), Some("20.00"));
        assert_eq!(
            cells[col("status")].as_deref(),
            Some("paid"),
            "case does not count"
        );
        assert_eq!(cells[col("order_ref")], None, "the file has no order_ref");
        assert!(preview.missing().is_empty(), "order_ref is optional");
        assert_eq!(preview.unused_headers, vec!["Salesperson"]);

        let unmapped =
            super::preview(&path, &ColumnMapping::identity(MappingLayout::Invoices), 1).unwrap();
        assert_eq!(unmapped.missing(), vec!["invoice_number", "amount"]);
    }

    #[rstest]
    #[case::plain("acme", true)]
    #[case::spaces_and_dashes("Acme Books-2", true)]
    #[case::a_path("maps/acme", false)]
    #[case::a_toml_file("acme.toml", false)]
    #[case::blank("  ", false)]
    fn a_saved_mapping_needs_a_name_that_reads_back(#[case] name: &str, #[case] ok: bool) {
        assert_eq!(check_name(name).is_ok(), ok, "{name}");
    }

    #[rstest]
    #[case::not_toml("layout = ", "not valid TOML")]
    #[case::stripe_layout("layout = \"stripe\"", "use `invoices` or `payments`")]
    #[case::column_of_another_layout(
        "layout = \"invoices\"\n[columns]\npayment_id = \"Ref\"",
        "does not have"
    )]
    #[case::empty_header("layout = \"payments\"\n[columns]\namount = \" \"", "empty header")]
    #[case::header_and_constant(
        "layout = \"invoices\"\n[columns]\ncurrency = \"Cur\"\n[constants]\ncurrency = \"USD\"",
        "both a header and a constant"
    )]
    #[case::bad_date_format(
        "layout = \"invoices\"\n[format]\ndate = \"dd/mm/yyyy\"",
        "not a date format"
    )]
    #[case::bad_decimal(
        "layout = \"invoices\"\n[format]\ndecimal = \"'\"",
        "use \".\" or \",\""
    )]
    #[case::lines_without_a_total("layout = \"invoices\"\n[lines]", "[lines] needs")]
    #[case::unknown_key("layout = \"invoices\"\ncolums = {}", "not valid TOML")]
    #[case::value_twice(
        "layout = \"invoices\"\n[values.status]\nUnpaid = \"open\"\nunpaid = \"open\"",
        "twice"
    )]
    fn a_wrong_mapping_says_what_to_change(#[case] text: &str, #[case] expected: &str) {
        let err = ColumnMapping::from_toml(text).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}
