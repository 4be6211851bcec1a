//! Intuit's OAuth 2.0 as the stand-in plays it: the discovery document intuit-oauth reads
//! first, an authorization that consents at once to the company (the redirect carries
//! `code`, `state` and `realmId`), the token endpoint (client credentials in Basic auth;
//! codes used once, within ten minutes and for the same redirect; access tokens for an
//! hour; refresh tokens for 100 days, rotated, the old one kept 24 hours), and revocation
//! (the whole grant, from either token). Tokens are random and kept only in the sandbox's
//! state file.

use base64::Engine;
use rusqlite::Transaction;
use serde_json::{Value, json};

use super::state::{self, Company};
use crate::sandbox::state::StateError;

pub const ACCESS_SECONDS: i64 = 3_600;
pub const REFRESH_SECONDS: i64 = 100 * 86_400;
const CODE_SECONDS: i64 = 600;
const ROTATED_REFRESH_SECONDS: i64 = 86_400;
pub const SCOPE: &str = "com.intuit.quickbooks.accounting";

/// The discovery document, pointing at this sandbox.
pub fn discovery(base: &str) -> Value {
    json!({
        "issuer": format!("{base}/op/v1"),
        "authorization_endpoint": format!("{base}/connect/oauth2"),
        "token_endpoint": format!("{base}/oauth2/v1/tokens/bearer"),
        "userinfo_endpoint": format!("{base}/v1/openid_connect/userinfo"),
        "revocation_endpoint": format!("{base}/v2/oauth2/tokens/revoke"),
        "jwks_uri": format!("{base}/op/v1/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone", SCOPE],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    })
}

fn random_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

/// Why the token endpoint refuses: OAuth's error codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// 401: no or bad client credentials.
    InvalidClient,
    /// 400: the code or refresh token is unknown, used, expired, revoked or another's.
    InvalidGrant,
    /// 400: a parameter is missing.
    InvalidRequest(String),
    /// 400: neither `authorization_code` nor `refresh_token`.
    UnsupportedGrantType,
    State(String),
}

impl From<StateError> for TokenError {
    fn from(e: StateError) -> TokenError {
        TokenError::State(e.to_string())
    }
}

/// `Authorization: Basic base64(client_id:client_secret)` → the client id.
pub fn basic_client(header: Option<&str>) -> Option<String> {
    let encoded = header?.strip_prefix("Basic ")?.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    (!id.is_empty() && !secret.is_empty()).then(|| id.to_string())
}

/// The consent: a code for `client_id` to the first company, redirecting to `redirect_uri`.
pub fn authorize(
    tx: &Transaction<'_>,
    client_id: &str,
    redirect_uri: &str,
    now: i64,
) -> Result<(String, Company), StateError> {
    let company = match state::first_company(tx)? {
        Some(c) => c,
        None => {
            let c = default_company();
            state::insert_company(tx, &c)?;
            c
        }
    };
    let grant = state::insert_grant(tx, &company.realm, client_id)?;
    let code = random_token("AB11");
    state::insert_token(
        tx,
        &code,
        "code",
        grant,
        now + CODE_SECONDS,
        Some(redirect_uri),
    )?;
    Ok((code, company))
}

/// The company a fresh sandbox consents to.
pub fn default_company() -> Company {
    Company {
        realm: "9341453100000001".into(),
        name: "Sandbox Company_US_1".into(),
        currency: "USD".into(),
        zone: "America/Los_Angeles".into(),
        book_close_date: None,
    }
}

fn issue(tx: &Transaction<'_>, grant: i64, now: i64) -> Result<Value, StateError> {
    let access = random_token("eyJsandbox.");
    let refresh = random_token("RT1-");
    state::insert_token(tx, &access, "access", grant, now + ACCESS_SECONDS, None)?;
    state::insert_token(tx, &refresh, "refresh", grant, now + REFRESH_SECONDS, None)?;
    Ok(json!({
        "token_type": "bearer",
        "access_token": access,
        "expires_in": ACCESS_SECONDS,
        "refresh_token": refresh,
        "x_refresh_token_expires_in": REFRESH_SECONDS,
    }))
}

/// `POST /oauth2/v1/tokens/bearer`.
pub fn token(
    tx: &Transaction<'_>,
    client_id: Option<String>,
    form: &[(String, String)],
    now: i64,
) -> Result<Value, TokenError> {
    let client_id = client_id.ok_or(TokenError::InvalidClient)?;
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let grant_type =
        get("grant_type").ok_or_else(|| TokenError::InvalidRequest("grant_type".into()))?;
    let (name, kind) = match grant_type {
        "authorization_code" => ("code", "code"),
        "refresh_token" => ("refresh_token", "refresh"),
        _ => return Err(TokenError::UnsupportedGrantType),
    };
    let presented = get(name).ok_or_else(|| TokenError::InvalidRequest(name.into()))?;
    let found = state::token(tx, presented)?.ok_or(TokenError::InvalidGrant)?;
    let live = found.kind == kind && found.expires > now && !found.revoked;
    if !live || found.client_id != client_id {
        return Err(TokenError::InvalidGrant);
    }
    if kind == "code" {
        if found.used {
            // A code replayed: Intuit refuses it (and the grant stays as it was).
            return Err(TokenError::InvalidGrant);
        }
        let redirect =
            get("redirect_uri").ok_or_else(|| TokenError::InvalidRequest("redirect_uri".into()))?;
        if found.redirect_uri.as_deref() != Some(redirect) {
            return Err(TokenError::InvalidGrant);
        }
        state::use_token(tx, presented, found.expires)?;
    } else {
        state::use_token(tx, presented, now + ROTATED_REFRESH_SECONDS)?;
    }
    Ok(issue(tx, found.grant, now)?)
}

/// `POST /v2/oauth2/tokens/revoke`: ends the grant either token belongs to.
pub fn revoke(tx: &Transaction<'_>, client_id: &str, token: &str) -> Result<bool, StateError> {
    match state::token(tx, token)? {
        Some(t) if t.client_id == client_id => {
            state::revoke_grant(tx, t.grant)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Why an API call's bearer token is refused (the 401's detail).
pub fn check_bearer(
    tx: &Transaction<'_>,
    header: Option<&str>,
    realm: &str,
    now: i64,
) -> Result<Result<(), String>, StateError> {
    let Some(token) = header
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return Ok(Err("Authorization header missing or not Bearer".into()));
    };
    let Some(found) = state::token(tx, token)? else {
        return Ok(Err(format!("Token invalid: {}", clip(token))));
    };
    Ok(if found.kind != "access" {
        Err(format!("Token invalid: {}", clip(token)))
    } else if found.revoked {
        Err(format!("Token revoked: {}", clip(token)))
    } else if found.expires <= now {
        Err(format!("Token expired: {}", clip(token)))
    } else if found.realm != realm {
        Err(format!("Token not valid for company {realm}"))
    } else {
        Ok(())
    })
}

fn clip(token: &str) -> String {
    token.chars().take(12).collect::<String>() + "…"
}
