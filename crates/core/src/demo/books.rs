//! The generator itself: customers on monthly plans, their invoices, the charges the
//! invoicing job made for them and the ledger it kept — then the incidents, each on a
//! customer of its own so that no incident can hide or mimic another.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use jiff::Timestamp;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::ids::gateway_id;
use super::{DemoFiles, DemoSpec, PlantedFinding};
use crate::money::{Currency, Money};

/// 2026-09-01T00:00:00Z: the books cover September to mid-November 2026.
const START: i64 = 1_788_220_800;
const DAY: i64 = 86_400;
const MONTHS: i64 = 3;

const STRIPE_HEADER: &[&str] = &[
    "id",
    "Description",
    "Seller Message",
    "Created date (UTC)",
    "Amount",
    "Amount Refunded",
    "Currency",
    "Converted Amount",
    "Converted Amount Refunded",
    "Fee",
    "Tax",
    "Converted Currency",
    "Mode",
    "Status",
    "Statement Descriptor",
    "Customer ID",
    "Customer Description",
    "Customer Email",
    "Captured",
    "Card ID",
    "Card Last4",
    "Card Brand",
    "Card Funding",
    "Card Exp Month",
    "Card Exp Year",
    "Card Issue Country",
    "Disputed Amount",
    "Dispute Status",
    "Dispute Reason",
    "Dispute Date (UTC)",
    "Dispute Evidence Due (UTC)",
    "Invoice ID",
    "Transfer",
    "PaymentIntent ID",
    "invoice_number (metadata)",
    "order_ref (metadata)",
];

struct Customer {
    id: String,
    email: String,
    currency: Currency,
    plan: i64,
    billing_second: i64,
}

/// One charge as the export shows it.
struct ChargeRow {
    id: String,
    payment_intent: String,
    customer: usize,
    amount: i64,
    refunded: i64,
    created: i64,
    succeeded: bool,
    invoice_ref: Option<String>,
    dispute: Option<Chargeback>,
}

/// A chargeback on a charge, as the export's dispute columns state it.
struct Chargeback {
    status: &'static str,
    reason: &'static str,
    at: i64,
}

/// What Stripe takes for a chargeback besides its amount (15.00 in USD).
const CHARGEBACK_FEE_MINOR: i64 = 1_500;

struct Books {
    rng: StdRng,
    invoices: csv::Writer<BufWriter<File>>,
    payments: csv::Writer<BufWriter<File>>,
    charges: csv::Writer<BufWriter<File>>,
    customers: Vec<Customer>,
    next_invoice: u64,
    next_payment: u64,
    next_order: u64,
    files: DemoFiles,
    settled: super::payouts::Settled,
}

/// Writes the demo books into `dir` and returns what a reconciliation must find there.
/// `now` is when they are made: the one payment "not yet synced" is dated after it, so a
/// sync run today still cannot cover it.
pub fn generate(dir: &Path, spec: &DemoSpec, now: jiff::Timestamp) -> io::Result<DemoFiles> {
    std::fs::create_dir_all(dir)?;
    let (invoices, payments, stripe_payments) = DemoFiles::paths_in(dir);
    let writer = |path: &Path| -> io::Result<csv::Writer<BufWriter<File>>> {
        Ok(csv::Writer::from_writer(BufWriter::with_capacity(
            1 << 16,
            File::create(path)?,
        )))
    };
    let mut books = Books {
        rng: StdRng::seed_from_u64(spec.seed),
        invoices: writer(&invoices)?,
        payments: writer(&payments)?,
        charges: writer(&stripe_payments)?,
        customers: Vec::new(),
        next_invoice: 0,
        next_payment: 0,
        next_order: 0,
        settled: super::payouts::Settled::default(),
        files: DemoFiles {
            invoices,
            payments,
            stripe_payments,
            stripe_payouts: dir.join("stripe_payouts.csv"),
            bank: dir.join("bank.ofx"),
            invoice_rows: 0,
            payment_rows: 0,
            charge_rows: 0,
            not_yet_synced: Vec::new(),
            planted: Vec::new(),
        },
    };
    books.write_headers()?;

    let clean_customers = (spec.invoices as i64 / MONTHS).max(1) as usize;
    let per_round = spec.invoices_per_incident_round.max(1);
    let rounds = (spec.invoices / per_round).max(1);
    for c in 0..clean_customers {
        let customer = books.new_customer();
        for month in 0..MONTHS {
            books.clean_invoice(customer, month)?;
        }
        // Spread the incident rounds through the file rather than at its end.
        if (c + 1) % (clean_customers / rounds).max(1) == 0 && books.rounds_done() < rounds {
            books.incident_round()?;
        }
    }
    while books.rounds_done() < rounds {
        books.incident_round()?;
    }
    books.not_yet_synced_payment(now.as_second())?;
    books.declined_not_retried()?;
    if spec.chargebacks {
        books.chargebacks()?;
    }

    books.invoices.flush()?;
    books.payments.flush()?;
    books.charges.flush()?;
    let planted = super::payouts::write(
        dir,
        START,
        &books.settled,
        &books.files.stripe_payouts,
        &books.files.bank,
    )?;
    books.files.planted.extend(planted);
    books.files.planted.sort();
    Ok(books.files)
}

fn money_text(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_decimal_string()
}

fn iso(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn stripe_date(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn day(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

impl Books {
    fn write_headers(&mut self) -> io::Result<()> {
        self.invoices.write_record([
            "invoice_number",
            "customer_id",
            "amount",
            "currency",
            "issued_at",
            "due_at",
            "status",
            "order_ref",
            "plan",
        ])?;
        self.payments.write_record([
            "payment_id",
            "invoice_number",
            "kind",
            "amount",
            "currency",
            "recorded_at",
            "gateway_id",
        ])?;
        self.charges.write_record(STRIPE_HEADER)?;
        Ok(())
    }

    fn rounds_done(&self) -> usize {
        self.files
            .planted
            .iter()
            .filter(|p| p.kind == "missing_charge")
            .count()
    }

    fn new_customer(&mut self) -> usize {
        let (currency, plan) = match self.rng.random_range(0..10) {
            0..=3 => (
                "USD",
                [2900, 4900, 9900, 19900][self.rng.random_range(0..4)],
            ),
            4..=5 => ("EUR", [1900, 4500, 8900][self.rng.random_range(0..3)]),
            6 => ("GBP", [2500, 7500][self.rng.random_range(0..2)]),
            7..=8 => ("JPY", [3000, 5500, 12000][self.rng.random_range(0..3)]),
            _ => ("KWD", [12_500, 37_750][self.rng.random_range(0..2)]),
        };
        let id = gateway_id(&mut self.rng, "cus_", 14);
        let email = format!("billing+{}@example.com", &id[4..12].to_ascii_lowercase());
        self.customers.push(Customer {
            id,
            email,
            currency: Currency::from_code(currency).expect("ISO code"),
            plan,
            billing_second: self.rng.random_range(0..27 * DAY),
        });
        self.customers.len() - 1
    }

    fn invoice(
        &mut self,
        customer: usize,
        amount: i64,
        issued: i64,
        paid: bool,
        order_ref: Option<&str>,
    ) -> io::Result<String> {
        self.next_invoice += 1;
        let number = format!("INV-2026-{:07}", self.next_invoice);
        let c = &self.customers[customer];
        self.invoices.write_record([
            number.as_str(),
            c.id.as_str(),
            &money_text(amount, c.currency),
            &c.currency.lower().to_ascii_uppercase(),
            &iso(issued),
            &day(issued + 14 * DAY),
            if paid { "paid" } else { "open" },
            order_ref.unwrap_or(""),
            "monthly",
        ])?;
        self.files.invoice_rows += 1;
        Ok(number)
    }

    fn payment(
        &mut self,
        invoice: &str,
        customer: usize,
        kind: &str,
        amount: i64,
        at: i64,
        gateway: Option<&str>,
    ) -> io::Result<String> {
        self.next_payment += 1;
        let id = format!("pay_{:08}", self.next_payment);
        let currency = self.customers[customer].currency;
        self.payments.write_record([
            id.as_str(),
            invoice,
            kind,
            &money_text(amount, currency),
            currency.code(),
            &iso(at),
            gateway.unwrap_or(""),
        ])?;
        self.files.payment_rows += 1;
        Ok(id)
    }

    fn charge(&mut self, row: ChargeRow) -> io::Result<ChargeRow> {
        let c = &self.customers[row.customer];
        let currency = c.currency;
        let fee = if row.succeeded {
            row.amount * 29 / 1000 + if currency.exponent() == 0 { 0 } else { 30 }
        } else {
            0
        };
        if row.succeeded {
            self.settled.add(
                currency,
                (row.created - START).div_euclid(7 * DAY),
                row.amount - row.refunded - fee,
            );
        }
        if let Some(chargeback) = &row.dispute {
            // The week's payout carries the withdrawal (won back, nothing here yet).
            self.settled.add(
                currency,
                (chargeback.at - START).div_euclid(7 * DAY),
                -(row.amount + CHARGEBACK_FEE_MINOR),
            );
        }
        let dispute_cells = match &row.dispute {
            None => Default::default(),
            Some(d) => [
                money_text(row.amount, currency),
                d.status.to_string(),
                d.reason.to_string(),
                stripe_date(d.at),
                stripe_date(d.at + 8 * DAY),
            ],
        };
        let status = match (row.succeeded, row.refunded) {
            (false, _) => "Failed",
            (true, _) if row.dispute.is_some() => "Disputed",
            (true, 0) => "Paid",
            (true, r) if r == row.amount => "Refunded",
            (true, _) => "Partially Refunded",
        };
        let seller_message = if row.succeeded {
            "Payment complete."
        } else {
            "The bank did not return any further details with this decline."
        };
        let amount = money_text(row.amount, currency);
        let refunded = money_text(row.refunded, currency);
        let description = row
            .invoice_ref
            .as_ref()
            .map(|n| format!("Invoice {n}"))
            .unwrap_or_else(|| "Subscription payment".into());
        let last4 = format!("{:04}", self.rng.random_range(0..10_000));
        let card = gateway_id(&mut self.rng, "card_", 24);
        let c = &self.customers[row.customer];
        self.charges.write_record([
            row.id.as_str(),
            &description,
            seller_message,
            &stripe_date(row.created),
            &amount,
            &refunded,
            &currency.lower(),
            &amount,
            &refunded,
            &money_text(fee, currency),
            "0",
            &currency.lower(),
            "Live",
            status,
            "CHARGEGUARD DEMO",
            c.id.as_str(),
            "",
            c.email.as_str(),
            if row.succeeded { "true" } else { "false" },
            &card,
            &last4,
            "Visa",
            "credit",
            "12",
            "2029",
            "US",
            &dispute_cells[0],
            &dispute_cells[1],
            &dispute_cells[2],
            &dispute_cells[3],
            &dispute_cells[4],
            "",
            "",
            row.payment_intent.as_str(),
            row.invoice_ref.as_deref().unwrap_or(""),
            "",
        ])?;
        self.files.charge_rows += 1;
        Ok(row)
    }

    fn new_charge(
        &mut self,
        customer: usize,
        amount: i64,
        created: i64,
        invoice_ref: Option<&str>,
    ) -> ChargeRow {
        ChargeRow {
            id: gateway_id(&mut self.rng, "ch_3P", 22),
            payment_intent: gateway_id(&mut self.rng, "pi_3P", 22),
            customer,
            amount,
            refunded: 0,
            created,
            succeeded: true,
            invoice_ref: invoice_ref.map(str::to_string),
            dispute: None,
        }
    }

    fn plant(
        &mut self,
        kind: &'static str,
        invoice: Option<&str>,
        charges: &[&str],
        amount: i64,
        customer: usize,
        confidence: &'static str,
    ) {
        let mut charge_ids: Vec<String> = charges.iter().map(|c| c.to_string()).collect();
        charge_ids.sort();
        self.files.planted.push(PlantedFinding {
            kind,
            invoice_number: invoice.map(str::to_string),
            charge_ids,
            amount_minor: amount,
            currency: self.customers[customer].currency.lower(),
            confidence,
        });
    }

    /// One month of one customer's plan, paid (or not) in one of the ordinary ways.
    fn clean_invoice(&mut self, customer: usize, month: i64) -> io::Result<()> {
        let issued = START + month * 30 * DAY + self.customers[customer].billing_second;
        let one_off = self.rng.random_range(0..10) == 0;
        let amount = if one_off {
            self.customers[customer].plan * self.rng.random_range(2..5) / 2
        } else {
            self.customers[customer].plan
        };
        let charged = issued + self.rng.random_range(5..300);
        let recorded = charged + self.rng.random_range(1..30);
        match self.rng.random_range(0..100) {
            // Charged with the invoice number in metadata, recorded by charge id.
            0..=54 => {
                let inv = self.invoice(customer, amount, issued, true, None)?;
                let ch = self.new_charge(customer, amount, charged, Some(&inv));
                let ch = self.charge(ch)?;
                self.payment(&inv, customer, "payment", amount, recorded, Some(&ch.id))?;
            }
            // Recorded by payment intent id, as many invoicing apps store it.
            55..=64 => {
                let inv = self.invoice(customer, amount, issued, true, None)?;
                let ch = self.new_charge(customer, amount, charged, Some(&inv));
                let ch = self.charge(ch)?;
                let pi = ch.payment_intent.clone();
                self.payment(&inv, customer, "payment", amount, recorded, Some(&pi))?;
            }
            // No metadata at the gateway; the ledger's charge id is the only link.
            65..=71 => {
                let inv = self.invoice(customer, amount, issued, true, None)?;
                let ch = self.new_charge(customer, amount, charged, None);
                let ch = self.charge(ch)?;
                self.payment(&inv, customer, "payment", amount, recorded, Some(&ch.id))?;
            }
            // Paid in two partial charges that add up.
            72..=76 => {
                let inv = self.invoice(customer, amount, issued, true, None)?;
                let first = amount / 2;
                for (part, at) in [(first, charged), (amount - first, charged + 3 * DAY)] {
                    let ch = self.new_charge(customer, part, at, Some(&inv));
                    let ch = self.charge(ch)?;
                    self.payment(&inv, customer, "payment", part, at + 9, Some(&ch.id))?;
                }
            }
            // Declined first, succeeded on the retry.
            77..=81 => {
                let inv = self.invoice(customer, amount, issued, true, None)?;
                let mut declined = self.new_charge(customer, amount, charged, Some(&inv));
                declined.succeeded = false;
                self.charge(declined)?;
                let ch = self.new_charge(customer, amount, charged + DAY, Some(&inv));
                let ch = self.charge(ch)?;
                self.payment(
                    &inv,
                    customer,
                    "payment",
                    amount,
                    ch.created + 7,
                    Some(&ch.id),
                )?;
            }
            // Paid by bank transfer: the gateway never sees it.
            82..=86 => {
                let inv = self.invoice(customer, amount, issued, true, None)?;
                self.payment(&inv, customer, "payment", amount, recorded + 2 * DAY, None)?;
            }
            // Refunded in full, and the ledger knows.
            87..=89 => {
                let inv = self.invoice(customer, amount, issued, false, None)?;
                let mut ch = self.new_charge(customer, amount, charged, Some(&inv));
                ch.refunded = amount;
                let ch = self.charge(ch)?;
                self.payment(&inv, customer, "payment", amount, recorded, Some(&ch.id))?;
                self.payment(
                    &inv,
                    customer,
                    "refund",
                    amount,
                    recorded + DAY,
                    Some(&ch.id),
                )?;
            }
            // Charged twice, but support already refunded the extra charge in full.
            90..=91 => {
                let inv = self.invoice(customer, amount, issued, true, None)?;
                let ch = self.new_charge(customer, amount, charged, Some(&inv));
                let ch = self.charge(ch)?;
                self.payment(&inv, customer, "payment", amount, recorded, Some(&ch.id))?;
                let mut extra = self.new_charge(customer, amount, charged + 40, Some(&inv));
                extra.refunded = amount;
                self.charge(extra)?;
            }
            // Issued, not charged yet.
            _ => {
                self.invoice(customer, amount, issued, false, None)?;
            }
        }
        Ok(())
    }

    /// One of every incident, each on a fresh customer.
    fn incident_round(&mut self) -> io::Result<()> {
        let when = |books: &mut Books| START + books.rng.random_range(0..70 * DAY);

        // Someone refreshed the page: charged twice, the ledger recorded the first.
        let c = self.new_customer();
        let (amount, issued) = (self.customers[c].plan, when(self));
        let inv = self.invoice(c, amount, issued, true, None)?;
        let a = self.new_charge(c, amount, issued + 30, Some(&inv));
        let a = self.charge(a)?;
        let b = self.new_charge(c, amount, issued + 34, Some(&inv));
        let b = self.charge(b)?;
        self.payment(&inv, c, "payment", amount, issued + 40, Some(&a.id))?;
        self.plant("double_charge", Some(&inv), &[&b.id], amount, c, "exact");

        // The database died after the charge; the next run charged again and recorded that.
        let c = self.new_customer();
        let (amount, issued) = (self.customers[c].plan, when(self));
        let inv = self.invoice(c, amount, issued, true, None)?;
        let lost = self.new_charge(c, amount, issued + 60, Some(&inv));
        let lost = self.charge(lost)?;
        let again = self.new_charge(c, amount, issued + DAY + 60, Some(&inv));
        let again = self.charge(again)?;
        self.payment(
            &inv,
            c,
            "payment",
            amount,
            issued + DAY + 70,
            Some(&again.id),
        )?;
        self.plant("double_charge", Some(&inv), &[&lost.id], amount, c, "exact");

        // The database died after the charge, and nothing has run since: an orphan.
        let c = self.new_customer();
        let (amount, issued) = (self.customers[c].plan, when(self));
        let inv = self.invoice(c, amount, issued, false, None)?;
        let orphan = self.new_charge(c, amount, issued + 45, Some(&inv));
        let orphan = self.charge(orphan)?;
        self.plant(
            "orphan_charge",
            Some(&inv),
            &[&orphan.id],
            amount,
            c,
            "exact",
        );

        // The ledger records a charge the gateway never made.
        let c = self.new_customer();
        let (amount, issued) = (self.customers[c].plan, when(self));
        let inv = self.invoice(c, amount, issued, true, None)?;
        let ghost = gateway_id(&mut self.rng, "ch_3P", 22);
        self.payment(&inv, c, "payment", amount, issued + 50, Some(&ghost))?;
        self.plant("missing_charge", Some(&inv), &[&ghost], amount, c, "exact");

        // The ledger recorded another amount than the gateway charged: one unit less, a
        // slip of the keyboard (an accounting system takes no payment above what is owed,
        // so the slip that reaches its books is the short one).
        let c = self.new_customer();
        let (amount, issued) = (self.customers[c].plan, when(self));
        let inv = self.invoice(c, amount, issued, true, None)?;
        let ch = self.new_charge(c, amount, issued + 20, Some(&inv));
        let ch = self.charge(ch)?;
        let step = 10i64.pow(self.customers[c].currency.exponent());
        self.payment(&inv, c, "payment", amount - step, issued + 25, Some(&ch.id))?;
        self.plant("amount_mismatch", Some(&inv), &[&ch.id], step, c, "exact");

        // Support refunded part of a charge at the gateway; the ledger never heard.
        let c = self.new_customer();
        let (amount, issued) = (self.customers[c].plan, when(self));
        let inv = self.invoice(c, amount, issued, true, None)?;
        let mut ch = self.new_charge(c, amount, issued + 20, Some(&inv));
        ch.refunded = amount / 4;
        let ch = self.charge(ch)?;
        self.payment(&inv, c, "payment", amount, issued + 25, Some(&ch.id))?;
        self.plant(
            "unrecorded_refund",
            Some(&inv),
            &[&ch.id],
            amount / 4,
            c,
            "exact",
        );

        // One order invoiced twice, both invoices charged and recorded.
        let c = self.new_customer();
        let (amount, issued) = (self.customers[c].plan, when(self));
        self.next_order += 1;
        let order = format!("ORD-{:06}", self.next_order);
        let first = self.invoice(c, amount, issued, true, Some(&order))?;
        let second = self.invoice(c, amount, issued + 120, true, Some(&order))?;
        for (inv, at) in [(&first, issued + 30), (&second, issued + 150)] {
            let ch = self.new_charge(c, amount, at, Some(inv));
            let ch = self.charge(ch)?;
            self.payment(inv, c, "payment", amount, at + 5, Some(&ch.id))?;
            if inv == &second {
                self.plant(
                    "duplicate_invoice",
                    Some(&second),
                    &[&ch.id],
                    amount,
                    c,
                    "exact",
                );
            }
        }

        // A charge with no invoice reference that nobody recorded, next to an open
        // invoice of the same customer and amount: probably that invoice's, not certainly.
        let c = self.new_customer();
        let (amount, issued) = (self.customers[c].plan, when(self));
        let inv = self.invoice(c, amount, issued, false, None)?;
        let ch = self.new_charge(c, amount, issued + 600, None);
        let ch = self.charge(ch)?;
        self.plant(
            "orphan_charge",
            Some(&inv),
            &[&ch.id],
            amount,
            c,
            "heuristic",
        );
        Ok(())
    }

    /// Cards declined and nobody has tried again: unpaid invoices waiting for a re-charge
    /// by hand. A failed attempt carries no money, so these are never findings. Last in
    /// the file, so the random draws of everything before stay as they were.
    fn declined_not_retried(&mut self) -> io::Result<()> {
        for (issued_day, declines) in [(40, 1), (55, 2)] {
            let c = self.new_customer();
            let amount = self.customers[c].plan;
            let issued = START + issued_day * DAY + 3_600;
            let inv = self.invoice(c, amount, issued, false, None)?;
            for attempt in 0..declines {
                let mut declined =
                    self.new_charge(c, amount, issued + 120 + attempt * 3 * DAY, Some(&inv));
                declined.succeeded = false;
                self.charge(declined)?;
            }
        }
        Ok(())
    }

    /// Two chargebacks on invoices the ledger records as paid, stated by the export's
    /// dispute columns: one the customer's bank still weighs, one lost. In USD, where
    /// Stripe's 15.00 fee is the sandbox's. Last in the file, after every other draw.
    fn chargebacks(&mut self) -> io::Result<()> {
        let usd = Currency::from_code("USD").expect("ISO code");
        for (status, reason, kind, issued_day) in [
            (
                "needs_response",
                "product_not_received",
                "dispute_invoice_still_paid",
                48,
            ),
            ("lost", "fraudulent", "dispute_lost_unrecorded", 12),
        ] {
            let c = self.new_customer();
            self.customers[c].currency = usd;
            self.customers[c].plan = 9_900;
            let (amount, issued) = (self.customers[c].plan, START + issued_day * DAY + 7_200);
            let inv = self.invoice(c, amount, issued, true, None)?;
            let mut ch = self.new_charge(c, amount, issued + 90, Some(&inv));
            ch.dispute = Some(Chargeback {
                status,
                reason,
                at: issued + 11 * DAY,
            });
            let ch = self.charge(ch)?;
            self.payment(&inv, c, "payment", amount, issued + 95, Some(&ch.id))?;
            self.plant(kind, Some(&inv), &[&ch.id], amount, c, "exact");
        }
        Ok(())
    }

    /// A payment recorded after the export's last charge, and after `now`: not missing,
    /// just not synced (a sync covers the gateway up to the moment it runs, so a payment
    /// dated before that would be a real `missing_charge` once synced).
    fn not_yet_synced_payment(&mut self, now: i64) -> io::Result<()> {
        let c = self.new_customer();
        let amount = self.customers[c].plan;
        let issued = (START + (MONTHS * 30 + 5) * DAY).max(now + DAY);
        let inv = self.invoice(c, amount, issued, true, None)?;
        let charge = gateway_id(&mut self.rng, "ch_3P", 22);
        let id = self.payment(&inv, c, "payment", amount, issued + 40, Some(&charge))?;
        self.files.not_yet_synced.push(id);
        Ok(())
    }
}
