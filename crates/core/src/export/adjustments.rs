//! The ledger fixes Chargeguard made, as a CSV the invoicing app can import back.
//!
//! One row per adjustment, oldest first, each carrying the idempotency key of the action
//! that made it in the `key` column: an app that keys its imports on it refuses the same
//! fix twice, as Chargeguard's own importers do. Amounts are decimals in the currency's
//! major unit (never floats), times ISO 8601 in UTC. The same store gives the same bytes.

use std::io::Write;

use crate::store::{Store, StoreError};

/// The columns, in order.
pub const HEADER: [&str; 9] = [
    "key",
    "action_id",
    "kind",
    "invoice_number",
    "payment_id",
    "gateway_id",
    "amount",
    "currency",
    "effective_at",
];

#[derive(Debug, thiserror::Error)]
pub enum AdjustmentsExportError {
    #[error("cannot write the adjustments CSV: {0}")]
    Write(#[from] csv::Error),
    #[error("cannot write the adjustments CSV: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes every adjustment to `out`; returns how many rows.
pub fn write_adjustments(
    store: &mut Store,
    out: impl Write,
) -> Result<u64, AdjustmentsExportError> {
    let adjustments = store.read(|tx| tx.adjustments())?;
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(HEADER)?;
    for stored in &adjustments {
        let a = &stored.adjustment;
        let effective = jiff::Timestamp::from_second(a.effective_at)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| a.effective_at.to_string());
        writer.write_record([
            stored.idempotency_key.as_str(),
            &stored.action_id.to_string(),
            a.kind.as_str(),
            a.invoice_number.as_str(),
            a.payment_id.as_deref().unwrap_or(""),
            a.gateway_id.as_deref().unwrap_or(""),
            &a.amount.to_decimal_string(),
            &a.amount.currency().lower(),
            &effective,
        ])?;
    }
    writer.flush()?;
    Ok(adjustments.len() as u64)
}
