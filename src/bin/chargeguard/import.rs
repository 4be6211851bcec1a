//! `chargeguard import …` and `chargeguard mapping …`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chargeguard::import::{self, ColumnMapping, FileKind, ImportOptions};

use crate::{Ctx, output};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    what: ImportWhat,
}

#[derive(Debug, clap::Subcommand)]
enum ImportWhat {
    /// The invoicing app's invoices.
    Invoices(FileArgs),
    /// The invoicing app's payment ledger.
    Payments(FileArgs),
    /// Stripe's dashboard payments export (unified payments CSV).
    StripePayments(FileArgs),
}

#[derive(Debug, clap::Args)]
struct FileArgs {
    file: PathBuf,
    /// A saved mapping name, or a mapping TOML file, for another app's column names.
    #[arg(long)]
    mapping: Option<String>,
    /// Show what would be added, changed and refused; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Time zone for dates and times written without one (IANA name).
    #[arg(long, default_value = "UTC")]
    tz: String,
}

pub fn run(ctx: &Ctx, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let (kind, file) = match args.what {
        ImportWhat::Invoices(f) => (FileKind::Invoices, f),
        ImportWhat::Payments(f) => (FileKind::Payments, f),
        ImportWhat::StripePayments(f) => (FileKind::StripePayments, f),
    };
    let mut store = ctx.open_store()?;
    let zone = chargeguard::dates::zone(&file.tz).map_err(anyhow::Error::msg)?;
    let mapping = match &file.mapping {
        Some(name) => Some(import::resolve_mapping(&mut store, name)?),
        None => None,
    };
    let options = ImportOptions {
        dry_run: file.dry_run,
        zone,
        mapping,
    };
    let report = import::import_file(
        &mut store,
        kind,
        &file.file,
        &options,
        jiff::Timestamp::now(),
    )?;
    if ctx.json {
        output::json(&report)?;
    } else {
        println!("{report}");
        for row in &report.changed {
            println!("  {row}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct MappingArgs {
    #[command(subcommand)]
    what: MappingWhat,
}

#[derive(Debug, clap::Subcommand)]
enum MappingWhat {
    /// Save a mapping TOML file under NAME (replacing one of that name).
    Add { name: String, file: PathBuf },
    /// List saved mappings.
    List,
    /// Print a saved mapping as TOML.
    Show { name: String },
}

pub fn mapping(ctx: &Ctx, args: MappingArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    match args.what {
        MappingWhat::Add { name, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let mapping = ColumnMapping::from_toml(&text)
                .with_context(|| format!("in {}", file.display()))?;
            import::save_mapping(&mut store, &name, &mapping)?;
            println!("saved mapping `{name}`");
        }
        MappingWhat::List => {
            let all = store.read(|tx| tx.mappings())?;
            if ctx.json {
                output::json(&all)?;
            } else {
                for (name, layout) in all {
                    println!("{name}\t{layout}");
                }
            }
        }
        MappingWhat::Show { name } => {
            let mapping = import::resolve_mapping(&mut store, &name)?;
            print!("{}", mapping.to_toml());
        }
    }
    Ok(ExitCode::SUCCESS)
}
