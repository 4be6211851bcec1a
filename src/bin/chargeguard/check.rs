//! `chargeguard check`: the scheduled run. Exit codes, for cron and CI alerts:
//! 0 nothing new; 4 the accounting system could not be synced (connect it again: what
//! was found lacks the books' latest); 10 new (or reopened) findings; 3 actions still
//! undecided; 2 an error.

use std::process::ExitCode;

use crate::gateway::{client, runtime};
use crate::{Ctx, findings, output};

/// Exit code when the check found something new.
pub const NEW_FINDINGS: u8 = 10;
/// Exit code when an action's outcome is still unknown after recovery.
pub const UNDECIDED: u8 = 3;
/// Exit code when the accounting system could not be synced.
pub const BOOKS_NOT_SYNCED: u8 = 4;

pub fn run(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let client = client(ctx, &mut store)?;
    let report = runtime()?.block_on(chargeguard::check::run(
        &mut store,
        &client,
        jiff::Timestamp::now(),
        |_| {},
    ))?;
    if ctx.json {
        output::json(&report)?;
    } else {
        println!("synced: {}", report.sync);
        if let Some(books) = &report.books {
            println!("{books}");
        }
        println!("{}", report.recovery);
        println!("{}", report.reconcile);
        if report.new_findings.is_empty() {
            println!("Nothing new since the last check.");
        } else {
            println!("New since the last check:");
            findings::print_table(&report.new_findings);
        }
    }
    Ok(
        // Findings made without the books' latest are not the whole story: that first.
        if report.books.as_ref().is_some_and(|b| b.problem.is_some()) {
            ExitCode::from(BOOKS_NOT_SYNCED)
        } else if !report.new_findings.is_empty() || report.reconcile.reopened > 0 {
            ExitCode::from(NEW_FINDINGS)
        } else if report.undecided_actions > 0 {
            ExitCode::from(UNDECIDED)
        } else {
            ExitCode::SUCCESS
        },
    )
}
