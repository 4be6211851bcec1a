//! What can go wrong talking to Stripe, in variants a caller can act on.
//!
//! A card decline is a business answer (try another card, or later); an invalid request or
//! an idempotency mismatch is our bug; a rate limit, a 5xx, a timeout or a dropped
//! connection is the weather. The one distinction that protects money is
//! [`StripeError::Indeterminate`]: a create whose request may have taken effect although we
//! never saw the answer. It is *unknown*, never *failed*, and only recovery (a replay with
//! the same idempotency key, or a search by the key in metadata) may decide it.
//!
//! No variant holds the secret key: messages are built from Stripe's answer and our own
//! words only.

use std::time::Duration;

use super::wire::ErrorObject;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StripeError {
    #[error(
        "the card was declined ({}{}){}: {message}; ask the customer for another card or try again later",
        code.as_deref().unwrap_or("card_error"),
        decline_code.as_deref().map(|d| format!(", {d}")).unwrap_or_default(),
        charge.as_deref().map(|c| format!(" on charge {c}")).unwrap_or_default()
    )]
    CardDeclined {
        code: Option<String>,
        decline_code: Option<String>,
        charge: Option<String>,
        payment_intent: Option<String>,
        message: String,
    },
    #[error(
        "Stripe refused the request (HTTP {status}{}{}): {message}",
        code.as_deref().map(|c| format!(", {c}")).unwrap_or_default(),
        param.as_deref().map(|p| format!(", parameter {p}")).unwrap_or_default()
    )]
    InvalidRequest {
        status: u16,
        param: Option<String>,
        code: Option<String>,
        message: String,
    },
    #[error("Stripe has no such object: {message}")]
    NotFound { message: String },
    #[error(
        "{}: {message}",
        if *in_flight { "another request with the same idempotency key is still running at Stripe; try again in a moment" }
        else { "the idempotency key was already used with other parameters (a bug: report it, do not retry with a new key)" }
    )]
    Idempotency { in_flight: bool, message: String },
    #[error(
        "Stripe is rate-limiting this account{}; wait and run the command again",
        retry_after.map(|d| format!(" (it asked to wait {} s)", d.as_secs())).unwrap_or_default()
    )]
    RateLimited { retry_after: Option<Duration> },
    #[error(
        "Stripe did not accept the API key ({message}); run `chargeguard connect` with a valid secret key"
    )]
    Authentication { message: String },
    #[error("Stripe had an internal error (HTTP {status}): {message}; try again later")]
    Api { status: u16, message: String },
    #[error("cannot reach the gateway: {detail}; check the network and the API base URL")]
    Connection { detail: String },
    #[error(
        "the gateway did not answer within {} s; try again, or raise --http-timeout",
        after.as_secs()
    )]
    Timeout { after: Duration },
    #[error("the gateway sent something Chargeguard cannot read ({what}): {detail}")]
    Unreadable { what: String, detail: String },
    #[error("the API base URL {url} is not usable: {detail}")]
    BadApiBase { url: String, detail: String },
    #[error(
        "the outcome of this request is unknown (idempotency key {idempotency_key}): {cause}. It may have taken effect at Stripe; do NOT treat it as failed — recovery will replay it with the same key or find it by the key in metadata"
    )]
    Indeterminate {
        idempotency_key: String,
        cause: Box<StripeError>,
    },
}

impl StripeError {
    /// Whether the gateway gave a definite answer that settles a create for good: a
    /// decline or a refusal (nothing moved, and the same request would get the same "no"),
    /// or an idempotency mismatch (the key is bound to another request). Everything else
    /// (no answer, a 5xx, a rate limit, the key still in flight, a refused secret key)
    /// leaves the outcome open. The one place this is decided: the client's retry loop
    /// and the journal both ask here.
    pub fn is_definite(&self) -> bool {
        matches!(
            self,
            StripeError::CardDeclined { .. }
                | StripeError::InvalidRequest { .. }
                | StripeError::NotFound { .. }
                | StripeError::Idempotency {
                    in_flight: false,
                    ..
                }
        )
    }

    /// Builds the error for an HTTP error answer from its status and Stripe's error object.
    pub fn from_answer(status: u16, error: ErrorObject, retry_after: Option<Duration>) -> Self {
        let message = error
            .message
            .clone()
            .unwrap_or_else(|| format!("HTTP {status} without a message"));
        let kind = error.kind.as_deref().unwrap_or("");
        match (status, kind) {
            (_, "card_error") | (402, _) => StripeError::CardDeclined {
                code: error.code,
                decline_code: error.decline_code,
                charge: error.charge,
                payment_intent: error.payment_intent.map(|p| p.id().to_string()),
                message,
            },
            (409, _) => StripeError::Idempotency {
                in_flight: true,
                message,
            },
            (_, "idempotency_error") => StripeError::Idempotency {
                in_flight: false,
                message,
            },
            (429, _) => StripeError::RateLimited { retry_after },
            (401 | 403, _) | (_, "authentication_error") => StripeError::Authentication { message },
            (404, _) => StripeError::NotFound { message },
            (500.., _) => StripeError::Api { status, message },
            _ => StripeError::InvalidRequest {
                status,
                param: error.param,
                code: error.code,
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn object(kind: &str, code: Option<&str>) -> ErrorObject {
        ErrorObject {
            kind: Some(kind.into()),
            code: code.map(Into::into),
            message: Some("msg".into()),
            ..ErrorObject::default()
        }
    }

    #[rstest]
    #[case::card_declined(402, "card_error", "CardDeclined")]
    #[case::missing_param(400, "invalid_request_error", "InvalidRequest")]
    #[case::key_reused_with_other_params(400, "idempotency_error", "Idempotency")]
    #[case::key_in_flight(409, "idempotency_error", "Idempotency")]
    #[case::rate_limited(429, "invalid_request_error", "RateLimited")]
    #[case::bad_key(401, "invalid_request_error", "Authentication")]
    #[case::no_such_charge(404, "invalid_request_error", "NotFound")]
    #[case::server_error(500, "api_error", "Api")]
    #[case::unavailable(503, "api_error", "Api")]
    fn an_error_answer_is_classified(
        #[case] status: u16,
        #[case] kind: &str,
        #[case] variant: &str,
    ) {
        let err = StripeError::from_answer(status, object(kind, None), None);
        assert!(format!("{err:?}").starts_with(variant), "{err:?}");
    }

    #[test]
    fn an_in_flight_key_is_told_apart_from_a_reused_one() {
        let in_flight = StripeError::from_answer(409, object("idempotency_error", None), None);
        let reused = StripeError::from_answer(400, object("idempotency_error", None), None);
        assert!(matches!(
            in_flight,
            StripeError::Idempotency {
                in_flight: true,
                ..
            }
        ));
        assert!(matches!(
            reused,
            StripeError::Idempotency {
                in_flight: false,
                ..
            }
        ));
    }

    #[test]
    fn an_unknown_outcome_says_not_to_treat_it_as_failed() {
        let err = StripeError::Indeterminate {
            idempotency_key: "cg-refund-1".into(),
            cause: Box::new(StripeError::Timeout {
                after: Duration::from_secs(30),
            }),
        };
        assert!(!err.is_definite());
        let text = err.to_string();
        assert!(
            text.contains("unknown") && text.contains("cg-refund-1"),
            "{text}"
        );
    }
}
