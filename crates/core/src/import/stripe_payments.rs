//! Stripe's payments export: the dashboard's unified payments CSV, one charge per row.
//!
//! The real export is wide (`id, Description, Seller Message, Created date (UTC), Amount,
//! Amount Refunded, Currency, Converted Amount, Converted Amount Refunded, Fee, Tax,
//! Converted Currency, Mode, Status, Statement Descriptor, Customer ID, Customer
//! Description, Customer Email, Captured, Card …, Disputed Amount, Dispute …, Invoice ID,
//! Payment Source Type, Destination, Transfer, Transfer Group, PaymentIntent ID`, then
//! one `NAME (metadata)` column per metadata key); older exports say `Created (UTC)`.
//! We read what reconciliation needs, file each `NAME (metadata)` column under
//! `metadata[NAME]` (`invoice_number` is also the charge's invoice reference), and keep
//! the rest in the row's extra. The dispute columns (`Disputed Amount`, `Dispute Status`,
//! `Dispute Reason`, `Dispute Date (UTC)`, `Dispute Evidence Due (UTC)`) become the
//! charge's dispute, stored under a name of the charge's until a sync brings Stripe's.
//!
//! Amounts are major units with the currency's own decimals (JPY 0, USD 2, KWD 3). The
//! export's `Fee` is in the account's settlement currency (`Converted Currency`): it is
//! stored as the charge's fee only when that is the charge's currency, and otherwise kept
//! as text in extra, never converted. Dates are UTC whatever zone the import was given.
//! Stripe's dashboard statuses are mapped onto ours; one we do not know is refused by
//! name rather than guessed, because a wrong guess here invents or hides money.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::cells::{Cells, CurrencyCache};
use super::columns::{Col, ColumnResolver, Columns};
use super::{FileKind, Layout, SkippedRows};
use crate::dates::{self, DateError};
use crate::money::Currency;
use crate::money::{Money, Sign};
use crate::records::{Charge, ChargeStatus, Coverage, Dispute, DisputeStatus, Origin};
use crate::store::{
    ExtraColumns, FieldChange, StoreError, StoreTx, UpsertOutcome, Upserted, exported_dispute_id,
};

/// The gateway name the store files these charges under.
pub(crate) const GATEWAY: &str = "stripe";

const METADATA_SUFFIX: &str = " (metadata)";
const INVOICE_KEY: &str = "invoice_number";

pub(crate) struct StripePaymentsLayout {
    id: Col,
    created: Col,
    amount: Col,
    amount_refunded: Col,
    currency: Col,
    status: Col,
    captured: Col,
    description: Option<Col>,
    fee: Option<Col>,
    converted_currency: Option<Col>,
    customer: Option<Col>,
    customer_email: Option<Col>,
    payment_intent: Option<Col>,
    invoice_id: Option<Col>,
    dispute: DisputeColumns,
    metadata: Vec<(Col, String)>,
    currencies: CurrencyCache,
    window: Option<Coverage>,
    /// Rows without a charge id: payment attempts that never made a charge.
    attempts: u64,
}

/// The export's five columns about a charge's dispute (it names no dispute id).
struct DisputeColumns {
    amount: Option<Col>,
    status: Option<Col>,
    reason: Option<Col>,
    date: Option<Col>,
    evidence_due: Option<Col>,
}

pub(crate) struct StripeRow {
    charge: Charge,
    /// The charge's dispute, where the export states one.
    dispute: Option<Dispute>,
    /// The fee is in another currency than the charge: kept as text in extra.
    fee_kept: bool,
}

/// The export's charge id column.
pub(crate) const ID: &str = "id";
/// When the charge was made: Stripe's name since 2024, then the names before it.
pub(crate) const CREATED: (&str, &[&str]) = ("Created date (UTC)", &["Created (UTC)"]);

impl StripePaymentsLayout {
    pub fn resolve(columns: &mut ColumnResolver<'_>) -> Self {
        StripePaymentsLayout {
            id: columns.required(ID, &[]),
            created: columns.required(CREATED.0, CREATED.1),
            amount: columns.required("Amount", &[]),
            amount_refunded: columns.required("Amount Refunded", &[]),
            currency: columns.required("Currency", &[]),
            status: columns.required("Status", &[]),
            captured: columns.required("Captured", &[]),
            description: columns.optional("Description", &[]),
            fee: columns.optional("Fee", &[]),
            converted_currency: columns.shared("Converted Currency", &[]),
            customer: columns.optional("Customer ID", &[]),
            customer_email: columns.optional("Customer Email", &[]),
            payment_intent: columns.optional("PaymentIntent ID", &["Payment Intent ID"]),
            invoice_id: columns.optional("Invoice ID", &[]),
            dispute: DisputeColumns {
                amount: columns.optional("Disputed Amount", &[]),
                status: columns.optional("Dispute Status", &[]),
                reason: columns.optional("Dispute Reason", &[]),
                date: columns.optional("Dispute Date (UTC)", &["Dispute Date"]),
                evidence_due: columns
                    .optional("Dispute Evidence Due (UTC)", &["Dispute Evidence Due"]),
            },
            metadata: columns.claim_suffixed(METADATA_SUFFIX),
            currencies: CurrencyCache::default(),
            window: None,
            attempts: 0,
        }
    }

    /// Lets rows keep their fee in extra when it cannot be the charge's fee.
    pub fn prepare(&self, columns: &mut Columns) {
        if let Some(fee) = self.fee {
            columns.keep_when_unused(fee);
        }
    }

    fn note_created(&mut self, at: Timestamp) {
        self.window = Some(match self.window {
            None => Coverage { from: at, to: at },
            Some(w) => Coverage {
                from: w.from.min(at),
                to: w.to.max(at),
            },
        });
    }
}

/// What the dispute columns of one row say, before the charge they belong to is known.
struct ExportedDispute {
    amount: Option<Money>,
    status: DisputeStatus,
    reason: String,
    created: Timestamp,
    evidence_due_by: Option<Timestamp>,
}

impl DisputeColumns {
    /// The row's dispute: one is stated by a status, or by a disputed amount above zero
    /// (an export may write `0.00` on every undisputed row). Its date is required, since
    /// it dates the chargeback in the month-end; a status Chargeguard does not know is
    /// read as the closest safe one (a chargeback under review holds the money).
    fn read(&self, cells: &mut Cells<'_>, currency: Currency) -> Option<ExportedDispute> {
        let status = self.status.and_then(|c| cells.optional(c));
        let amount = match self.amount {
            Some(col) if cells.optional(col).is_some() => {
                cells.money(col, currency, Sign::NonNegative)
            }
            _ => None,
        };
        if status.is_none() && amount.is_none_or(|m| m.minor() == 0) {
            return None;
        }
        let created = match self.date {
            Some(col) if cells.optional(col).is_some() => cells.instant_from(col, parse_created),
            _ => {
                let at = self.date.or(self.status).or(self.amount)?;
                cells.fail(
                    at,
                    "the row states a dispute but not when it was opened, which dates the chargeback in its month; export the payments again from Stripe with the dispute columns, or fill in the dispute's date",
                );
                None
            }
        };
        let evidence_due_by = match self.evidence_due.filter(|c| cells.optional(*c).is_some()) {
            Some(col) => Some(cells.instant_from(col, parse_created)?),
            None => None,
        };
        Some(ExportedDispute {
            amount,
            status: DisputeStatus::parse_or_closest(status.unwrap_or("")),
            reason: self
                .reason
                .and_then(|c| cells.optional(c))
                .unwrap_or_default()
                .to_string(),
            created: created?,
            evidence_due_by,
        })
    }
}

/// What importing a row did, its charge and its dispute together: a dispute new or
/// changed under an unchanged charge is a change of the row.
fn with_dispute(charge: UpsertOutcome, dispute: UpsertOutcome) -> UpsertOutcome {
    let dispute_changes = match dispute {
        UpsertOutcome::Unchanged => return charge,
        UpsertOutcome::New => vec![FieldChange {
            field: "dispute",
            old: None,
            new: Some("stated".to_string()),
        }],
        UpsertOutcome::Changed(changes) => changes
            .into_iter()
            .map(|c| FieldChange {
                field: match c.field {
                    "status" => "dispute status",
                    "amount_minor" => "disputed amount",
                    "reason" => "dispute reason",
                    "created_at" => "dispute date",
                    "evidence_due_by" => "dispute evidence due",
                    _ => "dispute",
                },
                ..c
            })
            .collect(),
    };
    match charge {
        UpsertOutcome::New => UpsertOutcome::New,
        UpsertOutcome::Unchanged => UpsertOutcome::Changed(dispute_changes),
        UpsertOutcome::Changed(mut changes) => {
            changes.extend(dispute_changes);
            UpsertOutcome::Changed(changes)
        }
    }
}

/// Stripe's dashboard status, read as ours. `Some(false)` in the second place: the status
/// itself says the money was not captured.
fn charge_status(text: &str) -> Option<(ChargeStatus, Option<bool>)> {
    let normal: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '_' | '-' => ' ',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let status = match normal.as_str() {
        "paid"
        | "succeeded"
        | "refunded"
        | "partially refunded"
        | "refund pending"
        | "disputed"
        | "early fraud warning" => (ChargeStatus::Succeeded, None),
        "uncaptured" | "requires capture" => (ChargeStatus::Succeeded, Some(false)),
        "pending"
        | "incomplete"
        | "processing"
        | "requires action"
        | "requires payment method"
        | "requires confirmation" => (ChargeStatus::Pending, None),
        "failed" | "blocked" | "declined" | "canceled" | "cancelled" | "expired" => {
            (ChargeStatus::Failed, None)
        }
        _ => return None,
    };
    Some(status)
}

/// Stripe writes `2026-10-03 14:22:10` or `2026-10-03 14:22`, always UTC; read that shape
/// directly (it is every row of a large file) and anything else as ISO 8601 in UTC.
fn parse_created(text: &str) -> Result<Timestamp, DateError> {
    let b = text.as_bytes();
    let shaped = (b.len() == 16 || b.len() == 19)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && b[13] == b':'
        && (b.len() == 16 || b[16] == b':');
    if shaped {
        let num = |from: usize, to: usize| -> Option<i16> {
            b[from..to].iter().try_fold(0i16, |acc, d| {
                d.is_ascii_digit().then(|| acc * 10 + i16::from(d - b'0'))
            })
        };
        let second = if b.len() == 19 { num(17, 19) } else { Some(0) };
        let parts = (
            num(0, 4),
            num(5, 7),
            num(8, 10),
            num(11, 13),
            num(14, 16),
            second,
        );
        if let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = parts {
            let narrow = |v: i16| i8::try_from(v).ok();
            if let (Some(mo), Some(d), Some(h), Some(mi), Some(s)) =
                (narrow(mo), narrow(d), narrow(h), narrow(mi), narrow(s))
                && let Ok(dt) = DateTime::new(y, mo, d, h, mi, s, 0)
                && let Ok(ts) = Offset::UTC.to_timestamp(dt)
            {
                return Ok(ts);
            }
        }
    }
    dates::parse_instant(text, &TimeZone::UTC)
}

impl Layout for StripePaymentsLayout {
    type Row = StripeRow;
    const KIND: FileKind = FileKind::StripePayments;

    fn parse(&mut self, cells: &mut Cells<'_>) -> Option<StripeRow> {
        // A row without a charge id is a payment attempt (a PaymentIntent that made no
        // charge: `requires_payment_method`, `canceled`, even `succeeded` in real files,
        // with only a `PaymentIntent ID`). It is not a charge and holds no money here: it
        // is counted and left out, never stored as a charge nor refused.
        if cells.optional(self.id).is_none() {
            self.attempts += 1;
            return None;
        }
        let status_text = cells.text(self.status);
        let status = charge_status(status_text);
        let id = cells.required(self.id, "charge id");
        let created = cells.instant_from(self.created, parse_created);
        let currency = cells.currency(self.currency, &mut self.currencies);
        let amount = currency.and_then(|c| cells.money(self.amount, c, Sign::NonNegative));
        // Stripe leaves `Amount Refunded` empty on rows it never refunded.
        let refunded = currency.and_then(|c| match cells.optional(self.amount_refunded) {
            None => Some(Money::zero(c)),
            Some(_) => cells.money(self.amount_refunded, c, Sign::NonNegative),
        });
        if let (Some(a), Some(r)) = (amount, refunded)
            && r.minor() > a.minor()
        {
            cells.fail(
                self.amount_refunded,
                format!(
                    "the refunded amount {r} is more than the charge's amount {a}; check that the row was not edited"
                ),
            );
        }
        if status.is_none() {
            cells.fail(
                self.status,
                format!(
                    "`{status_text}` is not a Stripe payment status Chargeguard knows (Paid, Refunded, Partially refunded, Uncaptured, Pending, Failed, Blocked, Canceled, Disputed…); report it so it can be mapped"
                ),
            );
        }
        let captured_text = cells.text(self.captured);
        let captured = if captured_text.eq_ignore_ascii_case("true") {
            Some(true)
        } else if captured_text.eq_ignore_ascii_case("false") {
            Some(false)
        } else if captured_text.is_empty() {
            // Stripe leaves it empty where nothing could be captured; a status that says
            // the money moved says it was.
            status.map(|(s, uncaptured)| s == ChargeStatus::Succeeded && uncaptured != Some(false))
        } else {
            cells.fail(
                self.captured,
                format!("`{captured_text}` is not true or false"),
            );
            None
        };
        if let (Some((_, Some(false))), Some(true)) = (status, captured) {
            cells.fail(
                self.captured,
                "the status says Uncaptured but Captured is true; the row contradicts itself",
            );
        }
        let mut fee = None;
        let mut fee_kept = false;
        if let (Some(fee_col), Some(currency)) = (self.fee, currency)
            && cells.optional(fee_col).is_some()
        {
            let fee_currency = self
                .converted_currency
                .and_then(|c| cells.optional(c))
                .map(|text| self.currencies.get(text));
            match fee_currency {
                Some(Ok(c)) if c != currency => fee_kept = true,
                Some(Err(_)) => fee_kept = true,
                _ => fee = cells.money(fee_col, currency, Sign::NonNegative),
            }
        }
        let dispute = currency.and_then(|c| self.dispute.read(cells, c));
        let mut metadata = BTreeMap::new();
        let mut invoice_ref = None;
        for (col, key) in &self.metadata {
            if let Some(value) = cells.optional(*col) {
                if key.eq_ignore_ascii_case(INVOICE_KEY) {
                    invoice_ref = Some(value.to_string());
                }
                metadata.insert(key.clone(), value.to_string());
            }
        }
        if cells.failed() {
            return None;
        }
        let (status, _) = status?;
        let created = created?;
        self.note_created(created);
        let owned = |col: Option<Col>| col.and_then(|c| cells.optional(c)).map(str::to_string);
        let (id, amount) = (id?.to_string(), amount?);
        let payment_intent = owned(self.payment_intent);
        let dispute = dispute.map(|d| Dispute {
            id: exported_dispute_id(&id),
            charge_id: id.clone(),
            payment_intent: payment_intent.clone(),
            // The export leaves it empty on an inquiry that disputes the whole charge.
            amount: d.amount.filter(|m| m.minor() > 0).unwrap_or(amount),
            status: d.status,
            reason: d.reason,
            created: d.created,
            evidence_due_by: d.evidence_due_by,
        });
        Some(StripeRow {
            dispute,
            charge: Charge {
                id,
                amount,
                amount_refunded: refunded?,
                status,
                captured: captured?,
                created,
                customer: owned(self.customer),
                customer_email: owned(self.customer_email),
                payment_intent,
                invoice_ref,
                gateway_invoice_id: owned(self.invoice_id),
                description: owned(self.description),
                fee,
                metadata,
            },
            fee_kept,
        })
    }

    fn key(row: &StripeRow) -> &str {
        &row.charge.id
    }

    fn key_column(&self) -> Col {
        self.id
    }

    fn describe(row: &StripeRow) -> String {
        let c = &row.charge;
        format!(
            "{} · {} · {} · {} · {}",
            c.id,
            c.amount,
            c.status.as_str(),
            c.created.strftime("%Y-%m-%d %H:%M"),
            c.gateway_invoice_id
                .as_deref()
                .or(c.invoice_ref.as_deref())
                .unwrap_or("no invoice named")
        )
    }

    fn keeps_unused(&self, row: &StripeRow) -> bool {
        row.fee_kept
    }

    fn store(
        tx: &StoreTx<'_>,
        row: &StripeRow,
        extra: ExtraColumns<'_>,
        origin: &Origin,
    ) -> Result<Upserted, StoreError> {
        let charge = tx.upsert_charge(GATEWAY, &row.charge, extra, origin)?;
        let Some(dispute) = &row.dispute else {
            return Ok(charge);
        };
        let dispute = tx.upsert_dispute(GATEWAY, dispute, origin)?;
        Ok(Upserted {
            outcome: with_dispute(charge.outcome, dispute.outcome),
            previous: charge.previous,
        })
    }

    fn coverage(&self) -> Option<Coverage> {
        self.window
    }

    fn skipped(&self) -> Vec<SkippedRows> {
        SkippedRows::some(
            self.attempts,
            "payment attempt without a charge",
            "payment attempts without a charge",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::with_seconds("2026-10-03 14:22:10", "2026-10-03T14:22:10Z")]
    #[case::without_seconds("2026-10-03 14:22", "2026-10-03T14:22:00Z")]
    #[case::iso_with_zone("2026-10-03T16:22:10+02:00", "2026-10-03T14:22:10Z")]
    fn created_dates_are_utc(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(parse_created(text).unwrap().to_string(), expected);
    }

    #[rstest]
    #[case::month_thirteen("2026-13-03 14:22:10")]
    #[case::us_style("10/03/2026 14:22")]
    fn malformed_created_dates_are_refused(#[case] text: &str) {
        assert!(parse_created(text).is_err());
    }

    #[rstest]
    #[case::paid("Paid", ChargeStatus::Succeeded, None)]
    #[case::fully_refunded("Refunded", ChargeStatus::Succeeded, None)]
    #[case::partially_refunded("Partially Refunded", ChargeStatus::Succeeded, None)]
    #[case::disputed("disputed", ChargeStatus::Succeeded, None)]
    #[case::uncaptured("Uncaptured", ChargeStatus::Succeeded, Some(false))]
    #[case::pending("Pending", ChargeStatus::Pending, None)]
    #[case::incomplete("Incomplete", ChargeStatus::Pending, None)]
    #[case::failed("FAILED", ChargeStatus::Failed, None)]
    #[case::blocked("Blocked", ChargeStatus::Failed, None)]
    #[case::canceled("Canceled", ChargeStatus::Failed, None)]
    #[case::a_payment_intent_status("requires_payment_method", ChargeStatus::Pending, None)]
    #[case::authorised_not_captured("requires_capture", ChargeStatus::Succeeded, Some(false))]
    fn stripe_statuses_map_onto_ours(
        #[case] text: &str,
        #[case] status: ChargeStatus,
        #[case] captured: Option<bool>,
    ) {
        assert_eq!(charge_status(text), Some((status, captured)));
    }

    #[test]
    fn an_unknown_status_is_not_guessed() {
        assert_eq!(charge_status("Settled"), None);
    }
}
