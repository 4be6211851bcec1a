//! Who a person is to the store: an approver (may approve actions, close periods, change
//! thresholds, vouch for new people) or a bookkeeper (may propose and execute).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May approve actions.
    Approver,
    /// May propose and execute, not approve.
    Bookkeeper,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Approver, Role::Bookkeeper];

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
