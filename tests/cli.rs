//! The command line end to end, as a new user types it, in a temporary folder: the demo,
//! then the three imports, reconcile and findings on files of their own.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

#[path = "harness/mod.rs"]
mod harness;
use harness::ok;

fn chargeguard(dir: &Path, args: &[&str]) -> Output {
    harness::cli(dir)
        .args(args)
        .output()
        .expect("run chargeguard")
}

#[test]
fn the_demo_finds_every_planted_incident_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&chargeguard(dir.path(), &["demo"]));
    assert!(
        out.contains("planted incidents was found, and nothing else"),
        "{out}"
    );
    // The demo store lives in the user's data folder, apart from any real store.
    let db = dir.path().join("data/chargeguard/demo/chargeguard-demo.db");
    assert!(db.exists(), "demo store not at {}", db.display());

    let json = ok(&chargeguard(
        dir.path(),
        &["--db", db.to_str().unwrap(), "findings", "--json"],
    ));
    let findings: Vec<Value> = serde_json::from_str(&json).unwrap();
    let kinds: std::collections::BTreeSet<&str> = findings
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "double_charge",
        "orphan_charge",
        "missing_charge",
        "amount_mismatch",
        "unrecorded_refund",
        "duplicate_invoice",
    ] {
        assert!(kinds.contains(kind), "the demo shows no {kind}: {kinds:?}");
    }
    let currencies: std::collections::BTreeSet<&str> = findings
        .iter()
        .map(|f| f["currency"].as_str().unwrap())
        .collect();
    assert!(
        currencies.len() >= 3,
        "several currencies expected: {currencies:?}"
    );

    // Running the demo again imports nothing new and finds the same.
    let again = ok(&chargeguard(dir.path(), &["demo"]));
    assert!(again.contains("0 new"), "{again}");
    let json_again = ok(&chargeguard(
        dir.path(),
        &["--db", db.to_str().unwrap(), "findings", "--json"],
    ));
    // The same findings, ids and all; only when they were last seen moves on.
    let without_last_seen = |text: &str| {
        let mut list: Vec<Value> = serde_json::from_str(text).unwrap();
        for f in &mut list {
            f.as_object_mut().unwrap().remove("last_seen_at");
        }
        list
    };
    assert_eq!(without_last_seen(&json), without_last_seen(&json_again));
}

#[test]
fn a_bookkeeper_imports_reconciles_and_reads_the_findings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("invoices.csv"),
        "invoice_number,customer_id,amount,currency,issued_at,due_at,status\n\
         INV-1,cus_A,49.00,USD,2026-10-01T09:00:00Z,2026-10-15,paid\n\
         INV-2,cus_B,12.500,KWD,2026-10-05T09:00:00Z,2026-10-19,open\n",
    )
    .unwrap();
    std::fs::write(
        d.join("payments.csv"),
        "payment_id,invoice_number,kind,amount,currency,recorded_at,gateway_id\n\
         pay_1,INV-1,payment,49.00,USD,2026-10-01T09:00:40Z,ch_a\n",
    )
    .unwrap();
    std::fs::write(
        d.join("unified_payments.csv"),
        "id,Description,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Fee,Status,Customer ID,Customer Email,PaymentIntent ID,invoice_number (metadata)\n\
         ch_a,Invoice INV-1,2026-10-01 09:00:30,49.00,0.00,usd,true,1.72,Paid,cus_A,a@example.com,pi_a,INV-1\n\
         ch_b,Invoice INV-1,2026-10-01 09:00:34,49.00,0.00,usd,true,1.72,Paid,cus_A,a@example.com,pi_b,INV-1\n\
         ch_c,Invoice INV-2,2026-10-05 09:00:45,12.500,0.000,kwd,true,0.362,Paid,cus_B,b@example.com,pi_c,INV-2\n",
    )
    .unwrap();

    let first = ok(&chargeguard(
        d,
        &["--db", "cg.db", "import", "invoices", "invoices.csv"],
    ));
    assert!(first.contains("2 new"), "{first}");
    ok(&chargeguard(
        d,
        &["--db", "cg.db", "import", "payments", "payments.csv"],
    ));
    ok(&chargeguard(
        d,
        &["--db", "cg.db", "import", "stripe", "unified_payments.csv"],
    ));
    // The same command takes Stripe's other files, told from their headers.
    let payouts = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stripe-reports/payouts-export.csv");
    let imported = ok(&chargeguard(
        d,
        &[
            "--db",
            "cg.db",
            "--json",
            "import",
            "stripe",
            payouts.to_str().unwrap(),
        ],
    ));
    let imported: Value = serde_json::from_str(&imported).unwrap();
    assert_eq!(imported["report"], "payouts_export", "{imported}");
    assert_eq!(imported["counts"]["new"], 1, "{imported}");
    let again = ok(&chargeguard(
        d,
        &["--db", "cg.db", "import", "invoices", "invoices.csv"],
    ));
    assert!(
        again.contains("0 new") && again.contains("2 unchanged"),
        "{again}"
    );

    ok(&chargeguard(d, &["--db", "cg.db", "reconcile"]));
    let table = ok(&chargeguard(d, &["--db", "cg.db", "findings"]));
    assert!(
        table.contains("double_charge") && table.contains("orphan_charge"),
        "{table}"
    );
    assert!(
        table.contains("12.500 KWD"),
        "amounts print with their currency: {table}"
    );

    let json = ok(&chargeguard(d, &["--db", "cg.db", "findings", "--json"]));
    let findings: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(findings.len(), 2, "{json}");
    for f in &findings {
        for field in [
            "id",
            "fingerprint",
            "kind",
            "status",
            "invoice_number",
            "charge_ids",
            "amount_minor",
            "currency",
            "confidence",
            "evidence",
        ] {
            assert!(
                f.get(field).is_some(),
                "findings --json lacks `{field}`: {f}"
            );
        }
        assert_eq!(f["status"], "open");
    }
    let double = findings
        .iter()
        .find(|f| f["kind"] == "double_charge")
        .unwrap();
    assert_eq!(double["invoice_number"], "INV-1");
    assert_eq!(double["charge_ids"], serde_json::json!(["ch_b"]));
    assert_eq!(double["amount_minor"], 4900);
    assert_eq!(double["currency"], "usd");
    assert_eq!(double["confidence"], "exact");

    let only = ok(&chargeguard(
        d,
        &[
            "--db",
            "cg.db",
            "findings",
            "--json",
            "--kind",
            "orphan_charge",
        ],
    ));
    let only: Vec<Value> = serde_json::from_str(&only).unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["charge_ids"], serde_json::json!(["ch_c"]));
    assert_eq!(only[0]["amount_minor"], 12500);

    // Reconciling again keeps the same findings (same ids), not copies.
    ok(&chargeguard(d, &["--db", "cg.db", "reconcile"]));
    let json_again = ok(&chargeguard(d, &["--db", "cg.db", "findings", "--json"]));
    let again: Vec<Value> = serde_json::from_str(&json_again).unwrap();
    let ids = |v: &[Value]| v.iter().map(|f| f["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&findings), ids(&again));
}

#[test]
fn a_bad_file_names_line_and_column_exits_non_zero_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("invoices.csv"),
        "invoice_number,customer_id,amount,currency,issued_at,due_at,status\n\
         INV-1,cus_A,49.00,USD,2026-10-01T09:00:00Z,2026-10-15,paid\n\
         INV-2,cus_B,12.345,USD,2026-10-05T09:00:00Z,2026-10-19,open\n",
    )
    .unwrap();
    let out = chargeguard(d, &["--db", "cg.db", "import", "invoices", "invoices.csv"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invoices.csv:3:3"), "{err}");
    let list = ok(&chargeguard(d, &["--db", "cg.db", "findings", "--json"]));
    assert_eq!(list.trim(), "[]");
    let reimport = chargeguard(
        d,
        &[
            "--db",
            "cg.db",
            "import",
            "invoices",
            "invoices.csv",
            "--dry-run",
        ],
    );
    assert!(!reimport.status.success());
}

fn chargeguard_with_input(dir: &Path, args: &[&str], input: &str) -> Output {
    let mut command = harness::cli(dir);
    command.args(args);
    harness::run_with_stdin(command, Some(input))
}

#[test]
fn the_demos_first_hour_needs_no_settings() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    let out = ok(&chargeguard(dir.path(), &["--db", db, "demo"]));
    assert!(
        out.contains(
            "ada (passphrase ada-demo-passphrase) and ben (passphrase ben-demo-passphrase)"
        ),
        "the demo says who may approve: {out}"
    );
    let json = ok(&chargeguard(
        dir.path(),
        &["--db", db, "findings", "--json", "--kind", "double_charge"],
    ));
    let findings: Vec<Value> = serde_json::from_str(&json).unwrap();
    let finding = findings[0]["id"].to_string();
    let action = ok(&chargeguard(dir.path(), &["--db", db, "propose", &finding]));
    let action = action.trim();
    let state = |dir: &Path| -> String {
        let json = ok(&chargeguard(dir, &["--db", db, "actions", "--json"]));
        let actions: Vec<Value> = serde_json::from_str(&json).unwrap();
        actions[0]["state"].as_str().unwrap().to_string()
    };
    ok(&chargeguard_with_input(
        dir.path(),
        &["--db", db, "approve", action, "--by", "ada"],
        "ada-demo-passphrase\n",
    ));
    if state(dir.path()) == "proposed" {
        // Above the threshold: a second, different approver.
        let again = chargeguard_with_input(
            dir.path(),
            &["--db", db, "approve", action, "--by", "ada"],
            "ada-demo-passphrase\n",
        );
        assert!(!again.status.success(), "one person cannot approve twice");
        ok(&chargeguard_with_input(
            dir.path(),
            &["--db", db, "approve", action, "--by", "ben"],
            "ben-demo-passphrase\n",
        ));
    }
    assert_eq!(state(dir.path()), "approved");
    // The month exports in the demo's own time zone, with no --tz.
    let out = ok(&chargeguard(
        dir.path(),
        &["--db", db, "export", "month", "2026-10", "--out", "package"],
    ));
    assert!(dir.path().join("package").exists(), "{out}");
}

/// One data folder for both shells: what the command line imports without `--db` is the
/// store the desktop app opens, not a second set of books beside it.
#[test]
fn the_command_line_and_the_desktop_app_open_the_same_books() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("books");
    let invoices = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/invoices.csv");
    let out = harness::cli(dir.path())
        .env(chargeguard::places::DATA_DIR_ENV, &data)
        .args(["import", "invoices", invoices.to_str().unwrap()])
        .output()
        .unwrap();
    ok(&out);
    let imported = chargeguard::store::Store::open(&chargeguard::places::real_store(&data))
        .unwrap()
        .read(|tx| tx.invoices())
        .unwrap();
    assert!(!imported.is_empty());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let session = runtime
        .block_on(chargeguard::api::session::open_desktop(
            &data,
            std::time::Duration::from_secs(5),
        ))
        .unwrap();
    assert!(!session.demo, "the desktop found the books the CLI made");
    let today = chargeguard::api::today(&session.api).unwrap();
    assert!(!today.demo, "{today:?}");
    let mut store = chargeguard::store::Store::open(session.api.db()).unwrap();
    assert_eq!(store.read(|tx| tx.invoices()).unwrap(), imported);
}

#[test]
fn a_bank_statement_imports_once_and_its_lines_list_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let statement =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bank/ofxparse-checking.ofx");
    let file = statement.to_str().unwrap();
    let first = ok(&chargeguard(d, &["--db", "cg.db", "import", "bank", file]));
    assert!(
        first.contains("3 new, 0 changed, 0 unchanged bank lines"),
        "{first}"
    );
    let again = ok(&chargeguard(
        d,
        &["--db", "cg.db", "--json", "import", "bank", file],
    ));
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["counts"]["new"], 0);
    assert_eq!(again["counts"]["unchanged"], 3);
    let lines: Value =
        serde_json::from_str(&ok(&chargeguard(d, &["--db", "cg.db", "--json", "bank"]))).unwrap();
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 3);
    let fee = lines.iter().find(|l| l["id"] == "0000488").unwrap();
    assert_eq!(fee["amount_minor"], -2500, "money out is negative");
    assert_eq!(fee["currency"], "usd");
    assert_eq!(fee["booked_on"], "2011-04-07");
    assert_eq!(fee["account"], "5472369148 1452687~7");

    std::fs::write(d.join("notes.txt"), "not a statement\n").unwrap();
    let refused = chargeguard(d, &["--db", "cg.db", "import", "bank", "notes.txt"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("notes.txt is not a bank statement"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
