//! Fuzzing every way outside text reaches the core, on the stable toolchain (proptest):
//! each importer (invoices through every shipped layout, payments, Stripe's payments
//! export), the mapping loader (a TOML file, a saved mapping, a mapping preview) and the
//! sandbox's form decoder.
//!
//! Importer inputs are structured mutations of the real-layout fixtures under
//! `tests/fixtures/import/`: cells dropped, repeated, swapped or replaced with hostile text
//! (huge numbers, `1e309`, `-0`, other scripts' digits, quotes, NUL, a byte order mark in
//! the middle, line ends, invalid UTF-8, formula text, very long values), rows dropped,
//! repeated, swapped or copied past the importer's batches, headers changed, then the bytes
//! cut short, spliced or given other line ends; read in zones with odd clock changes, in
//! currencies of 0 to 4 decimals, through the file's layout or another; and fully random
//! bytes. Whatever the file, an import must not panic. A refusal says why in words, names
//! the file when it is about the file's content, quotes no cell or header at length, and
//! leaves every table of the store byte for byte as it was. A dry run changes nothing and
//! foretells the import exactly; an import adds exactly the records it counts as new, and
//! the same file imported again changes nothing.
//!
//! The run is bounded for CI: each target runs `CHARGEGUARD_FUZZ_CASES` cases (256 unless
//! set), from a new random seed each run. Run it longer locally, for example overnight:
//!
//! ```text
//! CHARGEGUARD_FUZZ_CASES=100000 cargo test --release --test fuzz_inputs
//! ```
//!
//! A failing case is printed shrunk to its smallest form (`PROPTEST_RNG_SEED` replays a
//! run). Each crash found becomes a plain test at the end of this file, named after what
//! it was, with the exact input.

mod import_support;

use std::fmt;
use std::path::Path;

use chargeguard::import::mapping::{ColumnMapping, preview};
use chargeguard::import::{FileKind, ImportError, ImportOptions, import_file, resolve_mapping};
use chargeguard::money::Currency;
use chargeguard::sandbox::wire::{CreatedRange, Params};
use import_support::{TestStore, fixture, now};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestCaseError};

/// Cases per target: `CHARGEGUARD_FUZZ_CASES`, else a count that keeps the binary well
/// under a minute in CI.
fn config() -> Config {
    let cases = std::env::var("CHARGEGUARD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        // What a run finds is kept as a named test below, not in a file beside this one.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------- the files mutated

/// A real file and how it is imported as it is.
struct Base {
    kind: FileKind,
    /// Under `tests/fixtures/import/`.
    file: &'static str,
    /// The shipped layout that reads it (what `from` names); `None` for our own layout.
    layout: Option<&'static str>,
    /// Its headers recognise another layout first: `from` must name this one.
    from_required: bool,
    /// The file has no currency column.
    currency: Option<&'static str>,
    /// A mapping file it is imported through.
    mapping: Option<&'static str>,
}

const fn own(kind: FileKind, file: &'static str) -> Base {
    Base {
        kind,
        file,
        layout: None,
        from_required: false,
        currency: None,
        mapping: None,
    }
}

const fn shipped(kind: FileKind, file: &'static str, layout: &'static str) -> Base {
    Base {
        kind,
        file,
        layout: Some(layout),
        from_required: false,
        currency: None,
        mapping: None,
    }
}

const fn with_currency(base: Base, currency: &'static str) -> Base {
    Base {
        currency: Some(currency),
        ..base
    }
}

const fn named_only(base: Base) -> Base {
    Base {
        from_required: true,
        ..base
    }
}

const INVOICES: FileKind = FileKind::Invoices;
const PAYMENTS: FileKind = FileKind::Payments;
const STRIPE: FileKind = FileKind::StripePayments;

/// Every real file of every kind, with what it takes to import (as `import::real_layouts`
/// and `import::layouts` import them).
const BASES: &[Base] = &[
    own(INVOICES, "invoices.csv"),
    own(INVOICES, "invoices_bom_shuffled.csv"),
    Base {
        mapping: Some("acme_invoices.toml"),
        ..own(INVOICES, "acme_invoices.csv")
    },
    shipped(INVOICES, "layouts/stripe-invoices.csv", "stripe-invoices"),
    shipped(INVOICES, "layouts/xero.csv", "xero"),
    named_only(shipped(INVOICES, "layouts/xero-us.csv", "xero-us")),
    shipped(INVOICES, "layouts/freshbooks.csv", "freshbooks"),
    shipped(INVOICES, "layouts/zoho-invoice.csv", "zoho"),
    shipped(INVOICES, "layouts/zoho-books.csv", "zoho"),
    shipped(INVOICES, "layouts/invoice2go.csv", "invoice2go"),
    with_currency(
        shipped(INVOICES, "layouts/invoicely.csv", "invoicely"),
        "USD",
    ),
    shipped(INVOICES, "layouts/invoice-ninja.csv", "invoice-ninja"),
    shipped(
        INVOICES,
        "layouts/invoice-ninja-items.csv",
        "invoice-ninja-items",
    ),
    with_currency(shipped(INVOICES, "layouts/wave.csv", "wave"), "USD"),
    with_currency(
        shipped(
            INVOICES,
            "layouts/quickbooks-online.csv",
            "quickbooks-online",
        ),
        "USD",
    ),
    named_only(shipped(
        INVOICES,
        "layouts/quickbooks-online-dmy.csv",
        "quickbooks-online-dmy",
    )),
    own(PAYMENTS, "payments.csv"),
    shipped(PAYMENTS, "layouts/zoho-payments.csv", "zoho-payments"),
    with_currency(
        shipped(PAYMENTS, "layouts/wave.csv", "wave-payments"),
        "USD",
    ),
    own(STRIPE, "stripe_payments.csv"),
    own(STRIPE, "stripe_payments_2023.csv"),
    own(STRIPE, "stripe_payments_2024.csv"),
];

/// The indexes of the bases of one kind.
fn bases_of(kind: FileKind) -> Vec<usize> {
    (0..BASES.len())
        .filter(|&i| BASES[i].kind == kind)
        .collect()
}

/// The header of the column that keys the base's records.
fn key_header(base: &Base) -> String {
    let ours = match base.kind {
        FileKind::Invoices => "invoice_number",
        FileKind::Payments => "payment_id",
        FileKind::StripePayments => return "id".to_string(),
    };
    let options = options(base, false);
    let shipped = base
        .layout
        .and_then(chargeguard::import::layouts::named)
        .map(|l| &l.mapping);
    match options.mapping.as_ref().or(shipped) {
        Some(mapping) => mapping.header_for(ours).to_string(),
        None => ours.to_string(),
    }
}

fn options(base: &Base, name_layout: bool) -> ImportOptions {
    ImportOptions {
        from: base
            .layout
            .filter(|_| name_layout || base.from_required)
            .map(str::to_string),
        currency: base.currency.map(|c| Currency::from_code(c).unwrap()),
        mapping: base.mapping.map(|m| {
            ColumnMapping::from_toml(&std::fs::read_to_string(fixture(m)).unwrap()).unwrap()
        }),
        ..ImportOptions::default()
    }
}

/// Bytes that print as a byte string, so a shrunk case reads as the file it was.
#[derive(Clone, PartialEq, Eq)]
struct Bytes(Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

const BOM: &[u8] = "\u{feff}".as_bytes();

/// Cell text that has broken importers somewhere: numbers no amount is, dates no calendar
/// has, codes no currency has, quotes, separators, line ends, formula text.
const HOSTILE: &[&str] = &[
    "",
    " ",
    " \t ",
    "0",
    "-0",
    "-0.00",
    "+0",
    "1e309",
    "1E3",
    "-1e-309",
    "NaN",
    "inf",
    "-inf",
    "١٢٣",
    "١٢٣٫٤٥",
    "１２３",
    "۱۲۳.۴۵",
    "1,2,3",
    "1.2.3",
    "1,000.00",
    "1.000,00",
    "$1,020.00",
    "€ 1.020,00",
    "USD 13.50",
    "(12.00)",
    "(12.00",
    "12-",
    "--1",
    "+-1",
    "−5.00",
    "12.",
    ".5",
    ".",
    ",",
    "0.001",
    "1.005",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "92233720368547758.07",
    "99999999999999999999999999999.99",
    "79228162514264337593543950336",
    "\"",
    "\"\"",
    "a\"b",
    "\"quoted\"",
    "\0",
    "a\0b",
    "\u{feff}",
    "x\u{feff}y",
    "\r",
    "\n",
    "\r\n",
    "a\rb",
    "a\nb",
    ";",
    "\t",
    "=cmd|' /C calc'!A0",
    "=1+1",
    "@SUM(A1)",
    "+1",
    "-",
    "2026-02-30",
    "2026-13-01",
    "0000-00-00",
    "9999-12-31T23:59:59Z",
    "-009999-01-01",
    "+010000-01-01",
    "2026-10-01T25:00:00",
    "2026-10-01T24:00:00",
    "2026-03-29 02:30:00",
    "2026-10-25 01:30:00",
    "2026-10-01T00:00:00+25:00",
    "2026-10-01T00:00:00[Mars/Olympus]",
    "1700000000",
    "03/02/2026",
    "31/12/2026",
    "12/31/2026",
    "Apr 31 2024",
    "2024-06-03 12:00:00 +0000",
    "2025-03-04 17:32",
    "9999-99-99 99:99",
    "0000-01-01 00:00:00",
    "usd",
    "USD ",
    "XXX",
    "XTS",
    "BTC",
    "ÜSD",
    "us",
    "USDD",
    "jpy",
    "kwd",
    "clf",
    "paid",
    "PAID",
    "open",
    "void",
    "draft",
    "uncollectible",
    "refunded",
    "Paid",
    "Failed",
    "Pending",
    "true",
    "false",
    "yes",
    "payment",
    "refund",
    "reversal",
    "Sales invoice",
    "Invoice Payment",
    "ch_",
    "in_",
    "cus_",
    "ch_3Q1usdPaid",
    "INV-1001",
    "\u{202e}evil",
    "é",
    "e\u{301}",
    "😀",
    "\u{2028}",
    "\u{a0}1\u{a0}000",
    "1\u{202f}000,00",
];

/// Bytes that are not UTF-8, whole or cut short.
const NOT_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xfe\xff",
    b"\xc3",
    b"a\xc3(",
    b"\xed\xa0\x80",
    b"\xc0\x80",
    b"\xf4\x90\x80\x80",
    b"\xef\xbb",
    b"\x80abc",
    b"12\xe2\x82",
];

/// A cell's worth of hostile bytes.
fn hostile() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        8 => select(HOSTILE).prop_map(|s| Bytes(s.as_bytes().to_vec())),
        2 => select(NOT_UTF8).prop_map(|b| Bytes(b.to_vec())),
        1 => (select(&["x", "9", "é", "\"", ",", "\n", "0."][..]), 1usize..20_000)
            .prop_map(|(s, n)| Bytes(s.repeat(n).into_bytes())),
        1 => (1usize..400).prop_map(|n| Bytes(format!("1{}", "0".repeat(n)).into_bytes())),
        2 => "\\PC{0,12}".prop_map(|s| Bytes(s.into_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(Bytes),
    ]
}

/// A file as rows of cells (the header first).
type Table = Vec<Vec<Vec<u8>>>;

#[derive(Debug, Clone)]
enum HeaderChange {
    Replace(Bytes),
    Upper,
    Lower,
    Padded,
    Starred,
    /// Takes another header's name: two columns answer to one name.
    SameAs(Index),
}

#[derive(Debug, Clone)]
enum Mutation {
    /// A row loses a cell (the rest shift left).
    DropCell(Index, Index),
    DuplicateCell(Index, Index),
    SwapCells(Index, Index, Index),
    /// A cell becomes hostile text.
    Replace(Index, Index, Bytes),
    /// One byte of a cell changes: often still a valid value, then a changed record.
    Tweak(Index, Index, Index, u8),
    /// A cell takes another row's value in the same column.
    FromRow(Index, Index, Index),
    DropRow(Index),
    DuplicateRow(Index),
    SwapRows(Index, Index),
    Header(Index, HeaderChange),
    /// A row copied this many times at the end, each copy with a key of its own: a file
    /// longer than the importer's batches of rows and its list of row errors.
    Grow(Index, u16),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let i = any::<Index>;
    let header = prop_oneof![
        3 => hostile().prop_map(HeaderChange::Replace),
        1 => Just(HeaderChange::Upper),
        1 => Just(HeaderChange::Lower),
        1 => Just(HeaderChange::Padded),
        1 => Just(HeaderChange::Starred),
        2 => any::<Index>().prop_map(HeaderChange::SameAs),
    ];
    prop_oneof![
        2 => (i(), i()).prop_map(|(r, c)| Mutation::DropCell(r, c)),
        1 => (i(), i()).prop_map(|(r, c)| Mutation::DuplicateCell(r, c)),
        2 => (i(), i(), i()).prop_map(|(r, a, b)| Mutation::SwapCells(r, a, b)),
        8 => (i(), i(), hostile()).prop_map(|(r, c, v)| Mutation::Replace(r, c, v)),
        5 => (i(), i(), i(), select(b"0123456789-.:/ ,aZ\"".to_vec()))
            .prop_map(|(r, c, at, b)| Mutation::Tweak(r, c, at, b)),
        2 => (i(), i(), i()).prop_map(|(r, c, from)| Mutation::FromRow(r, c, from)),
        1 => i().prop_map(Mutation::DropRow),
        2 => i().prop_map(Mutation::DuplicateRow),
        1 => (i(), i()).prop_map(|(a, b)| Mutation::SwapRows(a, b)),
        3 => (i(), header).prop_map(|(c, h)| Mutation::Header(c, h)),
        1 => (i(), 1u16..1_500).prop_map(|(r, n)| Mutation::Grow(r, n)),
    ]
}

impl Mutation {
    /// Applies the mutation; `key` is the header of the column that keys each record.
    fn apply(&self, table: &mut Table, key: &str) {
        // Data rows are 1.. (row 0 is the header); a file without them has little to mutate.
        let rows = table.len().saturating_sub(1);
        let row = |r: &Index| r.index(rows) + 1;
        match self {
            Mutation::Header(c, change) => {
                let Some(header) = table.first_mut() else {
                    return;
                };
                if header.is_empty() {
                    return;
                }
                let c = c.index(header.len());
                let cell = match change {
                    HeaderChange::Replace(b) => b.0.clone(),
                    HeaderChange::Upper => header[c].to_ascii_uppercase(),
                    HeaderChange::Lower => header[c].to_ascii_lowercase(),
                    HeaderChange::Padded => [b"  ", &header[c][..], b" \t"].concat(),
                    HeaderChange::Starred => [b"*", &header[c][..]].concat(),
                    HeaderChange::SameAs(other) => header[other.index(header.len())].clone(),
                };
                header[c] = cell;
            }
            _ if rows == 0 => {}
            Mutation::DropCell(r, c) => {
                let r = row(r);
                if !table[r].is_empty() {
                    let c = c.index(table[r].len());
                    table[r].remove(c);
                }
            }
            Mutation::DuplicateCell(r, c) => {
                let r = row(r);
                if !table[r].is_empty() {
                    let c = c.index(table[r].len());
                    let cell = table[r][c].clone();
                    table[r].insert(c, cell);
                }
            }
            Mutation::SwapCells(r, a, b) => {
                let r = row(r);
                let n = table[r].len();
                if n > 0 {
                    table[r].swap(a.index(n), b.index(n));
                }
            }
            Mutation::Replace(r, c, value) => {
                let r = row(r);
                if !table[r].is_empty() {
                    let c = c.index(table[r].len());
                    table[r][c] = value.0.clone();
                }
            }
            Mutation::Tweak(r, c, at, byte) => {
                let r = row(r);
                if !table[r].is_empty() {
                    let c = c.index(table[r].len());
                    let cell = &mut table[r][c];
                    if cell.is_empty() {
                        cell.push(*byte);
                    } else {
                        let at = at.index(cell.len());
                        cell[at] = *byte;
                    }
                }
            }
            Mutation::FromRow(r, c, from) => {
                let (r, from) = (row(r), row(from));
                if !table[r].is_empty() {
                    let c = c.index(table[r].len());
                    if let Some(value) = table[from].get(c).cloned() {
                        table[r][c] = value;
                    }
                }
            }
            Mutation::DropRow(r) => {
                table.remove(row(r));
            }
            Mutation::DuplicateRow(r) => {
                let r = row(r);
                let copy = table[r].clone();
                table.insert(r, copy);
            }
            Mutation::Grow(r, copies) => {
                let r = row(r);
                let bare = |h: &[u8]| {
                    let h = String::from_utf8_lossy(h);
                    h.trim().trim_start_matches('*').trim().to_lowercase()
                };
                let key = table[0].iter().position(|h| bare(h) == key.to_lowercase());
                for n in 0..*copies {
                    let mut copy = table[r].clone();
                    if let Some(cell) = key.and_then(|k| copy.get_mut(k)) {
                        cell.extend_from_slice(format!("-{n}").as_bytes());
                    }
                    table.push(copy);
                }
            }
            Mutation::SwapRows(a, b) => {
                let (a, b) = (row(a), row(b));
                table.swap(a, b);
            }
        }
    }
}

/// How the mutated rows are written back: as a spreadsheet would, quoting everything, or
/// quoting nothing (a cell with a comma or quote then breaks the row, as hand-made files do).
#[derive(Debug, Clone, Copy)]
enum Quoting {
    Necessary,
    Always,
    Never,
}

/// Damage to the written bytes.
#[derive(Debug, Clone)]
enum ByteOp {
    /// The file ends here (a copy cut short).
    Truncate(Index),
    Insert(Index, Bytes),
    Delete(Index, u8),
    /// Every `\n` becomes `\r\n`.
    CrLf,
    /// Every `\n` becomes `\r` (old Mac line ends).
    Cr,
    /// A byte order mark, anywhere.
    Bom(Index),
}

fn byte_op() -> impl Strategy<Value = ByteOp> {
    let splice = prop_oneof![
        hostile(),
        prop::collection::vec(select(b",\"\r\n\0x9".to_vec()), 1..6).prop_map(Bytes),
    ];
    prop_oneof![
        3 => any::<Index>().prop_map(ByteOp::Truncate),
        3 => (any::<Index>(), splice).prop_map(|(at, b)| ByteOp::Insert(at, b)),
        2 => (any::<Index>(), 1u8..16).prop_map(|(at, n)| ByteOp::Delete(at, n)),
        1 => Just(ByteOp::CrLf),
        1 => Just(ByteOp::Cr),
        1 => any::<Index>().prop_map(ByteOp::Bom),
    ]
}

impl ByteOp {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let line_ends = |bytes: &mut Vec<u8>, end: &[u8]| {
            let mut out = Vec::with_capacity(bytes.len() * 2);
            for &b in bytes.iter() {
                if b == b'\n' {
                    out.extend_from_slice(end);
                } else {
                    out.push(b);
                }
            }
            *bytes = out;
        };
        match self {
            ByteOp::Truncate(at) => bytes.truncate(at.index(bytes.len() + 1)),
            ByteOp::Insert(at, b) => {
                let at = at.index(bytes.len() + 1);
                bytes.splice(at..at, b.0.iter().copied());
            }
            ByteOp::Delete(at, n) => {
                if !bytes.is_empty() {
                    let at = at.index(bytes.len());
                    let end = (at + usize::from(*n)).min(bytes.len());
                    bytes.drain(at..end);
                }
            }
            ByteOp::CrLf => line_ends(bytes, b"\r\n"),
            ByteOp::Cr => line_ends(bytes, b"\r"),
            ByteOp::Bom(at) => {
                let at = at.index(bytes.len() + 1);
                bytes.splice(at..at, BOM.iter().copied());
            }
        }
    }
}

/// One mutated file and how it is imported.
#[derive(Debug, Clone)]
struct FileCase {
    base: usize,
    /// `from` names the base's layout (else its headers must recognise it).
    name_layout: bool,
    /// `from` names another shipped layout, perhaps of another kind.
    other_layout: Option<Index>,
    /// The store already holds the unmutated file: the mutated one changes its records.
    preload: bool,
    /// The zone dates without an offset are read in.
    zone: &'static str,
    /// The currency of a file without a currency column, when not the base's own.
    currency: Option<&'static str>,
    mutations: Vec<Mutation>,
    quoting: Quoting,
    byte_ops: Vec<ByteOp>,
}

/// Zones with clock changes at odd hours, half and quarter hours, and a day skipped.
const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/St_Johns",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "America/Sao_Paulo",
];

/// Currencies of every number of decimals: none, two, three, four.
const CURRENCIES: &[&str] = &["JPY", "EUR", "KWD", "CLF"];

fn file_case(bases: Vec<usize>) -> impl Strategy<Value = FileCase> {
    let quoting = prop_oneof![
        6 => Just(Quoting::Necessary),
        1 => Just(Quoting::Always),
        1 => Just(Quoting::Never),
    ];
    let byte_ops = prop_oneof![
        4 => Just(Vec::new()),
        1 => prop::collection::vec(byte_op(), 1..3),
    ];
    (
        select(bases),
        any::<bool>(),
        prop_oneof![6 => Just(None), 1 => any::<Index>().prop_map(Some)],
        any::<bool>(),
        prop_oneof![4 => Just("UTC"), 1 => select(ZONES)],
        prop_oneof![4 => Just(None), 1 => select(CURRENCIES).prop_map(Some)],
        prop::collection::vec(mutation(), 0..6),
        quoting,
        byte_ops,
    )
        .prop_map(
            |(
                base,
                name_layout,
                other_layout,
                preload,
                zone,
                currency,
                mutations,
                quoting,
                byte_ops,
            )| FileCase {
                base,
                name_layout,
                other_layout,
                preload,
                zone,
                currency,
                mutations,
                quoting,
                byte_ops,
            },
        )
}

/// A file's rows, cells as bytes (any byte order mark at its start set apart).
fn read_table(bytes: &[u8]) -> (bool, Table) {
    let (bom, body) = match bytes.strip_prefix(BOM) {
        Some(body) => (true, body),
        None => (false, bytes),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let table = reader
        .byte_records()
        .map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect())
        .collect();
    (bom, table)
}

fn write_table(table: &Table, quoting: Quoting) -> Vec<u8> {
    let style = match quoting {
        Quoting::Necessary => csv::QuoteStyle::Necessary,
        Quoting::Always => csv::QuoteStyle::Always,
        Quoting::Never => csv::QuoteStyle::Never,
    };
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .quote_style(style)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for row in table {
        writer.write_record(row).unwrap();
    }
    writer.into_inner().unwrap()
}

impl FileCase {
    fn bytes(&self) -> Vec<u8> {
        let original = std::fs::read(fixture(BASES[self.base].file)).unwrap();
        let (bom, mut table) = read_table(&original);
        for m in &self.mutations {
            m.apply(&mut table, &key_header(&BASES[self.base]));
        }
        let mut bytes = write_table(&table, self.quoting);
        if bom {
            bytes.splice(0..0, BOM.iter().copied());
        }
        for op in &self.byte_ops {
            op.apply(&mut bytes);
        }
        bytes
    }
}

// ---------------------------------------------------------------- what every import owes

/// What an import did, for the cases that count them.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Imported,
    Refused,
}

/// The first line where two dumps differ, for a message shorter than the dumps.
fn first_difference(before: &str, after: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    for i in 0..a.len().max(b.len()) {
        if a.get(i) != b.get(i) {
            let cut = |l: Option<&&str>| {
                l.map_or("(none)".to_string(), |l| l.chars().take(300).collect())
            };
            return format!(
                "line {}: was {} now {}",
                i + 1,
                cut(a.get(i)),
                cut(b.get(i))
            );
        }
    }
    "no line differs".to_string()
}

/// A refusal about a file's content quotes its cells and headers cut short, however long
/// they are: no stretch of the message between the marks that set values apart (backticks,
/// `, `, `: `, line ends) is longer than a sentence.
fn check_quotes_short(text: &str) -> Result<(), TestCaseError> {
    let longest = text
        .split(['`', '\n'])
        .flat_map(|p| p.split(", "))
        .flat_map(|p| p.split(": "))
        .max_by_key(|p| p.chars().count())
        .unwrap_or("");
    prop_assert!(
        longest.chars().count() <= 300,
        "a refusal quotes {} characters at once: {}…",
        longest.chars().count(),
        longest.chars().take(200).collect::<String>()
    );
    Ok(())
}

/// A refusal says why in words; one about the file's content names the file.
fn check_refusal(e: &ImportError, path: &Path) -> Result<(), TestCaseError> {
    let text = e.to_string();
    prop_assert!(!text.trim().is_empty(), "a refusal with no words: {e:?}");
    let name = path.display().to_string();
    match e {
        ImportError::Rows { file, errors, .. } => {
            check_quotes_short(&text)?;
            prop_assert_eq!(file.as_path(), path);
            prop_assert!(
                text.contains(&name),
                "the refusal does not name the file: {text}"
            );
            prop_assert!(
                !errors.is_empty(),
                "refused by row, with no row named: {text}"
            );
            let lines = std::fs::read(path)
                .map_or(0, |b| b.iter().filter(|&&b| b == b'\n').count() as u64 + 1);
            for row in errors {
                prop_assert_eq!(row.file.as_path(), path);
                prop_assert!(row.line >= 1, "a row error at line 0: {row}");
                prop_assert!(
                    row.line <= lines,
                    "a row error past the file's {lines} lines: {row}"
                );
                prop_assert!(row.column >= 1, "a row error at column 0: {row}");
                prop_assert!(!row.reason.trim().is_empty(), "a row error with no reason");
                prop_assert!(
                    !row.column_name.trim().is_empty(),
                    "a row error with no column: {row}"
                );
            }
        }
        ImportError::MissingColumns { file, .. } => {
            check_quotes_short(&text)?;
            prop_assert_eq!(file.as_path(), path);
            prop_assert!(
                text.contains(&name),
                "the refusal does not name the file: {text}"
            );
        }
        ImportError::Io { file, .. }
        | ImportError::Statement { file, .. }
        | ImportError::NotABankStatement { file } => {
            check_quotes_short(&text)?;
            prop_assert_eq!(file.as_path(), path);
            prop_assert!(
                text.contains(&name),
                "the refusal does not name the file: {text}"
            );
        }
        ImportError::Store(s) => {
            return Err(TestCaseError::fail(format!(
                "a file's content made a store error, not a refusal: {s}"
            )));
        }
        ImportError::Setting { .. }
        | ImportError::UnknownLayout { .. }
        | ImportError::Mapping(_) => {}
    }
    Ok(())
}

/// The table an import of `kind` adds its records to.
fn records_table(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Invoices => "invoices",
        FileKind::Payments => "ledger_entries",
        FileKind::StripePayments => "gateway_charges",
    }
}

fn count_rows(t: &TestStore, table: &str) -> u64 {
    t.query(&format!("SELECT count(*) FROM {table}"))[0][0]
        .parse()
        .unwrap()
}

/// What a report says, to compare a dry run with the import it foretells.
fn summary(report: &chargeguard::import::ImportReport) -> String {
    format!(
        "{:?} {:?} {} {:?} {:?} {:?} {:?}",
        report.counts,
        report.changed,
        report.changed_unlisted,
        report.coverage,
        report.skipped,
        report.recognised,
        report.preview
    )
}

/// Imports `path` and checks what every import owes, whatever the file holds: a dry run
/// first, which must foretell the import exactly and change nothing; then the import.
fn check_import(
    t: &mut TestStore,
    kind: FileKind,
    path: &Path,
    options: &ImportOptions,
) -> Result<Outcome, TestCaseError> {
    let before = t.dump();
    let dry = ImportOptions {
        dry_run: true,
        ..options.clone()
    };
    let foretold = import_file(&mut t.store, kind, path, &dry, now());
    let after_dry = t.dump();
    prop_assert!(
        after_dry == before,
        "a dry run changed the store ({})",
        first_difference(&before, &after_dry)
    );
    if let Err(e) = &foretold {
        check_refusal(e, path)?;
    }
    if options.dry_run {
        return Ok(match foretold {
            Ok(_) => Outcome::Imported,
            Err(_) => Outcome::Refused,
        });
    }
    let records = count_rows(t, records_table(kind));
    match import_file(&mut t.store, kind, path, options, now()) {
        Err(e) => {
            check_refusal(&e, path)?;
            let after = t.dump();
            prop_assert!(
                after == before,
                "the refused import changed the store ({}): {e}",
                first_difference(&before, &after)
            );
            match foretold {
                Ok(report) => {
                    return Err(TestCaseError::fail(format!(
                        "the dry run imported ({report}), the import refused: {e}"
                    )));
                }
                Err(dry) => prop_assert_eq!(dry.to_string(), e.to_string()),
            }
            Ok(Outcome::Refused)
        }
        Ok(report) => {
            prop_assert!(!report.to_string().trim().is_empty());
            match &foretold {
                Ok(dry) => prop_assert_eq!(summary(dry), summary(&report)),
                Err(e) => {
                    return Err(TestCaseError::fail(format!(
                        "the dry run refused ({e}), the import imported: {report}"
                    )));
                }
            }
            prop_assert_eq!(
                count_rows(t, records_table(kind)),
                records + report.counts.new,
                "the store gained other than the new records: {}",
                report
            );
            let after = t.dump();
            let again = import_file(&mut t.store, kind, path, options, now()).map_err(|e| {
                TestCaseError::fail(format!("imported once, refused the second time: {e}"))
            })?;
            prop_assert_eq!(
                (again.counts.new, again.counts.changed),
                (0, 0),
                "the same file again changed records: {} (first: {})",
                again,
                report
            );
            prop_assert!(again.source_id.is_none(), "a repeat import wrote a source");
            let twice = t.dump();
            prop_assert!(
                twice == after,
                "importing the same file again changed the store ({})",
                first_difference(&after, &twice)
            );
            Ok(Outcome::Imported)
        }
    }
}

/// Runs one mutated file through its importer.
fn run_file_case(case: &FileCase) -> Result<Outcome, TestCaseError> {
    let base = &BASES[case.base];
    let mut t = TestStore::new();
    let mut options = options(base, case.name_layout);
    options.zone = chargeguard::dates::zone(case.zone).unwrap();
    if let Some(other) = &case.other_layout {
        let shipped = chargeguard::import::layouts::shipped();
        options.from = Some(shipped[other.index(shipped.len())].id.to_string());
    }
    if let Some(currency) = case.currency.filter(|_| base.currency.is_some()) {
        options.currency = Some(Currency::from_code(currency).unwrap());
    }
    if case.preload {
        // Itself a case: in another zone or currency the file may be refused.
        check_import(&mut t, base.kind, &fixture(base.file), &options)?;
    }
    let path = t.file("mutated.csv", &case.bytes());
    check_import(&mut t, base.kind, &path, &options)
}

/// Random text, mostly the characters CSV is made of; and random bytes.
fn random_body() -> impl Strategy<Value = Vec<u8>> {
    const CSV_CHARS: &[char] = &[
        ',', '"', '\n', '\r', '0', '1', '9', '.', '-', ':', '/', ' ', 'a', 'Z', '_',
    ];
    prop_oneof![
        3 => prop::collection::vec(
            prop_oneof![4 => select(CSV_CHARS), 1 => any::<char>()],
            0..1024,
        )
        .prop_map(|chars| chars.into_iter().collect::<String>().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..2048),
    ]
}

// ---------------------------------------------------------------- the importers

/// The plain check under the fuzzing: every base file imports as it is, through the
/// options the fuzzing gives it (else the mutations start from a refusal).
#[test]
fn every_base_file_imports_as_it_is() {
    for base in BASES {
        for name_layout in [false, true] {
            let mut t = TestStore::new();
            let options = options(base, name_layout);
            let result = check_import(&mut t, base.kind, &fixture(base.file), &options);
            match result {
                Ok(Outcome::Imported) => {}
                other => panic!(
                    "{} as {} (from {:?}): {other:?}",
                    base.file, base.kind, options.from
                ),
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn invoices_files_mutated_from_every_layout_are_imported_or_refused_cleanly(
        case in file_case(bases_of(INVOICES))
    ) {
        run_file_case(&case)?;
    }

    #[test]
    fn payments_files_mutated_are_imported_or_refused_cleanly(
        case in file_case(bases_of(PAYMENTS))
    ) {
        run_file_case(&case)?;
    }

    #[test]
    fn stripe_exports_mutated_are_imported_or_refused_cleanly(
        case in file_case(bases_of(STRIPE))
    ) {
        run_file_case(&case)?;
    }

    #[test]
    fn random_bytes_are_imported_or_refused_cleanly_by_every_importer(
        base in 0..BASES.len(),
        keep_header in any::<bool>(),
        body in random_body(),
    ) {
        let base = &BASES[base];
        let mut bytes = Vec::new();
        if keep_header {
            let original = std::fs::read(fixture(base.file)).unwrap();
            let header = original.split(|&b| b == b'\n').next().unwrap_or(&[]);
            bytes.extend_from_slice(header);
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(&body);
        let mut t = TestStore::new();
        let path = t.file("random.csv", &bytes);
        check_import(&mut t, base.kind, &path, &options(base, true))?;
    }
}

/// Imports a file twice with `import`: the second changes nothing; or it is refused naming
/// the file, and the store is as it was.
fn imported_twice_or_refused(
    t: &mut TestStore,
    path: &Path,
    import: impl Fn(
        &mut chargeguard::store::Store,
    ) -> Result<chargeguard::store::SourceCounts, chargeguard::import::ImportError>,
) -> Result<(), TestCaseError> {
    let before = t.dump();
    match import(&mut t.store) {
        Ok(first) => {
            let after = t.dump();
            let again = import(&mut t.store)
                .map_err(|e| TestCaseError::fail(format!("imported once, refused again: {e}")))?;
            prop_assert_eq!(again.new + again.changed, 0);
            prop_assert_eq!(again.unchanged, first.new);
            prop_assert_eq!(t.dump(), after);
        }
        Err(e) => {
            check_refusal(&e, path)?;
            prop_assert_eq!(t.dump(), before, "a refusal wrote something");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- bank statements

/// The real statements of `tests/fixtures/bank/`.
const STATEMENTS: &[&str] = &[
    "ofxparse-checking.ofx",
    "ofxparse-bank_medium.ofx",
    "ofxparse-multiple_accounts2.ofx",
    "ofxparse-suncorp.ofx",
    "ofxparse-anzcc.ofx",
    "ofxparse-chase_cc.qfx",
    "ofxparse-ofx-v102-empty-tags.ofx",
    "actual-1252.qfx",
    "genkgo-camt053.v3.xml",
    "csv/chase-checking.csv",
    "csv/bank-of-america.csv",
    "csv/schwab.csv",
    "csv/mercury.csv",
    "csv/ing-de.csv",
    "csv/ubs.csv",
    "csv/natwest.csv",
    "csv/wells-fargo.csv",
    "csv/hsbc-uk.csv",
];

proptest! {
    #![proptest_config(config())]

    /// A real statement cut, spliced, stripped of bytes or its line ends changed: imported
    /// (and then again, changing nothing) or refused naming the file, never a panic, and a
    /// refusal leaves the store as it was.
    #[test]
    fn bank_statements_mutated_are_imported_or_refused_cleanly(
        base in 0..STATEMENTS.len(),
        ops in prop::collection::vec(byte_op(), 1..4),
        currency in prop::option::of(Just("USD")),
    ) {
        use chargeguard::import::bank::{BankOptions, import_bank_file};
        let mut bytes = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bank").join(STATEMENTS[base]),
        )
        .unwrap();
        for op in &ops {
            op.apply(&mut bytes);
        }
        let mut t = TestStore::new();
        let path = t.file("statement.ofx", &bytes);
        let options = BankOptions {
            currency: currency.map(|c| chargeguard::money::Currency::from_code(c).unwrap()),
            account: None,
            ..BankOptions::default()
        };
        imported_twice_or_refused(&mut t, &path, |store| {
            import_bank_file(store, &path, &options, now()).map(|r| r.counts)
        })?;
    }
}

// ---------------------------------------------------------------- Stripe reports

/// The real Stripe balance and payout files of `tests/fixtures/stripe-reports/`.
const STRIPE_REPORTS: &[&str] = &[
    "balance-history-2016.csv",
    "balance-history-2021.csv",
    "balance-history-decimal-comma.csv",
    "balance-history-spreadsheet.csv",
    "payouts-export.csv",
    "payouts-export-spreadsheet.csv",
    "balance-change-itemized-default.csv",
    "payout-reconciliation-itemized.csv",
    "payouts-itemized.csv",
];

proptest! {
    #![proptest_config(config())]

    /// A real Stripe report cut, spliced, stripped of bytes or its line ends changed:
    /// imported (and then again, changing nothing) or refused naming the file, never a
    /// panic, and a refusal leaves the store as it was.
    #[test]
    fn stripe_reports_mutated_are_imported_or_refused_cleanly(
        base in 0..STRIPE_REPORTS.len(),
        ops in prop::collection::vec(byte_op(), 1..4),
        month_first in any::<bool>(),
    ) {
        use chargeguard::import::stripe_reports::{DayOrder, ReportOptions, import_stripe_report};
        let mut bytes = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/stripe-reports")
                .join(STRIPE_REPORTS[base]),
        )
        .unwrap();
        for op in &ops {
            op.apply(&mut bytes);
        }
        let mut t = TestStore::new();
        let path = t.file("report.csv", &bytes);
        let options = ReportOptions {
            zone: jiff::tz::TimeZone::UTC,
            day_order: month_first.then_some(DayOrder::MonthFirst),
            dry_run: false,
        };
        imported_twice_or_refused(&mut t, &path, |store| {
            import_stripe_report(store, &path, &options, now()).map(|r| r.counts)
        })?;
    }
}

// ---------------------------------------------------------------- the mapping loader

/// A mapping's TOML to start from, and the base file it reads.
fn toml_sources() -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for layout in chargeguard::import::layouts::shipped() {
        let base = BASES
            .iter()
            .position(|b| b.layout == Some(layout.id))
            .unwrap_or_else(|| panic!("no base file for the layout {}", layout.id));
        out.push((layout.toml.to_string(), base));
    }
    let acme = BASES
        .iter()
        .position(|b| b.mapping == Some("acme_invoices.toml"))
        .unwrap();
    out.push((
        std::fs::read_to_string(fixture("acme_invoices.toml")).unwrap(),
        acme,
    ));
    out
}

/// TOML as a basic string, escaped.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Values a mapping's keys may be given: wrong types, empty, broken date formats.
const TOML_VALUES: &[&str] = &[
    "\"\"",
    "\" \"",
    "5",
    "-1",
    "true",
    "[]",
    "[\"\"]",
    "[\"a\", 1]",
    "{}",
    "{ a = \"b\" }",
    "\"invoices\"",
    "\"payments\"",
    "\"INVOICES \"",
    "\"stripe\"",
    "\"%\"",
    "\"%Q\"",
    "\"%-\"",
    "\"%.f\"",
    "\"%:z\"",
    "\"%Y%Y%Y\"",
    "\"%s\"",
    "\"%j/%Y\"",
    "\"%d/%m/%Y %H:%M:%S %z\"",
    "\"%b %e %Y\"",
    "\"%A %B\"",
    "\"%Y-%m-%dT%H:%M:%S%.f%:z\"",
    "\"%%\"",
    "\"%5Y\"",
    "\"%^b\"",
    "\"%Ey\"",
    "\".\"",
    "\",\"",
    "\"..\"",
    "\"'\"",
    "1979-05-27T07:32:00Z",
    "nan",
    "inf",
    "'literal'",
    "'''multi\nline'''",
    "\"\\u0000\"",
    "\"\\uD800\"",
];

const TOML_KEYS: &[&str] = &[
    "layout",
    "name",
    "recognise",
    "columns",
    "constants",
    "format",
    "date",
    "decimal",
    "lines",
    "sum",
    "total",
    "keep",
    "drop",
    "values",
    "paid_in_full_by_status",
    "invoice_number",
    "customer_id",
    "amount",
    "currency",
    "status",
    "issued_at",
    "due_at",
    "order_ref",
    "amount_paid",
    "balance_due",
    "payment_id",
    "kind",
    "gateway_id",
    "recorded_at",
    "AMOUNT",
    "\" amount \"",
    "bogus",
    "\"\"",
    "a.b",
    "\"Type\"",
];

const TOML_LINES: &[&str] = &[
    "[lines]",
    "sum = []",
    "sum = [\" \"]",
    "sum = [\"Line Total\", \"Tax?\"]",
    "total = true",
    "total = false",
    "[format]",
    "date = \"%\"",
    "decimal = \";\"",
    "[keep]",
    "[drop]",
    "Type = []",
    "\" \" = [\"x\"]",
    "[values.status]",
    "[values.bogus]",
    "[values]",
    "Unpaid = \"open\"",
    "unpaid = \"paid\"",
    "\"UNPAID \" = \"void\"",
    "[constants]",
    "amount = \"12\"",
    "currency = \"ZZZ\"",
    "layout = \"payments\"",
    "layout = \"invoices\"",
    "[columns]",
    "amount = \"\"",
    "currency = \"Currency\"",
    "paid_in_full_by_status = true",
    "recognise = []",
    "recognise = [\"\", \" \"]",
    "[[columns]]",
    "x =",
    "= 1",
    "[",
    "\"",
    "'''",
    "[columns.amount]",
    "name = \"\"",
];

#[derive(Debug, Clone)]
enum TomlOp {
    DropLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    /// The value after a line's `=` changes.
    Value(Index, String),
    /// The key before a line's `=` changes.
    Key(Index, String),
    InsertLine(Index, String),
    Truncate(Index),
    InsertText(Index, String),
}

fn toml_op() -> impl Strategy<Value = TomlOp> {
    let i = any::<Index>;
    let value = prop_oneof![
        3 => select(TOML_VALUES).prop_map(str::to_string),
        2 => hostile().prop_map(|b| toml_string(&String::from_utf8_lossy(&b.0))),
    ];
    let line = prop_oneof![
        3 => select(TOML_LINES).prop_map(str::to_string),
        1 => "\\PC{0,30}",
    ];
    prop_oneof![
        2 => i().prop_map(TomlOp::DropLine),
        1 => i().prop_map(TomlOp::DuplicateLine),
        1 => (i(), i()).prop_map(|(a, b)| TomlOp::SwapLines(a, b)),
        5 => (i(), value).prop_map(|(l, v)| TomlOp::Value(l, v)),
        2 => (i(), select(TOML_KEYS).prop_map(str::to_string)).prop_map(|(l, k)| TomlOp::Key(l, k)),
        3 => (i(), line).prop_map(|(l, s)| TomlOp::InsertLine(l, s)),
        1 => i().prop_map(TomlOp::Truncate),
        1 => (i(), "\\PC{0,8}").prop_map(|(at, s)| TomlOp::InsertText(at, s)),
    ]
}

impl TomlOp {
    fn apply(&self, text: &mut String) {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let n = lines.len();
        match self {
            TomlOp::Truncate(at) | TomlOp::InsertText(at, _) => {
                // On a character boundary: the loader takes text, not bytes.
                let bounds: Vec<usize> = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([text.len()])
                    .collect();
                let at = bounds[at.index(bounds.len())];
                match self {
                    TomlOp::Truncate(_) => text.truncate(at),
                    TomlOp::InsertText(_, s) => text.insert_str(at, s),
                    _ => unreachable!(),
                }
                return;
            }
            TomlOp::InsertLine(at, line) => lines.insert(at.index(n + 1), line.clone()),
            _ if n == 0 => {}
            TomlOp::DropLine(l) => {
                lines.remove(l.index(n));
            }
            TomlOp::DuplicateLine(l) => {
                let l = l.index(n);
                let copy = lines[l].clone();
                lines.insert(l, copy);
            }
            TomlOp::SwapLines(a, b) => lines.swap(a.index(n), b.index(n)),
            TomlOp::Value(l, value) | TomlOp::Key(l, value) => {
                // The lines with a `key = value`, if any.
                let assignments: Vec<usize> = (0..n)
                    .filter(|&i| lines[i].contains('=') && !lines[i].trim_start().starts_with('#'))
                    .collect();
                if assignments.is_empty() {
                    return;
                }
                let line = &mut lines[assignments[l.index(assignments.len())]];
                let (key, old) = line.split_once('=').unwrap();
                *line = match self {
                    TomlOp::Value(..) => format!("{key}= {value}"),
                    _ => format!("{value} ={old}"),
                };
            }
        }
        *text = lines.join("\n");
        text.push('\n');
    }
}

/// What the loader owes any text: no panic, a refusal in words, and a mapping that reads
/// back to itself from the TOML it writes.
fn check_loaded(text: &str) -> Result<Option<ColumnMapping>, TestCaseError> {
    match ColumnMapping::from_toml(text) {
        Err(e) => {
            prop_assert!(
                !e.to_string().trim().is_empty(),
                "a refusal with no words: {e:?}"
            );
            Ok(None)
        }
        Ok(mapping) => {
            let written = mapping.to_toml();
            let again = ColumnMapping::from_toml(&written).map_err(|e| {
                TestCaseError::fail(format!(
                    "a mapping's own TOML does not read: {e}\n{written}"
                ))
            })?;
            prop_assert_eq!(
                &again,
                &mapping,
                "the mapping's own TOML reads as another:\n{}",
                written
            );
            Ok(Some(mapping))
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_mapping_loader_reads_or_refuses_mutated_layouts_and_imports_through_them(
        source in any::<Index>(),
        ops in prop::collection::vec(toml_op(), 1..5),
    ) {
        let sources = toml_sources();
        let (mut text, base) = sources[source.index(sources.len())].clone();
        for op in &ops {
            op.apply(&mut text);
        }
        let Some(mapping) = check_loaded(&text)? else {
            return Ok(());
        };
        let base = &BASES[base];
        let file = fixture(base.file);
        if let Err(e) = preview(&file, &mapping, 5) {
            prop_assert!(!e.to_string().trim().is_empty());
        }
        let mut t = TestStore::new();
        let options = ImportOptions {
            mapping: Some(mapping),
            ..options(base, false)
        };
        check_import(&mut t, base.kind, &file, &options)?;
    }

    #[test]
    fn saved_mappings_that_no_longer_read_are_refused_by_name_and_passed_over_on_import(
        source in any::<Index>(),
        ops in prop::collection::vec(toml_op(), 0..5),
        label in select(&["invoices", "payments"][..]),
    ) {
        let sources = toml_sources();
        let (mut text, base) = sources[source.index(sources.len())].clone();
        for op in &ops {
            op.apply(&mut text);
        }
        let loaded = check_loaded(&text)?;
        let mut t = TestStore::new();
        t.store
            .write(|tx| tx.save_mapping("fuzzed", &text, label))
            .unwrap();
        // By name, and from a file: the same mapping or a refusal in words.
        let path = t.file("fuzzed.toml", text.as_bytes());
        for by in ["fuzzed".to_string(), path.display().to_string()] {
            match resolve_mapping(&mut t.store, &by) {
                Ok(m) => prop_assert_eq!(Some(&m), loaded.as_ref(), "read through {}", by),
                Err(e) => {
                    prop_assert!(loaded.is_none(), "{by} refused a mapping that reads: {e}");
                    prop_assert!(!e.to_string().trim().is_empty());
                }
            }
        }
        // A file its headers do not fit our own layout reads the saved mappings first.
        let base = &BASES[base];
        check_import(&mut t, base.kind, &fixture(base.file), &options(base, false))?;
    }

    #[test]
    fn random_text_is_read_or_refused_by_the_mapping_loader(
        text in prop_oneof![
            "\\PC{0,300}",
            prop::collection::vec(
                prop_oneof![
                    select(TOML_LINES).prop_map(str::to_string),
                    select(TOML_KEYS).prop_map(|k| format!("{k} = ")),
                    select(TOML_VALUES).prop_map(|v| format!("{v}\n")),
                ],
                0..12,
            )
            .prop_map(|parts| parts.join("\n")),
        ]
    ) {
        check_loaded(&text)?;
    }
}

// ---------------------------------------------------------------- the sandbox's form decoder

/// Keys the sandbox's endpoints read.
const PARAM_NAMES: &[&str] = &[
    "amount",
    "currency",
    "customer",
    "charge",
    "payment_intent",
    "limit",
    "starting_after",
    "created",
    "created[gt]",
    "created[gte]",
    "created[lt]",
    "created[lte]",
    "metadata",
    "metadata[invoice_number]",
    "expand",
    "expand[]",
    "confirm",
    "query",
    "",
];

/// Pieces form text is made of, whole and broken.
const FORM_PIECES: &[&str] = &[
    "%",
    "%2",
    "%5B",
    "%5b",
    "%5D",
    "%ZZ",
    "%+1",
    "%+f",
    "%-1",
    "% 1",
    "%C3",
    "%A9",
    "%C3%A9",
    "%FF",
    "%00",
    "%E2%82",
    "[",
    "]",
    "[]",
    "&",
    "&&",
    "=",
    "==",
    "+",
    "a",
    "metadata",
    "created",
    "expand",
    "amount",
    "gte",
    "lt",
    "0",
    "-1",
    "12.5",
    "9223372036854775808",
    "true",
    "é",
    ";",
];

fn form_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,60}",
        prop::collection::vec(select(FORM_PIECES), 0..24).prop_map(|p| p.concat()),
    ]
}

/// Whether every `%` in `text` starts a `%XX` escape, as a form decoder requires.
fn escapes_are_well_formed(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len()).filter(|&i| b[i] == b'%').all(|i| {
        b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    })
}

/// A refusal in Stripe's shape: a client error with a message.
fn check_api_error(e: &chargeguard::sandbox::wire::ApiError) -> Result<(), TestCaseError> {
    prop_assert!(e.status.is_client_error(), "{:?}", e);
    let message = e
        .error
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("");
    prop_assert!(
        !message.trim().is_empty(),
        "an error with no message: {:?}",
        e
    );
    Ok(())
}

/// A parameter name, literal brackets and all (never empty).
fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        select(PARAM_NAMES).prop_filter_map("a name", |n| (!n.is_empty()).then(|| n.to_string())),
        "\\PC{1,12}",
        ("[a-z_]{1,8}", "\\PC{0,6}").prop_map(|(a, b)| format!("{a}[{b}]")),
    ]
}

fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_form_decoder_reads_or_refuses_any_text(text in form_text(), key in param_name()) {
        match Params::parse(&text) {
            Err(e) => check_api_error(&e)?,
            Ok(params) => {
                prop_assert!(
                    escapes_are_well_formed(&text),
                    "`{}` has a `%` that is not an escape, yet decoded to {:?}",
                    text,
                    params
                );
                for name in PARAM_NAMES.iter().copied().chain([key.as_str()]) {
                    let _ = params.get(name);
                    let _ = params.text(name);
                    let _ = params.hash(name);
                    let _ = params.array(name);
                    if let Err(e) = params.integer(name) {
                        check_api_error(&e)?;
                        prop_assert_eq!(e.error.get("param").and_then(|p| p.as_str()), Some(name));
                    }
                    if let Err(e) = params.boolean(name) {
                        check_api_error(&e)?;
                    }
                }
                if let Err(e) = params.created() {
                    check_api_error(&e)?;
                }
                if let Err(e) = params.allow_only(&["amount", "currency"]) {
                    check_api_error(&e)?;
                }
                let _ = params.fingerprint();
            }
        }
    }

    #[test]
    fn form_pairs_read_back_as_they_were_encoded(
        pairs in prop::collection::vec((param_name(), "\\PC{0,16}"), 0..8),
        metadata in prop::collection::btree_map("[^\\[\\]]{1,10}", "\\PC{0,10}", 0..4),
        expand in prop::collection::vec("\\PC{1,10}", 0..4),
        created in (
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>()),
        ),
        amount in any::<i64>(),
    ) {
        // Any pairs, encoded as a client encodes them, decode to those pairs in order,
        // whether the brackets arrive encoded or literal.
        let encoded = encode(&pairs);
        let params = Params::parse(&encoded).map_err(|e| {
            TestCaseError::fail(format!("`{encoded}` is refused: {e:?}"))
        })?;
        prop_assert_eq!(&params, &Params::from_pairs(pairs.clone()), "{}", encoded);
        let literal = encoded.replace("%5B", "[").replace("%5D", "]");
        prop_assert_eq!(Params::parse(&literal).ok(), Some(params.clone()), "{}", literal);
        for (key, _) in &pairs {
            let last = pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            prop_assert_eq!(params.get(key), last);
        }
        // The fingerprint does not depend on the order the pairs were sent in.
        let mut reversed = pairs.clone();
        reversed.reverse();
        prop_assert_eq!(Params::from_pairs(reversed).fingerprint(), params.fingerprint());

        // The accessors read back what their parameters say.
        let (gt, gte, lt, lte) = created;
        let mut typed: Vec<(String, String)> = Vec::new();
        typed.push(("amount".into(), amount.to_string()));
        for (k, v) in &metadata {
            typed.push((format!("metadata[{k}]"), v.clone()));
        }
        for v in &expand {
            typed.push(("expand[]".into(), v.clone()));
        }
        for (op, v) in [("gt", gt), ("gte", gte), ("lt", lt), ("lte", lte)] {
            if let Some(v) = v {
                typed.push((format!("created[{op}]"), v.to_string()));
            }
        }
        let params = Params::parse(&encode(&typed)).unwrap();
        prop_assert_eq!(params.integer("amount").unwrap(), Some(amount));
        prop_assert_eq!(params.hash("metadata"), metadata);
        prop_assert_eq!(params.array("expand"), expand);
        prop_assert_eq!(params.created().unwrap(), CreatedRange { gt, gte, lt, lte });
    }
}

// ---------------------------------------------------------------- what the fuzzing found

// ---------------------------------------------------------------- what the fuzzing found

/// `u8::from_str_radix` takes a leading `+`, so `%+1` decoded to the byte 0x01 where every
/// form decoder (and Stripe) refuses a `%` that two hex digits do not follow.
#[test]
fn a_percent_sign_followed_by_a_plus_sign_is_refused_not_read_as_a_byte() {
    for text in ["%+1", "%+f", "amount=%+1", "metadata%5Bk%5D=%+F"] {
        let err = Params::parse(text).expect_err(text);
        assert_eq!(err.status.as_u16(), 400, "{text}");
    }
    assert_eq!(
        Params::parse("a=%2B1").unwrap(),
        Params::from_pairs(vec![("a".into(), "+1".into())])
    );
}

/// A refusal of `bytes` as `kind`, checked as the fuzzing checks one.
fn refusal_of(kind: FileKind, bytes: &[u8], options: &ImportOptions) -> ImportError {
    let mut t = TestStore::new();
    let path = t.file("long.csv", bytes);
    let before = t.dump();
    let err = import_file(&mut t.store, kind, &path, options, now()).expect_err("refused");
    check_refusal(&err, &path).unwrap();
    assert_eq!(t.dump(), before);
    err
}

/// Every message quoted a cell whole: a 20,000-character amount made a 20,000-character
/// line, its reason at the far end. The message cuts it short; the row error's `value`
/// keeps it whole.
#[test]
fn a_cell_of_twenty_thousand_characters_is_quoted_cut_short_in_its_refusal() {
    let long = "x".repeat(20_000);
    let text = std::fs::read_to_string(fixture("invoices.csv"))
        .unwrap()
        .replacen("120.00", &long, 1);
    let err = refusal_of(INVOICES, text.as_bytes(), &ImportOptions::default());
    let ImportError::Rows { errors, .. } = &err else {
        panic!("not refused by row: {err}");
    };
    assert_eq!(errors[0].value, long);
    assert!(errors[0].reason.contains("xxx…`"), "{}", errors[0].reason);
    assert!(err.to_string().len() < 1_000, "{err}");
}

/// The missing-columns refusal listed every header whole, a 20,000-character one too.
#[test]
fn a_header_of_twenty_thousand_characters_is_listed_cut_short() {
    let text = std::fs::read_to_string(fixture("payments.csv"))
        .unwrap()
        .replacen("payment_id", &"x".repeat(20_000), 1);
    let err = refusal_of(PAYMENTS, text.as_bytes(), &ImportOptions::default());
    assert!(matches!(err, ImportError::MissingColumns { .. }), "{err}");
    assert!(err.to_string().contains("xxx…, invoice_number"), "{err}");
    assert!(err.to_string().len() < 2_000, "{err}");
}

/// A mapping whose app name and headers run on was named whole, twice, in the
/// missing-columns refusal of a file it did not fit.
#[test]
fn a_mapping_with_a_name_at_length_is_named_cut_short_when_the_file_lacks_its_columns() {
    let long = "1".to_string() + &"0".repeat(400);
    let toml = chargeguard::import::layouts::named("xero")
        .unwrap()
        .toml
        .replace("name = \"Xero\"", &format!("name = \"{long}\""))
        .replace("amount = \"Total\"", &format!("amount = \"{long}\""));
    let options = ImportOptions {
        mapping: Some(ColumnMapping::from_toml(&toml).unwrap()),
        ..ImportOptions::default()
    };
    let bytes = std::fs::read(fixture("layouts/xero.csv")).unwrap();
    let err = refusal_of(INVOICES, &bytes, &options);
    assert!(matches!(err, ImportError::MissingColumns { .. }), "{err}");
    assert!(err.to_string().len() < 1_000, "{err}");
}

/// A repeated id whose two lines differ in an extra column named the column's header
/// whole in the refusal: a 300-character header made a 300-character stretch.
#[test]
fn a_repeated_row_differing_under_a_header_at_length_names_it_cut_short() {
    let text = std::fs::read_to_string(fixture("stripe_payments.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[0] = lines[0].replacen("Description", &"x".repeat(300), 1);
    let mut again = lines[1].clone();
    again = again.replacen("Invoice INV-1001", "Invoice INV-1001 again", 1);
    lines.insert(2, again);
    let err = refusal_of(
        STRIPE,
        (lines.join("\n") + "\n").as_bytes(),
        &ImportOptions::default(),
    );
    assert!(err.to_string().contains("is also on line 2"), "{err}");
}
