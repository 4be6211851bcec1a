//! A QuickBooks Online stand-in, served by the sandbox beside Stripe: Intuit's OAuth 2.0
//! (discovery, consent, tokens, revocation), the Accounting API's JSON entities for the
//! objects Chargeguard reads and writes (customers, invoices, payments, credit memos,
//! refund receipts), its `query` language and change data capture, `requestid`
//! idempotency, `Fault` errors, the book close date (6210) and its throttle, with the
//! sandbox's faults armed from outside. Written after `docs/research/quickbooks-online.md`
//! and checked with python-quickbooks and intuit-oauth, unchanged.
//!
//! Map: [`wire`] (faults, times, amounts), [`query`] (the query language), [`books`] (a
//! company's objects and the rules that move them), [`oauth`] (grants and tokens),
//! [`state`] (its tables, the only SQL here) and `http` (routes and the order of a call).
//!
//! It must never accept a token it did not issue, nor answer a company a token was not
//! granted for.

pub mod books;
pub(crate) mod http;
pub mod oauth;
pub mod query;
pub mod state;
pub mod wire;
