//! `chargeguard execute` killed with SIGKILL at every point of the money path, for a refund
//! and a re-charge, then `recover` and `execute` again: the gateway holds exactly one
//! refund or charge, made under the journal's key, the action ends `succeeded` with its
//! audit trail, the audit chain holds and the books tie out.
//!
//! The points inside the process are `fail` failpoints (this test needs the binary built
//! with `--features failpoints`); "the request left" and "the gateway committed" are
//! outside it, so the sandbox holds the request (fault `slow` or `timeout_before_commit`)
//! or its answer (`timeout_after_commit`) while the test kills the process. The test
//! waits for the line an armed failpoint prints as it is reached, or polls the sandbox's
//! counters, never a fixed time.

#![cfg(feature = "failpoints")]

mod kill_support;

use kill_support::{Kind, World, wait_until};
use rstest::rstest;
use serde_json::{Value, json};

/// Where the process dies.
#[derive(Debug, Clone, Copy)]
enum Point {
    /// A failpoint inside `execute`.
    Failpoint(&'static str),
    /// The request is at the gateway, held before it commits; the gateway commits it after
    /// the client is gone (`slow`), or never (`timeout_before_commit`).
    InFlight { fault: &'static str },
    /// The gateway committed and holds the answer back.
    Committed,
}

/// What the gateway holds right after the kill.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AtKill {
    Nothing,
    /// Nothing yet, or the one object (the gateway is still working on it).
    NothingYetOrOne,
    One,
}

#[rstest]
#[case::before_journal(
    Point::Failpoint("execute.before_journal"),
    "approved",
    AtKill::Nothing
)]
#[case::after_journal(
    Point::Failpoint("execute.after_journal"),
    "executing",
    AtKill::Nothing
)]
#[case::before_send(Point::Failpoint("execute.before_send"), "executing", AtKill::Nothing)]
#[case::request_left_gateway_commits_later(
    Point::InFlight { fault: "slow" },
    "executing",
    AtKill::NothingYetOrOne
)]
#[case::request_left_gateway_never_commits(
    Point::InFlight { fault: "timeout_before_commit" },
    "executing",
    AtKill::Nothing
)]
#[case::gateway_committed(Point::Committed, "executing", AtKill::One)]
#[case::after_answer(Point::Failpoint("execute.after_answer"), "executing", AtKill::One)]
#[case::before_settle(Point::Failpoint("execute.before_settle"), "executing", AtKill::One)]
fn a_killed_execution_is_recovered_and_happens_exactly_once(
    #[case] point: Point,
    #[case] state_after_kill: &str,
    #[case] at_kill: AtKill,
    #[values(Kind::Refund, Kind::Recharge)] kind: Kind,
) {
    let world = World::new();
    let id = world.approved(kind);
    let key = world.action(id)["key"].clone();

    // Run it and kill it at the point.
    match point {
        Point::Failpoint(name) => {
            let spec = format!("{name}=sleep(120000)");
            let mut running = world.spawn_execute(id, Some(&spec), &[]);
            running.wait_for_line(&format!("failpoint {name} reached"));
            running.kill();
        }
        Point::InFlight { fault } => {
            world.arm(kind, fault, Some(1500));
            let mut running = world.spawn_execute(id, None, &[]);
            wait_until("the request holds its key at the gateway", || {
                world.stats()["idempotency_keys_running"] == json!(1)
            });
            assert!(running.alive(), "the client is waiting for its answer");
            running.kill();
        }
        Point::Committed => {
            world.arm(kind, "timeout_after_commit", Some(60_000));
            let before = world.made(kind).len();
            assert_eq!(before, 0);
            let mut running = world.spawn_execute(id, None, &[]);
            wait_until("the gateway committed the create", || {
                world.made(kind).len() == 1
            });
            assert!(running.alive(), "the answer is still held back");
            running.kill();
        }
    }

    assert_eq!(world.state(id), state_after_kill);
    let made = world.made(kind).len();
    match at_kill {
        AtKill::Nothing => assert_eq!(made, 0, "nothing reached the gateway"),
        AtKill::NothingYetOrOne => assert!(made <= 1),
        AtKill::One => assert_eq!(made, 1, "the gateway did it once"),
    }

    // A restart: recovery settles what the dead process left, and a second `execute`
    // (a retry, a double click) sends nothing again.
    let report: Value = serde_json::from_str(&world.ok(&["--json", "recover"])).expect("json");
    if state_after_kill == "approved" {
        assert_eq!(report["examined"], json!(0), "nothing undecided: {report}");
        assert_eq!(world.made(kind).len(), 0);
        let done = world.ok(&["execute", &id.to_string()]);
        assert!(done.contains("done"), "{done}");
    } else {
        assert_eq!(report["examined"], json!(1), "{report}");
        assert_eq!(report["succeeded"], json!(1), "{report}");
        let again = world.ok(&["execute", &id.to_string()]);
        assert!(again.contains("nothing was sent again"), "{again}");
    }

    world.assert_done_exactly_once(kind, id);
    assert_eq!(
        world.action(id)["key"],
        key,
        "the journal's key never changes"
    );
    let mut trail = vec![
        "action_proposed",
        "action_approval",
        "action_approved",
        "action_executing",
    ];
    if state_after_kill == "executing" {
        trail.push("action_unknown");
    }
    trail.push("action_succeeded");
    assert_eq!(world.audit_events(id), trail);
    world.assert_audit_holds();
    world.assert_books_tie_out(kind);
}

/// A `recover` (a scheduled run, a second window) while `execute` is alive and between the
/// journal and the answer leaves the action to it: the executor is not gone, so nothing is
/// replayed. Once it is killed, recovery takes over.
#[rstest]
fn recovery_leaves_a_live_execution_alone_and_takes_over_once_it_is_killed(
    #[values(Kind::Refund, Kind::Recharge)] kind: Kind,
) {
    let world = World::new();
    let id = world.approved(kind);
    let mut running = world.spawn_execute(id, Some("execute.after_journal=sleep(120000)"), &[]);
    running.wait_for_line("failpoint execute.after_journal reached");

    let report: Value = serde_json::from_str(&world.ok(&["--json", "recover"])).expect("json");
    assert_eq!(report["examined"], json!(0), "{report}");
    assert_eq!(report["in_flight"], json!(1), "its lease is held: {report}");
    assert_eq!(world.state(id), "executing");
    assert_eq!(world.made(kind).len(), 0, "recovery sent nothing");
    assert_eq!(world.stats()["idempotency_keys"], json!(0));

    running.kill();
    let report: Value = serde_json::from_str(&world.ok(&["--json", "recover"])).expect("json");
    assert_eq!(report["succeeded"], json!(1), "{report}");
    world.assert_done_exactly_once(kind, id);
    world.assert_audit_holds();
}

/// The same while the request is at the gateway (held there by the sandbox before it
/// commits): recovery cannot take the executor's lease, so it says the action is being
/// sent elsewhere and sends nothing. Once the executor is killed, the request is still at
/// the gateway under its key; recovery's replay under that key meets Stripe's 409 ("in
/// flight") and waits it out rather than calling it failed, and one object is made.
#[rstest]
fn recovery_leaves_a_request_held_at_the_gateway_to_its_live_sender(
    #[values(Kind::Refund, Kind::Recharge)] kind: Kind,
) {
    let world = World::new();
    let id = world.approved(kind);
    world.arm(kind, "slow", Some(8_000));
    let mut running = world.spawn_execute(id, None, &[]);
    wait_until("the request holds its key at the gateway", || {
        world.stats()["idempotency_keys_running"] == json!(1)
    });

    let beside: Value = serde_json::from_str(&world.ok(&["--json", "recover"])).expect("json");
    assert_eq!(
        (&beside["examined"], &beside["in_flight"]),
        (&json!(0), &json!(1)),
        "{beside}"
    );
    let words = world.ok(&["recover"]);
    assert!(
        words.contains("being sent by another window or process right now"),
        "{words}"
    );
    assert!(
        running.alive(),
        "the sender is still waiting for its answer"
    );
    assert_eq!(world.state(id), "executing");
    assert_eq!(
        world.stats()["idempotency_keys_running"],
        json!(1),
        "one request at the gateway, the sender's"
    );
    assert_eq!(world.made(kind).len(), 0, "recovery made nothing");

    running.kill();
    // The held request commits when the sandbox lets it go; until then a replay's 409
    // leaves the action unknown, never failed, and the next run looks again.
    wait_until("recovery settles it", || {
        // Exit 3: still unknown, try again later.
        let out = world.run(&["recover"]);
        assert!(matches!(out.status.code(), Some(0 | 3)), "{out:?}");
        assert_ne!(
            world.state(id),
            "failed",
            "an in-flight key is not a refusal"
        );
        world.state(id) == "succeeded"
    });
    assert_eq!(world.state(id), "succeeded");
    world.assert_done_exactly_once(kind, id);
    world.assert_audit_holds();
    world.assert_books_tie_out(kind);
}

/// An executor's process id says nothing: once it is killed, the system may give that id
/// to any other process. Here a live process holds the id the journal wrote (this test's
/// own), and recovery still sees that the executor is gone, because its lease is free.
#[rstest]
fn a_dead_executors_pid_held_by_another_process_does_not_keep_its_action_stuck(
    #[values(Kind::Refund, Kind::Recharge)] kind: Kind,
) {
    let world = World::new();
    let id = world.approved(kind);
    let mut running = world.spawn_execute(id, Some("execute.before_send=sleep(120000)"), &[]);
    running.wait_for_line("failpoint execute.before_send reached");
    running.kill();
    let live = std::process::id();
    let changed = rusqlite::Connection::open(&world.db)
        .expect("open the store")
        .execute(
            "UPDATE actions SET executor_pid = ?1 WHERE id = ?2",
            rusqlite::params![live, id],
        )
        .expect("give the executor's pid to a live process");
    assert_eq!(changed, 1);

    let report: Value = serde_json::from_str(&world.ok(&["--json", "recover"])).expect("json");
    assert_eq!(
        (
            &report["examined"],
            &report["succeeded"],
            &report["in_flight"]
        ),
        (&json!(1), &json!(1), &json!(0)),
        "{report}"
    );
    world.assert_done_exactly_once(kind, id);
    world.assert_audit_holds();
}

/// Recovery shares the send and the settle with `execute`, so it can die between them too:
/// the action stays `unknown` (recovery committed that first) and the next run settles it
/// from what the gateway holds, without sending again.
#[rstest]
fn a_recovery_killed_before_it_settles_is_finished_by_the_next_one(
    #[values(Kind::Refund, Kind::Recharge)] kind: Kind,
) {
    let world = World::new();
    let id = world.approved(kind);
    let mut running = world.spawn_execute(id, Some("execute.after_journal=sleep(120000)"), &[]);
    running.wait_for_line("failpoint execute.after_journal reached");
    running.kill();

    let mut recovering = world.spawn(&["recover"], Some("execute.before_settle=sleep(120000)"));
    recovering.wait_for_line("failpoint execute.before_settle reached");
    recovering.kill();
    assert_eq!(world.state(id), "unknown");
    assert_eq!(world.made(kind).len(), 1, "the replay reached the gateway");

    let report: Value = serde_json::from_str(&world.ok(&["--json", "recover"])).expect("json");
    assert_eq!(report["succeeded"], json!(1), "{report}");
    world.assert_done_exactly_once(kind, id);
    assert_eq!(
        world.audit_events(id),
        [
            "action_proposed",
            "action_approval",
            "action_approved",
            "action_executing",
            "action_unknown",
            "action_succeeded",
        ]
    );
    world.assert_audit_holds();
    world.assert_books_tie_out(kind);
}
