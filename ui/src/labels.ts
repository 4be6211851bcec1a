// The bookkeeper's words for the core's codes.
import type { ActionState, FindingKind } from "./generated";

export const KIND_LABEL: Record<FindingKind, string> = {
  double_charge: "Double charge",
  orphan_charge: "Orphan charge",
  missing_charge: "Missing charge",
  amount_mismatch: "Amount mismatch",
  unrecorded_refund: "Unrecorded refund",
  duplicate_invoice: "Duplicate invoice",
  payout_missing_deposit: "Payout not in the bank",
  payout_unbalanced: "Payout does not add up",
  deposit_without_payout: "Deposit without a payout",
  deposit_amount_differs: "Deposit differs from its payout",
  dispute_invoice_still_paid: "Disputed, still paid in the ledger",
  dispute_lost_unrecorded: "Dispute lost, not in the ledger",
};

export const KINDS = Object.keys(KIND_LABEL) as FindingKind[];

export const STATE_LABEL: Record<ActionState, string> = {
  proposed: "Proposed",
  approved: "Approved",
  executing: "Executing",
  succeeded: "Succeeded",
  failed: "Failed",
  unknown: "Checking with the gateway",
  needs_review: "Needs review",
  cancelled: "Cancelled",
};

/** A short instant for tables: "2026-09-25 19:02 UTC". */
export function shortInstant(rfc3339: string | null | undefined): string {
  if (!rfc3339) return "—";
  return rfc3339.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
}
