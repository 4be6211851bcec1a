//! What a file import needs from the store beyond the row upserts and the column sets: the
//! engine set up for a bulk write while it lasts, and the file's content hash (known only
//! once the last byte has streamed past), and a first import's indexes built after its
//! rows. Nothing here may write to a table other than `sources`.

use super::{Store, StoreError, StoreTx};

/// What a bulk write may hold in the engine's page cache, whatever the file's size.
pub const BULK_WRITE_CACHE_BYTES: u64 = BULK_WRITE_CACHE_KIB as u64 * 1024;
const BULK_WRITE_CACHE_KIB: i64 = 64 * 1024;

impl Store {
    /// Runs `work`, a bulk write such as a file import, with the engine set up for many
    /// rows at once, and puts the setup back afterwards whatever `work` returned.
    ///
    /// A large import touches index pages all over their B-trees; SQLite's default 2 MB
    /// cache makes it re-read them from the WAL for every row. A fixed, larger cache for
    /// the write's length keeps that bounded.
    pub fn bulk_write<T>(&mut self, work: impl FnOnce(&mut Store) -> T) -> Result<T, StoreError> {
        let previous = self.read(|tx| tx.set_page_cache_kib(BULK_WRITE_CACHE_KIB))?;
        let out = work(self);
        self.read(|tx| tx.set_page_cache_kib(previous))?;
        Ok(out)
    }
}

impl StoreTx<'_> {
    /// Sets the connection's page cache for the store, in KiB; returns the previous size
    /// (in KiB) so it can be restored.
    fn set_page_cache_kib(&self, kib: i64) -> Result<i64, StoreError> {
        let pages_or_kib: i64 =
            self.conn()
                .pragma_query_value(Some("main"), "cache_size", |r| r.get(0))?;
        // SQLite reports a positive size in pages, a negative one in KiB.
        let previous = if pages_or_kib < 0 {
            -pages_or_kib
        } else {
            let page: i64 = self
                .conn()
                .pragma_query_value(Some("main"), "page_size", |r| r.get(0))?;
            pages_or_kib * page / 1024
        };
        self.conn()
            .pragma_update(Some("main"), "cache_size", -kib)?;
        Ok(previous)
    }

    /// Records the SHA-256 of the source's file, once it has been read to the end.
    pub fn set_source_content_sha256(
        &self,
        source_id: i64,
        sha256: &str,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sources SET content_sha256 = ?2 WHERE id = ?1",
            rusqlite::params![source_id, sha256],
        )?;
        Ok(())
    }
}

/// The secondary indexes of a table a first import fills, dropped until its rows are in
/// ([`StoreTx::index_after_rows_if_empty`]).
#[must_use = "the indexes are gone until `StoreTx::rebuild_indexes` builds them again"]
#[derive(Debug, Default)]
pub struct DeferredIndexes {
    sql: Vec<String>,
}

impl StoreTx<'_> {
    /// When the table an import of `kind` fills holds no row yet, drops its secondary
    /// indexes, to be built after the rows by [`StoreTx::rebuild_indexes`] in the same
    /// transaction: one sorted pass each instead of a random insert per row. The natural
    /// key's unique index stays, so a key twice in the file is still caught row by row; a
    /// rolled-back import leaves every index as it was.
    pub fn index_after_rows_if_empty(
        &self,
        kind: super::SourceKind,
    ) -> Result<DeferredIndexes, StoreError> {
        let table = match kind {
            super::SourceKind::Invoices => "invoices",
            super::SourceKind::Payments => "ledger_entries",
            super::SourceKind::StripeExport => "gateway_charges",
            super::SourceKind::StripeSync => return Ok(DeferredIndexes::default()),
        };
        if self.row_count(table)? > 0 {
            return Ok(DeferredIndexes::default());
        }
        let mut stmt = self.conn().prepare(
            "SELECT name, sql FROM sqlite_master
              WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL ORDER BY name",
        )?;
        let indexes: Vec<(String, String)> = stmt
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (name, _) in &indexes {
            self.conn()
                .execute_batch(&format!("DROP INDEX \"{name}\""))?;
        }
        Ok(DeferredIndexes {
            sql: indexes.into_iter().map(|(_, sql)| sql).collect(),
        })
    }

    /// Builds again the indexes [`StoreTx::index_after_rows_if_empty`] dropped.
    pub fn rebuild_indexes(&self, deferred: DeferredIndexes) -> Result<(), StoreError> {
        for sql in deferred.sql {
            self.conn().execute_batch(&sql)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceKind;

    fn indexes(store: &mut Store) -> Vec<String> {
        store
            .read(|tx| {
                let mut stmt = tx.conn().prepare(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'gateway_charges'
                      ORDER BY name",
                )?;
                let rows = stmt.query_map([], |r| r.get::<_, Option<String>>(0))?;
                Ok::<_, StoreError>(rows.map(|r| r.map(|s| s.unwrap_or_default())).collect::<Result<_, _>>()?)
            })
            .unwrap()
    }

    /// A first import's indexes come back as they were, whether it commits or rolls back;
    /// a table with rows keeps its indexes throughout.
    #[test]
    fn a_first_import_builds_the_same_indexes_after_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let before = indexes(&mut store);
        assert!(before.len() >= 5, "{before:?}");

        let failed: Result<(), StoreError> = store.write(|tx| {
            let deferred = tx.index_after_rows_if_empty(SourceKind::StripeExport)?;
            assert_eq!(tx.conn().query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'gateway_charges'
                   AND sql IS NOT NULL", [], |r| r.get::<_, i64>(0))?, 0);
            drop(deferred);
            Err(StoreError::Corrupt { what: "the file".into(), detail: "a bad row".into() })
        });
        assert!(failed.is_err());
        assert_eq!(
            indexes(&mut store),
            before,
            "rolled back: every index is there"
        );

        store
            .write(|tx| {
                let deferred = tx.index_after_rows_if_empty(SourceKind::StripeExport)?;
                tx.conn().execute_batch(
                    "INSERT INTO sources (id, kind, origin, imported_at) VALUES (1, 'stripe_export', 'u.csv', 0);
                     INSERT INTO gateway_charges (gateway, charge_id, amount_minor, amount_refunded_minor,
                         currency, status, captured, created_at, source_id)
                     VALUES ('stripe', 'ch_1', 100, 0, 'usd', 'failed', 0, 1790000000, 1);",
                )?;
                tx.rebuild_indexes(deferred)
            })
            .unwrap();
        assert_eq!(indexes(&mut store), before);

        let kept = store
            .write(|tx| {
                let deferred = tx.index_after_rows_if_empty(SourceKind::StripeExport)?;
                let kept = indexes_now(tx);
                tx.rebuild_indexes(deferred)?;
                Ok::<_, StoreError>(kept)
            })
            .unwrap();
        assert_eq!(kept, before.len(), "a table with rows keeps its indexes");
    }

    fn indexes_now(tx: &StoreTx<'_>) -> usize {
        tx.conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'gateway_charges'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as usize
    }
}
