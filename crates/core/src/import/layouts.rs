//! The layouts shipped with the program: one mapping per invoicing app's export, kept as
//! TOML files in `layouts/` (a bookkeeper can read one, copy it, change it and save it as
//! their own mapping) and compiled in, and the recognition that picks one by a file's
//! headers.
//!
//! A layout is data, never a code path of its own: everything an app's export needs is
//! said in its file (see [`super::mapping`]). Which layout reads a file, in order: the
//! mapping the user named (`--mapping`), the layout named (`--from`), our own layout when
//! the header has all its columns, a saved mapping of the user's whose `recognise` headers
//! are all there, then the shipped layout whose `recognise` headers are all there (the one
//! naming the most, should several fit; the first listed on a tie). This module never
//! reads a row.

use std::sync::OnceLock;

use super::mapping::{ColumnMapping, MappingLayout};

/// The shipped layouts: (short name, TOML), in the order a tie is settled.
const SHIPPED: &[(&str, &str)] = &[
    (
        "stripe-invoices",
        include_str!("../../../../layouts/invoices/stripe-invoices.toml"),
    ),
    (
        "quickbooks-online",
        include_str!("../../../../layouts/invoices/quickbooks-online.toml"),
    ),
    (
        "quickbooks-online-dmy",
        include_str!("../../../../layouts/invoices/quickbooks-online-dmy.toml"),
    ),
    (
        "xero",
        include_str!("../../../../layouts/invoices/xero.toml"),
    ),
    (
        "xero-us",
        include_str!("../../../../layouts/invoices/xero-us.toml"),
    ),
    (
        "freshbooks",
        include_str!("../../../../layouts/invoices/freshbooks.toml"),
    ),
    (
        "zoho",
        include_str!("../../../../layouts/invoices/zoho.toml"),
    ),
    (
        "invoice2go",
        include_str!("../../../../layouts/invoices/invoice2go.toml"),
    ),
    (
        "invoicely",
        include_str!("../../../../layouts/invoices/invoicely.toml"),
    ),
    (
        "invoice-ninja",
        include_str!("../../../../layouts/invoices/invoice-ninja.toml"),
    ),
    (
        "invoice-ninja-items",
        include_str!("../../../../layouts/invoices/invoice-ninja-items.toml"),
    ),
    (
        "wave",
        include_str!("../../../../layouts/invoices/wave.toml"),
    ),
    (
        "wave-payments",
        include_str!("../../../../layouts/payments/wave-payments.toml"),
    ),
    (
        "zoho-payments",
        include_str!("../../../../layouts/payments/zoho-payments.toml"),
    ),
];

/// A layout shipped with the program.
#[derive(Debug)]
pub struct ShippedLayout {
    /// Its short name (`--from xero`), the file's stem.
    pub id: &'static str,
    pub mapping: ColumnMapping,
    /// The TOML as shipped, for a user to copy.
    pub toml: &'static str,
}

/// Every shipped layout, read once. A layout that does not read is a bug the tests catch.
pub fn shipped() -> &'static [ShippedLayout] {
    static LAYOUTS: OnceLock<Vec<ShippedLayout>> = OnceLock::new();
    LAYOUTS.get_or_init(|| {
        SHIPPED
            .iter()
            .map(|&(id, toml)| ShippedLayout {
                id,
                mapping: ColumnMapping::from_toml(toml)
                    .unwrap_or_else(|e| panic!("the shipped layout {id} does not read: {e}")),
                toml,
            })
            .collect()
    })
}

/// The shipped layout called `name` (its short name or the app's name, any case).
pub fn named(name: &str) -> Option<&'static ShippedLayout> {
    let name = name.trim();
    shipped().iter().find(|l| {
        l.id.eq_ignore_ascii_case(name)
            || l.mapping
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// "xero (Xero, UK/AU/NZ dates)" for each shipped layout of `layout`: what `--from` takes.
pub fn names(layout: MappingLayout) -> Vec<String> {
    shipped()
        .iter()
        .filter(|l| l.mapping.layout == layout)
        .map(|l| format!("{} ({})", l.id, l.mapping.display_name()))
        .collect()
}

/// The mapping that reads a file with these headers, if one does: a saved mapping of the
/// user's before a shipped layout. `None` also when our own layout reads it as it is.
pub(crate) fn recognise(
    layout: MappingLayout,
    headers: &[String],
    saved: &[ColumnMapping],
) -> Option<ColumnMapping> {
    if fits_own_layout(layout, headers) {
        return None;
    }
    if let Some(mine) = saved
        .iter()
        .find(|m| m.layout == layout && m.recognises(headers))
    {
        return Some(mine.clone());
    }
    let mut best: Option<&ColumnMapping> = None;
    for candidate in shipped().iter().map(|l| &l.mapping) {
        if candidate.layout == layout
            && candidate.recognises(headers)
            && best.is_none_or(|b| candidate.recognise.len() > b.recognise.len())
        {
            best = Some(candidate);
        }
    }
    best.cloned()
}

/// Whether the headers hold every column our own layout requires: no mapping is needed.
pub(crate) fn fits_own_layout(layout: MappingLayout, headers: &[String]) -> bool {
    own_columns(layout)
        .iter()
        .all(|name| headers.iter().any(|h| h.eq_ignore_ascii_case(name)))
}

/// Our own layout's required columns.
fn own_columns(layout: MappingLayout) -> Vec<&'static str> {
    layout
        .columns()
        .iter()
        .copied()
        .filter(|c| layout.requires(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_layout_reads_and_is_recognisable() {
        for layout in shipped() {
            assert!(
                !layout.mapping.recognise.is_empty(),
                "{} recognises nothing",
                layout.id
            );
            assert!(layout.mapping.name.is_some(), "{} has no name", layout.id);
        }
    }

    #[test]
    fn every_file_in_the_layouts_folder_is_shipped() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../layouts");
        for (folder, layout) in [
            ("invoices", MappingLayout::Invoices),
            ("payments", MappingLayout::Payments),
        ] {
            for entry in std::fs::read_dir(root.join(folder)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "toml") {
                    let stem = path.file_stem().unwrap().to_str().unwrap();
                    let shipped =
                        named(stem).unwrap_or_else(|| panic!("{stem}.toml is not in SHIPPED"));
                    assert_eq!(
                        shipped.mapping.layout, layout,
                        "{stem}.toml is in the wrong folder"
                    );
                }
            }
        }
    }

    #[test]
    fn a_layouts_own_headers_recognise_it_and_no_other() {
        for (i, layout) in shipped().iter().enumerate() {
            // A variant of an earlier layout (Xero with US dates) is named with --from.
            let earlier = shipped()[..i]
                .iter()
                .find(|e| e.mapping.recognise == layout.mapping.recognise);
            let headers: Vec<String> = layout
                .mapping
                .recognise
                .iter()
                .cloned()
                .chain(layout.mapping.columns.values().cloned())
                .collect();
            let found = recognise(layout.mapping.layout, &headers, &[]).unwrap();
            let expected = earlier.unwrap_or(layout);
            assert_eq!(found.name, expected.mapping.name, "{}", layout.id);
        }
    }

    #[test]
    fn our_own_layout_needs_no_mapping() {
        let headers: Vec<String> = own_columns(MappingLayout::Invoices)
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(recognise(MappingLayout::Invoices, &headers, &[]).is_none());
    }
}
