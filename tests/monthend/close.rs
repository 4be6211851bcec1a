//! Periods and closing, through the real binary: a month is a month in the business's time
//! zone (charges at its edges land where a bookkeeper in that zone expects them), a closed
//! period exports to the same bytes every time, refuses new fixes dated inside it until
//! a named approver reopens it with a reason, and both are in the audit log.

use crate::monthend_support;

use std::path::Path;

use chargeguard::store::Store;
use monthend_support::*;
use rstest::rstest;

/// Four sales at the edges of October in UTC, Berlin and New York, each recorded in the
/// ledger a minute after its charge.
fn edge_books(dir: &Path) -> std::path::PathBuf {
    books_of(
        dir,
        &[
            // 2026-10-01 00:30 in Berlin, still 30 September in UTC and New York.
            Sale {
                invoice: "INV-1",
                charge: "ch_berlin_first_half_hour",
                charged_at: "2026-09-30 22:30:00",
                recorded_at: "2026-09-30T22:31:00Z",
                amount: "10.00",
            },
            // 2026-10-31 23:30 in Berlin (22:30 UTC): October everywhere but nowhere near its end in New York.
            Sale {
                invoice: "INV-2",
                charge: "ch_berlin_last_half_hour",
                charged_at: "2026-10-31 22:30:00",
                recorded_at: "2026-10-31T22:31:00Z",
                amount: "20.00",
            },
            // 2026-11-01 00:30 in Berlin, 23:30 UTC on the 31st.
            Sale {
                invoice: "INV-3",
                charge: "ch_utc_last_half_hour",
                charged_at: "2026-10-31 23:30:00",
                recorded_at: "2026-10-31T23:31:00Z",
                amount: "30.00",
            },
            // 2026-10-31 23:30 in New York, 03:30 UTC on 1 November.
            Sale {
                invoice: "INV-4",
                charge: "ch_new_york_last_half_hour",
                charged_at: "2026-11-01 03:30:00",
                recorded_at: "2026-11-01T03:31:00Z",
                amount: "40.00",
            },
        ],
    )
}

#[rstest]
#[case::berlin("Europe/Berlin", &["ch_berlin_first_half_hour", "ch_berlin_last_half_hour"], "30.00")]
#[case::new_york("America/New_York", &["ch_berlin_last_half_hour", "ch_utc_last_half_hour", "ch_new_york_last_half_hour"], "90.00")]
#[case::utc("UTC", &["ch_berlin_last_half_hour", "ch_utc_last_half_hour"], "50.00")]
fn charges_at_the_edges_of_the_month_land_in_the_local_month(
    #[case] zone: &str,
    #[case] october: &[&str],
    #[case] gross: &str,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = edge_books(dir);
    ok(&cg(
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
            zone,
        ],
    ));
    ok(&cg(dir, &["export", "verify", "pkg"]));
    let mut ids = column(&dir.join("pkg/gateway_charges.csv"), "charge_id");
    ids.sort();
    let mut expected: Vec<String> = october.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(ids, expected);
    let tieout = read_csv(&dir.join("pkg/tieout.csv"));
    let row = tieout
        .iter()
        .find(|(_, r)| r["line"] == "total:gateway_gross")
        .unwrap();
    assert_eq!(row.1["amount"], gross);
    // Each charge's ledger payment a minute later lands in the same local month: nothing
    // differs, nothing is explained by timing.
    let difference = tieout
        .iter()
        .find(|(_, r)| r["line"] == "total:difference")
        .unwrap();
    assert_eq!(difference.1["amount"], "0.00");
}

#[test]
fn a_month_without_a_time_zone_is_refused_rather_than_read_in_utc() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = edge_books(dir);
    let (code, stderr) = failed(&cg(
        dir,
        &[
            "--db",
            db.to_str().unwrap(),
            "export",
            "month",
            "2026-10",
            "--out",
            "pkg",
        ],
    ));
    assert_eq!(code, 2);
    assert!(stderr.contains("--tz"), "{stderr}");
    assert!(!dir.join("pkg").exists());
}

#[test]
fn a_charge_recorded_across_midnight_of_the_month_end_is_timing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = books_of(
        dir,
        &[Sale {
            invoice: "INV-1",
            charge: "ch_late",
            charged_at: "2026-10-31 22:50:00",
            recorded_at: "2026-10-31T23:10:00Z",
            amount: "25.00",
        }],
    );
    // In Berlin the charge is on the 31st at 23:50 and the ledger saw it at 00:10 on the 1st.
    ok(&cg(
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
            "Europe/Berlin",
        ],
    ));
    let tieout = read_csv(&dir.join("pkg/tieout.csv"));
    let line = |key: &str| {
        tieout
            .iter()
            .find(|(_, r)| r["line"] == key)
            .map(|(_, r)| r["amount"].clone())
    };
    assert_eq!(line("total:difference").as_deref(), Some("25.00"));
    assert_eq!(line("line:timing").as_deref(), Some("25.00"));
    assert_eq!(
        column(&dir.join("pkg/gateway_charges.csv"), "tieout_line"),
        ["timing"]
    );
    ok(&cg(dir, &["export", "verify", "pkg"]));
}

fn orphan_in(db: &Path, month: &str) -> i64 {
    let period = chargeguard::period::Period::parse(month, "Europe/Berlin").unwrap();
    let mut store = Store::open(db).unwrap();
    store
        .read(|tx| {
            let charges = tx.charges()?;
            let findings = tx.findings(&chargeguard::store::FindingFilter {
                kind: Some(chargeguard::reconcile::FindingKind::OrphanCharge),
                status: Some(chargeguard::store::FindingStatus::Open),
            })?;
            Ok::<_, chargeguard::store::StoreError>(
                findings
                    .iter()
                    .find(|f| {
                        f.charge_ids.iter().any(|id| {
                            charges
                                .iter()
                                .any(|c| &c.id == id && period.contains(c.created))
                        })
                    })
                    .map(|f| f.id),
            )
        })
        .unwrap()
        .expect("an orphan charge in the month")
}

#[test]
fn a_closed_period_exports_byte_identical_refuses_fixes_inside_it_and_reopens_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = demo_store(dir);
    let d = db.to_str().unwrap();
    add_approver(dir, &db, "alice");

    // A bookkeeper cannot sign a period off; a wrong passphrase neither.
    let (_, stderr) = failed(&cg_with(
        dir,
        &[
            "--db",
            d,
            "close",
            "2026-10",
            "--by",
            "alice",
            "--tz",
            "Europe/Berlin",
        ],
        "wrong passphrase\n",
        &[],
    ));
    assert!(stderr.to_lowercase().contains("passphrase"), "{stderr}");

    let out = ok(&cg_with(
        dir,
        &[
            "--db",
            d,
            "close",
            "2026-10",
            "--by",
            "alice",
            "--tz",
            "Europe/Berlin",
        ],
        &format!("{PASSPHRASE}\n"),
        &[],
    ));
    assert!(out.contains("Closed 2026-10"), "{out}");
    let (_, stderr) = failed(&cg_with(
        dir,
        &[
            "--db",
            d,
            "close",
            "2026-10",
            "--by",
            "alice",
            "--tz",
            "Europe/Berlin",
        ],
        &format!("{PASSPHRASE}\n"),
        &[],
    ));
    assert!(stderr.contains("already closed"), "{stderr}");

    // Two exports of the closed period, byte for byte; the zone is the one it was closed in.
    ok(&cg(
        dir,
        &["--db", d, "export", "month", "2026-10", "--out", "first"],
    ));
    ok(&cg(
        dir,
        &[
            "--db",
            d,
            "export",
            "month",
            "2026-10",
            "--out",
            "second",
            "--tz",
            "Europe/Berlin",
        ],
    ));
    let first = files_of(&dir.join("first"));
    assert_eq!(first, files_of(&dir.join("second")));
    assert_eq!(
        std::fs::read(dir.join("first.zip")).unwrap(),
        std::fs::read(dir.join("second.zip")).unwrap()
    );
    let manifest: serde_json::Value = serde_json::from_slice(&first["manifest.json"]).unwrap();
    assert_eq!(manifest["closed"]["closed_by"], "alice");
    assert_eq!(manifest["as_of"], manifest["closed"]["closed_at"]);
    let audit = String::from_utf8(first["audit_log.csv"].clone()).unwrap();
    assert!(audit.contains("period_closed"), "{audit}");
    let (_, stderr) = failed(&cg(
        dir,
        &[
            "--db", d, "export", "month", "2026-10", "--out", "third", "--tz", "UTC",
        ],
    ));
    assert!(stderr.contains("closed in Europe/Berlin"), "{stderr}");

    // Recording an October orphan's payment is a ledger fix dated in October: refused.
    let orphan = orphan_in(&db, "2026-10");
    let (_, stderr) = failed(&cg(
        dir,
        &["--db", d, "propose", &orphan.to_string(), "--by", "alice"],
    ));
    assert!(stderr.contains("2026-10, which is closed"), "{stderr}");

    // Reopening needs a reason, then the fix goes through.
    let (_, stderr) = failed(&cg_with(
        dir,
        &[
            "--db", d, "reopen", "2026-10", "--by", "alice", "--reason", " ",
        ],
        &format!("{PASSPHRASE}\n"),
        &[],
    ));
    assert!(stderr.contains("reason"), "{stderr}");
    ok(&cg_with(
        dir,
        &[
            "--db",
            d,
            "reopen",
            "2026-10",
            "--by",
            "alice",
            "--reason",
            "late orphan found",
        ],
        &format!("{PASSPHRASE}\n"),
        &[],
    ));
    let id = ok(&cg(
        dir,
        &["--db", d, "propose", &orphan.to_string(), "--by", "alice"],
    ));
    assert!(id.trim().parse::<i64>().is_ok(), "{id}");

    // Both the close and the reopen are audited, and the chain holds.
    let mut store = Store::open(&db).unwrap();
    let events: Vec<(String, String)> = store
        .read(|tx| tx.audit_entries_about("period:2026-10"))
        .unwrap()
        .into_iter()
        .map(|e| (e.event, e.actor))
        .collect();
    assert_eq!(
        events,
        [
            ("period_closed".to_string(), "alice".to_string()),
            ("period_reopened".to_string(), "alice".to_string())
        ]
    );
    ok(&cg(dir, &["--db", d, "audit", "verify"]));
}

#[test]
fn an_approved_ledger_fix_is_refused_when_its_period_closed_in_between() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = demo_store(dir);
    let d = db.to_str().unwrap();
    add_approver(dir, &db, "alice");
    let orphan = orphan_in(&db, "2026-10");
    let id = ok(&cg(
        dir,
        &["--db", d, "propose", &orphan.to_string(), "--by", "alice"],
    ));
    let id = id.trim();
    ok(&cg_with(
        dir,
        &[
            "--db",
            d,
            "approve",
            id,
            "--by",
            "alice",
            "--heuristic-checked",
        ],
        &format!("{PASSPHRASE}\n"),
        &[],
    ));
    // The open action's finding still explains the difference, so the period can close.
    ok(&cg_with(
        dir,
        &[
            "--db",
            d,
            "close",
            "2026-10",
            "--by",
            "alice",
            "--tz",
            "Europe/Berlin",
        ],
        &format!("{PASSPHRASE}\n"),
        &[],
    ));
    // Connected to a gateway nobody listens on: a ledger fix never calls it.
    let mut store = Store::open(&db).unwrap();
    store
        .write(|tx| {
            tx.set_setting(chargeguard::sync::API_BASE_SETTING, "http://127.0.0.1:9")?;
            tx.set_setting(chargeguard::sync::ACCOUNT_SETTING, "store-test")
        })
        .unwrap();
    drop(store);
    let out = cg_with(
        dir,
        &["--db", d, "execute", id],
        "",
        &[("CHARGEGUARD_API_KEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc")],
    );
    let (_, stderr) = failed(&out);
    assert!(
        stderr.contains("falls in 2026-10, which is closed"),
        "{stderr}"
    );
    // Nothing moved: the action is still approved, ready once the period is reopened.
    let actions: serde_json::Value =
        serde_json::from_str(&ok(&cg(dir, &["--db", d, "--json", "actions"]))).unwrap();
    let action = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"].as_i64() == id.parse::<i64>().ok())
        .unwrap();
    assert_eq!(action["state"], "approved");
}

#[test]
fn books_that_do_not_tie_out_cannot_be_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = demo_store(dir);
    let d = db.to_str().unwrap();
    add_approver(dir, &db, "alice");
    let orphan = orphan_in(&db, "2026-10");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("DELETE FROM findings WHERE id = ?1", [orphan])
        .unwrap();
    drop(conn);
    let (_, stderr) = failed(&cg_with(
        dir,
        &[
            "--db",
            d,
            "close",
            "2026-10",
            "--by",
            "alice",
            "--tz",
            "Europe/Berlin",
        ],
        &format!("{PASSPHRASE}\n"),
        &[],
    ));
    assert!(stderr.contains("do not tie out"), "{stderr}");
    let mut store = Store::open(&db).unwrap();
    assert!(
        store
            .read(|tx| tx.live_period_close("2026-10"))
            .unwrap()
            .is_none()
    );
}
