//! The tie-out: for one period and per currency, the gateway's money beside the ledger's,
//! and the difference between them explained line by line. Pure: it reads rows and a
//! period, never the store, a clock or a file.
//!
//! Every money movement dated inside the period is one signed contribution to
//! *difference = gateway net − ledger net*:
//!
//! | movement | dated by | contribution |
//! | --- | --- | --- |
//! | a succeeded, captured charge | `created` | + amount |
//! | a gateway refund (not failed or cancelled) | `created` | − amount |
//! | refunded on a charge with no refund object (a CSV export) | the charge's `created` | − amount |
//! | a chargeback's withdrawal, and a won one's reversal | its balance transaction | − amount, + amount |
//! | a gateway fee | the charge's `created` | − fee |
//! | a ledger payment | `recorded_at` | − amount |
//! | a ledger refund | `recorded_at` | + amount |
//! | an adjustment (a ledger fix) | `effective_at` | − its effect on the ledger |
//!
//! Movements are grouped by the gateway charge they are about (a ledger entry's gateway id
//! is resolved to a charge the way reconciliation does: the charge, its payment intent's
//! earliest succeeded charge, or a refund's charge). Each group goes to exactly one line:
//! - `finding:ID` when an open or dismissed finding names the group's charge or one of its
//!   ledger entries — the findings explain the difference, one line each;
//! - `matched` when the group's movements inside the period cancel out (always zero);
//! - `timing` when they do not, but all of the group's movements across all time do: the
//!   other side is dated in another period (a charge on the 31st recorded on the 1st). A
//!   finding fixed or cleared since is named instead of `timing` when it covers the group;
//! - `cash` for ledger entries with no gateway id (cash, cheque, transfer: never the
//!   gateway's business), `not_yet_synced` for a ledger payment whose charge lies outside
//!   every synced window, and `fees` for what the gateway kept.
//!
//! Anything else is `unexplained`: money that differs with no finding saying so (a finding
//! hidden, a reconcile not run after a sync). The lines add up to the difference by
//! construction, so the statement balances to the minor unit exactly when nothing is
//! unexplained — and [`tie_out`] refuses with the first unexplained groups named rather
//! than produce a statement that lies. Sums are `i128`, converted to `i64` minor units at
//! the end (refused, not wrapped, should they not fit).

use std::collections::BTreeMap;
use std::fmt;

use hashbrown::HashMap;
use serde::Serialize;

use crate::money::{Currency, Money};
use crate::period::Period;
use crate::records::{
    BalanceTransaction, Charge, ChargeStatus, Coverage, Dispute, DisputeStatus, GatewayRefund,
    LedgerEntry, LedgerKind, RefundStatus,
};
use crate::store::{AdjustmentKind, FindingStatus, Resolution, StoredAdjustment, StoredFinding};

/// The rows a tie-out reads: everything the store holds, across all time (a group's
/// other side may lie in another period).
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub charges: &'a [Charge],
    pub refunds: &'a [GatewayRefund],
    pub ledger: &'a [LedgerEntry],
    pub adjustments: &'a [StoredAdjustment],
    pub findings: &'a [StoredFinding],
    pub coverage: &'a [Coverage],
    /// What disputes did to their charges' money, each dated when it did it.
    pub chargebacks: &'a [ChargebackMove],
}

/// A dispute's move of its charge's money, in the charge's currency: the chargeback's
/// withdrawal (negative), and once won its reversal (positive), dated by the dispute's own
/// balance transactions. So a month keeps its tie-out when a dispute is decided later, and
/// over all time a won dispute weighs nothing and an undecided or lost one its amount, as
/// reconciliation takes it off the charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargebackMove {
    pub dispute_id: String,
    pub charge_id: String,
    pub status: DisputeStatus,
    /// Signed: negative when the money left the charge.
    pub amount: Money,
    pub at: jiff::Timestamp,
}

impl ChargebackMove {
    /// The moves of `dispute`, from its balance transactions (`moved`). One that holds the
    /// money with no withdrawal stored (a report that lacks it) moved when it was opened.
    pub fn of(dispute: &Dispute, moved: &[&BalanceTransaction]) -> Vec<ChargebackMove> {
        let at = |amount: i64, at| ChargebackMove {
            dispute_id: dispute.id.clone(),
            charge_id: dispute.charge_id.clone(),
            status: dispute.status,
            amount: Money::from_minor(amount, dispute.amount.currency()),
            at,
        };
        let mut out: Vec<ChargebackMove> = moved
            .iter()
            .filter(|t| t.amount.minor() != 0)
            .map(|t| {
                let sign = t.amount.minor().signum();
                at(sign * dispute.amount.minor(), t.created)
            })
            .collect();
        if dispute.status.holds_the_money() && !out.iter().any(|m| m.amount.minor() < 0) {
            out.push(at(-dispute.amount.minor(), dispute.created));
        }
        out
    }
}

/// The line of the statement a movement is explained by. In JSON and CSV it is its text
/// (`finding:12`), so it can key a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LineKey {
    Fees,
    Finding(i64),
    Matched,
    Timing,
    Cash,
    NotYetSynced,
    Unexplained,
}

impl fmt::Display for LineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineKey::Fees => f.write_str("fees"),
            LineKey::Finding(id) => write!(f, "finding:{id}"),
            LineKey::Matched => f.write_str("matched"),
            LineKey::Timing => f.write_str("timing"),
            LineKey::Cash => f.write_str("cash"),
            LineKey::NotYetSynced => f.write_str("not_yet_synced"),
            LineKey::Unexplained => f.write_str("unexplained"),
        }
    }
}

impl Serialize for LineKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl LineKey {
    /// Parses what `Display` writes.
    pub fn parse(text: &str) -> Option<LineKey> {
        Some(match text {
            "fees" => LineKey::Fees,
            "matched" => LineKey::Matched,
            "timing" => LineKey::Timing,
            "cash" => LineKey::Cash,
            "not_yet_synced" => LineKey::NotYetSynced,
            "unexplained" => LineKey::Unexplained,
            other => LineKey::Finding(other.strip_prefix("finding:")?.parse().ok()?),
        })
    }
}

/// The totals of one side, and the explained difference, for one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrencyTieOut {
    /// Lower-case ISO code.
    pub currency: String,
    pub gateway_gross: i64,
    pub gateway_refunds: i64,
    pub gateway_fees: i64,
    pub gateway_net: i64,
    pub ledger_payments: i64,
    pub ledger_refunds: i64,
    pub ledger_adjustments: i64,
    pub ledger_net: i64,
    /// `gateway_net − ledger_net`.
    pub difference: i64,
    /// What explains the difference; adds up to it exactly.
    pub lines: BTreeMap<LineKey, i64>,
}

impl CurrencyTieOut {
    fn new(currency: &str) -> CurrencyTieOut {
        CurrencyTieOut {
            currency: currency.to_string(),
            gateway_gross: 0,
            gateway_refunds: 0,
            gateway_fees: 0,
            gateway_net: 0,
            ledger_payments: 0,
            ledger_refunds: 0,
            ledger_adjustments: 0,
            ledger_net: 0,
            difference: 0,
            lines: BTreeMap::new(),
        }
    }

    /// The statement's named totals, in the order they are printed.
    pub fn totals(&self) -> [(&'static str, &'static str, i64); 9] {
        [
            (
                "gateway_gross",
                "Gateway: gross captured",
                self.gateway_gross,
            ),
            ("gateway_refunds", "Gateway: refunds", self.gateway_refunds),
            ("gateway_fees", "Gateway: fees", self.gateway_fees),
            ("gateway_net", "Gateway: net", self.gateway_net),
            ("ledger_payments", "Ledger: payments", self.ledger_payments),
            ("ledger_refunds", "Ledger: refunds", self.ledger_refunds),
            (
                "ledger_adjustments",
                "Ledger: adjustments (ledger fixes)",
                self.ledger_adjustments,
            ),
            ("ledger_net", "Ledger: net", self.ledger_net),
            (
                "difference",
                "Difference (gateway net − ledger net)",
                self.difference,
            ),
        ]
    }
}

/// A group the tie-out could not explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unexplained {
    /// The charge id, or `ledger payment ID` for a ledger entry that names no known charge.
    pub about: String,
    pub currency: String,
    /// Its contribution to the difference inside the period, minor units.
    pub amount_minor: i64,
}

/// Why the books of a period do not tie out.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TieOutError {
    #[error(
        "the books of {period} do not tie out: {} of the difference is explained by no finding ({}{}). Reconcile again (`chargeguard reconcile`) so every difference has a finding, then export",
        summary(.unexplained), list(.unexplained), more(.unexplained)
    )]
    Unexplained {
        period: String,
        unexplained: Vec<Unexplained>,
    },
    #[error("a total of {period} in {currency} does not fit in 64-bit minor units")]
    Overflow { period: String, currency: String },
}

fn money_text(minor: i64, currency: &str) -> String {
    match Currency::from_code(currency) {
        Ok(c) => Money::from_minor(minor, c).to_string(),
        Err(_) => format!("{minor} (minor units) {currency}"),
    }
}

fn summary(u: &[Unexplained]) -> String {
    let mut per: BTreeMap<&str, i128> = BTreeMap::new();
    for x in u {
        *per.entry(&x.currency).or_default() += i128::from(x.amount_minor);
    }
    per.iter()
        .map(|(c, v)| money_text(i64::try_from(*v).unwrap_or(i64::MAX), c))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn list(u: &[Unexplained]) -> String {
    u.iter()
        .take(5)
        .map(|x| format!("{}: {}", x.about, money_text(x.amount_minor, &x.currency)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn more(u: &[Unexplained]) -> String {
    if u.len() > 5 {
        format!("; and {} more", u.len() - 5)
    } else {
        String::new()
    }
}

/// What a group of movements is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group<'a> {
    Charge(&'a str),
    /// A ledger entry with no gateway id (by its index in `Rows::ledger`).
    Cash(usize),
    /// A ledger entry whose gateway id names no charge in the store.
    Unresolved(usize),
}

#[derive(Debug, Default)]
struct Sums {
    all: Vec<(Currency, i128)>,
    in_period: Vec<(Currency, i128)>,
    /// A finding that covers the group through one of its ledger entries.
    finding_by_payment: Option<usize>,
}

fn add(v: &mut Vec<(Currency, i128)>, currency: Currency, amount: i128) {
    match v.iter_mut().find(|(c, _)| *c == currency) {
        Some((_, sum)) => *sum += amount,
        None => v.push((currency, amount)),
    }
}

/// The tie-out of a period with which line each group went to, for the row writers.
#[derive(Debug)]
pub struct TieOut<'a> {
    pub period: String,
    /// One per currency that moved in the period, by code.
    pub currencies: Vec<CurrencyTieOut>,
    lines: HashMap<Group<'a>, LineKey>,
    charge_index: HashMap<&'a str, usize>,
    intent_charge: HashMap<&'a str, usize>,
    refund_charge: HashMap<&'a str, &'a str>,
    /// Each adjustment's effect on the ledger net (minor units, its currency).
    pub adjustment_effects: Vec<i64>,
    /// Per charge index, what was refunded with no refund object to show for it.
    pub refunded_without_object: HashMap<usize, i64>,
}

impl<'a> TieOut<'a> {
    /// The group a ledger entry (by index) belongs to.
    pub fn ledger_group(&self, rows: &Rows<'a>, index: usize) -> Group<'a> {
        match rows.ledger[index].gateway_id.as_deref() {
            None => Group::Cash(index),
            Some(g) => match self.resolve(rows, g) {
                Some(charge) => Group::Charge(charge),
                None => Group::Unresolved(index),
            },
        }
    }

    fn resolve(&self, rows: &Rows<'a>, gateway_id: &str) -> Option<&'a str> {
        if let Some(&c) = self.charge_index.get(gateway_id) {
            return Some(rows.charges[c].id.as_str());
        }
        if let Some(&c) = self.intent_charge.get(gateway_id) {
            return Some(rows.charges[c].id.as_str());
        }
        self.refund_charge.get(gateway_id).copied()
    }

    /// The group an adjustment (by index) belongs to: its gateway object's charge, else
    /// the group of the ledger payment it changes.
    pub fn adjustment_group(&self, rows: &Rows<'a>, index: usize) -> Option<Group<'a>> {
        let adj = &rows.adjustments[index].adjustment;
        if let Some(charge) = adj
            .gateway_id
            .as_deref()
            .and_then(|g| self.resolve(rows, g))
        {
            return Some(Group::Charge(charge));
        }
        let payment = adj.payment_id.as_deref()?;
        let entry = rows.ledger.iter().position(|e| e.payment_id == payment)?;
        Some(self.ledger_group(rows, entry))
    }

    /// The line a group's movements went to (`matched` for a group with none in the period).
    pub fn line(&self, group: Group<'a>) -> LineKey {
        self.lines.get(&group).copied().unwrap_or(LineKey::Matched)
    }

    pub fn line_of_charge(&self, charge_id: &'a str) -> LineKey {
        self.line(Group::Charge(charge_id))
    }

    pub fn line_of_adjustment(&self, rows: &Rows<'a>, index: usize) -> LineKey {
        match self.adjustment_group(rows, index) {
            Some(g) => self.line(g),
            None => LineKey::Matched,
        }
    }
}

/// Is this charge money the gateway holds (succeeded and captured)?
pub fn captured(c: &Charge) -> bool {
    c.counts()
}

/// Does a refund in this state count (Stripe's `amount_refunded` counts a pending one)?
pub fn refund_counts(status: RefundStatus) -> bool {
    !matches!(status, RefundStatus::Failed | RefundStatus::Canceled)
}

/// What a charge gave back over all time, as reconciliation reads it once its refunds and
/// chargebacks are on it: its refund objects that count and the chargebacks holding its
/// money (a won one's reversal cancels its withdrawal).
fn given_back_by(rows: &Rows<'_>, charge: &Charge) -> i64 {
    let refunds_total: i64 = rows
        .refunds
        .iter()
        .filter(|r| r.charge_id == charge.id && refund_counts(r.status))
        .map(|r| r.amount.minor())
        .sum();
    let held: i64 = -rows
        .chargebacks
        .iter()
        .filter(|m| m.charge_id == charge.id && m.amount.currency() == charge.amount.currency())
        .map(|m| m.amount.minor())
        .sum::<i64>();
    crate::reconcile::adjustments::given_back(charge, refunds_total, held)
}

/// Each adjustment's effect on the ledger net, mirroring `reconcile::adjustments::apply`:
/// a recorded payment adds (unless the ledger already records that gateway id on that
/// invoice), a recorded refund takes away (no more than its charge gave back that the
/// ledger does not already record), a reversal takes the payment out, a correction moves
/// it to its new amount, a void moves no money.
fn adjustment_effects(rows: &Rows<'_>) -> Vec<i64> {
    let mut refunds_taken = crate::reconcile::adjustments::RefundsTaken::default();
    let mut current: HashMap<&str, (LedgerKind, i64, bool)> = rows
        .ledger
        .iter()
        .map(|e| (e.payment_id.as_str(), (e.kind, e.amount.minor(), true)))
        .collect();
    let signed = |kind: LedgerKind, amount: i64| match kind {
        LedgerKind::Payment => amount,
        LedgerKind::Refund => -amount,
    };
    rows.adjustments
        .iter()
        .map(|stored| {
            let adj = &stored.adjustment;
            match adj.kind {
                AdjustmentKind::RecordPayment => {
                    let known = adj.gateway_id.as_deref().is_some_and(|g| {
                        rows.ledger.iter().any(|e| {
                            e.kind == LedgerKind::Payment
                                && e.invoice_number == adj.invoice_number
                                && e.gateway_id.as_deref() == Some(g)
                        })
                    });
                    if known { 0 } else { adj.amount.minor() }
                }
                AdjustmentKind::RecordRefund => -crate::reconcile::adjustments::refund_taken(
                    rows.charges,
                    rows.refunds,
                    rows.ledger,
                    adj,
                    |c| given_back_by(rows, c),
                    &mut refunds_taken,
                ),
                AdjustmentKind::ReversePayment => {
                    match adj.payment_id.as_deref().and_then(|p| current.get_mut(p)) {
                        Some((kind, amount, live @ true)) => {
                            *live = false;
                            -signed(*kind, *amount)
                        }
                        _ => 0,
                    }
                }
                AdjustmentKind::CorrectAmount => {
                    match adj.payment_id.as_deref().and_then(|p| current.get_mut(p)) {
                        Some((kind, amount, true)) => {
                            let effect = signed(*kind, adj.amount.minor()) - signed(*kind, *amount);
                            *amount = adj.amount.minor();
                            effect
                        }
                        _ => 0,
                    }
                }
                AdjustmentKind::VoidInvoice => 0,
            }
        })
        .collect()
}

/// Does this finding explain the money of what it names (open, or judged fine by a
/// person)? A fixed or cleared one no longer does, but may name a group whose fix is dated
/// later.
fn explains(f: &StoredFinding) -> bool {
    f.status == FindingStatus::Open || f.resolution == Some(Resolution::Dismissed)
}

const GROSS: usize = 0;
const G_REFUNDS: usize = 1;
const FEES: usize = 2;
const PAYMENTS: usize = 3;
const L_REFUNDS: usize = 4;
const ADJUSTMENTS: usize = 5;

/// Every movement of the rows, summed by the group it belongs to; the first half of a
/// tie-out.
struct Grouped<'a> {
    t: TieOut<'a>,
    groups: HashMap<Group<'a>, Sums>,
    totals: BTreeMap<Currency, [i128; 7]>,
    finding_by_charge: HashMap<&'a str, usize>,
}

/// The charges whose movements inside `period` do not cancel out on these rows: the ones
/// whose line the tie-out decides from their movements in every period. (Any other group
/// is matched, or goes to a finding that names it.)
pub fn charges_unsettled_in<'a>(rows: &Rows<'a>, period: &Period) -> Vec<&'a str> {
    group(rows, period)
        .groups
        .into_iter()
        .filter_map(|(group, sums)| match group {
            Group::Charge(id) if sums.in_period.iter().any(|(_, v)| *v != 0) => Some(id),
            _ => None,
        })
        .collect()
}

/// Builds the tie-out of `period`. Refuses when any money is unexplained.
pub fn tie_out<'a>(rows: &Rows<'a>, period: &Period) -> Result<TieOut<'a>, TieOutError> {
    let Grouped {
        mut t,
        groups,
        totals,
        finding_by_charge,
    } = group(rows, period);

    // Which line each group goes to.
    let covered = |at: jiff::Timestamp| rows.coverage.iter().any(|w| w.contains(at));
    let mut unexplained = Vec::new();
    let mut line_sums: BTreeMap<(Currency, LineKey), i128> = BTreeMap::new();
    let mut sorted: Vec<(&Group<'a>, &Sums)> = groups
        .iter()
        .filter(|(_, s)| !s.in_period.is_empty())
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (group, sums) in sorted {
        let finding = match group {
            Group::Charge(id) => finding_by_charge
                .get(id)
                .copied()
                .or(sums.finding_by_payment),
            _ => sums.finding_by_payment,
        };
        let zero_in_period = sums.in_period.iter().all(|(_, v)| *v == 0);
        let zero_all = sums.all.iter().all(|(_, v)| *v == 0);
        let line = match (group, finding) {
            (Group::Cash(_), _) => LineKey::Cash,
            (_, Some(f)) if explains(&rows.findings[f]) => LineKey::Finding(rows.findings[f].id),
            _ if zero_in_period => LineKey::Matched,
            (_, Some(f)) if zero_all => LineKey::Finding(rows.findings[f].id),
            _ if zero_all => LineKey::Timing,
            (Group::Unresolved(i), _)
                if *i < rows.ledger.len() && !covered(rows.ledger[*i].recorded_at) =>
            {
                LineKey::NotYetSynced
            }
            _ => LineKey::Unexplained,
        };
        if line == LineKey::Unexplained {
            for (cur, v) in sums.in_period.iter().filter(|(_, v)| *v != 0) {
                unexplained.push(Unexplained {
                    about: match group {
                        Group::Charge(id) => format!("charge {id}"),
                        Group::Unresolved(i) if *i < rows.ledger.len() => {
                            format!("ledger entry {}", rows.ledger[*i].payment_id)
                        }
                        _ => "an adjustment about nothing in the store".into(),
                    },
                    currency: cur.lower(),
                    amount_minor: i64::try_from(*v).unwrap_or(i64::MAX),
                });
            }
        }
        for (cur, v) in &sums.in_period {
            *line_sums.entry((*cur, line)).or_default() += v;
        }
        if line != LineKey::Matched {
            t.lines.insert(*group, line);
        }
    }
    if !unexplained.is_empty() {
        return Err(TieOutError::Unexplained {
            period: period.label(),
            unexplained,
        });
    }

    let overflow = |cur: Currency| TieOutError::Overflow {
        period: period.label(),
        currency: cur.lower(),
    };
    let mut currencies: BTreeMap<Currency, CurrencyTieOut> = BTreeMap::new();
    for (cur, sums) in &totals {
        let fit = |v: i128| i64::try_from(v).map_err(|_| overflow(*cur));
        let mut c = CurrencyTieOut::new(&cur.lower());
        c.gateway_gross = fit(sums[GROSS])?;
        c.gateway_refunds = fit(sums[G_REFUNDS])?;
        c.gateway_fees = fit(sums[FEES])?;
        c.gateway_net = fit(sums[GROSS] - sums[G_REFUNDS] - sums[FEES])?;
        c.ledger_payments = fit(sums[PAYMENTS])?;
        c.ledger_refunds = fit(sums[L_REFUNDS])?;
        c.ledger_adjustments = fit(sums[ADJUSTMENTS])?;
        c.ledger_net = fit(sums[PAYMENTS] - sums[L_REFUNDS] + sums[ADJUSTMENTS])?;
        c.difference = fit((sums[GROSS] - sums[G_REFUNDS] - sums[FEES])
            - (sums[PAYMENTS] - sums[L_REFUNDS] + sums[ADJUSTMENTS]))?;
        if sums[FEES] != 0 {
            c.lines.insert(LineKey::Fees, fit(-sums[FEES])?);
        }
        currencies.insert(*cur, c);
    }
    for ((cur, line), v) in line_sums {
        let c = currencies
            .entry(cur)
            .or_insert_with(|| CurrencyTieOut::new(&cur.lower()));
        c.lines
            .insert(line, i64::try_from(v).map_err(|_| overflow(cur))?);
    }
    for c in currencies.values() {
        let explained: i128 = c.lines.values().map(|v| i128::from(*v)).sum();
        assert_eq!(
            explained,
            i128::from(c.difference),
            "the tie-out lines of {} add up to the difference by construction",
            c.currency
        );
    }
    t.currencies = currencies.into_values().collect();
    Ok(t)
}

fn group<'a>(rows: &Rows<'a>, period: &Period) -> Grouped<'a> {
    let (start, end) = (period.start(), period.end());
    let inside = |t: jiff::Timestamp| start <= t && t < end;
    let inside_s = |s: i64| start.as_second() <= s && s < end.as_second();

    let mut charge_index: HashMap<&str, usize> = HashMap::with_capacity(rows.charges.len());
    let mut intent_charge: HashMap<&str, usize> = HashMap::new();
    for (i, c) in rows.charges.iter().enumerate() {
        charge_index.insert(c.id.as_str(), i);
        if let Some(pi) = c.payment_intent.as_deref()
            && c.status == ChargeStatus::Succeeded
        {
            let better = match intent_charge.get(pi) {
                Some(&j) => (c.created, &c.id) < (rows.charges[j].created, &rows.charges[j].id),
                None => true,
            };
            if better {
                intent_charge.insert(pi, i);
            }
        }
    }
    let refund_charge: HashMap<&str, &str> = rows
        .refunds
        .iter()
        .map(|r| (r.id.as_str(), r.charge_id.as_str()))
        .collect();
    let mut t = TieOut {
        period: period.label(),
        currencies: Vec::new(),
        lines: HashMap::new(),
        charge_index,
        intent_charge,
        refund_charge,
        adjustment_effects: adjustment_effects(rows),
        refunded_without_object: HashMap::new(),
    };

    // Findings that explain a group (open, or judged fine by a person) and those that no
    // longer do (fixed or cleared) but may name a group whose fix is dated later.
    let mut finding_by_charge: HashMap<&str, usize> = HashMap::new();
    let mut finding_by_payment: HashMap<&str, usize> = HashMap::new();
    for (i, f) in rows.findings.iter().enumerate() {
        for c in &f.charge_ids {
            let slot = finding_by_charge.entry(c.as_str()).or_insert(i);
            if !explains(&rows.findings[*slot]) && explains(f) {
                *slot = i;
            }
        }
        for p in &f.payment_ids {
            let slot = finding_by_payment.entry(p.as_str()).or_insert(i);
            if !explains(&rows.findings[*slot]) && explains(f) {
                *slot = i;
            }
        }
    }

    let mut groups: HashMap<Group<'a>, Sums> = HashMap::new();
    let mut totals: BTreeMap<Currency, [i128; 7]> = BTreeMap::new();
    let movement = |groups: &mut HashMap<Group<'a>, Sums>,
                    group: Group<'a>,
                    currency: Currency,
                    contribution: i128,
                    in_period: bool| {
        let sums = groups.entry(group).or_default();
        add(&mut sums.all, currency, contribution);
        if in_period {
            add(&mut sums.in_period, currency, contribution);
        }
    };

    let mut refunded_by_object: HashMap<&str, i128> = HashMap::new();
    for r in rows.refunds.iter().filter(|r| refund_counts(r.status)) {
        *refunded_by_object.entry(r.charge_id.as_str()).or_default() +=
            i128::from(r.amount.minor());
        let in_p = inside(r.created);
        let cur = r.amount.currency();
        movement(
            &mut groups,
            Group::Charge(&r.charge_id),
            cur,
            -i128::from(r.amount.minor()),
            in_p,
        );
        if in_p {
            totals.entry(cur).or_default()[G_REFUNDS] += i128::from(r.amount.minor());
        }
    }
    for m in rows.chargebacks {
        let in_p = inside(m.at);
        let cur = m.amount.currency();
        movement(
            &mut groups,
            Group::Charge(&m.charge_id),
            cur,
            i128::from(m.amount.minor()),
            in_p,
        );
        if in_p {
            totals.entry(cur).or_default()[G_REFUNDS] -= i128::from(m.amount.minor());
        }
    }
    for (i, c) in rows.charges.iter().enumerate() {
        let in_p = inside(c.created);
        let cur = c.amount.currency();
        if let Some(fee) = c.fee
            && in_p
        {
            totals.entry(fee.currency()).or_default()[FEES] += i128::from(fee.minor());
        }
        if !captured(c) {
            // Still a group, so that a ledger payment of a failed charge finds it.
            movement(&mut groups, Group::Charge(&c.id), cur, 0, in_p);
            continue;
        }
        movement(
            &mut groups,
            Group::Charge(&c.id),
            cur,
            i128::from(c.amount.minor()),
            in_p,
        );
        let by_objects = refunded_by_object.get(c.id.as_str()).copied().unwrap_or(0);
        let without = i128::from(c.amount_refunded.minor()) - by_objects;
        if without > 0 {
            let without = i64::try_from(without).unwrap_or(i64::MAX);
            t.refunded_without_object.insert(i, without);
            movement(
                &mut groups,
                Group::Charge(&c.id),
                cur,
                -i128::from(without),
                in_p,
            );
            if in_p {
                totals.entry(cur).or_default()[G_REFUNDS] += i128::from(without);
            }
        }
        if in_p {
            totals.entry(cur).or_default()[GROSS] += i128::from(c.amount.minor());
        }
    }
    for (i, e) in rows.ledger.iter().enumerate() {
        let group = t.ledger_group(rows, i);
        let in_p = inside(e.recorded_at);
        let cur = e.amount.currency();
        let amount = i128::from(e.amount.minor());
        let (contribution, slot) = match e.kind {
            LedgerKind::Payment => (-amount, PAYMENTS),
            LedgerKind::Refund => (amount, L_REFUNDS),
        };
        movement(&mut groups, group, cur, contribution, in_p);
        if let Some(&f) = finding_by_payment.get(e.payment_id.as_str()) {
            let sums = groups.get_mut(&group).expect("just added");
            let keep = sums
                .finding_by_payment
                .is_some_and(|old| explains(&rows.findings[old]));
            if !keep {
                sums.finding_by_payment = Some(f);
            }
        }
        if in_p {
            totals.entry(cur).or_default()[slot] += amount;
        }
    }
    for (i, stored) in rows.adjustments.iter().enumerate() {
        let effect = t.adjustment_effects[i];
        let in_p = inside_s(stored.adjustment.effective_at);
        let cur = stored.adjustment.amount.currency();
        if let Some(group) = t.adjustment_group(rows, i) {
            movement(&mut groups, group, cur, -i128::from(effect), in_p);
        } else if effect != 0 {
            // A fix about nothing the store knows: counted, and unexplained if it moved money.
            movement(
                &mut groups,
                Group::Unresolved(usize::MAX - i),
                cur,
                -i128::from(effect),
                in_p,
            );
        }
        if in_p {
            totals.entry(cur).or_default()[ADJUSTMENTS] += i128::from(effect);
        }
    }

    Grouped {
        t,
        groups,
        totals,
        finding_by_charge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn dispute(status: DisputeStatus) -> Dispute {
        Dispute {
            id: "du_1".into(),
            charge_id: "ch_1".into(),
            payment_intent: None,
            amount: Money::from_minor(5_000, Currency::from_code("USD").unwrap()),
            status,
            reason: "fraudulent".into(),
            created: jiff::Timestamp::from_second(1_000).unwrap(),
            evidence_due_by: None,
        }
    }

    fn moved(amount: i64, fee: i64, at: i64) -> BalanceTransaction {
        let usd = Currency::from_code("USD").unwrap();
        BalanceTransaction {
            id: format!("txn_{at}"),
            kind: "adjustment".into(),
            amount: Money::from_minor(amount, usd),
            fee: Money::from_minor(fee, usd),
            net: Money::from_minor(amount - fee, usd),
            created: jiff::Timestamp::from_second(at).unwrap(),
            available_on: jiff::Timestamp::from_second(at).unwrap(),
            source: Some("du_1".into()),
            payout: None,
        }
    }

    fn moves(status: DisputeStatus, transactions: &[BalanceTransaction]) -> Vec<(i64, i64)> {
        let refs: Vec<&BalanceTransaction> = transactions.iter().collect();
        ChargebackMove::of(&dispute(status), &refs)
            .iter()
            .map(|m| (m.amount.minor(), m.at.as_second()))
            .collect()
    }

    #[test]
    fn a_dispute_moves_its_charges_money_when_its_balance_transactions_say() {
        let withdrawal = moved(-5_000, 1_500, 2_000);
        let reversal = moved(5_000, 0, 9_000);
        assert_eq!(
            moves(DisputeStatus::Won, &[withdrawal.clone(), reversal]),
            vec![(-5_000, 2_000), (5_000, 9_000)],
            "taken, then given back later: nothing over all time"
        );
        assert_eq!(
            moves(DisputeStatus::Lost, &[withdrawal]),
            vec![(-5_000, 2_000)],
            "the fee is the clearing account's, not the charge's"
        );
        assert_eq!(
            moves(DisputeStatus::NeedsResponse, &[]),
            vec![(-5_000, 1_000)],
            "no withdrawal stored: taken when it was opened"
        );
        assert_eq!(moves(DisputeStatus::WarningNeedsResponse, &[]), vec![]);
        assert_eq!(moves(DisputeStatus::Won, &[]), vec![]);
    }
}
