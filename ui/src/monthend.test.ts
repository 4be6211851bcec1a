import { describe, expect, it } from "vitest";
import type { PeriodView, TieOutView } from "./generated";
import { checkClose, checkMonth, checkReopen, previousMonth, statement } from "./monthend";

function tieOut(currency: string, exponent: number, net: string, extra = false): TieOutView {
  const amount = (minor: string) => ({ minor, currency, exponent });
  return {
    currency,
    totals: [
      { key: "gateway_net", label: "Gateway: net", amount: amount(net) },
      ...(extra ? [{ key: "gateway_fees", label: "Gateway: fees", amount: amount("-145") }] : []),
    ],
    explained_by: [],
  };
}

function view(over: Partial<PeriodView> = {}): PeriodView {
  return {
    month: "2026-10",
    time_zone: "Europe/Berlin",
    business_zone: null,
    starts_at: "2026-10-01T00:00:00+02:00",
    ends_at: "2026-11-01T00:00:00+01:00",
    ended: true,
    closed: null,
    history: [],
    tie_out_state: "current",
    tie_out: [],
    tie_out_problem: null,
    clearing: [],
    clearing_problem: null,
    ...over,
  };
}

describe("the month", () => {

  it("is not closed from a tie-out that is not the books' as they are now", () => {
    for (const tie_out_state of ["updating", "computing"] as const) {
      const check = checkClose(view({ tie_out_state }), "alice", "pass");
      expect(check.ok).toBe(false);
    }
    expect(checkClose(view(), "alice", "pass").ok).toBe(true);
  });
  it.each([
    ["November opens on October", new Date(2026, 10, 23), "2026-10"],
    ["January opens on last December", new Date(2027, 0, 2), "2026-12"],
    ["October opens on September", new Date(2026, 9, 1), "2026-09"],
  ])("%s", (_n, today, month) => {
    expect(previousMonth(today)).toBe(month);
  });

  it.each([
    ["2026-10", true],
    ["2026-13", false],
    ["2026-1", false],
    ["October", false],
  ])("%s is a month: %s", (text, ok) => {
    expect(checkMonth(text).ok).toBe(ok);
  });
});

describe("closing", () => {
  it("needs an ended month that ties out, and an approver with a passphrase", () => {
    expect(checkClose(view(), "alice", "pass").ok).toBe(true);
    expect(checkClose(view({ ended: false }), "alice", "pass").problem).toContain("has not ended yet");
    expect(checkClose(view({ tie_out_problem: "unexplained" }), "alice", "pass").problem).toContain("do not tie out");
    expect(checkClose(view({ clearing_problem: "off by 1.00 USD" }), "alice", "pass").problem).toContain(
      "clearing account",
    );
    expect(checkClose(view(), "", "pass").problem).toBe("Type the approver's name.");
    expect(checkClose(view(), "alice", "").problem).toBe("Type the approver's passphrase.");
    expect(checkClose(null, "alice", "pass").ok).toBe(false);
  });

  it("refuses a month already closed", () => {
    const closed = view({
      closed: {
        time_zone: "Europe/Berlin",
        closed_at: "2026-11-02T09:00:00Z",
        closed_by: "alice",
        reopened_at: null,
        reopened_by: null,
        reopen_reason: null,
      },
    });
    expect(checkClose(closed, "alice", "pass").problem).toBe("2026-10 is closed already.");
  });

  it.each([
    ["no reason", "alice", "pass", "", false],
    ["only spaces", "alice", "pass", "   ", false],
    ["no passphrase", "alice", "", "late refund", false],
    ["everything", "alice", "pass", "late refund found", true],
  ])("reopening with %s", (_n, name, pass, reason, ok) => {
    expect(checkReopen(name, pass, reason).ok).toBe(ok);
  });
});

describe("the tie-out statement", () => {
  it("puts each currency in its own column, exact, never added together", () => {
    const s = statement([tieOut("USD", 2, "1234567", true), tieOut("JPY", 0, "12000"), tieOut("KWD", 3, "37750")], "en-US");
    expect(s.currencies).toEqual(["USD", "JPY", "KWD"]);
    expect(s.rows.map((r) => r.key)).toEqual(["gateway_net", "gateway_fees"]);
    expect(s.rows[0].cells).toEqual(["12,345.67 USD", "12,000 JPY", "37.750 KWD"]);
    expect(s.rows[1].cells).toEqual(["-1.45 USD", "—", "—"]);
  });

});
