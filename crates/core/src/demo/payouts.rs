//! The demo's money on its way to the bank: a payout per currency per week of what the
//! demo's charges settled (less the fees the export states), written as Stripe's payouts
//! export, and the business's bank statement (OFX, a US-dollar and a euro account) with a
//! deposit for each — except the incidents it plants: a dollar payout that never arrived,
//! one the bank paid short by its wire fee, and a euro "Stripe transfer" no payout
//! explains. Other currencies have no bank account in the demo: their payouts are shown as
//! not yet in the bank.
//!
//! It only writes files and states what it planted; it never decides a finding.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use jiff::Timestamp;

use super::PlantedFinding;
use crate::money::{Currency, Money};

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// What the charges settled, per currency code and week since the books' start.
#[derive(Debug, Default)]
pub struct Settled {
    by_week: BTreeMap<(&'static str, i64), i64>,
}

impl Settled {
    /// Notes a succeeded charge's net (amount less refunds and fee) on its week.
    pub fn add(&mut self, currency: Currency, week: i64, net: i64) {
        *self.by_week.entry((currency.code(), week)).or_default() += net;
    }
}

/// The Dashboard payouts export's header (`import stripe` reads it by name).
const PAYOUTS_HEADER: &[&str] = &[
    "id",
    "Amount",
    "Created (UTC)",
    "Currency",
    "Livemode",
    "Arrival Date (UTC)",
    "Source Type",
    "Destination",
    "Status",
    "Type",
    "Method",
    "Description",
    "Balance Transaction",
    "Failure Balance Transaction",
    "Failure Message",
    "Failure Code",
    "Statement Descriptor",
    "Trace ID",
    "Trace ID Status",
    "Destination Name",
    "Destination Country",
    "Destination Last 4",
];

/// The demo's two bank accounts, as their statements name them (bank id, account id).
const ACCOUNTS: [(&str, &str, &str); 2] = [
    ("USD", "021000021", "4451"),
    ("EUR", "DEUTDEFF", "DE89370400440532013000"),
];

/// The wire fee the bank took off one dollar deposit.
const WIRE_FEE: i64 = 150;

struct DemoPayout {
    id: String,
    /// What its ids share with its balance transaction and its deposit.
    suffix: String,
    currency: Currency,
    amount: i64,
    created: i64,
    arrival: i64,
}

/// Writes `stripe_payouts.csv` and `bank.ofx` into `dir` for the weeks `settled` holds
/// (books starting at `start`, in seconds), and returns the findings they plant.
pub fn write(
    dir: &Path,
    start: i64,
    settled: &Settled,
    payouts_csv: &Path,
    bank_ofx: &Path,
) -> io::Result<Vec<PlantedFinding>> {
    let payouts: Vec<DemoPayout> = settled
        .by_week
        .iter()
        .filter(|(_, net)| **net > 0)
        .enumerate()
        .map(|(n, ((code, week), net))| {
            let created = start + (week + 1) * WEEK + 3_600;
            DemoPayout {
                id: format!("po_1DemoPayout{n:014}"),
                suffix: format!("{n:014}"),
                currency: Currency::from_code(code).expect("the demo's currencies are ISO 4217"),
                amount: *net,
                created,
                arrival: (created / DAY + 2) * DAY,
            }
        })
        .collect();
    std::fs::create_dir_all(dir)?;
    let mut csv = csv::Writer::from_path(payouts_csv)?;
    csv.write_record(PAYOUTS_HEADER)?;
    for p in &payouts {
        csv.write_record([
            p.id.as_str(),
            &Money::from_minor(p.amount, p.currency).to_decimal_string(),
            &stripe_minute(p.created),
            &p.currency.lower(),
            "true",
            &stripe_minute(p.arrival),
            "card",
            "ba_1DemoBankAccount000000",
            "paid",
            "bank_account",
            "standard",
            "STRIPE PAYOUT",
            &format!("txn_1DemoPayout{}", p.suffix),
            "",
            "",
            "",
            "CHARGEGUARD DEMO",
            "",
            "supported",
            "DEMO BANK, NA",
            "US",
            "4451",
        ])?;
    }
    csv.flush()?;

    let mut planted = Vec::new();
    let mut statements = String::new();
    for (code, bank, account) in ACCOUNTS {
        let currency = Currency::from_code(code).expect("ISO 4217");
        let ours: Vec<&DemoPayout> = payouts.iter().filter(|p| p.currency == currency).collect();
        let Some(last) = ours.last() else { continue };
        // The statement runs from the books' start to well past the last payout's window.
        let (from, to) = (start, last.arrival + 14 * DAY);
        let mut lines = Vec::new();
        for (i, p) in ours.iter().enumerate() {
            // The third dollar payout never reached the bank; the fifth arrived short by
            // the bank's wire fee, a day late.
            if code == "USD" && i == 2 {
                planted.push(bank_plant(
                    "payout_missing_deposit",
                    p.amount,
                    currency,
                    "exact",
                ));
                continue;
            }
            let (amount, day) = if code == "USD" && i == 4 {
                planted.push(bank_plant(
                    "deposit_amount_differs",
                    WIRE_FEE,
                    currency,
                    "heuristic",
                ));
                (p.amount - WIRE_FEE, p.arrival + DAY)
            } else {
                (p.amount, p.arrival)
            };
            lines.push((
                format!("D{}", p.suffix),
                day,
                amount,
                "STRIPE TRANSFER ST-DEMO",
            ));
        }
        lines.push((
            format!("R{code}1"),
            start + 4 * DAY,
            -240_000,
            "RENT SEPTEMBER",
        ));
        lines.push((
            format!("W{code}1"),
            start + 20 * DAY,
            125_000,
            "WIRE FROM ACME LLC",
        ));
        if code == "EUR" {
            // A transfer from another Stripe account the business forgot it has.
            let amount = 25_000;
            lines.push((
                "XEUR1".into(),
                start + 45 * DAY,
                amount,
                "STRIPE TRANSFER ST-OTHER",
            ));
            planted.push(bank_plant(
                "deposit_without_payout",
                amount,
                currency,
                "heuristic",
            ));
        }
        lines.sort_by_key(|l| l.1);
        let _ = write!(
            statements,
            "<STMTTRNRS><TRNUID>{code}</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS><STMTRS><CURDEF>{code}</CURDEF><BANKACCTFROM><BANKID>{bank}</BANKID><ACCTID>{account}</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>\n<BANKTRANLIST><DTSTART>{}</DTSTART><DTEND>{}</DTEND>\n",
            ofx_day(from),
            ofx_day(to)
        );
        for (id, day, minor, name) in &lines {
            let _ = writeln!(
                statements,
                "<STMTTRN><TRNTYPE>{}</TRNTYPE><DTPOSTED>{}</DTPOSTED><TRNAMT>{}</TRNAMT><FITID>{id}</FITID><NAME>{name}</NAME></STMTTRN>",
                if *minor < 0 { "DEBIT" } else { "CREDIT" },
                ofx_day(*day),
                Money::from_minor(*minor, currency).to_decimal_string()
            );
        }
        statements.push_str("</BANKTRANLIST></STMTRS></STMTTRNRS>\n");
    }
    std::fs::write(
        bank_ofx,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?OFX OFXHEADER=\"200\" VERSION=\"220\" SECURITY=\"NONE\" OLDFILEUID=\"NONE\" NEWFILEUID=\"NONE\"?>\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS><DTSERVER>{}</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1>\n{statements}</BANKMSGSRSV1></OFX>\n",
            ofx_day(start + 100 * DAY)
        ),
    )?;
    Ok(planted)
}

fn bank_plant(
    kind: &'static str,
    amount_minor: i64,
    currency: Currency,
    confidence: &'static str,
) -> PlantedFinding {
    PlantedFinding {
        kind,
        invoice_number: None,
        charge_ids: Vec::new(),
        amount_minor,
        currency: currency.lower(),
        confidence,
    }
}

fn stripe_minute(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn ofx_day(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y%m%d").to_string())
        .unwrap_or_default()
}
