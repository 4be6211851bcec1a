//! Reconciliation against generated books: clean stories (paid invoices linked every way,
//! partial payments, monthly plans, declined-then-succeeded attempts, full refunds recorded
//! or not, cash, payments not yet synced, unpaid invoices) mixed with injected incidents of
//! every kind. Reconcile must report exactly the injected incidents — kind, invoice,
//! charges, amount, currency, confidence — and nothing else, keep one charge per finding,
//! unique fingerprints, and give the same answer whatever the order of the rows.
//!
//! Each story has its own customer, so stories cannot leak into each other's heuristics;
//! what one story expects is what the books hold.

use std::collections::BTreeMap;

use chargeguard::money::{Currency, Money};
use chargeguard::reconcile::{Books, Confidence, FindingKind, Reconciliation, reconcile};
use chargeguard::records::{
    Charge, ChargeStatus, Coverage, GatewayRefund, Invoice, InvoiceStatus, LedgerEntry, LedgerKind,
    RefundStatus,
};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

const CURRENCIES: [&str; 4] = ["usd", "eur", "jpy", "kwd"];

#[derive(Debug, Clone, Copy)]
enum PaidLink {
    ReferenceAndChargeId,
    ChargeId,
    PaymentIntent,
}

#[derive(Debug, Clone, Copy)]
enum OrphanMode {
    OnInvoicePaidInCash,
    MatchingNoInvoice,
    GuessedOntoUnpaidInvoice,
}

#[derive(Debug, Clone, Copy)]
enum MissingMode {
    Absent,
    Failed,
    FailedIntent,
}

#[derive(Debug, Clone)]
enum Story {
    // Clean: nothing to report.
    Paid {
        cur: usize,
        amount: i64,
        link: PaidLink,
    },
    Partial {
        cur: usize,
        parts: Vec<i64>,
    },
    Monthly {
        cur: usize,
        amount: i64,
        months: u8,
    },
    DeclinedThenSucceeded {
        cur: usize,
        amount: i64,
        via_intent: bool,
    },
    FullRefundRecorded {
        cur: usize,
        amount: i64,
        by_refund_id: bool,
    },
    SurplusRefundedInFull {
        cur: usize,
        amount: i64,
    },
    Cash {
        cur: usize,
        amount: i64,
    },
    NotYetSynced {
        cur: usize,
        amount: i64,
    },
    Unpaid {
        cur: usize,
        amount: i64,
    },
    // Incidents: one finding each.
    Double {
        cur: usize,
        amount: i64,
        extra: u8,
        recorded: u8,
        with_ref: bool,
    },
    Orphan {
        cur: usize,
        amount: i64,
        refunded: i64,
        mode: OrphanMode,
    },
    Missing {
        cur: usize,
        amount: i64,
        mode: MissingMode,
    },
    Mismatch {
        cur: usize,
        amount: i64,
        ledger: i64,
        split: bool,
        other_currency: bool,
    },
    UnrecordedRefund {
        cur: usize,
        amount: i64,
        refunded: i64,
        known: i64,
    },
    Duplicate {
        cur: usize,
        amount: i64,
        by_order_ref: bool,
        gap_minutes: i64,
    },
}

fn cur_strategy() -> impl Strategy<Value = usize> {
    0..CURRENCIES.len()
}

fn amount() -> impl Strategy<Value = i64> {
    100i64..1_000_000
}

fn story() -> impl Strategy<Value = Story> {
    let link = prop_oneof![
        Just(PaidLink::ReferenceAndChargeId),
        Just(PaidLink::ChargeId),
        Just(PaidLink::PaymentIntent)
    ];
    let orphan_mode = prop_oneof![
        Just(OrphanMode::OnInvoicePaidInCash),
        Just(OrphanMode::MatchingNoInvoice),
        Just(OrphanMode::GuessedOntoUnpaidInvoice)
    ];
    let missing_mode = prop_oneof![
        Just(MissingMode::Absent),
        Just(MissingMode::Failed),
        Just(MissingMode::FailedIntent)
    ];
    prop_oneof![
        (cur_strategy(), amount(), link).prop_map(|(cur, amount, link)| Story::Paid {
            cur,
            amount,
            link
        }),
        (cur_strategy(), prop::collection::vec(1i64..500_000, 2..5))
            .prop_map(|(cur, parts)| Story::Partial { cur, parts }),
        (cur_strategy(), amount(), 2u8..5).prop_map(|(cur, amount, months)| Story::Monthly {
            cur,
            amount,
            months
        }),
        (cur_strategy(), amount(), any::<bool>()).prop_map(|(cur, amount, via_intent)| {
            Story::DeclinedThenSucceeded {
                cur,
                amount,
                via_intent,
            }
        }),
        (cur_strategy(), amount(), any::<bool>()).prop_map(|(cur, amount, by_refund_id)| {
            Story::FullRefundRecorded {
                cur,
                amount,
                by_refund_id,
            }
        }),
        (cur_strategy(), amount())
            .prop_map(|(cur, amount)| Story::SurplusRefundedInFull { cur, amount }),
        (cur_strategy(), amount()).prop_map(|(cur, amount)| Story::Cash { cur, amount }),
        (cur_strategy(), amount()).prop_map(|(cur, amount)| Story::NotYetSynced { cur, amount }),
        (cur_strategy(), amount()).prop_map(|(cur, amount)| Story::Unpaid { cur, amount }),
        (cur_strategy(), amount(), 1u8..4, 0u8..4, any::<bool>()).prop_map(
            |(cur, amount, extra, recorded, with_ref)| Story::Double {
                cur,
                amount,
                extra,
                recorded: recorded % (extra + 1),
                with_ref
            }
        ),
        (cur_strategy(), amount(), 0i64..100, orphan_mode).prop_map(|(cur, amount, pct, mode)| {
            Story::Orphan {
                cur,
                amount,
                refunded: amount * pct / 100,
                mode,
            }
        }),
        (cur_strategy(), amount(), missing_mode).prop_map(|(cur, amount, mode)| Story::Missing {
            cur,
            amount,
            mode
        }),
        (
            cur_strategy(),
            amount(),
            1i64..1_000_000,
            any::<bool>(),
            any::<bool>()
        )
            .prop_filter(
                "a mismatch needs a different ledger amount",
                |(_, amount, ledger, _, other)| { *other || amount != ledger }
            )
            .prop_map(
                |(cur, amount, ledger, split, other_currency)| Story::Mismatch {
                    cur,
                    amount,
                    ledger,
                    split,
                    other_currency
                }
            ),
        (cur_strategy(), amount(), 1i64..=100, 0i64..100).prop_map(
            |(cur, amount, pct, known_pct)| {
                let refunded = (amount * pct / 100).max(1);
                Story::UnrecordedRefund {
                    cur,
                    amount,
                    refunded,
                    known: refunded * known_pct / 100,
                }
            }
        ),
        (cur_strategy(), amount(), any::<bool>(), 1i64..10).prop_map(
            |(cur, amount, by_order_ref, gap_minutes)| Story::Duplicate {
                cur,
                amount,
                by_order_ref,
                gap_minutes
            }
        ),
    ]
}

/// What the test expects of one finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    kind: FindingKind,
    invoice: Option<String>,
    charges: Vec<String>,
    amount: i64,
    currency: String,
    confidence: Confidence,
}

fn base() -> Timestamp {
    "2026-09-15T08:00:00Z".parse().unwrap()
}

/// Builds the books one story at a time; each story has its own customer and ids.
struct Builder {
    books: Books,
    expected: Vec<Expected>,
    not_yet_synced: Vec<String>,
    story: usize,
    start: Timestamp,
}

impl Builder {
    fn currency(&self, cur: usize) -> Currency {
        Currency::from_code(CURRENCIES[cur]).unwrap()
    }

    fn money(&self, minor: i64, cur: usize) -> Money {
        Money::from_minor(minor, self.currency(cur))
    }

    fn customer(&self) -> String {
        format!("cus_{}", self.story)
    }

    fn id(&self, prefix: &str, n: usize) -> String {
        format!("{prefix}_{}_{n}", self.story)
    }

    fn at(&self, minutes: i64) -> Timestamp {
        self.start + SignedDuration::from_mins(minutes)
    }

    fn invoice(&mut self, n: usize, minor: i64, cur: usize, issued_min: i64) -> String {
        let number = format!("INV-{}-{n}", self.story);
        self.books.invoices.push(Invoice {
            number: number.clone(),
            customer_id: self.customer(),
            amount: self.money(minor, cur),
            issued_at: self.at(issued_min),
            due_at: Some(self.at(issued_min + 14 * 24 * 60)),
            status: InvoiceStatus::Open,
            order_ref: None,
            gateway_invoice_id: None,
            stated_paid: None,
            paid_at: None,
        });
        number
    }

    fn charge(&mut self, n: usize, minor: i64, cur: usize, created_min: i64) -> &mut Charge {
        let charge = Charge {
            id: self.id("ch", n),
            amount: self.money(minor, cur),
            amount_refunded: self.money(0, cur),
            status: ChargeStatus::Succeeded,
            captured: true,
            created: self.at(created_min),
            customer: Some(self.customer()),
            customer_email: None,
            payment_intent: None,
            invoice_ref: None,
            gateway_invoice_id: None,
            description: None,
            fee: None,
            metadata: BTreeMap::new(),
        };
        self.books.charges.push(charge);
        self.books.charges.last_mut().unwrap()
    }

    fn ledger(
        &mut self,
        n: usize,
        kind: LedgerKind,
        invoice: &str,
        money: Money,
        gateway_id: Option<String>,
        recorded_min: i64,
    ) -> String {
        let id = self.id(
            if kind == LedgerKind::Payment {
                "pay"
            } else {
                "ref"
            },
            n,
        );
        self.books.ledger.push(LedgerEntry {
            payment_id: id.clone(),
            invoice_number: invoice.into(),
            kind,
            amount: money,
            recorded_at: self.at(recorded_min),
            gateway_id,
        });
        id
    }

    fn expect(
        &mut self,
        kind: FindingKind,
        invoice: Option<&str>,
        charges: Vec<String>,
        amount: Money,
        confidence: Confidence,
    ) {
        let mut charges = charges;
        charges.sort();
        self.expected.push(Expected {
            kind,
            invoice: invoice.map(str::to_string),
            charges,
            amount: amount.minor(),
            currency: amount.currency().lower(),
            confidence,
        });
    }

    fn add(&mut self, story: &Story) {
        use FindingKind::*;
        let pay = LedgerKind::Payment;
        match *story {
            Story::Paid { cur, amount, link } => {
                let inv = self.invoice(0, amount, cur, 0);
                let ch = self.id("ch", 0);
                let pi = self.id("pi", 0);
                let charge = self.charge(0, amount, cur, 2);
                let gateway_id = match link {
                    PaidLink::ReferenceAndChargeId => {
                        charge.invoice_ref = Some(inv.clone());
                        ch
                    }
                    PaidLink::ChargeId => ch,
                    PaidLink::PaymentIntent => {
                        charge.payment_intent = Some(pi.clone());
                        pi
                    }
                };
                let m = self.money(amount, cur);
                self.ledger(0, pay, &inv, m, Some(gateway_id), 3);
            }
            Story::Partial { cur, ref parts } => {
                let inv = self.invoice(0, parts.iter().sum(), cur, 0);
                for (k, &part) in parts.iter().enumerate() {
                    self.charge(k, part, cur, 2 + k as i64 * 60).invoice_ref = Some(inv.clone());
                    let m = self.money(part, cur);
                    let ch = self.id("ch", k);
                    self.ledger(k, pay, &inv, m, Some(ch), 3 + k as i64 * 60);
                }
            }
            Story::Monthly {
                cur,
                amount,
                months,
            } => {
                for k in 0..months as usize {
                    let month = k as i64 * 31 * 24 * 60;
                    let inv = self.invoice(k, amount, cur, month);
                    self.charge(k, amount, cur, month + 1);
                    let m = self.money(amount, cur);
                    let ch = self.id("ch", k);
                    self.ledger(k, pay, &inv, m, Some(ch), month + 2);
                }
            }
            Story::DeclinedThenSucceeded {
                cur,
                amount,
                via_intent,
            } => {
                let inv = self.invoice(0, amount, cur, 0);
                let pi = self.id("pi", 0);
                let declined = self.charge(0, amount, cur, 1);
                declined.status = ChargeStatus::Failed;
                declined.invoice_ref = Some(inv.clone());
                if via_intent {
                    declined.payment_intent = Some(pi.clone());
                }
                let ok = self.charge(1, amount, cur, 3);
                ok.invoice_ref = Some(inv.clone());
                let gateway_id = if via_intent {
                    ok.payment_intent = Some(pi.clone());
                    pi
                } else {
                    self.id("ch", 1)
                };
                let m = self.money(amount, cur);
                self.ledger(0, pay, &inv, m, Some(gateway_id), 4);
            }
            Story::FullRefundRecorded {
                cur,
                amount,
                by_refund_id,
            } => {
                let inv = self.invoice(0, amount, cur, 0);
                let refunded = self.money(amount, cur);
                self.charge(0, amount, cur, 1).amount_refunded = refunded;
                let ch = self.id("ch", 0);
                self.ledger(0, pay, &inv, refunded, Some(ch.clone()), 2);
                let gateway_id = if by_refund_id {
                    let re = self.id("re", 0);
                    self.books.refunds.push(GatewayRefund {
                        id: re.clone(),
                        charge_id: ch,
                        amount: refunded,
                        status: RefundStatus::Succeeded,
                        created: self.at(60),
                        metadata: BTreeMap::new(),
                    });
                    re
                } else {
                    ch
                };
                self.ledger(1, LedgerKind::Refund, &inv, refunded, Some(gateway_id), 61);
            }
            Story::SurplusRefundedInFull { cur, amount } => {
                let inv = self.invoice(0, amount, cur, 0);
                self.charge(0, amount, cur, 1).invoice_ref = Some(inv.clone());
                let refunded = self.money(amount, cur);
                let surplus = self.charge(1, amount, cur, 2);
                surplus.invoice_ref = Some(inv.clone());
                surplus.amount_refunded = refunded;
                let ch = self.id("ch", 0);
                self.ledger(0, pay, &inv, refunded, Some(ch), 3);
            }
            Story::Cash { cur, amount } => {
                let inv = self.invoice(0, amount, cur, 0);
                let m = self.money(amount, cur);
                self.ledger(0, pay, &inv, m, None, 30);
            }
            Story::NotYetSynced { cur, amount } => {
                let inv = self.invoice(0, amount, cur, 0);
                let m = self.money(amount, cur);
                let later = self.id("ch", 99);
                // Recorded long after the coverage window ends (December 2026).
                let id = self.ledger(0, pay, &inv, m, Some(later), 200 * 24 * 60);
                self.not_yet_synced.push(id);
            }
            Story::Unpaid { cur, amount } => {
                self.invoice(0, amount, cur, 0);
            }
            Story::Double {
                cur,
                amount,
                extra,
                recorded,
                with_ref,
            } => {
                let inv = self.invoice(0, amount, cur, 0);
                let mut surplus = Vec::new();
                let total = extra as usize + 1;
                for k in 0..total {
                    let is_recorded = k == recorded as usize;
                    // Without references, the recorded charge is linked by the ledger and
                    // the rest only by the heuristic.
                    let charge = self.charge(k, amount, cur, 1 + k as i64 * 7);
                    if with_ref {
                        charge.invoice_ref = Some(inv.clone());
                    }
                    let ch = self.id("ch", k);
                    if is_recorded {
                        let m = self.money(amount, cur);
                        self.ledger(0, pay, &inv, m, Some(ch), 2 + k as i64 * 7);
                    } else {
                        surplus.push(ch);
                    }
                }
                let m = self.money(amount * i64::from(extra), cur);
                let confidence = if with_ref {
                    Confidence::Exact
                } else {
                    Confidence::Heuristic
                };
                self.expect(DoubleCharge, Some(&inv), surplus, m, confidence);
            }
            Story::Orphan {
                cur,
                amount,
                refunded,
                mode,
            } => {
                let ch = self.id("ch", 0);
                let net = self.money(amount - refunded, cur);
                let refunded = self.money(refunded, cur);
                match mode {
                    OrphanMode::OnInvoicePaidInCash => {
                        let inv = self.invoice(0, amount, cur, 0);
                        let m = self.money(amount, cur);
                        self.ledger(0, pay, &inv, m, None, 30);
                        let charge = self.charge(0, amount, cur, 2);
                        charge.invoice_ref = Some(inv.clone());
                        charge.amount_refunded = refunded;
                        self.expect(OrphanCharge, Some(&inv), vec![ch], net, Confidence::Exact);
                    }
                    OrphanMode::MatchingNoInvoice => {
                        self.charge(0, amount, cur, 2).amount_refunded = refunded;
                        self.expect(OrphanCharge, None, vec![ch], net, Confidence::Exact);
                    }
                    OrphanMode::GuessedOntoUnpaidInvoice => {
                        let inv = self.invoice(0, amount, cur, 0);
                        self.charge(0, amount, cur, 24 * 60).amount_refunded = refunded;
                        self.expect(
                            OrphanCharge,
                            Some(&inv),
                            vec![ch],
                            net,
                            Confidence::Heuristic,
                        );
                    }
                }
            }
            Story::Missing { cur, amount, mode } => {
                let inv = self.invoice(0, amount, cur, 0);
                let m = self.money(amount, cur);
                let (gateway_id, charges) = match mode {
                    MissingMode::Absent => (self.id("ch", 7), vec![self.id("ch", 7)]),
                    MissingMode::Failed => {
                        self.charge(0, amount, cur, 1).status = ChargeStatus::Failed;
                        (self.id("ch", 0), vec![self.id("ch", 0)])
                    }
                    MissingMode::FailedIntent => {
                        let pi = self.id("pi", 0);
                        let charge = self.charge(0, amount, cur, 1);
                        charge.status = ChargeStatus::Failed;
                        charge.payment_intent = Some(pi.clone());
                        (pi, vec![self.id("ch", 0)])
                    }
                };
                self.ledger(0, pay, &inv, m, Some(gateway_id), 2);
                self.expect(MissingCharge, Some(&inv), charges, m, Confidence::Exact);
            }
            Story::Mismatch {
                cur,
                amount,
                ledger,
                split,
                other_currency,
            } => {
                let inv = self.invoice(0, amount, cur, 0);
                self.charge(0, amount, cur, 1);
                let ch = self.id("ch", 0);
                let ledger_cur = if other_currency {
                    (cur + 1) % CURRENCIES.len()
                } else {
                    cur
                };
                let ledger = if other_currency { amount } else { ledger };
                if split && ledger >= 2 {
                    let first = ledger / 2;
                    let m1 = self.money(first, ledger_cur);
                    let m2 = self.money(ledger - first, ledger_cur);
                    self.ledger(0, pay, &inv, m1, Some(ch.clone()), 2);
                    self.ledger(1, pay, &inv, m2, Some(ch.clone()), 3);
                } else {
                    let m = self.money(ledger, ledger_cur);
                    self.ledger(0, pay, &inv, m, Some(ch.clone()), 2);
                }
                let shown = if other_currency {
                    self.money(ledger, ledger_cur)
                } else {
                    self.money((ledger - amount).abs(), cur)
                };
                self.expect(
                    AmountMismatch,
                    Some(&inv),
                    vec![ch],
                    shown,
                    Confidence::Exact,
                );
            }
            Story::UnrecordedRefund {
                cur,
                amount,
                refunded,
                known,
            } => {
                let inv = self.invoice(0, amount, cur, 0);
                let refunded_money = self.money(refunded, cur);
                self.charge(0, amount, cur, 1).amount_refunded = refunded_money;
                let ch = self.id("ch", 0);
                let m = self.money(amount, cur);
                self.ledger(0, pay, &inv, m, Some(ch.clone()), 2);
                if known > 0 {
                    let k = self.money(known, cur);
                    self.ledger(1, LedgerKind::Refund, &inv, k, Some(ch.clone()), 90);
                }
                let missing = self.money(refunded - known, cur);
                self.expect(
                    UnrecordedRefund,
                    Some(&inv),
                    vec![ch],
                    missing,
                    Confidence::Exact,
                );
            }
            Story::Duplicate {
                cur,
                amount,
                by_order_ref,
                gap_minutes,
            } => {
                let gap = if by_order_ref {
                    gap_minutes * 24 * 60
                } else {
                    gap_minutes
                };
                let first = self.invoice(0, amount, cur, 0);
                let second = self.invoice(1, amount, cur, gap);
                if by_order_ref {
                    let order = Some(format!("ORD-{}", self.story));
                    let n = self.books.invoices.len();
                    self.books.invoices[n - 2].order_ref = order.clone();
                    self.books.invoices[n - 1].order_ref = order;
                }
                for (k, inv, at) in [(0, &first, 1), (1, &second, gap + 1)] {
                    self.charge(k, amount, cur, at);
                    let m = self.money(amount, cur);
                    let ch = self.id("ch", k);
                    self.ledger(k, pay, inv, m, Some(ch), at + 1);
                }
                let m = self.money(amount, cur);
                let confidence = if by_order_ref {
                    Confidence::Exact
                } else {
                    Confidence::Heuristic
                };
                let later_charge = self.id("ch", 1);
                self.expect(
                    DuplicateInvoice,
                    Some(&second),
                    vec![later_charge],
                    m,
                    confidence,
                );
            }
        }
    }
}

fn build(stories: &[Story]) -> Builder {
    let mut builder = Builder {
        books: Books {
            coverage: vec![Coverage {
                from: "2026-09-01T00:00:00Z".parse().unwrap(),
                to: "2026-12-31T00:00:00Z".parse().unwrap(),
            }],
            ..Books::default()
        },
        expected: Vec::new(),
        not_yet_synced: Vec::new(),
        story: 0,
        start: base(),
    };
    for (i, story) in stories.iter().enumerate() {
        builder.story = i;
        builder.start = base() + SignedDuration::from_mins(i as i64 * 37);
        builder.add(story);
    }
    builder.expected.sort();
    builder.not_yet_synced.sort();
    builder
}

fn reported(r: &Reconciliation) -> Vec<Expected> {
    let mut seen: Vec<Expected> = r
        .findings
        .iter()
        .map(|f| Expected {
            kind: f.kind,
            invoice: f.invoice_number.clone(),
            charges: f.charge_ids.clone(),
            amount: f.amount.minor(),
            currency: f.amount.currency().lower(),
            confidence: f.confidence,
        })
        .collect();
    seen.sort();
    seen
}

fn one_charge_one_finding(r: &Reconciliation) -> Result<(), String> {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for f in &r.findings {
        for c in &f.charge_ids {
            if let Some(previous) = owner.insert(c, &f.fingerprint) {
                return Err(format!("{c} is in {previous} and {}", f.fingerprint));
            }
        }
    }
    let mut fingerprints: Vec<&str> = r.findings.iter().map(|f| f.fingerprint.as_str()).collect();
    let n = fingerprints.len();
    fingerprints.dedup();
    if fingerprints.len() != n {
        return Err("a fingerprint appears twice".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn reports_exactly_the_injected_incidents(stories in prop::collection::vec(story(), 1..30)) {
        let built = build(&stories);
        let r = reconcile(&built.books);
        prop_assert_eq!(reported(&r), built.expected.clone());
        prop_assert_eq!(&r.not_yet_synced, &built.not_yet_synced);
        prop_assert_eq!(one_charge_one_finding(&r), Ok(()));
        let sorted = r.findings.windows(2).all(|w| w[0].fingerprint < w[1].fingerprint);
        prop_assert!(sorted, "findings are sorted by fingerprint");

        // Same books, again and in another order: the same answer, byte for byte.
        prop_assert_eq!(&reconcile(&built.books), &r);
        let mut shuffled = built.books.clone();
        shuffled.invoices.reverse();
        shuffled.ledger.reverse();
        let half = shuffled.charges.len() / 2;
        shuffled.charges.rotate_left(half);
        shuffled.refunds.reverse();
        prop_assert_eq!(&reconcile(&shuffled), &r);
    }
}

#[test]
fn a_single_story_of_each_kind_reports_itself() {
    // A readable smoke test beside the generated ones: one incident of every kind.
    let stories = vec![
        Story::Double {
            cur: 0,
            amount: 1_000,
            extra: 1,
            recorded: 0,
            with_ref: true,
        },
        Story::Orphan {
            cur: 2,
            amount: 5_000,
            refunded: 0,
            mode: OrphanMode::MatchingNoInvoice,
        },
        Story::Missing {
            cur: 3,
            amount: 1_250,
            mode: MissingMode::Absent,
        },
        Story::Mismatch {
            cur: 1,
            amount: 1_000,
            ledger: 900,
            split: false,
            other_currency: false,
        },
        Story::UnrecordedRefund {
            cur: 0,
            amount: 1_000,
            refunded: 400,
            known: 100,
        },
        Story::Duplicate {
            cur: 0,
            amount: 700,
            by_order_ref: true,
            gap_minutes: 3,
        },
    ];
    let built = build(&stories);
    let r = reconcile(&built.books);
    let fingerprints: Vec<&str> = r.findings.iter().map(|f| f.fingerprint.as_str()).collect();
    assert_eq!(
        fingerprints,
        vec![
            "amount_mismatch:ch_3_0:pay_3_0",
            "double_charge:INV-0-0:ch_0_1",
            "duplicate_invoice:INV-5-1:INV-5-0",
            "missing_charge:pay_2_0",
            "orphan_charge:ch_1_0",
            "unrecorded_refund:ch_4_0:400",
        ]
    );
    assert_eq!(reported(&r), built.expected);
}
