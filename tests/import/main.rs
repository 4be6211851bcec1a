//! The importers end to end on real files and a real store: refusals, shipped layouts, mappings, real exports, re-imports and streaming.
//!
//! One test binary for the group, so the build links it once.

#[path = "../import_support/mod.rs"]
mod import_support;

mod bank;
mod errors;
mod layouts;
mod mapping;
mod real_layouts;
mod repeat;
mod streaming;
mod stripe_disputes;
mod stripe_reports;
