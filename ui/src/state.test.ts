import { describe, expect, it } from "vitest";
import type { ActionView, FindingRow } from "./generated";
import { approvalRule, bulkApprovable, checkApprove, checkDismiss, executeView, oncePerFlight } from "./state";

const amount = { minor: "4500", currency: "EUR", exponent: 2 };

function finding(id: number, confidence: FindingRow["confidence"], status: FindingRow["status"] = "open"): FindingRow {
  return {
    id,
    kind: "double_charge",
    status,
    resolution: null,
    invoice_number: "INV-1",
    charge_ids: ["ch_1"],
    amount,
    confidence,
    reason: "",
    first_seen_at: "2026-10-01T00:00:00Z",
  };
}

function action(state: ActionView["state"], words = "words"): ActionView {
  return {
    id: 1,
    kind: "refund",
    state,
    state_words: words,
    description: "Refund",
    finding_id: 1,
    invoice_number: "INV-1",
    charge_id: "ch_1",
    amount,
    key: "k",
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
  };
}

describe("forms", () => {
  it.each([
    ["empty", "", false],
    ["only spaces", "   ", false],
    ["a reason", "customer keeps it as credit", true],
  ])("dismissal with %s reason", (_n, reason, ok) => {
    expect(checkDismiss(reason).ok).toBe(ok);
  });

  it.each([
    ["no name", "", "pass", false, false, false],
    ["no passphrase", "alice", "", false, false, false],
    ["exact match", "alice", "pass", false, false, true],
    ["heuristic unchecked", "alice", "pass", true, false, false],
    ["heuristic checked", "alice", "pass", true, true, true],
  ])("approval: %s", (_n, name, pass, heuristic, checked, ok) => {
    expect(checkApprove(name, pass, heuristic, checked).ok).toBe(ok);
  });
});

describe("bulk approval", () => {
  it("never takes heuristic or resolved findings", () => {
    const rows = [finding(1, "exact"), finding(2, "heuristic"), finding(3, "exact", "resolved")];
    expect(bulkApprovable(rows).map((r) => r.id)).toEqual([1]);
  });
});

describe("execute button", () => {
  it.each([
    ["approved is ready", "approved", false, "ready"],
    ["a press in flight", "approved", true, "in_flight"],
    ["executing elsewhere", "executing", false, "in_flight"],
    ["unknown reads checking", "unknown", false, "checking"],
    ["succeeded is done", "succeeded", false, "done"],
  ] as const)("%s", (_n, state, inFlight, kind) => {
    expect(executeView(action(state), inFlight).kind).toBe(kind);
  });

  it("a second press while the first is answered does nothing", async () => {
    let calls = 0;
    let release!: () => void;
    const press = oncePerFlight(
      () =>
        new Promise<number>((resolve) => {
          calls += 1;
          release = () => resolve(calls);
        }),
    );
    const first = press();
    const second = await press();
    expect(second).toBeUndefined();
    release();
    expect(await first).toBe(1);
    expect(calls).toBe(1);
  });
});

describe("approvalRule", () => {
  const jpy = (minor: string) => ({ minor, currency: "JPY", exponent: 0 });
  const withRule = (minor: string, needed: number, source: "set" | "default" | "unset") => ({
    ...action("proposed"),
    amount: jpy(minor),
    approvals_needed: needed,
    threshold: { amount: jpy(source === "unset" ? "0" : "75000"), source, words: "" },
  });

  it("says the action's own currency and threshold, grouped as people write them", () => {
    expect(approvalRule(withRule("600", 1, "default"))).toBe(
      "Needs one approver: 600 JPY is at or under the JPY threshold of 75,000 JPY.",
    );
    expect(approvalRule(withRule("80000", 2, "set"))).toBe(
      "Needs two different approvers: 80,000 JPY is above the JPY threshold of 75,000 JPY.",
    );
  });

  it("says where to set a threshold a currency does not have", () => {
    expect(approvalRule(withRule("1", 2, "unset"))).toContain("no threshold is set for JPY");
  });

  it("a ledger fix needs one approver and has no threshold", () => {
    expect(approvalRule({ ...action("proposed"), threshold: null })).toBe("Needs one approver.");
  });
});
