//! `propose`, `recharge`, `user add`, `approve`, `execute`, `actions`, `recover`, `cancel`,
//! `dismiss` and `audit verify`: the guarded-action commands.
//!
//! Exit codes: 0 done; 1 the gateway refused (a decline, a guard); 2 an error; 3 the
//! outcome is not known yet (run `chargeguard recover`).

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::Context;
use chargeguard::actions::{self, ActionState};
use chargeguard::people::{self, Role};
use chargeguard::store::ActionRow;

use crate::gateway::{client, runtime};
use crate::{Ctx, output};

/// Exit code for an action whose outcome is not known yet.
const UNDECIDED: u8 = 3;

fn actor(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "bookkeeper".into())
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

#[derive(Debug, clap::Args)]
pub struct ProposeArgs {
    /// The finding whose fix to propose (`chargeguard findings` lists them).
    finding_id: i64,
    /// Who proposes it (default: $USER).
    #[arg(long)]
    by: Option<String>,
}

pub fn propose(ctx: &Ctx, args: ProposeArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let action = actions::propose_for_finding(&mut store, args.finding_id, &actor(args.by), now())?;
    print_created(ctx, &action)
}

#[derive(Debug, clap::Args)]
pub struct RechargeArgs {
    /// The unpaid invoice to charge again.
    invoice_number: String,
    #[arg(long)]
    by: Option<String>,
}

pub fn recharge(ctx: &Ctx, args: RechargeArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let action =
        actions::propose_recharge(&mut store, &args.invoice_number, &actor(args.by), now())?;
    print_created(ctx, &action)
}

fn print_created(ctx: &Ctx, action: &ActionRow) -> anyhow::Result<ExitCode> {
    if ctx.json {
        output::json(action)?;
    } else {
        println!("{}", action.id);
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a passphrase: from the terminal without echo, or a line of standard input.
pub fn passphrase(prompt: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt).context("cannot read the passphrase");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the passphrase from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(subcommand)]
    what: UserWhat,
}

#[derive(Debug, clap::Subcommand)]
enum UserWhat {
    /// Add a person (passphrase from the terminal, or standard input). Once the store has
    /// an approver, one of them vouches with --by (their passphrase is asked next).
    Add {
        name: String,
        #[arg(long, value_parser = ["approver", "bookkeeper"], default_value = "approver")]
        role: String,
        /// The approver who adds this person.
        #[arg(long)]
        by: Option<String>,
    },
    /// List the people this store knows.
    List,
}

pub fn user(ctx: &Ctx, args: UserArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    match args.what {
        UserWhat::Add { name, role, by } => {
            let role = Role::parse(&role).unwrap_or(Role::Approver);
            let secret = passphrase(&format!("Passphrase for {name}: "))?;
            let vouching = match &by {
                Some(by) => Some(passphrase(&format!(
                    "Passphrase of {by}, who adds {name}: "
                ))?),
                None => None,
            };
            let sponsor = by
                .as_deref()
                .zip(vouching.as_deref())
                .map(|(name, passphrase)| people::Sponsor { name, passphrase });
            people::add_user(&mut store, &name, role, &secret, sponsor, now())?;
            println!("added {name} ({})", role.as_str());
        }
        UserWhat::List => {
            let users = store.read(|tx| tx.users())?;
            if ctx.json {
                output::json(&users)?;
            } else {
                for (name, role) in users {
                    println!("{name}\t{}", role.as_str());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    action_id: i64,
    /// The approver (passphrase from the terminal, or standard input).
    #[arg(long)]
    by: String,
    /// Confirm that you checked a heuristic match (same customer, amount and time) yourself.
    #[arg(long)]
    heuristic_checked: bool,
}

pub fn approve(ctx: &Ctx, args: ApproveArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let secret = passphrase(&format!("Passphrase for {}: ", args.by))?;
    let approval = actions::approve(
        &mut store,
        args.action_id,
        &args.by,
        &secret,
        args.heuristic_checked,
        now(),
    )?;
    if ctx.json {
        output::json(&approval)?;
    } else if approval.action.state == ActionState::Approved {
        println!(
            "action {} approved ({} of {} approvals)",
            approval.action.id, approval.approvals, approval.needed
        );
    } else {
        let why = approval
            .threshold
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        println!(
            "approval recorded ({} of {}); a second, different approver is needed{why}",
            approval.approvals, approval.needed
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ExecuteArgs {
    action_id: i64,
    /// Show the exact request it would send, and send nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    by: Option<String>,
}

pub fn execute(ctx: &Ctx, args: ExecuteArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let client = client(ctx, &mut store)?;
    let rt = runtime()?;
    if args.dry_run {
        let request = rt.block_on(actions::dry_run(&mut store, &client, args.action_id))?;
        output::json(&request)?;
        return Ok(ExitCode::SUCCESS);
    }
    let executed = match rt.block_on(actions::execute(
        &mut store,
        &client,
        args.action_id,
        &actor(args.by),
        now(),
    )) {
        Ok(executed) => executed,
        // A guard refusal is a refusal (exit 1, as documented above), not an error.
        Err(refusal @ actions::ActionError::Guard { .. }) => {
            eprintln!("refused: {refusal}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    if ctx.json {
        output::json(&executed)?;
    } else {
        println!("{}", executed.message);
    }
    // The refund stands; its books' side undecided is for `recover`, as any push.
    if executed.undecided() {
        return Ok(ExitCode::from(UNDECIDED));
    }
    Ok(exit_for(executed.action.state))
}

fn exit_for(state: ActionState) -> ExitCode {
    match state {
        ActionState::Succeeded => ExitCode::SUCCESS,
        ActionState::Failed | ActionState::Cancelled => ExitCode::from(1),
        _ => ExitCode::from(UNDECIDED),
    }
}

pub fn list(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let all = store.read(|tx| tx.actions(None))?;
    if ctx.json {
        output::json(&all)?;
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        println!("No actions.");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = all.iter().map(|a| {
        vec![
            a.id.to_string(),
            a.kind.to_string(),
            a.state.to_string(),
            a.plan.describe(),
            a.proposed_by.clone(),
            a.approvers.join(", "),
            a.idempotency_key.clone(),
        ]
    });
    println!(
        "{}",
        output::table(
            &[
                "id",
                "kind",
                "state",
                "what",
                "proposed by",
                "approved by",
                "key"
            ],
            rows
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub fn recover(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let client = client(ctx, &mut store)?;
    let report = runtime()?.block_on(actions::recover(&mut store, &client, now()))?;
    if ctx.json {
        output::json(&report)?;
    } else {
        println!("{report}");
        for a in &report.actions {
            println!("  action {}: {}", a.id, a.state);
        }
    }
    Ok(if report.still_unknown > 0 {
        ExitCode::from(UNDECIDED)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    action_id: i64,
    #[arg(long)]
    reason: String,
    #[arg(long)]
    by: Option<String>,
}

pub fn cancel(ctx: &Ctx, args: CancelArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let action = actions::cancel(
        &mut store,
        args.action_id,
        &actor(args.by),
        &args.reason,
        now(),
    )?;
    println!("action {} cancelled", action.id);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct DismissArgs {
    finding_id: i64,
    /// Why this finding is not a problem (kept in the audit log and the month-end export).
    #[arg(long)]
    reason: String,
    #[arg(long)]
    by: Option<String>,
}

pub fn dismiss(ctx: &Ctx, args: DismissArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    let finding = actions::dismiss(
        &mut store,
        args.finding_id,
        &actor(args.by),
        &args.reason,
        now(),
    )?;
    println!("finding {} dismissed", finding.id);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    what: AuditWhat,
}

#[derive(Debug, clap::Subcommand)]
enum AuditWhat {
    /// Check the audit log's hash chain; name the first entry that does not hold.
    Verify,
    /// Print the audit log.
    Log,
}

pub fn audit(ctx: &Ctx, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let mut store = ctx.open_store()?;
    match args.what {
        AuditWhat::Verify => match chargeguard::audit_trail::verify(&mut store)?.chain {
            Ok(report) => {
                if ctx.json {
                    output::json(&report)?;
                } else {
                    println!(
                        "the audit log holds: {} entries, head {}",
                        report.entries, report.head_hash
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(broken) => {
                if ctx.json {
                    output::json(&broken)?;
                }
                eprintln!("the audit log does NOT hold: {broken}");
                Ok(ExitCode::from(1))
            }
        },
        AuditWhat::Log => {
            let entries = chargeguard::audit_trail::entries(&mut store)?;
            if ctx.json {
                output::json(&entries)?;
            } else {
                for e in &entries {
                    let at = jiff::Timestamp::from_second(e.at)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    println!(
                        "{:>6} {at} {:<12} {:<22} {:<14} {}",
                        e.seq, e.actor, e.event, e.subject, e.details
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
