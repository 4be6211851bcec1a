//! Shared by the kill tests and the fault tests: a store and a sandbox gateway holding one
//! double charge and one unpaid invoice, driven through the real `chargeguard` binary, and
//! the checks a bookkeeper (or an auditor) would make afterwards — at the gateway, in the
//! journal, in the audit log and in the books.
//!
//! The world: customer `cus_alba` paid invoice INV-1 (49.00 USD) twice — the first charge
//! is in the ledger, the second is the surplus a refund gives back. Customer `cus_brio`
//! owes INV-2 (120.00 USD): the automatic charge was declined, a card that works is saved,
//! and a re-charge collects it. The sandbox runs in this process on a loopback port; the
//! store is a real SQLite file in a temporary folder; every command is a real process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Instant;

use chargeguard::sandbox::{self, RunningSandbox, SandboxConfig};
use serde_json::{Value, json};
use tempfile::TempDir;

#[path = "../harness/mod.rs"]
mod harness;
#[allow(unused_imports)]
pub use harness::{PATIENCE, expect_exit};
pub const API_KEY: &str = "sk_test_killAndFaultTests7Q2m";
pub const PASSPHRASE: &str = "correct horse battery staple";
pub const REFUND_CUSTOMER: &str = "cus_alba";
pub const RECHARGE_CUSTOMER: &str = "cus_brio";
pub const RECHARGE_INVOICE: &str = "INV-2";
/// The surplus of INV-1, and what INV-2 owes, in cents.
pub const REFUND_MINOR: i64 = 4900;
pub const RECHARGE_MINOR: i64 = 12000;

/// The two actions that move money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Give back the surplus charge of the double-charged INV-1.
    Refund,
    /// Charge unpaid INV-2 again with the customer's saved card.
    Recharge,
}

impl Kind {
    /// The create the action sends, where the sandbox's faults are armed.
    pub fn create_path(self) -> &'static str {
        match self {
            Kind::Refund => "/v1/refunds",
            Kind::Recharge => "/v1/payment_intents",
        }
    }

    /// The sandbox's count of the objects this kind creates.
    pub fn stat(self) -> &'static str {
        match self {
            Kind::Refund => "refunds",
            Kind::Recharge => "payment_intents",
        }
    }
}

pub struct World {
    sandbox: Option<RunningSandbox>,
    pub rt: tokio::runtime::Runtime,
    pub http: reqwest::Client,
    control: harness::SandboxControl,
    pub base: String,
    pub dir: TempDir,
    pub db: PathBuf,
    /// INV-1's first charge, recorded in the ledger.
    pub kept_charge: String,
    /// INV-1's second charge, the one the refund gives back.
    pub surplus_charge: String,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            let _ = self.rt.block_on(sandbox.shutdown());
        }
    }
}

impl World {
    /// Seeds the sandbox, imports the books, connects, syncs, reconciles and adds an
    /// approver: what a bookkeeper has done before the first fix is approved.
    pub fn new() -> World {
        World::with_recharge_card("pm_card_visa")
    }

    /// The same, with `card` (a Stripe test token) as the card saved for INV-2's customer.
    pub fn with_recharge_card(card: &str) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let sandbox = rt
            .block_on(sandbox::start(SandboxConfig::new(
                dir.path().join("sandbox"),
            )))
            .expect("the sandbox starts");
        let base = sandbox.base_url();
        let mut world = World {
            sandbox: Some(sandbox),
            rt,
            http: reqwest::Client::builder()
                .timeout(PATIENCE)
                .build()
                .expect("client"),
            control: harness::SandboxControl::new(&base),
            base,
            db: dir.path().join("cg.db"),
            dir,
            kept_charge: String::new(),
            surplus_charge: String::new(),
        };
        let now = jiff::Timestamp::now().as_second();
        let seeded = world.rt.block_on(world.control.seed(json!({
                "customers": [
                    {"id": REFUND_CUSTOMER, "email": "alba@example.com", "payment_method": "pm_card_visa"},
                    {"id": RECHARGE_CUSTOMER, "email": "brio@example.com", "payment_method": card},
                ],
                "charges": [
                    {"amount": REFUND_MINOR, "currency": "usd", "customer": REFUND_CUSTOMER,
                     "created": now - 7200, "metadata": {"invoice_number": "INV-1"}},
                    {"amount": REFUND_MINOR, "currency": "usd", "customer": REFUND_CUSTOMER,
                     "created": now - 7140, "metadata": {"invoice_number": "INV-1"}},
                    {"amount": RECHARGE_MINOR, "currency": "usd", "customer": RECHARGE_CUSTOMER,
                     "created": now - 3600, "status": "failed",
                     "metadata": {"invoice_number": RECHARGE_INVOICE}},
                ],
        })));
        let charges: Vec<String> = seeded["charges"]
            .as_array()
            .expect("seeded charges")
            .iter()
            .map(|c| c.as_str().expect("charge id").to_string())
            .collect();
        world.kept_charge = charges[0].clone();
        world.surplus_charge = charges[1].clone();

        let day = |offset: i64| {
            jiff::Timestamp::from_second(now + offset)
                .expect("time")
                .to_string()
        };
        let invoices = world.dir.path().join("invoices.csv");
        std::fs::write(
            &invoices,
            format!(
                "invoice_number,customer_id,amount,currency,issued_at,due_at,status\n\
                 INV-1,{REFUND_CUSTOMER},49.00,USD,{},{},paid\n\
                 {RECHARGE_INVOICE},{RECHARGE_CUSTOMER},120.00,USD,{},{},open\n",
                day(-86_400),
                day(86_400),
                day(-86_400),
                day(86_400)
            ),
        )
        .expect("invoices.csv");
        let payments = world.dir.path().join("payments.csv");
        std::fs::write(
            &payments,
            format!(
                "payment_id,invoice_number,kind,amount,currency,recorded_at,gateway_id\n\
                 PAY-1,INV-1,payment,49.00,USD,{},{}\n",
                day(-7000),
                world.kept_charge
            ),
        )
        .expect("payments.csv");
        world.ok(&["import", "invoices", invoices.to_str().unwrap()]);
        world.ok(&["import", "payments", payments.to_str().unwrap()]);
        let base = world.base.clone();
        world.ok(&["connect", "--api-base", &base]);
        world.ok(&["sync"]);
        world.ok(&["reconcile"]);
        world.ok_with_stdin(&["user", "add", "alice", "--role", "approver"], PASSPHRASE);
        world
    }

    // ---- the binary ----

    /// `chargeguard --db cg.db ARGS…`, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = harness::cli(self.dir.path());
        command
            .env("CHARGEGUARD_API_KEY", API_KEY)
            .arg("--db")
            .arg(&self.db)
            .args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run chargeguard")
    }

    /// Runs a command that must succeed; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        expect_exit(&out, 0, args);
        String::from_utf8(out.stdout).expect("utf-8")
    }

    pub fn ok_with_stdin(&self, args: &[&str], input: &str) -> String {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn chargeguard");
        writeln!(child.stdin.take().expect("stdin"), "{input}").expect("write stdin");
        let out = child.wait_with_output().expect("wait");
        expect_exit(&out, 0, args);
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Proposes the action of `kind` and has alice approve it; its id.
    pub fn approved(&self, kind: Kind) -> i64 {
        let out = match kind {
            Kind::Refund => {
                let findings: Value = serde_json::from_str(&self.ok(&[
                    "findings",
                    "--json",
                    "--kind",
                    "double_charge",
                ]))
                .expect("findings json");
                let findings = findings.as_array().expect("array");
                assert_eq!(findings.len(), 1, "one double charge: {findings:?}");
                assert_eq!(findings[0]["charge_ids"], json!([self.surplus_charge]));
                let id = findings[0]["id"].as_i64().expect("finding id").to_string();
                self.ok(&["propose", &id])
            }
            Kind::Recharge => self.ok(&["recharge", RECHARGE_INVOICE]),
        };
        let id: i64 = out.trim().parse().expect("the new action's id");
        let approved =
            self.ok_with_stdin(&["approve", &id.to_string(), "--by", "alice"], PASSPHRASE);
        assert!(approved.contains("approved"), "{approved}");
        id
    }

    /// Starts `chargeguard execute ID EXTRA…` with `FAILPOINTS` set, reading its standard
    /// error line by line.
    pub fn spawn_execute(&self, id: i64, failpoints: Option<&str>, extra: &[&str]) -> Running {
        let id = id.to_string();
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(["execute", id.as_str()]);
        self.spawn(&args, failpoints)
    }

    /// Starts `chargeguard ARGS…` with `FAILPOINTS` set, reading its standard error line by
    /// line.
    pub fn spawn(&self, args: &[&str], failpoints: Option<&str>) -> Running {
        let mut command = self.command(args);
        if let Some(f) = failpoints {
            command.env("FAILPOINTS", f);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn chargeguard execute");
        let (send, lines) = channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The action as `actions --json` shows it.
    pub fn action(&self, id: i64) -> Value {
        let all: Value = serde_json::from_str(&self.ok(&["--json", "actions"])).expect("json");
        all.as_array()
            .expect("array")
            .iter()
            .find(|a| a["id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("no action {id} in {all}"))
    }

    pub fn state(&self, id: i64) -> String {
        self.action(id)["state"]
            .as_str()
            .expect("state")
            .to_string()
    }

    /// The audit events about action `id`, in order.
    pub fn audit_events(&self, id: i64) -> Vec<String> {
        let log: Value = serde_json::from_str(&self.ok(&["--json", "audit", "log"])).expect("json");
        let subject = format!("action:{id}");
        log.as_array()
            .expect("array")
            .iter()
            .filter(|e| e["subject"] == json!(subject))
            .map(|e| e["event"].as_str().expect("event").to_string())
            .collect()
    }

    /// `audit verify` says the chain holds.
    pub fn assert_audit_holds(&self) {
        let out = self.ok(&["audit", "verify"]);
        assert!(out.contains("the audit log holds"), "{out}");
    }

    /// After a sync and a reconcile nothing is open about the invoice the action fixed:
    /// the refund gave back INV-1's surplus, the re-charge paid INV-2 and the ledger knows.
    pub fn assert_books_tie_out(&self, kind: Kind) {
        let invoice = match kind {
            Kind::Refund => "INV-1",
            Kind::Recharge => RECHARGE_INVOICE,
        };
        self.ok(&["sync"]);
        self.ok(&["reconcile"]);
        let open: Value =
            serde_json::from_str(&self.ok(&["findings", "--json", "--status", "open"]))
                .expect("json");
        let about: Vec<&Value> = open
            .as_array()
            .expect("array")
            .iter()
            .filter(|f| f["invoice_number"] == json!(invoice))
            .collect();
        assert!(
            about.is_empty(),
            "open findings on {invoice} after the fix: {about:#?}"
        );
    }

    // ---- the sandbox ----

    /// A call to a `/_sandbox/…` control endpoint; its JSON answer.
    /// Arms a fault on the create `kind` sends (POST only: the guards' and recovery's
    /// reads pass untouched).
    pub fn arm(&self, kind: Kind, fault: &str, hold_ms: Option<u64>) {
        let mut spec =
            json!({"path": kind.create_path(), "method": "POST", "fault": fault, "times": 1});
        if let Some(hold) = hold_ms {
            spec["hold_ms"] = json!(hold);
        }
        self.rt.block_on(self.control.arm(spec));
    }

    pub fn stats(&self) -> Value {
        self.rt.block_on(self.control.stats())
    }

    /// What Stripe does 24 hours after a request: it forgets the key.
    pub fn forget_keys(&self) {
        self.rt.block_on(self.control.forget_keys());
    }

    /// A Stripe API read, as any client would make it; the JSON answer.
    pub fn api(&self, path_and_query: &str) -> Value {
        self.rt.block_on(async {
            let response = self
                .http
                .get(format!("{}{path_and_query}", self.base))
                .bearer_auth(API_KEY)
                .send()
                .await
                .expect("the sandbox answers");
            assert!(response.status().is_success(), "{path_and_query}");
            response.json().await.expect("json")
        })
    }

    fn list(&self, path_and_query: &str) -> Vec<Value> {
        let page = self.api(path_and_query);
        assert_eq!(page["has_more"], json!(false), "{path_and_query}: one page");
        page["data"].as_array().expect("data").clone()
    }

    /// What the action of `kind` made at the gateway: the refunds of the surplus charge,
    /// or the payment intents of the re-charged customer that Chargeguard created (they
    /// carry an idempotency key in their metadata; the declined one does not).
    pub fn made(&self, kind: Kind) -> Vec<Value> {
        match kind {
            Kind::Refund => self.list(&format!(
                "/v1/refunds?charge={}&limit=100",
                self.surplus_charge
            )),
            Kind::Recharge => self
                .list(&format!(
                    "/v1/payment_intents?customer={RECHARGE_CUSTOMER}&limit=100"
                ))
                .into_iter()
                .filter(|pi| !pi["metadata"]["idempotency_key"].is_null())
                .collect(),
        }
    }

    /// Exactly one refund or charge at the gateway, made under the action's key (nothing
    /// anywhere under another key), and the action says `succeeded` with that object.
    pub fn assert_done_exactly_once(&self, kind: Kind, id: i64) {
        self.done_once(kind, id, true);
    }

    /// The same, once the gateway has forgotten every key: it must not have learnt one
    /// since (nothing was sent after it forgot).
    pub fn assert_done_exactly_once_sending_nothing_since_keys_were_forgotten(
        &self,
        kind: Kind,
        id: i64,
    ) {
        self.done_once(kind, id, false);
    }

    fn done_once(&self, kind: Kind, id: i64, key_remembered: bool) {
        let action = self.action(id);
        let key = action["key"].as_str().expect("key");
        assert_eq!(action["state"], json!("succeeded"), "{action}");
        let made = self.made(kind);
        assert_eq!(made.len(), 1, "exactly one {}: {made:#?}", kind.stat());
        let object = &made[0];
        assert_eq!(object["metadata"]["idempotency_key"], json!(key));
        assert_eq!(action["gateway_object_id"], object["id"], "{action}");
        match kind {
            Kind::Refund => {
                assert_eq!(object["amount"], json!(REFUND_MINOR));
                assert_eq!(object["status"], json!("succeeded"));
                let charge = self.api(&format!("/v1/charges/{}", self.surplus_charge));
                assert_eq!(charge["amount_refunded"], json!(REFUND_MINOR));
                let kept = self.api(&format!("/v1/charges/{}", self.kept_charge));
                assert_eq!(
                    kept["amount_refunded"],
                    json!(0),
                    "the kept charge is untouched"
                );
            }
            Kind::Recharge => {
                assert_eq!(object["amount"], json!(RECHARGE_MINOR));
                assert_eq!(object["status"], json!("succeeded"));
                let paid: Vec<Value> = self
                    .list(&format!(
                        "/v1/charges?customer={RECHARGE_CUSTOMER}&limit=100"
                    ))
                    .into_iter()
                    .filter(|c| c["status"] == json!("succeeded"))
                    .collect();
                assert_eq!(paid.len(), 1, "one succeeded charge for INV-2: {paid:#?}");
                assert_eq!(
                    paid[0]["metadata"]["invoice_number"],
                    json!(RECHARGE_INVOICE)
                );
                assert_eq!(paid[0]["amount"], json!(RECHARGE_MINOR));
            }
        }
        if key_remembered {
            self.assert_nothing_under_another_key(key);
        } else {
            self.assert_made_only_under(key);
            assert_eq!(
                self.stats()["idempotency_keys"],
                json!(0),
                "nothing was sent"
            );
        }
    }

    /// Every object at the gateway that carries an idempotency key carries `key`, and the
    /// one key the gateway remembers is `key`: nothing was ever sent under another.
    pub fn assert_nothing_under_another_key(&self, key: &str) {
        self.assert_made_only_under(key);
        let keys = self.stats()["idempotency_keys"].as_i64().expect("count");
        assert_eq!(keys, 1, "the gateway remembers {keys} idempotency keys");
        assert!(
            self.gateway_remembers(key),
            "the one key the gateway remembers is not the journal's {key}"
        );
    }

    /// Every object at the gateway that carries an idempotency key in its metadata carries
    /// `key`.
    pub fn assert_made_only_under(&self, key: &str) {
        for path in ["/v1/refunds?limit=100", "/v1/payment_intents?limit=100"] {
            for object in self.list(path) {
                let carried = &object["metadata"]["idempotency_key"];
                assert!(
                    carried.is_null() || carried == &json!(key),
                    "{} was made under another key: {object:#}",
                    object["id"]
                );
            }
        }
    }

    /// Whether the gateway remembers idempotency key `key`, asked without an effect: a
    /// create under `key` for a charge that does not exist. A remembered key is refused as
    /// reused with other parameters (or on another endpoint) before anything runs; an
    /// unknown key runs the create, which finds no such charge and is not remembered.
    pub fn gateway_remembers(&self, key: &str) -> bool {
        self.rt.block_on(async {
            let response = self
                .http
                .post(format!("{}/v1/refunds", self.base))
                .bearer_auth(API_KEY)
                .header("Idempotency-Key", key)
                .form(&[("charge", "ch_probeThatDoesNotExist")])
                .send()
                .await
                .expect("the sandbox answers");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("json");
            match (status, body["error"]["type"].as_str()) {
                (400, Some("idempotency_error")) => true,
                (404, _) => false,
                other => panic!("unexpected answer to the key probe: {other:?} {body}"),
            }
        })
    }
}

/// A `chargeguard execute` running in the background.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Waits until the process prints a line containing `marker` on standard error.
    pub fn wait_for_line(&mut self, marker: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(marker);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no line with {marker:?} in time; stderr so far: {:#?}",
                        self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().expect("wait");
                    panic!(
                        "the process ended ({status}) without printing {marker:?}; stderr: {:#?}",
                        self.seen
                    )
                }
            }
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// SIGKILL, then reap it (a zombie would still look alive to recovery). Asserts the
    /// kill is what ended it: it had not finished on its own.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let status: ExitStatus = self.child.wait().expect("reap");
        assert_eq!(
            status.signal(),
            Some(9),
            "the process was not killed mid-way but ended {status}; stderr: {:#?}",
            self.seen
        );
    }

    /// Waits for the process to end by itself; its exit code and whole standard output.
    pub fn finish(mut self) -> (i32, String) {
        let mut stdout = String::new();
        use std::io::Read;
        self.child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut stdout)
            .expect("read stdout");
        let status = self.child.wait().expect("wait");
        (status.code().expect("exit code"), stdout)
    }
}

/// Polls `condition` until it holds, failing the test after [`PATIENCE`].
pub fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    harness::wait_until_within(what, PATIENCE, condition)
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}
