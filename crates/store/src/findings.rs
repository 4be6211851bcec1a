//! Findings in the store: the bookkeeper's queue, kept across reconciliations, keyed by
//! fingerprint. It offers the queue's typed moves (insert, refresh, touch, clear) and the
//! reads they need; which move a run makes is the queue's lifecycle, in
//! `reconcile::queue`. It never decides what is a finding, nor what becomes of one.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::{AnyOf, StoreError, StoreTx, currency_from_store, timestamp_from_store};
use chargeguard_domain::finding::{Confidence, Finding, FindingKind};
pub use chargeguard_domain::finding::{FindingStatus, Resolution};
use chargeguard_domain::{Evidence, Money};

/// Which findings to list; `None` means any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FindingFilter {
    pub kind: Option<FindingKind>,
    pub status: Option<FindingStatus>,
}

/// One page of the queue: findings after id `after` (oldest first), at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub after: Option<i64>,
    pub limit: u32,
}

/// The open findings of one kind in one currency: how many, and the money at stake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenTotal {
    pub kind: FindingKind,
    pub currency: chargeguard_domain::Currency,
    pub count: u64,
    /// The sum of their amounts, in minor units (saturating).
    pub minor: i64,
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
    /// Shown as `amount_minor` and lower-case `currency` in `findings --json`.
    #[serde(flatten, with = "chargeguard_domain::money::as_minor_parts")]
    pub amount: Money,
    pub confidence: Confidence,
    pub reason: String,
    pub evidence: Evidence,
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
        amount: Money::from_minor(r.get(8)?, currency_from_store(&r.get::<_, String>(9)?)?),
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

/// Where a stored finding stands, by fingerprint: what the queue's lifecycle reads before
/// it applies a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingState {
    pub id: i64,
    pub status: FindingStatus,
    pub resolution: Option<Resolution>,
}

/// What one reconciliation run did, as `reconcile_runs` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileRun {
    pub new: u64,
    pub open: u64,
    pub resolved: u64,
    pub reopened: u64,
    pub not_yet_synced: u64,
}

impl StoreTx<'_> {
    /// Every stored finding's state, by fingerprint.
    pub fn finding_states(&self) -> Result<HashMap<String, FindingState>, StoreError> {
        let mut out = HashMap::new();
        self.read_finding_states(&AnyOf::ALL, &mut out)?;
        Ok(out)
    }

    /// The states of the stored findings among `fingerprints`, by fingerprint: what a run
    /// that looked at part of the books needs, whatever the queue's history holds.
    pub fn finding_states_of(
        &self,
        fingerprints: &[&str],
    ) -> Result<HashMap<String, FindingState>, StoreError> {
        let mut out = HashMap::with_capacity(fingerprints.len());
        // Well under the engine's limit on a statement's parameters.
        for chunk in fingerprints.chunks(500) {
            self.read_finding_states(&AnyOf::none().or("fingerprint", chunk), &mut out)?;
        }
        Ok(out)
    }

    fn read_finding_states(
        &self,
        filter: &AnyOf,
        out: &mut HashMap<String, FindingState>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT id, fingerprint, status, resolution FROM findings WHERE {}",
            filter.sql()
        ))?;
        let mut rows = stmt.query(filter.params())?;
        while let Some(r) = rows.next()? {
            let status: String = r.get(2)?;
            let resolution: Option<String> = r.get(3)?;
            out.insert(
                r.get(1)?,
                FindingState {
                    id: r.get(0)?,
                    status: FindingStatus::parse(&status)
                        .ok_or_else(|| corrupt("finding status", &status))?,
                    resolution: resolution.as_deref().and_then(Resolution::parse),
                },
            );
        }
        Ok(())
    }

    /// Runs `sql` with `?1` = `key` (a fingerprint or an id), `?2`..`?10` = the finding's
    /// columns in [`Columns`] order, and `?11` = `now`.
    fn write_finding(
        &self,
        sql: &str,
        key: &dyn rusqlite::ToSql,
        finding: &Finding,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let c = Columns::of(finding)?;
        self.conn().prepare_cached(sql)?.execute(rusqlite::params![
            key,
            c.kind,
            c.confidence,
            c.invoice_number,
            c.charge_ids,
            c.payment_ids,
            c.amount_minor,
            c.currency,
            c.reason,
            c.evidence,
            now.as_second()
        ])?;
        Ok(())
    }

    /// Adds a finding first seen `now`, open.
    pub fn insert_finding(&self, finding: &Finding, now: Timestamp) -> Result<(), StoreError> {
        self.write_finding(
            "INSERT INTO findings (fingerprint, kind, confidence, invoice_number, charge_ids, payment_ids,
                 amount_minor, currency, reason, evidence, status, first_seen_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'open', ?11, ?11)",
            &finding.fingerprint,
            finding,
            now,
        )
    }

    /// Writes this run's facts over finding `id` and leaves it open (refreshed, or reopened
    /// when it had been resolved).
    pub fn refresh_finding(
        &self,
        id: i64,
        finding: &Finding,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write_finding(
            "UPDATE findings SET kind = ?2, confidence = ?3, invoice_number = ?4, charge_ids = ?5,
                 payment_ids = ?6, amount_minor = ?7, currency = ?8, reason = ?9, evidence = ?10,
                 status = 'open', resolution = NULL, resolved_at = NULL, last_seen_at = ?11
             WHERE id = ?1",
            &id,
            finding,
            now,
        )
    }

    /// Notes that a run saw finding `id` again, changing nothing else.
    pub fn touch_finding(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached("UPDATE findings SET last_seen_at = ?2 WHERE id = ?1")?
            .execute(rusqlite::params![id, now.as_second()])?;
        Ok(())
    }

    /// Resolves open finding `id` as `cleared`; whether it was open.
    pub fn clear_finding(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE findings SET status = 'resolved', resolution = 'cleared', resolved_at = ?2
                 WHERE id = ?1 AND status = 'open'",
            )?
            .execute(rusqlite::params![id, now.as_second()])?;
        Ok(changed > 0)
    }

    /// Open findings per kind, every kind listed (zero included).
    pub fn open_findings_by_kind(&self) -> Result<BTreeMap<FindingKind, u64>, StoreError> {
        let mut out: BTreeMap<FindingKind, u64> =
            FindingKind::ALL.into_iter().map(|k| (k, 0)).collect();
        let mut stmt = self.conn().prepare_cached(
            "SELECT kind, count(*) FROM findings WHERE status = 'open' GROUP BY kind",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let kind: String = r.get(0)?;
            let kind = FindingKind::parse(&kind).ok_or_else(|| corrupt("finding kind", &kind))?;
            out.insert(kind, r.get::<_, i64>(1)? as u64);
        }
        Ok(out)
    }

    /// The ids of the open findings of `kinds`, ascending.
    pub fn open_findings_of_kinds(&self, kinds: &[FindingKind]) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id FROM findings WHERE status = 'open' AND kind IN (SELECT value FROM json_each(?1))
              ORDER BY id",
        )?;
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let names = serde_json::to_string(&names).expect("kind names are plain text");
        let rows = stmt.query_map([names], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a run's counts in `reconcile_runs`.
    pub fn record_reconcile_run(&self, at: Timestamp, run: ReconcileRun) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO reconcile_runs (ran_at, findings_new, findings_open, findings_resolved,
                 findings_reopened, not_yet_synced)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                at.as_second(),
                run.new as i64,
                run.open as i64,
                run.resolved as i64,
                run.reopened as i64,
                run.not_yet_synced as i64
            ],
        )?;
        Ok(())
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

    /// One page of the findings `filter` and `confidence` select, oldest first.
    pub fn findings_page(
        &self,
        filter: &FindingFilter,
        confidence: Option<Confidence>,
        page: Page,
    ) -> Result<Vec<StoredFinding>, StoreError> {
        let sql = format!(
            "{SELECT_FINDING} WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR status = ?2)
                AND (?3 IS NULL OR confidence = ?3) AND id > ?4
             ORDER BY id LIMIT ?5"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params![
            filter.kind.map(FindingKind::as_str),
            filter.status.map(FindingStatus::as_str),
            confidence.map(Confidence::as_str),
            page.after.unwrap_or(0),
            page.limit
        ])?;
        let mut out = Vec::with_capacity(page.limit.min(1024) as usize);
        while let Some(r) = rows.next()? {
            out.push(finding_from_row(r)?);
        }
        Ok(out)
    }

    /// The open findings by kind and currency: counts and sums, reading three columns of
    /// each (summed here, saturating: SQLite's `sum` fails on overflow, `total` is a float).
    pub fn open_totals(&self) -> Result<Vec<OpenTotal>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT kind, currency, amount_minor FROM findings WHERE status = 'open'",
        )?;
        let mut rows = stmt.query([])?;
        let mut totals: BTreeMap<(String, String), (u64, i64)> = BTreeMap::new();
        while let Some(r) = rows.next()? {
            let total = totals.entry((r.get(0)?, r.get(1)?)).or_default();
            total.0 += 1;
            total.1 = total.1.saturating_add(r.get(2)?);
        }
        totals
            .into_iter()
            .map(|((kind, currency), (count, minor))| {
                Ok(OpenTotal {
                    kind: FindingKind::parse(&kind)
                        .ok_or_else(|| corrupt("finding kind", &kind))?,
                    currency: currency_from_store(&currency)?,
                    count,
                    minor,
                })
            })
            .collect()
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
