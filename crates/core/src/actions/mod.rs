//! Guarded actions: refunds, re-charges and ledger fixes, each through one intent journal
//! and one lifecycle (see `lifecycle`), so that nothing is charged or refunded twice —
//! not after a crash, a timeout, a double click or a second window.
//!
//! Rules this module keeps (DESIGN.md): the idempotency key is derived from what the action
//! is about and written before any byte leaves; every retry reuses it; one open action per
//! invoice and per charge; guards read the gateway, not only the store; `unknown` is
//! decided only by recovery; approvals are recorded; every state change is audited in the
//! same transaction.

mod execute;
mod follow_up;
mod journal;
pub mod key;
pub mod plan;
mod push;
mod recharge;
mod recovery;
mod threshold;

pub use chargeguard_domain::{ActionKind, ActionState};
pub use execute::{Executed, dry_run, execute};
pub use follow_up::follow_up_of;
pub use journal::{
    Approval, ApprovalRule, approval_rule, approvals_needed, approve, cancel, dismiss,
    propose_for_finding, propose_recharge,
};
pub use plan::Plan;
pub use push::{Destination, destination};
pub use recharge::{
    FailedAttempt, GuardCheck, GuardOutcome, RechargeCandidate, RechargeChecks, RechargeGuard,
    check_recharge, propose_checked_recharge, recharge_candidates_after,
};
pub use recovery::{REPLAY_WINDOW_SECONDS, RecoveryReport, recover, recover_target};
pub use threshold::{
    APPROVAL_THRESHOLD_PREFIX, Threshold, ThresholdSource, default_threshold,
    set_approval_threshold, threshold, thresholds,
};

use crate::gateway::stripe::StripeError;
use crate::people::PeopleError;
use crate::reconcile::ReconcileError;
use crate::store::StoreError;

/// Why an action step did not happen, in terms a bookkeeper can act on.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("there is no action {0}; `chargeguard actions` lists them")]
    NotFound(i64),
    #[error("there is no finding {0}; `chargeguard findings` lists them")]
    FindingNotFound(i64),
    #[error("there is no invoice {0} in the store; import the invoices first")]
    InvoiceNotFound(String),
    #[error("no fix can be proposed: {0}")]
    NoPlan(#[from] plan::NoPlan),
    #[error("already in progress: {target} has an open action{}; finish, recover or cancel it first", holder.map(|h| format!(" ({h})")).unwrap_or_default())]
    AlreadyInProgress { target: String, holder: Option<i64> },
    #[error("action {id} is {state}, not {wanted}")]
    WrongState {
        id: i64,
        state: ActionState,
        wanted: &'static str,
    },
    #[error(
        "action {id} was proposed for a finding that has changed since (or is resolved); propose it again from the current finding"
    )]
    Stale { id: i64 },
    #[error(
        "action {id} fixes a heuristic match; check the match and approve with --heuristic-checked"
    )]
    HeuristicUnchecked { id: i64 },
    #[error("`{0}` is not an approver")]
    NotAnApprover(String),
    #[error(
        "{name} has already approved action {id}; a second approval must come from someone else"
    )]
    SameApprover { id: i64, name: String },
    #[error("refused: {0}")]
    Refused(String),
    #[error(
        "the guard refused action {id}, so nothing was sent: {reason}. The action is cancelled; reconcile again to see the current state"
    )]
    Guard { id: i64, reason: String },
    #[error("the gateway could not be asked before sending, so nothing was sent: {0}")]
    GatewayUnavailable(StripeError),
    #[error("the accounting system could not be asked before sending, so nothing was sent: {0}")]
    BooksUnavailable(crate::accounting_sync::AccountingError),
    #[error(transparent)]
    People(#[from] PeopleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ActionError {
    /// A lost compare-and-set on `approved → executing`: another window, thread or process
    /// started action `id` first, which the loser must hear as "already in progress".
    pub(crate) fn started_elsewhere(id: i64, e: StoreError) -> ActionError {
        match e {
            StoreError::StateMoved { .. } => ActionError::AlreadyInProgress {
                target: format!("action {id}"),
                holder: Some(id),
            },
            other => ActionError::Store(other),
        }
    }
}

impl From<ReconcileError> for ActionError {
    fn from(e: ReconcileError) -> Self {
        match e {
            ReconcileError::Store(s) => ActionError::Store(s),
        }
    }
}
