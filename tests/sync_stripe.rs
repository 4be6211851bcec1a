//! Sync against the sandbox gateway over real loopback HTTP, into a real SQLite store:
//! incremental, export-then-sync, a real `chargeguard sync` killed with SIGKILL and resumed,
//! and the secret key found nowhere it should not be.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chargeguard::gateway::stripe::StripeClient;
use chargeguard::money::{Currency, Money};
use chargeguard::records::{Charge, ChargeStatus, Origin};
use chargeguard::sandbox::{self, RunningSandbox, SandboxConfig};
use chargeguard::secret::SecretKey;
use chargeguard::store::{ExtraColumns, SourceKind, Store};
use chargeguard::sync::{self, SyncOptions};
use serde_json::{Value, json};

const KEY: &str = "sk_test_syncTestsSecretValue9Q7Z";
#[path = "harness/mod.rs"]
mod harness;

async fn sandbox_with(
    charges: usize,
    refunds_of_first: usize,
) -> (RunningSandbox, tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox::start(SandboxConfig::new(dir.path().join("sandbox")))
        .await
        .unwrap();
    let now = jiff::Timestamp::now().as_second();
    let list: Vec<Value> = (0..charges)
        .map(|i| {
            json!({"amount": 1000 + i as i64, "currency": "usd",
                   "created": now - 86_400 + i as i64 * 10,
                   "metadata": {"invoice_number": format!("INV-{i}")}})
        })
        .collect();
    let seeded = seed(&sandbox, json!({ "charges": list })).await;
    let ids: Vec<String> = seeded["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    if refunds_of_first > 0 {
        let refunds: Vec<Value> = ids[..refunds_of_first]
            .iter()
            .map(|c| json!({"charge": c, "amount": 100, "created": now - 3_600}))
            .collect();
        seed(&sandbox, json!({ "refunds": refunds })).await;
    }
    (sandbox, dir, ids)
}

async fn seed(sandbox: &RunningSandbox, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/_sandbox/seed", sandbox.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    response.json().await.unwrap()
}

fn client(sandbox: &RunningSandbox) -> StripeClient {
    StripeClient::new(
        &sandbox.base_url(),
        SecretKey::new(KEY).unwrap(),
        Duration::from_secs(10),
    )
    .unwrap()
}

fn stored_charge_ids(path: &Path) -> Vec<String> {
    let mut store = Store::open(path).unwrap();
    store
        .read(|tx| tx.charges())
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

#[tokio::test]
async fn a_second_sync_fetches_nothing_new() {
    let (sandbox, dir, ids) = sandbox_with(230, 5).await;
    let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
    let client = client(&sandbox);
    let mut pages = 0;
    let first = sync::sync(
        &mut store,
        &client,
        jiff::Timestamp::now(),
        SyncOptions::default(),
        |_| pages += 1,
    )
    .await
    .unwrap();
    assert_eq!(first.charges.new, 230);
    assert_eq!(first.refunds.new, 5);
    assert_eq!(
        pages,
        3 + 1 + 1 + 3 + 1,
        "three pages of charges, one of refunds, one (empty) of payouts, three of balance transactions (a charge's and a refund's each), one (empty) of disputes"
    );
    assert_eq!(
        first.to_string(),
        "230 new charges, 5 new refunds, 0 changed, 0 unchanged"
    );
    let (charges, refunds, coverage) = store
        .read(|tx| {
            Ok::<_, chargeguard::store::StoreError>((
                tx.charges()?,
                tx.refunds()?,
                tx.charge_coverage()?,
            ))
        })
        .unwrap();
    assert_eq!(charges.len(), 230);
    assert_eq!(
        charges
            .iter()
            .map(|c| c.id.clone())
            .collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect::<BTreeSet<_>>()
    );
    let refunded = charges
        .iter()
        .filter(|c| c.amount_refunded.minor() == 100)
        .count();
    assert_eq!(refunded, 5);
    assert_eq!(refunds.len(), 5);
    assert_eq!(coverage.len(), 1);
    assert!(charges.iter().all(|c| coverage[0].contains(c.created)));

    let second = sync::sync(
        &mut store,
        &client,
        jiff::Timestamp::now(),
        SyncOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(second.charges.new + second.refunds.new, 0);
    assert_eq!(second.charges.changed + second.refunds.changed, 0);
    assert_eq!(store.read(|tx| tx.charges()).unwrap().len(), 230);
}

#[tokio::test]
async fn export_then_sync_is_one_row_per_charge_and_keeps_the_fee() {
    let (sandbox, dir, ids) = sandbox_with(3, 0).await;
    let path = dir.path().join("cg.db");
    let client = client(&sandbox);
    // What the dashboard-export importer stores: the same Stripe ids, with a fee the API
    // does not send unless asked.
    let listed = client.list_charges(&Default::default()).await.unwrap().data;
    let mut store = Store::open(&path).unwrap();
    store
        .write(|tx| {
            let source = tx.begin_source(
                SourceKind::StripeExport,
                "export.csv",
                None,
                jiff::Timestamp::now(),
            )?;
            for (line, wire) in listed.iter().enumerate() {
                let usd = Currency::from_code("usd").unwrap();
                let charge = Charge {
                    fee: Some(Money::from_minor(59, usd)),
                    ..chargeguard::gateway::stripe::wire::charge_record(wire).unwrap()
                };
                assert_eq!(charge.status, ChargeStatus::Succeeded);
                let set = tx.column_set(&["Card Brand".to_string()])?;
                tx.upsert_charge(
                    "stripe",
                    &charge,
                    ExtraColumns {
                        set,
                        values: r#"["Visa"]"#,
                    },
                    &Origin {
                        source_id: source,
                        line: Some(line as u64 + 2),
                    },
                )?;
            }
            Ok::<_, chargeguard::store::StoreError>(())
        })
        .unwrap();

    let report = sync::sync(
        &mut store,
        &client,
        jiff::Timestamp::now(),
        SyncOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.charges.new, 0);
    assert_eq!(report.charges.changed, 0, "{report}");
    let charges = store.read(|tx| tx.charges()).unwrap();
    assert_eq!(charges.len(), ids.len());
    assert!(charges.iter().all(|c| c.fee.map(|f| f.minor()) == Some(59)));
}

fn run(db: &Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut command = harness::cli(db.parent().expect("the store's folder"));
    command
        .arg("--db")
        .arg(db)
        .args(args)
        .env("CHARGEGUARD_API_KEY", KEY);
    harness::run_with_stdin(command, stdin)
}

/// Runs `chargeguard sync --page-size 10` and kills it with SIGKILL once it has committed
/// `pages` pages of `kind` (as its progress lines say); returns how many it saw.
async fn sync_killed_after_pages(db: &Path, kind: &'static str, pages: usize) -> usize {
    let db = db.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut child = harness::cli(db.parent().expect("the store's folder"))
            .arg("--db")
            .arg(&db)
            .args(["sync", "--page-size", "10"])
            .env("CHARGEGUARD_API_KEY", KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.starts_with(&format!("{kind}: page")) {
                seen += 1;
                if seen == pages {
                    break;
                }
            }
        }
        // SIGKILL: no destructor, no rollback hook, no goodbye.
        child.kill().unwrap();
        child.wait().unwrap();
        seen
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_mid_way_resumes_with_nothing_lost_or_doubled() {
    let (sandbox, dir, ids) = sandbox_with(120, 0).await;
    let db = dir.path().join("cg.db");
    let base = sandbox.base_url();
    let connected = run(&db, &["connect", "--api-base", &base], None);
    assert!(
        connected.status.success(),
        "{}",
        String::from_utf8_lossy(&connected.stderr)
    );

    // Every charges page answers late, so the kill lands while pages remain.
    reqwest::Client::new()
        .post(format!("{base}/_sandbox/faults"))
        .json(&json!({"path": "/v1/charges", "fault": "slow", "times": 1000, "hold_ms": 150}))
        .send()
        .await
        .unwrap();

    let killed_after = sync_killed_after_pages(&db, "charges", 3).await;
    assert_eq!(killed_after, 3);

    let stored_before = stored_charge_ids(&db);
    assert!(
        stored_before.len() >= 30 && stored_before.len() < 120,
        "{}",
        stored_before.len()
    );

    let report = resumed_sync(&db);
    assert_eq!(
        report["charges"]["new"].as_u64().unwrap() as usize,
        120 - stored_before.len(),
        "the resumed sync adds exactly what was missing"
    );

    let after = stored_charge_ids(&db);
    assert_eq!(after.len(), 120, "nothing doubled");
    assert_eq!(
        after.into_iter().collect::<BTreeSet<_>>(),
        ids.into_iter().collect::<BTreeSet<_>>(),
        "nothing lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_key_appears_nowhere() {
    let (sandbox, dir, _) = sandbox_with(15, 2).await;
    let db = dir.path().join("cg.db");
    let base = sandbox.base_url();
    // Held open so the WAL outlives the child processes and is searched too.
    let _keep_wal = Store::open(&db).unwrap();
    let outputs = [
        run(&db, &["connect", "--api-base", &base], None),
        run(&db, &["sync"], None),
        run(&db, &["sync", "--json"], None),
    ];
    for out in &outputs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A failing call must not leak it either.
    let failing = run(
        &db,
        &[
            "--http-timeout",
            "1",
            "connect",
            "--api-base",
            "http://127.0.0.1:9",
        ],
        None,
    );
    assert!(!failing.status.success());

    let secret = &KEY[8..];
    let mut haystacks: Vec<(String, Vec<u8>)> = Vec::new();
    for out in outputs.iter().chain([&failing]) {
        haystacks.push(("stdout".into(), out.stdout.clone()));
        haystacks.push(("stderr".into(), out.stderr.clone()));
    }
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            haystacks.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    assert!(
        haystacks
            .iter()
            .any(|(name, _)| name.ends_with("cg.db-wal")),
        "the WAL was checked"
    );
    for (name, bytes) in &haystacks {
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "the key leaked into {name}");
    }
    let connect_out = String::from_utf8_lossy(&outputs[0].stdout);
    assert!(connect_out.contains("sk_test_…9Q7Z"), "{connect_out}");
}

/// `chargeguard sync --page-size 10 --json` after a kill: its report, once it succeeded.
fn resumed_sync(db: &Path) -> Value {
    let resumed = run(db, &["sync", "--page-size", "10", "--json"], None);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    serde_json::from_str(&stdout[stdout.find("{\n").unwrap()..]).unwrap()
}

/// Every id the sandbox lists at `path` (all pages).
async fn listed_ids(base: &str, path: &str) -> BTreeSet<String> {
    let client = reqwest::Client::new();
    let mut ids = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}{path}?limit=100");
        if let Some(a) = &after {
            url += &format!("&starting_after={a}");
        }
        let page: Value = client
            .get(url)
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().unwrap();
        ids.extend(data.iter().map(|o| o["id"].as_str().unwrap().to_string()));
        if page["has_more"] != true {
            return ids;
        }
        after = data.last().map(|o| o["id"].as_str().unwrap().to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_among_the_balance_transactions_resumes_with_the_balance_whole() {
    let (sandbox, dir, _) = sandbox_with(60, 4).await;
    let now = jiff::Timestamp::now().as_second();
    seed(
        &sandbox,
        json!({ "charges": [
            {"amount": 4_200, "currency": "usd", "created": now - 7_200, "payment_method": "pm_card_createDispute"},
            {"amount": 3_100, "currency": "usd", "created": now - 7_000, "payment_method": "pm_card_createDisputeProductNotReceived"},
        ]}),
    )
    .await;
    let base = sandbox.base_url();
    let http = reqwest::Client::new();
    let run_payouts: Value = http
        .post(format!("{base}/_sandbox/payouts"))
        .json(&json!({"status": "in_transit"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paid_out_at = run_payouts["payouts"][0]["created"].as_i64().unwrap();
    let db = dir.path().join("cg.db");
    let connected = run(&db, &["connect", "--api-base", &base], None);
    assert!(connected.status.success());
    // Every balance transactions page answers late, so the kill lands while pages remain.
    http.post(format!("{base}/_sandbox/faults"))
        .json(&json!({"path": "/v1/balance_transactions", "fault": "slow", "times": 1000, "hold_ms": 150}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sync_killed_after_pages(&db, "balance transactions", 2).await,
        2
    );
    let stored = |db: &Path| {
        let mut store = Store::open(db).unwrap();
        let txns: Vec<String> = store
            .read(|tx| tx.balance_transactions(chargeguard::sync::GATEWAY))
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        let disputes: Vec<String> = store
            .read(|tx| tx.disputes(chargeguard::sync::GATEWAY))
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        (txns, disputes)
    };
    let expected_txns = listed_ids(&base, "/v1/balance_transactions").await;
    let (before, _) = stored(&db);
    assert!(
        before.len() >= 20 && before.len() < expected_txns.len(),
        "killed among the pages: {} of {}",
        before.len(),
        expected_txns.len()
    );

    http.delete(format!("{base}/_sandbox/faults"))
        .send()
        .await
        .unwrap();
    // A sync takes what was created before its instant, in whole seconds: the resumed one
    // must start after the payout's second for its own debit to be in its window.
    harness::wait_until_within(
        "the payout's second has passed",
        Duration::from_secs(3),
        || jiff::Timestamp::now().as_second() > paid_out_at,
    );
    let report = resumed_sync(&db);
    assert_eq!(
        report["balance_differs"],
        json!([]),
        "the store's balance is Stripe's once resumed: {report}"
    );
    let (txns, disputes) = stored(&db);
    assert_eq!(txns.len(), expected_txns.len(), "nothing doubled");
    assert_eq!(
        txns.into_iter().collect::<BTreeSet<_>>(),
        expected_txns,
        "nothing lost"
    );
    assert_eq!(
        disputes.into_iter().collect::<BTreeSet<_>>(),
        listed_ids(&base, "/v1/disputes").await,
        "every dispute, once"
    );
}
