//! The store's audit log as both shells read it: every entry, and whether its hash chain
//! holds. One use-case, so the command line's `audit verify` and the Audit screen can
//! never disagree about a log.

use crate::audit::{self, AuditEntry, ChainBreak, ChainReport};
use crate::store::{Store, StoreError};

/// The whole log, oldest first.
pub fn entries(store: &mut Store) -> Result<Vec<AuditEntry>, StoreError> {
    store.read(|tx| tx.audit_entries(None, None))
}

/// What a check of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Entries read.
    pub entries: u64,
    /// The chain's report, or the first entry that does not hold.
    pub chain: Result<ChainReport, ChainBreak>,
}

/// Checks the chain from the first entry to the head the store recorded. The error is the
/// store's (it could not read); a broken chain is a finding, in [`Checked::chain`].
pub fn verify(store: &mut Store) -> Result<Checked, StoreError> {
    let (entries, head) =
        store.read(|tx| Ok::<_, StoreError>((tx.audit_entries(None, None)?, tx.audit_head()?)))?;
    Ok(Checked {
        entries: entries.len() as u64,
        chain: audit::verify(&entries, head),
    })
}
