//! Appending to and reading the audit log. Appends happen inside the caller's transaction,
//! so a state change and its audit entry commit together or not at all.

use rusqlite::OptionalExtension;

use super::{StoreError, StoreTx};
use chargeguard_domain::audit::{AuditEntry, GENESIS, entry_hash};

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
        let rows = stmt.query_map(rusqlite::params![from, to], audit_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One page of the log, newest first: the entries matching `filter` with `seq` below
    /// `before` (the previous page's last), at most `limit`; and how many match in all.
    pub fn audit_page(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<AuditEntry>, u64), StoreError> {
        const WHERE: &str = "(?1 IS NULL OR event = ?1) AND (?2 IS NULL OR actor = ?2)
             AND (?3 IS NULL OR subject = ?3)";
        let total: i64 = self.conn().query_row(
            &format!("SELECT count(*) FROM audit_log WHERE {WHERE}"),
            rusqlite::params![filter.event, filter.actor, filter.subject],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT seq, at, actor, event, subject, details, prev_hash, hash FROM audit_log
             WHERE {WHERE} AND (?4 IS NULL OR seq < ?4) ORDER BY seq DESC LIMIT ?5"
        ))?;
        let rows = stmt.query_map(
            rusqlite::params![filter.event, filter.actor, filter.subject, before, limit],
            audit_row,
        )?;
        Ok((
            rows.collect::<Result<_, _>>()?,
            u64::try_from(total).unwrap_or(0),
        ))
    }

    /// The kinds of event and the people the log holds, sorted: what a filter can pick.
    pub fn audit_facets(&self) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let distinct = |column: &str| -> Result<Vec<String>, StoreError> {
            let mut stmt = self.conn().prepare_cached(&format!(
                "SELECT DISTINCT {column} FROM audit_log ORDER BY {column}"
            ))?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        Ok((distinct("event")?, distinct("actor")?))
    }
}

/// One `SELECT seq, at, actor, event, subject, details, prev_hash, hash` row.
pub(super) fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
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
}

/// Which audit entries to list; `None` lets everything through. Exact matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub event: Option<String>,
    pub actor: Option<String>,
    /// What the entry is about: `action:12`, `finding:3`, `period:2026-10`.
    pub subject: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn pages_run_newest_first_and_filters_count_what_they_match() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let t = jiff::Timestamp::from_second(1_790_000_000).unwrap();
        store
            .write(|tx| {
                for i in 0..5 {
                    let who = if i % 2 == 0 { "alice" } else { "bob" };
                    tx.append_audit(
                        t,
                        who,
                        "action_proposed",
                        &format!("action:{i}"),
                        &serde_json::json!({}),
                    )?;
                }
                tx.append_audit(
                    t,
                    "alice",
                    "period_closed",
                    "period:2026-10",
                    &serde_json::json!({}),
                )?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let (first, total) = store
            .read(|tx| tx.audit_page(&AuditFilter::default(), None, 4))
            .unwrap();
        assert_eq!(total, 6);
        assert_eq!(
            first.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![6, 5, 4, 3]
        );
        let (rest, _) = store
            .read(|tx| tx.audit_page(&AuditFilter::default(), Some(3), 4))
            .unwrap();
        assert_eq!(rest.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 1]);

        let alice_proposals = AuditFilter {
            event: Some("action_proposed".into()),
            actor: Some("alice".into()),
            subject: None,
        };
        let (rows, total) = store
            .read(|tx| tx.audit_page(&alice_proposals, None, 50))
            .unwrap();
        assert_eq!(total, 3);
        assert!(
            rows.iter()
                .all(|e| e.actor == "alice" && e.event == "action_proposed")
        );
        let one_action = AuditFilter {
            subject: Some("action:3".into()),
            ..AuditFilter::default()
        };
        let (rows, total) = store
            .read(|tx| tx.audit_page(&one_action, None, 50))
            .unwrap();
        assert_eq!((rows.len(), total), (1, 1));
        assert_eq!(rows[0].actor, "bob");

        let (events, actors) = store.read(|tx| tx.audit_facets()).unwrap();
        assert_eq!(events, vec!["action_proposed", "period_closed"]);
        assert_eq!(actors, vec!["alice", "bob"]);
    }
}
