//! The intent journal's rows: actions, their approvals and the adjustments ledger fixes
//! leave behind.
//!
//! A state change is a compare-and-set (`UPDATE … WHERE id = ? AND state = ?`, exactly one
//! row) made in the same transaction as its audit entry; a caller that lost the race sees
//! `StateMoved` and must re-read. One open action per invoice and per charge is a unique
//! partial index, so a second window or process cannot get past it.

use rusqlite::OptionalExtension;
use rusqlite::types::Value;
use serde::Serialize;

use super::{StoreError, StoreTx, currency_from_store};
use chargeguard_domain::money::{self, Money};
use chargeguard_domain::{ActionKind, ActionState, Plan};

/// One action as the journal holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionRow {
    pub id: i64,
    pub kind: ActionKind,
    pub state: ActionState,
    pub finding_id: Option<i64>,
    pub finding_snapshot: Option<String>,
    pub invoice_number: Option<String>,
    pub charge_id: Option<String>,
    /// Shown as `amount_minor` and lower-case `currency`, as the CLI's JSON always was.
    #[serde(flatten, with = "money::as_minor_parts")]
    pub amount: Money,
    #[serde(rename = "key")]
    pub idempotency_key: String,
    pub attempt: i64,
    /// What the action will do.
    pub plan: Plan,
    pub request_method: Option<String>,
    pub request_path: Option<String>,
    pub request_body: Option<String>,
    pub first_sent_at: Option<i64>,
    pub gateway_object_id: Option<String>,
    pub outcome: Option<String>,
    pub proposed_by: String,
    pub proposed_at: i64,
    pub updated_at: i64,
    pub executor_pid: Option<i64>,
    pub approvers: Vec<String>,
}

/// A new action, as proposed. Its kind, amount, invoice and charge are its plan's.
#[derive(Debug, Clone)]
pub struct NewAction<'a> {
    pub plan: &'a Plan,
    pub finding_id: Option<i64>,
    pub finding_snapshot: Option<&'a str>,
    pub idempotency_key: &'a str,
    pub attempt: i64,
    pub proposed_by: &'a str,
}

/// What a move writes besides the state, in the same compare-and-set statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MoveWith {
    /// Into `executing`: the request about to leave, kept before its first byte does.
    pub sending: Option<Sending>,
    /// The process that moved it, for a person reading the journal; whether it still
    /// works on the action is its lease's to say (`Store::try_lease`), never this.
    pub executor_pid: Option<u32>,
    /// The gateway object the action made (`re_…`, `pi_…`).
    pub gateway_object_id: Option<String>,
    /// What decided the move, as JSON (`{"refund": …}`, `{"error": …}`).
    pub outcome: Option<serde_json::Value>,
}

impl MoveWith {
    /// A move that writes only its outcome.
    pub fn outcome(outcome: serde_json::Value) -> MoveWith {
        MoveWith {
            outcome: Some(outcome),
            ..MoveWith::default()
        }
    }
}

/// The exact request an action sends, and when it first leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sending {
    pub method: String,
    pub path: String,
    pub body: String,
    pub first_sent_at: jiff::Timestamp,
}

const COLUMNS: &str = "id, kind, state, finding_id, finding_snapshot, invoice_number, charge_id, amount_minor, currency,
    idempotency_key, attempt, plan, request_method, request_path, request_body, first_sent_at, gateway_object_id,
    outcome, proposed_by, proposed_at, updated_at, executor_pid";

fn corrupt(what: String, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.to_string(),
    }
}

/// Reads one row; the outer error is the engine's, the inner one a value that does not
/// parse (a corrupt store). Approvers are added by [`StoreTx::finish_row`].
fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ActionRow, StoreError>> {
    let id: i64 = r.get(0)?;
    let (kind, state): (String, String) = (r.get(1)?, r.get(2)?);
    let (amount_minor, currency): (i64, String) = (r.get(7)?, r.get(8)?);
    let plan: String = r.get(11)?;
    let typed = || -> Result<_, StoreError> {
        Ok((
            ActionKind::parse(&kind).ok_or_else(|| corrupt("action kind".into(), &kind))?,
            ActionState::parse(&state).ok_or_else(|| corrupt("action state".into(), &state))?,
            Money::from_minor(amount_minor, currency_from_store(&currency)?),
            serde_json::from_str::<Plan>(&plan)
                .map_err(|e| corrupt(format!("action {id}'s plan"), e))?,
        ))
    };
    let (kind, state, amount, plan) = match typed() {
        Ok(typed) => typed,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(ActionRow {
        id,
        kind,
        state,
        finding_id: r.get(3)?,
        finding_snapshot: r.get(4)?,
        invoice_number: r.get(5)?,
        charge_id: r.get(6)?,
        amount,
        idempotency_key: r.get(9)?,
        attempt: r.get(10)?,
        plan,
        request_method: r.get(12)?,
        request_path: r.get(13)?,
        request_body: r.get(14)?,
        first_sent_at: r.get(15)?,
        gateway_object_id: r.get(16)?,
        outcome: r.get(17)?,
        proposed_by: r.get(18)?,
        proposed_at: r.get(19)?,
        updated_at: r.get(20)?,
        executor_pid: r.get(21)?,
        approvers: Vec::new(),
    }))
}

impl StoreTx<'_> {
    fn finish_row(&self, row: Result<ActionRow, StoreError>) -> Result<ActionRow, StoreError> {
        let mut row = row?;
        row.approvers = self.approvers(row.id)?;
        Ok(row)
    }

    /// Inserts a proposed action; `TargetBusy` when its invoice or charge already has an
    /// open one.
    pub fn insert_action(
        &self,
        new: &NewAction<'_>,
        at: jiff::Timestamp,
    ) -> Result<i64, StoreError> {
        self.conn().execute(
            "INSERT INTO actions (kind, state, finding_id, finding_snapshot, invoice_number, charge_id, amount_minor,
                 currency, idempotency_key, attempt, plan, proposed_by, proposed_at, updated_at)
             VALUES (?1, 'proposed', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
            rusqlite::params![
                new.plan.kind().as_str(),
                new.finding_id,
                new.finding_snapshot,
                new.plan.invoice_number(),
                new.plan.charge_id(),
                new.plan.amount().minor(),
                new.plan.amount().currency().lower(),
                new.idempotency_key,
                new.attempt,
                serde_json::to_string(new.plan).map_err(|e| StoreError::Corrupt {
                    what: "action plan".into(),
                    detail: e.to_string(),
                })?,
                new.proposed_by,
                at.as_second()
            ],
        )?;
        Ok(self.conn().last_insert_rowid())
    }

    pub fn action(&self, id: i64) -> Result<Option<ActionRow>, StoreError> {
        let row = self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM actions WHERE id = ?1"),
                [id],
                read_row,
            )
            .optional()?;
        row.map(|r| self.finish_row(r)).transpose()
    }

    pub fn action_by_key(&self, key: &str) -> Result<Option<ActionRow>, StoreError> {
        let row = self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM actions WHERE idempotency_key = ?1"),
                [key],
                read_row,
            )
            .optional()?;
        row.map(|r| self.finish_row(r)).transpose()
    }

    /// How many actions are in each state (states with none are left out).
    pub fn action_counts(&self) -> Result<Vec<(ActionState, u64)>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT state, count(*) FROM actions GROUP BY state")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let state: String = r.get(0)?;
            let count: i64 = r.get(1)?;
            out.push((
                ActionState::parse(&state).ok_or_else(|| corrupt("action state".into(), &state))?,
                u64::try_from(count).unwrap_or(0),
            ));
        }
        Ok(out)
    }

    /// Every action, newest first; only those in `states` when given.
    pub fn actions(&self, states: Option<&[ActionState]>) -> Result<Vec<ActionRow>, StoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!("SELECT {COLUMNS} FROM actions ORDER BY id DESC"))?;
        let rows = stmt.query_map([], read_row)?;
        let mut out = Vec::new();
        for row in rows {
            let row = self.finish_row(row?)?;
            if states.is_none_or(|s| s.contains(&row.state)) {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// The actions proposed for finding `finding_id`, newest first.
    pub fn actions_of_finding(&self, finding_id: i64) -> Result<Vec<ActionRow>, StoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {COLUMNS} FROM actions WHERE finding_id = ?1 ORDER BY id DESC"
        ))?;
        let rows = stmt.query_map([finding_id], read_row)?;
        rows.map(|row| self.finish_row(row?)).collect()
    }

    /// Open actions touching an invoice or a charge, newest first.
    pub fn open_actions_for(
        &self,
        invoice_number: Option<&str>,
        charge_id: Option<&str>,
    ) -> Result<Vec<ActionRow>, StoreError> {
        let open: Vec<String> = ActionState::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {COLUMNS} FROM actions
             WHERE state IN ({}) AND (invoice_number = ?1 OR charge_id = ?2)
             ORDER BY id DESC",
            open.join(", ")
        ))?;
        let rows = stmt.query_map(rusqlite::params![invoice_number, charge_id], read_row)?;
        rows.map(|row| self.finish_row(row?)).collect()
    }

    /// Moves an action `from → to` if, and only if, it is still in `from`, writing what
    /// `with` holds in the same statement. Panics on a move the lifecycle forbids: that is
    /// a bug, not a runtime condition.
    pub fn move_action(
        &self,
        id: i64,
        from: ActionState,
        to: ActionState,
        at: jiff::Timestamp,
        with: MoveWith,
    ) -> Result<(), StoreError> {
        assert!(from.can_go_to(to), "illegal action move {from} -> {to}");
        assert!(
            with.sending.is_none() || to == ActionState::Executing,
            "a request is journaled only on the move into executing"
        );
        let mut extra: Vec<(&str, Value)> = Vec::new();
        if let Some(sending) = with.sending {
            extra.push(("request_method", Value::Text(sending.method)));
            extra.push(("request_path", Value::Text(sending.path)));
            extra.push(("request_body", Value::Text(sending.body)));
            extra.push((
                "first_sent_at",
                Value::Integer(sending.first_sent_at.as_second()),
            ));
        }
        if let Some(pid) = with.executor_pid {
            extra.push(("executor_pid", Value::Integer(i64::from(pid))));
        }
        if let Some(object) = with.gateway_object_id {
            extra.push(("gateway_object_id", Value::Text(object)));
        }
        if let Some(outcome) = with.outcome {
            extra.push(("outcome", Value::Text(outcome.to_string())));
        }
        let mut sets = vec!["state = ?1".to_string(), "updated_at = ?2".to_string()];
        let mut params: Vec<Value> = vec![
            Value::Text(to.as_str().into()),
            Value::Integer(at.as_second()),
        ];
        for (column, value) in extra {
            params.push(value);
            sets.push(format!("{column} = ?{}", params.len()));
        }
        params.push(Value::Integer(id));
        let id_param = params.len();
        params.push(Value::Text(from.as_str().into()));
        let from_param = params.len();
        let changed = self.conn().execute(
            &format!(
                "UPDATE actions SET {} WHERE id = ?{id_param} AND state = ?{from_param}",
                sets.join(", ")
            ),
            rusqlite::params_from_iter(params),
        )?;
        if changed != 1 {
            return Err(StoreError::StateMoved {
                id,
                expected: from.as_str(),
            });
        }
        Ok(())
    }

    pub fn add_approval(
        &self,
        action_id: i64,
        approver: &str,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO approvals (action_id, approver, approved_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![action_id, approver, at.as_second()],
        )?;
        Ok(())
    }

    pub fn approvers(&self, action_id: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT approver FROM approvals WHERE action_id = ?1 ORDER BY approved_at, approver",
        )?;
        let rows = stmt.query_map([action_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
