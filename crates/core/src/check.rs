//! The scheduled check: what a cron job or a CI job runs every morning — sync the gateway,
//! settle any action whose outcome was left unknown, reconcile, and report what is new
//! since the previous check, so an alert can fire on it.
//!
//! "New" means open findings the previous check had not reported: their ids are above the
//! highest id it saw, kept in the store's settings. Findings the data reopened are counted
//! in the reconcile summary (`reopened`) and also make the check report something new.

use serde::Serialize;

use crate::accounting_sync::{self, BooksSyncOptions, BooksSyncReport};
use crate::actions::{self, ActionError, ActionState, RecoveryReport};
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
    /// The accounting system's sync, when the store is connected to one.
    pub books: Option<BooksStep>,
    pub recovery: RecoveryReport,
    pub reconcile: ReconcileSummary,
    /// Open findings not reported by an earlier check.
    pub new_findings: Vec<StoredFinding>,
    /// Actions still undecided after recovery (`ActionState::is_undecided`: the gateway
    /// could not settle them yet, one is being sent right now, or a person must look).
    pub undecided_actions: u64,
}

/// What the morning run did: the one sequence every shell runs when asked to bring the
/// books up to date (the scheduled `check`, the Today screen's Sync now).
#[derive(Debug, Clone, Serialize)]
pub struct Morning {
    pub sync: SyncReport,
    pub books: Option<BooksStep>,
    pub recovery: RecoveryReport,
    pub reconcile: ReconcileSummary,
}

/// The accounting system's part of the morning: what it synced, or why it could not
/// (connect again, the keyring locked, QuickBooks unreachable). A failure there is reported,
/// not fatal: the gateway's side is still brought up to date and reconciled.
#[derive(Debug, Clone, Serialize)]
pub struct BooksStep {
    pub report: Option<BooksSyncReport>,
    pub problem: Option<String>,
}

impl std::fmt::Display for BooksStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.report, &self.problem) {
            (Some(r), _) => write!(f, "books synced: {r}"),
            (None, Some(p)) => write!(f, "books not synced: {p}"),
            (None, None) => f.write_str("books not synced"),
        }
    }
}

/// How long one call to the accounting system may take in the morning run.
const BOOKS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn books_step(store: &mut Store, now: jiff::Timestamp) -> Option<BooksStep> {
    match accounting_sync::connected_system(store) {
        Ok(None) => return None,
        Ok(Some(_)) => {}
        Err(e) => {
            return Some(BooksStep {
                report: None,
                problem: Some(e.to_string()),
            });
        }
    }
    let synced = match accounting_sync::keyring(store) {
        Ok(keyring) => {
            accounting_sync::sync(
                store,
                &keyring,
                BOOKS_TIMEOUT,
                now,
                BooksSyncOptions::default(),
                |_| {},
            )
            .await
        }
        Err(e) => Err(e),
    };
    Some(match synced {
        Ok(report) => BooksStep {
            report: Some(report),
            problem: None,
        },
        Err(e) => BooksStep {
            report: None,
            problem: Some(e.to_string()),
        },
    })
}

/// Syncs the gateway and the accounting system (when connected), settles every action whose outcome was left unknown (recovery must
/// see what sync brought, and reconcile must see what recovery settled), then reconciles.
/// `on_page` hears each synced page; `on_settle` is called once sync is done.
pub async fn morning(
    store: &mut Store,
    client: &StripeClient,
    now: jiff::Timestamp,
    on_page: impl FnMut(SyncProgress),
    on_settle: impl FnOnce(),
) -> Result<Morning, CheckError> {
    let sync = sync::sync(store, client, now, SyncOptions::default(), on_page).await?;
    let books = books_step(store, now).await;
    on_settle();
    let recovery = actions::recover(store, client, now).await?;
    let reconcile = reconcile::run(store, now)?;
    Ok(Morning {
        sync,
        books,
        recovery,
        reconcile,
    })
}

/// Runs one check against `client`'s gateway: the morning run, and what it found that no
/// earlier check reported.
pub async fn run(
    store: &mut Store,
    client: &StripeClient,
    now: jiff::Timestamp,
    progress: impl FnMut(SyncProgress),
) -> Result<CheckReport, CheckError> {
    let Morning {
        sync,
        books,
        recovery,
        reconcile,
    } = morning(store, client, now, progress, || {}).await?;
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
    let undecided: Vec<ActionState> = ActionState::ALL
        .into_iter()
        .filter(|s| s.is_undecided())
        .collect();
    let undecided_actions =
        store.read(|tx| Ok::<_, StoreError>(tx.actions(Some(&undecided))?.len() as u64))?;
    Ok(CheckReport {
        sync,
        books,
        undecided_actions,
        recovery,
        reconcile,
        new_findings,
    })
}
