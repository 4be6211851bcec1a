//! Payment gateways, as seen from Chargeguard: clients that speak each gateway's own API.
//!
//! A gateway module owns its wire format and its transport (HTTP, retries, idempotency
//! keys) and hands the rest of the program the core's records (`records::Charge`,
//! `records::GatewayRefund`). It must never touch the store or decide what a finding is;
//! and nothing here sends a money-moving request without an idempotency key the caller
//! chose (the journal's), so a retry can never charge or refund twice.

pub mod stripe;
