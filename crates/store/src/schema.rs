//! The store's schema, as an append-only list of migrations.
//!
//! Never edit a migration that has shipped: add a new one. The position in this list is
//! the schema version kept in SQLite's `user_version`; a file whose version is beyond the
//! list was written by a newer Chargeguard and is refused at open, never touched.
//!
//! Every table is `STRICT`; natural keys are `UNIQUE`, so a duplicate invoice number,
//! payment id or gateway object id cannot exist whatever code tries to insert it.
//! Instants are Unix seconds (UTC); money is integer minor units beside a lower-case
//! ISO 4217 code.

use rusqlite_migration::{M, Migrations};

const V1_CORE: &str = r#"
CREATE TABLE sources (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('invoices', 'payments', 'stripe_export', 'stripe_sync')),
    origin          TEXT NOT NULL,
    content_sha256  TEXT,
    imported_at     INTEGER NOT NULL,
    rows_new        INTEGER NOT NULL DEFAULT 0,
    rows_changed    INTEGER NOT NULL DEFAULT 0,
    rows_unchanged  INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE coverage (
    id            INTEGER PRIMARY KEY,
    source_id     INTEGER NOT NULL REFERENCES sources(id),
    gateway       TEXT NOT NULL,
    object_kind   TEXT NOT NULL CHECK (object_kind IN ('charge', 'refund', 'payment_intent')),
    covered_from  INTEGER NOT NULL,
    covered_to    INTEGER NOT NULL,
    CHECK (covered_from <= covered_to)
) STRICT;

-- The names of the extra columns (those no layout reads) of a file, sorted, as a JSON
-- array: stored once per distinct header, not on every row. A row keeps the set's id and
-- its values as a JSON array in the set's order (store/extra.rs).
CREATE TABLE column_sets (
    id     INTEGER PRIMARY KEY,
    names  TEXT NOT NULL UNIQUE CHECK (json_valid(names) AND json_type(names) = 'array')
) STRICT;

CREATE TABLE invoices (
    id              INTEGER PRIMARY KEY,
    invoice_number  TEXT NOT NULL UNIQUE CHECK (invoice_number <> ''),
    customer_id     TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency        TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    issued_at       INTEGER NOT NULL,
    due_at          INTEGER,
    status          TEXT NOT NULL CHECK (status IN ('open', 'paid', 'void')),
    order_ref       TEXT,
    extra_columns   INTEGER REFERENCES column_sets(id),
    extra           TEXT NOT NULL DEFAULT '[]',
    source_id       INTEGER NOT NULL REFERENCES sources(id),
    source_line     INTEGER
) STRICT;
CREATE INDEX invoices_order_ref ON invoices(order_ref) WHERE order_ref IS NOT NULL;

CREATE TABLE ledger_entries (
    id              INTEGER PRIMARY KEY,
    payment_id      TEXT NOT NULL UNIQUE CHECK (payment_id <> ''),
    invoice_number  TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('payment', 'refund')),
    amount_minor    INTEGER NOT NULL CHECK (amount_minor > 0),
    currency        TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    recorded_at     INTEGER NOT NULL,
    gateway_id      TEXT CHECK (gateway_id IS NULL OR gateway_id <> ''),
    extra_columns   INTEGER REFERENCES column_sets(id),
    extra           TEXT NOT NULL DEFAULT '[]',
    source_id       INTEGER NOT NULL REFERENCES sources(id),
    source_line     INTEGER
) STRICT;
CREATE INDEX ledger_entries_invoice ON ledger_entries(invoice_number);
CREATE INDEX ledger_entries_gateway ON ledger_entries(gateway_id) WHERE gateway_id IS NOT NULL;

CREATE TABLE gateway_charges (
    id                     INTEGER PRIMARY KEY,
    gateway                TEXT NOT NULL,
    charge_id              TEXT NOT NULL CHECK (charge_id <> ''),
    amount_minor           INTEGER NOT NULL CHECK (amount_minor >= 0),
    amount_refunded_minor  INTEGER NOT NULL CHECK (amount_refunded_minor BETWEEN 0 AND amount_minor),
    currency               TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    status                 TEXT NOT NULL CHECK (status IN ('succeeded', 'pending', 'failed')),
    captured               INTEGER NOT NULL CHECK (captured IN (0, 1)),
    created_at             INTEGER NOT NULL,
    customer_id            TEXT,
    customer_email         TEXT,
    payment_intent_id      TEXT,
    invoice_ref            TEXT,
    description            TEXT,
    fee_minor              INTEGER,
    metadata               TEXT NOT NULL DEFAULT '{}',
    extra_columns          INTEGER REFERENCES column_sets(id),
    extra                  TEXT NOT NULL DEFAULT '[]',
    source_id              INTEGER NOT NULL REFERENCES sources(id),
    source_line            INTEGER,
    UNIQUE (gateway, charge_id)
) STRICT;
CREATE INDEX gateway_charges_invoice_ref ON gateway_charges(invoice_ref) WHERE invoice_ref IS NOT NULL;
CREATE INDEX gateway_charges_payment_intent ON gateway_charges(payment_intent_id) WHERE payment_intent_id IS NOT NULL;

CREATE TABLE gateway_refunds (
    id            INTEGER PRIMARY KEY,
    gateway       TEXT NOT NULL,
    refund_id     TEXT NOT NULL CHECK (refund_id <> ''),
    charge_id     TEXT NOT NULL,
    amount_minor  INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency      TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    status        TEXT NOT NULL CHECK (status IN ('succeeded', 'pending', 'requires_action', 'failed', 'canceled')),
    created_at    INTEGER NOT NULL,
    metadata      TEXT NOT NULL DEFAULT '{}',
    extra_columns INTEGER REFERENCES column_sets(id),
    extra         TEXT NOT NULL DEFAULT '[]',
    source_id     INTEGER NOT NULL REFERENCES sources(id),
    source_line   INTEGER,
    UNIQUE (gateway, refund_id)
) STRICT;
CREATE INDEX gateway_refunds_charge ON gateway_refunds(charge_id);

-- What changed when a row was imported again with other values (an invoice going from
-- open to paid): the bookkeeper can see what the source said before.
CREATE TABLE row_changes (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES sources(id),
    entity      TEXT NOT NULL,
    entity_key  TEXT NOT NULL,
    field       TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT
) STRICT;

CREATE TABLE findings (
    id              INTEGER PRIMARY KEY,
    fingerprint     TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('double_charge', 'orphan_charge', 'missing_charge',
                                                  'amount_mismatch', 'unrecorded_refund', 'duplicate_invoice')),
    status          TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    -- cleared: gone from the data; fixed: an action fixed it; dismissed: a person judged it fine.
    resolution      TEXT CHECK (resolution IN ('cleared', 'fixed', 'dismissed')),
    confidence      TEXT NOT NULL CHECK (confidence IN ('exact', 'heuristic')),
    invoice_number  TEXT,
    charge_ids      TEXT NOT NULL,
    payment_ids     TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency        TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    reason          TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    first_seen_at   INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    resolved_at     INTEGER,
    CHECK ((status = 'open') = (resolution IS NULL))
) STRICT;
CREATE INDEX findings_status_kind ON findings(status, kind);

CREATE TABLE reconcile_runs (
    id                 INTEGER PRIMARY KEY,
    ran_at             INTEGER NOT NULL,
    findings_new       INTEGER NOT NULL,
    findings_open      INTEGER NOT NULL,
    findings_resolved  INTEGER NOT NULL,
    findings_reopened  INTEGER NOT NULL,
    not_yet_synced     INTEGER NOT NULL
) STRICT;

CREATE TABLE column_mappings (
    name        TEXT PRIMARY KEY CHECK (name <> ''),
    layout      TEXT NOT NULL CHECK (layout IN ('invoices', 'payments')),
    definition  TEXT NOT NULL
) STRICT;

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;
"#;

/// Guarded actions (DESIGN.md "Guarded actions and the intent journal"), the people who
/// approve them and the audit log.
const V2_ACTIONS: &str = r#"
CREATE TABLE users (
    name             TEXT PRIMARY KEY CHECK (name <> ''),
    role             TEXT NOT NULL CHECK (role IN ('approver', 'bookkeeper')),
    passphrase_hash  TEXT NOT NULL,
    created_at       INTEGER NOT NULL
) STRICT;

-- The intent journal. The idempotency key is derived from what the action is about and
-- never changes; the request body is written before the request leaves.
CREATE TABLE actions (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('refund', 'recharge', 'ledger_fix')),
    state              TEXT NOT NULL CHECK (state IN ('proposed', 'approved', 'executing', 'succeeded',
                                                       'failed', 'unknown', 'needs_review', 'cancelled')),
    finding_id         INTEGER REFERENCES findings(id),
    finding_snapshot   TEXT,
    invoice_number     TEXT,
    charge_id          TEXT,
    amount_minor       INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency           TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    idempotency_key    TEXT NOT NULL UNIQUE,
    attempt            INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    plan               TEXT NOT NULL,
    request_method     TEXT,
    request_path       TEXT,
    request_body       TEXT,
    first_sent_at      INTEGER,
    -- The process that moved it to `executing`: when it is gone, recovery takes over.
    executor_pid       INTEGER,
    gateway_object_id  TEXT,
    outcome            TEXT,
    proposed_by        TEXT NOT NULL,
    proposed_at        INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    CHECK (state NOT IN ('executing', 'succeeded', 'unknown') OR kind = 'ledger_fix' OR request_body IS NOT NULL)
) STRICT;
-- One live action per invoice and per charge, whatever process tries.
CREATE UNIQUE INDEX actions_one_open_per_invoice ON actions(invoice_number)
    WHERE invoice_number IS NOT NULL
      AND state IN ('proposed', 'approved', 'executing', 'unknown', 'needs_review');
CREATE UNIQUE INDEX actions_one_open_per_charge ON actions(charge_id)
    WHERE charge_id IS NOT NULL
      AND state IN ('proposed', 'approved', 'executing', 'unknown', 'needs_review');

CREATE TABLE approvals (
    action_id    INTEGER NOT NULL REFERENCES actions(id),
    approver     TEXT NOT NULL REFERENCES users(name),
    approved_at  INTEGER NOT NULL,
    PRIMARY KEY (action_id, approver)
) STRICT;

-- Ledger fixes the store keeps as adjustments, each with the key of its action, exported
-- for the invoicing app to import back.
CREATE TABLE adjustments (
    id               INTEGER PRIMARY KEY,
    action_id        INTEGER NOT NULL UNIQUE REFERENCES actions(id),
    idempotency_key  TEXT NOT NULL UNIQUE,
    invoice_number   TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('record_payment', 'reverse_payment', 'correct_amount', 'record_refund', 'void_invoice')),
    payment_id       TEXT,
    gateway_id       TEXT,
    amount_minor     INTEGER NOT NULL,
    currency         TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    effective_at     INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    event      TEXT NOT NULL,
    subject    TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE
) STRICT;
-- The log's head, moved in the same transaction as each append: cutting entries off the
-- end no longer matches it.
CREATE TABLE audit_head (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
) STRICT;
"#;

/// One action may leave several adjustments: a duplicate invoice's refund records the
/// refund on the ledger AND voids the invoice, each under its own key (`KEY/refund`,
/// `KEY/void`). V2 made `action_id` unique, so that settle failed after the gateway had
/// refunded, leaving the action undecidable. The key stays unique; the action id does not.
const V3_ADJUSTMENTS_PER_ACTION: &str = r#"
CREATE TABLE adjustments_v3 (
    id               INTEGER PRIMARY KEY,
    action_id        INTEGER NOT NULL REFERENCES actions(id),
    idempotency_key  TEXT NOT NULL UNIQUE,
    invoice_number   TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('record_payment', 'reverse_payment', 'correct_amount', 'record_refund', 'void_invoice')),
    payment_id       TEXT,
    gateway_id       TEXT,
    amount_minor     INTEGER NOT NULL,
    currency         TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    effective_at     INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
) STRICT;
INSERT INTO adjustments_v3 SELECT id, action_id, idempotency_key, invoice_number, kind, payment_id,
    gateway_id, amount_minor, currency, effective_at, created_at FROM adjustments;
DROP TABLE adjustments;
ALTER TABLE adjustments_v3 RENAME TO adjustments;
CREATE INDEX adjustments_action ON adjustments(action_id);
"#;

/// Month-end: the periods a named person closed (and reopened, with a reason). A closed
/// period refuses new ledger fixes and actions dated inside it; its bounds are kept as
/// instants, computed once in the business's time zone when it was closed.
const V4_PERIODS: &str = r#"
CREATE TABLE period_closes (
    id             INTEGER PRIMARY KEY,
    period         TEXT NOT NULL CHECK (period GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]'),
    time_zone      TEXT NOT NULL CHECK (time_zone <> ''),
    starts_at      INTEGER NOT NULL,
    ends_at        INTEGER NOT NULL,
    closed_at      INTEGER NOT NULL,
    closed_by      TEXT NOT NULL REFERENCES users(name),
    reopened_at    INTEGER,
    reopened_by    TEXT REFERENCES users(name),
    reopen_reason  TEXT,
    CHECK (starts_at < ends_at),
    CHECK ((reopened_at IS NULL) = (reopened_by IS NULL)),
    CHECK ((reopened_at IS NULL) = (reopen_reason IS NULL))
) STRICT;
-- A period is closed at most once at a time; reopening keeps the row as history.
CREATE UNIQUE INDEX period_closes_one_live ON period_closes(period) WHERE reopened_at IS NULL;
CREATE INDEX period_closes_bounds ON period_closes(starts_at, ends_at) WHERE reopened_at IS NULL;
"#;

/// Importing a million-row Stripe export spent most of its time inserting into these two
/// indexes, keyed on values in random order, and no statement reads through them: the
/// charges are only ever looked up by (gateway, charge_id) or read whole. Add an index back
/// with the query that needs it.
const V5_UNUSED_CHARGE_INDEXES: &str = r#"
DROP INDEX gateway_charges_invoice_ref;
DROP INDEX gateway_charges_payment_intent;
"#;

/// Real exports: an invoice may live at the gateway (Stripe Billing's `in_…`, which its
/// charges name), and an invoicing app's export may state what was paid on an invoice, the
/// only ledger a business without a payments export has.
const V6_GATEWAY_INVOICES_AND_STATED_PAYMENTS: &str = r#"
ALTER TABLE invoices ADD COLUMN gateway_invoice_id TEXT CHECK (gateway_invoice_id <> '');
ALTER TABLE invoices ADD COLUMN stated_paid_minor INTEGER CHECK (stated_paid_minor >= 0);
ALTER TABLE invoices ADD COLUMN paid_at INTEGER;
ALTER TABLE gateway_charges ADD COLUMN gateway_invoice_id TEXT CHECK (gateway_invoice_id <> '');
"#;

/// Reads of one invoice's part of the books (proposing, the guards, settling, a finding's
/// detail) and of recent days (the Today screen's chart) find their rows by index instead
/// of scanning every charge: the charges naming an invoice or a payment intent, and rows
/// by the instant they were made.
const V7_TARGETED_READS: &str = r#"
CREATE INDEX gateway_charges_invoice_ref ON gateway_charges(invoice_ref) WHERE invoice_ref IS NOT NULL;
CREATE INDEX gateway_charges_payment_intent ON gateway_charges(payment_intent_id) WHERE payment_intent_id IS NOT NULL;
CREATE INDEX gateway_charges_created ON gateway_charges(created_at);
CREATE INDEX gateway_charges_failed ON gateway_charges(invoice_ref) WHERE status = 'failed' AND invoice_ref IS NOT NULL;
CREATE INDEX gateway_refunds_created ON gateway_refunds(created_at);
CREATE INDEX ledger_entries_recorded ON ledger_entries(recorded_at);

-- The currencies the books use (Settings lists a threshold for each), kept as rows arrive
-- instead of found by reading every row.
CREATE TABLE currencies_in_use (code TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT OR IGNORE INTO currencies_in_use
    SELECT upper(currency) FROM gateway_charges
    UNION SELECT upper(currency) FROM invoices
    UNION SELECT upper(currency) FROM ledger_entries;
CREATE TRIGGER currencies_of_charges AFTER INSERT ON gateway_charges
    BEGIN INSERT OR IGNORE INTO currencies_in_use VALUES (upper(NEW.currency)); END;
CREATE TRIGGER currencies_of_changed_charges AFTER UPDATE OF currency ON gateway_charges
    BEGIN INSERT OR IGNORE INTO currencies_in_use VALUES (upper(NEW.currency)); END;
CREATE TRIGGER currencies_of_invoices AFTER INSERT ON invoices
    BEGIN INSERT OR IGNORE INTO currencies_in_use VALUES (upper(NEW.currency)); END;
CREATE TRIGGER currencies_of_changed_invoices AFTER UPDATE OF currency ON invoices
    BEGIN INSERT OR IGNORE INTO currencies_in_use VALUES (upper(NEW.currency)); END;
CREATE TRIGGER currencies_of_ledger AFTER INSERT ON ledger_entries
    BEGIN INSERT OR IGNORE INTO currencies_in_use VALUES (upper(NEW.currency)); END;
CREATE TRIGGER currencies_of_changed_ledger AFTER UPDATE OF currency ON ledger_entries
    BEGIN INSERT OR IGNORE INTO currencies_in_use VALUES (upper(NEW.currency)); END;
"#;

/// Reconciling what changed (issue 17): every row written after a reconciliation is noted
/// by a trigger in `reconcile_pending`, and the next run reconciles only the part of the
/// books those rows reach (store/scope.rs). Noting starts once a whole reconciliation has
/// run under these rules (`reconcile_tracking` has its row): a store migrated from V7 has
/// rows no trigger saw, so its first run is whole. When an update moves a row's keys (its
/// customer, invoice reference, payment intent, invoice number…), the rows its old keys
/// reached are noted too: a charge moved off an invoice leaves that invoice to be looked
/// at again. The indexes are the ones the scope's walk reads through.
const V8_RECONCILE_WHAT_CHANGED: &str = r#"
CREATE TABLE reconcile_tracking (
    one    INTEGER PRIMARY KEY CHECK (one = 1),
    rules  INTEGER NOT NULL
) STRICT;
CREATE TABLE reconcile_pending (
    tbl     TEXT NOT NULL CHECK (tbl IN ('invoice', 'ledger', 'charge', 'refund', 'adjustment', 'coverage')),
    row_id  INTEGER NOT NULL,
    PRIMARY KEY (tbl, row_id)
) STRICT, WITHOUT ROWID;
-- Gateway ids (a charge, payment intent or refund) an update moved a row away from: what
-- they name is looked at again.
CREATE TABLE reconcile_pending_ids (gateway_id TEXT PRIMARY KEY) STRICT, WITHOUT ROWID;
-- The ledger payments whose charge is not synced yet, as the last runs left them: a run
-- that looks at part of the books still reports the whole count.
CREATE TABLE unsynced_payments (payment_id TEXT PRIMARY KEY) STRICT, WITHOUT ROWID;

CREATE INDEX invoices_customer ON invoices(customer_id, amount_minor);
CREATE INDEX invoices_gateway_invoice ON invoices(gateway_invoice_id) WHERE gateway_invoice_id IS NOT NULL;
CREATE INDEX gateway_charges_customer ON gateway_charges(customer_id, amount_minor) WHERE customer_id IS NOT NULL;
CREATE INDEX gateway_charges_email ON gateway_charges(customer_email, amount_minor) WHERE customer_email IS NOT NULL;
CREATE INDEX gateway_charges_gateway_invoice ON gateway_charges(gateway_invoice_id) WHERE gateway_invoice_id IS NOT NULL;
CREATE INDEX adjustments_invoice ON adjustments(invoice_number);
CREATE INDEX adjustments_payment ON adjustments(payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX adjustments_gateway ON adjustments(gateway_id) WHERE gateway_id IS NOT NULL;

CREATE TRIGGER pending_new_invoice AFTER INSERT ON invoices
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
    BEGIN INSERT OR IGNORE INTO reconcile_pending VALUES ('invoice', NEW.id); END;
CREATE TRIGGER pending_changed_invoice AFTER UPDATE ON invoices
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
    BEGIN INSERT OR IGNORE INTO reconcile_pending VALUES ('invoice', NEW.id); END;
CREATE TRIGGER pending_moved_invoice AFTER UPDATE ON invoices
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
     AND (OLD.customer_id IS NOT NEW.customer_id OR OLD.currency IS NOT NEW.currency
          OR OLD.amount_minor IS NOT NEW.amount_minor OR OLD.issued_at IS NOT NEW.issued_at
          OR OLD.due_at IS NOT NEW.due_at OR OLD.order_ref IS NOT NEW.order_ref
          OR OLD.gateway_invoice_id IS NOT NEW.gateway_invoice_id)
    BEGIN
        INSERT OR IGNORE INTO reconcile_pending SELECT 'invoice', id FROM invoices
            WHERE customer_id = OLD.customer_id OR order_ref = OLD.order_ref
               OR gateway_invoice_id = OLD.gateway_invoice_id;
        INSERT OR IGNORE INTO reconcile_pending SELECT 'charge', id FROM gateway_charges
            WHERE customer_id = OLD.customer_id OR customer_email = OLD.customer_id
               OR gateway_invoice_id = OLD.gateway_invoice_id;
    END;

CREATE TRIGGER pending_new_ledger AFTER INSERT ON ledger_entries
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
    BEGIN INSERT OR IGNORE INTO reconcile_pending VALUES ('ledger', NEW.id); END;
CREATE TRIGGER pending_changed_ledger AFTER UPDATE ON ledger_entries
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
    BEGIN INSERT OR IGNORE INTO reconcile_pending VALUES ('ledger', NEW.id); END;
CREATE TRIGGER pending_moved_ledger AFTER UPDATE ON ledger_entries
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
     AND (OLD.invoice_number IS NOT NEW.invoice_number OR OLD.gateway_id IS NOT NEW.gateway_id)
    BEGIN
        INSERT OR IGNORE INTO reconcile_pending SELECT 'invoice', id FROM invoices
            WHERE invoice_number = OLD.invoice_number;
        INSERT OR IGNORE INTO reconcile_pending_ids SELECT OLD.gateway_id WHERE OLD.gateway_id IS NOT NULL;
    END;

CREATE TRIGGER pending_new_charge AFTER INSERT ON gateway_charges
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
    BEGIN INSERT OR IGNORE INTO reconcile_pending VALUES ('charge', NEW.id); END;
CREATE TRIGGER pending_changed_charge AFTER UPDATE ON gateway_charges
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
    BEGIN INSERT OR IGNORE INTO reconcile_pending VALUES ('charge', NEW.id); END;
CREATE TRIGGER pending_moved_charge AFTER UPDATE ON gateway_charges
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
     AND (OLD.customer_id IS NOT NEW.customer_id OR OLD.customer_email IS NOT NEW.customer_email
          OR OLD.currency IS NOT NEW.currency OR OLD.amount_minor IS NOT NEW.amount_minor
          OR OLD.created_at IS NOT NEW.created_at OR OLD.payment_intent_id IS NOT NEW.payment_intent_id
          OR OLD.invoice_ref IS NOT NEW.invoice_ref OR OLD.gateway_invoice_id IS NOT NEW.gateway_invoice_id)
    BEGIN
        INSERT OR IGNORE INTO reconcile_pending SELECT 'invoice', id FROM invoices
            WHERE invoice_number = trim(OLD.invoice_ref) OR gateway_invoice_id = trim(OLD.gateway_invoice_id)
               OR customer_id = OLD.customer_id OR customer_id = OLD.customer_email;
        INSERT OR IGNORE INTO reconcile_pending_ids
            SELECT OLD.payment_intent_id WHERE OLD.payment_intent_id IS NOT NULL;
    END;

CREATE TRIGGER pending_new_refund AFTER INSERT ON gateway_refunds
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
    BEGIN INSERT OR IGNORE INTO reconcile_pending VALUES ('refund', NEW.id); END;
CREATE TRIGGER pending_changed_refund AFTER UPDATE ON gateway_refunds
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
    BEGIN
        INSERT OR IGNORE INTO reconcile_pending VALUES ('refund', NEW.id);
        INSERT OR IGNORE INTO reconcile_pending_ids SELECT OLD.charge_id WHERE OLD.charge_id IS NOT NEW.charge_id;
    END;

CREATE TRIGGER pending_new_adjustment AFTER INSERT ON adjustments
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
    BEGIN INSERT OR IGNORE INTO reconcile_pending VALUES ('adjustment', NEW.id); END;
CREATE TRIGGER pending_new_coverage AFTER INSERT ON coverage
    WHEN EXISTS (SELECT 1 FROM reconcile_tracking)
    BEGIN INSERT OR IGNORE INTO reconcile_pending VALUES ('coverage', NEW.id); END;
"#;

/// The Today screen's chart, kept as rows arrive: per quarter hour (UTC) and currency, the
/// gateway's money (a captured charge's amount less what was refunded of it without a
/// refund object, a refund object's amount taken away) and the ledger's (payments less
/// refunds), as `export::daily` counts them, with how many charges and ledger entries
/// (`anchors`) and refunds put money there. Every time zone's days start on a quarter
/// hour, so the chart reads its days' quarters instead of every row of those days.
const V9_MONEY_BY_QUARTER_HOUR: &str = r#"
CREATE TABLE money_by_quarter_hour (
    quarter        INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    gateway_minor  INTEGER NOT NULL,
    ledger_minor   INTEGER NOT NULL,
    anchors        INTEGER NOT NULL,
    refunds        INTEGER NOT NULL,
    PRIMARY KEY (quarter, currency)
) STRICT, WITHOUT ROWID;

INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
SELECT q, currency, sum(g), sum(l), sum(a), sum(r) FROM (
    SELECT (c.created_at / 900 - (c.created_at % 900 < 0)) AS q, c.currency,
           c.amount_minor - max(0, c.amount_refunded_minor - coalesce(k.known, 0)) AS g, 0 AS l, 1 AS a, 0 AS r
      FROM gateway_charges c
      LEFT JOIN (SELECT charge_id, sum(amount_minor) AS known FROM gateway_refunds
                  WHERE status NOT IN ('failed', 'canceled') GROUP BY charge_id) k ON k.charge_id = c.charge_id
     WHERE c.status = 'succeeded' AND c.captured = 1
    UNION ALL
    SELECT (created_at / 900 - (created_at % 900 < 0)), currency, -amount_minor, 0, 0, 1 FROM gateway_refunds
     WHERE status NOT IN ('failed', 'canceled')
    UNION ALL
    SELECT (recorded_at / 900 - (recorded_at % 900 < 0)), currency, 0, CASE kind WHEN 'payment' THEN amount_minor ELSE -amount_minor END, 1, 0
      FROM ledger_entries
) GROUP BY q, currency;

CREATE TRIGGER money_of_new_charge AFTER INSERT ON gateway_charges BEGIN
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            SELECT (NEW.created_at / 900 - (NEW.created_at % 900 < 0)), NEW.currency, (NEW.amount_minor - max(0, NEW.amount_refunded_minor - coalesce((SELECT sum(f.amount_minor) FROM gateway_refunds f WHERE f.charge_id = NEW.charge_id AND f.status NOT IN ('failed', 'canceled')), 0))), 0, 1, 0
            WHERE NEW.status = 'succeeded' AND NEW.captured = 1
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER money_of_changed_charge
    AFTER UPDATE OF amount_minor, amount_refunded_minor, currency, status, captured, created_at ON gateway_charges
BEGIN
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            SELECT (OLD.created_at / 900 - (OLD.created_at % 900 < 0)), OLD.currency, -(OLD.amount_minor - max(0, OLD.amount_refunded_minor - coalesce((SELECT sum(f.amount_minor) FROM gateway_refunds f WHERE f.charge_id = OLD.charge_id AND f.status NOT IN ('failed', 'canceled')), 0))), 0, -1, 0
            WHERE OLD.status = 'succeeded' AND OLD.captured = 1
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            SELECT (NEW.created_at / 900 - (NEW.created_at % 900 < 0)), NEW.currency, (NEW.amount_minor - max(0, NEW.amount_refunded_minor - coalesce((SELECT sum(f.amount_minor) FROM gateway_refunds f WHERE f.charge_id = NEW.charge_id AND f.status NOT IN ('failed', 'canceled')), 0))), 0, 1, 0
            WHERE NEW.status = 'succeeded' AND NEW.captured = 1
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER money_of_new_ledger_entry AFTER INSERT ON ledger_entries BEGIN
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            VALUES ((NEW.recorded_at / 900 - (NEW.recorded_at % 900 < 0)), NEW.currency, 0,
                    (CASE NEW.kind WHEN 'payment' THEN NEW.amount_minor ELSE -NEW.amount_minor END), 1, 0)
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER money_of_changed_ledger_entry
    AFTER UPDATE OF kind, amount_minor, currency, recorded_at ON ledger_entries
BEGIN
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            VALUES ((OLD.recorded_at / 900 - (OLD.recorded_at % 900 < 0)), OLD.currency, 0,
                    -(CASE OLD.kind WHEN 'payment' THEN OLD.amount_minor ELSE -OLD.amount_minor END), -1, 0)
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            VALUES ((NEW.recorded_at / 900 - (NEW.recorded_at % 900 < 0)), NEW.currency, 0,
                    (CASE NEW.kind WHEN 'payment' THEN NEW.amount_minor ELSE -NEW.amount_minor END), 1, 0)
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER money_of_new_refund AFTER INSERT ON gateway_refunds BEGIN
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            SELECT (NEW.created_at / 900 - (NEW.created_at % 900 < 0)), NEW.currency, (-NEW.amount_minor), 0, 0, 1
            WHERE NEW.status NOT IN ('failed', 'canceled')
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            SELECT (c.created_at / 900 - (c.created_at % 900 < 0)), c.currency,
                   max(0, c.amount_refunded_minor - (coalesce((SELECT sum(f.amount_minor) FROM gateway_refunds f WHERE f.charge_id = c.charge_id AND f.status NOT IN ('failed', 'canceled')), 0) - (CASE WHEN NEW.status NOT IN ('failed', 'canceled') THEN NEW.amount_minor ELSE 0 END) + 0))
                   - max(0, c.amount_refunded_minor - coalesce((SELECT sum(f.amount_minor) FROM gateway_refunds f WHERE f.charge_id = c.charge_id AND f.status NOT IN ('failed', 'canceled')), 0)), 0, 0, 0
              FROM gateway_charges c
             WHERE c.gateway = NEW.gateway AND c.charge_id IN (NEW.charge_id)
               AND c.status = 'succeeded' AND c.captured = 1
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER money_of_changed_refund
    AFTER UPDATE OF amount_minor, currency, status, created_at, charge_id ON gateway_refunds
BEGIN
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            SELECT (OLD.created_at / 900 - (OLD.created_at % 900 < 0)), OLD.currency, -(-OLD.amount_minor), 0, 0, -1
            WHERE OLD.status NOT IN ('failed', 'canceled')
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            SELECT (NEW.created_at / 900 - (NEW.created_at % 900 < 0)), NEW.currency, (-NEW.amount_minor), 0, 0, 1
            WHERE NEW.status NOT IN ('failed', 'canceled')
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            SELECT (c.created_at / 900 - (c.created_at % 900 < 0)), c.currency,
                   max(0, c.amount_refunded_minor - (coalesce((SELECT sum(f.amount_minor) FROM gateway_refunds f WHERE f.charge_id = c.charge_id AND f.status NOT IN ('failed', 'canceled')), 0) - (CASE WHEN c.charge_id = NEW.charge_id THEN (CASE WHEN NEW.status NOT IN ('failed', 'canceled') THEN NEW.amount_minor ELSE 0 END) ELSE 0 END) + (CASE WHEN c.charge_id = OLD.charge_id THEN (CASE WHEN OLD.status NOT IN ('failed', 'canceled') THEN OLD.amount_minor ELSE 0 END) ELSE 0 END)))
                   - max(0, c.amount_refunded_minor - coalesce((SELECT sum(f.amount_minor) FROM gateway_refunds f WHERE f.charge_id = c.charge_id AND f.status NOT IN ('failed', 'canceled')), 0)), 0, 0, 0
              FROM gateway_charges c
             WHERE c.gateway = NEW.gateway AND c.charge_id IN (OLD.charge_id, NEW.charge_id)
               AND c.status = 'succeeded' AND c.captured = 1
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
END;
"#;

/// The gateway's payouts to the bank and the balance transactions each paid out (a sync
/// lists them per automatic payout), keyed by Stripe's ids like charges and refunds; and
/// which payouts' transactions were listed to the end once the payout could change no more.
const V11_PAYOUTS: &str = r#"
CREATE TABLE gateway_payouts (
    id            INTEGER PRIMARY KEY,
    gateway       TEXT NOT NULL,
    payout_id     TEXT NOT NULL CHECK (payout_id <> ''),
    amount_minor  INTEGER NOT NULL,
    currency      TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    status        TEXT NOT NULL CHECK (status IN ('paid', 'pending', 'in_transit', 'canceled', 'failed')),
    automatic     INTEGER NOT NULL CHECK (automatic IN (0, 1)),
    created_at    INTEGER NOT NULL,
    arrival_date  INTEGER NOT NULL,
    failure_code  TEXT,
    extra_columns INTEGER REFERENCES column_sets(id),
    extra         TEXT NOT NULL DEFAULT '[]',
    source_id     INTEGER NOT NULL REFERENCES sources(id),
    source_line   INTEGER,
    UNIQUE (gateway, payout_id)
) STRICT;
CREATE INDEX gateway_payouts_by_arrival ON gateway_payouts(arrival_date);

CREATE TABLE gateway_balance_transactions (
    id               INTEGER PRIMARY KEY,
    gateway          TEXT NOT NULL,
    txn_id           TEXT NOT NULL CHECK (txn_id <> ''),
    type             TEXT NOT NULL,
    amount_minor     INTEGER NOT NULL,
    fee_minor        INTEGER NOT NULL,
    net_minor        INTEGER NOT NULL CHECK (net_minor = amount_minor - fee_minor),
    currency         TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    created_at       INTEGER NOT NULL,
    available_on     INTEGER NOT NULL,
    source_object_id TEXT,
    payout_id        TEXT,
    extra_columns    INTEGER REFERENCES column_sets(id),
    extra            TEXT NOT NULL DEFAULT '[]',
    source_id        INTEGER NOT NULL REFERENCES sources(id),
    source_line      INTEGER,
    UNIQUE (gateway, txn_id)
) STRICT;
CREATE INDEX gateway_balance_transactions_by_payout ON gateway_balance_transactions(gateway, payout_id);

CREATE TABLE payout_transactions_listed (
    gateway    TEXT NOT NULL,
    payout_id  TEXT NOT NULL,
    PRIMARY KEY (gateway, payout_id)
) STRICT, WITHOUT ROWID;
"#;

/// Bank statements and their lines, keyed by account and the bank's own line id. A
/// statement is its own origin (not a `sources` row): it carries the account, the format
/// and the balance it states.
const V12_BANK_LINES: &str = r#"
CREATE TABLE bank_statements (
    id              INTEGER PRIMARY KEY,
    account         TEXT NOT NULL,
    file            TEXT NOT NULL,
    content_sha256  TEXT NOT NULL,
    format          TEXT NOT NULL,
    currency        TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    closing_minor   INTEGER,
    imported_at     INTEGER NOT NULL,
    lines_new       INTEGER NOT NULL DEFAULT 0,
    lines_changed   INTEGER NOT NULL DEFAULT 0,
    lines_unchanged INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE bank_lines (
    id              INTEGER PRIMARY KEY,
    account         TEXT NOT NULL,
    line_id         TEXT NOT NULL CHECK (line_id <> ''),
    booked_on       TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL,
    currency        TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    description     TEXT NOT NULL,
    kind            TEXT,
    statement_id    INTEGER NOT NULL REFERENCES bank_statements(id),
    statement_line  INTEGER,
    UNIQUE (account, line_id)
) STRICT;
CREATE INDEX bank_lines_by_day ON bank_lines(booked_on);
"#;

/// The name a bookkeeper gave a statement's account (`import bank --account`), so every
/// later statement of that account lands under the same name.
const V13_BANK_ACCOUNT_NAMES: &str = r#"
CREATE TABLE bank_account_names (
    statement_account  TEXT PRIMARY KEY,
    name               TEXT NOT NULL
) STRICT, WITHOUT ROWID;
"#;

/// Money reaching the bank becomes findings: the queue takes the payout and deposit kinds
/// (SQLite cannot widen a CHECK in place, so the table is rebuilt with its ids, which the
/// actions reference; foreign keys are checked at the end). A statement keeps the days it
/// covers (OFX `DTSTART`/`DTEND`, camt's `FrToDt`, else its first and last lines), so a
/// payout is called missing only where the bank's statements cover its arrival.
const V14_BANK_FINDINGS: &str = r#"
CREATE TABLE findings_v14 (
    id              INTEGER PRIMARY KEY,
    fingerprint     TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('double_charge', 'orphan_charge', 'missing_charge',
                                                  'amount_mismatch', 'unrecorded_refund', 'duplicate_invoice',
                                                  'payout_missing_deposit', 'payout_unbalanced',
                                                  'deposit_without_payout', 'deposit_amount_differs')),
    status          TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    -- cleared: gone from the data; fixed: an action fixed it; dismissed: a person judged it fine.
    resolution      TEXT CHECK (resolution IN ('cleared', 'fixed', 'dismissed')),
    confidence      TEXT NOT NULL CHECK (confidence IN ('exact', 'heuristic')),
    invoice_number  TEXT,
    charge_ids      TEXT NOT NULL,
    payment_ids     TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency        TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    reason          TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    first_seen_at   INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    resolved_at     INTEGER,
    CHECK ((status = 'open') = (resolution IS NULL))
) STRICT;
INSERT INTO findings_v14 SELECT id, fingerprint, kind, status, resolution, confidence, invoice_number,
    charge_ids, payment_ids, amount_minor, currency, reason, evidence, first_seen_at, last_seen_at,
    resolved_at FROM findings;
DROP TABLE findings;
ALTER TABLE findings_v14 RENAME TO findings;
CREATE INDEX findings_status_kind ON findings(status, kind);

ALTER TABLE bank_statements ADD COLUMN covers_from TEXT;
ALTER TABLE bank_statements ADD COLUMN covers_to TEXT;
UPDATE bank_statements SET
    covers_from = (SELECT min(booked_on) FROM bank_lines l WHERE l.statement_id = bank_statements.id),
    covers_to = (SELECT max(booked_on) FROM bank_lines l WHERE l.statement_id = bank_statements.id);
"#;

/// Disputes as the gateway reports them, keyed like payouts, and the findings table
/// rebuilt to take the two dispute kinds (SQLite cannot alter a CHECK in place).
const V15_DISPUTES: &str = r#"
CREATE TABLE gateway_disputes (
    id               INTEGER PRIMARY KEY,
    gateway          TEXT NOT NULL,
    dispute_id       TEXT NOT NULL CHECK (dispute_id <> ''),
    charge_id        TEXT NOT NULL CHECK (charge_id <> ''),
    payment_intent   TEXT,
    amount_minor     INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency         TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    status           TEXT NOT NULL CHECK (status IN ('needs_response', 'under_review', 'won', 'lost',
                                                     'warning_needs_response', 'warning_under_review',
                                                     'warning_closed', 'prevented')),
    reason           TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    evidence_due_by  INTEGER,
    extra_columns    INTEGER REFERENCES column_sets(id),
    extra            TEXT NOT NULL DEFAULT '[]',
    source_id        INTEGER NOT NULL REFERENCES sources(id),
    source_line      INTEGER,
    UNIQUE (gateway, dispute_id)
) STRICT;
CREATE INDEX gateway_disputes_by_charge ON gateway_disputes(gateway, charge_id);

CREATE TABLE findings_v15 (
    id              INTEGER PRIMARY KEY,
    fingerprint     TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('double_charge', 'orphan_charge', 'missing_charge',
                                                  'amount_mismatch', 'unrecorded_refund', 'duplicate_invoice',
                                                  'payout_missing_deposit', 'payout_unbalanced',
                                                  'deposit_without_payout', 'deposit_amount_differs',
                                                  'dispute_invoice_still_paid', 'dispute_lost_unrecorded')),
    status          TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    -- cleared: gone from the data; fixed: an action fixed it; dismissed: a person judged it fine.
    resolution      TEXT CHECK (resolution IN ('cleared', 'fixed', 'dismissed')),
    confidence      TEXT NOT NULL CHECK (confidence IN ('exact', 'heuristic')),
    invoice_number  TEXT,
    charge_ids      TEXT NOT NULL,
    payment_ids     TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency        TEXT NOT NULL CHECK (length(currency) = 3 AND currency = lower(currency)),
    reason          TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    first_seen_at   INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    resolved_at     INTEGER,
    CHECK ((status = 'open') = (resolution IS NULL))
) STRICT;
INSERT INTO findings_v15 SELECT id, fingerprint, kind, status, resolution, confidence, invoice_number,
    charge_ids, payment_ids, amount_minor, currency, reason, evidence, first_seen_at, last_seen_at,
    resolved_at FROM findings;
DROP TABLE findings;
ALTER TABLE findings_v15 RENAME TO findings;
CREATE INDEX findings_status_kind ON findings(status, kind);
"#;

/// The Re-charge screen reads its candidates a page at a time, oldest invoice first: the
/// open invoices (only an open one can be owed) by issue instant, walked from the last one
/// shown until a page is found. Most invoices are paid, so the index is small.
const V10_OPEN_INVOICES_BY_ISSUE: &str = r#"
CREATE INDEX invoices_open_issued ON invoices(issued_at, invoice_number) WHERE status = 'open';
"#;

/// A number every committed write moves on (`Store::write`), so that what was computed
/// from the store at one number (the month-end screen's tie-out) is known to still hold
/// while the number has not moved, in this process or another; with a random name of
/// this store file, since a store made again at the same path counts from zero again.
const V16_STORE_GENERATION: &str = r#"
CREATE TABLE store_generation (
    only   INTEGER PRIMARY KEY CHECK (only = 1),
    store  TEXT NOT NULL,
    n      INTEGER NOT NULL
) STRICT;
INSERT INTO store_generation (only, store, n) VALUES (1, lower(hex(randomblob(16))), 0);
"#;

/// The Stripe balance by creation time: a month's own transactions (the clearing account,
/// the export) are read through it, and the balance at each edge of the month is summed
/// from the index alone (it holds the currency and the net), so neither costs the whole
/// history of a synced store.
const V17_BALANCE_BY_CREATION: &str = r#"
CREATE INDEX gateway_balance_transactions_created
    ON gateway_balance_transactions(gateway, created_at, currency, net_minor);
"#;

/// The accounting systems' objects beside the records they became (issue 19): a QuickBooks
/// invoice's id beside the invoice's number, so a payment applied to it finds it and a
/// deletion there removes it here. And what a removal takes with it: a ledger entry or an
/// invoice the accounting system deleted leaves the store (upsert never removes), its money
/// leaves the Today chart, and the next reconcile looks at every row (a removal is rare, and
/// a whole run cannot miss what the removed row explained).
const V18_ACCOUNTING_OBJECTS: &str = r#"
CREATE TABLE accounting_objects (
    system      TEXT NOT NULL CHECK (system IN ('quickbooks', 'xero')),
    company     TEXT NOT NULL CHECK (company <> ''),
    entity      TEXT NOT NULL CHECK (entity IN ('invoice', 'payment')),
    object_id   TEXT NOT NULL CHECK (object_id <> ''),
    record_key  TEXT NOT NULL,
    PRIMARY KEY (system, company, entity, object_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX accounting_objects_record ON accounting_objects(entity, record_key);

CREATE TRIGGER money_of_removed_ledger_entry AFTER DELETE ON ledger_entries BEGIN
    INSERT INTO money_by_quarter_hour (quarter, currency, gateway_minor, ledger_minor, anchors, refunds)
            VALUES ((OLD.recorded_at / 900 - (OLD.recorded_at % 900 < 0)), OLD.currency, 0,
                    -(CASE OLD.kind WHEN 'payment' THEN OLD.amount_minor ELSE -OLD.amount_minor END), -1, 0)
            ON CONFLICT (quarter, currency) DO UPDATE SET gateway_minor = gateway_minor + excluded.gateway_minor, ledger_minor = ledger_minor + excluded.ledger_minor, anchors = anchors + excluded.anchors, refunds = refunds + excluded.refunds;
END;
CREATE TRIGGER whole_after_removed_ledger_entry AFTER DELETE ON ledger_entries
    BEGIN DELETE FROM reconcile_tracking; END;
CREATE TRIGGER whole_after_removed_invoice AFTER DELETE ON invoices
    BEGIN DELETE FROM reconcile_tracking; END;
"#;

/// V19: an accounting system's refund receipts (QuickBooks' money paid back) are kept
/// beside the ledger refunds they became, as invoices and payments are. SQLite cannot
/// change a CHECK in place: the table is rebuilt with its rows.
const V19_ACCOUNTING_REFUNDS: &str = r#"
CREATE TABLE accounting_objects_v19 (
    system      TEXT NOT NULL CHECK (system IN ('quickbooks', 'xero')),
    company     TEXT NOT NULL CHECK (company <> ''),
    entity      TEXT NOT NULL CHECK (entity IN ('invoice', 'payment', 'refund_receipt')),
    object_id   TEXT NOT NULL CHECK (object_id <> ''),
    record_key  TEXT NOT NULL,
    PRIMARY KEY (system, company, entity, object_id)
) STRICT, WITHOUT ROWID;
INSERT INTO accounting_objects_v19 (system, company, entity, object_id, record_key)
    SELECT system, company, entity, object_id, record_key FROM accounting_objects;
DROP TABLE accounting_objects;
ALTER TABLE accounting_objects_v19 RENAME TO accounting_objects;
CREATE INDEX accounting_objects_record ON accounting_objects(entity, record_key);
"#;

/// Every migration, oldest first. Append only.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1_CORE),
        M::up(V2_ACTIONS),
        M::up(V3_ADJUSTMENTS_PER_ACTION),
        M::up(V4_PERIODS),
        M::up(V5_UNUSED_CHARGE_INDEXES),
        M::up(V6_GATEWAY_INVOICES_AND_STATED_PAYMENTS),
        M::up(V7_TARGETED_READS),
        M::up(V8_RECONCILE_WHAT_CHANGED),
        M::up(V9_MONEY_BY_QUARTER_HOUR),
        M::up(V10_OPEN_INVOICES_BY_ISSUE),
        M::up(V11_PAYOUTS),
        M::up(V12_BANK_LINES),
        M::up(V13_BANK_ACCOUNT_NAMES),
        M::up(V14_BANK_FINDINGS).foreign_key_check(),
        M::up(V15_DISPUTES).foreign_key_check(),
        M::up(V16_STORE_GENERATION),
        M::up(V17_BALANCE_BY_CREATION),
        M::up(V18_ACCOUNTING_OBJECTS),
        M::up(V19_ACCOUNTING_REFUNDS),
    ])
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }

    #[test]
    fn v19_keeps_every_accounting_object_and_takes_refund_receipts() {
        let mut conn = Connection::open_in_memory().unwrap();
        let migrations = super::migrations();
        migrations.to_version(&mut conn, 18).unwrap();
        conn.execute_batch(
            "INSERT INTO accounting_objects VALUES ('quickbooks', '4620', 'invoice', '130', 'INV-1'),
                    ('xero', 't-1', 'payment', 'p-9', 'xero:p-9');",
        )
        .unwrap();
        migrations.to_latest(&mut conn).unwrap();
        let kept: Vec<(String, String)> = conn
            .prepare("SELECT object_id, record_key FROM accounting_objects ORDER BY object_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            kept,
            [
                ("130".to_string(), "INV-1".to_string()),
                ("p-9".to_string(), "xero:p-9".to_string())
            ]
        );
        conn.execute(
            "INSERT INTO accounting_objects VALUES ('quickbooks', '4620', 'refund_receipt', '7', 'qbo:refund:7')",
            [],
        )
        .unwrap();
    }

    #[test]
    fn v14_widens_the_findings_kinds_and_keeps_each_finding_its_id_and_actions() {
        let mut conn = Connection::open_in_memory().unwrap();
        let migrations = super::migrations();
        migrations.to_version(&mut conn, 13).unwrap();
        conn.execute_batch(
            "INSERT INTO findings (id, fingerprint, kind, status, confidence, charge_ids, payment_ids,
                 amount_minor, currency, reason, evidence, first_seen_at, last_seen_at)
             VALUES (7, 'double_charge:INV-1', 'double_charge', 'open', 'exact', '[\"ch_2\"]', '[]',
                 4900, 'usd', 'twice', '{}', 1, 1);
             INSERT INTO actions (kind, state, finding_id, amount_minor, currency, idempotency_key,
                 plan, proposed_by, proposed_at, updated_at)
             VALUES ('refund', 'proposed', 7, 4900, 'usd', 'k1', '{}', 'alice', 1, 1);
             INSERT INTO sources (id, kind, origin, imported_at) VALUES (1, 'stripe_export', 'u.csv', 0);
             INSERT INTO bank_statements (id, account, file, content_sha256, format, currency, imported_at)
             VALUES (1, 'acct', 's.ofx', 'x', 'ofx', 'usd', 0);
             INSERT INTO bank_lines (account, line_id, booked_on, amount_minor, currency, description, statement_id)
             VALUES ('acct', 'L1', '2026-11-03', 100, 'usd', 'STRIPE', 1),
                    ('acct', 'L2', '2026-11-20', 100, 'usd', 'STRIPE', 1);",
        )
        .unwrap();
        let refused = conn.execute(
            "UPDATE findings SET kind = 'payout_missing_deposit' WHERE id = 7",
            [],
        );
        assert!(refused.is_err(), "V13 does not know the bank's kinds");

        // As `Store::open` migrates: foreign keys off (the bundled SQLite has them on by
        // default, and the drop would fail on the action's reference); the rebuild checks
        // them itself before it commits.
        conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
        migrations.to_version(&mut conn, 14).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();

        conn.execute(
            "UPDATE findings SET kind = 'payout_missing_deposit' WHERE id = 7",
            [],
        )
        .unwrap();
        let (finding, fingerprint): (i64, String) = conn
            .query_row(
                "SELECT a.finding_id, f.fingerprint FROM actions a JOIN findings f ON f.id = a.finding_id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((finding, fingerprint.as_str()), (7, "double_charge:INV-1"));
        assert!(
            conn.execute("DELETE FROM findings WHERE id = 7", [])
                .is_err(),
            "the action still references its finding"
        );
        assert!(index_names(&conn, "findings").contains(&"findings_status_kind".to_string()));
        let covers: (String, String) = conn
            .query_row(
                "SELECT covers_from, covers_to FROM bank_statements WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            covers,
            ("2026-11-03".to_string(), "2026-11-20".to_string()),
            "a statement imported before V14 covers its first to its last line"
        );
    }

    #[test]
    fn v15_takes_the_dispute_kinds_and_keeps_each_finding_its_id_and_actions() {
        let mut conn = Connection::open_in_memory().unwrap();
        let migrations = super::migrations();
        migrations.to_version(&mut conn, 14).unwrap();
        conn.execute_batch(
            "INSERT INTO findings (id, fingerprint, kind, status, confidence, charge_ids, payment_ids,
                 amount_minor, currency, reason, evidence, first_seen_at, last_seen_at)
             VALUES (9, 'unrecorded_refund:ch_1:500', 'unrecorded_refund', 'open', 'exact',
                 '[\"ch_1\"]', '[]', 500, 'usd', 'refunded', '{}', 1, 1);
             INSERT INTO actions (kind, state, finding_id, amount_minor, currency, idempotency_key,
                 plan, proposed_by, proposed_at, updated_at)
             VALUES ('ledger_fix', 'proposed', 9, 500, 'usd', 'k9', '{}', 'alice', 1, 1);",
        )
        .unwrap();
        let dispute_kind = "UPDATE findings SET kind = 'dispute_lost_unrecorded' WHERE id = 9";
        assert!(
            conn.execute(dispute_kind, []).is_err(),
            "V14 does not know the disputes' kinds"
        );
        conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
        migrations.to_version(&mut conn, 15).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        conn.execute(dispute_kind, []).unwrap();
        let finding: i64 = conn
            .query_row(
                "SELECT finding_id FROM actions WHERE idempotency_key = 'k9'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(finding, 9);
        assert!(
            conn.execute("DELETE FROM findings WHERE id = 9", [])
                .is_err(),
            "the action still references its finding"
        );
        assert!(index_names(&conn, "findings").contains(&"findings_status_kind".to_string()));
        assert!(
            index_names(&conn, "gateway_disputes")
                .contains(&"gateway_disputes_by_charge".to_string())
        );
    }

    fn index_names(conn: &Connection, table: &str) -> Vec<String> {
        conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 ORDER BY name",
        )
        .unwrap()
        .query_map([table], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    #[test]
    fn v5_drops_the_unused_charge_indexes_and_keeps_every_charge() {
        let mut conn = Connection::open_in_memory().unwrap();
        let migrations = super::migrations();
        migrations.to_version(&mut conn, 4).unwrap();
        conn.execute_batch(
            "INSERT INTO sources (id, kind, origin, imported_at) VALUES (1, 'stripe_export', 'u.csv', 0);
             INSERT INTO gateway_charges (gateway, charge_id, amount_minor, amount_refunded_minor, currency,
                 status, captured, created_at, payment_intent_id, invoice_ref, metadata, source_id, source_line)
             VALUES ('stripe', 'ch_1', 1000, 0, 'usd', 'succeeded', 1, 1790000000, 'pi_1', 'INV-1',
                 '{\"invoice_number\":\"INV-1\"}', 1, 2);",
        )
        .unwrap();
        let before: Vec<String> = conn
            .query_row("SELECT json_array(gateway, charge_id, amount_minor, payment_intent_id, invoice_ref, metadata, source_line) FROM gateway_charges", [], |r| r.get(0))
            .map(|row| vec![row])
            .unwrap();
        assert!(
            index_names(&conn, "gateway_charges")
                .contains(&"gateway_charges_invoice_ref".to_string())
        );

        migrations.to_version(&mut conn, 5).unwrap();

        assert_eq!(
            index_names(&conn, "gateway_charges"),
            ["sqlite_autoindex_gateway_charges_1"],
            "only the natural key's index is left"
        );
        let after: Vec<String> = conn
            .query_row("SELECT json_array(gateway, charge_id, amount_minor, payment_intent_id, invoice_ref, metadata, source_line) FROM gateway_charges", [], |r| r.get(0))
            .map(|row| vec![row])
            .unwrap();
        assert_eq!(before, after);
        let duplicate = conn.execute(
            "INSERT INTO gateway_charges (gateway, charge_id, amount_minor, amount_refunded_minor, currency,
                 status, captured, created_at, source_id) VALUES ('stripe', 'ch_1', 5, 0, 'usd', 'failed', 0, 0, 1)",
            [],
        );
        assert!(
            duplicate.is_err(),
            "a charge id is still unique per gateway"
        );
    }

    /// V9 fills the chart's quarter-hour totals from the rows already stored: the same
    /// totals its triggers keep when those rows arrive after it.
    #[test]
    fn v9_counts_the_stored_rows_as_its_triggers_count_new_ones() {
        let rows = "INSERT INTO sources (id, kind, origin, imported_at) VALUES (1, 'stripe_export', 'u.csv', 0);
             INSERT INTO gateway_charges (gateway, charge_id, amount_minor, amount_refunded_minor, currency,
                 status, captured, created_at, source_id) VALUES
                 ('stripe', 'ch_1', 1000, 400, 'usd', 'succeeded', 1, 1790000000, 1),
                 ('stripe', 'ch_2', 2000, 2000, 'usd', 'succeeded', 1, 1790000100, 1),
                 ('stripe', 'ch_3', 3000, 0, 'usd', 'failed', 0, 1790000200, 1),
                 ('stripe', 'ch_4', 500, 0, 'eur', 'succeeded', 1, -1000, 1);
             INSERT INTO gateway_refunds (gateway, refund_id, charge_id, amount_minor, currency, status,
                 created_at, source_id) VALUES
                 ('stripe', 're_1', 'ch_1', 300, 'usd', 'succeeded', 1790090000, 1),
                 ('stripe', 're_2', 'ch_1', 100, 'usd', 'failed', 1790090000, 1),
                 ('stripe', 're_3', 'ch_4', 500, 'eur', 'pending', 1790000000, 1);
             INSERT INTO ledger_entries (payment_id, invoice_number, kind, amount_minor, currency,
                 recorded_at, source_id) VALUES
                 ('pay_1', 'INV-1', 'payment', 1000, 'usd', 1790000500, 1),
                 ('pay_2', 'INV-1', 'refund', 300, 'usd', 1790090001, 1);";
        let totals = |conn: &Connection| -> Vec<(i64, String, i64, i64, i64, i64)> {
            conn.prepare("SELECT * FROM money_by_quarter_hour ORDER BY quarter, currency")
                .unwrap()
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let mut before = Connection::open_in_memory().unwrap();
        super::migrations().to_version(&mut before, 8).unwrap();
        before.execute_batch(rows).unwrap();
        super::migrations().to_latest(&mut before).unwrap();
        let mut after = Connection::open_in_memory().unwrap();
        super::migrations().to_latest(&mut after).unwrap();
        after.execute_batch(rows).unwrap();
        let filled = totals(&before);
        assert_eq!(filled, totals(&after));
        // ch_1: 1000 less the 100 refunded without a counting refund object, re_1 taken
        // away a day later; ch_2 refunded in full with no object; ch_4 before 1970, its
        // pending refund counting.
        assert_eq!(
            filled,
            [
                (-2, "eur".to_string(), 500, 0, 1, 0),
                (1988888, "eur".to_string(), -500, 0, 0, 1),
                (1988888, "usd".to_string(), 900, 0, 1, 0),
                (1988889, "usd".to_string(), 2000 - 2000, 1000, 2, 0),
                (1988988, "usd".to_string(), -300, -300, 1, 1),
            ]
        );
    }

    #[test]
    fn v7_indexes_the_targeted_reads() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::migrations().to_version(&mut conn, 7).unwrap();
        assert_eq!(
            index_names(&conn, "gateway_charges"),
            [
                "gateway_charges_created",
                "gateway_charges_failed",
                "gateway_charges_invoice_ref",
                "gateway_charges_payment_intent",
                "sqlite_autoindex_gateway_charges_1"
            ]
        );
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT charge_id FROM gateway_charges
                 WHERE (gateway = 'stripe' AND charge_id IN ('ch_1', 'ch_2'))
                    OR invoice_ref IN ('INV-1') OR payment_intent_id IN ('pi_1')",
            )
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("; ");
        assert!(!plan.contains("SCAN gateway_charges"), "{plan}");
    }

    #[test]
    fn v17_reads_a_months_balance_and_its_edges_without_scanning_the_history() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::migrations().to_latest(&mut conn).unwrap();
        let plan_of = |sql: &str| -> String {
            conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
                .join("; ")
        };
        let month = plan_of(
            "SELECT txn_id FROM gateway_balance_transactions
              WHERE gateway = 'stripe' AND created_at >= 1 AND created_at < 2",
        );
        assert!(
            month.contains("USING INDEX gateway_balance_transactions_created"),
            "{month}"
        );
        let edge = plan_of(
            "SELECT currency, sum(net_minor) FROM gateway_balance_transactions
              WHERE gateway = 'stripe' AND created_at < 2 GROUP BY currency ORDER BY currency",
        );
        assert!(
            edge.contains("USING COVERING INDEX gateway_balance_transactions_created"),
            "{edge}"
        );
    }

    #[test]
    fn v7_knows_the_currencies_in_use_before_it_and_after() {
        let mut conn = Connection::open_in_memory().unwrap();
        let migrations = super::migrations();
        migrations.to_version(&mut conn, 6).unwrap();
        conn.execute_batch(
            "INSERT INTO sources (id, kind, origin, imported_at) VALUES (1, 'stripe_export', 'u.csv', 0);
             INSERT INTO gateway_charges (gateway, charge_id, amount_minor, amount_refunded_minor, currency,
                 status, captured, created_at, source_id) VALUES ('stripe', 'ch_1', 5, 0, 'eur', 'succeeded', 1, 0, 1);",
        )
        .unwrap();
        migrations.to_latest(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO invoices (invoice_number, customer_id, amount_minor, currency, issued_at, status, source_id)
                 VALUES ('INV-1', 'c', 100, 'jpy', 0, 'open', 1);
             INSERT INTO ledger_entries (payment_id, invoice_number, kind, amount_minor, currency, recorded_at, source_id)
                 VALUES ('p1', 'INV-1', 'payment', 100, 'kwd', 0, 1);
             UPDATE gateway_charges SET currency = 'usd' WHERE charge_id = 'ch_1';",
        )
        .unwrap();
        let codes: Vec<String> = conn
            .prepare("SELECT code FROM currencies_in_use ORDER BY code")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(codes, ["EUR", "JPY", "KWD", "USD"]);
    }
}
