//! Xero's identity service as the stand-in plays it: the authorization that consents at
//! once to every organisation (one consent may connect several; the app then picks one
//! from `/connections`), the token endpoint with the three kinds of client Xero's clients
//! are (Basic, `client_secret_post`, PKCE with an S256 challenge), access tokens for 30
//! minutes, refresh tokens (only with `offline_access`) for 60 days, rotated, the old one
//! kept 30 minutes, and revocation that ends the grant and its connections.

use base64::Engine;
use rusqlite::Transaction;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::state::{self, Tenant};
use super::wire::uuid_like;
use crate::sandbox::state::StateError;

pub const ACCESS_SECONDS: i64 = 1_800;
const REFRESH_SECONDS: i64 = 60 * 86_400;
const CODE_SECONDS: i64 = 300;
const GRACE_SECONDS: i64 = 1_800;

pub fn discovery(base: &str) -> Value {
    json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/identity/connect/authorize"),
        "token_endpoint": format!("{base}/connect/token"),
        "revocation_endpoint": format!("{base}/connect/revocation"),
        "jwks_uri": format!("{base}/.well-known/openid-configuration/jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "profile", "email", "offline_access", "accounting.transactions", "accounting.transactions.read", "accounting.invoices", "accounting.payments", "accounting.settings.read", "accounting.contacts"],
    })
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The client a token request names, and whether it proved itself with a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub with_secret: bool,
}

/// Basic auth, else `client_id` (and `client_secret`) in the form.
pub fn client_of(basic: Option<&str>, form: &[(String, String)]) -> Option<Client> {
    if let Some(id) = crate::sandbox::qbo::oauth::basic_client(basic) {
        return Some(Client {
            id,
            with_secret: true,
        });
    }
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let id = get("client_id").filter(|v| !v.is_empty())?;
    Some(Client {
        id: id.to_string(),
        with_secret: get("client_secret").is_some_and(|s| !s.is_empty()),
    })
}

/// Consent to every organisation: a code, and the grant's connections.
pub fn authorize(
    tx: &Transaction<'_>,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    challenge: Option<&str>,
    now: i64,
) -> Result<String, StateError> {
    let mut tenants = state::tenants(tx)?;
    if tenants.is_empty() {
        let t = default_tenant();
        state::insert_tenant(tx, &t)?;
        tenants.push(t);
    }
    let grant = state::insert_grant(tx, client_id, scope, &uuid_like())?;
    for t in &tenants {
        state::insert_connection(tx, &uuid_like(), grant, &t.tenant, now)?;
    }
    let code = random_token();
    state::insert_token(
        tx,
        &code,
        "code",
        grant,
        now + CODE_SECONDS,
        Some(redirect_uri),
        challenge,
    )?;
    Ok(code)
}

pub fn default_tenant() -> Tenant {
    Tenant {
        tenant: "fe79f7dd-b6d4-4a92-ba7b-538af6289c58".into(),
        name: "Demo Company (US)".into(),
        currency: "USD".into(),
        period_lock_date: None,
        end_of_year_lock_date: None,
    }
}

fn issue(tx: &Transaction<'_>, grant: i64, scope: &str, now: i64) -> Result<Value, StateError> {
    let access = random_token();
    state::insert_token(
        tx,
        &access,
        "access",
        grant,
        now + ACCESS_SECONDS,
        None,
        None,
    )?;
    let mut body = json!({
        "access_token": access,
        "expires_in": ACCESS_SECONDS,
        "token_type": "Bearer",
        "scope": scope,
    });
    if scope.split(' ').any(|s| s == "offline_access") {
        let refresh = random_token();
        state::insert_token(
            tx,
            &refresh,
            "refresh",
            grant,
            now + REFRESH_SECONDS,
            None,
            None,
        )?;
        body["refresh_token"] = json!(refresh);
    }
    Ok(body)
}

/// Why the token endpoint refuses (`{"error": …}`, 400).
pub type TokenError = &'static str;

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `POST /connect/token`.
pub fn token(
    tx: &Transaction<'_>,
    client: Option<Client>,
    form: &[(String, String)],
    now: i64,
) -> Result<Result<Value, TokenError>, StateError> {
    let Some(client) = client else {
        return Ok(Err("invalid_client"));
    };
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (name, kind) = match get("grant_type") {
        Some("authorization_code") => ("code", "code"),
        Some("refresh_token") => ("refresh_token", "refresh"),
        Some(_) => return Ok(Err("unsupported_grant_type")),
        None => return Ok(Err("invalid_request")),
    };
    let Some(presented) = get(name) else {
        return Ok(Err("invalid_request"));
    };
    let Some(found) = state::token(tx, presented)? else {
        return Ok(Err("invalid_grant"));
    };
    if found.kind != kind || found.expires <= now || found.revoked || found.client_id != client.id {
        return Ok(Err("invalid_grant"));
    }
    if kind == "code" {
        if found.used || found.redirect_uri.as_deref() != get("redirect_uri") {
            return Ok(Err("invalid_grant"));
        }
        match (&found.code_challenge, get("code_verifier")) {
            (Some(challenge), Some(verifier)) => {
                let shaped = (43..=128).contains(&verifier.len())
                    && verifier
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
                if !shaped || &s256(verifier) != challenge {
                    return Ok(Err("invalid_grant"));
                }
            }
            (Some(_), None) => return Ok(Err("invalid_grant")),
            (None, _) if !client.with_secret => return Ok(Err("invalid_client")),
            (None, _) => {}
        }
        state::use_token(tx, presented, found.expires)?;
    } else {
        state::use_token(tx, presented, now + GRACE_SECONDS)?;
    }
    Ok(Ok(issue(tx, found.grant, &found.scope, now)?))
}

/// `POST /connect/revocation`: the grant of the token ends, with its connections.
pub fn revoke(tx: &Transaction<'_>, client_id: &str, token: &str) -> Result<(), StateError> {
    if let Some(t) = state::token(tx, token)?
        && t.client_id == client_id
    {
        state::revoke_grant(tx, t.grant)?;
    }
    Ok(())
}

/// The grant behind a live access token, or the 401's detail.
pub fn bearer_grant(
    tx: &Transaction<'_>,
    header: Option<&str>,
    now: i64,
) -> Result<Result<i64, String>, StateError> {
    let Some(token) = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return Ok(Err("AuthenticationUnsuccessful".into()));
    };
    Ok(match state::token(tx, token)? {
        Some(t) if t.kind == "access" && !t.revoked && t.expires > now => Ok(t.grant),
        Some(t) if t.kind == "access" && !t.revoked => {
            let at = jiff::Timestamp::from_second(t.expires).unwrap_or_default();
            Err(format!(
                "TokenExpired: token expired at {}",
                at.to_zoned(jiff::tz::TimeZone::UTC)
                    .strftime("%m/%d/%Y %H:%M:%S")
            ))
        }
        _ => Err("AuthenticationUnsuccessful".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
