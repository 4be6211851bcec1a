//! Bank statements as banks write them: OFX and QFX files that other open-source projects
//! keep as test data (`tests/fixtures/bank/SOURCES.md`), version 1 (SGML, Windows-1252)
//! and version 2 (XML), bank and credit-card accounts, one file with several accounts,
//! empty elements. Beside each, a golden `.expected` file says what a bookkeeper finds:
//! the accounts, the counts, every line and the balance the statement states. Regenerate
//! after a deliberate change with `CHARGEGUARD_BLESS=1 cargo test --test import bank`,
//! and read the diff. Importing any of them again changes nothing.

use crate::import_support;

use std::path::Path;

use chargeguard::import::ImportError;
use chargeguard::import::bank::{BankOptions, import_bank_file};
use chargeguard::money::Currency;
use import_support::{TestStore, now};
use rstest::rstest;

fn bank_fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bank")
        .join(name)
}

#[rstest]
#[case::ofxparse_checking("ofxparse-checking.ofx", None)]
#[case::ofxparse_bank_medium("ofxparse-bank_medium.ofx", None)]
#[case::ofxparse_multiple_accounts("ofxparse-multiple_accounts2.ofx", None)]
#[case::ofxparse_suncorp_xml("ofxparse-suncorp.ofx", None)]
#[case::ofxparse_anz_credit_card_xml("ofxparse-anzcc.ofx", None)]
#[case::ofxparse_chase_credit_card("ofxparse-chase_cc.qfx", None)]
#[case::ofxparse_empty_elements("ofxparse-ofx-v102-empty-tags.ofx", Some("AUD"))]
#[case::actual_windows_1252("actual-1252.qfx", None)]
#[case::genkgo_camt053_v3("genkgo-camt053.v3.xml", None)]
#[case::csv_chase_checking("csv/chase-checking.csv", None)]
#[case::csv_chase_card("csv/chase-card.csv", None)]
#[case::csv_bank_of_america_summary_block("csv/bank-of-america.csv", None)]
#[case::csv_bank_of_america_card("csv/bank-of-america-card.csv", None)]
#[case::csv_capital_one_card("csv/capital-one-card.csv", None)]
#[case::csv_capital_one_360("csv/capital-one-360.csv", None)]
#[case::csv_schwab_pending("csv/schwab.csv", None)]
#[case::csv_mercury_two_accounts("csv/mercury.csv", None)]
#[case::csv_dcu("csv/dcu.csv", None)]
#[case::csv_amex_spending_positive("csv/amex.csv", None)]
#[case::csv_citi_negative_credits("csv/citi.csv", None)]
#[case::csv_td_bank("csv/td-bank.csv", None)]
#[case::csv_lloyds_trailing_comma("csv/lloyds.csv", None)]
#[case::csv_barclays("csv/barclays.csv", None)]
#[case::csv_monzo("csv/monzo.csv", None)]
#[case::csv_starling_opening_balance_row("csv/starling.csv", None)]
#[case::csv_nationwide_pounds("csv/nationwide.csv", None)]
#[case::csv_natwest_spaced_header("csv/natwest.csv", Some("GBP"))]
#[case::csv_bank_of_ireland("csv/bank-of-ireland.csv", Some("EUR"))]
#[case::csv_aib("csv/aib.csv", None)]
#[case::csv_revolut_pending("csv/revolut.csv", None)]
#[case::csv_revolut_business("csv/revolut-business.csv", None)]
#[case::csv_wise("csv/wise.csv", None)]
#[case::csv_n26("csv/n26.csv", None)]
#[case::csv_ing_nl_af_bij("csv/ing-nl.csv", None)]
#[case::csv_rabobank_latin1("csv/rabobank.csv", None)]
#[case::csv_ing_de_summary_latin1("csv/ing-de.csv", None)]
#[case::csv_commerzbank("csv/commerzbank.csv", None)]
#[case::csv_sparkasse_vorgemerkt("csv/sparkasse.csv", None)]
#[case::csv_ubs_summary_block("csv/ubs.csv", None)]
#[case::csv_wells_fargo_no_header("csv/wells-fargo.csv", None)]
#[case::csv_hsbc_no_header("csv/hsbc-uk.csv", None)]
fn a_real_statement_imports_as_the_bank_wrote_it_and_again_changes_nothing(
    #[case] name: &str,
    #[case] currency: Option<&str>,
) {
    let mut t = TestStore::new();
    let path = bank_fixture(name);
    let options = BankOptions {
        currency: currency.map(|c| Currency::from_code(c).unwrap()),
        account: None,
        ..BankOptions::default()
    };
    let report = import_bank_file(&mut t.store, &path, &options, now())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let lines = t.store.read(|tx| tx.bank_lines()).unwrap();
    let mut seen = format!(
        "accounts: {}\ncounts: {} new, {} changed, {} unchanged\nclosing balances: {:?}\n",
        report.accounts.join(", "),
        report.counts.new,
        report.counts.changed,
        report.counts.unchanged,
        report.closing_balances,
    );
    if let Some(bank) = &report.recognised {
        seen.push_str(&format!("recognised: {bank}\n"));
    }
    if report.not_booked > 0 {
        seen.push_str(&format!("not booked: {}\n", report.not_booked));
    }
    for l in &lines {
        let l = &l.line;
        seen.push_str(&format!(
            "{} | {} | {} | {} | {} | {}\n",
            l.account,
            l.booked_on,
            l.amount,
            l.kind.as_deref().unwrap_or("-"),
            l.id,
            l.description
        ));
    }
    assert_eq!(report.counts.new as usize, lines.len());
    let expected = path.with_extension("expected");
    if std::env::var_os("CHARGEGUARD_BLESS").is_some() {
        std::fs::write(&expected, &seen).unwrap();
    }
    let golden = std::fs::read_to_string(&expected)
        .unwrap_or_else(|_| panic!("{} is missing; bless it", expected.display()));
    assert_eq!(seen, golden, "{name}");

    let before = t.dump();
    let again = import_bank_file(&mut t.store, &path, &options, now()).unwrap();
    assert_eq!(
        (
            again.counts.new,
            again.counts.changed,
            again.counts.unchanged
        ),
        (0, 0, report.counts.new)
    );
    assert_eq!(t.dump(), before, "nothing written, not even the statement");
}

/// A camt.053 statement whose opening balance and lines do not come to its closing
/// balance is imported, and the difference is said, not hidden.
#[test]
fn a_camt_statement_whose_lines_do_not_explain_its_balance_says_so() {
    let statement = |closing: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><Stmt>
<Acct><Id><IBAN>GB33BUKB20201555555555</IBAN></Id><Ccy>GBP</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="GBP">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-02</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="GBP">{closing}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-02</Dt></Dt></Bal>
<Ntry><Amt Ccy="GBP">4731.20</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-02</Dt></BookgDt><AcctSvcrRef>BANK-1</AcctSvcrRef><AddtlNtryInf>STRIPE PAYMENTS UK LTD STRIPE</AddtlNtryInf></Ntry>
<Ntry><Amt Ccy="GBP">12.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-02</Dt></BookgDt><AcctSvcrRef>BANK-2</AcctSvcrRef><AddtlNtryInf>ACCOUNT FEE</AddtlNtryInf></Ntry>
<Ntry><Amt Ccy="GBP">99.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts><BookgDt><Dt>2026-11-03</Dt></BookgDt><AcctSvcrRef>BANK-3</AcctSvcrRef></Ntry>
</Stmt></BkToCstmrStmt></Document>"#
        )
    };
    let mut t = TestStore::new();
    let explained = t.file("explained.xml", statement("5719.20").as_bytes());
    let report =
        import_bank_file(&mut t.store, &explained, &BankOptions::default(), now()).unwrap();
    assert_eq!(report.counts.new, 2, "the pending entry is left out");
    assert_eq!(report.not_booked, 1);
    assert_eq!(report.balance_checks[0].difference_minor, 0);
    assert!(!report.to_string().contains("warning"), "{report}");

    let mut t = TestStore::new();
    let short = t.file("short.xml", statement("5700.00").as_bytes());
    let report = import_bank_file(&mut t.store, &short, &BankOptions::default(), now()).unwrap();
    assert_eq!(report.balance_checks[0].difference_minor, -1920);
    let text = report.to_string();
    assert!(text.contains("do not explain its statement"), "{text}");
    assert!(text.contains("difference -1920 gbp"), "{text}");
    let lines = t.store.read(|tx| tx.bank_lines()).unwrap();
    assert_eq!(lines[0].line.amount.minor(), 473_120);
    assert_eq!(lines[0].line.description, "STRIPE PAYMENTS UK LTD STRIPE");
}

#[test]
fn a_bad_amount_refuses_the_whole_file_naming_line_and_element() {
    let mut t = TestStore::new();
    let good = std::fs::read_to_string(bank_fixture("ofxparse-checking.ofx")).unwrap();
    let bad = good.replacen("<TRNAMT>", "<TRNAMT>12.3.4", 1);
    let path = t.file("bad.ofx", bad.as_bytes());
    let before = t.dump();
    let error = import_bank_file(&mut t.store, &path, &BankOptions::default(), now()).unwrap_err();
    assert!(matches!(error, ImportError::Statement { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("bad.ofx:"), "{message}");
    assert!(message.contains("STMTTRN/TRNAMT"), "{message}");
    assert!(message.contains("nothing was imported"), "{message}");
    assert_eq!(t.dump(), before);

    let csv = t.file("statement.csv", b"Date,Amount\n2026-11-01,10.00\n");
    let error = import_bank_file(&mut t.store, &csv, &BankOptions::default(), now()).unwrap_err();
    assert!(
        matches!(error, ImportError::NotABankStatement { .. }),
        "{error}"
    );

    let no_currency = bank_fixture("ofxparse-ofx-v102-empty-tags.ofx");
    let error =
        import_bank_file(&mut t.store, &no_currency, &BankOptions::default(), now()).unwrap_err();
    assert!(error.to_string().contains("--currency"), "{error}");
}

/// `--account` names a statement's account once; every later statement of it lands under
/// that name, and nothing splits one account's lines between two names.
#[test]
fn an_account_keeps_the_name_it_was_first_imported_under() {
    let statement = bank_fixture("ofxparse-checking.ofx");
    let named = |name: &str| BankOptions {
        currency: None,
        account: Some(name.to_string()),
        ..BankOptions::default()
    };
    let mut t = TestStore::new();
    let first = import_bank_file(&mut t.store, &statement, &named("Operating"), now()).unwrap();
    assert_eq!(
        (first.accounts.clone(), first.counts.new),
        (vec!["Operating".to_string()], 3)
    );
    let again = import_bank_file(&mut t.store, &statement, &BankOptions::default(), now()).unwrap();
    assert_eq!(
        again.accounts,
        ["Operating"],
        "the name given the first time"
    );
    assert_eq!((again.counts.new, again.counts.unchanged), (0, 3));
    let other = import_bank_file(&mut t.store, &statement, &named("Savings"), now()).unwrap_err();
    assert!(
        other.to_string().contains("is imported as \"Operating\""),
        "{other}"
    );

    let mut t = TestStore::new();
    import_bank_file(&mut t.store, &statement, &BankOptions::default(), now()).unwrap();
    let late = import_bank_file(&mut t.store, &statement, &named("Operating"), now()).unwrap_err();
    assert!(
        late.to_string().contains("import it without --account"),
        "{late}"
    );
    let lines = t.store.read(|tx| tx.bank_lines()).unwrap();
    assert_eq!(lines.len(), 3, "no second copy under another name");

    let two = bank_fixture("ofxparse-multiple_accounts2.ofx");
    let refused = import_bank_file(&mut t.store, &two, &named("Operating"), now()).unwrap_err();
    assert!(
        refused.to_string().contains("holds 2 accounts"),
        "{refused}"
    );
}

/// A bank's CSV export with no lines (a quiet month) imports nothing and is no error; a
/// line whose date is not in the bank's form is refused by line and column, nothing stored.
#[test]
fn a_csv_export_with_no_lines_imports_nothing_and_a_bad_date_is_named() {
    let mut t = TestStore::new();
    let empty = import_bank_file(
        &mut t.store,
        &bank_fixture("csv/revolut-empty.csv"),
        &BankOptions::default(),
        now(),
    )
    .unwrap();
    assert_eq!(empty.counts, Default::default());
    assert_eq!(empty.recognised.as_deref(), Some("Revolut"));

    let text = std::fs::read_to_string(bank_fixture("csv/chase-checking.csv"))
        .unwrap()
        .replace("08/31/2023", "2023-08-31");
    let path = t.dir.path().join("Chase1234_Activity.CSV");
    std::fs::write(&path, text).unwrap();
    let before = t.dump();
    let refused = import_bank_file(&mut t.store, &path, &BankOptions::default(), now())
        .unwrap_err()
        .to_string();
    assert!(refused.contains(":3:"), "the third line: {refused}");
    assert!(refused.contains("Posting Date"), "{refused}");
    assert!(refused.contains("2023-08-31"), "{refused}");
    assert!(refused.contains("%m/%d/%Y"), "{refused}");
    assert_eq!(t.dump(), before);
}

/// A bank no shipped layout knows is read with the person's own layout file, in the form
/// the shipped ones have; without it the file is refused saying how to read it.
#[test]
fn a_bank_nobody_shipped_is_read_with_the_persons_own_layout() {
    let mut t = TestStore::new();
    let path = t.dir.path().join("export.csv");
    std::fs::write(
        &path,
        "Buchungsdatum;Text;Lastschrift;Gutschrift;Saldo\n\
         01.12.2026;STRIPE PAYMENTS EUROPE;;1'250.50;9'000.00\n\
         02.12.2026;Miete Dezember;2'400.00;;6'600.00\n",
    )
    .unwrap();
    let refused = import_bank_file(&mut t.store, &path, &BankOptions::default(), now())
        .unwrap_err()
        .to_string();
    assert!(refused.contains("--layout"), "{refused}");
    let layout = chargeguard::import::bank::csv::layout_from_toml(
        r#"
name = "Raiffeisen"
source = "our own export"
recognise = ["Buchungsdatum", "Text", "Lastschrift", "Gutschrift"]
delimiter = ";"
date = "Buchungsdatum"
date_format = "%d.%m.%Y"
currency_code = "CHF"
money_out = "Lastschrift"
money_in = "Gutschrift"
description = ["Text"]
"#,
    )
    .unwrap();
    let options = BankOptions {
        account: Some("Operating".into()),
        layout: Some(layout),
        ..BankOptions::default()
    };
    let report = import_bank_file(&mut t.store, &path, &options, now()).unwrap();
    assert_eq!(report.counts.new, 2);
    let lines = t.store.read(|tx| tx.bank_lines()).unwrap();
    let seen: Vec<(String, String, i64, String)> = lines
        .iter()
        .map(|l| {
            (
                l.line.account.clone(),
                l.line.booked_on.to_string(),
                l.line.amount.minor(),
                l.line.amount.currency().code().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "Operating".into(),
                "2026-12-01".into(),
                125_050,
                "CHF".into()
            ),
            (
                "Operating".into(),
                "2026-12-02".into(),
                -240_000,
                "CHF".into()
            ),
        ]
    );
}

/// A statement of a quiet month (its period stated, no line) is news: the days it covers
/// are recorded, so a payout due in them can be called missing. The same file again is not.
/// An OFX 2 statement of account 7777 for `from..=to` (YYYYMMDD) with `lines`
/// (FITID, day, amount) and the closing balance it states.
fn ofx_statement(from: &str, to: &str, lines: &[(&str, &str, &str)], closing: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?OFX OFXHEADER=\"200\" VERSION=\"211\" SECURITY=\"NONE\" OLDFILEUID=\"NONE\" NEWFILEUID=\"NONE\"?>\n\
         <OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID><STMTRS><CURDEF>USD</CURDEF>\
         <BANKACCTFROM><BANKID>121000248</BANKID><ACCTID>7777</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>",
    );
    out += &format!("<BANKTRANLIST><DTSTART>{from}</DTSTART><DTEND>{to}</DTEND>");
    for (id, on, amount) in lines {
        out += &format!(
            "<STMTTRN><TRNTYPE>OTHER</TRNTYPE><DTPOSTED>{on}</DTPOSTED><TRNAMT>{amount}</TRNAMT><FITID>{id}</FITID><NAME>LINE {id}</NAME></STMTTRN>"
        );
    }
    out += &format!(
        "</BANKTRANLIST><LEDGERBAL><BALAMT>{closing}</BALAMT><DTASOF>{to}</DTASOF></LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    );
    out
}

#[test]
fn an_ofx_statement_is_checked_against_where_the_one_before_it_closed() {
    let october = ofx_statement(
        "20261001",
        "20261031",
        &[("O1", "20261015", "250.00")],
        "1000.00",
    );
    let november = |closing: &str| {
        ofx_statement(
            "20261101",
            "20261130",
            &[("N1", "20261103", "500.00"), ("N2", "20261120", "-20.00")],
            closing,
        )
    };
    for (closing, difference) in [("1480.00", 0), ("1400.00", -8_000)] {
        let mut t = TestStore::new();
        let first = t.file("october.ofx", october.as_bytes());
        let alone = import_bank_file(&mut t.store, &first, &BankOptions::default(), now()).unwrap();
        assert!(
            alone.balance_checks.is_empty(),
            "nothing before October to open it: {alone}"
        );
        let second = t.file("november.ofx", november(closing).as_bytes());
        let report =
            import_bank_file(&mut t.store, &second, &BankOptions::default(), now()).unwrap();
        assert_eq!(report.balance_checks.len(), 1, "{report}");
        let check = &report.balance_checks[0];
        assert_eq!(
            (check.opening_minor, check.lines_minor, check.closing_minor),
            (
                100_000,
                48_000,
                closing.replace('.', "").parse::<i64>().unwrap()
            )
        );
        assert_eq!(check.difference_minor, difference);
        assert_eq!(
            report.to_string().contains("do not explain its statement"),
            difference != 0,
            "{report}"
        );
    }
}

#[test]
fn a_statement_with_no_lines_still_covers_its_days() {
    let mut t = TestStore::new();
    let path = t.dir.path().join("quiet.ofx");
    std::fs::write(
        &path,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?OFX OFXHEADER=\"200\" VERSION=\"211\" SECURITY=\"NONE\" OLDFILEUID=\"NONE\" NEWFILEUID=\"NONE\"?>\n\
         <OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1</TRNUID><STMTRS><CURDEF>USD</CURDEF>\
         <BANKACCTFROM><BANKID>121000248</BANKID><ACCTID>7777</ACCTID><ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM>\
         <BANKTRANLIST><DTSTART>20261101</DTSTART><DTEND>20261130</DTEND></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n",
    )
    .unwrap();
    import_bank_file(&mut t.store, &path, &BankOptions::default(), now()).unwrap();
    let coverage = t.store.read(|tx| tx.bank_coverage()).unwrap();
    assert_eq!(coverage.len(), 1);
    assert_eq!(
        (coverage[0].from.to_string(), coverage[0].to.to_string()),
        ("2026-11-01".to_string(), "2026-11-30".to_string())
    );
    let before = t.dump();
    import_bank_file(&mut t.store, &path, &BankOptions::default(), now()).unwrap();
    assert_eq!(t.dump(), before, "the same statement again writes nothing");
}

#[test]
fn a_month_missing_between_statements_is_named_until_its_statement_is_imported() {
    let mut t = TestStore::new();
    let october = t.file(
        "october.ofx",
        ofx_statement(
            "20261001",
            "20261031",
            &[("O1", "20261015", "250.00")],
            "1000.00",
        )
        .as_bytes(),
    );
    let december = t.file(
        "december.ofx",
        ofx_statement(
            "20261201",
            "20261231",
            &[("D1", "20261210", "100.00")],
            "1580.00",
        )
        .as_bytes(),
    );
    let november = t.file(
        "november.ofx",
        ofx_statement(
            "20261101",
            "20261130",
            &[("N1", "20261103", "500.00"), ("N2", "20261120", "-20.00")],
            "1480.00",
        )
        .as_bytes(),
    );
    let first = import_bank_file(&mut t.store, &october, &BankOptions::default(), now()).unwrap();
    assert_eq!(first.coverage_gaps, vec![], "{first}");
    let skipped =
        import_bank_file(&mut t.store, &december, &BankOptions::default(), now()).unwrap();
    assert_eq!(
        skipped
            .coverage_gaps
            .iter()
            .map(|g| (g.from.to_string(), g.to.to_string()))
            .collect::<Vec<_>>(),
        vec![("2026-11-01".to_string(), "2026-11-30".to_string())],
        "{skipped}"
    );
    assert!(
        skipped.balance_checks.is_empty(),
        "December cannot be opened from October's close: {skipped}"
    );
    assert!(
        skipped
            .to_string()
            .contains("covers 2026-11-01 to 2026-11-30"),
        "{skipped}"
    );
    let filled = import_bank_file(&mut t.store, &november, &BankOptions::default(), now()).unwrap();
    assert_eq!(filled.coverage_gaps, vec![], "{filled}");
    assert_eq!(filled.balance_checks.len(), 1, "{filled}");
    assert_eq!(filled.balance_checks[0].difference_minor, 0);
}
