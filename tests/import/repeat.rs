//! Importing is safe to repeat: the same file twice changes nothing at all (not even a
//! `sources` row), a row that changed at the source is updated with its change recorded
//! and reported, and a dry run writes nothing.

use crate::import_support;

use std::collections::BTreeMap;

use chargeguard::import::{FileKind, ImportOptions, import_file};
use chargeguard::records::InvoiceStatus;
use chargeguard::store::StoredRow;
use import_support::{TestStore, fixture, now};
use rstest::rstest;

#[rstest]
#[case::invoices(FileKind::Invoices, "invoices.csv", 3)]
#[case::payments(FileKind::Payments, "payments.csv", 3)]
#[case::stripe_export(FileKind::StripePayments, "stripe_payments.csv", 6)]
fn importing_the_same_file_twice_changes_nothing(
    #[case] kind: FileKind,
    #[case] name: &str,
    #[case] rows: u64,
) {
    let mut t = TestStore::new();
    let first = t.import(kind, &fixture(name));
    assert_eq!(first.counts.new, rows);
    assert!(first.source_id.is_some());
    let before = t.dump();

    let second = t.import(kind, &fixture(name));
    assert_eq!(
        (
            second.counts.new,
            second.counts.changed,
            second.counts.unchanged
        ),
        (0, 0, rows)
    );
    assert!(second.changed.is_empty());
    assert_eq!(
        second.source_id, None,
        "nothing was written, so there is no source"
    );
    assert_eq!(second.content_sha256, first.content_sha256);
    assert!(
        second
            .to_string()
            .ends_with(&format!("{name}: 0 new, 0 changed, {rows} unchanged")),
        "{second}"
    );
    assert_eq!(
        t.dump(),
        before,
        "every table, sources and coverage included, is as it was"
    );
}

#[test]
fn a_row_that_changed_is_updated_recorded_and_reported() {
    let mut t = TestStore::new();
    t.import(FileKind::Invoices, &fixture("invoices.csv"));
    let report = t.import(FileKind::Invoices, &fixture("invoices_later.csv"));

    assert_eq!(
        (
            report.counts.new,
            report.counts.changed,
            report.counts.unchanged
        ),
        (0, 1, 2)
    );
    assert!(
        report
            .to_string()
            .ends_with("0 new, 1 changed, 2 unchanged"),
        "{report}"
    );
    assert_eq!(report.changed.len(), 1);
    let changed = &report.changed[0];
    assert_eq!((changed.line, changed.key.as_str()), (2, "INV-1001"));
    assert_eq!(changed.changes.len(), 1);
    assert_eq!(changed.changes[0].field, "status");
    assert_eq!(changed.changes[0].old.as_deref(), Some("open"));
    assert_eq!(changed.changes[0].new.as_deref(), Some("paid"));

    let invoices = t.store.read(|tx| tx.invoices()).unwrap();
    assert_eq!(invoices[0].status, InvoiceStatus::Paid);
    let second_source = report.source_id.expect("a change is written").to_string();
    assert_eq!(
        t.query("SELECT source_id, source_line FROM invoices WHERE invoice_number = 'INV-1001'"),
        [[second_source.clone(), "2".to_string()]],
        "the changed row now comes from the second import"
    );
    assert_eq!(
        t.query("SELECT source_id FROM invoices WHERE invoice_number = 'INV-1002'"),
        [["1"]],
        "an unchanged row keeps its first origin"
    );
    assert_eq!(
        t.query(
            "SELECT source_id, entity, entity_key, field, old_value, new_value FROM row_changes"
        ),
        [[
            second_source,
            "invoice".into(),
            "INV-1001".into(),
            "status".into(),
            "open".into(),
            "paid".into()
        ]]
    );
    assert_eq!(
        t.query("SELECT kind, rows_new, rows_changed, rows_unchanged FROM sources ORDER BY id"),
        [["invoices", "3", "0", "0"], ["invoices", "0", "1", "2"]]
    );
}

#[test]
fn an_identical_repeat_within_one_file_counts_as_unchanged() {
    let mut t = TestStore::new();
    let path = t.file(
        "repeat.csv",
        b"invoice_number,customer_id,amount,currency,issued_at,due_at,status\n\
          INV-1,c1,5.00,USD,2026-10-01,,open\n\
          INV-1,c1,5.00,USD,2026-10-01,,open\n",
    );
    let report = t.import(FileKind::Invoices, &path);
    assert_eq!((report.counts.new, report.counts.unchanged), (1, 1));
    assert_eq!(
        t.query("SELECT source_line FROM invoices"),
        [["2"]],
        "the row keeps its first line"
    );
}

#[rstest]
#[case::into_an_empty_store(false)]
#[case::over_earlier_imports(true)]
fn a_dry_run_reports_and_writes_nothing(#[case] earlier: bool) {
    let mut t = TestStore::new();
    if earlier {
        t.import(FileKind::Invoices, &fixture("invoices.csv"));
    }
    let before = t.dump();
    let options = ImportOptions {
        dry_run: true,
        ..ImportOptions::default()
    };
    let file = if earlier {
        "invoices_later.csv"
    } else {
        "stripe_payments.csv"
    };
    let kind = if earlier {
        FileKind::Invoices
    } else {
        FileKind::StripePayments
    };
    let report = import_file(&mut t.store, kind, &fixture(file), &options, now()).unwrap();
    assert!(report.dry_run);
    assert_eq!(report.source_id, None);
    assert!(
        report.to_string().contains("dry run: nothing was written"),
        "{report}"
    );
    if earlier {
        assert_eq!((report.counts.changed, report.counts.unchanged), (1, 2));
        assert_eq!(report.changed[0].key, "INV-1001");
    } else {
        assert_eq!(report.counts.new, 6);
        assert!(report.coverage.is_some());
    }
    assert_eq!(t.dump(), before);
}

#[test]
fn a_re_export_with_its_columns_reordered_or_widened_is_unchanged() {
    let mut t = TestStore::new();
    let first = t.file(
        "first.csv",
        b"invoice_number,customer_id,amount,currency,issued_at,due_at,status,Sales rep,Region\n\
          INV-1,c1,5.00,USD,2026-10-01,,open,Maya,North\n\
          INV-2,c1,7.00,USD,2026-10-01,,open,,South\n",
    );
    t.import(FileKind::Invoices, &first);
    let before = t.dump();
    // Other order, and a new column that is empty on these rows.
    let again = t.file(
        "again.csv",
        b"Region,invoice_number,Team,customer_id,amount,currency,issued_at,due_at,status,Sales rep\n\
          North,INV-1,,c1,5.00,USD,2026-10-01,,open,Maya\n\
          South,INV-2,,c1,7.00,USD,2026-10-01,,open,\n",
    );
    let report = t.import(FileKind::Invoices, &again);
    assert_eq!(
        (
            report.counts.new,
            report.counts.changed,
            report.counts.unchanged
        ),
        (0, 0, 2)
    );
    assert_eq!(t.dump(), before, "nothing was written");

    let changed = t.file(
        "changed.csv",
        b"Region,invoice_number,Team,customer_id,amount,currency,issued_at,due_at,status,Sales rep\n\
          North,INV-1,Blue,c1,5.00,USD,2026-10-01,,open,Maya\n",
    );
    let report = t.import(FileKind::Invoices, &changed);
    assert_eq!(report.counts.changed, 1);
    assert_eq!(
        report.changed[0].changes[0].new.as_deref(),
        Some(r#"{"Region":"North","Sales rep":"Maya","Team":"Blue"}"#),
        "a change of extra columns reads as {{header: value}}"
    );
    assert_eq!(
        t.extra(StoredRow::Invoice("INV-1")),
        BTreeMap::from([
            ("Region".to_string(), "North".to_string()),
            ("Sales rep".to_string(), "Maya".to_string()),
            ("Team".to_string(), "Blue".to_string()),
        ])
    );
}

#[test]
fn a_key_found_unchanged_then_repeated_with_other_values_is_refused() {
    let mut t = TestStore::new();
    let stored = t.file(
        "stored.csv",
        b"invoice_number,customer_id,amount,currency,issued_at,due_at,status\n\
          INV-1,c1,5.00,USD,2026-10-01,,open\n",
    );
    t.import(FileKind::Invoices, &stored);
    let before = t.dump();
    let path = t.file(
        "repeat.csv",
        b"invoice_number,customer_id,amount,currency,issued_at,due_at,status\n\
          INV-2,c1,6.00,USD,2026-10-01,,open\n\
          INV-1,c1,5.00,USD,2026-10-01,,open\n\
          INV-1,c1,5.00,USD,2026-10-01,,paid\n",
    );
    let err = import_file(
        &mut t.store,
        FileKind::Invoices,
        &path,
        &ImportOptions::default(),
        now(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("repeat.csv:4:1: invoice_number: `INV-1` is also on line 3 with other values (status open vs paid)"),
        "{err}"
    );
    assert_eq!(t.dump(), before);
}

/// Bad cells are found where the file is read and repeated keys where it is stored, on two
/// threads: the report still lists every problem in file order.
#[test]
fn a_repeated_key_and_a_bad_cell_are_both_reported_in_file_order() {
    let mut t = TestStore::new();
    let before = t.dump();
    let path = t.file(
        "both.csv",
        b"invoice_number,customer_id,amount,currency,issued_at,due_at,status\n\
          INV-1,c1,5.00,USD,2026-10-01,,open\n\
          INV-1,c1,7.00,USD,2026-10-01,,open\n\
          INV-2,c1,5.001,USD,2026-10-01,,open\n",
    );
    let err = t.refused(FileKind::Invoices, &path);
    let repeat = err
        .find("both.csv:3:1: invoice_number: `INV-1` is also on line 2")
        .unwrap_or_else(|| panic!("{err}"));
    let amount = err
        .find("both.csv:4:3: amount:")
        .unwrap_or_else(|| panic!("{err}"));
    assert!(repeat < amount, "{err}");
    assert_eq!(t.dump(), before);
}

/// A re-import walks the stored rows in the order the last import stored them, and finds
/// by key any row that is elsewhere: whatever order the new export has, what it says is
/// what is stored, and the counts are the rows that really changed.
#[test]
fn a_re_export_in_another_order_finds_every_row_wherever_it_is_stored() {
    let mut t = TestStore::new();
    let first = t.dir.path().join("first.csv");
    let wider = t.dir.path().join("wider.csv");
    import_support::write_stripe_export(&first, 300, 0);
    import_support::write_stripe_export(&wider, 305, 0);
    let lines = |path: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .split_terminator("\r\n")
            .map(str::to_string)
            .collect()
    };
    let (header, rows) = lines(&first)
        .split_first()
        .map(|(h, r)| (h.clone(), r.to_vec()))
        .unwrap();
    let wider = lines(&wider);
    // Rows 100..150 first, then 0..100 (their stored order), 150..200, 200..250 backwards,
    // 250..290, five rows the store has never seen; 290..300 left out.
    let mut next: Vec<String> = rows[100..150].to_vec();
    next.extend_from_slice(&rows[0..100]);
    next.extend_from_slice(&rows[150..200]);
    next.extend(rows[200..250].iter().rev().cloned());
    next.extend_from_slice(&rows[250..290]);
    next.extend_from_slice(&wider[301..306]);
    for edited in [10, 120, 220] {
        let at = next
            .iter()
            .position(|r| r.contains(&format!(",Invoice INV-{edited},")))
            .unwrap();
        next[at] = next[at].replacen(
            &format!(",Invoice INV-{edited},"),
            &format!(",Invoice INV-{edited} (edited),"),
            1,
        );
    }
    let mut text = header;
    for row in &next {
        text.push_str("\r\n");
        text.push_str(row);
    }
    text.push_str("\r\n");
    let second = t.file("second.csv", text.as_bytes());

    t.import(FileKind::StripePayments, &first);
    let report = t.import(FileKind::StripePayments, &second);
    assert_eq!(
        (
            report.counts.new,
            report.counts.changed,
            report.counts.unchanged
        ),
        (5, 3, 287)
    );
    let mut changed: Vec<(String, Option<String>)> = report
        .changed
        .iter()
        .flat_map(|c| {
            c.changes
                .iter()
                .map(|f| (f.field.to_string(), f.new.clone()))
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [10, 120, 220]
            .map(|i| (
                "description".to_string(),
                Some(format!("Invoice INV-{i} (edited)"))
            ))
            .to_vec()
    );

    // What the store now holds for the second file's rows is what that file alone says.
    let mut alone = TestStore::new();
    alone.import(FileKind::StripePayments, &second);
    let charges = "SELECT charge_id, amount_minor, amount_refunded_minor, currency, status, \
                   captured, created_at, customer_id, description, payment_intent_id, extra \
                   FROM gateway_charges ORDER BY charge_id";
    let stored = t.query(charges);
    assert_eq!(
        stored.len(),
        305,
        "the ten rows the second file left out stay"
    );
    let in_second: Vec<Vec<String>> = stored
        .into_iter()
        .filter(|row| {
            next.iter()
                .any(|line| line.starts_with(&format!("{},", row[0])))
        })
        .collect();
    assert_eq!(in_second, alone.query(charges));
}
