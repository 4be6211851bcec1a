//! Sync: pulls the gateway's charges, refunds, payouts (with the balance transactions each
//! automatic payout took to the bank), every balance transaction, and disputes (with what
//! each moved in the balance) into the store, and `connect`, which checks a key against the gateway before keeping it.
//!
//! A sync writes into the same tables a CSV import fills, keyed by Stripe's ids, so an
//! export followed by a sync is one row per charge. It is incremental (a cursor per object
//! kind, re-reading a short overlap), and resumable: every page is one transaction holding
//! its rows and the position after them, so a sync killed at any point resumes with nothing
//! lost and nothing doubled. It records charge coverage only for a window it listed to
//! the end.
//!
//! It must never move money, never write the secret key anywhere, and never decide what a
//! row means for the books (reconciliation does).

mod connect;
pub mod window;

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

pub use connect::{ACCOUNT_SETTING, API_BASE_SETTING, Connection, connect, connection};
pub use window::ObjectKind;

use crate::gateway::stripe::{DisputeMoves, ListParams, ListedRecord, StripeClient, StripeError};
use crate::import::thousands;
use crate::money::Money;
use crate::records::{
    BalanceTransaction, Charge, Coverage, GatewayRefund, Origin, Payout, PayoutStatus,
};
use crate::secret::SecretError;
use crate::store::{
    ExtraColumns, SourceCounts, SourceKind, Store, StoreError, StoreTx, UpsertOutcome,
};
use window::OpenWindow;

/// The gateway name rows from Stripe carry in the store (the CSV export uses the same).
pub const GATEWAY: &str = "stripe";

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Gateway(#[from] StripeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(
        "this store is not connected to a gateway; run `chargeguard connect --api-base URL` first"
    )]
    NotConnected,
    #[error(
        "the sync position {key} in the store is unreadable ({value}); remove that setting to sync again from the start"
    )]
    CorruptState { key: String, value: String },
}

/// How a sync is going, reported after each committed page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SyncProgress {
    pub kind: ObjectKind,
    /// Pages committed so far for this kind.
    pub pages: u64,
    pub fetched: u64,
    pub new: u64,
    pub changed: u64,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub charges: SourceCounts,
    pub refunds: SourceCounts,
    pub payouts: SourceCounts,
    pub balance_transactions: SourceCounts,
    pub disputes: SourceCounts,
    /// Payouts and disputes the store follows that the gateway answered it does not know
    /// (another account's key, test data deleted): left as they were, named here, and
    /// looked for again next time, rather than stopping the sync.
    pub not_found: Vec<String>,
    /// The charge windows now covered (every charge created in them is stored).
    pub covered: Vec<Coverage>,
    /// Currencies whose stored balance transactions do not add up to Stripe's balance:
    /// a transaction the store lacks (or holds twice). Stripe's balance never disagrees
    /// with its own transactions, so this checks the sync itself.
    pub balance_differs: Vec<BalanceDifference>,
}

/// One currency's balance at Stripe beside what the stored transactions add up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceDifference {
    /// Available and pending at Stripe, less what was created after the sync's instant.
    pub gateway: Money,
    pub stored: Money,
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        write!(
            f,
            "{} new charges, {} new refunds, {} changed, {} unchanged",
            thousands(self.charges.new),
            thousands(self.refunds.new),
            thousands(total.changed),
            thousands(total.unchanged),
        )?;
        if self.payouts != SourceCounts::default() {
            write!(
                f,
                "; {} new payouts, {} new balance transactions",
                thousands(self.payouts.new),
                thousands(self.balance_transactions.new),
            )?;
        }
        if self.disputes != SourceCounts::default() {
            write!(f, "; {} new disputes", thousands(self.disputes.new))?;
        }
        if !self.not_found.is_empty() {
            write!(
                f,
                "; the gateway no longer knows {} (left as they were; check the account this store is connected to)",
                self.not_found.join(", ")
            )?;
        }
        for d in &self.balance_differs {
            write!(
                f,
                "; Stripe's balance is {} but the stored balance transactions add up to {}: a transaction is missing from the store (sync again; if it stays, report it)",
                d.gateway, d.stored
            )?;
        }
        Ok(())
    }
}

impl SyncReport {
    /// Every kind's counts added up.
    pub fn total(&self) -> SourceCounts {
        [
            self.charges,
            self.refunds,
            self.payouts,
            self.balance_transactions,
            self.disputes,
        ]
        .iter()
        .fold(SourceCounts::default(), |mut sum, c| {
            sum.add(*c);
            sum
        })
    }
}

/// Options of a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// Objects per page (1–100).
    pub page_size: u8,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions { page_size: 100 }
    }
}

/// Pulls charges, refunds, payouts (following those that may still change), balance
/// transactions and disputes (following those not yet decided) created before `now` into
/// `store`.
pub async fn sync(
    store: &mut Store,
    client: &StripeClient,
    now: Timestamp,
    options: SyncOptions,
    mut progress: impl FnMut(SyncProgress),
) -> Result<SyncReport, SyncError> {
    let origin = client.api_base().to_string();
    let source_id = store.write(|tx| {
        tx.begin_source(SourceKind::StripeSync, &origin, None, now)
            .map_err(SyncError::from)
    })?;
    let mut report = SyncReport::default();
    let charges = sync_kind::<Charge>(
        store,
        client,
        source_id,
        now,
        options,
        ObjectKind::Charge,
        &mut progress,
        &mut report.covered,
    )
    .await?;
    report.charges = charges;
    report.refunds = sync_kind::<GatewayRefund>(
        store,
        client,
        source_id,
        now,
        options,
        ObjectKind::Refund,
        &mut progress,
        &mut report.covered,
    )
    .await?;
    report.payouts = sync_kind::<Payout>(
        store,
        client,
        source_id,
        now,
        options,
        ObjectKind::Payout,
        &mut progress,
        &mut report.covered,
    )
    .await?;
    let (followed, transactions) = follow_payouts(
        store,
        client,
        source_id,
        options,
        &mut progress,
        &mut report.not_found,
    )
    .await?;
    report.payouts.changed += followed.changed;
    report.balance_transactions = transactions;
    // Every balance transaction by its creation, those no payout has swept yet included,
    // so the clearing account closes at Stripe's balance at any month-end.
    let listed = sync_kind::<BalanceTransaction>(
        store,
        client,
        source_id,
        now,
        options,
        ObjectKind::BalanceTransaction,
        &mut progress,
        &mut report.covered,
    )
    .await?;
    report.balance_transactions.add(listed);
    report.disputes = sync_kind::<DisputeMoves>(
        store,
        client,
        source_id,
        now,
        options,
        ObjectKind::Dispute,
        &mut progress,
        &mut report.covered,
    )
    .await?;
    let followed = follow_disputes(
        store,
        client,
        source_id,
        &mut progress,
        &mut report.not_found,
    )
    .await?;
    report.disputes.changed += followed.changed;
    report.balance_differs = balance_differs(store, client, now).await?;
    let total = report.total();
    store.write(|tx| tx.finish_source(source_id, total).map_err(SyncError::from))?;
    Ok(report)
}

/// Stripe's balance beside the store's, per currency. The sync stored every balance
/// transaction created before `now`; the balance has those created since as well, so they
/// are listed and taken off it first. What still differs is named.
async fn balance_differs(
    store: &mut Store,
    client: &StripeClient,
    now: Timestamp,
) -> Result<Vec<BalanceDifference>, SyncError> {
    let mut gateway = client.retrieve_balance().await?;
    let mut params = ListParams {
        created_gte: Some(now.as_second()),
        ..ListParams::default()
    };
    loop {
        let page = client.list_records::<BalanceTransaction>(&params).await?;
        for txn in &page.records {
            *gateway.entry(txn.net.currency()).or_default() -= txn.net.minor();
        }
        match page.last_id {
            Some(last) if page.has_more => params.starting_after = Some(last),
            _ => break,
        }
    }
    let stored = store.read(|tx| tx.balance_net_by_currency(GATEWAY).map_err(SyncError::from))?;
    let currencies: std::collections::BTreeSet<_> = gateway.keys().chain(stored.keys()).collect();
    Ok(currencies
        .into_iter()
        .filter_map(|&currency| {
            let at_gateway = gateway.get(&currency).copied().unwrap_or(0);
            let in_store = stored.get(&currency).copied().unwrap_or(0);
            (at_gateway != in_store).then(|| BalanceDifference {
                gateway: Money::from_minor(at_gateway, currency),
                stored: Money::from_minor(in_store, currency),
            })
        })
        .collect())
}

/// A gateway record the sync stores.
trait Stored: ListedRecord {
    const KIND: ObjectKind;
    fn store(&self, tx: &StoreTx<'_>, origin: &Origin) -> Result<UpsertOutcome, SyncError>;
}

impl Stored for Charge {
    const KIND: ObjectKind = ObjectKind::Charge;

    fn store(&self, tx: &StoreTx<'_>, origin: &Origin) -> Result<UpsertOutcome, SyncError> {
        let mut charge = self.clone();
        // The API answers without the fee and sometimes without the e-mail an export
        // carried; keep what the store already knows rather than blank it.
        let stored = tx.stored_charge_extras(GATEWAY, &charge.id)?;
        let extra = match &stored {
            Some(s) => {
                if charge.fee.is_none() {
                    charge.fee = s
                        .fee_minor
                        .map(|f| Money::from_minor(f, charge.amount.currency()));
                }
                if charge.customer_email.is_none() {
                    charge.customer_email = s.customer_email.clone();
                }
                s.extra()
            }
            None => ExtraColumns::NONE,
        };
        Ok(tx.upsert_charge(GATEWAY, &charge, extra, origin)?.outcome)
    }
}

impl Stored for GatewayRefund {
    const KIND: ObjectKind = ObjectKind::Refund;

    fn store(&self, tx: &StoreTx<'_>, origin: &Origin) -> Result<UpsertOutcome, SyncError> {
        Ok(tx
            .upsert_refund(GATEWAY, self, ExtraColumns::NONE, origin)?
            .outcome)
    }
}

impl Stored for Payout {
    const KIND: ObjectKind = ObjectKind::Payout;

    fn store(&self, tx: &StoreTx<'_>, origin: &Origin) -> Result<UpsertOutcome, SyncError> {
        Ok(tx.upsert_payout(GATEWAY, self, origin)?.outcome)
    }
}

impl Stored for BalanceTransaction {
    const KIND: ObjectKind = ObjectKind::BalanceTransaction;

    /// A transaction a payout already took to the bank keeps that payout: Stripe's object
    /// does not say which payout swept it (only a payout's own list does).
    fn store(&self, tx: &StoreTx<'_>, origin: &Origin) -> Result<UpsertOutcome, SyncError> {
        let payout = match &self.payout {
            Some(p) => Some(p.clone()),
            None => tx
                .balance_transaction(GATEWAY, &self.id)?
                .and_then(|stored| stored.payout),
        };
        let txn = BalanceTransaction {
            payout,
            ..self.clone()
        };
        Ok(tx
            .upsert_balance_transaction(GATEWAY, &txn, origin)?
            .outcome)
    }
}

impl Stored for DisputeMoves {
    const KIND: ObjectKind = ObjectKind::Dispute;

    /// The dispute, and the balance transactions it moved.
    fn store(&self, tx: &StoreTx<'_>, origin: &Origin) -> Result<UpsertOutcome, SyncError> {
        for txn in &self.transactions {
            txn.store(tx, origin)?;
        }
        Ok(tx.upsert_dispute(GATEWAY, &self.dispute, origin)?.outcome)
    }
}

/// Brings each dispute not yet decided up to date (evidence moves it to review, then won
/// or lost), with what it moved in the balance. One transaction per dispute.
async fn follow_disputes(
    store: &mut Store,
    client: &StripeClient,
    source_id: i64,
    progress: &mut impl FnMut(SyncProgress),
    not_found: &mut Vec<String>,
) -> Result<SourceCounts, SyncError> {
    let origin = Origin {
        source_id,
        line: None,
    };
    let mut counts = SourceCounts::default();
    let mut state = SyncProgress {
        kind: ObjectKind::Dispute,
        pages: 0,
        fetched: 0,
        new: 0,
        changed: 0,
    };
    let open = store.read(|tx| tx.disputes_to_follow(GATEWAY).map_err(SyncError::from))?;
    for dispute in open {
        let moves = if crate::store::is_exported_dispute(&dispute.id) {
            // An export stated it without its id: the gateway's dispute of that charge,
            // stored, takes its place. None yet (a file ahead of the gateway): kept.
            let params = ListParams {
                charge: Some(dispute.charge_id.clone()),
                ..ListParams::default()
            };
            let page = client.list_records::<DisputeMoves>(&params).await?;
            match page.records.into_iter().next() {
                Some(moves) => moves,
                None => continue,
            }
        } else {
            match client.retrieve_dispute(&dispute.id).await {
                Err(StripeError::NotFound { .. }) => {
                    not_found.push(dispute.id.clone());
                    continue;
                }
                other => other?,
            }
        };
        let outcome = store.write(|tx| moves.store(tx, &origin))?;
        if matches!(outcome, UpsertOutcome::Changed(_)) {
            counts.changed += 1;
        }
        state.fetched += 1;
        state.changed = counts.changed;
        progress(state);
    }
    Ok(counts)
}

/// Brings each payout that may still change up to date, and stores the balance
/// transactions of each automatic payout (`balance_transactions?payout=`), a page per
/// transaction. A payout's transactions are marked listed only once it is settled (paid,
/// failed or canceled) and every page is in, so a sync killed in between lists them again.
async fn follow_payouts(
    store: &mut Store,
    client: &StripeClient,
    source_id: i64,
    options: SyncOptions,
    progress: &mut impl FnMut(SyncProgress),
    not_found: &mut Vec<String>,
) -> Result<(SourceCounts, SourceCounts), SyncError> {
    let origin = Origin {
        source_id,
        line: None,
    };
    let mut payouts = SourceCounts::default();
    let mut transactions = SourceCounts::default();
    let mut state = SyncProgress {
        kind: ObjectKind::BalanceTransaction,
        pages: 0,
        fetched: 0,
        new: 0,
        changed: 0,
    };
    let to_follow = store.read(|tx| tx.payouts_to_follow(GATEWAY).map_err(SyncError::from))?;
    for mut payout in to_follow {
        if matches!(
            payout.status,
            PayoutStatus::Pending | PayoutStatus::InTransit
        ) {
            payout = match client.retrieve_payout(&payout.id).await {
                Err(StripeError::NotFound { .. }) => {
                    not_found.push(payout.id.clone());
                    continue;
                }
                other => other?,
            };
            let outcome = store.write(|tx| payout.store(tx, &origin))?;
            if matches!(outcome, UpsertOutcome::Changed(_)) {
                payouts.changed += 1;
            }
        }
        if !payout.automatic {
            continue;
        }
        let settled = !matches!(
            payout.status,
            PayoutStatus::Pending | PayoutStatus::InTransit
        );
        let mut starting_after = None;
        loop {
            let params = ListParams {
                limit: options.page_size.clamp(1, 100),
                starting_after: starting_after.clone(),
                payout: Some(payout.id.clone()),
                ..ListParams::default()
            };
            let page = client.list_records::<BalanceTransaction>(&params).await?;
            let finished = !page.has_more || page.last_id.is_none();
            let counts = store.write(|tx| -> Result<SourceCounts, SyncError> {
                let mut c = SourceCounts::default();
                for txn in &page.records {
                    let txn = BalanceTransaction {
                        payout: Some(payout.id.clone()),
                        ..txn.clone()
                    };
                    c.tally(
                        &tx.upsert_balance_transaction(GATEWAY, &txn, &origin)?
                            .outcome,
                    );
                }
                if finished && settled {
                    tx.mark_payout_transactions_listed(GATEWAY, &payout.id)?;
                }
                Ok(c)
            })?;
            transactions.add(counts);
            state.pages += 1;
            state.fetched += page.records.len() as u64;
            state.new = transactions.new;
            state.changed = transactions.changed;
            progress(state);
            if finished {
                break;
            }
            starting_after = page.last_id;
        }
    }
    Ok((payouts, transactions))
}

#[allow(clippy::too_many_arguments)]
async fn sync_kind<T: Stored>(
    store: &mut Store,
    client: &StripeClient,
    source_id: i64,
    now: Timestamp,
    options: SyncOptions,
    kind: ObjectKind,
    progress: &mut impl FnMut(SyncProgress),
    covered: &mut Vec<Coverage>,
) -> Result<SourceCounts, SyncError> {
    debug_assert_eq!(T::KIND, kind);
    let mut counts = SourceCounts::default();
    let mut state = SyncProgress {
        kind,
        pages: 0,
        fetched: 0,
        new: 0,
        changed: 0,
    };
    let window = store.write(|tx| -> Result<Option<OpenWindow>, SyncError> {
        // A window left open by a killed sync is finished first, from where it stopped.
        if let Some(open) = window::open_window(tx, kind)? {
            return Ok(Some(open));
        }
        let next = window::next_window(window::cursor(tx, kind)?, now.as_second());
        if let Some(w) = &next {
            window::save_window(tx, kind, w)?;
        }
        Ok(next)
    })?;
    let Some(mut window) = window else {
        return Ok(counts);
    };
    let origin = Origin {
        source_id,
        line: None,
    };
    loop {
        let params = ListParams {
            limit: options.page_size.clamp(1, 100),
            created_gte: window.gte,
            created_lt: Some(window.lt),
            starting_after: window.starting_after.clone(),
            ..ListParams::default()
        };
        let page = client.list_records::<T>(&params).await?;
        let fetched = page.records.len() as u64;
        let last = page.last_id;
        let finished = !page.has_more || last.is_none();
        let page_counts = store.write(|tx| -> Result<SourceCounts, SyncError> {
            let mut c = SourceCounts::default();
            for record in &page.records {
                c.tally(&record.store(tx, &origin)?);
            }
            window.starting_after = last.clone().or(window.starting_after.take());
            if finished {
                window::finish_window(tx, kind, &window)?;
                if kind == ObjectKind::Charge {
                    let coverage = coverage_of(&window)?;
                    tx.add_charge_coverage(source_id, GATEWAY, coverage)?;
                }
            } else {
                window::save_window(tx, kind, &window)?;
            }
            Ok(c)
        })?;
        counts.add(page_counts);
        state.pages += 1;
        state.fetched += fetched;
        state.new = counts.new;
        state.changed = counts.changed;
        progress(state);
        if finished {
            if kind == ObjectKind::Charge {
                covered.push(coverage_of(&window)?);
            }
            return Ok(counts);
        }
    }
}

/// The instants a finished `[gte, lt)` window covers, inclusive.
fn coverage_of(window: &OpenWindow) -> Result<Coverage, SyncError> {
    let at = |s: i64| {
        Timestamp::from_second(s).map_err(|e| SyncError::CorruptState {
            key: "sync window".into(),
            value: e.to_string(),
        })
    };
    let from = window.gte.unwrap_or(0);
    let to = (window.lt - 1).max(from);
    Ok(Coverage {
        from: at(from)?,
        to: at(to)?,
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::small(12, "12")]
    #[case::thousand(1_204, "1,204")]
    #[case::million(1_234_567, "1,234,567")]
    #[case::zero(0, "0")]
    fn counts_read_with_thousands_separators(#[case] n: u64, #[case] text: &str) {
        assert_eq!(thousands(n), text);
    }

    #[test]
    fn the_report_reads_like_a_sentence() {
        let report = SyncReport {
            charges: SourceCounts {
                new: 1204,
                changed: 2,
                unchanged: 10,
            },
            refunds: SourceCounts {
                new: 12,
                changed: 1,
                unchanged: 0,
            },
            ..SyncReport::default()
        };
        assert_eq!(
            report.to_string(),
            "1,204 new charges, 12 new refunds, 3 changed, 10 unchanged"
        );
        let paid_out = SyncReport {
            payouts: SourceCounts {
                new: 2,
                changed: 1,
                unchanged: 0,
            },
            balance_transactions: SourceCounts {
                new: 40,
                changed: 0,
                unchanged: 5,
            },
            ..report
        };
        assert_eq!(
            paid_out.to_string(),
            "1,204 new charges, 12 new refunds, 4 changed, 15 unchanged; 2 new payouts, 40 new balance transactions"
        );
    }
}
