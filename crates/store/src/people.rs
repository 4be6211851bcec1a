//! People in the store: name, role and passphrase hash.

use rusqlite::OptionalExtension;

use super::{StoreError, StoreTx};
use chargeguard_domain::Role;

impl StoreTx<'_> {
    pub fn insert_user(
        &self,
        name: &str,
        role: Role,
        passphrase_hash: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO users (name, role, passphrase_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![name, role.as_str(), passphrase_hash, at.as_second()],
        )?;
        Ok(())
    }

    /// A person's role and passphrase hash.
    pub fn user(&self, name: &str) -> Result<Option<(Role, String)>, StoreError> {
        let row: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT role, passphrase_hash FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(role, hash)| {
            Role::parse(&role)
                .map(|role| (role, hash))
                .ok_or_else(|| StoreError::Corrupt {
                    what: "user role".into(),
                    detail: role,
                })
        })
        .transpose()
    }

    /// Every person's name and role.
    pub fn users(&self) -> Result<Vec<(String, Role)>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT name, role FROM users ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, role) = row?;
            let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
                what: "user role".into(),
                detail: role.clone(),
            })?;
            out.push((name, role));
        }
        Ok(out)
    }
}
