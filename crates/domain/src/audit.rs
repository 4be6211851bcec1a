//! The audit log: an append-only chain of what happened, who did it and when.
//!
//! Each entry holds the SHA-256 of the one before it, and its own hash covers every field
//! it stores, so an edited, deleted or reordered entry breaks the chain and [`verify`]
//! names the first entry that does not hold. The newest entry's sequence number and hash
//! are also kept as the log's head, so cutting entries off the end is found too.
//!
//! Entries are appended by the store in the same transaction as the change they record;
//! this module never writes, it only defines the hash and checks the chain.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    /// Unix seconds (UTC).
    pub at: i64,
    pub actor: String,
    pub event: String,
    pub subject: String,
    /// A JSON object, exactly as stored (the hash covers these bytes).
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an entry: SHA-256 over a length-prefixed encoding of every field, so no
/// two different entries can encode alike.
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    actor: &str,
    event: &str,
    subject: &str,
    details: &str,
) -> String {
    let mut hasher = Sha256::new();
    for field in [
        prev_hash,
        &seq.to_string(),
        &at.to_string(),
        actor,
        event,
        subject,
        details,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("audit log entry {seq}: {problem}")]
pub struct ChainBreak {
    pub seq: i64,
    pub problem: String,
}

/// What `audit verify` reports when the chain holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub entries: u64,
    pub head_hash: String,
}

/// Checks a whole log (entries in `seq` order) against itself and against its recorded
/// head `(seq, hash)`.
pub fn verify(
    entries: &[AuditEntry],
    head: Option<(i64, String)>,
) -> Result<ChainReport, ChainBreak> {
    let mut prev_hash = GENESIS.to_string();
    let mut prev_seq = 0;
    for e in entries {
        if e.seq != prev_seq + 1 {
            return Err(ChainBreak {
                seq: prev_seq + 1,
                problem: format!(
                    "is missing (the log jumps from {prev_seq} to {}): an entry was deleted",
                    e.seq
                ),
            });
        }
        if e.prev_hash != prev_hash {
            return Err(ChainBreak {
                seq: e.seq,
                problem: "does not follow the entry before it: the log was reordered or an entry replaced".into(),
            });
        }
        let expected = entry_hash(
            &e.prev_hash,
            e.seq,
            e.at,
            &e.actor,
            &e.event,
            &e.subject,
            &e.details,
        );
        if expected != e.hash {
            return Err(ChainBreak {
                seq: e.seq,
                problem: format!(
                    "was edited after it was written (its content does not match its hash; event `{}` on `{}`)",
                    e.event, e.subject
                ),
            });
        }
        prev_hash = e.hash.clone();
        prev_seq = e.seq;
    }
    match head {
        Some((seq, hash)) if seq != prev_seq || hash != prev_hash => Err(ChainBreak {
            seq: prev_seq + 1,
            problem: format!(
                "is missing: the log ends at {prev_seq} but its head says {seq}: entries were cut off the end"
            ),
        }),
        None if prev_seq != 0 => Err(ChainBreak {
            seq: 1,
            problem: "the log has entries but no recorded head".into(),
        }),
        _ => Ok(ChainReport {
            entries: prev_seq as u64,
            head_hash: prev_hash,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let details = format!("{{\"n\":{seq}}}");
                let hash = entry_hash(
                    &prev,
                    seq,
                    1000 + seq,
                    "alice",
                    "approved",
                    "action:1",
                    &details,
                );
                let e = AuditEntry {
                    seq,
                    at: 1000 + seq,
                    actor: "alice".into(),
                    event: "approved".into(),
                    subject: "action:1".into(),
                    details,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn head(entries: &[AuditEntry]) -> Option<(i64, String)> {
        entries.last().map(|e| (e.seq, e.hash.clone()))
    }

    #[test]
    fn an_intact_chain_holds() {
        let log = chain(5);
        let report = verify(&log, head(&log)).unwrap();
        assert_eq!(report.entries, 5);
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut log = chain(5);
        let h = head(&log);
        log[2].actor = "mallory".into();
        assert_eq!(verify(&log, h).unwrap_err().seq, 3);
    }

    #[test]
    fn a_deleted_entry_is_named() {
        let mut log = chain(5);
        let h = head(&log);
        log.remove(1);
        assert_eq!(verify(&log, h).unwrap_err().seq, 2);
    }

    #[test]
    fn entries_cut_off_the_end_are_found() {
        let mut log = chain(5);
        let h = head(&log);
        log.pop();
        assert_eq!(verify(&log, h).unwrap_err().seq, 5);
    }

    #[test]
    fn a_rehashed_edit_still_breaks_the_next_link() {
        let mut log = chain(5);
        let h = head(&log);
        log[1].details = "{\"n\":99}".into();
        log[1].hash = entry_hash(
            &log[1].prev_hash,
            2,
            log[1].at,
            "alice",
            "approved",
            "action:1",
            &log[1].details,
        );
        assert_eq!(verify(&log, h).unwrap_err().seq, 3);
    }
}
