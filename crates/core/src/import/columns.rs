//! Columns: which field of a row feeds which of our columns, decided once from the header.
//!
//! Headers are matched by name, trimmed and case-insensitively, in any order, through the
//! column mapping when there is one; a UTF-8 byte order mark is ignored. The match happens
//! once per file and yields plain field indexes, so the per-row path never looks a name up.
//! Every column the layout does not use is an *extra* column, kept, never dropped: the
//! file's extra headers, sorted, are its column set (stored once per distinct header) and
//! each row keeps its values as a JSON array in that order (see `store/extra.rs`). Sorted,
//! so a re-export that only reorders its columns reads as unchanged; empty cells are `""`
//! and trailing ones left off, since a wide export like Stripe's is mostly empty cells.
//!
//! This module must never interpret a value (amounts, dates, statuses): that is the
//! layout modules' work.

use std::fmt::Write as _;
use std::path::Path;

use csv::StringRecord;

use super::ImportError;
use super::mapping::ColumnMapping;

/// A resolved field index: valid for every row once [`ColumnResolver::finish`] succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Col(pub usize);

/// The file's header, as read.
pub(crate) struct Header {
    /// Trimmed, BOM-stripped, as the file spells them (for messages and extra keys).
    pub names: Vec<String>,
    lower: Vec<String>,
    claimed: Vec<bool>,
    /// Values every row has, for columns a mapping gives a constant (or the import a
    /// default): read as fields past the file's last, `(our column, value)`.
    constants: Vec<(String, String)>,
}

impl Header {
    pub fn new(raw: &[String]) -> Header {
        let names: Vec<String> = raw
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let n = if i == 0 {
                    n.trim_start_matches('\u{feff}')
                } else {
                    n
                };
                n.trim().to_string()
            })
            .collect();
        // Import templates mark required headers with `*` (Xero's `*InvoiceNumber`).
        let lower = names
            .iter()
            .map(|n| n.strip_prefix('*').unwrap_or(n).trim().to_lowercase())
            .collect();
        let claimed = vec![false; names.len()];
        Header {
            names,
            lower,
            claimed,
            constants: Vec::new(),
        }
    }

    /// Name of field `index` for messages: the header, or "column N" where it is blank.
    pub fn display_name(&self, index: usize) -> String {
        if let Some((ours, _)) = index
            .checked_sub(self.names.len())
            .and_then(|k| self.constants.get(k))
        {
            return format!("{ours} (a constant)");
        }
        match self.names.get(index) {
            Some(n) if !n.is_empty() => n.clone(),
            _ => format!("column {}", index + 1),
        }
    }
}

/// Finds the layout's columns in a header, collecting everything missing or ambiguous so
/// the user hears about all of it at once.
pub(crate) struct ColumnResolver<'m> {
    header: Header,
    mapping: Option<&'m ColumnMapping>,
    missing: Vec<String>,
    ambiguous: Vec<String>,
    value_maps: Vec<ValueMap>,
}

impl<'m> ColumnResolver<'m> {
    pub fn new(header: Header, mapping: Option<&'m ColumnMapping>) -> Self {
        let value_maps = header.names.iter().map(|_| ValueMap::default()).collect();
        ColumnResolver {
            header,
            mapping,
            missing: Vec::new(),
            ambiguous: Vec::new(),
            value_maps,
        }
    }

    fn wanted_names(&self, canonical: &str, aliases: &[&str]) -> Vec<String> {
        match self.mapping.and_then(|m| m.columns.get(canonical)) {
            Some(theirs) => vec![theirs.to_lowercase()],
            None => std::iter::once(canonical)
                .chain(aliases.iter().copied())
                .map(str::to_lowercase)
                .collect(),
        }
    }

    fn find(&mut self, canonical: &str, aliases: &[&str]) -> Option<usize> {
        if let Some(value) = self.mapping.and_then(|m| m.constants.get(canonical)) {
            return Some(self.constant(canonical, value.clone()));
        }
        let wanted = self.wanted_names(canonical, aliases);
        let hits: Vec<usize> = (0..self.header.lower.len())
            .filter(|&i| wanted.contains(&self.header.lower[i]))
            .collect();
        if hits.len() > 1 {
            let names: Vec<String> = hits.iter().map(|&i| self.header.display_name(i)).collect();
            self.ambiguous.push(format!(
                "{canonical} (columns {})",
                hits.iter()
                    .zip(&names)
                    .map(|(i, n)| format!("{} `{n}`", i + 1))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        let index = *hits.first()?;
        self.header.claimed[index] = true;
        self.value_maps[index] = self.value_map(canonical);
        Some(index)
    }

    /// A column every row must have; noted as missing when the header lacks it.
    pub fn required(&mut self, canonical: &'static str, aliases: &[&str]) -> Col {
        match self.find(canonical, aliases) {
            Some(i) => Col(i),
            None => {
                let theirs = self.mapping.map(|m| m.header_for(canonical));
                self.missing.push(match theirs {
                    Some(h) if h != canonical => format!("{canonical} (mapped to `{h}`)"),
                    _ => canonical.to_string(),
                });
                Col(usize::MAX)
            }
        }
    }

    /// A value every row has, read as a field past the file's last.
    fn constant(&mut self, canonical: &str, value: String) -> usize {
        self.header.constants.push((canonical.to_string(), value));
        self.header.names.len() + self.header.constants.len() - 1
    }

    /// A required column that, when the file lacks it, reads as `fallback` on every row
    /// (the import's currency); `advice` says how to give one when there is none.
    pub fn required_or(
        &mut self,
        canonical: &'static str,
        fallback: Option<&str>,
        advice: &str,
    ) -> Col {
        if let Some(i) = self.find(canonical, &[]) {
            return Col(i);
        }
        match fallback {
            Some(value) => Col(self.constant(canonical, value.to_string())),
            None => {
                let theirs = self.mapping.map(|m| m.header_for(canonical));
                self.missing.push(match theirs {
                    Some(h) if h != canonical => {
                        format!("{canonical} (mapped to `{h}`; {advice})")
                    }
                    _ => format!("{canonical} ({advice})"),
                });
                Col(usize::MAX)
            }
        }
    }

    /// A column of the file named by its own header (a mapping's line columns).
    pub fn header(&mut self, header: &str) -> Col {
        match self.header_if_any(header) {
            Some(col) => col,
            None => {
                self.missing.push(format!("`{}`", header.trim()));
                Col(usize::MAX)
            }
        }
    }

    /// The same, `None` where the file lacks it.
    pub fn header_if_any(&mut self, header: &str) -> Option<Col> {
        let wanted = header.trim().to_lowercase();
        let i = self.header.lower.iter().position(|h| *h == wanted)?;
        self.header.claimed[i] = true;
        Some(Col(i))
    }

    /// A column the layout reads when the file has it.
    pub fn optional(&mut self, canonical: &'static str, aliases: &[&str]) -> Option<Col> {
        self.find(canonical, aliases).map(Col)
    }

    /// A column the layout reads but leaves in the row's extra as well, when the file has
    /// it (a value needed to read another column, worth keeping on its own).
    pub fn shared(&mut self, canonical: &'static str, aliases: &[&str]) -> Option<Col> {
        let col = self.find(canonical, aliases)?;
        self.header.claimed[col] = false;
        Some(Col(col))
    }

    /// Claims every column whose header ends with `suffix` (matched case-insensitively);
    /// returns each with the header's remaining text, trimmed.
    pub fn claim_suffixed(&mut self, suffix: &str) -> Vec<(Col, String)> {
        let suffix = suffix.to_lowercase();
        let mut out = Vec::new();
        for i in 0..self.header.lower.len() {
            if !self.header.claimed[i] && self.header.lower[i].ends_with(&suffix) {
                let name = &self.header.names[i];
                let stem = name[..name.len() - suffix.len()].trim().to_string();
                self.header.claimed[i] = true;
                out.push((Col(i), stem));
            }
        }
        out
    }

    /// Their value -> our value for one column, from the mapping.
    fn value_map(&self, canonical: &str) -> ValueMap {
        ValueMap {
            pairs: self
                .mapping
                .and_then(|m| m.values_for(canonical))
                .map(|map| {
                    map.iter()
                        .map(|(theirs, ours)| (theirs.to_lowercase(), ours.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Ends resolution: an error naming everything missing, or the columns for the rows.
    pub fn finish(mut self, file: &Path) -> Result<Columns, ImportError> {
        let mut keep = Vec::new();
        if let Some(mapping) = self.mapping {
            let rules = [(&mapping.keep, true), (&mapping.drop, false)];
            for (table, kept) in rules {
                for (header, values) in table {
                    let col = self.header(header);
                    // Still an extra column: the kept rows' value is worth keeping.
                    if let Some(claimed) = self.header.claimed.get_mut(col.0) {
                        *claimed = false;
                    }
                    let values = values.iter().map(|v| v.to_lowercase()).collect();
                    keep.push((col, values, kept));
                }
            }
        }
        if !self.missing.is_empty() || !self.ambiguous.is_empty() {
            return Err(ImportError::MissingColumns {
                file: file.to_path_buf(),
                missing: self.missing,
                ambiguous: self.ambiguous,
                found: self.header.names.clone(),
                layouts: Box::new(super::LayoutsTried {
                    read_as: self.mapping.map(|m| m.display_name().to_string()),
                    known: Vec::new(),
                }),
            });
        }
        let mut extra: Vec<(String, Col, bool)> = Vec::new();
        for (i, name) in self.header.names.iter().enumerate() {
            if self.header.claimed[i] {
                continue;
            }
            let mut key = self.header.display_name(i);
            // Two unused columns with one name both stay: the second gets its position.
            if extra.iter().any(|(k, _, _)| k.eq_ignore_ascii_case(&key)) || name.is_empty() {
                key = format!("{key} #{}", i + 1);
            }
            extra.push((key, Col(i), false));
        }
        extra.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Columns {
            header: self.header,
            value_maps: self.value_maps,
            extra,
            keep,
        })
    }
}

/// The resolved columns of one file.
pub(crate) struct Columns {
    pub header: Header,
    /// Per field: the mapping's value translations (empty for most).
    value_maps: Vec<ValueMap>,
    /// The extra columns, sorted by name (the file's column set): each with its field, and
    /// whether only some rows keep it (see [`Columns::keep_when_unused`]).
    extra: Vec<(String, Col, bool)>,
    /// Rows are imported only where these fields hold one of these values (lower case),
    /// or, with `false`, none of them.
    keep: Vec<(Col, Vec<String>, bool)>,
}

impl Columns {
    /// Whether the row is of the kind the layout imports (see the mapping's `[keep]`);
    /// the header whose value says it is not, otherwise.
    pub fn kept<'a>(&'a self, record: &StringRecord) -> Result<(), &'a str> {
        for (col, values, kept) in &self.keep {
            let value = record.get(col.0).unwrap_or("").trim().to_lowercase();
            if values.contains(&value) != *kept {
                return Err(&self.header.names[col.0]);
            }
        }
        Ok(())
    }

    /// The trimmed text of field `col` with the mapping's value translation applied
    /// ("" where the row has no such field).
    pub fn text<'a>(&'a self, record: &'a StringRecord, col: Col) -> &'a str {
        if let Some(k) = col.0.checked_sub(self.header.names.len()) {
            return self.header.constants.get(k).map_or("", |(_, v)| v.as_str());
        }
        let raw = record.get(col.0).unwrap_or("").trim();
        match self.value_maps.get(col.0) {
            Some(map) => map.apply(raw),
            None => raw,
        }
    }

    /// Marks a used column whose value is also kept in `extra` on the rows that could
    /// not use it (a fee in another currency than the charge's).
    pub fn keep_when_unused(&mut self, col: Col) {
        let key = self.header.display_name(col.0);
        self.extra.push((key, col, true));
        self.extra.sort_by(|a, b| a.0.cmp(&b.0));
    }

    /// The names of the extra columns, sorted: the file's column set.
    pub fn extra_names(&self) -> Vec<String> {
        self.extra.iter().map(|(name, _, _)| name.clone()).collect()
    }

    /// Writes the row's extra columns into `out` (cleared first) as a JSON array in the
    /// order of [`Columns::extra_names`], `""` for an empty cell and trailing empty cells
    /// left off; with the column of [`Columns::keep_when_unused`] when `with_kept`.
    pub fn write_extra(&self, record: &StringRecord, with_kept: bool, out: &mut String) {
        out.clear();
        out.push('[');
        let mut end = out.len();
        for (i, (_, col, kept_only)) in self.extra.iter().enumerate() {
            let value = if *kept_only && !with_kept {
                ""
            } else {
                record.get(col.0).unwrap_or("").trim()
            };
            if i > 0 {
                out.push(',');
            }
            push_json_string(out, value);
            if !value.is_empty() {
                end = out.len();
            }
        }
        out.truncate(end);
        out.push(']');
    }
}

/// A column's value translations from a mapping (their value -> ours), matched
/// case-insensitively after trimming; values it does not list pass through unchanged.
#[derive(Debug, Default)]
pub(crate) struct ValueMap {
    pairs: Vec<(String, String)>,
}

impl ValueMap {
    pub fn apply<'a>(&'a self, value: &'a str) -> &'a str {
        if self.pairs.is_empty() {
            return value;
        }
        self.pairs
            .iter()
            .find(|(theirs, _)| theirs.eq_ignore_ascii_case(value))
            .map_or(value, |(_, ours)| ours.as_str())
    }
}

/// Appends `text` as a JSON string literal. Runs of plain characters are copied whole:
/// this runs for every extra cell of every row.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `i` is a character boundary.
        out.push_str(&text[plain_from..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        plain_from = i + 1;
    }
    out.push_str(&text[plain_from..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_json_string;
    use rstest::rstest;

    #[rstest]
    #[case::plain("Visa")]
    #[case::quotes_and_backslash("say \"hi\" \\ bye")]
    #[case::line_breaks_and_tab("a\r\nb\tc")]
    #[case::control_byte("bell\u{7}")]
    #[case::non_ascii("Müller – 東京")]
    fn extra_values_are_valid_json_that_reads_back(#[case] text: &str) {
        let mut out = String::new();
        push_json_string(&mut out, text);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, text);
    }
}
