//! The sandbox gateway over real loopback HTTP: its Stripe API, fault injection, idempotency rules and the `sandbox serve` process.
//!
//! One test binary for the group, so the build links it once.

#[path = "../sandbox_support/mod.rs"]
mod sandbox_support;

mod api;
mod balance;
mod disputes;
mod faults;
mod fidelity;
mod idempotency;
mod process;
mod qbo;
mod qbo_client;
mod xero;
mod xero_client;
