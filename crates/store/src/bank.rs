//! Bank statement lines and the statements they came from. A line is keyed by its account
//! and the bank's own id for it: present with the same values, it is left alone; with other
//! values (a bank that restated it), it is updated and counted as changed.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use super::{StoreError, StoreTx, UpsertOutcome, currency_from_store};
use crate::money::{Currency, Money};
use crate::records::BankLine;

/// The days one statement of an account covers: every line the bank booked on those days
/// is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementCoverage {
    pub account: String,
    pub currency: Currency,
    pub from: Date,
    pub to: Date,
}

/// A stored line, with the statement it last came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredBankLine {
    pub line: BankLine,
    pub statement_id: i64,
}

impl StoreTx<'_> {
    /// Records a statement being imported; its counts come with [`Self::finish_bank_statement`].
    #[allow(clippy::too_many_arguments)]
    pub fn begin_bank_statement(
        &self,
        account: &str,
        file: &str,
        content_sha256: &str,
        format: &str,
        currency: Currency,
        closing: Option<Money>,
        covers: Option<(Date, Date)>,
        at: Timestamp,
    ) -> Result<i64, StoreError> {
        self.conn().execute(
            "INSERT INTO bank_statements (account, file, content_sha256, format, currency, closing_minor, imported_at, covers_from, covers_to)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                account,
                file,
                content_sha256,
                format,
                currency.lower(),
                closing.map(Money::minor),
                at.as_second(),
                covers.map(|(from, _)| from.to_string()),
                covers.map(|(_, to)| to.to_string()),
            ],
        )?;
        Ok(self.conn().last_insert_rowid())
    }

    pub fn finish_bank_statement(
        &self,
        statement_id: i64,
        counts: super::SourceCounts,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE bank_statements SET lines_new = ?2, lines_changed = ?3, lines_unchanged = ?4,
                    covers_from = coalesce(covers_from,
                        (SELECT min(booked_on) FROM bank_lines l WHERE l.statement_id = ?1)),
                    covers_to = coalesce(covers_to,
                        (SELECT max(booked_on) FROM bank_lines l WHERE l.statement_id = ?1))
             WHERE id = ?1",
            rusqlite::params![
                statement_id,
                counts.new as i64,
                counts.changed as i64,
                counts.unchanged as i64
            ],
        )?;
        Ok(())
    }

    /// Inserts a line, or leaves it when stored with the same values, or updates it.
    pub fn upsert_bank_line(
        &self,
        line: &BankLine,
        statement_id: i64,
        statement_line: u64,
    ) -> Result<UpsertOutcome, StoreError> {
        let currency = line.amount.currency().lower();
        let booked_on = line.booked_on.to_string();
        let minor = line.amount.minor();
        let statement_line = statement_line as i64;
        let values: [&dyn rusqlite::ToSql; 9] = [
            &line.account,
            &line.id,
            &booked_on,
            &minor,
            &currency,
            &line.description,
            &line.kind,
            &statement_id,
            &statement_line,
        ];
        let inserted = self.conn().execute(
            "INSERT INTO bank_lines (account, line_id, booked_on, amount_minor, currency, description, kind, statement_id, statement_line)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (account, line_id) DO NOTHING",
            values.as_slice(),
        )?;
        if inserted == 1 {
            return Ok(UpsertOutcome::New);
        }
        let updated = self.conn().execute(
            "UPDATE bank_lines SET booked_on = ?3, amount_minor = ?4, currency = ?5,
                    description = ?6, kind = ?7, statement_id = ?8, statement_line = ?9
              WHERE account = ?1 AND line_id = ?2
                AND (booked_on, amount_minor, currency, description, kind) IS NOT (?3, ?4, ?5, ?6, ?7)",
            values.as_slice(),
        )?;
        Ok(if updated == 1 {
            UpsertOutcome::Changed(Vec::new())
        } else {
            UpsertOutcome::Unchanged
        })
    }

    /// The name given to a statement's account (its bank and account ids), if any.
    pub fn bank_account_name(&self, statement_account: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn()
            .query_row(
                "SELECT name FROM bank_account_names WHERE statement_account = ?1",
                [statement_account],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Names a statement's account, once: a name already given stays.
    pub fn name_bank_account(&self, statement_account: &str, name: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO bank_account_names (statement_account, name) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
            [statement_account, name],
        )?;
        Ok(())
    }

    /// Whether any line is stored under `account`.
    pub fn bank_account_has_lines(&self, account: &str) -> Result<bool, StoreError> {
        Ok(self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM bank_lines WHERE account = ?1)",
            [account],
            |r| r.get(0),
        )?)
    }

    /// Every bank line, by account, then booking day and line id.
    pub fn bank_lines(&self) -> Result<Vec<StoredBankLine>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT account, line_id, booked_on, amount_minor, currency, description, kind, statement_id
               FROM bank_lines ORDER BY account, booked_on, line_id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let currency = currency_from_store(&r.get::<_, String>(4)?)?;
            let booked_on: String = r.get(2)?;
            out.push(StoredBankLine {
                line: BankLine {
                    account: r.get(0)?,
                    id: r.get(1)?,
                    booked_on: stored_date(&booked_on)?,
                    amount: Money::from_minor(r.get(3)?, currency),
                    description: r.get(5)?,
                    kind: r.get(6)?,
                },
                statement_id: r.get(7)?,
            });
        }
        Ok(out)
    }

    /// The currencies of the statements imported under account `account`.
    pub fn bank_account_currencies(&self, account: &str) -> Result<Vec<Currency>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT DISTINCT currency FROM bank_statements WHERE account = ?1 ORDER BY currency",
        )?;
        let codes: Vec<String> = stmt
            .query_map([account], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        codes.iter().map(|c| currency_from_store(c)).collect()
    }

    /// The closing balance stated by an earlier statement of `account` in `currency` whose
    /// days end on `day` (the latest such, if several), in minor units.
    pub fn bank_closing_on(
        &self,
        account: &str,
        currency: crate::money::Currency,
        day: Date,
    ) -> Result<Option<i64>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT closing_minor FROM bank_statements
                  WHERE account = ?1 AND currency = ?2 AND covers_to = ?3
                    AND closing_minor IS NOT NULL
                  ORDER BY id DESC LIMIT 1",
            )?
            .query_row(
                rusqlite::params![
                    account,
                    super::ascii(&currency.lower_bytes()),
                    day.to_string()
                ],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The days each imported statement covers, by account then first day. A statement with
    /// neither stated days nor lines covers nothing.
    pub fn bank_coverage(&self) -> Result<Vec<StatementCoverage>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT account, currency, covers_from, covers_to FROM bank_statements
              WHERE covers_from IS NOT NULL AND covers_to IS NOT NULL
              ORDER BY account, covers_from, id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(StatementCoverage {
                account: r.get(0)?,
                currency: currency_from_store(&r.get::<_, String>(1)?)?,
                from: stored_date(&r.get::<_, String>(2)?)?,
                to: stored_date(&r.get::<_, String>(3)?)?,
            });
        }
        Ok(out)
    }
}

fn stored_date(text: &str) -> Result<Date, StoreError> {
    text.parse().map_err(|e: jiff::Error| StoreError::Corrupt {
        what: "bank statement date".into(),
        detail: e.to_string(),
    })
}
