//! The people who approve actions: names the store knows, each with a passphrase of which
//! only an Argon2id hash is kept.
//!
//! Checking a passphrase is the only way to act as someone; a wrong one is refused (and the
//! caller audits the refusal). This module never stores or prints a passphrase.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May approve actions.
    Approver,
    /// May propose and execute, not approve.
    Bookkeeper,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Approver => "approver",
            Role::Bookkeeper => "bookkeeper",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "approver" => Some(Role::Approver),
            "bookkeeper" => Some(Role::Bookkeeper),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error("`{0}` is not a person this store knows; add them with `chargeguard user add {0}`")]
    Unknown(String),
    #[error("wrong passphrase for `{0}`")]
    WrongPassphrase(String),
    #[error("`{0}` already exists")]
    Exists(String),
    #[error("a passphrase must have at least 8 characters")]
    WeakPassphrase,
    #[error("a name must be 1 to 64 letters, digits, `.`, `_` or `-`")]
    BadName,
    #[error("cannot hash the passphrase: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds a person with a role and a passphrase (kept only as its hash).
pub fn add_user(
    store: &mut Store,
    name: &str,
    role: Role,
    passphrase: &str,
    at: jiff::Timestamp,
) -> Result<(), PeopleError> {
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid_name {
        return Err(PeopleError::BadName);
    }
    if passphrase.chars().count() < 8 {
        return Err(PeopleError::WeakPassphrase);
    }
    let hash = Argon2::default()
        .hash_password(passphrase.as_bytes())
        .map_err(|e| PeopleError::Hash(e.to_string()))?
        .to_string();
    store.write(|tx| {
        if tx.user(name)?.is_some() {
            return Err(PeopleError::Exists(name.to_string()));
        }
        tx.insert_user(name, role, &hash, at)?;
        tx.append_audit(
            at,
            name,
            "user_added",
            &format!("user:{name}"),
            &serde_json::json!({ "role": role.as_str() }),
        )?;
        Ok(())
    })
}

/// Checks `passphrase` against the stored hash of `name`; returns the person's role.
pub fn check_passphrase(
    store: &mut Store,
    name: &str,
    passphrase: &str,
) -> Result<Role, PeopleError> {
    let Some((role, hash)) = store.read(|tx| tx.user(name))? else {
        return Err(PeopleError::Unknown(name.to_string()));
    };
    let parsed = PasswordHash::new(&hash).map_err(|e| PeopleError::Hash(e.to_string()))?;
    Argon2::default()
        .verify_password(passphrase.as_bytes(), &parsed)
        .map_err(|_| PeopleError::WrongPassphrase(name.to_string()))?;
    Ok(role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passphrase_is_checked_and_never_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cg.db");
        let mut store = Store::open(&path).unwrap();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        add_user(
            &mut store,
            "alice",
            Role::Approver,
            "correct horse battery",
            now,
        )
        .unwrap();
        assert_eq!(
            check_passphrase(&mut store, "alice", "correct horse battery").unwrap(),
            Role::Approver
        );
        assert!(matches!(
            check_passphrase(&mut store, "alice", "wrong horse battery"),
            Err(PeopleError::WrongPassphrase(_))
        ));
        assert!(matches!(
            check_passphrase(&mut store, "bob", "whatever12"),
            Err(PeopleError::Unknown(_))
        ));
        assert!(matches!(
            add_user(&mut store, "alice", Role::Approver, "another phrase", now),
            Err(PeopleError::Exists(_))
        ));
        drop(store);
        let mut bytes = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(dir.path().join("cg.db-wal")) {
            bytes.extend(wal);
        }
        let needle = b"correct horse battery";
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
}
