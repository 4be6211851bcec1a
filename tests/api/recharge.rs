//! The Re-charge screen's API on the demo store with its sandbox over real loopback HTTP:
//! the unpaid invoices whose card was declined, every guard shown with its result before
//! anything is proposed, a proposal refused while a guard fails, and a re-charge that goes
//! through approve and execute like any fix — once, however often Propose is pressed.

use crate::api_support;

use api_support::{APPROVER, PASSPHRASE, demo, stats};
use chargeguard::api::json::*;
use chargeguard::api::recharge::*;
use chargeguard::api::{self, ApiErrorCode};

fn outcome(check: &RechargeCheck, guard: RechargeGuard) -> GuardOutcome {
    check
        .checks
        .iter()
        .find(|c| c.guard == guard)
        .unwrap_or_else(|| panic!("{guard:?} is reported"))
        .outcome
}

#[test]
fn the_demo_lists_its_declined_unpaid_invoices_and_nothing_paid() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    let candidates = api::recharge::recharge_candidates(&api, &Default::default()).unwrap();
    assert_eq!(candidates.len(), 2, "{candidates:#?}");
    // A page at a time, each after the invoice the page before ended on, gives the same.
    let page = |after: Option<&str>| {
        let query = api::recharge::RechargeQuery {
            limit: Some(1),
            after_invoice: after.map(str::to_string),
        };
        api::recharge::recharge_candidates(&api, &query).unwrap()
    };
    let first = page(None);
    let second = page(Some(&first[0].invoice_number));
    assert_eq!(
        first.iter().chain(&second).cloned().collect::<Vec<_>>(),
        candidates
    );
    assert!(page(Some(&second[0].invoice_number)).is_empty());
    let attempts: Vec<usize> = candidates.iter().map(|c| c.failed_attempts.len()).collect();
    assert_eq!(attempts, vec![1, 2], "oldest invoice first");
    for c in &candidates {
        assert_eq!(c.owed, c.invoice_amount, "nothing was paid on them");
        assert!(c.open_action.is_none());
        for a in &c.failed_attempts {
            assert!(a.what.contains("declined"), "{}", a.what);
            assert!(
                a.charge_id
                    .as_deref()
                    .is_some_and(|id| id.starts_with("ch_"))
            );
        }
    }
    // The demo's other declines were retried and paid: the ledger says so, so they are absent.
    let findings = api::findings(&api, &FindingsQuery::default()).unwrap();
    assert_eq!(findings.len(), 21, "a declined attempt is never a finding");
}

#[tokio::test]
async fn every_guard_is_shown_then_a_proposed_recharge_is_approved_and_executed_once() {
    let demo = demo();
    let (api, sandbox) = demo.connect().await;
    let invoice = api::recharge::recharge_candidates(&api, &Default::default()).unwrap()[0]
        .invoice_number
        .clone();
    let request = InvoiceRequest {
        invoice_number: invoice.clone(),
    };

    let check = api::recharge::recharge_check(&api, &request).await.unwrap();
    let guards: Vec<(RechargeGuard, GuardOutcome)> =
        check.checks.iter().map(|c| (c.guard, c.outcome)).collect();
    assert_eq!(
        guards,
        vec![
            (RechargeGuard::UnpaidInLedger, GuardOutcome::Passed),
            (RechargeGuard::NoSucceededCharge, GuardOutcome::Passed),
            (RechargeGuard::NothingInFlight, GuardOutcome::Passed),
            (RechargeGuard::CardOnFile, GuardOutcome::Passed),
        ],
        "{check:#?}"
    );
    assert!(check.may_propose);
    assert_eq!(check.attempt, 1);

    // Two presses of Propose (a double click, a second window): one action.
    let propose = RechargeProposeRequest {
        invoice_number: invoice.clone(),
        by: "bob".into(),
    };
    let first = api::recharge::recharge_propose(&api, &propose)
        .await
        .unwrap();
    let second = api::recharge::recharge_propose(&api, &propose)
        .await
        .unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(first.kind, "recharge");
    assert_eq!(first.state, ActionState::Proposed);
    assert!(first.key.contains("recharge"), "{}", first.key);

    // While it is open, the in-flight guard says so and names it.
    let during = api::recharge::recharge_check(&api, &request).await.unwrap();
    assert_eq!(
        outcome(&during, RechargeGuard::NothingInFlight),
        GuardOutcome::Refused
    );
    assert!(!during.may_propose);
    assert_eq!(during.open_action.as_ref().map(|a| a.id), Some(first.id));

    // The same approve and execute as a finding's fix.
    let approved = api::approve(
        &api,
        &ApproveRequest {
            action_id: first.id,
            name: APPROVER.into(),
            passphrase: PASSPHRASE.into(),
            heuristic_checked: false,
        },
    );
    let approved = match approved {
        Ok(a) => a,
        Err(e) => panic!("approval: {e}"),
    };
    if approved.approvals < approved.needed {
        // Above the threshold: the demo has one approver, so this invoice is the small one.
        panic!("the first demo candidate should need one approver: {approved:?}");
    }
    let before = stats(&sandbox).await;
    let executed = api::execute(
        &api,
        &ExecuteRequest {
            action_id: first.id,
            by: "bob".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        executed.action.state,
        ActionState::Succeeded,
        "{executed:?}"
    );
    let again = api::execute(
        &api,
        &ExecuteRequest {
            action_id: first.id,
            by: "other-window".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(again.action.state, ActionState::Succeeded);
    let after = stats(&sandbox).await;
    assert_eq!(
        after["payment_intents"].as_u64().unwrap() - before["payment_intents"].as_u64().unwrap(),
        1,
        "one payment at the gateway: {before} → {after}"
    );

    // Paid now: off the list, and the guards refuse a second re-charge.
    let left = api::recharge::recharge_candidates(&api, &Default::default()).unwrap();
    assert!(
        left.iter().all(|c| c.invoice_number != invoice),
        "{left:#?}"
    );
    let paid = api::recharge::recharge_check(&api, &request).await.unwrap();
    assert_eq!(
        outcome(&paid, RechargeGuard::UnpaidInLedger),
        GuardOutcome::Refused
    );
    assert_eq!(
        outcome(&paid, RechargeGuard::NoSucceededCharge),
        GuardOutcome::Refused
    );
    let refused = api::recharge::recharge_propose(&api, &propose)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ApiErrorCode::Refused);
    assert!(
        refused.message.contains("no re-charge was proposed"),
        "{}",
        refused.message
    );
}

#[tokio::test]
async fn a_paid_invoice_is_refused_by_the_ledger_guard_and_nothing_is_proposed() {
    let demo = demo();
    let (api, _sandbox) = demo.connect().await;
    // A double charge's invoice: paid in the ledger, and the gateway holds its charges.
    let paid = api::findings(
        &api,
        &FindingsQuery {
            kind: Some(FindingKind::DoubleCharge),
            ..Default::default()
        },
    )
    .unwrap()[0]
        .invoice_number
        .clone()
        .unwrap();
    let check = api::recharge::recharge_check(
        &api,
        &InvoiceRequest {
            invoice_number: paid.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        outcome(&check, RechargeGuard::UnpaidInLedger),
        GuardOutcome::Refused
    );
    assert_eq!(
        outcome(&check, RechargeGuard::NoSucceededCharge),
        GuardOutcome::Refused
    );
    assert!(!check.may_propose);
    let error = api::recharge::recharge_propose(
        &api,
        &RechargeProposeRequest {
            invoice_number: paid,
            by: "bob".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, ApiErrorCode::Refused);
    assert!(
        api::actions_list(&api).unwrap().is_empty(),
        "nothing was proposed"
    );
}

#[tokio::test]
async fn an_unknown_invoice_is_not_found_and_a_store_without_gateway_says_connect() {
    let demo = demo();
    let (api, _sandbox) = demo.connect().await;
    let error = api::recharge::recharge_check(
        &api,
        &InvoiceRequest {
            invoice_number: "INV-NOPE".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, ApiErrorCode::NotFound);
    assert!(error.message.contains("INV-NOPE"), "{}", error.message);

    let dir = tempfile::tempdir().unwrap();
    let empty = api::Api::new(dir.path().join("cg.db"));
    let error = api::recharge::recharge_check(
        &empty,
        &InvoiceRequest {
            invoice_number: "INV-1".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, ApiErrorCode::NotConnected);
}
