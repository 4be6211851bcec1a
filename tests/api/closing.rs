//! The Month-end and Audit log screens' API on the demo store (a real SQLite file): a
//! month's state and tie-out, the package exported beside the store or where the
//! bookkeeper names, verified and found out when changed, closing and reopening with an
//! approver's passphrase, and the audit log paged and filtered with its chain intact.

use crate::api_support;

use api_support::{APPROVER, PASSPHRASE, demo};
use chargeguard::api::audit_log::*;
use chargeguard::api::monthend::*;
use chargeguard::api::{self, ApiErrorCode};

const BERLIN: &str = "Europe/Berlin";

fn october() -> MonthRequest {
    MonthRequest {
        month: "2026-10".into(),
        tz: Some(BERLIN.into()),
    }
}

fn close_october(api: &api::Api, passphrase: &str) -> Result<PeriodView, api::ApiError> {
    api::monthend::period_close(
        api,
        &ClosePeriodRequest {
            month: "2026-10".into(),
            tz: Some(BERLIN.into()),
            name: APPROVER.into(),
            passphrase: passphrase.into(),
        },
    )
}

#[test]
fn a_month_shows_its_zone_bounds_and_a_tie_out_per_currency() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    let view = api::monthend::period_status(&api, &october()).unwrap();
    assert_eq!(view.month, "2026-10");
    assert_eq!(view.time_zone, BERLIN);
    assert_eq!(view.starts_at, "2026-10-01T00:00:00+02:00");
    assert_eq!(view.ends_at, "2026-11-01T00:00:00+01:00");
    assert!(view.ended, "October 2026 is over");
    assert!(view.closed.is_none() && view.history.is_empty());
    assert_eq!(view.tie_out_problem, None, "the demo's October ties out");
    let currencies: Vec<&str> = view.tie_out.iter().map(|t| t.currency.as_str()).collect();
    assert!(
        currencies.contains(&"EUR") && currencies.contains(&"JPY"),
        "{currencies:?}"
    );
    for t in &view.tie_out {
        let difference = t.totals.iter().find(|l| l.key == "difference").unwrap();
        assert_eq!(difference.amount.currency, t.currency, "never mixed");
        let explained: i128 = t
            .explained_by
            .iter()
            .map(|l| l.amount.minor.parse::<i128>().unwrap())
            .sum();
        assert_eq!(
            explained,
            difference.amount.minor.parse::<i128>().unwrap(),
            "{}: the lines add up to the difference",
            t.currency
        );
    }
}

#[test]
fn without_a_zone_the_window_is_told_to_choose_one_not_to_pass_a_flag() {
    // One's own books start with no zone (the demo comes with one set).
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("books.db");
    chargeguard::store::Store::open(&db).unwrap();
    let error = api::monthend::period_status(
        &api::Api::new(&db),
        &MonthRequest {
            month: "2026-10".into(),
            tz: None,
        },
    )
    .unwrap_err();
    assert_eq!(error.code, ApiErrorCode::InvalidInput);
    assert!(
        error.message.contains("Time zone field"),
        "{}",
        error.message
    );
    assert!(!error.message.contains("--tz"), "{}", error.message);
    let bad = api::monthend::period_status(
        &api::Api::new(&db),
        &MonthRequest {
            month: "October".into(),
            tz: Some(BERLIN.into()),
        },
    )
    .unwrap_err();
    assert_eq!(bad.code, ApiErrorCode::InvalidInput);
}

#[test]
fn a_package_lands_beside_the_store_never_over_another_and_a_changed_file_is_found() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    let request = ExportMonthRequest {
        month: "2026-10".into(),
        tz: Some(BERLIN.into()),
        folder: None,
    };
    let first = api::monthend::monthend_export(&api, &request).unwrap();
    let data_folder = demo.db.parent().unwrap();
    assert_eq!(
        first.folder,
        data_folder
            .join("chargeguard-2026-10")
            .display()
            .to_string()
    );
    assert!(std::path::Path::new(&first.zip).is_file());
    for file in ["tieout.csv", "workbook.xlsx", "summary.html"] {
        assert!(
            first.files.iter().any(|f| f == file),
            "{file}: {:?}",
            first.files
        );
    }
    let second = api::monthend::monthend_export(&api, &request).unwrap();
    assert_eq!(
        second.folder,
        data_folder
            .join("chargeguard-2026-10-2")
            .display()
            .to_string()
    );

    // A named folder that exists is refused, and says what to do.
    let taken = api::monthend::monthend_export(
        &api,
        &ExportMonthRequest {
            folder: Some(first.folder.clone()),
            ..request.clone()
        },
    )
    .unwrap_err();
    assert_eq!(taken.code, ApiErrorCode::Refused);
    assert!(
        taken.message.contains("name another folder"),
        "{}",
        taken.message
    );

    for path in [&first.folder, &first.zip] {
        let holds =
            api::monthend::monthend_verify(&api, &PathRequest { path: path.clone() }).unwrap();
        assert!(holds.holds, "{path}: {holds:?}");
        assert_eq!(holds.month.as_deref(), Some("2026-10"));
        assert!(holds.records > 0);
    }

    // One changed cell: the package no longer holds, and the answer names the file.
    let folder = std::path::Path::new(&first.folder);
    let csv = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .find(|p| std::fs::read_to_string(p).unwrap().lines().count() > 2)
        .unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[1] = lines[1].replacen(|c: char| c.is_ascii_digit(), "7", 1);
    if lines[1] == text.lines().nth(1).unwrap() {
        lines[1].push('x');
    }
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let broken = api::monthend::monthend_verify(
        &api,
        &PathRequest {
            path: first.folder.clone(),
        },
    )
    .unwrap();
    assert!(!broken.holds);
    let problem = broken.problem.unwrap();
    assert_eq!(
        problem.file,
        csv.file_name().unwrap().to_string_lossy(),
        "{problem:?}"
    );
}

#[test]
fn closing_needs_an_approvers_passphrase_and_reopening_a_reason_both_audited() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    let wrong = close_october(&api, "not it").unwrap_err();
    assert_eq!(wrong.code, ApiErrorCode::WrongPassphrase);

    let closed = close_october(&api, PASSPHRASE).unwrap();
    let close = closed.closed.as_ref().expect("October is closed");
    assert_eq!(close.closed_by, APPROVER);
    assert_eq!(close.time_zone, BERLIN);
    let again = close_october(&api, PASSPHRASE).unwrap_err();
    assert_eq!(again.code, ApiErrorCode::Refused);
    assert!(
        again.message.contains("closed already"),
        "{}",
        again.message
    );

    // Not ended yet: November 2026 runs past the day these tests were written, and later
    // months certainly do.
    let future = api::monthend::period_close(
        &api,
        &ClosePeriodRequest {
            month: "2099-01".into(),
            tz: Some(BERLIN.into()),
            name: APPROVER.into(),
            passphrase: PASSPHRASE.into(),
        },
    )
    .unwrap_err();
    assert_eq!(future.code, ApiErrorCode::Refused);
    assert!(
        future.message.contains("has not ended yet"),
        "{}",
        future.message
    );

    let reopen = |reason: &str| {
        api::monthend::period_reopen(
            &api,
            &ReopenPeriodRequest {
                month: "2026-10".into(),
                name: APPROVER.into(),
                passphrase: PASSPHRASE.into(),
                reason: reason.into(),
            },
        )
    };
    assert_eq!(reopen("  ").unwrap_err().code, ApiErrorCode::InvalidInput);
    let reopened = reopen("late refund found").unwrap();
    assert!(reopened.closed.is_none());
    assert_eq!(reopened.history.len(), 1);
    assert_eq!(
        reopened.history[0].reopen_reason.as_deref(),
        Some("late refund found")
    );

    // The audit log, filtered to the period: the reopen, then the close, newest first.
    let about = api::audit_log::audit_log(
        &api,
        &AuditQuery {
            subject: Some("period:2026-10".into()),
            ..AuditQuery::default()
        },
    )
    .unwrap();
    let events: Vec<&str> = about.entries.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, vec!["period_reopened", "period_closed"]);
    assert_eq!(about.total, 2);
    assert!(about.entries[0].details.contains("late refund found"));
    assert!(about.actors.contains(&APPROVER.to_string()));
    assert!(about.events.contains(&"period_closed".to_string()));
    assert!(api::audit_verify(&api).unwrap().holds);
}

#[test]
fn the_audit_log_pages_newest_first_and_filters_by_kind_and_person() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    // A proposal by someone else (before the close: a fix may be dated in October), so
    // there are two people and two kinds.
    let finding = api::findings(&api, &Default::default()).unwrap()[0].id;
    api::propose(
        &api,
        &chargeguard::api::json::ProposeRequest {
            finding_id: finding,
            by: "bob".into(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    close_october(&api, PASSPHRASE).unwrap();

    let all = api::audit_log::audit_log(&api, &AuditQuery::default()).unwrap();
    assert!(all.total >= 2, "{all:?}");
    let seqs: Vec<u32> = all.entries.iter().map(|e| e.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );

    let one = AuditQuery {
        limit: Some(1),
        ..AuditQuery::default()
    };
    let first = api::audit_log::audit_log(&api, &one).unwrap();
    assert_eq!(first.entries.len(), 1);
    let next = first.next_before.expect("more than one page");
    let second = api::audit_log::audit_log(
        &api,
        &AuditQuery {
            before: Some(next),
            ..one.clone()
        },
    )
    .unwrap();
    assert!(second.entries[0].seq < first.entries[0].seq);

    let bobs = api::audit_log::audit_log(
        &api,
        &AuditQuery {
            actor: Some("bob".into()),
            ..AuditQuery::default()
        },
    )
    .unwrap();
    assert!(bobs.total >= 1 && bobs.entries.iter().all(|e| e.actor == "bob"));
    let proposals = api::audit_log::audit_log(
        &api,
        &AuditQuery {
            event: Some("action_proposed".into()),
            ..AuditQuery::default()
        },
    )
    .unwrap();
    assert_eq!(proposals.total, 1);
    assert_eq!(proposals.entries[0].subject, "action:1");
    let by_action = api::audit_log::audit_log(
        &api,
        &AuditQuery {
            subject: Some("action:1".into()),
            ..AuditQuery::default()
        },
    )
    .unwrap();
    assert_eq!(by_action.entries.len(), 1);

    let too_many = api::audit_log::audit_log(
        &api,
        &AuditQuery {
            limit: Some(MAX_PAGE + 1),
            ..AuditQuery::default()
        },
    )
    .unwrap_err();
    assert_eq!(too_many.code, ApiErrorCode::InvalidInput);
}

/// One USD payment file for October, recorded against a USD invoice of the demo.
fn october_payment(demo: &api_support::Demo, id: &str) -> std::path::PathBuf {
    let conn = rusqlite::Connection::open(&demo.db).unwrap();
    let invoice: String = conn
        .query_row(
            "SELECT invoice_number FROM invoices WHERE currency = 'usd' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let path = demo.dir.path().join(format!("{id}.csv"));
    std::fs::write(
        &path,
        format!(
            "payment_id,invoice_number,kind,amount,currency,recorded_at,gateway_id\n\
             {id},{invoice},payment,10.00,USD,2026-10-15T10:00:00Z,\n"
        ),
    )
    .unwrap();
    path
}

/// What the Month-end screen shows once its tie-out is the books' as they are now: the
/// window asks again while one is computed in the background, and so does this.
async fn october_when_current(api: &api::Api) -> PeriodView {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let view = api::monthend::period_status(api, &october()).unwrap();
        if view.tie_out_state == TieOutState::Current {
            return view;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tie-out never became current: {view:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The screen never waits for a tie-out: the first time a window asks, it is computed in
/// the background; once current it is kept while nothing is written; after a write made
/// through the window's commands it is refreshed in the background before the screen
/// asks, and after a write behind the window's back (another process) the screen answers
/// at once with the earlier tie-out, marked, until the books' as they are now is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_month_end_screen_shows_the_books_as_they_are_after_every_write() {
    let demo = demo();
    let api = api::Api::new(&demo.db);
    // Outside a runtime the API computes in place: what a window opened now would see.
    let fresh = || {
        let db = demo.db.clone();
        std::thread::spawn(move || {
            api::monthend::period_status(&api::Api::new(&db), &october()).unwrap()
        })
        .join()
        .unwrap()
    };
    let first = api::monthend::period_status(&api, &october()).unwrap();
    assert_eq!(first.tie_out_state, TieOutState::Computing, "{first:?}");
    assert!(first.tie_out.is_empty() && first.tie_out_problem.is_none());
    let before = october_when_current(&api).await;
    assert_eq!(
        api::monthend::period_status(&api, &october()).unwrap(),
        before,
        "kept while nothing is written"
    );
    assert_eq!(before, fresh());

    let path = october_payment(&demo, "pay_screen_1");
    api::commands::call(
        &api,
        "import_file",
        serde_json::json!({"kind": "payments", "path": path}),
    )
    .await
    .unwrap();
    api.tie_outs().refreshed().await;
    let now_at = chargeguard::store::Store::open(&demo.db)
        .unwrap()
        .read(|tx| tx.generation())
        .unwrap();
    assert_eq!(
        api.tie_outs().kept_at("2026-10", BERLIN),
        Some(now_at),
        "the refresh after the command computed it before the screen asked"
    );
    let after_window = api::monthend::period_status(&api, &october()).unwrap();
    assert_eq!(after_window.tie_out_state, TieOutState::Current);
    assert_ne!(
        after_window.tie_out, before.tie_out,
        "a USD payment in October moves its tie-out"
    );
    assert_eq!(
        after_window,
        fresh(),
        "what a window opened now would compute"
    );

    let path = october_payment(&demo, "pay_cli_1");
    let mut elsewhere = chargeguard::store::Store::open(&demo.db).unwrap();
    chargeguard::import::import_file(
        &mut elsewhere,
        chargeguard::import::FileKind::Payments,
        &path,
        &chargeguard::import::ImportOptions::default(),
        jiff::Timestamp::now(),
    )
    .unwrap();
    let at_once = api::monthend::period_status(&api, &october()).unwrap();
    assert_eq!(at_once.tie_out_state, TieOutState::Updating, "{at_once:?}");
    assert_eq!(
        at_once.tie_out, after_window.tie_out,
        "the earlier tie-out, marked, while the new one is computed"
    );
    let after_cli = october_when_current(&api).await;
    assert_ne!(
        after_cli.tie_out, after_window.tie_out,
        "another process's import is seen"
    );
    assert_eq!(after_cli, fresh());
}

/// Synced, the demo's books hold Stripe's balance transactions: the month shows its
/// clearing account per currency, opening + the month's lines = closing, each line in the
/// order the package's clearing.csv prints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synced_month_shows_its_stripe_clearing_account() {
    let demo = demo();
    let (api, sandbox) = demo.connect().await;
    let unsynced = october_when_current(&api).await;
    assert!(unsynced.clearing.is_empty(), "no balance transaction yet");
    api::sync_now(&api).await.unwrap();
    let view = october_when_current(&api).await;
    assert_eq!(view.clearing_problem, None);
    let usd = view
        .clearing
        .iter()
        .find(|c| c.currency == "USD")
        .unwrap_or_else(|| panic!("{:#?}", view.clearing));
    let keys: Vec<&str> = usd.lines.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(
        keys,
        ["charges", "refunds", "fees", "disputes", "payouts", "other"]
    );
    for c in &view.clearing {
        let minor = |a: &api::json::Amount| a.minor.parse::<i128>().unwrap();
        let lines: i128 = c.lines.iter().map(|l| minor(&l.amount)).sum();
        assert_eq!(minor(&c.opening) + lines, minor(&c.closing), "{c:#?}");
        assert!(c.lines.iter().all(|l| l.amount.currency == c.currency));
    }
    let charges = &usd.lines[0].amount;
    assert!(charges.minor.parse::<i64>().unwrap() > 0, "{usd:#?}");
    sandbox.shutdown().await.unwrap();
}
