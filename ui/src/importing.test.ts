import { describe, expect, it } from "vitest";
import type { ImportOutcome, MappingSummary } from "./generated";
import {
  draftOf,
  formOf,
  formatCount,
  importRequest,
  kindChoices,
  outcomeHeadline,
  problemPlace,
  toBase64,
} from "./importing";

const saved: MappingSummary[] = [{ name: "acme", layout: "invoices" }];

describe("the kind of file", () => {
  it("offers every kind of file and each saved mapping with its layout", () => {
    const labels = kindChoices(saved).map((c) => c.label);
    expect(labels).toEqual([
      "Invoices",
      "Payments (the app's ledger)",
      "Stripe payments export",
      "Stripe balance or payout report",
      "Bank statement (OFX, camt.053 or the bank's CSV)",
      "Invoices — mapping “acme”",
    ]);
  });

  it("a saved mapping imports as its layout, naming the mapping", () => {
    const choices = kindChoices(saved);
    expect(importRequest(choices, "mapping:acme", "/u/acme.csv", true)).toEqual({
      kind: "invoices",
      path: "/u/acme.csv",
      dry_run: true,
      mapping: "acme",
    });
    expect(importRequest(choices, "stripe_payments", "/u/s.csv", false)).toEqual({
      kind: "stripe_payments",
      path: "/u/s.csv",
      dry_run: false,
    });
    expect(importRequest(choices, "mapping:deleted", "/u/x.csv", false)).toBeNull();
    expect(importRequest(choices, "bank_statement", "/u/c.csv", false, { account: " Savings ", dates: "mdy" })).toEqual({
      kind: "bank_statement",
      path: "/u/c.csv",
      dry_run: false,
      account: "Savings",
    });
    expect(importRequest(choices, "stripe_report", "/u/p.csv", true, { account: "x", dates: "dmy" })).toEqual({
      kind: "stripe_report",
      path: "/u/p.csv",
      dry_run: true,
      dates: "dmy",
    });
    expect(importRequest(choices, "invoices", "/u/i.csv", true, { account: "x" })).toEqual({
      kind: "invoices",
      path: "/u/i.csv",
      dry_run: true,
    });
  });

});

describe("a browser's file", () => {
  it("travels as base64 byte for byte, bytes that are not UTF-8 included", () => {
    const bytes = new Uint8Array([0x69, 0x64, 0x2c, 0xff, 0xfe, 0x0a, 0xe9]);
    const text = toBase64(bytes);
    expect(Array.from(atob(text), (c) => c.charCodeAt(0))).toEqual(Array.from(bytes));
  });

  it("a file larger than one chunk arrives whole", () => {
    const bytes = new Uint8Array(100_001).map((_, i) => i % 251);
    const back = atob(toBase64(bytes));
    expect(back.length).toBe(bytes.length);
    expect(back.charCodeAt(100_000)).toBe(100_000 % 251);
  });
});

describe("results", () => {
  const outcome = (over: Partial<ImportOutcome>): ImportOutcome => ({
    file: "invoices.csv",
    dry_run: false,
    written: false,
    new: 0,
    changed: 0,
    unchanged: 3000,
    message: "invoices.csv: 0 new, 0 changed, 3,000 unchanged",
    changed_rows: [],
    changed_unlisted: 0,
    problems: [],
    problems_more: 0,
    zone: "UTC",
    recognised: null,
    skipped: [],
    preview: [],
    ...over,
  });

  it("say plainly whether anything was written", () => {
    expect(outcomeHeadline(outcome({}))).toBe("Nothing new: the store already holds every row");
    expect(outcomeHeadline(outcome({ written: true, new: 3 }))).toBe("Imported");
    expect(outcomeHeadline(outcome({ dry_run: true }))).toBe("Dry run: nothing was written");
    const problem = { file: "a.csv", line: 4, column: 3, column_name: "amount", value: "4e1", reason: "r" };
    expect(outcomeHeadline(outcome({ problems: [problem] }))).toBe("Refused: nothing was imported");
  });

  it("place a problem as file:line:column, a missing column as file:line", () => {
    const p = { file: "october.csv", line: 4, column: 3, column_name: "amount", value: "4e1", reason: "" };
    expect(problemPlace(p)).toBe("october.csv:4:3");
    expect(problemPlace({ ...p, line: 1, column: null })).toBe("october.csv:1");
  });

  it("group counts as the locale does, lakh grouping in en-IN", () => {
    expect(formatCount(3000, "en-US")).toBe("3,000");
    expect(formatCount(1234567, "en-IN")).toBe("12,34,567");
  });
});

describe("the mapping form", () => {
  it("round-trips a saved mapping, blank rows included for the core to drop", () => {
    const form = {
      layout: "invoices" as const,
      columns: { invoice_number: "Invoice #", amount: "Total", currency: "" },
      values: [
        { column: "status", theirs: "Unpaid", ours: "open" },
        { column: "status", theirs: "", ours: "" },
      ],
    };
    const draft = draftOf(form);
    expect(draft.columns).toContainEqual({ ours: "currency", theirs: "" });
    expect(draft.values).toHaveLength(2);
    expect(formOf(draft)).toEqual(form);
  });
});
