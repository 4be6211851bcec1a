//! What a file import needs from the store beyond the row upserts and the column sets: the
//! engine set up for a bulk write while it lasts, and the file's content hash (known only
//! once the last byte has streamed past). Nothing here may write to a table other than
//! `sources`.

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
