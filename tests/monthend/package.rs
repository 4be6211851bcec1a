//! The month-end package of the demo books, through the real binary: exported, verified,
//! every file's rows checked against the store; tampered with in the ways an auditor
//! fears (a cell, a line, a file) and caught by `export verify`; and refused outright
//! when the books do not balance.

use crate::monthend_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chargeguard::money::Money;
use chargeguard::period::Period;
use chargeguard::records::ChargeStatus;
use chargeguard::store::{FindingFilter, FindingStatus, Store};
use monthend_support::*;
use rstest::rstest;

const TZ: &str = "Europe/Berlin";

fn export(dir: &Path, db: &Path, month: &str, out: &str, env: &[(&str, &str)]) -> PathBuf {
    export_month(dir, db, month, out, TZ, env)
}

#[test]
fn the_demo_month_is_exported_verified_and_every_file_matches_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = demo_store(dir);
    let pkg = export(dir, &db, "2026-10", "close-2026-10", &[]);

    let out = ok(&cg(dir, &["export", "verify", "close-2026-10"]));
    assert!(out.contains("every hash matches"), "{out}");
    let out = ok(&cg(dir, &["export", "verify", "close-2026-10.zip"]));
    assert!(out.contains("every total adds up again"), "{out}");

    let october = Period::parse("2026-10", TZ).unwrap();
    let mut store = Store::open(&db).unwrap();
    let (charges, ledger, invoices, findings) = store
        .read(|tx| {
            Ok::<_, chargeguard::store::StoreError>((
                tx.charges()?,
                tx.ledger_entries()?,
                tx.invoices()?,
                tx.findings(&FindingFilter {
                    kind: None,
                    status: Some(FindingStatus::Open),
                })?,
            ))
        })
        .unwrap();

    // Charges: exactly October's, in time order, amounts to the cent.
    let rows = read_csv(&pkg.join("gateway_charges.csv"));
    let in_october: Vec<_> = charges
        .iter()
        .filter(|c| october.contains(c.created))
        .collect();
    assert!(in_october.len() > 50, "the demo has October charges");
    assert_eq!(rows.len(), in_october.len());
    let by_id: BTreeMap<&str, _> = in_october.iter().map(|c| (c.id.as_str(), *c)).collect();
    let mut last = String::new();
    for (line, row) in &rows {
        let c = by_id.get(row["charge_id"].as_str()).unwrap_or_else(|| {
            panic!("line {line}: {} is not an October charge", row["charge_id"])
        });
        assert_eq!(row["amount"], c.amount.to_decimal_string(), "line {line}");
        assert_eq!(row["currency"], c.amount.currency().lower(), "line {line}");
        let at: jiff::Timestamp = row["created_at"].parse().unwrap();
        assert_eq!(at, c.created, "line {line}");
        assert!(
            row["created_at"] >= last,
            "line {line}: rows are in time order"
        );
        last = row["created_at"].clone();
    }

    // Ledger payments: exactly those recorded in October.
    let exported: BTreeSet<String> = column(&pkg.join("ledger_payments.csv"), "payment_id")
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = ledger
        .iter()
        .filter(|e| october.contains(e.recorded_at))
        .map(|e| e.payment_id.clone())
        .collect();
    assert_eq!(exported, expected);

    // Invoices: every one issued in October is there.
    let exported: BTreeSet<String> = column(&pkg.join("invoices.csv"), "invoice_number")
        .into_iter()
        .collect();
    for inv in invoices.iter().filter(|i| october.contains(i.issued_at)) {
        assert!(exported.contains(&inv.number), "{} missing", inv.number);
    }

    // Findings: every open finding about an October charge, with its status.
    let rows = read_csv(&pkg.join("findings.csv"));
    let listed: BTreeMap<String, String> = rows
        .iter()
        .map(|(_, r)| (r["finding_id"].clone(), r["status"].clone()))
        .collect();
    let about_october: Vec<_> = findings
        .iter()
        .filter(|f| f.charge_ids.iter().any(|c| by_id.contains_key(c.as_str())))
        .collect();
    assert!(!about_october.is_empty());
    for f in about_october {
        assert_eq!(
            listed.get(&f.id.to_string()).map(String::as_str),
            Some("open")
        );
    }

    // The tie-out's gross, added up here from the store, per currency.
    let mut gross: BTreeMap<String, i64> = BTreeMap::new();
    for c in &in_october {
        if c.status == ChargeStatus::Succeeded && c.captured {
            *gross.entry(c.amount.currency().lower()).or_default() += c.amount.minor();
        }
    }
    let tieout = read_csv(&pkg.join("tieout.csv"));
    for (currency, minor) in &gross {
        let row = tieout
            .iter()
            .find(|(_, r)| &r["currency"] == currency && r["line"] == "total:gateway_gross")
            .unwrap_or_else(|| panic!("no gross for {currency}"));
        let c = chargeguard::money::Currency::from_code(currency).unwrap();
        assert_eq!(
            row.1["amount"],
            Money::from_minor(*minor, c).to_decimal_string()
        );
    }

    // The workbook opens on the summary; the page is self-contained with its chart.
    let xlsx = zip_entries(&std::fs::read(pkg.join("workbook.xlsx")).unwrap());
    let workbook = String::from_utf8(xlsx["xl/workbook.xml"].clone()).unwrap();
    let first = workbook.find("<sheet ").unwrap();
    assert!(
        workbook[first..].starts_with(r#"<sheet name="Summary""#),
        "{workbook}"
    );
    for sheet in [
        "Gateway charges",
        "Ledger payments",
        "Findings",
        "Audit log",
    ] {
        assert!(workbook.contains(sheet), "no sheet {sheet}");
    }
    let html = std::fs::read_to_string(pkg.join("summary.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Tie-out in USD"));
    let outside = html.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !outside.contains("http"),
        "summary.html links outside itself"
    );
    assert!(!html.contains("<script") && !html.contains("<link"));

    // The demo keeps no Stripe balance transactions (only Stripe's payouts export): the
    // clearing account's files are there all the same, headers and no rows, and the page
    // says why.
    for file in [
        "clearing.csv",
        "clearing_transactions.csv",
        "fees_journal.csv",
    ] {
        assert!(pkg.join(file).exists(), "{file}");
        assert!(read_csv(&pkg.join(file)).is_empty(), "{file}");
    }
    assert!(html.contains("No Stripe balance transactions are stored"));

    // The zip holds the folder, byte for byte.
    let zip = zip_entries(&std::fs::read(dir.join("close-2026-10.zip")).unwrap());
    assert_eq!(zip, files_of(&pkg));
}

#[test]
fn the_secret_key_never_appears_in_a_package() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = "sk_test_MonthEndSecretDoNotLeak4242";
    let db = dir.join("cg.db");
    ok(&cg_with(
        dir,
        &["--db", db.to_str().unwrap(), "demo"],
        "",
        &[("CHARGEGUARD_API_KEY", key)],
    ));
    let pkg = export(dir, &db, "2026-10", "pkg", &[("CHARGEGUARD_API_KEY", key)]);
    let mut haystacks = files_of(&pkg);
    haystacks.extend(zip_entries(&std::fs::read(dir.join("pkg.zip")).unwrap()));
    haystacks.extend(zip_entries(&haystacks["workbook.xlsx"].clone()));
    for (name, bytes) in &haystacks {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(key), "{name} holds the secret key");
        assert!(!text.contains("sk_test_"), "{name} holds a secret key");
    }
}

/// What a tamperer does to a copy of the package.
enum Tamper {
    EditCell {
        file: &'static str,
        column: &'static str,
    },
    DeleteLine {
        file: &'static str,
    },
    SwapFiles {
        a: &'static str,
        b: &'static str,
    },
    ReplaceWithOtherMonth {
        file: &'static str,
    },
    AddFile {
        file: &'static str,
    },
    RemoveFile {
        file: &'static str,
    },
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for (name, bytes) in files_of(from) {
        std::fs::write(to.join(name), bytes).unwrap();
    }
}

/// Edits the 3rd data row (line 4) of `file`, changing `column`; returns that line.
fn edit_cell(path: &Path, column: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == column).unwrap();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for (i, record) in reader.records().enumerate() {
        let mut fields: Vec<String> = record.unwrap().iter().map(String::from).collect();
        if i == 2 {
            fields[col] = if fields[col].contains('.') {
                // One cent more.
                let n: rust_decimal::Decimal = fields[col].parse().unwrap();
                (n + rust_decimal::Decimal::new(1, 2)).to_string()
            } else {
                format!("{}x", fields[col])
            };
        }
        writer.write_record(&fields).unwrap();
    }
    std::fs::write(path, writer.into_inner().unwrap()).unwrap();
    4
}

#[rstest]
#[case::edit_an_amount_cell(Tamper::EditCell { file: "gateway_charges.csv", column: "amount" }, "gateway_charges.csv line 4")]
#[case::edit_a_customer_cell(Tamper::EditCell { file: "invoices.csv", column: "customer_id" }, "invoices.csv line 4")]
#[case::edit_a_ledger_amount(Tamper::EditCell { file: "ledger_payments.csv", column: "amount" }, "ledger_payments.csv line 4")]
#[case::edit_an_audit_detail(Tamper::EditCell { file: "tieout.csv", column: "amount" }, "tieout.csv line 4")]
#[case::delete_a_ledger_line(Tamper::DeleteLine { file: "ledger_payments.csv" }, "ledger_payments.csv line 6")]
#[case::delete_a_charge_line(Tamper::DeleteLine { file: "gateway_charges.csv" }, "gateway_charges.csv line 6")]
#[case::swap_two_files(Tamper::SwapFiles { a: "invoices.csv", b: "ledger_payments.csv" }, "invoices.csv line 1")]
#[case::swap_in_another_months_file(Tamper::ReplaceWithOtherMonth { file: "gateway_charges.csv" }, "gateway_charges.csv line 2")]
#[case::swap_in_another_months_workbook(Tamper::ReplaceWithOtherMonth { file: "workbook.xlsx" }, "workbook.xlsx: its SHA-256")]
#[case::add_a_file(Tamper::AddFile { file: "extra.csv" }, "extra.csv: is not listed")]
#[case::remove_a_file(Tamper::RemoveFile { file: "summary.html" }, "summary.html: is listed in manifest.json but missing")]
#[case::remove_a_clearing_file(Tamper::RemoveFile { file: "clearing_transactions.csv" }, "clearing_transactions.csv: is listed in manifest.json but missing")]
#[case::swap_the_clearing_files(Tamper::SwapFiles { a: "clearing.csv", b: "fees_journal.csv" }, "clearing.csv line 1")]
fn a_tampered_package_fails_verify_and_names_where(#[case] tamper: Tamper, #[case] named: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = demo_store(dir);
    let pkg = export(dir, &db, "2026-10", "pkg", &[]);
    let other = export(dir, &db, "2026-09", "other", &[]);
    let copy = dir.join("copy");
    copy_dir(&pkg, &copy);
    match tamper {
        Tamper::EditCell { file, column } => {
            edit_cell(&copy.join(file), column);
        }
        Tamper::DeleteLine { file } => {
            let text = std::fs::read_to_string(copy.join(file)).unwrap();
            let mut lines: Vec<&str> = text.split_inclusive("\r\n").collect();
            lines.remove(5); // line 6
            std::fs::write(copy.join(file), lines.concat()).unwrap();
        }
        Tamper::SwapFiles { a, b } => {
            std::fs::rename(copy.join(a), copy.join("tmp")).unwrap();
            std::fs::rename(copy.join(b), copy.join(a)).unwrap();
            std::fs::rename(copy.join("tmp"), copy.join(b)).unwrap();
        }
        Tamper::ReplaceWithOtherMonth { file } => {
            std::fs::copy(other.join(file), copy.join(file)).unwrap();
        }
        Tamper::AddFile { file } => std::fs::write(copy.join(file), "a,b\r\n1,2\r\n").unwrap(),
        Tamper::RemoveFile { file } => std::fs::remove_file(copy.join(file)).unwrap(),
    }
    // The untouched package still holds.
    ok(&cg(dir, &["export", "verify", "pkg"]));
    let (code, stderr) = failed(&cg(dir, &["export", "verify", "copy"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(named), "expected `{named}` in: {stderr}");
}

#[test]
fn an_edit_with_the_hashes_forged_too_is_caught_by_adding_up_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = demo_store(dir);
    let pkg = export(dir, &db, "2026-10", "pkg", &[]);
    edit_cell(&pkg.join("gateway_charges.csv"), "amount");
    // The forger rewrites the manifest to match the edited file.
    let manifest_path = pkg.join("manifest.json");
    let mut manifest: chargeguard::export::manifest::Manifest =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let bytes = std::fs::read(pkg.join("gateway_charges.csv")).unwrap();
    let entry = manifest
        .files
        .iter_mut()
        .find(|f| f.name == "gateway_charges.csv")
        .unwrap();
    entry.sha256 = chargeguard::export::manifest::sha256_hex(&bytes);
    entry.bytes = bytes.len() as u64;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let mut blocks = chargeguard::export::manifest::BlockHasher::new(entry.records.unwrap());
    for record in reader.records() {
        blocks.record(record.unwrap().iter());
    }
    entry.blocks = blocks.finish().1;
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();

    let (code, stderr) = failed(&cg(dir, &["export", "verify", "pkg"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("tieout.csv line")
            && stderr.contains("gateway_gross")
            && stderr.contains("gateway_charges.csv add up to"),
        "{stderr}"
    );
}

#[test]
fn books_that_do_not_balance_are_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = demo_store(dir);
    // Hide an open finding about an October charge, as a buggy or tampered store would.
    let october = Period::parse("2026-10", TZ).unwrap();
    let mut store = Store::open(&db).unwrap();
    let (charges, findings) = store
        .read(|tx| {
            Ok::<_, chargeguard::store::StoreError>((
                tx.charges()?,
                tx.findings(&FindingFilter {
                    kind: Some(chargeguard::reconcile::FindingKind::OrphanCharge),
                    status: Some(FindingStatus::Open),
                })?,
            ))
        })
        .unwrap();
    drop(store);
    let hidden = findings
        .iter()
        .find(|f| {
            f.charge_ids.iter().any(|id| {
                charges
                    .iter()
                    .any(|c| &c.id == id && october.contains(c.created))
            })
        })
        .expect("the demo has an October orphan");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("DELETE FROM findings WHERE id = ?1", [hidden.id])
        .unwrap();
    drop(conn);

    let out = cg(
        dir,
        &[
            "--db",
            db.to_str().unwrap(),
            "export",
            "month",
            "2026-10",
            "--out",
            "pkg",
            "--tz",
            TZ,
        ],
    );
    let (code, stderr) = failed(&out);
    assert_eq!(code, 2);
    assert!(stderr.contains("do not tie out"), "{stderr}");
    assert!(
        stderr.contains(&hidden.charge_ids[0]),
        "the charge is named: {stderr}"
    );
    assert!(stderr.contains("no package was written"), "{stderr}");
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pkg"))
        .collect();
    assert!(left.is_empty(), "nothing written, found {left:?}");
}
