import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import type { ActionView } from "../generated";
import { ActionSummary } from "./ActionSteps";

afterEach(cleanup);

function pushed(link: string | null, followUpOf: number | null = null): ActionView {
  return {
    id: 3,
    kind: "ledger_fix",
    state: "succeeded",
    state_words: "done",
    description: "Record a payment of 75.00 USD on invoice INV-7",
    finding_id: 1,
    invoice_number: "INV-7",
    charge_id: "ch_1",
    amount: { minor: "7500", currency: "USD", exponent: 2 },
    key: "cg-ledger_fix-abc",
    proposed_by: "bob",
    proposed_at: "",
    approvers: ["alice"],
    updated_at: "",
    gateway_object_id: "quickbooks:payment:143",
    destination: "QuickBooks company 4620816365",
    object_link: link,
    follow_up_of: followUpOf,
    approvals_needed: 1,
    threshold: null,
  };
}

describe("An action's summary", () => {
  it("names where a pushed fix was written and links to it there", () => {
    render(<ActionSummary action={pushed("https://app.qbo.intuit.com/app/recvpayment?txnId=143")} />);
    expect(screen.getByTestId("action-state").textContent).toContain("QuickBooks company 4620816365");
    const link = screen.getByTestId("action-object-link") as HTMLAnchorElement;
    expect(link.href).toBe("https://app.qbo.intuit.com/app/recvpayment?txnId=143");
    expect(link.textContent).toBe("quickbooks:payment:143");
  });

  it("names the refund whose books' side a pushed fix is", () => {
    render(<ActionSummary action={pushed(null, 2)} />);
    expect(screen.getByTestId("action-follow-up-of").textContent).toContain("books' side of action #2");
  });

  it("says nothing of a refund for a fix proposed on its own", () => {
    render(<ActionSummary action={pushed(null)} />);
    expect(screen.queryByTestId("action-follow-up-of")).toBeNull();
  });

  it("shows the object without a link where the system has no page for it", () => {
    render(<ActionSummary action={pushed(null)} />);
    expect(screen.queryByTestId("action-object-link")).toBeNull();
    expect(screen.getByTestId("action-state").textContent).toContain("quickbooks:payment:143");
  });
});
