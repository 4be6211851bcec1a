//! The part of the books that the rows written since the last reconciliation reach: what
//! a reconciliation of what changed must look at again, and nothing more.
//!
//! Triggers (schema V8) note every row written while `reconcile_tracking` has its row.
//! [`StoreTx::walk_changed_scope`] starts from those rows and follows, round by round,
//! every relation a finding rule can weigh between two rows, until a round adds nothing:
//! an invoice and the ledger entries, charges, adjustments and order-sharing invoices
//! that name it; a charge and its invoice (by reference or the gateway's invoice id), its
//! payment intent's other charges, its refunds and the ledger entries naming it; the
//! invoices and charges of the same customer, amount and currency close enough in time to
//! be guessed as one payment (`heuristic_window_seconds`) or as one order billed twice
//! (`duplicate_window_seconds`); a coverage window and the ledger payments dated inside
//! it; and an open finding about any row reached brings every row it is about. The
//! result is closed under those relations, so reconciling it alone gives what a whole
//! reconciliation gives for those rows, and every other finding stays as it is.
//!
//! It owns the walk and the notes; it must never decide what is a finding. The walk lives
//! in temporary tables of this connection, read by the `*_in_scope` reads.

use super::{StoreError, StoreTx};

/// How big the part of the books a walk reached is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScopeSize {
    pub invoices: u64,
    pub ledger_entries: u64,
    pub charges: u64,
    pub refunds: u64,
    pub adjustments: u64,
}

/// The windows the walk follows, the rules' own constants.
#[derive(Debug, Clone, Copy)]
pub struct ScopeWindows {
    /// How far a charge may be from an invoice's issue or due instant and still be guessed
    /// to pay it.
    pub heuristic_window_seconds: i64,
    /// How close two invoices of one customer and amount must be issued to be guessed as
    /// one order billed twice.
    pub duplicate_window_seconds: i64,
}

const SCOPE_TABLES: [&str; 6] = [
    "scope_invoice",
    "scope_ledger",
    "scope_charge",
    "scope_refund",
    "scope_adjustment",
    "scope_finding",
];

/// What each open finding is about, read once per walk: its invoice, its charges (or the
/// gateway id a missing charge names) and its ledger payments (Chargeguard's own as
/// `adj-KEY`).
const FINDING_ROWS: &str = "
    CREATE TEMP TABLE IF NOT EXISTS finding_rows (finding_id INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS temp.finding_rows_key ON finding_rows(kind, key);
    CREATE INDEX IF NOT EXISTS temp.finding_rows_finding ON finding_rows(finding_id);
    DELETE FROM temp.finding_rows;
    INSERT INTO temp.finding_rows
        SELECT id, 'invoice', invoice_number FROM findings
         WHERE status = 'open' AND invoice_number IS NOT NULL
        UNION ALL
        SELECT f.id, 'charge', j.value FROM findings f, json_each(f.charge_ids) j WHERE f.status = 'open'
        UNION ALL
        SELECT f.id, 'payment', j.value FROM findings f, json_each(f.payment_ids) j WHERE f.status = 'open';";

/// One round's steps: each inserts into a scope table, with `?1` the round whose rows it
/// starts from (read first: `CROSS JOIN` keeps SQLite from starting at the big table), `?2` this round, `?3` the gateway and `?4`/`?5` the windows.
const ROUND: &[&str] = &[
    // From the invoices.
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT l.id, ?2 FROM temp.scope_invoice s
       CROSS JOIN invoices i ON i.id = s.id CROSS JOIN ledger_entries l ON l.invoice_number = i.invoice_number
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, ?2 FROM temp.scope_invoice s
       CROSS JOIN invoices i ON i.id = s.id CROSS JOIN gateway_charges c ON c.invoice_ref = i.invoice_number
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, ?2 FROM temp.scope_invoice s
       CROSS JOIN invoices i ON i.id = s.id CROSS JOIN gateway_charges c ON c.gateway_invoice_id = i.gateway_invoice_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_invoice SELECT o.id, ?2 FROM temp.scope_invoice s
       CROSS JOIN invoices i ON i.id = s.id CROSS JOIN invoices o ON o.order_ref = i.order_ref
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_invoice SELECT o.id, ?2 FROM temp.scope_invoice s
       CROSS JOIN invoices i ON i.id = s.id
       CROSS JOIN invoices o ON o.customer_id = i.customer_id AND o.amount_minor = i.amount_minor
      WHERE s.round = ?1 AND o.currency = i.currency AND abs(o.issued_at - i.issued_at) <= ?5",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, ?2 FROM temp.scope_invoice s
       CROSS JOIN invoices i ON i.id = s.id
       CROSS JOIN gateway_charges c ON c.customer_id = i.customer_id AND c.amount_minor = i.amount_minor
      WHERE s.round = ?1 AND c.currency = i.currency
        AND (abs(c.created_at - i.issued_at) <= ?4 OR abs(c.created_at - i.due_at) <= ?4)",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, ?2 FROM temp.scope_invoice s
       CROSS JOIN invoices i ON i.id = s.id
       CROSS JOIN gateway_charges c ON c.customer_email = i.customer_id AND c.amount_minor = i.amount_minor
      WHERE s.round = ?1 AND c.currency = i.currency
        AND (abs(c.created_at - i.issued_at) <= ?4 OR abs(c.created_at - i.due_at) <= ?4)",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT a.id, ?2 FROM temp.scope_invoice s
       CROSS JOIN invoices i ON i.id = s.id CROSS JOIN adjustments a ON a.invoice_number = i.invoice_number
      WHERE s.round = ?1",
    // From the ledger entries.
    "INSERT OR IGNORE INTO temp.scope_invoice SELECT i.id, ?2 FROM temp.scope_ledger s
       CROSS JOIN ledger_entries l ON l.id = s.id CROSS JOIN invoices i ON i.invoice_number = l.invoice_number
      WHERE s.round = ?1",
    // Entries on one invoice number weigh each other even where no such invoice exists.
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT o.id, ?2 FROM temp.scope_ledger s
       CROSS JOIN ledger_entries l ON l.id = s.id CROSS JOIN ledger_entries o ON o.invoice_number = l.invoice_number
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, ?2 FROM temp.scope_ledger s
       CROSS JOIN ledger_entries l ON l.id = s.id
       CROSS JOIN gateway_charges c ON c.gateway = ?3 AND c.charge_id = l.gateway_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, ?2 FROM temp.scope_ledger s
       CROSS JOIN ledger_entries l ON l.id = s.id CROSS JOIN gateway_charges c ON c.payment_intent_id = l.gateway_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_refund SELECT r.id, ?2 FROM temp.scope_ledger s
       CROSS JOIN ledger_entries l ON l.id = s.id
       CROSS JOIN gateway_refunds r ON r.gateway = ?3 AND r.refund_id = l.gateway_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT a.id, ?2 FROM temp.scope_ledger s
       CROSS JOIN ledger_entries l ON l.id = s.id CROSS JOIN adjustments a ON a.payment_id = l.payment_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT a.id, ?2 FROM temp.scope_ledger s
       CROSS JOIN ledger_entries l ON l.id = s.id CROSS JOIN adjustments a ON a.invoice_number = l.invoice_number
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT a.id, ?2 FROM temp.scope_ledger s
       CROSS JOIN ledger_entries l ON l.id = s.id CROSS JOIN adjustments a ON a.gateway_id = l.gateway_id
      WHERE s.round = ?1",
    // From the charges.
    "INSERT OR IGNORE INTO temp.scope_invoice SELECT i.id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id CROSS JOIN invoices i ON i.invoice_number = trim(c.invoice_ref)
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_invoice SELECT i.id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id CROSS JOIN invoices i ON i.gateway_invoice_id = trim(c.gateway_invoice_id)
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT o.id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id CROSS JOIN gateway_charges o ON o.payment_intent_id = c.payment_intent_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT l.id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id CROSS JOIN ledger_entries l ON l.gateway_id = c.charge_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT l.id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id CROSS JOIN ledger_entries l ON l.gateway_id = c.payment_intent_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_refund SELECT r.id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id CROSS JOIN gateway_refunds r ON r.charge_id = c.charge_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_invoice SELECT i.id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id
       CROSS JOIN invoices i ON i.customer_id = c.customer_id AND i.amount_minor = c.amount_minor
      WHERE s.round = ?1 AND i.currency = c.currency
        AND (abs(c.created_at - i.issued_at) <= ?4 OR abs(c.created_at - i.due_at) <= ?4)",
    "INSERT OR IGNORE INTO temp.scope_invoice SELECT i.id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id
       CROSS JOIN invoices i ON i.customer_id = c.customer_email AND i.amount_minor = c.amount_minor
      WHERE s.round = ?1 AND i.currency = c.currency
        AND (abs(c.created_at - i.issued_at) <= ?4 OR abs(c.created_at - i.due_at) <= ?4)",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT a.id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id CROSS JOIN adjustments a ON a.gateway_id = c.charge_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT a.id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id CROSS JOIN adjustments a ON a.gateway_id = c.payment_intent_id
      WHERE s.round = ?1",
    // From the refunds.
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, ?2 FROM temp.scope_refund s
       CROSS JOIN gateway_refunds r ON r.id = s.id
       CROSS JOIN gateway_charges c ON c.gateway = r.gateway AND c.charge_id = r.charge_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT l.id, ?2 FROM temp.scope_refund s
       CROSS JOIN gateway_refunds r ON r.id = s.id CROSS JOIN ledger_entries l ON l.gateway_id = r.refund_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT a.id, ?2 FROM temp.scope_refund s
       CROSS JOIN gateway_refunds r ON r.id = s.id CROSS JOIN adjustments a ON a.gateway_id = r.refund_id
      WHERE s.round = ?1",
    // An open finding about a row in scope may be found gone: every row it is about is
    // looked at too, so that no finding is cleared on part of its evidence.
    "INSERT OR IGNORE INTO temp.scope_finding SELECT r.finding_id, ?2 FROM temp.scope_invoice s
       CROSS JOIN invoices i ON i.id = s.id
       CROSS JOIN temp.finding_rows r ON r.kind = 'invoice' AND r.key = i.invoice_number
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_finding SELECT r.finding_id, ?2 FROM temp.scope_charge s
       CROSS JOIN gateway_charges c ON c.id = s.id
       CROSS JOIN temp.finding_rows r ON r.kind = 'charge' AND r.key = c.charge_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_finding SELECT r.finding_id, ?2 FROM temp.scope_ledger s
       CROSS JOIN ledger_entries l ON l.id = s.id
       CROSS JOIN temp.finding_rows r ON r.kind = 'payment' AND r.key = l.payment_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_finding SELECT r.finding_id, ?2 FROM temp.scope_adjustment s
       CROSS JOIN adjustments a ON a.id = s.id
       CROSS JOIN temp.finding_rows r ON r.kind = 'payment' AND r.key = 'adj-' || a.idempotency_key
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_invoice SELECT i.id, ?2 FROM temp.scope_finding s
       CROSS JOIN temp.finding_rows r ON r.finding_id = s.id AND r.kind = 'invoice'
       CROSS JOIN invoices i ON i.invoice_number = r.key
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, ?2 FROM temp.scope_finding s
       CROSS JOIN temp.finding_rows r ON r.finding_id = s.id AND r.kind = 'charge'
       CROSS JOIN gateway_charges c ON c.gateway = ?3 AND c.charge_id = r.key
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT l.id, ?2 FROM temp.scope_finding s
       CROSS JOIN temp.finding_rows r ON r.finding_id = s.id AND r.kind = 'payment'
       CROSS JOIN ledger_entries l ON l.payment_id = r.key
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT a.id, ?2 FROM temp.scope_finding s
       CROSS JOIN temp.finding_rows r ON r.finding_id = s.id AND r.kind = 'payment'
       CROSS JOIN adjustments a ON a.idempotency_key = substr(r.key, 5)
      WHERE s.round = ?1 AND r.key LIKE 'adj-%'",
    // From the adjustments (Chargeguard's own ledger fixes).
    "INSERT OR IGNORE INTO temp.scope_invoice SELECT i.id, ?2 FROM temp.scope_adjustment s
       CROSS JOIN adjustments a ON a.id = s.id CROSS JOIN invoices i ON i.invoice_number = a.invoice_number
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT l.id, ?2 FROM temp.scope_adjustment s
       CROSS JOIN adjustments a ON a.id = s.id CROSS JOIN ledger_entries l ON l.invoice_number = a.invoice_number
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT l.id, ?2 FROM temp.scope_adjustment s
       CROSS JOIN adjustments a ON a.id = s.id CROSS JOIN ledger_entries l ON l.payment_id = a.payment_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT l.id, ?2 FROM temp.scope_adjustment s
       CROSS JOIN adjustments a ON a.id = s.id CROSS JOIN ledger_entries l ON l.gateway_id = a.gateway_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, ?2 FROM temp.scope_adjustment s
       CROSS JOIN adjustments a ON a.id = s.id
       CROSS JOIN gateway_charges c ON c.gateway = ?3 AND c.charge_id = a.gateway_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, ?2 FROM temp.scope_adjustment s
       CROSS JOIN adjustments a ON a.id = s.id CROSS JOIN gateway_charges c ON c.payment_intent_id = a.gateway_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_refund SELECT r.id, ?2 FROM temp.scope_adjustment s
       CROSS JOIN adjustments a ON a.id = s.id
       CROSS JOIN gateway_refunds r ON r.gateway = ?3 AND r.refund_id = a.gateway_id
      WHERE s.round = ?1",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT o.id, ?2 FROM temp.scope_adjustment s
       CROSS JOIN adjustments a ON a.id = s.id CROSS JOIN adjustments o ON o.invoice_number = a.invoice_number
      WHERE s.round = ?1",
];

/// Round 0: the rows the triggers noted, the rows the gateway ids an update moved away
/// from name, and the ledger payments (imported or Chargeguard's own) dated inside a new
/// coverage window. `?1` is the gateway.
const SEEDS: &[&str] = &[
    "INSERT OR IGNORE INTO temp.scope_invoice SELECT row_id, 0 FROM reconcile_pending WHERE tbl = 'invoice'",
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT row_id, 0 FROM reconcile_pending WHERE tbl = 'ledger'",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT row_id, 0 FROM reconcile_pending WHERE tbl = 'charge'",
    "INSERT OR IGNORE INTO temp.scope_refund SELECT row_id, 0 FROM reconcile_pending WHERE tbl = 'refund'",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT row_id, 0 FROM reconcile_pending WHERE tbl = 'adjustment'",
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT l.id, 0 FROM reconcile_pending p
       CROSS JOIN coverage w ON w.id = p.row_id AND w.object_kind = 'charge'
       CROSS JOIN ledger_entries l ON l.recorded_at BETWEEN w.covered_from AND w.covered_to
      WHERE p.tbl = 'coverage' AND l.gateway_id IS NOT NULL",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT a.id, 0 FROM reconcile_pending p
       CROSS JOIN coverage w ON w.id = p.row_id AND w.object_kind = 'charge'
       CROSS JOIN adjustments a ON a.effective_at BETWEEN w.covered_from AND w.covered_to
      WHERE p.tbl = 'coverage' AND a.gateway_id IS NOT NULL",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, 0 FROM reconcile_pending_ids p
       CROSS JOIN gateway_charges c ON c.gateway = ?1 AND c.charge_id = p.gateway_id",
    "INSERT OR IGNORE INTO temp.scope_charge SELECT c.id, 0 FROM reconcile_pending_ids p
       CROSS JOIN gateway_charges c ON c.payment_intent_id = p.gateway_id",
    "INSERT OR IGNORE INTO temp.scope_refund SELECT r.id, 0 FROM reconcile_pending_ids p
       CROSS JOIN gateway_refunds r ON r.gateway = ?1 AND r.refund_id = p.gateway_id",
    "INSERT OR IGNORE INTO temp.scope_ledger SELECT l.id, 0 FROM reconcile_pending_ids p
       CROSS JOIN ledger_entries l ON l.gateway_id = p.gateway_id",
    "INSERT OR IGNORE INTO temp.scope_adjustment SELECT a.id, 0 FROM reconcile_pending_ids p
       CROSS JOIN adjustments a ON a.gateway_id = p.gateway_id",
];

impl StoreTx<'_> {
    /// The rules version changes are being noted for, or `None` when they are not (no
    /// whole reconciliation has run since the store could note them).
    pub fn reconcile_tracking(&self) -> Result<Option<i64>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn()
            .query_row("SELECT rules FROM reconcile_tracking", [], |r| r.get(0))
            .optional()?)
    }

    /// After a whole reconciliation under `rules`: forget every note (that run saw every
    /// row) and note what is written from now on.
    pub fn track_changes_from_here(&self, rules: i64) -> Result<(), StoreError> {
        self.conn()
            .execute_batch("DELETE FROM reconcile_pending; DELETE FROM reconcile_pending_ids;")?;
        self.conn().execute(
            "INSERT INTO reconcile_tracking (one, rules) VALUES (1, ?1)
             ON CONFLICT (one) DO UPDATE SET rules = excluded.rules",
            [rules],
        )?;
        Ok(())
    }

    /// Walks from the rows noted since the last reconciliation to everything they reach
    /// (see the module documentation), consumes the notes, and leaves the result for the
    /// `*_in_scope` reads of this transaction.
    pub fn walk_changed_scope(
        &self,
        gateway: &str,
        windows: ScopeWindows,
    ) -> Result<ScopeSize, StoreError> {
        let conn = self.conn();
        for table in SCOPE_TABLES {
            conn.execute_batch(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, round INTEGER NOT NULL);
                 CREATE INDEX IF NOT EXISTS temp.{table}_round ON {table}(round);
                 DELETE FROM temp.{table};"
            ))?;
        }
        conn.execute_batch(FINDING_ROWS)?;
        // Each statement takes the leading parameters it names (`?1`…`?n`).
        let run = |sql: &str, values: &[rusqlite::types::Value]| -> Result<usize, StoreError> {
            let mut stmt = conn.prepare_cached(sql)?;
            let n = stmt.parameter_count();
            Ok(stmt.execute(rusqlite::params_from_iter(&values[..n]))?)
        };
        for sql in SEEDS {
            run(sql, &[gateway.to_string().into()])?;
        }
        let mut round: i64 = 1;
        loop {
            let mut added = 0;
            let values: [rusqlite::types::Value; 5] = [
                (round - 1).into(),
                round.into(),
                gateway.to_string().into(),
                windows.heuristic_window_seconds.into(),
                windows.duplicate_window_seconds.into(),
            ];
            for sql in ROUND {
                added += run(sql, &values)?;
            }
            if added == 0 {
                break;
            }
            round += 1;
        }
        conn.execute_batch("DELETE FROM reconcile_pending; DELETE FROM reconcile_pending_ids;")?;
        let count = |table: &str| -> Result<u64, StoreError> {
            let n: i64 =
                conn.query_row(&format!("SELECT count(*) FROM temp.{table}"), [], |r| {
                    r.get(0)
                })?;
            Ok(n as u64)
        };
        Ok(ScopeSize {
            invoices: count("scope_invoice")?,
            ledger_entries: count("scope_ledger")?,
            charges: count("scope_charge")?,
            refunds: count("scope_refund")?,
            adjustments: count("scope_adjustment")?,
        })
    }

    /// The open findings about a row of the walked scope, every row of each in the scope
    /// too: those a reconciliation of the scope may find gone. Ids ascending.
    pub fn open_findings_in_scope(&self) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT id FROM temp.scope_finding ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The ledger payments waiting for a sync, as the runs so far left them.
    pub fn unsynced_payment_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM unsynced_payments", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Replaces the unsynced payments a run looked at with what it found: all of them
    /// (`whole`), or those of the walked scope.
    pub fn replace_unsynced_payments(
        &self,
        whole: bool,
        unsynced: &[String],
    ) -> Result<(), StoreError> {
        if whole {
            self.conn().execute("DELETE FROM unsynced_payments", [])?;
        } else {
            self.conn().execute(
                "DELETE FROM unsynced_payments
                  WHERE payment_id IN (SELECT payment_id FROM ledger_entries
                                        WHERE id IN (SELECT id FROM temp.scope_ledger))
                     OR payment_id IN (SELECT 'adj-' || idempotency_key FROM adjustments
                                        WHERE id IN (SELECT id FROM temp.scope_adjustment))",
                [],
            )?;
        }
        let mut insert = self
            .conn()
            .prepare_cached("INSERT OR IGNORE INTO unsynced_payments (payment_id) VALUES (?1)")?;
        for id in unsynced {
            insert.execute([id])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// The walk runs once a day over a million rows: every step reaches the books' tables
    /// through an index, never by reading a whole table (the notes, the walk's own tables
    /// may be read whole).
    #[test]
    fn every_step_of_the_walk_reads_the_books_through_an_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrations()
            .to_latest(&mut conn)
            .unwrap();
        for table in SCOPE_TABLES {
            conn.execute_batch(&format!(
                "CREATE TEMP TABLE {table} (id INTEGER PRIMARY KEY, round INTEGER NOT NULL);
                 CREATE INDEX temp.{table}_round ON {table}(round);"
            ))
            .unwrap();
        }
        conn.execute_batch(FINDING_ROWS).unwrap();
        let big = [
            "invoices",
            "gateway_charges",
            "ledger_entries",
            "gateway_refunds",
            "adjustments",
        ];
        for sql in SEEDS.iter().chain(ROUND) {
            let words: Vec<&str> = sql.split_whitespace().collect();
            let aliases: Vec<&str> = words
                .windows(2)
                .filter(|w| big.contains(&w[0]))
                .map(|w| w[1])
                .collect();
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let params = vec![0; stmt.parameter_count()];
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for line in &plan {
                for alias in &aliases {
                    assert!(
                        !line.starts_with(&format!("SCAN {alias}")),
                        "{line} in the plan of\n{sql}\n{plan:#?}"
                    );
                }
            }
        }
    }
}
