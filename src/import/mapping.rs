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
//! It renames headers and translates values; it never computes anything (no arithmetic,
//! no date formats), so what a row means is still decided by the importer's own rules.
//! Mappings apply to the invoices and payments layouts only: Stripe's export has one
//! layout, Stripe's. A mapping is checked when it is read, so a typo in a column name is
//! reported before any file is opened.

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
    #[error(
        "the mapping sends both `{first}` and `{second}` to the header `{header}`; each header can feed one column"
    )]
    SharedHeader {
        header: String,
        first: String,
        second: String,
    },
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
}

/// Another app's layout described as ours: which of its headers feeds each of our columns,
/// and which of its values mean ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    pub layout: MappingLayout,
    /// Our column -> their header. Columns not listed keep our name.
    pub columns: BTreeMap<String, String>,
    /// Our column -> (their value -> our value). Values not listed pass through.
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

/// The TOML's shape, kept apart so that unknown keys are refused rather than ignored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    layout: String,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
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
        let mut columns = BTreeMap::new();
        let mut by_header: BTreeMap<String, String> = BTreeMap::new();
        for (column, header) in &file.columns {
            let canonical = check_column(column)?;
            let header = header.trim();
            if header.is_empty() {
                return Err(MappingError::EmptyHeader { column: canonical });
            }
            if let Some(first) = by_header.insert(header.to_lowercase(), canonical.clone()) {
                return Err(MappingError::SharedHeader {
                    header: header.to_string(),
                    first,
                    second: canonical,
                });
            }
            columns.insert(canonical, header.to_string());
        }
        let mut values = BTreeMap::new();
        for (column, map) in &file.values {
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
        })
    }

    /// The mapping as TOML that [`ColumnMapping::from_toml`] reads back to the same value.
    pub fn to_toml(&self) -> String {
        let file = MappingFile {
            layout: self.layout.as_str().to_string(),
            columns: self.columns.clone(),
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

    #[rstest]
    #[case::not_toml("layout = ", "not valid TOML")]
    #[case::stripe_layout("layout = \"stripe\"", "use `invoices` or `payments`")]
    #[case::column_of_another_layout(
        "layout = \"invoices\"\n[columns]\npayment_id = \"Ref\"",
        "does not have"
    )]
    #[case::empty_header("layout = \"payments\"\n[columns]\namount = \" \"", "empty header")]
    #[case::one_header_two_columns(
        "layout = \"invoices\"\n[columns]\nissued_at = \"Date\"\ndue_at = \"date\"",
        "each header can feed one column"
    )]
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
