//! Clients of the accounting systems a business keeps its books in (issue 19): QuickBooks
//! Online ([`qbo`]) and Xero ([`xero`]), and the consent's loopback redirect
//! ([`redirect`]). Like the Stripe client they
//! speak the real wire format and are tested against the sandbox's stand-ins over HTTP.
//! They never touch the store and never decide what a finding is.

pub mod qbo;
pub mod redirect;
pub mod xero;

use std::fmt;
use std::time::Duration;

/// A plain HTTP client with the timeouts every call to an accounting system has.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("chargeguard/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A token or client secret of an accounting system: shown masked, never whole, in
/// `Debug` and errors; [`BooksSecret::expose`] is for the one header that carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct BooksSecret(String);

impl BooksSecret {
    pub fn new(text: impl Into<String>) -> BooksSecret {
        BooksSecret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BooksSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.0.chars().take(4).collect();
        write!(f, "BooksSecret({shown}…)")
    }
}
