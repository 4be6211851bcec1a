//! Month-end through the real binary: closing and reopening a period, the audit package,
//! and its Stripe clearing account against the sandbox gateway.
//!
//! One test binary for the group, so the build links it once.

#[path = "../monthend_support/mod.rs"]
mod monthend_support;

mod clearing;
mod close;
mod package;
