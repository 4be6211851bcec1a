//! A Xero stand-in, served by the sandbox beside Stripe and QuickBooks: Xero's identity
//! service (consent to every organisation, `/connections`, tokens for Basic, posted and
//! PKCE clients, rotation with its grace, revocation), the Accounting API's envelope,
//! Microsoft JSON dates and `ValidationException`s for contacts, sales invoices and their
//! payments (statuses from DRAFT to PAID, VOIDED and DELETED), `If-Modified-Since` and
//! paging, `Idempotency-Key` kept six minutes, lock dates, and its per-tenant limits with
//! their headers, with the sandbox's faults armed from outside. Written after
//! `docs/research/xero.md` and checked with xero-python, unchanged.
//!
//! Map: [`wire`] (envelope, dates, errors), [`books`] (an organisation's objects and the
//! rules that move them), [`oauth`] (grants, tokens, connections), [`state`] (its tables)
//! and `http` (routes and the order of a call). Credit notes, overpayments and
//! allocations are not kept yet.
//!
//! It must never answer a tenant a token's grant is not connected to.

pub mod books;
pub(crate) mod http;
pub mod oauth;
pub mod state;
pub mod wire;
