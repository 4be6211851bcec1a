//! Payouts synced from the sandbox gateway over real loopback HTTP into a real store: each
//! automatic payout with the balance transactions it took to the bank, followed while it is
//! in transit, listed once more when it lands, then left alone; and `chargeguard payouts`.

use std::time::Duration;

use chargeguard::gateway::stripe::StripeClient;
use chargeguard::records::PayoutStatus;
use chargeguard::sandbox::{self, SandboxConfig};
use chargeguard::secret::SecretKey;
use chargeguard::store::Store;
use chargeguard::sync::{self, SyncOptions, SyncReport};
use serde_json::{Value, json};

#[path = "harness/mod.rs"]
mod harness;

const KEY: &str = "sk_test_payoutSyncTests";

/// A sync of what was created before a moment safely after every object the test made
/// (a sync takes what was created strictly before its instant, in whole seconds).
async fn sync_now(store: &mut Store, client: &StripeClient) -> SyncReport {
    sync::sync(
        store,
        client,
        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2),
        SyncOptions { page_size: 50 },
        |_| {},
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_payout_is_followed_until_it_lands_with_every_transaction_it_paid_out() {
    let dir = tempfile::tempdir().unwrap();
    let running = sandbox::start(SandboxConfig::new(dir.path().join("sandbox")))
        .await
        .unwrap();
    let control = harness::SandboxControl::new(&running.base_url());
    let now = jiff::Timestamp::now().as_second();
    let charges: Vec<Value> = (0..120)
        .map(|i| json!({"amount": 2_000 + i, "currency": "usd", "created": now - 3 * 86_400 + i * 60}))
        .collect();
    let seeded = control.seed(json!({ "charges": charges })).await;
    let refunds: Vec<Value> = seeded["charges"].as_array().unwrap()[..3]
        .iter()
        .map(|c| json!({"charge": c, "amount": 500, "created": now - 86_400}))
        .collect();
    control.seed(json!({ "refunds": refunds })).await;
    let run = control
        .payouts(json!({"status": "in_transit", "arrival_date": now - 60}))
        .await;
    let paid_out = run["payouts"][0]["amount"].as_i64().unwrap();
    let fees: i64 = (0..120)
        .map(|i| ((2_000 + i) * 290 + 5_000) / 10_000 + 30)
        .sum();
    let gross: i64 = (0..120).map(|i| 2_000 + i).sum();
    assert_eq!(
        paid_out,
        gross - fees - 3 * 500,
        "charges less fees and refunds"
    );

    let path = dir.path().join("cg.db");
    let mut store = Store::open(&path).unwrap();
    let client = StripeClient::new(
        &running.base_url(),
        SecretKey::new(KEY).unwrap(),
        Duration::from_secs(10),
    )
    .unwrap();
    let first = sync_now(&mut store, &client).await;
    assert_eq!(first.payouts.new, 1);
    assert_eq!(
        first.balance_transactions.new,
        120 + 3 + 1,
        "its charges, refunds and its own debit"
    );
    let payout = |store: &mut Store| {
        let rows = store.read(|tx| tx.payouts(sync::GATEWAY)).unwrap();
        assert_eq!(rows.len(), 1);
        rows.into_iter().next().unwrap()
    };
    let row = payout(&mut store);
    assert_eq!(row.payout.status, PayoutStatus::InTransit);
    assert_eq!(
        (row.transactions, row.transactions_net.minor()),
        (123, paid_out)
    );

    // In transit: looked at again, nothing new.
    let again = sync_now(&mut store, &client).await;
    assert_eq!((again.payouts.new, again.payouts.changed), (0, 0));
    assert_eq!(again.balance_transactions.new, 0);
    assert_eq!(again.balance_transactions.unchanged, 124);

    // The schedule runs again: the first payout has landed, nothing else to pay out.
    assert_eq!(control.payouts(json!({})).await["payouts"], json!([]));
    let landed = sync_now(&mut store, &client).await;
    assert_eq!(landed.payouts.changed, 1);
    assert_eq!(payout(&mut store).payout.status, PayoutStatus::Paid);
    let settled = sync_now(&mut store, &client).await;
    assert_eq!(
        settled.balance_transactions,
        Default::default(),
        "a landed payout whose transactions are all in is not listed again"
    );

    let out = harness::ok(
        &harness::cli(dir.path())
            .arg("--db")
            .arg(&path)
            .args(["payouts", "--json"])
            .output()
            .unwrap(),
    );
    let listed: Value = serde_json::from_str(&out).unwrap();
    let line = &listed[0];
    assert_eq!(line["id"], run["payouts"][0]["id"]);
    assert_eq!(line["amount_minor"], paid_out);
    assert_eq!(line["currency"], "usd");
    assert_eq!(line["status"], "paid");
    assert_eq!(line["deposit"], Value::Null);
    assert_eq!(line["transactions_net_minor"], paid_out);
    let table = harness::ok(
        &harness::cli(dir.path())
            .arg("--db")
            .arg(&path)
            .arg("payouts")
            .output()
            .unwrap(),
    );
    assert!(
        table.contains(run["payouts"][0]["id"].as_str().unwrap()),
        "{table}"
    );
}
