//! Gateway vs ledger, day by day, per currency: the Today screen's chart (the month-end
//! summary draws the same two lines for a closed period, from the tie-out's selection).
//!
//! Pure: rows in, totals out, no store and no clock. A day is a calendar day in the
//! business's zone. What counts is what the tie-out counts: on the gateway side a charge
//! that succeeded and was captured adds its amount on the day it was created, and a refund
//! that did not fail takes its amount away on the day it was made (a refund the store
//! knows only as a charge's `amount_refunded` is taken away on the charge's day); on the
//! ledger side a payment adds and a refund takes away, on the day it was recorded. Ledger
//! fixes proposed by Chargeguard are not drawn: the chart shows the two sources as they
//! stand. Money is summed in `i128` minor units of one currency; currencies never mix.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::tieout::{captured, refund_counts};
use crate::records::{Charge, GatewayRefund, LedgerEntry, LedgerKind};
use crate::store::QUARTER_SECONDS;

/// One day's money on each side, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayTotal {
    pub day: Date,
    pub gateway: i128,
    pub ledger: i128,
}

/// Per lower-case currency code, one [`DayTotal`] per day of `[first, last]`, days with
/// no money included (a chart needs the gaps), oldest first.
pub fn gateway_vs_ledger(
    charges: &[Charge],
    refunds: &[GatewayRefund],
    ledger: &[LedgerEntry],
    zone: &TimeZone,
    first: Date,
    last: Date,
) -> BTreeMap<String, Vec<DayTotal>> {
    let mut out: BTreeMap<String, Vec<DayTotal>> = BTreeMap::new();
    if last < first {
        return out;
    }
    let mut add = |code: String, at: Timestamp, gateway: i128, ledger: i128| {
        let day = at.to_zoned(zone.clone()).date();
        if day < first || day > last {
            return;
        }
        let Ok(offset) = first.until(day) else {
            return;
        };
        let index = usize::try_from(offset.get_days()).unwrap_or(0);
        let series = out.entry(code).or_insert_with(|| empty_days(first, last));
        series[index].gateway += gateway;
        series[index].ledger += ledger;
    };
    let mut refunded_by_object: BTreeMap<&str, i128> = BTreeMap::new();
    for r in refunds {
        if refund_counts(r.status) {
            *refunded_by_object.entry(r.charge_id.as_str()).or_default() +=
                i128::from(r.amount.minor());
            add(
                r.amount.currency().lower(),
                r.created,
                -i128::from(r.amount.minor()),
                0,
            );
        }
    }
    for c in charges {
        if !captured(c) {
            continue;
        }
        let code = c.amount.currency().lower();
        add(code.clone(), c.created, c.amount.minor().into(), 0);
        // Refunded money the store holds no refund object for (an export's
        // `Amount Refunded`) leaves on the charge's own day.
        let known = refunded_by_object.get(c.id.as_str()).copied().unwrap_or(0);
        let unseen = i128::from(c.amount_refunded.minor()) - known;
        if unseen > 0 {
            add(code, c.created, -unseen, 0);
        }
    }
    for e in ledger {
        let v = i128::from(e.amount.minor());
        let v = if e.kind == LedgerKind::Payment { v } else { -v };
        add(e.amount.currency().lower(), e.recorded_at, 0, v);
    }
    out
}

/// One zero [`DayTotal`] per day of `[first, last]`.
fn empty_days(first: Date, last: Date) -> Vec<DayTotal> {
    let days = first.until(last).map_or(0, |span| span.get_days()) + 1;
    (0..i64::from(days.max(1)))
        .map(|i| DayTotal {
            day: first
                .checked_add(jiff::Span::new().days(i))
                .unwrap_or(first),
            gateway: 0,
            ledger: 0,
        })
        .collect()
}

/// The chart of the latest days with money, read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recent {
    pub first: Date,
    pub last: Date,
    pub totals: BTreeMap<String, Vec<DayTotal>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the chart's days cannot be placed in the time zone: {0}")]
    Zone(#[from] jiff::Error),
}

/// [`gateway_vs_ledger`] over the `days` days ending on the latest day, not after `today`,
/// on which either side holds money; `None` when neither side holds money on or before
/// `today`. It reads the per-quarter-hour totals the store keeps as rows arrive (a few
/// thousand rows for two weeks, whatever the books hold); in a zone whose days would not
/// start on a quarter hour, it reads those days' rows instead.
pub fn recent(
    tx: &crate::store::StoreTx<'_>,
    zone: &TimeZone,
    today: Date,
    days: u32,
) -> Result<Option<Recent>, ChartError> {
    let start_of = |day: Date| start_of(day, zone);
    let quarter = |at: Timestamp| {
        let s = at.as_second();
        (s % QUARTER_SECONDS == 0).then_some(s / QUARTER_SECONDS)
    };
    let tomorrow = start_of(today.tomorrow()?)?;
    let Some(before) = quarter(tomorrow) else {
        return recent_from_rows(tx, zone, today, days);
    };
    let Some(newest) = tx.newest_quarter_with_money(before)? else {
        return Ok(None);
    };
    let (first, last) = days_ending(
        Timestamp::from_second(newest * QUARTER_SECONDS)?,
        zone,
        days,
    );
    let (Some(from), Some(to)) = (
        quarter(start_of(first)?),
        quarter(start_of(last.tomorrow()?)?),
    ) else {
        return recent_from_rows(tx, zone, today, days);
    };
    let mut totals: BTreeMap<String, Vec<DayTotal>> = BTreeMap::new();
    for q in tx.money_by_quarter(from, to)? {
        if !q.has_rows {
            continue;
        }
        let day = Timestamp::from_second(q.quarter * QUARTER_SECONDS)?
            .to_zoned(zone.clone())
            .date();
        let series = totals
            .entry(q.currency)
            .or_insert_with(|| empty_days(first, last));
        let index = usize::try_from(first.until(day)?.get_days()).unwrap_or(0);
        series[index].gateway += i128::from(q.gateway_minor);
        series[index].ledger += i128::from(q.ledger_minor);
    }
    Ok(Some(Recent {
        first,
        last,
        totals,
    }))
}

/// The instant `day` starts in `zone`.
fn start_of(day: Date, zone: &TimeZone) -> Result<Timestamp, jiff::Error> {
    Ok(day.to_zoned(zone.clone())?.timestamp())
}

/// The `days` days ending on the day of `newest` in `zone`.
fn days_ending(newest: Timestamp, zone: &TimeZone, days: u32) -> (Date, Date) {
    let last = newest.to_zoned(zone.clone()).date();
    let first = last
        .checked_sub(jiff::Span::new().days(i64::from(days.max(1)) - 1))
        .unwrap_or(last);
    (first, last)
}

/// [`recent`] from the rows of the days drawn (and the refunds of their charges).
fn recent_from_rows(
    tx: &crate::store::StoreTx<'_>,
    zone: &TimeZone,
    today: Date,
    days: u32,
) -> Result<Option<Recent>, ChartError> {
    let start_of = |day: Date| start_of(day, zone);
    let tomorrow = start_of(today.tomorrow()?)?;
    let newest_charge = tx
        .newest_charge_before(tomorrow, captured)?
        .map(|c| c.created);
    let newest_entry = tx.newest_ledger_entry_before(tomorrow)?;
    let Some(newest) = newest_charge.max(newest_entry) else {
        return Ok(None);
    };
    let (first, last) = days_ending(newest, zone, days);
    let (from, to) = (start_of(first)?, start_of(last.tomorrow()?)?);
    let charges = tx.charges_created_between(from, to)?;
    let mut refunds = tx.refunds_created_between(from, to)?;
    // A charge's refunds made after the window still say how much of its refunded total
    // the store knows as refund objects.
    refunds.extend(tx.refunds_of_charges_created_between(from, to)?);
    refunds.sort_by(|a, b| a.id.cmp(&b.id));
    refunds.dedup_by(|a, b| a.id == b.id);
    let ledger = tx.ledger_entries_recorded_between(from, to)?;
    Ok(Some(Recent {
        first,
        last,
        totals: gateway_vs_ledger(&charges, &refunds, &ledger, zone, first, last),
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::money::{Currency, Money};
    use crate::records::{ChargeStatus, RefundStatus};

    /// The latest day, in `zone`, on which either side holds money, not after `today`: where a
    /// chart of recent days should end, from the whole books: what [`recent`] must find.
    pub fn last_active_day(
        charges: &[Charge],
        ledger: &[LedgerEntry],
        zone: &TimeZone,
        today: Date,
    ) -> Option<Date> {
        charges
            .iter()
            .filter(|c| captured(c))
            .map(|c| c.created)
            .chain(ledger.iter().map(|e| e.recorded_at))
            .map(|t| t.to_zoned(zone.clone()).date())
            .filter(|d| *d <= today)
            .max()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn money(minor: i64, code: &str) -> Money {
        Money::from_minor(minor, Currency::from_code(code).unwrap())
    }

    fn charge(id: &str, minor: i64, code: &str, created: &str, refunded: i64) -> Charge {
        Charge {
            id: id.into(),
            amount: money(minor, code),
            amount_refunded: money(refunded, code),
            status: ChargeStatus::Succeeded,
            captured: true,
            created: at(created),
            customer: None,
            customer_email: None,
            payment_intent: None,
            invoice_ref: None,
            gateway_invoice_id: None,
            description: None,
            fee: None,
            metadata: BTreeMap::new(),
        }
    }

    fn entry(kind: LedgerKind, minor: i64, code: &str, recorded: &str) -> LedgerEntry {
        LedgerEntry {
            payment_id: format!("p-{minor}-{recorded}"),
            invoice_number: "INV-1".into(),
            kind,
            amount: money(minor, code),
            recorded_at: at(recorded),
            gateway_id: None,
        }
    }

    #[test]
    fn days_are_the_business_zones_and_currencies_never_mix() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let first = Date::new(2026, 10, 30).unwrap();
        let last = Date::new(2026, 11, 1).unwrap();
        let mut declined = charge("ch_declined", 9_999, "usd", "2026-10-30T10:00:00Z", 0);
        declined.status = ChargeStatus::Failed;
        let charges = vec![
            // 23:30 UTC on the 31st is 00:30 on 1 November in Berlin.
            charge("ch_1", 4_900, "usd", "2026-10-31T23:30:00Z", 0),
            charge("ch_2", 12_000, "jpy", "2026-10-30T09:00:00Z", 0),
            // Refunded in full, known only from the export's column.
            charge("ch_3", 1_000, "usd", "2026-10-30T12:00:00Z", 1_000),
            declined,
        ];
        let refunds = vec![GatewayRefund {
            id: "re_1".into(),
            charge_id: "ch_1".into(),
            amount: money(900, "usd"),
            status: RefundStatus::Succeeded,
            created: at("2026-11-01T08:00:00Z"),
            metadata: BTreeMap::new(),
        }];
        let ledger = vec![
            entry(LedgerKind::Payment, 4_900, "usd", "2026-10-31T22:59:59Z"),
            entry(LedgerKind::Refund, 900, "usd", "2026-11-01T09:00:00Z"),
            entry(LedgerKind::Payment, 12_000, "jpy", "2026-10-30T09:05:00Z"),
        ];
        let totals = gateway_vs_ledger(&charges, &refunds, &ledger, &berlin, first, last);
        assert_eq!(totals.keys().collect::<Vec<_>>(), ["jpy", "usd"]);
        let usd: Vec<(String, i128, i128)> = totals["usd"]
            .iter()
            .map(|d| (d.day.to_string(), d.gateway, d.ledger))
            .collect();
        assert_eq!(
            usd,
            vec![
                ("2026-10-30".into(), 0, 0),
                // 22:59:59 UTC is 23:59:59 on the 31st in Berlin (CET after the change).
                ("2026-10-31".into(), 0, 4_900),
                ("2026-11-01".into(), 4_900 - 900, -900),
            ]
        );
        assert_eq!(totals["jpy"][0].gateway, 12_000);
        assert_eq!(totals["jpy"][0].ledger, 12_000);
    }

    #[test]
    fn money_outside_the_days_asked_for_is_left_out() {
        let first = Date::new(2026, 10, 1).unwrap();
        let last = Date::new(2026, 10, 2).unwrap();
        let charges = vec![charge("ch_1", 100, "eur", "2026-09-30T12:00:00Z", 0)];
        let totals = gateway_vs_ledger(&charges, &[], &[], &TimeZone::UTC, first, last);
        assert!(totals.is_empty(), "{totals:?}");
    }

    /// The chart read a few days at a time from the store draws what the whole books draw,
    /// in any zone, for any length, on any day: the demo has refunds made days after their
    /// charges, ledger entries without charges, and several currencies.
    #[test]
    fn the_recent_days_read_from_the_store_are_the_whole_books_days() {
        use crate::demo::{self, DemoSpec};
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo.db");
        let mut store = crate::store::Store::open(&db).unwrap();
        let now = Timestamp::now();
        demo::build(
            &mut store,
            &db,
            &dir.path().join("files"),
            &DemoSpec::demo(),
            now,
        )
        .unwrap();
        // The demo's refunds are totals on its charges; give some of them refund objects,
        // made days after their charges (as a sync brings them).
        store
            .write(|tx| {
                let origin = sync_origin(tx, "test", now)?;
                let refunded: Vec<Charge> = tx
                    .charges()?
                    .into_iter()
                    .filter(|c| captured(c) && c.amount_refunded.minor() > 0)
                    .collect();
                assert!(!refunded.is_empty(), "the demo refunds some charges");
                for (i, c) in refunded.iter().enumerate() {
                    let refund = GatewayRefund {
                        id: format!("re_test_{i}"),
                        charge_id: c.id.clone(),
                        amount: c.amount_refunded,
                        status: RefundStatus::Succeeded,
                        created: c.created + jiff::SignedDuration::from_hours(24 * (i as i64 % 5)),
                        metadata: BTreeMap::new(),
                    };
                    tx.upsert_refund("stripe", &refund, crate::store::ExtraColumns::NONE, &origin)?;
                }
                Ok::<_, crate::store::StoreError>(())
            })
            .unwrap();
        store.read(assert_recent_draws_the_whole_books).unwrap();

        // Rows change after they were counted: a later export says a charge was refunded
        // in full, a refund failed, the ledger corrected a payment and moved another's date.
        store
            .write(|tx| {
                let origin = sync_origin(tx, "again", now)?;
                let charges: Vec<Charge> = tx.charges()?.into_iter().filter(captured).collect();
                for c in charges.iter().step_by(7) {
                    let mut c = c.clone();
                    c.amount_refunded = c.amount;
                    tx.upsert_charge("stripe", &c, crate::store::ExtraColumns::NONE, &origin)?;
                }
                for c in charges.iter().skip(3).step_by(11) {
                    let mut c = c.clone();
                    c.captured = false;
                    tx.upsert_charge("stripe", &c, crate::store::ExtraColumns::NONE, &origin)?;
                }
                for r in tx.refunds()?.iter().step_by(2) {
                    let mut r = r.clone();
                    r.status = RefundStatus::Failed;
                    tx.upsert_refund("stripe", &r, crate::store::ExtraColumns::NONE, &origin)?;
                }
                for (i, e) in tx.ledger_entries()?.iter().enumerate().step_by(5) {
                    let mut e = e.clone();
                    if i % 2 == 0 {
                        e.amount = Money::from_minor(e.amount.minor() + 1, e.amount.currency());
                    } else {
                        e.recorded_at += jiff::SignedDuration::from_hours(30);
                    }
                    tx.upsert_ledger_entry(&e, crate::store::ExtraColumns::NONE, &origin)?;
                }
                Ok::<_, crate::store::StoreError>(())
            })
            .unwrap();
        store.read(assert_recent_draws_the_whole_books).unwrap();
    }

    /// Where rows a sync named `name` writes come from.
    fn sync_origin(
        tx: &crate::store::StoreTx<'_>,
        name: &str,
        now: Timestamp,
    ) -> Result<crate::records::Origin, crate::store::StoreError> {
        let source = tx.begin_source(crate::store::SourceKind::StripeSync, name, None, now)?;
        Ok(crate::records::Origin {
            source_id: source,
            line: None,
        })
    }

    /// [`recent`], in two zones, for several lengths and days, is what the whole books draw.
    fn assert_recent_draws_the_whole_books(
        tx: &crate::store::StoreTx<'_>,
    ) -> Result<(), crate::store::StoreError> {
        {
            {
                let (charges, refunds, ledger) =
                    (tx.charges()?, tx.refunds()?, tx.ledger_entries()?);
                assert!(!refunds.is_empty());
                // Days counted back from the demo's newest money (its dates are fixed), and
                // one before any of it.
                let newest = charges.iter().map(|c| c.created).max().unwrap();
                let mut drawn = 0;
                for zone in [TimeZone::UTC, TimeZone::get("Pacific/Auckland").unwrap()] {
                    for back in [-2, 0, 3, 20, 400] {
                        let today = newest
                            .to_zoned(zone.clone())
                            .date()
                            .checked_sub(jiff::Span::new().days(back))
                            .unwrap();
                        for days in [1, 14, 92] {
                            let got = recent(tx, &zone, today, days).unwrap();
                            let want =
                                last_active_day(&charges, &ledger, &zone, today).map(|last| {
                                    let first = last
                                        .checked_sub(jiff::Span::new().days(i64::from(days) - 1))
                                        .unwrap();
                                    Recent {
                                        first,
                                        last,
                                        totals: gateway_vs_ledger(
                                            &charges, &refunds, &ledger, &zone, first, last,
                                        ),
                                    }
                                });
                            drawn += usize::from(got.is_some());
                            assert_eq!(got, want, "{zone:?} {today} {days}");
                        }
                    }
                }
                assert_eq!(
                    drawn,
                    2 * 4 * 3,
                    "every day but the one before the books draws"
                );
                Ok(())
            }
        }
    }
}
