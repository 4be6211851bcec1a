//! Guarded actions: refunds, re-charges and ledger fixes, each through one intent journal
//! and one lifecycle (see `lifecycle`), so that nothing is charged or refunded twice —
//! not after a crash, a timeout, a double click or a second window.
//!
//! Rules this module keeps (DESIGN.md): the idempotency key is derived from what the action
//! is about and written before any byte leaves; every retry reuses it; one open action per
//! invoice and per charge; guards read the gateway, not only the store; `unknown` is
//! decided only by recovery; approvals are recorded; every state change is audited in the
//! same transaction.

pub mod key;
mod lifecycle;

pub use lifecycle::ActionState;
