//! The API the windows call (`chargeguard::api`), on the demo store with its sandbox
//! gateway over real loopback HTTP: what the Today screen counts, the findings filters,
//! one finding's evidence and fix, and the morning — propose, approve, execute — with the
//! errors a window branches on, and one refund however many times Execute is pressed.

use crate::api_support;

use api_support::{APPROVER, PASSPHRASE, control, demo, stats};
use chargeguard::api::json::*;
use chargeguard::api::{self, ApiErrorCode};
use rstest::rstest;

fn by_kind(today: &Today, kind: FindingKind) -> &KindTotal {
    today
        .open_by_kind
        .iter()
        .find(|k| k.kind == kind)
        .expect("every kind is listed")
}

#[test]
fn today_counts_the_demo_findings_with_money_per_currency_never_mixed() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    let today = api::today(&api).unwrap();
    assert!(today.demo, "the demo store is marked as demo data");
    assert!(today.gateway.is_some(), "the demo store is connected");
    assert_eq!(today.open_findings, 21);
    assert_eq!(
        today.open_by_kind.len(),
        12,
        "every kind is listed, the bank's four and the disputes' two included"
    );
    let doubles = by_kind(&today, FindingKind::DoubleCharge);
    assert_eq!(doubles.count, 4);
    // Two EUR double charges of 45.00 add up; JPY and KWD stay apart, with their exponents.
    let amounts: Vec<(&str, &str, u32)> = doubles
        .amounts
        .iter()
        .map(|a| (a.currency.as_str(), a.minor.as_str(), a.exponent))
        .collect();
    assert_eq!(
        amounts,
        vec![("EUR", "9000", 2), ("JPY", "12000", 0), ("KWD", "12500", 3)]
    );
    assert!(!today.coverage.is_empty(), "the export's window is covered");
}

#[rstest]
#[case::everything(FindingsQuery::default(), 21)]
#[case::double_charges(FindingsQuery { kind: Some(FindingKind::DoubleCharge), ..Default::default() }, 4)]
#[case::heuristic_only(FindingsQuery { confidence: Some(Confidence::Heuristic), ..Default::default() }, 4)]
// The demo's books come from its Xero stand-in, whose invoices carry no order reference:
// a duplicate invoice is found by customer, amount and time, a guess.
#[case::heuristic_duplicates(FindingsQuery { kind: Some(FindingKind::DuplicateInvoice), confidence: Some(Confidence::Heuristic), ..Default::default() }, 2)]
// Xero's contacts are not Stripe's customers: no charge is guessed to be an invoice's.
#[case::no_orphan_guessed(FindingsQuery { kind: Some(FindingKind::OrphanCharge), confidence: Some(Confidence::Heuristic), ..Default::default() }, 0)]
#[case::resolved_none_yet(FindingsQuery { status: Some(FindingStatus::Resolved), ..Default::default() }, 0)]
fn findings_filters(#[case] query: FindingsQuery, #[case] expected: usize) {
    let demo = demo();
    let rows = api::findings(&api::Api::new(&demo.db), &query).unwrap();
    assert_eq!(rows.len(), expected, "{query:?}");
    for row in &rows {
        if let Some(kind) = query.kind {
            assert_eq!(row.kind, kind);
        }
        if let Some(c) = query.confidence {
            assert_eq!(row.confidence, c);
        }
    }
}

/// The window reads the queue a page at a time: the pages, in order, are the whole queue
/// once, and the filters hold on every page.
#[rstest]
#[case::everything(FindingsQuery::default())]
#[case::open_heuristic(FindingsQuery { status: Some(FindingStatus::Open), confidence: Some(Confidence::Heuristic), ..Default::default() })]
#[case::double_charges(FindingsQuery { kind: Some(FindingKind::DoubleCharge), ..Default::default() })]
fn the_queue_in_pages_is_the_whole_queue_once(#[case] query: FindingsQuery) {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    let whole = api::findings(&api, &query).unwrap();
    assert!(!whole.is_empty());
    let mut paged: Vec<FindingRow> = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = api::findings(
            &api,
            &FindingsQuery {
                limit: Some(1),
                after,
                ..query.clone()
            },
        )
        .unwrap();
        assert!(page.len() <= 1);
        pages += 1;
        assert!(pages <= whole.len() + 1, "paging never ends: {query:?}");
        paged.extend(page.iter().cloned());
        match page.last() {
            Some(last) => after = Some(last.id),
            None => break,
        }
    }
    assert_eq!(paged, whole, "{query:?}");
    assert_eq!(pages, whole.len() + 1);
}

/// Today's totals are the open queue's, kind by kind and currency by currency.
#[test]
fn today_adds_up_the_open_queue() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    // A resolved finding is not counted: dismiss a double charge first.
    let dismissed = first_double_charge(&api);
    api::dismiss(
        &api,
        &DismissRequest {
            finding_id: dismissed.id,
            by: "bookkeeper".into(),
            reason: "refunded by hand at the bank".into(),
        },
    )
    .unwrap();
    let today = api::today(&api).unwrap();
    assert_eq!(today.open_findings, 20, "21 planted, one dismissed");
    let open = api::findings(
        &api,
        &FindingsQuery {
            status: Some(FindingStatus::Open),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(today.open_findings as usize, open.len());
    for total in &today.open_by_kind {
        let rows: Vec<&FindingRow> = open.iter().filter(|f| f.kind == total.kind).collect();
        assert_eq!(total.count as usize, rows.len(), "{:?}", total.kind);
        let mut sums: Vec<(String, i128)> = Vec::new();
        for row in rows {
            let minor: i128 = row.amount.minor.parse().unwrap();
            match sums.iter_mut().find(|(c, _)| *c == row.amount.currency) {
                Some((_, sum)) => *sum += minor,
                None => sums.push((row.amount.currency.clone(), minor)),
            }
        }
        sums.sort();
        let shown: Vec<(String, i128)> = total
            .amounts
            .iter()
            .map(|a| (a.currency.clone(), a.minor.parse().unwrap()))
            .collect();
        assert_eq!(shown, sums, "{:?}", total.kind);
    }
}

/// A double charge under the approval threshold (one approver is enough): the demo's EUR
/// one.
fn first_double_charge(api: &api::Api) -> FindingRow {
    api::findings(
        api,
        &FindingsQuery {
            kind: Some(FindingKind::DoubleCharge),
            status: Some(FindingStatus::Open),
            confidence: None,
            ..Default::default()
        },
    )
    .unwrap()
    .into_iter()
    .find(|f| f.amount.currency == "EUR")
    .expect("the demo holds a EUR double charge")
}

#[test]
fn a_double_charge_shows_its_evidence_side_by_side_and_one_refund() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    let row = first_double_charge(&api);
    let detail = api::finding(&api, &IdRequest { id: row.id }).unwrap();
    let invoice = detail.evidence.invoice.expect("the invoice is shown");
    assert_eq!(Some(&invoice.number), row.invoice_number.as_ref());
    assert_eq!(
        detail.evidence.charges.len(),
        2,
        "the kept and the surplus charge"
    );
    let roles: Vec<&str> = detail
        .evidence
        .charges
        .iter()
        .map(|c| c.role.as_str())
        .collect();
    assert!(
        roles.contains(&"kept") && roles.contains(&"surplus"),
        "{roles:?}"
    );
    assert!(!detail.evidence.ledger_entries.is_empty());
    let fix = detail.fix.expect("a double charge has a fix");
    assert_eq!(fix.kind, "refund");
    assert!(fix.moves_money);
    assert_eq!(fix.amount, row.amount);
    assert!(
        fix.description.contains(&row.charge_ids[0]),
        "{}",
        fix.description
    );
}

#[test]
fn dismissing_needs_a_reason() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    let row = first_double_charge(&api);
    let refused = api::dismiss(
        &api,
        &DismissRequest {
            finding_id: row.id,
            by: "bob".into(),
            reason: "  ".into(),
        },
    )
    .unwrap_err();
    assert_eq!(refused.code, ApiErrorCode::InvalidInput);
    assert!(refused.message.contains("reason"), "{}", refused.message);
    let dismissed = api::dismiss(
        &api,
        &DismissRequest {
            finding_id: row.id,
            by: "bob".into(),
            reason: "the customer asked to keep it as credit".into(),
        },
    )
    .unwrap();
    assert_eq!(dismissed.status, FindingStatus::Resolved);
    assert_eq!(dismissed.resolution, Some(Resolution::Dismissed));
    assert!(api::audit_verify(&api).unwrap().holds);
}

#[test]
fn a_heuristic_fix_is_not_approved_until_a_person_checked_the_match() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    let heuristic = api::findings(
        &api,
        &FindingsQuery {
            kind: Some(FindingKind::DuplicateInvoice),
            confidence: Some(Confidence::Heuristic),
            ..Default::default()
        },
    )
    .unwrap()
    .remove(0);
    let action = api::propose(
        &api,
        &ProposeRequest {
            finding_id: heuristic.id,
            by: "bob".into(),
        },
    )
    .unwrap();
    let mut request = ApproveRequest {
        action_id: action.id,
        name: APPROVER.into(),
        passphrase: PASSPHRASE.into(),
        heuristic_checked: false,
    };
    let refused = api::approve(&api, &request).unwrap_err();
    assert_eq!(refused.code, ApiErrorCode::HeuristicUnchecked);
    request.heuristic_checked = true;
    assert_eq!(
        api::approve(&api, &request).unwrap().action.state,
        ActionState::Approved
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_morning_propose_approve_execute_refunds_once_however_often_execute_is_pressed() {
    let demo = demo();
    let (api, sandbox) = demo.connect().await;
    let refunds_before = stats(&sandbox).await["refunds"].as_i64().unwrap();
    let row = first_double_charge(&api);

    let action = api::propose(
        &api,
        &ProposeRequest {
            finding_id: row.id,
            by: "bob".into(),
        },
    )
    .unwrap();
    assert_eq!(action.state, ActionState::Proposed);
    assert_eq!(action.state_words, "waiting for approval");
    // The approval screen shows what the approval takes, in the action's own currency.
    assert_eq!(action.approvals_needed, 1);
    assert_eq!(
        action.threshold.as_ref().map(|t| t.words.as_str()),
        Some("above 450.00 EUR two approvers are needed")
    );
    // A second press of Propose is the same action.
    let again = api::propose(
        &api,
        &ProposeRequest {
            finding_id: row.id,
            by: "bob".into(),
        },
    )
    .unwrap();
    assert_eq!((again.id, &again.key), (action.id, &action.key));

    let wrong = api::approve(
        &api,
        &ApproveRequest {
            action_id: action.id,
            name: APPROVER.into(),
            passphrase: "not the passphrase".into(),
            heuristic_checked: false,
        },
    )
    .unwrap_err();
    assert_eq!(wrong.code, ApiErrorCode::WrongPassphrase);
    let approved = api::approve(
        &api,
        &ApproveRequest {
            action_id: action.id,
            name: APPROVER.into(),
            passphrase: PASSPHRASE.into(),
            heuristic_checked: false,
        },
    )
    .unwrap();
    assert_eq!(approved.action.state, ActionState::Approved);
    assert_eq!(approved.action.approvers, vec![APPROVER.to_string()]);

    // Three presses of Execute at once, as three windows would.
    let request = ExecuteRequest {
        action_id: action.id,
        by: "bob".into(),
    };
    let presses = (0..3).map(|_| {
        let (api, request) = (api.clone(), request.clone());
        tokio::spawn(async move { api::execute(&api, &request).await })
    });
    let results: Vec<_> = futures_join(presses).await;
    let succeeded = results
        .iter()
        .filter(|r| matches!(r, Ok(e) if e.action.state == ActionState::Succeeded))
        .count();
    assert!(succeeded >= 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.code, ApiErrorCode::AlreadyInProgress, "{e:?}");
        }
    }
    // And once more afterwards: it says so and sends nothing.
    let late = api::execute(&api, &request).await.unwrap();
    assert!(
        late.message.contains("already succeeded"),
        "{}",
        late.message
    );

    let refunds_after = stats(&sandbox).await["refunds"].as_i64().unwrap();
    assert_eq!(
        refunds_after - refunds_before,
        1,
        "exactly one refund at the gateway"
    );

    let detail = api::finding(&api, &IdRequest { id: row.id }).unwrap();
    assert_eq!(detail.finding.status, FindingStatus::Resolved);
    assert_eq!(detail.finding.resolution, Some(Resolution::Fixed));
    assert_eq!(detail.actions[0].state, ActionState::Succeeded);
    assert!(
        detail.actions[0]
            .gateway_object_id
            .as_deref()
            .is_some_and(|id| id.starts_with("re_"))
    );
    let today = api::today(&api).unwrap();
    assert_eq!(by_kind(&today, FindingKind::DoubleCharge).count, 3);
    assert!(api::audit_verify(&api).unwrap().holds);
    sandbox.shutdown().await.unwrap();
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.expect("task ends"));
    }
    out
}

fn is_about_a_dispute(kind: FindingKind) -> bool {
    matches!(
        kind,
        FindingKind::DisputeInvoiceStillPaid | FindingKind::DisputeLostUnrecorded
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncing_the_demo_from_its_sandbox_finds_exactly_what_the_demo_planted() {
    let demo = demo();
    let (api, sandbox) = demo.connect().await;
    let before = api::findings(&api, &FindingsQuery::default()).unwrap();
    let synced = api::sync_now(&api).await.unwrap();
    assert!(
        synced
            .message
            .starts_with("synced: 0 new charges, 18 new refunds, 0 changed"),
        "the export's refunds arrive as refund objects: {synced:?}"
    );
    let after = api::findings(&api, &FindingsQuery::default()).unwrap();
    // The export states each chargeback without Stripe's dispute id; the sync brings the
    // dispute itself, which takes its place: the same findings, now naming it.
    let disputes = |rows: &[FindingRow]| -> Vec<FindingRow> {
        rows.iter()
            .filter(|f| is_about_a_dispute(f.kind))
            .cloned()
            .collect()
    };
    let others = |rows: &[FindingRow]| -> Vec<FindingRow> {
        rows.iter()
            .filter(|f| !is_about_a_dispute(f.kind))
            .cloned()
            .collect()
    };
    assert_eq!(
        others(&before),
        others(&after),
        "the sandbox holds the same books as the export"
    );
    let (was, now) = (disputes(&before), disputes(&after));
    assert_eq!(now.len(), 2, "the demo's two chargebacks: {now:?}");
    for (was, now) in was.iter().zip(&now) {
        assert_eq!(
            (was.id, was.kind, &was.charge_ids, &was.amount, was.status),
            (now.id, now.kind, &now.charge_ids, &now.amount, now.status),
            "the same finding, not a new one"
        );
        assert!(was.reason.contains("payments export"), "{}", was.reason);
        let detail = api::finding(&api, &IdRequest { id: now.id }).unwrap();
        let dispute = detail.evidence.dispute.expect("a dispute's evidence");
        let id = dispute.id.expect("Stripe's id, once synced");
        assert!(id.starts_with("du_"), "{id}");
        assert!(now.reason.contains(&id), "{}", now.reason);
    }
    let today = api::today(&api).unwrap();
    assert!(today.last_sync.is_some());
    sandbox.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_a_gateway_says_to_connect_one() {
    let dir = tempfile::tempdir().unwrap();
    let api = api::Api::new(dir.path().join("empty.db"));
    let e = api::sync_now(&api).await.unwrap_err();
    assert_eq!(e.code, ApiErrorCode::NotConnected);
    assert!(e.message.contains("Settings"), "{}", e.message);
    let today = api::today(&api).unwrap();
    assert!(!today.demo);
    assert_eq!(today.open_findings, 0);
}

/// `chargeguard ui-server`'s API on loopback, as `ui-server` serves it, with its secret.
async fn served(api: api::Api) -> (String, api::http::ApiSecret) {
    let secret = api::http::ApiSecret::generate();
    let (listener, bound) = api::http::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let router = api::http::router(api, None, secret.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{bound}"), secret)
}

#[tokio::test]
async fn a_web_page_elsewhere_cannot_drive_the_api_only_its_own_window_can() {
    let demo = demo();
    let (base, secret) = served(api::Api::new(&demo.db)).await;
    let open = || api::today(&api::Api::new(&demo.db)).unwrap().open_findings;
    let before = open();
    let finding = api::findings(&api::Api::new(&demo.db), &FindingsQuery::default()).unwrap()[0].id;
    let dismiss =
        serde_json::json!({"finding_id": finding, "by": "attacker", "reason": "x"}).to_string();
    let client = reqwest::Client::new();
    let url = format!("{base}/api/dismiss");
    let bearer = format!("Bearer {}", secret.reveal());
    // (what is sent, the status refused with): a form a page posts cross-site needs no
    // preflight; a page cannot read the secret, nor set Authorization without a preflight.
    let attempts = [
        (
            client
                .post(&url)
                .header("content-type", "text/plain")
                .header("origin", "https://evil.example"),
            403,
        ),
        (
            client.post(&url).header("content-type", "application/json"),
            401,
        ),
        (
            client
                .post(&url)
                .header("content-type", "application/json")
                .header("authorization", "Bearer 00"),
            401,
        ),
        (
            client
                .post(&url)
                .header("content-type", "text/plain")
                .header("authorization", &bearer),
            415,
        ),
        (
            client
                .post(&url)
                .header("content-type", "application/json")
                .header("authorization", &bearer)
                .header("origin", "https://evil.example"),
            403,
        ),
    ];
    for (request, status) in attempts {
        let answer = request.body(dismiss.clone()).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), status);
        assert!(
            answer
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "no CORS header, ever"
        );
    }
    assert_eq!(open(), before, "nothing was dismissed");

    // Its own window: the secret from the address, JSON, its own origin (or none).
    let own = client
        .post(format!("{base}/api/today"))
        .header("content-type", "application/json")
        .header("authorization", &bearer)
        .header("origin", &base)
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(own.status().as_u16(), 200);
    let today: Today = own.json().await.unwrap();
    assert_eq!(today.open_findings, before);
}

/// Sync now on the Today screen is the morning run the scheduled `check` is: a refund the
/// gateway made but whose answer was lost stays `unknown` after Execute, and the next
/// Sync now settles it from the gateway (recovery runs between sync and reconcile), with
/// no second refund.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_now_settles_an_action_whose_answer_was_lost() {
    let demo = demo();
    let (api, sandbox) = demo.connect().await;
    let row = first_double_charge(&api);
    let action = api::propose(
        &api,
        &ProposeRequest {
            finding_id: row.id,
            by: "bob".into(),
        },
    )
    .unwrap();
    api::approve(
        &api,
        &ApproveRequest {
            action_id: action.id,
            name: APPROVER.into(),
            passphrase: PASSPHRASE.into(),
            heuristic_checked: false,
        },
    )
    .unwrap();
    let refunds_before = stats(&sandbox).await["refunds"].as_i64().unwrap();
    control(&sandbox)
        .arm(serde_json::json!({
            "path": "/v1/refunds", "method": "POST",
            "fault": "lose_response_after_commit", "times": 100
        }))
        .await;
    let executed = api::execute(
        &api,
        &ExecuteRequest {
            action_id: action.id,
            by: "bob".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(executed.action.state, ActionState::Unknown, "{executed:?}");
    // Every retry under the key was committed once and its answer lost; the gateway
    // answers again from here on.
    control(&sandbox).disarm().await;
    assert_eq!(api::today(&api).unwrap().undecided_actions, 1);

    let synced = api::sync_now(&api).await.unwrap();
    assert!(
        synced.message.contains("Recovered 1 action"),
        "{}",
        synced.message
    );
    let detail = api::finding(&api, &IdRequest { id: row.id }).unwrap();
    assert_eq!(detail.actions[0].state, ActionState::Succeeded);
    assert_eq!(detail.finding.status, FindingStatus::Resolved);
    assert_eq!(api::today(&api).unwrap().undecided_actions, 0);
    assert_eq!(
        stats(&sandbox).await["refunds"].as_i64().unwrap() - refunds_before,
        1,
        "the gateway made one refund, whatever the client heard"
    );
    sandbox.shutdown().await.unwrap();
}
