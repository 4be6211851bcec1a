//! What the Today screen's chart reads: the money per quarter hour and currency that
//! triggers keep as rows arrive (schema V9), instead of every row of the days it draws.
//!
//! It owns those reads; what counts as money on each side is the triggers' (the same as
//! `export::daily`'s), and which days to draw is the chart's.

use super::{StoreError, StoreTx};

/// One quarter hour's money in one currency, in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarterMoney {
    /// Unix seconds divided by 900, rounded down: the quarter hour starting then.
    pub quarter: i64,
    /// Lower-case ISO 4217 code.
    pub currency: String,
    pub gateway_minor: i64,
    pub ledger_minor: i64,
    /// Whether a captured charge, a counting refund or a ledger entry falls in it (money
    /// that nets to zero still draws its currency).
    pub has_rows: bool,
}

/// Seconds per quarter hour.
pub const QUARTER_SECONDS: i64 = 900;

impl StoreTx<'_> {
    /// The newest quarter before `before` (a quarter number) in which a captured charge
    /// or a ledger entry falls.
    pub fn newest_quarter_with_money(&self, before: i64) -> Result<Option<i64>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT quarter FROM money_by_quarter_hour
                  WHERE quarter < ?1 AND anchors > 0 ORDER BY quarter DESC LIMIT 1",
            )?
            .query_row([before], |r| r.get(0))
            .optional()?)
    }

    /// The quarters `[from, to)` holding any row, oldest first.
    pub fn money_by_quarter(&self, from: i64, to: i64) -> Result<Vec<QuarterMoney>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT quarter, currency, gateway_minor, ledger_minor, anchors + refunds > 0
               FROM money_by_quarter_hour WHERE quarter >= ?1 AND quarter < ?2
              ORDER BY quarter, currency",
        )?;
        let rows = stmt.query_map([from, to], |r| {
            Ok(QuarterMoney {
                quarter: r.get(0)?,
                currency: r.get(1)?,
                gateway_minor: r.get(2)?,
                ledger_minor: r.get(3)?,
                has_rows: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
