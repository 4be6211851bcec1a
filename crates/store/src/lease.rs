//! Leases: an executor's claim on one action while its request may be in flight.
//!
//! A lease is an exclusive lock on a small file beside the store, held through an open
//! file handle. The operating system releases it when the handle closes, and it closes
//! however the process ends: a return, a panic, SIGKILL, a crash. So "is whoever sent this
//! still at work?" is answered by "can I take its lease?", never by a process id: ids are
//! handed to other processes once the first is gone, and not every system has `/proc`.
//!
//! The lock is the standard library's (`flock` on Linux and macOS, `LockFileEx` on
//! Windows), taken on a handle of its own, so two windows of one process exclude each
//! other as two processes do. A PostgreSQL store would give the same promise with a
//! session-level advisory lock (`pg_try_advisory_lock`), which the server drops when the
//! session does.
//!
//! Lease files are never deleted: removing the name of a locked file would let another
//! process lock a new file of that name while the first still holds the old one.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use super::{Store, StoreError};

/// A held lease on one action; dropping it releases the lease.
#[derive(Debug)]
pub struct Lease {
    action_id: i64,
    _file: File,
}

impl Lease {
    pub fn action_id(&self) -> i64 {
        self.action_id
    }
}

impl Store {
    /// The folder of this store's lease files: `cg.db.leases` beside `cg.db`.
    fn leases_dir(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".leases");
        self.path.with_file_name(name)
    }

    /// Takes the lease on action `action_id`, or `None` when someone holds it now (an
    /// executor or a recovery, in this process or another). Never waits.
    pub fn try_lease(&self, action_id: i64) -> Result<Option<Lease>, StoreError> {
        let dir = self.leases_dir();
        let path = dir.join(format!("action-{action_id}"));
        let failed = |source| StoreError::Lease {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(failed)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(failed)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Lease {
                action_id,
                _file: file,
            })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(failed(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_held_until_dropped_even_against_its_own_process() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cg.db")).unwrap();
        let other = Store::open(&dir.path().join("cg.db")).unwrap();
        let held = store.try_lease(7).unwrap().expect("free at first");
        assert_eq!(held.action_id(), 7);
        assert!(other.try_lease(7).unwrap().is_none(), "held by the first");
        assert!(
            store.try_lease(7).unwrap().is_none(),
            "even by the same store"
        );
        assert!(
            other.try_lease(8).unwrap().is_some(),
            "another action is free"
        );
        drop(held);
        assert!(other.try_lease(7).unwrap().is_some(), "free once dropped");
    }

    #[test]
    fn two_stores_in_one_folder_do_not_share_leases() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(&dir.path().join("a.db")).unwrap();
        let b = Store::open(&dir.path().join("b.db")).unwrap();
        let _held = a.try_lease(1).unwrap().unwrap();
        assert!(b.try_lease(1).unwrap().is_some());
    }
}
