//! Accounting periods: a calendar month in the business's time zone, and closing it.
//!
//! A period is never "a month in UTC by accident": its bounds are the first instant of the
//! month and the first instant of the next, both at local midnight in the business's zone
//! (the `timezone` setting; `--tz` overrides it for one command). So a charge at 23:30 on
//! 31 October in Berlin belongs to October even though it is 22:30 UTC, and one at 00:30
//! on 1 November belongs to November although UTC still says October. The zone is looked
//! up with jiff's bundled tz database, so a period's bounds do not depend on the machine.
//!
//! Closing a period is a sign-off: a named approver with their passphrase, after the month
//! has ended and only if its books tie out (see `export::tieout`). A closed period refuses
//! new actions and ledger fixes dated inside it (the journal asks
//! `StoreTx::period_closed`), until a named approver reopens it with a reason. Both the
//! close and the reopen are audit entries about `period:YYYY-MM`, written in the same
//! transaction as the change.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::json;

use crate::people::{self, PeopleError, Role};
use crate::store::{PeriodClose, Store, StoreError, StoreTx};

/// The setting that holds the business's IANA time zone (`Europe/Berlin`).
pub const TIMEZONE_SETTING: &str = "timezone";

/// Why a period could not be read, closed or reopened.
#[derive(Debug, thiserror::Error)]
pub enum PeriodError {
    #[error("`{0}` is not a month; write it as YYYY-MM, like 2026-10")]
    BadMonth(String),
    #[error("{0}")]
    BadZone(String),
    #[error(
        "no time zone is set for the business, and a month is not read in UTC by accident: pass --tz Europe/Berlin (or the zone you keep the books in), or set the `{TIMEZONE_SETTING}` setting"
    )]
    NoZone,
    #[error(
        "{period} was closed in {closed_in}; export and check it in that zone (drop --tz or pass --tz {closed_in})"
    )]
    ClosedInOtherZone { period: String, closed_in: String },
    #[error(
        "{period} has not ended yet (it ends {ends}); a period is closed only after its last day"
    )]
    NotEnded { period: String, ends: String },
    #[error("{0} is not closed; nothing to reopen")]
    NotClosed(String),
    #[error("a reopen needs a reason: say why the period must change")]
    NoReason,
    #[error("`{0}` is not an approver; closing and reopening a period is an approver's sign-off")]
    NotAnApprover(String),
    #[error(transparent)]
    People(#[from] PeopleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One calendar month in one time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    first_day: Date,
    zone: TimeZone,
    zone_name: String,
}

impl Period {
    /// `2026-10` in `zone_name`.
    pub fn parse(month: &str, zone_name: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError::BadMonth(month.to_string());
        let (y, m) = month.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i16 = y.parse().map_err(|_| bad())?;
        let month_n: i8 = m.parse().map_err(|_| bad())?;
        let first_day = Date::new(year, month_n, 1).map_err(|_| bad())?;
        let zone = crate::dates::zone(zone_name).map_err(PeriodError::BadZone)?;
        Ok(Period {
            first_day,
            zone,
            zone_name: zone_name.to_string(),
        })
    }

    /// `YYYY-MM`.
    pub fn label(&self) -> String {
        format!("{:04}-{:02}", self.first_day.year(), self.first_day.month())
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    /// The first instant of the month (local midnight of the 1st), inclusive.
    pub fn start(&self) -> Timestamp {
        local_midnight(self.first_day, &self.zone)
    }

    /// The first instant of the next month, exclusive.
    pub fn end(&self) -> Timestamp {
        let next = self
            .first_day
            .checked_add(jiff::Span::new().months(1))
            .expect("a month after a valid date exists");
        local_midnight(next, &self.zone)
    }

    pub fn contains(&self, at: Timestamp) -> bool {
        self.start() <= at && at < self.end()
    }

    /// The calendar day (in the period's zone) of an instant.
    pub fn local_day(&self, at: Timestamp) -> Date {
        at.to_zoned(self.zone.clone()).date()
    }

    /// The days of the month, in order.
    pub fn days(&self) -> Vec<Date> {
        let n = self.first_day.days_in_month();
        (0..n)
            .map(|d| {
                self.first_day
                    .checked_add(jiff::Span::new().days(i64::from(d)))
                    .expect("a day inside its month exists")
            })
            .collect()
    }

    /// An instant as local text with its offset (`2026-10-31T23:30:00+01:00`): what a
    /// bookkeeper reads, and still one exact instant.
    pub fn local_text(&self, at: Timestamp) -> String {
        at.to_zoned(self.zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }
}

/// Midnight at the start of `day` in `zone`; where a clock change skips midnight, the first
/// instant of the day that exists.
fn local_midnight(day: Date, zone: &TimeZone) -> Timestamp {
    day.to_zoned(zone.clone())
        .expect("a calendar day exists in every zone")
        .timestamp()
}

/// The zone a command works in: `--tz` if given, else the `timezone` setting; neither is
/// an error (never UTC by accident).
pub fn business_zone(tx: &StoreTx<'_>, tz: Option<&str>) -> Result<String, PeriodError> {
    match tz {
        Some(name) => Ok(name.to_string()),
        None => tx.setting(TIMEZONE_SETTING)?.ok_or(PeriodError::NoZone),
    }
}

/// The zone a day is read in where a day, not a month, is asked for (an import's dates
/// without a zone, the Today chart's days): the business's, or UTC until one is set. Every
/// shell reads it here, so a file imported from the command line and from a window gets
/// the same dates.
pub fn day_zone(tx: &StoreTx<'_>) -> Result<(String, TimeZone), PeriodError> {
    let name = tx
        .setting(TIMEZONE_SETTING)?
        .unwrap_or_else(|| "UTC".to_string());
    let zone = crate::dates::zone(&name).map_err(|detail| {
        PeriodError::BadZone(format!(
            "{detail}; set the business's time zone in Settings again"
        ))
    })?;
    Ok((name, zone))
}

/// Sets the business's time zone (the `timezone` setting) to the IANA zone `name`, spelled
/// as the tz database spells it (`europe/berlin` is kept as `Europe/Berlin`). A fixed
/// offset or an abbreviation (`+01:00`, `CET` aside, `EST`) is refused: a month is read in
/// a place's zone, with its clock changes. Periods already closed keep the zone they were
/// closed in. The change is audited as `by`'s.
pub fn set_business_zone(
    store: &mut Store,
    name: &str,
    by: &str,
    at: Timestamp,
) -> Result<String, PeriodError> {
    let typed = name.trim();
    let refuse = || {
        PeriodError::BadZone(format!(
            "`{typed}` is not a time zone of the tz database; type a place's zone such as Europe/Berlin, America/New_York or Asia/Kolkata (UTC for none)"
        ))
    };
    if typed.is_empty() || typed.starts_with(['+', '-']) {
        return Err(refuse());
    }
    let zone = crate::dates::zone(typed).map_err(|_| refuse())?;
    let canonical = zone.iana_name().ok_or_else(refuse)?.to_string();
    store.write(|tx| {
        let before = tx.setting(TIMEZONE_SETTING)?;
        if before.as_deref() != Some(canonical.as_str()) {
            tx.set_setting(TIMEZONE_SETTING, &canonical)?;
            tx.append_audit(
                at,
                by,
                "timezone_set",
                "setting:timezone",
                &json!({ "from": before, "to": canonical }),
            )?;
        }
        Ok(canonical)
    })
}

/// The period a command means: a closed period is read in the zone it was closed in (and
/// `--tz` must agree); an open one in `--tz` or the business's zone.
pub fn resolve(
    tx: &StoreTx<'_>,
    month: &str,
    tz: Option<&str>,
) -> Result<(Period, Option<PeriodClose>), PeriodError> {
    let label = Period::parse(month, "UTC")?.label();
    if let Some(close) = tx.live_period_close(&label)? {
        if let Some(asked) = tz
            && asked != close.time_zone
        {
            return Err(PeriodError::ClosedInOtherZone {
                period: label,
                closed_in: close.time_zone,
            });
        }
        let period = Period::parse(&label, &close.time_zone)?;
        return Ok((period, Some(close)));
    }
    let zone = business_zone(tx, tz)?;
    Ok((Period::parse(&label, &zone)?, None))
}

/// What a close or a reopen did.
#[derive(Debug, Clone, Serialize)]
pub struct CloseReport {
    pub close: PeriodClose,
    pub audit_seq: i64,
}

fn sign_off(store: &mut Store, name: &str, passphrase: &str) -> Result<(), PeriodError> {
    match people::check_passphrase(store, name, passphrase)? {
        Role::Approver => Ok(()),
        Role::Bookkeeper => Err(PeriodError::NotAnApprover(name.to_string())),
    }
}

/// Closes `period` as `by` (checked with `passphrase`). `tie_out_holds` runs inside the
/// closing transaction, on the books as they are at that moment; an error from it refuses
/// the close.
pub fn close<E>(
    store: &mut Store,
    period: &Period,
    by: &str,
    passphrase: &str,
    now: Timestamp,
    tie_out_holds: impl FnOnce(&StoreTx<'_>, &Period) -> Result<serde_json::Value, E>,
) -> Result<CloseReport, E>
where
    E: From<PeriodError> + From<StoreError>,
{
    sign_off(store, by, passphrase)?;
    if now < period.end() {
        return Err(PeriodError::NotEnded {
            period: period.label(),
            ends: period.local_text(period.end()),
        }
        .into());
    }
    store.write(|tx| {
        let tie_out = tie_out_holds(tx, period)?;
        let label = period.label();
        tx.insert_period_close(
            &label,
            period.zone_name(),
            period.start().as_second(),
            period.end().as_second(),
            by,
            now,
        )?;
        let close = tx
            .live_period_close(&label)?
            .ok_or_else(|| PeriodError::NotClosed(label.clone()))?;
        let audit_seq = tx.append_audit(
            now,
            by,
            "period_closed",
            &format!("period:{label}"),
            &json!({
                "time_zone": period.zone_name(),
                "starts_at": period.start().as_second(),
                "ends_at": period.end().as_second(),
                "tie_out": tie_out,
            }),
        )?;
        Ok(CloseReport { close, audit_seq })
    })
}

/// Reopens a closed period as `by`, with a reason that goes into the audit log.
pub fn reopen(
    store: &mut Store,
    month: &str,
    by: &str,
    passphrase: &str,
    reason: &str,
    now: Timestamp,
) -> Result<CloseReport, PeriodError> {
    if reason.trim().is_empty() {
        return Err(PeriodError::NoReason);
    }
    let label = Period::parse(month, "UTC")?.label();
    sign_off(store, by, passphrase)?;
    store.write(|tx| {
        let close = tx
            .live_period_close(&label)?
            .ok_or_else(|| PeriodError::NotClosed(label.clone()))?;
        tx.reopen_period_close(close.id, by, reason, now)?;
        let audit_seq = tx.append_audit(
            now,
            by,
            "period_reopened",
            &format!("period:{label}"),
            &json!({ "reason": reason, "closed_at": close.closed_at, "closed_by": close.closed_by }),
        )?;
        let close = tx
            .period_closes()?
            .into_iter()
            .find(|c| c.id == close.id)
            .ok_or_else(|| PeriodError::NotClosed(label.clone()))?;
        Ok(CloseReport { close, audit_seq })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::berlin("Europe/Berlin", Some("Europe/Berlin"))]
    #[case::lower_case_is_spelled_as_the_database_does("asia/kolkata", Some("Asia/Kolkata"))]
    #[case::utc("UTC", Some("UTC"))]
    #[case::fixed_offset("+01:00", None)]
    #[case::made_up("Mars/Olympus_Mons", None)]
    #[case::empty("  ", None)]
    fn the_business_zone_is_an_iana_zone(#[case] typed: &str, #[case] kept: Option<&str>) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let result = set_business_zone(&mut store, typed, "alice", at);
        let stored = store.read(|tx| tx.setting(TIMEZONE_SETTING)).unwrap();
        match kept {
            Some(name) => {
                assert_eq!(result.unwrap(), name);
                assert_eq!(stored.as_deref(), Some(name));
                let audit = store.read(|tx| tx.audit_entries(None, None)).unwrap();
                assert_eq!(audit.last().unwrap().event, "timezone_set");
            }
            None => {
                let err = result.unwrap_err().to_string();
                assert!(err.contains("Europe/Berlin"), "says what to type: {err}");
                assert_eq!(stored, None, "nothing was stored");
            }
        }
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[rstest]
    #[case::berlin_late_on_the_31st_is_october("Europe/Berlin", "2026-10-31T22:30:00Z", true)]
    #[case::berlin_just_after_midnight_is_november("Europe/Berlin", "2026-10-31T23:00:00Z", false)]
    #[case::berlin_first_instant_of_october("Europe/Berlin", "2026-09-30T22:00:00Z", true)]
    #[case::berlin_last_second_of_september("Europe/Berlin", "2026-09-30T21:59:59Z", false)]
    #[case::new_york_evening_of_the_31st_is_october(
        "America/New_York",
        "2026-11-01T03:59:59Z",
        true
    )]
    #[case::new_york_midnight_is_november("America/New_York", "2026-11-01T04:00:00Z", false)]
    #[case::utc_is_just_utc("UTC", "2026-10-31T23:59:59Z", true)]
    fn an_instant_falls_in_the_local_month(
        #[case] zone: &str,
        #[case] at: &str,
        #[case] in_october: bool,
    ) {
        let october = Period::parse("2026-10", zone).unwrap();
        assert_eq!(october.contains(ts(at)), in_october);
    }

    #[test]
    fn a_month_has_its_days_and_a_label() {
        let p = Period::parse("2026-02", "Europe/Berlin").unwrap();
        assert_eq!(p.label(), "2026-02");
        assert_eq!(p.days().len(), 28);
        assert_eq!(p.local_text(p.start()), "2026-02-01T00:00:00+01:00");
    }

    #[rstest]
    #[case::no_dash("202610")]
    #[case::month_thirteen("2026-13")]
    #[case::short_year("26-10")]
    fn a_bad_month_is_refused(#[case] text: &str) {
        assert!(matches!(
            Period::parse(text, "UTC"),
            Err(PeriodError::BadMonth(_))
        ));
    }
}
