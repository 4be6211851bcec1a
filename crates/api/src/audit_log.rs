//! The Audit log screen's command and transport types: the hash-chained log, newest first,
//! a page at a time (keyset on `seq`, so the ten-thousandth page costs what the first
//! does), filtered by kind of event, by person and by what an entry is about (an action,
//! a finding, a period). Checking the chain is the existing `audit_verify`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Api, ApiError, count32, instant};
use chargeguard_core::store::AuditFilter;

/// Entries per page when the window does not say.
pub const DEFAULT_PAGE: u32 = 200;
/// The most entries one page may hold.
pub const MAX_PAGE: u32 = 1_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "AuditQuery.ts")]
pub struct AuditQuery {
    /// A kind of event (`action_proposed`, `period_closed`, …).
    #[ts(optional)]
    pub event: Option<String>,
    /// Who did it.
    #[ts(optional)]
    pub actor: Option<String>,
    /// What it is about: `action:12`, `finding:3`, `period:2026-10`.
    #[ts(optional)]
    pub subject: Option<String>,
    /// Entries older than this `seq` (the previous page's `next_before`).
    #[ts(optional)]
    pub before: Option<u32>,
    #[ts(optional)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "AuditRow.ts")]
pub struct AuditRow {
    pub seq: u32,
    /// RFC 3339 instant.
    pub at: String,
    pub actor: String,
    pub event: String,
    pub subject: String,
    /// The entry's details: a JSON object, as stored (and hashed).
    pub details: String,
    pub hash: String,
    pub prev_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export_to = "AuditPage.ts")]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditRow>,
    /// How many entries match the filter, in all pages.
    pub total: u32,
    /// Pass as `before` for the next (older) page; `None` on the last page.
    pub next_before: Option<u32>,
    /// Every kind of event and every person in the log, for the filters.
    pub events: Vec<String>,
    pub actors: Vec<String>,
}

fn text(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// One page of the audit log, newest first.
pub fn audit_log(api: &Api, query: &AuditQuery) -> Result<AuditPage, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    if query.limit.is_some_and(|l| l > MAX_PAGE) {
        return Err(ApiError::invalid(format!(
            "a page holds at most {MAX_PAGE} entries; ask for fewer and page on with `before`"
        )));
    }
    let filter = AuditFilter {
        event: text(&query.event),
        actor: text(&query.actor),
        subject: text(&query.subject),
    };
    let mut store = api.open()?;
    let ((entries, total), (events, actors)) = store.read(|tx| {
        Ok::<_, ApiError>((
            tx.audit_page(&filter, query.before.map(i64::from), limit)?,
            tx.audit_facets()?,
        ))
    })?;
    let next_before = match entries.last() {
        Some(last) if entries.len() == limit as usize && last.seq > 1 => {
            Some(count32(last.seq as u64))
        }
        _ => None,
    };
    Ok(AuditPage {
        entries: entries
            .into_iter()
            .map(|e| AuditRow {
                seq: count32(e.seq as u64),
                at: instant(e.at),
                actor: e.actor,
                event: e.event,
                subject: e.subject,
                details: e.details,
                hash: e.hash,
                prev_hash: e.prev_hash,
            })
            .collect(),
        total: count32(total),
        next_before,
        events,
        actors,
    })
}
