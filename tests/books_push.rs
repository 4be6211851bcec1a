//! A ledger fix pushed out to QuickBooks Online, exactly once, as a bookkeeper does it: a
//! Stripe charge QuickBooks has no payment for is found, its fix (record the payment on
//! its invoice) proposed, approved and executed with `chargeguard`, and the payment lands
//! in the stand-in's books over real loopback HTTP, carrying the journal's key. Then what
//! it must survive: a double execute, the company's closing date, an answer lost after
//! QuickBooks recorded it, and SIGKILL before and after the send. After each, the
//! stand-in holds one payment for the fix, never two, and the next sync changes nothing.
//!
//! Run under `scripts/with-keyring.sh` (test.sh does), as `books_quickbooks.rs`.

use serde_json::{Value, json};

mod books_support;
use books_support::{
    PASSPHRASE, PushCase, QboAdmin, World, adjustment_kinds, connect_qbo, harness, keyring_or_skip,
    ledger_ids, ledger_refunds, open_findings, qbo_world, stored_invoice, stripe_charges,
    synced_and_approved, synced_and_approved_as,
};

/// A QuickBooks company whose invoice INV-7 (75.00) Stripe charged and nobody recorded,
/// synced and reconciled; the fix proposed and approved. The action's id.
struct Pushing {
    world: World,
    action: i64,
    charge: String,
    invoice_id: String,
    admin: String,
}

fn approved_fix() -> Pushing {
    let world = qbo_world();
    let charge = stripe_charges(&world, &[("INV-7", 7_500)]).remove(0);
    let customer = world
        .qbo_seeded("customers", json!([{"DisplayName": "Betty Rubble"}]))
        .remove(0);
    let invoice_id = world
        .qbo_seeded(
            "invoices",
            json!([{"CustomerRef": {"value": customer}, "DocNumber": "INV-7", "TxnDate": "2026-11-20",
                    "Line": [{"Amount": 75.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}]),
        )
        .remove(0);
    let action = synced_and_approved(&world, connect_qbo, "INV-7", "orphan_charge");
    let admin = world.admin_token();
    Pushing {
        world,
        action,
        charge,
        invoice_id,
        admin,
    }
}

impl PushCase for Pushing {
    fn world(&self) -> &World {
        &self.world
    }

    fn action(&self) -> i64 {
        self.action
    }

    fn write(&self) -> (String, &'static str) {
        (format!("/v3/company/{}/payment", self.world.realm), "POST")
    }

    fn recorded_words(&self) -> &'static str {
        "recorded in QuickBooks"
    }

    /// The payments QuickBooks holds that carry the action's key in their note.
    fn pushed(&self) -> Vec<Value> {
        let key = self.key();
        self.world
            .qbo_query(&self.admin, "SELECT * FROM Payment")
            .into_iter()
            .filter(|p| p["PrivateNote"].as_str().is_some_and(|n| n.contains(&key)))
            .collect()
    }

    /// After any path to the end: one payment in QuickBooks for the fix, on INV-7, for
    /// the charge; the invoice paid there; the action succeeded naming it; the store's
    /// ledger holds it as the sync would; a sync finds nothing new; reconcile is clean.
    fn assert_pushed_once(&self) {
        let pushed = self.pushed();
        assert_eq!(pushed.len(), 1, "one payment for the fix: {pushed:?}");
        let payment = &pushed[0];
        assert_eq!(
            payment["Line"][0]["LinkedTxn"][0]["TxnId"], self.invoice_id,
            "{payment}"
        );
        assert!(
            payment["PrivateNote"]
                .as_str()
                .unwrap()
                .contains(&self.charge),
            "{payment}"
        );
        let invoice = self
            .world
            .qbo_read(&self.admin, "invoice", &self.invoice_id);
        assert!(
            matches!(invoice["Balance"].to_string().as_str(), "0" | "0.0"),
            "paid in QuickBooks: {invoice}"
        );
        let action = self.action_json();
        assert_eq!(action["state"], "succeeded", "{action}");
        let id = payment["Id"].as_str().unwrap();
        assert!(
            action["gateway_object_id"]
                .as_str()
                .is_some_and(|g| g.ends_with(&format!(":{id}"))),
            "{action}"
        );
        assert_eq!(
            ledger_ids(&self.world.db()),
            [format!("qbo:{id}:{}", self.invoice_id)]
        );
        assert_eq!(
            stored_invoice(&self.world.db(), "INV-7").status,
            chargeguard::records::InvoiceStatus::Paid,
            "the store shows the invoice paid at once, not at the next sync"
        );
        self.assert_synced_and_clean("INV-7");
        let verified = harness::ok(&self.world.cli(&["audit", "verify"]));
        assert!(
            verified.contains("holds") || verified.contains("intact"),
            "{verified}"
        );
    }
}

#[test]
fn a_recorded_payment_is_pushed_to_quickbooks_exactly_once() {
    let Some(_keyring) = keyring_or_skip("a_recorded_payment_is_pushed") else {
        return;
    };
    let p = approved_fix();
    let key = p.key();

    // Before anything leaves, the bookkeeper sees where it goes and what.
    let dry: Value = serde_json::from_str(&harness::ok(&p.world.cli(&[
        "execute",
        &p.action.to_string(),
        "--dry-run",
    ])))
    .unwrap();
    assert_eq!(
        dry["destination"],
        format!("QuickBooks company {}", p.world.realm)
    );
    assert!(
        dry["path"].as_str().unwrap().contains(&format!(
            "/payment?requestid={}",
            chargeguard::books::qbo::request_id(&key)
        )),
        "{dry}"
    );
    assert!(
        dry["body"].as_str().unwrap().contains("\"TotalAmt\":75.00"),
        "{dry}"
    );
    assert!(p.pushed().is_empty(), "a dry run sends nothing");

    // The screens say where the fix is written, before and after.
    let api = chargeguard::api::Api::new(p.world.db());
    let company = format!("QuickBooks company {}", p.world.realm);
    let finding_id = p.action_json()["finding_id"].as_u64().unwrap() as u32;
    let detail =
        chargeguard::api::finding(&api, &chargeguard::api::json::IdRequest { id: finding_id })
            .unwrap();
    assert_eq!(detail.fix.expect("a fix").destination, company);

    let done = harness::ok(&p.execute());
    assert!(
        done.contains(&format!("recorded in QuickBooks company {}", p.world.realm)),
        "{done}"
    );
    p.assert_pushed_once();
    let listed = chargeguard::api::actions_list(&api).unwrap();
    let shown = listed.iter().find(|a| i64::from(a.id) == p.action).unwrap();
    assert_eq!(shown.destination, company);
    assert!(
        shown
            .gateway_object_id
            .as_deref()
            .is_some_and(|g| g.starts_with("quickbooks:payment:")),
        "{shown:?}"
    );
    assert_eq!(
        shown.object_link, None,
        "the stand-in has no web app to link to"
    );

    // A double click, a second window: nothing is sent again.
    let again = harness::ok(&p.execute());
    assert!(again.contains("nothing was sent again"), "{again}");
    assert_eq!(p.pushed().len(), 1);
}

#[test]
fn a_closed_period_in_quickbooks_refuses_the_push_and_says_so() {
    let Some(_keyring) = keyring_or_skip("a_closed_period_refuses_the_push") else {
        return;
    };
    let p = approved_fix();
    let today = jiff::Zoned::now().date().to_string();
    p.world.post(
        "/_sandbox/qbo/close_books",
        json!({"realm": p.world.realm, "date": today}),
    );
    let (code, stderr) = harness::refused(&p.execute());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("closed through") && stderr.contains("reopen that period"),
        "{stderr}"
    );
    assert!(p.pushed().is_empty(), "nothing reached QuickBooks");
    assert_eq!(p.action_json()["state"], "cancelled");
}

#[test]
fn an_answer_lost_after_quickbooks_recorded_it_is_settled_by_recovery() {
    let Some(_keyring) = keyring_or_skip("an_answer_lost_after_quickbooks_recorded_it") else {
        return;
    };
    let p = approved_fix();
    p.world.post(
        "/_sandbox/faults",
        json!({"path": format!("/v3/company/{}/payment", p.world.realm),
               "method": "POST", "fault": "error_500_after_commit", "times": 1}),
    );
    let out = p.execute();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("not known yet") && said.contains("chargeguard recover"),
        "{said}"
    );
    assert_eq!(p.action_json()["state"], "unknown");
    assert_eq!(p.pushed().len(), 1, "QuickBooks did record it");
    // Recovery needs the connection: it cannot be dropped while the push is undecided.
    let (_, refused) = harness::refused(&p.world.cli(&["books", "disconnect"]));
    assert!(
        refused.contains("outcome is not known yet") && refused.contains("chargeguard recover"),
        "{refused}"
    );

    // QuickBooks may have forgotten the request id by the time recovery runs: the payment
    // is found by the key in its note, and nothing is sent again.
    p.world.delete("/_sandbox/qbo/requests");
    let report = p.world.recovered();
    assert_eq!(report["succeeded"], json!(1), "{report}");
    p.assert_pushed_once();
}

#[cfg(feature = "failpoints")]
#[test]
fn a_push_killed_before_or_after_the_send_happens_once() {
    let Some(_keyring) = keyring_or_skip("a_push_killed") else {
        return;
    };
    for (point, sent) in [
        ("execute.after_journal", 0),
        ("execute.after_answer", 1),
        ("execute.before_settle", 1),
    ] {
        approved_fix().killed_and_recovered(point, sent);
    }
}

#[test]
fn a_payment_recorded_by_hand_since_the_sync_stops_the_push() {
    let Some(_keyring) = keyring_or_skip("a_payment_recorded_by_hand") else {
        return;
    };
    let p = approved_fix();
    // Someone records the payment in QuickBooks by hand after the morning's sync.
    let invoice = p.world.qbo_read(&p.admin, "invoice", &p.invoice_id);
    p.world.qbo(
        &p.admin,
        "payment",
        json!({"CustomerRef": invoice["CustomerRef"], "TotalAmt": 75.00, "TxnDate": "2026-11-21",
               "Line": [{"Amount": 75.00, "LinkedTxn": [{"TxnId": p.invoice_id, "TxnType": "Invoice"}]}]}),
    );
    let (code, stderr) = harness::refused(&p.execute());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("since the last sync") && stderr.contains("INV-7"),
        "{stderr}"
    );
    assert!(p.pushed().is_empty(), "nothing was pushed");
    assert_eq!(
        p.world.qbo_query(&p.admin, "SELECT * FROM Payment").len(),
        1,
        "the one payment entered by hand"
    );
    assert_eq!(p.action_json()["state"], "cancelled");
}

/// QuickBooks records INV-9 (50.00) paid by a Stripe charge that failed: the fix voids
/// that payment in QuickBooks, once, and the invoice is owed again.
#[test]
fn a_payment_for_a_failed_charge_is_voided_in_quickbooks_once() {
    let Some(_keyring) = keyring_or_skip("a_payment_for_a_failed_charge_is_voided") else {
        return;
    };
    let world = qbo_world();
    let now = jiff::Timestamp::now().as_second();
    let seeded = world.post(
        "/_sandbox/seed",
        json!({"charges": [{"amount": 5_000, "currency": "usd", "created": now - 86_400,
               "customer": "cus_wilma", "status": "failed",
               "metadata": {"invoice_number": "INV-9"}}]}),
    );
    let failed = seeded["charges"][0].as_str().unwrap().to_string();
    let customer = world
        .qbo_seeded("customers", json!([{"DisplayName": "Barney Rubble"}]))
        .remove(0);
    let invoice_id = world
        .qbo_seeded("invoices", json!([{"CustomerRef": {"value": customer},
               "DocNumber": "INV-9", "TxnDate": "2026-11-20",
               "Line": [{"Amount": 50.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}]))
        .remove(0);
    let yesterday = jiff::Timestamp::from_second(now - 86_400)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let payment_id = world
        .qbo_seeded("payments", json!([{"CustomerRef": {"value": customer},
               "TotalAmt": "50.00", "TxnDate": yesterday, "PaymentRefNum": failed,
               "Line": [{"Amount": "50.00", "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]}]))
        .remove(0);
    let action = synced_and_approved(&world, connect_qbo, "INV-9", "missing_charge");
    let admin = world.admin_token();
    // The answer is lost after QuickBooks voided it: recovery reads the payment.
    world.post(
        "/_sandbox/faults",
        json!({"path": format!("/v3/company/{}/payment", world.realm),
               "method": "POST", "fault": "error_500_after_commit", "times": 1}),
    );
    let out = world.cli(&["execute", &action.to_string()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("not known yet"),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = world.recovered();
    assert_eq!(report["succeeded"], json!(1), "{report}");
    let again = harness::ok(&world.cli(&["execute", &action.to_string()]));
    assert!(again.contains("nothing was sent again"), "{again}");

    let payment = world.qbo_read(&admin, "payment", &payment_id);
    assert!(
        payment["PrivateNote"]
            .as_str()
            .is_some_and(|n| n.starts_with("Voided")),
        "voided in QuickBooks: {payment}"
    );
    assert_eq!(
        payment["SyncToken"], "1",
        "voided once, not twice: {payment}"
    );
    let invoice = world.qbo_read(&admin, "invoice", &invoice_id);
    assert!(
        matches!(invoice["Balance"].to_string().as_str(), "50" | "50.0"),
        "owed again: {invoice}"
    );
    assert!(
        ledger_ids(&world.db()).is_empty(),
        "the payment left the ledger"
    );
    assert_eq!(
        stored_invoice(&world.db(), "INV-9").status,
        chargeguard::records::InvoiceStatus::Open,
        "the store shows the invoice owed again at once"
    );
    let synced = harness::ok(&world.cli(&["books", "sync"]));
    assert!(
        synced.contains("0 new ledger entries, 0 changed"),
        "{synced}"
    );
    harness::ok(&world.cli(&["reconcile"]));
    let open = open_findings(&world);
    assert!(
        !open
            .iter()
            .any(|(k, n)| n == "INV-9" && k == "missing_charge"),
        "{open:?}"
    );
}

/// Every sandbox fault on the push's one write, with a client that waits two seconds: the
/// push ends recorded once, whether the fault struck before QuickBooks recorded it (sent
/// again, same request id) or after (found by its key), and a second recover or execute
/// sends nothing.
#[rstest::rstest]
#[case::lose_response_after_commit("lose_response_after_commit", None, 1)]
#[case::timeout_before_commit("timeout_before_commit", Some(3000), 0)]
#[case::timeout_after_commit("timeout_after_commit", Some(3000), 1)]
#[case::error_500_before_commit("error_500_before_commit", None, 0)]
#[case::error_500_after_commit("error_500_after_commit", None, 1)]
#[case::error_503_before_commit("error_503_before_commit", None, 0)]
#[case::rate_limit("rate_limit", None, 0)]
#[case::slow("slow", Some(300), 1)]
fn every_fault_on_the_push_ends_in_one_payment(
    #[case] fault: &str,
    #[case] hold_ms: Option<u64>,
    #[case] recorded_at_once: usize,
) {
    let Some(_keyring) = keyring_or_skip("every_fault_on_the_push") else {
        return;
    };
    approved_fix().fault_ends_in_one_payment(fault, hold_ms, recorded_at_once);
}

/// Someone recorded Stripe's charge in QuickBooks by hand, on another invoice of the same
/// customer, its reference cut to what the field took: INV-7 still owes in QuickBooks, so
/// only the check for a payment of that charge stops a second record of the same money.
#[test]
fn a_charge_recorded_by_hand_on_another_invoice_stops_the_push() {
    let Some(_keyring) = keyring_or_skip("a_charge_recorded_by_hand_elsewhere") else {
        return;
    };
    let p = approved_fix();
    let invoice = p.world.qbo_read(&p.admin, "invoice", &p.invoice_id);
    let other = p.world.qbo(
        &p.admin,
        "invoice",
        json!({"CustomerRef": invoice["CustomerRef"], "DocNumber": "INV-8", "TxnDate": "2026-11-22",
               "Line": [{"Amount": 75.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}),
    );
    let other_id = other["Invoice"]["Id"].as_str().unwrap().to_string();
    p.world.qbo(
        &p.admin,
        "payment",
        json!({"CustomerRef": invoice["CustomerRef"], "TotalAmt": 75.00, "TxnDate": "2026-11-23",
               "PaymentRefNum": &p.charge[..p.charge.len() - 3],
               "Line": [{"Amount": 75.00, "LinkedTxn": [{"TxnId": other_id, "TxnType": "Invoice"}]}]}),
    );
    assert!(p.charge.len() - 3 >= 15, "{}", p.charge);
    let (code, stderr) = harness::refused(&p.execute());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("already holds payment") && stderr.contains(&p.charge),
        "{stderr}"
    );
    assert!(p.pushed().is_empty(), "nothing was pushed");
    assert_eq!(p.action_json()["state"], "cancelled");
}

/// A QuickBooks company that recorded INV-12 (60.00) paid by a Stripe charge, which Stripe
/// has since refunded whole; nobody recorded the refund. Synced and reconciled, the fix
/// (record the refund) proposed and approved, the account Stripe's money goes through not
/// chosen yet.
struct Refunding {
    world: World,
    action: i64,
    charge: String,
    admin: String,
}

fn approved_refund() -> Refunding {
    let world = qbo_world();
    let charge = stripe_charges(&world, &[("INV-12", 6_000)]).remove(0);
    world.post(
        "/_sandbox/seed",
        json!({"refunds": [{"charge": charge, "amount": 6_000,
               "created": jiff::Timestamp::now().as_second() - 3_600}]}),
    );
    let customer = world
        .qbo_seeded("customers", json!([{"DisplayName": "Pebbles Flintstone"}]))
        .remove(0);
    let invoice_id = world
        .qbo_seeded(
            "invoices",
            json!([{"CustomerRef": {"value": customer},
               "DocNumber": "INV-12", "TxnDate": "2026-11-20",
               "Line": [{"Amount": 60.0, "DetailType": "SalesItemLineDetail",
                         "SalesItemLineDetail": {"ItemRef": {"value": "7", "name": "Hosting"}}}]}]),
        )
        .remove(0);
    world.qbo_seeded(
        "payments",
        json!([{"CustomerRef": {"value": customer}, "TotalAmt": "60.00", "TxnDate": "2026-11-21",
                "PaymentRefNum": charge,
                "Line": [{"Amount": "60.00", "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]}]),
    );
    let action = synced_and_approved(&world, connect_qbo, "INV-12", "unrecorded_refund");
    let admin = world.admin_token();
    Refunding {
        world,
        action,
        charge,
        admin,
    }
}

impl Refunding {
    fn choose_account(&self) {
        let chosen = harness::ok(&self.world.cli(&["books", "payment-account", "35"]));
        assert!(
            chosen.contains("refunds Chargeguard records") && chosen.contains("account 35"),
            "{chosen}"
        );
    }
}

impl PushCase for Refunding {
    fn world(&self) -> &World {
        &self.world
    }

    fn action(&self) -> i64 {
        self.action
    }

    fn write(&self) -> (String, &'static str) {
        (
            format!("/v3/company/{}/refundreceipt", self.world.realm),
            "POST",
        )
    }

    fn recorded_words(&self) -> &'static str {
        "recorded in QuickBooks"
    }

    /// The refund receipts QuickBooks holds that carry the action's key in their note.
    fn pushed(&self) -> Vec<Value> {
        let key = self.key();
        self.world
            .qbo_query(&self.admin, "SELECT * FROM RefundReceipt")
            .into_iter()
            .filter(|p| p["PrivateNote"].as_str().is_some_and(|n| n.contains(&key)))
            .collect()
    }

    /// One refund receipt for the fix: 60.00 to the invoice's customer, paid from account
    /// 35, naming the charge, selling the invoice's item back; the action succeeded naming
    /// it; the ledger holds the refund on INV-12 as a sync reads it; a sync finds nothing
    /// new and the finding does not come back.
    fn assert_pushed_once(&self) {
        let pushed = self.pushed();
        assert_eq!(
            pushed.len(),
            1,
            "one refund receipt for the fix: {pushed:?}"
        );
        let receipt = &pushed[0];
        assert!(
            matches!(receipt["TotalAmt"].to_string().as_str(), "60" | "60.0"),
            "{receipt}"
        );
        assert_eq!(receipt["DepositToAccountRef"]["value"], "35", "{receipt}");
        assert_eq!(receipt["PaymentRefNum"], self.charge.as_str(), "{receipt}");
        assert_eq!(
            receipt["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"], "7",
            "{receipt}"
        );
        let action = self.action_json();
        assert_eq!(action["state"], "succeeded", "{action}");
        let id = receipt["Id"].as_str().unwrap();
        assert_eq!(
            action["gateway_object_id"],
            format!("quickbooks:refund_receipt:{id}"),
            "{action}"
        );
        let refunds = ledger_refunds(&self.world.db());
        assert_eq!(refunds.len(), 1, "{refunds:?}");
        assert_eq!(refunds[0].payment_id, format!("qbo:refund:{id}"));
        assert_eq!(refunds[0].invoice_number, "INV-12");
        assert_eq!(refunds[0].amount.minor(), 6_000);
        self.assert_synced_and_clean("INV-12");
    }
}

#[test]
fn a_refund_stripe_made_is_recorded_in_quickbooks_exactly_once() {
    let Some(_keyring) = keyring_or_skip("a_refund_is_recorded_in_quickbooks") else {
        return;
    };
    let p = approved_refund();
    // Where it goes is shown before approval and at execute.
    let api = chargeguard::api::Api::new(p.world.db());
    let finding_id = p.action_json()["finding_id"].as_u64().unwrap() as u32;
    let detail =
        chargeguard::api::finding(&api, &chargeguard::api::json::IdRequest { id: finding_id })
            .unwrap();
    assert_eq!(
        detail.fix.expect("a fix").destination,
        format!("QuickBooks company {}", p.world.realm)
    );

    // QuickBooks needs the account a refund is paid from: until one is chosen the fix
    // waits, approved, and nothing is sent.
    let (_, waits) = harness::refused(&p.execute());
    assert!(
        waits.contains("books payment-account") && waits.contains("nothing was sent"),
        "{waits}"
    );
    assert_eq!(p.action_json()["state"], "approved");
    assert!(p.pushed().is_empty());
    let status = harness::ok(&p.world.cli(&["books", "status"]));
    assert!(status.contains("no account chosen"), "{status}");

    p.choose_account();
    let dry: Value = serde_json::from_str(&harness::ok(&p.world.cli(&[
        "execute",
        &p.action.to_string(),
        "--dry-run",
    ])))
    .unwrap();
    assert!(
        dry["path"]
            .as_str()
            .unwrap()
            .contains("/refundreceipt?requestid="),
        "{dry}"
    );
    assert!(p.pushed().is_empty(), "a dry run sends nothing");

    p.executed_once(&format!(
        "recorded in QuickBooks company {}: refund receipt",
        p.world.realm
    ));
}

/// The refund was entered in QuickBooks by hand after the morning's sync, its reference the
/// Stripe refund's id: the push is refused, nothing is recorded twice.
#[test]
fn a_refund_recorded_by_hand_since_the_sync_stops_the_push() {
    let Some(_keyring) = keyring_or_skip("a_refund_recorded_by_hand") else {
        return;
    };
    let p = approved_refund();
    p.choose_account();
    let mut store = chargeguard::store::Store::open(&p.world.db()).unwrap();
    let refund_id = store
        .read(|tx| tx.refunds_of(&[p.charge.as_str()]))
        .unwrap()
        .remove(0)
        .id;
    let payment = p
        .world
        .qbo_query(&p.admin, "SELECT * FROM Payment")
        .remove(0);
    p.world.qbo(
        &p.admin,
        "refundreceipt",
        json!({"CustomerRef": payment["CustomerRef"], "TxnDate": "2026-11-25",
               "DepositToAccountRef": {"value": "35"}, "PaymentRefNum": refund_id,
               "Line": [{"Amount": 60.00, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}),
    );
    let (code, stderr) = harness::refused(&p.execute());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("refund receipt") && stderr.contains("since the last sync"),
        "{stderr}"
    );
    assert!(p.pushed().is_empty(), "nothing was pushed");
    assert_eq!(p.action_json()["state"], "cancelled");
}

#[cfg(feature = "failpoints")]
#[test]
fn a_refund_push_killed_before_or_after_the_send_happens_once() {
    let Some(_keyring) = keyring_or_skip("a_refund_push_killed") else {
        return;
    };
    for (point, sent) in [("execute.after_journal", 0), ("execute.after_answer", 1)] {
        let p = approved_refund();
        p.choose_account();
        p.killed_and_recovered(point, sent);
    }
}

/// Faults on the refund receipt's write end in one receipt, as they do for a payment.
#[rstest::rstest]
#[case::lose_response_after_commit("lose_response_after_commit", None, 1)]
#[case::timeout_before_commit("timeout_before_commit", Some(3000), 0)]
#[case::error_500_after_commit("error_500_after_commit", None, 1)]
#[case::rate_limit("rate_limit", None, 0)]
fn every_fault_on_a_refund_push_ends_in_one_receipt(
    #[case] fault: &str,
    #[case] hold_ms: Option<u64>,
    #[case] recorded_at_once: usize,
) {
    let Some(_keyring) = keyring_or_skip("every_fault_on_a_refund_push") else {
        return;
    };
    let p = approved_refund();
    p.choose_account();
    p.fault_ends_in_one_payment(fault, hold_ms, recorded_at_once);
}

/// A QuickBooks company whose invoicing run went twice: INV-20 and INV-21 bill Barney the
/// same 50.00 on the same day, Stripe charged both, and QuickBooks holds the first's
/// payment and, when `paid_twice`, the second's too. Synced and reconciled; the duplicate's
/// fix (refund its charge, void it) proposed, and approved with the match checked.
struct Duplicate {
    world: World,
    action: i64,
    charge: String,
    invoice_ids: Vec<String>,
    payment_ids: Vec<String>,
    admin: String,
}

/// The duplicate's books in the sandbox: Stripe's two charges and QuickBooks' INV-20 and
/// INV-21, each paid (INV-21 only when `paid_twice`). The charges, invoices' and payments'
/// ids.
fn duplicate_books(world: &World, paid_twice: bool) -> (Vec<String>, Vec<String>, Vec<String>) {
    let charges = stripe_charges(world, &[("INV-20", 5_000), ("INV-21", 5_000)]);
    let customer = world
        .qbo_seeded("customers", json!([{"DisplayName": "Barney Rubble"}]))
        .remove(0);
    let invoice = |number: &str| {
        json!({"CustomerRef": {"value": customer}, "DocNumber": number, "TxnDate": "2026-11-20",
               "Line": [{"Amount": 50.0, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]})
    };
    let invoice_ids = world.qbo_seeded("invoices", json!([invoice("INV-20"), invoice("INV-21")]));
    let paid = |i: usize| {
        json!({"CustomerRef": {"value": customer}, "TotalAmt": "50.00", "TxnDate": "2026-11-21",
               "PaymentRefNum": charges[i],
               "Line": [{"Amount": "50.00", "LinkedTxn": [{"TxnId": invoice_ids[i], "TxnType": "Invoice"}]}]})
    };
    let payments = if paid_twice {
        json!([paid(0), paid(1)])
    } else {
        json!([paid(0)])
    };
    let payment_ids = world.qbo_seeded("payments", payments);
    (charges, invoice_ids, payment_ids)
}

fn approved_duplicate(paid_twice: bool) -> Duplicate {
    let world = qbo_world();
    let (charges, invoice_ids, payment_ids) = duplicate_books(&world, paid_twice);
    let action = synced_and_approved_as(
        &world,
        connect_qbo,
        "INV-21",
        "duplicate_invoice",
        &["--heuristic-checked"],
    );
    let admin = world.admin_token();
    Duplicate {
        world,
        action,
        charge: charges[1].clone(),
        invoice_ids,
        payment_ids,
        admin,
    }
}

impl Duplicate {
    /// QuickBooks cannot be asked the next time a push opens the company (a 503 on its
    /// preferences).
    fn books_unavailable_once(&self) {
        self.world.post(
            "/_sandbox/faults",
            json!({"path": format!("/v3/company/{}/preferences", self.world.realm), "method": "GET",
                   "fault": "error_503_before_commit", "times": 1}),
        );
    }

    fn actions(&self) -> Vec<Value> {
        serde_json::from_str::<Value>(&harness::ok(&self.world.cli(&["--json", "actions"])))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// The duplicate undone once, at Stripe and in QuickBooks: one refund of its charge;
    /// its payment there (when it had one) voided, then the invoice voided; INV-20 and its
    /// payment untouched; each step an action that succeeded naming what it changed; the
    /// next sync finds nothing new and reconcile leaves nothing open.
    fn assert_undone_once(&self, paid_twice: bool) {
        let refunds = self.world.stripe_refunds_of(&self.charge);
        assert_eq!(refunds.len(), 1, "one refund at Stripe: {refunds:?}");
        assert_eq!(refunds[0]["amount"], 5_000);
        let read = |entity: &str, id: &str| self.world.qbo_read(&self.admin, entity, id);
        let voided = |v: &Value| {
            v["PrivateNote"]
                .as_str()
                .is_some_and(|n| n.starts_with("Voided"))
        };
        assert!(
            voided(&read("invoice", &self.invoice_ids[1])),
            "INV-21 voided"
        );
        assert!(
            !voided(&read("invoice", &self.invoice_ids[0])),
            "INV-20 stands"
        );
        assert!(
            !voided(&read("payment", &self.payment_ids[0])),
            "its payment stands"
        );
        if paid_twice {
            assert!(
                voided(&read("payment", &self.payment_ids[1])),
                "INV-21's payment voided"
            );
        }
        let actions = self.actions();
        assert!(
            actions.iter().all(|a| a["state"] == "succeeded"),
            "{actions:#?}"
        );
        // Oldest first: the payment reversed before the invoice voided.
        let mut by_id: Vec<&Value> = actions.iter().collect();
        by_id.sort_by_key(|a| a["id"].as_i64());
        let made: Vec<&str> = by_id
            .iter()
            .filter_map(|a| a["gateway_object_id"].as_str())
            .filter(|g| g.starts_with("quickbooks:"))
            .collect();
        let mut wanted = vec![format!("quickbooks:invoice:{}", self.invoice_ids[1])];
        if paid_twice {
            wanted.insert(0, format!("quickbooks:payment:{}", self.payment_ids[1]));
        }
        assert_eq!(made, wanted, "{actions:#?}");
        self.world.assert_undone_and_clean("INV-21");
    }
}

#[test]
fn a_duplicate_invoice_paid_twice_is_refunded_and_undone_in_quickbooks_once() {
    let Some(_keyring) = keyring_or_skip("a_duplicate_invoice_paid_twice") else {
        return;
    };
    let d = approved_duplicate(true);
    let api = chargeguard::api::Api::new(d.world.db());
    let finding_id = d.actions()[0]["finding_id"].as_u64().unwrap() as u32;
    let detail =
        chargeguard::api::finding(&api, &chargeguard::api::json::IdRequest { id: finding_id })
            .unwrap();
    assert_eq!(
        detail.fix.expect("a fix").destination,
        format!(
            "Stripe, then QuickBooks company {} for the books' side",
            d.world.realm
        )
    );
    let done = harness::ok(&d.world.cli(&["execute", &d.action.to_string()]));
    let company = format!("QuickBooks company {}", d.world.realm);
    assert!(
        done.contains(&format!(
            "voided in {company}: payment {}",
            d.payment_ids[1]
        )) && done.contains(&format!(
            "voided in {company}: invoice {}",
            d.invoice_ids[1]
        )),
        "{done}"
    );
    d.assert_undone_once(true);
    // The Actions screen names the refund each step is the books' side of.
    let views = chargeguard::api::actions_list(&api).unwrap();
    let parent = d.action as u32;
    let steps: Vec<_> = views.iter().filter(|v| v.id != parent).collect();
    assert_eq!(steps.len(), 2, "{views:?}");
    assert!(
        steps.iter().all(|v| v.follow_up_of == Some(parent)),
        "{steps:?}"
    );
    assert!(
        views
            .iter()
            .any(|v| v.id == parent && v.follow_up_of.is_none())
    );
    let again = harness::ok(&d.world.cli(&["execute", &d.action.to_string()]));
    assert!(again.contains("nothing was sent again"), "{again}");
    d.assert_undone_once(true);
}

#[test]
fn a_duplicate_invoice_quickbooks_never_saw_paid_is_voided_there_once() {
    let Some(_keyring) = keyring_or_skip("a_duplicate_invoice_unpaid_there") else {
        return;
    };
    let d = approved_duplicate(false);
    let done = harness::ok(&d.world.cli(&["execute", &d.action.to_string()]));
    assert!(done.contains("voided in QuickBooks company"), "{done}");
    d.assert_undone_once(false);
}

/// SIGKILL after Stripe refunded: recovery settles the refund and, as `execute` would
/// have, pushes its books' side (the payment voided, then the invoice). Each happens once.
#[cfg(feature = "failpoints")]
#[test]
fn a_duplicates_undoing_killed_after_the_refund_is_finished_by_recovery() {
    let Some(_keyring) = keyring_or_skip("a_duplicates_undoing_killed") else {
        return;
    };
    let d = approved_duplicate(true);
    d.world.killed_executing(d.action, "execute.after_answer");
    let report = d.world.recovered();
    assert_eq!(report["succeeded"], json!(3), "{report}");
    d.assert_undone_once(true);
    let again = harness::ok(&d.world.cli(&["execute", &d.action.to_string()]));
    assert!(again.contains("nothing was sent again"), "{again}");
    d.assert_undone_once(true);
}

/// QuickBooks cannot be asked when Stripe refunds: `execute` says the books' side waits
/// (exit 3, for recover), and it waits, approved. Its reversal then killed after QuickBooks
/// voided the payment: recovery finds it voided, and pushes the invoice's void. Each step
/// happens once.
#[cfg(feature = "failpoints")]
#[test]
fn a_duplicates_books_side_that_waited_then_was_killed_happens_once() {
    let Some(_keyring) = keyring_or_skip("a_duplicates_books_side_waited") else {
        return;
    };
    let d = approved_duplicate(true);
    d.books_unavailable_once();
    let out = d.world.cli(&["execute", &d.action.to_string()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("did not go") && said.contains("chargeguard recover"),
        "{said}"
    );
    assert_eq!(d.world.stripe_refunds_of(&d.charge).len(), 1);
    let waiting: Vec<i64> = d
        .actions()
        .into_iter()
        .filter(|a| a["state"] == "approved")
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(waiting.len(), 1, "the payment's reversal waits, approved");

    d.world.killed_executing(waiting[0], "execute.after_answer");
    let report = d.world.recovered();
    assert_eq!(report["succeeded"], json!(2), "{report}");
    d.assert_undone_once(true);
}

/// Approved while QuickBooks was connected, executed after it was disconnected: Stripe
/// refunds, and the books' side is kept by hand, as Chargeguard's adjustments, never sent
/// anywhere its approvers were not shown.
#[test]
fn a_duplicates_books_side_stays_by_hand_once_the_books_are_disconnected() {
    let Some(_keyring) = keyring_or_skip("a_duplicates_books_side_by_hand") else {
        return;
    };
    let d = approved_duplicate(true);
    harness::ok(&d.world.cli(&["books", "disconnect"]));
    let done = harness::ok(&d.world.cli(&["execute", &d.action.to_string()]));
    assert!(
        done.contains("no longer connected") && done.contains("by hand"),
        "{done}"
    );
    assert_eq!(d.world.stripe_refunds_of(&d.charge).len(), 1);
    let actions = d.actions();
    assert_eq!(actions.len(), 1, "no action for the books: {actions:#?}");
    let voided = |entity: &str, id: &str| {
        d.world.qbo_read(&d.admin, entity, id)["PrivateNote"]
            .as_str()
            .is_some_and(|n| n.starts_with("Voided"))
    };
    assert!(!voided("invoice", &d.invoice_ids[1]));
    assert!(!voided("payment", &d.payment_ids[1]));
}

/// The duplicate's invoice lies in a period QuickBooks' books are closed through, while its
/// payment does not: the payment is not voided either (the invoice would be left owing
/// there), and the books' side is kept by hand as Chargeguard's adjustments, the refund
/// recorded and the invoice voided, so nothing is left open and nothing is lost.
#[test]
fn a_duplicate_whose_invoice_cannot_be_voided_is_left_whole_and_kept_by_hand() {
    let Some(_keyring) = keyring_or_skip("a_duplicate_whose_invoice_is_closed") else {
        return;
    };
    let d = approved_duplicate(true);
    d.world.post(
        "/_sandbox/qbo/close_books",
        json!({"realm": d.world.realm, "date": "2026-11-20"}),
    );
    let done = harness::ok(&d.world.cli(&["execute", &d.action.to_string()]));
    assert!(
        done.contains("closed through 2026-11-20") && done.contains("invoice INV-21"),
        "{done}"
    );
    assert_eq!(d.world.stripe_refunds_of(&d.charge).len(), 1);
    let voided = |entity: &str, id: &str| {
        d.world.qbo_read(&d.admin, entity, id)["PrivateNote"]
            .as_str()
            .is_some_and(|n| n.starts_with("Voided"))
    };
    assert!(!voided("payment", &d.payment_ids[1]), "the payment stands");
    assert!(!voided("invoice", &d.invoice_ids[1]));
    let kinds = adjustment_kinds(&d.world.db());
    assert_eq!(kinds, ["record_refund INV-21", "void_invoice INV-21"]);
    harness::ok(&d.world.cli(&["reconcile"]));
    let open = open_findings(&d.world);
    assert!(open.is_empty(), "nothing left open: {open:?}");
}

/// A refund above the threshold needs two approvers. The first approved while QuickBooks
/// was disconnected, so was shown nothing of the books' side; it was connected again before
/// the second. Stripe refunds, and the books' side is kept by hand: not every approver saw
/// it would go to QuickBooks.
#[test]
fn a_books_side_only_one_of_two_approvers_saw_is_kept_by_hand() {
    let Some(_keyring) = keyring_or_skip("a_books_side_one_approver_saw") else {
        return;
    };
    let world = qbo_world();
    let (charges, invoice_ids, payment_ids) = duplicate_books(&world, true);
    harness::ok(&world.cli(&["connect", "--api-base", &world.base()]));
    harness::ok(&connect_qbo(&world));
    harness::ok(&world.cli(&["sync"]));
    harness::ok(&world.cli(&["books", "sync"]));
    harness::ok(&world.cli(&["reconcile"]));
    harness::ok(&world.cli_with_stdin(&["user", "add", "alice", "--role", "approver"], PASSPHRASE));
    // A second approver is vouched for by the first (the new one's passphrase, then hers).
    harness::ok(&world.cli_with_stdin(
        &["user", "add", "bob", "--role", "approver", "--by", "alice"],
        &format!("{PASSPHRASE}\n{PASSPHRASE}"),
    ));
    harness::ok(&world.cli_with_stdin(
        &["settings", "threshold", "USD", "10.00", "--by", "alice"],
        PASSPHRASE,
    ));
    let findings: Value =
        serde_json::from_str(&harness::ok(&world.cli(&["--json", "findings"]))).unwrap();
    let finding = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["invoice_number"] == "INV-21")
        .expect("the duplicate")["id"]
        .to_string();
    let action = harness::ok(&world.cli(&["propose", &finding]))
        .trim()
        .to_string();
    let approve = |name: &str| {
        harness::ok(&world.cli_with_stdin(
            &["approve", &action, "--by", name, "--heuristic-checked"],
            PASSPHRASE,
        ))
    };
    harness::ok(&world.cli(&["books", "disconnect"]));
    assert!(approve("alice").contains("1 of 2"));
    harness::ok(&connect_qbo(&world));
    approve("bob");

    let done = harness::ok(&world.cli(&["execute", &action]));
    assert!(done.contains("not every approver was shown"), "{done}");
    assert_eq!(world.stripe_refunds_of(&charges[1]).len(), 1);
    let admin = world.admin_token();
    let voided = |entity: &str, id: &str| {
        world.qbo_read(&admin, entity, id)["PrivateNote"]
            .as_str()
            .is_some_and(|n| n.starts_with("Voided"))
    };
    assert!(!voided("payment", &payment_ids[1]));
    assert!(!voided("invoice", &invoice_ids[1]));
    assert_eq!(adjustment_kinds(&world.db()).len(), 2);
}

/// The duplicate's payment was voided in QuickBooks by hand after the sync: its reversal
/// finds it already there and goes no further, and only the invoice's void is kept by hand
/// (the refund is not recorded on top of a payment the books no longer hold).
#[test]
fn a_duplicates_payment_voided_by_hand_since_leaves_only_the_void_to_do() {
    let Some(_keyring) = keyring_or_skip("a_duplicates_payment_voided_by_hand") else {
        return;
    };
    let d = approved_duplicate(true);
    let payment = d.world.qbo_read(&d.admin, "payment", &d.payment_ids[1]);
    d.world.qbo(
        &d.admin,
        "payment?operation=update&include=void",
        json!({"Id": d.payment_ids[1], "SyncToken": payment["SyncToken"], "sparse": true}),
    );
    let done = harness::ok(&d.world.cli(&["execute", &d.action.to_string()]));
    assert!(done.contains("already voided"), "{done}");
    assert_eq!(d.world.stripe_refunds_of(&d.charge).len(), 1);
    let kinds = adjustment_kinds(&d.world.db());
    assert_eq!(kinds, ["void_invoice INV-21"]);
    harness::ok(&d.world.cli(&["books", "sync"]));
    harness::ok(&d.world.cli(&["reconcile"]));
    let open = open_findings(&d.world);
    assert!(open.is_empty(), "nothing left open: {open:?}");
}

/// The books' side waited (QuickBooks could not be asked), and the books were disconnected
/// before recovery came to it: it goes nowhere else, and is kept by hand.
#[test]
fn a_books_side_waiting_when_the_books_are_disconnected_is_kept_by_hand() {
    let Some(_keyring) = keyring_or_skip("a_books_side_waiting_disconnected") else {
        return;
    };
    let d = approved_duplicate(true);
    d.books_unavailable_once();
    let out = d.world.cli(&["execute", &d.action.to_string()]);
    assert_eq!(out.status.code(), Some(3));
    harness::ok(&d.world.cli(&["books", "disconnect"]));
    let report: Value =
        serde_json::from_str(&harness::ok(&d.world.cli(&["--json", "recover"]))).unwrap();
    assert_eq!(report["failed"], json!(1), "{report}");
    let states: Vec<Value> = d.actions().iter().map(|a| a["state"].clone()).collect();
    assert!(states.contains(&json!("cancelled")), "{states:?}");
    assert_eq!(adjustment_kinds(&d.world.db()).len(), 2);
    let voided = d.world.qbo_read(&d.admin, "payment", &d.payment_ids[1])["PrivateNote"]
        .as_str()
        .is_some_and(|n| n.starts_with("Voided"));
    assert!(!voided, "nothing was written to QuickBooks");
}
