//! Another invoicing app's layout imports through a column mapping, from a TOML file or
//! saved by name in the store; a mapping that does not fit is refused before any row.

use crate::import_support;

use std::collections::BTreeMap;

use chargeguard::import::{
    ColumnMapping, FileKind, ImportError, ImportOptions, MappingError, import_file,
    resolve_mapping, save_mapping,
};
use chargeguard::records::InvoiceStatus;
use chargeguard::store::StoredRow;
use import_support::{TestStore, fixture, now};

fn import_acme(t: &mut TestStore, mapping: ColumnMapping) {
    let options = ImportOptions {
        mapping: Some(mapping),
        ..ImportOptions::default()
    };
    let report = import_file(
        &mut t.store,
        FileKind::Invoices,
        &fixture("acme_invoices.csv"),
        &options,
        now(),
    )
    .unwrap();
    assert_eq!(report.counts.new, 3);
}

fn assert_acme_invoices(t: &mut TestStore) {
    let invoices = t.store.read(|tx| tx.invoices()).unwrap();
    let summary: Vec<(&str, &str, i64, &str, InvoiceStatus)> = invoices
        .iter()
        .map(|i| {
            (
                i.number.as_str(),
                i.customer_id.as_str(),
                i.amount.minor(),
                i.amount.currency().code(),
                i.status,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("A-77", "cust-9", 25_000, "GBP", InvoiceStatus::Open),
            ("A-78", "cust-9", 8_000, "GBP", InvoiceStatus::Paid),
            ("A-79", "cust-4", 1_200, "GBP", InvoiceStatus::Void),
        ]
    );
    assert_eq!(
        t.extra(StoredRow::Invoice("A-77")),
        BTreeMap::from([("Sales rep".to_string(), "Maya".to_string())]),
        "their columns we do not use are kept"
    );
}

#[test]
fn a_mapping_file_imports_another_apps_invoices() {
    let mut t = TestStore::new();
    let path = fixture("acme_invoices.toml");
    let mapping = resolve_mapping(&mut t.store, path.to_str().unwrap()).unwrap();
    import_acme(&mut t, mapping);
    assert_acme_invoices(&mut t);
}

#[test]
fn a_saved_mapping_is_found_by_name() {
    let mut t = TestStore::new();
    let text = std::fs::read_to_string(fixture("acme_invoices.toml")).unwrap();
    save_mapping(
        &mut t.store,
        "acme",
        &ColumnMapping::from_toml(&text).unwrap(),
    )
    .unwrap();
    assert_eq!(
        t.store.read(|tx| tx.mappings()).unwrap(),
        [("acme".to_string(), "invoices".to_string())]
    );
    let mapping = resolve_mapping(&mut t.store, "acme").unwrap();
    import_acme(&mut t, mapping);
    assert_acme_invoices(&mut t);
}

#[test]
fn an_unknown_mapping_name_lists_the_saved_ones() {
    let mut t = TestStore::new();
    let text = std::fs::read_to_string(fixture("acme_invoices.toml")).unwrap();
    save_mapping(
        &mut t.store,
        "acme",
        &ColumnMapping::from_toml(&text).unwrap(),
    )
    .unwrap();
    let err = resolve_mapping(&mut t.store, "acne").unwrap_err();
    assert!(
        matches!(&err, ImportError::Mapping(MappingError::NotFound { saved, .. }) if saved == &["acme"]),
        "{err}"
    );
}

#[test]
fn without_the_mapping_the_other_layout_is_missing_our_columns() {
    let mut t = TestStore::new();
    let err = import_file(
        &mut t.store,
        FileKind::Invoices,
        &fixture("acme_invoices.csv"),
        &ImportOptions::default(),
        now(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::MissingColumns { .. }), "{err}");
}

#[test]
fn a_mapping_that_names_a_header_the_file_lacks_says_which() {
    let mut t = TestStore::new();
    let mut mapping =
        ColumnMapping::from_toml(&std::fs::read_to_string(fixture("acme_invoices.toml")).unwrap())
            .unwrap();
    mapping
        .columns
        .insert("amount".into(), "Grand Total".into());
    let options = ImportOptions {
        mapping: Some(mapping),
        ..ImportOptions::default()
    };
    let err = import_file(
        &mut t.store,
        FileKind::Invoices,
        &fixture("acme_invoices.csv"),
        &options,
        now(),
    )
    .unwrap_err();
    match err {
        ImportError::MissingColumns { missing, .. } => {
            assert_eq!(missing, ["amount (mapped to `Grand Total`)"])
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_mapping_for_invoices_is_refused_for_payments_and_for_stripe() {
    let mut t = TestStore::new();
    let mapping =
        ColumnMapping::from_toml(&std::fs::read_to_string(fixture("acme_invoices.toml")).unwrap())
            .unwrap();
    let options = ImportOptions {
        mapping: Some(mapping),
        ..ImportOptions::default()
    };
    let before = t.dump();
    for (kind, file) in [
        (FileKind::Payments, "payments.csv"),
        (FileKind::StripePayments, "stripe_payments.csv"),
    ] {
        let err = import_file(&mut t.store, kind, &fixture(file), &options, now()).unwrap_err();
        assert!(matches!(err, ImportError::Mapping(_)), "{err}");
    }
    assert_eq!(t.dump(), before);
}
