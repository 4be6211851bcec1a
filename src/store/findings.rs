//! Findings in the store: the bookkeeper's queue, kept across reconciliations.
//!
//! A finding is keyed by its fingerprint, so applying a reconciliation updates what is
//! already there instead of adding a copy. New fingerprints are inserted open; open ones
//! the run still shows get their amount, reason and evidence refreshed; open ones the run
//! no longer shows are resolved as `cleared`; a `cleared` one that comes back is reopened
//! (the data regressed) and counted; a `fixed` or `dismissed` one stays resolved whatever
//! the data says, since a person or an action decided it. Every run leaves a
//! `reconcile_runs` row. This module never decides what is a finding: reconciliation does.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::{StoreError, StoreTx, timestamp_from_store};
use chargeguard_domain::finding::{Confidence, Finding, FindingKind};
pub use chargeguard_domain::finding::{FindingStatus, Resolution};

use crate::reconcile::{ReconcileSummary, Reconciliation};

/// Which findings to list; `None` means any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FindingFilter {
    pub kind: Option<FindingKind>,
    pub status: Option<FindingStatus>,
}

/// A finding as the store keeps it. Its JSON form is the `findings --json` contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFinding {
    pub id: i64,
    pub fingerprint: String,
    pub kind: FindingKind,
    pub status: FindingStatus,
    pub resolution: Option<Resolution>,
    pub invoice_number: Option<String>,
    pub charge_ids: Vec<String>,
    pub payment_ids: Vec<String>,
    pub amount_minor: i64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    pub confidence: Confidence,
    pub reason: String,
    pub evidence: serde_json::Value,
    pub first_seen_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

const SELECT_FINDING: &str =
    "SELECT id, fingerprint, kind, status, resolution, invoice_number, charge_ids,
        payment_ids, amount_minor, currency, confidence, reason, evidence, first_seen_at,
        last_seen_at, resolved_at
 FROM findings";

fn corrupt(what: &str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what: what.into(),
        detail: detail.to_string(),
    }
}

fn json_text<T: Serialize>(what: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(what, e))
}

fn finding_from_row(r: &rusqlite::Row<'_>) -> Result<StoredFinding, StoreError> {
    let kind: String = r.get(2)?;
    let status: String = r.get(3)?;
    let resolution: Option<String> = r.get(4)?;
    let confidence: String = r.get(10)?;
    let list = |i: usize, what: &str| -> Result<Vec<String>, StoreError> {
        serde_json::from_str(&r.get::<_, String>(i)?).map_err(|e| corrupt(what, e))
    };
    Ok(StoredFinding {
        id: r.get(0)?,
        fingerprint: r.get(1)?,
        kind: FindingKind::parse(&kind).ok_or_else(|| corrupt("finding kind", &kind))?,
        status: FindingStatus::parse(&status).ok_or_else(|| corrupt("finding status", &status))?,
        resolution: resolution
            .map(|text| {
                Resolution::parse(&text).ok_or_else(|| corrupt("finding resolution", &text))
            })
            .transpose()?,
        invoice_number: r.get(5)?,
        charge_ids: list(6, "finding charge ids")?,
        payment_ids: list(7, "finding payment ids")?,
        amount_minor: r.get(8)?,
        currency: r.get(9)?,
        confidence: Confidence::parse(&confidence)
            .ok_or_else(|| corrupt("finding confidence", &confidence))?,
        reason: r.get(11)?,
        evidence: serde_json::from_str(&r.get::<_, String>(12)?)
            .map_err(|e| corrupt("finding evidence", e))?,
        first_seen_at: timestamp_from_store(r.get(13)?)?,
        last_seen_at: timestamp_from_store(r.get(14)?)?,
        resolved_at: r
            .get::<_, Option<i64>>(15)?
            .map(timestamp_from_store)
            .transpose()?,
    })
}

/// The columns a run writes from a finding, in the order of the statements below
/// (after the fingerprint).
struct Columns {
    kind: &'static str,
    confidence: &'static str,
    invoice_number: Option<String>,
    charge_ids: String,
    payment_ids: String,
    amount_minor: i64,
    currency: String,
    reason: String,
    evidence: String,
}

impl Columns {
    fn of(finding: &Finding) -> Result<Columns, StoreError> {
        Ok(Columns {
            kind: finding.kind.as_str(),
            confidence: finding.confidence.as_str(),
            invoice_number: finding.invoice_number.clone(),
            charge_ids: json_text("finding charge ids", &finding.charge_ids)?,
            payment_ids: json_text("finding payment ids", &finding.payment_ids)?,
            amount_minor: finding.amount.minor(),
            currency: finding.amount.currency().lower(),
            reason: finding.reason.clone(),
            evidence: json_text("finding evidence", &finding.evidence)?,
        })
    }
}

impl StoreTx<'_> {
    /// Applies one reconciliation's findings to the stored queue (see the module
    /// documentation) and records the run.
    pub fn apply_reconciliation(
        &self,
        reconciliation: &Reconciliation<'_>,
        now: Timestamp,
    ) -> Result<ReconcileSummary, StoreError> {
        let now_s = now.as_second();
        let mut existing: HashMap<String, (i64, FindingStatus, Option<Resolution>)> =
            HashMap::new();
        {
            let mut stmt = self
                .conn()
                .prepare_cached("SELECT id, fingerprint, status, resolution FROM findings")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let status: String = r.get(2)?;
                let resolution: Option<String> = r.get(3)?;
                existing.insert(
                    r.get(1)?,
                    (
                        r.get(0)?,
                        FindingStatus::parse(&status)
                            .ok_or_else(|| corrupt("finding status", &status))?,
                        resolution.as_deref().and_then(Resolution::parse),
                    ),
                );
            }
        }

        let mut summary = ReconcileSummary {
            not_yet_synced: reconciliation.not_yet_synced.len() as u64,
            ..ReconcileSummary::default()
        };
        let mut seen: HashSet<i64> = HashSet::with_capacity(reconciliation.findings.len());
        let mut insert = self.conn().prepare_cached(
            "INSERT INTO findings (fingerprint, kind, confidence, invoice_number, charge_ids, payment_ids,
                 amount_minor, currency, reason, evidence, status, first_seen_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'open', ?11, ?11)",
        )?;
        // Refreshes an open finding, or reopens a cleared one: same statement, since both
        // end open with this run's facts.
        let mut refresh = self.conn().prepare_cached(
            "UPDATE findings SET kind = ?2, confidence = ?3, invoice_number = ?4, charge_ids = ?5,
                 payment_ids = ?6, amount_minor = ?7, currency = ?8, reason = ?9, evidence = ?10,
                 status = 'open', resolution = NULL, resolved_at = NULL, last_seen_at = ?11
             WHERE id = ?1",
        )?;
        let mut touch = self
            .conn()
            .prepare_cached("UPDATE findings SET last_seen_at = ?2 WHERE id = ?1")?;
        for finding in &reconciliation.findings {
            let existing = existing.get(&finding.fingerprint).copied();
            match existing {
                Some((id, FindingStatus::Resolved, resolution))
                    if resolution != Some(Resolution::Cleared) =>
                {
                    // Fixed or dismissed: a decision, not data; it stays resolved.
                    touch.execute(rusqlite::params![id, now_s])?;
                    seen.insert(id);
                }
                Some((id, status, _)) => {
                    let c = Columns::of(finding)?;
                    refresh.execute(rusqlite::params![
                        id,
                        c.kind,
                        c.confidence,
                        c.invoice_number,
                        c.charge_ids,
                        c.payment_ids,
                        c.amount_minor,
                        c.currency,
                        c.reason,
                        c.evidence,
                        now_s
                    ])?;
                    match status {
                        FindingStatus::Open => summary.still_open += 1,
                        FindingStatus::Resolved => summary.reopened += 1,
                    }
                    seen.insert(id);
                }
                None => {
                    let c = Columns::of(finding)?;
                    insert.execute(rusqlite::params![
                        finding.fingerprint,
                        c.kind,
                        c.confidence,
                        c.invoice_number,
                        c.charge_ids,
                        c.payment_ids,
                        c.amount_minor,
                        c.currency,
                        c.reason,
                        c.evidence,
                        now_s
                    ])?;
                    summary.new += 1;
                }
            }
        }

        let mut clear = self.conn().prepare_cached(
            "UPDATE findings SET status = 'resolved', resolution = 'cleared', resolved_at = ?2
             WHERE id = ?1 AND status = 'open'",
        )?;
        let mut gone: Vec<i64> = existing
            .values()
            .filter(|(id, status, _)| *status == FindingStatus::Open && !seen.contains(id))
            .map(|(id, _, _)| *id)
            .collect();
        gone.sort_unstable();
        for id in gone {
            summary.resolved += clear.execute(rusqlite::params![id, now_s])? as u64;
        }

        summary.open_by_kind = FindingKind::ALL.into_iter().map(|k| (k, 0)).collect();
        {
            let mut stmt = self.conn().prepare_cached(
                "SELECT kind, count(*) FROM findings WHERE status = 'open' GROUP BY kind",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let kind: String = r.get(0)?;
                let kind =
                    FindingKind::parse(&kind).ok_or_else(|| corrupt("finding kind", &kind))?;
                summary
                    .open_by_kind
                    .insert(kind, r.get::<_, i64>(1)? as u64);
            }
        }
        let open_total: u64 = summary.open_by_kind.values().sum();
        self.conn().execute(
            "INSERT INTO reconcile_runs (ran_at, findings_new, findings_open, findings_resolved,
                 findings_reopened, not_yet_synced)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                now_s,
                summary.new as i64,
                open_total as i64,
                summary.resolved as i64,
                summary.reopened as i64,
                summary.not_yet_synced as i64
            ],
        )?;
        Ok(summary)
    }

    /// Stored findings matching `filter`, oldest first (by id).
    pub fn findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>, StoreError> {
        let sql = format!(
            "{SELECT_FINDING} WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR status = ?2) ORDER BY id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params![
            filter.kind.map(FindingKind::as_str),
            filter.status.map(FindingStatus::as_str)
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(finding_from_row(r)?);
        }
        Ok(out)
    }

    /// One stored finding by id.
    pub fn finding(&self, id: i64) -> Result<Option<StoredFinding>, StoreError> {
        let sql = format!("{SELECT_FINDING} WHERE id = ?1");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        rows.next()?.map(finding_from_row).transpose()
    }

    /// One stored finding by fingerprint.
    pub fn finding_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<StoredFinding>, StoreError> {
        let sql = format!("{SELECT_FINDING} WHERE fingerprint = ?1");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let mut rows = stmt.query([fingerprint])?;
        rows.next()?.map(finding_from_row).transpose()
    }

    /// Resolves a finding by a decision (an action `fixed` it, a person `dismissed` it).
    /// Returns false when no finding has that id. A `fixed` or `dismissed` finding stays
    /// resolved on later runs; a `cleared` one reopens if the data shows it again.
    pub fn resolve_finding(
        &self,
        id: i64,
        resolution: Resolution,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE findings SET status = 'resolved', resolution = ?2, resolved_at = ?3 WHERE id = ?1",
            rusqlite::params![id, resolution.as_str(), now.as_second()],
        )?;
        Ok(changed == 1)
    }

    /// How many reconciliations have run on this store.
    pub fn reconcile_run_count(&self) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM reconcile_runs", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        Ok(count as u64)
    }
}
