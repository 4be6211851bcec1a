//! Sources: each import of a file and each sync is a source, and every stored row names
//! the source (and line) it came from. Gateway sources also record their coverage — the
//! window of time in which the store holds every charge — which decides whether an
//! unmatched ledger payment is "missing" or merely "not yet synced".

use jiff::Timestamp;
use serde::Serialize;

use super::{StoreError, StoreTx, timestamp_from_store};
use crate::records::Coverage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Invoices,
    Payments,
    StripeExport,
    StripeSync,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Invoices => "invoices",
            SourceKind::Payments => "payments",
            SourceKind::StripeExport => "stripe_export",
            SourceKind::StripeSync => "stripe_sync",
        }
    }
}

/// How many rows a source added, changed and found unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SourceCounts {
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
}

impl SourceCounts {
    /// Counts what one upsert did.
    pub fn tally(&mut self, outcome: &crate::UpsertOutcome) {
        match outcome {
            crate::UpsertOutcome::New => self.new += 1,
            crate::UpsertOutcome::Unchanged => self.unchanged += 1,
            crate::UpsertOutcome::Changed(_) => self.changed += 1,
        }
    }

    /// Adds another source's counts.
    pub fn add(&mut self, other: SourceCounts) {
        self.new += other.new;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
    }
}

/// One finished or running import or sync, as the `sources` table keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRow {
    pub id: i64,
    pub kind: SourceKind,
    /// The file imported, or the API base synced from.
    pub origin: String,
    pub at: Timestamp,
    pub counts: SourceCounts,
}

impl StoreTx<'_> {
    /// The most recent source of `kind` (the last sync, the last invoices import), if any.
    pub fn last_source(&self, kind: SourceKind) -> Result<Option<SourceRow>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, origin, imported_at, rows_new, rows_changed, rows_unchanged
             FROM sources WHERE kind = ?1 ORDER BY id DESC LIMIT 1",
        )?;
        let mut rows = stmt.query([kind.as_str()])?;
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        Ok(Some(SourceRow {
            id: r.get(0)?,
            kind,
            origin: r.get(1)?,
            at: timestamp_from_store(r.get(2)?)?,
            counts: SourceCounts {
                new: r.get::<_, i64>(3)? as u64,
                changed: r.get::<_, i64>(4)? as u64,
                unchanged: r.get::<_, i64>(5)? as u64,
            },
        }))
    }

    /// Records the start of an import or sync; rows written after it name its id.
    pub fn begin_source(
        &self,
        kind: SourceKind,
        origin: &str,
        content_sha256: Option<&str>,
        at: Timestamp,
    ) -> Result<i64, StoreError> {
        self.conn().execute(
            "INSERT INTO sources (kind, origin, content_sha256, imported_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![kind.as_str(), origin, content_sha256, at.as_second()],
        )?;
        Ok(self.conn().last_insert_rowid())
    }

    pub fn finish_source(&self, source_id: i64, counts: SourceCounts) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sources SET rows_new = ?2, rows_changed = ?3, rows_unchanged = ?4 WHERE id = ?1",
            rusqlite::params![
                source_id,
                counts.new as i64,
                counts.changed as i64,
                counts.unchanged as i64
            ],
        )?;
        Ok(())
    }

    /// Records that `source_id` holds every gateway charge created in `window`.
    pub fn add_charge_coverage(
        &self,
        source_id: i64,
        gateway: &str,
        window: Coverage,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO coverage (source_id, gateway, object_kind, covered_from, covered_to)
             VALUES (?1, ?2, 'charge', ?3, ?4)",
            rusqlite::params![
                source_id,
                gateway,
                window.from.as_second(),
                window.to.as_second()
            ],
        )?;
        Ok(())
    }

    /// Every window in which the store is known to hold all of a gateway's charges.
    pub fn charge_coverage(&self) -> Result<Vec<Coverage>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT covered_from, covered_to FROM coverage WHERE object_kind = 'charge' ORDER BY covered_from",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
        let mut windows = Vec::new();
        for row in rows {
            let (from, to) = row?;
            windows.push(Coverage {
                from: timestamp_from_store(from)?,
                to: timestamp_from_store(to)?,
            });
        }
        Ok(windows)
    }
}
