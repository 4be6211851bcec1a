//! Stripe, through its REST API: the client, its wire types, its retry policy and errors.
//!
//! `client` sends; `wire` holds Stripe's JSON and the one conversion into the core's
//! records; `retry` decides whether and when to try again; `error` names what went wrong;
//! `form` builds Stripe's bracket-nested parameters. The same code talks to the sandbox
//! gateway: only the API base differs.

pub mod client;
pub mod error;
pub mod form;
pub mod retry;
pub mod wire;

pub use client::{
    IDEMPOTENCY_METADATA_KEY, ListParams, Listed, ListedRecord, NewPaymentIntent, NewRefund, Pages,
    PreparedCreate, RecordPage, STRIPE_API_BASE, STRIPE_VERSION, StripeClient, metadata_query,
};
pub use error::StripeError;
pub use retry::{AttemptOutcome, RetryDecision, RetryPolicy};
pub use wire::{DisputeMoves, INVOICE_METADATA_KEY, Intent, IntentStatus};
