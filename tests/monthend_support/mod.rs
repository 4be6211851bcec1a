//! Shared by the month-end tests: the real `chargeguard` binary in a temporary folder, a
//! demo store, small books of our own written in the default layouts, and reading a
//! package's CSV files back.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

#[path = "../harness/mod.rs"]
mod harness;
/// The sandbox's control routes (seed, payouts), driven from outside the client.
#[allow(unused_imports)]
pub use harness::SandboxControl;
#[allow(unused_imports)]
pub use harness::ok;
/// The exit code and standard error of a command that must fail.
#[allow(unused_imports)]
pub use harness::refused as failed;

/// Runs `chargeguard` in `dir` with `args`, feeding `stdin`.
pub fn cg_with(dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut command = harness::cli(dir);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    harness::run_with_stdin(command, Some(stdin))
}

/// `export month MONTH --out OUT --tz TZ` on the store `db`, which must succeed; the
/// package's folder.
pub fn export_month(
    dir: &Path,
    db: &Path,
    month: &str,
    out: &str,
    tz: &str,
    env: &[(&str, &str)],
) -> PathBuf {
    ok(&cg_with(
        dir,
        &[
            "--db",
            db.to_str().unwrap(),
            "export",
            "month",
            month,
            "--out",
            out,
            "--tz",
            tz,
        ],
        "",
        env,
    ));
    dir.join(out)
}

pub fn cg(dir: &Path, args: &[&str]) -> Output {
    cg_with(dir, args, "", &[])
}

/// A demo store (charges in September to November 2026) at `dir/cg.db`.
pub fn demo_store(dir: &Path) -> PathBuf {
    let db = dir.join("cg.db");
    ok(&cg(dir, &["--db", db.to_str().unwrap(), "demo"]));
    db
}

pub const PASSPHRASE: &str = "correct horse battery staple";

/// Adds an approver to the demo store, vouched for by the demo's first approver.
pub fn add_approver(dir: &Path, db: &Path, name: &str) {
    let [(demo_approver, demo_passphrase), _] = chargeguard::demo::DEMO_APPROVERS;
    ok(&cg_with(
        dir,
        &[
            "--db",
            db.to_str().unwrap(),
            "user",
            "add",
            name,
            "--role",
            "approver",
            "--by",
            demo_approver,
        ],
        &format!("{PASSPHRASE}\n{demo_passphrase}\n"),
        &[],
    ));
}

/// A CSV file as rows of column → value, in file order, with each row's line number.
pub fn read_csv(path: &Path) -> Vec<(u64, BTreeMap<String, String>)> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = reader.headers().unwrap().clone();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.unwrap();
        let line = record.position().unwrap().line();
        out.push((
            line,
            headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect(),
        ));
    }
    out
}

/// One column of a package CSV, in file order.
pub fn column(path: &Path, name: &str) -> Vec<String> {
    read_csv(path)
        .into_iter()
        .map(|(_, row)| row[name].clone())
        .collect()
}

/// One paid invoice with its charge and its ledger payment, in USD.
pub struct Sale<'a> {
    pub invoice: &'a str,
    pub charge: &'a str,
    /// UTC, `YYYY-MM-DD HH:MM:SS`: when the gateway charged.
    pub charged_at: &'a str,
    /// UTC ISO 8601: when the ledger recorded the payment.
    pub recorded_at: &'a str,
    pub amount: &'a str,
}

/// Writes `sales` as the three default-layout files, imports them into `dir/cg.db` and
/// reconciles.
pub fn books_of(dir: &Path, sales: &[Sale<'_>]) -> PathBuf {
    let mut invoices =
        String::from("invoice_number,customer_id,amount,currency,issued_at,due_at,status\n");
    let mut payments =
        String::from("payment_id,invoice_number,kind,amount,currency,recorded_at,gateway_id\n");
    let mut stripe = String::from(
        "id,Description,Created date (UTC),Amount,Amount Refunded,Currency,Fee,Status,Customer ID,Customer Email,Captured,PaymentIntent ID,invoice_number (metadata)\n",
    );
    for (i, s) in sales.iter().enumerate() {
        let issued = &s.recorded_at[..10];
        invoices.push_str(&format!(
            "{},cus_{i},{},USD,{issued}T00:00:00Z,,paid\n",
            s.invoice, s.amount
        ));
        payments.push_str(&format!(
            "pay_{i:04},{},payment,{},USD,{},{}\n",
            s.invoice, s.amount, s.recorded_at, s.charge
        ));
        stripe.push_str(&format!(
            "{},Invoice {},{},{},0.00,usd,0.00,Paid,cus_{i},,true,pi_{i:04},{}\n",
            s.charge, s.invoice, s.charged_at, s.amount, s.invoice
        ));
    }
    std::fs::write(dir.join("invoices.csv"), invoices).unwrap();
    std::fs::write(dir.join("payments.csv"), payments).unwrap();
    std::fs::write(dir.join("stripe.csv"), stripe).unwrap();
    let db = dir.join("cg.db");
    let d = db.to_str().unwrap();
    ok(&cg(dir, &["--db", d, "import", "invoices", "invoices.csv"]));
    ok(&cg(dir, &["--db", d, "import", "payments", "payments.csv"]));
    ok(&cg(
        dir,
        &["--db", d, "import", "stripe-payments", "stripe.csv"],
    ));
    ok(&cg(dir, &["--db", d, "reconcile"]));
    db
}

/// Every file of a folder, name → bytes.
pub fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Every entry of a zip file, name → bytes (decompressed).
pub fn zip_entries(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut out = Vec::new();
            entry.read_to_end(&mut out).unwrap();
            (entry.name().unwrap().into_owned(), out)
        })
        .collect()
}
