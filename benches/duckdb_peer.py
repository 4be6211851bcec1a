"""The peer of issue 17's target 2: the six finding rules as DuckDB SQL, in memory, over
the same three CSVs Chargeguard imports (invoices, payments, a Stripe payments export).

    python -m venv .venv && .venv/bin/pip install duckdb
    .venv/bin/python benches/duckdb_peer.py DIR [DIR ...]

DIR holds `invoices.csv`, `payments.csv` and `unified_payments.csv` as `demo::generate`
writes them (`CHARGEGUARD_BENCH_KEEP=DIR cargo bench --bench daily` keeps them in DIR/N).
Prints, per folder, the seconds to read the three files and to find the findings, and how
many of each kind it found.

What it does, as DESIGN.md's rules say, in sets rather than row by row:
- amounts are parsed as decimals and kept as integer minor units (JPY 0, KWD 3, else 2
  decimals); a charge counts when it succeeded and was captured, for its net (amount less
  refunded);
- links: the charge's invoice reference naming an invoice; else the ledger payment that
  records it (by charge or payment intent id; the lowest payment id); else a guess: an
  open or paid invoice of the same customer (id or e-mail), amount and currency issued or
  due within 7 days, the invoice not yet covered first, then the closest, then the lowest
  number (each charge chooses alone: the sequential "covered so far" of the Rust rules is
  left out, which only makes this peer's work smaller);
- duplicate_invoice (same order reference, or same customer, amount and currency within
  10 minutes with none, both charged), double_charge (an invoice's counted charges over its
  amount), orphan_charge (a counted charge no ledger payment records), amount_mismatch (a
  recorded charge whose payments sum to another amount), unrecorded_refund (refunded at
  the gateway beyond the ledger's refunds), missing_charge (a ledger payment whose gateway
  id names no succeeded charge, inside the export's window).
"""

import sys
import time

import duckdb

MINOR = """CASE lower({c}) WHEN 'jpy' THEN 1 WHEN 'kwd' THEN 1000 ELSE 100 END"""


def minor(amount, currency):
    return f"CAST(round(CAST({amount} AS DECIMAL(18,3)) * {MINOR.format(c=currency)}) AS BIGINT)"


def run(folder):
    con = duckdb.connect(":memory:")
    start = time.perf_counter()
    con.execute(f"""
        CREATE TABLE invoices AS SELECT
            invoice_number, customer_id, {minor('amount', 'currency')} AS amount, lower(currency) AS currency,
            CAST(issued_at AS TIMESTAMPTZ) AS issued_at, CAST(due_at AS DATE) AS due_at, status,
            nullif(trim(order_ref), '') AS order_ref
        FROM read_csv('{folder}/invoices.csv', header = true, all_varchar = true);
        CREATE TABLE ledger AS SELECT
            payment_id, invoice_number, kind, {minor('amount', 'currency')} AS amount, lower(currency) AS currency,
            CAST(recorded_at AS TIMESTAMPTZ) AS recorded_at, nullif(gateway_id, '') AS gateway_id
        FROM read_csv('{folder}/payments.csv', header = true, all_varchar = true);
        CREATE TABLE charges AS SELECT
            id, {minor('"Amount"', '"Currency"')} AS amount, {minor('"Amount Refunded"', '"Currency"')} AS refunded,
            lower("Currency") AS currency, "Status" AS status, "Captured" = 'true' AS captured,
            CAST("Created date (UTC)" || 'Z' AS TIMESTAMPTZ) AS created,
            nullif("Customer ID", '') AS customer, nullif("Customer Email", '') AS email,
            nullif("PaymentIntent ID", '') AS intent, nullif(trim("invoice_number (metadata)"), '') AS invoice_ref
        FROM read_csv('{folder}/unified_payments.csv', header = true, all_varchar = true)
        WHERE id LIKE 'ch_%' OR id LIKE 'py_%';
    """)
    loaded = time.perf_counter() - start

    start = time.perf_counter()
    con.execute("""
        CREATE TABLE counted AS SELECT *, amount - refunded AS net FROM charges
         WHERE status IN ('Paid', 'Refunded', 'Partially Refunded') AND captured;
        -- What each ledger payment records: the charge by id, or its intent's earliest counted charge.
        CREATE TABLE intents AS
        SELECT intent, arg_min(id, (created, id)) AS charge_id FROM counted
         WHERE intent IS NOT NULL GROUP BY intent;
        CREATE TABLE recorded AS
        SELECT l.payment_id, l.invoice_number, l.amount, l.currency, l.kind,
               coalesce(c.id, p.charge_id) AS charge_id
          FROM ledger l LEFT JOIN counted c ON c.id = l.gateway_id
          LEFT JOIN intents p ON p.intent = l.gateway_id
         WHERE l.gateway_id IS NOT NULL;
        CREATE TABLE exact_links AS
        SELECT c.id AS charge_id, coalesce(r.invoice_number, p.invoice_number) AS invoice_number,
               CASE WHEN r.invoice_number IS NOT NULL THEN 'reference' ELSE 'ledger' END AS link_by
          FROM charges c
          LEFT JOIN invoices r ON r.invoice_number = c.invoice_ref
          LEFT JOIN (SELECT charge_id, min_by(invoice_number, payment_id) AS invoice_number FROM recorded
                      WHERE kind = 'payment' AND invoice_number IN (SELECT invoice_number FROM invoices)
                      GROUP BY charge_id) p ON p.charge_id = c.id
         WHERE r.invoice_number IS NOT NULL OR p.invoice_number IS NOT NULL;
        CREATE TABLE ledger_paid AS
        SELECT invoice_number, currency,
               sum(CASE kind WHEN 'payment' THEN amount ELSE -amount END) AS paid
          FROM ledger GROUP BY invoice_number, currency;
        CREATE TABLE waiting AS
        SELECT id, customer AS who, amount, currency, created FROM counted
         WHERE net > 0 AND customer IS NOT NULL AND id NOT IN (SELECT charge_id FROM exact_links)
        UNION
        SELECT id, email, amount, currency, created FROM counted
         WHERE net > 0 AND email IS NOT NULL AND id NOT IN (SELECT charge_id FROM exact_links);
        CREATE TABLE guesses AS
        SELECT charge_id, arg_min(invoice_number, (covered, distance, invoice_number)) AS invoice_number
          FROM (SELECT c.id AS charge_id, i.invoice_number,
                       coalesce(lp.paid, 0) >= i.amount AS covered,
                       least(abs(epoch(i.issued_at) - epoch(c.created)),
                             abs(epoch(CAST(i.due_at AS TIMESTAMPTZ)) - epoch(c.created))) AS distance
                  FROM waiting c
                  JOIN invoices i ON i.customer_id = c.who
                   AND i.amount = c.amount AND i.currency = c.currency AND i.status <> 'void'
                  LEFT JOIN ledger_paid lp ON lp.invoice_number = i.invoice_number AND lp.currency = i.currency
                 WHERE least(abs(epoch(i.issued_at) - epoch(c.created)),
                             abs(epoch(CAST(i.due_at AS TIMESTAMPTZ)) - epoch(c.created))) <= 7 * 86400)
         GROUP BY charge_id;
        CREATE TABLE links AS
        SELECT charge_id, invoice_number, link_by FROM exact_links
        UNION ALL SELECT charge_id, invoice_number, 'heuristic' FROM guesses;
        CREATE TABLE on_invoice AS
        SELECT l.invoice_number, k.id, k.net, k.created FROM links l
          JOIN counted k ON k.id = l.charge_id
          JOIN invoices i ON i.invoice_number = l.invoice_number AND i.currency = k.currency
         WHERE k.net > 0;
        CREATE TABLE charged AS
        SELECT invoice_number, sum(net) AS held, count(*) AS n FROM on_invoice GROUP BY invoice_number;

        CREATE TABLE findings AS
        -- duplicate_invoice: by order reference, or the same customer, amount and currency within 10 minutes.
        SELECT 'duplicate_invoice' AS kind, b.invoice_number AS subject
          FROM invoices a JOIN invoices b ON a.order_ref = b.order_ref
           AND (a.issued_at, a.invoice_number) < (b.issued_at, b.invoice_number)
         WHERE a.status <> 'void' AND b.status <> 'void'
           AND a.invoice_number IN (SELECT invoice_number FROM charged)
           AND b.invoice_number IN (SELECT invoice_number FROM charged)
        UNION ALL
        SELECT 'duplicate_invoice', b.invoice_number
          FROM invoices a JOIN invoices b ON a.customer_id = b.customer_id AND a.amount = b.amount
           AND a.currency = b.currency AND a.order_ref IS NULL AND b.order_ref IS NULL
           AND b.issued_at > a.issued_at AND epoch(b.issued_at) - epoch(a.issued_at) <= 600
         WHERE a.status <> 'void' AND b.status <> 'void'
           AND a.invoice_number IN (SELECT invoice_number FROM charged)
           AND b.invoice_number IN (SELECT invoice_number FROM charged)
        UNION ALL
        -- double_charge: the counted charges hold more than the invoice's amount.
        SELECT 'double_charge', i.invoice_number FROM invoices i JOIN charged c USING (invoice_number)
         WHERE c.n > 1 AND c.held > CASE WHEN i.status = 'void' THEN 0 ELSE i.amount END
        UNION ALL
        -- orphan_charge: a counted charge no ledger payment records, not already in a
        -- duplicate or double charge (one charge, one finding).
        SELECT 'orphan_charge', k.id FROM counted k
         WHERE k.net > 0 AND k.id NOT IN (SELECT charge_id FROM recorded WHERE kind = 'payment' AND charge_id IS NOT NULL)
           AND k.id NOT IN (SELECT o.id FROM on_invoice o JOIN charged c USING (invoice_number)
                             JOIN invoices i USING (invoice_number)
                             WHERE c.n > 1 AND c.held > CASE WHEN i.status = 'void' THEN 0 ELSE i.amount END)
           AND k.id NOT IN (SELECT o.id FROM on_invoice o JOIN invoices b USING (invoice_number)
                             JOIN invoices a ON a.order_ref = b.order_ref AND a.invoice_number <> b.invoice_number)
        UNION ALL
        -- amount_mismatch: the ledger's payments for a charge sum to another amount.
        SELECT 'amount_mismatch', r.charge_id FROM recorded r JOIN counted k ON k.id = r.charge_id
         WHERE r.kind = 'payment' GROUP BY r.charge_id, k.amount, k.currency
        HAVING sum(CASE WHEN r.currency = k.currency THEN r.amount ELSE 0 END) <> k.amount
            OR bool_or(r.currency <> k.currency)
        UNION ALL
        -- unrecorded_refund: refunded at the gateway beyond what the ledger's refunds say.
        SELECT 'unrecorded_refund', k.id FROM counted k
          LEFT JOIN (SELECT charge_id, sum(amount) AS known FROM recorded WHERE kind = 'refund' GROUP BY charge_id) r
            ON r.charge_id = k.id
         WHERE k.id IN (SELECT charge_id FROM recorded WHERE kind = 'payment') AND k.refunded > coalesce(r.known, 0)
        UNION ALL
        -- missing_charge: a payment whose gateway id names no counted charge, inside the export's window.
        SELECT 'missing_charge', l.payment_id FROM ledger l
         WHERE l.kind = 'payment' AND l.gateway_id IS NOT NULL
           AND l.gateway_id NOT IN (SELECT id FROM counted) AND l.gateway_id NOT IN (SELECT intent FROM counted WHERE intent IS NOT NULL)
           AND l.recorded_at BETWEEN (SELECT min(created) FROM charges) AND (SELECT max(created) FROM charges);
    """)
    counts = con.execute("SELECT kind, count(*) FROM findings GROUP BY kind ORDER BY kind").fetchall()
    found = time.perf_counter() - start
    return loaded, found, counts


def main():
    for folder in sys.argv[1:]:
        loaded, found, counts = run(folder)
        kinds = ", ".join(f"{n} {k}" for k, n in counts)
        print(f"{folder}: read {loaded:.3f} s, findings {found:.3f} s, total {loaded + found:.3f} s ({kinds})")


if __name__ == "__main__":
    main()
