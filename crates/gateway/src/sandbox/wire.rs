//! Stripe's wire format at the sandbox's edge: form-encoded parameters with bracket
//! nesting (`metadata[invoice_number]=INV-1`, `expand[]=latest_charge`,
//! `created[gte]=1700000000`), and Stripe's error object with its status codes.
//!
//! Parameters are decoded by hand rather than through a typed deserializer because the
//! sandbox must answer like Stripe on what a typed parser would swallow: an unknown
//! parameter is a 400 naming it, a non-integer amount is a 400 naming the parameter, and
//! the idempotency fingerprint is taken over exactly what the client sent.
//!
//! This module never touches state: it turns bytes into parameters and errors into JSON.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The answer to one API request: a status and a JSON body. Idempotency records store
/// exactly this, so a replay is byte-for-byte the first answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    pub fn ok(body: Value) -> Answer {
        Answer {
            status: StatusCode::OK,
            body,
        }
    }
}

/// An error in Stripe's shape: `{"error": {"type", "message", "code"?, "param"?, ...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: Map<String, Value>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> ApiError {
        let mut error = Map::new();
        error.insert("type".into(), Value::String(kind.into()));
        error.insert("message".into(), Value::String(message.into()));
        ApiError { status, error }
    }

    /// Adds a field to the error object (`code`, `param`, `decline_code`, `charge`, ...).
    pub fn with(mut self, field: &str, value: impl Into<Value>) -> ApiError {
        self.error.insert(field.into(), value.into());
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn invalid_param(param: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid_request(message).with("param", param)
    }

    pub fn missing_param(param: &str) -> ApiError {
        ApiError::invalid_param(param, format!("Missing required param: {param}."))
            .with("code", "parameter_missing")
    }

    /// 404 `resource_missing`: "No such charge: 'ch_x'".
    pub fn no_such(label: &str, id: &str, param: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("No such {label}: '{id}'"),
        )
        .with("code", "resource_missing")
        .with("param", param)
    }

    pub fn unknown_url(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!(
                "Unrecognized request URL ({method}: {path}). The sandbox serves only the subset of Stripe's API listed in DESIGN.md."
            ),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
    }

    pub fn idempotency(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "idempotency_error", message)
    }

    pub fn key_in_use(key: &str) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            format!(
                "There is currently another in-progress request using this Idempotency Key ('{key}'); that probably means you have a retry in flight. Try again once it has finished."
            ),
        )
        .with("code", "idempotency_key_in_use")
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "api_error", message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "api_error", message)
    }

    pub fn rate_limited() -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request_error",
            "Request rate limit exceeded. Retry after the delay in the Retry-After header.",
        )
        .with("code", "rate_limit")
    }

    pub fn card(message: &str, code: &str) -> ApiError {
        ApiError::new(StatusCode::PAYMENT_REQUIRED, "card_error", message).with("code", code)
    }

    /// The error as Stripe sends it: an error with a code links to that code's page.
    pub fn into_answer(mut self) -> Answer {
        if let Some(code) = self.error.get("code").and_then(Value::as_str)
            && !self.error.contains_key("doc_url")
        {
            let url = format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            );
            self.error.insert("doc_url".into(), Value::String(url));
        }
        let mut outer = Map::new();
        outer.insert("error".into(), Value::Object(self.error));
        Answer {
            status: self.status,
            body: Value::Object(outer),
        }
    }
}

/// Decoded parameters, in the order sent. A key keeps its brackets (`metadata[k]`), so
/// lookups name the parameter the way Stripe's documentation does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

/// Bounds on `created`, from `created=T` or `created[gt|gte|lt|lte]=T`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreatedRange {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl Params {
    /// Decodes `application/x-www-form-urlencoded` text (a body or a query string).
    /// Brackets may arrive literal or percent-encoded; both decode to the same key.
    pub fn parse(text: &str) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        for part in text.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let key = percent_decode(key)?;
            let value = percent_decode(value)?;
            if key.is_empty() {
                return Err(ApiError::invalid_request(
                    "A parameter has an empty name; send `name=value` pairs.",
                ));
            }
            pairs.push((key, value));
        }
        Ok(Params { pairs })
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params { pairs }
    }

    /// The last value sent for `key` (Stripe, like Rails, lets the last one win).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A text parameter; an empty value counts as absent, as Stripe treats `x=` as unset.
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).map(str::to_string)
    }

    pub fn integer(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid_param(key, format!("Invalid integer: {v}"))
                    .with("code", "parameter_invalid_integer")
            }),
        }
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid_param(
                key,
                format!("Invalid boolean: {v}; send `true` or `false`."),
            )),
        }
    }

    /// The entries of a hash parameter: `metadata[a]=1&metadata[b]=2` -> {a: 1, b: 2}.
    pub fn hash(&self, name: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.pairs {
            if let Some(inner) = k
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('['))
                .and_then(|rest| rest.strip_suffix(']'))
                && !inner.is_empty()
                && !inner.contains('[')
            {
                out.insert(inner.to_string(), v.clone());
            }
        }
        out
    }

    /// A nested hash parameter as JSON: `shipping[name]=A&shipping[address][city]=B` ->
    /// {"name": "A", "address": {"city": "B"}}; `None` when nothing under `name` was sent,
    /// `Some(null)` when it was sent empty (`shipping=`, which Stripe reads as unset).
    pub fn object(&self, name: &str) -> Option<Value> {
        let mut out: Option<Value> = None;
        for (k, v) in &self.pairs {
            if k == name && v.is_empty() {
                out = Some(Value::Null);
                continue;
            }
            let Some(rest) = k.strip_prefix(name).filter(|r| r.starts_with('[')) else {
                continue;
            };
            let path: Vec<&str> = rest
                .trim_start_matches('[')
                .trim_end_matches(']')
                .split("][")
                .collect();
            let root = out.get_or_insert_with(|| json!({}));
            if !root.is_object() {
                *root = json!({});
            }
            let mut slot = root;
            for segment in &path[..path.len() - 1] {
                if !slot[*segment].is_object() {
                    slot[*segment] = json!({});
                }
                slot = &mut slot[*segment];
            }
            slot[path[path.len() - 1]] = Value::String(v.clone());
        }
        out
    }

    /// The values of an array parameter, sent as `expand[]=a`, `expand[0]=a` or `expand=a`.
    pub fn array(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| {
                k == name
                    || k.strip_prefix(name)
                        .and_then(|r| r.strip_prefix('['))
                        .and_then(|r| r.strip_suffix(']'))
                        .is_some_and(|i| i.chars().all(|c| c.is_ascii_digit()))
            })
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// `created=T` or `created[gt]=T` etc.
    pub fn created(&self) -> Result<CreatedRange, ApiError> {
        let mut range = CreatedRange::default();
        if let Some(at) = self.integer("created")? {
            range.gte = Some(at);
            range.lte = Some(at);
        }
        for (op, slot) in [
            ("gt", &mut range.gt),
            ("gte", &mut range.gte),
            ("lt", &mut range.lt),
            ("lte", &mut range.lte),
        ] {
            if let Some(v) = self.integer(&format!("created[{op}]"))? {
                *slot = Some(v);
            }
        }
        Ok(range)
    }

    /// The parameters sent, by their root name (`metadata` for `metadata[k]`), in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .map(|(k, _)| k.split('[').next().unwrap_or(k))
    }

    /// Refuses parameters the endpoint does not know, naming the first, as Stripe does.
    pub fn allow_only(&self, known: &[&str]) -> Result<(), ApiError> {
        for (k, _) in &self.pairs {
            let root = k.split('[').next().unwrap_or(k);
            if !known.contains(&root) {
                return Err(ApiError::invalid_param(
                    root,
                    format!("Received unknown parameter: {root}"),
                )
                .with("code", "parameter_unknown"));
            }
        }
        Ok(())
    }

    /// A digest of exactly what was sent, independent of the order of the pairs:
    /// the idempotency check compares it with the first request's.
    pub fn fingerprint(&self) -> String {
        let mut sorted: Vec<&(String, String)> = self.pairs.iter().collect();
        sorted.sort();
        let mut hasher = Sha256::new();
        for (k, v) in sorted {
            hasher.update(k.as_bytes());
            hasher.update([0u8]);
            hasher.update(v.as_bytes());
            hasher.update([0u8]);
        }
        hex::encode(hasher.finalize())
    }
}

fn percent_decode(text: &str) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    // Two hex digits, no sign: `from_str_radix` alone takes `%+f` as 0x0f.
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::invalid_request(format!(
                            "`{text}` holds a `%` that is not followed by two hex digits; percent-encode the parameter."
                        ))
                    })?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::invalid_request(format!("`{text}` does not decode to UTF-8 text.")))
}

/// Decodes the key out of an `Authorization` header: `Bearer KEY`, or HTTP Basic with the
/// key as the user name (how Stripe's older clients and `curl -u KEY:` send it).
pub fn api_key(authorization: Option<&str>) -> Option<String> {
    let header = authorization?.trim();
    if let Some(key) = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
    {
        return Some(key.trim().to_string());
    }
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = base64_decode(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split(':').next().unwrap_or("").to_string())
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' | b'-' => Some(62),
            b'/' | b'_' => Some(63),
            _ => None,
        }
    };
    let data: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    for chunk in data.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        let take = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        out.extend_from_slice(&bytes[1..1 + take]);
    }
    Some(out)
}

/// Stripe's list envelope.
pub fn list_envelope(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({"object": "list", "url": url, "has_more": has_more, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::literal_brackets("metadata[invoice_number]=INV-1")]
    #[case::encoded_brackets("metadata%5Binvoice_number%5D=INV-1")]
    #[case::lower_case_encoding("metadata%5binvoice_number%5d=INV%2d1")]
    fn metadata_reads_the_same_however_brackets_are_sent(#[case] body: &str) {
        let params = Params::parse(body).unwrap();
        assert_eq!(
            params.hash("metadata").get("invoice_number").unwrap(),
            "INV-1"
        );
    }

    #[test]
    fn plus_is_a_space_and_arrays_collect() {
        let params = Params::parse("description=two+words&expand[]=a&expand[]=b.c").unwrap();
        assert_eq!(params.text("description").unwrap(), "two words");
        assert_eq!(params.array("expand"), vec!["a", "b.c"]);
    }

    #[test]
    fn order_of_pairs_does_not_change_the_fingerprint_but_values_do() {
        let a = Params::parse("amount=100&currency=usd").unwrap();
        let b = Params::parse("currency=usd&amount=100").unwrap();
        let c = Params::parse("currency=usd&amount=101").unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[rstest]
    #[case::bearer("Bearer sk_test_abc", "sk_test_abc")]
    #[case::basic_with_colon("Basic c2tfdGVzdF9hYmM6", "sk_test_abc")]
    fn reads_the_key_from_either_scheme(#[case] header: &str, #[case] key: &str) {
        assert_eq!(api_key(Some(header)).unwrap(), key);
    }

    #[test]
    fn a_bad_integer_names_its_parameter() {
        let params = Params::parse("amount=12.5").unwrap();
        let err = params.integer("amount").unwrap_err();
        assert_eq!(err.error["param"], "amount");
    }
}
