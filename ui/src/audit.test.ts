import { describe, expect, it } from "vitest";
import { detailsLine, FIRST_PAGE, newer, older, pageQuery, rangeText, subjectFilter } from "./audit";

describe("the About filter", () => {
  it.each([
    ["", undefined, true],
    ["12", "action:12", true],
    ["#7", "action:7", true],
    ["finding:3", "finding:3", true],
    ["period:2026-10", "period:2026-10", true],
    ["refund", undefined, false],
    ["action 12", undefined, false],
  ])("%j means %j", (text, subject, ok) => {
    const f = subjectFilter(text);
    expect(f.subject).toBe(subject);
    expect(f.check.ok).toBe(ok);
  });
});

describe("details", () => {
  it("reads as key: value pairs, nulls left out", () => {
    expect(detailsLine('{"reason":"late refund found","closed_by":"alice","x":null}')).toBe(
      "reason: late refund found · closed_by: alice",
    );
    expect(detailsLine('{"key":"cg-refund-1","plan":{"amount":4500}}')).toBe('key: cg-refund-1 · plan: {"amount":4500}');
  });

  it("cuts long details and keeps text that is not JSON", () => {
    expect(detailsLine(`{"body":"${"a".repeat(300)}"}`, 20)).toHaveLength(20);
    expect(detailsLine("not json")).toBe("not json");
  });
});

describe("paging", () => {
  it("goes older by the page's mark and back newer to exactly where it was", () => {
    const filters = { event: "action_proposed" };
    expect(pageQuery(filters, FIRST_PAGE, 200)).toEqual({ event: "action_proposed", limit: 200 });
    const second = older(FIRST_PAGE, 801);
    expect(pageQuery(filters, second, 200)).toEqual({ event: "action_proposed", limit: 200, before: 801 });
    const third = older(second, 601);
    expect(newer(third)).toEqual(second);
    expect(newer(FIRST_PAGE)).toEqual(FIRST_PAGE);
    expect(older(third, null)).toEqual(third);
  });

  it("says which entries are on screen", () => {
    expect(rangeText(FIRST_PAGE, 200, 1234, 200)).toBe("Entries 1–200 of 1,234, newest first");
    expect(rangeText(older(FIRST_PAGE, 1035), 200, 1234, 200)).toBe("Entries 201–400 of 1,234, newest first");
    expect(rangeText(FIRST_PAGE, 0, 0, 200)).toBe("No entries match.");
  });
});
