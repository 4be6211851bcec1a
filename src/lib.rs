//! Chargeguard, as its programs and tests see it: the layers' crates under their old paths
//! (`chargeguard::store`, `chargeguard::actions`, `chargeguard::api`, …) and the one memory
//! allocator. Nothing is defined here; see `ARCHITECTURE.md` for the map and
//! `../shared/DESIGN.md` for the contract.

pub use chargeguard_api as api;
pub use chargeguard_core::{
    accounting, accounting_sync, actions, audit, audit_trail, books, check, dates, demo, deposits,
    export, gateway, import, money, people, period, places, reconcile, records, sandbox, secret,
    store, sync,
};

/// The memory allocator every Chargeguard program uses (`#[global_allocator]` in each
/// binary names this one type, so the choice is made once). A million-row book is some
/// ten million short strings: mimalloc's size classes keep a 27-byte Stripe id in 32 bytes,
/// where glibc's malloc takes 48, which is a sixth of the books' memory.
pub use mimalloc::MiMalloc as Allocator;
