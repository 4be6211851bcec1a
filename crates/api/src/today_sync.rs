//! Today's chart and its "Sync now" with a real progress bar.
//!
//! **Progress without events.** A window cannot hold a request open for a whole sync and
//! still draw its bar, and the two shells deliver events differently (Tauri events, server-
//! sent events), so the sync runs as a background task and the window polls:
//! [`sync_start`] answers at once with the run's status, [`sync_progress`] answers the latest
//! one. Both are plain commands of `commands.rs`, so they work alike in the desktop app and
//! the browser. The status is the core's own progress (`sync::SyncProgress`, reported after
//! each committed page: pages, objects fetched, new, changed, per kind), then the
//! reconciliation after it. One sync per store at a time in this process: pressing Sync
//! now during a run answers that run, it never starts a second one (the core's page-by-
//! page commits would make a second harmless, but slower and confusing).
//!
//! The bar's percentage follows the steps that are known to come — connecting, charges,
//! refunds, reconciling — as the gateway's lists carry no total; the counts under it move
//! with every page.
//!
//! **The chart** is the core's `export::daily::gateway_vs_ledger`: per currency and day,
//! the gateway's money and the ledger's, as exact minor units ([`Amount`]). The window
//! scales them to pixels; no float ever holds the data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::json::{Amount, Synced};
use super::{Api, ApiError, count32, now};
use chargeguard_core::export::daily;
use chargeguard_core::money::Currency;

use chargeguard_core::sync::{ObjectKind, SyncProgress};

// ---------------------------------------------------------------- transport types

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "SyncState.ts")]
pub enum SyncState {
    /// No sync has run in this window's lifetime.
    Idle,
    Running,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "SyncPhase.ts")]
pub enum SyncPhase {
    Connecting,
    Charges,
    Refunds,
    Reconciling,
    Finished,
}

/// One object kind's progress: pages committed, objects fetched, of which new and changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "KindProgress.ts")]
pub struct KindProgress {
    pub pages: u32,
    pub fetched: u32,
    pub new: u32,
    pub changed: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "SyncStatus.ts")]
pub struct SyncStatus {
    /// Which run this is (1 for the first in this process); 0 when idle.
    pub run: u32,
    pub state: SyncState,
    pub phase: SyncPhase,
    pub charges: KindProgress,
    pub refunds: KindProgress,
    /// 0–100, for the bar: the steps done so far.
    pub percent: u32,
    /// Plain words: "Charges: page 3, 250 fetched (12 new)".
    pub words: String,
    /// The result, once succeeded.
    pub synced: Option<Synced>,
    /// Why it stopped, once failed (what was fetched so far is kept).
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "DailyTotalsRequest.ts")]
pub struct DailyTotalsRequest {
    /// How many days, ending on the latest day with money (default 14, at most 92).
    #[ts(optional)]
    pub days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "DailyTotals.ts")]
pub struct DailyTotals {
    /// The zone whose calendar days these are.
    pub zone: String,
    /// First and last day shown (YYYY-MM-DD); `None` when the store holds no money yet.
    pub first: Option<String>,
    pub last: Option<String>,
    /// One series per currency, by code.
    pub series: Vec<CurrencySeries>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "CurrencySeries.ts")]
pub struct CurrencySeries {
    /// Upper-case ISO code.
    pub currency: String,
    pub days: Vec<DayAmounts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "DayAmounts.ts")]
pub struct DayAmounts {
    /// YYYY-MM-DD in the business's zone.
    pub day: String,
    /// Captured charges less refunds made that day.
    pub gateway: Amount,
    /// Ledger payments less ledger refunds recorded that day.
    pub ledger: Amount,
}

// ---------------------------------------------------------------- the sync run

/// The latest status per store file, for this process.
static RUNS: LazyLock<Mutex<HashMap<PathBuf, SyncStatus>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn idle() -> SyncStatus {
    SyncStatus {
        run: 0,
        state: SyncState::Idle,
        phase: SyncPhase::Connecting,
        charges: KindProgress::default(),
        refunds: KindProgress::default(),
        percent: 0,
        words: "No sync has run since the app started.".into(),
        synced: None,
        error: None,
    }
}

fn percent(phase: SyncPhase) -> u32 {
    match phase {
        SyncPhase::Connecting => 5,
        SyncPhase::Charges => 10,
        SyncPhase::Refunds => 60,
        SyncPhase::Reconciling => 90,
        SyncPhase::Finished => 100,
    }
}

fn words(status: &SyncStatus) -> String {
    let kind = |name: &str, p: &KindProgress| {
        format!(
            "{name}: page {}, {} fetched ({} new, {} changed)",
            p.pages,
            chargeguard_core::import::thousands(p.fetched.into()),
            chargeguard_core::import::thousands(p.new.into()),
            chargeguard_core::import::thousands(p.changed.into())
        )
    };
    match status.phase {
        SyncPhase::Connecting => "Connecting to the gateway…".into(),
        SyncPhase::Charges => kind("Charges", &status.charges),
        SyncPhase::Refunds => format!(
            "{}; {}",
            kind("Charges", &status.charges),
            kind("refunds", &status.refunds)
        ),
        SyncPhase::Reconciling => "Laying the gateway beside the ledger…".into(),
        SyncPhase::Finished => status
            .synced
            .as_ref()
            .map(|s| s.message.clone())
            .or_else(|| status.error.as_ref().map(|e| e.message.clone()))
            .unwrap_or_default(),
    }
}

fn publish(db: &Path, change: impl FnOnce(&mut SyncStatus)) -> SyncStatus {
    let mut runs = RUNS.lock().unwrap_or_else(|p| p.into_inner());
    let status = runs.entry(db.to_path_buf()).or_insert_with(idle);
    change(status);
    status.percent = percent(status.phase);
    status.words = words(status);
    status.clone()
}

fn apply(status: &mut SyncStatus, p: SyncProgress) {
    let progress = KindProgress {
        pages: count32(p.pages),
        fetched: count32(p.fetched),
        new: count32(p.new),
        changed: count32(p.changed),
    };
    match p.kind {
        ObjectKind::Charge => {
            status.phase = SyncPhase::Charges;
            status.charges = progress;
        }
        ObjectKind::Refund => {
            status.phase = SyncPhase::Refunds;
            status.refunds = progress;
        }
        // The Today screen's bar shows charges and refunds; payouts (a few a week) and
        // disputes (a few a year) follow within its last phase.
        ObjectKind::Payout | ObjectKind::BalanceTransaction | ObjectKind::Dispute => {}
    }
}

/// Starts a sync in the background and answers at once; while one runs, answers that one.
pub async fn sync_start(api: &Api) -> Result<SyncStatus, ApiError> {
    let db = api.db().to_path_buf();
    {
        let mut runs = RUNS.lock().unwrap_or_else(|p| p.into_inner());
        let status = runs.entry(db.clone()).or_insert_with(idle);
        if status.state == SyncState::Running {
            return Ok(status.clone());
        }
        *status = SyncStatus {
            run: status.run + 1,
            state: SyncState::Running,
            ..idle()
        };
    }
    let started = publish(&db, |_| {});
    let api = api.clone();
    tokio::spawn(async move {
        let result = run(&api, &db).await;
        publish(&db, |s| {
            s.phase = SyncPhase::Finished;
            match result {
                Ok(synced) => {
                    s.state = SyncState::Succeeded;
                    s.synced = Some(synced);
                }
                Err(e) => {
                    s.state = SyncState::Failed;
                    s.error = Some(e);
                }
            }
        });
    });
    Ok(started)
}

async fn run(api: &Api, db: &Path) -> Result<Synced, ApiError> {
    sync_and_reconcile(
        api,
        |p| {
            publish(db, |s| apply(s, p));
        },
        || {
            publish(db, |s| s.phase = SyncPhase::Reconciling);
        },
    )
    .await
}

/// Pulls the gateway's charges and refunds (reporting each committed page), then
/// reconciles: what both `sync_now` and a background run do.
pub(super) async fn sync_and_reconcile(
    api: &Api,
    on_page: impl FnMut(SyncProgress),
    on_reconcile: impl FnOnce(),
) -> Result<Synced, ApiError> {
    let mut store = api.open()?;
    let client = api.client(&mut store).await?;
    let done =
        chargeguard_core::check::morning(&mut store, &client, now(), on_page, on_reconcile).await;
    super::monthend::TieOutCache::refresh(api);
    let done = done?;
    let (report, summary) = (&done.sync, &done.reconcile);
    let open: u64 = summary.open_by_kind.values().sum();
    Ok(Synced {
        new: count32(report.total().new),
        changed: count32(report.total().changed),
        unchanged: count32(report.total().unchanged),
        open_findings: count32(open),
        message: {
            let mut message = format!("synced: {report}");
            if let Some(books) = &done.books {
                message.push_str(&format!("; {books}"));
            }
            if done.recovery.examined > 0 {
                message.push_str(&format!("; {}", done.recovery));
            }
            message
        },
    })
}

/// The latest status of this store's sync (idle when none ran in this process).
pub fn sync_progress(api: &Api) -> Result<SyncStatus, ApiError> {
    let runs = RUNS.lock().unwrap_or_else(|p| p.into_inner());
    Ok(runs.get(api.db()).cloned().unwrap_or_else(idle))
}

// ---------------------------------------------------------------- the chart

fn amount(minor: i128, currency: Currency) -> Amount {
    Amount {
        minor: minor.to_string(),
        currency: currency.code().to_string(),
        exponent: currency.exponent(),
    }
}

/// Gateway vs ledger per day and currency, over the latest `days` days with money.
pub fn daily_totals(api: &Api, request: &DailyTotalsRequest) -> Result<DailyTotals, ApiError> {
    let days = request.days.unwrap_or(14).clamp(1, 92);
    let mut store = api.open()?;
    let (recent, zone_name) = store.read(|tx| {
        let (zone_name, zone) =
            chargeguard_core::period::day_zone(tx).map_err(|e| ApiError::invalid(e.to_string()))?;
        let today: Date = now().to_zoned(zone.clone()).date();
        let recent = daily::recent(tx, &zone, today, days).map_err(|e| match e {
            daily::ChartError::Store(e) => ApiError::from(e),
            e => ApiError::internal(e.to_string()),
        })?;
        Ok::<_, ApiError>((recent, zone_name))
    })?;
    let Some(daily::Recent {
        first,
        last,
        totals,
    }) = recent
    else {
        return Ok(DailyTotals {
            zone: zone_name,
            first: None,
            last: None,
            series: Vec::new(),
        });
    };
    let series = totals
        .into_iter()
        .filter_map(|(code, series)| {
            let currency = Currency::from_code(&code).ok()?;
            Some(CurrencySeries {
                currency: currency.code().to_string(),
                days: series
                    .into_iter()
                    .map(|d| DayAmounts {
                        day: d.day.to_string(),
                        gateway: amount(d.gateway, currency),
                        ledger: amount(d.ledger, currency),
                    })
                    .collect(),
            })
        })
        .collect();
    Ok(DailyTotals {
        zone: zone_name,
        first: Some(first.to_string()),
        last: Some(last.to_string()),
        series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_follow_the_pages_and_the_bar_the_steps() {
        let db = PathBuf::from("/nowhere/progress-words.db");
        let status = publish(&db, |s| {
            s.state = SyncState::Running;
            apply(
                s,
                SyncProgress {
                    kind: ObjectKind::Charge,
                    pages: 3,
                    fetched: 1_250,
                    new: 12,
                    changed: 1,
                },
            );
        });
        assert_eq!(status.percent, 10);
        assert_eq!(
            status.words,
            "Charges: page 3, 1,250 fetched (12 new, 1 changed)"
        );
        let status = publish(&db, |s| {
            apply(
                s,
                SyncProgress {
                    kind: ObjectKind::Refund,
                    pages: 1,
                    fetched: 4,
                    new: 4,
                    changed: 0,
                },
            )
        });
        assert_eq!(status.percent, 60);
        assert!(
            status
                .words
                .ends_with("refunds: page 1, 4 fetched (4 new, 0 changed)")
        );
        assert_eq!(status.charges.fetched, 1_250, "the charges' count stays");
    }
}
