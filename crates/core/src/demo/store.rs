//! Filling a store with the demo books: generate the files, import them through the real
//! importers, reconcile, and check the findings against the answer key. The command line's
//! `chargeguard demo` and the desktop app's first launch both build the demo this way.
//!
//! It must never write demo books into a store that holds real ones: a store is the demo's
//! only if it carries [`DEMO_STORE_SETTING`] or is empty.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use super::{DEMO_STORE_SETTING, DemoFiles, DemoSpec, PlantedFinding, generate};
use crate::import::{self, FileKind, ImportError, ImportOptions, ImportReport};
use crate::reconcile::{self, ReconcileError, ReconcileSummary};
use crate::store::{FindingFilter, FindingStatus, Store, StoreError, StoredFinding};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "{0} holds real books, not a demo; open the demo without naming a store, or give it a new file"
    )]
    RealBooks(PathBuf),
    #[error("cannot write the demo files into {dir}: {source}")]
    Files {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    People(#[from] crate::people::PeopleError),
    #[error(transparent)]
    Period(#[from] crate::period::PeriodError),
}

/// What building the demo did, and whether the findings match what was planted.
#[derive(Debug, Serialize)]
pub struct DemoBuilt {
    pub files: DemoFiles,
    pub imports: Vec<ImportReport>,
    pub reconcile: ReconcileSummary,
    pub open_findings: Vec<StoredFinding>,
    /// Every planted incident found, and nothing else.
    pub answer_key_matches: bool,
}

/// True when `store` may receive the demo books: it is the demo's already, or empty.
pub fn is_demo_or_empty(store: &mut Store) -> Result<bool, StoreError> {
    let is_demo = store.read(|tx| tx.setting(DEMO_STORE_SETTING))?.is_some();
    Ok(is_demo || store.read(|tx| tx.invoices())?.is_empty())
}

/// True when `store` is marked as the demo's.
pub fn is_demo(store: &mut Store) -> Result<bool, StoreError> {
    Ok(store.read(|tx| tx.setting(DEMO_STORE_SETTING))?.is_some())
}

/// Writes the demo files for `spec` into `files_dir` and loads them into `store` (at
/// `db`, named in errors), then reconciles.
pub fn build(
    store: &mut Store,
    db: &Path,
    files_dir: &Path,
    spec: &DemoSpec,
    now: Timestamp,
) -> Result<DemoBuilt, DemoError> {
    if !is_demo_or_empty(store)? {
        return Err(DemoError::RealBooks(db.to_path_buf()));
    }
    store.write(|tx| tx.set_setting(DEMO_STORE_SETTING, "true"))?;
    let files = generate(files_dir, spec, now).map_err(|source| DemoError::Files {
        dir: files_dir.to_path_buf(),
        source,
    })?;
    let options = ImportOptions {
        dry_run: false,
        zone: jiff::tz::TimeZone::UTC,
        mapping: None,
        ..ImportOptions::default()
    };
    let mut imports = Vec::new();
    for (kind, path) in [
        (FileKind::Invoices, &files.invoices),
        (FileKind::Payments, &files.payments),
        (FileKind::StripePayments, &files.stripe_payments),
    ] {
        imports.push(import::import_file(store, kind, path, &options, now)?);
    }
    import::stripe_reports::import_stripe_report(
        store,
        &files.stripe_payouts,
        &import::stripe_reports::ReportOptions {
            zone: jiff::tz::TimeZone::UTC,
            day_order: None,
            dry_run: false,
        },
        now,
    )?;
    import::bank::import_bank_file(
        store,
        &files.bank,
        &import::bank::BankOptions::default(),
        now,
    )?;
    let reconcile = reconcile::run(store, now)?;
    ready_to_use(store, now)?;
    let open_findings = store.read(|tx| {
        tx.findings(&FindingFilter {
            kind: None,
            status: Some(FindingStatus::Open),
        })
    })?;
    let mut found: Vec<PlantedFinding> = open_findings.iter().map(PlantedFinding::from).collect();
    found.sort();
    let answer_key_matches = found == files.planted;
    Ok(DemoBuilt {
        files,
        imports,
        reconcile,
        open_findings,
        answer_key_matches,
    })
}

/// What a newcomer needs before the first approval: the demo's approvers and its time
/// zone, each set once (a rebuild keeps what is there).
fn ready_to_use(store: &mut Store, now: Timestamp) -> Result<(), DemoError> {
    let [first, _] = super::DEMO_APPROVERS;
    for (i, (name, passphrase)) in super::DEMO_APPROVERS.into_iter().enumerate() {
        if store.read(|tx| tx.user(name))?.is_none() {
            // The first is the demo's first person; she vouches for the second.
            let sponsor = (i > 0).then_some(crate::people::Sponsor {
                name: first.0,
                passphrase: first.1,
            });
            crate::people::add_user(
                store,
                name,
                crate::people::Role::Approver,
                passphrase,
                sponsor,
                now,
            )?;
        }
    }
    let zone = store.read(|tx| tx.setting(crate::period::TIMEZONE_SETTING))?;
    if zone.is_none() {
        crate::period::set_business_zone(
            store,
            super::DEMO_TIME_ZONE,
            super::DEMO_APPROVERS[0].0,
            now,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_finds_every_planted_incident_and_a_rebuild_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo.db");
        let mut store = Store::open(&db).unwrap();
        let now = Timestamp::now();
        let files = dir.path().join("files");
        let mut build_once = || build(&mut store, &db, &files, &DemoSpec::demo(), now).unwrap();
        let first = build_once();
        assert!(first.answer_key_matches);
        assert!(!first.open_findings.is_empty());
        let again = build_once();
        assert!(again.answer_key_matches);
        assert_eq!(again.open_findings.len(), first.open_findings.len());
        assert!(
            again.imports.iter().all(|r| r.counts.new == 0),
            "{:?}",
            again.imports
        );
    }

    #[test]
    fn real_books_are_never_overwritten_by_the_demo() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("real.db");
        let mut store = Store::open(&db).unwrap();
        let invoices =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/import/invoices.csv");
        let options = ImportOptions {
            dry_run: false,
            zone: jiff::tz::TimeZone::UTC,
            mapping: None,
            ..ImportOptions::default()
        };
        import::import_file(
            &mut store,
            FileKind::Invoices,
            &invoices,
            &options,
            Timestamp::now(),
        )
        .unwrap();
        let before = store.read(|tx| tx.invoices()).unwrap().len();
        assert!(before > 0);
        let error = build(
            &mut store,
            &db,
            &dir.path().join("files"),
            &DemoSpec::demo(),
            Timestamp::now(),
        )
        .unwrap_err();
        assert!(matches!(error, DemoError::RealBooks(_)), "{error}");
        assert_eq!(store.read(|tx| tx.invoices()).unwrap().len(), before);
        assert!(!is_demo(&mut store).unwrap());
    }
}
