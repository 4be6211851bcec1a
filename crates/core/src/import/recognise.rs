//! Which kind of file a CSV is (invoices, payments, a Stripe payments export), told from
//! its header line alone, so a window can pre-select the kind of a file it holds only by
//! path (the desktop's file dialog, a drop) or has just uploaded. It is a suggestion the
//! person can change: the import itself decides again from the kind it is given.
//!
//! It reads the header and nothing else, and never writes.

use std::fs::File;
use std::path::Path;

use super::mapping::MappingLayout;
use super::{FileKind, ImportError, csv_reader, layouts, read_header, saved_mappings};
use crate::store::Store;

/// What a file's header says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    /// `None` when nothing in the header says (the person picks).
    pub kind: Option<FileKind>,
    /// The layout or saved mapping that reads it, when it is another app's export.
    pub layout: Option<String>,
}

/// Reads `path`'s header and says which kind of file it is.
pub fn recognise_file(store: &mut Store, path: &Path) -> Result<Recognised, ImportError> {
    let file = File::open(path).map_err(|source| ImportError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let header = read_header(&mut csv_reader(file), path)?;
    let names = &header.names;
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    let has = |name: &str| lower.iter().any(|h| h == name);
    let (created, created_before) = super::stripe_payments::CREATED;
    let is_created = |name: &&str| has(&name.to_ascii_lowercase());
    // Stripe's balance history and payouts exports also have `id` and `Created (UTC)`:
    // they are not the payments export (`import stripe` reads them).
    if has(super::stripe_payments::ID)
        && (is_created(&created) || created_before.iter().any(is_created))
        && super::stripe_reports::recognise(names).is_none()
    {
        return Ok(Recognised {
            kind: Some(FileKind::StripePayments),
            layout: None,
        });
    }
    for (kind, layout) in [
        (FileKind::Payments, MappingLayout::Payments),
        (FileKind::Invoices, MappingLayout::Invoices),
    ] {
        if layouts::fits_own_layout(layout, names) {
            return Ok(Recognised {
                kind: Some(kind),
                layout: None,
            });
        }
    }
    let saved = saved_mappings(store)?;
    for (kind, layout) in [
        (FileKind::Payments, MappingLayout::Payments),
        (FileKind::Invoices, MappingLayout::Invoices),
    ] {
        if let Some(m) = layouts::recognise(layout, names, &saved) {
            return Ok(Recognised {
                kind: Some(kind),
                layout: Some(m.display_name().to_string()),
            });
        }
    }
    // Another app's invoices we have no layout for: a mapping will be needed, but the kind
    // is plain from the header.
    let invoice_like = lower
        .iter()
        .any(|h| h.contains("invoice") || h == "documentnumber");
    Ok(Recognised {
        kind: invoice_like.then_some(FileKind::Invoices),
        layout: None,
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::stripe_2024(
        "id,Created date (UTC),Amount,Currency,Status\n",
        Some(FileKind::StripePayments)
    )]
    #[case::stripe_before("id,Created (UTC),Amount\n", Some(FileKind::StripePayments))]
    #[case::our_payments(
        "payment_id,invoice_number,kind,amount,currency,recorded_at,gateway_id\n",
        Some(FileKind::Payments)
    )]
    #[case::our_invoices(
        "\u{feff}invoice_number,customer_id,amount,currency,issued_at,due_at,status\n",
        Some(FileKind::Invoices)
    )]
    #[case::some_other_invoices("Invoice No,Client,Total\n", Some(FileKind::Invoices))]
    #[case::a_bank_statement("Date,Description,Debit,Credit\n", None)]
    #[case::empty("", None)]
    fn a_file_is_recognised_by_its_header(#[case] text: &str, #[case] kind: Option<FileKind>) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, text).unwrap();
        assert_eq!(recognise_file(&mut store, &path).unwrap().kind, kind);
    }

    #[test]
    fn a_shipped_layout_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let xero = layouts::named("xero").expect("Xero ships");
        let header = xero.mapping.recognise.join(",");
        let path = dir.path().join("xero.csv");
        std::fs::write(&path, format!("{header}\n")).unwrap();
        let got = recognise_file(&mut store, &path).unwrap();
        assert_eq!(got.kind, Some(FileKind::Invoices));
        assert_eq!(
            got.layout.as_deref(),
            Some(xero.mapping.display_name()),
            "{got:?}"
        );
    }
}
