//! Every command the windows may call, by name: the one list both shells route through.
//! The desktop shell's single `api` command and the HTTP wrapper's `POST /api/COMMAND`
//! both hand `(name, JSON argument)` to [`call`], so a command added here exists in both
//! at once and the two can never disagree on what a name means. The same declaration
//! renders the front end's `Commands` map (`ui/src/generated/commands.ts`).
//!
//! It parses the argument into the command's generated request type, runs the command
//! (blocking ones — SQLite, Argon2 — off the async threads) and returns its answer as
//! JSON. It holds no rule of its own.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::json::{
    ApproveRequest, DismissRequest, ExecuteRequest, FindingsQuery, IdRequest, ImportRequest,
    ProposeRequest,
};
use super::{Api, ApiError, ApiErrorCode};

fn parse<T: DeserializeOwned>(command: &str, request: Value) -> Result<T, ApiError> {
    serde_json::from_value(request)
        .map_err(|e| ApiError::invalid(format!("the request for `{command}` is malformed: {e}")))
}

fn to_json<T: Serialize>(value: T) -> Result<Value, ApiError> {
    serde_json::to_value(value)
        .map_err(|e| ApiError::internal(format!("cannot encode the answer: {e}")))
}

/// Runs a blocking API call (SQLite, Argon2) off the async threads.
async fn blocking<T: Serialize + Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<Value, ApiError> {
    let answer = tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("the request stopped: {e}")))??;
    to_json(answer)
}

/// One command as the windows see it: its name, and the TypeScript names of its argument
/// (`None`: it takes none, JSON `null`) and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub name: &'static str,
    pub request: Option<String>,
    pub answer: String,
}

/// Runs one declared command: parses its argument as its request type, calls it (a
/// blocking one off the async threads) and checks its answer is the declared type.
macro_rules! run {
    (blocking, $api:ident, $name:ident, $request:ident, $f:path, [], $ans:ty) => {
        blocking(move || -> Result<$ans, ApiError> { $f(&$api) }).await
    };
    (blocking, $api:ident, $name:ident, $request:ident, $f:path, [$req:ty], $ans:ty) => {{
        let request: $req = parse($name, $request)?;
        blocking(move || -> Result<$ans, ApiError> { $f(&$api, &request) }).await
    }};
    (awaited, $api:ident, $name:ident, $request:ident, $f:path, [], $ans:ty) => {{
        let answer: $ans = $f(&$api).await?;
        to_json(answer)
    }};
    (awaited, $api:ident, $name:ident, $request:ident, $f:path, [$req:ty], $ans:ty) => {{
        let request: $req = parse($name, $request)?;
        let answer: $ans = $f(&$api, &request).await?;
        to_json(answer)
    }};
    (awaited_owned, $api:ident, $name:ident, $request:ident, $f:path, [$req:ty], $ans:ty) => {{
        let request: $req = parse($name, $request)?;
        let answer: $ans = $f(&$api, request).await?;
        to_json(answer)
    }};
}

/// The one declaration of every command: `name: how function [argument] -> answer;`.
/// From it come [`call`] (the dispatch both shells route through) and [`declared`] (which
/// `generated.rs` renders as the front end's `Commands` map), so a command exists in the
/// dispatch and in TypeScript at once, with the same types, or not at all.
macro_rules! commands {
    ($( $name:ident : $how:ident $f:path [ $($req:ty)? ] -> $ans:ty ; )*) => {
        /// Runs the command `name` with its argument `request` (JSON `null` for commands
        /// that take none) and returns its answer as JSON.
        pub async fn call(api: &Api, name: &str, request: Value) -> Result<Value, ApiError> {
            let after = api.clone();
            let api = api.clone();
            let answer = match name {
                $( stringify!($name) => run!($how, api, name, request, $f, [$($req)?], $ans), )*
                other => Err(ApiError::new(
                    ApiErrorCode::NotFound,
                    format!(
                        "there is no command `{other}`; the window and Chargeguard are of different versions, reload the window"
                    ),
                )),
            };
            // A refused write may have written part (an action's failure, an audit line).
            if CHANGE_THE_BOOKS.contains(&name) {
                super::monthend::TieOutCache::refresh(&after);
            }
            answer
        }

        /// Every command, in declaration order.
        pub fn declared(cfg: &ts_rs::Config) -> Vec<Declared> {
            vec![$(
                Declared {
                    name: stringify!($name),
                    request: None $( .or(Some(<$req as ts_rs::TS>::name(cfg))) )?,
                    answer: <$ans as ts_rs::TS>::name(cfg),
                },
            )*]
        }
    };
}

/// The commands that may change what a month's tie-out reads (the sync's runs refresh
/// it themselves, in `today_sync`).
const CHANGE_THE_BOOKS: &[&str] = &[
    "propose",
    "approve",
    "dismiss",
    "execute",
    "recover",
    "reconcile",
    "import_file",
    "import_csv",
    "recharge_propose",
    "period_close",
    "period_reopen",
];

use super::audit_log::{AuditPage, AuditQuery};
use super::books::{BooksConnectRequest, BooksStatus, PaymentAccountRequest};
use super::imports::{
    FileKindView, FileRequest, ImportCsvRequest, ImportOutcome, MappingNameRequest,
    MappingPreviewRequest, MappingPreviewView, MappingSaveRequest, MappingSummary, MappingView,
    UploadRequest, Uploaded,
};
use super::json::{
    ActionView, Approved, AuditVerified, Executed, FindingDetail, FindingRow, Imported, Recovered,
    Synced, Today,
};
use super::monthend::{
    ClosePeriodRequest, ExportMonthRequest, ExportedPackage, MonthRequest, PackageVerified,
    PathRequest, PeriodView, ReopenPeriodRequest,
};
use super::payouts::{BalanceTransactionView, PayoutRequest, PayoutView};
use super::recharge::{
    InvoiceRequest, RechargeCandidate, RechargeCheck, RechargeProposeRequest, RechargeQuery,
};
use super::settings::{
    ConnectRequest, DefaultCurrencyRequest, Settings, ThresholdRequest, TimeZoneRequest,
    UserAddRequest,
};
use super::today_sync::{DailyTotals, DailyTotalsRequest, SyncStatus};

commands! {
    today: blocking super::today [] -> Today;
    findings: blocking super::findings [FindingsQuery] -> Vec<FindingRow>;
    finding: blocking super::finding [IdRequest] -> FindingDetail;
    propose: blocking super::propose [ProposeRequest] -> ActionView;
    approve: blocking super::approve [ApproveRequest] -> Approved;
    dismiss: blocking super::dismiss [DismissRequest] -> FindingRow;
    execute: awaited super::execute [ExecuteRequest] -> Executed;
    recover: awaited super::recover [] -> Recovered;
    actions: blocking super::actions_list [] -> Vec<ActionView>;
    sync_now: awaited super::sync_now [] -> Synced;
    reconcile: blocking super::reconcile_now [] -> u32;
    audit_verify: blocking super::audit_verify [] -> AuditVerified;
    import_file: blocking super::import_file [ImportRequest] -> Imported;
    recharge_candidates: blocking super::recharge::recharge_candidates [RechargeQuery] -> Vec<RechargeCandidate>;
    recharge_check: awaited super::recharge::recharge_check [InvoiceRequest] -> RechargeCheck;
    recharge_propose: awaited super::recharge::recharge_propose [RechargeProposeRequest] -> ActionView;
    period_status: blocking super::monthend::period_status [MonthRequest] -> PeriodView;
    monthend_export: blocking super::monthend::monthend_export [ExportMonthRequest] -> ExportedPackage;
    monthend_verify: blocking super::monthend::monthend_verify [PathRequest] -> PackageVerified;
    period_close: blocking super::monthend::period_close [ClosePeriodRequest] -> PeriodView;
    period_reopen: blocking super::monthend::period_reopen [ReopenPeriodRequest] -> PeriodView;
    audit_log: blocking super::audit_log::audit_log [AuditQuery] -> AuditPage;
    upload_csv: blocking super::imports::upload_csv [UploadRequest] -> Uploaded;
    import_csv: blocking super::imports::import_csv [ImportCsvRequest] -> ImportOutcome;
    file_kind: blocking super::imports::file_kind [FileRequest] -> FileKindView;
    mappings: blocking super::imports::mappings_list [] -> Vec<MappingSummary>;
    mapping_get: blocking super::imports::mapping_get [MappingNameRequest] -> MappingView;
    mapping_save: blocking super::imports::mapping_save [MappingSaveRequest] -> MappingView;
    mapping_preview: blocking super::imports::mapping_preview [MappingPreviewRequest] -> MappingPreviewView;
    settings: blocking super::settings::settings [] -> Settings;
    connect_gateway: awaited_owned super::settings::connect_gateway [ConnectRequest] -> Settings;
    user_add: blocking super::settings::user_add [UserAddRequest] -> Settings;
    threshold_set: blocking super::settings::threshold_set [ThresholdRequest] -> Settings;
    time_zone_set: blocking super::settings::time_zone_set [TimeZoneRequest] -> Settings;
    default_currency_set: blocking super::settings::default_currency_set [DefaultCurrencyRequest] -> Settings;
    books_status: blocking super::books::books_status [] -> BooksStatus;
    books_connect: awaited_owned super::books::books_connect [BooksConnectRequest] -> BooksStatus;
    books_connect_cancel: awaited super::books::books_connect_cancel [] -> BooksStatus;
    books_disconnect: awaited super::books::books_disconnect [] -> BooksStatus;
    books_payment_account: blocking super::books::books_payment_account [PaymentAccountRequest] -> BooksStatus;
    sync_start: awaited super::today_sync::sync_start [] -> SyncStatus;
    sync_progress: blocking super::today_sync::sync_progress [] -> SyncStatus;
    daily_totals: blocking super::today_sync::daily_totals [DailyTotalsRequest] -> DailyTotals;
    payouts: blocking super::payouts::payouts [] -> Vec<PayoutView>;
    payout_transactions: blocking super::payouts::payout_transactions [PayoutRequest] -> Vec<BalanceTransactionView>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_command_is_not_found_and_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cg.db");
        let error = call(&Api::new(&db), "refund_everything", Value::Null)
            .await
            .unwrap_err();
        assert_eq!(error.code, ApiErrorCode::NotFound);
        assert!(
            !db.exists(),
            "an unknown command must not even create the store"
        );
    }

    #[tokio::test]
    async fn a_malformed_argument_is_invalid_input_naming_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let error = call(
            &Api::new(dir.path().join("cg.db")),
            "finding",
            serde_json::json!({"id": "not a number"}),
        )
        .await
        .unwrap_err();
        assert_eq!(error.code, ApiErrorCode::InvalidInput);
        assert!(error.message.contains("`finding`"), "{}", error.message);
    }
}
