//! What a server on loopback checks before it answers: that the request was addressed to a
//! loopback name, so a web page on another site cannot reach it through DNS rebinding (a
//! name of theirs that resolves to 127.0.0.1 still arrives with their `Host`). Shared by
//! the sandbox gateway and the app's `ui-server`; it decides nothing else.

use axum::http::{HeaderMap, header};

/// Whether the request's `Host` is `127.0.0.1`, `localhost` or `[::1]`, with or without a
/// port. A request without a `Host` is not.
pub fn is_loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_loopback_names_pass() {
        for ok in ["127.0.0.1:4242", "localhost", "[::1]:80", "127.0.0.1"] {
            assert!(is_loopback_host(&host(ok)), "{ok}");
        }
        for no in [
            "evil.example:4242",
            "127.0.0.1.evil.example",
            "localhost.evil:1",
            "[::1]x",
        ] {
            assert!(!is_loopback_host(&host(no)), "{no}");
        }
        assert!(!is_loopback_host(&HeaderMap::new()));
    }
}
