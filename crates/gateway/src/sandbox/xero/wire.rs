//! Xero's wire format: the response envelope (`Id`, `Status`, `ProviderName`,
//! `DateTimeUTC`, `pagination`, the plural list), Microsoft JSON dates
//! (`/Date(1539993600000+0000)/`, which xero-python insists on), the
//! `ValidationException` envelope, and the identity service's 401 and 403 bodies.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// An error Xero answers a call with.
#[derive(Debug, Clone, PartialEq)]
pub struct XeroError {
    pub status: StatusCode,
    pub body: Value,
}

impl XeroError {
    /// 400 `ValidationException`: each message on the element it is about.
    pub fn validation(element: Value, messages: &[String]) -> XeroError {
        let mut element = element;
        element["ValidationErrors"] = json!(
            messages
                .iter()
                .map(|m| json!({"Message": m}))
                .collect::<Vec<_>>()
        );
        XeroError {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "ErrorNumber": 10,
                "Type": "ValidationException",
                "Message": "A validation exception occurred",
                "Elements": [element],
            }),
        }
    }

    /// A validation error about the request as a whole.
    pub fn invalid(message: impl Into<String>) -> XeroError {
        XeroError::validation(json!({}), &[message.into()])
    }

    pub fn not_found(what: &str) -> XeroError {
        XeroError {
            status: StatusCode::NOT_FOUND,
            body: json!({"Title": "Not Found", "Status": 404, "Detail": format!("The resource you're looking for cannot be found ({what})")}),
        }
    }

    pub fn internal(detail: impl Into<String>) -> XeroError {
        XeroError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: json!({"Title": "An error occurred", "Status": 500, "Detail": detail.into()}),
        }
    }

    /// The identity service's refusal of a token (401) or of a tenant (403).
    pub fn identity(status: StatusCode, detail: impl Into<String>) -> XeroError {
        let title = if status == StatusCode::FORBIDDEN {
            "Forbidden"
        } else {
            "Unauthorized"
        };
        XeroError {
            status,
            body: json!({
                "Type": null,
                "Title": title,
                "Status": status.as_u16(),
                "Detail": detail.into(),
                "Instance": uuid_like(),
                "Extensions": {},
            }),
        }
    }
}

impl From<crate::sandbox::state::StateError> for XeroError {
    fn from(e: crate::sandbox::state::StateError) -> XeroError {
        XeroError::internal(e.to_string())
    }
}

/// A random id in a UUID's shape (Xero's ids are UUIDs).
pub fn uuid_like() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// A date as Xero writes it: midnight UTC of the day, `/Date(ms+0000)/`.
pub fn ms_date(date: jiff::civil::Date) -> String {
    let ms = date
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(0);
    format!("/Date({ms}+0000)/")
}

/// An instant as Xero writes `UpdatedDateUTC`.
pub fn ms_time(at: jiff::Timestamp) -> String {
    format!("/Date({}+0000)/", at.as_millisecond())
}

/// Reads a date a client sent: `YYYY-MM-DD`, an ISO date-time, or `/Date(ms[±hhmm])/`.
pub fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    if let Some(inner) = text
        .strip_prefix("/Date(")
        .and_then(|t| t.strip_suffix(")/"))
    {
        let digits: String = inner
            .chars()
            .enumerate()
            .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
            .map(|(_, c)| c)
            .collect();
        let ms: i64 = digits.parse().ok()?;
        let at = jiff::Timestamp::from_millisecond(ms).ok()?;
        return Some(at.to_zoned(jiff::tz::TimeZone::UTC).date());
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return Some(d);
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return Some(dt.date());
    }
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// Reads `If-Modified-Since`: ISO with or without a zone (naive is UTC).
pub fn parse_since(text: &str) -> Option<jiff::Timestamp> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    // RFC 7231's HTTP date, as a plain HTTP client would send the header.
    jiff::fmt::rfc2822::parse(text).ok().map(|z| z.timestamp())
}

/// The millisecond instant inside a `/Date(ms…)/`.
pub fn ms_of(text: &str) -> Option<i64> {
    let inner = text.strip_prefix("/Date(")?;
    let digits: String = inner.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// The envelope every answer has, around `plural` and its rows.
pub fn envelope(
    plural: &str,
    rows: Vec<Value>,
    pagination: Option<Value>,
    now: jiff::Timestamp,
) -> Value {
    let mut body = json!({
        "Id": uuid_like(),
        "Status": "OK",
        "ProviderName": "Chargeguard sandbox",
        "DateTimeUTC": format!("/Date({})/", now.as_millisecond()),
    });
    if let Some(p) = pagination {
        body["pagination"] = p;
    }
    body[plural] = json!(rows);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_in_every_form_clients_send_and_write_as_microsoft_dates() {
        let day: jiff::civil::Date = "2018-10-20".parse().unwrap();
        assert_eq!(ms_date(day), "/Date(1539993600000+0000)/");
        for sent in [
            "2018-10-20",
            "2018-10-20T00:00:00",
            "/Date(1539993600000+0000)/",
            "/Date(1539993600000)/",
        ] {
            assert_eq!(parse_date(sent), Some(day), "{sent}");
        }
        assert_eq!(
            parse_since("2020-02-06T12:17:43.202-08:00")
                .unwrap()
                .to_string(),
            "2020-02-06T20:17:43.202Z"
        );
        assert_eq!(
            parse_since("2024-06-01T00:00:00").unwrap().to_string(),
            "2024-06-01T00:00:00Z"
        );
        assert_eq!(ms_of("/Date(1541176290160+0000)/"), Some(1_541_176_290_160));
    }
}
