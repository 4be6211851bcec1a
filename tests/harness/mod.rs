//! What every test binary shares, whatever it tests: the `chargeguard` binary run as a user
//! with nothing set up, reading a command's outcome, the sandbox's control routes (seed,
//! faults, stats) as a test drives them from outside the client under test, and waiting
//! for a condition with a deadline (never a fixed sleep).
//! The support modules beside it (`actions_support`, `kill_support`, …) build their
//! worlds on these and re-export them; a test includes one support module, never this
//! directly.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The command-line program under test, as Cargo built it for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_chargeguard");

/// `chargeguard`, run in `dir` as a user with nothing set up: its own home and data
/// folder, and nothing from the test's own environment that would steer it (a store, a
/// data folder, a key, crash points, a log filter). The caller adds `--db`, a key or
/// `FAILPOINTS` to the returned command.
pub fn cli(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("CHARGEGUARD_DB")
        .env_remove("CHARGEGUARD_DATA_DIR")
        .env_remove("CHARGEGUARD_API_KEY")
        .env_remove("FAILPOINTS")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    command
}

/// Runs `command` to the end, writing `stdin` (a passphrase, a line) to it first.
pub fn run_with_stdin(mut command: Command, stdin: Option<&str>) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chargeguard");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        // A program that exits before reading (a refusal) closes the pipe: not our failure.
        let _ = input.write_all(text.as_bytes());
    }
    drop(input);
    child.wait_with_output().expect("chargeguard runs")
}

/// The sandbox's control routes (`/_sandbox/…`), driven from outside the client under test
/// the way the fault and crash tests arm it: seed objects, arm and disarm faults, read its
/// counters, make it forget idempotency keys as Stripe does after 24 hours.
#[derive(Debug, Clone)]
pub struct SandboxControl {
    http: reqwest::Client,
    base: String,
}

impl SandboxControl {
    pub fn new(base: &str) -> SandboxControl {
        SandboxControl {
            http: reqwest::Client::builder()
                .timeout(PATIENCE)
                .build()
                .expect("http client"),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status();
        let text = response.text().await.expect("the sandbox's answer");
        assert!(status.is_success(), "{path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Seeds customers, charges, … (`POST /_sandbox/seed`); the ids it made.
    pub async fn seed(&self, body: Value) -> Value {
        self.call(reqwest::Method::POST, "/_sandbox/seed", Some(&body))
            .await
    }

    /// Arms a fault (`{"path", "method"?, "fault", "times"?, "hold_ms"?}`).
    pub async fn arm(&self, fault: Value) {
        self.call(reqwest::Method::POST, "/_sandbox/faults", Some(&fault))
            .await;
    }

    /// The faults armed now, with the times each has left (`GET /_sandbox/faults`).
    pub async fn armed(&self) -> Value {
        self.call(reqwest::Method::GET, "/_sandbox/faults", None)
            .await
    }

    /// Disarms every fault.
    pub async fn disarm(&self) {
        self.call(reqwest::Method::DELETE, "/_sandbox/faults", None)
            .await;
    }

    /// The sandbox's counters (objects made, requests answered, …).
    pub async fn stats(&self) -> Value {
        self.call(reqwest::Method::GET, "/_sandbox/stats", None)
            .await
    }

    /// Runs Stripe's automatic payout schedule now (`POST /_sandbox/payouts`): `{}` pays
    /// out every currency's balance, arrived; the payouts made.
    pub async fn payouts(&self, run: Value) -> Value {
        self.call(reqwest::Method::POST, "/_sandbox/payouts", Some(&run))
            .await
    }

    /// What Stripe does 24 hours after a request: it forgets the key.
    pub async fn forget_keys(&self) {
        self.call(reqwest::Method::DELETE, "/_sandbox/idempotency_keys", None)
            .await;
    }
}

/// How long a test waits for something that should happen before it calls it a failure.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The access token of the tests' own app ("admin") at a stand-in: its consent page at
/// `authorize` answered as a browser would, the code exchanged at `token_url`. A person
/// working in the books, through a grant that is not Chargeguard's.
pub async fn admin_access_token(authorize: &str, token_url: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = http.get(authorize).send().await.unwrap();
    assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
    let redirect = answer.headers()["location"].to_str().unwrap().to_string();
    let code = form_urlencoded::parse(redirect.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: Value = http
        .post(token_url)
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
}

/// The standard output of a command that must succeed; its whole outcome otherwise.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// The exit code and standard error of a command that must fail.
pub fn refused(out: &Output) -> (i32, String) {
    assert!(
        !out.status.success(),
        "expected a refusal, got success:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts `chargeguard ARGS` ended with exit `code`, showing its output otherwise.
pub fn expect_exit(out: &Output, code: i32, args: &[&str]) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "chargeguard {}: {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `condition` until it holds, failing the test after `within`.
pub fn wait_until_within(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::park_timeout(Duration::from_millis(5));
    }
}
