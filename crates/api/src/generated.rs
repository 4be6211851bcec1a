//! The TypeScript twins of [`super::json`] and [`super::error`], kept in
//! `ui/src/generated/`. [`render`] produces every file's text from the Rust definitions;
//! the test `api_generated_types` fails when a committed file differs, and
//! `UPDATE_GENERATED=1 cargo test --test api_generated_types` rewrites them.

use std::path::Path;

use ts_rs::{Config, TS};

use super::error::{ApiError, ApiErrorCode};
use super::json::*;

/// Where the generated files live, relative to the repository root.
pub const DIR: &str = "ui/src/generated";

fn config() -> Config {
    // Ids and counts are plain numbers; money never is (see `json::Amount`).
    Config::new().with_large_int("number")
}

fn one<T: TS + 'static>(cfg: &Config, out: &mut Vec<(String, String)>) {
    let path = T::output_path().expect("every transport type names its file");
    let text = T::export_to_string(cfg).expect("every transport type renders");
    out.push((path.to_string_lossy().into_owned(), text));
}

/// Every generated file: (file name under [`DIR`], contents), sorted by name.
pub fn render() -> Vec<(String, String)> {
    let cfg = config();
    let mut out = Vec::new();
    one::<ApiError>(&cfg, &mut out);
    one::<ApiErrorCode>(&cfg, &mut out);
    one::<Amount>(&cfg, &mut out);
    one::<FindingKind>(&cfg, &mut out);
    one::<FindingStatus>(&cfg, &mut out);
    one::<Resolution>(&cfg, &mut out);
    one::<Confidence>(&cfg, &mut out);
    one::<ActionState>(&cfg, &mut out);
    one::<Today>(&cfg, &mut out);
    one::<LastSync>(&cfg, &mut out);
    one::<DemoApprover>(&cfg, &mut out);
    one::<CoverageWindow>(&cfg, &mut out);
    one::<KindTotal>(&cfg, &mut out);
    one::<FindingsQuery>(&cfg, &mut out);
    one::<FindingRow>(&cfg, &mut out);
    one::<FindingDetail>(&cfg, &mut out);
    one::<ProposedFix>(&cfg, &mut out);
    one::<Evidence>(&cfg, &mut out);
    one::<EvidenceInvoice>(&cfg, &mut out);
    one::<EvidenceLedgerEntry>(&cfg, &mut out);
    one::<EvidenceCharge>(&cfg, &mut out);
    one::<EvidencePayout>(&cfg, &mut out);
    one::<EvidenceDeposit>(&cfg, &mut out);
    one::<EvidenceDispute>(&cfg, &mut out);
    one::<EvidenceFact>(&cfg, &mut out);
    one::<ActionView>(&cfg, &mut out);
    one::<IdRequest>(&cfg, &mut out);
    one::<ProposeRequest>(&cfg, &mut out);
    one::<ApproveRequest>(&cfg, &mut out);
    one::<Approved>(&cfg, &mut out);
    one::<DismissRequest>(&cfg, &mut out);
    one::<ExecuteRequest>(&cfg, &mut out);
    one::<Executed>(&cfg, &mut out);
    one::<Recovered>(&cfg, &mut out);
    one::<Synced>(&cfg, &mut out);
    one::<AuditVerified>(&cfg, &mut out);
    one::<ImportKind>(&cfg, &mut out);
    one::<ImportRequest>(&cfg, &mut out);
    one::<Imported>(&cfg, &mut out);
    {
        use super::audit_log::*;
        one::<AuditQuery>(&cfg, &mut out);
        one::<AuditRow>(&cfg, &mut out);
        one::<AuditPage>(&cfg, &mut out);
    }
    {
        use super::monthend::*;
        one::<MonthRequest>(&cfg, &mut out);
        one::<PeriodView>(&cfg, &mut out);
        one::<TieOutState>(&cfg, &mut out);
        one::<PeriodCloseView>(&cfg, &mut out);
        one::<TieOutView>(&cfg, &mut out);
        one::<TieOutLine>(&cfg, &mut out);
        one::<ClearingView>(&cfg, &mut out);
        one::<ExportMonthRequest>(&cfg, &mut out);
        one::<ExportedPackage>(&cfg, &mut out);
        one::<PathRequest>(&cfg, &mut out);
        one::<PackageVerified>(&cfg, &mut out);
        one::<PackageProblem>(&cfg, &mut out);
        one::<ClosePeriodRequest>(&cfg, &mut out);
        one::<ReopenPeriodRequest>(&cfg, &mut out);
    }
    {
        use super::recharge::*;
        one::<RechargeCandidate>(&cfg, &mut out);
        one::<FailedAttempt>(&cfg, &mut out);
        one::<InvoiceRequest>(&cfg, &mut out);
        one::<RechargeQuery>(&cfg, &mut out);
        one::<RechargeProposeRequest>(&cfg, &mut out);
        one::<RechargeGuard>(&cfg, &mut out);
        one::<GuardOutcome>(&cfg, &mut out);
        one::<GuardCheck>(&cfg, &mut out);
        one::<RechargeCheck>(&cfg, &mut out);
    }
    {
        use super::imports::*;
        one::<UploadRequest>(&cfg, &mut out);
        one::<Uploaded>(&cfg, &mut out);
        one::<FileRequest>(&cfg, &mut out);
        one::<FileKindView>(&cfg, &mut out);
        one::<ImportCsvRequest>(&cfg, &mut out);
        one::<ImportOutcome>(&cfg, &mut out);
        one::<ChangedRowView>(&cfg, &mut out);
        one::<ImportProblem>(&cfg, &mut out);
        one::<Layout>(&cfg, &mut out);
        one::<MappingDraft>(&cfg, &mut out);
        one::<ColumnPair>(&cfg, &mut out);
        one::<ValuePair>(&cfg, &mut out);
        one::<MappingSummary>(&cfg, &mut out);
        one::<MappingView>(&cfg, &mut out);
        one::<MappingNameRequest>(&cfg, &mut out);
        one::<MappingSaveRequest>(&cfg, &mut out);
        one::<MappingPreviewRequest>(&cfg, &mut out);
        one::<MappingPreviewView>(&cfg, &mut out);
        one::<PreviewColumnView>(&cfg, &mut out);
        one::<PreviewRowView>(&cfg, &mut out);
    }
    {
        use super::settings::*;
        one::<KeySource>(&cfg, &mut out);
        one::<GatewaySettings>(&cfg, &mut out);
        one::<PersonRole>(&cfg, &mut out);
        one::<Person>(&cfg, &mut out);
        one::<Settings>(&cfg, &mut out);
        one::<ConnectRequest>(&cfg, &mut out);
        one::<UserAddRequest>(&cfg, &mut out);
        one::<ThresholdSource>(&cfg, &mut out);
        one::<ThresholdView>(&cfg, &mut out);
        one::<ThresholdRequest>(&cfg, &mut out);
        one::<TimeZoneRequest>(&cfg, &mut out);
        one::<DefaultCurrencyRequest>(&cfg, &mut out);
    }
    {
        use super::today_sync::*;
        one::<SyncState>(&cfg, &mut out);
        one::<SyncPhase>(&cfg, &mut out);
        one::<KindProgress>(&cfg, &mut out);
        one::<SyncStatus>(&cfg, &mut out);
        one::<DailyTotalsRequest>(&cfg, &mut out);
        one::<DailyTotals>(&cfg, &mut out);
        one::<CurrencySeries>(&cfg, &mut out);
        one::<DayAmounts>(&cfg, &mut out);
    }
    {
        use super::books::*;
        one::<BooksSystem>(&cfg, &mut out);
        one::<BooksConnection>(&cfg, &mut out);
        one::<ConsentState>(&cfg, &mut out);
        one::<BooksConsent>(&cfg, &mut out);
        one::<BooksStatus>(&cfg, &mut out);
        one::<BooksConnectRequest>(&cfg, &mut out);
        one::<PaymentAccountRequest>(&cfg, &mut out);
    }
    {
        use super::payouts::*;
        one::<PayoutView>(&cfg, &mut out);
        one::<DepositView>(&cfg, &mut out);
        one::<PayoutRequest>(&cfg, &mut out);
        one::<BalanceTransactionView>(&cfg, &mut out);
    }
    out.push(("commands.ts".to_string(), commands_ts(&cfg)));
    out.sort();
    out
}

/// The front end's `Commands` map, from the one declaration in `commands.rs`.
fn commands_ts(cfg: &Config) -> String {
    let declared = super::commands::declared(cfg);
    let mut names: Vec<&str> = declared
        .iter()
        .flat_map(|d| d.request.iter().chain([&d.answer]))
        .flat_map(|ts| ts.split(|c: char| !c.is_ascii_alphanumeric() && c != '_'))
        .filter(|word| word.starts_with(|c: char| c.is_ascii_uppercase()) && *word != "Array")
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut text = String::from(
        "// This file was generated from crates/api/src/commands.rs. Do not edit this file manually.\n",
    );
    text.push_str(&format!(
        "import type {{ {} }} from \"./index\";\n\n",
        names.join(", ")
    ));
    text.push_str(
        "/** Every command: its argument and its answer, as the core declares them. */\n",
    );
    text.push_str("export interface Commands {\n");
    for d in &declared {
        text.push_str(&format!(
            "  {}: [{}, {}];\n",
            d.name,
            d.request.as_deref().unwrap_or("null"),
            d.answer
        ));
    }
    text.push_str("}\n");
    text
}

/// Writes every file of [`render`] under `root`/[`DIR`], plus an `index.ts` re-exporting
/// them all, and removes generated files no type produces any more.
pub fn write_all(root: &Path) -> std::io::Result<()> {
    let dir = root.join(DIR);
    std::fs::create_dir_all(&dir)?;
    let files = with_index(render());
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".ts") && !files.iter().any(|(n, _)| *n == name) {
            std::fs::remove_file(entry.path())?;
        }
    }
    for (name, text) in &files {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

/// [`render`] plus `index.ts`.
pub fn with_index(mut files: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut index = String::from(
        "// This file was generated from crates/api/src/generated.rs. Do not edit this file manually.\n",
    );
    for (name, _) in &files {
        let module = name.trim_end_matches(".ts");
        index.push_str(&format!("export type * from \"./{module}\";\n"));
    }
    files.push(("index.ts".to_string(), index));
    files.sort();
    files
}
