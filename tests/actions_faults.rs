//! Every sandbox fault on the create of a refund and of a re-charge, through the real
//! `chargeguard` binary: once with a client that does not retry (`--http-attempts 1`), so
//! the action is left `unknown` and `recover` settles it; once with the default retries,
//! which absorb a fault that strikes once under the same key. And the path after the
//! gateway forgot the key (more than 23 hours later): recovery finds the object by its key
//! in metadata, or hands the action to a person, and never sends again.
//!
//! Each case checks at the sandbox that exactly one refund or charge exists (or none where
//! none may), that nothing was ever made under a second key, and that the action's state,
//! its audit trail, the audit chain and the books say the same.

mod kill_support;

use chargeguard::gateway::stripe::StripeClient;
use chargeguard::secret::SecretKey;
use chargeguard::store::Store;
use kill_support::{API_KEY, Kind, World};
use rstest::rstest;
use serde_json::{Value, json};

/// What the gateway holds when the client gives up.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Gateway {
    /// The fault struck before the effect: nothing happened.
    Untouched,
    /// The effect committed; only its answer was lost, late or replaced.
    Committed,
}

/// Timeout faults hold longer than the client waits (`--http-timeout 2`).
const HOLD_MS: u64 = 3000;

const TRAIL_UNKNOWN: [&str; 6] = [
    "action_proposed",
    "action_approval",
    "action_approved",
    "action_executing",
    "action_unknown",
    "action_succeeded",
];

#[rstest]
#[case::lose_response_after_commit("lose_response_after_commit", None, Gateway::Committed)]
#[case::timeout_before_commit("timeout_before_commit", Some(HOLD_MS), Gateway::Untouched)]
#[case::timeout_after_commit("timeout_after_commit", Some(HOLD_MS), Gateway::Committed)]
#[case::error_500_before_commit("error_500_before_commit", None, Gateway::Untouched)]
#[case::error_500_after_commit("error_500_after_commit", None, Gateway::Committed)]
#[case::error_503_before_commit("error_503_before_commit", None, Gateway::Untouched)]
#[case::rate_limit("rate_limit", None, Gateway::Untouched)]
fn a_fault_with_no_retry_leaves_the_action_unknown_and_recover_settles_it_once(
    #[case] fault: &str,
    #[case] hold_ms: Option<u64>,
    #[case] gateway: Gateway,
    #[values(Kind::Refund, Kind::Recharge)] kind: Kind,
) {
    let world = World::new();
    let id = world.approved(kind);
    let key = world.action(id)["key"].clone();
    world.arm(kind, fault, hold_ms);

    let out = world.run(&[
        "--http-attempts",
        "1",
        "--http-timeout",
        "2",
        "execute",
        &id.to_string(),
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "outcome unknown: {said}");
    assert!(said.contains("run `chargeguard recover`"), "{said}");
    assert_eq!(world.state(id), "unknown");
    let expected = match gateway {
        Gateway::Untouched => 0,
        Gateway::Committed => 1,
    };
    assert_eq!(world.made(kind).len(), expected, "after {fault}");

    // The scheduled `recover` (default retries): looked up by key, or replayed with it.
    let report: Value =
        serde_json::from_str(&world.ok(&["--json", "--http-timeout", "2", "recover"]))
            .expect("json");
    assert_eq!(report["succeeded"], json!(1), "{report}");
    assert_eq!(report["still_unknown"], json!(0), "{report}");

    world.assert_done_exactly_once(kind, id);
    assert_eq!(
        world.action(id)["key"],
        key,
        "the journal's key never changes"
    );
    assert_eq!(world.audit_events(id), TRAIL_UNKNOWN);
    // Recovering again, or executing again, changes nothing and sends nothing.
    let again: Value = serde_json::from_str(&world.ok(&["--json", "recover"])).expect("json");
    assert_eq!(again["examined"], json!(0), "{again}");
    let done = world.ok(&["execute", &id.to_string()]);
    assert!(done.contains("nothing was sent again"), "{done}");
    world.assert_done_exactly_once(kind, id);
    world.assert_audit_holds();
    world.assert_books_tie_out(kind);
}

#[rstest]
#[case::lose_response_after_commit("lose_response_after_commit", None)]
#[case::timeout_before_commit("timeout_before_commit", Some(HOLD_MS))]
#[case::timeout_after_commit("timeout_after_commit", Some(HOLD_MS))]
#[case::error_500_before_commit("error_500_before_commit", None)]
#[case::error_500_after_commit("error_500_after_commit", None)]
#[case::error_503_before_commit("error_503_before_commit", None)]
#[case::rate_limit("rate_limit", None)]
fn a_fault_striking_once_is_absorbed_by_the_retry_under_the_same_key(
    #[case] fault: &str,
    #[case] hold_ms: Option<u64>,
    #[values(Kind::Refund, Kind::Recharge)] kind: Kind,
) {
    let world = World::new();
    let id = world.approved(kind);
    world.arm(kind, fault, hold_ms);

    let done = world.ok(&["--http-timeout", "2", "execute", &id.to_string()]);
    assert!(done.contains("done"), "{done}");

    world.assert_done_exactly_once(kind, id);
    assert_eq!(
        world.audit_events(id),
        [
            "action_proposed",
            "action_approval",
            "action_approved",
            "action_executing",
            "action_succeeded",
        ]
    );
    world.assert_audit_holds();
    world.assert_books_tie_out(kind);
}

/// How a recovery run 24 hours after the first send ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Late {
    /// The object is at the gateway: found by its key in metadata, settled from it.
    FoundByKeyInMetadata,
    /// Nothing at the gateway and the key is too old to replay: a person decides.
    NeedsReview,
}

#[rstest]
#[case::the_object_is_found_by_its_key_in_metadata(
    "lose_response_after_commit",
    Late::FoundByKeyInMetadata
)]
#[case::nothing_is_there_so_a_person_reviews_it("error_500_before_commit", Late::NeedsReview)]
fn a_day_later_recovery_looks_the_object_up_and_never_sends_again(
    #[case] fault: &str,
    #[case] late: Late,
    #[values(Kind::Refund, Kind::Recharge)] kind: Kind,
) {
    let world = World::new();
    let id = world.approved(kind);
    world.arm(kind, fault, None);
    let out = world.run(&["--http-attempts", "1", "execute", &id.to_string()]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(world.state(id), "unknown");

    // Nobody ran `recover` for a day: Stripe has forgotten the key.
    world.forget_keys();
    assert_eq!(world.stats()["idempotency_keys"], json!(0));
    let a_day_later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
    let report = {
        let mut store = Store::open(&world.db).expect("store");
        let client = StripeClient::new(
            &world.base,
            SecretKey::new(API_KEY).expect("key"),
            std::time::Duration::from_secs(10),
        )
        .expect("client");
        world
            .rt
            .block_on(chargeguard::actions::recover(
                &mut store,
                &client,
                a_day_later,
            ))
            .expect("recovery runs")
    };
    assert_eq!(report.examined, 1);
    assert_eq!(
        world.stats()["idempotency_keys"],
        json!(0),
        "recovery sent nothing: a send would have left its key at the gateway"
    );

    let mut trail = vec![
        "action_proposed",
        "action_approval",
        "action_approved",
        "action_executing",
        "action_unknown",
    ];
    match late {
        Late::FoundByKeyInMetadata => {
            assert_eq!(report.succeeded, 1);
            world.assert_done_exactly_once_sending_nothing_since_keys_were_forgotten(kind, id);
            trail.push("action_succeeded");
        }
        Late::NeedsReview => {
            assert_eq!(report.needs_review, 1);
            assert_eq!(world.state(id), "needs_review");
            assert_eq!(world.made(kind).len(), 0, "nothing was re-sent");
            let outcome = world.action(id)["outcome"]
                .as_str()
                .unwrap_or("")
                .to_string();
            assert!(outcome.contains("too old to replay"), "{outcome}");
            trail.push("action_needs_review");
            // Later runs leave it to the person: no replay, no new key.
            let again: Value =
                serde_json::from_str(&world.ok(&["--json", "recover"])).expect("json");
            assert_eq!(again["examined"], json!(0), "{again}");
            let out = world.run(&["execute", &id.to_string()]);
            assert_ne!(out.status.code(), Some(0), "a second execute is refused");
            assert_eq!(world.made(kind).len(), 0);
            assert_eq!(world.stats()["idempotency_keys"], json!(0));
        }
    }
    assert_eq!(world.audit_events(id), trail);
    world.assert_audit_holds();
}

/// How the decline reaches Chargeguard.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Decline {
    /// The gateway answers 402 `card_declined`.
    Answered,
    /// The decline is recorded at the gateway, its answer lost: recovery finds the payment
    /// intent by its key and reads the decline from it.
    AnswerLost,
}

#[rstest]
#[case::answered(Decline::Answered)]
#[case::answer_lost(Decline::AnswerLost)]
fn a_declined_recharge_fails_once_and_only_then_the_next_attempt_gets_a_new_key(
    #[case] decline: Decline,
) {
    let world = World::with_recharge_card("pm_card_chargeDeclined");
    let id = world.approved(Kind::Recharge);
    let key = world.action(id)["key"].as_str().expect("key").to_string();
    let mut trail = vec![
        "action_proposed",
        "action_approval",
        "action_approved",
        "action_executing",
    ];
    match decline {
        Decline::Answered => {
            let out = world.run(&["execute", &id.to_string()]);
            let said = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(1), "refused: {said}");
            assert!(said.contains("declined"), "{said}");
        }
        Decline::AnswerLost => {
            world.arm(Kind::Recharge, "lose_response_after_commit", None);
            let out = world.run(&["--http-attempts", "1", "execute", &id.to_string()]);
            assert_eq!(out.status.code(), Some(3));
            trail.push("action_unknown");
            let report: Value =
                serde_json::from_str(&world.ok(&["--json", "recover"])).expect("json");
            assert_eq!(report["failed"], json!(1), "{report}");
        }
    }
    trail.push("action_failed");
    assert_eq!(world.state(id), "failed");
    assert_eq!(world.audit_events(id), trail);

    // One attempt at the gateway, declined, under the action's key; no money moved.
    let made = world.made(Kind::Recharge);
    assert_eq!(made.len(), 1, "{made:#?}");
    assert_eq!(made[0]["metadata"]["idempotency_key"], json!(key));
    assert_eq!(made[0]["status"], json!("requires_payment_method"));
    let charges = world.api("/v1/charges?customer=cus_brio&limit=100");
    assert!(
        charges["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|c| c["status"] == json!("failed")),
        "{charges:#}"
    );
    world.assert_nothing_under_another_key(&key);

    // A definite decline frees the invoice: the next re-charge is attempt 2, a new key.
    let next: Value =
        serde_json::from_str(&world.ok(&["--json", "recharge", "INV-2"])).expect("json");
    assert_eq!(next["attempt"], json!(2), "{next}");
    assert_ne!(next["key"], json!(key));
    world.assert_audit_holds();
}
