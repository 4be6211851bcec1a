//! Chargeguard's core: everything that is not a window.
//!
//! It pulls a payment gateway's charges and a business's invoices and payment ledger into
//! one store, reconciles them, and guards every action that moves money so that nothing is
//! ever charged or refunded twice. Each use-case here is the one both shells call (the CLI
//! and, through `chargeguard-api`, the windows); it never parses a shell's arguments nor
//! shapes a screen. See `ARCHITECTURE.md` for the map and `../shared/DESIGN.md` for the
//! contract.

pub use chargeguard_domain::{audit, dates, money, records};
pub use chargeguard_gateway::{books, gateway, loopback, sandbox, secret};
pub use chargeguard_store as store;

pub mod accounting;
pub mod accounting_sync;
pub mod actions;
pub mod audit_trail;
pub mod check;
pub mod demo;
pub mod deposits;
pub mod export;
pub mod import;
pub mod people;
pub mod period;
pub mod places;
pub mod reconcile;
pub mod sync;
