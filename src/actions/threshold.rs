//! The approval threshold: above it a refund or re-charge needs a second, different
//! approver (`journal::approvals_needed` reads it). Changing it weakens or strengthens that
//! control, so it is an approver's sign-off, checked with their passphrase and audited in
//! the same transaction as the change, like any other step that decides who may move money.

use serde_json::json;

use super::ActionError;
use super::journal::{APPROVAL_THRESHOLD_SETTING, DEFAULT_APPROVAL_THRESHOLD};
use crate::people::{self, Role};
use crate::store::{Store, StoreTx};

/// The threshold in major units for every currency without its own
/// (`approval_threshold.CODE`), and whether it is the built-in default.
pub fn approval_threshold(tx: &StoreTx<'_>) -> Result<(i64, bool), ActionError> {
    let set = tx
        .setting(APPROVAL_THRESHOLD_SETTING)?
        .and_then(|v| v.trim().parse::<i64>().ok());
    Ok(match set {
        Some(major) => (major, false),
        None => (DEFAULT_APPROVAL_THRESHOLD, true),
    })
}

/// Sets the threshold to `major` whole units (`"500"`: above 500.00 USD, 500 JPY, 500.000
/// KWD two approvers are needed), as approver `by`. A value that is not a whole number of
/// at least 0 is refused with what to type instead.
pub fn set_approval_threshold(
    store: &mut Store,
    major: &str,
    by: &str,
    passphrase: &str,
    at: jiff::Timestamp,
) -> Result<i64, ActionError> {
    let text = major.trim();
    let value: i64 = text
        .parse()
        .ok()
        .filter(|v: &i64| *v >= 0 && !text.starts_with('+'))
        .ok_or_else(|| {
            ActionError::Refused(format!(
                "`{major}` is not a whole amount; type the threshold in whole units without separators or decimals, like 500"
            ))
        })?;
    match people::check_passphrase(store, by, passphrase)? {
        Role::Approver => {}
        Role::Bookkeeper => return Err(ActionError::NotAnApprover(by.to_string())),
    }
    store.write(|tx| {
        let (before, _) = approval_threshold(tx)?;
        tx.set_setting(APPROVAL_THRESHOLD_SETTING, &value.to_string())?;
        tx.append_audit(
            at,
            by,
            "approval_threshold_set",
            "setting:approval_threshold",
            &json!({ "from": before, "to": value }),
        )?;
        Ok(value)
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn store_with_people(dir: &tempfile::TempDir) -> Store {
        let mut store = Store::open(&dir.path().join("cg.db")).unwrap();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        people::add_user(
            &mut store,
            "alice",
            Role::Approver,
            "correct horse battery",
            None,
            now,
        )
        .unwrap();
        people::add_user(
            &mut store,
            "bob",
            Role::Bookkeeper,
            "another passphrase",
            Some(people::Sponsor {
                name: "alice",
                passphrase: "correct horse battery",
            }),
            now,
        )
        .unwrap();
        store
    }

    #[test]
    fn an_approver_sets_the_threshold_and_the_change_is_audited() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_people(&dir);
        let at = jiff::Timestamp::from_second(1_800_000_100).unwrap();
        assert_eq!(
            store.read(approval_threshold).unwrap(),
            (DEFAULT_APPROVAL_THRESHOLD, true)
        );
        let set = set_approval_threshold(&mut store, " 250 ", "alice", "correct horse battery", at)
            .unwrap();
        assert_eq!(set, 250);
        assert_eq!(store.read(approval_threshold).unwrap(), (250, false));
        let entries = store.read(|tx| tx.audit_entries(None, None)).unwrap();
        let last = entries.last().unwrap();
        assert_eq!(last.event, "approval_threshold_set");
        assert_eq!(last.actor, "alice");
    }

    #[rstest]
    #[case::a_bookkeeper("bob", "another passphrase", "250", "not an approver")]
    #[case::a_wrong_passphrase("alice", "not the passphrase", "250", "passphrase")]
    #[case::decimals("alice", "correct horse battery", "250.50", "whole units")]
    #[case::negative("alice", "correct horse battery", "-1", "whole units")]
    #[case::grouped("alice", "correct horse battery", "1,000", "whole units")]
    fn a_threshold_change_is_refused(
        #[case] by: &str,
        #[case] passphrase: &str,
        #[case] major: &str,
        #[case] says: &str,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with_people(&dir);
        let at = jiff::Timestamp::from_second(1_800_000_100).unwrap();
        let err = set_approval_threshold(&mut store, major, by, passphrase, at).unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
        assert_eq!(
            store.read(approval_threshold).unwrap().0,
            DEFAULT_APPROVAL_THRESHOLD,
            "nothing changed"
        );
    }
}
