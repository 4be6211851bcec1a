//! The Month-end screen's commands and their transport types: a month's state (its zone
//! and bounds, closed or not, its close/reopen history, and whether its books tie out
//! now), exporting its audit package, verifying a package, and closing and reopening it
//! with an approver's passphrase. `period` and `export` decide; this module translates.
//!
//! A package goes where the bookkeeper names, or by default into a fresh
//! `chargeguard-YYYY-MM` folder beside the store (the data folder), never over another.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::json::Amount;
use super::{Api, ApiError, ApiErrorCode, count32, instant, now, required};
use chargeguard_core::export::{self, ExportError, ExportRequest, tieout::CurrencyTieOut};
use chargeguard_core::period::{self, PeriodError};
use chargeguard_core::store::{Generation, PeriodClose, StoreError, StoreTx};

// ---------------------------------------------------------------- transport types

/// Names a month (`YYYY-MM`) and, optionally, the zone to read it in (else the business's
/// `timezone` setting; a closed month keeps the zone it was closed in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "MonthRequest.ts")]
pub struct MonthRequest {
    pub month: String,
    #[ts(optional)]
    pub tz: Option<String>,
}

/// One month as the Month-end screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "PeriodView.ts")]
pub struct PeriodView {
    /// `YYYY-MM`.
    pub month: String,
    pub time_zone: String,
    /// The business's `timezone` setting, when there is one.
    pub business_zone: Option<String>,
    /// Local text with offset: the first instant, and the next month's first.
    pub starts_at: String,
    pub ends_at: String,
    /// The month is over (a period is closed only after its last day).
    pub ended: bool,
    /// The live close, when the month is closed.
    pub closed: Option<PeriodCloseView>,
    /// Every close of this month, reopened ones included, oldest first.
    pub history: Vec<PeriodCloseView>,
    /// Whether `tie_out` and `clearing` are the books' as they are now, of an earlier
    /// state while the tie-out is brought up to date, or not there yet.
    pub tie_out_state: TieOutState,
    /// The tie-out per currency (see `tie_out_state`).
    pub tie_out: Vec<TieOutView>,
    /// Why the books do not tie out now (an export or close would be refused).
    pub tie_out_problem: Option<String>,
    /// The Stripe clearing account per currency: the balance at the month's start, the
    /// month's balance transactions by line, and the balance at its end.
    pub clearing: Vec<ClearingView>,
    /// Why the clearing account does not close at the stored balance (close is refused).
    pub clearing_problem: Option<String>,
}

/// How current a month's tie-out on the screen is. Computing one reads the month's books
/// (seconds at a million charges), so the screen never waits for it: it opens on the
/// tie-out kept from before while a fresh one is computed in the background, and asks
/// again until it is current. Export and close always compute their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "TieOutState.ts")]
pub enum TieOutState {
    /// Computed on the books as they are now.
    Current,
    /// Computed before the latest write; the books' as they are now is being computed.
    Updating,
    /// Never computed in this window yet: being computed (nothing to show).
    Computing,
}

/// One currency of the Stripe clearing account: opening + lines = closing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ClearingView.ts")]
pub struct ClearingView {
    /// Upper-case ISO code.
    pub currency: String,
    pub opening: Amount,
    /// Charges, refunds, fees, disputes, payouts, other, in that order; `key` is the
    /// line's name in `clearing.csv`.
    pub lines: Vec<TieOutLine>,
    pub closing: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "PeriodCloseView.ts")]
pub struct PeriodCloseView {
    pub time_zone: String,
    /// RFC 3339 instants.
    pub closed_at: String,
    pub closed_by: String,
    pub reopened_at: Option<String>,
    pub reopened_by: Option<String>,
    pub reopen_reason: Option<String>,
}

/// One currency's tie-out: each side's totals and the difference, explained line by line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "TieOutView.ts")]
pub struct TieOutView {
    /// Upper-case ISO code.
    pub currency: String,
    /// The statement's named totals, in the order they are printed.
    pub totals: Vec<TieOutLine>,
    /// What explains the difference (fees, each finding, timing, cash…); adds up to it.
    pub explained_by: Vec<TieOutLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "TieOutLine.ts")]
pub struct TieOutLine {
    /// `gateway_net`, `fees`, `finding:12`, …
    pub key: String,
    /// Plain words: "Gateway: net", "Finding 12".
    pub label: String,
    pub amount: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ExportMonthRequest.ts")]
pub struct ExportMonthRequest {
    pub month: String,
    #[ts(optional)]
    pub tz: Option<String>,
    /// A folder to create (it must not exist); by default a fresh one in the data folder.
    #[ts(optional)]
    pub folder: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ExportedPackage.ts")]
pub struct ExportedPackage {
    pub month: String,
    pub time_zone: String,
    /// The package folder, and the same files as a zip beside it.
    pub folder: String,
    pub zip: String,
    /// File names, as the manifest lists them.
    pub files: Vec<String>,
    /// The package speaks as of the period's close (a closed month), else `None`.
    pub as_of: Option<String>,
    pub tie_out: Vec<TieOutView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "PathRequest.ts")]
pub struct PathRequest {
    /// A package folder or its `.zip`, on this computer.
    pub path: String,
}

/// What `export verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "PackageVerified.ts")]
pub struct PackageVerified {
    pub holds: bool,
    pub month: Option<String>,
    pub files: u32,
    pub records: u32,
    /// Per currency: "USD: 12.34 USD, explained in full".
    pub differences: Vec<String>,
    /// The first thing that does not hold: file, line, what.
    pub problem: Option<PackageProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "PackageProblem.ts")]
pub struct PackageProblem {
    pub file: String,
    pub line: Option<u32>,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ClosePeriodRequest.ts")]
pub struct ClosePeriodRequest {
    pub month: String,
    #[ts(optional)]
    pub tz: Option<String>,
    /// The approver who signs the month off, and their passphrase.
    pub name: String,
    pub passphrase: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "ReopenPeriodRequest.ts")]
pub struct ReopenPeriodRequest {
    pub month: String,
    pub name: String,
    pub passphrase: String,
    /// Required: why the month must change (kept in the audit log).
    pub reason: String,
}

// ---------------------------------------------------------------- errors

/// The command line's hints, in the window's words.
fn for_window(message: String) -> String {
    message
        .replace(
            "(`chargeguard reconcile`)",
            "(press Reconcile, or Sync now on Today)",
        )
        .replace(
            "pass --tz Europe/Berlin (or the zone you keep the books in), or set the `timezone` setting",
            "choose the zone you keep the books in (Europe/Berlin, America/New_York…) in the Time zone field",
        )
        .replace(
            "(drop --tz or pass --tz ",
            "(clear the Time zone field or choose ",
        )
        .replace("choose another --out folder", "name another folder")
}

impl From<PeriodError> for ApiError {
    fn from(e: PeriodError) -> Self {
        use ApiErrorCode as C;
        match e {
            PeriodError::Store(s) => s.into(),
            PeriodError::People(p) => p.into(),
            e @ PeriodError::NotAnApprover(_) => ApiError::new(C::WrongPassphrase, e.to_string()),
            e @ (PeriodError::BadMonth(_)
            | PeriodError::BadZone(_)
            | PeriodError::NoZone
            | PeriodError::NoReason) => ApiError::invalid(for_window(e.to_string())),
            e => ApiError::new(C::Refused, for_window(e.to_string())),
        }
    }
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Period(p) => p.into(),
            ExportError::Store(StoreError::PeriodAlreadyClosed(month)) => ApiError::new(
                ApiErrorCode::Refused,
                format!("{month} is closed already; reopen it with a reason to change it"),
            ),
            ExportError::Store(s) => s.into(),
            e @ ExportError::Write { .. } => ApiError::internal(for_window(e.to_string())),
            e => ApiError::new(ApiErrorCode::Refused, for_window(e.to_string())),
        }
    }
}

// ---------------------------------------------------------------- conversions

fn close_view(c: &PeriodClose) -> PeriodCloseView {
    PeriodCloseView {
        time_zone: c.time_zone.clone(),
        closed_at: instant(c.closed_at),
        closed_by: c.closed_by.clone(),
        reopened_at: c.reopened_at.map(instant),
        reopened_by: c.reopened_by.clone(),
        reopen_reason: c.reopen_reason.clone(),
    }
}

fn line_label(key: &str) -> String {
    match key.strip_prefix("finding:") {
        Some(id) => format!("Finding {id}"),
        None => match key {
            "fees" => "Gateway fees".into(),
            "matched" => "Matched".into(),
            "timing" => "Timing across the month's edges".into(),
            "cash" => "Cash, cheque or transfer".into(),
            "not_yet_synced" => "Not yet synced".into(),
            "unexplained" => "Unexplained".into(),
            other => other.replace('_', " "),
        },
    }
}

/// `None` for a currency code the store could not hold (a clearing row is read from it).
fn clearing_view(c: &export::clearing::CurrencyClearing) -> Option<ClearingView> {
    let currency = chargeguard_core::money::Currency::from_code(&c.currency).ok()?;
    let amount = |minor: i64| {
        Amount::from_money(chargeguard_core::money::Money::from_minor(minor, currency))
    };
    Some(ClearingView {
        currency: currency.code().to_string(),
        opening: amount(c.opening),
        lines: c
            .lines
            .iter()
            .map(|l| TieOutLine {
                key: l.line.as_str().to_string(),
                label: l.line.label().to_string(),
                amount: amount(l.amount),
            })
            .collect(),
        closing: amount(c.closing),
    })
}

fn tie_out_view(c: &CurrencyTieOut) -> TieOutView {
    let amount = |minor: i64| Amount::from_parts(minor, &c.currency);
    TieOutView {
        currency: c.currency.to_ascii_uppercase(),
        totals: c
            .totals()
            .iter()
            .map(|(key, label, minor)| TieOutLine {
                key: key.to_string(),
                label: label.to_string(),
                amount: amount(*minor),
            })
            .collect(),
        explained_by: c
            .lines
            .iter()
            .filter(|(_, minor)| **minor != 0)
            .map(|(key, minor)| TieOutLine {
                key: key.to_string(),
                label: line_label(&key.to_string()),
                amount: amount(*minor),
            })
            .collect(),
    }
}

fn tz(request: Option<&String>) -> Option<&str> {
    request.map(|s| s.trim()).filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------- the screen's tie-outs

/// The tie-outs the Month-end screen showed, by month and zone, each as of the store
/// generation it was computed at. Computing one reads the month's books (seconds at a
/// million charges); the screen opens on what is kept while the store has not moved, and
/// after each write a command makes the months shown are computed again in the background
/// ([`TieOutCache::refresh`]), so the next open is quick. Export and close never read
/// from here: they compute the tie-out they write or record.
#[derive(Default)]
pub struct TieOutCache {
    kept: Mutex<HashMap<(String, String), KeptTieOut>>,
    /// The months being computed in the background for a screen that asked.
    computing: Mutex<std::collections::HashSet<(String, String)>>,
    /// The background refresh running now, if any.
    refreshing: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// A command finished while the refresh ran: it does one more round.
    again: AtomicBool,
}

/// What the screen shows of a month's money: the tie-out and the clearing account, or why
/// either does not tie out.
#[derive(Debug, Clone)]
struct ShownTieOut {
    tie_out: Vec<TieOutView>,
    tie_out_problem: Option<String>,
    clearing: Vec<ClearingView>,
    clearing_problem: Option<String>,
}

/// Takes a month's "being computed" mark off when dropped.
struct Unmark<'a>(&'a TieOutCache, (String, String));

impl Drop for Unmark<'_> {
    fn drop(&mut self) {
        self.0
            .computing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.1);
    }
}

struct KeptTieOut {
    generation: Generation,
    shown: ShownTieOut,
}

impl TieOutCache {
    fn key(period: &period::Period) -> (String, String) {
        (period.label(), period.zone_name().to_string())
    }

    /// The tie-out of `period` on the books `tx` sees: kept, when nothing was written
    /// since it was computed; else computed now and kept.
    fn get_or_compute(
        &self,
        tx: &StoreTx<'_>,
        period: &period::Period,
    ) -> Result<ShownTieOut, ApiError> {
        let generation = tx.generation()?;
        let key = Self::key(period);
        if let Some(kept) = self.lock().get(&key)
            && kept.generation == generation
        {
            return Ok(kept.shown.clone());
        }
        let (tie_out, tie_out_problem) = match export::check_tie_out(tx, period) {
            Ok(currencies) => (currencies.iter().map(tie_out_view).collect(), None),
            Err(e) => (Vec::new(), Some(ApiError::from(e).message)),
        };
        let (clearing, clearing_problem) = match export::check_clearing(tx, period) {
            Ok(currencies) => (currencies.iter().filter_map(clearing_view).collect(), None),
            Err(e) => (Vec::new(), Some(ApiError::from(e).message)),
        };
        let shown = ShownTieOut {
            tie_out,
            tie_out_problem,
            clearing,
            clearing_problem,
        };
        self.lock().insert(
            key,
            KeptTieOut {
                generation,
                shown: shown.clone(),
            },
        );
        Ok(shown)
    }

    /// What the screen shows of `period` now: the kept tie-out when the store has not
    /// moved since; else the kept one (or none) while the current one is computed off this
    /// request, on the runtime's blocking threads. Outside a runtime (a test, a bench
    /// calling the API directly) it computes here.
    fn shown_now(
        &self,
        api: &Api,
        tx: &StoreTx<'_>,
        period: &period::Period,
    ) -> Result<(Option<ShownTieOut>, TieOutState), ApiError> {
        let generation = tx.generation()?;
        let key = Self::key(period);
        let kept = self
            .lock()
            .get(&key)
            .map(|k| (k.generation == generation, k.shown.clone()));
        let (current, shown) = match kept {
            Some((true, shown)) => return Ok((Some(shown), TieOutState::Current)),
            Some((false, shown)) => (TieOutState::Updating, Some(shown)),
            None => (TieOutState::Computing, None),
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Ok((Some(self.get_or_compute(tx, period)?), TieOutState::Current));
        };
        let fresh = self
            .computing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key.clone());
        if fresh {
            let api = api.clone();
            runtime.spawn_blocking(move || {
                let cache = &api.tie_outs;
                // Unmarked however the task ends (a panic too): else the month would show
                // "computing" for the window's life.
                let _unmark = Unmark(cache, key.clone());
                let computed = api.open().and_then(|mut store| {
                    store.read(|tx| -> Result<(), ApiError> {
                        let (period, _) = period::resolve(tx, &key.0, Some(&key.1))?;
                        cache.get_or_compute(tx, &period)?;
                        Ok(())
                    })
                });
                // A store that cannot be read now is read again when the screen asks.
                drop(computed);
            });
        }
        Ok((shown, current))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), KeptTieOut>> {
        // A panic while holding it leaves whole entries (each insert is one step).
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// After a command wrote: computes again, off the async threads, each kept tie-out
    /// the store has moved past. One refresh at a time: a command that finishes while one
    /// runs asks it for one more round, so the last command's writes are always computed.
    /// Writes that are no command's end (another process, a sync's pages) are not chased:
    /// the next command's refresh, or the screen itself, computes what they moved.
    pub(crate) fn refresh(api: &Api) {
        let cache = api.tie_outs.clone();
        let mut running = cache
            .refreshing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if running.as_ref().is_some_and(|handle| !handle.is_finished()) {
            cache.again.store(true, Ordering::SeqCst);
            return;
        }
        if cache.lock().is_empty() {
            return;
        }
        let api = api.clone();
        *running = Some(tokio::task::spawn_blocking(move || {
            let cache = &api.tie_outs;
            loop {
                cache.again.store(false, Ordering::SeqCst);
                // A store that cannot be read now is read again when the screen opens.
                let _ = cache.refresh_once(&api);
                if !cache.again.swap(false, Ordering::SeqCst) {
                    break;
                }
            }
        }));
    }

    fn refresh_once(&self, api: &Api) -> Result<(), ApiError> {
        let mut store = api.open()?;
        let keys: Vec<(String, String)> = self.lock().keys().cloned().collect();
        for (month, zone) in keys {
            store.read(|tx| -> Result<(), ApiError> {
                let generation = tx.generation()?;
                let stale = self
                    .lock()
                    .get(&(month.clone(), zone.clone()))
                    .is_some_and(|kept| kept.generation != generation);
                if stale {
                    let (period, _) = period::resolve(tx, &month, Some(&zone))?;
                    self.get_or_compute(tx, &period)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The store generation the kept tie-out of `month` in `zone` was computed at, if one
    /// is kept (tests: the refresh after a write brought it to the store's).
    pub fn kept_at(&self, month: &str, zone: &str) -> Option<Generation> {
        self.lock()
            .get(&(month.to_string(), zone.to_string()))
            .map(|kept| kept.generation.clone())
    }

    /// Waits for the background refresh, if one runs (tests and benchmarks: what the
    /// screen finds once the refresh after a write is done).
    pub async fn refreshed(&self) {
        let handle = self
            .refreshing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }
}

// ---------------------------------------------------------------- commands

/// One month: its zone and bounds, whether it is closed (and its history), and whether its
/// books tie out now.
pub fn period_status(api: &Api, request: &MonthRequest) -> Result<PeriodView, ApiError> {
    required("a month", &request.month)?;
    let mut store = api.open()?;
    store.read(|tx| {
        let (period, close) = period::resolve(tx, &request.month, tz(request.tz.as_ref()))?;
        let label = period.label();
        let history: Vec<PeriodCloseView> = tx
            .period_closes()?
            .iter()
            .filter(|c| c.period == label)
            .map(close_view)
            .collect();
        let (shown, tie_out_state) = api.tie_outs.shown_now(api, tx, &period)?;
        let shown = shown.unwrap_or(ShownTieOut {
            tie_out: Vec::new(),
            tie_out_problem: None,
            clearing: Vec::new(),
            clearing_problem: None,
        });
        Ok(PeriodView {
            month: label,
            time_zone: period.zone_name().to_string(),
            business_zone: tx.setting(period::TIMEZONE_SETTING)?,
            starts_at: period.local_text(period.start()),
            ends_at: period.local_text(period.end()),
            ended: now() >= period.end(),
            closed: close.as_ref().map(close_view),
            history,
            tie_out_state,
            tie_out: shown.tie_out,
            tie_out_problem: shown.tie_out_problem,
            clearing: shown.clearing,
            clearing_problem: shown.clearing_problem,
        })
    })
}

/// Writes the month's audit package (a folder and its zip); nothing is written unless the
/// books tie out.
pub fn monthend_export(
    api: &Api,
    request: &ExportMonthRequest,
) -> Result<ExportedPackage, ApiError> {
    required("a month", &request.month)?;
    let mut store = api.open()?;
    let label = period::Period::parse(&request.month, "UTC")?.label();
    let out = match request.folder.as_deref().map(str::trim) {
        Some(folder) if !folder.is_empty() => PathBuf::from(folder),
        _ => export::free_package_folder(api.data_dir(), &label),
    };
    let report = export::export_month(
        &mut store,
        &ExportRequest {
            month: request.month.clone(),
            tz: tz(request.tz.as_ref()).map(str::to_string),
            as_of: None,
            out,
        },
    )?;
    Ok(ExportedPackage {
        month: report.manifest.period.clone(),
        time_zone: report.manifest.time_zone.clone(),
        folder: report.folder.display().to_string(),
        zip: report.zip.display().to_string(),
        files: report
            .manifest
            .files
            .iter()
            .map(|f| f.name.clone())
            .collect(),
        as_of: report.manifest.as_of.clone(),
        tie_out: report.tie_out.iter().map(tie_out_view).collect(),
    })
}

/// Checks a package (folder or zip): every file's hash, every total re-added. A package
/// that does not hold is an answer (`holds: false`), not an error.
pub fn monthend_verify(_api: &Api, request: &PathRequest) -> Result<PackageVerified, ApiError> {
    required("a package folder or zip", &request.path)?;
    Ok(match export::verify(Path::new(request.path.trim())) {
        Ok(report) => PackageVerified {
            holds: true,
            month: Some(report.period),
            files: count32(report.files as u64),
            records: count32(report.records),
            differences: report
                .differences
                .iter()
                .map(|(c, d)| format!("{}: {d}, explained in full", c.to_ascii_uppercase()))
                .collect(),
            problem: None,
        },
        Err(e) => PackageVerified {
            holds: false,
            month: None,
            files: 0,
            records: 0,
            differences: Vec::new(),
            problem: Some(PackageProblem {
                file: e.file,
                line: e.line.map(count32),
                problem: e.problem,
            }),
        },
    })
}

/// Closes the month: an approver's sign-off, after its last day, only if it ties out.
pub fn period_close(api: &Api, request: &ClosePeriodRequest) -> Result<PeriodView, ApiError> {
    required("a month", &request.month)?;
    required("the approver's name", &request.name)?;
    required("the passphrase", &request.passphrase)?;
    let mut store = api.open()?;
    let report = export::close_period(
        &mut store,
        &request.month,
        tz(request.tz.as_ref()),
        &request.name,
        &request.passphrase,
        now(),
    )?;
    period_status(
        api,
        &MonthRequest {
            month: report.close.period,
            tz: None,
        },
    )
}

/// Reopens a closed month; the reason goes into the audit log.
pub fn period_reopen(api: &Api, request: &ReopenPeriodRequest) -> Result<PeriodView, ApiError> {
    required("a month", &request.month)?;
    required("the approver's name", &request.name)?;
    required("the passphrase", &request.passphrase)?;
    required("a reason", &request.reason)?;
    let mut store = api.open()?;
    let report = period::reopen(
        &mut store,
        &request.month,
        &request.name,
        &request.passphrase,
        &request.reason,
        now(),
    )?;
    period_status(
        api,
        &MonthRequest {
            month: report.close.period,
            tz: Some(report.close.time_zone),
        },
    )
}
