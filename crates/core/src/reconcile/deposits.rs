//! Money reaching the bank: each gateway payout laid beside the bank statement lines, and
//! the findings about payouts and deposits (DESIGN.md's `payout_…` and `deposit_…`).
//!
//! A pure function, like the rest of reconciliation: from [`BankBooks`] to a
//! [`DepositMatching`], no I/O, no clock, its output sorted. The rules, in order:
//!
//! 1. **One payout, one deposit.** A payout (paid, in transit or pending) is met by a
//!    credit line of its currency booked from the day before its arrival date up to
//!    [`WINDOW_BUSINESS_DAYS`] business days after it (Saturdays and Sundays are not
//!    business days; bank holidays are not known, which the window's width absorbs). A line
//!    of exactly its amount is taken first, one the bank describes as the gateway's
//!    transfer before any other, then the closest in days, then by account and line id.
//! 2. Then a paid or in-transit payout still unmet takes a credit line the bank describes
//!    as the gateway's transfer (its description names Stripe) within the same window and
//!    within a tenth of its amount (bank fees and FX are a small part of a payout; a
//!    deposit further off is another payout's), the closest amount first. Beyond the
//!    account's tolerance (zero until a person sets one) the difference is a
//!    `deposit_amount_differs` finding for the difference; within it, the payout is met.
//!    Such a pair is never also a missing payout nor an unexplained deposit.
//! 3. A paid payout still unmet is `payout_missing_deposit` only where the statements of an
//!    account that takes the gateway's payouts cover its whole window; otherwise it is
//!    "not yet in the bank", shown and not flagged. An account takes payouts when one of its
//!    lines met a payout or is described as the gateway's transfer; when none does yet,
//!    every account in the payout's currency counts.
//! 4. A credit line described as the gateway's transfer that no payout met is
//!    `deposit_without_payout` once the payouts are known around its day (a payout is
//!    created in the days before its money reaches the bank): by a sync past it, or by a
//!    Stripe file whose payouts span from a week before it to after it; before that it
//!    waits.
//! 5. A payout whose balance transactions were all listed and do not add up to it is
//!    `payout_unbalanced`: Stripe's always do, so this checks our own sync.
//!
//! A failed or canceled payout expects no deposit and is never flagged as missing. A debit
//! payout (negative: Stripe taking money back from the bank) is met by a debit line of its
//! amount, and a finding about it states the amount unsigned.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};

use crate::money::{Currency, Money};
use crate::records::{BankLine, PayoutStatus};
use crate::store::{PayoutRow, StatementCoverage};
use chargeguard_domain::evidence::{DepositEvidence, Evidence, Facts, PayoutEvidence};
use chargeguard_domain::finding::{Confidence, Finding, FindingKind};

/// Business days after a payout's arrival date in which its deposit is looked for.
pub const WINDOW_BUSINESS_DAYS: u32 = 3;

/// Everything the bank rules read.
#[derive(Debug, Clone, Default)]
pub struct BankBooks {
    pub payouts: Vec<PayoutRow>,
    pub lines: Vec<BankLine>,
    pub coverage: Vec<StatementCoverage>,
    /// The tolerance a person set for an account's deposits, by account and currency.
    pub tolerances: BTreeMap<(String, Currency), Money>,
    /// Spans of creation instants in which every payout is stored: the sync's (from the
    /// beginning to its cursor) and each Stripe file's (its first to its last payout).
    pub payouts_known: Vec<(Timestamp, Timestamp)>,
}

/// Where a payout stands against the bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deposit<'b> {
    /// Met by this line; `difference_minor` is the line less the payout.
    Met {
        line: &'b BankLine,
        difference_minor: i64,
    },
    /// Paid, but the statements do not yet cover its window.
    NotYetInTheBank,
    /// Paid, the statements cover its window, and no line meets it (a finding).
    Missing,
    /// Not paid yet (pending, in transit) and not met yet, or failed or canceled.
    NotExpected,
}

/// What laying the payouts beside the bank found.
#[derive(Debug, Clone, PartialEq)]
pub struct DepositMatching<'b> {
    /// Every payout by id, with where it stands.
    pub payouts: BTreeMap<&'b str, Deposit<'b>>,
    /// Lines described as the gateway's transfer that no payout met, while the payouts
    /// around their day are not yet known.
    pub awaiting_payouts: Vec<&'b BankLine>,
    /// Sorted by fingerprint.
    pub findings: Vec<Finding>,
}

/// Whether the bank describes a line as the gateway's transfer ("STRIPE TRANSFER
/// ST-…", "Orig CO Name:Stripe", "STRIPE PAYMENTS UK").
pub fn described_as_gateway_transfer(line: &BankLine) -> bool {
    line.description.to_ascii_lowercase().contains("stripe")
}

/// The days in which a payout arriving on `arrival` is looked for in the bank.
pub fn deposit_window(arrival: Date) -> (Date, Date) {
    let from = arrival.yesterday().unwrap_or(arrival);
    let mut to = arrival;
    let mut left = WINDOW_BUSINESS_DAYS;
    while left > 0 {
        to = match to.tomorrow() {
            Ok(next) => next,
            Err(_) => break,
        };
        if !matches!(to.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    (from, to)
}

/// The day a payout is expected in the bank: Stripe's `arrival_date` is midnight UTC of it.
pub fn arrival_day(row: &PayoutRow) -> Date {
    row.payout
        .arrival_date
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

/// Lays the payouts beside the bank lines. See the module documentation for the rules.
pub fn reconcile(books: &BankBooks) -> DepositMatching<'_> {
    let mut payouts: Vec<&PayoutRow> = books.payouts.iter().collect();
    payouts.sort_by(|a, b| {
        (a.payout.arrival_date, &a.payout.id).cmp(&(b.payout.arrival_date, &b.payout.id))
    });
    let credits: Vec<&BankLine> = books
        .lines
        .iter()
        .filter(|l| l.amount.minor() > 0)
        .collect();
    let mut used: HashSet<(&str, &str)> = HashSet::new();
    let mut met: BTreeMap<&str, (&BankLine, i64)> = BTreeMap::new();
    let in_window = |row: &PayoutRow, line: &BankLine| {
        let (from, to) = deposit_window(arrival_day(row));
        line.amount.currency() == row.payout.amount.currency()
            && (from..=to).contains(&line.booked_on)
    };
    let days_off = |row: &PayoutRow, line: &BankLine| {
        (line.booked_on - arrival_day(row))
            .get_days()
            .unsigned_abs()
    };

    // 1. Exact amounts (a debit payout, Stripe pulling money back, is a debit line of its
    // amount).
    for row in payouts.iter().filter(|r| expects_deposit(r.payout.status)) {
        let best = books
            .lines
            .iter()
            .filter(|l| !used.contains(&(l.account.as_str(), l.id.as_str())))
            .filter(|l| l.amount == row.payout.amount && in_window(row, l))
            .min_by_key(|l| {
                (
                    !described_as_gateway_transfer(l),
                    days_off(row, l),
                    &l.account,
                    &l.id,
                )
            });
        if let Some(line) = best {
            used.insert((&line.account, &line.id));
            met.insert(&row.payout.id, (line, 0));
        }
    }
    // 2. A transfer that meets its payout with another amount (payouts to the bank only).
    for row in payouts.iter() {
        if !matches!(
            row.payout.status,
            PayoutStatus::Paid | PayoutStatus::InTransit
        ) || row.payout.amount.minor() <= 0
            || met.contains_key(row.payout.id.as_str())
        {
            continue;
        }
        let amount = row.payout.amount.minor();
        let best = credits
            .iter()
            .filter(|l| !used.contains(&(l.account.as_str(), l.id.as_str())))
            .filter(|l| described_as_gateway_transfer(l) && in_window(row, l))
            .filter(|l| (l.amount.minor() - amount).unsigned_abs() <= amount.unsigned_abs() / 10)
            .min_by_key(|l| {
                (
                    (l.amount.minor() - amount).unsigned_abs(),
                    days_off(row, l),
                    &l.account,
                    &l.id,
                )
            });
        if let Some(line) = best {
            used.insert((&line.account, &line.id));
            met.insert(&row.payout.id, (line, line.amount.minor() - amount));
        }
    }

    let payout_accounts = payout_accounts(books, &met);
    let mut out = DepositMatching {
        payouts: BTreeMap::new(),
        awaiting_payouts: Vec::new(),
        findings: Vec::new(),
    };
    for row in &payouts {
        let id = row.payout.id.as_str();
        let state = if let Some(&(line, difference_minor)) = met.get(id) {
            let tolerance = books
                .tolerances
                .get(&(line.account.clone(), line.amount.currency()))
                .map_or(0, |m| m.minor());
            if difference_minor.unsigned_abs() > tolerance.unsigned_abs() {
                out.findings
                    .push(amount_differs(row, line, difference_minor, tolerance));
            }
            Deposit::Met {
                line,
                difference_minor,
            }
        } else if row.payout.status != PayoutStatus::Paid {
            Deposit::NotExpected
        } else if covered(books, &payout_accounts, row) {
            out.findings.push(missing(row));
            Deposit::Missing
        } else {
            Deposit::NotYetInTheBank
        };
        out.payouts.insert(id, state);
        if row.transactions_listed && row.transactions_net != row.payout.amount {
            out.findings.push(unbalanced(row));
        }
    }
    for line in credits.iter().filter(|l| {
        described_as_gateway_transfer(l) && !used.contains(&(l.account.as_str(), l.id.as_str()))
    }) {
        let day_after = line
            .booked_on
            .tomorrow()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp());
        // Its payout was created in the days before the money reached the bank: the span
        // known must reach from a week before the day to after it.
        let week_before = day_after.map(|d| d - jiff::SignedDuration::from_hours(8 * 24));
        let known = match (week_before, day_after) {
            (Some(from), Some(to)) => books
                .payouts_known
                .iter()
                .any(|&(start, end)| start <= from && end >= to),
            _ => false,
        };
        if known {
            out.findings.push(without_payout(line));
        } else {
            out.awaiting_payouts.push(line);
        }
    }
    out.findings
        .sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    out
}

fn expects_deposit(status: PayoutStatus) -> bool {
    matches!(
        status,
        PayoutStatus::Paid | PayoutStatus::InTransit | PayoutStatus::Pending
    )
}

/// The accounts that take the gateway's payouts, per currency (rule 3).
fn payout_accounts<'b>(
    books: &'b BankBooks,
    met: &BTreeMap<&str, (&'b BankLine, i64)>,
) -> BTreeSet<(&'b str, Currency)> {
    let mut accounts: BTreeSet<(&str, Currency)> = met
        .values()
        .map(|(l, _)| (l.account.as_str(), l.amount.currency()))
        .collect();
    accounts.extend(
        books
            .lines
            .iter()
            .filter(|l| l.amount.minor() > 0 && described_as_gateway_transfer(l))
            .map(|l| (l.account.as_str(), l.amount.currency())),
    );
    accounts
}

/// Whether the statements of an account that takes payouts in the payout's currency cover
/// every day of its window, statements that meet or overlap joined.
fn covered(
    books: &BankBooks,
    payout_accounts: &BTreeSet<(&str, Currency)>,
    row: &PayoutRow,
) -> bool {
    let currency = row.payout.amount.currency();
    let (from, to) = deposit_window(arrival_day(row));
    let any_takes_payouts = payout_accounts.iter().any(|(_, c)| *c == currency);
    let mut accounts: BTreeMap<&str, Vec<(Date, Date)>> = BTreeMap::new();
    for c in books.coverage.iter().filter(|c| c.currency == currency) {
        if any_takes_payouts && !payout_accounts.contains(&(c.account.as_str(), currency)) {
            continue;
        }
        accounts.entry(&c.account).or_default().push((c.from, c.to));
    }
    accounts.values_mut().any(|spans| {
        spans.sort();
        // Join spans that overlap or meet, then look for one holding the window.
        let mut joined: Vec<(Date, Date)> = Vec::new();
        for &(start, end) in spans.iter() {
            match joined.last_mut() {
                Some((_, last)) if last.tomorrow().map_or(true, |next| start <= next) => {
                    *last = (*last).max(end);
                }
                _ => joined.push((start, end)),
            }
        }
        joined
            .iter()
            .any(|&(start, end)| start <= from && to <= end)
    })
}

fn payout_evidence(row: &PayoutRow) -> PayoutEvidence {
    PayoutEvidence {
        id: row.payout.id.clone(),
        amount: row.payout.amount,
        status: row.payout.status,
        created: row.payout.created,
        arrival_date: arrival_day(row),
        transactions: row.transactions,
    }
}

fn deposit_evidence(line: &BankLine) -> DepositEvidence {
    DepositEvidence {
        account: line.account.clone(),
        line_id: line.id.clone(),
        booked_on: line.booked_on,
        amount: line.amount,
        description: line.description.clone(),
    }
}

fn bank_finding(
    kind: FindingKind,
    key: &str,
    confidence: Confidence,
    amount: Money,
    reason: String,
    evidence: Evidence,
) -> Finding {
    debug_assert!(kind.is_about_the_bank());
    debug_assert!(amount.minor() >= 0, "a finding's amount is never negative");
    Finding {
        kind,
        fingerprint: format!("{}:{key}", kind.as_str()),
        confidence,
        invoice_number: None,
        charge_ids: Vec::new(),
        payment_ids: Vec::new(),
        amount,
        reason,
        evidence,
    }
}

fn missing(row: &PayoutRow) -> Finding {
    let (from, to) = deposit_window(arrival_day(row));
    bank_finding(
        FindingKind::PayoutMissingDeposit,
        &row.payout.id,
        Confidence::Exact,
        Money::from_minor(
            row.payout.amount.minor().saturating_abs(),
            row.payout.amount.currency(),
        ),
        format!(
            "Stripe paid out {} ({}) to arrive on {}, but no deposit of it is on the bank statements between {from} and {to}, which they cover. Find the deposit (another account, a later date), or ask Stripe where the payout went.",
            row.payout.amount,
            row.payout.id,
            arrival_day(row)
        ),
        Evidence {
            payout: Some(payout_evidence(row)),
            facts: Facts {
                window_business_days: Some(WINDOW_BUSINESS_DAYS),
                ..Facts::default()
            },
            ..Evidence::default()
        },
    )
}

fn amount_differs(
    row: &PayoutRow,
    line: &BankLine,
    difference_minor: i64,
    tolerance: i64,
) -> Finding {
    let currency = row.payout.amount.currency();
    let difference = Money::from_minor(difference_minor.abs(), currency);
    let how = if difference_minor < 0 { "less" } else { "more" };
    bank_finding(
        FindingKind::DepositAmountDiffers,
        &row.payout.id,
        Confidence::Heuristic,
        difference,
        format!(
            "The bank deposit of {} on {} ({}) is {difference} {how} than Stripe's payout {} of {}. If the bank took a fee or converted the money, record the difference in the books; the account's tolerance is {}.",
            line.amount,
            line.booked_on,
            line.account,
            row.payout.id,
            row.payout.amount,
            Money::from_minor(tolerance, currency)
        ),
        Evidence {
            payout: Some(payout_evidence(row)),
            deposit: Some(deposit_evidence(line)),
            facts: Facts {
                window_business_days: Some(WINDOW_BUSINESS_DAYS),
                tolerance_minor: Some(tolerance),
                ..Facts::default()
            },
            ..Evidence::default()
        },
    )
}

fn unbalanced(row: &PayoutRow) -> Finding {
    let difference = row
        .transactions_net
        .minor()
        .saturating_sub(row.payout.amount.minor());
    bank_finding(
        FindingKind::PayoutUnbalanced,
        &row.payout.id,
        Confidence::Exact,
        Money::from_minor(difference.saturating_abs(), row.payout.amount.currency()),
        format!(
            "Payout {} is {}, but the {} balance transactions synced under it add up to {}. Stripe's always add up, so a transaction is missing from the store: run a full sync, and tell us if it stays.",
            row.payout.id, row.payout.amount, row.transactions, row.transactions_net
        ),
        Evidence {
            payout: Some(payout_evidence(row)),
            facts: Facts {
                transactions_net_minor: Some(row.transactions_net.minor()),
                ..Facts::default()
            },
            ..Evidence::default()
        },
    )
}

fn without_payout(line: &BankLine) -> Finding {
    bank_finding(
        FindingKind::DepositWithoutPayout,
        &format!("{}:{}", line.account, line.id),
        Confidence::Heuristic,
        line.amount,
        format!(
            "The bank booked {} on {} ({}: \"{}\") as a Stripe transfer, but no Stripe payout explains it. Check whether it comes from another Stripe account, or sync again if payouts are missing.",
            line.amount, line.booked_on, line.account, line.description
        ),
        Evidence {
            deposit: Some(deposit_evidence(line)),
            facts: Facts {
                window_business_days: Some(WINDOW_BUSINESS_DAYS),
                ..Facts::default()
            },
            ..Evidence::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Payout;
    use jiff::civil::date;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::from_code("USD").unwrap())
    }

    fn payout(id: &str, minor: i64, arrives: Date, status: PayoutStatus) -> PayoutRow {
        let at = arrives
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp();
        PayoutRow {
            payout: Payout {
                id: id.into(),
                amount: usd(minor),
                status,
                automatic: true,
                created: at - jiff::SignedDuration::from_hours(48),
                arrival_date: at,
                failure_code: None,
            },
            transactions: 2,
            transactions_net: usd(minor),
            transactions_listed: true,
            transactions_fee: usd(60),
            transactions_disputed: usd(0),
        }
    }

    fn line(id: &str, minor: i64, on: Date, description: &str) -> BankLine {
        BankLine {
            account: "checking".into(),
            id: id.into(),
            booked_on: on,
            amount: usd(minor),
            description: description.into(),
            kind: None,
        }
    }

    fn november(from: i8, to: i8) -> StatementCoverage {
        StatementCoverage {
            account: "checking".into(),
            currency: Currency::from_code("USD").unwrap(),
            from: date(2026, 11, from),
            to: date(2026, 11, to),
        }
    }

    fn kinds(m: &DepositMatching<'_>) -> Vec<(FindingKind, i64)> {
        m.findings
            .iter()
            .map(|f| (f.kind, f.amount.minor()))
            .collect()
    }

    #[test]
    fn the_window_counts_business_days_after_the_arrival() {
        // Friday 2026-11-06: Monday, Tuesday, Wednesday.
        assert_eq!(
            deposit_window(date(2026, 11, 6)),
            (date(2026, 11, 5), date(2026, 11, 11))
        );
        // Monday: Tuesday to Thursday.
        assert_eq!(
            deposit_window(date(2026, 11, 9)),
            (date(2026, 11, 8), date(2026, 11, 12))
        );
    }

    #[test]
    fn a_short_deposit_is_one_finding_for_the_difference_not_three() {
        let books = BankBooks {
            payouts: vec![payout(
                "po_1",
                100_000,
                date(2026, 11, 9),
                PayoutStatus::Paid,
            )],
            lines: vec![line(
                "L1",
                99_850,
                date(2026, 11, 10),
                "STRIPE TRANSFER ST-X",
            )],
            coverage: vec![november(1, 30)],
            payouts_known: vec![(Timestamp::MIN, "2026-12-01T00:00:00Z".parse().unwrap())],
            ..BankBooks::default()
        };
        let m = reconcile(&books);
        assert_eq!(kinds(&m), vec![(FindingKind::DepositAmountDiffers, 150)]);
        assert!(matches!(
            m.payouts["po_1"],
            Deposit::Met {
                difference_minor: -150,
                ..
            }
        ));

        let mut tolerant = books.clone();
        tolerant.tolerances.insert(
            ("checking".into(), Currency::from_code("USD").unwrap()),
            usd(200),
        );
        assert_eq!(kinds(&reconcile(&tolerant)), vec![], "within the tolerance");
    }

    #[test]
    fn a_paid_payout_is_missing_only_where_the_statements_cover_its_window() {
        let mut books = BankBooks {
            payouts: vec![payout(
                "po_1",
                5_000,
                date(2026, 11, 26),
                PayoutStatus::Paid,
            )],
            coverage: vec![november(1, 27)],
            ..BankBooks::default()
        };
        // The window runs to Tuesday 12-01: not yet covered.
        assert_eq!(kinds(&reconcile(&books)), vec![]);
        assert_eq!(reconcile(&books).payouts["po_1"], Deposit::NotYetInTheBank);
        books.coverage.push(StatementCoverage {
            from: date(2026, 11, 28),
            to: date(2026, 12, 31),
            ..november(1, 1)
        });
        assert_eq!(
            kinds(&reconcile(&books)),
            vec![(FindingKind::PayoutMissingDeposit, 5_000)],
            "two statements that meet cover the window"
        );
        books.payouts[0].payout.status = PayoutStatus::Failed;
        assert_eq!(
            kinds(&reconcile(&books)),
            vec![],
            "a failed payout expects nothing"
        );
    }

    #[test]
    fn exact_amounts_pair_first_and_an_unexplained_transfer_waits_for_the_sync() {
        let mut books = BankBooks {
            payouts: vec![
                payout("po_1", 7_000, date(2026, 11, 9), PayoutStatus::Paid),
                payout("po_2", 7_100, date(2026, 11, 10), PayoutStatus::Paid),
            ],
            lines: vec![
                line("A", 7_100, date(2026, 11, 10), "STRIPE"),
                line("B", 7_000, date(2026, 11, 10), "STRIPE"),
                line("C", 2_500, date(2026, 11, 12), "STRIPE TRANSFER"),
                line("D", 9_999, date(2026, 11, 12), "CUSTOMER WIRE"),
            ],
            coverage: vec![november(1, 30)],
            payouts_known: vec![(Timestamp::MIN, "2026-11-12T23:00:00Z".parse().unwrap())],
            ..BankBooks::default()
        };
        let m = reconcile(&books);
        assert!(
            matches!(m.payouts["po_1"], Deposit::Met { line, difference_minor: 0 } if line.id == "B")
        );
        assert!(
            matches!(m.payouts["po_2"], Deposit::Met { line, difference_minor: 0 } if line.id == "A")
        );
        assert_eq!(kinds(&m), vec![]);
        assert_eq!(
            m.awaiting_payouts.len(),
            1,
            "the sync has not passed the 12th"
        );
        books.payouts_known = vec![(Timestamp::MIN, "2026-11-13T00:00:00Z".parse().unwrap())];
        assert_eq!(
            kinds(&reconcile(&books)),
            vec![(FindingKind::DepositWithoutPayout, 2_500)],
            "a customer's wire is not the gateway's"
        );
    }

    #[test]
    fn a_debit_payout_is_met_by_a_debit_and_missing_it_is_an_unsigned_finding() {
        let mut books = BankBooks {
            payouts: vec![payout(
                "po_d",
                -2_035,
                date(2026, 11, 9),
                PayoutStatus::Paid,
            )],
            lines: vec![line("L1", -2_035, date(2026, 11, 9), "STRIPE DEBIT")],
            coverage: vec![november(1, 30)],
            ..BankBooks::default()
        };
        assert!(matches!(
            reconcile(&books).payouts["po_d"],
            Deposit::Met { .. }
        ));
        books.lines.clear();
        assert_eq!(
            kinds(&reconcile(&books)),
            vec![(FindingKind::PayoutMissingDeposit, 2_035)]
        );
    }

    #[test]
    fn a_file_of_one_month_does_not_make_the_month_before_unexplained() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let books = BankBooks {
            lines: vec![line("T", 2_500, date(2026, 11, 12), "STRIPE TRANSFER")],
            payouts_known: vec![(at("2026-12-01T00:00:00Z"), at("2026-12-31T00:00:00Z"))],
            ..BankBooks::default()
        };
        assert_eq!(kinds(&reconcile(&books)), vec![]);
        assert_eq!(reconcile(&books).awaiting_payouts.len(), 1);
    }

    #[test]
    fn a_payout_whose_transactions_do_not_add_up_is_our_own_sync_at_fault() {
        let mut row = payout("po_1", 5_000, date(2026, 11, 9), PayoutStatus::InTransit);
        row.transactions_net = usd(4_700);
        let books = BankBooks {
            payouts: vec![row.clone()],
            ..BankBooks::default()
        };
        assert_eq!(
            kinds(&reconcile(&books)),
            vec![(FindingKind::PayoutUnbalanced, 300)]
        );
        row.transactions_listed = false;
        let books = BankBooks {
            payouts: vec![row],
            ..BankBooks::default()
        };
        assert_eq!(kinds(&reconcile(&books)), vec![], "not all listed yet");
    }
}
