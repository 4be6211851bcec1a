//! The package's tables: which rows of the store belong to a period, in which order, and
//! how each row reads as cells. The CSV files and the workbook's sheets are written from
//! the same tables, so they cannot disagree.
//!
//! Rows are sorted by what the bookkeeper looks up (time then id for money movements, the
//! id for everything else), so two exports of unchanged books are identical. Instants are
//! written as local text with their offset in the period's zone. No cell holds a time the
//! export itself made.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use crate::audit::AuditEntry;
use crate::money::{Currency, Money};
use crate::period::Period;
use crate::records::Invoice;
use crate::store::{ActionRow, StoredFinding};

use super::clearing::{Clearing, JournalLine, Line};
use super::tieout::{LineKey, Rows, TieOut, refund_counts};
use crate::records::BalanceTransaction;

/// One cell: text, a whole number, or money (written as a decimal in CSV, a number with
/// the currency's decimals in the workbook).
#[derive(Debug, Clone)]
pub enum Cell<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Money(i64, Currency),
}

impl Cell<'_> {
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(t) => Cow::Borrowed(t),
            Cell::Int(n) => Cow::Owned(n.to_string()),
            Cell::Money(minor, c) => Cow::Owned(Money::from_minor(*minor, *c).to_decimal_string()),
        }
    }
}

fn t<'a>(s: &'a str) -> Cell<'a> {
    Cell::Text(Cow::Borrowed(s))
}

fn o<'a>(s: String) -> Cell<'a> {
    Cell::Text(Cow::Owned(s))
}

fn opt<'a>(s: Option<&'a str>) -> Cell<'a> {
    t(s.unwrap_or(""))
}

type RowFn<'a> = Box<dyn Fn(usize, &mut Vec<Cell<'a>>) + Send + Sync + 'a>;

/// A table: one CSV file and one sheet.
pub struct Table<'a> {
    pub file: &'static str,
    pub sheet: &'static str,
    pub header: &'static [&'static str],
    pub len: usize,
    pub row: RowFn<'a>,
}

pub const INVOICES: &str = "invoices.csv";
pub const LEDGER: &str = "ledger_payments.csv";
pub const ADJUSTMENTS: &str = "adjustments.csv";
pub const CHARGES: &str = "gateway_charges.csv";
pub const REFUNDS: &str = "gateway_refunds.csv";
pub const FINDINGS: &str = "findings.csv";
pub const ACTIONS: &str = "actions.csv";
pub const AUDIT: &str = "audit_log.csv";
pub const TIEOUT: &str = "tieout.csv";
pub const CLEARING: &str = "clearing.csv";
pub const CLEARING_TRANSACTIONS: &str = "clearing_transactions.csv";
pub const FEES_JOURNAL: &str = "fees_journal.csv";

pub const INVOICES_HEADER: &[&str] = &[
    "invoice_number",
    "customer_id",
    "amount",
    "currency",
    "issued_at",
    "due_at",
    "status",
    "order_ref",
];
pub const LEDGER_HEADER: &[&str] = &[
    "payment_id",
    "invoice_number",
    "kind",
    "amount",
    "currency",
    "recorded_at",
    "gateway_id",
    "tieout_line",
];
pub const ADJUSTMENTS_HEADER: &[&str] = &[
    "adjustment_id",
    "action_id",
    "idempotency_key",
    "invoice_number",
    "kind",
    "payment_id",
    "gateway_id",
    "amount",
    "currency",
    "ledger_effect",
    "effective_at",
    "tieout_line",
];
pub const CHARGES_HEADER: &[&str] = &[
    "charge_id",
    "created_at",
    "status",
    "captured",
    "amount",
    "amount_refunded",
    "fee",
    "currency",
    "customer_id",
    "payment_intent_id",
    "invoice_ref",
    "description",
    "tieout_line",
];
pub const REFUNDS_HEADER: &[&str] = &[
    "refund_id",
    "charge_id",
    "created_at",
    "status",
    "amount",
    "currency",
    "source",
    "tieout_line",
];
pub const FINDINGS_HEADER: &[&str] = &[
    "finding_id",
    "fingerprint",
    "kind",
    "status",
    "resolution",
    "confidence",
    "invoice_number",
    "charge_ids",
    "payment_ids",
    "amount",
    "currency",
    "reason",
    "first_seen_at",
    "resolved_at",
];
pub const ACTIONS_HEADER: &[&str] = &[
    "action_id",
    "kind",
    "state",
    "idempotency_key",
    "attempt",
    "finding_id",
    "invoice_number",
    "charge_id",
    "amount",
    "currency",
    "proposed_by",
    "proposed_at",
    "approvers",
    "gateway_object_id",
    "outcome",
    "updated_at",
];
pub const AUDIT_HEADER: &[&str] = &[
    "seq",
    "at",
    "actor",
    "event",
    "subject",
    "details",
    "prev_hash",
    "hash",
];
pub const TIEOUT_HEADER: &[&str] = &["currency", "line", "label", "amount"];
/// The Stripe clearing account per currency: `opening_balance`, one row per line (see
/// `clearing`), `closing_balance`; amounts signed as the balance moved.
pub const CLEARING_HEADER: &[&str] = &["currency", "line", "label", "amount", "transactions"];
/// Every balance transaction of the period: its `amount` is on `line`, its `fee` on `fees`.
pub const CLEARING_TRANSACTIONS_HEADER: &[&str] = &[
    "balance_transaction_id",
    "created_at",
    "currency",
    "type",
    "source",
    "payout_id",
    "line",
    "amount",
    "fee",
    "net",
];
/// The month's Stripe fees as journal lines, one per currency.
pub const FEES_JOURNAL_HEADER: &[&str] = &[
    "key",
    "date",
    "debit_account",
    "credit_account",
    "amount",
    "currency",
    "memo",
    "transactions",
];

/// The header every CSV file of a package must have, by file name.
pub fn header_of(file: &str) -> Option<&'static [&'static str]> {
    Some(match file {
        INVOICES => INVOICES_HEADER,
        LEDGER => LEDGER_HEADER,
        ADJUSTMENTS => ADJUSTMENTS_HEADER,
        CHARGES => CHARGES_HEADER,
        REFUNDS => REFUNDS_HEADER,
        FINDINGS => FINDINGS_HEADER,
        ACTIONS => ACTIONS_HEADER,
        AUDIT => AUDIT_HEADER,
        TIEOUT => TIEOUT_HEADER,
        CLEARING => CLEARING_HEADER,
        CLEARING_TRANSACTIONS => CLEARING_TRANSACTIONS_HEADER,
        FEES_JOURNAL => FEES_JOURNAL_HEADER,
        _ => return None,
    })
}

/// A refund row: a refund object, or what a charge shows refunded with no object.
#[derive(Debug, Clone, Copy)]
pub enum RefundRow {
    Object(usize),
    ChargeTotal(usize, i64),
    /// A dispute's move of its charge's money (`Rows::chargebacks`), a row of its own with
    /// `source` `chargeback` (a won one's reversal: a negative amount) so the package
    /// re-adds to what the tie-out weighed.
    Chargeback(usize),
}

/// Everything the package shows of one period, as indices into the rows.
pub struct Selection<'a> {
    pub charges: Vec<usize>,
    pub refunds: Vec<RefundRow>,
    pub ledger: Vec<usize>,
    pub adjustments: Vec<usize>,
    pub invoices: Vec<&'a Invoice>,
    pub findings: Vec<&'a StoredFinding>,
    pub actions: Vec<&'a ActionRow>,
    pub audit: Vec<AuditEntry>,
}

/// Picks and sorts the period's rows.
pub fn select<'a>(
    rows: &Rows<'a>,
    tie: &TieOut<'a>,
    period: &Period,
    invoices: &'a [Invoice],
    actions: &'a [ActionRow],
    audit: Vec<AuditEntry>,
) -> Selection<'a> {
    let inside = |t: jiff::Timestamp| period.contains(t);
    let (start_s, end_s) = (period.start().as_second(), period.end().as_second());
    let inside_s = |s: i64| start_s <= s && s < end_s;

    let mut charges: Vec<usize> = (0..rows.charges.len())
        .filter(|&i| inside(rows.charges[i].created))
        .collect();
    charges.sort_by(|&a, &b| {
        let (a, b) = (&rows.charges[a], &rows.charges[b]);
        (a.created, &a.id).cmp(&(b.created, &b.id))
    });
    let mut refunds: Vec<(jiff::Timestamp, &str, RefundRow)> = rows
        .refunds
        .iter()
        .enumerate()
        .filter(|(_, r)| inside(r.created))
        .map(|(i, r)| (r.created, r.id.as_str(), RefundRow::Object(i)))
        .collect();
    for &c in &charges {
        if let Some(&amount) = tie.refunded_without_object.get(&c) {
            let ch = &rows.charges[c];
            refunds.push((
                ch.created,
                ch.id.as_str(),
                RefundRow::ChargeTotal(c, amount),
            ));
        }
    }
    for (i, m) in rows.chargebacks.iter().enumerate() {
        if inside(m.at) {
            refunds.push((m.at, m.dispute_id.as_str(), RefundRow::Chargeback(i)));
        }
    }
    refunds.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut ledger: Vec<usize> = (0..rows.ledger.len())
        .filter(|&i| inside(rows.ledger[i].recorded_at))
        .collect();
    ledger.sort_by(|&a, &b| {
        let (a, b) = (&rows.ledger[a], &rows.ledger[b]);
        (a.recorded_at, &a.payment_id).cmp(&(b.recorded_at, &b.payment_id))
    });
    let mut adjustments: Vec<usize> = (0..rows.adjustments.len())
        .filter(|&i| inside_s(rows.adjustments[i].adjustment.effective_at))
        .collect();
    adjustments.sort_by_key(|&i| rows.adjustments[i].id);

    // Findings: those on a tie-out line, and those about the period's rows.
    let mut finding_ids: BTreeSet<i64> = tie
        .currencies
        .iter()
        .flat_map(|c| c.lines.keys())
        .filter_map(|l| match l {
            LineKey::Finding(id) => Some(*id),
            _ => None,
        })
        .collect();
    let charge_ids: HashSet<&str> = charges
        .iter()
        .map(|&i| rows.charges[i].id.as_str())
        .collect();
    let payment_ids: HashSet<&str> = ledger
        .iter()
        .map(|&i| rows.ledger[i].payment_id.as_str())
        .collect();
    for f in rows.findings {
        let touches = f.charge_ids.iter().any(|c| charge_ids.contains(c.as_str()))
            || f.payment_ids
                .iter()
                .any(|p| payment_ids.contains(p.as_str()))
            || f.resolved_at.is_some_and(inside);
        if touches {
            finding_ids.insert(f.id);
        }
    }
    let findings: Vec<&StoredFinding> = rows
        .findings
        .iter()
        .filter(|f| finding_ids.contains(&f.id))
        .collect();

    let mut invoice_numbers: HashSet<&str> = HashSet::new();
    for &i in &ledger {
        invoice_numbers.insert(&rows.ledger[i].invoice_number);
    }
    for &i in &charges {
        if let Some(r) = rows.charges[i].invoice_ref.as_deref() {
            invoice_numbers.insert(r);
        }
    }
    for &i in &adjustments {
        invoice_numbers.insert(&rows.adjustments[i].adjustment.invoice_number);
    }
    for f in &findings {
        if let Some(n) = f.invoice_number.as_deref() {
            invoice_numbers.insert(n);
        }
    }
    let adjustment_actions: HashSet<i64> = adjustments
        .iter()
        .map(|&i| rows.adjustments[i].action_id)
        .collect();
    let selected_actions: Vec<&ActionRow> = {
        let mut v: Vec<&ActionRow> = actions
            .iter()
            .filter(|a| {
                inside_s(a.proposed_at)
                    || adjustment_actions.contains(&a.id)
                    || a.finding_id.is_some_and(|f| finding_ids.contains(&f))
                    || a.charge_id
                        .as_deref()
                        .is_some_and(|c| charge_ids.contains(c))
            })
            .collect();
        v.sort_by_key(|a| a.id);
        v
    };
    for a in &selected_actions {
        if let Some(n) = a.invoice_number.as_deref() {
            invoice_numbers.insert(n);
        }
    }
    let mut selected_invoices: Vec<&Invoice> = invoices
        .iter()
        .filter(|i| inside(i.issued_at) || invoice_numbers.contains(i.number.as_str()))
        .collect();
    selected_invoices.sort_by(|a, b| a.number.cmp(&b.number));

    Selection {
        charges,
        refunds: refunds.into_iter().map(|(_, _, r)| r).collect(),
        ledger,
        adjustments,
        invoices: selected_invoices,
        findings,
        actions: selected_actions,
        audit,
    }
}

fn cur(code: &str) -> Currency {
    Currency::from_code(code).expect("the tie-out holds only valid currency codes")
}

/// The tables of a package, in the order of the workbook's sheets (after the summary).
pub fn tables<'a>(
    rows: Rows<'a>,
    tie: &'a TieOut<'a>,
    sel: &'a Selection<'a>,
    period: &'a Period,
) -> Vec<Table<'a>> {
    let when = move |ts: jiff::Timestamp| o(period.local_text(ts));
    let when_s = move |s: i64| match jiff::Timestamp::from_second(s) {
        Ok(ts) => o(period.local_text(ts)),
        Err(_) => o(s.to_string()),
    };
    vec![
        Table {
            file: INVOICES,
            sheet: "Invoices",
            header: INVOICES_HEADER,
            len: sel.invoices.len(),
            row: Box::new(move |i, out| {
                let inv = sel.invoices[i];
                out.extend([
                    t(&inv.number),
                    t(&inv.customer_id),
                    Cell::Money(inv.amount.minor(), inv.amount.currency()),
                    o(inv.amount.currency().lower()),
                    when(inv.issued_at),
                    inv.due_at.map(when).unwrap_or(t("")),
                    t(inv.status.as_str()),
                    opt(inv.order_ref.as_deref()),
                ]);
            }),
        },
        Table {
            file: LEDGER,
            sheet: "Ledger payments",
            header: LEDGER_HEADER,
            len: sel.ledger.len(),
            row: Box::new(move |i, out| {
                let idx = sel.ledger[i];
                let e = &rows.ledger[idx];
                out.extend([
                    t(&e.payment_id),
                    t(&e.invoice_number),
                    t(e.kind.as_str()),
                    Cell::Money(e.amount.minor(), e.amount.currency()),
                    o(e.amount.currency().lower()),
                    when(e.recorded_at),
                    opt(e.gateway_id.as_deref()),
                    o(tie.line(tie.ledger_group(&rows, idx)).to_string()),
                ]);
            }),
        },
        Table {
            file: ADJUSTMENTS,
            sheet: "Adjustments",
            header: ADJUSTMENTS_HEADER,
            len: sel.adjustments.len(),
            row: Box::new(move |i, out| {
                let idx = sel.adjustments[i];
                let s = &rows.adjustments[idx];
                let a = &s.adjustment;
                let c = a.amount.currency();
                out.extend([
                    Cell::Int(s.id),
                    Cell::Int(s.action_id),
                    t(&s.idempotency_key),
                    t(&a.invoice_number),
                    t(a.kind.as_str()),
                    opt(a.payment_id.as_deref()),
                    opt(a.gateway_id.as_deref()),
                    Cell::Money(a.amount.minor(), c),
                    o(c.lower()),
                    Cell::Money(tie.adjustment_effects[idx], c),
                    when_s(a.effective_at),
                    o(tie.line_of_adjustment(&rows, idx).to_string()),
                ]);
            }),
        },
        Table {
            file: CHARGES,
            sheet: "Gateway charges",
            header: CHARGES_HEADER,
            len: sel.charges.len(),
            row: Box::new(move |i, out| {
                let ch = &rows.charges[sel.charges[i]];
                let c = ch.amount.currency();
                out.extend([
                    t(&ch.id),
                    when(ch.created),
                    t(ch.status.as_str()),
                    t(if ch.captured { "true" } else { "false" }),
                    Cell::Money(ch.amount.minor(), c),
                    Cell::Money(ch.amount_refunded.minor(), c),
                    match ch.fee {
                        Some(f) => Cell::Money(f.minor(), c),
                        None => t(""),
                    },
                    o(c.lower()),
                    opt(ch.customer.as_deref()),
                    opt(ch.payment_intent.as_deref()),
                    opt(ch.invoice_ref.as_deref()),
                    opt(ch.description.as_deref()),
                    o(tie.line_of_charge(&ch.id).to_string()),
                ]);
            }),
        },
        Table {
            file: REFUNDS,
            sheet: "Gateway refunds",
            header: REFUNDS_HEADER,
            len: sel.refunds.len(),
            row: Box::new(move |i, out| match sel.refunds[i] {
                RefundRow::Object(idx) => {
                    let r = &rows.refunds[idx];
                    let c = r.amount.currency();
                    let line = if refund_counts(r.status) {
                        tie.line_of_charge(&r.charge_id).to_string()
                    } else {
                        String::new()
                    };
                    out.extend([
                        t(&r.id),
                        t(&r.charge_id),
                        when(r.created),
                        t(r.status.as_str()),
                        Cell::Money(r.amount.minor(), c),
                        o(c.lower()),
                        t("refund_object"),
                        o(line),
                    ]);
                }
                RefundRow::ChargeTotal(idx, amount) => {
                    let ch = &rows.charges[idx];
                    let c = ch.amount.currency();
                    out.extend([
                        t(""),
                        t(&ch.id),
                        when(ch.created),
                        t("succeeded"),
                        Cell::Money(amount, c),
                        o(c.lower()),
                        t("charge_total"),
                        o(tie.line_of_charge(&ch.id).to_string()),
                    ]);
                }
                RefundRow::Chargeback(idx) => {
                    let m = &rows.chargebacks[idx];
                    let c = m.amount.currency();
                    out.extend([
                        t(&m.dispute_id),
                        t(&m.charge_id),
                        when(m.at),
                        t(m.status.as_str()),
                        Cell::Money(-m.amount.minor(), c),
                        o(c.lower()),
                        t("chargeback"),
                        o(tie.line_of_charge(&m.charge_id).to_string()),
                    ]);
                }
            }),
        },
        Table {
            file: FINDINGS,
            sheet: "Findings",
            header: FINDINGS_HEADER,
            len: sel.findings.len(),
            row: Box::new(move |i, out| {
                let f = sel.findings[i];
                out.extend([
                    Cell::Int(f.id),
                    t(&f.fingerprint),
                    t(f.kind.as_str()),
                    t(f.status.as_str()),
                    t(f.resolution.map(|r| r.as_str()).unwrap_or("")),
                    t(f.confidence.as_str()),
                    opt(f.invoice_number.as_deref()),
                    o(f.charge_ids.join(" ")),
                    o(f.payment_ids.join(" ")),
                    Cell::Money(f.amount.minor(), f.amount.currency()),
                    o(f.amount.currency().lower()),
                    t(&f.reason),
                    when(f.first_seen_at),
                    f.resolved_at.map(when).unwrap_or(t("")),
                ]);
            }),
        },
        Table {
            file: ACTIONS,
            sheet: "Actions",
            header: ACTIONS_HEADER,
            len: sel.actions.len(),
            row: Box::new(move |i, out| {
                let a = sel.actions[i];
                out.extend([
                    Cell::Int(a.id),
                    t(a.kind.as_str()),
                    t(a.state.as_str()),
                    t(&a.idempotency_key),
                    Cell::Int(a.attempt),
                    a.finding_id.map(Cell::Int).unwrap_or(t("")),
                    opt(a.invoice_number.as_deref()),
                    opt(a.charge_id.as_deref()),
                    Cell::Money(a.amount.minor(), a.amount.currency()),
                    o(a.amount.currency().lower()),
                    t(&a.proposed_by),
                    when_s(a.proposed_at),
                    o(a.approvers.join(" ")),
                    opt(a.gateway_object_id.as_deref()),
                    opt(a.outcome.as_deref()),
                    when_s(a.updated_at),
                ]);
            }),
        },
        Table {
            file: AUDIT,
            sheet: "Audit log",
            header: AUDIT_HEADER,
            len: sel.audit.len(),
            row: Box::new(move |i, out| {
                let e = &sel.audit[i];
                out.extend([
                    Cell::Int(e.seq),
                    // The audit time stays Unix seconds: its hash covers that number.
                    Cell::Int(e.at),
                    t(&e.actor),
                    t(&e.event),
                    t(&e.subject),
                    t(&e.details),
                    t(&e.prev_hash),
                    t(&e.hash),
                ]);
            }),
        },
    ]
}

/// The human label of a tie-out line.
pub fn line_label(line: LineKey, findings: &[StoredFinding]) -> String {
    match line {
        LineKey::Fees => "Fees the gateway kept (the ledger records gross)".into(),
        LineKey::Matched => "Matched inside the period".into(),
        LineKey::Timing => "Timing: the other side is dated in another period".into(),
        LineKey::Cash => "Cash, cheque and transfers (outside the gateway)".into(),
        LineKey::NotYetSynced => "Ledger payments whose charge is not synced yet".into(),
        LineKey::Unexplained => "Unexplained".into(),
        LineKey::Finding(id) => match findings.iter().find(|f| f.id == id) {
            Some(f) => format!(
                "Finding {id}: {} {}({})",
                f.kind,
                f.invoice_number
                    .as_deref()
                    .map(|n| format!("on {n} "))
                    .unwrap_or_default(),
                f.resolution.map(|r| r.as_str()).unwrap_or("open")
            ),
            None => format!("Finding {id}"),
        },
    }
}

/// The tie-out table: per currency the named totals, then the lines that explain the
/// difference.
pub fn tieout_table<'a>(tie: &'a TieOut<'a>, findings: &'a [StoredFinding]) -> Table<'a> {
    let mut cells: Vec<[Cell<'a>; 4]> = Vec::new();
    for c in &tie.currencies {
        let currency = cur(&c.currency);
        for (key, label, amount) in c.totals() {
            cells.push([
                t(&c.currency),
                o(format!("total:{key}")),
                t(label),
                Cell::Money(amount, currency),
            ]);
        }
        for (line, amount) in &c.lines {
            cells.push([
                t(&c.currency),
                o(format!("line:{line}")),
                o(line_label(*line, findings)),
                Cell::Money(*amount, currency),
            ]);
        }
    }
    Table {
        file: TIEOUT,
        sheet: "Tie-out",
        header: TIEOUT_HEADER,
        len: cells.len(),
        row: Box::new(move |i, out| out.extend(cells[i].iter().cloned())),
    }
}

/// The Stripe clearing account's tables: the equation per currency, every balance
/// transaction of the period with its line, and the fees journal.
pub fn clearing_tables<'a>(
    clearing: &'a Clearing,
    rows: &'a [BalanceTransaction],
    journal: &'a [JournalLine],
    period: &'a Period,
) -> Vec<Table<'a>> {
    let mut cells: Vec<[Cell<'a>; 5]> = Vec::new();
    for c in &clearing.currencies {
        let currency = cur(&c.currency);
        cells.push([
            t(&c.currency),
            t("opening_balance"),
            t("Opening balance (every balance transaction before the period)"),
            Cell::Money(c.opening, currency),
            t(""),
        ]);
        for l in &c.lines {
            cells.push([
                t(&c.currency),
                t(l.line.as_str()),
                t(l.line.label()),
                Cell::Money(l.amount, currency),
                Cell::Int(i64::try_from(l.transactions).unwrap_or(i64::MAX)),
            ]);
        }
        cells.push([
            t(&c.currency),
            t("closing_balance"),
            t("Closing balance (opening balance and the lines)"),
            Cell::Money(c.closing, currency),
            t(""),
        ]);
    }
    vec![
        Table {
            file: CLEARING,
            sheet: "Stripe clearing",
            header: CLEARING_HEADER,
            len: cells.len(),
            row: Box::new(move |i, out| out.extend(cells[i].iter().cloned())),
        },
        Table {
            file: CLEARING_TRANSACTIONS,
            sheet: "Clearing transactions",
            header: CLEARING_TRANSACTIONS_HEADER,
            len: rows.len(),
            row: Box::new(move |i, out| {
                let r = &rows[i];
                let c = r.amount.currency();
                let line: Line = clearing.row_lines[i];
                out.extend([
                    t(&r.id),
                    o(period.local_text(r.created)),
                    o(c.lower()),
                    t(&r.kind),
                    opt(r.source.as_deref()),
                    opt(r.payout.as_deref()),
                    t(line.as_str()),
                    Cell::Money(r.amount.minor(), c),
                    Cell::Money(r.fee.minor(), c),
                    Cell::Money(r.net.minor(), c),
                ]);
            }),
        },
        Table {
            file: FEES_JOURNAL,
            sheet: "Stripe fees journal",
            header: FEES_JOURNAL_HEADER,
            len: journal.len(),
            row: Box::new(move |i, out| {
                let j = &journal[i];
                out.extend([
                    t(&j.key),
                    o(j.date.to_string()),
                    t(j.debit_account),
                    t(j.credit_account),
                    Cell::Money(j.amount, cur(&j.currency)),
                    t(&j.currency),
                    t(&j.memo),
                    Cell::Int(i64::try_from(j.transactions).unwrap_or(i64::MAX)),
                ]);
            }),
        },
    ]
}
