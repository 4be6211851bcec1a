//! Bank statements: the lines of the business's bank account, so that each payout can be
//! found as a deposit. The format is recognised from the file: OFX/QFX (versions 1 and 2)
//! and ISO 20022 camt.053 are read today; the banks' CSV exports are still to come.
//!
//! A line is keyed by its account and the bank's own id for it (OFX's `FITID`), so the
//! same statement, or an overlapping one, imported again changes nothing. A file is read
//! whole and checked before anything is written; one refused line refuses the file, naming
//! its line and element path, and the store is left as it was. It never decides what a
//! line means for the books.

mod camt;
pub mod csv;
mod ofx;
mod tree;

use std::fmt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ImportError;
use crate::money::{Currency, Money, Sign};
use crate::records::BankLine;
use crate::store::{SourceCounts, Store};

/// A statement as read from a file, before its amounts meet a currency.
#[derive(Debug)]
pub(crate) struct ParsedStatement {
    pub account: String,
    pub currency: Option<Currency>,
    pub lines: Vec<ParsedLine>,
    /// The opening and closing balances as written (signed), with their dates, where the
    /// file has them.
    pub opening: Option<(String, Option<Date>)>,
    pub closing: Option<(String, Option<Date>)>,
    /// Entries the bank has not booked (pending, information only), left out.
    pub not_booked: u64,
    /// The first and last days the statement states it covers, where it states them and
    /// they can be read (otherwise the store takes its first and last lines' days).
    pub covers: Option<(Date, Date)>,
}

#[derive(Debug)]
pub(crate) struct ParsedLine {
    /// The bank's id for the line, where it gives one.
    pub id: Option<String>,
    pub booked_on: Date,
    pub amount_text: String,
    /// Where the amount was written (line, element path), for a refusal.
    pub amount_at: (u64, String),
    pub description: String,
    pub kind: Option<String>,
    pub line: u64,
}

/// Why a statement cannot be read: where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatementProblem {
    pub line: u64,
    pub path: String,
    pub value: String,
    pub reason: String,
}

impl StatementProblem {
    fn at(line: u64, path: &str, value: &str, reason: impl Into<String>) -> StatementProblem {
        StatementProblem {
            line,
            path: path.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// How to read a statement file.
#[derive(Debug, Clone, Default)]
pub struct BankOptions {
    /// The account's currency, where the file names none.
    pub currency: Option<Currency>,
    /// The account's name in Chargeguard; the file's bank and account ids by default (a
    /// CSV export without them: the bank's name).
    pub account: Option<String>,
    /// A bank's CSV layout the person wrote, for an export no shipped layout reads.
    pub layout: Option<csv::BankLayout>,
    /// Read and check everything, write nothing.
    pub dry_run: bool,
}

/// What importing a statement did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankImportReport {
    pub file: PathBuf,
    pub format: &'static str,
    pub accounts: Vec<String>,
    pub counts: SourceCounts,
    /// The statement's own closing balance, as it states it (minor units), per account.
    pub closing_balances: Vec<(String, i64, String)>,
    /// Where a statement states both balances: whether its lines explain the change.
    pub balance_checks: Vec<BalanceCheck>,
    /// Entries the bank had not booked yet (pending), left out.
    pub not_booked: u64,
    /// Days between the first and the last an account's statements cover that none of
    /// them does, after this import: a payout arriving then cannot be met in the bank
    /// until the statement of those days is imported.
    pub coverage_gaps: Vec<CoverageGap>,
    pub content_sha256: String,
    /// The bank whose CSV export this was, by its layout's name.
    pub recognised: Option<String>,
    /// Nothing was written: a dry run.
    pub dry_run: bool,
}

/// Days of one account no imported statement covers, between days that are covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageGap {
    pub account: String,
    pub from: Date,
    pub to: Date,
}

impl fmt::Display for CoverageGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no statement of {} covers {} to {}: a payout arriving then shows as not yet in the bank until that statement is imported",
            self.account, self.from, self.to
        )
    }
}

/// A statement's opening balance plus its lines, beside the closing balance it states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceCheck {
    pub account: String,
    pub currency: String,
    pub opening_minor: i64,
    pub lines_minor: i64,
    pub closing_minor: i64,
    /// `closing − (opening + lines)`: zero when the lines explain the statement.
    pub difference_minor: i64,
}

impl fmt::Display for BankImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(bank) = &self.recognised {
            writeln!(f, "recognised: {bank}")?;
        }
        write!(
            f,
            "{}: {} new, {} changed, {} unchanged bank lines ({})",
            self.file.display(),
            super::thousands(self.counts.new),
            super::thousands(self.counts.changed),
            super::thousands(self.counts.unchanged),
            self.accounts.join(", ")
        )?;
        if self.dry_run {
            write!(f, " (dry run: nothing was written)")?;
        }
        if self.not_booked > 0 {
            write!(
                f,
                "; {} pending entries left out",
                super::thousands(self.not_booked)
            )?;
        }
        for c in self
            .balance_checks
            .iter()
            .filter(|c| c.difference_minor != 0)
        {
            write!(
                f,
                "\nwarning: {}'s lines do not explain its statement: opening {} + lines {} = {}, but the bank states {} (difference {} {}, minor units); a line may be missing from the file",
                c.account,
                c.opening_minor,
                c.lines_minor,
                c.opening_minor + c.lines_minor,
                c.closing_minor,
                c.difference_minor,
                c.currency
            )?;
        }
        for gap in &self.coverage_gaps {
            write!(f, "\nnote: {gap}")?;
        }
        Ok(())
    }
}

/// What kind of bank statement `path` is, if it is one: `OFX`, `camt.053`, or the bank
/// whose CSV export it is. Reads the file, writes nothing.
pub fn recognise_file(path: &Path) -> Result<Option<String>, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    if ofx::looks_like_ofx(&bytes) {
        return Ok(Some("OFX statement".into()));
    }
    if camt::looks_like_camt053(&bytes) {
        return Ok(Some("camt.053 statement".into()));
    }
    let text = csv::decode(&bytes);
    Ok(csv::recognise(&text, csv::shipped()).map(|(layout, _)| layout.name.clone()))
}

/// Imports a bank statement file into the store, as one transaction.
pub fn import_bank_file(
    store: &mut Store,
    path: &Path,
    options: &BankOptions,
    now: Timestamp,
) -> Result<BankImportReport, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let refused = |p: StatementProblem| ImportError::Statement {
        file: path.to_path_buf(),
        line: p.line,
        path: p.path,
        value: p.value,
        reason: readable(&p.reason),
    };
    let mut recognised = None;
    let (format, statements) = if options.layout.is_none() && ofx::looks_like_ofx(&bytes) {
        ("ofx", ofx::read(&bytes).map_err(refused)?)
    } else if options.layout.is_none() && camt::looks_like_camt053(&bytes) {
        ("camt.053", camt::read(&bytes).map_err(refused)?)
    } else {
        let text = csv::decode(&bytes);
        let layouts: &[csv::BankLayout] = match &options.layout {
            Some(own) => std::slice::from_ref(own),
            None => csv::shipped(),
        };
        let Some((layout, start)) = csv::recognise(&text, layouts) else {
            return Err(ImportError::NotABankStatement {
                file: path.to_path_buf(),
            });
        };
        recognised = Some(layout.name.clone());
        let read = csv::read(
            &text,
            layout,
            start,
            options.currency,
            options.account.as_deref(),
        )
        .map_err(refused)?;
        ("csv", read)
    };
    let not_booked = statements.iter().map(|s| s.not_booked).sum();
    if options.account.is_some() && statements.len() > 1 {
        return Err(ImportError::Setting {
            detail: format!(
                "{} holds {} accounts' statements and --account names one; import it without --account",
                path.display(),
                statements.len()
            ),
        });
    }
    let names = store.read(|tx| -> Result<Vec<String>, ImportError> {
        statements
            .iter()
            .map(|s| account_name(tx, &s.account, options.account.as_deref()))
            .collect()
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    // Every amount is read before anything is written.
    let mut ready = Vec::new();
    let mut checks = Vec::new();
    for (s, account) in statements.into_iter().zip(names) {
        let currency = s.currency.or(options.currency).ok_or_else(|| {
            refused(StatementProblem::at(
                1,
                "STMTRS/CURDEF",
                "",
                "the statement names no currency; give the account's with --currency",
            ))
        })?;
        let statement_account = s.account.clone();
        let mut lines = Vec::new();
        let mut seen: std::collections::HashMap<(Date, String, String), u32> =
            std::collections::HashMap::new();
        for l in &s.lines {
            let amount = amount(&l.amount_text, currency).map_err(|why| {
                refused(StatementProblem::at(
                    l.amount_at.0,
                    &l.amount_at.1,
                    &l.amount_text,
                    why,
                ))
            })?;
            // A line the bank gave no id is keyed by what it says (its day, amount and
            // text, and how many identical lines came before it in this statement), so the
            // same statement imported again finds it.
            let id = match &l.id {
                Some(id) => id.clone(),
                None => {
                    let n = seen
                        .entry((
                            l.booked_on,
                            amount.minor().to_string(),
                            l.description.clone(),
                        ))
                        .or_default();
                    *n += 1;
                    let digest = Sha256::digest(
                        format!("{}|{}|{}|{}", l.booked_on, amount.minor(), l.description, n)
                            .as_bytes(),
                    );
                    format!("content:{}", &hex::encode(digest)[..20])
                }
            };
            lines.push((
                BankLine {
                    account: account.clone(),
                    id,
                    booked_on: l.booked_on,
                    amount,
                    description: l.description.clone(),
                    kind: l.kind.clone(),
                },
                l.line,
            ));
        }
        let balance = |stated: &Option<(String, Option<Date>)>| {
            stated
                .as_ref()
                .map(|(text, on)| {
                    amount(text, currency)
                        .map(|m| (m, *on))
                        .map_err(|why| refused(StatementProblem::at(1, "balance", text, why)))
                })
                .transpose()
        };
        let closing = balance(&s.closing)?;
        if let (Some((opening, _)), Some((closing, _))) = (balance(&s.opening)?, closing) {
            let lines_minor: i64 = lines.iter().map(|(l, _)| l.amount.minor()).sum();
            checks.push(BalanceCheck {
                account: account.clone(),
                currency: currency.lower(),
                opening_minor: opening.minor(),
                lines_minor,
                closing_minor: closing.minor(),
                difference_minor: closing.minor() - opening.minor() - lines_minor,
            });
        }
        ready.push((
            account,
            statement_account,
            currency,
            lines,
            closing,
            s.covers,
        ));
    }
    let file = path.display().to_string();
    let report = store.write(|tx| -> Result<BankImportReport, Abort> {
        let mut counts = SourceCounts::default();
        let mut accounts = Vec::new();
        let mut closing_balances = Vec::new();
        let known = tx.bank_coverage()?;
        // A statement that tells us of days no earlier one covered is news even without a
        // new line (a quiet month is exactly when a payout goes missing).
        let mut covers_more = false;
        let mut checks = checks.clone();
        for (account, statement_account, currency, lines, closing, covers) in &ready {
            // The days it states, else the days of all its lines (not only the new ones).
            let covers = covers.or_else(|| {
                let first = lines.iter().map(|(l, _)| l.booked_on).min()?;
                let last = lines.iter().map(|(l, _)| l.booked_on).max()?;
                Some((first, last))
            });
            let covers = &covers;
            // A statement that states only its closing balance (OFX's LEDGERBAL) opens where
            // the account's statement of the days just before it closed: chained, its lines
            // must explain the change.
            if let (Some((closing, _)), Some((from, _))) = (closing, covers)
                && !checks.iter().any(|c| &c.account == account)
                && let Some(day_before) = from.yesterday().ok()
                && let Some(opening) = tx.bank_closing_on(account, *currency, day_before)?
            {
                let lines_minor: i64 = lines.iter().map(|(l, _)| l.amount.minor()).sum();
                checks.push(BalanceCheck {
                    account: account.clone(),
                    currency: currency.lower(),
                    opening_minor: opening,
                    lines_minor,
                    closing_minor: closing.minor(),
                    difference_minor: closing.minor() - opening - lines_minor,
                });
            }
            if let Some((from, to)) = *covers
                && !covered(&known, account, from, to)
            {
                covers_more = true;
            }
            if account != statement_account {
                tx.name_bank_account(statement_account, account)?;
            }
            let statement = tx.begin_bank_statement(
                account,
                &file,
                &sha256,
                format,
                *currency,
                closing.as_ref().map(|(m, _)| *m),
                *covers,
                now,
            )?;
            let mut these = SourceCounts::default();
            for (line, at) in lines {
                these.tally(&tx.upsert_bank_line(line, statement, *at)?);
            }
            tx.finish_bank_statement(statement, these)?;
            counts.add(these);
            accounts.push(account.clone());
            if let Some((money, _)) = closing {
                closing_balances.push((account.clone(), money.minor(), currency.lower()));
            }
        }
        let coverage = tx.bank_coverage()?;
        let coverage_gaps = accounts
            .iter()
            .enumerate()
            .filter(|(i, a)| !accounts[..*i].contains(a))
            .flat_map(|(_, a)| gaps(&coverage, a))
            .collect();
        let report = BankImportReport {
            file: path.to_path_buf(),
            format,
            accounts,
            counts,
            closing_balances,
            balance_checks: checks,
            not_booked,
            coverage_gaps,
            content_sha256: sha256.clone(),
            recognised: recognised.clone(),
            dry_run: options.dry_run,
        };
        if options.dry_run || (counts.new == 0 && counts.changed == 0 && !covers_more) {
            // A dry run, or nothing new: roll back, so not even the statement is recorded
            // (again).
            return Err(Abort::NothingNew(Box::new(report)));
        }
        Ok(report)
    });
    match report {
        Ok(report) => Ok(report),
        Err(Abort::NothingNew(report)) => Ok(*report),
        Err(Abort::Store(e)) => Err(e.into()),
    }
}

/// A statement's amount, exactly: a decimal point, or a decimal comma where a bank writes
/// one in OFX (`-12,50`); a leading `+` is allowed.
fn amount(text: &str, currency: Currency) -> Result<Money, String> {
    let plain = text.trim().trim_start_matches('+');
    let plain = if plain.contains(',') && !plain.contains('.') {
        plain.replace(',', ".")
    } else {
        plain.to_string()
    };
    Money::parse(&plain, currency, Sign::Any).map_err(|e| e.to_string())
}

/// A reason that may quote the file (an XML reader's message does), with every quote and
/// every long word clipped, so a refusal stays a sentence whatever the file holds.
fn readable(reason: &str) -> String {
    super::clip_quoted(reason)
        .split(' ')
        .map(super::clip)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The name a statement's account (its bank and account ids) is stored under: the one
/// given with `--account` the first time, then the same one every time, so an account's
/// lines never split between two names.
fn account_name(
    tx: &crate::store::StoreTx<'_>,
    statement_account: &str,
    given: Option<&str>,
) -> Result<String, ImportError> {
    let known = tx.bank_account_name(statement_account)?;
    match (given, known) {
        (None, Some(known)) => Ok(known),
        (None, None) => Ok(statement_account.to_string()),
        (Some(given), Some(known)) if given == known => Ok(known),
        (Some(_), Some(known)) => Err(ImportError::Setting {
            detail: format!(
                "the statement's account {statement_account} is imported as {known:?}; import it with --account {known:?} or without --account"
            ),
        }),
        (Some(given), None)
            if given != statement_account && tx.bank_account_has_lines(statement_account)? =>
        {
            Err(ImportError::Setting {
                detail: format!(
                    "the statement's account {statement_account} was imported before under that name; import it without --account, so its lines stay together"
                ),
            })
        }
        (Some(given), None) => Ok(given.to_string()),
    }
}

/// Whether the statements of `account` imported so far cover every day from `from` to `to`
/// (statements that meet or overlap joined).
/// The days each statement of `account` covers, earliest first.
fn spans_of(known: &[crate::store::StatementCoverage], account: &str) -> Vec<(Date, Date)> {
    let mut spans: Vec<(Date, Date)> = known
        .iter()
        .filter(|c| c.account == account)
        .map(|c| (c.from, c.to))
        .collect();
    spans.sort();
    spans
}

/// The days between `account`'s covered spans that no statement covers.
fn gaps(known: &[crate::store::StatementCoverage], account: &str) -> Vec<CoverageGap> {
    let mut out = Vec::new();
    let mut reach: Option<Date> = None;
    for (start, end) in spans_of(known, account) {
        if let Some(r) = reach
            && let (Ok(first), Ok(last)) = (r.tomorrow(), start.yesterday())
            && first <= last
        {
            out.push(CoverageGap {
                account: account.to_string(),
                from: first,
                to: last,
            });
        }
        reach = Some(reach.map_or(end, |r| r.max(end)));
    }
    out
}

fn covered(known: &[crate::store::StatementCoverage], account: &str, from: Date, to: Date) -> bool {
    let mut reach: Option<Date> = None;
    for (start, end) in spans_of(known, account) {
        let joins = match reach {
            None => start <= from,
            Some(r) => r.tomorrow().is_ok_and(|next| start <= next),
        };
        if joins {
            reach = Some(reach.map_or(end, |r| r.max(end)));
        } else if reach.is_some() {
            break;
        }
    }
    reach.is_some_and(|r| r >= to)
}

/// Why the statement's transaction did not commit.
enum Abort {
    NothingNew(Box<BankImportReport>),
    Store(crate::store::StoreError),
}

impl From<crate::store::StoreError> for Abort {
    fn from(e: crate::store::StoreError) -> Self {
        Abort::Store(e)
    }
}
