//! The demo books: a seeded generator of realistic invoices, ledger and Stripe export
//! files with every kind of incident DESIGN.md names, and every case that must *not* be
//! flagged, in several currencies.
//!
//! It writes the three CSV files in their default layouts, Stripe's payouts export and a
//! bank statement (so the demo goes through the real importers) and returns, beside them, the findings a correct reconciliation must
//! report — the answer key the demo, the tests and the benchmarks check against. It
//! streams: a million invoices never sit in memory at once. Same seed, same bytes.
//!
//! It must never decide what a finding is: it only states which incidents it planted.

mod books;
mod ids;
mod payouts;
pub mod sandbox;
mod store;
pub mod xero;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use books::generate;
pub use store::{
    DemoBuilt, DemoError, Ledger, Prepared, build, build_on_sandbox, finish, is_built, is_demo,
    is_demo_or_empty, prepare,
};

/// The store setting that marks a store as the demo's: `chargeguard demo` refuses to
/// write into a store without it (real books), and the windows show a "Demo data" banner.
pub const DEMO_STORE_SETTING: &str = "demo_store";

/// The demo's two approvers and their passphrases, stated on the demo's banner so that a
/// newcomer can approve (twice, above the threshold) without visiting Settings first. Only
/// a demo store has them; their passphrases are no secret.
pub const DEMO_APPROVERS: [(&str, &str); 2] = [
    ("ada", "ada-demo-passphrase"),
    ("ben", "ben-demo-passphrase"),
];

/// The time zone the demo's books are kept in (its months are read in it).
pub const DEMO_TIME_ZONE: &str = "UTC";

/// How much to generate.
#[derive(Debug, Clone, Copy)]
pub struct DemoSpec {
    pub seed: u64,
    /// Invoices in the clean part of the books.
    pub invoices: usize,
    /// One incident of each kind for every this many clean invoices (at least one each).
    pub invoices_per_incident_round: usize,
    /// Plant two chargebacks (the benchmarks' books have none: their peer has no
    /// disputes to compare).
    pub chargebacks: bool,
}

impl DemoSpec {
    /// The small, readable demo: a few hundred invoices, two of every incident.
    pub fn demo() -> DemoSpec {
        DemoSpec {
            seed: 202_610,
            invoices: 240,
            invoices_per_incident_round: 120,
            chargebacks: true,
        }
    }

    /// Books at scale for benchmarks: `invoices` invoices, an incident round per 1,000.
    pub fn scale(invoices: usize) -> DemoSpec {
        DemoSpec {
            seed: 7,
            invoices,
            invoices_per_incident_round: 1_000,
            chargebacks: false,
        }
    }
}

/// A finding the generator planted, as `findings --json` must report it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PlantedFinding {
    pub kind: &'static str,
    pub invoice_number: Option<String>,
    pub charge_ids: Vec<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub confidence: &'static str,
}

impl From<&crate::store::StoredFinding> for PlantedFinding {
    fn from(f: &crate::store::StoredFinding) -> Self {
        let mut charge_ids = f.charge_ids.clone();
        charge_ids.sort();
        PlantedFinding {
            kind: f.kind.as_str(),
            invoice_number: f.invoice_number.clone(),
            charge_ids,
            amount_minor: f.amount.minor(),
            currency: f.amount.currency().lower(),
            confidence: f.confidence.as_str(),
        }
    }
}

/// What was written, and what a correct reconciliation finds in it.
#[derive(Debug, Clone, Serialize)]
pub struct DemoFiles {
    pub invoices: PathBuf,
    pub payments: PathBuf,
    pub stripe_payments: PathBuf,
    /// Stripe's payouts export of the charges' money, week by week.
    pub stripe_payouts: PathBuf,
    /// The business's bank statement (OFX) with the payouts' deposits.
    pub bank: PathBuf,
    pub invoice_rows: u64,
    pub payment_rows: u64,
    pub charge_rows: u64,
    /// Ledger payments dated after the export's last charge: "not yet synced".
    pub not_yet_synced: Vec<String>,
    pub planted: Vec<PlantedFinding>,
}

impl DemoFiles {
    pub fn paths_in(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        (
            dir.join("invoices.csv"),
            dir.join("payments.csv"),
            dir.join("unified_payments.csv"),
        )
    }
}
