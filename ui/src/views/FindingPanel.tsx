// One finding: its reason in plain words, the evidence side by side (invoice, ledger,
// gateway charges), the one proposed fix, and the steps of its action — propose, approve
// (name and passphrase), execute (in flight, then its outcome) — or dismiss with a reason.
import { useCallback, useEffect, useState } from "react";
import type { ActionView, FindingDetail } from "../generated";
import { call } from "../transport";
import { formatAmount } from "../money";
import { KIND_LABEL, shortInstant } from "../labels";
import { checkDismiss } from "../state";
import { ActionSteps, ActionSummary, errorMessage as message } from "./ActionSteps";

export function FindingPanel(props: { id: number; user: string; onChanged: () => Promise<void> }) {
  const [detail, setDetail] = useState<FindingDetail | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setDetail(await call("finding", { id: props.id }));
    } catch (e) {
      setError(message(e));
    }
  }, [props.id]);
  useEffect(() => {
    void load();
  }, [load]);

  const changed = async () => {
    await load();
    await props.onChanged();
  };

  if (!detail) return error ? <p className="error">{error}</p> : <p aria-busy="true">Loading…</p>;
  const f = detail.finding;
  const ev = detail.evidence;
  const action: ActionView | undefined = detail.actions[0];
  const heuristic = f.confidence === "heuristic";

  return (
    <article aria-labelledby="finding-title" className="panel">
      <h2 id="finding-title">
        {KIND_LABEL[f.kind]} <span className="muted">#{f.id}</span>{" "}
        {heuristic && <span className="badge heuristic">heuristic match: check it yourself</span>}
      </h2>
      <p className="reason">{f.reason}</p>
      <p>
        <strong>{formatAmount(f.amount)}</strong> · {f.status}
        {f.resolution && ` (${f.resolution})`}
      </p>

      {(ev.payout || ev.deposit) && (
        <div className="evidence">
          <section aria-label="Payout">
            <h3>Stripe payout</h3>
            {ev.payout ? (
              <dl>
                <dt>Payout</dt>
                <dd>
                  <code>{ev.payout.id}</code>
                </dd>
                <dt>Amount</dt>
                <dd>{formatAmount(ev.payout.amount)}</dd>
                <dt>Arrives</dt>
                <dd>{ev.payout.arrival_date}</dd>
                <dt>Status</dt>
                <dd>{ev.payout.status}</dd>
                <dt>Transactions</dt>
                <dd>{ev.payout.transactions}</dd>
              </dl>
            ) : (
              <p>No payout explains it.</p>
            )}
          </section>
          <section aria-label="Bank">
            <h3>Bank</h3>
            {ev.deposit ? (
              <dl>
                <dt>Account</dt>
                <dd>{ev.deposit.account}</dd>
                <dt>Booked</dt>
                <dd>{ev.deposit.booked_on}</dd>
                <dt>Amount</dt>
                <dd>{formatAmount(ev.deposit.amount)}</dd>
                <dt>Description</dt>
                <dd>{ev.deposit.description}</dd>
              </dl>
            ) : (
              <p>No deposit on the statements.</p>
            )}
          </section>
        </div>
      )}
      {ev.dispute && (
        <section aria-label="Dispute" className="evidence">
          <h3>Dispute</h3>
          <dl>
            <dt>Dispute</dt>
            <dd>
              {ev.dispute.id ? (
                <code>{ev.dispute.id}</code>
              ) : (
                "stated by Stripe's payments export; its id comes with the next sync"
              )}
            </dd>
            <dt>Disputed</dt>
            <dd>{formatAmount(ev.dispute.amount)}</dd>
            <dt>Status</dt>
            <dd>{ev.dispute.status}</dd>
            <dt>Reason</dt>
            <dd>{ev.dispute.reason}</dd>
            <dt>Opened</dt>
            <dd>{shortInstant(ev.dispute.created)}</dd>
            {ev.dispute.evidence_due_by && (
              <>
                <dt>Evidence due</dt>
                <dd>{shortInstant(ev.dispute.evidence_due_by)}</dd>
              </>
            )}
          </dl>
        </section>
      )}
      {!(ev.payout || ev.deposit) && (
      <div className="evidence">
        <section aria-label="Invoice">
          <h3>Invoice</h3>
          {[ev.earlier_invoice, ev.invoice].filter((i) => i).map((inv) => (
            <dl key={inv!.number}>
              <dt>Number</dt>
              <dd>{inv!.number}{inv === ev.earlier_invoice && " (earlier)"}</dd>
              <dt>Customer</dt>
              <dd>{inv!.customer_id}</dd>
              <dt>Amount</dt>
              <dd>{formatAmount(inv!.amount)}</dd>
              <dt>Issued</dt>
              <dd>{shortInstant(inv!.issued_at)}</dd>
              <dt>Status</dt>
              <dd>{inv!.status}</dd>
              {inv!.order_ref && (
                <>
                  <dt>Order</dt>
                  <dd>{inv!.order_ref}</dd>
                </>
              )}
              <dt>Gateway holds</dt>
              <dd>{formatAmount(inv!.gateway_net)}</dd>
            </dl>
          ))}
          {!ev.invoice && <p>No invoice.</p>}
        </section>
        <section aria-label="Ledger">
          <h3>Ledger</h3>
          {ev.ledger_entries.length === 0 && <p>Nothing recorded.</p>}
          {ev.ledger_entries.map((l) => (
            <dl key={l.payment_id}>
              <dt>{l.kind}</dt>
              <dd>
                {l.payment_id}: {formatAmount(l.amount)}
              </dd>
              <dt>Recorded</dt>
              <dd>{shortInstant(l.recorded_at)}</dd>
              <dt>Gateway id</dt>
              <dd>{l.gateway_id ?? "cash / transfer"}</dd>
            </dl>
          ))}
        </section>
        <section aria-label="Gateway">
          <h3>Gateway</h3>
          {ev.charges.map((c) => (
            <dl key={c.id} className={`charge role-${c.role}`}>
              <dt>{c.role}</dt>
              <dd>
                <code>{c.id}</code>
              </dd>
              <dt>Amount</dt>
              <dd>
                {formatAmount(c.amount)}
                {c.refunded.minor !== "0" && ` (refunded ${formatAmount(c.refunded)})`}
              </dd>
              <dt>Created</dt>
              <dd>{shortInstant(c.created)}</dd>
              <dt>Status</dt>
              <dd>{c.status}</dd>
              <dt>Tied by</dt>
              <dd>{c.linked_by ?? "—"}</dd>
              <dt>In ledger</dt>
              <dd>{c.recorded_in_ledger ? "yes" : "no"}</dd>
            </dl>
          ))}
        </section>
      </div>
      )}
      {ev.facts.length > 0 && (
        <p className="muted">
          {ev.facts.map((x) => `${x.label}: ${x.amount ? formatAmount(x.amount) : x.value}`).join(" · ")}
        </p>
      )}

      <section aria-label="Fix" className="fix">
        <h3>The fix</h3>
        {detail.fix ? (
          <>
            <p data-testid="fix">{detail.fix.description}</p>
            <p className="muted" data-testid="fix-destination">
              Written to: {detail.fix.destination}
            </p>
          </>
        ) : (
          f.status === "open" && <p>{detail.no_fix_reason}</p>
        )}
        {f.status === "resolved" && (
          <p>
            Resolved{f.resolution === "fixed" ? " by the action below" : f.resolution === "dismissed" ? " by a dismissal (see the audit log)" : ": the data no longer shows it"}.
            The evidence above is as it was when the finding was last seen.
          </p>
        )}
        {f.status === "open" && (
          <Steps
            detail={detail}
            action={action}
            user={props.user}
            heuristic={heuristic}
            onChanged={changed}
          />
        )}
        {action && <ActionSummary action={action} />}
      </section>
      {f.status === "open" && !(action && ["approved", "executing", "unknown", "needs_review"].includes(action.state)) && (
        <Dismiss findingId={f.id} user={props.user} onChanged={changed} />
      )}
    </article>
  );
}

function Steps(props: {
  detail: FindingDetail;
  action: ActionView | undefined;
  user: string;
  heuristic: boolean;
  onChanged: () => Promise<void>;
}) {
  const { action } = props;
  const [error, setError] = useState<string | null>(null);

  if (!props.detail.fix) return null;
  const open = !action || action.state === "cancelled" || action.state === "failed";

  if (open) {
    const propose = async () => {
      try {
        await call("propose", { finding_id: props.detail.finding.id, by: props.user });
        setError(null);
      } catch (e) {
        setError(message(e));
      }
      await props.onChanged();
    };
    return (
      <>
        <button onClick={propose}>Propose this fix</button>
        {error && <p className="error" role="alert">{error}</p>}
      </>
    );
  }
  return <ActionSteps action={action!} user={props.user} heuristic={props.heuristic} onChanged={props.onChanged} />;
}

function Dismiss(props: { findingId: number; user: string; onChanged: () => Promise<void> }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const check = checkDismiss(reason);
    if (!check.ok) {
      setError(check.problem ?? null);
      return;
    }
    try {
      await call("dismiss", { finding_id: props.findingId, by: props.user, reason });
      setError(null);
    } catch (err) {
      setError(message(err));
    }
    await props.onChanged();
  };
  return (
    <form onSubmit={submit} aria-label="Dismiss" className="dismiss">
      <label>
        Reason to dismiss
        <input value={reason} onChange={(e) => setReason(e.target.value)} required aria-required="true" />
      </label>
      <button type="submit">Dismiss</button>
      {error && <p className="error" role="alert">{error}</p>}
    </form>
  );
}
