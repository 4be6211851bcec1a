//! `summary.html`: the tie-out a person reads and prints. One file, no script, no link to
//! anything outside it (styles inline, the chart an inline SVG), so it opens the same on
//! an auditor's machine in ten years. Bar heights are computed in integer arithmetic from
//! the minor units; nothing here adds money as floats.

use std::fmt::Write;

use crate::money::{Currency, Money};
use crate::period::Period;
use crate::store::StoredFinding;

use super::clearing::{CurrencyClearing, JournalLine};
use super::manifest::Manifest;
use super::tables::line_label;
use super::tieout::CurrencyTieOut;

/// Per currency and per local day of the period: gateway money (captured less refunds)
/// and ledger money (payments less refunds plus adjustments), minor units.
pub type Daily = std::collections::BTreeMap<String, Vec<(i128, i128)>>;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn money(minor: i64, code: &str) -> String {
    match Currency::from_code(code) {
        Ok(c) => Money::from_minor(minor, c).to_string(),
        Err(_) => format!("{minor} {code}"),
    }
}

fn chart(code: &str, days: &[(i128, i128)], period: &Period) -> String {
    const W: i128 = 720;
    const H: i128 = 200;
    let n = days.len().max(1) as i128;
    let slot = W / n;
    let bar = (slot / 2 - 1).max(1);
    let top = days
        .iter()
        .flat_map(|(g, l)| [g.abs(), l.abs()])
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{}" viewBox="0 0 {W} {}" role="img" aria-label="Gateway and ledger by day, {}">"#,
        H + 30,
        H + 30,
        esc(code)
    );
    let dates = period.days();
    for (i, (g, l)) in days.iter().enumerate() {
        let x = i as i128 * slot;
        for (j, (v, colour)) in [(*g, "#1f6feb"), (*l, "#d29922")].into_iter().enumerate() {
            let h = v.max(0) * H / top;
            let _ = write!(
                svg,
                r#"<rect x="{}" y="{}" width="{bar}" height="{h}" fill="{colour}"><title>{} {}: {}</title></rect>"#,
                x + j as i128 * (bar + 1),
                H - h,
                dates.get(i).map(|d| d.to_string()).unwrap_or_default(),
                if j == 0 { "gateway" } else { "ledger" },
                esc(&money(i64::try_from(v).unwrap_or(i64::MAX), code))
            );
        }
        if i % 5 == 0 {
            let _ = write!(
                svg,
                r#"<text x="{x}" y="{}" font-size="10">{}</text>"#,
                H + 14,
                i + 1
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The whole page.
pub fn render(
    manifest: &Manifest,
    period: &Period,
    currencies: &[CurrencyTieOut],
    findings: &[StoredFinding],
    daily: &Daily,
    clearing: &[CurrencyClearing],
    journal: &[JournalLine],
) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Month-end {p} — Chargeguard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #111; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ccc; padding: 0.25em 0.75em; text-align: left; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.total td {{ font-weight: bold; }}
.legend span {{ display: inline-block; width: 1em; height: 1em; vertical-align: middle; }}
@media print {{ body {{ margin: 0; }} section {{ page-break-inside: avoid; }} }}
</style></head><body>
<h1>Month-end {p}</h1>
<p>Period: {start} to {end} ({zone}). {status}. Audit log head: {head}.</p>
"#,
        p = esc(&manifest.period),
        start = esc(&manifest.starts_at),
        end = esc(&manifest.ends_at),
        zone = esc(&manifest.time_zone),
        status = match (&manifest.closed, &manifest.as_of) {
            (Some(c), _) => format!("Closed {} by {}", esc(&c.closed_at), esc(&c.closed_by)),
            (None, Some(at)) => format!("Open; as of {}", esc(at)),
            (None, None) => "Open (not closed)".to_string(),
        },
        head = manifest
            .audit_head
            .as_ref()
            .map(|h| format!("entry {} <code>{}</code>", h.seq, esc(&h.hash)))
            .unwrap_or_else(|| "empty".into()),
    );
    if currencies.is_empty() {
        page.push_str("<p>No money moved in this period.</p>\n");
    }
    for c in currencies {
        let _ = write!(
            page,
            "<section><h2>Tie-out in {}</h2>\n<table><tr><th></th><th>Amount</th></tr>\n",
            esc(&c.currency.to_uppercase())
        );
        for (key, label, amount) in c.totals() {
            let total = matches!(key, "gateway_net" | "ledger_net" | "difference");
            let _ = writeln!(
                page,
                r#"<tr{}><td>{}</td><td class="n">{}</td></tr>"#,
                if total { r#" class="total""# } else { "" },
                esc(label),
                esc(&money(amount, &c.currency))
            );
        }
        page.push_str("</table>\n<h3>The difference, explained</h3>\n<table>\n");
        for (line, amount) in &c.lines {
            let _ = writeln!(
                page,
                r#"<tr><td>{}</td><td class="n">{}</td></tr>"#,
                esc(&line_label(*line, findings)),
                esc(&money(*amount, &c.currency))
            );
        }
        let _ = writeln!(
            page,
            r#"<tr class="total"><td>Explained in full</td><td class="n">{}</td></tr></table>"#,
            esc(&money(c.difference, &c.currency))
        );
        if let Some(days) = daily.get(&c.currency) {
            let _ = write!(
                page,
                r#"<h3>Gateway vs ledger by day</h3><p class="legend"><span style="background:#1f6feb"></span> gateway (captured less refunds) <span style="background:#d29922"></span> ledger (payments less refunds, with adjustments)</p>{}"#,
                chart(&c.currency, days, period)
            );
        }
        page.push_str("</section>\n");
    }
    clearing_section(&mut page, clearing, journal);
    page.push_str("<h2>Files</h2>\n<table><tr><th>File</th><th>Bytes</th><th>SHA-256</th></tr>\n");
    for f in &manifest.files {
        let _ = writeln!(
            page,
            r#"<tr><td>{}</td><td class="n">{}</td><td><code>{}</code></td></tr>"#,
            esc(&f.name),
            f.bytes,
            esc(&f.sha256)
        );
    }
    page.push_str("</table>\n<p>Check this package with <code>chargeguard export verify DIR</code>.</p>\n</body></html>\n");
    page
}

/// The Stripe clearing account per currency, and the fees journal.
fn clearing_section(page: &mut String, clearing: &[CurrencyClearing], journal: &[JournalLine]) {
    if clearing.is_empty() {
        page.push_str(
            "<section><h2>Stripe clearing account</h2>\n<p>No Stripe balance transactions are stored: sync with payouts, or import Stripe's balance history or itemized reports, to tie out the clearing account.</p></section>\n",
        );
        return;
    }
    for c in clearing {
        let _ = write!(
            page,
            "<section><h2>Stripe clearing account in {}</h2>\n<table><tr><th></th><th>Amount</th><th>Transactions</th></tr>\n",
            esc(&c.currency.to_uppercase())
        );
        let _ = writeln!(
            page,
            r#"<tr class="total"><td>Opening balance</td><td class="n">{}</td><td></td></tr>"#,
            esc(&money(c.opening, &c.currency))
        );
        for l in &c.lines {
            let _ = writeln!(
                page,
                r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                esc(l.line.label()),
                esc(&money(l.amount, &c.currency)),
                l.transactions
            );
        }
        let _ = writeln!(
            page,
            r#"<tr class="total"><td>Closing balance</td><td class="n">{}</td><td></td></tr></table>"#,
            esc(&money(c.closing, &c.currency))
        );
        for j in journal.iter().filter(|j| j.currency == c.currency) {
            let _ = writeln!(
                page,
                "<p>Fees journal, {}: debit <b>{}</b>, credit <b>{}</b>, {} ({}).</p>",
                esc(&j.date.to_string()),
                esc(j.debit_account),
                esc(j.credit_account),
                esc(&money(j.amount, &j.currency)),
                esc(&j.memo)
            );
        }
        page.push_str("</section>\n");
    }
}
