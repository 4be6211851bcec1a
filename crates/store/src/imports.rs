//! What a file import needs from the store beyond the row upserts and the column sets: the
//! page cache for the import's length, and the file's content hash (known only once the
//! last byte has streamed past). Nothing here may write to a table other than `sources`.

use super::{StoreError, StoreTx};

impl StoreTx<'_> {
    /// Sets the connection's page cache for the store, in KiB; returns the previous size
    /// (in KiB) so it can be restored.
    pub fn set_page_cache_kib(&self, kib: i64) -> Result<i64, StoreError> {
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
