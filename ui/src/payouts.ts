// The Payouts screen's words, apart from React so Vitest can hold them to account.
import type { PayoutView } from "./generated";
import { formatAmount } from "./money";

/** Where a payout stands against the bank, in the bookkeeper's words. */
export function bankWords(p: PayoutView): string {
  switch (p.bank) {
    case "deposited":
      return p.deposit && p.deposit.difference.minor !== "0"
        ? `Deposited ${p.deposit.booked_on}, ${formatAmount(p.deposit.difference)} off`
        : `Deposited ${p.deposit?.booked_on ?? ""}`;
    case "missing":
      return "Missing: not on the bank statements";
    case "not_yet_in_the_bank":
      return "Not yet in the bank";
    default:
      return "No deposit expected";
  }
}
