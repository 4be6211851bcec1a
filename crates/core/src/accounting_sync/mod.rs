//! Sync in from the accounting system the books are kept in (issue 19): QuickBooks Online
//! ([`quickbooks`]) or Xero ([`xero`]), one of them, one company, per store. Invoices and
//! the payments applied to them land as the invoices and ledger entries reconcile already
//! reads, so every finding works with no CSV at all. Each system's connection (consent,
//! tokens in the keyring only, refresh, revocation) is its own module ([`qbo_connection`],
//! [`xero_connection`]); [`connecting`] is what both shells call to connect, show and
//! disconnect either.
//!
//! Like the gateway's sync each is incremental and resumable: a page per transaction, with
//! the position after it, so a sync killed anywhere resumes with nothing lost and nothing
//! doubled (a page read again is unchanged rows). An invoice's id in the system is kept
//! beside its number (`quickbooks_id` / `xero_id`, and the store's `accounting_objects`); a
//! second object under a number already taken is stored as `NUMBER-QBO{Id}` /
//! `NUMBER-XERO{Id}`, so neither overwrites the other (no order reference is set:
//! reconcile's duplicate-invoice guess, same customer and amount both charged, weighs a
//! double push whatever numbers it was given), and an invoice renumbered there moves here
//! with its payments.
//!
//! A sync never writes to the accounting system (`actions::push` does, through the same
//! connection, for a fix a bookkeeper approved), and never decides what a row means for
//! the books (reconciliation does).

pub mod connecting;
pub mod qbo_connection;
pub mod quickbooks;
pub(crate) mod session;
pub mod xero;
pub mod xero_connection;

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::accounting::qbo::MappingError;
use crate::books::qbo::{MAX_PAGE, QboError};
use crate::books::xero::XeroError;
use crate::records::{Invoice, Origin};
use crate::secret::{Keyring, SecretError};
use crate::store::{
    AccountingBooks, ExtraColumns, SourceCounts, SourceKind, Store, StoreError, StoreTx,
};

/// Why a sync with the accounting system stopped. Each says what the bookkeeper can do.
#[derive(Debug, thiserror::Error)]
pub enum AccountingError {
    #[error(
        "this store is not connected to QuickBooks or Xero; run `chargeguard books connect quickbooks` (or `xero`) first"
    )]
    NotConnected,
    #[error("{reason}; connect it again (`chargeguard books connect quickbooks` or `xero`)")]
    Reconnect { reason: String },
    #[error(
        "this store keeps the books of {connected}, not {chosen}; one company per store (`chargeguard books disconnect` first, or use another store)"
    )]
    OtherCompany { connected: String, chosen: String },
    #[error("{0}")]
    Consent(String),
    #[error(transparent)]
    Qbo(#[from] QboError),
    #[error(transparent)]
    Xero(#[from] XeroError),
    #[error("the business's time zone: {0}; set it in Settings again")]
    Setting(String),
    #[error(
        "{0}; nothing of that page was stored: correct it in the accounting system and sync again"
    )]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(
        "the sync position {key} is unreadable ({value}); remove that setting to read again from the start"
    )]
    CorruptState { key: String, value: String },
    #[error(
        "Xero needs the account a payment or refund goes through, and none is chosen: choose the one Stripe's money lands in (`chargeguard books payment-account CODE`, its code in Xero's chart of accounts; Settings asks for it too); nothing was sent"
    )]
    NoPaymentAccount,
    #[error(
        "QuickBooks needs the account a refund is paid from, and none is chosen: choose the one Stripe's money goes through (`chargeguard books payment-account ID`, the account's Id in QuickBooks; Settings asks for it too); nothing was sent"
    )]
    NoRefundAccount,
    /// A push of two writes made the first and not (yet) the second: never a refusal of
    /// the whole, since something was written; recovery finishes it or hands it on.
    #[error("{0}")]
    PushUnfinished(String),
    #[error(
        "action {action} was sent to the accounting system and its outcome is not known yet; run `chargeguard recover` (it needs this connection) before disconnecting"
    )]
    PushUndecided { action: i64 },
}

/// Refuses to drop the connection while a fix sent through it is undecided: recovery
/// can only find it, or send it again, through that connection.
pub(crate) fn refuse_while_undecided(store: &mut Store) -> Result<(), AccountingError> {
    use chargeguard_domain::ActionState;
    let open =
        store.read(|tx| tx.actions(Some(&[ActionState::Executing, ActionState::Unknown])))?;
    match open
        .iter()
        .find(|a| a.kind == chargeguard_domain::ActionKind::LedgerFix && a.request_path.is_some())
    {
        Some(a) => Err(AccountingError::PushUndecided { action: a.id }),
        None => Ok(()),
    }
}

/// How a sync is going, after each committed page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BooksProgress {
    /// `invoices` or `payments`.
    pub kind: &'static str,
    pub pages: u64,
    pub fetched: u64,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BooksSyncReport {
    /// The company, as the person knows it (`QuickBooks company 4620816365`).
    pub company: String,
    pub invoices: SourceCounts,
    /// Ledger entries (a payment applied to two invoices is two).
    pub ledger_entries: SourceCounts,
    /// Ledger entries whose payment QuickBooks deleted, voided or moved off the invoice.
    pub ledger_entries_removed: u64,
    /// Invoices QuickBooks deleted.
    pub invoices_removed: u64,
}

impl std::fmt::Display for BooksSyncReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} new invoices, {} changed, {} unchanged; {} new ledger entries, {} changed, {} unchanged",
            self.company,
            self.invoices.new,
            self.invoices.changed,
            self.invoices.unchanged,
            self.ledger_entries.new,
            self.ledger_entries.changed,
            self.ledger_entries.unchanged,
        )?;
        if self.ledger_entries_removed + self.invoices_removed > 0 {
            write!(
                f,
                "; removed as the books no longer have them: {} ledger entries, {} invoices",
                self.ledger_entries_removed, self.invoices_removed
            )?;
        }
        Ok(())
    }
}

/// Options of a sync.
#[derive(Debug, Clone, Copy)]
pub struct BooksSyncOptions {
    /// Objects per page (1–1000).
    pub page_size: usize,
    /// Calls retried after QuickBooks' throttle before the sync gives up.
    pub throttle_retries: u32,
}

impl Default for BooksSyncOptions {
    fn default() -> Self {
        BooksSyncOptions {
            page_size: MAX_PAGE,
            throttle_retries: 5,
        }
    }
}

/// The sync's sources: one per kind of row it writes, created when first needed.
pub(crate) struct Sources {
    pub(crate) origin: String,
    pub(crate) at: Timestamp,
    pub(crate) invoices: Option<i64>,
    pub(crate) payments: Option<i64>,
}

impl Sources {
    pub(crate) fn of(
        &mut self,
        tx: &StoreTx<'_>,
        source_kind: SourceKind,
    ) -> Result<i64, StoreError> {
        let slot = match source_kind {
            SourceKind::Invoices => &mut self.invoices,
            _ => &mut self.payments,
        };
        if let Some(id) = *slot {
            return Ok(id);
        }
        let id = tx.begin_source(source_kind, &self.origin, None, self.at)?;
        *slot = Some(id);
        Ok(id)
    }

    /// Records what each source wrote.
    pub(crate) fn finish(
        &self,
        tx: &StoreTx<'_>,
        report: &BooksSyncReport,
    ) -> Result<(), StoreError> {
        if let Some(id) = self.invoices {
            tx.finish_source(id, report.invoices)?;
        }
        if let Some(id) = self.payments {
            tx.finish_source(id, report.ledger_entries)?;
        }
        Ok(())
    }
}

/// The number an accounting system's invoice `id` is stored under: its own number, unless
/// another system's invoice holds it (a double push there; or the books of a system this
/// store was connected to before), then `NUMBER-{tag}{Id}`; and the
/// number it was stored under before, when that differs (it was renumbered there).
pub(crate) fn number_for(
    tx: &StoreTx<'_>,
    books: AccountingBooks<'_>,
    tag: &str,
    id: &str,
    invoice: &Invoice,
) -> Result<(String, Option<String>), StoreError> {
    let kept = tx
        .accounting_record_keys(books, "invoice", &[id])?
        .remove(id);
    if let Some(kept) = &kept
        && (*kept == invoice.number || *kept == format!("{}-{tag}{id}", invoice.number))
    {
        return Ok((kept.clone(), None));
    }
    // Held by another object (of this system, or of one this store kept before): kept
    // apart rather than written over.
    let number = match tx.accounting_object_holding("invoice", &invoice.number)? {
        Some((system, company, other))
            if (system.as_str(), company.as_str(), other.as_str())
                != (books.system, books.company, id) =>
        {
            format!("{}-{tag}{id}", invoice.number)
        }
        _ => invoice.number.clone(),
    };
    Ok((number, kept))
}

/// How one system's objects are named in the store.
pub(crate) struct Naming {
    /// In a second invoice's number under a taken one: `NUMBER-{tag}{Id}`.
    pub tag: &'static str,
    /// What its ledger entries' ids start with.
    pub ledger_prefix: &'static str,
    /// The extra column holding its invoice id beside the number.
    pub id_column: &'static str,
}

/// Stores invoice `id` of the system `naming` names: under the number [`number_for`] gives
/// (moving it, with its ledger entries, when it was renumbered there), its id beside it,
/// and with no paid figure of its own (its payments are synced as ledger entries; the
/// invoice's own figure would count them twice).
#[allow(clippy::too_many_arguments)]
pub(crate) fn store_invoice(
    tx: &StoreTx<'_>,
    books: AccountingBooks<'_>,
    naming: &Naming,
    id: &str,
    mut invoice: Invoice,
    sources: &mut Sources,
    report: &mut BooksSyncReport,
) -> Result<(), AccountingError> {
    let (number, before) = number_for(tx, books, naming.tag, id, &invoice)?;
    invoice.number = number;
    invoice.stated_paid = None;
    let source_id = sources.of(tx, SourceKind::Invoices)?;
    if let Some(before) = before {
        tx.renumber_invoice(&before, &invoice.number, naming.ledger_prefix, source_id)?;
    }
    let set = tx.column_set(&[naming.id_column.to_string()])?;
    let values = serde_json::to_string(&[id]).expect("a string list serializes");
    let stored = tx.upsert_invoice(
        &invoice,
        ExtraColumns {
            set,
            values: &values,
        },
        &Origin {
            source_id,
            line: None,
        },
    )?;
    report.invoices.tally(&stored.outcome);
    tx.keep_accounting_object(books, "invoice", id, &invoice.number)?;
    Ok(())
}

/// The answer a consent's redirect carries (the whole address, or only its query), once its
/// `state` is the one this consent sent; a refusal or another consent's redirect is refused
/// with what to do.
pub(crate) fn redirect_answer(
    redirect: &str,
    state: &str,
    system: &str,
) -> Result<std::collections::HashMap<String, String>, AccountingError> {
    let redirect = redirect.trim();
    let query = redirect
        .split_once('?')
        .map_or(redirect, |(_, q)| q)
        .split('#')
        .next()
        .unwrap_or("");
    let answer: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .filter(|(_, v)| !v.is_empty())
            .collect();
    if let Some(error) = answer.get("error") {
        return Err(AccountingError::Consent(format!(
            "{system} answered {error}: nothing was connected; start again and allow access on {system}'s page"
        )));
    }
    if answer.get("state").map(String::as_str) != Some(state) {
        return Err(AccountingError::Consent(
            "that redirect is not the answer to this consent (its state differs); paste the address the browser was sent to after this consent".into(),
        ));
    }
    Ok(answer)
}

/// Which accounting system the store is connected to, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    Quickbooks,
    Xero,
}

/// The invoice Stripe object `gateway_id` (a charge, payment intent or refund) pays, as
/// the store knows it: a ledger payment of it (or of its charge's payment intent), else
/// the charge's own invoice reference.
pub(crate) fn invoice_paid_by(
    tx: &StoreTx<'_>,
    gateway_id: &str,
) -> Result<Option<String>, StoreError> {
    let mut ids = vec![gateway_id.to_string()];
    if gateway_id.starts_with("re_") || gateway_id.starts_with("pyr_") {
        ids.extend(
            tx.refunds_with_ids(crate::sync::GATEWAY, &[gateway_id])?
                .into_iter()
                .map(|r| r.charge_id),
        );
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let charges = tx.charges_about(crate::sync::GATEWAY, &refs, &[], &refs)?;
    // A payment may name the charge's payment intent rather than the charge.
    let mut named = ids.clone();
    named.extend(charges.iter().filter_map(|c| c.payment_intent.clone()));
    let named: Vec<&str> = named.iter().map(String::as_str).collect();
    let paid = tx.ledger_entries_about(&[], &named)?;
    if let Some(p) = paid
        .iter()
        .find(|e| e.kind == crate::records::LedgerKind::Payment)
    {
        return Ok(Some(p.invoice_number.clone()));
    }
    Ok(charges.into_iter().find_map(|c| c.invoice_ref))
}

/// The system this store is connected to (one per store).
pub fn connected_system(store: &mut Store) -> Result<Option<System>, AccountingError> {
    if qbo_connection::connection(store)?.is_some() {
        return Ok(Some(System::Quickbooks));
    }
    if xero_connection::connection(store)?.is_some() {
        return Ok(Some(System::Xero));
    }
    Ok(None)
}

/// The keyring the connected system's tokens are kept in: the OS keyring, or the
/// process's memory for the demo's stand-in (`Keyring::in_memory`). Blocks (D-Bus).
pub fn keyring(store: &mut Store) -> Result<Keyring, AccountingError> {
    let account = match qbo_connection::connection(store)? {
        Some(c) => Some(c.account),
        None => xero_connection::connection(store)?.map(|c| c.account),
    };
    Ok(match account {
        Some(account) => Keyring::for_account(&account)?,
        None => Keyring::open()?,
    })
}

/// Pulls the connected system's invoices and payments into `store`.
pub async fn sync(
    store: &mut Store,
    keyring: &Keyring,
    timeout: Duration,
    now: Timestamp,
    options: BooksSyncOptions,
    progress: impl FnMut(BooksProgress),
) -> Result<BooksSyncReport, AccountingError> {
    match connected_system(store)? {
        Some(System::Quickbooks) => {
            quickbooks::sync(store, keyring, timeout, now, options, progress).await
        }
        Some(System::Xero) => xero::sync(store, keyring, timeout, now, options, progress).await,
        None => Err(AccountingError::NotConnected),
    }
}
