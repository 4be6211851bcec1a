// Payouts: each of Stripe's payouts with the bank deposit it arrived as — or that it is not
// in the bank yet, or missing where the statements cover it — its fees, and its balance
// transactions one click away (charges, refunds, disputes' adjustments and their fees).
import { useCallback, useEffect, useState } from "react";
import type { BalanceTransactionView, PayoutView } from "../generated";
import { call } from "../transport";
import { formatAmount } from "../money";
import { shortInstant } from "../labels";
import { errorMessage } from "./ActionSteps";
import { bankWords } from "../payouts";

export function Payouts() {
  const [payouts, setPayouts] = useState<PayoutView[] | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [lines, setLines] = useState<BalanceTransactionView[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setPayouts(await call("payouts", null));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const toggle = async (id: string) => {
    if (open === id) {
      setOpen(null);
      return;
    }
    try {
      setLines(await call("payout_transactions", { payout_id: id }));
      setOpen(id);
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <section aria-labelledby="payouts-title">
      <h2 id="payouts-title">Payouts</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {payouts && payouts.length === 0 && (
        <p>No payouts yet: sync with Stripe, or import its payouts export on the Import screen.</p>
      )}
      {payouts && payouts.length > 0 && (
        <table className="payouts">
          <thead>
            <tr>
              <th>Payout</th>
              <th>Arrives</th>
              <th>Amount</th>
              <th>Status</th>
              <th>Bank</th>
              <th>Fees</th>
              <th>Disputes</th>
              <th>Transactions</th>
            </tr>
          </thead>
          <tbody>
            {payouts.map((p) => (
              <PayoutRow key={p.id} payout={p} open={open === p.id} lines={lines} onToggle={() => void toggle(p.id)} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function PayoutRow(props: { payout: PayoutView; open: boolean; lines: BalanceTransactionView[]; onToggle: () => void }) {
  const p = props.payout;
  return (
    <>
      <tr data-payout={p.id} data-bank={p.bank} className={`bank-${p.bank}`}>
        <td>
          <code>{p.id}</code>
        </td>
        <td>{p.arrival_date}</td>
        <td>{formatAmount(p.amount)}</td>
        <td>{p.status}</td>
        <td data-testid="payout-bank">{bankWords(p)}</td>
        <td>{formatAmount(p.fees)}</td>
        <td data-testid="payout-disputes">{p.disputes.minor === "0" ? "" : formatAmount(p.disputes)}</td>
        <td>
          <button type="button" aria-expanded={props.open} onClick={props.onToggle}>
            {p.transactions} {p.transactions === 1 ? "transaction" : "transactions"}
          </button>
        </td>
      </tr>
      {props.open && (
        <tr className="payout-lines">
          <td colSpan={8}>
            {props.lines.length === 0 ? (
              <p>Its transactions are not in the store: a sync lists them, or Stripe's payout reconciliation report.</p>
            ) : (
              <table aria-label={`Transactions of ${p.id}`}>
                <thead>
                  <tr>
                    <th>Transaction</th>
                    <th>Kind</th>
                    <th>From</th>
                    <th>Created</th>
                    <th>Amount</th>
                    <th>Fee</th>
                    <th>Net</th>
                  </tr>
                </thead>
                <tbody>
                  {props.lines.map((t) => (
                    <tr key={t.id}>
                      <td>
                        <code>{t.id}</code>
                      </td>
                      <td>{t.kind}</td>
                      <td>{t.source ? <code>{t.source}</code> : "—"}</td>
                      <td>{shortInstant(t.created)}</td>
                      <td>{formatAmount(t.amount)}</td>
                      <td>{formatAmount(t.fee)}</td>
                      <td>{formatAmount(t.net)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </td>
        </tr>
      )}
    </>
  );
}
