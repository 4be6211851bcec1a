//! `manifest.json`: what a package holds and how to check it without Chargeguard's store.
//!
//! Each file is listed with its SHA-256 and size; each CSV file also with its number of
//! records and the SHA-256 of consecutive blocks of records (at most [`MAX_BLOCKS`] per
//! file, so a small file has one block per record and verification names the very line
//! that changed, while a file of a million rows keeps a manifest of a few dozen
//! kilobytes). A record's hash is over its fields, length-prefixed, so quoting choices of
//! a spreadsheet program that re-saves the file do not matter, but any changed cell does.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's own format name; verification refuses another.
pub const FORMAT: &str = "chargeguard-month-end/1";
/// Blocks per CSV file, at most.
pub const MAX_BLOCKS: u64 = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub period: String,
    pub time_zone: String,
    /// The period's first instant and the next period's, as local text with offset.
    pub starts_at: String,
    pub ends_at: String,
    /// The instant the package speaks for: the period's close, or `--as-of`; `null` for
    /// an open period exported without one.
    pub as_of: Option<String>,
    pub closed: Option<ClosedBy>,
    pub schema_version: i64,
    pub chargeguard_version: String,
    /// The audit log's head when the package was made.
    pub audit_head: Option<AuditHead>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedBy {
    pub closed_at: String,
    pub closed_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
    /// For CSV files: data records (the header not counted).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub records: Option<u64>,
    /// For CSV files: records per block.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub block_records: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub blocks: Vec<String>,
}

/// Records per block for a file of `records` records.
pub fn block_size(records: u64) -> u64 {
    records.div_ceil(MAX_BLOCKS).max(1)
}

/// Hashes records into blocks.
#[derive(Default)]
pub struct BlockHasher {
    per_block: u64,
    in_block: u64,
    hasher: Sha256,
    pub blocks: Vec<String>,
    pub records: u64,
}

impl BlockHasher {
    pub fn new(expected_records: u64) -> BlockHasher {
        BlockHasher {
            per_block: block_size(expected_records),
            ..BlockHasher::default()
        }
    }

    pub fn per_block(&self) -> u64 {
        self.per_block
    }

    /// Adds one record (its fields); returns the finished block's hash when this record
    /// completed one.
    pub fn record<'f>(&mut self, fields: impl IntoIterator<Item = &'f str>) -> Option<&str> {
        for field in fields {
            self.hasher.update((field.len() as u64).to_be_bytes());
            self.hasher.update(field.as_bytes());
        }
        self.hasher.update(u64::MAX.to_be_bytes()); // end of record
        self.records += 1;
        self.in_block += 1;
        if self.in_block == self.per_block {
            self.flush();
            return self.blocks.last().map(String::as_str);
        }
        None
    }

    fn flush(&mut self) {
        let done = std::mem::take(&mut self.hasher);
        self.blocks.push(hex::encode(done.finalize()));
        self.in_block = 0;
    }

    pub fn finish(mut self) -> (u64, Vec<String>) {
        if self.in_block > 0 {
            self.flush();
        }
        (self.records, self.blocks)
    }
}

/// SHA-256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 (hex) and length of everything `reader` yields.
pub fn sha256_reader(mut reader: impl std::io::Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}
