//! Xero connected and synced in, as a bookkeeper does it: `chargeguard books connect xero`
//! against the sandbox's stand-in over real loopback HTTP (a desktop consent with PKCE,
//! answered as a browser would, the redirect pasted back; the organisation chosen among
//! those the consent connected), tokens in the real OS keyring, `books sync` into a real
//! store, reconcile finding what the books and Stripe disagree on with no CSV. Then a
//! payment deleted in Xero, an expired token, an organisation disconnected at Xero, and
//! one accounting system per store.
//!
//! Run under `scripts/with-keyring.sh` (test.sh does), as `books_quickbooks.rs`.

use std::time::Duration;

use chargeguard::secret::Keyring;
use chargeguard::store::{Store, StoredRow};
use serde_json::{Value, json};

mod books_support;
use books_support::{
    World, XeroAdmin as Admin, connect_xero, harness, invoice_numbers, keyring_or_skip, ledger_ids,
    ledger_refunds, open_findings, stripe_charges,
};

fn kept_tokens(world: &World) -> Value {
    let keyring = Keyring::open().unwrap();
    let mut store = Store::open(&world.db()).unwrap();
    let c = chargeguard::accounting_sync::xero_connection::connection(&mut store)
        .unwrap()
        .expect("connected");
    serde_json::from_str(&keyring.load_text(&c.account).unwrap().expect("tokens kept")).unwrap()
}

#[test]
fn xero_books_connected_and_synced_find_what_stripe_disagrees_with() {
    let Some(keyring) = keyring_or_skip("xero_books_connected_and_synced") else {
        return;
    };
    let world = World::new();
    for (tenant, name) in [
        ("9a1b2c3d-0000-4000-8000-000000000001", "Bedrock Ltd"),
        ("9a1b2c3d-0000-4000-8000-000000000002", "Slate Quarry Co"),
    ] {
        world.post(
            "/_sandbox/xero/tenants",
            json!({"tenant": tenant, "name": name, "currency": "USD"}),
        );
    }
    let charges = stripe_charges(
        &world,
        &[
            ("INV-1", 10_000),
            ("INV-1", 10_000),
            ("INV-2", 5_000),
            ("INV-3", 7_500),
        ],
    );
    let admin = Admin::of(&world, "Bedrock Ltd");
    let contact = admin.call(
        reqwest::Method::PUT,
        "Contacts",
        json!({"Contacts": [{"Name": "Wilma Flintstone"}]}),
    );
    let contact = contact["Contacts"][0]["ContactID"]
        .as_str()
        .unwrap()
        .to_string();
    // Amounts as the system's wire writes them: JSON numbers, from their exact text.
    let invoice = |n: &str, amount: &str| {
        let amount: Value = serde_json::from_str(amount).unwrap();
        json!({"Type": "ACCREC", "Contact": {"ContactID": contact}, "InvoiceNumber": n,
               "Status": "AUTHORISED", "Date": "2026-11-20", "DueDate": "2026-12-20",
               "LineItems": [{"Description": "Plan", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200"}]})
    };
    let made = admin.call(
        reqwest::Method::PUT,
        "Invoices",
        json!({"Invoices": [invoice("INV-1", "100.00"), invoice("INV-2", "50.00"), invoice("INV-3", "75.00"),
                            {"Type": "ACCREC", "Contact": {"ContactID": contact}, "InvoiceNumber": "INV-DRAFT",
                             "Status": "DRAFT", "Date": "2026-11-20",
                             "LineItems": [{"Description": "Plan", "Quantity": 1, "UnitAmount": 9, "AccountCode": "200"}]}]}),
    );
    let inv: Vec<String> = made["Invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["InvoiceID"].as_str().unwrap().to_string())
        .collect();
    let paid = admin.call(
        reqwest::Method::PUT,
        "Payments",
        json!({"Payments": [
            {"Invoice": {"InvoiceID": inv[0]}, "Account": {"Code": "090"}, "Amount": 100, "Date": "2026-11-21", "Reference": charges[0]},
            {"Invoice": {"InvoiceID": inv[1]}, "Account": {"Code": "090"}, "Amount": 50, "Date": "2026-11-21", "Reference": charges[2]}]}),
    );
    let payments: Vec<String> = paid["Payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PaymentID"].as_str().unwrap().to_string())
        .collect();

    // The consent connected both organisations: which one is asked, then kept.
    let (_, asked) = harness::refused(&connect_xero(&world, None));
    assert!(
        asked.contains("Bedrock Ltd")
            && asked.contains("Slate Quarry Co")
            && asked.contains("--tenant"),
        "{asked}"
    );
    let connected = harness::ok(&connect_xero(&world, Some("Bedrock Ltd")));
    assert!(
        connected.contains("connected to Xero organisation Bedrock Ltd"),
        "{connected}"
    );
    assert!(
        harness::ok(&world.cli(&["books", "status"])).contains("Xero organisation Bedrock Ltd")
    );

    harness::ok(&world.cli(&["connect", "--api-base", &world.base()]));
    harness::ok(&world.cli(&["sync"]));
    let synced = harness::ok(&world.cli(&["books", "sync", "--page-size", "2"]));
    assert!(
        synced.contains("3 new invoices") && synced.contains("2 new ledger entries"),
        "the draft is not an invoice yet: {synced}"
    );
    let bytes = std::fs::read(world.db()).unwrap();
    let kept = kept_tokens(&world);
    for secret in [
        kept["access"].as_str().unwrap(),
        kept["refresh"].as_str().unwrap(),
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a token in the store"
        );
    }
    let mut store = Store::open(&world.db()).unwrap();
    let extra = store
        .read(|tx| tx.extra_columns(StoredRow::Invoice("INV-3")))
        .unwrap();
    assert_eq!(
        extra.get("xero_id"),
        Some(&inv[2]),
        "the Xero id beside the number"
    );
    drop(store);
    assert_eq!(
        ledger_ids(&world.db()),
        [
            format!("xero:{}", payments[0]),
            format!("xero:{}", payments[1])
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
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
            .any(|(kind, n)| n == "INV-3" && kind != "double_charge"),
        "the charge Xero has no payment for: {found:?}"
    );
    assert!(!found.iter().any(|(_, n)| n == "INV-2"), "{found:?}");

    // Xero throttles the next call (429, Retry-After): the sync waits as asked and goes on.
    world.post(
        "/_sandbox/faults",
        json!({"path": "/api.xro/2.0/Invoices", "fault": "rate_limit", "times": 1}),
    );
    let again = harness::ok(&world.cli(&["books", "sync"]));
    let armed: Value = world.runtime.block_on(async {
        world
            .http
            .get(format!("{}/_sandbox/faults", world.base()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(armed["faults"], json!([]), "the throttle was met: {armed}");
    assert!(
        again.contains("0 new invoices, 0 changed")
            && again.contains("0 new ledger entries, 0 changed"),
        "{again}"
    );

    // INV-2's payment is deleted in Xero (its reversal): it leaves the ledger.
    admin.call(
        reqwest::Method::POST,
        &format!("Payments/{}", payments[1]),
        json!({"Status": "DELETED"}),
    );
    let after = harness::ok(&world.cli(&["books", "sync"]));
    assert!(after.contains("1 ledger entries, 0 invoices"), "{after}");
    assert_eq!(ledger_ids(&world.db()), [format!("xero:{}", payments[0])]);
    harness::ok(&world.cli(&["reconcile"]));
    assert!(open_findings(&world).iter().any(|(_, n)| n == "INV-2"));

    // The access token ends: the next sync refreshes it, the rotated pair kept first.
    world.post("/_sandbox/xero/expire_tokens", json!({}));
    harness::ok(&world.cli(&["books", "sync"]));
    let refreshed = kept_tokens(&world);
    assert_ne!(refreshed["refresh"], kept["refresh"]);
    assert_eq!(invoice_numbers(&world.db()), ["INV-1", "INV-2", "INV-3"]);

    // One accounting system per store: QuickBooks is refused while Xero is connected.
    let mut store = Store::open(&world.db()).unwrap();
    let refused = world
        .runtime
        .block_on(chargeguard::accounting_sync::qbo_connection::connect(
            &mut store,
            &chargeguard::books::qbo::QboEndpoints::at(&world.base()),
            &chargeguard::books::qbo::AppCredentials {
                client_id: "cg-desktop".into(),
                client_secret: chargeguard::books::BooksSecret::new("s"),
            },
            &chargeguard::accounting_sync::qbo_connection::Granted {
                code: "AB11-unused".into(),
                realm: "4620816365".into(),
            },
            "http://localhost:8765/callback",
            &keyring,
            Duration::from_secs(10),
            jiff::Timestamp::now(),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("Xero organisation Bedrock Ltd"),
        "{refused}"
    );
    drop(store);

    // The organisation is disconnected at Xero: a clear "connect again", kept.
    world.runtime.block_on(async {
        let connections: Value = world
            .http
            .get(format!("{}/connections", world.base()))
            .bearer_auth(refreshed["access"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = connections[0]["id"].as_str().unwrap().to_string();
        let gone = world
            .http
            .delete(format!("{}/connections/{id}", world.base()))
            .bearer_auth(refreshed["access"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert!(gone.status().is_success(), "{:?}", gone.status());
    });
    let (_, why) = harness::refused(&world.cli(&["books", "sync"]));
    assert!(why.contains("connect it again"), "{why}");
    let status = world.cli(&["books", "status"]);
    harness::expect_exit(&status, 1, &["books", "status"]);
    harness::ok(&world.cli(&["books", "disconnect"]));
    let (_, why) = harness::refused(&world.cli(&["books", "sync"]));
    assert!(why.contains("not connected"), "{why}");
}

#[test]
fn a_xero_sync_killed_mid_page_resumes_with_every_invoice_once() {
    let Some(_keyring) = keyring_or_skip("a_xero_sync_killed_mid_page_resumes") else {
        return;
    };
    let world = World::new();
    world.post(
        "/_sandbox/xero/tenants",
        json!({"tenant": "9a1b2c3d-0000-4000-8000-000000000003", "name": "Barney's Bowling", "currency": "USD"}),
    );
    let admin = Admin::of(&world, "Barney's Bowling");
    let contact = admin.call(
        reqwest::Method::PUT,
        "Contacts",
        json!({"Contacts": [{"Name": "Barney"}]}),
    );
    let contact = contact["Contacts"][0]["ContactID"]
        .as_str()
        .unwrap()
        .to_string();
    let invoices: Vec<Value> = (1..=60)
        .map(|n| json!({"Type": "ACCREC", "Contact": {"ContactID": contact}, "InvoiceNumber": format!("INV-{n:03}"),
            "Status": "AUTHORISED", "Date": "2026-11-20",
            "LineItems": [{"Description": "Lane", "Quantity": 1, "UnitAmount": n, "AccountCode": "200"}]}))
        .collect();
    admin.call(
        reqwest::Method::PUT,
        "Invoices",
        json!({"Invoices": invoices}),
    );
    harness::ok(&connect_xero(&world, None));
    world.post(
        "/_sandbox/faults",
        json!({"path": "/api.xro/2.0/Invoices", "fault": "slow", "times": 1000, "hold_ms": 150}),
    );

    let seen = books_support::sync_killed_after_pages(&world, "invoices", 3);
    assert_eq!(seen, 3);
    let before = invoice_numbers(&world.db()).len();
    assert!((5..60).contains(&before), "killed mid-way: {before} stored");

    books_support::disarm(&world);
    let resumed = harness::ok(&world.cli(&["books", "sync", "--page-size", "5"]));
    // The sixty were made by one call, within one second: a resumed sync reads that
    // second again from its first page (Xero promises no order among ties), once.
    let read_again = books_support::read_on_resuming(&resumed, "invoices");
    assert!(
        read_again <= 60 + 5,
        "{before} stored before, {read_again} read on resuming: {resumed}"
    );
    let expected: Vec<String> = (1..=60).map(|n| format!("INV-{n:03}")).collect();
    assert_eq!(invoice_numbers(&world.db()), expected, "every invoice once");
}

/// Xero's desktop consent (PKCE) with `--listen`: the browser comes back to the loopback
/// redirect, the organisation named is kept, nothing is pasted.
#[test]
fn a_xero_consent_comes_back_to_the_loopback_redirect() {
    let Some(_keyring) = keyring_or_skip("a_xero_consent_comes_back") else {
        return;
    };
    let world = World::new();
    world.post(
        "/_sandbox/xero/tenants",
        json!({"tenant": "9a1b2c3d-0000-4000-8000-000000000001", "name": "Bedrock Ltd", "currency": "USD"}),
    );
    let (out, page) = world.connect_listening(
        &[
            "xero",
            "--client-id",
            "cg-desktop",
            "--tenant",
            "Bedrock Ltd",
        ],
        &[],
    );
    let said = harness::ok(&out);
    assert!(
        said.contains("connected to Xero organisation Bedrock Ltd"),
        "{said}"
    );
    assert!(page.contains("close this window"), "{page}");
}

/// Stripe refunded part of INV-4's charge and the bookkeeper recorded it in Xero as Xero
/// has it done: a credit note, its credit paid back in cash with the Stripe refund as the
/// reference. A sync reads that refund as INV-4's, so reconcile finds nothing to fix; a
/// cheque refund is not Stripe's; the refund deleted in Xero leaves the ledger and the
/// finding comes back.
#[test]
fn a_refund_recorded_in_xero_on_a_credit_note_is_the_invoices_refund() {
    let Some(_keyring) = keyring_or_skip("a_refund_recorded_in_xero") else {
        return;
    };
    let world = World::new();
    let charge = stripe_charges(&world, &[("INV-4", 8_000)]).remove(0);
    let refund = world.post(
        "/_sandbox/seed",
        json!({"refunds": [{"charge": charge, "amount": 3_000,
               "created": jiff::Timestamp::now().as_second() - 3_600}]}),
    )["refunds"][0]
        .as_str()
        .unwrap()
        .to_string();
    let (admin, contact) = bedrock_paid(&world, "INV-4", "80.00", &charge);
    let refunded = admin.refund_in_cash(&contact, "30.00", &refund);
    admin.refund_in_cash(&contact, "5.00", "Cheque 1044");
    assert_eq!(refunded["PaymentType"], "ARCREDITPAYMENT");
    let refund_payment = refunded["PaymentID"].as_str().unwrap().to_string();
    let note: Value = admin.call(
        reqwest::Method::GET,
        &format!(
            "CreditNotes/{}",
            refunded["CreditNote"]["CreditNoteID"].as_str().unwrap()
        ),
        Value::Null,
    );
    assert_eq!(note["CreditNotes"][0]["Status"], "PAID", "{note}");

    harness::ok(&connect_xero(&world, Some("Bedrock Ltd")));
    harness::ok(&world.cli(&["connect", "--api-base", &world.base()]));
    harness::ok(&world.cli(&["sync"]));
    let synced = harness::ok(&world.cli(&["books", "sync"]));
    assert!(
        synced.contains("2 new ledger entries"),
        "the payment and Stripe's refund, not the cheque: {synced}"
    );
    let refunds = ledger_refunds(&world.db());
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0].payment_id, format!("xero:{refund_payment}"));
    assert_eq!(refunds[0].invoice_number, "INV-4");
    assert_eq!(refunds[0].amount.minor(), 3_000);
    assert_eq!(refunds[0].gateway_id.as_deref(), Some(refund.as_str()));
    harness::ok(&world.cli(&["reconcile"]));
    let found = open_findings(&world);
    assert!(
        !found.iter().any(|(_, n)| n == "INV-4"),
        "the refund is recorded: {found:?}"
    );

    admin.call(
        reqwest::Method::POST,
        &format!("Payments/{refund_payment}"),
        json!({"Status": "DELETED"}),
    );
    let after = harness::ok(&world.cli(&["books", "sync"]));
    assert!(after.contains("1 ledger entries, 0 invoices"), "{after}");
    harness::ok(&world.cli(&["reconcile"]));
    assert!(
        open_findings(&world).contains(&("unrecorded_refund".into(), "INV-4".into())),
        "{:?}",
        open_findings(&world)
    );
}

/// The payment in Xero names the Stripe payment intent, not the charge, and the charge
/// carries no invoice number: the refund is still read as that invoice's.
#[test]
fn a_refund_is_the_invoices_when_its_payment_names_the_payment_intent() {
    let Some(_keyring) = keyring_or_skip("a_refund_of_a_payment_intent") else {
        return;
    };
    let world = World::new();
    let now = jiff::Timestamp::now().as_second();
    let seeded = world.post(
        "/_sandbox/seed",
        json!({"charges": [{"amount": 4_000, "currency": "usd", "created": now - 86_400,
               "customer": "cus_wilma"}]}),
    );
    let charge = seeded["charges"][0].as_str().unwrap().to_string();
    let intent = seeded["payment_intents"][0].as_str().unwrap().to_string();
    let refund = world.post(
        "/_sandbox/seed",
        json!({"refunds": [{"charge": charge, "amount": 1_000, "created": now - 3_600}]}),
    )["refunds"][0]
        .as_str()
        .unwrap()
        .to_string();
    let (admin, contact) = bedrock_paid(&world, "INV-5", "40", &intent);
    admin.refund_in_cash(&contact, "10.00", &refund);
    harness::ok(&connect_xero(&world, Some("Bedrock Ltd")));
    harness::ok(&world.cli(&["connect", "--api-base", &world.base()]));
    harness::ok(&world.cli(&["sync"]));
    harness::ok(&world.cli(&["books", "sync"]));
    let refunds = ledger_refunds(&world.db());
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0].invoice_number, "INV-5", "{refunds:?}");
}

/// Organisation Bedrock Ltd with contact Wilma and invoice `number` for `amount` (exact
/// text), paid in full under `reference`: the person working in it, and the contact.
fn bedrock_paid<'w>(
    world: &'w World,
    number: &str,
    amount: &str,
    reference: &str,
) -> (Admin<'w>, String) {
    world.post(
        "/_sandbox/xero/tenants",
        json!({"tenant": "9a1b2c3d-0000-4000-8000-000000000001", "name": "Bedrock Ltd", "currency": "USD"}),
    );
    let admin = Admin::of(world, "Bedrock Ltd");
    let contact = admin.call(
        reqwest::Method::PUT,
        "Contacts",
        json!({"Contacts": [{"Name": "Wilma Flintstone"}]}),
    )["Contacts"][0]["ContactID"]
        .as_str()
        .unwrap()
        .to_string();
    let amount: Value = serde_json::from_str(amount).unwrap();
    let invoice = admin.call(
        reqwest::Method::PUT,
        "Invoices",
        json!({"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact}, "InvoiceNumber": number,
               "Status": "AUTHORISED", "Date": "2026-11-20",
               "LineItems": [{"Description": "Plan", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200"}]}]}),
    )["Invoices"][0]["InvoiceID"]
        .as_str()
        .unwrap()
        .to_string();
    admin.call(
        reqwest::Method::PUT,
        "Payments",
        json!({"Payments": [{"Invoice": {"InvoiceID": invoice}, "Account": {"Code": "090"},
               "Amount": amount, "Date": "2026-11-21", "Reference": reference}]}),
    );
    (admin, contact)
}
