// Re-charge: unpaid invoices whose card was declined (or whose re-charge failed). Opening
// one runs every guard against the ledger and the gateway and shows each result — unpaid
// in the ledger, no succeeded charge at the gateway, nothing in flight, a saved card —
// before Propose can be pressed. The proposed re-charge is then approved and executed
// like any fix (ActionSteps), exactly once.
import { useCallback, useEffect, useState } from "react";
import type { ActionView, RechargeCandidate, RechargeCheck } from "../generated";
import { call } from "../transport";
import { formatAmount } from "../money";
import { shortInstant } from "../labels";
import { attemptsSummary, checkPropose, GUARD_LABEL, OUTCOME_LABEL, outcomeMark } from "../recharge";
import { ActionSteps, ActionSummary, errorMessage } from "./ActionSteps";

// Candidates asked for at a time: a page answers in milliseconds whatever the books hold.
const PAGE = 200;

export function Recharge(props: { user: string; onChanged: () => Promise<void> }) {
  const [rows, setRows] = useState<RechargeCandidate[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);

  // The first page; "Show more" appends the next, after the last invoice shown.
  const load = useCallback(async () => {
    try {
      const page = await call("recharge_candidates", { limit: PAGE });
      setRows(page);
      setMore(page.length === PAGE);
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);
  const loadMore = async () => {
    if (!rows || rows.length === 0) return;
    try {
      const page = await call("recharge_candidates", {
        limit: PAGE,
        after_invoice: rows[rows.length - 1].invoice_number,
      });
      setRows(rows.concat(page));
      setMore(page.length === PAGE);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  useEffect(() => {
    void load();
  }, [load]);

  const onKeyDown = (e: React.KeyboardEvent, index: number) => {
    if (!rows) return;
    let next = index;
    if (e.key === "ArrowDown") next = Math.min(rows.length - 1, index + 1);
    else if (e.key === "ArrowUp") next = Math.max(0, index - 1);
    else return;
    e.preventDefault();
    document.getElementById(`recharge-row-${next}`)?.focus();
  };

  return (
    <section aria-labelledby="recharge-title" className="split">
      <div>
        <h2 id="recharge-title">Re-charge</h2>
        <p className="muted">
          Unpaid invoices that an attempt failed to collect (a declined card, a refused re-charge). Open one to
          check it before charging again.
        </p>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {!rows ? (
          <p aria-busy="true">Loading…</p>
        ) : rows.length === 0 ? (
          <p>No unpaid invoice has a failed attempt.</p>
        ) : (
          <table className="grid" aria-label="Unpaid invoices with a failed attempt">
            <thead>
              <tr>
                <th scope="col">Invoice</th>
                <th scope="col">Customer</th>
                <th scope="col">Owed</th>
                <th scope="col">Failed attempts</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <tr
                  key={r.invoice_number}
                  id={`recharge-row-${i}`}
                  data-invoice={r.invoice_number}
                  className={selected === r.invoice_number ? "selectable selected" : "selectable"}
                  tabIndex={0}
                  aria-selected={selected === r.invoice_number}
                  onClick={() => setSelected(r.invoice_number)}
                  onKeyDown={(e) => {
                    if (e.key === "Enter" || e.key === " ") {
                      e.preventDefault();
                      setSelected(r.invoice_number);
                    } else onKeyDown(e, i);
                  }}
                >
                  <th scope="row">{r.invoice_number}</th>
                  <td>{r.customer_id}</td>
                  <td className="num">{formatAmount(r.owed)}</td>
                  <td>{attemptsSummary(r)}</td>
                  <td>{r.open_action ? `#${r.open_action.id} ${r.open_action.state_words}` : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {more && (
          <button type="button" onClick={() => void loadMore()}>
            Show more
          </button>
        )}
      </div>
      <div className="detail">
        {selected === null ? (
          <p className="hint">Open an invoice (click it, or Enter) to check its guards.</p>
        ) : (
          <RechargePanel
            key={selected}
            candidate={rows?.find((r) => r.invoice_number === selected) ?? null}
            invoiceNumber={selected}
            user={props.user}
            onChanged={async () => {
              await load();
              await props.onChanged();
            }}
          />
        )}
      </div>
    </section>
  );
}

function RechargePanel(props: {
  candidate: RechargeCandidate | null;
  invoiceNumber: string;
  user: string;
  onChanged: () => Promise<void>;
}) {
  const [check, setCheck] = useState<RechargeCheck | null>(null);
  const [checking, setChecking] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [proposing, setProposing] = useState(false);
  // The re-charge proposed here, kept on screen after it leaves the open states (done).
  const [mine, setMine] = useState<ActionView | null>(null);

  const runChecks = useCallback(async () => {
    setChecking(true);
    try {
      const checked = await call("recharge_check", { invoice_number: props.invoiceNumber });
      setCheck(checked);
      if (checked.open_action) setMine(checked.open_action);
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setChecking(false);
    }
  }, [props.invoiceNumber]);
  useEffect(() => {
    void runChecks();
  }, [runChecks]);

  const changed = async () => {
    await runChecks();
    // An action that is done no longer holds the invoice: read its outcome from the journal.
    const all = await call("actions", null).catch(() => null);
    setMine((m) => (m && all ? (all.find((a) => a.id === m.id) ?? m) : m));
    await props.onChanged();
  };

  const gate = checkPropose(check, props.user, checking);
  const propose = async () => {
    if (!gate.ok || proposing) return;
    setProposing(true);
    try {
      setMine(await call("recharge_propose", { invoice_number: props.invoiceNumber, by: props.user }));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setProposing(false);
    }
    await changed();
  };

  const c = props.candidate;
  const open = check?.open_action ?? (mine && mine.invoice_number === props.invoiceNumber ? mine : null);
  return (
    <article className="panel" aria-labelledby="recharge-panel-title">
      <h2 id="recharge-panel-title">
        Invoice {props.invoiceNumber}
        {check && <span className="muted"> · {check.customer_id}</span>}
      </h2>
      {c && (
        <>
          <p>
            Issued {shortInstant(c.issued_at)} for {formatAmount(c.invoice_amount)}; the ledger says{" "}
            <strong>{formatAmount(c.owed)}</strong> is owed.
          </p>
          <ul aria-label="Failed attempts" className="attempts">
            {c.failed_attempts.map((a) => (
              <li key={`${a.charge_id ?? ""}${a.action_id ?? ""}${a.at}`}>
                {shortInstant(a.at)}: {a.what}
              </li>
            ))}
          </ul>
        </>
      )}

      <section aria-label="Guards" className="guards">
        <h3>
          Guards {checking && <progress aria-label="Checking the guards" />}
        </h3>
        <ul>
          {(check?.checks ?? []).map((g) => (
            <li key={g.guard} className={`guard guard-${g.outcome}`} data-guard={g.guard} data-outcome={g.outcome}>
              <span className="mark" aria-hidden="true">
                {outcomeMark(g.outcome)}
              </span>{" "}
              <strong>{GUARD_LABEL[g.guard]}</strong>: {OUTCOME_LABEL[g.outcome]}
              <br />
              <span className="muted">{g.detail}</span>
            </li>
          ))}
        </ul>
        <button onClick={() => void runChecks()} disabled={checking}>
          Check again
        </button>
      </section>

      <section aria-label="Re-charge" className="fix">
        <h3>The re-charge</h3>
        {check?.amount && !open && (
          <p data-testid="recharge-plan">
            Re-charge invoice {check.invoice_number} for {formatAmount(check.amount)} with the customer's saved
            card (attempt {check.attempt}).
          </p>
        )}
        {!open && (
          <>
            <button className="primary" onClick={propose} disabled={!gate.ok || proposing} aria-describedby="propose-why">
              Propose this re-charge
            </button>
            {!gate.ok && (
              <p id="propose-why" className="muted">
                {gate.problem}
              </p>
            )}
          </>
        )}
        {open && (
          <>
            <ActionSummary action={open} />
            {open.kind === "recharge" ? (
              <ActionSteps action={open} user={props.user} heuristic={false} onChanged={changed} />
            ) : (
              <p>Action #{open.id} is a fix from the findings queue; finish it there first.</p>
            )}
          </>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </section>
    </article>
  );
}
