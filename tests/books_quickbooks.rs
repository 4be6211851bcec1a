//! QuickBooks Online connected and synced in, as a bookkeeper does it: `chargeguard books
//! connect quickbooks` against the sandbox's stand-in over real loopback HTTP (the consent
//! page answered as a browser would, the redirect pasted back), tokens in the real OS
//! keyring, `books sync` into a real store, and reconcile finding what the books and Stripe
//! disagree on with no CSV at all. Then what a sync must survive: a payment deleted in
//! QuickBooks, an expired and a revoked token, a kill with SIGKILL mid-page.
//!
//! The tokens live in the Secret Service: run under `scripts/with-keyring.sh` (test.sh
//! does). Outside one these tests say why and check nothing; inside one (the script sets
//! `CHARGEGUARD_IN_KEYRING_SESSION`) a missing keyring fails them.

use std::time::Duration;

use chargeguard::secret::Keyring;
use chargeguard::store::{Store, StoredRow};
use serde_json::{Value, json};

mod books_support;
use books_support::{
    CLIENT_SECRET, QboAdmin, World, connect_qbo, harness, invoice_numbers, keyring_or_skip,
    ledger_ids, open_findings, qbo_world, stripe_charges,
};
/// What the keyring keeps for the store's QuickBooks connection.
fn kept_tokens(world: &World) -> Value {
    let keyring = Keyring::open().unwrap();
    let mut store = Store::open(&world.db()).unwrap();
    let c = chargeguard::accounting_sync::qbo_connection::connection(&mut store)
        .unwrap()
        .expect("connected");
    serde_json::from_str(&keyring.load_text(&c.account).unwrap().expect("tokens kept")).unwrap()
}

#[test]
fn quickbooks_books_connected_and_synced_find_what_stripe_disagrees_with() {
    let Some(keyring) = keyring_or_skip("quickbooks_books_connected_and_synced") else {
        return;
    };
    let world = qbo_world();
    // Stripe: INV-1 charged twice, INV-2 once, INV-3 once (QuickBooks records no payment).
    let charges = stripe_charges(
        &world,
        &[
            ("INV-1", 10_000),
            ("INV-1", 10_000),
            ("INV-2", 5_000),
            ("INV-3", 7_500),
        ],
    );
    let seeded = world.post(
        "/_sandbox/qbo/seed",
        json!({"realm": world.realm, "customers": [{"DisplayName": "Wilma Flintstone"}]}),
    );
    let customer = seeded["Customer"][0].as_str().unwrap();
    // Amounts as the system's wire writes them: JSON numbers, from their exact text.
    let invoice = |n: &str, amount: &str| {
        let amount: Value = serde_json::from_str(amount).unwrap();
        json!({"CustomerRef": {"value": customer}, "DocNumber": n, "TxnDate": "2026-11-20",
               "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]})
    };
    let made = world.post(
        "/_sandbox/qbo/seed",
        json!({"realm": world.realm,
               "invoices": [invoice("INV-1", "100.00"), invoice("INV-2", "50.00"), invoice("INV-3", "75.00")]}),
    );
    let inv: Vec<&str> = made["Invoice"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let payment = |invoice_id: &str, amount: &str, charge: &str| {
        json!({"CustomerRef": {"value": customer}, "TotalAmt": amount, "TxnDate": "2026-11-21",
               "PaymentRefNum": charge,
               "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]})
    };
    let paid = world.post(
        "/_sandbox/qbo/seed",
        json!({"realm": world.realm,
               "payments": [payment(inv[0], "100.00", &charges[0]), payment(inv[1], "50.00", &charges[2])]}),
    );
    let payments: Vec<&str> = paid["Payment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();

    harness::ok(&world.cli(&["connect", "--api-base", &world.base()]));
    let connected = connect_qbo(&world);
    let said = harness::ok(&connected);
    assert!(
        said.contains(&format!("connected to QuickBooks company {}", world.realm)),
        "{said}"
    );
    let stderr = String::from_utf8_lossy(&connected.stderr);
    assert!(!said.contains(CLIENT_SECRET) && !stderr.contains(CLIENT_SECRET));
    assert!(
        harness::ok(&world.cli(&["books", "status"])).contains("connected to QuickBooks company")
    );

    harness::ok(&world.cli(&["sync"]));
    let synced = harness::ok(&world.cli(&["books", "sync", "--page-size", "2"]));
    assert!(
        synced.contains("3 new invoices") && synced.contains("2 new ledger entries"),
        "{synced}"
    );
    // The store holds no token and no client secret.
    let bytes = std::fs::read(world.db()).unwrap();
    let wal = std::fs::read(world.db().with_extension("db-wal")).unwrap_or_default();
    for needle in [CLIENT_SECRET.as_bytes(), b"eyJsandbox.", b"RT1-"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle)
                && !wal.windows(needle.len()).any(|w| w == needle),
            "{} in the store",
            String::from_utf8_lossy(needle)
        );
    }
    let mut store = Store::open(&world.db()).unwrap();
    let extra = store
        .read(|tx| tx.extra_columns(StoredRow::Invoice("INV-3")))
        .unwrap();
    assert_eq!(
        extra.get("quickbooks_id").map(String::as_str),
        Some(inv[2]),
        "the QuickBooks id beside the number"
    );
    drop(store);
    assert_eq!(
        ledger_ids(&world.db()),
        [
            format!("qbo:{}:{}", payments[0], inv[0]),
            format!("qbo:{}:{}", payments[1], inv[1])
        ]
    );

    harness::ok(&world.cli(&["reconcile"]));
    let found = open_findings(&world);
    assert!(
        found.contains(&("double_charge".into(), "INV-1".into())),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(kind, number)| number == "INV-3" && kind != "double_charge"),
        "the charge QuickBooks has no payment for: {found:?}"
    );
    assert!(
        !found.iter().any(|(_, n)| n == "INV-2"),
        "INV-2 is paid and recorded: {found:?}"
    );

    // Nothing changed: nothing new, nothing changed.
    let again = harness::ok(&world.cli(&["books", "sync"]));
    assert!(
        again.contains("0 new invoices, 0 changed")
            && again.contains("0 new ledger entries, 0 changed"),
        "{again}"
    );

    // INV-3 is renumbered INV-3A in QuickBooks: the same invoice moves, nothing is left
    // under the old number.
    let admin = world.admin_token();
    let current = world.qbo_read(&admin, "invoice", inv[2]);
    world.qbo(
        &admin,
        "invoice",
        json!({"Id": inv[2], "SyncToken": current["SyncToken"], "sparse": true, "DocNumber": "INV-3A"}),
    );
    harness::ok(&world.cli(&["books", "sync"]));
    assert_eq!(invoice_numbers(&world.db()), ["INV-1", "INV-2", "INV-3A"]);

    // Someone deletes INV-2's payment in QuickBooks: it leaves the ledger, and the charge
    // it recorded is a finding again.
    world.qbo(
        &admin,
        "payment?operation=delete",
        json!({"Id": payments[1], "SyncToken": "0"}),
    );
    let after = harness::ok(&world.cli(&["books", "sync"]));
    assert!(
        after.contains("removed as the books no longer have them: 1 ledger entries"),
        "{after}"
    );
    assert_eq!(
        ledger_ids(&world.db()),
        [format!("qbo:{}:{}", payments[0], inv[0])]
    );
    harness::ok(&world.cli(&["reconcile"]));
    let found = open_findings(&world);
    assert!(
        found.iter().any(|(_, n)| n == "INV-2"),
        "the deleted payment's charge: {found:?}"
    );

    // One company per store.
    let mut store = Store::open(&world.db()).unwrap();
    let other = world
        .runtime
        .block_on(chargeguard::accounting_sync::qbo_connection::connect(
            &mut store,
            &chargeguard::books::qbo::QboEndpoints::at(&world.base()),
            &chargeguard::books::qbo::AppCredentials {
                client_id: "cg-desktop".into(),
                client_secret: chargeguard::books::BooksSecret::new(CLIENT_SECRET),
            },
            &chargeguard::accounting_sync::qbo_connection::Granted {
                code: "AB11-unused".into(),
                realm: "123146096291789".into(),
            },
            "http://localhost:8765/callback",
            &keyring,
            Duration::from_secs(10),
            jiff::Timestamp::now(),
        ));
    let refused = other.unwrap_err().to_string();
    assert!(refused.contains("one company per store"), "{refused}");
    drop(store);

    harness::ok(&world.cli(&["books", "disconnect"]));
    let (_, why) = harness::refused(&world.cli(&["books", "sync"]));
    assert!(why.contains("not connected to QuickBooks"), "{why}");
}

#[test]
fn an_expired_token_is_refreshed_and_a_revoked_one_asks_to_connect_again() {
    let Some(_keyring) = keyring_or_skip("an_expired_token_is_refreshed") else {
        return;
    };
    let world = qbo_world();
    harness::ok(&connect_qbo(&world));
    harness::ok(&world.cli(&["books", "sync"]));

    // The access token QuickBooks issued ends: the next sync refreshes it and carries on.
    let before = kept_tokens(&world);
    world.post("/_sandbox/qbo/expire_tokens", json!({}));
    let seeded = world.post(
        "/_sandbox/qbo/seed",
        json!({"realm": world.realm, "customers": [{"DisplayName": "Betty"}]}),
    );
    let customer = seeded["Customer"][0].as_str().unwrap();
    world.post(
        "/_sandbox/qbo/seed",
        json!({"realm": world.realm, "invoices": [{"CustomerRef": {"value": customer}, "DocNumber": "INV-9",
            "Line": [{"Amount": 12.5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}]}),
    );
    let synced = harness::ok(&world.cli(&["books", "sync"]));
    assert!(synced.contains("1 new invoices"), "{synced}");
    let after = kept_tokens(&world);
    assert_ne!(
        after["refresh"], before["refresh"],
        "the rotated refresh token was kept"
    );
    assert_ne!(after["access"], before["access"]);
    assert!(after["access_expires_at"].as_i64() >= before["access_expires_at"].as_i64());
    let synced = harness::ok(&world.cli(&["books", "sync"]));
    assert!(synced.contains("0 new invoices"), "{synced}");
    assert_eq!(
        kept_tokens(&world)["access"],
        after["access"],
        "a live token is used, not refreshed"
    );

    let mut store = Store::open(&world.db()).unwrap();
    let inv9 = store
        .read(|tx| tx.extra_columns(StoredRow::Invoice("INV-9")))
        .unwrap()["quickbooks_id"]
        .clone();
    drop(store);

    // INV-9 is deleted in QuickBooks after a month without a sync (beyond change data
    // capture's reach): every id is read, and it leaves the store.
    let admin = world.admin_token();
    world.qbo(
        &admin,
        "invoice?operation=delete",
        json!({"Id": inv9, "SyncToken": "0"}),
    );
    let mut store = Store::open(&world.db()).unwrap();
    store
        .write(|tx| {
            // Forty days ago: the stand-in, like QuickBooks, refuses change data capture
            // beyond thirty.
            let then = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(40 * 24);
            tx.set_setting("books.quickbooks.changes_since", &then.to_string())
        })
        .unwrap();
    drop(store);
    let after = harness::ok(&world.cli(&["books", "sync"]));
    assert!(after.contains("0 ledger entries, 1 invoices"), "{after}");
    let numbers = invoice_numbers(&world.db());
    assert!(numbers.is_empty(), "{numbers:?}");

    // Revoked at Intuit (the person disconnected the app there): a clear "connect again",
    // kept for the next command, never a crash or a silent stop.
    let kept = kept_tokens(&world);
    world.runtime.block_on(async {
        // Revoking any token of the grant disconnects it.
        let answer = world
            .http
            .post(format!("{}/v2/oauth2/tokens/revoke", world.base()))
            .basic_auth("cg-desktop", Some(CLIENT_SECRET))
            .json(&json!({"token": kept["refresh"]}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    });
    let out = world.cli(&["books", "sync"]);
    let (code, why) = harness::refused(&out);
    assert_eq!(code, 2);
    assert!(why.contains("connect it again"), "{why}");
    // The morning run still brings Stripe up to date and reconciles, and says why the
    // books were not synced (exit 4).
    harness::ok(&world.cli(&["connect", "--api-base", &world.base()]));
    let checked = world.cli(&["check"]);
    harness::expect_exit(&checked, 4, &["check"]);
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        said.contains("books not synced") && said.contains("connect it again"),
        "{said}"
    );
    let status = world.cli(&["books", "status"]);
    harness::expect_exit(&status, 1, &["books", "status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("connect again"));
    // Connecting again mends it.
    harness::ok(&connect_qbo(&world));
    let checked = harness::ok(&world.cli(&["check"]));
    assert!(
        checked.contains("books synced: QuickBooks company"),
        "{checked}"
    );
}

#[test]
fn a_sync_killed_mid_page_resumes_with_every_invoice_once() {
    let Some(_keyring) = keyring_or_skip("a_sync_killed_mid_page_resumes") else {
        return;
    };
    let world = qbo_world();
    let seeded = world.post(
        "/_sandbox/qbo/seed",
        json!({"realm": world.realm, "customers": [{"DisplayName": "Barney"}]}),
    );
    let customer = seeded["Customer"][0].as_str().unwrap();
    let invoices: Vec<Value> = (1..=60)
        .map(|n| json!({"CustomerRef": {"value": customer}, "DocNumber": format!("INV-{n:03}"),
            "Line": [{"Amount": n, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}))
        .collect();
    world.post(
        "/_sandbox/qbo/seed",
        json!({"realm": world.realm, "invoices": invoices}),
    );
    harness::ok(&connect_qbo(&world));
    world.post(
        "/_sandbox/faults",
        json!({"path": format!("/v3/company/{}/query", world.realm), "fault": "slow", "times": 1000, "hold_ms": 150}),
    );

    let seen = books_support::sync_killed_after_pages(&world, "invoices", 3);
    assert_eq!(seen, 3);
    let before = invoice_numbers(&world.db()).len();
    assert!((5..60).contains(&before), "killed mid-way: {before} stored");

    books_support::disarm(&world);
    let resumed = harness::ok(&world.cli(&["books", "sync", "--page-size", "5"]));
    // Resumed, not started again: it reads what was left, and at most a page again.
    let read_again = books_support::read_on_resuming(&resumed, "invoices");
    assert!(
        read_again <= 60 - before + 5,
        "{before} stored before, {read_again} read on resuming: {resumed}"
    );
    let numbers = invoice_numbers(&world.db());
    let expected: Vec<String> = (1..=60).map(|n| format!("INV-{n:03}")).collect();
    assert_eq!(numbers, expected, "every invoice once");
}

/// Stripe refunded 40.00 of INV-5's charge and the bookkeeper recorded it in QuickBooks as
/// a refund receipt naming the refund: the books agree with Stripe, no finding. Voided in
/// QuickBooks, the refund receipt leaves the ledger and the refund is unrecorded again;
/// a cash refund receipt is not Stripe's and stays out.
#[test]
fn a_refund_receipt_in_quickbooks_records_a_stripe_refund() {
    let Some(_keyring) = keyring_or_skip("a_refund_receipt_in_quickbooks") else {
        return;
    };
    let world = qbo_world();
    let charge = stripe_charges(&world, &[("INV-5", 10_000)]).remove(0);
    let now = jiff::Timestamp::now().as_second();
    let refund = world.post(
        "/_sandbox/seed",
        json!({"refunds": [{"charge": charge, "amount": 4_000, "created": now - 3_600}]}),
    )["refunds"][0]
        .as_str()
        .unwrap()
        .to_string();
    let customer = world.post(
        "/_sandbox/qbo/seed",
        json!({"realm": world.realm, "customers": [{"DisplayName": "Pebbles Flintstone"}]}),
    )["Customer"][0]
        .as_str()
        .unwrap()
        .to_string();
    let invoice = world.post(
        "/_sandbox/qbo/seed",
        json!({"realm": world.realm, "invoices": [{"CustomerRef": {"value": customer},
               "DocNumber": "INV-5", "TxnDate": "2026-11-20",
               "Line": [{"Amount": 100.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}]}),
    )["Invoice"][0]
        .as_str()
        .unwrap()
        .to_string();
    world.post(
        "/_sandbox/qbo/seed",
        json!({"realm": world.realm, "payments": [{"CustomerRef": {"value": customer},
               "TotalAmt": "100.00", "TxnDate": "2026-11-21", "PaymentRefNum": charge,
               "Line": [{"Amount": "100.00", "LinkedTxn": [{"TxnId": invoice, "TxnType": "Invoice"}]}]}]}),
    );
    harness::ok(&world.cli(&["connect", "--api-base", &world.base()]));
    harness::ok(&connect_qbo(&world));
    harness::ok(&world.cli(&["sync"]));
    harness::ok(&world.cli(&["books", "sync"]));
    harness::ok(&world.cli(&["reconcile"]));
    assert!(
        open_findings(&world).contains(&("unrecorded_refund".into(), "INV-5".into())),
        "before the books record it: {:?}",
        open_findings(&world)
    );

    let admin = world.admin_token();
    let receipt = |reference: &str| {
        json!({"CustomerRef": {"value": customer}, "TxnDate": "2026-12-01",
               "DepositToAccountRef": {"value": "35"}, "PaymentRefNum": reference,
               "Line": [{"Amount": 40.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]})
    };
    let recorded = world.qbo(&admin, "refundreceipt", receipt(&refund));
    let receipt_id = recorded["RefundReceipt"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    world.qbo(&admin, "refundreceipt", receipt("Cheque 1044"));
    let synced = harness::ok(&world.cli(&["books", "sync"]));
    assert!(synced.contains("1 new ledger entries"), "{synced}");
    assert!(
        ledger_ids(&world.db()).contains(&format!("qbo:refund:{receipt_id}")),
        "{:?}",
        ledger_ids(&world.db())
    );
    let mut store = Store::open(&world.db()).unwrap();
    let entries = store.read(|tx| tx.ledger_entries()).unwrap();
    drop(store);
    let entry = entries
        .iter()
        .find(|e| e.payment_id == format!("qbo:refund:{receipt_id}"))
        .unwrap();
    assert_eq!(entry.invoice_number, "INV-5", "the invoice its charge pays");
    assert_eq!(entry.amount.minor(), 4_000);
    harness::ok(&world.cli(&["reconcile"]));
    assert!(
        !open_findings(&world).iter().any(|(_, n)| n == "INV-5"),
        "the books record Stripe's refund: {:?}",
        open_findings(&world)
    );
    let again = harness::ok(&world.cli(&["books", "sync"]));
    assert!(again.contains("0 new ledger entries, 0 changed"), "{again}");

    // Deleted in QuickBooks: it leaves the ledger, and the refund is unrecorded again.
    let current = world.qbo_read(&admin, "refundreceipt", &receipt_id);
    world.qbo(
        &admin,
        "refundreceipt?operation=delete",
        json!({"Id": receipt_id, "SyncToken": current["SyncToken"]}),
    );
    let after = harness::ok(&world.cli(&["books", "sync"]));
    assert!(
        after.contains("removed as the books no longer have them: 1 ledger entries"),
        "{after}"
    );
    harness::ok(&world.cli(&["reconcile"]));
    assert!(
        open_findings(&world).contains(&("unrecorded_refund".into(), "INV-5".into())),
        "{:?}",
        open_findings(&world)
    );
}

/// A desktop consent: `books connect --listen` waits on the redirect URI's loopback port,
/// the browser comes back to it after the person consents, and the store is connected with
/// nothing pasted.
#[test]
fn connecting_with_listen_receives_the_browsers_return() {
    let Some(_keyring) = keyring_or_skip("connecting_with_listen") else {
        return;
    };
    let world = qbo_world();
    let (out, page) = world.connect_listening(
        &["quickbooks", "--client-id", "cg-desktop"],
        &[("CHARGEGUARD_QBO_CLIENT_SECRET", CLIENT_SECRET)],
    );
    let said = harness::ok(&out);
    assert!(
        said.contains(&format!("connected to QuickBooks company {}", world.realm)),
        "{said}"
    );
    assert!(page.contains("close this window"), "{page}");
    assert!(
        harness::ok(&world.cli(&["books", "status"])).contains("connected to QuickBooks company")
    );
}
