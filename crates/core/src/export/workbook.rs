//! The Excel workbook: a summary sheet first (the tie-out), then one sheet per table.
//!
//! Money goes in as numbers with the currency's decimals as a number format (`#,##0.00`
//! for USD, `#,##0` for JPY, `#,##0.000` for KWD), never as text, so an auditor can add a
//! column. Sheets are written in constant-memory mode (rows stream to a temporary file),
//! so a month of a million charges does not hold the sheet in memory. A sheet longer than
//! Excel's row limit continues on a sheet named `… (2)`. The document's creation time is
//! the package's `as_of` (or the period's end), never the clock, so the file is the same
//! byte for byte when the books are.

use std::collections::HashMap;
use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};

use super::tables::{Cell, Table};
use crate::money::Currency;

/// Rows per sheet, header included (Excel's limit).
const EXCEL_ROWS: usize = 1_048_576;

fn money_format(currency: Currency) -> Format {
    let decimals = currency.exponent() as usize;
    let pattern = if decimals == 0 {
        "#,##0".to_string()
    } else {
        format!("#,##0.{}", "0".repeat(decimals))
    };
    Format::new().set_num_format(pattern)
}

/// What an xlsx number cell holds.
type XlsxNumber = f64; // float-ok: an xlsx number cell is a double; the CSVs keep the exact decimals

/// Minor units to the number a spreadsheet cell holds. This is the only place money
/// becomes a float, because an xlsx number cell *is* an IEEE double: the value is
/// `minor / 10^decimals` computed once here, with no arithmetic on it afterwards. Every
/// amount up to 2^53 minor units (90 trillion dollars) is exactly representable as an
/// integer, and the division gives the double nearest the decimal, which Excel shows
/// exactly at the currency's decimals. The package's CSV files keep the exact decimals.
fn cell_number(minor: i64, currency: Currency) -> XlsxNumber {
    minor as f64 / 10f64.powi(currency.exponent() as i32) // float-ok: see above
}

/// Writes the workbook to `path`: `summary` first, then `tables`.
pub fn write<'a>(
    path: &Path,
    summary: &Table<'a>,
    tables: &[Table<'a>],
    created: jiff::Timestamp,
) -> Result<(), XlsxError> {
    let mut workbook = Workbook::new();
    // The sheets' XML (ten times the CSVs) is most of the export's deflating.
    workbook.set_zip_compression_level(super::DEFLATE_LEVEL as u8);
    let dt = created.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let when = ExcelDateTime::from_ymd(dt.year() as u16, dt.month() as u8, dt.day() as u8)?
        .and_hms(dt.hour() as u16, dt.minute() as u8, dt.second() as u8)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title("Chargeguard month-end package")
            .set_creation_datetime(&when),
    );
    let bold = Format::new().set_bold();
    let mut formats: HashMap<Currency, Format> = HashMap::new();
    for table in std::iter::once(summary).chain(tables) {
        let name = if std::ptr::eq(table, summary) {
            "Summary"
        } else {
            table.sheet
        };
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(table.header.len());
        let mut part = 1;
        let mut row_in_sheet = EXCEL_ROWS; // forces a first sheet
        let mut sheet = None;
        for i in 0..table.len.max(1) {
            if row_in_sheet == EXCEL_ROWS {
                let title = if part == 1 {
                    name.to_string()
                } else {
                    format!("{name} ({part})")
                };
                part += 1;
                let ws = workbook.add_worksheet_with_constant_memory()?;
                ws.set_name(&title)?;
                for (col, h) in table.header.iter().enumerate() {
                    ws.write_string_with_format(0, col as u16, *h, &bold)?;
                }
                row_in_sheet = 1;
                sheet = Some(workbook.worksheets().len() - 1);
            }
            if table.len == 0 {
                break;
            }
            cells.clear();
            (table.row)(i, &mut cells);
            let ws = workbook.worksheet_from_index(sheet.expect("a sheet was added"))?;
            for (col, cell) in cells.iter().enumerate() {
                let (r, c) = (row_in_sheet as u32, col as u16);
                match cell {
                    Cell::Text(text) => {
                        if !text.is_empty() {
                            ws.write_string(r, c, text.as_ref())?;
                        }
                    }
                    Cell::Int(n) => {
                        // Ids and sequence numbers, far below 2^53.
                        ws.write_number(r, c, *n as f64)?; // float-ok: ids, not money
                    }
                    Cell::Money(minor, currency) => {
                        let format = formats
                            .entry(*currency)
                            .or_insert_with(|| money_format(*currency));
                        ws.write_number_with_format(
                            r,
                            c,
                            cell_number(*minor, *currency),
                            &*format,
                        )?;
                    }
                }
            }
            row_in_sheet += 1;
        }
    }
    workbook.save(path)
}
