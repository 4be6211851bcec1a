//! Chargeguard's gateways: everything that speaks a payment gateway's own API.
//!
//! - `gateway::stripe`: the Stripe client (its wire types apart from the records; one pure
//!   retry decision; the exact bytes a create sends).
//! - `sandbox`: Stripe's API subset over loopback HTTP, with its idempotency rules, fault
//!   injection and its own SQLite state, for the demo and the tests.
//! - `secret`: the secret key, which masks itself, and the OS keyring that keeps it.
//! - `books`: the accounting systems' clients (QuickBooks Online's tokens and reads).
//!
//! It stands on the domain floor (`chargeguard-domain`) and on nothing else of ours: it
//! never touches the store or decides what a finding is.
// The sandbox writes Stripe's objects, some of fifty fields, with one `json!` each.
#![recursion_limit = "256"]

// The floor's modules under their usual names, so `crate::money::Money` reads as it does
// everywhere else.
use chargeguard_domain::{money, records};

pub mod books;
pub mod gateway;
pub mod loopback;
pub mod sandbox;
pub mod secret;
