//! The one error every API function returns: `{code, message}`, serializable, so the
//! desktop shell and the HTTP wrapper hand it to the front end as it is.
//!
//! The message is the core error's own sentence (it already says what to do next), with
//! the few command-line hints a window cannot follow rewritten in the window's words. The
//! code grows only when the front end branches on it (gitbutler's `but-error` rule): it is
//! never matched by string elsewhere, and most errors share `refused` or `internal`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use chargeguard_core::actions::ActionError;
use chargeguard_core::people::PeopleError;
use chargeguard_core::reconcile::ReconcileError;
use chargeguard_core::secret::SecretError;
use chargeguard_core::store::StoreError;
use chargeguard_core::sync::SyncError;

/// What the front end can do about an error; it branches on these, and only these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "ApiErrorCode.ts")]
pub enum ApiErrorCode {
    /// The id named does not exist (any more): reload the list.
    NotFound,
    /// The request itself is incomplete (a reason left empty, an unknown filter): fix the form.
    InvalidInput,
    /// Name or passphrase refused: ask again.
    WrongPassphrase,
    /// Another click, window or process holds this action or its target: show "already in
    /// progress" and refresh, never retry blindly.
    AlreadyInProgress,
    /// The finding changed since the fix was proposed: propose again.
    Stale,
    /// A heuristic match must be confirmed by a person before approval.
    HeuristicUnchecked,
    /// The store has no gateway connection (or no key): open Settings.
    NotConnected,
    /// The gateway could not be reached; nothing was sent. Try again later.
    GatewayUnavailable,
    /// A rule refused the step (a guard, a wrong state, a decline); the message says why.
    Refused,
    /// Something broke that the bookkeeper cannot fix from the window.
    Internal,
}

/// An error as the front end receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[error("{message}")]
#[ts(export_to = "ApiError.ts")]
pub struct ApiError {
    pub code: ApiErrorCode,
    /// One or two sentences: what happened and what the bookkeeper can do next.
    pub message: String,
}

impl ApiError {
    pub fn new(code: ApiErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiErrorCode::InvalidInput, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ApiErrorCode::Internal, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = match e {
            StoreError::TargetBusy(_) | StoreError::StateMoved { .. } => {
                ApiErrorCode::AlreadyInProgress
            }
            StoreError::Busy => ApiErrorCode::AlreadyInProgress,
            _ => ApiErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<PeopleError> for ApiError {
    fn from(e: PeopleError) -> Self {
        match e {
            PeopleError::Store(s) => s.into(),
            // One code and one sentence for both: a stranger must not learn which names exist.
            PeopleError::Unknown(name) | PeopleError::WrongPassphrase(name) => ApiError::new(
                ApiErrorCode::WrongPassphrase,
                format!(
                    "the name or passphrase for `{name}` is not right; type them again (an approver is added with `chargeguard user add`)"
                ),
            ),
            PeopleError::NeedsApprover => ApiError::invalid(
                "adding a person needs an approver of this store to vouch: fill in an approver's name and passphrase (nobody may add a second approver for themselves)",
            ),
            other => ApiError::invalid(other.to_string()),
        }
    }
}

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        use ApiErrorCode as C;
        match e {
            ActionError::Store(s) => s.into(),
            ActionError::People(p) => p.into(),
            ActionError::NotFound(id) => ApiError::new(
                C::NotFound,
                format!("there is no action {id}; reload the Actions list"),
            ),
            ActionError::FindingNotFound(id) => ApiError::new(
                C::NotFound,
                format!("there is no finding {id}; reload the Findings list"),
            ),
            ActionError::HeuristicUnchecked { id } => ApiError::new(
                C::HeuristicUnchecked,
                format!(
                    "action {id} fixes a heuristic match (same customer, amount and time, no reference): compare the evidence yourself, tick \"I checked this match\" and approve again"
                ),
            ),
            ActionError::Stale { id } => ApiError::new(
                C::Stale,
                format!(
                    "action {id} was proposed for a finding that has changed since (or is resolved); propose the fix again from the current finding"
                ),
            ),
            e @ ActionError::AlreadyInProgress { .. } => {
                ApiError::new(C::AlreadyInProgress, e.to_string())
            }
            e @ (ActionError::GatewayUnavailable(_) | ActionError::BooksUnavailable(_)) => {
                ApiError::new(C::GatewayUnavailable, e.to_string())
            }
            e @ ActionError::NotAnApprover(_) => ApiError::new(C::WrongPassphrase, e.to_string()),
            e @ ActionError::InvoiceNotFound(_) => ApiError::new(C::NotFound, e.to_string()),
            e => ApiError::new(C::Refused, e.to_string()),
        }
    }
}

impl From<SecretError> for ApiError {
    fn from(e: SecretError) -> Self {
        let code = match e {
            SecretError::Malformed { .. } => ApiErrorCode::InvalidInput,
            _ => ApiErrorCode::NotConnected,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Store(s) => s.into(),
            SyncError::Secret(s) => s.into(),
            SyncError::NotConnected => ApiError::new(
                ApiErrorCode::NotConnected,
                "this store is not connected to a gateway; connect one in Settings first",
            ),
            SyncError::Gateway(g) => ApiError::new(
                ApiErrorCode::GatewayUnavailable,
                format!(
                    "the sync stopped: {g}. What was fetched so far is kept; sync again to go on"
                ),
            ),
            e @ SyncError::CorruptState { .. } => ApiError::internal(e.to_string()),
        }
    }
}

impl From<ReconcileError> for ApiError {
    fn from(e: ReconcileError) -> Self {
        match e {
            ReconcileError::Store(s) => s.into(),
        }
    }
}

impl From<chargeguard_core::check::CheckError> for ApiError {
    fn from(e: chargeguard_core::check::CheckError) -> Self {
        use chargeguard_core::check::CheckError;
        match e {
            CheckError::Sync(e) => e.into(),
            CheckError::Recovery(e) => e.into(),
            CheckError::Reconcile(e) => e.into(),
            CheckError::Store(e) => e.into(),
        }
    }
}

impl From<chargeguard_core::accounting_sync::AccountingError> for ApiError {
    fn from(e: chargeguard_core::accounting_sync::AccountingError) -> Self {
        use chargeguard_core::accounting_sync::AccountingError as E;
        use chargeguard_core::books::qbo::QboError;
        use chargeguard_core::books::xero::XeroError;
        let code = ApiErrorCode::Refused;
        match e {
            E::Store(s) => s.into(),
            E::Secret(s) => s.into(),
            E::NotConnected => ApiError::new(
                ApiErrorCode::NotConnected,
                "this store is not connected to QuickBooks or Xero; connect one in Settings",
            ),
            E::Reconnect { reason } => ApiError::new(
                ApiErrorCode::NotConnected,
                format!("{reason}; connect it again in Settings"),
            ),
            E::OtherCompany { connected, chosen } => ApiError::new(
                code,
                format!(
                    "this store keeps the books of {connected}, not {chosen}; one company per store: disconnect it in Settings first, or use another store"
                ),
            ),
            E::PushUndecided { action } => ApiError::new(
                code,
                format!(
                    "action {action} was sent to the accounting system and its outcome is not known yet; press Recover on the Actions screen (it needs this connection) before disconnecting"
                ),
            ),
            E::Consent(m) => ApiError::invalid(m),
            e @ (E::Qbo(QboError::Transport(_) | QboError::Throttled { .. })
            | E::Xero(XeroError::Transport(_) | XeroError::Throttled { .. })) => {
                ApiError::new(ApiErrorCode::GatewayUnavailable, e.to_string())
            }
            e => ApiError::new(code, e.to_string()),
        }
    }
}
