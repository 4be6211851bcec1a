//! Benchmark: a full sync of 100k charges (override with `CHARGEGUARD_BENCH_SYNC=N`) from
//! the sandbox gateway over real loopback HTTP into a fresh store, then an incremental sync
//! that finds nothing new. Prints wall time, requests (pages) and charges per second.

use std::time::{Duration, Instant};

use chargeguard::gateway::stripe::StripeClient;
use chargeguard::sandbox::{self, SandboxConfig};
use chargeguard::secret::SecretKey;
use chargeguard::store::Store;
use chargeguard::sync::{self, ObjectKind, SyncOptions, SyncProgress};
use serde_json::{Value, json};

const BATCH: usize = 10_000;

#[global_allocator]
static ALLOCATOR: chargeguard::Allocator = chargeguard::Allocator;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total: usize = std::env::var("CHARGEGUARD_BENCH_SYNC")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = sandbox::start(SandboxConfig::new(dir.path().join("sandbox")))
        .await
        .expect("sandbox");
    let now = jiff::Timestamp::now().as_second();
    let http = reqwest::Client::new();
    let seeding = Instant::now();
    for start in (0..total).step_by(BATCH) {
        let charges: Vec<Value> = (start..(start + BATCH).min(total))
            .map(|i| {
                json!({"amount": 1000 + (i % 5000) as i64, "currency": "usd",
                       "created": now - 30 * 86_400 + (i as i64 * 25 / 10),
                       "metadata": {"invoice_number": format!("INV-{i:07}")}})
            })
            .collect();
        let response = http
            .post(format!("{}/_sandbox/seed", sandbox.base_url()))
            .json(&json!({ "charges": charges }))
            .send()
            .await
            .expect("seed");
        assert!(response.status().is_success(), "seeding failed");
    }
    println!(
        "seeded {total} charges at the sandbox in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let client = StripeClient::new(
        &sandbox.base_url(),
        SecretKey::new("sk_test_benchmarkSyncKey").expect("key"),
        Duration::from_secs(30),
    )
    .expect("client");
    let mut store = Store::open(&dir.path().join("bench.db")).expect("store");
    for label in ["full sync", "incremental sync"] {
        let mut pages = [0u64; 2];
        let started = Instant::now();
        let report = sync::sync(
            &mut store,
            &client,
            jiff::Timestamp::now(),
            SyncOptions::default(),
            |p: SyncProgress| {
                let slot = match p.kind {
                    ObjectKind::Charge => 0,
                    ObjectKind::Refund => 1,
                    // The bench's sandbox makes no payout: one empty page.
                    ObjectKind::Payout | ObjectKind::BalanceTransaction | ObjectKind::Dispute => {
                        return;
                    }
                };
                pages[slot] = p.pages;
            },
        )
        .await
        .expect("sync");
        let secs = started.elapsed().as_secs_f64();
        let fetched = report.charges.new + report.charges.changed + report.charges.unchanged;
        println!(
            "{label}: {secs:.2} s, {} requests ({} charge pages, {} refund pages), {} new charges, {:.0} charges/s",
            pages[0] + pages[1],
            pages[0],
            pages[1],
            report.charges.new,
            if secs > 0.0 {
                fetched as f64 / secs
            } else {
                0.0
            }
        );
    }
    sandbox.shutdown().await.expect("shutdown");
}
