//! Chargeguard's core: everything that is not a window.
//!
//! It pulls a payment gateway's charges and a business's invoices and payment ledger into
//! one SQLite store, reconciles them, and (in later modules) guards every action that
//! moves money so that nothing is ever charged or refunded twice. See `ARCHITECTURE.md`
//! for the map and `../shared/DESIGN.md` for the contract.

pub mod actions;
pub use chargeguard_domain::{audit, dates, money, records};
pub use chargeguard_gateway::{gateway, sandbox, secret};
pub use chargeguard_store as store;
pub mod api;
pub mod audit_trail;
pub mod check;
pub mod demo;
pub mod export;
pub mod import;
pub mod people;
pub mod period;
pub mod reconcile;
pub mod sync;

/// The memory allocator every Chargeguard program uses (`#[global_allocator]` in each
/// binary names this one type, so the choice is made once). A million-row book is some
/// ten million short strings: mimalloc's size classes keep a 27-byte Stripe id in 32 bytes,
/// where glibc's malloc takes 48, which is a sixth of the books' memory.
pub use mimalloc::MiMalloc as Allocator;
