//! Month-end through the real binary: closing and reopening a period, and the audit package.
//!
//! One test binary for the group, so the build links it once.

#[path = "../monthend_support/mod.rs"]
mod monthend_support;

mod close;
mod package;
