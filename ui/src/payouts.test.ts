import { describe, expect, it } from "vitest";
import type { Amount, PayoutView } from "./generated";
import { bankWords } from "./payouts";

const usd = (minor: string): Amount => ({ minor, currency: "USD", exponent: 2 });

const payout = (bank: string, difference?: string): PayoutView => ({
  id: "po_1",
  amount: usd("65856"),
  status: "paid",
  arrival_date: "2026-10-08",
  automatic: true,
  bank,
  deposit:
    difference === undefined
      ? null
      : { account: "checking", line_id: "F1", booked_on: "2026-10-09", amount: usd("65706"), difference: usd(difference) },
  transactions: 0,
  transactions_net: usd("0"),
  fees: usd("0"),
  disputes: usd("0"),
});

describe("where a payout stands against the bank", () => {
  it("names the day it arrived, and what the bank took off", () => {
    expect(bankWords(payout("deposited", "0"))).toBe("Deposited 2026-10-09");
    const short = bankWords(payout("deposited", "-150"));
    expect(short).toMatch(/^Deposited 2026-10-09, .+ off$/);
    expect(short).toContain("1.50");
  });

  it("tells a missing deposit from one the statements do not reach yet", () => {
    expect(bankWords(payout("missing"))).toBe("Missing: not on the bank statements");
    expect(bankWords(payout("not_yet_in_the_bank"))).toBe("Not yet in the bank");
    expect(bankWords(payout("not_expected"))).toBe("No deposit expected");
  });
});
