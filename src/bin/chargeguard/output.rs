//! Printing for people and for programs: JSON with `--json`, tables otherwise.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;

pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    line(&serde_json::to_string_pretty(value)?)
}

/// Prints one line; a reader that went away (`| head`) ends the output quietly.
pub fn line(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

pub fn table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_BORDERS_ONLY)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table
}

/// A command's report: JSON with `--json`, else its words.
pub fn report<T: Serialize + std::fmt::Display>(
    ctx: &crate::Ctx,
    report: &T,
) -> anyhow::Result<std::process::ExitCode> {
    if ctx.json {
        json(report)?;
    } else {
        println!("{report}");
    }
    Ok(std::process::ExitCode::SUCCESS)
}
