//! The findings queue's lifecycle: what one reconciliation run does to the stored findings.
//!
//! A finding is keyed by its fingerprint, so a run updates what is already there instead
//! of adding a copy. New fingerprints are inserted open; open ones the run still shows get
//! their amount, reason and evidence refreshed; open ones the run no longer shows are
//! resolved as `cleared`; a `cleared` one that comes back is reopened (the data regressed)
//! and counted; a `fixed` or `dismissed` one stays resolved whatever the data says, since a
//! person or an action decided it. Every run leaves a `reconcile_runs` row.
//!
//! The store holds the moves; this module alone chooses between them.

use std::collections::HashSet;

use jiff::Timestamp;

use super::{ReconcileSummary, Reconciliation};
use crate::store::{FindingStatus, ReconcileRun, Resolution, StoreError, StoreTx};

/// Applies one reconciliation's findings to the stored queue, and records the run.
/// `clearable` lists the open findings the run looked at, when it looked at part of the
/// books: an open finding outside it is not gone, only not looked at. `None`: the run saw
/// everything. The ledger's unsynced payments were stored before.
pub fn apply(
    tx: &StoreTx<'_>,
    reconciliation: &Reconciliation<'_>,
    clearable: Option<&[i64]>,
    now: Timestamp,
) -> Result<ReconcileSummary, StoreError> {
    // A run of part of the books needs only the states of what it found; the findings it
    // may clear are `clearable`, all open.
    let existing = match clearable {
        None => tx.finding_states()?,
        Some(_) => {
            let found: Vec<&str> = reconciliation
                .findings
                .iter()
                .map(|f| f.fingerprint.as_str())
                .collect();
            tx.finding_states_of(&found)?
        }
    };
    let mut summary = ReconcileSummary {
        not_yet_synced: tx.unsynced_payment_count()?,
        ..ReconcileSummary::default()
    };
    let mut seen: HashSet<i64> = HashSet::with_capacity(reconciliation.findings.len());
    for finding in &reconciliation.findings {
        match existing.get(&finding.fingerprint) {
            Some(state)
                if state.status == FindingStatus::Resolved
                    && state.resolution != Some(Resolution::Cleared) =>
            {
                // Fixed or dismissed: a decision, not data; it stays resolved.
                tx.touch_finding(state.id, now)?;
                seen.insert(state.id);
            }
            Some(state) => {
                tx.refresh_finding(state.id, finding, now)?;
                match state.status {
                    FindingStatus::Open => summary.still_open += 1,
                    FindingStatus::Resolved => summary.reopened += 1,
                }
                seen.insert(state.id);
            }
            None => {
                tx.insert_finding(finding, now)?;
                summary.new += 1;
            }
        }
    }
    let mut gone: Vec<i64> = match clearable {
        None => existing
            .values()
            .filter(|s| s.status == FindingStatus::Open)
            .map(|s| s.id)
            .filter(|id| !seen.contains(id))
            .collect(),
        Some(ids) => ids
            .iter()
            .copied()
            .filter(|id| !seen.contains(id))
            .collect(),
    };
    gone.sort_unstable();
    for id in gone {
        if tx.clear_finding(id, now)? {
            summary.resolved += 1;
        }
    }
    summary.open_by_kind = tx.open_findings_by_kind()?;
    tx.record_reconcile_run(
        now,
        ReconcileRun {
            new: summary.new,
            open: summary.open_by_kind.values().sum(),
            resolved: summary.resolved,
            reopened: summary.reopened,
            not_yet_synced: summary.not_yet_synced,
        },
    )?;
    Ok(summary)
}
