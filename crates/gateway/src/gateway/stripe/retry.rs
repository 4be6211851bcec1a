//! When to try a Stripe request again, and after how long: one pure function,
//! [`RetryPolicy::decide`], so the whole policy reads (and is tested) as one table.
//!
//! It follows Stripe's own clients (stripe-go `shouldRetry`, stripe-node `_shouldRetry`):
//! - a `Stripe-Should-Retry` header decides first, either way: the API knows whether a
//!   retry would be a no-op (`false`) or is safe, e.g. after a lock timeout (`true`);
//! - 409 (the same idempotency key still in flight) is retried;
//! - 429 is retried after `Retry-After` when the server names a wait we are willing to
//!   honour (a longer one ends the call: the person sees "rate limited" and can run again);
//! - 5xx is retried;
//! - a connection that failed or dropped, or a timeout, is retried;
//! - nothing else (a 4xx is the same answer every time).
//!
//! Waits grow exponentially from `base`, capped at `cap`, with 75–100 % jitter so that
//! clients that failed together do not come back together. A money-moving request is
//! retried with the same idempotency key: that is the caller's (`client.rs`) job, and why
//! retrying a create is safe at all. This module never sleeps and never sends anything.

use std::time::Duration;

/// What one attempt came back with, as far as retrying goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The server answered with an error status.
    Answered {
        status: u16,
        /// The `Stripe-Should-Retry` header, when present.
        should_retry: Option<bool>,
        /// The `Retry-After` header, when present and in seconds.
        retry_after: Option<Duration>,
    },
    /// The connection could not be made: the request never left.
    ConnectFailed,
    /// The request was (or may have been) sent, and no answer came: dropped or timed out.
    NoAnswer,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after `after`; `jitter` when the wait is ours to spread (not one the
    /// server named).
    Retry { after: Duration, jitter: bool },
    /// Give up and return this attempt's error.
    Stop,
}

/// The knobs of the policy. [`RetryPolicy::default`] is what runs against Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// The longest `Retry-After` honoured; a longer one stops the call.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The decision after attempt number `attempt` (1 for the first) failed with `outcome`.
    pub fn decide(&self, attempt: u32, outcome: &AttemptOutcome) -> RetryDecision {
        if attempt >= self.max_attempts {
            return RetryDecision::Stop;
        }
        let backoff = RetryDecision::Retry {
            after: self.backoff(attempt),
            jitter: true,
        };
        match *outcome {
            AttemptOutcome::ConnectFailed | AttemptOutcome::NoAnswer => backoff,
            AttemptOutcome::Answered {
                should_retry: Some(false),
                ..
            } => RetryDecision::Stop,
            AttemptOutcome::Answered {
                status,
                should_retry,
                retry_after,
            } => {
                let retryable =
                    should_retry == Some(true) || status == 409 || status == 429 || status >= 500;
                if !retryable {
                    return RetryDecision::Stop;
                }
                match retry_after {
                    Some(wait) if wait > self.max_retry_after => RetryDecision::Stop,
                    // The server's wait is a floor: never come back sooner than asked, nor
                    // sooner than our own backoff.
                    Some(wait) => RetryDecision::Retry {
                        after: wait.max(self.backoff(attempt)),
                        jitter: false,
                    },
                    None => backoff,
                }
            }
        }
    }

    /// `base · 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// Spreads a wait over 75–100 % of itself; `unit` in `[0, 1)` is the random draw, passed in
/// so this stays testable.
pub fn jittered(after: Duration, unit: f64) -> Duration {
    let unit = unit.clamp(0.0, 1.0);
    after.mul_f64(1.0 - 0.25 * unit)
}

/// The `Retry-After` header in seconds (Stripe sends whole seconds; an HTTP date is not
/// honoured and falls back to our own backoff).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn answered(
        status: u16,
        should_retry: Option<bool>,
        retry_after: Option<u64>,
    ) -> AttemptOutcome {
        AttemptOutcome::Answered {
            status,
            should_retry,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn retry(after: Duration) -> RetryDecision {
        RetryDecision::Retry {
            after,
            jitter: true,
        }
    }

    fn wait_as_told(after: Duration) -> RetryDecision {
        RetryDecision::Retry {
            after,
            jitter: false,
        }
    }

    #[rstest]
    #[case::server_error_is_retried(1, answered(500, None, None), retry(ms(500)))]
    #[case::unavailable_is_retried(1, answered(503, None, None), retry(ms(500)))]
    #[case::server_error_the_api_says_not_to_retry(
        1,
        answered(500, Some(false), None),
        RetryDecision::Stop
    )]
    #[case::bad_request_the_api_says_to_retry(1, answered(400, Some(true), None), retry(ms(500)))]
    #[case::idempotency_key_in_flight(1, answered(409, None, None), retry(ms(500)))]
    #[case::rate_limited_without_retry_after(1, answered(429, None, None), retry(ms(500)))]
    #[case::rate_limited_waits_as_told(1, answered(429, None, Some(3)), wait_as_told(ms(3000)))]
    #[case::retry_after_shorter_than_backoff(
        4,
        answered(429, None, Some(1)),
        wait_as_told(ms(4000))
    )]
    #[case::retry_after_too_long_stops(1, answered(429, None, Some(3600)), RetryDecision::Stop)]
    #[case::rate_limited_the_api_says_not_to_retry(
        1,
        answered(429, Some(false), Some(1)),
        RetryDecision::Stop
    )]
    #[case::card_declined_is_final(1, answered(402, None, None), RetryDecision::Stop)]
    #[case::bad_request_is_final(1, answered(400, None, None), RetryDecision::Stop)]
    #[case::bad_key_is_final(1, answered(401, None, None), RetryDecision::Stop)]
    #[case::not_found_is_final(1, answered(404, None, None), RetryDecision::Stop)]
    #[case::connection_refused_is_retried(1, AttemptOutcome::ConnectFailed, retry(ms(500)))]
    #[case::no_answer_is_retried(1, AttemptOutcome::NoAnswer, retry(ms(500)))]
    #[case::backoff_doubles(2, AttemptOutcome::NoAnswer, retry(ms(1000)))]
    #[case::backoff_doubles_again(3, answered(503, None, None), retry(ms(2000)))]
    #[case::backoff_is_capped(4, answered(500, None, None), retry(ms(4000)))]
    #[case::last_attempt_stops(5, answered(500, None, None), RetryDecision::Stop)]
    #[case::last_attempt_stops_even_when_told_to_retry(
        5,
        answered(500, Some(true), None),
        RetryDecision::Stop
    )]
    fn decide(
        #[case] attempt: u32,
        #[case] outcome: AttemptOutcome,
        #[case] expected: RetryDecision,
    ) {
        let policy = RetryPolicy {
            max_attempts: 5,
            base: ms(500),
            cap: ms(4000),
            max_retry_after: Duration::from_secs(60),
        };
        assert_eq!(policy.decide(attempt, &outcome), expected);
    }

    #[test]
    fn a_huge_attempt_number_does_not_overflow() {
        let policy = RetryPolicy {
            max_attempts: u32::MAX,
            ..RetryPolicy::default()
        };
        assert_eq!(
            policy.decide(200, &AttemptOutcome::NoAnswer),
            retry(policy.cap)
        );
    }

    #[rstest]
    #[case::no_jitter_drawn(0.0, ms(1000))]
    #[case::half(0.5, ms(875))]
    #[case::most(1.0, ms(750))]
    fn jitter_stays_within_three_quarters(#[case] unit: f64, #[case] expected: Duration) {
        assert_eq!(jittered(ms(1000), unit), expected);
    }

    #[rstest]
    #[case::seconds("2", Some(Duration::from_secs(2)))]
    #[case::padded(" 10 ", Some(Duration::from_secs(10)))]
    #[case::http_date("Wed, 21 Oct 2015 07:28:00 GMT", None)]
    fn retry_after_is_read_in_seconds(#[case] text: &str, #[case] expected: Option<Duration>) {
        assert_eq!(parse_retry_after(text), expected);
    }
}
