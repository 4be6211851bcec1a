import { describe, expect, it } from "vitest";
import type { GuardCheck, RechargeCandidate, RechargeCheck } from "./generated";
import { attemptsSummary, checkPropose, GUARD_LABEL, outcomeMark } from "./recharge";

const usd = { minor: "4900", currency: "USD", exponent: 2 };

function guards(outcomes: GuardCheck["outcome"][]): GuardCheck[] {
  const order = ["unpaid_in_ledger", "no_succeeded_charge", "nothing_in_flight", "card_on_file"] as const;
  return outcomes.map((outcome, i) => ({ guard: order[i], outcome, detail: "" }));
}

function check(outcomes: GuardCheck["outcome"][], open = false): RechargeCheck {
  const checks = guards(outcomes);
  return {
    invoice_number: "INV-1",
    customer_id: "cus_1",
    amount: usd,
    attempt: 1,
    checks,
    may_propose: checks.every((c) => c.outcome === "passed") && !open,
    open_action: open
      ? {
          id: 7,
          kind: "recharge",
          state: "proposed",
          state_words: "waiting for approval",
          description: "Re-charge invoice INV-1",
          finding_id: null,
          invoice_number: "INV-1",
          charge_id: null,
          amount: usd,
          key: "cg-recharge",
          proposed_by: "bob",
          proposed_at: "",
          approvers: [],
          updated_at: "",
          gateway_object_id: null,
          destination: "Stripe",
          object_link: null,
          follow_up_of: null,
          approvals_needed: 1,
          threshold: null,
        }
      : null,
  };
}

describe("Propose", () => {
  it("is pressable only when every guard passed and someone is named", () => {
    expect(checkPropose(check(["passed", "passed", "passed", "passed"]), "bob", false).ok).toBe(true);
    expect(checkPropose(check(["passed", "passed", "passed", "passed"]), "  ", false)).toEqual({
      ok: false,
      problem: "Type your name at the top first.",
    });
  });

  it.each([
    ["the ledger says paid", ["refused", "passed", "passed", "passed"], "Unpaid in the ledger"],
    ["the gateway holds a charge", ["passed", "refused", "passed", "passed"], "No succeeded charge at the gateway"],
    ["no saved card", ["passed", "passed", "passed", "refused"], "A saved card to charge"],
  ] as const)("is refused when %s, naming the guard", (_n, outcomes, named) => {
    const result = checkPropose(check([...outcomes]), "bob", false);
    expect(result.ok).toBe(false);
    expect(result.problem).toContain(named);
    expect(result.problem).toContain("refused");
  });

  it("waits while the guards are being checked, and an unanswered gateway is not a pass", () => {
    expect(checkPropose(null, "bob", true).ok).toBe(false);
    expect(checkPropose(check(["passed", "passed", "passed", "passed"]), "bob", true).ok).toBe(false);
    const unchecked = checkPropose(check(["passed", "unchecked", "passed", "passed"]), "bob", false);
    expect(unchecked.ok).toBe(false);
    expect(unchecked.problem).toContain("check again when the gateway answers");
  });

  it("points at the open action instead of proposing a second one", () => {
    const result = checkPropose(check(["passed", "passed", "refused", "passed"], true), "bob", false);
    expect(result).toEqual({ ok: false, problem: "Action #7 already holds this invoice: continue it below." });
  });
});

describe("guards on screen", () => {
  it("names all four guards and marks results without colour", () => {
    expect(Object.keys(GUARD_LABEL)).toHaveLength(4);
    expect([outcomeMark("passed"), outcomeMark("refused"), outcomeMark("unchecked")]).toEqual(["✓", "✗", "?"]);
  });

  it("tells the story of the failed attempts, newest first", () => {
    const candidate: RechargeCandidate = {
      invoice_number: "INV-1",
      customer_id: "cus_1",
      invoice_amount: usd,
      owed: usd,
      issued_at: "2026-10-01T09:00:00Z",
      due_at: null,
      failed_attempts: [
        { at: "2026-10-12T09:14:05Z", charge_id: "ch_2", action_id: null, what: "declined" },
        { at: "2026-10-09T09:14:05Z", charge_id: "ch_1", action_id: null, what: "declined" },
      ],
      open_action: null,
    };
    expect(attemptsSummary(candidate)).toBe("2 failed attempts, last 2026-10-12 09:14 UTC");
    expect(attemptsSummary({ ...candidate, failed_attempts: candidate.failed_attempts.slice(1) })).toBe(
      "1 failed attempt, last 2026-10-09 09:14 UTC",
    );
  });
});
