//! Banks' CSV exports, recognised by their header line: each bank's layout is data (a TOML
//! file in `layouts/bank/`, compiled in, each naming the real export it follows), never a
//! code path of its own; a bank nobody shipped is read with the person's own layout file
//! in the same form (`import bank FILE --layout mine.toml`).
//!
//! What the layouts cover, as banks write them: a header below a summary block (Bank of
//! America, ING, UBS), no header at all (Wells Fargo, HSBC: told by the lines' shape), one signed amount or money out and money in apart (unsigned, or with
//! a sign the bank puts on both), a direction column (ING's `Af`/`Bij`), cards that write
//! spending positive (American Express), `$ £ '` and thousands separators, decimal commas,
//! a currency in a column or in the amount's header (`Amount (GBP)`), an account column
//! for files of several accounts, pending rows (counted and left out) and rows that are no
//! transaction (an opening balance with no amount), and the apostrophe some banks put
//! before a text so a spreadsheet keeps it. Nothing here touches the store.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ParsedLine, ParsedStatement, StatementProblem};
use crate::money::{Currency, Money, Sign};

/// A bank's CSV export, as its layout file describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankLayout {
    /// The bank and export, as the bookkeeper knows them (`Chase checking`).
    pub name: String,
    /// Where the export's shape comes from (real files other projects keep).
    pub source: String,
    /// Header names that must all be on the header line (compared trimmed, without case;
    /// `{currency}` stands for a three-letter code).
    #[serde(default)]
    pub recognise: Vec<String>,
    /// For an export with no header line (Wells Fargo, HSBC): its columns' names, in
    /// order. Such a file is recognised by its shape instead: every line has these
    /// fields, a date in `date_format` and a number in the amount, and `marker_value` in
    /// `marker_column` where the bank writes one.
    #[serde(default)]
    pub headerless: Vec<String>,
    #[serde(default)]
    pub marker_column: Option<String>,
    #[serde(default)]
    pub marker_value: Option<String>,
    #[serde(default = "comma")]
    pub delimiter: char,
    /// The booking date's column and its format (`%m/%d/%Y`).
    pub date: String,
    pub date_format: String,
    /// One signed amount, money in positive…
    #[serde(default)]
    pub amount: Option<String>,
    /// …or money out and money in, in two columns (whatever sign the bank writes).
    #[serde(default)]
    pub money_out: Option<String>,
    #[serde(default)]
    pub money_in: Option<String>,
    /// An unsigned amount whose direction another column states (`Af`/`Bij`).
    #[serde(default)]
    pub direction: Option<String>,
    /// The direction column's values for money out.
    #[serde(default)]
    pub out_when: Vec<String>,
    /// A card export that writes spending positive and payments negative.
    #[serde(default)]
    pub spend_positive: bool,
    #[serde(default = "dot")]
    pub decimal: char,
    /// Columns whose texts, joined, describe the line.
    pub description: Vec<String>,
    #[serde(default)]
    pub kind: Option<String>,
    /// The bank's own id for a line, where it gives one.
    #[serde(default)]
    pub id: Option<String>,
    /// The currency's column, where the file has one.
    #[serde(default)]
    pub currency: Option<String>,
    /// The currency every account of this export is in (a US bank's dollars), where the
    /// file names none.
    #[serde(default)]
    pub currency_code: Option<String>,
    /// The account's column, for files that hold several accounts.
    #[serde(default)]
    pub account: Option<String>,
    /// A status column, and its values for lines the bank has not booked (left out and
    /// counted) — pending, failed, declined, reverted.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub not_booked: Vec<String>,
}

fn comma() -> char {
    ','
}

fn dot() -> char {
    '.'
}

/// The shipped layouts, in `layouts/bank/`, by file name.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "chase-checking",
        include_str!("../../../../../layouts/bank/chase-checking.toml"),
    ),
    (
        "chase-card",
        include_str!("../../../../../layouts/bank/chase-card.toml"),
    ),
    (
        "bank-of-america",
        include_str!("../../../../../layouts/bank/bank-of-america.toml"),
    ),
    (
        "bank-of-america-card",
        include_str!("../../../../../layouts/bank/bank-of-america-card.toml"),
    ),
    (
        "capital-one-card",
        include_str!("../../../../../layouts/bank/capital-one-card.toml"),
    ),
    (
        "capital-one-360",
        include_str!("../../../../../layouts/bank/capital-one-360.toml"),
    ),
    (
        "schwab",
        include_str!("../../../../../layouts/bank/schwab.toml"),
    ),
    (
        "mercury",
        include_str!("../../../../../layouts/bank/mercury.toml"),
    ),
    ("dcu", include_str!("../../../../../layouts/bank/dcu.toml")),
    (
        "amex",
        include_str!("../../../../../layouts/bank/amex.toml"),
    ),
    (
        "citi",
        include_str!("../../../../../layouts/bank/citi.toml"),
    ),
    (
        "td-bank",
        include_str!("../../../../../layouts/bank/td-bank.toml"),
    ),
    (
        "lloyds",
        include_str!("../../../../../layouts/bank/lloyds.toml"),
    ),
    (
        "barclays",
        include_str!("../../../../../layouts/bank/barclays.toml"),
    ),
    (
        "monzo",
        include_str!("../../../../../layouts/bank/monzo.toml"),
    ),
    (
        "starling",
        include_str!("../../../../../layouts/bank/starling.toml"),
    ),
    (
        "nationwide",
        include_str!("../../../../../layouts/bank/nationwide.toml"),
    ),
    (
        "natwest",
        include_str!("../../../../../layouts/bank/natwest.toml"),
    ),
    (
        "bank-of-ireland",
        include_str!("../../../../../layouts/bank/bank-of-ireland.toml"),
    ),
    ("aib", include_str!("../../../../../layouts/bank/aib.toml")),
    (
        "revolut",
        include_str!("../../../../../layouts/bank/revolut.toml"),
    ),
    (
        "revolut-business",
        include_str!("../../../../../layouts/bank/revolut-business.toml"),
    ),
    (
        "wise",
        include_str!("../../../../../layouts/bank/wise.toml"),
    ),
    ("n26", include_str!("../../../../../layouts/bank/n26.toml")),
    (
        "ing-nl",
        include_str!("../../../../../layouts/bank/ing-nl.toml"),
    ),
    (
        "rabobank",
        include_str!("../../../../../layouts/bank/rabobank.toml"),
    ),
    (
        "ing-de",
        include_str!("../../../../../layouts/bank/ing-de.toml"),
    ),
    (
        "commerzbank",
        include_str!("../../../../../layouts/bank/commerzbank.toml"),
    ),
    (
        "sparkasse",
        include_str!("../../../../../layouts/bank/sparkasse.toml"),
    ),
    ("ubs", include_str!("../../../../../layouts/bank/ubs.toml")),
    (
        "wells-fargo",
        include_str!("../../../../../layouts/bank/wells-fargo.toml"),
    ),
    (
        "hsbc-uk",
        include_str!("../../../../../layouts/bank/hsbc-uk.toml"),
    ),
];

/// The shipped layouts, parsed once.
pub fn shipped() -> &'static [BankLayout] {
    static PARSED: std::sync::OnceLock<Vec<BankLayout>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        SHIPPED
            .iter()
            .map(|(_, text)| toml::from_str(text).expect("every shipped bank layout parses"))
            .collect()
    })
}

/// Reads a person's own layout file.
pub fn layout_from_toml(text: &str) -> Result<BankLayout, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

/// How far down a file its header may sit (below a bank's summary block).
const HEADER_SEARCH_LINES: usize = 30;

/// The text of a file: UTF-8 (without its byte-order mark) where it is, else Windows-1252,
/// which the banks that do not write UTF-8 write (a superset of Latin-1's printable range).
pub(crate) fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.strip_prefix('\u{feff}').unwrap_or(text).to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

/// Whether a header cell is the layout's column `name` (with `{currency}` in it, the code
/// it stands for).
fn header_matches(cell: &str, name: &str) -> Option<Option<String>> {
    let (cell, name) = (cell.trim(), name.trim());
    match name.split_once("{currency}") {
        None => cell.eq_ignore_ascii_case(name).then_some(None),
        Some((before, after)) => {
            let lower = cell.to_ascii_lowercase();
            let middle = lower
                .strip_prefix(&before.to_ascii_lowercase())?
                .strip_suffix(&after.to_ascii_lowercase())?;
            (middle.len() == 3 && middle.bytes().all(|b| b.is_ascii_alphabetic()))
                .then(|| middle.to_ascii_uppercase())
                .map(Some)
        }
    }
}

fn cells_of(line: &str, delimiter: char) -> Vec<String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter as u8)
        .from_reader(line.as_bytes());
    reader
        .records()
        .next()
        .and_then(Result::ok)
        .map(|r| r.iter().map(|c| c.trim().to_string()).collect())
        .unwrap_or_default()
}

/// Where a file's lines start: below the header on this line (0-based), or from the first
/// line for an export with no header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Header(usize),
    Headerless,
}

/// The layout whose header is in the file's first lines (the one naming the most columns,
/// where several fit); failing that, a headerless layout whose shape every one of the
/// file's first lines has.
pub fn recognise<'l>(text: &str, layouts: &'l [BankLayout]) -> Option<(&'l BankLayout, Start)> {
    if let Some((layout, line)) = recognise_header(text, layouts) {
        return Some((layout, Start::Header(line)));
    }
    layouts
        .iter()
        .filter(|l| !l.headerless.is_empty())
        .find(|l| has_shape(text, l))
        .map(|l| (l, Start::Headerless))
}

/// Whether the file's first lines (up to ten) all look like `layout`'s headerless rows.
fn has_shape(text: &str, layout: &BankLayout) -> bool {
    let at = |name: &str| layout.headerless.iter().position(|n| n == name);
    let (Some(date), Some(amount)) = (at(&layout.date), layout.amount.as_deref().and_then(&at))
    else {
        return false;
    };
    let marker = layout
        .marker_column
        .as_deref()
        .and_then(&at)
        .zip(layout.marker_value.as_deref());
    // A headerless layout names its currency (checked by the tests): the amounts are read
    // as they will be imported.
    let Some(currency) = layout
        .currency_code
        .as_deref()
        .and_then(|c| Currency::from_code(c).ok())
    else {
        return false;
    };
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(10)
        .collect();
    !lines.is_empty()
        && lines.iter().all(|line| {
            let mut cells = cells_of(line, layout.delimiter);
            while cells.len() > layout.headerless.len()
                && cells.last().is_some_and(String::is_empty)
            {
                cells.pop();
            }
            cells.len() == layout.headerless.len()
                && jiff::fmt::strtime::parse(&layout.date_format, &cells[date])
                    .and_then(|p| p.to_date())
                    .is_ok()
                && Money::parse_written(&cells[amount], currency, Sign::Any, layout.decimal).is_ok()
                && marker.is_none_or(|(i, value)| cells[i] == value)
        })
}

fn recognise_header<'l>(text: &str, layouts: &'l [BankLayout]) -> Option<(&'l BankLayout, usize)> {
    let mut best: Option<(&BankLayout, usize)> = None;
    for (n, line) in text.lines().take(HEADER_SEARCH_LINES).enumerate() {
        for layout in layouts.iter().filter(|l| !l.recognise.is_empty()) {
            let cells = cells_of(line, layout.delimiter);
            let fits = layout
                .recognise
                .iter()
                .all(|name| cells.iter().any(|c| header_matches(c, name).is_some()));
            if fits && best.is_none_or(|(b, _)| layout.recognise.len() > b.recognise.len()) {
                best = Some((layout, n));
            }
        }
        if best.is_some() {
            return best;
        }
    }
    None
}

/// Reads the file's lines with `layout` from `start`. `currency` is the account's where
/// neither a column nor the header names one; `account` names the account where no column
/// does (else the layout's name).
pub(crate) fn read(
    text: &str,
    layout: &BankLayout,
    start: Start,
    currency: Option<Currency>,
    account: Option<&str>,
) -> Result<Vec<ParsedStatement>, StatementProblem> {
    // The file's lines before the part the reader sees, so its line numbers are the file's.
    let skipped = match start {
        Start::Header(line) => line,
        Start::Headerless => 0,
    };
    let rest: String = text.lines().skip(skipped).collect::<Vec<_>>().join("\n");
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(start != Start::Headerless)
        .flexible(true)
        .delimiter(layout.delimiter as u8)
        .from_reader(rest.as_bytes());
    let offset = skipped as u64;
    let first_line = offset + 1;
    let header: Vec<String> = match start {
        Start::Headerless => layout.headerless.clone(),
        Start::Header(_) => reader
            .headers()
            .map_err(|e| StatementProblem::at(first_line, "header", "", e.to_string()))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect(),
    };
    let find = |name: &str| -> Option<(usize, Option<String>)> {
        header
            .iter()
            .enumerate()
            .find_map(|(i, h)| header_matches(h, name).map(|code| (i, code)))
    };
    let need = |name: &str| {
        find(name).map(|(i, _)| i).ok_or_else(|| {
            StatementProblem::at(
                first_line,
                name,
                "",
                format!("the {} layout needs a column {name:?}", layout.name),
            )
        })
    };
    let opt = |name: &Option<String>| name.as_deref().and_then(find).map(|(i, _)| i);
    let date = need(&layout.date)?;
    let amount = layout.amount.as_deref().map(&need).transpose()?;
    let money_out = layout.money_out.as_deref().map(&need).transpose()?;
    let money_in = layout.money_in.as_deref().map(&need).transpose()?;
    let direction = opt(&layout.direction);
    let descriptions: Vec<usize> = layout
        .description
        .iter()
        .filter_map(|d| find(d).map(|(i, _)| i))
        .collect();
    let (kind, id, currency_column, account_column, status) = (
        opt(&layout.kind),
        opt(&layout.id),
        opt(&layout.currency),
        opt(&layout.account),
        opt(&layout.status),
    );
    // A currency in an amount's header (`Amount (GBP)`).
    let header_currency = [&layout.amount, &layout.money_out, &layout.money_in]
        .into_iter()
        .flatten()
        .find_map(|name| find(name).and_then(|(_, code)| code));
    let header_currency = header_currency
        .map(|code| {
            Currency::from_code(&code)
                .map_err(|e| StatementProblem::at(first_line, "header", &code, e.to_string()))
        })
        .transpose()?;

    let layout_currency = layout
        .currency_code
        .as_deref()
        .map(|code| {
            Currency::from_code(code)
                .map_err(|e| StatementProblem::at(first_line, "layout", code, e.to_string()))
        })
        .transpose()?;
    let mut by_account: BTreeMap<String, ParsedStatement> = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e
                .position()
                .map_or(first_line, |p| first_line + p.line() - 1);
            StatementProblem::at(line, "row", "", e.to_string())
        })?;
        let line = offset + record.position().map_or(1, |p| p.line());
        // A leading apostrophe is the bank telling a spreadsheet to keep a text as text
        // (NatWest's `'Description`, Lloyds' `'99-88-74`), not part of it.
        let cell = |i: usize| {
            let text = record.get(i).map(str::trim).unwrap_or("");
            text.strip_prefix('\'').unwrap_or(text)
        };
        let at = |i: usize| header.get(i).cloned().unwrap_or_default();
        let amount_cells: Vec<usize> = [amount, money_out, money_in]
            .into_iter()
            .flatten()
            .collect();
        let account_name = account_column
            .map(|i| cell(i).to_string())
            .filter(|a| !a.is_empty())
            .or_else(|| account.map(str::to_string))
            .unwrap_or_else(|| layout.name.clone());
        let statement = by_account
            .entry(account_name.clone())
            .or_insert_with(|| ParsedStatement {
                account: account_name,
                currency: None,
                lines: Vec::new(),
                opening: None,
                closing: None,
                not_booked: 0,
                covers: None,
            });
        if let Some(s) = status
            && layout
                .not_booked
                .iter()
                .any(|v| v.eq_ignore_ascii_case(cell(s)))
        {
            statement.not_booked += 1;
            continue;
        }
        // A row with no amount is no transaction (an opening balance, a section title).
        if amount_cells.iter().all(|&i| cell(i).is_empty()) {
            continue;
        }
        let booked_on = jiff::fmt::strtime::parse(&layout.date_format, cell(date))
            .and_then(|p| p.to_date())
            .map_err(|_| {
                StatementProblem::at(
                    line,
                    &at(date),
                    cell(date),
                    format!(
                        "not a date as {} writes them ({})",
                        layout.name, layout.date_format
                    ),
                )
            })?;
        let currency = currency_column
            .map(&cell)
            .filter(|c| !c.is_empty())
            .map(|c| {
                Currency::from_code(c).map_err(|e| {
                    StatementProblem::at(line, &at(currency_column.unwrap_or(0)), c, e.to_string())
                })
            })
            .transpose()?
            .or(header_currency)
            .or(layout_currency)
            .or(currency)
            .ok_or_else(|| {
                StatementProblem::at(
                    line,
                    &at(date),
                    "",
                    format!(
                        "{}'s export names no currency; give the account's with --currency",
                        layout.name
                    ),
                )
            })?;
        let read = |i: usize| -> Result<Option<Money>, StatementProblem> {
            let text = cell(i);
            if text.is_empty() {
                return Ok(None);
            }
            Money::parse_written(text, currency, Sign::Any, layout.decimal)
                .map(Some)
                .map_err(|e| StatementProblem::at(line, &at(i), text, e.to_string()))
        };
        let abs = |m: Money| Money::from_minor(m.minor().saturating_abs(), currency);
        let mut money = match (amount, money_out, money_in) {
            (Some(a), _, _) => read(a)?.unwrap_or(Money::zero(currency)),
            (None, Some(o), Some(i)) => match (read(o)?, read(i)?) {
                (Some(out), Some(inn)) if !out.is_zero() && !inn.is_zero() => {
                    return Err(StatementProblem::at(
                        line,
                        &at(o),
                        cell(o),
                        "the line has money both out and in; a line is one or the other",
                    ));
                }
                (Some(out), _) if !out.is_zero() => Money::from_minor(-abs(out).minor(), currency),
                (_, Some(inn)) => abs(inn),
                (Some(out), None) => out,
                (None, None) => continue,
            },
            _ => {
                return Err(StatementProblem::at(
                    first_line,
                    "header",
                    "",
                    format!("the {} layout names no amount column", layout.name),
                ));
            }
        };
        if let Some(d) = direction {
            let out = layout
                .out_when
                .iter()
                .any(|v| v.eq_ignore_ascii_case(cell(d)));
            money = Money::from_minor(
                if out {
                    -abs(money).minor()
                } else {
                    abs(money).minor()
                },
                currency,
            );
        }
        if layout.spend_positive {
            money = Money::from_minor(-money.minor(), currency);
        }
        if statement.currency.is_some_and(|c| c != currency) {
            return Err(StatementProblem::at(
                line,
                &at(currency_column.unwrap_or(date)),
                currency.code(),
                "the account's lines are in two currencies; split the file by currency",
            ));
        }
        statement.currency = Some(currency);
        let description = descriptions
            .iter()
            .map(|&i| cell(i))
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" / ");
        let amount_at = amount.or(money_out).unwrap_or(date);
        statement.lines.push(ParsedLine {
            id: id.map(|i| cell(i).to_string()).filter(|v| !v.is_empty()),
            booked_on,
            amount_text: money.to_decimal_string(),
            amount_at: (line, at(amount_at)),
            description,
            kind: kind.map(|i| cell(i).to_string()).filter(|v| !v.is_empty()),
            line,
        });
    }
    Ok(by_account.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_with_no_header_is_told_by_its_shape() {
        let layouts = shipped();
        let wells = "\"12/04/2009\",\"-12.07\",\"*\",\"\",\"CHECK CRD PURCHASE\"\n\"12/04/2009\",\"-789.00\",\"*\",\"2392\",\"CHECK # 2392\"\n";
        let hsbc = "25/12/2017,My description here   VIS,\"-50.65\"\n20/10/2017,Other description   VIS,\"-1,234.50\"\n";
        let seen = |text: &str| recognise(text, layouts).map(|(l, s)| (l.name.clone(), s));
        assert_eq!(seen(wells), Some(("Wells Fargo".into(), Start::Headerless)));
        assert_eq!(seen(hsbc), Some(("HSBC UK".into(), Start::Headerless)));
        assert_eq!(seen("a,b,c\n1,2,3\n"), None);
    }

    #[test]
    fn every_layout_file_is_shipped_and_reads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../layouts/bank");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .map(|n| n.trim_end_matches(".toml").to_string())
            .collect();
        files.sort();
        let mut ids: Vec<String> = SHIPPED.iter().map(|(id, _)| id.to_string()).collect();
        ids.sort();
        assert_eq!(files, ids);
        for layout in shipped() {
            assert!(
                layout.recognise.is_empty() != layout.headerless.is_empty(),
                "{}: a layout is recognised by its header or by its shape",
                layout.name
            );
            assert!(
                layout.headerless.is_empty() || layout.currency_code.is_some(),
                "{}: a headerless layout names its currency",
                layout.name
            );
        }
    }
}
