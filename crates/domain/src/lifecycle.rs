//! The one lifecycle every action follows, and the only place that says which move is legal:
//!
//! `proposed → approved → executing → succeeded | failed | unknown`,
//! `unknown → succeeded | failed | needs_review` (by recovery),
//! `needs_review → succeeded | failed` (by a person who checked the gateway),
//! and `proposed | approved → cancelled`.
//!
//! `unknown` is not `failed`: only recovery (or a person) may decide it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    Proposed,
    Approved,
    Executing,
    Succeeded,
    Failed,
    Unknown,
    NeedsReview,
    Cancelled,
}

impl ActionState {
    pub const ALL: [ActionState; 8] = [
        ActionState::Proposed,
        ActionState::Approved,
        ActionState::Executing,
        ActionState::Succeeded,
        ActionState::Failed,
        ActionState::Unknown,
        ActionState::NeedsReview,
        ActionState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionState::Proposed => "proposed",
            ActionState::Approved => "approved",
            ActionState::Executing => "executing",
            ActionState::Succeeded => "succeeded",
            ActionState::Failed => "failed",
            ActionState::Unknown => "unknown",
            ActionState::NeedsReview => "needs_review",
            ActionState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<ActionState> {
        ActionState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether `self → next` is a move the lifecycle allows.
    pub fn can_go_to(self, next: ActionState) -> bool {
        use ActionState::*;
        matches!(
            (self, next),
            (Proposed, Approved)
                | (Proposed, Cancelled)
                | (Approved, Executing)
                | (Approved, Cancelled)
                | (Executing, Succeeded)
                | (Executing, Failed)
                | (Executing, Unknown)
                | (Unknown, Succeeded)
                | (Unknown, Failed)
                | (Unknown, NeedsReview)
                | (NeedsReview, Succeeded)
                | (NeedsReview, Failed)
        )
    }

    /// Sent (or being sent) with no outcome the books know: `executing`, `unknown` or
    /// `needs_review`. Money may have moved; what a person watches until it is decided.
    /// (Which of these recovery may settle now is recovery's to say, by the lease.)
    pub fn is_undecided(self) -> bool {
        use ActionState::*;
        matches!(self, Executing | Unknown | NeedsReview)
    }

    /// Still holds its target: no second action on the same invoice or charge meanwhile.
    pub fn is_open(self) -> bool {
        use ActionState::*;
        matches!(
            self,
            Proposed | Approved | Executing | Unknown | NeedsReview
        )
    }
}

impl std::fmt::Display for ActionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ActionState::{self, *};

    #[test]
    fn exactly_the_documented_moves_are_legal() {
        let legal = [
            (Proposed, Approved),
            (Proposed, Cancelled),
            (Approved, Executing),
            (Approved, Cancelled),
            (Executing, Succeeded),
            (Executing, Failed),
            (Executing, Unknown),
            (Unknown, Succeeded),
            (Unknown, Failed),
            (Unknown, NeedsReview),
            (NeedsReview, Succeeded),
            (NeedsReview, Failed),
        ];
        for from in ActionState::ALL {
            for to in ActionState::ALL {
                assert_eq!(
                    from.can_go_to(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn unknown_never_becomes_failed_without_recovery_and_terminal_states_stay() {
        for terminal in [Succeeded, Failed, Cancelled] {
            assert!(ActionState::ALL.iter().all(|&to| !terminal.can_go_to(to)));
            assert!(!terminal.is_open());
        }
        assert!(!Executing.can_go_to(Approved));
        assert!(
            !Unknown.can_go_to(Executing),
            "a retry reuses the journal, never re-executes"
        );
    }
}

/// What an action does: a refund or a re-charge at the gateway, or a fix in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Refund,
    Recharge,
    LedgerFix,
}

impl ActionKind {
    pub const ALL: [ActionKind; 3] = [
        ActionKind::Refund,
        ActionKind::Recharge,
        ActionKind::LedgerFix,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Refund => "refund",
            ActionKind::Recharge => "recharge",
            ActionKind::LedgerFix => "ledger_fix",
        }
    }

    pub fn parse(text: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether it sends a request to a gateway (a ledger fix changes only our books).
    pub fn moves_money(self) -> bool {
        !matches!(self, ActionKind::LedgerFix)
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
