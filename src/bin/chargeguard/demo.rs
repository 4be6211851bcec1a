//! `chargeguard demo`: realistic books with every kind of incident, through the real
//! importers and reconciliation, and the findings they produce.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chargeguard::demo::{self, DemoSpec};
use chargeguard::places::DemoPaths;

use crate::{Ctx, findings, output};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Seed of the generated books (the same seed gives the same books).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write the generated CSV files (default: beside the demo store).
    #[arg(long)]
    files: Option<PathBuf>,
    /// Build the demo on a sandbox kept in DIR: its charges seeded into the sandbox's
    /// Stripe, its invoices and ledger entered in the sandbox's Xero stand-in and synced in
    /// from there, the store connected to both (what the desktop app and `ui-server
    /// --sandbox-state DIR` run on).
    #[arg(long)]
    sandbox_state: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let places = match &ctx.db {
        Some(path) => DemoPaths::beside(path),
        None => DemoPaths::in_data_dir(&crate::data_dir()?),
    };
    let db = places.store.clone();
    let mut store = chargeguard::store::Store::open(&db)
        .with_context(|| format!("opening the demo store {}", db.display()))?;
    let mut spec = DemoSpec::demo();
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    let dir = args.files.unwrap_or(places.files);
    let now = jiff::Timestamp::now();
    let built = match &args.sandbox_state {
        None => demo::build(&mut store, &db, &dir, &spec, now)?,
        Some(state) => build_on_sandbox(&mut store, &db, &dir, &spec, state, ctx.http_timeout)?,
    };

    let all_found = built.answer_key_matches;
    let books_sync = built.books_sync.clone();
    let (files, reports, summary, open) = (
        built.files,
        built.imports,
        built.reconcile,
        built.open_findings,
    );

    if ctx.json {
        output::json(&serde_json::json!({
            "store": db,
            "files": files,
            "imports": reports,
            "books_sync": books_sync,
            "reconcile": summary,
            "findings": open,
            "answer_key_matches": all_found,
        }))?;
    } else {
        println!("Demo store: {}", db.display());
        println!("Demo files: {}", dir.display());
        if let (Some(synced), Some(state)) = (&books_sync, &args.sandbox_state) {
            println!(
                "Demo sandbox: {} (Stripe, and the Xero organisation {}; `chargeguard --db {} ui-server --sandbox-state {}` runs it)",
                state.display(),
                chargeguard::demo::xero::DEMO_ORGANISATION,
                db.display(),
                state.display()
            );
            println!("  {synced}");
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
        let approvers: Vec<String> = chargeguard::demo::DEMO_APPROVERS
            .iter()
            .map(|(name, passphrase)| format!("{name} (passphrase {passphrase})"))
            .collect();
        println!(
            "Approvers: {}; above its currency's threshold (`chargeguard settings threshold`) a refund needs both.",
            approvers.join(" and ")
        );
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

/// Builds the demo on a sandbox kept in `dir` (started here for the occasion, on the port
/// it had before when free): Stripe's side seeded into it, the books entered in its Xero
/// stand-in and synced in from there.
fn build_on_sandbox(
    store: &mut chargeguard::store::Store,
    db: &std::path::Path,
    files: &std::path::Path,
    spec: &DemoSpec,
    dir: &std::path::Path,
    timeout: std::time::Duration,
) -> anyhow::Result<demo::DemoBuilt> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let running = chargeguard::demo::sandbox::start(dir)
            .await
            .with_context(|| format!("starting the demo sandbox in {}", dir.display()))?;
        let built = demo::build_on_sandbox(
            store,
            db,
            files,
            spec,
            &running.base_url(),
            timeout,
            jiff::Timestamp::now(),
        )
        .await;
        running.shutdown().await?;
        Ok(built?)
    })
}
