//! The Import screen's commands (`chargeguard::api::imports`), through the one command list
//! both shells route by (`api::commands::call`), on real SQLite files: a browser's upload
//! lands beside the store and imports like a file the desktop named; a dry run writes
//! nothing; the same file twice reads "0 new, N unchanged"; a bad row comes back with its
//! file name, line and column; a mapping made in the form previews, saves and imports.

use crate::api_support;

use api_support::call;
use base64::Engine as _;
use chargeguard::api::imports::*;
use chargeguard::api::{self, ApiError, ApiErrorCode};
use serde_json::json;

const INVOICES: &str = "invoice_number,customer_id,amount,currency,issued_at,due_at,status\n\
INV-1,cus_1,49.00,USD,2026-10-01,2026-10-31,open\n\
INV-2,cus_2,12000,JPY,2026-10-02,2026-11-01,paid\n\
INV-3,cus_3,12.500,KWD,2026-10-03,2026-11-02,open\n";

/// Another app's export: other headers, other status words, an extra column.
const ACME: &str = "Invoice #,customer_id,Total,currency,issued_at,due_at,status,Salesperson\n\
A-1,cus_1,10.00,USD,2026-10-01,2026-10-31,Unpaid,Kim\n\
A-2,cus_2,20.00,USD,2026-10-02,2026-11-01,Settled,Lee\n";

async fn upload(api: &api::Api, name: &str, bytes: &[u8]) -> Uploaded {
    call(
        api,
        "upload_csv",
        json!({"name": name, "content_base64": base64::engine::general_purpose::STANDARD.encode(bytes)}),
    )
    .await
    .expect("the upload is kept")
}

async fn import(
    api: &api::Api,
    kind: &str,
    path: &str,
    mapping: Option<&str>,
    dry_run: bool,
) -> Result<ImportOutcome, ApiError> {
    call(
        api,
        "import_csv",
        json!({"kind": kind, "path": path, "mapping": mapping, "dry_run": dry_run}),
    )
    .await
}

fn setup() -> (tempfile::TempDir, api::Api) {
    let dir = tempfile::tempdir().unwrap();
    let api = api::Api::new(dir.path().join("cg.db"));
    (dir, api)
}

#[tokio::test]
async fn an_upload_previews_then_imports_and_a_second_import_reads_all_unchanged() {
    let (dir, api) = setup();
    let up = upload(&api, "C:\\exports\\invoices.csv", INVOICES.as_bytes()).await;
    assert_eq!(up.name, "invoices.csv", "the browser's path is dropped");
    assert!(
        up.path
            .starts_with(&dir.path().join("uploads").display().to_string()),
        "the upload waits beside the store: {}",
        up.path
    );

    let dry = import(&api, "invoices", &up.path, None, true)
        .await
        .unwrap();
    assert_eq!((dry.new, dry.unchanged, dry.written), (3, 0, false));
    assert_eq!(
        dry.message,
        "invoices.csv: 3 new, 0 changed, 0 unchanged (dry run: nothing was written)"
    );
    assert_eq!(
        dry.zone, "UTC",
        "no business zone set: dates are read in UTC"
    );
    assert!(
        std::path::Path::new(&up.path).exists(),
        "a dry run keeps the upload for the import that follows"
    );

    let done = import(&api, "invoices", &up.path, None, false)
        .await
        .unwrap();
    assert_eq!((done.new, done.written), (3, true));
    assert!(
        !std::path::Path::new(&up.path).exists(),
        "the upload is removed once imported"
    );

    let again = upload(&api, "invoices.csv", INVOICES.as_bytes()).await;
    let twice = import(&api, "invoices", &again.path, None, false)
        .await
        .unwrap();
    assert_eq!(twice.message, "invoices.csv: 0 new, 0 changed, 3 unchanged");
    assert!(!twice.written, "nothing new: not even a source row");
}

#[tokio::test]
async fn a_bad_row_is_refused_with_file_line_and_column_and_nothing_is_written() {
    let (_dir, api) = setup();
    let bad = INVOICES
        .replace("12.500,KWD", "12.5001,KWD")
        .replace("49.00,USD", "4e1,USD");
    let up = upload(&api, "october.csv", bad.as_bytes()).await;
    let refused = import(&api, "invoices", &up.path, None, false)
        .await
        .unwrap();
    assert!(!refused.written);
    assert_eq!(refused.new, 0);
    let places: Vec<(String, u32, Option<u32>, String)> = refused
        .problems
        .iter()
        .map(|p| (p.file.clone(), p.line, p.column, p.column_name.clone()))
        .collect();
    assert_eq!(
        places,
        vec![
            ("october.csv".into(), 2, Some(3), "amount".into()),
            ("october.csv".into(), 4, Some(3), "amount".into()),
        ]
    );
    assert_eq!(refused.problems[0].value, "4e1");
    assert!(
        refused.message.contains("nothing was imported"),
        "{}",
        refused.message
    );
    for p in &refused.problems {
        assert!(!p.reason.contains("uploads"), "no temp path: {}", p.reason);
    }
    // The store holds nothing: the corrected file imports all three rows as new.
    let fixed = upload(&api, "october.csv", INVOICES.as_bytes()).await;
    let done = import(&api, "invoices", &fixed.path, None, false)
        .await
        .unwrap();
    assert_eq!(done.new, 3);
}

#[tokio::test]
async fn a_file_of_another_kind_names_the_missing_columns() {
    let (_dir, api) = setup();
    let up = upload(&api, "invoices.csv", INVOICES.as_bytes()).await;
    let refused = import(&api, "payments", &up.path, None, true)
        .await
        .unwrap();
    let missing: Vec<&str> = refused
        .problems
        .iter()
        .map(|p| p.column_name.as_str())
        .collect();
    assert_eq!(
        missing,
        vec!["payment_id", "kind", "recorded_at", "gateway_id"]
    );
    assert!(
        refused
            .problems
            .iter()
            .all(|p| p.line == 1 && p.column.is_none())
    );
    assert!(
        refused.message.contains("pick another kind"),
        "{}",
        refused.message
    );
}

#[tokio::test]
async fn a_mapping_made_in_the_form_previews_saves_and_imports() {
    let (_dir, api) = setup();
    let up = upload(&api, "acme.csv", ACME.as_bytes()).await;
    let draft = json!({
        "layout": "invoices",
        "columns": [
            {"ours": "invoice_number", "theirs": "Invoice #"},
            {"ours": "amount", "theirs": "Total"},
            {"ours": "currency", "theirs": ""},
        ],
        "values": [
            {"column": "status", "theirs": "Unpaid", "ours": "open"},
            {"column": "status", "theirs": "Settled", "ours": "paid"},
            {"column": "status", "theirs": "", "ours": ""},
        ],
    });

    // Without the mapping the preview says what the import would lack.
    let plain: MappingPreviewView = call(
        &api,
        "mapping_preview",
        json!({"path": up.path, "draft": {"layout": "invoices", "columns": [], "values": []}}),
    )
    .await
    .unwrap();
    assert_eq!(plain.missing, vec!["invoice_number", "amount"]);

    let preview: MappingPreviewView = call(
        &api,
        "mapping_preview",
        json!({"path": up.path, "draft": draft}),
    )
    .await
    .unwrap();
    assert!(preview.missing.is_empty(), "{:?}", preview.missing);
    let col = |name: &str| preview.columns.iter().position(|c| c.name == name).unwrap();
    assert_eq!(preview.columns[col("amount")].header, "Total");
    assert_eq!(preview.columns[col("amount")].position, Some(3));
    assert_eq!(preview.rows.len(), 2);
    assert_eq!(preview.rows[1].line, 3);
    assert_eq!(
        preview.rows[1].cells[col("status")].as_deref(),
        Some("paid")
    );
    assert_eq!(preview.unused_headers, vec!["Salesperson"]);

    let saved: MappingView = call(
        &api,
        "mapping_save",
        json!({"name": " acme ", "draft": draft}),
    )
    .await
    .unwrap();
    assert_eq!(saved.name, "acme");
    let list: Vec<MappingSummary> = call(&api, "mappings", json!(null)).await.unwrap();
    assert_eq!(
        list,
        vec![MappingSummary {
            name: "acme".into(),
            layout: Layout::Invoices
        }]
    );
    let read_back: MappingView = call(&api, "mapping_get", json!({"name": "acme"}))
        .await
        .unwrap();
    assert_eq!(
        read_back, saved,
        "blank form rows were left out, the rest kept"
    );

    let done = import(&api, "invoices", &up.path, Some("acme"), false)
        .await
        .unwrap();
    assert_eq!(done.message, "acme.csv: 2 new, 0 changed, 0 unchanged");
}

#[tokio::test]
async fn a_wrong_mapping_is_refused_with_what_to_change() {
    let (_dir, api) = setup();
    let wrong_column = call::<_, MappingView>(
        &api,
        "mapping_save",
        json!({"name": "acme", "draft": {"layout": "invoices",
            "columns": [{"ours": "payment_id", "theirs": "Ref"}], "values": []}}),
    )
    .await
    .unwrap_err();
    assert_eq!(wrong_column.code, ApiErrorCode::InvalidInput);
    assert!(
        wrong_column.message.contains("use one of: invoice_number"),
        "{}",
        wrong_column.message
    );

    let path_like_name = call::<_, MappingView>(
        &api,
        "mapping_save",
        json!({"name": "acme.toml", "draft": {"layout": "invoices", "columns": [], "values": []}}),
    )
    .await
    .unwrap_err();
    assert_eq!(path_like_name.code, ApiErrorCode::InvalidInput);

    let half_value = call::<_, MappingView>(
        &api,
        "mapping_save",
        json!({"name": "acme", "draft": {"layout": "invoices", "columns": [],
            "values": [{"column": "status", "theirs": "Unpaid", "ours": ""}]}}),
    )
    .await
    .unwrap_err();
    assert!(
        half_value.message.contains("fill both"),
        "{}",
        half_value.message
    );

    let unknown = import(&api, "invoices", "/nowhere/x.csv", Some("nobody"), true)
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ApiErrorCode::InvalidInput);
    assert!(
        unknown
            .message
            .contains("no saved mapping is called `nobody`")
    );
    let list: Vec<MappingSummary> = call(&api, "mappings", json!(null)).await.unwrap();
    assert!(list.is_empty(), "nothing was saved");
}

#[tokio::test]
async fn a_missing_file_says_so_by_its_name() {
    let (dir, api) = setup();
    let path = dir.path().join("gone.csv");
    let e = import(&api, "invoices", &path.display().to_string(), None, true)
        .await
        .unwrap_err();
    assert_eq!(e.code, ApiErrorCode::Refused);
    assert!(
        e.message.starts_with("cannot read gone.csv"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn an_apps_export_is_recognised_previewed_and_its_drafts_counted_before_anything_is_written()
{
    let (_dir, api) = setup();
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/import/layouts/zoho-invoice.csv"),
    )
    .unwrap();
    let up = upload(&api, "Invoice.csv", &bytes).await;
    let dry = import(&api, "invoices", &up.path, None, true)
        .await
        .unwrap();
    assert!(!dry.written);
    assert_eq!(dry.recognised.as_deref(), Some("Zoho Invoice / Zoho Books"));
    assert_eq!(dry.skipped, vec!["1 draft (never due) was not imported"]);
    assert_eq!(dry.preview.len(), 4, "{:?}", dry.preview);
    assert!(dry.preview[0].starts_with("line 2: INV-000101 · Acme Widgets · 205.50 USD"));
    let done = import(&api, "invoices", &up.path, None, false)
        .await
        .unwrap();
    assert!(done.written);
    assert_eq!(done.new, 4);
}

#[tokio::test]
async fn a_file_without_a_currency_imports_in_the_default_currency_set_in_settings() {
    let (_dir, api) = setup();
    let invoicely = "\"Date\",\"Due\",\"Details\",\"Client\",\"Status\",\"Total\"\n\
                     \"Apr 11 2024\",\"Apr 25 2024\",\"INV-31\",\"Quarry Lane Books\",\"Paid\",\"2,450.00\"\n";
    let up = upload(&api, "invoices.csv", invoicely.as_bytes()).await;
    let refused = import(&api, "invoices", &up.path, None, true)
        .await
        .unwrap();
    assert!(
        refused
            .problems
            .iter()
            .any(|p| p.column_name.contains("currency") && p.column_name.contains("Settings")),
        "{:?}",
        refused.problems
    );
    let settings: chargeguard::api::settings::Settings = call(
        &api,
        "default_currency_set",
        json!({"code": "usd", "by": "kim"}),
    )
    .await
    .unwrap();
    assert_eq!(settings.default_currency.as_deref(), Some("USD"));
    let done = import(&api, "invoices", &up.path, None, false)
        .await
        .unwrap();
    assert_eq!(done.recognised.as_deref(), Some("Invoicely"));
    assert_eq!(done.new, 1, "{}", done.message);
}

/// The desktop app hands the core the paths its file dialog or a drop gave it: the core
/// says from each header which kind of file it is, imports it where it lies, and leaves
/// the person's file in place (only an upload's copy is removed after its import).
#[tokio::test]
async fn a_file_named_by_path_is_recognised_by_its_header_and_imported_where_it_lies() {
    let (dir, api) = setup();
    let elsewhere = tempfile::tempdir().unwrap();
    let path = elsewhere.path().join("October invoices.csv");
    std::fs::write(&path, INVOICES).unwrap();
    let path_text = path.display().to_string();

    let seen: FileKindView = call(&api, "file_kind", json!({"path": path_text}))
        .await
        .unwrap();
    assert_eq!(seen.name, "October invoices.csv");
    assert_eq!(seen.kind, Some(api::json::ImportKind::Invoices));
    assert_eq!(seen.layout, None, "our own layout needs no app's");

    let done = import(&api, "invoices", &path_text, None, false)
        .await
        .unwrap();
    assert_eq!((done.new, done.written), (3, true));
    assert!(path.exists(), "the person's own file stays where it is");
    assert!(
        !dir.path().join("uploads").exists(),
        "nothing was copied beside the store"
    );

    let stripe = elsewhere.path().join("unified_payments.csv");
    std::fs::write(&stripe, "id,Created date (UTC),Amount,Currency\n").unwrap();
    let seen: FileKindView = call(
        &api,
        "file_kind",
        json!({"path": stripe.display().to_string()}),
    )
    .await
    .unwrap();
    assert_eq!(seen.kind, Some(api::json::ImportKind::StripePayments));

    let gone = call::<_, FileKindView>(
        &api,
        "file_kind",
        json!({"path": elsewhere.path().join("moved.csv").display().to_string()}),
    )
    .await
    .unwrap_err();
    assert_eq!(gone.code, ApiErrorCode::Refused);
    assert!(gone.message.contains("moved.csv"), "{}", gone.message);
}

/// A bank statement and Stripe's payout files go through the same screen: told from their
/// bytes (an OFX file, a bank's CSV, Stripe's payouts export), tried, imported, and again
/// read unchanged; a bad line comes back as a problem with its line.
#[tokio::test]
async fn bank_statements_and_stripe_reports_are_recognised_tried_and_imported() {
    let (_dir, api) = setup();
    let fixture = |path: &str| {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(path),
        )
        .unwrap()
    };
    for (name, bytes, kind, recognised, new) in [
        (
            "statement.qfx",
            fixture("bank/ofxparse-chase_cc.qfx"),
            "bank_statement",
            "OFX statement",
            0,
        ),
        (
            "Chase1234_Activity.CSV",
            fixture("bank/csv/chase-checking.csv"),
            "bank_statement",
            "Chase checking",
            3,
        ),
        (
            "payouts.csv",
            fixture("stripe-reports/payouts-export.csv"),
            "stripe_report",
            "Stripe payouts export",
            1,
        ),
    ] {
        let up = upload(&api, name, &bytes).await;
        let seen: FileKindView = call(&api, "file_kind", json!({"path": up.path}))
            .await
            .unwrap();
        assert_eq!(
            (
                serde_json::to_value(seen.kind).unwrap(),
                seen.layout.as_deref()
            ),
            (json!(kind), Some(recognised)),
            "{name}"
        );
        let tried = import(&api, kind, &up.path, None, true).await.unwrap();
        assert!(tried.dry_run && !tried.written, "{tried:?}");
        assert!(
            tried.message.contains("(dry run: nothing was written)"),
            "{}",
            tried.message
        );
        let done = import(&api, kind, &up.path, None, false).await.unwrap();
        assert_eq!(done.recognised.as_deref(), Some(recognised), "{name}");
        if new > 0 {
            assert_eq!(done.new, new, "{name}: {}", done.message);
            assert!(done.written);
        }
        assert!(done.problems.is_empty(), "{:?}", done.problems);
        let up = upload(&api, name, &bytes).await;
        let again = import(&api, kind, &up.path, None, false).await.unwrap();
        assert_eq!(
            (again.new, again.changed),
            (0, 0),
            "{name}: {}",
            again.message
        );
    }

    // A second account of the same bank, named: its lines stay its own.
    let up = upload(&api, "savings.csv", &fixture("bank/csv/chase-checking.csv")).await;
    let savings: ImportOutcome = call(
        &api,
        "import_csv",
        json!({"kind": "bank_statement", "path": up.path, "dry_run": false, "account": "Chase savings"}),
    )
    .await
    .unwrap();
    assert_eq!(savings.new, 3, "{}", savings.message);
    assert!(
        savings.message.contains("(Chase savings)"),
        "{}",
        savings.message
    );

    let bad = String::from_utf8(fixture("bank/csv/chase-checking.csv"))
        .unwrap()
        .replace("08/31/2023", "31.08.2023");
    let up = upload(&api, "bad.csv", bad.as_bytes()).await;
    let refused = import(&api, "bank_statement", &up.path, None, false)
        .await
        .unwrap();
    assert_eq!(refused.problems.len(), 1, "{refused:?}");
    assert_eq!(refused.problems[0].line, 3);
    assert_eq!(refused.problems[0].column_name, "Posting Date");
    assert!(!refused.written);
}
