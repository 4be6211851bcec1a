//! The API the windows call, on the demo store made by the real binary and its sandbox: the morning, findings and fixes, month-end, imports and re-charges. (`api_settings` and `api_generated_types` are binaries of their own: the first may set the environment, the second is run alone to regenerate the TypeScript.)
//!
//! One test binary for the group, so the build links it once.

#[path = "../api_support/mod.rs"]
mod api_support;

mod closing;
mod demo_books;
mod import;
mod morning;
mod recharge;
