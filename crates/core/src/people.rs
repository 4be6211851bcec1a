//! The people who approve actions: names the store knows, each with a passphrase of which
//! only an Argon2id hash is kept.
//!
//! Checking a passphrase is the only way to act as someone; a wrong one is refused (and the
//! caller audits the refusal). This module never stores or prints a passphrase.
//!
//! **Nobody approves alone.** The two-person rule would mean nothing if one person could add a
//! second approver whose passphrase they know, so once the store has an approver, adding a
//! person takes an existing approver's passphrase (a [`Sponsor`]), and the audit log names
//! who added whom. The first person is added freely. A lost passphrase is recovered by an
//! approver adding the person again under a new name (names are never reused, so the audit
//! log stays true); if every approver's passphrase is lost, the books' owner restores the
//! store from a backup taken before, or starts a new store: there is no back door.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::store::{Store, StoreError};

pub use chargeguard_domain::Role;

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
    #[error(
        "adding a person needs an approver of this store to vouch with their passphrase (on the command line: --by NAME); nobody may add a second approver for themselves"
    )]
    NeedsApprover,
    #[error("`{0}` is not an approver, and only an approver may add a person")]
    NotAnApprover(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An existing approver vouching for a new person, with their passphrase.
#[derive(Clone, Copy)]
pub struct Sponsor<'a> {
    pub name: &'a str,
    pub passphrase: &'a str,
}

impl std::fmt::Debug for Sponsor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sponsor({})", self.name)
    }
}

/// Adds a person with a role and a passphrase (kept only as its hash). Once the store has
/// an approver, `sponsor` must be one of them, with their passphrase.
pub fn add_user(
    store: &mut Store,
    name: &str,
    role: Role,
    passphrase: &str,
    sponsor: Option<Sponsor<'_>>,
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
    if let Some(sponsor) = sponsor
        && check_passphrase(store, sponsor.name, sponsor.passphrase)? != Role::Approver
    {
        return Err(PeopleError::NotAnApprover(sponsor.name.to_string()));
    }
    let hash = Argon2::default()
        .hash_password(passphrase.as_bytes())
        .map_err(|e| PeopleError::Hash(e.to_string()))?
        .to_string();
    store.write(|tx| {
        if tx.user(name)?.is_some() {
            return Err(PeopleError::Exists(name.to_string()));
        }
        // Checked in the same transaction that adds: two "first" people added at once are
        // one first person and one refusal.
        let has_approver = tx.users()?.iter().any(|(_, role)| *role == Role::Approver);
        if has_approver && sponsor.is_none() {
            return Err(PeopleError::NeedsApprover);
        }
        tx.insert_user(name, role, &hash, at)?;
        let actor = sponsor.map_or(name, |s| s.name);
        tx.append_audit(
            at,
            actor,
            "user_added",
            &format!("user:{name}"),
            &serde_json::json!({ "role": role.as_str(), "added_by": sponsor.map(|s| s.name) }),
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
            None,
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
        let alice = Some(Sponsor {
            name: "alice",
            passphrase: "correct horse battery",
        });
        assert!(matches!(
            add_user(
                &mut store,
                "alice",
                Role::Approver,
                "another phrase",
                alice,
                now
            ),
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

    #[test]
    fn once_there_is_an_approver_nobody_adds_a_second_one_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        add_user(
            &mut store,
            "carol",
            Role::Bookkeeper,
            "carol's phrase",
            None,
            now,
        )
        .unwrap();
        add_user(
            &mut store,
            "alice",
            Role::Approver,
            "alice's phrase",
            None,
            now,
        )
        .unwrap();
        // Carol wants a second approver whose passphrase she knows.
        assert!(matches!(
            add_user(
                &mut store,
                "mallory",
                Role::Approver,
                "mallory's phrase",
                None,
                now
            ),
            Err(PeopleError::NeedsApprover)
        ));
        let carol = Sponsor {
            name: "carol",
            passphrase: "carol's phrase",
        };
        assert!(matches!(
            add_user(
                &mut store,
                "mallory",
                Role::Approver,
                "mallory's phrase",
                Some(carol),
                now
            ),
            Err(PeopleError::NotAnApprover(_))
        ));
        let guessed = Sponsor {
            name: "alice",
            passphrase: "a guess at it",
        };
        assert!(matches!(
            add_user(
                &mut store,
                "mallory",
                Role::Approver,
                "mallory's phrase",
                Some(guessed),
                now
            ),
            Err(PeopleError::WrongPassphrase(_))
        ));
        assert!(store.read(|tx| tx.user("mallory")).unwrap().is_none());
        let alice = Sponsor {
            name: "alice",
            passphrase: "alice's phrase",
        };
        add_user(
            &mut store,
            "bob",
            Role::Approver,
            "bob's phrase",
            Some(alice),
            now,
        )
        .unwrap();
        let entry = store
            .read(|tx| tx.audit_entries_about("user:bob"))
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(entry.actor, "alice", "the audit log names who added bob");
    }
}
