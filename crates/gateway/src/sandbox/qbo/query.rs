//! QBO's query language, as its clients send it: `SELECT * | count(*) FROM Entity
//! [WHERE a op b [AND …]] [ORDERBY field [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]`,
//! keywords, entity and field names in any case (node-quickbooks writes them lower-case),
//! operators `=`, `<`, `>`, `<=`, `>=`, `IN (…)`, `LIKE` with `%`; no `OR`, as at Intuit.
//! Parsing and filtering only: what the rows are is `books`' business.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde_json::Value;

use super::wire::{Fault, parse_time};

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
    Like,
    In,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Dotted path as written (`MetaData.LastUpdatedTime`).
    pub field: String,
    pub op: Op,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub count: bool,
    /// As written; `books` resolves it.
    pub entity: String,
    pub conditions: Vec<Condition>,
    pub order_by: Option<(String, bool)>,
    /// 1-based.
    pub start: usize,
    pub max: usize,
}

/// Intuit's largest page.
pub const MAX_RESULTS: usize = 1000;
const DEFAULT_RESULTS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Text(String),
    Sym(String),
}

fn tokens(text: &str) -> Result<Vec<Tok>, Fault> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('\\') => {
                        if let Some(n) = chars.next() {
                            s.push(n);
                        }
                    }
                    Some('\'') => break,
                    Some(ch) => s.push(ch),
                    None => return Err(Fault::query("Encountered an unterminated string")),
                }
            }
            out.push(Tok::Text(s));
        } else if "<>=".contains(c) {
            chars.next();
            let mut s = c.to_string();
            if chars.peek() == Some(&'=') {
                s.push('=');
                chars.next();
            }
            out.push(Tok::Sym(s));
        } else if "(),*".contains(c) {
            chars.next();
            out.push(Tok::Sym(c.to_string()));
        } else {
            let mut s = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || "<>=(),'".contains(ch) {
                    break;
                }
                s.push(ch);
                chars.next();
            }
            out.push(Tok::Word(s));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), Fault> {
        if self.keyword(word) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("Was expecting \"{word}\"")))
        }
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), Fault> {
        match self.next() {
            Some(Tok::Sym(s)) if s == sym => Ok(()),
            _ => Err(self.unexpected(&format!("Was expecting \"{sym}\""))),
        }
    }

    fn word(&mut self) -> Result<String, Fault> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            _ => Err(self.unexpected("Was expecting a name")),
        }
    }

    fn number(&mut self) -> Result<usize, Fault> {
        let w = self.word()?;
        w.parse()
            .map_err(|_| Fault::query(format!("Encountered \"{w}\": was expecting a number")))
    }

    fn literal(&mut self) -> Result<String, Fault> {
        match self.next() {
            Some(Tok::Text(s)) => Ok(s),
            Some(Tok::Word(w)) => Ok(w),
            _ => Err(self.unexpected("Was expecting a value")),
        }
    }

    fn unexpected(&self, what: &str) -> Fault {
        let found = match self.toks.get(self.at.saturating_sub(1)) {
            Some(Tok::Word(w) | Tok::Sym(w)) => w.clone(),
            Some(Tok::Text(t)) => format!("'{t}'"),
            None => "<EOF>".into(),
        };
        Fault::query(format!("Encountered \"{found}\". {what}"))
    }
}

/// Parses a select statement.
pub fn parse(text: &str) -> Result<Query, Fault> {
    let mut p = Parser {
        toks: tokens(text)?,
        at: 0,
    };
    p.expect_keyword("select")?;
    let count = if p.keyword("count") {
        p.expect_sym("(")?;
        p.expect_sym("*")?;
        p.expect_sym(")")?;
        true
    } else {
        p.expect_sym("*")?;
        false
    };
    p.expect_keyword("from")?;
    let entity = p.word()?;
    let mut q = Query {
        count,
        entity,
        conditions: Vec::new(),
        order_by: None,
        start: 1,
        max: DEFAULT_RESULTS,
    };
    if p.keyword("where") {
        loop {
            let field = p.word()?;
            let op = match p.next() {
                Some(Tok::Sym(s)) => match s.as_str() {
                    "=" => Op::Eq,
                    "<" => Op::Lt,
                    ">" => Op::Gt,
                    "<=" => Op::Le,
                    ">=" => Op::Ge,
                    _ => return Err(p.unexpected("Was expecting an operator")),
                },
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("like") => Op::Like,
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Op::In,
                _ => return Err(p.unexpected("Was expecting an operator")),
            };
            let values = if op == Op::In {
                p.expect_sym("(")?;
                let mut values = vec![p.literal()?];
                while matches!(p.peek(), Some(Tok::Sym(s)) if s == ",") {
                    p.next();
                    values.push(p.literal()?);
                }
                p.expect_sym(")")?;
                values
            } else {
                vec![p.literal()?]
            };
            q.conditions.push(Condition { field, op, values });
            if p.keyword("and") {
                continue;
            }
            if matches!(p.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("or")) {
                return Err(Fault::query(
                    "Encountered \"OR\": the OR operation isn't supported",
                ));
            }
            break;
        }
    }
    if p.keyword("orderby") || (p.keyword("order") && p.keyword("by")) {
        let field = p.word()?;
        let descending = if p.keyword("desc") {
            true
        } else {
            p.keyword("asc");
            false
        };
        q.order_by = Some((field, descending));
    }
    if p.keyword("startposition") {
        q.start = p.number()?.max(1);
    }
    if p.keyword("maxresults") {
        q.max = p.number()?;
        if q.max > MAX_RESULTS {
            return Err(Fault::query(format!(
                "MAXRESULTS {} is more than the largest page ({MAX_RESULTS})",
                q.max
            )));
        }
    }
    if p.peek().is_some() {
        p.next();
        return Err(p.unexpected("Was expecting the end of the query"));
    }
    Ok(q)
}

/// The value at a dotted path, names matched in any case; a reference (`CustomerRef`)
/// compares by its `value`.
pub fn field<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = object;
    for part in path.split('.') {
        let map = at.as_object()?;
        at = map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(part))
            .map(|(_, v)| v)?;
    }
    match at {
        Value::Object(map) if map.contains_key("value") => map.get("value"),
        other => Some(other),
    }
}

/// A value as text: a string as it is, anything else as JSON writes it (`Id`s and
/// `SyncToken`s come as either).
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compares a stored value with a literal: as instants for times, as decimals for
/// numbers, else as text.
fn compare(stored: &Value, literal: &str, zone: &str) -> Option<Ordering> {
    let text = text_of(stored);
    if text.contains('T')
        && let (Some(a), Some(b)) = (parse_time(&text, zone), parse_time(literal, zone))
    {
        return Some(a.cmp(&b));
    }
    if let (Ok(a), Ok(b)) = (text.parse::<Decimal>(), literal.parse::<Decimal>()) {
        return Some(a.cmp(&b));
    }
    Some(text.as_str().cmp(literal))
}

fn like(text: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return text == pattern;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

impl Condition {
    pub fn holds(&self, object: &Value, zone: &str) -> bool {
        let Some(stored) = field(object, &self.field) else {
            return false;
        };
        let first = &self.values[0];
        match self.op {
            Op::Eq => compare(stored, first, zone) == Some(Ordering::Equal),
            Op::Lt => compare(stored, first, zone) == Some(Ordering::Less),
            Op::Gt => compare(stored, first, zone) == Some(Ordering::Greater),
            Op::Le => compare(stored, first, zone).is_some_and(|o| o != Ordering::Greater),
            Op::Ge => compare(stored, first, zone).is_some_and(|o| o != Ordering::Less),
            Op::Like => like(&text_of(stored), first),
            Op::In => self
                .values
                .iter()
                .any(|v| compare(stored, v, zone) == Some(Ordering::Equal)),
        }
    }
}

impl Query {
    /// The page of `rows` this query selects, and how many match in all.
    pub fn select(&self, mut rows: Vec<Value>, zone: &str) -> (Vec<Value>, usize) {
        rows.retain(|r| self.conditions.iter().all(|c| c.holds(r, zone)));
        if let Some((by, descending)) = &self.order_by {
            rows.sort_by(|a, b| {
                let o = match (field(a, by), field(b, by)) {
                    (Some(x), Some(y)) => compare(x, &text_of(y), zone).unwrap_or(Ordering::Equal),
                    (x, y) => x.is_some().cmp(&y.is_some()),
                };
                if *descending { o.reverse() } else { o }
            });
        }
        let total = rows.len();
        let page = rows
            .into_iter()
            .skip(self.start - 1)
            .take(self.max)
            .collect();
        (page, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_clients_queries_parse() {
        let python = parse("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime > '2026-11-01T00:00:00-08:00' ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000").unwrap();
        assert_eq!(python.entity, "Invoice");
        assert_eq!(python.conditions[0].op, Op::Gt);
        assert_eq!(python.max, 1000);
        let node = parse("select * from invoice where DocNumber in ('1001', '1002') startposition 101 maxresults 100").unwrap();
        assert_eq!(node.start, 101);
        assert_eq!(node.conditions[0].values, ["1001", "1002"]);
        assert!(parse("select count(*) from Payment").unwrap().count);
        assert_eq!(
            parse("select * from Invoice where Id = '1' or Id = '2'")
                .unwrap_err()
                .code,
            4000
        );
        assert_eq!(
            parse("select * from Invoice maxresults 1001")
                .unwrap_err()
                .code,
            4000
        );
        assert_eq!(parse("select from Invoice").unwrap_err().code, 4000);
    }

    #[test]
    fn conditions_compare_times_numbers_references_and_patterns() {
        let invoice = json!({"Id": "12", "TotalAmt": 362.07, "DocNumber": "INV-1001",
            "CustomerRef": {"value": "24", "name": "Sonnenschein"},
            "MetaData": {"LastUpdatedTime": "2026-11-03T13:16:17-08:00"}});
        let q = |w: &str| parse(&format!("select * from Invoice where {w}")).unwrap();
        let holds = |w: &str| {
            q(w).conditions
                .iter()
                .all(|c| c.holds(&invoice, "America/Los_Angeles"))
        };
        assert!(holds("MetaData.LastUpdatedTime > '2026-11-03T21:16:16Z'"));
        assert!(!holds("MetaData.LastUpdatedTime > '2026-11-03T13:16:17'"));
        assert!(holds("TotalAmt >= '362.07' AND TotalAmt < '362.08'"));
        assert!(holds("CustomerRef = '24'"));
        assert!(holds("DocNumber LIKE 'INV-%'"));
        assert!(!holds("DocNumber LIKE '%-2%'"));
    }
}
