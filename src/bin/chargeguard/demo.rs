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
    /// Also seed the demo's charges into a sandbox gateway kept in DIR, and connect the
    /// demo store to it (what the desktop app and `ui-server --sandbox-state DIR` run on).
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
    let built = demo::build(&mut store, &db, &dir, &spec, jiff::Timestamp::now())?;

    let sandbox = match &args.sandbox_state {
        Some(dir) => Some(seed_sandbox(&mut store, dir, ctx.http_timeout)?),
        None => None,
    };

    let all_found = built.answer_key_matches;
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
