//! Where a sync stands, per object kind, kept in the store's settings so a sync that was
//! killed resumes exactly where it stopped.
//!
//! Two facts per kind: the *cursor*, the `created` instant below which everything has been
//! synced (the upper bound of the last finished window), and the *open window*, the
//! `created[gte, lt)` range being listed right now with the last object id already stored.
//! Stripe lists newest first, so until a window is finished nothing can be said about its
//! lower part; the cursor moves only when the whole window is in, in the same transaction
//! as its last page.

use serde::{Deserialize, Serialize};

use super::SyncError;
use crate::store::StoreTx;

/// How far back each sync re-reads below the cursor, so an object committed at the gateway
/// just after the previous window closed (created before its end, visible after) is not
/// missed. Re-read objects are upserted unchanged.
pub const OVERLAP_SECONDS: i64 = 300;

/// The object kinds a sync pulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Charge,
    Refund,
    Payout,
    BalanceTransaction,
    Dispute,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Charge => "charge",
            ObjectKind::Refund => "refund",
            ObjectKind::Payout => "payout",
            ObjectKind::BalanceTransaction => "balance_transaction",
            ObjectKind::Dispute => "dispute",
        }
    }

    fn cursor_key(self) -> String {
        format!("sync.stripe.{}.synced_before", self.as_str())
    }

    fn window_key(self) -> String {
        format!("sync.stripe.{}.open_window", self.as_str())
    }
}

/// A `created[gte, lt)` window being listed, and how far the listing got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWindow {
    pub gte: Option<i64>,
    pub lt: i64,
    /// The last object stored (the next page starts after it).
    pub starting_after: Option<String>,
}

/// The cursor of `kind`: everything created before it is stored.
pub fn cursor(tx: &StoreTx<'_>, kind: ObjectKind) -> Result<Option<i64>, SyncError> {
    let key = kind.cursor_key();
    tx.setting(&key)?
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| SyncError::CorruptState { key, value: v })
        })
        .transpose()
}

pub fn open_window(tx: &StoreTx<'_>, kind: ObjectKind) -> Result<Option<OpenWindow>, SyncError> {
    let key = kind.window_key();
    tx.setting(&key)?
        .map(|v| serde_json::from_str(&v).map_err(|_| SyncError::CorruptState { key, value: v }))
        .transpose()
}

pub fn save_window(
    tx: &StoreTx<'_>,
    kind: ObjectKind,
    window: &OpenWindow,
) -> Result<(), SyncError> {
    let json = serde_json::to_string(window).map_err(|e| SyncError::CorruptState {
        key: kind.window_key(),
        value: e.to_string(),
    })?;
    tx.set_setting(&kind.window_key(), &json)?;
    Ok(())
}

/// Closes the window: the cursor moves to its end.
pub fn finish_window(
    tx: &StoreTx<'_>,
    kind: ObjectKind,
    window: &OpenWindow,
) -> Result<(), SyncError> {
    tx.set_setting(&kind.cursor_key(), &window.lt.to_string())?;
    tx.clear_setting(&kind.window_key())?;
    Ok(())
}

/// The window a new sync lists: from the cursor less the overlap (from the beginning when
/// there is no cursor) up to `now`.
pub fn next_window(cursor: Option<i64>, now: i64) -> Option<OpenWindow> {
    let gte = cursor.map(|c| c - OVERLAP_SECONDS);
    if gte.is_some_and(|g| g >= now) {
        // The clock went back past the cursor: nothing new can be asked for.
        return None;
    }
    Some(OpenWindow {
        gte,
        lt: now,
        starting_after: None,
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::first_sync_reads_everything(None, 10_000, Some((None, 10_000)))]
    #[case::later_sync_reads_from_cursor_less_overlap(Some(9_000), 10_000, Some((Some(8_700), 10_000)))]
    #[case::clock_went_back(Some(20_000), 10_000, None)]
    fn the_next_window(
        #[case] cursor: Option<i64>,
        #[case] now: i64,
        #[case] expected: Option<(Option<i64>, i64)>,
    ) {
        assert_eq!(next_window(cursor, now).map(|w| (w.gte, w.lt)), expected);
    }
}
