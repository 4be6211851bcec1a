//! QuickBooks Online's wire format: the `Fault` envelope and its codes, the 401 body the
//! gateway in front of the API sends, times written with the company's offset, and
//! amounts (`decimal_json`).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error QBO answers with: HTTP status, `Fault.type`, and one `Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: u32,
    pub message: String,
    pub detail: String,
    pub element: String,
}

impl Fault {
    pub fn validation(code: u32, message: &str, detail: impl Into<String>) -> Fault {
        Fault {
            status: StatusCode::BAD_REQUEST,
            kind: "ValidationFault",
            code,
            message: message.to_string(),
            detail: detail.into(),
            element: String::new(),
        }
    }

    pub fn on(mut self, element: &str) -> Fault {
        self.element = element.to_string();
        self
    }

    /// 2020: a required field is missing.
    pub fn required(field: &str) -> Fault {
        Fault::validation(
            2020,
            "Required param missing, need to supply the required value for the API",
            format!("Required parameter {field} is missing in the request"),
        )
        .on(field)
    }

    /// 610: no such object (or deleted).
    pub fn not_found(entity: &str, id: &str) -> Fault {
        Fault::validation(
            610,
            "Object Not Found",
            format!(
                "Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees. ({entity} {id})"
            ),
        )
    }

    /// 2500: a reference to an object that does not exist.
    pub fn invalid_reference(what: &str, id: &str) -> Fault {
        Fault::validation(
            2500,
            "Invalid Reference Id",
            format!("Invalid Reference Id : {what} {id} does not exist"),
        )
    }

    /// 5010: the `SyncToken` sent is not the object's current one.
    pub fn stale(entity: &str) -> Fault {
        Fault::validation(
            5010,
            "Stale Object Error",
            format!(
                "Stale Object Error : You and another user were working on this at the same time. The other user finished before you did, so your work was not saved. Entity={entity}"
            ),
        )
    }

    /// 6210: the books are closed on the transaction's date.
    pub fn period_closed() -> Fault {
        Fault::validation(
            6210,
            "Account Period Closed",
            "The account period has closed and the account books cannot be updated through the QBO Services API. Please use the QBO website to make these changes.",
        )
    }

    /// 6000: a business rule refuses the request.
    pub fn business(detail: impl Into<String>) -> Fault {
        Fault::validation(
            6000,
            "A business validation error has occurred while processing your request",
            format!("Business Validation Error: {}", detail.into()),
        )
    }

    /// 4000: the query does not parse.
    pub fn query(detail: impl Into<String>) -> Fault {
        Fault::validation(
            4000,
            "Error parsing query",
            format!("QueryParserError: {}", detail.into()),
        )
    }

    /// 3001: too many requests for the company.
    pub fn throttled() -> Fault {
        Fault {
            status: StatusCode::TOO_MANY_REQUESTS,
            kind: "SERVICE",
            code: 3001,
            message: "message=ThrottleExceeded; errorCode=003001; statusCode=429".into(),
            detail: "The request limit was reached.".into(),
            element: String::new(),
        }
    }

    /// 10000: something failed inside the service.
    pub fn internal(detail: impl Into<String>) -> Fault {
        Fault {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "SystemFault",
            code: 10000,
            message: "An application error has occurred while processing your request".into(),
            detail: detail.into(),
            element: String::new(),
        }
    }

    /// The `Fault` envelope QBO answers with.
    pub fn body(&self, time: &str) -> Value {
        json!({
            "Fault": {
                "Error": [{
                    "Message": self.message,
                    "Detail": self.detail,
                    "code": self.code.to_string(),
                    "element": self.element,
                }],
                "type": self.kind,
            },
            "time": time,
        })
    }
}

impl From<crate::sandbox::state::StateError> for Fault {
    fn from(e: crate::sandbox::state::StateError) -> Fault {
        Fault::internal(e.to_string())
    }
}

/// The 401 the gateway in front of QBO sends for a missing, expired or revoked token: a
/// lower-case envelope, not the `Fault` one.
pub fn unauthorized(detail: &str, now_ms: i64) -> Response {
    let body = json!({
        "warnings": null,
        "intuitObject": null,
        "fault": {
            "error": [{
                "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "detail": detail,
                "code": "3200",
                "element": null,
            }],
            "type": "AUTHENTICATION",
        },
        "report": null,
        "queryResponse": null,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": null,
        "requestId": null,
        "time": now_ms,
        "status": null,
        "cdcresponse": [],
    });
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    response.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_static("Bearer realm=\"Intuit\", error=\"invalid_token\""),
    );
    response
}

/// An instant as QBO writes it in `MetaData`: seconds, with the company's offset.
pub fn meta_time(at: jiff::Timestamp, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned(tz).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// The envelope's `time`: milliseconds, with the company's offset.
pub fn envelope_time(at: jiff::Timestamp, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned(tz)
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// The company's date today.
pub fn today(at: jiff::Timestamp, zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    at.to_zoned(tz).date().to_string()
}

/// Reads a time a client compares with (`MetaData.LastUpdatedTime > '…'`): with an offset,
/// or without one in the company's zone (python-quickbooks sends CDC times so).
pub fn parse_time(text: &str, zone: &str) -> Option<jiff::Timestamp> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return dt.to_zoned(tz).ok().map(|z| z.timestamp());
    }
    let date = text.parse::<jiff::civil::Date>().ok()?;
    date.to_zoned(tz).ok().map(|z| z.timestamp())
}

/// An amount a client sent, in cents (see `decimal_json`), refused with QBO's 2170.
pub fn cents(value: &Value, field: &str) -> Result<i64, Fault> {
    if value.is_null() {
        return Err(Fault::required(field));
    }
    crate::sandbox::decimal_json::cents_of(value).ok_or_else(|| {
        Fault::validation(
            2170,
            "Invalid Number",
            format!("Invalid Number : {field} is not a valid amount ({value})"),
        )
        .on(field)
    })
}

pub use crate::sandbox::decimal_json::number as amount;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_carry_the_companys_offset() {
        let at: jiff::Timestamp = "2026-11-03T21:16:17Z".parse().unwrap();
        assert_eq!(
            meta_time(at, "America/Los_Angeles"),
            "2026-11-03T13:16:17-08:00"
        );
        assert_eq!(
            parse_time("2026-11-03T13:16:17", "America/Los_Angeles"),
            Some(at)
        );
        assert_eq!(parse_time("2026-11-03T13:16:17-08:00", "UTC"), Some(at));
    }
}
