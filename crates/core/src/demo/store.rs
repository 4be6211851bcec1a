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
    #[error("the demo store {db} keeps its books {kept}")]
    OtherLedger { db: PathBuf, kept: &'static str },
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
    #[error(transparent)]
    Sandbox(#[from] super::sandbox::DemoSandboxError),
    #[error(transparent)]
    Books(#[from] super::xero::DemoBooksError),
}

/// What building the demo did, and whether the findings match what was planted.
#[derive(Debug, Serialize)]
pub struct DemoBuilt {
    pub files: DemoFiles,
    pub imports: Vec<ImportReport>,
    /// The invoices and ledger synced in from the demo's Xero stand-in, when they live there.
    pub books_sync: Option<crate::accounting_sync::BooksSyncReport>,
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

/// True when `store` is a whole demo: marked as the demo's and, where it keeps its books
/// in the sandbox's Xero stand-in, built to its end (a build stopped before is built
/// again: every step is idempotent).
pub fn is_built(store: &mut Store) -> Result<bool, DemoError> {
    if !is_demo(store)? {
        return Ok(false);
    }
    if !super::xero::books_in_stand_in(store)? {
        return Ok(true);
    }
    Ok(store.read(|tx| tx.setting(BUILT_SETTING))?.is_some())
}

/// The store setting [`finish`] writes last: the demo was built whole (its books synced
/// and reconciled), so a window opens it rather than building it again.
const BUILT_SETTING: &str = "demo_built";

/// True when `store` is marked as the demo's.
pub fn is_demo(store: &mut Store) -> Result<bool, StoreError> {
    Ok(store.read(|tx| tx.setting(DEMO_STORE_SETTING))?.is_some())
}

/// Where the demo store's invoices and payment ledger come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ledger {
    /// Imported from the generated CSV files.
    Files,
    /// Synced in from the demo's organisation in the sandbox's Xero stand-in, which holds
    /// them (`demo::xero`); the fixes' ledger side is pushed there.
    StandIn,
}

/// A demo store with its files written and the gateway's side imported; its books not yet
/// reconciled ([`finish`]).
#[derive(Debug)]
pub struct Prepared {
    pub files: DemoFiles,
    pub imports: Vec<ImportReport>,
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
    let prepared = prepare(store, db, files_dir, spec, Ledger::Files, now)?;
    finish(store, prepared, None, now)
}

/// Builds the demo on the sandbox at `base_url`: the files written, Stripe's side imported
/// and seeded into the sandbox (the store connected to it), the books entered in the Xero
/// stand-in and synced in from it, then reconciled.
pub async fn build_on_sandbox(
    store: &mut Store,
    db: &Path,
    files_dir: &Path,
    spec: &DemoSpec,
    base_url: &str,
    timeout: std::time::Duration,
    now: Timestamp,
) -> Result<DemoBuilt, DemoError> {
    let prepared = prepare(store, db, files_dir, spec, Ledger::StandIn, now)?;
    super::sandbox::seed_and_connect(store, base_url, timeout).await?;
    let synced =
        super::xero::seed_connect_and_sync(store, &prepared.files, base_url, timeout, now).await?;
    finish(store, prepared, Some(synced), now)
}

/// Writes the files and imports the gateway's side (and, from [`Ledger::Files`], the
/// invoices and ledger); the approvers and time zone set.
pub fn prepare(
    store: &mut Store,
    db: &Path,
    files_dir: &Path,
    spec: &DemoSpec,
    ledger: Ledger,
    now: Timestamp,
) -> Result<Prepared, DemoError> {
    if !is_demo_or_empty(store)? {
        return Err(DemoError::RealBooks(db.to_path_buf()));
    }
    // One demo store, one source of its books: both would record every payment twice.
    let in_stand_in = super::xero::books_in_stand_in(store)?;
    let has_books = !store.read(|tx| tx.invoices())?.is_empty();
    match ledger {
        Ledger::Files if in_stand_in => {
            return Err(DemoError::OtherLedger {
                db: db.to_path_buf(),
                kept: "in its sandbox's Xero stand-in: build it again with `chargeguard demo --sandbox-state DIR`",
            });
        }
        Ledger::StandIn if has_books && !in_stand_in => {
            return Err(DemoError::OtherLedger {
                db: db.to_path_buf(),
                kept: "from the demo's CSV files: build it again with `chargeguard demo`, or give the demo on its sandbox another store (`--db`)",
            });
        }
        _ => {}
    }
    store.write(|tx| tx.set_setting(DEMO_STORE_SETTING, "true"))?;
    if ledger == Ledger::StandIn {
        super::xero::mark_books_in_stand_in(store)?;
    }
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
    let books_files = [
        (FileKind::Invoices, &files.invoices),
        (FileKind::Payments, &files.payments),
    ];
    let books_files = match ledger {
        Ledger::Files => &books_files[..],
        Ledger::StandIn => &[],
    };
    for (kind, path) in books_files
        .iter()
        .copied()
        .chain([(FileKind::StripePayments, &files.stripe_payments)])
    {
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
    ready_to_use(store, now)?;
    Ok(Prepared { files, imports })
}

/// Reconciles the prepared store and checks the findings against the answer key.
pub fn finish(
    store: &mut Store,
    prepared: Prepared,
    books_sync: Option<crate::accounting_sync::BooksSyncReport>,
    now: Timestamp,
) -> Result<DemoBuilt, DemoError> {
    let Prepared { files, imports } = prepared;
    let reconcile = reconcile::run(store, now)?;
    let open_findings = store.read(|tx| {
        tx.findings(&FindingFilter {
            kind: None,
            status: Some(FindingStatus::Open),
        })
    })?;
    let mut found: Vec<PlantedFinding> = open_findings.iter().map(PlantedFinding::from).collect();
    found.sort();
    let answer_key_matches = match books_sync {
        None => found == files.planted,
        Some(_) => found == super::xero::planted_as_synced(&files.planted),
    };
    store.write(|tx| tx.set_setting(BUILT_SETTING, &now.to_string()))?;
    Ok(DemoBuilt {
        files,
        imports,
        books_sync,
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_demo_on_its_sandbox_finds_every_incident_in_books_synced_from_xero() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo.db");
        let mut store = Store::open(&db).unwrap();
        let running = crate::sandbox::start(crate::sandbox::SandboxConfig::new(
            dir.path().join("sandbox"),
        ))
        .await
        .unwrap();
        let files = dir.path().join("files");
        let url = running.base_url();
        let mut build_once = async || {
            build_on_sandbox(
                &mut store,
                &db,
                &files,
                &DemoSpec::demo(),
                &url,
                std::time::Duration::from_secs(30),
                Timestamp::now(),
            )
            .await
            .unwrap()
        };
        let built = build_once().await;
        let synced = built.books_sync.as_ref().expect("the books came from Xero");
        assert_eq!(synced.invoices.new, built.files.invoice_rows, "{synced:?}");
        assert_eq!(
            synced.ledger_entries.new, built.files.payment_rows,
            "{synced:?}"
        );
        // Nothing came from the CSV files but the gateway's side.
        assert!(
            built
                .imports
                .iter()
                .all(|r| !matches!(r.kind, FileKind::Invoices | FileKind::Payments)),
            "{:?}",
            built.imports
        );
        let mut found: Vec<PlantedFinding> = built
            .open_findings
            .iter()
            .map(PlantedFinding::from)
            .collect();
        found.sort();
        // The difference, as multisets, for a reader of a failure.
        let mut extra = found.clone();
        let mut missing = Vec::new();
        let expected = super::super::xero::planted_as_synced(&built.files.planted);
        for planted in &expected {
            match extra.iter().position(|f| f == planted) {
                Some(i) => {
                    extra.remove(i);
                }
                None => missing.push(planted),
            }
        }
        assert!(
            built.answer_key_matches,
            "missing {missing:#?}\nextra {extra:#?}"
        );

        // Built again: nothing is entered in Xero twice, nothing changes.
        let again = build_once().await;
        assert!(again.answer_key_matches);
        let synced = again.books_sync.as_ref().unwrap();
        assert_eq!(
            (synced.invoices.new, synced.ledger_entries.new),
            (0, 0),
            "{synced:?}"
        );
        assert_eq!(again.open_findings.len(), built.open_findings.len());
        // And the CSV files cannot be imported beside them.
        let refused =
            build(&mut store, &db, &files, &DemoSpec::demo(), Timestamp::now()).unwrap_err();
        assert!(
            matches!(refused, DemoError::OtherLedger { .. }),
            "{refused}"
        );
        running.shutdown().await.unwrap();
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
