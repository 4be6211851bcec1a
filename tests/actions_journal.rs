//! The journal's user-facing rules, through the real `chargeguard` binary against a real
//! store file and the sandbox gateway: who may approve and how many must, which moves the
//! lifecycle refuses, how a re-charge is guarded and numbered, what a ledger fix leaves in
//! the store, that a dismissal sticks, and that `audit verify` catches tampering.

mod actions_support;

use std::time::Duration;

use actions_support::{
    HOUR, Invoice, PASSPHRASE, Payment, World, id_of, now, ok, refused, with_key,
};
use chargeguard::store::Store;
use rstest::rstest;
use serde_json::{Value, json};

fn invoice<'a>(
    number: &'a str,
    customer: &'a str,
    amount: &'a str,
    status: &'a str,
) -> Invoice<'a> {
    Invoice {
        number,
        customer,
        amount,
        status,
        order_ref: None,
    }
}

fn payment<'a>(id: &'a str, invoice: &'a str, amount: &'a str, gateway: &'a str) -> Payment<'a> {
    Payment {
        id,
        invoice,
        kind: "payment",
        amount,
        gateway_id: Some(gateway),
    }
}

/// INV-1 for `amount` ("600.00"), paid, charged twice; returns (finding id, charge ids).
fn double_charge(w: &World, amount: &str) -> (i64, Vec<String>) {
    double_charge_in(w, amount, "USD")
}

/// [`double_charge`] in `currency`, `amount` written with all its decimals ("499.000" KWD).
fn double_charge_in(w: &World, amount: &str, currency: &str) -> (i64, Vec<String>) {
    // "600.00" → 60000 minor units: the text's digits, never a float.
    let minor: i64 = amount.replace('.', "").parse().unwrap();
    let t = now();
    let seeded = w.seed(json!({
        "customers": [{"id": "cus_A", "payment_method": "pm_card_visa"}],
        "charges": [
            {"amount": minor, "currency": currency.to_lowercase(), "customer": "cus_A",
             "created": t - 2 * HOUR, "metadata": {"invoice_number": "INV-1"}},
            {"amount": minor, "currency": currency.to_lowercase(), "customer": "cus_A",
             "created": t - HOUR, "metadata": {"invoice_number": "INV-1"}},
        ]
    }));
    let charges: Vec<String> = seeded["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    w.import_invoices_in(&[invoice("INV-1", "cus_A", amount, "paid")], currency);
    w.import_payments_in(&[payment("PAY-1", "INV-1", amount, &charges[0])], currency);
    w.sync_and_reconcile();
    let finding = w.finding("double_charge", "INV-1");
    (finding["id"].as_i64().unwrap(), charges)
}

fn audit_events(w: &World, event: &str) -> Vec<Value> {
    w.audit_log()
        .into_iter()
        .filter(|e| e["event"] == event)
        .collect()
}

// ---- approvals ----

#[test]
fn user_add_keeps_only_a_hash_of_the_passphrase() {
    let w = World::new();
    // Held open so the WAL outlives the child processes and is searched too.
    let _keep_wal = Store::open(&w.db).unwrap();
    w.add_user("alice", "approver");
    w.add_user("carol", "bookkeeper");
    let listed = ok(&w.cg(&["user", "list"]));
    assert!(listed.contains("alice\tapprover"), "{listed}");
    assert!(listed.contains("carol\tbookkeeper"), "{listed}");
    let mut files = 0;
    for entry in std::fs::read_dir(w.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("cg.db") && path.is_file() {
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            let found = bytes
                .windows(PASSPHRASE.len())
                .any(|w| w == PASSPHRASE.as_bytes());
            assert!(!found, "the passphrase is in {name}");
        }
    }
    assert!(files >= 2, "the store and its WAL were searched");
}

#[derive(Debug, Clone, Copy)]
enum Who {
    UnknownName,
    WrongPassphrase,
    Bookkeeper,
}

#[rstest]
#[case::an_unknown_name(Who::UnknownName, "nobody", "is not a person this store knows")]
#[case::a_wrong_passphrase(Who::WrongPassphrase, "alice", "wrong passphrase for `alice`")]
#[case::a_bookkeeper(Who::Bookkeeper, "carol", "`carol` is not an approver")]
fn an_approval_that_is_not_allowed_is_refused_and_audited(
    #[case] who: Who,
    #[case] name: &str,
    #[case] message: &str,
) {
    let w = World::new();
    let (finding, _) = double_charge(&w, "49.00");
    let id = w.propose(finding);
    w.add_user("alice", "approver");
    w.add_user("carol", "bookkeeper");
    let passphrase = match who {
        Who::WrongPassphrase => "not the passphrase",
        Who::UnknownName | Who::Bookkeeper => PASSPHRASE,
    };
    let out = w.cg_with(
        &["approve", &id.to_string(), "--by", name],
        Some(passphrase),
        &[],
    );
    let (code, stderr) = refused(&out);
    assert_eq!(code, 2);
    assert!(stderr.contains(message), "{stderr}");
    assert_eq!(w.action_state(id), "proposed");
    let refusals = audit_events(&w, "approval_refused");
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert_eq!(refusals[0]["actor"], name);
    assert_eq!(refusals[0]["subject"], format!("action:{id}"));
    assert!(
        refusals[0]["details"].as_str().unwrap().contains(message),
        "{refusals:#?}"
    );
    ok(&w.cg(&["audit", "verify"]));
}

#[rstest]
#[case::above_the_dollar_default(None, "USD", "600.00", 2)]
#[case::at_the_dollar_default(None, "USD", "500.00", 1)]
#[case::yen_600_is_about_four_dollars(None, "JPY", "600", 1)]
#[case::above_the_yen_default(None, "JPY", "80000", 2)]
#[case::dinars_499_are_about_1600_dollars(None, "KWD", "499.000", 2)]
#[case::below_a_raised_threshold(Some("1,000"), "USD", "600.00", 1)]
#[case::above_a_lowered_threshold(Some("20"), "USD", "49.00", 2)]
#[case::a_threshold_with_decimals(Some("99.500"), "KWD", "99.501", 2)]
fn above_its_currencys_threshold_a_refund_needs_a_second_different_approver(
    #[case] threshold: Option<&str>,
    #[case] currency: &str,
    #[case] amount: &str,
    #[case] needed: usize,
) {
    let w = World::new();
    w.add_user("alice", "approver");
    w.add_user("bob", "approver");
    if let Some(set) = threshold {
        let out = ok(&w.cg_with(
            &["settings", "threshold", currency, set, "--by", "alice"],
            Some(PASSPHRASE),
            &[],
        ));
        assert!(out.contains("two approvers are needed"), "{out}");
    }
    let (finding, _) = double_charge_in(&w, amount, currency);
    let id = w.propose(finding);
    let first = ok(&w.approve(id, "alice"));
    if needed == 1 {
        assert!(first.contains("approved (1 of 1 approvals)"), "{first}");
        assert_eq!(w.action_state(id), "approved");
        return;
    }
    assert!(
        first.contains("a second, different approver is needed (above"),
        "{first}"
    );
    assert!(
        first.contains(&format!("{currency} two approvers")),
        "{first}"
    );
    assert_eq!(w.action_state(id), "proposed");
    // Not executable on one approval.
    let (_, stderr) = refused(&w.cg(&["execute", &id.to_string()]));
    assert!(stderr.contains("is proposed, not approved"), "{stderr}");
    // Not the same person twice.
    let (_, stderr) = refused(&w.approve(id, "alice"));
    assert!(stderr.contains("alice has already approved"), "{stderr}");
    assert_eq!(w.action_state(id), "proposed");
    let second = ok(&w.approve(id, "bob"));
    assert!(second.contains("approved (2 of 2 approvals)"), "{second}");
    let action = w.action(id);
    assert_eq!(action["state"], "approved");
    assert_eq!(action["approvers"], json!(["alice", "bob"]));
}

#[test]
fn approving_a_finding_whose_data_changed_since_the_proposal_is_refused() {
    let w = World::new();
    let (finding, charges) = double_charge(&w, "49.00");
    let id = w.propose(finding);
    w.add_user("alice", "approver");
    // The invoicing app recorded the second charge too: a changed ledger, reconciled.
    w.import_payments(&[payment("PAY-2", "INV-1", "49.00", &charges[1])]);
    ok(&w.cg(&["reconcile"]));
    let (code, stderr) = refused(&w.approve(id, "alice"));
    assert_eq!(code, 2);
    assert!(stderr.contains("has changed since"), "{stderr}");
    assert_eq!(w.action_state(id), "proposed");
}

#[test]
fn a_heuristic_finding_needs_heuristic_checked() {
    let w = World::new();
    // Two invoices of one customer for one amount, issued together, with no order
    // reference: a possible duplicate, by heuristic.
    let seeded = w.seed(json!({
        "customers": [{"id": "cus_H", "payment_method": "pm_card_visa"}],
        "charges": [
            {"amount": 3000, "currency": "usd", "customer": "cus_H", "created": now() - 2 * HOUR,
             "metadata": {"invoice_number": "INV-A"}},
            {"amount": 3000, "currency": "usd", "customer": "cus_H", "created": now() - HOUR,
             "metadata": {"invoice_number": "INV-B"}},
        ]
    }));
    let ch = |i: usize| seeded["charges"][i].as_str().unwrap().to_string();
    w.import_invoices(&[
        invoice("INV-A", "cus_H", "30.00", "paid"),
        invoice("INV-B", "cus_H", "30.00", "paid"),
    ]);
    w.import_payments(&[
        payment("PAY-A", "INV-A", "30.00", &ch(0)),
        payment("PAY-B", "INV-B", "30.00", &ch(1)),
    ]);
    w.sync_and_reconcile();
    let finding = w
        .findings()
        .into_iter()
        .find(|f| f["kind"] == "duplicate_invoice")
        .expect("a possible duplicate");
    assert_eq!(finding["confidence"], "heuristic");
    let id = w.propose(finding["id"].as_i64().unwrap());
    w.add_user("alice", "approver");
    let (_, stderr) = refused(&w.approve(id, "alice"));
    assert!(stderr.contains("--heuristic-checked"), "{stderr}");
    assert_eq!(w.action_state(id), "proposed");
    ok(&w.cg_with(
        &[
            "approve",
            &id.to_string(),
            "--by",
            "alice",
            "--heuristic-checked",
        ],
        Some(PASSPHRASE),
        &[],
    ));
    assert_eq!(w.action_state(id), "approved");
}

// ---- the lifecycle ----

/// An orphan charge on open invoice INV-O: its fix is a ledger fix, executed locally.
fn orphan(w: &World) -> (i64, String) {
    let seeded = w.seed(json!({
        "customers": [{"id": "cus_O", "payment_method": "pm_card_visa"}],
        "charges": [{"amount": 12000, "currency": "usd", "customer": "cus_O",
                     "created": now() - HOUR, "metadata": {"invoice_number": "INV-O"}}]
    }));
    w.import_invoices(&[invoice("INV-O", "cus_O", "120.00", "open")]);
    w.sync_and_reconcile();
    (
        w.finding("orphan_charge", "INV-O")["id"].as_i64().unwrap(),
        seeded["charges"][0].as_str().unwrap().to_string(),
    )
}

#[derive(Debug, Clone, Copy)]
enum Illegal {
    ExecuteProposed,
    ApproveExecuted,
    CancelSucceeded,
}

#[rstest]
#[case::execute_a_proposed_action(Illegal::ExecuteProposed, "is proposed, not approved")]
#[case::approve_an_executed_action(Illegal::ApproveExecuted, "is succeeded, not proposed")]
#[case::cancel_a_succeeded_action(
    Illegal::CancelSucceeded,
    "is succeeded, not proposed or approved"
)]
fn every_illegal_lifecycle_move_is_an_error(#[case] mv: Illegal, #[case] message: &str) {
    let w = World::new();
    let (finding, _) = orphan(&w);
    let id = w.propose(finding);
    let id_text = id.to_string();
    w.add_user("alice", "approver");
    let before = w.action_state(id);
    let out = match mv {
        Illegal::ExecuteProposed => w.cg(&["execute", &id_text]),
        Illegal::ApproveExecuted | Illegal::CancelSucceeded => {
            ok(&w.approve(id, "alice"));
            ok(&w.cg(&["execute", &id_text]));
            assert_eq!(w.action_state(id), "succeeded");
            if matches!(mv, Illegal::ApproveExecuted) {
                w.add_user("bob", "approver");
                w.approve(id, "bob")
            } else {
                w.cg(&["cancel", &id_text, "--reason", "changed my mind"])
            }
        }
    };
    let (code, stderr) = refused(&out);
    assert_eq!(code, 2);
    assert!(stderr.contains(message), "{stderr}");
    let after = w.action_state(id);
    match mv {
        Illegal::ExecuteProposed => assert_eq!(after, before),
        _ => assert_eq!(after, "succeeded"),
    }
    ok(&w.cg(&["audit", "verify"]));
}

// ---- re-charges ----

#[test]
fn a_recharge_is_refused_when_the_ledger_says_paid() {
    let w = World::new();
    w.import_invoices(&[invoice("INV-P", "cus_P", "80.00", "paid")]);
    let (code, stderr) = refused(&w.recharge("INV-P"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the ledger says invoice INV-P is paid"),
        "{stderr}"
    );
    assert!(w.actions().is_empty());
}

#[test]
fn the_guard_refuses_a_recharge_the_gateway_already_holds_a_charge_for() {
    let w = World::new();
    // Paid at the gateway an hour ago; the store has not synced it, the ledger says open.
    let seeded = w.seed(json!({
        "customers": [{"id": "cus_G", "payment_method": "pm_card_visa"}],
        "charges": [{"amount": 8000, "currency": "usd", "customer": "cus_G",
                     "created": now() - HOUR, "metadata": {"invoice_number": "INV-G"}}]
    }));
    let paid_by = seeded["charges"][0].as_str().unwrap();
    w.import_invoices(&[invoice("INV-G", "cus_G", "80.00", "open")]);
    let id = id_of(&ok(&w.recharge("INV-G")));
    w.add_user("alice", "approver");
    ok(&w.approve(id, "alice"));
    let intents = w.stat("payment_intents");
    let (code, stderr) = refused(&w.cg(&["execute", &id.to_string()]));
    assert_eq!(code, 1, "a guard refusal exits 1: {stderr}");
    assert!(
        stderr.contains(&format!(
            "the gateway already holds succeeded charge {paid_by}"
        )),
        "{stderr}"
    );
    assert_eq!(w.stat("payment_intents"), intents, "nothing was sent");
    assert_eq!(w.action_state(id), "cancelled");
    let refused_entries = audit_events(&w, "action_guard_refused");
    assert_eq!(refused_entries.len(), 1);
}

/// INV-1 for 60.00, paid twice by cus_D: first on `first_card`, then on `second_card`;
/// the ledger records the first. Returns the two charges.
fn paid_twice(w: &World, first_card: &str, second_card: &str) -> Vec<String> {
    let t = now();
    let seeded = w.seed(json!({
        "customers": [{"id": "cus_D", "payment_method": "pm_card_visa"}],
        "charges": [
            {"amount": 6000, "currency": "usd", "customer": "cus_D", "payment_method": first_card,
             "created": t - 2 * HOUR, "metadata": {"invoice_number": "INV-1"}},
            {"amount": 6000, "currency": "usd", "customer": "cus_D", "payment_method": second_card,
             "created": t - HOUR, "metadata": {"invoice_number": "INV-1"}},
        ]
    }));
    let charges: Vec<String> = seeded["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    w.import_invoices(&[invoice("INV-1", "cus_D", "60.00", "paid")]);
    w.import_payments(&[payment("PAY-1", "INV-1", "60.00", &charges[0])]);
    w.sync_and_reconcile();
    charges
}

fn open_on(w: &World, invoice: &str) -> Vec<Value> {
    w.findings()
        .into_iter()
        .filter(|f| f["status"] == "open" && f["invoice_number"] == invoice)
        .collect()
}

#[test]
fn a_charge_paid_twice_whose_second_charge_the_bank_took_back_is_settled() {
    // The customer paid 120.00 for 60.00 and their bank took 60.00 back: nothing is owed
    // either way, and no refund is proposed.
    let w = World::new();
    paid_twice(&w, "pm_card_visa", "pm_card_createDispute");
    assert_eq!(open_on(&w, "INV-1"), Vec::<Value>::new());
}

#[test]
fn the_guard_refuses_a_refund_that_a_chargeback_of_the_other_charge_makes_a_second_payback() {
    // Paid twice, the recorded charge under an inquiry (which moves no money): the other
    // charge is a surplus and its refund is approved. Then the inquiry escalates into a
    // chargeback of the recorded charge: the ledger's "paid" now rests on money the bank
    // took back, so the refund would leave the customer paying nothing for INV-1.
    let w = World::new();
    let charges = paid_twice(&w, "pm_card_createDisputeInquiry", "pm_card_visa");
    let surplus = w.finding("double_charge", "INV-1");
    let id = approved_refund_of(&w, &surplus, &charges[1]);
    escalate_inquiry_on(&w, &charges[0]);
    let stderr = refused_by_the_guard(&w, id);
    assert!(
        stderr.contains("after this refund invoice INV-1 would hold"),
        "{stderr}"
    );
}

#[test]
fn a_charge_beside_a_charged_back_one_is_recorded_not_refunded_and_the_books_settle() {
    // Paid twice; the recorded charge is charged back. The other charge is what pays
    // INV-1 now: its fix records it in the ledger (no refund), and once the dispute is
    // lost its fix records the chargeback. Nothing is left open, nothing was sent.
    let w = World::new();
    let charges = paid_twice(&w, "pm_card_createDispute", "pm_card_visa");
    let open = open_on(&w, "INV-1");
    let kinds: Vec<&str> = open.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"dispute_invoice_still_paid"), "{open:#?}");
    let orphan = open
        .iter()
        .find(|f| f["charge_ids"] == json!([charges[1]]))
        .unwrap_or_else(|| panic!("a finding about the other charge: {open:#?}"));
    w.add_user("alice", "approver");
    let fix = |finding: &Value| {
        let id = w.propose(finding["id"].as_i64().unwrap());
        let plan = w.action(id)["plan"].clone();
        ok(&w.approve(id, "alice"));
        ok(&w.cg(&["execute", &id.to_string()]));
        assert_eq!(w.action_state(id), "succeeded");
        plan
    };
    let plan = fix(orphan);
    assert_eq!(plan["adjustment"]["kind"], "record_payment", "{plan:#}");
    assert_eq!(plan["adjustment"]["gateway_id"], charges[1], "{plan:#}");

    let dispute = &w.list_all(&format!("/v1/disputes?charge={}", charges[0]))[0];
    w.post(
        &format!("/v1/disputes/{}/close", dispute["id"].as_str().unwrap()),
        &[],
    );
    w.sync_and_reconcile();
    let lost = w.finding("dispute_lost_unrecorded", "INV-1");
    let plan = fix(&lost);
    assert_eq!(plan["adjustment"]["kind"], "record_refund", "{plan:#}");
    w.sync_and_reconcile();
    assert_eq!(open_on(&w, "INV-1"), Vec::<Value>::new());
    assert_eq!(w.stat("refunds"), 0, "no money was sent back");
}

/// Proposes the fix of `finding`, checks it refunds `charge`, and approves it.
fn approved_refund_of(w: &World, finding: &Value, charge: &str) -> i64 {
    let id = w.propose(finding["id"].as_i64().unwrap());
    assert_eq!(
        w.action(id)["plan"]["charge_id"],
        charge,
        "{:#}",
        w.action(id)
    );
    w.add_user("alice", "approver");
    ok(&w.approve(id, "alice"));
    id
}

/// Escalates the inquiry on `charge` into a chargeback, with Stripe's test evidence.
fn escalate_inquiry_on(w: &World, charge: &str) {
    let inquiry = &w.list_all(&format!("/v1/disputes?charge={charge}"))[0];
    let escalated = w.post(
        &format!("/v1/disputes/{}", inquiry["id"].as_str().unwrap()),
        &[("evidence[uncategorized_text]", "escalate_inquiry_evidence")],
    );
    assert_eq!(escalated["status"], "needs_response");
}

/// Executes action `id`, which its guard must refuse with nothing sent; its words.
fn refused_by_the_guard(w: &World, id: i64) -> String {
    let (code, stderr) = refused(&w.cg(&["execute", &id.to_string()]));
    assert_eq!(code, 1, "a guard refusal exits 1: {stderr}");
    assert_eq!(w.stat("refunds"), 0, "the customer is not paid back twice");
    assert_eq!(w.action_state(id), "cancelled");
    stderr
}

#[test]
fn the_guard_refuses_to_refund_a_charge_charged_back_since_the_proposal() {
    // An inquiry moves no money: the double charge stands and its refund is proposed. Then
    // the inquiry escalates into a chargeback before the refund is sent.
    let w = World::new();
    let charges = paid_twice(&w, "pm_card_visa", "pm_card_createDisputeInquiry");
    let finding = w.finding("double_charge", "INV-1");
    let id = approved_refund_of(&w, &finding, &charges[1]);
    escalate_inquiry_on(&w, &charges[1]);
    let stderr = refused_by_the_guard(&w, id);
    assert!(stderr.contains("charged back"), "{stderr}");
    // Synced, the books see the chargeback: the double charge is settled by it.
    w.sync_and_reconcile();
    let after = w.findings();
    let was = after.iter().find(|f| f["id"] == finding["id"]).unwrap();
    assert_eq!(was["status"], "resolved", "{was:#}");
}

/// Open INV-R for cus_R whose saved card is `card`.
fn unpaid(w: &World, card: &str) {
    w.seed(json!({"customers": [{"id": "cus_R", "payment_method": card}]}));
    w.import_invoices(&[invoice("INV-R", "cus_R", "75.00", "open")]);
}

#[test]
fn a_declined_recharge_fails_and_the_next_one_is_attempt_two_with_a_new_key() {
    let w = World::new();
    unpaid(&w, "pm_card_chargeDeclined");
    w.add_user("alice", "approver");
    let first = id_of(&ok(&w.recharge("INV-R")));
    ok(&w.approve(first, "alice"));
    let (code, stderr) = refused(&w.cg(&["execute", &first.to_string()]));
    assert_eq!(code, 1, "a decline exits 1: {stderr}");
    let failed = w.action(first);
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["attempt"], 1);

    let second = id_of(&ok(&w.recharge("INV-R")));
    assert_ne!(second, first);
    let retry = w.action(second);
    assert_eq!(retry["attempt"], 2);
    assert_ne!(retry["key"], failed["key"], "a new attempt, a new key");
    assert_eq!(retry["state"], "proposed");
}

#[test]
fn a_cancelled_recharge_can_be_proposed_again_under_a_new_key_and_charges_once() {
    let w = World::new();
    unpaid(&w, "pm_card_visa");
    w.add_user("alice", "approver");
    let first = id_of(&ok(&w.recharge("INV-R")));
    ok(&w.cg(&[
        "cancel",
        &first.to_string(),
        "--by",
        "alice",
        "--reason",
        "wrong card on file",
    ]));
    let cancelled = w.action(first);
    assert_eq!(cancelled["state"], "cancelled");

    let second = id_of(&ok(&w.recharge("INV-R")));
    assert_ne!(
        second, first,
        "the invoice is not stuck on its cancelled attempt"
    );
    let retry = w.action(second);
    assert_eq!(retry["attempt"], 2);
    assert_ne!(retry["key"], cancelled["key"], "a new attempt, a new key");
    assert_eq!(
        id_of(&ok(&w.recharge("INV-R"))),
        second,
        "asking again is the same action"
    );

    ok(&w.approve(second, "alice"));
    ok(&w.cg(&["execute", &second.to_string()]));
    assert_eq!(w.action_state(second), "succeeded");
    assert_eq!(
        w.stat("payment_intents"),
        1,
        "one charge, and none under the cancelled key"
    );
}

#[test]
fn an_undecided_recharge_keeps_attempt_one_and_its_key() {
    let w = World::new();
    unpaid(&w, "pm_card_visa");
    w.add_user("alice", "approver");
    let id = id_of(&ok(&w.recharge("INV-R")));
    ok(&w.approve(id, "alice"));
    // The payment is made, and every answer (the client's retries too) is lost.
    w.arm(json!({"path": "/v1/payment_intents", "method": "POST",
                 "fault": "lose_response_after_commit", "times": 10}));
    let out = w.cg(&["execute", &id.to_string()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unknown = w.action(id);
    assert_eq!(unknown["state"], "unknown");
    w.disarm();

    // Asking again is the same action: attempt 1, the same key — never a second charge.
    assert_eq!(id_of(&ok(&w.recharge("INV-R"))), id);
    assert_eq!(w.actions().len(), 1);
    ok(&w.cg(&["recover"]));
    let settled = w.action(id);
    assert_eq!(settled["state"], "succeeded");
    assert_eq!(settled["attempt"], 1);
    assert_eq!(settled["key"], unknown["key"]);
    let intents = w.list_all("/v1/payment_intents");
    let key = settled["key"].as_str().unwrap();
    assert_eq!(with_key(&intents, key).len(), 1, "{intents:#?}");
    assert_eq!(intents.len(), 1);
}

// ---- ledger fixes ----

#[derive(Debug, Clone, Copy)]
enum Fix {
    Orphan,
    Missing,
    Mismatch,
    UnrecordedRefund,
    LostDispute,
}

/// Plants the incident on INV-L and returns the finding kind it makes.
fn plant(w: &World, fix: Fix) -> &'static str {
    let t = now();
    let charge = |amount: i64| {
        json!({"amount": amount, "currency": "usd", "customer": "cus_L",
               "created": t - 2 * HOUR, "metadata": {"invoice_number": "INV-L"}})
    };
    match fix {
        Fix::Orphan => {
            w.seed(json!({"charges": [charge(4000)]}));
            w.import_invoices(&[invoice("INV-L", "cus_L", "40.00", "open")]);
            w.sync_and_reconcile();
            "orphan_charge"
        }
        Fix::Missing => {
            // Something else at the gateway so that the sync covers the ledger's date.
            w.seed(json!({"charges": [{"amount": 100, "currency": "usd",
                                        "created": jiff::Timestamp::from_second(1_767_000_000).unwrap().as_second()}]}));
            w.import_invoices(&[invoice("INV-L", "cus_L", "40.00", "paid")]);
            w.import_payments(&[payment("PAY-L", "INV-L", "40.00", "ch_NeverExisted0001")]);
            w.sync_and_reconcile();
            "missing_charge"
        }
        Fix::Mismatch => {
            let seeded = w.seed(json!({"charges": [charge(3500)]}));
            let id = seeded["charges"][0].as_str().unwrap();
            w.import_invoices(&[invoice("INV-L", "cus_L", "40.00", "paid")]);
            w.import_payments(&[payment("PAY-L", "INV-L", "40.00", id)]);
            w.sync_and_reconcile();
            "amount_mismatch"
        }
        Fix::UnrecordedRefund => {
            let seeded = w.seed(json!({"charges": [charge(4000)]}));
            let id = seeded["charges"][0].as_str().unwrap();
            w.seed(json!({"refunds": [{"charge": id, "amount": 1000, "created": t - HOUR}]}));
            w.import_invoices(&[invoice("INV-L", "cus_L", "40.00", "paid")]);
            w.import_payments(&[payment("PAY-L", "INV-L", "40.00", id)]);
            w.sync_and_reconcile();
            "unrecorded_refund"
        }
        Fix::LostDispute => {
            let seeded = w.seed(json!({"charges": [{
                "amount": 4000, "currency": "usd", "customer": "cus_L",
                "created": t - 2 * HOUR, "metadata": {"invoice_number": "INV-L"},
                "payment_method": "pm_card_createDispute"}]}));
            let id = seeded["charges"][0].as_str().unwrap();
            w.import_invoices(&[invoice("INV-L", "cus_L", "40.00", "paid")]);
            w.import_payments(&[payment("PAY-L", "INV-L", "40.00", id)]);
            w.sync_and_reconcile();
            let undecided = w.finding("dispute_invoice_still_paid", "INV-L");
            let dispute = undecided["evidence"]["dispute"]["id"].as_str().unwrap();
            let (_, stderr) = refused(&w.cg(&["propose", &undecided["id"].to_string()]));
            assert!(
                stderr.contains("answered with evidence at Stripe"),
                "{stderr}"
            );
            w.post(&format!("/v1/disputes/{dispute}/close"), &[]);
            w.sync_and_reconcile();
            let before = w.findings();
            let was = before.iter().find(|f| f["id"] == undecided["id"]).unwrap();
            assert_eq!(
                (&was["status"], &was["resolution"]),
                (&json!("resolved"), &json!("cleared")),
                "lost, it is no longer undecided"
            );
            "dispute_lost_unrecorded"
        }
    }
}

#[rstest]
#[case::orphan_records_the_payment(Fix::Orphan, "record_payment", 4000)]
#[case::missing_reverses_the_payment(Fix::Missing, "reverse_payment", 4000)]
#[case::mismatch_corrects_the_amount(Fix::Mismatch, "correct_amount", 3500)]
#[case::unrecorded_refund_records_it(Fix::UnrecordedRefund, "record_refund", 1000)]
#[case::lost_dispute_records_the_chargeback(Fix::LostDispute, "record_refund", 4000)]
fn a_ledger_fix_resolves_its_finding_for_good_and_keeps_its_adjustment(
    #[case] fix: Fix,
    #[case] adjustment_kind: &str,
    #[case] amount_minor: i64,
) {
    let w = World::new();
    let kind = plant(&w, fix);
    let finding = w.finding(kind, "INV-L");
    let id = w.propose(finding["id"].as_i64().unwrap());
    w.add_user("alice", "approver");
    ok(&w.approve(id, "alice"));
    let requests = w.stat("idempotency_keys");
    let done = ok(&w.cg(&["execute", &id.to_string()]));
    assert!(
        done.contains("recorded in the ledger adjustments"),
        "{done}"
    );
    assert_eq!(
        w.stat("idempotency_keys"),
        requests,
        "a ledger fix sends nothing"
    );

    for _ in 0..2 {
        ok(&w.cg(&["sync"]));
        ok(&w.cg(&["reconcile"]));
        let now_findings = w.findings();
        let same = now_findings
            .iter()
            .find(|f| f["id"] == finding["id"])
            .unwrap();
        assert_eq!(same["status"], "resolved", "{same:#}");
        let open: Vec<&Value> = now_findings
            .iter()
            .filter(|f| f["status"] == "open" && f["invoice_number"] == "INV-L")
            .collect();
        assert!(open.is_empty(), "the fix left INV-L with {open:#?}");
    }
    let action = w.action(id);
    let adjustments = Store::open(&w.db)
        .unwrap()
        .read(|tx| tx.adjustments())
        .unwrap();
    assert_eq!(adjustments.len(), 1, "{adjustments:#?}");
    let adjustment = &adjustments[0];
    assert_eq!(adjustment.action_id, id);
    assert_eq!(adjustment.idempotency_key, action["key"].as_str().unwrap());
    assert_eq!(adjustment.adjustment.kind.as_str(), adjustment_kind);
    assert_eq!(adjustment.adjustment.invoice_number, "INV-L");
    assert_eq!(adjustment.adjustment.amount.minor(), amount_minor);

    // The invoicing app gets the fix back as a CSV row carrying the action's key.
    let csv_path = w.db.with_file_name("adjustments.csv");
    ok(&w.cg(&["export", "adjustments", "--out", csv_path.to_str().unwrap()]));
    let exported = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = exported.lines();
    assert_eq!(
        lines.next(),
        Some(
            "key,action_id,kind,invoice_number,payment_id,gateway_id,amount,currency,effective_at"
        )
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(row[0], action["key"].as_str().unwrap());
    assert_eq!(row[2], adjustment_kind);
    assert_eq!(row[3], "INV-L");
    assert_eq!(
        row[6],
        format!("{}.{:02}", amount_minor / 100, amount_minor % 100)
    );
    assert_eq!(row[7], "usd");
    assert!(lines.next().is_none(), "{exported}");

    // The month of the incident still ties out to the minor unit, the fix included.
    let month = jiff::Timestamp::from_second(now() - 2 * HOUR)
        .unwrap()
        .strftime("%Y-%m")
        .to_string();
    let package = w.dir.path().join("package");
    ok(&w.cg(&[
        "export",
        "month",
        &month,
        "--out",
        package.to_str().unwrap(),
        "--tz",
        "UTC",
    ]));
    ok(&w.cg(&["export", "verify", package.to_str().unwrap()]));
}

/// Regression: a duplicate invoice whose charge the ledger recorded leaves two
/// adjustments (the refund recorded, the invoice voided); V2's unique `action_id` made
/// settling fail after the gateway had refunded, and the action could never be decided.
#[test]
fn a_duplicate_invoice_refund_records_the_refund_and_voids_the_invoice() {
    let w = World::new();
    let seeded = w.seed(json!({
        "customers": [{"id": "cus_D", "payment_method": "pm_card_visa"}],
        "charges": [
            {"amount": 2500, "currency": "usd", "customer": "cus_D", "created": now() - 3 * HOUR,
             "metadata": {"invoice_number": "INV-D1"}},
            {"amount": 2500, "currency": "usd", "customer": "cus_D", "created": now() - 2 * HOUR,
             "metadata": {"invoice_number": "INV-D2"}},
        ]
    }));
    let ch = |i: usize| seeded["charges"][i].as_str().unwrap().to_string();
    let mut first = invoice("INV-D1", "cus_D", "25.00", "paid");
    first.order_ref = Some("ORD-7");
    let mut second = invoice("INV-D2", "cus_D", "25.00", "paid");
    second.order_ref = Some("ORD-7");
    w.import_invoices(&[first, second]);
    w.import_payments(&[
        payment("PAY-D1", "INV-D1", "25.00", &ch(0)),
        payment("PAY-D2", "INV-D2", "25.00", &ch(1)),
    ]);
    w.sync_and_reconcile();
    let finding = w.finding("duplicate_invoice", "INV-D2");
    let id = w.propose(finding["id"].as_i64().unwrap());
    w.add_user("alice", "approver");
    ok(&w.approve(id, "alice"));
    ok(&w.cg(&["execute", &id.to_string()]));
    assert_eq!(w.action_state(id), "succeeded");
    let refunds = w.list_all(&format!("/v1/refunds?charge={}", ch(1)));
    assert_eq!(refunds.len(), 1);
    // Settling stores the refunded charge whole: reconciliation's books leave out its
    // metadata, the store must not lose it.
    let charge = Store::open(&w.db)
        .unwrap()
        .read(|tx| tx.charge("stripe", &ch(1)))
        .unwrap()
        .expect("the charge is stored");
    assert_eq!(charge.amount_refunded.minor(), 2500);
    assert_eq!(
        charge.metadata.get("invoice_number").map(String::as_str),
        Some("INV-D2")
    );
    let mut kinds: Vec<String> = Store::open(&w.db)
        .unwrap()
        .read(|tx| tx.adjustments())
        .unwrap()
        .into_iter()
        .map(|a| {
            format!(
                "{} {}",
                a.adjustment.kind.as_str(),
                a.adjustment.invoice_number
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["record_refund INV-D2", "void_invoice INV-D2"]);
    w.sync_and_reconcile();
    let open: Vec<Value> = w
        .findings()
        .into_iter()
        .filter(|f| f["status"] == "open")
        .collect();
    assert!(open.is_empty(), "{open:#?}");
}

// ---- dismissals ----

#[test]
fn a_dismissed_finding_stays_dismissed_and_its_reason_is_audited() {
    let w = World::new();
    let (finding, _) = double_charge(&w, "49.00");
    let reason = "customer asked to keep it as credit";
    ok(&w.cg(&["dismiss", &finding.to_string(), "--reason", reason]));
    for _ in 0..2 {
        ok(&w.cg(&["reconcile"]));
        let all = w.findings();
        let f = all.iter().find(|f| f["id"] == finding).unwrap();
        assert_eq!(f["status"], "resolved", "{f:#}");
        assert_eq!(
            all.iter().filter(|f| f["status"] == "open").count(),
            0,
            "{all:#?}"
        );
    }
    let dismissed = audit_events(&w, "finding_dismissed");
    assert_eq!(dismissed.len(), 1);
    assert_eq!(dismissed[0]["subject"], format!("finding:{finding}"));
    let details: Value = serde_json::from_str(dismissed[0]["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["reason"], reason);
    // A dismissed finding has no fix to propose.
    let (_, stderr) = refused(&w.cg(&["propose", &finding.to_string()]));
    assert!(stderr.contains("already resolved"), "{stderr}");
}

// ---- tampering ----

#[derive(Debug, Clone, Copy)]
enum Tamper {
    EditOne,
    DeleteOne,
    DeleteTheLast,
}

#[rstest]
#[case::edit_one_row(Tamper::EditOne, 3, "was edited after it was written")]
#[case::delete_one_row(Tamper::DeleteOne, 3, "an entry was deleted")]
#[case::delete_the_last_row(Tamper::DeleteTheLast, 0, "entries were cut off the end")]
fn audit_verify_names_the_tampered_entry(
    #[case] tamper: Tamper,
    #[case] seq: i64,
    #[case] message: &str,
) {
    let w = World::new();
    let (finding, _) = double_charge(&w, "49.00");
    let id = w.propose(finding);
    w.add_user("alice", "approver");
    ok(&w.approve(id, "alice"));
    ok(&w.cg(&["execute", &id.to_string()]));
    let entries = w.audit_log();
    assert!(entries.len() >= 5, "{entries:#?}");
    let last = entries.last().unwrap()["seq"].as_i64().unwrap();
    ok(&w.cg(&["audit", "verify"]));

    let conn = rusqlite_open(&w.db);
    let named = match tamper {
        Tamper::EditOne => {
            conn.execute(
                "UPDATE audit_log SET actor = 'mallory' WHERE seq = ?1",
                [seq],
            )
            .unwrap();
            seq
        }
        Tamper::DeleteOne => {
            conn.execute("DELETE FROM audit_log WHERE seq = ?1", [seq])
                .unwrap();
            seq
        }
        Tamper::DeleteTheLast => {
            conn.execute("DELETE FROM audit_log WHERE seq = ?1", [last])
                .unwrap();
            last
        }
    };
    drop(conn);
    let out = w.cg(&["audit", "verify"]);
    let (code, stderr) = refused(&out);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("audit log entry {named}:")),
        "names entry {named}: {stderr}"
    );
    assert!(stderr.contains(message), "{stderr}");
    let json_out = w.cg(&["--json", "audit", "verify"]);
    let broken: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(broken["seq"], named);
}

fn rusqlite_open(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}
