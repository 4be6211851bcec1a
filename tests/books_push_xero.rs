//! A ledger fix pushed out to Xero, exactly once, as a bookkeeper does it: a Stripe charge
//! Xero has no payment for is found, its fix (record the payment on its invoice) proposed,
//! approved and executed with `chargeguard`, and the payment lands in the stand-in's books
//! over real loopback HTTP, paid into the account the bookkeeper chose, its `Reference`
//! naming the charge and carrying the journal's key. Then what it must survive: a double
//! execute, the organisation's lock date, an answer lost after Xero recorded it (and Xero's
//! six minutes of idempotency long gone), SIGKILL around the send, and every sandbox
//! fault. After each, Xero holds one payment for the fix, never two, and the next sync
//! changes nothing. A payment Xero holds for a charge that failed is deleted there, once.
//!
//! Run under `scripts/with-keyring.sh` (test.sh does), as `books_xero.rs`.

use serde_json::{Value, json};

mod books_support;
use books_support::{
    PushCase, World, XeroAdmin, connect_xero, harness, keyring_or_skip, ledger_ids, ledger_refunds,
    open_findings, stored_invoice, stripe_charges, synced_and_approved, synced_and_approved_as,
};

const ORGANISATION: &str = "Bedrock Ltd";

fn connect(world: &World) -> std::process::Output {
    connect_xero(world, None)
}

/// An organisation with contact Betty and invoice `number` for `amount` (exact text).
fn organisation_with_invoice(world: &World, number: &str, amount: &str) -> String {
    world.post(
        "/_sandbox/xero/tenants",
        json!({"tenant": "9a1b2c3d-0000-4000-8000-00000000000a", "name": ORGANISATION, "currency": "USD"}),
    );
    let admin = XeroAdmin::of(world, ORGANISATION);
    let contact = admin.call(
        reqwest::Method::PUT,
        "Contacts",
        json!({"Contacts": [{"Name": "Betty Rubble"}]}),
    )["Contacts"][0]["ContactID"]
        .as_str()
        .unwrap()
        .to_string();
    let amount: Value = serde_json::from_str(amount).unwrap();
    let made = admin.call(
        reqwest::Method::PUT,
        "Invoices",
        json!({"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact}, "InvoiceNumber": number,
               "Status": "AUTHORISED", "Date": "2026-11-20", "DueDate": "2026-12-20",
               "LineItems": [{"Description": "Plan", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200"}]}]}),
    );
    made["Invoices"][0]["InvoiceID"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Xero's invoice INV-7 (75.00) Stripe charged and nobody recorded, synced and
/// reconciled; the fix proposed and approved; the payment account chosen.
struct Pushing {
    world: World,
    action: i64,
    charge: String,
    invoice_id: String,
}

fn approved_fix() -> Pushing {
    let world = World::new();
    let charge = stripe_charges(&world, &[("INV-7", 7_500)]).remove(0);
    let invoice_id = organisation_with_invoice(&world, "INV-7", "75.00");
    let action = synced_and_approved(&world, connect, "INV-7", "orphan_charge");
    harness::ok(&world.cli(&["books", "payment-account", "090"]));
    Pushing {
        world,
        action,
        charge,
        invoice_id,
    }
}

impl Pushing {
    fn admin(&self) -> XeroAdmin<'_> {
        XeroAdmin::of(&self.world, ORGANISATION)
    }

    /// Another open invoice `number` (75.00) of INV-7's contact: its id.
    fn other_invoice(&self, number: &str) -> String {
        let admin = self.admin();
        let contact = admin.call(
            reqwest::Method::GET,
            &format!("Invoices/{}", self.invoice_id),
            Value::Null,
        )["Invoices"][0]["Contact"]["ContactID"]
            .as_str()
            .unwrap()
            .to_string();
        admin.call(
            reqwest::Method::PUT,
            "Invoices",
            json!({"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact}, "InvoiceNumber": number,
                   "Status": "AUTHORISED", "Date": "2026-11-22",
                   "LineItems": [{"Description": "Plan", "Quantity": 1, "UnitAmount": 75, "AccountCode": "200"}]}]}),
        )["Invoices"][0]["InvoiceID"]
            .as_str()
            .unwrap()
            .to_string()
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
        ("/api.xro/2.0/Payments".to_string(), "PUT")
    }

    fn recorded_words(&self) -> &'static str {
        "recorded in Xero"
    }

    /// Xero's live payments whose reference carries the action's key.
    fn pushed(&self) -> Vec<Value> {
        let key = self.key();
        let all = self
            .admin()
            .call(reqwest::Method::GET, "Payments", Value::Null);
        all["Payments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["Status"] != "DELETED")
            .filter(|p| p["Reference"].as_str().is_some_and(|r| r.contains(&key)))
            .cloned()
            .collect()
    }

    /// After any path to the end: one payment in Xero for the fix, on INV-7, into account
    /// 090, naming the charge; the invoice paid there; the action succeeded naming it; the
    /// store's ledger holds it as the sync would; a sync finds nothing new; no finding.
    fn assert_pushed_once(&self) {
        let pushed = self.pushed();
        assert_eq!(pushed.len(), 1, "one payment for the fix: {pushed:?}");
        let payment = &pushed[0];
        assert_eq!(
            payment["Invoice"]["InvoiceID"], self.invoice_id,
            "{payment}"
        );
        assert_eq!(payment["Account"]["Code"], "090", "{payment}");
        assert!(
            payment["Reference"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{} ", self.charge)),
            "the reference names the charge first: {payment}"
        );
        let invoice = self.admin().call(
            reqwest::Method::GET,
            &format!("Invoices/{}", self.invoice_id),
            Value::Null,
        );
        assert_eq!(invoice["Invoices"][0]["Status"], "PAID", "{invoice}");
        let action = self.action_json();
        assert_eq!(action["state"], "succeeded", "{action}");
        let id = payment["PaymentID"].as_str().unwrap();
        assert_eq!(
            action["gateway_object_id"],
            format!("xero:payment:{id}"),
            "{action}"
        );
        assert_eq!(ledger_ids(&self.world.db()), [format!("xero:{id}")]);
        assert_eq!(
            stored_invoice(&self.world.db(), "INV-7").status,
            chargeguard::records::InvoiceStatus::Paid,
            "the store shows the invoice paid at once, not at the next sync"
        );
        self.assert_synced_and_clean("INV-7");
    }
}

#[test]
fn a_recorded_payment_is_pushed_to_xero_exactly_once() {
    let Some(_keyring) = keyring_or_skip("a_recorded_payment_is_pushed_to_xero") else {
        return;
    };
    let world = World::new();
    let charge = stripe_charges(&world, &[("INV-7", 7_500)]).remove(0);
    let invoice_id = organisation_with_invoice(&world, "INV-7", "75.00");
    let action = synced_and_approved(&world, connect, "INV-7", "orphan_charge");
    let p = Pushing {
        world,
        action,
        charge,
        invoice_id,
    };
    let id = p.action.to_string();

    // Xero needs the account the payment is paid into: asked for, and the approved fix
    // waits for it rather than being cancelled.
    let (_, stderr) = harness::refused(&p.execute());
    assert!(stderr.contains("books payment-account"), "{stderr}");
    assert_eq!(p.action_json()["state"], "approved");
    harness::ok(&p.world.cli(&["books", "payment-account", "090"]));

    // Before anything leaves, the bookkeeper sees where it goes and what.
    let dry: Value =
        serde_json::from_str(&harness::ok(&p.world.cli(&["execute", &id, "--dry-run"]))).unwrap();
    assert_eq!(
        dry["destination"],
        format!("Xero organisation {ORGANISATION}")
    );
    assert_eq!(dry["method"], "PUT", "{dry}");
    let body: Value = serde_json::from_str(dry["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["Invoice"]["InvoiceID"], p.invoice_id, "{dry}");
    assert!(
        dry["body"].as_str().unwrap().contains("\"Amount\":75.00"),
        "{dry}"
    );
    assert_eq!(
        body["Reference"],
        format!("{} Chargeguard {}", p.charge, p.key()),
        "{dry}"
    );
    assert!(p.pushed().is_empty(), "a dry run sends nothing");

    let api = chargeguard::api::Api::new(p.world.db());
    let finding_id = p.action_json()["finding_id"].as_u64().unwrap() as u32;
    let detail =
        chargeguard::api::finding(&api, &chargeguard::api::json::IdRequest { id: finding_id })
            .unwrap();
    assert_eq!(
        detail.fix.expect("a fix").destination,
        format!("Xero organisation {ORGANISATION}")
    );

    p.executed_once(&format!("recorded in Xero organisation {ORGANISATION}"));
}

#[test]
fn a_locked_period_in_xero_refuses_the_push_and_says_so() {
    let Some(_keyring) = keyring_or_skip("a_locked_period_in_xero") else {
        return;
    };
    let p = approved_fix();
    let lock = |date: String| {
        p.world.post(
            "/_sandbox/xero/lock",
            json!({"tenant": "9a1b2c3d-0000-4000-8000-00000000000a", "period_lock_date": date}),
        )
    };
    // Locked through the day before the payment's: it may still go.
    let dry: Value = serde_json::from_str(&harness::ok(&p.world.cli(&[
        "execute",
        &p.action.to_string(),
        "--dry-run",
    ])))
    .unwrap();
    let body: Value = serde_json::from_str(dry["body"].as_str().unwrap()).unwrap();
    let day: jiff::civil::Date = body["Date"].as_str().unwrap().parse().unwrap();
    lock(day.yesterday().unwrap().to_string());
    harness::ok(
        &p.world
            .cli(&["execute", &p.action.to_string(), "--dry-run"]),
    );
    // Locked through the payment's day: refused.
    lock(day.to_string());
    let (code, stderr) = harness::refused(&p.execute());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("locked through") && stderr.contains("lock date"),
        "{stderr}"
    );
    assert!(p.pushed().is_empty(), "nothing reached Xero");
    assert_eq!(p.action_json()["state"], "cancelled");
}

#[test]
fn an_answer_lost_after_xero_recorded_it_is_found_by_its_reference() {
    let Some(_keyring) = keyring_or_skip("an_answer_lost_after_xero_recorded_it") else {
        return;
    };
    let p = approved_fix();
    p.world.post(
        "/_sandbox/faults",
        json!({"path": "/api.xro/2.0/Payments", "method": "PUT",
               "fault": "error_500_after_commit", "times": 1}),
    );
    let out = p.execute();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("not known yet") && said.contains("chargeguard recover"),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(p.action_json()["state"], "unknown");
    assert_eq!(p.pushed().len(), 1, "Xero did record it");
    // Recovery needs the connection: it cannot be dropped while the push is undecided.
    let (_, refused) = harness::refused(&p.world.cli(&["books", "disconnect"]));
    assert!(refused.contains("outcome is not known yet"), "{refused}");
    // Xero forgets an Idempotency-Key after six minutes: recovery finds the payment by
    // the key in its reference, and sends nothing again.
    p.world.delete("/_sandbox/xero/idempotency_keys");
    let report = p.world.recovered();
    assert_eq!(report["succeeded"], json!(1), "{report}");
    p.assert_pushed_once();
}

#[cfg(feature = "failpoints")]
#[test]
fn a_push_to_xero_killed_before_or_after_the_send_happens_once() {
    let Some(_keyring) = keyring_or_skip("a_push_to_xero_killed") else {
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

/// Every sandbox fault on the push's one write, with a client that waits two seconds: the
/// push ends recorded once, whether the fault struck before Xero recorded it (sent again,
/// same Idempotency-Key) or after (its answer replayed, or found by its reference).
#[rstest::rstest]
#[case::lose_response_after_commit("lose_response_after_commit", None, 1)]
#[case::timeout_before_commit("timeout_before_commit", Some(3000), 0)]
#[case::timeout_after_commit("timeout_after_commit", Some(3000), 1)]
#[case::error_500_before_commit("error_500_before_commit", None, 0)]
#[case::error_500_after_commit("error_500_after_commit", None, 1)]
#[case::error_503_before_commit("error_503_before_commit", None, 0)]
#[case::rate_limit("rate_limit", None, 0)]
#[case::slow("slow", Some(300), 1)]
fn every_fault_on_the_push_to_xero_ends_in_one_payment(
    #[case] fault: &str,
    #[case] hold_ms: Option<u64>,
    #[case] recorded_at_once: usize,
) {
    let Some(_keyring) = keyring_or_skip("every_fault_on_the_push_to_xero") else {
        return;
    };
    approved_fix().fault_ends_in_one_payment(fault, hold_ms, recorded_at_once);
}

/// Someone recorded Stripe's charge in Xero by hand since the sync, on another invoice,
/// the reference cut to its first 20 characters: INV-7 still owes, so only the check for
/// a payment naming the charge stops a second record of the same money.
#[test]
fn a_charge_recorded_by_hand_in_xero_stops_the_push() {
    let Some(_keyring) = keyring_or_skip("a_charge_recorded_by_hand_in_xero") else {
        return;
    };
    let p = approved_fix();
    let other = p.other_invoice("INV-8");
    assert!(p.charge.len() > 20, "{}", p.charge);
    p.admin().call(
        reqwest::Method::PUT,
        "Payments",
        json!({"Invoice": {"InvoiceID": other}, "Account": {"Code": "090"}, "Amount": 75,
               "Date": "2026-11-23", "Reference": &p.charge[..20]}),
    );
    let (code, stderr) = harness::refused(&p.execute());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("already holds payment") && stderr.contains(&p.charge),
        "{stderr}"
    );
    assert!(p.pushed().is_empty(), "nothing was pushed");
    assert_eq!(p.action_json()["state"], "cancelled");
}

/// Xero records INV-9 (50.00) paid by a Stripe charge that failed: the fix deletes that
/// payment in Xero (its reversal), once, and the invoice is owed again.
#[test]
fn a_payment_for_a_failed_charge_is_deleted_in_xero_once() {
    let Some(_keyring) = keyring_or_skip("a_payment_for_a_failed_charge_is_deleted") else {
        return;
    };
    let world = World::new();
    let now = jiff::Timestamp::now().as_second();
    let seeded = world.post(
        "/_sandbox/seed",
        json!({"charges": [{"amount": 5_000, "currency": "usd", "created": now - 86_400,
               "customer": "cus_wilma", "status": "failed",
               "metadata": {"invoice_number": "INV-9"}}]}),
    );
    let failed = seeded["charges"][0].as_str().unwrap().to_string();
    let invoice_id = organisation_with_invoice(&world, "INV-9", "50.00");
    let yesterday = jiff::Timestamp::from_second(now - 86_400)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let payment_id = {
        let admin = XeroAdmin::of(&world, ORGANISATION);
        admin.call(
            reqwest::Method::PUT,
            "Payments",
            json!({"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"}, "Amount": 50,
                   "Date": yesterday, "Reference": failed}),
        )["Payments"][0]["PaymentID"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let action = synced_and_approved(&world, connect, "INV-9", "missing_charge");
    // The answer is lost after Xero deleted it: recovery reads the payment.
    world.post(
        "/_sandbox/faults",
        json!({"path": format!("/api.xro/2.0/Payments/{payment_id}"), "method": "POST",
               "fault": "error_500_after_commit", "times": 1}),
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

    let admin = XeroAdmin::of(&world, ORGANISATION);
    let payment = admin.call(
        reqwest::Method::GET,
        &format!("Payments/{payment_id}"),
        Value::Null,
    );
    assert_eq!(payment["Payments"][0]["Status"], "DELETED", "{payment}");
    let invoice = admin.call(
        reqwest::Method::GET,
        &format!("Invoices/{invoice_id}"),
        Value::Null,
    );
    assert_eq!(invoice["Invoices"][0]["Status"], "AUTHORISED", "{invoice}");
    assert!(
        matches!(
            invoice["Invoices"][0]["AmountDue"].to_string().as_str(),
            "50" | "50.0" | "50.00"
        ),
        "owed again: {invoice}"
    );
    assert!(
        ledger_ids(&world.db()).is_empty(),
        "the payment left the ledger"
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

/// Someone records part of INV-7 in Xero by hand since the sync (not naming the charge):
/// Xero shows it owing less than the fix records, and the push is refused before it leaves.
#[test]
fn an_invoice_owing_less_in_xero_than_the_fix_stops_the_push() {
    let Some(_keyring) = keyring_or_skip("an_invoice_owing_less_in_xero") else {
        return;
    };
    let p = approved_fix();
    p.admin().call(
        reqwest::Method::PUT,
        "Payments",
        json!({"Invoice": {"InvoiceID": p.invoice_id}, "Account": {"Code": "090"}, "Amount": 30,
               "Date": "2026-11-23", "Reference": "Cheque 1044"}),
    );
    let (code, stderr) = harness::refused(&p.execute());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("owing 45.00") && stderr.contains("since the last sync"),
        "{stderr}"
    );
    assert!(p.pushed().is_empty(), "nothing was pushed");
    assert_eq!(p.action_json()["state"], "cancelled");
}

/// A push killed after its journal, before anything left; by the time recovery runs Xero
/// has forgotten the key and someone has recorded the charge by hand: the journaled
/// request would be a second payment, so it goes to a person instead.
#[cfg(feature = "failpoints")]
#[test]
fn a_request_sent_again_only_while_the_guards_still_hold() {
    let Some(_keyring) = keyring_or_skip("a_request_sent_again_only_while") else {
        return;
    };
    let p = approved_fix();
    p.world.killed_executing(p.action, "execute.after_journal");
    assert!(p.pushed().is_empty());
    // On another invoice, so INV-7 still owes: only the guard can see the charge is paid.
    let other = p.other_invoice("INV-8");
    p.admin().call(
        reqwest::Method::PUT,
        "Payments",
        json!({"Invoice": {"InvoiceID": other}, "Account": {"Code": "090"}, "Amount": 75,
               "Date": "2026-11-23", "Reference": p.charge}),
    );
    p.world.delete("/_sandbox/xero/idempotency_keys");
    let report = p.world.recovered();
    assert_eq!(report["needs_review"], json!(1), "{report}");
    let action = p.action_json();
    assert_eq!(action["state"], "needs_review", "{action}");
    assert!(
        action["outcome"]
            .as_str()
            .is_some_and(|o| o.contains("no longer right") && o.contains(&p.charge)),
        "{action}"
    );
    let all = p
        .admin()
        .call(reqwest::Method::GET, "Payments", Value::Null);
    let live: Vec<&Value> = all["Payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["Status"] != "DELETED")
        .collect();
    assert_eq!(live.len(), 1, "only the payment entered by hand: {live:?}");
}

/// A Xero connection made before Chargeguard asked to write payments: its tokens, kept in
/// the keyring, name no scope (as every one made then). The push says to connect again
/// before anything is journaled, and the approved fix waits; connected again, it goes.
#[test]
fn a_connection_that_may_only_read_payments_asks_to_connect_again() {
    let Some(keyring) = keyring_or_skip("a_connection_that_may_only_read") else {
        return;
    };
    let p = approved_fix();
    let account = {
        let mut store = chargeguard::store::Store::open(&p.world.db()).unwrap();
        chargeguard::accounting_sync::xero_connection::connection(&mut store)
            .unwrap()
            .expect("connected")
            .account
    };
    let mut kept: Value =
        serde_json::from_str(&keyring.load_text(&account).unwrap().expect("tokens")).unwrap();
    assert!(
        kept["scope"]
            .as_str()
            .is_some_and(|s| s.split(' ').any(|s| s == "accounting.payments")),
        "today's consent asks to write payments: {}",
        kept["scope"]
    );
    kept.as_object_mut().unwrap().remove("scope");
    keyring.save_text(&account, &kept.to_string()).unwrap();

    let (_, stderr) = harness::refused(&p.execute());
    assert!(
        stderr.contains("only to read its payments") && stderr.contains("connect it again"),
        "{stderr}"
    );
    assert_eq!(p.action_json()["state"], "approved", "the fix waits");
    assert!(p.pushed().is_empty());

    harness::ok(&connect(&p.world));
    harness::ok(&p.execute());
    p.assert_pushed_once();
}

/// Its approvers were shown the fix would be written to Xero; the store is disconnected
/// from Xero before it runs. It is written nowhere else (not quietly kept as Chargeguard's
/// adjustment for someone to enter by hand): execute says so and changes nothing.
#[test]
fn a_fix_goes_only_where_its_approvers_were_shown() {
    let Some(_keyring) = keyring_or_skip("a_fix_goes_only_where") else {
        return;
    };
    let p = approved_fix();
    harness::ok(&p.world.cli(&["books", "disconnect"]));
    let (_, stderr) = harness::refused(&p.execute());
    assert!(
        stderr.contains(&format!(
            "approved to be written to Xero organisation {ORGANISATION}"
        )) && stderr.contains("propose the fix again"),
        "{stderr}"
    );
    assert_eq!(p.action_json()["state"], "approved");
    assert!(ledger_ids(&p.world.db()).is_empty(), "nothing was recorded");
    let adjustments = harness::ok(&p.world.cli(&["--json", "actions"]));
    assert!(!adjustments.contains("\"succeeded\""), "{adjustments}");
}

/// Approved for Xero organisation Bedrock Ltd; disconnected, and connected to another
/// organisation of the same name (Xero's demo company made again has a new id and the same
/// name). The fix is written to neither: the approval kept which organisation it was.
#[test]
fn a_fix_approved_for_one_organisation_goes_not_to_another_of_its_name() {
    let Some(_keyring) = keyring_or_skip("a_fix_approved_for_one_organisation") else {
        return;
    };
    let p = approved_fix();
    harness::ok(&p.world.cli(&["books", "disconnect"]));
    let other = "9a1b2c3d-0000-4000-8000-00000000000b";
    p.world.post(
        "/_sandbox/xero/tenants",
        json!({"tenant": other, "name": ORGANISATION, "currency": "USD"}),
    );
    harness::ok(&connect_xero(&p.world, Some(other)));
    let (_, stderr) = harness::refused(&p.execute());
    assert!(
        stderr.contains("another company of that name") && stderr.contains("propose the fix again"),
        "{stderr}"
    );
    assert_eq!(p.action_json()["state"], "approved");
    assert!(p.pushed().is_empty());
}

/// A cash refund in Xero whose reference names the charge (money paid back, say a goodwill
/// refund) records no payment of it: the push still records INV-7's payment, once.
#[test]
fn a_refund_naming_the_charge_does_not_stop_recording_its_payment() {
    let Some(_keyring) = keyring_or_skip("a_refund_naming_the_charge") else {
        return;
    };
    let p = approved_fix();
    let admin = p.admin();
    let contact = admin.call(
        reqwest::Method::GET,
        &format!("Invoices/{}", p.invoice_id),
        Value::Null,
    )["Invoices"][0]["Contact"]["ContactID"]
        .as_str()
        .unwrap()
        .to_string();
    admin.refund_in_cash(&contact, "10", &p.charge);
    let done = harness::ok(&p.execute());
    assert!(
        done.contains(&format!("recorded in Xero organisation {ORGANISATION}")),
        "{done}"
    );
    assert_eq!(p.pushed().len(), 1);
    assert_eq!(p.action_json()["state"], "succeeded");
}

/// Xero's invoice INV-12 (60.00) paid by a Stripe charge, which Stripe has since refunded
/// whole; nobody recorded the refund. Synced and reconciled, the fix (record the refund)
/// proposed and approved, the payment account chosen.
struct Refunding {
    world: World,
    action: i64,
    charge: String,
}

fn approved_refund() -> Refunding {
    let world = World::new();
    let charge = stripe_charges(&world, &[("INV-12", 6_000)]).remove(0);
    world.post(
        "/_sandbox/seed",
        json!({"refunds": [{"charge": charge, "amount": 6_000,
               "created": jiff::Timestamp::now().as_second() - 3_600}]}),
    );
    let invoice_id = organisation_with_invoice(&world, "INV-12", "60.00");
    XeroAdmin::of(&world, ORGANISATION).call(
        reqwest::Method::PUT,
        "Payments",
        json!({"Payments": [{"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"},
               "Amount": 60, "Date": "2026-11-21", "Reference": charge}]}),
    );
    let action = synced_and_approved(&world, connect, "INV-12", "unrecorded_refund");
    harness::ok(&world.cli(&["books", "payment-account", "090"]));
    Refunding {
        world,
        action,
        charge,
    }
}

impl Refunding {
    fn admin(&self) -> XeroAdmin<'_> {
        XeroAdmin::of(&self.world, ORGANISATION)
    }

    /// Xero's objects of `list` whose reference carries the action's key.
    fn carrying(&self, list: &str) -> Vec<Value> {
        let key = self.key();
        self.admin().call(reqwest::Method::GET, list, Value::Null)[list]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["Reference"].as_str().is_some_and(|r| r.contains(&key)))
            .cloned()
            .collect()
    }
}

impl PushCase for Refunding {
    fn world(&self) -> &World {
        &self.world
    }

    fn action(&self) -> i64 {
        self.action
    }

    /// The second write, the credit note's refund (`credit_note_faults` arms the first).
    fn write(&self) -> (String, &'static str) {
        ("/api.xro/2.0/Payments".to_string(), "PUT")
    }

    fn recorded_words(&self) -> &'static str {
        "recorded in Xero"
    }

    /// Xero's live refunds whose reference carries the action's key.
    fn pushed(&self) -> Vec<Value> {
        self.carrying("Payments")
            .into_iter()
            .filter(|p| p["Status"] != "DELETED")
            .collect()
    }

    /// One credit note for the fix, its 60.00 credit paid back from account 090 by one
    /// refund naming the charge; the action succeeded naming the refund; the ledger holds
    /// it as INV-12's refund, as a sync reads it; nothing left open on INV-12.
    fn assert_pushed_once(&self) {
        let pushed = self.pushed();
        assert_eq!(pushed.len(), 1, "one refund for the fix: {pushed:?}");
        let refund = &pushed[0];
        assert_eq!(refund["PaymentType"], "ARCREDITPAYMENT", "{refund}");
        assert_eq!(refund["Account"]["Code"], "090", "{refund}");
        assert!(
            refund["Reference"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{} ", self.charge)),
            "{refund}"
        );
        let notes = self.carrying("CreditNotes");
        assert_eq!(notes.len(), 1, "one credit note for the fix: {notes:?}");
        assert_eq!(notes[0]["Status"], "PAID", "{notes:?}");
        assert_eq!(notes[0]["Total"].to_string(), "60.0", "{notes:?}");
        assert_eq!(
            refund["CreditNote"]["CreditNoteID"], notes[0]["CreditNoteID"],
            "{refund}"
        );
        let action = self.action_json();
        assert_eq!(action["state"], "succeeded", "{action}");
        let id = refund["PaymentID"].as_str().unwrap();
        assert_eq!(action["gateway_object_id"], format!("xero:payment:{id}"));
        let refunds = ledger_refunds(&self.world.db());
        assert_eq!(refunds.len(), 1, "{refunds:?}");
        assert_eq!(refunds[0].payment_id, format!("xero:{id}"));
        assert_eq!(refunds[0].invoice_number, "INV-12");
        assert_eq!(refunds[0].amount.minor(), 6_000);
        self.assert_synced_and_clean("INV-12");
    }
}

#[test]
fn a_refund_stripe_made_is_recorded_in_xero_exactly_once() {
    let Some(_keyring) = keyring_or_skip("a_refund_is_recorded_in_xero") else {
        return;
    };
    let p = approved_refund();
    let dry: Value = serde_json::from_str(&harness::ok(&p.world.cli(&[
        "execute",
        &p.action.to_string(),
        "--dry-run",
    ])))
    .unwrap();
    let body = dry["body"].as_str().unwrap();
    assert!(
        body.contains("\"CreditNotes\"") && body.contains("\"Amount\":60.00"),
        "both writes are shown before anything leaves: {dry}"
    );
    assert!(p.pushed().is_empty() && p.carrying("CreditNotes").is_empty());
    p.executed_once(&format!(
        "recorded in Xero organisation {ORGANISATION}: refund"
    ));
}

/// The refund was entered in Xero by hand after the morning's sync (a credit note paid
/// back, its reference the Stripe refund): the push is refused, nothing is written.
#[test]
fn a_refund_recorded_by_hand_in_xero_since_the_sync_stops_the_push() {
    let Some(_keyring) = keyring_or_skip("a_refund_recorded_by_hand_in_xero") else {
        return;
    };
    let p = approved_refund();
    let mut store = chargeguard::store::Store::open(&p.world.db()).unwrap();
    let refund_id = store
        .read(|tx| tx.refunds_of(&[p.charge.as_str()]))
        .unwrap()
        .remove(0)
        .id;
    drop(store);
    let admin = p.admin();
    let contact =
        admin.call(reqwest::Method::GET, "Contacts", Value::Null)["Contacts"][0]["ContactID"]
            .as_str()
            .unwrap()
            .to_string();
    admin.refund_in_cash(&contact, "60", &refund_id);
    let (code, stderr) = harness::refused(&p.execute());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("since the last sync") && stderr.contains(&p.charge),
        "{stderr}"
    );
    assert!(p.pushed().is_empty() && p.carrying("CreditNotes").is_empty());
    assert_eq!(p.action_json()["state"], "cancelled");
}

#[cfg(feature = "failpoints")]
#[test]
fn a_refund_push_to_xero_killed_at_any_step_happens_once() {
    let Some(_keyring) = keyring_or_skip("a_refund_push_to_xero_killed") else {
        return;
    };
    for (point, sent) in [
        ("execute.after_journal", 0),
        ("push.between_writes", 0),
        ("execute.after_answer", 1),
    ] {
        approved_refund().killed_and_recovered(point, sent);
    }
    // Killed between the two writes, and recovery comes after Xero forgot the keys: the
    // credit note is found by its reference and paid back; a second one is never made.
    let p = approved_refund();
    p.world.killed_executing(p.action, "push.between_writes");
    assert_eq!(p.carrying("CreditNotes").len(), 1);
    p.world.delete("/_sandbox/xero/idempotency_keys");
    let report = p.world.recovered();
    assert_eq!(report["succeeded"], json!(1), "{report}");
    p.assert_pushed_once();
}

/// Killed between the two writes, and a person voids the credit note in Xero before
/// recovery runs: recovery never makes another one; the action waits for a person.
#[cfg(feature = "failpoints")]
#[test]
fn a_half_done_refund_whose_credit_note_was_voided_goes_to_a_person() {
    let Some(_keyring) = keyring_or_skip("a_half_done_refund_voided") else {
        return;
    };
    let p = approved_refund();
    p.world.killed_executing(p.action, "push.between_writes");
    let notes = p.carrying("CreditNotes");
    assert_eq!(notes.len(), 1);
    let id = notes[0]["CreditNoteID"].as_str().unwrap();
    p.admin().call(
        reqwest::Method::POST,
        &format!("CreditNotes/{id}"),
        json!({"CreditNotes": [{"Status": "VOIDED"}]}),
    );
    p.world.delete("/_sandbox/xero/idempotency_keys");
    let report = p.world.recovered();
    assert_eq!(p.action_json()["state"], "needs_review", "{report}");
    assert!(
        p.action_json()["outcome"].to_string().contains("VOIDED"),
        "{}",
        p.action_json()
    );
    assert_eq!(p.carrying("CreditNotes").len(), 1, "no second credit note");
    assert!(p.pushed().is_empty(), "no refund");
}

/// Faults on either write end in one credit note and one refund.
#[rstest::rstest]
#[case::refund_lost_after_commit("Payments", "lose_response_after_commit", None, 1)]
#[case::refund_500_before_commit("Payments", "error_500_before_commit", None, 0)]
#[case::refund_timeout_after_commit("Payments", "timeout_after_commit", Some(3000), 1)]
#[case::credit_note_lost_after_commit("CreditNotes", "lose_response_after_commit", None, 0)]
#[case::credit_note_500_after_commit("CreditNotes", "error_500_after_commit", None, 0)]
#[case::credit_note_throttled("CreditNotes", "rate_limit", None, 0)]
fn every_fault_on_a_refund_push_to_xero_ends_in_one_refund(
    #[case] list: &str,
    #[case] fault: &str,
    #[case] hold_ms: Option<u64>,
    #[case] recorded_at_once: usize,
) {
    let Some(_keyring) = keyring_or_skip("every_fault_on_a_refund_push_to_xero") else {
        return;
    };
    let p = approved_refund();
    let on_second = list == "Payments";
    if on_second {
        p.fault_ends_in_one_payment(fault, hold_ms, recorded_at_once);
        return;
    }
    // Armed on the credit note: the refund is made only after it (by recovery, when the
    // credit note's answer was lost).
    p.world.post(
        "/_sandbox/faults",
        json!({"path": format!("/api.xro/2.0/{list}"), "method": "PUT", "fault": fault, "times": 1}),
    );
    let out = p
        .world
        .cli(&["--http-timeout", "2", "execute", &p.action.to_string()]);
    match out.status.code() {
        Some(0) => {}
        Some(3) => {
            assert_eq!(p.pushed().len(), recorded_at_once, "{fault}");
            let report = p.world.recovered();
            assert_eq!(report["succeeded"], json!(1), "{fault}: {report}");
        }
        other => panic!(
            "{fault}: exit {other:?}: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
    let again = harness::ok(&p.execute());
    assert!(again.contains("nothing was sent again"), "{again}");
    p.assert_pushed_once();
}

/// An organisation whose invoicing run went twice: INV-20 and INV-21 bill Fred the same
/// 50.00 on the same day, Stripe charged both, and Xero holds both payments. Synced and
/// reconciled; the duplicate's fix (refund its charge, void it) approved with the match
/// checked. The invoices' and payments' ids, first then duplicate.
struct Duplicate {
    world: World,
    action: i64,
    charge: String,
    invoices: Vec<String>,
    payments: Vec<String>,
}

fn approved_duplicate() -> Duplicate {
    let world = World::new();
    let charges = stripe_charges(&world, &[("INV-20", 5_000), ("INV-21", 5_000)]);
    let first = organisation_with_invoice(&world, "INV-20", "50.00");
    let admin = XeroAdmin::of(&world, ORGANISATION);
    let contact = admin.call(
        reqwest::Method::GET,
        &format!("Invoices/{first}"),
        Value::Null,
    )["Invoices"][0]["Contact"]["ContactID"]
        .clone();
    let second = admin.call(
        reqwest::Method::PUT,
        "Invoices",
        json!({"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": contact}, "InvoiceNumber": "INV-21",
               "Status": "AUTHORISED", "Date": "2026-11-20", "DueDate": "2026-12-20",
               "LineItems": [{"Description": "Plan", "Quantity": 1, "UnitAmount": 50, "AccountCode": "200"}]}]}),
    )["Invoices"][0]["InvoiceID"]
        .as_str()
        .unwrap()
        .to_string();
    let invoices = vec![first, second];
    let payments = invoices
        .iter()
        .zip(&charges)
        .map(|(invoice, charge)| {
            admin.call(
                reqwest::Method::PUT,
                "Payments",
                json!({"Invoice": {"InvoiceID": invoice}, "Account": {"Code": "090"}, "Amount": 50,
                       "Date": "2026-11-21", "Reference": charge}),
            )["Payments"][0]["PaymentID"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let action = synced_and_approved_as(
        &world,
        connect,
        "INV-21",
        "duplicate_invoice",
        &["--heuristic-checked"],
    );
    Duplicate {
        world,
        action,
        charge: charges[1].clone(),
        invoices,
        payments,
    }
}

impl Duplicate {
    fn status(&self, list: &str, id: &str) -> String {
        let one = XeroAdmin::of(&self.world, ORGANISATION).call(
            reqwest::Method::GET,
            &format!("{list}/{id}"),
            Value::Null,
        );
        one[list][0]["Status"].as_str().unwrap().to_string()
    }

    /// Undone once: one refund at Stripe; INV-21's payment deleted, then INV-21 voided;
    /// INV-20 paid and its payment live; every action succeeded; the next sync finds
    /// nothing new and reconcile leaves nothing open.
    fn assert_undone_once(&self) {
        let refunds = self.world.stripe_refunds_of(&self.charge);
        assert_eq!(refunds.len(), 1, "one refund at Stripe: {refunds:?}");
        assert_eq!(self.status("Invoices", &self.invoices[1]), "VOIDED");
        assert_eq!(self.status("Payments", &self.payments[1]), "DELETED");
        assert_eq!(self.status("Invoices", &self.invoices[0]), "PAID");
        assert_eq!(self.status("Payments", &self.payments[0]), "AUTHORISED");
        let actions: Value =
            serde_json::from_str(&harness::ok(&self.world.cli(&["--json", "actions"]))).unwrap();
        let mut actions = actions.as_array().unwrap().clone();
        actions.sort_by_key(|a| a["id"].as_i64());
        assert!(
            actions.iter().all(|a| a["state"] == "succeeded"),
            "{actions:#?}"
        );
        let made: Vec<String> = actions
            .iter()
            .filter_map(|a| a["gateway_object_id"].as_str())
            .filter(|g| g.starts_with("xero:"))
            .map(str::to_lowercase)
            .collect();
        assert_eq!(
            made,
            [
                format!("xero:payment:{}", self.payments[1]).to_lowercase(),
                format!("xero:invoice:{}", self.invoices[1]).to_lowercase()
            ],
            "{actions:#?}"
        );
        self.world.assert_undone_and_clean("INV-21");
    }
}

#[test]
fn a_duplicate_invoice_paid_twice_is_refunded_and_undone_in_xero_once() {
    let Some(_keyring) = keyring_or_skip("a_duplicate_invoice_in_xero") else {
        return;
    };
    let d = approved_duplicate();
    let done = harness::ok(&d.world.cli(&["execute", &d.action.to_string()]));
    let place = format!("Xero organisation {ORGANISATION}");
    assert!(
        done.contains(&format!("its books' side goes to {place}"))
            && done.contains(&format!("deleted in {place}: payment"))
            && done.contains(&format!("voided in {place}: invoice")),
        "{done}"
    );
    d.assert_undone_once();
    let again = harness::ok(&d.world.cli(&["execute", &d.action.to_string()]));
    assert!(again.contains("nothing was sent again"), "{again}");
    d.assert_undone_once();
    // The organisation's short code is kept for links to its pages; the stand-in has no
    // web app, so the screens link nowhere.
    let mut store = chargeguard::store::Store::open(&d.world.db()).unwrap();
    let connection = chargeguard::accounting_sync::xero_connection::connection(&mut store)
        .unwrap()
        .expect("connected");
    let org = XeroAdmin::of(&d.world, ORGANISATION).call(
        reqwest::Method::GET,
        "Organisation",
        Value::Null,
    );
    assert_eq!(
        connection.short_code.as_deref(),
        org["Organisations"][0]["ShortCode"].as_str()
    );
    let api = chargeguard::api::Api::new(d.world.db());
    let views = chargeguard::api::actions_list(&api).unwrap();
    assert!(views.iter().all(|a| a.object_link.is_none()), "{views:?}");
}

/// The void's answer lost after Xero voided the invoice: the refund and the payment's
/// deletion stand, `execute` says the books' side is undecided (exit 3), and recovery
/// finds the invoice voided; nothing is done twice.
#[test]
fn a_duplicates_void_answer_lost_is_settled_by_recovery() {
    let Some(_keyring) = keyring_or_skip("a_duplicates_void_answer_lost") else {
        return;
    };
    let d = approved_duplicate();
    d.world.post(
        "/_sandbox/faults",
        json!({"path": format!("/api.xro/2.0/Invoices/{}", d.invoices[1]), "method": "POST",
               "fault": "lose_response_after_commit", "times": 1}),
    );
    let out = d
        .world
        .cli(&["--http-timeout", "2", "execute", &d.action.to_string()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("chargeguard recover"), "{said}");
    assert_eq!(d.status("Invoices", &d.invoices[1]), "VOIDED");
    let report = d.world.recovered();
    assert_eq!(report["succeeded"], json!(1), "{report}");
    d.assert_undone_once();
}
