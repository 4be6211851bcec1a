//! What the accounting systems' CLI tests share: a sandbox serving Stripe and both
//! stand-ins, a store in a temporary folder, `chargeguard` run as a user, `books connect`
//! with its consent answered as a browser would, and reading what the store holds.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Output, Stdio};

use chargeguard::sandbox::{self, RunningSandbox, SandboxConfig};
use chargeguard::secret::Keyring;
use chargeguard::store::Store;
use serde_json::{Value, json};

#[path = "../harness/mod.rs"]
pub mod harness;

pub const STRIPE_KEY: &str = "sk_test_booksTestsSecretValue9Q7";

/// The OS keyring, or `None` (the test says why and checks nothing) where no Secret Service
/// answers; inside `scripts/with-keyring.sh` a missing one fails the test.
pub fn keyring_or_skip(test: &str) -> Option<Keyring> {
    match Keyring::open() {
        Ok(k) => Some(k),
        Err(e) if std::env::var_os("CHARGEGUARD_IN_KEYRING_SESSION").is_some() => {
            panic!("{test}: scripts/with-keyring.sh started a keyring, yet none answers: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: no Secret Service reachable ({e})");
            None
        }
    }
}

pub struct World {
    pub sandbox: RunningSandbox,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub runtime: tokio::runtime::Runtime,
    /// The QuickBooks company the tests use, when one was added.
    pub realm: String,
}

impl World {
    pub fn new() -> World {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sandbox = runtime
            .block_on(sandbox::start(SandboxConfig::new(
                dir.path().join("sandbox"),
            )))
            .unwrap();
        World {
            sandbox,
            dir,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            runtime,
            realm: String::new(),
        }
    }

    pub fn base(&self) -> String {
        self.sandbox.base_url()
    }

    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("cg.db")
    }

    pub fn post(&self, path: &str, body: Value) -> Value {
        self.runtime.block_on(async {
            let answer = self
                .http
                .post(format!("{}{path}", self.base()))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = answer.status();
            let text = answer.text().await.unwrap();
            assert!(status.is_success(), "{path}: {status} {text}");
            serde_json::from_str(&text).unwrap_or(Value::Null)
        })
    }

    /// What a consent page does when the person allows access: the redirect.
    pub fn consent(&self, url: &str) -> String {
        self.runtime.block_on(async {
            let answer = self.http.get(url).send().await.unwrap();
            assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
            answer.headers()["location"].to_str().unwrap().to_string()
        })
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        let mut command = harness::cli(self.dir.path());
        command
            .arg("--db")
            .arg(self.db())
            .args(args)
            .env("CHARGEGUARD_API_KEY", STRIPE_KEY);
        harness::run_with_stdin(command, None)
    }

    /// `books connect ARGS`, the consent answered in between (the address printed
    /// first is opened, its redirect pasted back).
    pub fn connect(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = harness::cli(self.dir.path());
        command
            .arg("--db")
            .arg(self.db())
            .args(["books", "connect"])
            .args(args)
            .args(["--base", &self.base()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        stdout.read_line(&mut url).unwrap();
        assert!(url.starts_with(&self.base()), "the consent address: {url}");
        let redirect = self.consent(url.trim());
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{redirect}").unwrap();
        drop(stdin);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        let mut out = child.wait_with_output().unwrap();
        out.stdout = format!("{url}{rest}").into_bytes();
        out
    }
}

/// Stripe charges (each `invoice_number` metadata), their ids in order.
pub fn stripe_charges(world: &World, invoices: &[(&str, i64)]) -> Vec<String> {
    let now = jiff::Timestamp::now().as_second();
    let list: Vec<Value> = invoices
        .iter()
        .enumerate()
        .map(|(i, (number, amount))| {
            json!({"amount": amount, "currency": "usd", "created": now - 86_400 + i as i64 * 60,
                   "customer": "cus_wilma", "metadata": {"invoice_number": number}})
        })
        .collect();
    let seeded = world.post("/_sandbox/seed", json!({ "charges": list }));
    seeded["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The open findings as (kind, invoice), sorted.
pub fn open_findings(world: &World) -> Vec<(String, String)> {
    let listed: Value =
        serde_json::from_str(&harness::ok(&world.cli(&["--json", "findings"]))).unwrap();
    let mut out: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "open")
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["invoice_number"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

pub fn invoice_numbers(db: &Path) -> Vec<String> {
    let mut store = Store::open(db).unwrap();
    store
        .read(|tx| tx.invoices())
        .unwrap()
        .into_iter()
        .map(|i| i.number)
        .collect()
}

pub fn ledger_ids(db: &Path) -> Vec<String> {
    let mut store = Store::open(db).unwrap();
    let mut ids: Vec<String> = store
        .read(|tx| tx.ledger_entries())
        .unwrap()
        .into_iter()
        .map(|e| e.payment_id)
        .collect();
    ids.sort();
    ids
}

/// Runs `chargeguard books sync --page-size 5` and kills it with SIGKILL once it has
/// committed `pages` pages of `kind` (as its progress lines say); how many it saw.
pub fn sync_killed_after_pages(world: &World, kind: &str, pages: usize) -> usize {
    let mut child = harness::cli(world.dir.path())
        .arg("--db")
        .arg(world.db())
        .args(["books", "sync", "--page-size", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if line.unwrap().starts_with(&format!("{kind}: page")) {
            seen += 1;
            if seen == pages {
                break;
            }
        }
    }
    // SIGKILL: no destructor, no rollback hook.
    child.kill().unwrap();
    child.wait().unwrap();
    seen
}

/// Disarms every fault of the sandbox.
pub fn disarm(world: &World) {
    world.runtime.block_on(async {
        let answer = world
            .http
            .delete(format!("{}/_sandbox/faults", world.base()))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    });
}

/// How many objects of `kind` a sync's progress lines say it read.
pub fn read_on_resuming(output: &str, kind: &str) -> usize {
    output
        .lines()
        .rfind(|l| l.starts_with(&format!("{kind}: page")))
        .and_then(|l| l.split('(').nth(1)?.split(' ').next()?.parse().ok())
        .expect("progress lines")
}
