//! Races on one store: two `chargeguard` processes, or two threads each with its own
//! `Store::open` of the same file, executing the same action or proposing actions for the
//! same invoice at once. Whoever loses is told "already in progress"; the sandbox sees
//! exactly one refund, and a double `propose` yields one action.
//!
//! Overlap is forced, not hoped for: the refund request is held at the sandbox (`slow`)
//! so the first executor is still in flight when the second arrives, and threads start
//! from a barrier.

mod actions_support;

use std::sync::Barrier;
use std::time::Duration;

use actions_support::{HOUR, Invoice, Payment, World, id_of, now, ok, refused, with_key};
use chargeguard::actions::{self, ActionError, ActionState};
use chargeguard::gateway::stripe::StripeClient;
use chargeguard::secret::SecretKey;
use chargeguard::store::Store;
use rstest::rstest;
use serde_json::json;

/// Invoice INV-1 (49.00, paid, recorded against the first charge) charged twice at the
/// gateway; returns the double-charge finding's id and the surplus charge.
fn double_charged(w: &World) -> (i64, String) {
    let t = now();
    let seeded = w.seed(json!({
        "customers": [{"id": "cus_A", "payment_method": "pm_card_visa"}],
        "charges": [
            {"amount": 4900, "currency": "usd", "customer": "cus_A", "created": t - 2 * HOUR,
             "metadata": {"invoice_number": "INV-1"}},
            {"amount": 4900, "currency": "usd", "customer": "cus_A", "created": t - HOUR,
             "metadata": {"invoice_number": "INV-1"}},
        ]
    }));
    let first = seeded["charges"][0].as_str().unwrap().to_string();
    let second = seeded["charges"][1].as_str().unwrap().to_string();
    w.import_invoices(&[Invoice {
        number: "INV-1",
        customer: "cus_A",
        amount: "49.00",
        status: "paid",
        order_ref: None,
    }]);
    w.import_payments(&[Payment {
        id: "PAY-1",
        invoice: "INV-1",
        kind: "payment",
        amount: "49.00",
        gateway_id: Some(&first),
    }]);
    w.sync_and_reconcile();
    let finding = w.finding("double_charge", "INV-1");
    assert_eq!(finding["charge_ids"], json!([second]));
    (finding["id"].as_i64().unwrap(), second)
}

/// A double charge whose refund is proposed and approved, ready to execute.
fn approved_refund(w: &World) -> (i64, String) {
    let (finding, surplus) = double_charged(w);
    let id = w.propose(finding);
    w.add_user("alice", "approver");
    ok(&w.approve(id, "alice"));
    assert_eq!(w.action_state(id), "approved");
    (id, surplus)
}

fn refunds_of(w: &World, charge: &str) -> Vec<serde_json::Value> {
    w.list_all(&format!("/v1/refunds?charge={charge}"))
}

#[derive(Debug, Clone, Copy)]
enum Start {
    /// Both processes spawned together, the refund request held at the sandbox.
    Together,
    /// The second starts once the first has journaled and is waiting for the gateway.
    WhileTheFirstIsInFlight,
}

#[rstest]
#[case::started_together(Start::Together)]
#[case::second_while_the_first_is_in_flight(Start::WhileTheFirstIsInFlight)]
fn two_processes_executing_one_refund_send_it_once(#[case] start: Start) {
    let w = World::new();
    let (id, surplus) = approved_refund(&w);
    w.arm(json!({"path": "/v1/refunds", "method": "POST", "fault": "slow", "hold_ms": 1500}));
    let id_text = id.to_string();
    let args = ["execute", id_text.as_str()];

    let (first, second) = match start {
        Start::Together => {
            let barrier = Barrier::new(2);
            std::thread::scope(|s| {
                let a = s.spawn(|| {
                    barrier.wait();
                    w.spawn(&args, &[]).wait_with_output().unwrap()
                });
                let b = s.spawn(|| {
                    barrier.wait();
                    w.spawn(&args, &[]).wait_with_output().unwrap()
                });
                (a.join().unwrap(), b.join().unwrap())
            })
        }
        Start::WhileTheFirstIsInFlight => {
            let first = w.spawn(&args, &[]);
            w.wait_until(
                "the first execute to journal",
                Duration::from_secs(20),
                || w.action_state(id) == "executing",
            );
            let second = w.cg(&args);
            (first.wait_with_output().unwrap(), second)
        }
    };

    let outcomes = [&first, &second];
    let winners = outcomes.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        winners,
        1,
        "exactly one execute succeeds:\n{}\n---\n{}",
        String::from_utf8_lossy(&first.stderr),
        String::from_utf8_lossy(&second.stderr)
    );
    let loser = outcomes.iter().find(|o| !o.status.success()).unwrap();
    let (code, stderr) = refused(loser);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("already in progress"), "{stderr}");

    let refunds = refunds_of(&w, &surplus);
    assert_eq!(refunds.len(), 1, "one refund at the gateway: {refunds:#?}");
    let key = w.action(id)["key"].as_str().unwrap().to_string();
    assert_eq!(with_key(&refunds, &key).len(), 1);
    assert_eq!(refunds[0]["amount"], 4900);
    assert_eq!(w.action_state(id), "succeeded");
    ok(&w.cg(&["audit", "verify"]));
}

fn client(w: &World) -> StripeClient {
    StripeClient::new(
        &w.base,
        SecretKey::new(actions_support::KEY).unwrap(),
        Duration::from_secs(10),
    )
    .unwrap()
}

#[test]
fn two_threads_executing_one_refund_send_it_once() {
    let w = World::new();
    let (id, surplus) = approved_refund(&w);
    w.arm(json!({"path": "/v1/refunds", "method": "POST", "fault": "slow", "hold_ms": 1000}));
    let barrier = Barrier::new(2);
    let results: Vec<Result<actions::Executed, ActionError>> = std::thread::scope(|s| {
        let run = || {
            // Each thread its own store connection and its own client, as two windows.
            let mut store = Store::open(&w.db).unwrap();
            let client = client(&w);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            barrier.wait();
            rt.block_on(actions::execute(
                &mut store,
                &client,
                id,
                "thread",
                jiff::Timestamp::now(),
            ))
        };
        let a = s.spawn(run);
        let b = s.spawn(run);
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let succeeded: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(succeeded.len(), 1, "{results:#?}");
    assert_eq!(succeeded[0].action.state, ActionState::Succeeded);
    let error = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(
        matches!(error, ActionError::AlreadyInProgress { .. }),
        "the loser is told it is already in progress, not {error:?}"
    );
    assert!(error.to_string().contains("already in progress"), "{error}");
    assert_eq!(refunds_of(&w, &surplus).len(), 1);
}

#[derive(Debug, Clone, Copy)]
enum Proposers {
    Processes,
    Threads,
}

#[rstest]
#[case::two_processes(Proposers::Processes)]
#[case::two_threads(Proposers::Threads)]
fn a_double_propose_of_one_finding_yields_one_action(#[case] who: Proposers) {
    let w = World::new();
    let (finding, _) = double_charged(&w);
    let barrier = Barrier::new(2);
    let ids: Vec<i64> = std::thread::scope(|s| {
        let run = || match who {
            Proposers::Processes => {
                barrier.wait();
                let out = w
                    .spawn(&["propose", &finding.to_string()], &[])
                    .wait_with_output()
                    .unwrap();
                id_of(&ok(&out))
            }
            Proposers::Threads => {
                let mut store = Store::open(&w.db).unwrap();
                barrier.wait();
                actions::propose_for_finding(&mut store, finding, "thread", jiff::Timestamp::now())
                    .unwrap()
                    .id
            }
        };
        let a = s.spawn(run);
        let b = s.spawn(run);
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    assert_eq!(ids[0], ids[1], "both proposals answer with the same action");
    let actions = w.actions();
    assert_eq!(actions.len(), 1, "{actions:#?}");
    let proposed = w
        .audit_log()
        .into_iter()
        .filter(|e| e["event"] == "action_proposed")
        .count();
    assert_eq!(proposed, 1, "proposed once in the audit log");
}

/// Invoice INV-9 is open and unpaid in the ledger, but the gateway holds a succeeded charge
/// for it that no payment records: an orphan (fix: record the payment) — and, to a
/// bookkeeper who has not reconciled, an invoice to re-charge.
fn orphaned(w: &World) -> (i64, String) {
    let seeded = w.seed(json!({
        "customers": [{"id": "cus_O", "payment_method": "pm_card_visa"}],
        "charges": [{"amount": 12000, "currency": "usd", "customer": "cus_O",
                     "created": now() - HOUR, "metadata": {"invoice_number": "INV-9"}}]
    }));
    w.import_invoices(&[Invoice {
        number: "INV-9",
        customer: "cus_O",
        amount: "120.00",
        status: "open",
        order_ref: None,
    }]);
    w.sync_and_reconcile();
    let finding = w.finding("orphan_charge", "INV-9");
    (
        finding["id"].as_i64().unwrap(),
        seeded["charges"][0].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_recharge_and_a_ledger_fix_for_one_invoice_cannot_both_be_open() {
    let w = World::new();
    let (finding, _) = orphaned(&w);
    let barrier = Barrier::new(2);
    let (propose, recharge) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            barrier.wait();
            w.spawn(&["propose", &finding.to_string()], &[])
                .wait_with_output()
                .unwrap()
        });
        let b = s.spawn(|| {
            barrier.wait();
            w.spawn(&["recharge", "INV-9"], &[])
                .wait_with_output()
                .unwrap()
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    let won = [&propose, &recharge]
        .iter()
        .filter(|o| o.status.success())
        .count();
    assert_eq!(won, 1, "exactly one action holds INV-9");
    let loser = if propose.status.success() {
        &recharge
    } else {
        &propose
    };
    let (code, stderr) = refused(loser);
    assert_eq!(code, 2);
    assert!(stderr.contains("already in progress"), "{stderr}");
    let actions = w.actions();
    assert_eq!(actions.len(), 1, "{actions:#?}");
    let winner = &actions[0];
    let holder = winner["id"].as_i64().unwrap();
    assert!(
        stderr.contains(&format!("({holder})")),
        "the refusal names the action holding the invoice: {stderr}"
    );

    // Whichever won, executing it charges nobody twice: a re-charge is stopped by the
    // gateway guard (the orphan already paid INV-9), a ledger fix sends nothing.
    w.add_user("alice", "approver");
    ok(&w.approve(holder, "alice"));
    let executed = w.cg(&["execute", &holder.to_string()]);
    if winner["kind"] == "recharge" {
        let (code, stderr) = refused(&executed);
        assert_eq!(code, 1, "a guard refusal exits 1: {stderr}");
        assert!(
            stderr.contains("already holds succeeded charge"),
            "{stderr}"
        );
        assert_eq!(w.action_state(holder), "cancelled");
    } else {
        ok(&executed);
        assert_eq!(w.action_state(holder), "succeeded");
    }
    assert_eq!(w.stat("payment_intents"), 1, "no new payment intent");
}

#[test]
fn recover_propose_and_cancel_leave_an_execute_in_flight_alone() {
    let w = World::new();
    let (id, surplus) = approved_refund(&w);
    w.arm(json!({"path": "/v1/refunds", "method": "POST", "fault": "slow", "hold_ms": 1500}));
    let running = w.spawn(&["execute", &id.to_string()], &[]);
    w.wait_until(
        "the refund to be in flight",
        Duration::from_secs(20),
        || w.stat("idempotency_keys_running") == 1,
    );
    // A second window: recover finds nothing undecided (its executor is alive), proposing
    // the same fix answers with the action in flight, and it cannot be cancelled.
    let recovered = ok(&w.cg(&["recover"]));
    assert!(recovered.contains("Nothing to recover"), "{recovered}");
    let finding = w.findings()[0]["id"].as_i64().unwrap();
    assert_eq!(id_of(&ok(&w.cg(&["propose", &finding.to_string()]))), id);
    let (code, stderr) = refused(&w.cg(&["cancel", &id.to_string(), "--reason", "oops"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("is executing"), "{stderr}");

    ok(&running.wait_with_output().unwrap());
    assert_eq!(w.action_state(id), "succeeded");
    assert_eq!(refunds_of(&w, &surplus).len(), 1);
    assert_eq!(w.actions().len(), 1);
    ok(&w.cg(&["audit", "verify"]));
}

#[test]
fn two_recovers_at_once_settle_an_undecided_refund_once() {
    let w = World::new();
    let (id, surplus) = approved_refund(&w);
    // The refund commits at the gateway, its answer is held, and the executor is killed:
    // the action is left `executing` by a process that is gone.
    w.arm(json!({"path": "/v1/refunds", "method": "POST",
                 "fault": "timeout_after_commit", "hold_ms": 1000}));
    let mut child = w.spawn(&["execute", &id.to_string()], &[]);
    w.wait_until(
        "the gateway to commit the refund",
        Duration::from_secs(20),
        || w.stat("idempotency_keys") == 1,
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(w.action_state(id), "executing");
    w.wait_until(
        "the held answer to be let go",
        Duration::from_secs(20),
        || w.stat("idempotency_keys_running") == 0,
    );

    // Two windows recover at once; both look the refund up, held so that they overlap.
    w.arm(
        json!({"path": "/v1/refunds", "method": "GET", "fault": "slow",
                 "hold_ms": 500, "times": 2}),
    );
    let barrier = Barrier::new(2);
    let outs = std::thread::scope(|s| {
        let run = || {
            barrier.wait();
            w.spawn(&["recover"], &[]).wait_with_output().unwrap()
        };
        let a = s.spawn(run);
        let b = s.spawn(run);
        [a.join().unwrap(), b.join().unwrap()]
    });
    for out in &outs {
        ok(out);
    }
    assert_eq!(w.action_state(id), "succeeded");
    assert_eq!(refunds_of(&w, &surplus).len(), 1);
    let settled = w
        .audit_log()
        .into_iter()
        .filter(|e| e["event"] == "action_succeeded")
        .count();
    assert_eq!(settled, 1, "settled once");
    ok(&w.cg(&["audit", "verify"]));
}

/// Cancel and execute race for one approved re-charge from two processes, then the invoice
/// is proposed again and whatever is open is executed: whichever won, the customer is
/// charged once. The payment is held at the sandbox so an execute that wins is still in
/// flight when the cancel arrives.
#[rstest]
#[case::held_in_flight(true)]
#[case::at_full_speed(false)]
fn cancel_execute_and_propose_again_race_and_still_charge_once(#[case] hold: bool) {
    let w = World::new();
    w.seed(json!({"customers": [{"id": "cus_R", "payment_method": "pm_card_visa"}]}));
    w.import_invoices(&[Invoice {
        number: "INV-R",
        customer: "cus_R",
        amount: "75.00",
        status: "open",
        order_ref: None,
    }]);
    w.add_user("alice", "approver");
    let first = id_of(&ok(&w.recharge("INV-R")));
    ok(&w.approve(first, "alice"));
    if hold {
        w.arm(json!({"path": "/v1/payment_intents", "method": "POST", "fault": "slow", "hold_ms": 800}));
    }
    let barrier = Barrier::new(2);
    let first_text = first.to_string();
    std::thread::scope(|s| {
        let cancel = s.spawn(|| {
            barrier.wait();
            w.spawn(
                &["cancel", &first_text, "--by", "alice", "--reason", "race"],
                &[],
            )
            .wait_with_output()
            .unwrap()
        });
        let execute = s.spawn(|| {
            barrier.wait();
            w.spawn(&["execute", &first_text], &[])
                .wait_with_output()
                .unwrap()
        });
        let (cancel, execute) = (cancel.join().unwrap(), execute.join().unwrap());
        assert!(
            cancel.status.success() != execute.status.success() || !cancel.status.success(),
            "a cancel and an execute of one action cannot both win"
        );
    });
    w.disarm();
    let after_race = w.action_state(first);
    assert!(
        after_race == "cancelled" || after_race == "succeeded",
        "{after_race}"
    );
    if after_race == "succeeded" {
        // The execute won: the re-charge is recorded, the invoice is paid, and proposing
        // it again is refused for what it is.
        let (_, stderr) = refused(&w.recharge("INV-R"));
        assert!(stderr.contains("is paid"), "{stderr}");
    } else {
        let again = id_of(&ok(&w.recharge("INV-R")));
        assert_ne!(again, first);
        ok(&w.approve(again, "alice"));
        ok(&w.cg(&["execute", &again.to_string()]));
        assert_eq!(w.action_state(again), "succeeded");
    }
    assert_eq!(w.stat("payment_intents"), 1, "the customer is charged once");
}
