//! What a gateway sync needs from the store beyond the shared upserts: the fields of a
//! stored charge that only a CSV export knows (fee, customer e-mail, extra columns), so a
//! sync that lacks them keeps them instead of blanking them; and removing a setting once a
//! sync window is finished.

use rusqlite::OptionalExtension;

use super::{StoreError, StoreTx};

/// The export-only fields of a stored charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChargeExtras {
    pub fee_minor: Option<i64>,
    pub customer_email: Option<String>,
    /// The row's extra columns: its column set and values (see [`super::ExtraColumns`]).
    pub extra_columns: Option<i64>,
    pub extra: String,
}

impl StoredChargeExtras {
    pub fn extra(&self) -> super::ExtraColumns<'_> {
        super::ExtraColumns {
            set: self.extra_columns,
            values: &self.extra,
        }
    }
}

impl StoreTx<'_> {
    /// The export-only fields of charge `charge_id` of `gateway`, if it is stored.
    pub fn stored_charge_extras(
        &self,
        gateway: &str,
        charge_id: &str,
    ) -> Result<Option<StoredChargeExtras>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT fee_minor, customer_email, extra_columns, extra FROM gateway_charges
                 WHERE gateway = ?1 AND charge_id = ?2",
            )?
            .query_row([gateway, charge_id], |r| {
                Ok(StoredChargeExtras {
                    fee_minor: r.get(0)?,
                    customer_email: r.get(1)?,
                    extra_columns: r.get(2)?,
                    extra: r.get(3)?,
                })
            })
            .optional()?)
    }

    /// Removes a setting (absent is fine).
    pub fn clear_setting(&self, key: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM settings WHERE key = ?1", [key])?;
        Ok(())
    }
}
