//! Dates and times read from files: every one becomes a UTC instant, explicitly.
//!
//! A value with an offset or `Z` is an instant already. A value without one (a plain date,
//! or a date and time with no zone) is read in the time zone the import was given — UTC
//! unless the user says otherwise — and a local time that a clock change makes ambiguous or
//! impossible is refused rather than guessed. A plain date is the start of that day.
//! The store keeps instants as Unix seconds (UTC).

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// Why a date could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("the date is empty")]
    Empty,
    #[error(
        "`{text}` is not an ISO 8601 date or date-time (like 2026-10-31 or 2026-10-31T14:05:00Z)"
    )]
    Malformed { text: String },
    #[error(
        "`{text}` is not a date in this layout's format `{format}`; if the app writes dates another way (days and months swapped), pick the layout that does with --from, or a mapping whose [format] date says so"
    )]
    NotInFormat { text: String, format: String },
    #[error(
        "`{text}` does not exist or happens twice in {zone} (a clock change); add an offset such as +01:00"
    )]
    Ambiguous { text: String, zone: String },
}

/// Reads ISO 8601 text as an instant; zone-less values are taken in `zone`.
pub fn parse_instant(text: &str, zone: &TimeZone) -> Result<Timestamp, DateError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DateError::Empty);
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    let civil = if let Ok(dt) = text.parse::<DateTime>() {
        dt
    } else if let Ok(date) = text.parse::<Date>() {
        date.to_datetime(jiff::civil::Time::midnight())
    } else {
        return Err(DateError::Malformed {
            text: text.to_string(),
        });
    };
    in_zone(civil, text, zone)
}

/// Reads a date (or date and time) written in an app's own format (`%b %d %Y` for
/// `Jan 28 2021`, `%d/%m/%Y`), fixed by the file's layout and never guessed per row; a
/// value without an offset is taken in `zone`, a plain date as the start of its day.
pub fn parse_instant_as(text: &str, format: &str, zone: &TimeZone) -> Result<Timestamp, DateError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DateError::Empty);
    }
    let not_in_format = || DateError::NotInFormat {
        text: text.to_string(),
        format: format.to_string(),
    };
    let parsed = jiff::fmt::strtime::parse(format, text).map_err(|_| not_in_format())?;
    if let Ok(ts) = parsed.to_timestamp() {
        return Ok(ts);
    }
    let civil = match parsed.to_datetime() {
        Ok(dt) => dt,
        Err(_) => parsed
            .to_date()
            .map_err(|_| not_in_format())?
            .to_datetime(jiff::civil::Time::midnight()),
    };
    in_zone(civil, text, zone)
}

fn in_zone(civil: DateTime, text: &str, zone: &TimeZone) -> Result<Timestamp, DateError> {
    zone.to_ambiguous_zoned(civil)
        .unambiguous()
        .map(|zoned| zoned.timestamp())
        .map_err(|_| DateError::Ambiguous {
            text: text.to_string(),
            zone: zone
                .iana_name()
                .unwrap_or("the import's time zone")
                .to_string(),
        })
}

/// Looks up an IANA zone name ("Europe/Berlin", "UTC").
pub fn zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|e| format!("unknown time zone `{name}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn utc(text: &str) -> i64 {
        parse_instant(text, &TimeZone::UTC).unwrap().as_second()
    }

    #[rstest]
    #[case::zulu("2026-10-31T23:30:00Z", 1_793_489_400)]
    #[case::offset("2026-11-01T00:30:00+01:00", 1_793_489_400)]
    #[case::naive_is_utc_by_default("2026-10-31 23:30:00", 1_793_489_400)]
    #[case::naive_with_t("2026-10-31T23:30:00", 1_793_489_400)]
    #[case::plain_date_is_midnight("2026-10-31", 1_793_404_800)]
    fn reads_instants(#[case] text: &str, #[case] seconds: i64) {
        assert_eq!(utc(text), seconds);
    }

    #[test]
    fn naive_times_use_the_given_zone() {
        let berlin = zone("Europe/Berlin").unwrap();
        let ts = parse_instant("2026-10-31 23:30:00", &berlin).unwrap();
        assert_eq!(ts.to_string(), "2026-10-31T22:30:00Z");
    }

    #[test]
    fn a_time_that_happens_twice_is_refused() {
        let berlin = zone("Europe/Berlin").unwrap();
        // Clocks go back at 03:00 on 2026-10-25: 02:30 happens twice.
        assert!(matches!(
            parse_instant("2026-10-25 02:30:00", &berlin),
            Err(DateError::Ambiguous { .. })
        ));
    }

    #[rstest]
    #[case::month_name("Jan 28 2021", "%b %d %Y", "2021-01-28T00:00:00Z")]
    #[case::day_first("28/01/2021", "%d/%m/%Y", "2021-01-28T00:00:00Z")]
    #[case::with_time("2021-01-28 14:05", "%Y-%m-%d %H:%M", "2021-01-28T14:05:00Z")]
    #[case::with_offset("2021-01-28 14:05 +0100", "%Y-%m-%d %H:%M %z", "2021-01-28T13:05:00Z")]
    fn dates_in_an_apps_own_format(#[case] text: &str, #[case] format: &str, #[case] at: &str) {
        let ts = parse_instant_as(text, format, &TimeZone::UTC).unwrap();
        assert_eq!(ts.to_string(), at);
    }

    #[rstest]
    #[case::month_first_read_day_first("01/28/2021", "%d/%m/%Y")]
    #[case::iso_in_a_month_name_layout("2021-01-28", "%b %d %Y")]
    fn dates_not_in_the_layouts_format_are_refused(#[case] text: &str, #[case] format: &str) {
        let err = parse_instant_as(text, format, &TimeZone::UTC).unwrap_err();
        assert!(matches!(err, DateError::NotInFormat { .. }), "{err}");
    }

    #[rstest]
    #[case::words("yesterday")]
    #[case::us_style("10/31/2026")]
    #[case::empty("")]
    fn refuses_what_is_not_iso(#[case] text: &str) {
        assert!(parse_instant(text, &TimeZone::UTC).is_err());
    }
}
