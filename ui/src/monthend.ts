// The Month-end screen's front-end rules: the month it opens on, form checks before a
// request is sent (the core checks again: passphrase, tie-out, the month being over), and
// the tie-out laid out as one statement with a column per currency — never added across
// currencies, every amount formatted exactly.
import type { PeriodView, TieOutView } from "./generated";
import type { FormCheck } from "./state";
import { formatAmount } from "./money";

/** The month a month-end usually is: the one before `today`'s, as YYYY-MM. */
export function previousMonth(today: Date): string {
  const year = today.getFullYear();
  const month = today.getMonth(); // 0-based: this is already "last month" 1-based
  return month === 0 ? `${year - 1}-12` : `${year}-${String(month).padStart(2, "0")}`;
}

export function checkMonth(text: string): FormCheck {
  return /^\d{4}-(0[1-9]|1[0-2])$/.test(text.trim())
    ? { ok: true }
    : { ok: false, problem: "Pick a month (YYYY-MM)." };
}

/** This computer's IANA zone, offered (never silently used) for a store without one. */
export function computerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function checkClose(view: PeriodView | null, name: string, passphrase: string): FormCheck {
  if (!view) return { ok: false, problem: "Pick a month first." };
  if (view.closed) return { ok: false, problem: `${view.month} is closed already.` };
  if (!view.ended) return { ok: false, problem: `${view.month} has not ended yet (it ends ${view.ends_at}).` };
  // The close computes its own tie-out; the form waits for the screen's to be current so
  // the approver signs off on what they see.
  if (view.tie_out_state !== "current") return { ok: false, problem: "The tie-out is being brought up to date…" };
  if (view.tie_out_problem) return { ok: false, problem: "The books do not tie out yet: see the tie-out above." };
  if (view.clearing_problem) {
    return { ok: false, problem: "The Stripe clearing account does not close at the stored balance: see above." };
  }
  if (name.trim().length === 0) return { ok: false, problem: "Type the approver's name." };
  if (passphrase.length === 0) return { ok: false, problem: "Type the approver's passphrase." };
  return { ok: true };
}

export function checkReopen(name: string, passphrase: string, reason: string): FormCheck {
  if (name.trim().length === 0) return { ok: false, problem: "Type the approver's name." };
  if (passphrase.length === 0) return { ok: false, problem: "Type the approver's passphrase." };
  if (reason.trim().length === 0) {
    return { ok: false, problem: "Say why the month must change (kept in the audit log)." };
  }
  return { ok: true };
}

export interface StatementRow {
  key: string;
  label: string;
  /** One formatted amount per currency column, "—" where that currency has none. */
  cells: string[];
}

/** The totals of every currency as one statement: a row per total, a column per currency. */
export function statement(views: TieOutView[], locale?: string): { currencies: string[]; rows: StatementRow[] } {
  const currencies = views.map((v) => v.currency);
  const rows: StatementRow[] = [];
  for (const view of views) {
    for (const line of view.totals) {
      if (!rows.some((r) => r.key === line.key)) rows.push({ key: line.key, label: line.label, cells: [] });
    }
  }
  for (const row of rows) {
    row.cells = views.map((v) => {
      const line = v.totals.find((l) => l.key === row.key);
      return line ? formatAmount(line.amount, locale) : "—";
    });
  }
  return { currencies, rows };
}
