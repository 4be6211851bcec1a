//! The demo keeps its books in its sandbox's Xero stand-in, as a business on Xero does:
//! they are synced in from there, and a finding's books' side is fixed there, once, through
//! the same journal as the refund at Stripe. Checked by reading the stand-in as a person
//! working in Xero would (another app's grant), never through Chargeguard's own client.

use crate::api_support;

use api_support::{approve_as_alice, demo, execute_as};
use chargeguard::api;
use chargeguard::api::json::*;
use chargeguard::demo::xero::{DEMO_ORGANISATION, DEMO_TENANT};
use serde_json::Value;

/// The stand-in's invoice `number`, read with a grant of the test's own.
async fn invoice_in_xero(base: &str, number: &str) -> Value {
    let token = api_support::harness::admin_access_token(
        &format!(
            "{base}/identity/connect/authorize?response_type=code&client_id=admin&redirect_uri=http://localhost/cb&scope=offline_access%20accounting.transactions%20accounting.settings"
        ),
        &format!("{base}/connect/token"),
    )
    .await;
    let listed: Value = reqwest::Client::new()
        .get(format!("{base}/api.xro/2.0/Invoices"))
        .query(&[("InvoiceNumbers", number)])
        .bearer_auth(token)
        .header("xero-tenant-id", DEMO_TENANT)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let invoices = listed["Invoices"].as_array().expect("a list of invoices");
    assert_eq!(invoices.len(), 1, "{listed}");
    invoices[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_duplicate_invoice_is_refunded_at_stripe_and_undone_in_its_xero_books() {
    let demo = demo();
    let (api, sandbox) = demo.connect().await;
    let settings = api::books::books_status(&api).unwrap();
    let connection = settings
        .connection
        .expect("the demo keeps its books in Xero");
    assert!(
        connection.name.contains(DEMO_ORGANISATION),
        "{connection:?}"
    );

    let duplicate = api::findings(
        &api,
        &FindingsQuery {
            kind: Some(FindingKind::DuplicateInvoice),
            ..Default::default()
        },
    )
    .unwrap()
    .remove(0);
    let number = duplicate.invoice_number.clone().unwrap();
    let before = invoice_in_xero(&sandbox.base_url(), &number).await;
    assert_eq!(before["Status"], "PAID", "{before}");

    let action = api::propose(
        &api,
        &ProposeRequest {
            finding_id: duplicate.id,
            by: "bob".into(),
        },
    )
    .unwrap();
    // The fix says where its books' side will be written before anyone approves it.
    assert!(
        action.destination.contains(DEMO_ORGANISATION),
        "{}",
        action.destination
    );
    let approved = approve_as_alice(&api, action.id, true);
    assert_eq!(approved.action.state, ActionState::Approved);
    let executed = execute_as(&api, action.id, "bob").await;
    assert_eq!(
        executed.action.state,
        ActionState::Succeeded,
        "{executed:?}"
    );
    assert!(
        !executed.follow_ups.is_empty()
            && executed
                .follow_ups
                .iter()
                .all(|f| f.state == ActionState::Succeeded && f.follow_up_of == Some(action.id)),
        "{:#?}",
        executed.follow_ups
    );
    // Pressed again: nothing more is made anywhere.
    let made = api::actions_list(&api).unwrap().len();
    let again = execute_as(&api, action.id, "another-window").await;
    assert!(
        again.message.contains("already succeeded"),
        "{}",
        again.message
    );
    assert_eq!(api::actions_list(&api).unwrap().len(), made);

    // In Xero: the payment of the refunded charge reversed, the invoice voided, once.
    let after = invoice_in_xero(&sandbox.base_url(), &number).await;
    assert_eq!(after["Status"], "VOIDED", "{after}");
    assert_eq!(
        after["Payments"].as_array().map(Vec::len),
        Some(0),
        "{after}"
    );
    let actions = api::actions_list(&api).unwrap();
    let pushed: Vec<&ActionView> = actions
        .iter()
        .filter(|a| a.follow_up_of == Some(action.id))
        .collect();
    // Paid there: its payment reversed, then the invoice voided; each once.
    assert_eq!(pushed.len(), 2, "{pushed:#?}");
    assert!(
        pushed.iter().all(|a| a.state == ActionState::Succeeded
            && a.gateway_object_id.is_some()
            && a.destination.contains(DEMO_ORGANISATION)),
        "{pushed:#?}"
    );
    assert!(api::audit_verify(&api).unwrap().holds);
    sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recharge_of_a_xero_invoice_charges_stripes_customer_and_records_the_payment_in_xero() {
    let demo = demo();
    let (api, sandbox) = demo.connect().await;
    let invoice = api::recharge::recharge_candidates(&api, &Default::default()).unwrap()[0]
        .invoice_number
        .clone();
    let before = invoice_in_xero(&sandbox.base_url(), &invoice).await;
    assert_eq!(before["Status"], "AUTHORISED", "{before}");
    let action = api::recharge::recharge_propose(
        &api,
        &api::recharge::RechargeProposeRequest {
            invoice_number: invoice.clone(),
            by: "bob".into(),
        },
    )
    .await
    .unwrap();
    approve_as_alice(&api, action.id, false);
    let executed = execute_as(&api, action.id, "bob").await;
    assert_eq!(
        executed.action.state,
        ActionState::Succeeded,
        "{executed:?}"
    );
    assert!(
        executed.follow_ups.len() == 1 && executed.follow_ups[0].state == ActionState::Succeeded,
        "{:#?}",
        executed.follow_ups
    );
    let paid_with = executed.action.gateway_object_id.clone().unwrap();

    let after = invoice_in_xero(&sandbox.base_url(), &invoice).await;
    assert_eq!(after["Status"], "PAID", "{after}");
    let payments = after["Payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1, "{after}");
    // It names the charge Stripe made for the re-charge, and carries the follow-up's key
    // (what recovery finds it by).
    let reference = payments[0]["Reference"].as_str().unwrap();
    let (charge, rest) = reference.split_once(' ').unwrap_or((reference, ""));
    assert!(
        rest.contains(&executed.follow_ups[0].key),
        "{reference} carries {}",
        executed.follow_ups[0].key
    );
    let at_stripe: Value = reqwest::Client::new()
        .get(format!("{}/v1/charges/{charge}", sandbox.base_url()))
        .bearer_auth(chargeguard::demo::sandbox::DEMO_SANDBOX_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        at_stripe["payment_intent"],
        paid_with.as_str(),
        "{at_stripe}"
    );
    sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fix_the_demo_proposes_is_made_once_and_its_books_side_goes_to_xero() {
    let demo = demo();
    let (api, sandbox) = demo.connect().await;
    let [(ada, ada_passphrase), _] = chargeguard::demo::DEMO_APPROVERS;
    let open = api::findings(&api, &FindingsQuery::default()).unwrap();
    let mut fixed = Vec::new();
    for finding in &open {
        let Ok(action) = api::propose(
            &api,
            &ProposeRequest {
                finding_id: finding.id,
                by: "bob".into(),
            },
        ) else {
            // A person deals with it (a payout, a charge no invoice matches): no fix.
            continue;
        };
        let approved = approve_as_alice(&api, action.id, true);
        if approved.approvals < approved.needed {
            // Above the threshold: the demo's own approver is the second.
            api::approve(
                &api,
                &ApproveRequest {
                    action_id: action.id,
                    name: ada.into(),
                    passphrase: ada_passphrase.into(),
                    heuristic_checked: true,
                },
            )
            .unwrap();
        }
        let executed = execute_as(&api, action.id, "bob").await;
        assert_eq!(
            executed.action.state,
            ActionState::Succeeded,
            "{:?} {executed:#?}",
            finding.kind
        );
        // A ledger fix, or a gateway fix's books' side, was made in the demo's Xero, except
        // a payment's amount, which neither Xero nor Chargeguard changes there: it stays
        // Chargeguard's adjustment, entered by hand.
        let in_xero = |a: &ActionView| a.destination.contains(DEMO_ORGANISATION);
        if executed.action.kind == "ledger_fix" {
            assert_eq!(
                in_xero(&executed.action),
                finding.kind != FindingKind::AmountMismatch,
                "{:?}: {}",
                finding.kind,
                executed.action.destination
            );
        }
        assert!(
            executed
                .follow_ups
                .iter()
                .all(|f| f.state == ActionState::Succeeded && in_xero(f)),
            "{:?}: {:#?}",
            finding.kind,
            executed.follow_ups
        );
        fixed.push((finding.id, finding.kind));
    }
    for kind in [
        FindingKind::DoubleCharge,
        FindingKind::OrphanCharge,
        FindingKind::MissingCharge,
        FindingKind::AmountMismatch,
        FindingKind::UnrecordedRefund,
        FindingKind::DuplicateInvoice,
    ] {
        assert!(
            fixed.iter().any(|(_, k)| *k == kind),
            "no {kind:?} was fixed: {fixed:?}"
        );
    }

    // The books synced again from Xero show every fix: none of them is found again.
    api::sync_now(&api).await.unwrap();
    let still: Vec<FindingRow> = api::findings(
        &api,
        &FindingsQuery {
            status: Some(FindingStatus::Open),
            ..Default::default()
        },
    )
    .unwrap();
    let fixed_again: Vec<&FindingRow> = still
        .iter()
        .filter(|f| fixed.iter().any(|(id, _)| *id == f.id))
        .collect();
    assert!(fixed_again.is_empty(), "{fixed_again:#?}");
    assert!(api::audit_verify(&api).unwrap().holds);
    sandbox.shutdown().await.unwrap();
}
