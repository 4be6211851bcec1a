//! Every command the windows may call, by name: the one list both shells route through.
//! The desktop shell's single `api` command and the HTTP wrapper's `POST /api/COMMAND`
//! both hand `(name, JSON argument)` to [`call`], so a command added here exists in both
//! at once and the two can never disagree on what a name means.
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

/// Runs the command `name` with its argument `request` (JSON `null` for commands that take
/// none) and returns its answer as JSON.
pub async fn call(api: &Api, name: &str, request: Value) -> Result<Value, ApiError> {
    let api = api.clone();
    macro_rules! blocking {
        ($f:path) => {
            blocking(move || $f(&api)).await
        };
        ($f:path, $t:ty) => {{
            let request: $t = parse(name, request)?;
            blocking(move || $f(&api, &request)).await
        }};
    }
    match name {
        "today" => blocking!(super::today),
        "findings" => blocking!(super::findings, FindingsQuery),
        "finding" => blocking!(super::finding, IdRequest),
        "propose" => blocking!(super::propose, ProposeRequest),
        "approve" => blocking!(super::approve, ApproveRequest),
        "dismiss" => blocking!(super::dismiss, DismissRequest),
        "actions" => blocking!(super::actions_list),
        "reconcile" => blocking!(super::reconcile_now),
        "audit_verify" => blocking!(super::audit_verify),
        "import_file" => blocking!(super::import_file, ImportRequest),
        "upload_csv" => blocking!(super::imports::upload_csv, super::imports::UploadRequest),
        "import_csv" => blocking!(super::imports::import_csv, super::imports::ImportCsvRequest),
        "file_kind" => blocking!(super::imports::file_kind, super::imports::FileRequest),
        "mappings" => blocking!(super::imports::mappings_list),
        "mapping_get" => blocking!(
            super::imports::mapping_get,
            super::imports::MappingNameRequest
        ),
        "mapping_save" => blocking!(
            super::imports::mapping_save,
            super::imports::MappingSaveRequest
        ),
        "mapping_preview" => blocking!(
            super::imports::mapping_preview,
            super::imports::MappingPreviewRequest
        ),
        "execute" => {
            let request: ExecuteRequest = parse(name, request)?;
            to_json(super::execute(&api, &request).await?)
        }
        "recover" => to_json(super::recover(&api).await?),
        "audit_log" => blocking!(super::audit_log::audit_log, super::audit_log::AuditQuery),
        "period_status" => blocking!(
            super::monthend::period_status,
            super::monthend::MonthRequest
        ),
        "monthend_export" => {
            blocking!(
                super::monthend::monthend_export,
                super::monthend::ExportMonthRequest
            )
        }
        "monthend_verify" => blocking!(
            super::monthend::monthend_verify,
            super::monthend::PathRequest
        ),
        "period_close" => blocking!(
            super::monthend::period_close,
            super::monthend::ClosePeriodRequest
        ),
        "period_reopen" => {
            blocking!(
                super::monthend::period_reopen,
                super::monthend::ReopenPeriodRequest
            )
        }
        "recharge_candidates" => blocking!(super::recharge::recharge_candidates),
        "recharge_check" => {
            let request: super::recharge::InvoiceRequest = parse(name, request)?;
            to_json(super::recharge::recharge_check(&api, &request).await?)
        }
        "recharge_propose" => {
            let request: super::recharge::RechargeProposeRequest = parse(name, request)?;
            to_json(super::recharge::recharge_propose(&api, &request).await?)
        }
        "sync_now" => to_json(super::sync_now(&api).await?),
        "settings" => blocking!(super::settings::settings),
        "connect_gateway" => {
            let request: super::settings::ConnectRequest = parse(name, request)?;
            to_json(super::settings::connect_gateway(&api, request).await?)
        }
        "user_add" => blocking!(super::settings::user_add, super::settings::UserAddRequest),
        "threshold_set" => blocking!(
            super::settings::threshold_set,
            super::settings::ThresholdRequest
        ),
        "default_currency_set" => blocking!(
            super::settings::default_currency_set,
            super::settings::DefaultCurrencyRequest
        ),
        "time_zone_set" => blocking!(
            super::settings::time_zone_set,
            super::settings::TimeZoneRequest
        ),
        "sync_start" => to_json(super::today_sync::sync_start(&api).await?),
        "sync_progress" => blocking!(super::today_sync::sync_progress),
        "daily_totals" => blocking!(
            super::today_sync::daily_totals,
            super::today_sync::DailyTotalsRequest
        ),
        other => Err(ApiError::new(
            ApiErrorCode::NotFound,
            format!(
                "there is no command `{other}`; the window and Chargeguard are of different versions, reload the window"
            ),
        )),
    }
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
