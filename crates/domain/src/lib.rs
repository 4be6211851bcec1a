//! Chargeguard's domain floor: the values every layer above speaks in, and nothing else.
//!
//! Money (integer minor units of one ISO 4217 currency), instants and the business's
//! dates, the records the books are made of (invoices, ledger entries, charges, refunds),
//! findings with their kinds, statuses and resolutions, the one lifecycle of an action and
//! its plan, a person's role, and the audit log's hash chain.
//!
//! It imports nothing of Chargeguard's and does no I/O: the store, the gateway and the
//! core build on it, never the other way round (`tests/layers.rs` in the root crate
//! checks the arrows).

pub mod audit;
pub mod dates;
pub mod evidence;
pub mod finding;
pub mod lifecycle;
pub mod money;
pub mod plan;
pub mod records;
pub mod role;

pub use evidence::Evidence;
pub use finding::{Confidence, Finding, FindingKind, FindingStatus, Resolution};
pub use lifecycle::{ActionKind, ActionState};
pub use money::{Currency, Money};
pub use plan::{Adjustment, AdjustmentKind, Plan};
pub use role::Role;
