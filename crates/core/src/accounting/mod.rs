//! What the accounting systems' objects mean as Chargeguard's records (issue 19's sync
//! in): pure functions from a system's JSON to invoices and ledger entries, so reconcile
//! reads books synced from QuickBooks as it reads them imported from CSV. They never call
//! a system and never write the store.

pub mod qbo;
pub mod xero;
