//! The real `chargeguard sandbox serve` program: its first line says where it listens, it
//! refuses a non-loopback address unless told, and its state survives `kill -9` and a
//! restart on the same `--state` (objects and idempotent replays intact).

use crate::sandbox_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use reqwest::StatusCode;
use sandbox_support::{KEY, client, header};
use serde_json::Value;

struct Served {
    child: Child,
    base: String,
    _stdout: BufReader<ChildStdout>,
}

fn serve(state: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chargeguard"))
        .args(["sandbox", "serve", "--addr", "127.0.0.1:0", "--state"])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("chargeguard starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {first:?}"))
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert!(!base.ends_with(":0"), "the real port, not 0: {base}");
    Served {
        child,
        base,
        _stdout: stdout,
    }
}

const PAY: &[(&str, &str)] = &[
    ("amount", "3100"),
    ("currency", "usd"),
    ("payment_method", "pm_card_visa"),
    ("confirm", "true"),
    ("metadata[invoice_number]", "INV-42"),
];

#[tokio::test]
async fn state_survives_kill_9_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let http = client(std::time::Duration::from_secs(20));

    let mut first = serve(dir.path());
    let paid = http
        .post(format!("{}/v1/payment_intents", first.base))
        .bearer_auth(KEY)
        .header("Idempotency-Key", "key-survives")
        .form(PAY)
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::OK);
    let paid: Value = paid.json().await.unwrap();
    first.child.kill().unwrap(); // SIGKILL: no shutdown, no flush beyond what committed
    first.child.wait().unwrap();

    let mut second = serve(dir.path());
    let intent_id = paid["id"].as_str().unwrap();
    let fetched: Value = http
        .get(format!("{}/v1/payment_intents/{intent_id}", second.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, paid);

    let replay = http
        .post(format!("{}/v1/payment_intents", second.base))
        .bearer_auth(KEY)
        .header("Idempotency-Key", "key-survives")
        .form(PAY)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&replay, "idempotent-replayed"), Some("true"));
    let replayed: Value = replay.json().await.unwrap();
    assert_eq!(replayed["id"], paid["id"]);

    // Id counters survived too: a new payment gets a new id.
    let fresh: Value = http
        .post(format!("{}/v1/payment_intents", second.base))
        .bearer_auth(KEY)
        .form(PAY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(fresh["id"], paid["id"]);
    assert_ne!(fresh["latest_charge"], paid["latest_charge"]);
    let stats: Value = http
        .get(format!("{}/_sandbox/stats", second.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["charges"], 2);
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}

#[test]
fn a_non_loopback_address_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chargeguard"))
        .args(["sandbox", "serve", "--addr", "0.0.0.0:0", "--state"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--allow-non-loopback"), "{stderr}");
    assert!(output.stdout.is_empty(), "never said it was listening");
}
