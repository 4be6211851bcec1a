// Front-end state rules that are not business rules: form checks before a request is
// sent (the core checks again), which findings a bulk approval may include, and the
// Execute button's in-flight state. Pure functions, unit-tested.
import type { ActionView, FindingRow } from "./generated";
import { formatAmount } from "./money";

export interface FormCheck {
  ok: boolean;
  problem?: string;
}

export function checkDismiss(reason: string): FormCheck {
  if (reason.trim().length === 0) {
    return { ok: false, problem: "Say why this finding is not a problem (kept in the audit log)." };
  }
  return { ok: true };
}

export function checkApprove(name: string, passphrase: string, heuristic: boolean, checked: boolean): FormCheck {
  if (name.trim().length === 0) return { ok: false, problem: "Type the approver's name." };
  if (passphrase.length === 0) return { ok: false, problem: "Type the approver's passphrase." };
  if (heuristic && !checked) {
    return {
      ok: false,
      problem: "This is a heuristic match: compare the evidence and tick \u201cI checked this match\u201d.",
    };
  }
  return { ok: true };
}

/** Findings a bulk approval may take: exact matches only, never heuristic ones. */
export function bulkApprovable(rows: FindingRow[]): FindingRow[] {
  return rows.filter((r) => r.confidence === "exact" && r.status === "open");
}

/** What the Execute button shows and whether it may be pressed. */
export type ExecuteView =
  | { kind: "ready" }
  | { kind: "in_flight" }
  | { kind: "done"; message: string }
  | { kind: "checking"; message: string }
  | { kind: "error"; message: string };

export function executeView(action: ActionView, inFlight: boolean, last?: ExecuteView): ExecuteView {
  if (inFlight) return { kind: "in_flight" };
  switch (action.state) {
    case "approved":
      return last?.kind === "error" ? last : { kind: "ready" };
    case "executing":
      return { kind: "in_flight" };
    case "unknown":
    case "needs_review":
      return { kind: "checking", message: action.state_words };
    default:
      return { kind: "done", message: action.state_words };
  }
}

/** Guards a button against a second press while the first is answered. */
export function oncePerFlight<T>(run: () => Promise<T>): () => Promise<T | undefined> {
  let flying = false;
  return async () => {
    if (flying) return undefined;
    flying = true;
    try {
      return await run();
    } finally {
      flying = false;
    }
  };
}

/** What approving this action takes, in its own currency's terms. */
export function approvalRule(action: ActionView): string {
  const needs = action.approvals_needed > 1 ? "two different approvers" : "one approver";
  if (!action.threshold) return `Needs ${needs}.`;
  const t = action.threshold;
  if (t.source === "unset") {
    return `Needs ${needs}: no threshold is set for ${t.amount.currency}, so every amount needs two (an approver can set one in Settings).`;
  }
  const where = action.approvals_needed > 1 ? "above" : "at or under";
  return `Needs ${needs}: ${formatAmount(action.amount)} is ${where} the ${t.amount.currency} threshold of ${formatAmount(t.amount)}.`;
}
