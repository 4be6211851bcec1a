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

    pub fn delete(&self, path: &str) -> Value {
        self.runtime.block_on(async {
            let answer = self
                .http
                .delete(format!("{}{path}", self.base()))
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

    /// `chargeguard --db STORE ARGS`, not yet started.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = harness::cli(self.dir.path());
        command
            .arg("--db")
            .arg(self.db())
            .args(args)
            .env("CHARGEGUARD_API_KEY", STRIPE_KEY);
        command
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        harness::run_with_stdin(self.command(args), None)
    }

    /// `chargeguard ARGS` with `input` on standard input (a passphrase).
    pub fn cli_with_stdin(&self, args: &[&str], input: &str) -> Output {
        harness::run_with_stdin(self.command(args), Some(input))
    }

    /// `books connect ARGS`, the consent answered in between (the address printed
    /// first is opened, its redirect pasted back).
    pub fn connect(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.connect_answering(args, env, |_, redirect, stdin| {
            writeln!(stdin.take().unwrap(), "{redirect}").unwrap();
        })
    }

    /// `books connect ARGS --listen` on a free loopback port: the consent address it
    /// prints is opened, and the browser follows the consent's redirect back to it, as a
    /// desktop browser does; the command's output, and the page the browser was shown.
    pub fn connect_listening(&self, args: &[&str], env: &[(&str, &str)]) -> (Output, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");
        let mut args = args.to_vec();
        args.extend(["--listen", "--redirect-uri", &redirect_uri]);
        let mut page = String::new();
        let out = self.connect_answering(&args, env, |world, back, _stdin| {
            assert!(back.starts_with(&redirect_uri), "{back}");
            page = world.runtime.block_on(async {
                let answer = world.http.get(back).send().await.unwrap();
                assert_eq!(answer.status(), 200);
                answer.text().await.unwrap()
            });
        });
        (out, page)
    }

    /// Runs `books connect ARGS`, opens the consent address it prints first, and lets
    /// `answer` take the address the consent redirected to (and the command's input).
    fn connect_answering(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        mut answer: impl FnMut(&World, &str, &mut Option<std::process::ChildStdin>),
    ) -> Output {
        let mut command = self.command(&["books", "connect"]);
        command
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
        let mut stdin = child.stdin.take();
        answer(self, &redirect, &mut stdin);
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
    let mut child = world
        .command(&["books", "sync", "--page-size", "5"])
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

// ---- QuickBooks ----

pub const CLIENT_SECRET: &str = "cg-app-secret-never-printed";

/// A world with the QuickBooks company the tests use.
pub fn qbo_world() -> World {
    let mut world = World::new();
    let company = world.post(
        "/_sandbox/qbo/companies",
        json!({"realm": "4620816365", "currency": "USD", "zone": "America/New_York"}),
    );
    world.realm = company["realm"]
        .as_str()
        .unwrap_or("4620816365")
        .to_string();
    world
}

/// `books connect quickbooks`, the consent answered in between.
pub fn connect_qbo(world: &World) -> Output {
    world.connect(
        &["quickbooks", "--client-id", "cg-desktop"],
        &[("CHARGEGUARD_QBO_CLIENT_SECRET", CLIENT_SECRET)],
    )
}

/// What a person does in QuickBooks, through the test's own grant.
pub trait QboAdmin {
    fn admin_token(&self) -> String;
    fn qbo_read(&self, token: &str, entity: &str, id: &str) -> Value;
    fn qbo(&self, token: &str, path_and_query: &str, body: Value) -> Value;
    /// The rows of one `select`, as QuickBooks answers it.
    fn qbo_query(&self, token: &str, select: &str) -> Vec<Value>;
}

impl QboAdmin for World {
    /// A token of the test's own (another app), to change the company's books as a person
    /// in QuickBooks would.
    fn admin_token(&self) -> String {
        let url = format!(
            "{}/connect/oauth2?client_id=admin&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=http://localhost/cb&state=s",
            self.base()
        );
        let redirect = self.consent(&url);
        let code = form_urlencoded::parse(redirect.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        self.runtime.block_on(async {
            let tokens: Value = self
                .http
                .post(format!("{}/oauth2/v1/tokens/bearer", self.base()))
                .basic_auth("admin", Some("admin-secret"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", "http://localhost/cb"),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            tokens["access_token"].as_str().unwrap().to_string()
        })
    }

    /// One object as QuickBooks holds it now (its `SyncToken` for an update).
    fn qbo_read(&self, token: &str, entity: &str, id: &str) -> Value {
        self.runtime.block_on(async {
            let body: Value = self
                .http
                .get(format!(
                    "{}/v3/company/{}/{entity}/{id}",
                    self.base(),
                    self.realm
                ))
                .bearer_auth(token)
                .header("Accept", "application/json")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body.as_object()
                .unwrap()
                .values()
                .find(|v| v["Id"] == id)
                .cloned()
                .unwrap_or(body)
        })
    }

    fn qbo(&self, token: &str, path_and_query: &str, body: Value) -> Value {
        self.runtime.block_on(async {
            let answer = self
                .http
                .post(format!(
                    "{}/v3/company/{}/{path_and_query}",
                    self.base(),
                    self.realm
                ))
                .bearer_auth(token)
                .header("Accept", "application/json")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = answer.status();
            let body: Value = answer.json().await.unwrap();
            assert!(status.is_success(), "{path_and_query}: {status} {body}");
            body
        })
    }

    fn qbo_query(&self, token: &str, select: &str) -> Vec<Value> {
        self.runtime.block_on(async {
            let answer: Value = self
                .http
                .post(format!("{}/v3/company/{}/query", self.base(), self.realm))
                .bearer_auth(token)
                .header("Accept", "application/json")
                .header("Content-Type", "application/text")
                .body(select.to_string())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let rows = answer["QueryResponse"]
                .as_object()
                .and_then(|r| r.values().find_map(|v| v.as_array().cloned()));
            rows.unwrap_or_default()
        })
    }
}
