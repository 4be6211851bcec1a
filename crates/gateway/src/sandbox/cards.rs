//! Stripe's test payment methods: the token a client sends (`pm_card_visa`,
//! `pm_card_chargeDeclined`, ...) decides the card shown and the outcome of every charge on
//! it, exactly as in Stripe's test mode. The tokens and messages follow Stripe's
//! documentation ("Testing", "Declined payments").
//!
//! This is the only place an outcome is decided; it never looks at amounts or customers.

use serde_json::{Value, json};

use super::disputes::Disputed;

/// What charging a test card does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeds,
    Declines(Decline),
}

/// A decline as Stripe reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline {
    /// The error `code` and the charge's `failure_code`.
    pub code: &'static str,
    /// The error's `decline_code` and the outcome's `reason`, where Stripe gives one.
    pub decline_code: Option<&'static str>,
    pub message: &'static str,
    pub seller_message: &'static str,
}

/// A test card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCard {
    pub brand: &'static str,
    pub last4: &'static str,
    pub funding: &'static str,
    pub outcome: Outcome,
    /// The dispute a succeeded charge on this card opens at once (Stripe's dispute cards).
    pub dispute: Option<Disputed>,
}

const GENERIC: Decline = Decline {
    code: "card_declined",
    decline_code: Some("generic_decline"),
    message: "Your card was declined.",
    seller_message: "The bank did not return any further details with this decline.",
};

/// The card behind a test token, or `None` for a token Stripe does not define.
pub fn test_card(token: &str) -> Option<TestCard> {
    let ok = |brand, last4, funding| TestCard {
        brand,
        last4,
        funding,
        outcome: Outcome::Succeeds,
        dispute: None,
    };
    let disputed = |last4, dispute: Disputed| TestCard {
        brand: "visa",
        last4,
        funding: "credit",
        outcome: Outcome::Succeeds,
        dispute: Some(dispute),
    };
    let declined = |last4, decline: Decline| TestCard {
        brand: "visa",
        last4,
        funding: "credit",
        outcome: Outcome::Declines(decline),
        dispute: None,
    };
    Some(match token {
        "pm_card_visa" => ok("visa", "4242", "credit"),
        "pm_card_visa_debit" => ok("visa", "5556", "debit"),
        "pm_card_mastercard" => ok("mastercard", "4444", "credit"),
        "pm_card_amex" => ok("amex", "8431", "credit"),
        "pm_card_discover" => ok("discover", "1117", "credit"),
        "pm_card_createDispute" => disputed(
            "0259",
            Disputed {
                reason: "fraudulent",
                network_reason_code: "10.4",
                inquiry: false,
            },
        ),
        "pm_card_createDisputeProductNotReceived" => disputed(
            "2685",
            Disputed {
                reason: "product_not_received",
                network_reason_code: "13.1",
                inquiry: false,
            },
        ),
        "pm_card_createDisputeInquiry" => disputed(
            "1976",
            Disputed {
                reason: "general",
                network_reason_code: "10",
                inquiry: true,
            },
        ),
        "pm_card_chargeDeclined" => declined("0002", GENERIC),
        "pm_card_chargeDeclinedInsufficientFunds" => declined(
            "9995",
            Decline {
                code: "card_declined",
                decline_code: Some("insufficient_funds"),
                message: "Your card has insufficient funds.",
                seller_message: "The bank returned the decline code `insufficient_funds`.",
            },
        ),
        "pm_card_chargeDeclinedLostCard" => declined(
            "9987",
            Decline {
                code: "card_declined",
                decline_code: Some("lost_card"),
                message: "Your card was declined.",
                seller_message: "The bank returned the decline code `lost_card`.",
            },
        ),
        "pm_card_chargeDeclinedStolenCard" => declined(
            "9979",
            Decline {
                code: "card_declined",
                decline_code: Some("stolen_card"),
                message: "Your card was declined.",
                seller_message: "The bank returned the decline code `stolen_card`.",
            },
        ),
        "pm_card_chargeDeclinedFraudulent" => declined(
            "0019",
            Decline {
                code: "card_declined",
                decline_code: Some("fraudulent"),
                message: "Your card was declined.",
                seller_message: "Stripe blocked this payment as too risky.",
            },
        ),
        "pm_card_chargeDeclinedExpiredCard" => declined(
            "0069",
            Decline {
                code: "expired_card",
                decline_code: Some("expired_card"),
                message: "Your card has expired.",
                seller_message: "The bank returned the decline code `expired_card`.",
            },
        ),
        "pm_card_chargeDeclinedIncorrectCvc" => declined(
            "0127",
            Decline {
                code: "incorrect_cvc",
                decline_code: Some("incorrect_cvc"),
                message: "Your card's security code is incorrect.",
                seller_message: "The bank returned the decline code `incorrect_cvc`.",
            },
        ),
        "pm_card_chargeDeclinedProcessingError" => declined(
            "0119",
            Decline {
                code: "processing_error",
                decline_code: Some("processing_error"),
                message: "An error occurred while processing your card. Try again in a little bit.",
                seller_message: "The bank returned the decline code `processing_error`.",
            },
        ),
        _ => return None,
    })
}

impl TestCard {
    /// The `card` hash of a payment method and of a charge's `payment_method_details`.
    pub fn card_json(&self) -> Value {
        json!({
            "brand": self.brand,
            "last4": self.last4,
            "funding": self.funding,
            "exp_month": 12,
            "exp_year": 2034,
            "country": "US",
        })
    }

    /// The charge's `outcome` hash.
    pub fn outcome_json(&self) -> Value {
        match self.outcome {
            Outcome::Succeeds => json!({
                "network_status": "approved_by_network",
                "reason": null,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            }),
            Outcome::Declines(d) => json!({
                "network_status": "declined_by_network",
                "reason": d.decline_code,
                "risk_level": "normal",
                "seller_message": d.seller_message,
                "type": "issuer_declined",
            }),
        }
    }
}
