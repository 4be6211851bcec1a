//! OFX and QFX statements, version 1 (SGML, in the character set its header declares) and
//! version 2 (XML, read with quick-xml): the bank and credit-card statements inside, each
//! transaction keyed by the bank's `FITID`.
//!
//! Both versions become one tree of elements, so one reading of the statement serves both:
//! in SGML a leaf element (`<TRNAMT>-12.50`) has no end tag and an aggregate does, in XML
//! both do. Every element remembers its line, so a refusal names the file, the line and the
//! element's path (`…/BANKTRANLIST/STMTTRN/TRNAMT`). Nothing here touches the store.

use encoding_rs::Encoding;
use jiff::civil::Date;

use super::tree::{Element, close_top, find, read_xml};
use super::{ParsedLine, ParsedStatement, StatementProblem};
use crate::money::Currency;

/// Whether `bytes` look like an OFX file (either version), after any byte-order mark.
pub fn looks_like_ofx(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    text.starts_with("OFXHEADER:")
        || (text.starts_with("<?xml") && text.contains("<?OFX"))
        || text.starts_with("<OFX>")
}

/// Reads every statement of an OFX file.
pub fn read(bytes: &[u8]) -> Result<Vec<ParsedStatement>, StatementProblem> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF)
        .unwrap_or(0);
    // Some banks put an OFX 2 (XML) header over an SGML body whose leaves have no end tags:
    // a file the XML reader refuses is read as SGML, which takes both.
    let root = if bytes[start..].starts_with(b"<?xml") {
        match read_xml(bytes) {
            Ok(root) => root,
            Err(xml) => read_sgml(bytes).map_err(|_| xml)?,
        }
    } else {
        read_sgml(bytes)?
    };
    let mut statements = Vec::new();
    let mut found = Vec::new();
    root.all("STMTRS", &mut found);
    root.all("CCSTMTRS", &mut found);
    for element in found {
        statements.push(statement(element)?);
    }
    if statements.is_empty() {
        return Err(StatementProblem::at(
            root.line,
            "OFX",
            "",
            "the file holds no bank or credit-card statement (no STMTRS or CCSTMTRS); export the account's transactions as a statement",
        ));
    }
    Ok(statements)
}

/// The encoding an OFX 1.x header declares: `CHARSET:1252`, `CHARSET:ISO-8859-1`, or
/// `ENCODING:UTF-8`. `USASCII` with `CHARSET:NONE` reads as Windows-1252, which is ASCII
/// for every byte ASCII has and keeps the bytes banks put beyond it.
fn sgml_encoding(header: &str) -> &'static Encoding {
    let field = |key: &str| {
        header.lines().find_map(|l| {
            l.trim()
                .strip_prefix(key)
                .and_then(|r| r.strip_prefix(':'))
                .map(|v| v.trim().to_ascii_uppercase())
        })
    };
    if field("ENCODING").as_deref() == Some("UTF-8") {
        return encoding_rs::UTF_8;
    }
    match field("CHARSET").as_deref() {
        Some(code) if code.chars().all(|c| c.is_ascii_digit()) => {
            Encoding::for_label(format!("windows-{code}").as_bytes())
                .unwrap_or(encoding_rs::WINDOWS_1252)
        }
        Some(label) => Encoding::for_label(label.as_bytes()).unwrap_or(encoding_rs::WINDOWS_1252),
        None => encoding_rs::WINDOWS_1252,
    }
}

fn read_sgml(bytes: &[u8]) -> Result<Element, StatementProblem> {
    let body_at = find(bytes, b"<OFX>").ok_or_else(|| {
        StatementProblem::at(
            1,
            "OFX",
            "",
            "the file has an OFX header but no <OFX> element",
        )
    })?;
    let header = String::from_utf8_lossy(&bytes[..body_at]);
    let body = &bytes[body_at..];
    // Banks misdeclare: a body that is valid UTF-8 with multi-byte characters in it is
    // UTF-8 whatever the header says (Windows-1252 text almost never is), and one that
    // claims UTF-8 but is not is Windows-1252.
    let encoding = match std::str::from_utf8(body) {
        Ok(text) if !text.is_ascii() => encoding_rs::UTF_8,
        Ok(_) => sgml_encoding(&header),
        Err(_) if sgml_encoding(&header) == encoding_rs::UTF_8 => encoding_rs::WINDOWS_1252,
        Err(_) => sgml_encoding(&header),
    };
    let (text, _, _) = encoding.decode(body);
    let first_line = 1 + bytes[..body_at].iter().filter(|b| **b == b'\n').count() as u64;
    let mut stack = vec![Element {
        name: String::new(),
        line: first_line,
        ..Element::default()
    }];
    let mut line = first_line;
    let mut rest: &str = &text;
    while let Some(open) = rest.find('<') {
        let between = &rest[..open];
        if !between.trim().is_empty() && stack.len() > 1 {
            let top = stack.last_mut().expect("the root stays");
            if top.children.is_empty() && top.text.is_none() {
                top.text = Some(unescape(between.trim()));
            }
        }
        line += between.matches('\n').count() as u64;
        let close = rest[open..].find('>').ok_or_else(|| {
            StatementProblem::at(
                line,
                "OFX",
                "",
                "a tag is opened with < and never closed with >",
            )
        })? + open;
        let tag = rest[open + 1..close].trim();
        line += tag.matches('\n').count() as u64;
        rest = &rest[close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_uppercase();
            // An end tag closes its element and any leaf left open inside it.
            // (Never the root, whose name is empty: `</>` closes nothing.)
            if let Some(depth) = stack
                .iter()
                .rposition(|e| e.name == name)
                .filter(|d| *d > 0)
            {
                while stack.len() > depth {
                    close_top(&mut stack);
                }
            }
            continue;
        }
        // A new tag after a leaf's text ends that leaf (SGML omits its end tag).
        if stack.len() > 1 && stack.last().is_some_and(|e| e.text.is_some()) {
            close_top(&mut stack);
        }
        stack.push(Element {
            name: tag.to_ascii_uppercase(),
            line,
            ..Element::default()
        });
    }
    while stack.len() > 1 {
        close_top(&mut stack);
    }
    Ok(stack.pop().expect("the root"))
}

/// SGML OFX escapes `&`, `<` and `>` like XML.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// One statement: its account, currency, lines and closing ledger balance.
fn statement(s: &Element) -> Result<ParsedStatement, StatementProblem> {
    let path = if s.name == "CCSTMTRS" {
        "CCSTMTRS"
    } else {
        "STMTRS"
    };
    let account_from = s
        .child("BANKACCTFROM")
        .or_else(|| s.child("CCACCTFROM"))
        .ok_or_else(|| {
            StatementProblem::at(
                s.line,
                path,
                "",
                "the statement names no account (BANKACCTFROM or CCACCTFROM)",
            )
        })?;
    let account = account_from.text_of("ACCTID").ok_or_else(|| {
        StatementProblem::at(
            account_from.line,
            &format!("{path}/{}", account_from.name),
            "",
            "the account has no ACCTID",
        )
    })?;
    let bank = account_from.text_of("BANKID");
    let currency = match s.text_of("CURDEF") {
        Some(code) => Some(Currency::from_code(code).map_err(|e| {
            StatementProblem::at(
                s.child("CURDEF").map_or(s.line, |c| c.line),
                &format!("{path}/CURDEF"),
                code,
                e.to_string(),
            )
        })?),
        None => None,
    };
    let mut lines = Vec::new();
    let covers = s.child("BANKTRANLIST").and_then(period);
    if let Some(list) = s.child("BANKTRANLIST") {
        for t in list.children.iter().filter(|c| c.name == "STMTTRN") {
            lines.push(transaction(t, &format!("{path}/BANKTRANLIST/STMTTRN"))?);
        }
    }
    // Some banks send the balance's elements empty: no balance stated.
    let ledger = match s
        .child("LEDGERBAL")
        .filter(|b| b.text_of("BALAMT").is_some())
    {
        Some(bal) => {
            let at = format!("{path}/LEDGERBAL");
            let amount = bal.text_of("BALAMT").unwrap_or_default();
            let on = bal
                .text_of("DTASOF")
                .map(|d| {
                    date(d).map_err(|why| {
                        StatementProblem::at(bal.line, &format!("{at}/DTASOF"), d, why)
                    })
                })
                .transpose()?;
            Some((amount.to_string(), on))
        }
        None => None,
    };
    Ok(ParsedStatement {
        account: match bank {
            Some(bank) => format!("{bank} {account}"),
            None => account.to_string(),
        },
        currency,
        lines,
        opening: None,
        closing: ledger,
        not_booked: 0,
        covers,
    })
}

fn transaction(t: &Element, path: &str) -> Result<ParsedLine, StatementProblem> {
    let need = |name: &str| {
        t.text_of(name).ok_or_else(|| {
            StatementProblem::at(
                t.line,
                &format!("{path}/{name}"),
                "",
                format!("the transaction has no {name}"),
            )
        })
    };
    let posted = need("DTPOSTED")?;
    let booked_on = date(posted).map_err(|why| {
        StatementProblem::at(
            t.child("DTPOSTED").map_or(t.line, |c| c.line),
            &format!("{path}/DTPOSTED"),
            posted,
            why,
        )
    })?;
    let name = t
        .text_of("NAME")
        .or_else(|| t.child("PAYEE").and_then(|p| p.text_of("NAME")));
    let memo = t.text_of("MEMO");
    // Banks often cut the payee's name from the memo's start: say it once.
    let description = match (name, memo) {
        (Some(n), Some(m)) if m.starts_with(n) => m.to_string(),
        (Some(n), Some(m)) if n.starts_with(m) => n.to_string(),
        (Some(n), Some(m)) => format!("{n} {m}"),
        (Some(n), None) => n.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => String::new(),
    };
    Ok(ParsedLine {
        // Some banks leave FITID empty; the import then keys the line by its content.
        id: t.text_of("FITID").map(str::to_string),
        booked_on,
        amount_text: need("TRNAMT")?.to_string(),
        amount_at: (
            t.child("TRNAMT").map_or(t.line, |c| c.line),
            format!("{path}/TRNAMT"),
        ),
        description,
        kind: t.text_of("TRNTYPE").map(str::to_string),
        line: t.line,
    })
}

/// The days a transaction list states it covers (`DTSTART`, `DTEND`). An end written as
/// midnight is where the next day starts, so the last day covered is the one before; a
/// period that cannot be read is no period (the lines' own days stand in for it), since
/// calling a payout missing needs a statement that surely covers its day.
fn period(list: &Element) -> Option<(Date, Date)> {
    let start = date(list.text_of("DTSTART")?).ok()?;
    let end_text = list.text_of("DTEND")?;
    let mut end = date(end_text).ok()?;
    let time: String = end_text
        .chars()
        .skip(8)
        .take_while(char::is_ascii_digit)
        .collect();
    if time.len() >= 6 && time.bytes().all(|b| b == b'0') && end > start {
        end = end.yesterday().ok()?;
    }
    (start <= end).then_some((start, end))
}

/// The calendar date of an OFX date-time (`20261122`, `20261122120000.000[-5:EST]`), as
/// the bank wrote it: a statement line is booked on the bank's day.
fn date(text: &str) -> Result<Date, String> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 8 {
        return Err("an OFX date starts with eight digits, YYYYMMDD".into());
    }
    let (y, m, d) = (&digits[..4], &digits[4..6], &digits[6..8]);
    Date::new(
        y.parse().map_err(|_| "the year is not a number")?,
        m.parse().map_err(|_| "the month is not a number")?,
        d.parse().map_err(|_| "the day is not a number")?,
    )
    .map_err(|e| format!("not a date: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_covers_the_days_its_transaction_list_states() {
        let list = |start: &str, end: &str| Element {
            name: "BANKTRANLIST".into(),
            line: 1,
            text: None,
            attributes: Vec::new(),
            children: vec![
                Element {
                    name: "DTSTART".into(),
                    line: 1,
                    text: Some(start.into()),
                    attributes: Vec::new(),
                    children: Vec::new(),
                },
                Element {
                    name: "DTEND".into(),
                    line: 1,
                    text: Some(end.into()),
                    attributes: Vec::new(),
                    children: Vec::new(),
                },
            ],
        };
        let d = |y, m, day| Date::new(y, m, day).unwrap();
        assert_eq!(
            period(&list("20261101", "20261130")),
            Some((d(2026, 11, 1), d(2026, 11, 30)))
        );
        assert_eq!(
            period(&list(
                "20261101000000.000[-5:EST]",
                "20261201000000.000[-5:EST]"
            )),
            Some((d(2026, 11, 1), d(2026, 11, 30))),
            "an end at midnight is the start of a day not covered"
        );
        assert_eq!(
            period(&list("20261101", "20261130235959")),
            Some((d(2026, 11, 1), d(2026, 11, 30)))
        );
        assert_eq!(period(&list("20261130", "20261101")), None);
        assert_eq!(period(&list("2026-11-01", "20261130")), None);
    }

    const SGML: &str = "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\nCHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n<OFX>\r\n<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STMTRS><CURDEF>USD<BANKACCTFROM><BANKID>121000248<ACCTID>0001234<ACCTTYPE>CHECKING</BANKACCTFROM>\r\n<BANKTRANLIST><DTSTART>20261101<DTEND>20261130\r\n<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261103120000.000[-5:EST]<TRNAMT>1234.56<FITID>F1<NAME>STRIPE TRANSFER<MEMO>ST-X1Y2\r\n</STMTTRN>\r\n<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261104<TRNAMT>-12,50<FITID>F2<NAME>Caf\u{e9} &amp; Bar</STMTTRN>\r\n</BANKTRANLIST><LEDGERBAL><BALAMT>5000.00<DTASOF>20261130</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\r\n";

    #[test]
    fn sgml_leaves_without_end_tags_in_their_declared_charset() {
        let bytes: Vec<u8> = SGML.chars().map(|c| c as u32 as u8).collect();
        let statements = read(&bytes).unwrap();
        let s = &statements[0];
        assert_eq!(s.account, "121000248 0001234");
        assert_eq!(s.currency.map(|c| c.code()), Some("USD"));
        assert_eq!(s.lines.len(), 2);
        let (first, second) = (&s.lines[0], &s.lines[1]);
        assert_eq!(first.id.as_deref(), Some("F1"));
        assert_eq!(first.booked_on, Date::constant(2026, 11, 3));
        assert_eq!(first.description, "STRIPE TRANSFER ST-X1Y2");
        assert_eq!(
            second.description, "Café & Bar",
            "Windows-1252 0xE9 and &amp;"
        );
        assert_eq!(
            super::super::amount(&second.amount_text, Currency::from_code("USD").unwrap())
                .unwrap()
                .minor(),
            -1250
        );
        assert_eq!(s.closing.as_ref().map(|(a, _)| a.as_str()), Some("5000.00"));
    }

    #[test]
    fn xml_with_end_tags_reads_the_same() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?OFX OFXHEADER=\"200\" VERSION=\"211\" SECURITY=\"NONE\" OLDFILEUID=\"NONE\" NEWFILEUID=\"NONE\"?>\n<OFX><CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>0</TRNUID><CCSTMTRS><CURDEF>EUR</CURDEF><CCACCTFROM><ACCTID>4111</ACCTID></CCACCTFROM>\n<BANKTRANLIST><STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20261105</DTPOSTED><TRNAMT>-3.20</TRNAMT><FITID>X9</FITID><NAME>Caf\u{e9} &amp; Co</NAME></STMTTRN></BANKTRANLIST></CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>";
        assert!(looks_like_ofx(xml.as_bytes()));
        let s = &read(xml.as_bytes()).unwrap()[0];
        assert_eq!(s.account, "4111");
        assert_eq!(s.lines[0].description, "Café & Co");
        assert_eq!(s.lines[0].line, 4, "its STMTTRN starts on line 4");
    }

    #[test]
    fn a_transaction_without_an_amount_is_refused_naming_its_path_and_line() {
        let broken = SGML.replace("<TRNAMT>-12,50", "");
        let bytes: Vec<u8> = broken.chars().map(|c| c as u32 as u8).collect();
        let problem = read(&bytes).unwrap_err();
        assert_eq!(problem.line, 16, "the second STMTTRN starts on line 16");
        assert_eq!(problem.path, "STMTRS/BANKTRANLIST/STMTTRN/TRNAMT");
    }
}
