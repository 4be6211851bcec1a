//! `export verify`: checks a package (its folder, or its `.zip`) without the store.
//!
//! In order, stopping at the first thing that does not hold and naming its file and line:
//! 1. `manifest.json` is there and of a known format; the package holds exactly the files
//!    it lists (a file added, missing or renamed is named);
//! 2. every CSV file has its table's header and the records the manifest hashed (block by
//!    block, so the line of an edited cell or a deleted line is named), and every file's
//!    SHA-256 and size match;
//! 3. the totals add up again from the CSV rows alone — gateway gross, refunds and fees,
//!    ledger payments, refunds and adjustments per currency, and every tie-out line from
//!    the rows' `tieout_line` — and match `tieout.csv`; the lines add up to the
//!    difference, nothing is unexplained, every finding a line names is in
//!    `findings.csv`, every money row is dated inside the period, and the audit entries'
//!    hashes recompute and chain;
//! 4. the Stripe clearing account adds up again (a package that lists `clearing.csv`;
//!    one made before it had none): every row of `clearing_transactions.csv` is dated
//!    inside the period, listed once (in time-then-id order), its net its amount less its
//!    fee, and on the line its type says (`clearing::line_of`); its amounts and fees add
//!    up to every line of `clearing.csv`, whose opening balance and lines add up to its
//!    closing balance; and `fees_journal.csv` books each currency's fees line, no more.
//!
//! The manifest's hashes catch an edit; re-adding catches an edit made together with new
//! hashes whenever it changes money, which is what an auditor needs to trust.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::clearing::{self, CLEARING_ACCOUNT, FEES_ACCOUNT, Line};
use super::manifest::{BlockHasher, FORMAT, Manifest};
use super::tables::{self, header_of};
use super::tieout::LineKey;
use crate::money::{Currency, Money, Sign};

/// The first thing in a package that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{file}{}: {problem}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct VerifyError {
    pub file: String,
    pub line: Option<u64>,
    pub problem: String,
}

fn fail<T>(file: &str, line: Option<u64>, problem: impl Into<String>) -> Result<T, VerifyError> {
    Err(VerifyError {
        file: file.to_string(),
        line,
        problem: problem.into(),
    })
}

/// What holds.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub period: String,
    pub files: usize,
    pub records: u64,
    /// Per currency: the difference, explained in full.
    pub differences: BTreeMap<String, String>,
    /// Per currency: the Stripe clearing account's closing balance, every line traced to
    /// its balance transactions (empty for a package made before the clearing account).
    pub clearing: BTreeMap<String, String>,
}

/// Where the files are: a folder, or a zip whose entries are read one at a time when
/// asked for (so a check holds one file of the package in memory, not all of them).
enum Source {
    Folder(PathBuf),
    Zip {
        name: String,
        archive: std::cell::RefCell<zip::ZipArchive<std::io::BufReader<std::fs::File>>>,
        entries: BTreeSet<String>,
    },
}

impl Source {
    fn open(path: &Path) -> Result<Source, VerifyError> {
        let name = path.display().to_string();
        if path.is_dir() {
            return Ok(Source::Folder(path.to_path_buf()));
        }
        let file = std::fs::File::open(path)
            .or_else(|_| std::fs::File::open(super::zip_path_of(path)))
            .or_else(|e| fail(&name, None, format!("cannot open the package: {e}")))?;
        let zip = zip::ZipArchive::new(std::io::BufReader::new(file)).or_else(|e| {
            fail(
                &name,
                None,
                format!("is neither a package folder nor its zip: {e}"),
            )
        })?;
        let entries = zip
            .file_names()
            .map(|n| n.map(std::borrow::Cow::into_owned))
            .collect::<Result<BTreeSet<String>, _>>()
            .or_else(|e| fail(&name, None, format!("a damaged zip entry: {e}")))?;
        Ok(Source::Zip {
            name,
            archive: std::cell::RefCell::new(zip),
            entries,
        })
    }

    fn names(&self) -> Result<BTreeSet<String>, VerifyError> {
        match self {
            Source::Zip { entries, .. } => Ok(entries.clone()),
            Source::Folder(dir) => {
                let listing = std::fs::read_dir(dir)
                    .or_else(|e| fail(&dir.display().to_string(), None, e.to_string()))?;
                let mut names = BTreeSet::new();
                for entry in listing.flatten() {
                    names.insert(entry.file_name().to_string_lossy().into_owned());
                }
                Ok(names)
            }
        }
    }

    fn reader(&self, name: &str) -> Result<Box<dyn Read + '_>, VerifyError> {
        match self {
            Source::Zip {
                name: zip_name,
                archive,
                ..
            } => {
                let mut archive = archive.borrow_mut();
                let mut entry = match archive.by_name(name) {
                    Ok(entry) => entry,
                    Err(zip::result::ZipError::FileNotFound) => {
                        return fail(name, None, "is missing from the package");
                    }
                    Err(e) => return fail(zip_name, None, format!("a damaged zip entry: {e}")),
                };
                let mut bytes = Vec::new();
                entry
                    .read_to_end(&mut bytes)
                    .or_else(|e| fail(zip_name, None, format!("a damaged zip entry: {e}")))?;
                Ok(Box::new(std::io::Cursor::new(bytes)))
            }
            Source::Folder(dir) => match std::fs::File::open(dir.join(name)) {
                Ok(f) => Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f))),
                Err(_) => fail(name, None, "is missing from the package"),
            },
        }
    }
}

/// Checks the package at `path` (a folder, or a `.zip`).
pub fn verify(path: &Path) -> Result<VerifyReport, VerifyError> {
    let source = Source::open(path)?;
    let mut text = String::new();
    source
        .reader("manifest.json")?
        .read_to_string(&mut text)
        .or_else(|e| fail("manifest.json", None, e.to_string()))?;
    let manifest: Manifest = serde_json::from_str(&text).or_else(|e| {
        fail(
            "manifest.json",
            None,
            format!("is not a package manifest: {e}"),
        )
    })?;
    if manifest.format != FORMAT {
        return fail(
            "manifest.json",
            None,
            format!("format `{}` is not `{FORMAT}`", manifest.format),
        );
    }

    // 1. Exactly the files the manifest lists.
    let present = source.names()?;
    let mut listed: BTreeSet<String> = manifest.files.iter().map(|f| f.name.clone()).collect();
    listed.insert("manifest.json".into());
    if let Some(extra) = present.difference(&listed).next() {
        return fail(
            extra,
            None,
            "is not listed in manifest.json: a file was added or renamed",
        );
    }
    if let Some(missing) = listed.difference(&present).next() {
        return fail(
            missing,
            None,
            "is listed in manifest.json but missing from the package",
        );
    }

    // 2. Every file as it was written.
    let mut records = 0;
    for entry in &manifest.files {
        if let Some(expected_records) = entry.records {
            let header = header_of(&entry.name);
            let mut blocks = BlockHasher::new(expected_records);
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(source.reader(&entry.name)?);
            let mut record = csv::StringRecord::new();
            let mut first = true;
            let mut block_start_line = 2;
            let mut block_index = 0usize;
            loop {
                match reader.read_record(&mut record) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        let line = e.position().map(|p| p.record() + 1);
                        return fail(&entry.name, line, format!("is not valid CSV: {e}"));
                    }
                }
                let line = record.position().map_or(0, |p| p.record() + 1);
                if first {
                    first = false;
                    if let Some(h) = header
                        && record.iter().ne(h.iter().copied())
                    {
                        return fail(
                            &entry.name,
                            Some(1),
                            format!(
                                "the header is `{}`, but a package's {} has `{}`: a file was swapped or edited",
                                record.iter().collect::<Vec<_>>().join(","),
                                entry.name,
                                h.join(",")
                            ),
                        );
                    }
                    continue;
                }
                if blocks.records.is_multiple_of(blocks.per_block()) {
                    block_start_line = line;
                }
                if let Some(hash) = blocks.record(record.iter()) {
                    if entry.blocks.get(block_index).map(String::as_str) != Some(hash) {
                        return fail(
                            &entry.name,
                            Some(block_start_line),
                            block_problem(blocks.per_block(), line),
                        );
                    }
                    block_index += 1;
                }
            }
            let end_line = reader.position().line();
            let (n, all_blocks) = blocks.finish();
            if all_blocks.len() > block_index
                && entry.blocks.get(block_index) != all_blocks.get(block_index)
            {
                return fail(
                    &entry.name,
                    Some(block_start_line),
                    block_problem(entry.block_records.unwrap_or(1), end_line),
                );
            }
            if n != expected_records {
                return fail(
                    &entry.name,
                    Some(end_line),
                    format!(
                        "holds {n} records, the manifest says {expected_records}: lines were deleted or added"
                    ),
                );
            }
            records += n;
        }
        let (sha, bytes) = super::manifest::sha256_reader(source.reader(&entry.name)?)
            .or_else(|e| fail(&entry.name, None, e.to_string()))?;
        if sha != entry.sha256 || bytes != entry.bytes {
            return fail(
                &entry.name,
                None,
                format!(
                    "its SHA-256 is {sha} ({bytes} bytes), the manifest says {} ({} bytes): the file was changed after export",
                    entry.sha256, entry.bytes
                ),
            );
        }
    }

    // 3. The totals, again, from the rows.
    let differences = re_add(&source, &manifest)?;
    // 4. The Stripe clearing account, again, from its transactions.
    let clearing = re_add_clearing(&source, &manifest)?;
    Ok(VerifyReport {
        period: manifest.period.clone(),
        files: manifest.files.len() + 1,
        records,
        differences,
        clearing,
    })
}

fn block_problem(per_block: u64, line: u64) -> String {
    if per_block == 1 {
        "differs from what was exported: this line was edited, or one before it deleted or moved"
            .to_string()
    } else {
        format!(
            "differs from what was exported somewhere in the {per_block} records from here (up to line {line})"
        )
    }
}

/// Reads every record of one of the package's tables and hands each to `each`, in order,
/// without keeping them: a month of a million charges is checked in the memory of one row.
/// A record's line is its position among records plus one for the header: the package's
/// fields never hold a line break, and the csv crate's own line count lags by one on CRLF
/// files, which is what a spreadsheet program saves.
fn each_row(
    source: &Source,
    file: &'static str,
    mut each: impl FnMut(Cursor<'_>) -> Result<(), VerifyError>,
) -> Result<(), VerifyError> {
    let header = header_of(file).expect("a package table");
    let mut reader = csv::ReaderBuilder::new().from_reader(source.reader(file)?);
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => each(Cursor {
                file,
                header,
                line: record.position().map_or(0, |p| p.record() + 1),
                record: &record,
            })?,
            Ok(false) => return Ok(()),
            Err(e) => {
                let line = e.position().map(|p| p.record() + 1);
                return fail(file, line, format!("is not valid CSV: {e}"));
            }
        }
    }
}

struct Cursor<'t> {
    file: &'static str,
    header: &'static [&'static str],
    line: u64,
    record: &'t csv::StringRecord,
}

impl Cursor<'_> {
    fn get(&self, name: &str) -> &str {
        let column = self
            .header
            .iter()
            .position(|h| *h == name)
            .expect("a known column");
        self.record.get(column).unwrap_or("")
    }

    fn fail<T>(&self, problem: impl Into<String>) -> Result<T, VerifyError> {
        fail(self.file, Some(self.line), problem)
    }

    fn currency(&self) -> Result<Currency, VerifyError> {
        Currency::from_code(self.get("currency")).or_else(|e| self.fail(format!("currency: {e}")))
    }

    fn money(&self, name: &str, currency: Currency) -> Result<i64, VerifyError> {
        let text = self.get(name);
        if text.is_empty() {
            return Ok(0);
        }
        Money::parse(text, currency, Sign::Any)
            .map(Money::minor)
            .or_else(|e| self.fail(format!("{name} `{text}`: {e}")))
    }

    fn line_key(&self) -> Result<LineKey, VerifyError> {
        let text = self.get("tieout_line");
        LineKey::parse(text).map_or_else(
            || self.fail(format!("tieout_line `{text}` is not a tie-out line")),
            Ok,
        )
    }

    fn in_period(
        &self,
        name: &str,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<(), VerifyError> {
        let text = self.get(name);
        let at: jiff::Timestamp = text
            .parse()
            .or_else(|e| self.fail(format!("{name} `{text}` is not an instant: {e}")))?;
        if at < from || at >= to {
            return self.fail(format!("{name} {text} lies outside the period"));
        }
        Ok(())
    }
}

/// What `tieout.csv` states for one currency: its totals and its lines.
type Stated = (BTreeMap<String, i128>, BTreeMap<String, i128>);

#[derive(Default)]
struct Sums {
    totals: BTreeMap<&'static str, i128>,
    lines: BTreeMap<String, i128>,
    /// Which file each total is re-added from, for the message.
    from: BTreeMap<&'static str, &'static str>,
}

fn period_bounds(manifest: &Manifest) -> Result<(jiff::Timestamp, jiff::Timestamp), VerifyError> {
    let parse_bound = |text: &str| {
        text.parse::<jiff::Timestamp>()
            .or_else(|e| fail("manifest.json", None, format!("period bound `{text}`: {e}")))
    };
    Ok((
        parse_bound(&manifest.starts_at)?,
        parse_bound(&manifest.ends_at)?,
    ))
}

fn re_add(source: &Source, manifest: &Manifest) -> Result<BTreeMap<String, String>, VerifyError> {
    let (from, to) = period_bounds(manifest)?;
    let mut sums: BTreeMap<Currency, Sums> = BTreeMap::new();
    let add_total = |sums: &mut BTreeMap<Currency, Sums>,
                     c: Currency,
                     key: &'static str,
                     file: &'static str,
                     v: i64| {
        let s = sums.entry(c).or_default();
        *s.totals.entry(key).or_default() += i128::from(v);
        s.from.insert(key, file);
    };
    let add_line = |sums: &mut BTreeMap<Currency, Sums>, c: Currency, line: LineKey, v: i64| {
        *sums
            .entry(c)
            .or_default()
            .lines
            .entry(line.to_string())
            .or_default() += i128::from(v);
    };

    each_row(source, tables::CHARGES, |r| {
        r.in_period("created_at", from, to)?;
        let c = r.currency()?;
        let fee = r.money("fee", c)?;
        add_total(&mut sums, c, "gateway_fees", tables::CHARGES, fee);
        if fee != 0 {
            add_line(&mut sums, c, LineKey::Fees, -fee);
        }
        if r.get("status") == "succeeded" && r.get("captured") == "true" {
            let amount = r.money("amount", c)?;
            add_total(&mut sums, c, "gateway_gross", tables::CHARGES, amount);
            add_line(&mut sums, c, r.line_key()?, amount);
        }
        Ok(())
    })?;
    each_row(source, tables::REFUNDS, |r| {
        r.in_period("created_at", from, to)?;
        if matches!(r.get("status"), "failed" | "canceled") {
            return Ok(());
        }
        let c = r.currency()?;
        let amount = r.money("amount", c)?;
        add_total(&mut sums, c, "gateway_refunds", tables::REFUNDS, amount);
        add_line(&mut sums, c, r.line_key()?, -amount);
        Ok(())
    })?;
    each_row(source, tables::LEDGER, |r| {
        r.in_period("recorded_at", from, to)?;
        let c = r.currency()?;
        let amount = r.money("amount", c)?;
        match r.get("kind") {
            "payment" => {
                add_total(&mut sums, c, "ledger_payments", tables::LEDGER, amount);
                add_line(&mut sums, c, r.line_key()?, -amount);
            }
            "refund" => {
                add_total(&mut sums, c, "ledger_refunds", tables::LEDGER, amount);
                add_line(&mut sums, c, r.line_key()?, amount);
            }
            other => return r.fail(format!("kind `{other}` is neither payment nor refund")),
        }
        Ok(())
    })?;
    each_row(source, tables::ADJUSTMENTS, |r| {
        r.in_period("effective_at", from, to)?;
        let c = r.currency()?;
        let effect = r.money("ledger_effect", c)?;
        add_total(
            &mut sums,
            c,
            "ledger_adjustments",
            tables::ADJUSTMENTS,
            effect,
        );
        add_line(&mut sums, c, r.line_key()?, -effect);
        Ok(())
    })?;
    let mut finding_ids: BTreeSet<i64> = BTreeSet::new();
    each_row(source, tables::FINDINGS, |r| {
        finding_ids.extend(r.get("finding_id").parse::<i64>().ok());
        Ok(())
    })?;

    // Derived totals, from the re-added ones.
    for s in sums.values_mut() {
        let t = |k: &str| s.totals.get(k).copied().unwrap_or(0);
        let gateway_net = t("gateway_gross") - t("gateway_refunds") - t("gateway_fees");
        let ledger_net = t("ledger_payments") - t("ledger_refunds") + t("ledger_adjustments");
        s.totals.insert("gateway_net", gateway_net);
        s.totals.insert("ledger_net", ledger_net);
        s.totals.insert("difference", gateway_net - ledger_net);
        s.lines.retain(|_, v| *v != 0);
    }

    // Compare with the statement, line by line.
    let mut stated: BTreeMap<Currency, Stated> = BTreeMap::new();
    each_row(source, tables::TIEOUT, |r| {
        let c = r.currency()?;
        let amount = i128::from(r.money("amount", c)?);
        let key = r.get("line");
        let s = sums.get(&c);
        if let Some(total) = key.strip_prefix("total:") {
            let again = s.and_then(|s| s.totals.get(total)).copied().unwrap_or(0);
            if again != amount {
                let file = s
                    .and_then(|s| s.from.get(total))
                    .copied()
                    .unwrap_or("the package's rows");
                return r.fail(format!(
                    "{total} in {} says {}, but the rows of {file} add up to {}",
                    c.code(),
                    show(amount, c),
                    show(again, c)
                ));
            }
            stated
                .entry(c)
                .or_default()
                .0
                .insert(total.to_string(), amount);
        } else if let Some(line) = key.strip_prefix("line:") {
            let parsed = LineKey::parse(line)
                .map_or_else(|| r.fail(format!("`{line}` is not a tie-out line")), Ok)?;
            match parsed {
                LineKey::Unexplained => {
                    return r.fail(
                        "the statement holds an unexplained difference: the books do not tie out",
                    );
                }
                LineKey::Finding(id) if !finding_ids.contains(&id) => {
                    return r.fail(format!(
                        "names finding {id}, which is not in {}",
                        tables::FINDINGS
                    ));
                }
                _ => {}
            }
            let again = s.and_then(|s| s.lines.get(line)).copied().unwrap_or(0);
            if again != amount {
                return r.fail(format!(
                    "the line {line} in {} says {}, but the rows marked `{line}` add up to {}",
                    c.code(),
                    show(amount, c),
                    show(again, c)
                ));
            }
            stated
                .entry(c)
                .or_default()
                .1
                .insert(line.to_string(), amount);
        } else {
            return r.fail(format!("`{key}` is neither a total nor a line"));
        }
        Ok(())
    })?;
    let mut differences = BTreeMap::new();
    for (c, s) in &sums {
        let (totals, lines) = stated.get(c).cloned().unwrap_or_default();
        for (key, v) in &s.totals {
            if *v != 0 && !totals.contains_key(*key) {
                return fail(
                    tables::TIEOUT,
                    None,
                    format!(
                        "has no {key} for {}, but the rows add up to {}",
                        c.code(),
                        show(*v, *c)
                    ),
                );
            }
        }
        for (key, v) in &s.lines {
            if !lines.contains_key(key) {
                return fail(
                    tables::TIEOUT,
                    None,
                    format!(
                        "has no line {key} for {}, but rows marked so add up to {}",
                        c.code(),
                        show(*v, *c)
                    ),
                );
            }
        }
        let explained: i128 = lines.values().sum();
        let difference = totals.get("difference").copied().unwrap_or(0);
        if explained != difference {
            return fail(
                tables::TIEOUT,
                None,
                format!(
                    "the lines for {} add up to {}, not to the difference {}",
                    c.code(),
                    show(explained, *c),
                    show(difference, *c)
                ),
            );
        }
        differences.insert(c.lower(), show(difference, *c));
    }

    // The audit entries: each hash recomputes, consecutive entries chain.
    let mut previous: Option<(i64, String)> = None;
    each_row(source, tables::AUDIT, |r| {
        let seq: i64 = r
            .get("seq")
            .parse()
            .or_else(|_| r.fail("seq is not a number"))?;
        let at: i64 = r
            .get("at")
            .parse()
            .or_else(|_| r.fail("at is not a number"))?;
        let hash = crate::audit::entry_hash(
            r.get("prev_hash"),
            seq,
            at,
            r.get("actor"),
            r.get("event"),
            r.get("subject"),
            r.get("details"),
        );
        if hash != r.get("hash") {
            return r.fail(format!(
                "audit entry {seq} does not match its hash: it was edited"
            ));
        }
        if let Some((prev_seq, prev_hash)) = &previous
            && seq == prev_seq + 1
            && r.get("prev_hash") != prev_hash
        {
            return r.fail(format!(
                "audit entry {seq} does not follow entry {prev_seq}"
            ));
        }
        previous = Some((seq, hash));
        Ok(())
    })?;
    Ok(differences)
}

fn show(minor: i128, c: Currency) -> String {
    match i64::try_from(minor) {
        Ok(m) => Money::from_minor(m, c).to_string(),
        Err(_) => format!("{minor} minor units of {}", c.code()),
    }
}

/// What `clearing_transactions.csv` adds up to for one currency, per line: amount and
/// transactions.
type ClearingSums = [(i128, u64); Line::ALL.len()];

/// What `clearing.csv` states for one currency, as it is read.
#[derive(Default)]
struct StatedClearing {
    opening: Option<i128>,
    lines: BTreeMap<Line, i128>,
    closing: Option<i128>,
}

/// Step 4: the Stripe clearing account, added up again from its transactions; per
/// currency, the closing balance.
fn re_add_clearing(
    source: &Source,
    manifest: &Manifest,
) -> Result<BTreeMap<String, String>, VerifyError> {
    let listed = |name: &str| manifest.files.iter().any(|f| f.name == name);
    if !listed(tables::CLEARING) {
        // A package made before the clearing account: nothing of it to check.
        return Ok(BTreeMap::new());
    }
    for name in [tables::CLEARING_TRANSACTIONS, tables::FEES_JOURNAL] {
        if !listed(name) {
            return fail(
                name,
                None,
                format!(
                    "is not listed in manifest.json, which lists {}: the package lost a file of the clearing account",
                    tables::CLEARING
                ),
            );
        }
    }
    let (from, to) = period_bounds(manifest)?;
    let mut sums: BTreeMap<Currency, ClearingSums> = BTreeMap::new();
    let mut previous: Option<(jiff::Timestamp, String)> = None;
    each_row(source, tables::CLEARING_TRANSACTIONS, |r| {
        r.in_period("created_at", from, to)?;
        let at: jiff::Timestamp = r
            .get("created_at")
            .parse()
            .or_else(|e| r.fail(format!("created_at is not an instant: {e}")))?;
        let id = r.get("balance_transaction_id");
        if id.is_empty() {
            return r.fail("a balance transaction with no id");
        }
        if let Some((prev_at, prev_id)) = &previous
            && (prev_at, prev_id.as_str()) >= (&at, id)
        {
            return r.fail(format!(
                "balance transaction {id} is out of time-then-id order or listed twice"
            ));
        }
        previous = Some((at, id.to_string()));
        let c = r.currency()?;
        let (amount, fee, net) = (
            i128::from(r.money("amount", c)?),
            i128::from(r.money("fee", c)?),
            i128::from(r.money("net", c)?),
        );
        if amount - fee != net {
            return r.fail(format!(
                "balance transaction {id}: its net {} is not its amount {} less its fee {}",
                show(net, c),
                show(amount, c),
                show(fee, c)
            ));
        }
        let kind = r.get("type");
        let origin = Some(r.get("source")).filter(|s| !s.is_empty());
        let stated = r.get("line");
        let line = clearing::line_of(kind, origin);
        if stated != line.as_str() {
            return r.fail(format!(
                "balance transaction {id} of type `{kind}` belongs on the line `{line}`, not `{stated}`"
            ));
        }
        let s = sums.entry(c).or_default();
        let fees = Line::Fees as usize;
        if line == Line::Fees {
            s[fees].0 += net;
            s[fees].1 += 1;
        } else {
            s[line as usize].0 += amount;
            s[line as usize].1 += 1;
            if fee != 0 {
                s[fees].0 -= fee;
                s[fees].1 += 1;
            }
        }
        Ok(())
    })?;

    let mut stated: BTreeMap<Currency, StatedClearing> = BTreeMap::new();
    each_row(source, tables::CLEARING, |r| {
        let c = r.currency()?;
        let amount = i128::from(r.money("amount", c)?);
        let st = stated.entry(c).or_default();
        match r.get("line") {
            "opening_balance" => {
                if st.opening.replace(amount).is_some() {
                    return r.fail(format!("a second opening balance for {}", c.code()));
                }
            }
            "closing_balance" => {
                let Some(opening) = st.opening else {
                    return r.fail(format!(
                        "a closing balance for {} before its opening balance",
                        c.code()
                    ));
                };
                let again = opening + st.lines.values().sum::<i128>();
                if again != amount {
                    return r.fail(format!(
                        "the closing balance in {} says {}, but the opening balance and the lines above it add up to {}",
                        c.code(),
                        show(amount, c),
                        show(again, c)
                    ));
                }
                if st.closing.replace(amount).is_some() {
                    return r.fail(format!("a second closing balance for {}", c.code()));
                }
            }
            other => {
                let Some(line) = Line::parse(other) else {
                    return r.fail(format!("`{other}` is not a line of the clearing account"));
                };
                let (again, count) = sums.get(&c).map_or((0, 0), |s| s[line as usize]);
                let transactions = r.get("transactions");
                if again != amount || transactions != count.to_string() {
                    return r.fail(format!(
                        "the line {line} in {} says {} from {transactions} transaction(s), but the rows of {} on it add up to {} from {count}",
                        c.code(),
                        show(amount, c),
                        tables::CLEARING_TRANSACTIONS,
                        show(again, c)
                    ));
                }
                if st.lines.insert(line, amount).is_some() {
                    return r.fail(format!("a second line {line} for {}", c.code()));
                }
            }
        }
        Ok(())
    })?;
    for (c, s) in &sums {
        let st = stated.get(c);
        for line in Line::ALL {
            let (v, n) = s[line as usize];
            if n > 0 && !st.is_some_and(|st| st.lines.contains_key(&line)) {
                return fail(
                    tables::CLEARING,
                    None,
                    format!(
                        "has no line {line} for {}, but rows of {} on it add up to {}",
                        c.code(),
                        tables::CLEARING_TRANSACTIONS,
                        show(v, *c)
                    ),
                );
            }
        }
    }
    let mut closing = BTreeMap::new();
    for (c, st) in &stated {
        let Some(amount) = st.closing else {
            return fail(
                tables::CLEARING,
                None,
                format!("has no closing balance for {}", c.code()),
            );
        };
        closing.insert(c.lower(), show(amount, *c));
    }

    // The fees journal: one line per currency whose fees line is not zero, for that much.
    let mut booked: BTreeSet<Currency> = BTreeSet::new();
    each_row(source, tables::FEES_JOURNAL, |r| {
        let c = r.currency()?;
        let amount = i128::from(r.money("amount", c)?);
        let fees = stated
            .get(&c)
            .and_then(|st| st.lines.get(&Line::Fees))
            .copied()
            .unwrap_or(0);
        let books = match (r.get("debit_account"), r.get("credit_account")) {
            (FEES_ACCOUNT, CLEARING_ACCOUNT) => -amount,
            (CLEARING_ACCOUNT, FEES_ACCOUNT) => amount,
            (debit, credit) => {
                return r.fail(format!(
                    "debits `{debit}` and credits `{credit}`; a fees line moves money between `{FEES_ACCOUNT}` and `{CLEARING_ACCOUNT}`"
                ));
            }
        };
        if amount <= 0 || books != fees {
            return r.fail(format!(
                "books {} of fees in {}, but the fees line of {} says {}",
                show(amount, c),
                c.code(),
                tables::CLEARING,
                show(fees, c)
            ));
        }
        if !booked.insert(c) {
            return r.fail(format!("a second fees line for {}", c.code()));
        }
        Ok(())
    })?;
    for (c, st) in &stated {
        let fees = st.lines.get(&Line::Fees).copied().unwrap_or(0);
        if fees != 0 && !booked.contains(c) {
            return fail(
                tables::FEES_JOURNAL,
                None,
                format!(
                    "has no line for the {} of fees in {}",
                    show(fees.abs(), *c),
                    c.code()
                ),
            );
        }
    }
    Ok(closing)
}
