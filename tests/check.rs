//! `chargeguard check`, the scheduled run, as cron would run it: the real binary against the
//! sandbox gateway. A new incident makes it exit 10 and name the finding; the next check,
//! with nothing new, exits 0.

use std::path::Path;
use std::process::Output;

use chargeguard::sandbox::{self, SandboxConfig};
use serde_json::{Value, json};

#[path = "harness/mod.rs"]
mod harness;

const KEY: &str = "sk_test_checkTestsKey";

fn run(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = harness::cli(db.parent().expect("the store's folder"));
    command
        .arg("--db")
        .arg(db)
        .args(args)
        .env("CHARGEGUARD_API_KEY", KEY);
    harness::run_with_stdin(command, stdin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_alerts_on_a_new_orphan_and_then_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox::start(SandboxConfig::new(dir.path().join("sandbox")))
        .await
        .unwrap();
    let now = jiff::Timestamp::now().as_second();
    let invoices = dir.path().join("invoices.csv");
    let issued = jiff::Timestamp::from_second(now - 7_200).unwrap();
    std::fs::write(
        &invoices,
        format!(
            "invoice_number,customer_id,amount,currency,issued_at,due_at,status\nINV-9,cus_Z,30.00,USD,{issued},,open\n"
        ),
    )
    .unwrap();
    let db = dir.path().join("cg.db");
    let base = sandbox.base_url();
    let db2 = db.clone();
    let inv2 = invoices.clone();
    let outputs = tokio::task::spawn_blocking(move || {
        assert!(
            run(&db2, &["import", "invoices", inv2.to_str().unwrap()], None)
                .status
                .success()
        );
        let connect = run(
            &db2,
            &["connect", "--api-base", &base],
            Some(&format!("{KEY}\n")),
        );
        assert!(
            connect.status.success(),
            "{}",
            String::from_utf8_lossy(&connect.stderr)
        );
        run(&db2, &["check"], None)
    })
    .await
    .unwrap();
    assert_eq!(
        outputs.status.code(),
        Some(0),
        "nothing at the gateway yet: {}",
        String::from_utf8_lossy(&outputs.stdout)
    );

    // The invoicing job charged INV-9 a minute ago and died before recording it (a sync
    // re-reads the last minutes, so the charge is picked up however the seconds fall).
    let charged_at = jiff::Timestamp::now().as_second() - 60;
    let response = reqwest::Client::new()
        .post(format!("{}/_sandbox/seed", sandbox.base_url()))
        .json(
            &json!({"charges": [{"amount": 3000, "currency": "usd", "created": charged_at,
                                   "metadata": {"invoice_number": "INV-9"}}]}),
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());

    let db3 = db.clone();
    let (first, second) = tokio::task::spawn_blocking(move || {
        (
            run(&db3, &["check", "--json"], None),
            run(&db3, &["check"], None),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        first.status.code(),
        Some(10),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    let new = report["new_findings"].as_array().unwrap();
    assert_eq!(new.len(), 1, "{report}");
    assert_eq!(new[0]["kind"], "orphan_charge");
    assert_eq!(new[0]["invoice_number"], "INV-9");
    assert_eq!(new[0]["amount_minor"], 3000);

    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
    assert!(String::from_utf8_lossy(&second.stdout).contains("Nothing new since the last check."));
    sandbox.shutdown().await.unwrap();
}
