//! The Stripe clearing account of a month-end package, end to end: charges, a refund and
//! payouts (one of them failed and paid out again) made in the sandbox gateway over real
//! loopback HTTP, synced into a real store, exported through the real binary; the written
//! clearing files read back and held to what Stripe's balance is as the sandbox reports it
//! and to every balance transaction it lists; the package verified, then changed by one
//! byte and refused.

use crate::monthend_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chargeguard::gateway::stripe::StripeClient;
use chargeguard::money::{Currency, Money, Sign};
use chargeguard::period::Period;
use chargeguard::sandbox::{self, SandboxConfig};
use chargeguard::secret::SecretKey;
use chargeguard::store::Store;
use chargeguard::sync::{self, SyncOptions};
use monthend_support::*;
use serde_json::{Value, json};

const KEY: &str = "sk_test_clearingMonthEnd";

/// The sandbox's fee on a charge of `amount` (2.9% rounded half up, plus 30).
fn fee(amount: i64) -> i64 {
    (amount * 290 + 5_000) / 10_000 + 30
}

/// Every balance transaction the sandbox lists (`GET /v1/balance_transactions`, page by
/// page): its own books, asked over HTTP as any Stripe client would.
async fn sandbox_transactions(http: &reqwest::Client, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/balance_transactions?limit=100");
        if let Some(a) = &after {
            url.push_str(&format!("&starting_after={a}"));
        }
        let page: Value = http
            .get(&url)
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().expect("a list").clone();
        after = data.last().map(|t| t["id"].as_str().unwrap().to_string());
        out.extend(data);
        if page["has_more"] != json!(true) {
            return out;
        }
    }
}

/// Stripe's balance per currency as `GET /v1/balance` states it (available + pending),
/// where the sandbox serves that route.
async fn sandbox_balance(http: &reqwest::Client, base: &str) -> Option<BTreeMap<String, i64>> {
    let answer = http
        .get(format!("{base}/v1/balance"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    if !answer.status().is_success() {
        return None;
    }
    let body: Value = answer.json().await.unwrap();
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for part in ["available", "pending"] {
        for b in body[part].as_array().into_iter().flatten() {
            *out.entry(b["currency"].as_str().unwrap().to_string())
                .or_default() += b["amount"].as_i64().unwrap();
        }
    }
    Some(out)
}

/// What the sandbox's transactions created before `before` add up to, per currency.
fn net_before(transactions: &[Value], before: jiff::Timestamp) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for t in transactions {
        if t["created"].as_i64().unwrap() < before.as_second() {
            *out.entry(t["currency"].as_str().unwrap().to_string())
                .or_default() += t["net"].as_i64().unwrap();
        }
    }
    out
}

fn minor(text: &str, currency: &str) -> i64 {
    Money::parse(text, Currency::from_code(currency).unwrap(), Sign::Any)
        .unwrap_or_else(|e| panic!("`{text}`: {e}"))
        .minor()
}

/// `clearing.csv` as currency → line → amount (minor units).
fn equation(pkg: &Path) -> BTreeMap<String, BTreeMap<String, i64>> {
    let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (_, row) in read_csv(&pkg.join("clearing.csv")) {
        let c = row["currency"].clone();
        let v = minor(&row["amount"], &c);
        out.entry(c).or_default().insert(row["line"].clone(), v);
    }
    out
}

fn export(dir: &Path, db: &Path, month: &str, out: &str) -> std::path::PathBuf {
    export_month(dir, db, month, out, "UTC", &[])
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for (name, bytes) in files_of(from) {
        std::fs::write(to.join(name), bytes).unwrap();
    }
}

/// Changes one digit of the last data line of `file` (`7` for any other digit, `8` for a
/// `7`): one byte.
fn flip_a_digit(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let body_end = bytes.len() - 2; // the last CRLF
    let at = (0..body_end)
        .rev()
        .find(|&i| bytes[i].is_ascii_digit())
        .expect("a digit in the last line");
    bytes[at] = if bytes[at] == b'7' { b'8' } else { b'7' };
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clearing_account_closes_at_stripes_balance_with_every_transaction_traced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let running = sandbox::start(SandboxConfig::new(dir.join("sandbox")))
        .await
        .unwrap();
    let base = running.base_url().trim_end_matches('/').to_string();
    let control = SandboxControl::new(&base);
    let client =
        StripeClient::new(&base, SecretKey::new(KEY).unwrap(), Duration::from_secs(10)).unwrap();
    let http = reqwest::Client::new();

    // This month, in UTC, and the one before it.
    let now = jiff::Timestamp::now();
    let this = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let month = format!("{:04}-{:02}", this.year(), this.month());
    let period = Period::parse(&month, "UTC").unwrap();
    let last = period
        .start()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .yesterday()
        .unwrap();
    let last_month = format!("{:04}-{:02}", last.year(), last.month());
    let start = period.start().as_second();
    // Times inside this month and before now, however early in the month this runs.
    let inside =
        |i: i64, of: i64| start + (now.as_second() - 5 - start).max(0) * (i + 1) / (of + 1);

    // Last month: dollars and euros charged, still in Stripe's balance at its end.
    let before: Vec<(i64, &str)> = vec![
        (12_000, "usd"),
        (4_550, "usd"),
        (30_001, "usd"),
        (9_900, "eur"),
        (2_500, "eur"),
    ];
    control
        .seed(
            json!({ "charges": before.iter().enumerate().map(|(i, (amount, c))| json!({
            "amount": amount, "currency": c, "created": start - 10 * 86_400 + i as i64 * 60,
        })).collect::<Vec<_>>() }),
        )
        .await;
    // The schedule pays them out (in this month).
    let first = control.payouts(json!({"status": "paid"})).await;

    // This month: more charges, one refunded in part; a payout fails and goes again.
    let during: Vec<(i64, &str)> = vec![
        (20_000, "usd"),
        (7_777, "usd"),
        (1_234, "usd"),
        (6_000, "eur"),
    ];
    let seeded = control
        .seed(
            json!({ "charges": during.iter().enumerate().map(|(i, (amount, c))| json!({
            "amount": amount, "currency": c, "created": inside(i as i64, 6),
        })).collect::<Vec<_>>() }),
        )
        .await;
    let refunded = seeded["charges"][0].clone();
    control
        .seed(
            json!({ "refunds": [{"charge": refunded, "amount": 2_500, "created": inside(5, 6)}] }),
        )
        .await;
    let failing = control.payouts(json!({"status": "failed"})).await;
    let again = control.payouts(json!({"status": "paid"})).await;
    let paid = |run: &Value, currency: &str| -> i64 {
        run["payouts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["currency"] == currency)
            .map(|p| p["amount"].as_i64().unwrap())
            .sum()
    };
    assert!(paid(&failing, "usd") > 0 && paid(&again, "usd") == paid(&failing, "usd"));
    // After the last payout: a charge not yet paid out, and one its customer's bank charges
    // back (the amount and a 15.00 fee leave the balance), so the month closes away from 0.
    let unpaid: [(i64, &str); 2] = [(3_000, "pm_card_visa"), (5_000, "pm_card_createDispute")];
    control
        .seed(
            json!({ "charges": unpaid.iter().map(|(amount, card)| json!({
            "amount": amount, "currency": "usd", "created": inside(5, 6), "payment_method": card,
        })).collect::<Vec<_>>() }),
        )
        .await;

    let db = dir.join("cg.db");
    let mut store = Store::open(&db).unwrap();
    sync::sync(
        &mut store,
        &client,
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2),
        SyncOptions { page_size: 50 },
        |_| {},
    )
    .await
    .unwrap();
    drop(store);
    // The charges are in no ledger: each is an orphan, and the tie-out needs its finding.
    ok(&cg(dir, &["--db", db.to_str().unwrap(), "reconcile"]));

    let pkg = export(dir, &db, &month, "pkg");
    let previous = export(dir, &db, &last_month, "previous");

    // Stripe's own account of its balance, over HTTP.
    let listed = sandbox_transactions(&http, &base).await;
    assert_eq!(
        listed.len(),
        // The charges, the refund, the first run's two payouts, the failed run's two
        // payouts and their two failures, the two that paid those out again, the charges
        // not yet paid out and the chargeback's withdrawal.
        before.len() + during.len() + 1 + 2 + 4 + 2 + unpaid.len() + 1,
        "{listed:#?}"
    );
    let at_end = net_before(&listed, period.end());
    let at_start = net_before(&listed, period.start());

    // Last month closes at what Stripe held at its end; this month opens there.
    let last_eq = equation(&previous);
    let this_eq = equation(&pkg);
    for currency in ["usd", "eur"] {
        let held: i64 = before
            .iter()
            .filter(|(_, c)| *c == currency)
            .map(|(a, _)| a - fee(*a))
            .sum();
        assert_eq!(at_start[currency], held, "the sandbox's books, {currency}");
        assert_eq!(last_eq[currency]["closing_balance"], held, "{currency}");
        assert_eq!(this_eq[currency]["opening_balance"], held, "{currency}");
        assert_eq!(
            this_eq[currency]["closing_balance"], at_end[currency],
            "this month closes at Stripe's balance, {currency}"
        );
    }
    let balance = sandbox_balance(&http, &base)
        .await
        .expect("the sandbox serves GET /v1/balance");
    assert_ne!(
        balance["usd"], 0,
        "money not yet paid out, and a chargeback"
    );
    for (currency, amount) in &balance {
        assert_eq!(
            this_eq[currency]["closing_balance"], *amount,
            "GET /v1/balance, {currency}"
        );
    }
    // Each line, from what was made.
    let usd = &this_eq["usd"];
    let made = |c: &'static str| during.iter().filter(move |(_, x)| *x == c);
    let unpaid_gross: i64 = unpaid.iter().map(|(a, _)| a).sum();
    let unpaid_fees: i64 = unpaid.iter().map(|(a, _)| fee(*a)).sum();
    assert_eq!(
        usd["charges"],
        made("usd").map(|(a, _)| a).sum::<i64>() + unpaid_gross
    );
    assert_eq!(
        usd["fees"],
        -made("usd").map(|(a, _)| fee(*a)).sum::<i64>() - unpaid_fees - 1_500,
        "the card fees and the dispute fee"
    );
    assert_eq!(usd["refunds"], -2_500);
    assert_eq!(usd["disputes"], -5_000, "the chargeback's amount");
    assert_eq!(usd["other"], 0);
    assert_eq!(
        usd["payouts"],
        -paid(&first, "usd") - paid(&failing, "usd") + paid(&failing, "usd") - paid(&again, "usd"),
        "paid out, failed and back, paid out again"
    );
    assert_eq!(
        usd["closing_balance"],
        [
            "opening_balance",
            "charges",
            "refunds",
            "fees",
            "disputes",
            "payouts",
            "other"
        ]
        .iter()
        .map(|l| usd[*l])
        .sum::<i64>()
    );

    // Every balance transaction of the month, exactly once, with its amount, fee and net.
    let rows = read_csv(&pkg.join("clearing_transactions.csv"));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (_, r) in &rows {
        *seen.entry(r["balance_transaction_id"].clone()).or_default() += 1;
    }
    let of_month: Vec<&Value> = listed
        .iter()
        .filter(|t| {
            period.contains(jiff::Timestamp::from_second(t["created"].as_i64().unwrap()).unwrap())
        })
        .collect();
    assert_eq!(rows.len(), of_month.len());
    for t in &of_month {
        let id = t["id"].as_str().unwrap();
        assert_eq!(seen.get(id), Some(&1), "{id} once in the detail file");
        let (_, r) = rows
            .iter()
            .find(|(_, r)| r["balance_transaction_id"] == id)
            .unwrap();
        let c = t["currency"].as_str().unwrap();
        assert_eq!(
            minor(&r["amount"], c),
            t["amount"].as_i64().unwrap(),
            "{id}"
        );
        assert_eq!(minor(&r["fee"], c), t["fee"].as_i64().unwrap(), "{id}");
        assert_eq!(minor(&r["net"], c), t["net"].as_i64().unwrap(), "{id}");
        assert_eq!(r["type"], t["type"].as_str().unwrap(), "{id}");
    }
    // Last month's rows are last month's only.
    let last_rows = column(
        &previous.join("clearing_transactions.csv"),
        "balance_transaction_id",
    );
    assert_eq!(last_rows.len(), before.len());

    // The fees journal: one line per currency, the month's fees, dated its last day.
    let journal = read_csv(&pkg.join("fees_journal.csv"));
    assert_eq!(journal.len(), 2);
    let (_, j) = journal
        .iter()
        .find(|(_, j)| j["currency"] == "usd")
        .unwrap();
    assert_eq!(minor(&j["amount"], "usd"), -usd["fees"]);
    assert_eq!(j["debit_account"], "Stripe fees");
    assert_eq!(j["credit_account"], "Stripe clearing");
    assert_eq!(j["date"], period.days().last().unwrap().to_string());
    assert_eq!(
        j["transactions"],
        (made("usd").count() + unpaid.len() + 1).to_string(),
        "each transaction that carried a fee: the charges and the chargeback"
    );
    assert!(j["memo"].contains(&month), "{}", j["memo"]);

    // The workbook and the page carry it too; the manifest lists the files.
    let html = std::fs::read_to_string(pkg.join("summary.html")).unwrap();
    assert!(html.contains("Stripe clearing account in USD"), "{html}");
    let xlsx = zip_entries(&std::fs::read(pkg.join("workbook.xlsx")).unwrap());
    let workbook = String::from_utf8(xlsx["xl/workbook.xml"].clone()).unwrap();
    for sheet in [
        "Stripe clearing",
        "Clearing transactions",
        "Stripe fees journal",
    ] {
        assert!(workbook.contains(sheet), "no sheet {sheet}");
    }
    let manifest = std::fs::read_to_string(pkg.join("manifest.json")).unwrap();
    for name in [
        "clearing.csv",
        "clearing_transactions.csv",
        "fees_journal.csv",
    ] {
        assert!(
            manifest.contains(&format!("\"{name}\"")),
            "{name} not in the manifest"
        );
    }

    // The same books export to the same bytes.
    let twice = export(dir, &db, &last_month, "previous-again");
    assert_eq!(files_of(&previous), files_of(&twice));

    // Verified; then one byte changed in each new file, and refused naming it.
    let out = ok(&cg(dir, &["export", "verify", "pkg"]));
    assert!(out.contains("Stripe clearing closes at"), "{out}");
    for file in [
        "clearing.csv",
        "clearing_transactions.csv",
        "fees_journal.csv",
    ] {
        let copy = dir.join(format!("tampered-{file}"));
        copy_dir(&pkg, &copy);
        flip_a_digit(&copy.join(file));
        let (code, stderr) = failed(&cg(dir, &["export", "verify", copy.to_str().unwrap()]));
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(file), "{file}: {stderr}");
    }
    // A forger moves a failed payout's return onto `other` and rewrites the manifest to
    // match: the hashes hold, adding up again does not.
    let copy = dir.join("forged");
    copy_dir(&pkg, &copy);
    let detail = copy.join("clearing_transactions.csv");
    let text = std::fs::read_to_string(&detail).unwrap();
    let forged: Vec<String> = text
        .split_inclusive("\r\n")
        .map(|line| {
            if line.contains(",payout_failure,") {
                line.replacen(",payouts,", ",other,", 1)
            } else {
                line.to_string()
            }
        })
        .collect();
    let forged = forged.concat();
    assert_ne!(forged, text, "a failed payout's return to move");
    std::fs::write(&detail, &forged).unwrap();
    rehash(&copy, "clearing_transactions.csv");
    let (code, stderr) = failed(&cg(dir, &["export", "verify", "forged"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("clearing_transactions.csv line")
            && stderr.contains("belongs on the line `payouts`, not `other`"),
        "{stderr}"
    );
}

/// Rewrites `manifest.json` so that `file`'s hashes match it as it is now: what a forger
/// who edits a file and its manifest does.
fn rehash(pkg: &Path, file: &str) {
    use chargeguard::export::manifest::{BlockHasher, Manifest, sha256_hex};
    let path = pkg.join("manifest.json");
    let mut manifest: Manifest = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let bytes = std::fs::read(pkg.join(file)).unwrap();
    let entry = manifest.files.iter_mut().find(|f| f.name == file).unwrap();
    entry.sha256 = sha256_hex(&bytes);
    entry.bytes = bytes.len() as u64;
    let mut blocks = BlockHasher::new(entry.records.unwrap());
    for record in csv::Reader::from_reader(bytes.as_slice()).records() {
        blocks.record(record.unwrap().iter());
    }
    entry.blocks = blocks.finish().1;
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}
