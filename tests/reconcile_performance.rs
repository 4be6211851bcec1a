//! How long reconciliation takes over a big shop's year: a million invoices, about a
//! million ledger entries and a million charges, with one percent of incidents and some
//! charges that only the heuristic can place. The contract is under 2 s in release on a
//! 2-core machine. Ignored by default (it needs a release build to mean anything):
//!
//!     cargo test --release --test reconcile_performance -- --ignored --nocapture

use std::collections::BTreeMap;
use std::time::Instant;

use chargeguard::money::{Currency, Money};
use chargeguard::reconcile::{Books, FindingKind, reconcile};
use chargeguard::records::{
    Charge, ChargeStatus, Coverage, Invoice, InvoiceStatus, LedgerEntry, LedgerKind,
};
use jiff::{SignedDuration, Timestamp};

const INVOICES: usize = 1_000_000;

fn books() -> Books {
    let currencies = ["usd", "eur", "jpy", "kwd"].map(|c| Currency::from_code(c).unwrap());
    let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut books = Books {
        coverage: vec![Coverage {
            from: start,
            to: start + SignedDuration::from_hours(400 * 24),
        }],
        ..Books::default()
    };
    books.invoices.reserve(INVOICES);
    books.charges.reserve(INVOICES);
    books.ledger.reserve(INVOICES);
    for i in 0..INVOICES {
        let currency = currencies[i % 4];
        let amount = Money::from_minor(1_000 + (i as i64 % 97) * 100, currency);
        // 100,000 customers with ten invoices each, a month-ish apart.
        let customer = format!("cus_{}", i % 100_000);
        let issued = start
            + SignedDuration::from_mins((i / 100_000) as i64 * 36 * 24 * 60 + (i % 1440) as i64);
        let number = format!("INV-{i:07}");
        books.invoices.push(Invoice {
            number: number.clone(),
            customer_id: customer.clone(),
            amount,
            issued_at: issued,
            due_at: Some(issued + SignedDuration::from_hours(14 * 24)),
            status: InvoiceStatus::Open,
            // Half carry an order reference, half are left to the duplicate heuristic.
            order_ref: (i % 2 == 0).then(|| format!("ORD-{i}")),
        });
        let charge_id = format!("ch_{i:07}");
        let intent = format!("pi_{i:07}");
        let incident = i % 100;
        let charge = Charge {
            id: charge_id.clone(),
            amount,
            amount_refunded: Money::zero(currency),
            status: ChargeStatus::Succeeded,
            captured: true,
            created: issued + SignedDuration::from_mins(2),
            customer: Some(customer),
            customer_email: None,
            payment_intent: Some(intent.clone()),
            invoice_ref: (i % 3 == 0).then(|| number.clone()),
            description: None,
            fee: None,
            metadata: BTreeMap::new(),
        };
        // Incidents: 1 in 100 unrecorded (orphan or heuristic orphan), 1 in 100 charged
        // twice, 1 in 100 ledger payment for a charge that does not exist.
        if incident != 1 {
            let gateway_id = if i % 2 == 0 {
                charge_id.clone()
            } else {
                intent
            };
            books.ledger.push(LedgerEntry {
                payment_id: format!("pay_{i:07}"),
                invoice_number: number.clone(),
                kind: LedgerKind::Payment,
                amount,
                recorded_at: issued + SignedDuration::from_mins(3),
                gateway_id: Some(if incident == 3 {
                    format!("ch_gone_{i}")
                } else {
                    gateway_id
                }),
            });
        }
        // In charge-id order, as the store hands them over.
        let again = (incident == 2).then(|| Charge {
            id: format!("ch_{i:07}_again"),
            payment_intent: None,
            invoice_ref: Some(number.clone()),
            created: issued + SignedDuration::from_mins(9),
            ..charge.clone()
        });
        if incident != 3 {
            books.charges.push(charge);
        }
        books.charges.extend(again);
    }
    books
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat`: on a machine
/// other people are compiling on, wall time measures them as much as us.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports in clock ticks of 1/100 s on every platform Rust supports.
    Some((user + system) / 100.0)
}

#[test]
#[ignore = "a performance measure: run in release with --ignored --nocapture"]
fn a_million_invoices_reconcile_in_under_two_seconds() {
    let books = books();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let r = reconcile(&books);
    let elapsed = started.elapsed();
    let cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let mut by_kind: BTreeMap<FindingKind, usize> = BTreeMap::new();
    for f in &r.findings {
        *by_kind.entry(f.kind).or_default() += 1;
    }
    println!(
        "reconciled {} invoices, {} ledger entries, {} charges in {:.3} s ({:.2} s of CPU): {} findings {:?}, {} links",
        books.invoices.len(),
        books.ledger.len(),
        books.charges.len(),
        elapsed.as_secs_f64(),
        cpu.unwrap_or(f64::NAN),
        r.findings.len(),
        by_kind,
        r.links.len()
    );
    assert_eq!(by_kind[&FindingKind::DoubleCharge], INVOICES / 100);
    assert_eq!(by_kind[&FindingKind::OrphanCharge], INVOICES / 100);
    assert_eq!(by_kind[&FindingKind::MissingCharge], INVOICES / 100);
    assert!(elapsed.as_secs_f64() < 2.0, "took {elapsed:?}");
}
