//! The randomized soak: many small worlds (a store, a sandbox, the real binary), each with
//! random incidents — double charges, duplicate invoices, unpaid invoices to re-charge
//! (some with a declining card), orphan charges — whose fixes are proposed, approved and
//! executed under random faults at the sandbox, random SIGKILLs of the executing process
//! (at a failpoint, with the request held in flight, with the answer held after commit, or
//! at a random moment), random double and concurrent executes; then `recover` until
//! nothing is undecided, and the invariants are checked against the SANDBOX's own state:
//!
//! - no invoice is charged more than it is owed, and a refund never uncovers its invoice;
//! - no charge is refunded beyond its amount, and no action has a second refund or intent;
//! - every succeeded action has exactly its one object at the gateway, a failed or
//!   cancelled one none that holds money; nothing is left `executing` or `unknown`;
//! - every action has its audit entries, and `audit verify` holds.
//!
//! `CHARGEGUARD_SOAK_TRIALS` sets the number of trials (default 100; 200 took four minutes
//! of a debug build on two cores shared at a load of 9; run thousands locally).
//! `CHARGEGUARD_SOAK_SEED` replays a run: the seed is printed first, each failure prints
//! its trial's own seed, and that seed with `CHARGEGUARD_SOAK_TRIALS=1` replays the one
//! trial. `CHARGEGUARD_SOAK_THREADS` runs trials side by side (default 4: a trial mostly
//! waits on held requests and retry backoffs), `CHARGEGUARD_SOAK_DIR` says where their
//! files go (default `/dev/shm` where it exists), `CHARGEGUARD_SOAK_VERBOSE` prints each
//! run and its time. Failpoint kills need `--features failpoints`; without it those kills
//! become kills at a random moment.

mod actions_support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actions_support::{HOUR, Invoice, Payment, World, id_of, json_of, now};
use serde_json::{Value, json};

/// SplitMix64: small, seedable, and the same on every platform and `rand` version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[derive(Debug, Clone)]
enum Incident {
    /// `charges` succeeded charges of `amount` for one invoice, the first recorded.
    DoubleCharge { charges: usize },
    /// Two invoices for one order, both charged and recorded; the later one is voided.
    DuplicateInvoice,
    /// An unpaid invoice, re-charged with the customer's saved card.
    Recharge { declines: bool },
    /// A charge the ledger never recorded on its open invoice: a ledger fix.
    Orphan,
}

#[derive(Debug, Clone)]
struct Case {
    incident: Incident,
    invoice: String,
    /// The later invoice of a duplicate pair.
    later: Option<String>,
    amount: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Once,
    /// A second `execute` after the first returned (a double click).
    Twice,
    /// Two `execute` processes started together.
    Concurrently,
    Kill(Kill),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// At a failpoint after the journal write (the action is `executing`, nothing sent).
    AtFailpoint(&'static str),
    /// At a failpoint after the gateway committed (its idempotency record exists).
    AfterCommitFailpoint(&'static str),
    /// While the request is held at the sandbox, before it commits (`slow`).
    InFlight,
    /// After the gateway committed, while its answer is held (`timeout_after_commit`).
    AnswerHeld,
    /// After a random delay.
    RandomMoment,
}

const FAULTS: &[&str] = &[
    "lose_response_after_commit",
    "timeout_before_commit",
    "timeout_after_commit",
    "error_500_before_commit",
    "error_500_after_commit",
    "error_503_before_commit",
    "rate_limit",
    "slow",
];

#[derive(Default)]
struct Tally {
    trials: AtomicU64,
    passed: AtomicU64,
    failed: AtomicU64,
    actions: AtomicU64,
    kills: AtomicU64,
    faults: AtomicU64,
    double_executes: AtomicU64,
    concurrent_executes: AtomicU64,
    recover_runs: AtomicU64,
    succeeded: AtomicU64,
    failed_actions: AtomicU64,
    cancelled: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[test]
fn randomized_soak() {
    let trials = env_u64("CHARGEGUARD_SOAK_TRIALS").unwrap_or(100);
    let threads = env_u64("CHARGEGUARD_SOAK_THREADS").unwrap_or(4).max(1);
    let seed = env_u64("CHARGEGUARD_SOAK_SEED")
        .unwrap_or_else(|| jiff::Timestamp::now().as_nanosecond() as u64);
    println!(
        "soak: seed {seed} (CHARGEGUARD_SOAK_SEED={seed} replays it), {trials} trials on {threads} threads, failpoints {}",
        if cfg!(feature = "failpoints") {
            "on"
        } else {
            "off"
        }
    );
    let started = Instant::now();
    let tally = Tally::default();
    let next = AtomicU64::new(0);
    let failures = Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= trials || failures.lock().unwrap().len() >= 3 {
                        return;
                    }
                    let trial_seed = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9));
                    add(&tally.trials, 1);
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        trial(trial_seed, &tally)
                    }));
                    let outcome = match result {
                        Ok(r) => r,
                        Err(panic) => Err(panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "panicked".into())),
                    };
                    match outcome {
                        Ok(()) => add(&tally.passed, 1),
                        Err(why) => {
                            add(&tally.failed, 1);
                            let line = format!("trial {i} (seed {trial_seed}) FAILED: {why}");
                            eprintln!("{line}");
                            failures.lock().unwrap().push(line);
                        }
                    }
                }
            });
        }
    });
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "soak: {} trials in {:.1?}: {} actions ({} succeeded, {} failed, {} cancelled by a guard), {} kills, {} faults armed, {} double executes, {} concurrent executes, {} recover runs",
        get(&tally.trials),
        started.elapsed(),
        get(&tally.actions),
        get(&tally.succeeded),
        get(&tally.failed_actions),
        get(&tally.cancelled),
        get(&tally.kills),
        get(&tally.faults),
        get(&tally.double_executes),
        get(&tally.concurrent_executes),
        get(&tally.recover_runs),
    );
    println!(
        "{} passed, {} failed",
        get(&tally.passed),
        get(&tally.failed)
    );
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Where trials keep their files: `CHARGEGUARD_SOAK_DIR`, else `/dev/shm` where it exists
/// (each commit's disk flush is most of a trial's time), else the temporary folder.
fn scratch() -> Option<std::path::PathBuf> {
    if let Ok(dir) = std::env::var("CHARGEGUARD_SOAK_DIR") {
        return Some(dir.into());
    }
    let shm = std::path::Path::new("/dev/shm");
    shm.is_dir().then(|| shm.to_path_buf())
}

/// One world: incidents, their fixes run under faults and kills, recovery, invariants.
fn trial(seed: u64, tally: &Tally) -> Result<(), String> {
    let begun = Instant::now();
    let mut rng = Rng(seed);
    let mut w = World::new_in(scratch().as_deref());
    // Short client timeouts so timeout faults (held 1.5 s) cost little.
    w.flags = vec!["--http-timeout".into(), "1".into()];
    let cases = plant(&w, &mut rng);
    w.add_user("alice", "approver");
    w.add_user("bob", "approver");

    let mut action_ids = Vec::new();
    let findings = w.findings();
    for case in &cases {
        let Some(id) = propose(&w, &findings, case)? else {
            continue;
        };
        approve(&w, id)?;
        add(&tally.actions, 1);
        action_ids.push(id);
        run_one(&w, &mut rng, case, id, tally)?;
    }
    let settling = Instant::now();
    settle_everything(&w, &mut rng, &action_ids, tally)?;
    let checking = Instant::now();
    let checked = check(&w, &cases, tally);
    if std::env::var_os("CHARGEGUARD_SOAK_VERBOSE").is_some() {
        eprintln!(
            "  trial {seed}: settled in {:.0?}, checked in {:.0?}, all in {:.0?}",
            checking - settling,
            checking.elapsed(),
            begun.elapsed()
        );
    }
    checked
}

/// Seeds the sandbox and imports the books for 1 to 3 random incidents.
fn plant(w: &World, rng: &mut Rng) -> Vec<Case> {
    let t = now();
    let mut cases = Vec::new();
    let mut customers = Vec::new();
    let mut charges = Vec::new();
    let mut invoices = Vec::new();
    let mut payments: Vec<(String, String, String, Option<usize>)> = Vec::new();
    let count = 1 + rng.below(3) as usize;
    for n in 0..count {
        let incident = match rng.below(100) {
            0..=34 => Incident::DoubleCharge {
                charges: 2 + rng.below(2) as usize,
            },
            35..=54 => Incident::DuplicateInvoice,
            55..=89 => Incident::Recharge {
                declines: rng.chance(25),
            },
            _ => Incident::Orphan,
        };
        // 10.00 to 800.00: some above the 500 threshold, which need two approvers.
        let amount = 1000 + rng.below(79_000) as i64;
        let invoice = format!("INV-{n}");
        let customer = format!("cus_{n}");
        let card = match incident {
            Incident::Recharge { declines: true } => "pm_card_chargeDeclined",
            _ => "pm_card_visa",
        };
        customers.push(json!({"id": customer, "payment_method": card}));
        let charge = |inv: &str, hours: i64| {
            json!({"amount": amount, "currency": "usd", "customer": customer,
                   "created": t - hours * HOUR, "metadata": {"invoice_number": inv}})
        };
        let major = format!("{}.{:02}", amount / 100, amount % 100);
        let mut later = None;
        match incident {
            Incident::DoubleCharge { charges: k } => {
                let first = charges.len();
                for h in 0..k {
                    charges.push(charge(&invoice, 5 - h as i64));
                }
                invoices.push((
                    invoice.clone(),
                    customer.clone(),
                    major.clone(),
                    "paid",
                    None,
                ));
                payments.push((
                    format!("PAY-{n}"),
                    invoice.clone(),
                    major.clone(),
                    Some(first),
                ));
            }
            Incident::DuplicateInvoice => {
                let second = format!("INV-{n}-B");
                let order = format!("ORD-{n}");
                payments.push((
                    format!("PAY-{n}"),
                    invoice.clone(),
                    major.clone(),
                    Some(charges.len()),
                ));
                charges.push(charge(&invoice, 5));
                payments.push((
                    format!("PAY-{n}-B"),
                    second.clone(),
                    major.clone(),
                    Some(charges.len()),
                ));
                charges.push(charge(&second, 4));
                invoices.push((
                    invoice.clone(),
                    customer.clone(),
                    major.clone(),
                    "paid",
                    Some(order.clone()),
                ));
                invoices.push((
                    second.clone(),
                    customer.clone(),
                    major.clone(),
                    "paid",
                    Some(order),
                ));
                later = Some(second);
            }
            Incident::Recharge { .. } => {
                invoices.push((
                    invoice.clone(),
                    customer.clone(),
                    major.clone(),
                    "open",
                    None,
                ));
            }
            Incident::Orphan => {
                charges.push(charge(&invoice, 5));
                invoices.push((
                    invoice.clone(),
                    customer.clone(),
                    major.clone(),
                    "open",
                    None,
                ));
            }
        }
        cases.push(Case {
            incident,
            invoice,
            later,
            amount,
        });
    }
    let seeded = w.seed(json!({"customers": customers, "charges": charges}));
    let ids: Vec<String> = seeded["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let rows: Vec<Invoice<'_>> = invoices
        .iter()
        .map(|(number, customer, amount, status, order)| Invoice {
            number,
            customer,
            amount,
            status,
            order_ref: order.as_deref(),
        })
        .collect();
    w.import_invoices(&rows);
    if !payments.is_empty() {
        let rows: Vec<Payment<'_>> = payments
            .iter()
            .map(|(id, invoice, amount, charge)| Payment {
                id,
                invoice,
                kind: "payment",
                amount,
                gateway_id: charge.map(|c| ids[c].as_str()),
            })
            .collect();
        w.import_payments(&rows);
    }
    w.sync_and_reconcile();
    cases
}

fn out_text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn success(out: &Output, what: &str) -> Result<String, String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{what}: {}", out_text(out)))
    }
}

/// The action that fixes `case`, proposed through the CLI.
fn propose(w: &World, findings: &[Value], case: &Case) -> Result<Option<i64>, String> {
    let find = |kind: &str, invoice: &str| -> Result<i64, String> {
        findings
            .iter()
            .find(|f| f["kind"] == kind && f["invoice_number"] == invoice)
            .and_then(|f| f["id"].as_i64())
            .ok_or_else(|| format!("no {kind} finding for {invoice}: {findings:#?}"))
    };
    let out = match &case.incident {
        Incident::DoubleCharge { .. } => w.cg(&[
            "propose",
            &find("double_charge", &case.invoice)?.to_string(),
        ]),
        Incident::DuplicateInvoice => {
            let later = case.later.as_deref().unwrap();
            w.cg(&["propose", &find("duplicate_invoice", later)?.to_string()])
        }
        Incident::Orphan => w.cg(&[
            "propose",
            &find("orphan_charge", &case.invoice)?.to_string(),
        ]),
        Incident::Recharge { .. } => w.recharge(&case.invoice),
    };
    Ok(Some(id_of(&success(&out, "propose")?)))
}

/// Approves with alice, and with bob when a second approver is needed.
fn approve(w: &World, id: i64) -> Result<(), String> {
    success(&w.approve(id, "alice"), "approve by alice")?;
    if w.action_state(id) == "proposed" {
        success(&w.approve(id, "bob"), "approve by bob")?;
    }
    match w.action_state(id).as_str() {
        "approved" => Ok(()),
        other => Err(format!("action {id} is {other} after two approvals")),
    }
}

fn post_path(case: &Case) -> Option<&'static str> {
    match case.incident {
        Incident::DoubleCharge { .. } | Incident::DuplicateInvoice => Some("/v1/refunds"),
        Incident::Recharge { .. } => Some("/v1/payment_intents"),
        Incident::Orphan => None,
    }
}

/// A process that ended by itself must not have crashed.
fn not_crashed(out: &Output) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0..=3) if !stderr.contains("panicked") => Ok(()),
        _ => Err(format!("execute crashed: {}", out_text(out))),
    }
}

fn run_one(w: &World, rng: &mut Rng, case: &Case, id: i64, tally: &Tally) -> Result<(), String> {
    let started = Instant::now();
    let id_text = id.to_string();
    let execute = ["execute", id_text.as_str()];
    let path = post_path(case);
    let mut armed = None;
    let run = match rng.below(100) {
        0..=29 => Run::Once,
        30..=44 => Run::Twice,
        45..=59 => Run::Concurrently,
        _ => Run::Kill(*rng.pick(&[
            Kill::AtFailpoint("execute.after_journal"),
            Kill::AtFailpoint("execute.before_send"),
            Kill::AfterCommitFailpoint("execute.after_answer"),
            Kill::AfterCommitFailpoint("execute.before_settle"),
            Kill::InFlight,
            Kill::AnswerHeld,
            Kill::RandomMoment,
            Kill::RandomMoment,
        ])),
    };
    let run = match (run, path) {
        // A ledger fix sends nothing: only a kill at a random moment means anything.
        (Run::Kill(_), None) => Run::Kill(Kill::RandomMoment),
        (Run::Kill(Kill::AtFailpoint(_) | Kill::AfterCommitFailpoint(_)), _)
            if !cfg!(feature = "failpoints") =>
        {
            Run::Kill(Kill::RandomMoment)
        }
        (run, _) => run,
    };
    // Faults with the plain runs; the kills arm their own.
    if let (Some(path), false) = (path, matches!(run, Run::Kill(_)))
        && rng.chance(25)
    {
        let fault = *rng.pick(FAULTS);
        let hold = match fault {
            "slow" => 300,
            // Just past the one-second client timeout.
            _ => 1200,
        };
        w.arm(json!({"path": path, "method": "POST", "fault": fault,
                     "times": 1 + rng.below(2), "hold_ms": hold}));
        add(&tally.faults, 1);
        armed = Some(fault);
    }
    match run {
        Run::Once => not_crashed(&w.cg(&execute))?,
        Run::Twice => {
            not_crashed(&w.cg(&execute))?;
            not_crashed(&w.cg(&execute))?;
            add(&tally.double_executes, 1);
        }
        Run::Concurrently => {
            let a = w.spawn(&execute, &[]);
            let b = w.spawn(&execute, &[]);
            // Both are awaited before either is judged.
            let (a, b) = (a.wait_with_output(), b.wait_with_output());
            not_crashed(&a.map_err(|e| e.to_string())?)?;
            not_crashed(&b.map_err(|e| e.to_string())?)?;
            add(&tally.concurrent_executes, 1);
        }
        Run::Kill(kill) => {
            kill_during(w, rng, id, path, kill)?;
            add(&tally.kills, 1);
        }
    }
    w.disarm();
    if std::env::var_os("CHARGEGUARD_SOAK_VERBOSE").is_some() {
        eprintln!(
            "  {:?} on {}: {run:?}, fault {armed:?}, {:.0?}",
            case.incident,
            case.invoice,
            started.elapsed()
        );
    }
    Ok(())
}

/// Runs `execute` and SIGKILLs it at the moment `kill` names (or lets it finish if it ends
/// first: a guard refusal, a decline).
fn kill_during(
    w: &World,
    rng: &mut Rng,
    id: i64,
    path: Option<&str>,
    kill: Kill,
) -> Result<(), String> {
    let id_text = id.to_string();
    let execute = ["execute", id_text.as_str()];
    let keys_before = w.stat("idempotency_keys");
    let (failpoints, condition): (String, Box<dyn Fn() -> bool + '_>) = match kill {
        Kill::AtFailpoint(name) => (
            format!("{name}=sleep(60000)"),
            Box::new(move || w.action_state(id) == "executing"),
        ),
        Kill::AfterCommitFailpoint(name) => (
            format!("{name}=sleep(60000)"),
            Box::new(move || w.stat("idempotency_keys") > keys_before),
        ),
        Kill::InFlight => {
            w.arm(
                json!({"path": path.unwrap(), "method": "POST", "fault": "slow", "hold_ms": 400}),
            );
            (
                String::new(),
                Box::new(|| w.stat("idempotency_keys_running") > 0),
            )
        }
        Kill::AnswerHeld => {
            w.arm(json!({"path": path.unwrap(), "method": "POST",
                         "fault": "timeout_after_commit", "hold_ms": 400}));
            (
                String::new(),
                Box::new(move || w.stat("idempotency_keys") > keys_before),
            )
        }
        Kill::RandomMoment => {
            // The moment is the random part: a deadline, not a synchronisation.
            let at = Instant::now() + Duration::from_millis(rng.below(250));
            (String::new(), Box::new(move || Instant::now() >= at))
        }
    };
    let env: Vec<(&str, &str)> = if failpoints.is_empty() {
        Vec::new()
    } else {
        vec![("FAILPOINTS", failpoints.as_str())]
    };
    let mut child: Child = w.spawn(&execute, &env);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(_status) = child.try_wait().map_err(|e| e.to_string())? {
            // It finished before the moment came: it must not have crashed.
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            return not_crashed(&out);
        }
        if condition() {
            // SIGKILL: no destructor, no rollback hook, no goodbye.
            child.kill().map_err(|e| e.to_string())?;
            child.wait().map_err(|e| e.to_string())?;
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "the kill moment {kill:?} never came: {}",
                out_text(&out)
            ));
        }
        std::thread::park_timeout(Duration::from_millis(3));
    }
}

/// `recover` until nothing is undecided; an action a kill left `approved` (nothing was
/// journaled) is executed again, as the bookkeeper would.
fn settle_everything(w: &World, rng: &mut Rng, ids: &[i64], tally: &Tally) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Sometimes two windows recover at once.
        let runs: Vec<Child> = (0..1 + u64::from(rng.chance(30)))
            .map(|_| w.spawn(&["recover"], &[]))
            .collect();
        for run in runs {
            let recovered = run.wait_with_output().map_err(|e| e.to_string())?;
            add(&tally.recover_runs, 1);
            match recovered.status.code() {
                Some(0 | 3) => {}
                _ => return Err(format!("recover: {}", out_text(&recovered))),
            }
        }
        let mut open = false;
        for &id in ids {
            match w.action_state(id).as_str() {
                "approved" => {
                    not_crashed(&w.cg(&["execute", &id.to_string()]))?;
                    open = true;
                }
                "executing" | "unknown" => open = true,
                _ => {}
            }
        }
        if !open {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "still undecided after a minute: {:#?}",
                w.actions()
            ));
        }
        // A held request still owns its key at the sandbox: wait until it lets go.
        w.wait_until("held requests to finish", Duration::from_secs(30), || {
            w.stat("idempotency_keys_running") == 0
        });
    }
}

fn net(charge: &Value) -> i64 {
    if charge["status"] == "succeeded" && charge["captured"] == true {
        charge["amount"].as_i64().unwrap_or(0) - charge["amount_refunded"].as_i64().unwrap_or(0)
    } else {
        0
    }
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// The invariants, against the sandbox's state and the store's journal and audit log.
fn check(w: &World, cases: &[Case], tally: &Tally) -> Result<(), String> {
    let actions = json_of(&success(&w.cg(&["--json", "actions"]), "actions")?);
    let charges = w.list_all("/v1/charges");
    let refunds = w.list_all("/v1/refunds");
    let intents = w.list_all("/v1/payment_intents");
    let audit = json_of(&success(&w.cg(&["--json", "audit", "log"]), "audit log")?);
    let verified = w.cg(&["audit", "verify"]);
    ensure!(
        verified.status.success(),
        "audit verify: {}",
        out_text(&verified)
    );

    let by_key: BTreeMap<&str, &Value> = actions
        .iter()
        .map(|a| (a["key"].as_str().unwrap_or_default(), a))
        .collect();
    let events: BTreeSet<(String, String)> = audit
        .iter()
        .map(|e| {
            (
                e["subject"].as_str().unwrap_or_default().to_string(),
                e["event"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let has_event =
        |id: &Value, event: &str| events.contains(&(format!("action:{id}"), event.to_string()));

    for a in &actions {
        let id = &a["id"];
        let state = a["state"].as_str().unwrap_or_default();
        ensure!(
            matches!(state, "succeeded" | "failed" | "cancelled"),
            "action {id} ended {state}, not decided: {a:#}"
        );
        ensure!(
            has_event(id, "action_proposed"),
            "action {id} has no action_proposed entry"
        );
        ensure!(
            has_event(id, "action_approved"),
            "action {id} has no action_approved entry"
        );
        let ended = match state {
            "succeeded" => has_event(id, "action_succeeded"),
            "failed" => has_event(id, "action_failed"),
            _ => has_event(id, "action_guard_refused") || has_event(id, "action_cancelled"),
        };
        ensure!(ended, "action {id} is {state} without its audit entry");
        match state {
            "succeeded" => add(&tally.succeeded, 1),
            "failed" => add(&tally.failed_actions, 1),
            _ => add(&tally.cancelled, 1),
        }
        let key = a["key"].as_str().unwrap_or_default();
        let refunds_with_key = refunds
            .iter()
            .filter(|r| r["metadata"]["idempotency_key"] == key)
            .count();
        let intents_with_key: Vec<&Value> = intents
            .iter()
            .filter(|p| p["metadata"]["idempotency_key"] == key)
            .collect();
        let paid_intents = intents_with_key
            .iter()
            .filter(|p| p["status"] == "succeeded")
            .count();
        match (a["kind"].as_str(), state) {
            (Some("refund"), "succeeded") => ensure!(
                refunds_with_key == 1,
                "succeeded refund action {id} has {refunds_with_key} refunds at the gateway"
            ),
            (Some("refund"), _) => ensure!(
                refunds_with_key == 0,
                "{state} refund action {id} has {refunds_with_key} refunds at the gateway"
            ),
            (Some("recharge"), "succeeded") => ensure!(
                intents_with_key.len() == 1 && paid_intents == 1,
                "succeeded re-charge {id} has {} intents ({paid_intents} paid) at the gateway",
                intents_with_key.len()
            ),
            (Some("recharge"), _) => ensure!(
                paid_intents == 0 && intents_with_key.len() <= 1,
                "{state} re-charge {id} has {} intents ({paid_intents} paid) at the gateway",
                intents_with_key.len()
            ),
            _ => ensure!(
                refunds_with_key + intents_with_key.len() == 0,
                "ledger fix {id} reached the gateway"
            ),
        }
    }
    // Nothing at the gateway that no action sent.
    for object in refunds.iter().chain(&intents) {
        if let Some(key) = object["metadata"]["idempotency_key"].as_str() {
            ensure!(
                by_key.contains_key(key),
                "{} at the gateway carries key {key} of no action",
                object["id"]
            );
        }
    }
    // No charge refunded beyond its amount.
    for charge in &charges {
        let id = charge["id"].as_str().unwrap_or_default();
        let refunded: i64 = refunds
            .iter()
            .filter(|r| r["charge"] == id && r["status"] != "failed")
            .map(|r| r["amount"].as_i64().unwrap_or(0))
            .sum();
        let amount = charge["amount"].as_i64().unwrap_or(0);
        ensure!(
            refunded <= amount && refunded == charge["amount_refunded"].as_i64().unwrap_or(-1),
            "charge {id} of {amount}: refunds total {refunded}, it says {}",
            charge["amount_refunded"]
        );
    }
    // Every invoice holds what it is owed, no more; a refund never uncovered one.
    let held = |invoice: &str| -> i64 {
        charges
            .iter()
            .filter(|c| c["metadata"]["invoice_number"] == invoice)
            .map(net)
            .sum()
    };
    let state_of = |invoice: &str| -> Option<String> {
        actions
            .iter()
            .find(|a| a["invoice_number"] == invoice)
            .and_then(|a| a["state"].as_str().map(str::to_string))
    };
    for case in cases {
        let a = case.amount;
        let inv = case.invoice.as_str();
        let done = state_of(match &case.later {
            Some(later) => later,
            None => inv,
        });
        let done = done.as_deref() == Some("succeeded");
        match case.incident {
            Incident::DoubleCharge { charges: k } => {
                let expected = if done {
                    (k as i64 - 1) * a
                } else {
                    k as i64 * a
                };
                ensure!(
                    held(inv) == expected && held(inv) >= a,
                    "{inv} (owed {a}, charged {k} times) holds {} at the gateway; its refund {}",
                    held(inv),
                    if done { "succeeded" } else { "did not" }
                );
            }
            Incident::DuplicateInvoice => {
                let later = case.later.as_deref().unwrap();
                ensure!(held(inv) == a, "{inv} holds {} of its {a}", held(inv));
                let expected = if done { 0 } else { a };
                ensure!(
                    held(later) == expected,
                    "duplicate {later} holds {}, expected {expected}",
                    held(later)
                );
            }
            Incident::Recharge { declines } => {
                let expected = if done { a } else { 0 };
                ensure!(
                    held(inv) == expected && held(inv) <= a,
                    "re-charged {inv} (owed {a}, card {}) holds {} at the gateway",
                    if declines { "declines" } else { "pays" },
                    held(inv)
                );
                ensure!(!(declines && done), "a declining card paid {inv}");
            }
            Incident::Orphan => ensure!(held(inv) == a, "orphaned {inv} holds {}", held(inv)),
        }
    }
    Ok(())
}
