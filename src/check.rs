//! The scheduled check: what a cron job or a CI job runs every morning — sync the gateway,
//! settle any action whose outcome was left unknown, reconcile, and report what is new
//! since the previous check, so an alert can fire on it.
//!
//! "New" means open findings the previous check had not reported: their ids are above the
//! highest id it saw, kept in the store's settings. Findings the data reopened are counted
//! in the reconcile summary (`reopened`) and also make the check report something new.

use serde::Serialize;

use crate::actions::{self, ActionError, RecoveryReport};
use crate::gateway::stripe::StripeClient;
use crate::reconcile::{self, ReconcileError, ReconcileSummary};
use crate::store::{FindingFilter, FindingStatus, Store, StoreError, StoredFinding};
use crate::sync::{self, SyncError, SyncOptions, SyncProgress, SyncReport};

/// The setting holding the highest finding id the previous check reported.
pub const LAST_REPORTED_SETTING: &str = "check.last_reported_finding_id";

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("sync failed: {0}")]
    Sync(#[from] SyncError),
    #[error("recovery failed: {0}")]
    Recovery(#[from] ActionError),
    #[error("reconciliation failed: {0}")]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one check did and found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub sync: SyncReport,
    pub recovery: RecoveryReport,
    pub reconcile: ReconcileSummary,
    /// Open findings not reported by an earlier check.
    pub new_findings: Vec<StoredFinding>,
    /// Actions still undecided after recovery (the gateway could not settle them yet).
    pub undecided_actions: u64,
}

/// Runs one check against `client`'s gateway.
pub async fn run(
    store: &mut Store,
    client: &StripeClient,
    now: jiff::Timestamp,
    progress: impl FnMut(SyncProgress),
) -> Result<CheckReport, CheckError> {
    let sync = sync::sync(store, client, now, SyncOptions::default(), progress).await?;
    let recovery = actions::recover(store, client, now).await?;
    let reconcile = reconcile::run(store, now)?;
    let new_findings = store.write(|tx| {
        let last: i64 = tx
            .setting(LAST_REPORTED_SETTING)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let open = tx.findings(&FindingFilter {
            kind: None,
            status: Some(FindingStatus::Open),
        })?;
        let highest = open.iter().map(|f| f.id).max().unwrap_or(0).max(last);
        tx.set_setting(LAST_REPORTED_SETTING, &highest.to_string())?;
        Ok::<_, StoreError>(open.into_iter().filter(|f| f.id > last).collect::<Vec<_>>())
    })?;
    Ok(CheckReport {
        sync,
        undecided_actions: recovery.still_unknown,
        recovery,
        reconcile,
        new_findings,
    })
}
