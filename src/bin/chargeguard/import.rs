//! `chargeguard import …` and `chargeguard mapping …`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chargeguard::import::{self, ColumnMapping, FileKind, ImportOptions, layouts};
use chargeguard::money::Currency;

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
    /// Any of Stripe's files, told from its header: the payments export (unified payments),
    /// the balance history and payouts exports, and the itemized balance change, payout
    /// reconciliation and payouts reports.
    Stripe(StripeArgs),
    /// Stripe's dashboard payments export (unified payments CSV).
    StripePayments(FileArgs),
    /// A bank statement: OFX or QFX (versions 1 and 2), camt.053, or a bank's CSV export.
    Bank(BankArgs),
}

#[derive(Debug, clap::Args)]
struct StripeArgs {
    #[command(flatten)]
    file: FileArgs,
    /// How to read dates a spreadsheet rewrote as `6/7/2026`, when every date in the file
    /// reads both ways: month first (`mdy`) or day first (`dmy`).
    #[arg(long, value_parser = ["mdy", "dmy"])]
    dates: Option<String>,
}

/// `chargeguard import stripe FILE`: a balance or payout file, or the payments export.
fn import_stripe(ctx: &Ctx, args: StripeArgs) -> anyhow::Result<ExitCode> {
    use chargeguard::import::stripe_reports::{self, DayOrder, ReportOptions};
    if stripe_reports::recognise_file(&args.file.file)?.is_none() {
        return import_csv(ctx, FileKind::StripePayments, args.file);
    }
    let mut store = ctx.open_store()?;
    let zone = match &args.file.tz {
        Some(tz) => chargeguard::dates::zone(tz).map_err(anyhow::Error::msg)?,
        None => import::defaults::defaults(&mut store)?.zone,
    };
    let options = ReportOptions {
        zone,
        day_order: args.dates.as_deref().map(|d| match d {
            "dmy" => DayOrder::DayFirst,
            _ => DayOrder::MonthFirst,
        }),
        dry_run: args.file.dry_run,
    };
    let report = stripe_reports::import_stripe_report(
        &mut store,
        &args.file.file,
        &options,
        jiff::Timestamp::now(),
    )?;
    output::report(ctx, &report)
}

#[derive(Debug, clap::Args)]
struct BankArgs {
    file: PathBuf,
    /// The account's currency (ISO 4217), where the statement names none.
    #[arg(long)]
    currency: Option<String>,
    /// The account's name in Chargeguard; the statement's bank and account ids by default
    /// (a CSV export that names no account: the bank's name).
    #[arg(long)]
    account: Option<String>,
    /// A CSV layout file for a bank no shipped layout reads (`chargeguard layouts --bank
    /// NAME` prints one to start from).
    #[arg(long)]
    layout: Option<PathBuf>,
    /// Show what would be added and changed; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `chargeguard import bank FILE`.
fn import_bank(ctx: &Ctx, args: BankArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let options = import::bank::BankOptions {
        currency: args
            .currency
            .as_deref()
            .map(|c| Currency::from_code(c.trim()))
            .transpose()?,
        account: args.account,
        layout: match &args.layout {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the layout {}", path.display()))?;
                Some(
                    import::bank::csv::layout_from_toml(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                )
            }
            None => None,
        },
        dry_run: args.dry_run,
    };
    let report =
        import::bank::import_bank_file(&mut store, &args.file, &options, jiff::Timestamp::now())?;
    output::report(ctx, &report)
}

/// One line as `bank --json` prints it (DESIGN.md's fields).
#[derive(Debug, serde::Serialize)]
struct BankLineOut {
    id: String,
    account: String,
    booked_on: String,
    amount_minor: i64,
    currency: String,
    description: String,
    kind: Option<String>,
}

/// `chargeguard bank`: every bank statement line imported.
pub fn bank(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let lines: Vec<BankLineOut> = store
        .read(|tx| tx.bank_lines())?
        .into_iter()
        .map(|s| BankLineOut {
            id: s.line.id,
            account: s.line.account,
            booked_on: s.line.booked_on.to_string(),
            amount_minor: s.line.amount.minor(),
            currency: s.line.amount.currency().lower(),
            description: s.line.description,
            kind: s.line.kind,
        })
        .collect();
    if ctx.json {
        output::json(&lines)?;
        return Ok(ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        println!("No bank lines. `chargeguard import bank FILE` reads an OFX or QFX statement.");
        return Ok(ExitCode::SUCCESS);
    }
    let table = output::table(
        &["account", "booked", "amount", "description", "id"],
        lines.iter().map(|l| {
            vec![
                l.account.clone(),
                l.booked_on.clone(),
                Currency::from_code(&l.currency)
                    .map(|c| chargeguard::money::Money::from_minor(l.amount_minor, c).to_string())
                    .unwrap_or_default(),
                l.description.clone(),
                l.id.clone(),
            ]
        }),
    );
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
struct FileArgs {
    file: PathBuf,
    /// A saved mapping name, or a mapping TOML file, for another app's column names.
    #[arg(long)]
    mapping: Option<String>,
    /// The app whose export this is, by its layout's name (`chargeguard layouts`), where
    /// its headers do not say (Xero for a US organisation: `xero-us`).
    #[arg(long)]
    from: Option<String>,
    /// The currency of a file without a currency column (ISO 4217, e.g. USD); else the
    /// store's default currency.
    #[arg(long)]
    currency: Option<String>,
    /// Show what would be added, changed and refused; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Time zone for dates and times written without one (IANA name); else the
    /// business's time zone, else UTC.
    #[arg(long)]
    tz: Option<String>,
}

pub fn run(ctx: &Ctx, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let (kind, file) = match args.what {
        ImportWhat::Invoices(f) => (FileKind::Invoices, f),
        ImportWhat::Payments(f) => (FileKind::Payments, f),
        ImportWhat::StripePayments(f) => (FileKind::StripePayments, f),
        ImportWhat::Stripe(s) => return import_stripe(ctx, s),
        ImportWhat::Bank(b) => return import_bank(ctx, b),
    };
    import_csv(ctx, kind, file)
}

/// Imports an invoices, payments or Stripe payments CSV.
fn import_csv(ctx: &Ctx, kind: FileKind, file: FileArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let defaults = import::defaults::defaults(&mut store)?;
    let zone = match &file.tz {
        Some(tz) => chargeguard::dates::zone(tz).map_err(anyhow::Error::msg)?,
        None => defaults.zone,
    };
    let currency = match &file.currency {
        Some(code) => Some(Currency::from_code(code.trim())?),
        None => defaults.currency,
    };
    let mapping = match &file.mapping {
        Some(name) => Some(import::resolve_mapping(&mut store, name)?),
        None => None,
    };
    let options = ImportOptions {
        dry_run: file.dry_run,
        zone,
        mapping,
        from: file.from,
        currency,
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
        if let Some(app) = &report.recognised {
            println!("recognised: {app}");
        }
        println!("{report}");
        if report.dry_run {
            for line in &report.preview {
                println!("  {line}");
            }
        }
        for row in &report.changed {
            println!("  {row}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct SettingsArgs {
    #[command(subcommand)]
    what: SettingsWhat,
}

#[derive(Debug, clap::Subcommand)]
enum SettingsWhat {
    /// The currency of invoice and payment files that have no currency column.
    DefaultCurrency {
        /// An ISO 4217 code: USD, EUR, JPY.
        code: String,
        /// Who sets it (kept in the audit log).
        #[arg(long)]
        by: String,
    },
    /// Per currency, the amount above which a refund or re-charge needs a second approver.
    /// Without CURRENCY and AMOUNT, lists them; with both, sets one, signed off by an
    /// approver (passphrase from the terminal, or standard input).
    Threshold {
        /// An ISO 4217 code: USD, EUR, JPY.
        #[arg(requires = "amount", requires = "by")]
        currency: Option<String>,
        /// As you write it: 500, 75,000, 1,250.500.
        amount: Option<String>,
        /// The approver signing the change off.
        #[arg(long)]
        by: Option<String>,
    },
    /// How far a bank account's deposit may differ from its Stripe payout (the bank's fee
    /// on an incoming transfer) before it is a finding; zero until set. Signed off by an
    /// approver (passphrase from the terminal, or standard input) and audited.
    DepositTolerance {
        /// The account's name, as `chargeguard bank` lists it.
        account: String,
        /// In the account's currency, as you write it: 2.50, 15.
        amount: String,
        /// The approver signing the change off.
        #[arg(long)]
        by: String,
    },
}

/// `chargeguard settings …`.
pub fn settings(ctx: &Ctx, args: SettingsArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    match args.what {
        SettingsWhat::DefaultCurrency { code, by } => {
            let currency = import::defaults::set_default_currency(
                &mut store,
                &code,
                by.trim(),
                jiff::Timestamp::now(),
            )?;
            println!("default currency: {}", currency.code());
        }
        SettingsWhat::Threshold {
            currency: Some(currency),
            amount: Some(amount),
            by: Some(by),
        } => {
            let passphrase = crate::actions::passphrase(&format!("passphrase for {by}: "))?;
            let set = chargeguard::actions::set_approval_threshold(
                &mut store,
                &currency,
                &amount,
                by.trim(),
                &passphrase,
                jiff::Timestamp::now(),
            )?;
            println!("{}: {set}", set.amount.currency().code());
        }
        SettingsWhat::DepositTolerance {
            account,
            amount,
            by,
        } => {
            let passphrase = crate::actions::passphrase(&format!("passphrase for {by}: "))?;
            let set = chargeguard::deposits::tolerance::set(
                &mut store,
                account.trim(),
                &amount,
                by.trim(),
                &passphrase,
                jiff::Timestamp::now(),
            )?;
            println!(
                "deposits into {} may differ from their payouts by up to {}; run `chargeguard reconcile` to apply it",
                set.account, set.amount
            );
        }
        SettingsWhat::Threshold { .. } => {
            let all = store.read(chargeguard::actions::thresholds)?;
            if all.is_empty() {
                println!(
                    "No money in the books yet; each currency takes its default (about 500 US dollars) until an approver sets one."
                );
            }
            for t in all {
                let source = match t.source {
                    chargeguard::actions::ThresholdSource::Set => "set by an approver",
                    chargeguard::actions::ThresholdSource::Default => "default",
                    chargeguard::actions::ThresholdSource::Unset => "none set",
                };
                println!("{}: {t} ({source})", t.amount.currency().code());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct LayoutsArgs {
    /// Print this layout's TOML (to copy, change and save as your own mapping).
    name: Option<String>,
    /// The banks' CSV exports `import bank` reads (their TOML is what `--layout` takes).
    #[arg(long)]
    bank: bool,
}

/// `chargeguard layouts --bank [NAME]`: the banks' CSV exports, or one as TOML.
fn bank_layouts(ctx: &Ctx, name: Option<String>) -> anyhow::Result<ExitCode> {
    use chargeguard::import::bank::csv::{SHIPPED, layout_from_toml};
    if let Some(name) = name {
        let (_, text) = SHIPPED.iter().find(|(id, _)| *id == name).ok_or_else(|| {
            let known: Vec<&str> = SHIPPED.iter().map(|(id, _)| *id).collect();
            anyhow::anyhow!(
                "no bank layout is called `{name}`; the bank layouts: {}",
                known.join(", ")
            )
        })?;
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = Vec::new();
    for (id, text) in SHIPPED {
        let layout = layout_from_toml(text).map_err(anyhow::Error::msg)?;
        rows.push((id, layout));
    }
    if ctx.json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|(id, l)| serde_json::json!({"id": id, "name": l.name, "recognise": l.recognise}))
            .collect();
        output::json(&rows)?;
    } else {
        for (id, l) in rows {
            println!("{id}\t{}\t{}", l.name, l.recognise.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `chargeguard layouts [NAME]`: the invoicing apps' exports Chargeguard reads with no
/// mapping, or one of them as TOML.
pub fn layouts(ctx: &Ctx, args: LayoutsArgs) -> anyhow::Result<ExitCode> {
    if args.bank {
        return bank_layouts(ctx, args.name);
    }
    match args.name {
        Some(name) => {
            let layout = layouts::named(&name).ok_or_else(|| {
                let known: Vec<&str> = layouts::shipped().iter().map(|l| l.id).collect();
                anyhow::anyhow!(
                    "no layout is called `{name}`; the layouts: {}",
                    known.join(", ")
                )
            })?;
            print!("{}", layout.toml);
        }
        None if ctx.json => {
            let rows: Vec<serde_json::Value> = layouts::shipped()
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "id": l.id,
                        "name": l.mapping.display_name(),
                        "layout": l.mapping.layout.as_str(),
                        "recognise": l.mapping.recognise,
                    })
                })
                .collect();
            output::json(&rows)?;
        }
        None => {
            for l in layouts::shipped() {
                println!(
                    "{}\t{}\t{}\t{}",
                    l.id,
                    l.mapping.layout,
                    l.mapping.display_name(),
                    l.mapping.recognise.join(", ")
                );
            }
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
