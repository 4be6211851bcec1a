//! Where a user's books live when no path is given: one data folder for every shell, so
//! that `chargeguard import` on the command line and the desktop app open the same store.
//! Inside it, the real store and, apart from it, the demo (its store, generated files and
//! sandbox state).
//!
//! It only names paths; it never creates, opens or deletes anything.

use std::path::{Path, PathBuf};

/// Names another data folder (tests, a second set of books).
pub const DATA_DIR_ENV: &str = "CHARGEGUARD_DATA_DIR";

/// The real store's file inside the data folder.
pub const REAL_STORE_FILE: &str = "chargeguard.db";

#[derive(Debug, thiserror::Error)]
pub enum PlacesError {
    #[error(
        "cannot find a data folder for this user (no home folder); set {DATA_DIR_ENV} or pass --db PATH"
    )]
    NoDataDir,
}

/// The data folder: `CHARGEGUARD_DATA_DIR` when set, else the platform's own place for an
/// app's data (`~/.local/share/chargeguard` on Linux, `~/Library/Application
/// Support/app.Chargeguard.Chargeguard` on macOS, `%APPDATA%\Chargeguard\Chargeguard\data`
/// on Windows).
pub fn data_dir() -> Result<PathBuf, PlacesError> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("app", "Chargeguard", "Chargeguard")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .ok_or(PlacesError::NoDataDir)
}

/// The real store in `data_dir`.
pub fn real_store(data_dir: &Path) -> PathBuf {
    data_dir.join(REAL_STORE_FILE)
}

/// The folder where desktop versions before the shared data folder kept their books: the
/// platform's data folder under the app's identifier (what Tauri's `app_data_dir` was).
pub fn legacy_desktop_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|dirs| dirs.data_dir().join("app.chargeguard.desktop"))
}

/// Before a shell opens the books of the data folder: brings in the real store an older
/// desktop version left in its own folder ([`adopt_legacy_store`]), unless
/// `CHARGEGUARD_DATA_DIR` names the folder (tests, a second set of books). Both shells call
/// it, so whichever starts first, the old books are the ones opened. Whether it moved one.
pub fn adopt_legacy_books(data_dir: &Path) -> std::io::Result<bool> {
    if std::env::var_os(DATA_DIR_ENV).is_some_and(|d| !d.is_empty()) {
        return Ok(false);
    }
    match legacy_desktop_dir() {
        Some(legacy) => adopt_legacy_store(&legacy, data_dir),
        None => Ok(false),
    }
}

/// Moves the real store an older desktop install kept in `legacy` (the app's own data
/// folder, before both shells shared one) into `data_dir`, when `data_dir` has none, so its
/// books open where both shells now look. Never overwrites: with a store already in
/// `data_dir`, or none in `legacy`, it does nothing. Whether it moved one.
///
/// The write-ahead log and shared memory move before the store, so a move cut short is
/// finished by the next start: the store is the last file to arrive, and until it does
/// `data_dir` still has none.
pub fn adopt_legacy_store(legacy: &Path, data_dir: &Path) -> std::io::Result<bool> {
    let (from, to) = (real_store(legacy), real_store(data_dir));
    if to.exists() || !from.exists() || legacy == data_dir {
        return Ok(false);
    }
    std::fs::create_dir_all(data_dir)?;
    for suffix in ["-wal", "-shm", ""] {
        let with = |p: &Path| {
            let mut name = p.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        if with(&from).exists() {
            std::fs::rename(with(&from), with(&to))?;
        }
    }
    Ok(true)
}

/// Where the demo keeps its store, the CSV files it generates and its sandbox's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPaths {
    pub store: PathBuf,
    pub files: PathBuf,
    pub sandbox: PathBuf,
}

impl DemoPaths {
    /// The demo of a data folder, in its `demo/` folder, apart from the real store.
    pub fn in_data_dir(data_dir: &Path) -> DemoPaths {
        DemoPaths::beside(&data_dir.join("demo").join("chargeguard-demo.db"))
    }

    /// A demo whose store is `store`: its files and sandbox beside it.
    pub fn beside(store: &Path) -> DemoPaths {
        let folder = store
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        DemoPaths {
            store: store.to_path_buf(),
            files: folder.join("demo-files"),
            sandbox: folder.join("sandbox"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_lives_apart_from_the_real_store() {
        let data = Path::new("/data/chargeguard");
        let demo = DemoPaths::in_data_dir(data);
        assert_eq!(real_store(data), data.join("chargeguard.db"));
        assert_eq!(demo.store, data.join("demo/chargeguard-demo.db"));
        assert_eq!(demo.files, data.join("demo/demo-files"));
        assert_eq!(demo.sandbox, data.join("demo/sandbox"));
        assert_ne!(demo.store.parent(), real_store(data).parent());
    }

    #[test]
    fn a_demo_store_named_without_a_folder_keeps_its_files_beside_it() {
        let demo = DemoPaths::beside(Path::new("demo.db"));
        assert_eq!(demo.files, Path::new("./demo-files"));
        assert_eq!(demo.sandbox, Path::new("./sandbox"));
    }

    #[test]
    fn an_older_desktop_store_moves_into_the_shared_folder_whole_and_only_once() {
        use crate::store::Store;
        let dir = tempfile::tempdir().unwrap();
        let (legacy, shared) = (
            dir.path().join("app.chargeguard.desktop"),
            dir.path().join("chargeguard"),
        );
        std::fs::create_dir_all(&legacy).unwrap();
        let mut old = Store::open(&real_store(&legacy)).unwrap();
        old.write(|tx| tx.set_setting("business.name", "Alba Ltd"))
            .unwrap();
        // Copied while the old store is still open: its latest write may be only in the log.
        let copy = dir.path().join("copy");
        std::fs::create_dir_all(&copy).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let name = format!("{REAL_STORE_FILE}{suffix}");
            if legacy.join(&name).exists() {
                std::fs::copy(legacy.join(&name), copy.join(&name)).unwrap();
            }
        }
        drop(old);

        assert!(adopt_legacy_store(&copy, &shared).unwrap());
        let mut moved = Store::open(&real_store(&shared)).unwrap();
        assert_eq!(
            moved
                .read(|tx| tx.setting("business.name"))
                .unwrap()
                .as_deref(),
            Some("Alba Ltd")
        );
        assert!(!real_store(&copy).exists());

        // With books in the shared folder, another old store is left where it is.
        assert!(!adopt_legacy_store(&legacy, &shared).unwrap());
        assert!(real_store(&legacy).exists());
        assert!(
            !adopt_legacy_store(&dir.path().join("nothing-here"), &dir.path().join("x")).unwrap()
        );
    }
}
