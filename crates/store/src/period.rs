//! Closed periods: who closed a month, when, in which time zone, and who reopened it and
//! why. A period is closed at most once at a time (a unique partial index); reopening
//! keeps the row, so the history of closes stays readable beside the audit log.

use rusqlite::OptionalExtension;
use serde::Serialize;

use super::{StoreError, StoreTx};

/// One close of a period, live (not reopened) or part of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodClose {
    pub id: i64,
    /// `YYYY-MM`.
    pub period: String,
    /// The IANA zone the month was computed in.
    pub time_zone: String,
    /// The month's bounds as Unix seconds: `starts_at` inclusive, `ends_at` exclusive.
    pub starts_at: i64,
    pub ends_at: i64,
    pub closed_at: i64,
    pub closed_by: String,
    pub reopened_at: Option<i64>,
    pub reopened_by: Option<String>,
    pub reopen_reason: Option<String>,
}

const COLUMNS: &str = "id, period, time_zone, starts_at, ends_at, closed_at, closed_by, reopened_at, reopened_by, reopen_reason";

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<PeriodClose> {
    Ok(PeriodClose {
        id: r.get(0)?,
        period: r.get(1)?,
        time_zone: r.get(2)?,
        starts_at: r.get(3)?,
        ends_at: r.get(4)?,
        closed_at: r.get(5)?,
        closed_by: r.get(6)?,
        reopened_at: r.get(7)?,
        reopened_by: r.get(8)?,
        reopen_reason: r.get(9)?,
    })
}

impl StoreTx<'_> {
    /// Records a close; `PeriodAlreadyClosed` when the period is closed already.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_period_close(
        &self,
        period: &str,
        time_zone: &str,
        starts_at: i64,
        ends_at: i64,
        closed_by: &str,
        at: jiff::Timestamp,
    ) -> Result<i64, StoreError> {
        let inserted = self.conn().execute(
            "INSERT INTO period_closes (period, time_zone, starts_at, ends_at, closed_at, closed_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![period, time_zone, starts_at, ends_at, at.as_second(), closed_by],
        );
        match inserted {
            Ok(_) => Ok(self.conn().last_insert_rowid()),
            Err(e) if e.to_string().contains("period_closes.period") => {
                Err(StoreError::PeriodAlreadyClosed(period.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The live close of `period`, if it is closed.
    pub fn live_period_close(&self, period: &str) -> Result<Option<PeriodClose>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM period_closes WHERE period = ?1 AND reopened_at IS NULL"
                ),
                [period],
                read,
            )
            .optional()?)
    }

    /// Every close ever made, oldest first.
    pub fn period_closes(&self) -> Result<Vec<PeriodClose>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!("SELECT {COLUMNS} FROM period_closes ORDER BY id"))?;
        let rows = stmt.query_map([], read)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks the live close `id` reopened (compare-and-set: exactly one live row).
    pub fn reopen_period_close(
        &self,
        id: i64,
        by: &str,
        reason: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        let changed = self.conn().execute(
            "UPDATE period_closes SET reopened_at = ?1, reopened_by = ?2, reopen_reason = ?3
             WHERE id = ?4 AND reopened_at IS NULL",
            rusqlite::params![at.as_second(), by, reason, id],
        )?;
        if changed != 1 {
            return Err(StoreError::Corrupt {
                what: "period close".into(),
                detail: format!("close {id} is no longer live"),
            });
        }
        Ok(())
    }

    /// The closed period (its `YYYY-MM`) that the instant `at` falls in, if any. The
    /// journal asks this before it accepts an action or a ledger fix dated at `at`.
    pub fn period_closed(&self, at: jiff::Timestamp) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT period FROM period_closes
                 WHERE reopened_at IS NULL AND starts_at <= ?1 AND ?1 < ends_at
                 ORDER BY id LIMIT 1",
                [at.as_second()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Audit entries about one subject (`period:2026-10`), in `seq` order.
    pub fn audit_entries_about(
        &self,
        subject: &str,
    ) -> Result<Vec<chargeguard_domain::audit::AuditEntry>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, at, actor, event, subject, details, prev_hash, hash FROM audit_log
             WHERE subject = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([subject], super::audit::audit_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
