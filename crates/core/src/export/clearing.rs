//! The Stripe clearing account's month: per currency, the balance at the period's start,
//! the period's balance transactions grouped into lines, and the balance at its end, with
//! every line traced to the balance transactions it adds up; and the month's Stripe fees
//! as one journal line per currency that the books can take.
//!
//! It owns which line a balance transaction goes to ([`line_of`], also what `verify`
//! re-derives) and the equation's arithmetic. It is pure and must never read the store, a
//! clock or a file (the store's rows and sums are handed to it), never drop a transaction
//! (an unknown kind goes to `other`), never add money as floats, and never decide more
//! about a transaction than its line.
//!
//! The equation, per currency, every amount signed as it moved the Stripe balance:
//!
//! ```text
//! opening balance + charges + refunds + fees + disputes + payouts + other = closing balance
//! ```
//!
//! (refunds, fees, dispute withdrawals and payouts are negative, so this is the issue's
//! *opening + charges − refunds − fees − disputes − payouts = closing*). The period and its
//! zone are the month-end's own (`period::Period`): a transaction belongs to the period when
//! `start ≤ created < end`.
//!
//! | line | balance transactions (Stripe's `type`, or a report's `reporting_category`) | amount |
//! | --- | --- | --- |
//! | `charges` | `charge`, `payment` | the gross `amount` |
//! | `refunds` | `refund`, `payment_refund`, `refund_failure`, `payment_failure_refund` | `amount` |
//! | `fees` | the `fee` of **every** row, taken away; and the whole `net` of a fee row (`stripe_fee`, `stripe_fx_fee`, `tax_fee`, `network_cost`, a report's `fee`) | − fee, net |
//! | `disputes` | `adjustment` whose source is a dispute (`du_…`, `dp_…`), a report's `dispute` and `dispute_reversal`: withdrawals and won reversals | `amount` |
//! | `payouts` | `payout`, `payout_failure`, `payout_cancel`, a report's `payout_reversal` | `amount` |
//! | `other` | anything else (other adjustments, transfers, an unknown kind): never dropped, its own line | `amount` |
//!
//! So each row's `net = amount − fee` lands in full on the lines, and the lines of a period
//! add up to what its rows moved the balance by. The opening balance is what the `net` of
//! every transaction created before the period adds up to, and [`clearing`] is also handed
//! what the `net` of every transaction created before the period's *end* adds up to, read
//! apart from the period's rows: the closing balance must equal it to the minor unit, or
//! [`clearing`] refuses with an error naming both (never a panic), so a row the period's
//! read missed, a row read twice or a line that dropped money stops the package. Sums are
//! `i128`, turned into `i64` minor units at the end (refused, not wrapped, should they not
//! fit); money is never a float.
//!
//! The fees journal ([`fees_journal`]): for each currency whose fees line is not zero, one
//! line dated the period's last day, debiting the `Stripe fees` expense account and
//! crediting the `Stripe clearing` account with what the fees line took (the other way
//! round should refunded fees outweigh the month's), its memo naming the period and how many
//! balance transactions the fees came from, keyed so that an accounting system that keys
//! its imports refuses the same month twice.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::money::{Currency, Money};
use crate::period::Period;
use crate::records::BalanceTransaction;

/// The expense account the month's Stripe fees are debited to.
pub const FEES_ACCOUNT: &str = "Stripe fees";
/// The account that holds the Stripe balance in the books.
pub const CLEARING_ACCOUNT: &str = "Stripe clearing";

/// Kinds whose whole net is a fee Stripe took (types, and report categories).
pub const FEE_KINDS: &[&str] = &[
    "stripe_fee",
    "stripe_fx_fee",
    "tax_fee",
    "fee",
    "network_cost",
];

/// A line of the clearing account's equation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Line {
    Charges,
    Refunds,
    Fees,
    Disputes,
    Payouts,
    Other,
}

impl Line {
    /// Every line, in the order the equation is written.
    pub const ALL: [Line; 6] = [
        Line::Charges,
        Line::Refunds,
        Line::Fees,
        Line::Disputes,
        Line::Payouts,
        Line::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Line::Charges => "charges",
            Line::Refunds => "refunds",
            Line::Fees => "fees",
            Line::Disputes => "disputes",
            Line::Payouts => "payouts",
            Line::Other => "other",
        }
    }

    /// Parses what `as_str` writes.
    pub fn parse(text: &str) -> Option<Line> {
        Line::ALL.into_iter().find(|l| l.as_str() == text)
    }

    /// What a bookkeeper reads.
    pub fn label(self) -> &'static str {
        match self {
            Line::Charges => "Charges (gross)",
            Line::Refunds => "Refunds",
            Line::Fees => "Stripe fees",
            Line::Disputes => "Disputes (withdrawals and reversals)",
            Line::Payouts => "Payouts (and their failures and cancels)",
            Line::Other => "Other adjustments",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Line {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The line a balance transaction's `amount` goes to (its `fee` always goes to `fees`),
/// from its kind (Stripe's `type` or a report's `reporting_category`) and its source.
pub fn line_of(kind: &str, source: Option<&str>) -> Line {
    let from_dispute = source.is_some_and(|s| s.starts_with("du_") || s.starts_with("dp_"));
    match kind {
        k if FEE_KINDS.contains(&k) => Line::Fees,
        "charge" | "payment" => Line::Charges,
        "refund" | "payment_refund" | "refund_failure" | "payment_failure_refund" => Line::Refunds,
        "dispute" | "dispute_reversal" => Line::Disputes,
        "adjustment" if from_dispute => Line::Disputes,
        "payout" | "payout_failure" | "payout_cancel" | "payout_reversal" => Line::Payouts,
        _ => Line::Other,
    }
}

/// One line of one currency: what it moved the balance by, and how many balance
/// transactions it adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineTotal {
    pub line: Line,
    /// Minor units, signed as the balance moved.
    pub amount: i64,
    pub transactions: u64,
}

/// The clearing account of one currency for the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrencyClearing {
    /// Lower-case ISO code.
    pub currency: String,
    /// The balance at the period's start: the `net` of every earlier transaction.
    pub opening: i64,
    /// Every line, in [`Line::ALL`]'s order, zero ones too.
    pub lines: Vec<LineTotal>,
    /// `opening` plus the lines; equal to the `net` of every transaction before the end.
    pub closing: i64,
}

impl CurrencyClearing {
    pub fn line(&self, line: Line) -> LineTotal {
        self.lines[line.index()]
    }
}

/// The clearing account of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clearing {
    /// One per currency with a balance transaction before the period's end, by code.
    pub currencies: Vec<CurrencyClearing>,
    /// The line of each of the period's rows (its `amount`'s), in the rows' order.
    #[serde(skip)]
    pub row_lines: Vec<Line>,
}

/// Why the clearing account of a period cannot be stated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClearingError {
    #[error(
        "the Stripe clearing account of {} in {} does not tie out: the opening balance {} and the period's lines ({}) close at {}, but the balance transactions created before the period's end add up to {}",
        .0.period, .0.currency, .0.opening, .0.lines, .0.closing, .0.balance_at_end
    )]
    Unbalanced(Box<Unbalanced>),
    #[error(
        "balance transaction {id} was created at {created}, outside {period}; it is not one of the period's"
    )]
    OutsidePeriod {
        period: String,
        id: String,
        created: String,
    },
    #[error(
        "balance transaction {id} does not add up: its net is not its amount less its fee in one currency"
    )]
    DoesNotAdd { id: String },
    #[error("a Stripe clearing total of {period} in {currency} does not fit in 64-bit minor units")]
    Overflow { period: String, currency: String },
}

/// A currency whose closing balance is not what its transactions add up to, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbalanced {
    pub period: String,
    /// Upper-case ISO code.
    pub currency: String,
    pub opening: String,
    pub lines: String,
    pub closing: String,
    pub balance_at_end: String,
}

#[derive(Default)]
struct Acc {
    opening: i128,
    lines: [i128; 6],
    counts: [u64; 6],
    at_end: i128,
}

fn show(minor: i128, currency: &str) -> String {
    match (i64::try_from(minor), Currency::from_code(currency)) {
        (Ok(m), Ok(c)) => Money::from_minor(m, c).to_string(),
        _ => format!("{minor} minor units of {}", currency.to_uppercase()),
    }
}

/// The clearing account of `period`: `opening` is, per currency, the `net` of every
/// balance transaction created before the period's start; `rows` are the period's own
/// (created inside it); `balance_at_end` is, per currency, the `net` of every transaction
/// created before the period's end, read apart from `rows`. Refuses when a row lies outside
/// the period or does not add up, or when the closing balance is not `balance_at_end`.
pub fn clearing(
    period: &Period,
    opening: &[Money],
    rows: &[BalanceTransaction],
    balance_at_end: &[Money],
) -> Result<Clearing, ClearingError> {
    let label = period.label();
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    for m in opening {
        acc.entry(m.currency().lower()).or_default().opening += i128::from(m.minor());
    }
    for m in balance_at_end {
        acc.entry(m.currency().lower()).or_default().at_end += i128::from(m.minor());
    }
    let mut row_lines = Vec::with_capacity(rows.len());
    for t in rows {
        if !period.contains(t.created) {
            return Err(ClearingError::OutsidePeriod {
                period: label,
                id: t.id.clone(),
                created: period.local_text(t.created),
            });
        }
        let currency = t.amount.currency();
        let (amount, fee, net) = (
            i128::from(t.amount.minor()),
            i128::from(t.fee.minor()),
            i128::from(t.net.minor()),
        );
        if t.fee.currency() != currency || t.net.currency() != currency || amount - fee != net {
            return Err(ClearingError::DoesNotAdd { id: t.id.clone() });
        }
        let a = acc.entry(currency.lower()).or_default();
        let line = line_of(&t.kind, t.source.as_deref());
        if line == Line::Fees {
            a.lines[Line::Fees.index()] += net;
            a.counts[Line::Fees.index()] += 1;
        } else {
            a.lines[line.index()] += amount;
            a.counts[line.index()] += 1;
            if fee != 0 {
                a.lines[Line::Fees.index()] -= fee;
                a.counts[Line::Fees.index()] += 1;
            }
        }
        row_lines.push(line);
    }
    let mut currencies = Vec::with_capacity(acc.len());
    for (currency, a) in acc {
        let closing = a.opening + a.lines.iter().sum::<i128>();
        if closing != a.at_end {
            let lines = Line::ALL
                .iter()
                .map(|l| format!("{} {}", l, show(a.lines[l.index()], &currency)))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ClearingError::Unbalanced(Box::new(Unbalanced {
                period: label,
                opening: show(a.opening, &currency),
                lines,
                closing: show(closing, &currency),
                balance_at_end: show(a.at_end, &currency),
                currency: currency.to_uppercase(),
            })));
        }
        // `i64::MIN` is refused too, so every total can be negated (the fees journal does).
        let fit = |v: i128| {
            i64::try_from(v)
                .ok()
                .filter(|v| *v != i64::MIN)
                .ok_or_else(|| ClearingError::Overflow {
                    period: label.clone(),
                    currency: currency.to_uppercase(),
                })
        };
        let mut lines = Vec::with_capacity(Line::ALL.len());
        for line in Line::ALL {
            lines.push(LineTotal {
                line,
                amount: fit(a.lines[line.index()])?,
                transactions: a.counts[line.index()],
            });
        }
        currencies.push(CurrencyClearing {
            opening: fit(a.opening)?,
            closing: fit(closing)?,
            lines,
            currency,
        });
    }
    Ok(Clearing {
        currencies,
        row_lines,
    })
}

/// One journal line the books can take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalLine {
    /// Stable for the period and currency: an import keyed on it takes a month once.
    pub key: String,
    /// The period's last day, in its zone.
    pub date: jiff::civil::Date,
    pub debit_account: &'static str,
    pub credit_account: &'static str,
    /// Minor units, positive.
    pub amount: i64,
    /// Lower-case ISO code.
    pub currency: String,
    pub memo: String,
    /// The balance transactions the fees came from.
    pub transactions: u64,
}

/// The month's Stripe fees, one journal line per currency whose fees line is not zero.
pub fn fees_journal(period: &Period, clearing: &Clearing) -> Vec<JournalLine> {
    let label = period.label();
    let date = *period.days().last().expect("a month has days");
    clearing
        .currencies
        .iter()
        .filter_map(|c| {
            let fees = c.line(Line::Fees);
            // The fees line is what the balance lost to fees: negative when Stripe took.
            let taken = -fees.amount;
            if taken == 0 {
                return None;
            }
            let (debit_account, credit_account, what) = if taken > 0 {
                (FEES_ACCOUNT, CLEARING_ACCOUNT, "Stripe fees")
            } else {
                (CLEARING_ACCOUNT, FEES_ACCOUNT, "Stripe fees refunded")
            };
            Some(JournalLine {
                key: format!("chargeguard:stripe-fees:{label}:{}", c.currency),
                date,
                debit_account,
                credit_account,
                amount: taken.abs(),
                currency: c.currency.clone(),
                memo: format!(
                    "{what} in {} for {label} ({}): {} balance transaction{}",
                    c.currency.to_uppercase(),
                    period.zone_name(),
                    fees.transactions,
                    if fees.transactions == 1 { "" } else { "s" }
                ),
                transactions: fees.transactions,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TZ: &str = "Europe/Berlin";

    fn cur(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    fn txn(
        id: &str,
        kind: &str,
        source: Option<&str>,
        amount: i64,
        fee: i64,
        code: &str,
        at: &str,
    ) -> BalanceTransaction {
        let c = cur(code);
        let created: jiff::Timestamp = at.parse().unwrap();
        BalanceTransaction {
            id: id.into(),
            kind: kind.into(),
            amount: Money::from_minor(amount, c),
            fee: Money::from_minor(fee, c),
            net: Money::from_minor(amount - fee, c),
            created,
            available_on: created,
            source: source.map(String::from),
            payout: None,
        }
    }

    /// Two months of two currencies: September's charges carried into October, where a
    /// customer disputes a charge and the business wins it back, another is refunded, a
    /// payout fails and goes again, Stripe bills Radar and a stray adjustment lands.
    fn books() -> Vec<BalanceTransaction> {
        vec![
            // September (Berlin): two USD charges and one EUR charge.
            txn(
                "txn_s1",
                "charge",
                Some("ch_s1"),
                10_000,
                320,
                "usd",
                "2026-09-03T10:00:00Z",
            ),
            txn(
                "txn_s2",
                "charge",
                Some("ch_s2"),
                5_000,
                175,
                "usd",
                "2026-09-20T10:00:00Z",
            ),
            txn(
                "txn_s3",
                "charge",
                Some("ch_s3"),
                8_000,
                145,
                "eur",
                "2026-09-28T10:00:00Z",
            ),
            // 30 Sept 22:30 UTC is 1 October 00:30 in Berlin: October's.
            txn(
                "txn_o1",
                "charge",
                Some("ch_o1"),
                20_000,
                610,
                "usd",
                "2026-09-30T22:30:00Z",
            ),
            txn(
                "txn_o2",
                "refund",
                Some("re_o2"),
                -3_000,
                0,
                "usd",
                "2026-10-05T09:00:00Z",
            ),
            txn(
                "txn_o3",
                "adjustment",
                Some("du_o3"),
                -5_000,
                1_500,
                "usd",
                "2026-10-08T09:00:00Z",
            ),
            txn(
                "txn_o4",
                "adjustment",
                Some("du_o3"),
                5_000,
                0,
                "usd",
                "2026-10-20T09:00:00Z",
            ),
            txn(
                "txn_o5",
                "payout",
                Some("po_o5"),
                -30_905,
                0,
                "usd",
                "2026-10-10T09:00:00Z",
            ),
            txn(
                "txn_o6",
                "payout_failure",
                Some("po_o5"),
                30_905,
                0,
                "usd",
                "2026-10-12T09:00:00Z",
            ),
            txn(
                "txn_o7",
                "payout",
                Some("po_o7"),
                -25_000,
                0,
                "usd",
                "2026-10-13T09:00:00Z",
            ),
            txn(
                "txn_o8",
                "stripe_fee",
                Some("ab_radar"),
                -200,
                0,
                "usd",
                "2026-10-31T22:59:59Z",
            ),
            txn(
                "txn_o9",
                "adjustment",
                None,
                100,
                0,
                "usd",
                "2026-10-15T09:00:00Z",
            ),
            txn(
                "txn_o10",
                "charge",
                Some("ch_o10"),
                4_000,
                85,
                "eur",
                "2026-10-02T09:00:00Z",
            ),
            txn(
                "txn_o11",
                "payout",
                Some("po_o11"),
                -11_770,
                0,
                "eur",
                "2026-10-03T09:00:00Z",
            ),
            // 31 Oct 23:00 UTC is 1 November in Berlin: November's.
            txn(
                "txn_n1",
                "charge",
                Some("ch_n1"),
                1_000,
                59,
                "usd",
                "2026-10-31T23:00:00Z",
            ),
        ]
    }

    /// What the store would hand over for `month`: the sums and the month's rows.
    fn month(all: &[BalanceTransaction], month: &str) -> (Period, Result<Clearing, ClearingError>) {
        let period = Period::parse(month, TZ).unwrap();
        let (opening, rows, at_end) = split(all, &period);
        let result = clearing(&period, &opening, &rows, &at_end);
        (period, result)
    }

    fn sums(rows: impl Iterator<Item = BalanceTransaction>) -> Vec<Money> {
        let mut by: BTreeMap<Currency, i64> = BTreeMap::new();
        for t in rows {
            *by.entry(t.net.currency()).or_default() += t.net.minor();
        }
        by.into_iter()
            .map(|(c, m)| Money::from_minor(m, c))
            .collect()
    }

    fn split(
        all: &[BalanceTransaction],
        period: &Period,
    ) -> (Vec<Money>, Vec<BalanceTransaction>, Vec<Money>) {
        let opening = sums(all.iter().filter(|t| t.created < period.start()).cloned());
        let at_end = sums(all.iter().filter(|t| t.created < period.end()).cloned());
        let mut rows: Vec<BalanceTransaction> = all
            .iter()
            .filter(|t| period.contains(t.created))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        (opening, rows, at_end)
    }

    fn amounts(c: &CurrencyClearing) -> Vec<(&'static str, i64, u64)> {
        c.lines
            .iter()
            .map(|l| (l.line.as_str(), l.amount, l.transactions))
            .collect()
    }

    #[test]
    fn october_opens_with_septembers_money_and_each_line_holds_its_own() {
        let (_, october) = month(&books(), "2026-10");
        let october = october.unwrap();
        let usd = &october.currencies[1];
        assert_eq!(usd.currency, "usd");
        assert_eq!(usd.opening, (10_000 - 320) + (5_000 - 175));
        assert_eq!(
            amounts(usd),
            vec![
                ("charges", 20_000, 1),
                // Fees: the charge's 6.10, the dispute's 15.00, Radar's 2.00.
                ("refunds", -3_000, 1),
                ("fees", -610 - 1_500 - 200, 3),
                // Withdrawn 50.00, won back 50.00: the dispute costs only its fee.
                ("disputes", 0, 2),
                // Paid out, failed and back, paid out again.
                ("payouts", -25_000, 3),
                ("other", 100, 1),
            ]
        );
        assert_eq!(
            usd.closing,
            14_505 + 20_000 - 3_000 - 2_310 - 25_000 + 100,
            "opening + charges − refunds − fees − disputes − payouts + other"
        );
        let eur = &october.currencies[0];
        assert_eq!(eur.currency, "eur");
        assert_eq!(eur.opening, 8_000 - 145);
        assert_eq!(eur.line(Line::Charges).amount, 4_000);
        assert_eq!(eur.line(Line::Fees).amount, -85);
        assert_eq!(eur.line(Line::Payouts).amount, -11_770);
        assert_eq!(eur.closing, 0, "the euro payout swept the balance");
        // Every row has its line, in the rows' order (time, then id).
        assert_eq!(october.row_lines.len(), 11);
        assert_eq!(october.row_lines[0], Line::Charges); // txn_o1, 1 October in Berlin
    }

    #[test]
    fn a_month_closes_where_the_next_opens() {
        let all = books();
        let (_, september) = month(&all, "2026-09");
        let (_, october) = month(&all, "2026-10");
        let (_, november) = month(&all, "2026-11");
        let (september, october, november) =
            (september.unwrap(), october.unwrap(), november.unwrap());
        for (before, after) in [(&september, &october), (&october, &november)] {
            for c in &after.currencies {
                let closed = before
                    .currencies
                    .iter()
                    .find(|b| b.currency == c.currency)
                    .map_or(0, |b| b.closing);
                assert_eq!(c.opening, closed, "{}", c.currency);
            }
        }
        let usd = november
            .currencies
            .iter()
            .find(|c| c.currency == "usd")
            .unwrap();
        assert_eq!(usd.line(Line::Charges).amount, 1_000);
        assert_eq!(usd.closing, usd.opening + 1_000 - 59);
        let total: i64 = all
            .iter()
            .filter(|t| t.net.currency() == cur("usd"))
            .map(|t| t.net.minor())
            .sum();
        assert_eq!(usd.closing, total, "the balance after every transaction");
    }

    #[test]
    fn a_reports_categories_find_their_lines() {
        assert_eq!(line_of("dispute", Some("txn_x")), Line::Disputes);
        assert_eq!(line_of("dispute_reversal", None), Line::Disputes);
        assert_eq!(line_of("adjustment", Some("dp_1Okp9")), Line::Disputes);
        assert_eq!(line_of("adjustment", Some("ch_1")), Line::Other);
        assert_eq!(line_of("payout_reversal", None), Line::Payouts);
        assert_eq!(line_of("payout_cancel", Some("po_1")), Line::Payouts);
        assert_eq!(line_of("payment_refund", None), Line::Refunds);
        assert_eq!(line_of("payment", Some("py_1")), Line::Charges);
        assert_eq!(line_of("fee", None), Line::Fees);
        assert_eq!(line_of("unknown", None), Line::Other);
        assert_eq!(line_of("transfer", None), Line::Other);
        for line in Line::ALL {
            assert_eq!(Line::parse(line.as_str()), Some(line));
        }
    }

    #[test]
    fn a_balance_that_does_not_add_up_is_an_error_naming_both_sides() {
        let all = books();
        let period = Period::parse("2026-10", TZ).unwrap();
        let (opening, mut rows, at_end) = split(&all, &period);
        // A read that lost the refund.
        rows.retain(|t| t.id != "txn_o2");
        let err = clearing(&period, &opening, &rows, &at_end).unwrap_err();
        match &err {
            ClearingError::Unbalanced(u) => assert_eq!(u.currency, "USD"),
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("2026-10") && text.contains("does not tie out"),
            "{text}"
        );

        // A row of another month handed in as the period's.
        let (opening, mut rows, at_end) = split(&all, &period);
        rows.push(all.iter().find(|t| t.id == "txn_n1").unwrap().clone());
        assert!(matches!(
            clearing(&period, &opening, &rows, &at_end),
            Err(ClearingError::OutsidePeriod { id, .. }) if id == "txn_n1"
        ));

        // A row whose net is not its amount less its fee.
        let (opening, mut rows, at_end) = split(&all, &period);
        rows[0].net = Money::from_minor(rows[0].net.minor() + 1, rows[0].net.currency());
        assert!(matches!(
            clearing(&period, &opening, &rows, &at_end),
            Err(ClearingError::DoesNotAdd { .. })
        ));
    }

    #[test]
    fn the_fees_journal_books_each_currencys_fees_on_the_last_day() {
        let (period, october) = month(&books(), "2026-10");
        let journal = fees_journal(&period, &october.unwrap());
        assert_eq!(journal.len(), 2);
        let usd = journal.iter().find(|j| j.currency == "usd").unwrap();
        assert_eq!(usd.amount, 2_310);
        assert_eq!(usd.date.to_string(), "2026-10-31");
        assert_eq!(
            (usd.debit_account, usd.credit_account),
            ("Stripe fees", "Stripe clearing")
        );
        assert_eq!(usd.key, "chargeguard:stripe-fees:2026-10:usd");
        assert_eq!(usd.transactions, 3);
        assert!(
            usd.memo.contains("2026-10") && usd.memo.contains("3 balance transactions"),
            "{}",
            usd.memo
        );
        // A month whose only fee movement is a refunded fee books it the other way.
        let refunded = vec![txn(
            "txn_r",
            "stripe_fee",
            None,
            500,
            0,
            "usd",
            "2026-10-10T00:00:00Z",
        )];
        let (period, c) = month(&refunded, "2026-10");
        let journal = fees_journal(&period, &c.unwrap());
        assert_eq!(journal[0].amount, 500);
        assert_eq!(
            (journal[0].debit_account, journal[0].credit_account),
            ("Stripe clearing", "Stripe fees")
        );
        // No fees, no line.
        let (period, c) = month(&[], "2026-10");
        let c = c.unwrap();
        assert!(c.currencies.is_empty());
        assert!(fees_journal(&period, &c).is_empty());
    }

    const KINDS: &[&str] = &[
        "charge",
        "payment",
        "refund",
        "payment_refund",
        "payout",
        "payout_failure",
        "payout_cancel",
        "stripe_fee",
        "adjustment",
        "dispute",
        "transfer",
        "unknown",
    ];

    fn any_txn() -> impl Strategy<Value = BalanceTransaction> {
        (
            0..KINDS.len(),
            prop_oneof![
                Just(None),
                Just(Some("du_1")),
                Just(Some("ch_1")),
                Just(Some("po_1"))
            ],
            -1_000_000i64..1_000_000,
            0i64..5_000,
            prop_oneof![Just("usd"), Just("eur"), Just("jpy")],
            // 1 September to 1 December 2026, so three months and their edges.
            1_788_220_800i64..1_796_083_200,
        )
            .prop_map(|(k, source, amount, fee, code, at)| {
                let id = format!("txn_{at}_{amount}_{fee}");
                let at = jiff::Timestamp::from_second(at).unwrap().to_string();
                txn(&id, KINDS[k], source, amount, fee, code, &at)
            })
    }

    proptest! {
        #[test]
        fn opening_and_the_lines_make_the_closing(rows in prop::collection::vec(any_txn(), 0..60)) {
            for m in ["2026-09", "2026-10", "2026-11"] {
                let (period, result) = month(&rows, m);
                let c = result.unwrap();
                let in_period = rows.iter().filter(|t| period.contains(t.created)).count();
                prop_assert_eq!(c.row_lines.len(), in_period);
                for cc in &c.currencies {
                    let lines: i128 = cc.lines.iter().map(|l| i128::from(l.amount)).sum();
                    prop_assert_eq!(i128::from(cc.opening) + lines, i128::from(cc.closing));
                    let before_end: i64 = rows
                        .iter()
                        .filter(|t| t.net.currency().lower() == cc.currency && t.created < period.end())
                        .map(|t| t.net.minor())
                        .sum();
                    prop_assert_eq!(cc.closing, before_end);
                    let counted: u64 = cc.lines.iter().filter(|l| l.line != Line::Fees).map(|l| l.transactions).sum::<u64>()
                        + rows.iter().filter(|t| period.contains(t.created) && t.net.currency().lower() == cc.currency && line_of(&t.kind, t.source.as_deref()) == Line::Fees).count() as u64;
                    let of_currency = rows.iter().filter(|t| period.contains(t.created) && t.net.currency().lower() == cc.currency).count() as u64;
                    prop_assert_eq!(counted, of_currency, "every row of the period is on one line");
                }
            }
        }
    }
}
