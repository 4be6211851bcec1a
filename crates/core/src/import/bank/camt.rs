//! ISO 20022 camt.053 statements (`BkToCstmrStmt`, versions 001.02 to 001.08; the element
//! names this reads have not changed between them): each booked entry (`Ntry`) one line,
//! a batch entry with several transactions (`TxDtls`) included, signed by its credit or
//! debit indicator, keyed by the bank's reference for it. Pending and information-only
//! entries are not booked and are left out. Opening and closing booked balances come with
//! the statement, so the import can check its lines against them.

use jiff::civil::Date;

use super::tree::{Element, read_xml};
use super::{ParsedLine, ParsedStatement, StatementProblem};
use crate::money::Currency;

/// Whether `bytes` look like a camt.053 statement.
pub fn looks_like_camt053(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    head.contains("camt.053") || head.contains("<BkToCstmrStmt")
}

/// Reads every statement of a camt.053 file.
pub fn read(bytes: &[u8]) -> Result<Vec<ParsedStatement>, StatementProblem> {
    let root = read_xml(bytes)?;
    let mut found = Vec::new();
    root.all("STMT", &mut found);
    if found.is_empty() {
        return Err(StatementProblem::at(
            1,
            "Document/BkToCstmrStmt",
            "",
            "the file holds no statement (Stmt); export the account's statement as camt.053",
        ));
    }
    found.into_iter().map(statement).collect()
}

/// A path's text: `path` is child names from `e`, upper case.
fn text_at<'a>(e: &'a Element, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut at = e;
    for name in parents {
        at = at.child(name)?;
    }
    at.text_of(last)
}

fn statement(s: &Element) -> Result<ParsedStatement, StatementProblem> {
    let path = "BkToCstmrStmt/Stmt";
    let account = text_at(s, &["ACCT", "ID", "IBAN"])
        .or_else(|| text_at(s, &["ACCT", "ID", "OTHR", "ID"]))
        .ok_or_else(|| {
            StatementProblem::at(
                s.line,
                &format!("{path}/Acct/Id"),
                "",
                "the statement names no account (Acct/Id/IBAN or Othr/Id)",
            )
        })?;
    let currency_code = text_at(s, &["ACCT", "CCY"]).or_else(|| {
        s.children
            .iter()
            .find(|c| c.name == "NTRY" || c.name == "BAL")
            .and_then(|c| c.child("AMT"))
            .and_then(|a| a.attribute("CCY"))
    });
    let currency = currency_code
        .map(|code| {
            Currency::from_code(code).map_err(|e| {
                StatementProblem::at(s.line, &format!("{path}/Acct/Ccy"), code, e.to_string())
            })
        })
        .transpose()?;
    let mut opening = None;
    let mut closing = None;
    for bal in s.children.iter().filter(|c| c.name == "BAL") {
        let code = text_at(bal, &["TP", "CDORPRTRY", "CD"]);
        let slot = match code {
            Some("OPBD" | "PRCD") if opening.is_none() => &mut opening,
            Some("CLBD") => &mut closing,
            _ => continue,
        };
        // A balance stated in another currency than the account's cannot be checked.
        if let (Some(account), Some(stated)) =
            (currency, bal.child("AMT").and_then(|a| a.attribute("CCY")))
            && !account.code().eq_ignore_ascii_case(stated)
        {
            continue;
        }
        let at = format!("{path}/Bal/Amt");
        let amount = signed(bal, &at)?;
        let on = text_at(bal, &["DT", "DT"])
            .or_else(|| text_at(bal, &["DT", "DTTM"]))
            .map(|d| {
                day(d).map_err(|why| {
                    StatementProblem::at(bal.line, &format!("{path}/Bal/Dt"), d, why)
                })
            })
            .transpose()?;
        *slot = Some((amount, on));
    }
    let mut lines = Vec::new();
    let mut not_booked = 0;
    for entry in s.children.iter().filter(|c| c.name == "NTRY") {
        let status = text_at(entry, &["STS", "CD"]).or_else(|| entry.text_of("STS"));
        if matches!(status, Some("PDNG" | "INFO" | "FUTR")) {
            not_booked += 1;
            continue;
        }
        lines.push(line(entry, &format!("{path}/Ntry"))?);
    }
    Ok(ParsedStatement {
        account: account.to_string(),
        currency,
        lines,
        closing,
        opening,
        not_booked,
        covers: text_at(s, &["FRTODT", "FRDTTM"])
            .zip(text_at(s, &["FRTODT", "TODTTM"]))
            .and_then(|(from, to)| {
                let (from, mut to_day) = (day(from).ok()?, day(to).ok()?);
                // An end at midnight is where the next day starts: the day before is the
                // last one covered (as OFX's DTEND).
                if to.get(10..19) == Some("T00:00:00") && to_day > from {
                    to_day = to_day.yesterday().ok()?;
                }
                Some((from, to_day))
            })
            .filter(|(from, to)| from <= to),
    })
}

/// An amount with its sign from the sibling `CdtDbtInd` (`DBIT` is money out).
fn signed(e: &Element, at: &str) -> Result<String, StatementProblem> {
    let amount = e
        .text_of("AMT")
        .ok_or_else(|| StatementProblem::at(e.line, at, "", "no amount (Amt)"))?;
    match e.text_of("CDTDBTIND") {
        Some("CRDT") => Ok(amount.to_string()),
        Some("DBIT") => Ok(format!("-{amount}")),
        other => Err(StatementProblem::at(
            e.line,
            &at.replace("/Amt", "/CdtDbtInd"),
            other.unwrap_or(""),
            "a credit/debit indicator (CdtDbtInd) must be CRDT or DBIT",
        )),
    }
}

fn line(entry: &Element, path: &str) -> Result<ParsedLine, StatementProblem> {
    let amount_text = signed(entry, &format!("{path}/Amt"))?;
    let booked = text_at(entry, &["BOOKGDT", "DT"])
        .or_else(|| text_at(entry, &["BOOKGDT", "DTTM"]))
        .or_else(|| text_at(entry, &["VALDT", "DT"]))
        .ok_or_else(|| {
            StatementProblem::at(
                entry.line,
                &format!("{path}/BookgDt"),
                "",
                "the entry has no booking date (BookgDt)",
            )
        })?;
    let booked_on = day(booked)
        .map_err(|why| StatementProblem::at(entry.line, &format!("{path}/BookgDt"), booked, why))?;
    // What a bookkeeper reads: the entry's own text, else each transaction's remittance
    // text and counterparty.
    let mut texts: Vec<String> = Vec::new();
    if let Some(info) = entry.text_of("ADDTLNTRYINF") {
        texts.push(info.to_string());
    }
    if texts.is_empty() {
        let mut details = Vec::new();
        entry.all("TXDTLS", &mut details);
        for tx in details {
            // The other side: who paid in, or who was paid.
            let side = if amount_text.starts_with('-') {
                "CDTR"
            } else {
                "DBTR"
            };
            let party = text_at(tx, &["RLTDPTIES", side, "PTY", "NM"])
                .or_else(|| text_at(tx, &["RLTDPTIES", side, "NM"]));
            let mut remittance = Vec::new();
            if let Some(rmt) = tx.child("RMTINF") {
                rmt.all("USTRD", &mut remittance);
                // A structured creditor reference (an invoice's payment reference).
                rmt.all("REF", &mut remittance);
            }
            let mut text: Vec<&str> = party.into_iter().collect();
            text.extend(
                remittance
                    .iter()
                    .filter_map(|u| u.text.as_deref())
                    .map(str::trim),
            );
            if let Some(info) = tx.text_of("ADDTLTXINF") {
                text.push(info);
            }
            if !text.is_empty() {
                texts.push(text.join(" "));
            }
        }
    }
    Ok(ParsedLine {
        id: entry
            .text_of("ACCTSVCRREF")
            .or_else(|| entry.text_of("NTRYREF"))
            .map(str::to_string),
        booked_on,
        amount_text,
        amount_at: (entry.line, format!("{path}/Amt")),
        description: texts.join("; "),
        kind: text_at(entry, &["BKTXCD", "DOMN", "FMLY", "SUBFMLYCD"])
            .or_else(|| text_at(entry, &["BKTXCD", "PRTRY", "CD"]))
            .map(str::to_string),
        line: entry.line,
    })
}

/// The day of an ISO date or date-time (`2023-01-25`, `2023-01-25T00:49:36+01:00`), as
/// the bank wrote it.
fn day(text: &str) -> Result<Date, String> {
    text.get(..10)
        .unwrap_or(text)
        .parse::<Date>()
        .map_err(|e| format!("not a date (YYYY-MM-DD): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_entry_is_one_line_and_pending_entries_are_left_out() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
<Acct><Id><IBAN>DE02120300000000202051</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">100.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-01</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">70.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-02</Dt></Dt></Bal>
<Ntry><Amt Ccy="EUR">30.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-02</Dt></BookgDt><AcctSvcrRef>R1</AcctSvcrRef>
<NtryDtls><TxDtls><RmtInf><Ustrd>INV-1</Ustrd></RmtInf></TxDtls><TxDtls><RmtInf><Ustrd>INV-2</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts><BookgDt><Dt>2026-11-03</Dt></BookgDt></Ntry>
</Stmt></BkToCstmrStmt></Document>"#;
        assert!(looks_like_camt053(xml.as_bytes()));
        let s = &read(xml.as_bytes()).unwrap()[0];
        assert_eq!(s.account, "DE02120300000000202051");
        assert_eq!(s.lines.len(), 1);
        assert_eq!(s.not_booked, 1);
        let l = &s.lines[0];
        assert_eq!(
            (l.id.as_deref(), l.amount_text.as_str()),
            (Some("R1"), "-30.00")
        );
        assert_eq!(l.description, "INV-1; INV-2");
        assert_eq!(s.opening.as_ref().map(|(a, _)| a.as_str()), Some("100.00"));
        assert_eq!(s.closing.as_ref().map(|(a, _)| a.as_str()), Some("70.00"));
    }
}
