//! Appending to and reading the audit log. Appends happen inside the caller's transaction,
//! so a state change and its audit entry commit together or not at all.

use rusqlite::OptionalExtension;

use super::{StoreError, StoreTx};
use crate::audit::{AuditEntry, GENESIS, entry_hash};

impl StoreTx<'_> {
    /// Appends one entry after the current head and moves the head to it.
    pub fn append_audit(
        &self,
        at: jiff::Timestamp,
        actor: &str,
        event: &str,
        subject: &str,
        details: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let (prev_seq, prev_hash) = self
            .audit_head()?
            .unwrap_or_else(|| (0, GENESIS.to_string()));
        let seq = prev_seq + 1;
        let details = details.to_string();
        let at = at.as_second();
        let hash = entry_hash(&prev_hash, seq, at, actor, event, subject, &details);
        self.conn()
            .prepare_cached(
                "INSERT INTO audit_log (seq, at, actor, event, subject, details, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(rusqlite::params![
                seq, at, actor, event, subject, details, prev_hash, hash
            ])?;
        self.conn()
            .prepare_cached(
                "INSERT INTO audit_head (one, seq, hash) VALUES (1, ?1, ?2)
                 ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            )?
            .execute(rusqlite::params![seq, hash])?;
        Ok(seq)
    }

    /// The recorded head `(seq, hash)`, `None` for an empty log.
    pub fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT seq, hash FROM audit_head WHERE one = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    /// Entries in `seq` order, optionally only those at or after `from` and before `to`
    /// (Unix seconds).
    pub fn audit_entries(
        &self,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, at, actor, event, subject, details, prev_hash, hash FROM audit_log
             WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at < ?2) ORDER BY seq",
        )?;
        let rows = stmt.query_map(rusqlite::params![from, to], |r| {
            Ok(AuditEntry {
                seq: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                event: r.get(3)?,
                subject: r.get(4)?,
                details: r.get(5)?,
                prev_hash: r.get(6)?,
                hash: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
