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

    /// The refunds Stripe (the sandbox) holds for `charge`.
    pub fn stripe_refunds_of(&self, charge: &str) -> Vec<Value> {
        self.runtime.block_on(async {
            let answer = self
                .http
                .get(format!("{}/v1/refunds", self.base()))
                .query(&[("charge", charge), ("limit", "100")])
                .bearer_auth(STRIPE_KEY)
                .send()
                .await
                .unwrap();
            let body: Value = answer.json().await.unwrap();
            body["data"].as_array().cloned().expect("a list of refunds")
        })
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

    /// The access token of the test's own app ("admin"), consented at `authorize` and
    /// exchanged at the stand-in's `token_path`: a person working in the books.
    pub fn admin_access_token(&self, authorize: &str, token_path: &str) -> String {
        self.runtime.block_on(harness::admin_access_token(
            authorize,
            &format!("{}{token_path}", self.base()),
        ))
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

/// Invoice `number` as the store holds it.
pub fn stored_invoice(db: &Path, number: &str) -> chargeguard::records::Invoice {
    let mut store = Store::open(db).unwrap();
    store
        .read(|tx| tx.invoices_numbered(&[number]))
        .unwrap()
        .pop()
        .unwrap_or_else(|| panic!("invoice {number} in the store"))
}

/// The ledger's refunds.
pub fn ledger_refunds(db: &Path) -> Vec<chargeguard::records::LedgerEntry> {
    let mut store = Store::open(db).unwrap();
    store
        .read(|tx| tx.ledger_entries())
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == chargeguard::records::LedgerKind::Refund)
        .collect()
}

/// Chargeguard's own adjustments (ledger fixes entered by hand), as `KIND INVOICE`, sorted.
pub fn adjustment_kinds(db: &Path) -> Vec<String> {
    let mut store = Store::open(db).unwrap();
    let mut kinds: Vec<String> = store
        .read(|tx| tx.adjustments())
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a.adjustment.kind.as_str(),
                a.adjustment.invoice_number
            )
        })
        .collect();
    kinds.sort();
    kinds
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

    /// Seeds the company with `rows` of one kind (`customers`, `invoices`, `payments`):
    /// their ids in QuickBooks.
    fn qbo_seeded(&self, kind: &str, rows: Value) -> Vec<String>;
}

impl QboAdmin for World {
    fn qbo_seeded(&self, kind: &str, rows: Value) -> Vec<String> {
        let entity = match kind {
            "customers" => "Customer",
            "invoices" => "Invoice",
            "payments" => "Payment",
            other => panic!("the stand-in seeds no {other}"),
        };
        let seeded = self.post(
            "/_sandbox/qbo/seed",
            json!({"realm": self.realm, kind: rows}),
        );
        seeded[entity]
            .as_array()
            .unwrap_or_else(|| panic!("seeded {kind}: {seeded}"))
            .iter()
            .map(|id| id.as_str().unwrap().to_string())
            .collect()
    }

    /// A token of the test's own (another app), to change the company's books as a person
    /// in QuickBooks would.
    fn admin_token(&self) -> String {
        let url = format!(
            "{}/connect/oauth2?client_id=admin&response_type=code&scope=com.intuit.quickbooks.accounting&redirect_uri=http://localhost/cb&state=s",
            self.base()
        );
        self.admin_access_token(&url, "/oauth2/v1/tokens/bearer")
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

/// `books connect xero`, keeping the organisation `tenant` when given.
pub fn connect_xero(world: &World, tenant: Option<&str>) -> std::process::Output {
    let mut args = vec!["xero", "--client-id", "cg-desktop"];
    if let Some(t) = tenant {
        args.extend(["--tenant", t]);
    }
    world.connect(&args, &[])
}

/// A person working in Xero, through the test's own grant (another app).
pub struct XeroAdmin<'w> {
    world: &'w World,
    token: String,
    tenant: String,
}

impl<'w> XeroAdmin<'w> {
    pub fn of(world: &'w World, tenant_name: &str) -> XeroAdmin<'w> {
        let url = format!(
            "{}/identity/connect/authorize?response_type=code&client_id=admin&redirect_uri=http://localhost/cb&scope=offline_access%20accounting.transactions%20accounting.settings",
            world.base()
        );
        let token = world.admin_access_token(&url, "/connect/token");
        world.runtime.block_on(async {
            let connections: Value = world
                .http
                .get(format!("{}/connections", world.base()))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let tenant = connections
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["tenantName"] == tenant_name)
                .expect("the organisation is connected")["tenantId"]
                .as_str()
                .unwrap()
                .to_string();
            XeroAdmin {
                world,
                token,
                tenant,
            }
        })
    }

    /// A credit note of `amount` (exact text) to `contact`, its credit paid back in cash
    /// from account 090 under `reference`, as a person does it in Xero: the refund.
    pub fn refund_in_cash(&self, contact: &str, amount: &str, reference: &str) -> Value {
        let amount: Value = serde_json::from_str(amount).unwrap();
        let note = self.call(
            reqwest::Method::PUT,
            "CreditNotes",
            json!({"CreditNotes": [{"Type": "ACCRECCREDIT", "Contact": {"ContactID": contact},
                   "Status": "AUTHORISED", "Date": "2026-11-25",
                   "LineItems": [{"Description": "Refund", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200"}]}]}),
        )["CreditNotes"][0]["CreditNoteID"]
            .clone();
        self.call(
            reqwest::Method::PUT,
            "Payments",
            json!({"Payments": [{"CreditNote": {"CreditNoteID": note}, "Account": {"Code": "090"},
                   "Amount": amount, "Date": "2026-11-25", "Reference": reference}]}),
        )["Payments"][0]
            .clone()
    }

    pub fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.world.runtime.block_on(async {
            let answer = self
                .world
                .http
                .request(method, format!("{}/api.xro/2.0/{path}", self.world.base()))
                .bearer_auth(&self.token)
                .header("xero-tenant-id", &self.tenant)
                .header("accept", "application/json")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = answer.status();
            let body: Value = answer.json().await.unwrap();
            assert!(status.is_success(), "{path}: {status} {body}");
            body
        })
    }
}

pub const PASSPHRASE: &str = "correct horse battery staple";

/// Connects Stripe and the books (`connect`), syncs both, reconciles, and proposes and
/// approves the fix of `invoice`'s open finding of `kind`: the action's id.
pub fn synced_and_approved(
    world: &World,
    connect: impl Fn(&World) -> Output,
    invoice: &str,
    kind: &str,
) -> i64 {
    synced_and_approved_as(world, connect, invoice, kind, &[])
}

/// As `synced_and_approved`, the approval given with `approving` too (a heuristic match
/// checked: `--heuristic-checked`).
pub fn synced_and_approved_as(
    world: &World,
    connect: impl Fn(&World) -> Output,
    invoice: &str,
    kind: &str,
    approving: &[&str],
) -> i64 {
    harness::ok(&world.cli(&["connect", "--api-base", &world.base()]));
    harness::ok(&connect(world));
    harness::ok(&world.cli(&["sync"]));
    harness::ok(&world.cli(&["books", "sync"]));
    harness::ok(&world.cli(&["reconcile"]));
    let findings: Value =
        serde_json::from_str(&harness::ok(&world.cli(&["--json", "findings"]))).unwrap();
    let finding = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["invoice_number"] == invoice && f["status"] == "open")
        .unwrap_or_else(|| panic!("a finding about {invoice}: {findings}"));
    assert_eq!(finding["kind"], kind, "{finding}");
    world.cli_with_stdin(&["user", "add", "alice", "--role", "approver"], PASSPHRASE);
    let proposed = harness::ok(&world.cli(&["propose", &finding["id"].to_string()]));
    let action: i64 = proposed.trim().parse().expect("the new action's id");
    let id = action.to_string();
    let mut args = vec!["approve", &id, "--by", "alice"];
    args.extend_from_slice(approving);
    let approved = harness::ok(&world.cli_with_stdin(&args, PASSPHRASE));
    assert!(approved.contains("approved"), "{approved}");
    action
}

impl World {
    /// `recover` (calls may take a second) run until nothing is left unknown, or the
    /// harness's patience ends: a request nothing was found for is sent again only once
    /// it has had a call's time. Its last report.
    pub fn recovered(&self) -> Value {
        let deadline = std::time::Instant::now() + harness::PATIENCE;
        loop {
            let out = self.cli(&["--json", "--http-timeout", "1", "recover"]);
            // 3: some outcome is still not known.
            assert!(
                matches!(out.status.code(), Some(0 | 3)),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            if report["still_unknown"] == json!(0) || std::time::Instant::now() > deadline {
                return report;
            }
        }
    }

    /// A duplicate invoice undone in the books: the store shows `invoice` void at once, the
    /// next sync of the books finds nothing new, and reconcile leaves nothing open.
    pub fn assert_undone_and_clean(&self, invoice: &str) {
        assert_eq!(
            stored_invoice(&self.db(), invoice).status,
            chargeguard::records::InvoiceStatus::Void,
            "the store shows {invoice} void at once"
        );
        let again = harness::ok(&self.cli(&["books", "sync"]));
        assert!(again.contains("0 new ledger entries, 0 changed"), "{again}");
        harness::ok(&self.cli(&["sync"]));
        harness::ok(&self.cli(&["reconcile"]));
        let open = open_findings(self);
        assert!(open.is_empty(), "nothing left open: {open:?}");
    }

    /// `chargeguard execute ACTION` with `FAILPOINTS` armed, SIGKILLed once `point` is
    /// reached (no destructor, no rollback hook).
    pub fn killed_executing(&self, action: i64, point: &str) {
        let mut command = self.command(&["execute", &action.to_string()]);
        command
            .env("FAILPOINTS", format!("{point}=sleep(120000)"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let marker = format!("failpoint {point} reached");
        let mut seen = Vec::new();
        let mut reached = false;
        for line in BufReader::new(child.stderr.take().unwrap()).lines() {
            let line = line.unwrap();
            reached = line.contains(&marker);
            seen.push(line);
            if reached {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(reached, "{point} was never reached: {seen:#?}");
    }
}

/// A ledger fix being pushed to an accounting system, whichever it is: what the push
/// tests of both systems ask of it, and the trials they both run.
pub trait PushCase {
    fn world(&self) -> &World;
    fn action(&self) -> i64;
    /// The live payments in the system that carry the action's key.
    fn pushed(&self) -> Vec<Value>;
    /// After any path to the end: exactly one payment for the fix, and the store agrees.
    fn assert_pushed_once(&self);
    /// The path and method of the push's one write, where a fault is armed.
    fn write(&self) -> (String, &'static str);
    /// What `execute` says once done: "recorded in QuickBooks", "recorded in Xero".
    fn recorded_words(&self) -> &'static str;

    fn action_json(&self) -> Value {
        let all: Value =
            serde_json::from_str(&harness::ok(&self.world().cli(&["--json", "actions"]))).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == self.action())
            .cloned()
            .expect("the action")
    }

    fn key(&self) -> String {
        self.action_json()["key"].as_str().unwrap().to_string()
    }

    fn execute(&self) -> Output {
        self.world().cli(&["execute", &self.action().to_string()])
    }

    /// Executed, it says `says`; it is pushed once; a second execute (a double click, a
    /// second window) sends nothing.
    fn executed_once(&self, says: &str) {
        let done = harness::ok(&self.execute());
        assert!(done.contains(says), "{done}");
        self.assert_pushed_once();
        let again = harness::ok(&self.execute());
        assert!(again.contains("nothing was sent again"), "{again}");
        assert_eq!(self.pushed().len(), 1);
    }

    /// The next sync finds the pushed object already stored as it reads it, and reconcile
    /// leaves nothing open on `invoice`.
    fn assert_synced_and_clean(&self, invoice: &str) {
        let world = self.world();
        let again = harness::ok(&world.cli(&["books", "sync"]));
        assert!(
            again.contains("0 new ledger entries, 0 changed"),
            "the push is already in the store as the sync has it: {again}"
        );
        harness::ok(&world.cli(&["reconcile"]));
        let open = open_findings(world);
        assert!(
            !open.iter().any(|(_, n)| n == invoice),
            "nothing left open on {invoice}: {open:?}"
        );
    }

    /// SIGKILL at `point` with `sent` payments made by then; a restart's recovery settles
    /// it (found by its key, or the journaled request sent again), a second execute sends
    /// nothing, and one payment stands.
    fn killed_and_recovered(&self, point: &str, sent: usize) {
        self.world().killed_executing(self.action(), point);
        assert_eq!(self.action_json()["state"], "executing", "{point}");
        assert_eq!(self.pushed().len(), sent, "{point}");
        let report = self.world().recovered();
        assert_eq!(report["succeeded"], json!(1), "{point}: {report}");
        let again = harness::ok(&self.execute());
        assert!(again.contains("nothing was sent again"), "{point}: {again}");
        self.assert_pushed_once();
    }

    /// `fault` armed once on the push's write (held `hold_ms`), with a client that waits
    /// two seconds: the push ends with one payment, whether the fault struck before the
    /// system recorded it (sent again under the same key) or after (found by its key); a
    /// second recover or execute sends nothing.
    fn fault_ends_in_one_payment(
        &self,
        fault: &str,
        hold_ms: Option<u64>,
        recorded_at_once: usize,
    ) {
        let (path, method) = self.write();
        let mut armed = json!({"path": path, "method": method, "fault": fault, "times": 1});
        if let Some(h) = hold_ms {
            armed["hold_ms"] = json!(h);
        }
        self.world().post("/_sandbox/faults", armed);
        let id = self.action().to_string();
        let out = self.world().cli(&["--http-timeout", "2", "execute", &id]);
        let said = String::from_utf8_lossy(&out.stdout);
        // Nothing can tell a late answer from none: the action waits for recovery, unless
        // the fault let the answer through (slow) or a throttled call was made again.
        match out.status.code() {
            Some(0) => assert!(said.contains(self.recorded_words()), "{fault}: {said}"),
            Some(3) => {
                assert!(said.contains("chargeguard recover"), "{fault}: {said}");
                assert_eq!(self.pushed().len(), recorded_at_once, "{fault}");
                let report = self.world().recovered();
                assert_eq!(report["succeeded"], json!(1), "{fault}: {report}");
            }
            other => panic!(
                "{fault}: exit {other:?}: {said} {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
        let again: Value =
            serde_json::from_str(&harness::ok(&self.world().cli(&["--json", "recover"]))).unwrap();
        assert_eq!(again["examined"], json!(0), "{fault}: {again}");
        let done = harness::ok(&self.execute());
        assert!(done.contains("nothing was sent again"), "{fault}: {done}");
        self.assert_pushed_once();
    }
}
