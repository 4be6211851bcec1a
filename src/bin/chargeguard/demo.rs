//! `chargeguard demo`: realistic books with every kind of incident, through the real
//! importers and reconciliation, and the findings they produce.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chargeguard::demo::{self, DemoSpec, PlantedFinding};
use chargeguard::import::{self, FileKind, ImportOptions};
use chargeguard::reconcile;
use chargeguard::store::{FindingFilter, FindingStatus};

use crate::{Ctx, findings, output};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Seed of the generated books (the same seed gives the same books).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write the generated CSV files (default: beside the demo store).
    #[arg(long)]
    files: Option<PathBuf>,
    /// Also seed the demo's charges into a sandbox gateway kept in DIR, and connect the
    /// demo store to it (what the desktop app and `ui-server --sandbox-state DIR` run on).
    #[arg(long)]
    sandbox_state: Option<PathBuf>,
}

const DEMO_MARK: &str = chargeguard::demo::DEMO_STORE_SETTING;

pub fn run(ctx: &Ctx, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let db = match &ctx.db {
        Some(path) => path.clone(),
        None => crate::data_dir()?.join("demo").join("chargeguard-demo.db"),
    };
    let mut store = chargeguard::store::Store::open(&db)
        .with_context(|| format!("opening the demo store {}", db.display()))?;
    let is_demo = store.read(|tx| tx.setting(DEMO_MARK))?.is_some();
    let is_empty = store.read(|tx| tx.invoices())?.is_empty();
    if !is_demo && !is_empty {
        anyhow::bail!(
            "{} holds real books, not a demo; run `chargeguard demo` without --db, or give it a new file",
            db.display()
        );
    }
    store.write(|tx| tx.set_setting(DEMO_MARK, "true"))?;

    let mut spec = DemoSpec::demo();
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    let dir = match args.files {
        Some(dir) => dir,
        None => db
            .parent()
            .map(|p| p.join("demo-files"))
            .unwrap_or_else(|| PathBuf::from("demo-files")),
    };
    let files = demo::generate(&dir, &spec)
        .with_context(|| format!("writing the demo files into {}", dir.display()))?;

    let options = ImportOptions {
        dry_run: false,
        zone: jiff::tz::TimeZone::UTC,
        mapping: None,
    };
    let now = jiff::Timestamp::now();
    let mut reports = Vec::new();
    for (kind, path) in [
        (FileKind::Invoices, &files.invoices),
        (FileKind::Payments, &files.payments),
        (FileKind::StripePayments, &files.stripe_payments),
    ] {
        reports.push(import::import_file(&mut store, kind, path, &options, now)?);
    }
    let summary = reconcile::run(&mut store, now)?;
    let open = store.read(|tx| {
        tx.findings(&FindingFilter {
            kind: None,
            status: Some(FindingStatus::Open),
        })
    })?;

    let sandbox = match &args.sandbox_state {
        Some(dir) => Some(seed_sandbox(&mut store, dir, ctx.http_timeout)?),
        None => None,
    };

    let mut found: Vec<PlantedFinding> = open.iter().map(PlantedFinding::from).collect();
    found.sort();
    let all_found = found == files.planted;

    if ctx.json {
        output::json(&serde_json::json!({
            "store": db,
            "files": files,
            "imports": reports,
            "reconcile": summary,
            "findings": open,
            "answer_key_matches": all_found,
            "sandbox_charges_seeded": sandbox,
        }))?;
    } else {
        println!("Demo store: {}", db.display());
        println!("Demo files: {}", dir.display());
        if let (Some(seeded), Some(state)) = (sandbox, &args.sandbox_state) {
            println!(
                "Demo sandbox: {} ({seeded} charges seeded; `chargeguard --db {} ui-server --sandbox-state {}` runs it)",
                state.display(),
                db.display(),
                state.display()
            );
        }
        for report in &reports {
            println!("  {report}");
        }
        println!("{summary}");
        findings::print_table(&open);
        if all_found {
            println!(
                "Every one of the {} planted incidents was found, and nothing else.",
                files.planted.len()
            );
        }
        println!(
            "Try: chargeguard --db {} findings --kind double_charge",
            db.display()
        );
    }
    if !all_found {
        eprintln!(
            "warning: the findings differ from the {} incidents the demo planted; this is a bug in Chargeguard",
            files.planted.len()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Seeds the demo store's charges into a sandbox kept in `dir` (started here for the
/// occasion, on a free loopback port) and connects the store to it.
fn seed_sandbox(
    store: &mut chargeguard::store::Store,
    dir: &std::path::Path,
    timeout: std::time::Duration,
) -> anyhow::Result<usize> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let running = chargeguard::sandbox::start(chargeguard::sandbox::SandboxConfig::new(dir))
            .await
            .with_context(|| format!("starting the demo sandbox in {}", dir.display()))?;
        let seeded =
            chargeguard::demo::sandbox::seed_and_connect(store, &running.base_url(), timeout).await;
        running.shutdown().await?;
        Ok(seeded?)
    })
}
