//! The one API the windows call: the desktop shell (`src-tauri/`), the HTTP wrapper for
//! browser tests (`chargeguard ui-server`) and anything else with a screen.
//!
//! Plain functions over an [`Api`] (where the store is, the gateway timeout, the demo's
//! sandbox key): each opens the store, calls the core, and returns a transport type from
//! [`json`] or an [`ApiError`] `{code, message}`. This is gitbutler's `but-api` pattern:
//! the shells only parse and forward, so no business rule lives in them, and none lives
//! here either — every decision (what a finding is, its fix, whether an action may run) is
//! the core's. What this layer adds is translation: rows into transport types, core
//! errors into messages a bookkeeper can act on from a window.
//!
//! The secret key never leaves this layer towards the front end: no transport type has a
//! field that could hold it, and [`Api::with_gateway_key`] is set only by the shell.

pub mod audit_log;
pub mod books;
pub mod commands;
pub mod error;
pub mod generated;
pub mod http;
pub mod imports;
pub mod json;
pub mod monthend;
pub mod payouts;
pub mod recharge;
pub mod session;
pub mod settings;
pub mod today_sync;

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

pub use error::{ApiError, ApiErrorCode};
use json::*;

use chargeguard_core::actions::{self, Plan};
use chargeguard_core::gateway::stripe::StripeClient;
use chargeguard_core::import::{self, ImportOptions};
use chargeguard_core::money::Money;
use chargeguard_core::reconcile::{self, Confidence as CoreConfidence, FindingKind as CoreKind};
use chargeguard_core::secret::SecretKey;
use chargeguard_core::store::{self, ActionRow, SourceKind, Store, StoreTx, StoredFinding};
use chargeguard_core::sync;

/// The store setting that marks a store as the demo's ("Demo data" banner).
pub const DEMO_STORE_SETTING: &str = chargeguard_core::demo::DEMO_STORE_SETTING;

/// Where the API works: one store file, and how to reach its gateway.
#[derive(Clone)]
pub struct Api {
    db: PathBuf,
    http_timeout: Duration,
    gateway_key: Option<SecretKey>,
    /// In the desktop app's demo: where this install's own books go once the bookkeeper
    /// connects a real gateway from Settings.
    own_books: Option<PathBuf>,
    /// The Month-end screen's tie-outs, shared by every clone of this API.
    tie_outs: std::sync::Arc<monthend::TieOutCache>,
    /// Opens the person's browser on a consent's address (the desktop shell's).
    browser: Option<books::Browser>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("db", &self.db)
            .field("http_timeout", &self.http_timeout)
            .field(
                "gateway_key",
                &self.gateway_key.as_ref().map(|k| k.masked()),
            )
            .field("own_books", &self.own_books)
            .field("browser", &self.browser.is_some())
            .finish()
    }
}

impl Api {
    /// The API over the store at `db`, with a 30-second gateway timeout and the key from
    /// `CHARGEGUARD_API_KEY` or the OS keyring.
    pub fn new(db: impl Into<PathBuf>) -> Api {
        Api {
            db: db.into(),
            http_timeout: Duration::from_secs(30),
            gateway_key: None,
            own_books: None,
            tie_outs: Default::default(),
            browser: None,
        }
    }

    /// The Month-end screen's tie-outs (tests and benchmarks wait on their refresh).
    pub fn tie_outs(&self) -> &monthend::TieOutCache {
        &self.tie_outs
    }

    pub fn with_http_timeout(mut self, timeout: Duration) -> Api {
        self.http_timeout = timeout;
        self
    }

    /// Use this key for the store's gateway instead of the keyring: the demo's in-app
    /// sandbox, whose test key is no secret.
    pub fn with_gateway_key(mut self, key: SecretKey) -> Api {
        self.gateway_key = Some(key);
        self
    }

    /// Where connecting a real gateway from the demo window creates the install's own store.
    pub fn with_own_books(mut self, path: impl Into<PathBuf>) -> Api {
        self.own_books = Some(path.into());
        self
    }

    /// Let connecting an accounting system open the person's browser on the consent
    /// (the desktop app; a web window shows the address as a link instead).
    pub fn with_browser(mut self, browser: books::Browser) -> Api {
        self.browser = Some(browser);
        self
    }

    pub fn db(&self) -> &Path {
        &self.db
    }

    /// The folder the store lives in, where uploads wait and packages are written.
    pub fn data_dir(&self) -> &Path {
        self.db
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    fn open(&self) -> Result<Store, ApiError> {
        Ok(Store::open(&self.db)?)
    }

    async fn client(&self, store: &mut Store) -> Result<StripeClient, ApiError> {
        let connection = sync::connection(store)?.ok_or_else(|| {
            ApiError::new(
                ApiErrorCode::NotConnected,
                "this store is not connected to a gateway; connect one in Settings first",
            )
        })?;
        let timeout = self.http_timeout;
        let client = match &self.gateway_key {
            Some(key) => StripeClient::new(&connection.api_base, key.clone(), timeout)
                .map_err(|e| ApiError::new(ApiErrorCode::NotConnected, e.to_string()))?,
            // The keyring blocks on D-Bus: keep it off the async threads.
            None => tokio::task::spawn_blocking(move || connection.client(timeout))
                .await
                .map_err(|e| ApiError::internal(format!("the keyring lookup stopped: {e}")))??,
        };
        Ok(client)
    }
}

fn now() -> Timestamp {
    Timestamp::now()
}

fn id32(id: i64) -> u32 {
    u32::try_from(id).unwrap_or(u32::MAX)
}

fn count32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn instant(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn required(what: &str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid(format!("{what} is required")));
    }
    Ok(())
}

// ---------------------------------------------------------------- conversions

fn kind_out(k: CoreKind) -> FindingKind {
    match k {
        CoreKind::DoubleCharge => FindingKind::DoubleCharge,
        CoreKind::OrphanCharge => FindingKind::OrphanCharge,
        CoreKind::MissingCharge => FindingKind::MissingCharge,
        CoreKind::AmountMismatch => FindingKind::AmountMismatch,
        CoreKind::UnrecordedRefund => FindingKind::UnrecordedRefund,
        CoreKind::DuplicateInvoice => FindingKind::DuplicateInvoice,
        CoreKind::PayoutMissingDeposit => FindingKind::PayoutMissingDeposit,
        CoreKind::PayoutUnbalanced => FindingKind::PayoutUnbalanced,
        CoreKind::DepositWithoutPayout => FindingKind::DepositWithoutPayout,
        CoreKind::DepositAmountDiffers => FindingKind::DepositAmountDiffers,
        CoreKind::DisputeInvoiceStillPaid => FindingKind::DisputeInvoiceStillPaid,
        CoreKind::DisputeLostUnrecorded => FindingKind::DisputeLostUnrecorded,
    }
}

fn kind_in(k: FindingKind) -> CoreKind {
    match k {
        FindingKind::DoubleCharge => CoreKind::DoubleCharge,
        FindingKind::OrphanCharge => CoreKind::OrphanCharge,
        FindingKind::MissingCharge => CoreKind::MissingCharge,
        FindingKind::AmountMismatch => CoreKind::AmountMismatch,
        FindingKind::UnrecordedRefund => CoreKind::UnrecordedRefund,
        FindingKind::DuplicateInvoice => CoreKind::DuplicateInvoice,
        FindingKind::PayoutMissingDeposit => CoreKind::PayoutMissingDeposit,
        FindingKind::PayoutUnbalanced => CoreKind::PayoutUnbalanced,
        FindingKind::DepositWithoutPayout => CoreKind::DepositWithoutPayout,
        FindingKind::DepositAmountDiffers => CoreKind::DepositAmountDiffers,
        FindingKind::DisputeInvoiceStillPaid => CoreKind::DisputeInvoiceStillPaid,
        FindingKind::DisputeLostUnrecorded => CoreKind::DisputeLostUnrecorded,
    }
}

fn confidence_out(c: CoreConfidence) -> Confidence {
    match c {
        CoreConfidence::Exact => Confidence::Exact,
        CoreConfidence::Heuristic => Confidence::Heuristic,
    }
}

fn confidence_in(c: Confidence) -> CoreConfidence {
    match c {
        Confidence::Exact => CoreConfidence::Exact,
        Confidence::Heuristic => CoreConfidence::Heuristic,
    }
}

fn status_out(s: store::FindingStatus) -> FindingStatus {
    match s {
        store::FindingStatus::Open => FindingStatus::Open,
        store::FindingStatus::Resolved => FindingStatus::Resolved,
    }
}

fn status_in(s: FindingStatus) -> store::FindingStatus {
    match s {
        FindingStatus::Open => store::FindingStatus::Open,
        FindingStatus::Resolved => store::FindingStatus::Resolved,
    }
}

fn resolution_out(r: store::Resolution) -> Resolution {
    match r {
        store::Resolution::Cleared => Resolution::Cleared,
        store::Resolution::Fixed => Resolution::Fixed,
        store::Resolution::Dismissed => Resolution::Dismissed,
    }
}

fn state_out(s: actions::ActionState) -> (ActionState, &'static str) {
    use actions::ActionState as S;
    match s {
        S::Proposed => (ActionState::Proposed, "waiting for approval"),
        S::Approved => (ActionState::Approved, "approved, ready to execute"),
        S::Executing => (ActionState::Executing, "sending to the gateway"),
        S::Succeeded => (ActionState::Succeeded, "done"),
        S::Failed => (ActionState::Failed, "refused by the gateway"),
        S::Unknown => (ActionState::Unknown, "checking with the gateway"),
        S::NeedsReview => (
            ActionState::NeedsReview,
            "needs a person to check the gateway",
        ),
        S::Cancelled => (ActionState::Cancelled, "cancelled"),
    }
}

fn finding_row(f: &StoredFinding) -> FindingRow {
    FindingRow {
        id: id32(f.id),
        kind: kind_out(f.kind),
        status: status_out(f.status),
        resolution: f.resolution.map(resolution_out),
        invoice_number: f.invoice_number.clone(),
        charge_ids: f.charge_ids.clone(),
        amount: Amount::from_money(f.amount),
        confidence: confidence_out(f.confidence),
        reason: f.reason.clone(),
        first_seen_at: f.first_seen_at.to_string(),
    }
}

/// An action as the windows show it, with what its approval takes: its currency's
/// threshold and how many approvers that means.
fn action_view(tx: &StoreTx<'_>, a: &ActionRow) -> Result<ActionView, ApiError> {
    let rule = actions::approval_rule(tx, a)?;
    let (state, words) = state_out(a.state);
    let description = a.plan.describe();
    let written = actions::destination(tx, &a.plan, a.gateway_object_id.as_deref())?;
    let follow_up_of = actions::follow_up_of(tx, a)?;
    Ok(ActionView {
        id: id32(a.id),
        kind: a.kind.to_string(),
        state,
        state_words: words.to_string(),
        description,
        finding_id: a.finding_id.map(id32),
        invoice_number: a.invoice_number.clone(),
        charge_id: a.charge_id.clone(),
        amount: Amount::from_money(a.amount),
        key: a.idempotency_key.clone(),
        proposed_by: a.proposed_by.clone(),
        proposed_at: instant(a.proposed_at),
        approvers: a.approvers.clone(),
        updated_at: instant(a.updated_at),
        gateway_object_id: a.gateway_object_id.clone(),
        destination: written.words,
        object_link: written.link,
        follow_up_of: follow_up_of.map(id32),
        approvals_needed: rule.map_or(1, |r| count32(r.needed as u64)),
        threshold: rule.map(|r| settings::ThresholdView::from_core(r.threshold)),
    })
}

/// [`action_view`] of an action just written.
fn action_view_now(store: &mut Store, a: &ActionRow) -> Result<ActionView, ApiError> {
    store.read(|tx| action_view(tx, a))
}

/// The evidence reconciliation kept (`chargeguard_domain::evidence`), as the screens show it.
fn evidence(e: &chargeguard_domain::Evidence) -> Evidence {
    use chargeguard_domain::evidence::{Fact, InvoiceEvidence};
    let invoice = |i: &InvoiceEvidence| EvidenceInvoice {
        number: i.number.clone(),
        customer_id: i.customer_id.clone(),
        amount: Amount::from_money(i.amount),
        issued_at: i.issued_at.to_string(),
        due_at: i.due_at.map(|t| t.to_string()),
        status: i.status.as_str().to_string(),
        order_ref: i.order_ref.clone(),
        gateway_net: Amount::from_money(Money::from_minor(
            i.gateway_net_minor,
            i.amount.currency(),
        )),
    };
    // A fact in minor units is in the finding's currency (the invoice's, or the payout's or
    // deposit's).
    let currency = e
        .invoice
        .as_ref()
        .map(|i| i.amount.currency())
        .or(e.payout.as_ref().map(|p| p.amount.currency()))
        .or(e.deposit.as_ref().map(|d| d.amount.currency()))
        .or(e.dispute.as_ref().map(|d| d.amount.currency()));
    Evidence {
        invoice: e.invoice.as_ref().map(invoice),
        earlier_invoice: e.earlier_invoice.as_ref().map(invoice),
        ledger_entries: e
            .ledger_entries
            .iter()
            .map(|l| EvidenceLedgerEntry {
                payment_id: l.payment_id.clone(),
                invoice_number: l.invoice_number.clone(),
                kind: l.kind.as_str().to_string(),
                amount: Amount::from_money(l.amount),
                recorded_at: l.recorded_at.to_string(),
                gateway_id: l.gateway_id.clone(),
            })
            .collect(),
        charges: e
            .charges
            .iter()
            .map(|c| {
                let in_its_currency =
                    |minor| Amount::from_money(Money::from_minor(minor, c.amount.currency()));
                EvidenceCharge {
                    id: c.id.clone(),
                    role: c.role.clone(),
                    amount: Amount::from_money(c.amount),
                    refunded: in_its_currency(c.amount_refunded_minor),
                    net: in_its_currency(c.net_minor),
                    status: c.status.as_str().to_string(),
                    created: c.created.to_string(),
                    customer: c.customer.clone(),
                    customer_email: c.customer_email.clone(),
                    invoice_ref: c.invoice_ref.clone(),
                    linked_invoice: c.linked_invoice.clone(),
                    linked_by: c.linked_by.clone(),
                    recorded_in_ledger: c.recorded_in_ledger,
                }
            })
            .collect(),
        payout: e.payout.as_ref().map(|p| EvidencePayout {
            id: p.id.clone(),
            amount: Amount::from_money(p.amount),
            status: p.status.as_str().to_string(),
            created: p.created.to_string(),
            arrival_date: p.arrival_date.to_string(),
            transactions: p.transactions,
        }),
        deposit: e.deposit.as_ref().map(|d| EvidenceDeposit {
            account: d.account.clone(),
            line_id: d.line_id.clone(),
            booked_on: d.booked_on.to_string(),
            amount: Amount::from_money(d.amount),
            description: d.description.clone(),
        }),
        dispute: e.dispute.as_ref().map(|d| EvidenceDispute {
            id: (!chargeguard_core::store::is_exported_dispute(&d.id)).then(|| d.id.clone()),
            amount: Amount::from_money(d.amount),
            status: d.status.as_str().to_string(),
            reason: d.reason.clone(),
            created: d.created.to_string(),
            evidence_due_by: d.evidence_due_by.map(|t| t.to_string()),
        }),
        facts: e
            .facts
            .named()
            .into_iter()
            .map(|(name, fact)| {
                let (label, value, amount) = match fact {
                    Fact::Minor(minor) => (
                        name.strip_suffix("_minor").unwrap_or(name),
                        minor.to_string(),
                        currency.map(|c| Amount::from_money(Money::from_minor(minor, c))),
                    ),
                    Fact::Text(text) => (name, text, None),
                    Fact::Flag(flag) => (name, flag.to_string(), None),
                };
                EvidenceFact {
                    label: label.replace('_', " "),
                    value,
                    amount,
                }
            })
            .collect(),
    }
}

// ---------------------------------------------------------------- operations

/// The morning's overview: last sync, coverage, open findings by kind with the money at
/// stake per currency, and the actions that wait.
pub fn today(api: &Api) -> Result<Today, ApiError> {
    let mut store = api.open()?;
    store.read(|tx| {
        let totals = tx.open_totals()?;
        let open_by_kind: Vec<KindTotal> = CoreKind::ALL
            .into_iter()
            .map(|kind| {
                let of_kind = totals.iter().filter(|t| t.kind == kind);
                KindTotal {
                    kind: kind_out(kind),
                    count: count32(of_kind.clone().map(|t| t.count).sum()),
                    amounts: of_kind
                        .map(|t| Amount::from_money(Money::from_minor(t.minor, t.currency)))
                        .collect(),
                }
            })
            .collect();
        let open_findings = count32(totals.iter().map(|t| t.count).sum());
        let actions = tx.action_counts()?;
        let in_states = |wanted: &dyn Fn(actions::ActionState) -> bool| {
            count32(
                actions
                    .iter()
                    .filter(|(s, _)| wanted(*s))
                    .map(|(_, n)| n)
                    .sum(),
            )
        };
        use actions::ActionState as S;
        let demo = tx.setting(DEMO_STORE_SETTING)?.is_some();
        let demo_approvers = if demo {
            chargeguard_core::demo::DEMO_APPROVERS
                .iter()
                .map(|(name, passphrase)| DemoApprover {
                    name: name.to_string(),
                    passphrase: passphrase.to_string(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Today {
            demo,
            demo_approvers,
            gateway: tx.setting(sync::API_BASE_SETTING)?,
            last_sync: tx.last_source(SourceKind::StripeSync)?.map(|s| LastSync {
                at: s.at.to_string(),
                new: count32(s.counts.new),
                changed: count32(s.counts.changed),
                unchanged: count32(s.counts.unchanged),
            }),
            coverage: tx
                .charge_coverage()?
                .into_iter()
                .map(|c| CoverageWindow {
                    from: c.from.to_string(),
                    to: c.to.to_string(),
                })
                .collect(),
            open_findings,
            open_by_kind,
            undecided_actions: in_states(&|s| s.is_undecided()),
            waiting_actions: in_states(&|s| matches!(s, S::Proposed | S::Approved)),
        })
    })
}

/// The findings queue, oldest first, filtered by kind, status and confidence.
pub fn findings(api: &Api, query: &FindingsQuery) -> Result<Vec<FindingRow>, ApiError> {
    let mut store = api.open()?;
    let filter = store::FindingFilter {
        kind: query.kind.map(kind_in),
        status: query.status.map(status_in),
    };
    let confidence = query.confidence.map(confidence_in);
    let page = store::Page {
        after: query.after.map(i64::from),
        limit: query.limit.unwrap_or(u32::MAX),
    };
    let found = store.read(|tx| tx.findings_page(&filter, confidence, page))?;
    Ok(found.iter().map(finding_row).collect())
}

/// One finding with its evidence side by side, its one fix and the actions taken on it.
pub fn finding(api: &Api, request: &IdRequest) -> Result<FindingDetail, ApiError> {
    let id = request.id;
    let mut store = api.open()?;
    let (found, fix, mut mine) = store.read(|tx| {
        let found = tx.finding(i64::from(id))?;
        let books = match &found {
            Some(f) => actions::plan::books_for_finding(tx, f)?,
            None => reconcile::Books::default(),
        };
        let fix = match &found {
            Some(f) => match actions::plan::for_finding(f, &books, now()) {
                Ok(plan) => Ok(ProposedFix {
                    kind: plan.kind().to_string(),
                    description: plan.describe(),
                    amount: Amount::from_money(plan.amount()),
                    moves_money: !matches!(plan, Plan::LedgerFix { .. }),
                    destination: actions::destination(tx, &plan, None)?.words,
                }),
                Err(why) => Err(why.to_string()),
            },
            None => Err(String::new()),
        };
        let mine = tx
            .actions_of_finding(i64::from(id))?
            .iter()
            .map(|a| action_view(tx, a))
            .collect::<Result<Vec<ActionView>, ApiError>>()?;
        Ok::<_, ApiError>((found, fix, mine))
    })?;
    let found = found.ok_or_else(|| {
        ApiError::new(
            ApiErrorCode::NotFound,
            format!("there is no finding {id}; reload the Findings list"),
        )
    })?;
    let (fix, no_fix_reason) = match fix {
        Ok(fix) => (Some(fix), None),
        Err(why) => (None, Some(why)),
    };
    mine.sort_by_key(|a| std::cmp::Reverse(a.id));
    Ok(FindingDetail {
        finding: finding_row(&found),
        evidence: evidence(&found.evidence),
        fix,
        no_fix_reason,
        actions: mine,
    })
}

/// Proposes the finding's fix as an action. Proposing again returns the same action.
pub fn propose(api: &Api, request: &ProposeRequest) -> Result<ActionView, ApiError> {
    required("your name", &request.by)?;
    let mut store = api.open()?;
    let action = actions::propose_for_finding(
        &mut store,
        i64::from(request.finding_id),
        &request.by,
        now(),
    )?;
    action_view_now(&mut store, &action)
}

/// Records an approval, after checking the approver's passphrase.
pub fn approve(api: &Api, request: &ApproveRequest) -> Result<Approved, ApiError> {
    required("the approver's name", &request.name)?;
    required("the passphrase", &request.passphrase)?;
    let mut store = api.open()?;
    let approval = actions::approve(
        &mut store,
        i64::from(request.action_id),
        &request.name,
        &request.passphrase,
        request.heuristic_checked,
        now(),
    )?;
    Ok(Approved {
        action: action_view_now(&mut store, &approval.action)?,
        approvals: count32(approval.approvals as u64),
        needed: count32(approval.needed as u64),
    })
}

/// Dismisses a finding a person judged fine; the reason is required and audited.
pub fn dismiss(api: &Api, request: &DismissRequest) -> Result<FindingRow, ApiError> {
    required("your name", &request.by)?;
    required("a reason", &request.reason)?;
    let mut store = api.open()?;
    let finding = actions::dismiss(
        &mut store,
        i64::from(request.finding_id),
        &request.by,
        &request.reason,
        now(),
    )?;
    Ok(finding_row(&finding))
}

/// Executes an approved action exactly once; a second call (a double click, another
/// window) sends nothing new and answers `already_in_progress` or the first result.
pub async fn execute(api: &Api, request: &ExecuteRequest) -> Result<Executed, ApiError> {
    required("your name", &request.by)?;
    let mut store = api.open()?;
    let client = api.client(&mut store).await?;
    let done = actions::execute(
        &mut store,
        &client,
        i64::from(request.action_id),
        &request.by,
        now(),
    )
    .await?;
    Ok(Executed {
        action: action_view_now(&mut store, &done.action)?,
        message: done.message,
        follow_ups: done
            .follow_ups
            .iter()
            .map(|a| action_view_now(&mut store, a))
            .collect::<Result<_, _>>()?,
    })
}

/// Settles every action whose outcome is unknown, by asking the gateway.
pub async fn recover(api: &Api) -> Result<Recovered, ApiError> {
    let mut store = api.open()?;
    let client = api.client(&mut store).await?;
    let report = actions::recover(&mut store, &client, now()).await?;
    Ok(Recovered {
        examined: count32(report.examined),
        succeeded: count32(report.succeeded),
        failed: count32(report.failed),
        needs_review: count32(report.needs_review),
        still_unknown: count32(report.still_unknown),
        message: report.to_string(),
    })
}

/// Every action, newest first.
pub fn actions_list(api: &Api) -> Result<Vec<ActionView>, ApiError> {
    let mut store = api.open()?;
    let mut all: Vec<ActionView> = store.read(|tx| {
        tx.actions(None)?
            .iter()
            .map(|a| action_view(tx, a))
            .collect::<Result<_, ApiError>>()
    })?;
    all.sort_by_key(|a| std::cmp::Reverse(a.id));
    Ok(all)
}

/// Pulls the gateway's charges and refunds, then reconciles.
pub async fn sync_now(api: &Api) -> Result<Synced, ApiError> {
    today_sync::sync_and_reconcile(api, |_| {}, || {}).await
}

/// Lays the gateway beside the ledger again and updates the findings.
pub fn reconcile_now(api: &Api) -> Result<u32, ApiError> {
    let mut store = api.open()?;
    let summary = reconcile::run(&mut store, now())?;
    Ok(count32(summary.open_by_kind.values().sum()))
}

/// Checks the audit log's hash chain and says where it breaks, if it does.
pub fn audit_verify(api: &Api) -> Result<AuditVerified, ApiError> {
    let mut store = api.open()?;
    let checked = chargeguard_core::audit_trail::verify(&mut store)?;
    Ok(match checked.chain {
        Ok(report) => AuditVerified {
            holds: true,
            entries: count32(report.entries),
            head_hash: Some(report.head_hash),
            problem: None,
        },
        Err(broken) => AuditVerified {
            holds: false,
            entries: count32(checked.entries),
            head_hash: None,
            problem: Some(broken.to_string()),
        },
    })
}

/// Imports one CSV file (one transaction: a bad row leaves the store as it was).
pub fn import_file(api: &Api, request: &ImportRequest) -> Result<Imported, ApiError> {
    required("a file", &request.path)?;
    let Some(kind) = imports::kind_in(request.kind) else {
        // A bank statement or a Stripe report: the import screen's door reads them.
        let outcome = imports::import_csv(
            api,
            &imports::ImportCsvRequest {
                kind: request.kind,
                path: request.path.clone(),
                mapping: None,
                from: None,
                currency: None,
                dry_run: false,
                account: None,
                dates: None,
            },
        )?;
        if !outcome.problems.is_empty() {
            return Err(ApiError::new(ApiErrorCode::Refused, outcome.message));
        }
        return Ok(Imported {
            new: outcome.new,
            changed: outcome.changed,
            unchanged: outcome.unchanged,
            message: outcome.message,
        });
    };
    let mut store = api.open()?;
    let mapping = match &request.mapping {
        Some(name) => Some(
            import::resolve_mapping(&mut store, name)
                .map_err(|e| ApiError::invalid(e.to_string()))?,
        ),
        None => None,
    };
    let options = ImportOptions {
        mapping,
        ..ImportOptions::default()
    };
    let report = import::import_file(&mut store, kind, Path::new(&request.path), &options, now())
        .map_err(|e| ApiError::new(ApiErrorCode::Refused, e.to_string()))?;
    Ok(Imported {
        new: count32(report.counts.new),
        changed: count32(report.counts.changed),
        unchanged: count32(report.counts.unchanged),
        message: report.to_string(),
    })
}
