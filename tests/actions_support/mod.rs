//! Shared by the guarded-action tests: a world of one real store file, one sandbox gateway
//! on a free loopback port (served by its own tokio runtime, so the tests stay plain
//! threads), and the real `chargeguard` binary run against both, as a bookkeeper would.
//!
//! Nothing here waits by sleeping: a child is awaited, a marker line is read, or a
//! condition (a state in the store, a count at the sandbox) is polled with a deadline.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chargeguard::sandbox::{self, RunningSandbox, SandboxConfig};
use serde_json::{Value, json};

#[path = "../harness/mod.rs"]
mod harness;
#[allow(unused_imports)]
pub use harness::{ok, refused};
pub const KEY: &str = "sk_test_actionsTestsKey";
pub const PASSPHRASE: &str = "correct horse battery";
/// The `created` time of seeded charges is counted back from here.
pub const HOUR: i64 = 3600;

/// One store, one sandbox, one temporary folder.
pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub sandbox: Option<RunningSandbox>,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub base: String,
    http: reqwest::Client,
    control: harness::SandboxControl,
    files: AtomicU64,
    /// Global flags for every command (`--http-timeout 1` for the fault tests).
    pub flags: Vec<String>,
}

impl World {
    /// A sandbox and an empty store connected to it, in the system's temporary folder.
    pub fn new() -> World {
        World::new_in(None)
    }

    /// The same under `base` (the soak uses a memory-backed folder when there is one:
    /// still real SQLite files, without a disk flush per commit).
    pub fn new_in(base: Option<&Path>) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = match base {
            Some(base) => tempfile::Builder::new()
                .prefix("chargeguard-")
                .tempdir_in(base),
            None => tempfile::tempdir(),
        }
        .expect("temp dir");
        let running = rt
            .block_on(sandbox::start(SandboxConfig::new(
                dir.path().join("sandbox"),
            )))
            .expect("sandbox starts");
        let base = running.base_url();
        let world = World {
            rt,
            sandbox: Some(running),
            db: dir.path().join("cg.db"),
            dir,
            control: harness::SandboxControl::new(&base),
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            files: AtomicU64::new(0),
            flags: vec!["--http-timeout".into(), "2".into()],
        };
        ok(&world.cg(&["connect", "--api-base", &world.base.clone()]));
        world
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = harness::cli(self.dir.path());
        cmd.arg("--db")
            .arg(&self.db)
            .args(&self.flags)
            .args(args)
            .env("CHARGEGUARD_API_KEY", KEY);
        cmd
    }

    /// Runs `chargeguard --db DB ARGS` to the end.
    pub fn cg(&self, args: &[&str]) -> Output {
        self.cg_with(args, None, &[])
    }

    /// Runs it with `stdin` (a passphrase) and extra environment variables.
    pub fn cg_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut child = self.spawn(args, env);
        if let Some(text) = stdin {
            let _ = child
                .stdin
                .take()
                .expect("stdin")
                .write_all(format!("{text}\n").as_bytes());
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("chargeguard runs")
    }

    /// Starts `chargeguard --db DB ARGS` and returns at once.
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn chargeguard")
    }

    // ---- the sandbox, from outside the client under test ----

    pub fn seed(&self, body: Value) -> Value {
        self.rt.block_on(self.control.seed(body))
    }

    pub fn arm(&self, fault: Value) {
        self.rt.block_on(self.control.arm(fault))
    }

    pub fn disarm(&self) {
        self.rt.block_on(self.control.disarm())
    }

    pub fn stats(&self) -> Value {
        self.rt.block_on(self.control.stats())
    }

    pub fn stat(&self, name: &str) -> i64 {
        self.stats()[name].as_i64().unwrap_or(0)
    }

    /// Every object of a list endpoint (`/v1/refunds`, `/v1/charges?customer=…`), all pages.
    pub fn list_all(&self, path: &str) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let mut url = format!("{}{path}{sep}limit=100", self.base);
            if let Some(a) = &after {
                url.push_str(&format!("&starting_after={a}"));
            }
            let page: Value = self.rt.block_on(async {
                let response = self
                    .http
                    .get(&url)
                    .bearer_auth(KEY)
                    .send()
                    .await
                    .expect("list");
                assert!(response.status().is_success(), "GET {url}");
                response.json().await.expect("list json")
            });
            let data = page["data"].as_array().cloned().unwrap_or_default();
            after = data
                .last()
                .and_then(|o| o["id"].as_str())
                .map(str::to_string);
            out.extend(data);
            if page["has_more"] != json!(true) || after.is_none() {
                return out;
            }
        }
    }

    /// `POST path` at the sandbox as Stripe's dashboard or another client would (closing a
    /// dispute, submitting its evidence); the answer's JSON, which must be a success.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let url = format!("{}{path}", self.base);
        self.rt.block_on(async {
            let response = self
                .http
                .post(&url)
                .bearer_auth(KEY)
                .form(form)
                .send()
                .await
                .expect("post");
            let status = response.status();
            let body: Value = response.json().await.expect("json");
            assert!(status.is_success(), "POST {url}: {body}");
            body
        })
    }

    // ---- the books ----

    fn write_file(&self, stem: &str, text: &str) -> PathBuf {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("{stem}-{n}.csv"));
        std::fs::write(&path, text).expect("write csv");
        path
    }

    /// Imports invoices: `(number, customer, amount "49.00", status, order_ref)`.
    pub fn import_invoices(&self, rows: &[Invoice<'_>]) {
        self.import_invoices_in(rows, "USD");
    }

    /// [`World::import_invoices`] in `currency` (an ISO 4217 code).
    pub fn import_invoices_in(&self, rows: &[Invoice<'_>], currency: &str) {
        let mut text = String::from(
            "invoice_number,customer_id,amount,currency,issued_at,due_at,status,order_ref\n",
        );
        for i in rows {
            text.push_str(&format!(
                "{},{},{},{currency},2026-01-05,2026-02-05,{},{}\n",
                i.number,
                i.customer,
                i.amount,
                i.status,
                i.order_ref.unwrap_or("")
            ));
        }
        let path = self.write_file("invoices", &text);
        ok(&self.cg(&["import", "invoices", path.to_str().unwrap()]));
    }

    /// Imports ledger rows: `(payment id, invoice, kind, amount, gateway id)`.
    pub fn import_payments(&self, rows: &[Payment<'_>]) {
        self.import_payments_in(rows, "USD");
    }

    /// [`World::import_payments`] in `currency` (an ISO 4217 code).
    pub fn import_payments_in(&self, rows: &[Payment<'_>], currency: &str) {
        let mut text =
            String::from("payment_id,invoice_number,kind,amount,currency,recorded_at,gateway_id\n");
        for p in rows {
            text.push_str(&format!(
                "{},{},{},{},{currency},2026-01-06T10:00:00Z,{}\n",
                p.id,
                p.invoice,
                p.kind,
                p.amount,
                p.gateway_id.unwrap_or("")
            ));
        }
        let path = self.write_file("payments", &text);
        ok(&self.cg(&["import", "payments", path.to_str().unwrap()]));
    }

    /// `sync` then `reconcile`.
    pub fn sync_and_reconcile(&self) {
        ok(&self.cg(&["sync"]));
        ok(&self.cg(&["reconcile"]));
    }

    pub fn findings(&self) -> Vec<Value> {
        json_of(&ok(&self.cg(&["--json", "findings"])))
    }

    /// The one finding of `kind` about `invoice`.
    pub fn finding(&self, kind: &str, invoice: &str) -> Value {
        let all = self.findings();
        let found: Vec<&Value> = all
            .iter()
            .filter(|f| f["kind"] == kind && f["invoice_number"] == invoice)
            .collect();
        assert_eq!(found.len(), 1, "one {kind} finding for {invoice}: {all:#?}");
        found[0].clone()
    }

    pub fn actions(&self) -> Vec<Value> {
        json_of(&ok(&self.cg(&["--json", "actions"])))
    }

    pub fn action(&self, id: i64) -> Value {
        self.actions()
            .into_iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("no action {id}"))
    }

    /// An action's state, read straight from the store file (cheap enough to poll).
    pub fn action_state(&self, id: i64) -> String {
        state_in(&self.db, id).unwrap_or_default()
    }

    pub fn audit_log(&self) -> Vec<Value> {
        json_of(&ok(&self.cg(&["--json", "audit", "log"])))
    }

    /// Adds a person with the tests' passphrase: alice, the first approver, freely; anyone
    /// else vouched for by alice.
    pub fn add_user(&self, name: &str, role: &str) {
        if name == "alice" {
            ok(&self.cg_with(
                &["user", "add", name, "--role", role],
                Some(PASSPHRASE),
                &[],
            ));
        } else {
            let both = format!("{PASSPHRASE}\n{PASSPHRASE}");
            ok(&self.cg_with(
                &["user", "add", name, "--role", role, "--by", "alice"],
                Some(&both),
                &[],
            ));
        }
    }

    pub fn approve(&self, id: i64, by: &str) -> Output {
        self.cg_with(
            &["approve", &id.to_string(), "--by", by],
            Some(PASSPHRASE),
            &[],
        )
    }

    /// `propose FINDING` → the new action's id.
    pub fn propose(&self, finding_id: i64) -> i64 {
        id_of(&ok(&self.cg(&["propose", &finding_id.to_string()])))
    }

    pub fn recharge(&self, invoice: &str) -> Output {
        self.cg(&["recharge", invoice])
    }

    /// Polls `condition` every few milliseconds until it holds or `within` passes.
    pub fn wait_until(&self, what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
        wait_until(what, within, &mut condition)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(running) = self.sandbox.take() {
            let _ = self.rt.block_on(running.shutdown());
        }
    }
}

pub fn wait_until(what: &str, within: Duration, condition: &mut dyn FnMut() -> bool) {
    harness::wait_until_within(what, within, condition)
}

/// An action's state through a store opened for the read (a deferred transaction, so
/// polling never holds the writer's lock).
pub fn state_in(db: &Path, id: i64) -> Option<String> {
    let mut store = chargeguard::store::Store::open(db).ok()?;
    store
        .read(|tx| tx.action(id))
        .ok()
        .flatten()
        .map(|a| a.state.to_string())
}

#[derive(Debug, Clone, Copy)]
pub struct Invoice<'a> {
    pub number: &'a str,
    pub customer: &'a str,
    pub amount: &'a str,
    pub status: &'a str,
    pub order_ref: Option<&'a str>,
}

#[derive(Debug, Clone, Copy)]
pub struct Payment<'a> {
    pub id: &'a str,
    pub invoice: &'a str,
    pub kind: &'a str,
    pub amount: &'a str,
    pub gateway_id: Option<&'a str>,
}

pub fn json_of(text: &str) -> Vec<Value> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub fn id_of(stdout: &str) -> i64 {
    stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not an id: {stdout:?}"))
}

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Refunds at the sandbox whose metadata carries `key`.
pub fn with_key<'a>(objects: &'a [Value], key: &str) -> Vec<&'a Value> {
    objects
        .iter()
        .filter(|o| o["metadata"]["idempotency_key"] == key)
        .collect()
}
