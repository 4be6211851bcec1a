//! The Settings and Today commands (`chargeguard::api::settings`, `api::today_sync`)
//! through the one command list both shells route by, on real SQLite files and a real
//! sandbox gateway over loopback: the secret key typed once reaches no answer, no store
//! byte; people, the threshold (an approver's sign-off) and the time zone (an IANA zone)
//! change as the core allows; Sync now answers at once and its progress runs to the end;
//! the chart's money is exact minor units per currency.
//!
//! The connect test uses the OS keyring where one answers (`scripts/with-keyring.sh`, as CI
//! runs it); elsewhere it gives the key through `CHARGEGUARD_API_KEY` instead, the other
//! way the core takes a key, and still checks every answer.

mod api_support;

use std::time::{Duration, Instant};

use api_support::{APPROVER, PASSPHRASE, call, demo};
use chargeguard::api::settings::*;
use chargeguard::api::today_sync::*;
use chargeguard::api::{self, ApiErrorCode};
use chargeguard::sandbox::{self, SandboxConfig};
use chargeguard::secret::Keyring;
use serde_json::{Value, json};

const KEY: &str = "sk_test_51SettingsScreenNeverShowsThisKey9876";
/// The part of the key no mask would show either.
const SECRET_PART: &str = "SettingsScreenNeverShowsThisKey";

/// The settings name `base` as the gateway (Stripe's client adds a trailing slash).
fn assert_connected_to(settings: &Settings, base: &str) {
    assert_eq!(
        settings
            .gateway
            .api_base
            .as_deref()
            .map(|b| b.trim_end_matches('/')),
        Some(base)
    );
}

/// Polls until the sync is no longer running (each poll is what the window does).
async fn until_finished(api: &api::Api) -> SyncStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status: SyncStatus = call(api, "sync_progress", Value::Null).await.unwrap();
        if status.state != SyncState::Running {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the sync did not finish: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_key_typed_once_reaches_no_answer_and_no_store_byte() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cg.db");
    let running = sandbox::start(SandboxConfig::new(dir.path().join("sandbox")))
        .await
        .unwrap();
    let keyring = Keyring::open().ok();
    if keyring.is_none() {
        eprintln!("no Secret Service here: the key goes through CHARGEGUARD_API_KEY instead");
        // SAFETY: the only test of this binary that reads or writes the environment.
        unsafe { std::env::set_var(chargeguard::secret::API_KEY_ENV, KEY) };
    }
    let api = api::Api::new(&db).with_http_timeout(Duration::from_secs(5));

    let malformed = call::<_, Settings>(
        &api,
        "connect_gateway",
        json!({"api_base": running.base_url(), "secret_key": "pk_test_51SettingsScreenNeverShowsThisKey9876"}),
    )
    .await
    .unwrap_err();
    assert_eq!(malformed.code, ApiErrorCode::InvalidInput);
    assert!(
        !malformed.message.contains(SECRET_PART),
        "{}",
        malformed.message
    );

    let mut answers: Vec<Value> = Vec::new();
    let connected: Value = call(
        &api,
        "connect_gateway",
        json!({"api_base": running.base_url(), "secret_key": KEY}),
    )
    .await
    .expect("the sandbox accepts a test key");
    answers.push(connected.clone());
    let settings: Settings = serde_json::from_value(connected).unwrap();
    assert_connected_to(&settings, &running.base_url());
    let expected_source = if keyring.is_some() {
        KeySource::Keyring
    } else {
        KeySource::Environment
    };
    assert_eq!(settings.gateway.key_source, expected_source);

    let started: Value = call(&api, "sync_start", Value::Null).await.unwrap();
    answers.push(started);
    let finished = until_finished(&api).await;
    assert_eq!(finished.state, SyncState::Succeeded, "{finished:?}");
    answers.push(serde_json::to_value(&finished).unwrap());
    for command in [
        "settings",
        "today",
        "actions",
        "mappings",
        "sync_progress",
        "audit_verify",
    ] {
        answers.push(call(&api, command, Value::Null).await.unwrap());
    }
    answers.push(call(&api, "findings", json!({})).await.unwrap());
    answers.push(call(&api, "daily_totals", json!({})).await.unwrap());
    for answer in &answers {
        let text = answer.to_string();
        assert!(
            !text.contains(SECRET_PART),
            "an answer holds the key: {text}"
        );
    }

    let mut bytes = std::fs::read(&db).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("cg.db-wal")) {
        bytes.extend(wal);
    }
    let needle = SECRET_PART.as_bytes();
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "the store holds the key"
    );
    if let Some(keyring) = keyring {
        let account = chargeguard::store::Store::open(&db)
            .unwrap()
            .read(|tx| tx.setting(chargeguard::sync::ACCOUNT_SETTING))
            .unwrap()
            .unwrap();
        assert_eq!(
            keyring.load(&account).unwrap().unwrap().expose(),
            KEY,
            "the keyring holds it"
        );
        keyring.forget(&account).unwrap();
    }
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_window_does_not_connect_another_gateway() {
    let demo = demo();
    let (api, running) = demo.connect().await;
    let settings: Settings = call(&api, "settings", Value::Null).await.unwrap();
    assert_eq!(settings.gateway.key_source, KeySource::App);
    assert!(!settings.gateway.can_connect);
    let refused = call::<_, Settings>(
        &api,
        "connect_gateway",
        json!({"api_base": "https://api.stripe.com", "secret_key": KEY}),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code, ApiErrorCode::Refused);
    assert!(
        refused.message.contains("your own store"),
        "{}",
        refused.message
    );
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn people_threshold_and_time_zone_change_only_as_the_core_allows() {
    let dir = tempfile::tempdir().unwrap();
    let api = api::Api::new(dir.path().join("cg.db"));
    let start: Settings = call(&api, "settings", Value::Null).await.unwrap();
    assert!(
        start.thresholds.is_empty(),
        "no money in the books, none set: nothing to list"
    );
    assert_eq!(start.time_zone, None);
    assert_eq!(start.gateway.key_source, KeySource::None);
    assert_eq!(
        std::path::Path::new(&start.data_folder),
        std::path::absolute(dir.path()).unwrap()
    );

    let weak = call::<_, Settings>(
        &api,
        "user_add",
        json!({"name": "alice", "role": "approver", "passphrase": "short"}),
    )
    .await
    .unwrap_err();
    assert_eq!(weak.code, ApiErrorCode::InvalidInput);
    assert!(weak.message.contains("8 characters"), "{}", weak.message);
    let with_alice: Settings = call(
        &api,
        "user_add",
        json!({"name": APPROVER, "role": "approver", "passphrase": PASSPHRASE}),
    )
    .await
    .unwrap();
    // Once there is an approver, nobody is added without one vouching.
    let alone = call::<_, Settings>(
        &api,
        "user_add",
        json!({"name": "bob", "role": "approver", "passphrase": "bob's own passphrase"}),
    )
    .await
    .unwrap_err();
    assert_eq!(alone.code, ApiErrorCode::InvalidInput);
    assert!(alone.message.contains("approver"), "{}", alone.message);
    let with_bob: Settings = call(
        &api,
        "user_add",
        json!({"name": "bob", "role": "bookkeeper", "passphrase": "bob's own passphrase",
               "by": APPROVER, "by_passphrase": PASSPHRASE}),
    )
    .await
    .unwrap();
    assert_eq!(with_alice.people.len(), 1);
    assert_eq!(
        with_bob.people,
        vec![
            Person {
                name: "alice".into(),
                role: PersonRole::Approver
            },
            Person {
                name: "bob".into(),
                role: PersonRole::Bookkeeper
            },
        ]
    );
    let text = serde_json::to_string(&with_bob).unwrap();
    assert!(
        !text.contains(PASSPHRASE) && !text.contains("argon2"),
        "{text}"
    );

    let wrong = call::<_, Settings>(
        &api,
        "threshold_set",
        json!({"currency": "JPY", "amount": "50,000", "by": APPROVER, "passphrase": "not it at all"}),
    )
    .await
    .unwrap_err();
    assert_eq!(wrong.code, ApiErrorCode::WrongPassphrase);
    let bookkeeper = call::<_, Settings>(
        &api,
        "threshold_set",
        json!({"currency": "JPY", "amount": "50,000", "by": "bob", "passphrase": "bob's own passphrase"}),
    )
    .await
    .unwrap_err();
    assert_eq!(bookkeeper.code, ApiErrorCode::WrongPassphrase);
    assert!(
        bookkeeper.message.contains("not an approver"),
        "{}",
        bookkeeper.message
    );
    let decimals = call::<_, Settings>(
        &api,
        "threshold_set",
        json!({"currency": "JPY", "amount": "50,000.5", "by": APPROVER, "passphrase": PASSPHRASE}),
    )
    .await
    .unwrap_err();
    assert_eq!(decimals.code, ApiErrorCode::InvalidInput);
    assert!(decimals.message.contains("JPY"), "{}", decimals.message);
    let set: Settings = call(
        &api,
        "threshold_set",
        json!({"currency": "jpy", "amount": "50,000", "by": APPROVER, "passphrase": PASSPHRASE}),
    )
    .await
    .unwrap();
    assert_eq!(set.thresholds.len(), 1, "{:?}", set.thresholds);
    let jpy = &set.thresholds[0];
    assert_eq!(
        (
            jpy.amount.minor.as_str(),
            jpy.amount.currency.as_str(),
            jpy.source
        ),
        ("50000", "JPY", ThresholdSource::Set)
    );
    assert_eq!(jpy.words, "above 50,000 JPY two approvers are needed");

    let bad_zone =
        call::<_, Settings>(&api, "time_zone_set", json!({"zone": "CET+1", "by": "bob"}))
            .await
            .unwrap_err();
    assert_eq!(bad_zone.code, ApiErrorCode::InvalidInput);
    assert!(
        bad_zone.message.contains("Europe/Berlin"),
        "{}",
        bad_zone.message
    );
    let zoned: Settings = call(
        &api,
        "time_zone_set",
        json!({"zone": "asia/kolkata", "by": "bob"}),
    )
    .await
    .unwrap();
    assert_eq!(zoned.time_zone.as_deref(), Some("Asia/Kolkata"));
    let totals: DailyTotals = call(&api, "daily_totals", json!({})).await.unwrap();
    assert_eq!(
        totals.zone, "Asia/Kolkata",
        "the chart's days are the business's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_start_answers_at_once_and_its_progress_runs_to_the_end() {
    let demo = demo();
    let (api, running) = demo.connect().await;
    let idle: SyncStatus = call(&api, "sync_progress", Value::Null).await.unwrap();
    assert_eq!(idle.state, SyncState::Idle);
    let started: SyncStatus = call(&api, "sync_start", Value::Null).await.unwrap();
    assert_eq!(started.state, SyncState::Running);
    assert_eq!(started.run, 1);
    // Pressed again while it runs: the same run, never a second one.
    let again: SyncStatus = call(&api, "sync_start", Value::Null).await.unwrap();
    if again.state == SyncState::Running {
        assert_eq!(again.run, 1);
    }
    let finished = until_finished(&api).await;
    assert_eq!(finished.state, SyncState::Succeeded, "{finished:?}");
    assert_eq!(finished.phase, SyncPhase::Finished);
    assert_eq!(finished.percent, 100);
    assert!(
        finished.charges.pages >= 1 && finished.charges.fetched > 0,
        "{finished:?}"
    );
    let synced = finished.synced.expect("the result is kept");
    assert_eq!(synced.open_findings, 21, "the demo's findings, no more");
    assert!(finished.words.starts_with("synced: "), "{}", finished.words);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_sync_without_a_gateway_fails_and_says_to_connect_one() {
    let dir = tempfile::tempdir().unwrap();
    let api = api::Api::new(dir.path().join("cg.db"));
    let _: SyncStatus = call(&api, "sync_start", Value::Null).await.unwrap();
    let finished = until_finished(&api).await;
    assert_eq!(finished.state, SyncState::Failed);
    let error = finished.error.expect("the reason is kept");
    assert_eq!(error.code, ApiErrorCode::NotConnected);
    assert!(error.message.contains("Settings"), "{}", error.message);
}

#[test]
fn the_chart_holds_exact_minor_units_per_currency_day_by_day() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    let totals =
        api::today_sync::daily_totals(&api, &DailyTotalsRequest { days: Some(92) }).unwrap();
    assert_eq!(totals.zone, "UTC");
    let currencies: Vec<&str> = totals.series.iter().map(|s| s.currency.as_str()).collect();
    for code in ["EUR", "JPY", "KWD"] {
        assert!(currencies.contains(&code), "{currencies:?}");
    }
    let first = totals.first.clone().unwrap();
    let last = totals.last.clone().unwrap();
    let mut differs = false;
    for series in &totals.series {
        assert_eq!(series.days.first().unwrap().day, first);
        assert_eq!(series.days.last().unwrap().day, last);
        assert!(series.days.len() <= 92);
        for day in &series.days {
            for a in [&day.gateway, &day.ledger] {
                assert_eq!(a.currency, series.currency, "currencies never mix");
                a.minor.parse::<i128>().expect("minor units, an integer");
                let exponent = match a.currency.as_str() {
                    "JPY" => 0,
                    "KWD" => 3,
                    _ => 2,
                };
                assert_eq!(a.exponent, exponent);
            }
            differs |= day.gateway.minor != day.ledger.minor;
        }
    }
    assert!(
        differs,
        "the demo's incidents show as days where the two sides differ"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_from_the_desktop_demo_makes_own_books_that_the_next_start_opens() {
    let dir = tempfile::tempdir().unwrap();
    let session = api::session::open_desktop(dir.path(), Duration::from_secs(5))
        .await
        .unwrap();
    let own = dir.path().join(api::session::REAL_STORE_FILE);
    let before: Settings = call(&session.api, "settings", Value::Null).await.unwrap();
    assert!(before.gateway.can_connect, "{before:?}");
    assert_eq!(
        before.gateway.own_books.as_deref(),
        Some(own.display().to_string().as_str())
    );

    // Nothing listens on port 9: refused, and no half-made books are left behind.
    let unreachable = call::<_, Settings>(
        &session.api,
        "connect_gateway",
        json!({"api_base": "http://127.0.0.1:9", "secret_key": KEY}),
    )
    .await
    .unwrap_err();
    assert!(!unreachable.message.contains(SECRET_PART));
    assert!(!own.exists(), "a refused connection must not leave a store");

    // A second sandbox stands in for the business's real Stripe account.
    let real = sandbox::start(SandboxConfig::new(dir.path().join("real-gateway")))
        .await
        .unwrap();
    let keyring = Keyring::open().ok();
    let connected = call::<_, Settings>(
        &session.api,
        "connect_gateway",
        json!({"api_base": real.base_url(), "secret_key": KEY}),
    )
    .await;
    match connected {
        Ok(settings) => {
            assert!(own.exists());
            assert_connected_to(&settings, &real.base_url());
            assert!(
                !serde_json::to_string(&settings)
                    .unwrap()
                    .contains(SECRET_PART)
            );
            // The demo window keeps its demo and its sandbox.
            let demo: Settings = call(&session.api, "settings", Value::Null).await.unwrap();
            assert_eq!(demo.gateway.key_source, KeySource::App);
            assert!(!demo.gateway.can_connect, "own books exist now: {demo:?}");
            session.close().await.unwrap();
            let next = api::session::open_desktop(dir.path(), Duration::from_secs(5))
                .await
                .unwrap();
            assert!(
                !next.demo,
                "the next start opens the bookkeeper's own books"
            );
            assert_eq!(next.api.db(), own.as_path());
            let account = chargeguard::store::Store::open(&own)
                .unwrap()
                .read(|tx| tx.setting(chargeguard::sync::ACCOUNT_SETTING))
                .unwrap()
                .unwrap();
            if let Some(keyring) = keyring {
                keyring.forget(&account).unwrap();
            }
        }
        // No Secret Service (and no key in the environment): refused, and nothing made.
        Err(e) => {
            assert!(
                keyring.is_none(),
                "with a keyring the connection must work: {e:?}"
            );
            assert!(!own.exists());
        }
    }
    real.shutdown().await.unwrap();
}
