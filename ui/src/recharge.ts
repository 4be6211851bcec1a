// The Re-charge screen's front-end rules (not business rules: the core decides every guard
// and refuses a proposal again if one fails). How a guard's result reads, why Propose is
// not pressable yet, and the one-line story of an invoice's failed attempts.
import type { GuardCheck, GuardOutcome, RechargeCandidate, RechargeCheck, RechargeGuard } from "./generated";
import type { FormCheck } from "./state";
import { shortInstant } from "./labels";

/** The guards in the bookkeeper's words, in the order the core reports them. */
export const GUARD_LABEL: Record<RechargeGuard, string> = {
  unpaid_in_ledger: "Unpaid in the ledger",
  no_succeeded_charge: "No succeeded charge at the gateway",
  nothing_in_flight: "Nothing in flight",
  card_on_file: "A saved card to charge",
};

export const OUTCOME_LABEL: Record<GuardOutcome, string> = {
  passed: "passed",
  refused: "refused",
  unchecked: "not checked: the gateway did not answer",
};

/** A mark that does not rely on colour alone. */
export function outcomeMark(outcome: GuardOutcome): string {
  return outcome === "passed" ? "✓" : outcome === "refused" ? "✗" : "?";
}

/** Whether Propose may be pressed, and if not, what the bookkeeper can do about it. */
export function checkPropose(check: RechargeCheck | null, user: string, checking: boolean): FormCheck {
  if (checking || !check) return { ok: false, problem: "Checking the guards with the ledger and the gateway…" };
  const open = check.open_action;
  if (open) {
    return { ok: false, problem: `Action #${open.id} already holds this invoice: continue it below.` };
  }
  const failing: GuardCheck[] = check.checks.filter((c) => c.outcome !== "passed");
  if (failing.length > 0 || !check.may_propose) {
    const names = failing.map((c) => GUARD_LABEL[c.guard]).join(", ");
    const unchecked = failing.some((c) => c.outcome === "unchecked");
    return {
      ok: false,
      problem: unchecked
        ? `Not every guard could be checked (${names}); check again when the gateway answers.`
        : `A re-charge cannot be proposed: ${names} refused.`,
    };
  }
  if (user.trim().length === 0) return { ok: false, problem: "Type your name at the top first." };
  return { ok: true };
}

/** "2 declined attempts, last 2026-10-12 09:14 UTC". */
export function attemptsSummary(candidate: RechargeCandidate): string {
  const n = candidate.failed_attempts.length;
  const last = candidate.failed_attempts[0];
  const what = `${n.toLocaleString("en")} failed attempt${n === 1 ? "" : "s"}`;
  return last ? `${what}, last ${shortInstant(last.at)}` : what;
}
