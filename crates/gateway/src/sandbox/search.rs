//! Stripe's search query language, the part the sandbox understands: clauses such as
//! `metadata['invoice_number']:'INV-1'`, `status:'succeeded'`, `amount>100`,
//! `customer:'cus_…'`, `-status:'failed'`, `description~'refill'`, joined by `AND` or by
//! `OR` (not both, as Stripe refuses mixing them).
//!
//! It compiles a query into [`Condition`]s for the state module and never runs SQL itself.
//! Anything it does not understand is a 400 naming the query, never a silent match-all.

use super::state::{CompareOp, Condition, Kind, SearchColumn, SqlValue};
use super::wire::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(&'static str),
    Minus,
}

fn tokenize(query: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = query.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '\'' | '"' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("a quoted value is not closed".into()),
                        Some('\\') => {
                            if let Some(&next) = chars.get(i + 1) {
                                text.push(next);
                            }
                            i += 2;
                        }
                        Some(&ch) if ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            ':' => {
                tokens.push(Token::Op(":"));
                i += 1;
            }
            '~' => {
                tokens.push(Token::Op("~"));
                i += 1;
            }
            '>' | '<' => {
                let eq = chars.get(i + 1) == Some(&'=');
                tokens.push(Token::Op(match (c, eq) {
                    ('>', true) => ">=",
                    ('>', false) => ">",
                    ('<', true) => "<=",
                    _ => "<",
                }));
                i += if eq { 2 } else { 1 };
            }
            '-' if tokens
                .last()
                .is_none_or(|t| matches!(t, Token::Word(w) if w == "AND" || w == "OR")) =>
            {
                tokens.push(Token::Minus);
                i += 1;
            }
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.get(i) {
                    if matches!(ch, ' ' | '\t' | '\n' | ':' | '~' | '>' | '<') {
                        break;
                    }
                    // `metadata['key']` carries its quoted key inside the field name.
                    if ch == '[' {
                        let close = chars[i..]
                            .iter()
                            .position(|&x| x == ']')
                            .ok_or("a `[` is not closed")?;
                        word.extend(&chars[i..i + close + 1]);
                        i += close + 1;
                        continue;
                    }
                    word.push(ch);
                    i += 1;
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

fn column(kind: Kind, field: &str) -> Option<SearchColumn> {
    let column = match field {
        "amount" => SearchColumn::Amount,
        "created" => SearchColumn::Created,
        "currency" => SearchColumn::Currency,
        "customer" => SearchColumn::Customer,
        "status" => SearchColumn::Status,
        "description" => SearchColumn::Description,
        "payment_intent" if kind == Kind::Charge => SearchColumn::PaymentIntent,
        "refunded" if kind == Kind::Charge => SearchColumn::Refunded,
        _ => return None,
    };
    Some(column)
}

fn metadata_key(field: &str) -> Option<String> {
    let inner = field.strip_prefix("metadata[")?.strip_suffix(']')?;
    let unquoted = inner
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))?;
    Some(unquoted.to_string())
}

/// Compiles `query` for objects of `kind`.
pub fn compile(kind: Kind, query: &str) -> Result<Vec<Condition>, ApiError> {
    let fail = |why: String| {
        ApiError::invalid_param(
            "query",
            format!(
                "The search query `{query}` cannot be read: {why}. Write clauses like metadata['invoice_number']:'INV-1' joined by AND."
            ),
        )
    };
    let tokens = tokenize(query).map_err(fail)?;
    let mut clauses = Vec::new();
    let mut joiner: Option<&str> = None;
    let mut i = 0;
    while i < tokens.len() {
        if !clauses.is_empty() {
            match &tokens[i] {
                Token::Word(w) if w == "AND" || w == "OR" => {
                    if joiner.is_some_and(|j| j != w) {
                        return Err(fail("AND and OR cannot be mixed in one query".into()));
                    }
                    joiner = Some(if w == "AND" { "AND" } else { "OR" });
                    i += 1;
                }
                other => return Err(fail(format!("expected AND or OR, found {other:?}"))),
            }
        }
        let negated = tokens.get(i) == Some(&Token::Minus);
        if negated {
            i += 1;
        }
        let (Some(Token::Word(field)), Some(Token::Op(op)), Some(value)) =
            (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
        else {
            return Err(fail("a clause must read field, operator, value".into()));
        };
        let value = match value {
            Token::Quoted(t) | Token::Word(t) => t.clone(),
            other => return Err(fail(format!("expected a value, found {other:?}"))),
        };
        i += 3;
        clauses.push(clause(kind, field, op, value, negated).map_err(fail)?);
    }
    if clauses.is_empty() {
        return Err(fail("it is empty".into()));
    }
    if joiner == Some("OR") {
        return Ok(vec![Condition::AnyOf(clauses)]);
    }
    Ok(clauses)
}

fn clause(
    kind: Kind,
    field: &str,
    op: &str,
    value: String,
    negated: bool,
) -> Result<Condition, String> {
    if let Some(key) = metadata_key(field) {
        if op != ":" {
            return Err(format!("metadata supports only `:`, not `{op}`"));
        }
        return Ok(Condition::Metadata {
            key,
            value,
            negated,
        });
    }
    let column =
        column(kind, field).ok_or_else(|| format!("`{field}` is not a searchable field"))?;
    let numeric = matches!(column, SearchColumn::Amount | SearchColumn::Created);
    let integer = || {
        value
            .parse::<i64>()
            .map_err(|_| format!("`{field}` needs a whole number, not `{value}`"))
    };
    match op {
        ":" if numeric => Ok(Condition::Equals {
            column,
            value: SqlValue::Integer(integer()?),
            negated,
        }),
        ":" if column == SearchColumn::Refunded => Ok(Condition::Equals {
            column,
            value: SqlValue::Integer(match value.as_str() {
                "true" => 1,
                "false" => 0,
                _ => return Err("`refunded` is true or false".into()),
            }),
            negated,
        }),
        ":" => Ok(Condition::Equals {
            column,
            value: SqlValue::Text(if column == SearchColumn::Currency {
                value.to_ascii_lowercase()
            } else {
                value
            }),
            negated,
        }),
        "~" if !numeric && !negated => Ok(Condition::Contains {
            column,
            text: value,
        }),
        ">" | ">=" | "<" | "<=" if numeric && !negated => Ok(Condition::Compare {
            column,
            op: match op {
                ">" => CompareOp::Gt,
                ">=" => CompareOp::Gte,
                "<" => CompareOp::Lt,
                _ => CompareOp::Lte,
            },
            value: integer()?,
        }),
        _ => Err(format!("`{field}` does not support `{op}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn reads_metadata_status_and_amount_joined_by_and() {
        let conditions = compile(
            Kind::Charge,
            "metadata['invoice_number']:'INV-1' AND status:'succeeded' AND amount>100",
        )
        .unwrap();
        assert_eq!(
            conditions,
            vec![
                Condition::Metadata {
                    key: "invoice_number".into(),
                    value: "INV-1".into(),
                    negated: false
                },
                Condition::Equals {
                    column: SearchColumn::Status,
                    value: SqlValue::Text("succeeded".into()),
                    negated: false
                },
                Condition::Compare {
                    column: SearchColumn::Amount,
                    op: CompareOp::Gt,
                    value: 100
                },
            ]
        );
    }

    #[test]
    fn negation_and_double_quoted_keys() {
        let conditions = compile(Kind::PaymentIntent, "-metadata[\"k\"]:\"v w\"").unwrap();
        assert_eq!(
            conditions,
            vec![Condition::Metadata {
                key: "k".into(),
                value: "v w".into(),
                negated: true
            }]
        );
    }

    #[rstest]
    #[case::mixed_joiners("status:'a' AND amount>1 OR currency:'usd'")]
    #[case::unknown_field("colour:'red'")]
    #[case::unclosed_quote("status:'succeeded")]
    #[case::empty("")]
    #[case::words_in_amount("amount>lots")]
    #[case::refunded_on_payment_intents_is_not_a_field("refunded:'true'")]
    fn refuses_what_it_cannot_read(#[case] query: &str) {
        let err = compile(Kind::PaymentIntent, query).unwrap_err();
        assert_eq!(err.error["param"], "query");
    }
}
