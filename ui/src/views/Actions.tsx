// Actions: every action with its state, key, proposer and approvers; Recover settles
// those whose outcome the gateway has not confirmed.
import { useCallback, useEffect, useState } from "react";
import type { ActionView } from "../generated";
import { call, CommandError } from "../transport";
import { formatAmount } from "../money";
import { STATE_LABEL, shortInstant } from "../labels";

export function Actions(props: { user: string; onChanged: () => Promise<void> }) {
  const [actions, setActions] = useState<ActionView[] | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setActions(await call("actions", null));
    } catch (e) {
      setMessage(e instanceof CommandError ? e.message : String(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const recover = async () => {
    try {
      setMessage((await call("recover", null)).message);
    } catch (e) {
      setMessage(e instanceof CommandError ? e.message : String(e));
    }
    await load();
    await props.onChanged();
  };

  if (!actions) return <p aria-busy="true">Loading…</p>;
  return (
    <section aria-labelledby="actions-title">
      <h2 id="actions-title">Actions</h2>
      <button onClick={recover}>Check undecided actions with the gateway</button>
      {message && <p role="status">{message}</p>}
      {actions.length === 0 ? (
        <p>No actions yet: propose a fix from a finding.</p>
      ) : (
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">What</th>
              <th scope="col">Amount</th>
              <th scope="col">State</th>
              <th scope="col">Proposed by</th>
              <th scope="col">Approved by</th>
              <th scope="col">Key</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {actions.map((a) => (
              <tr key={a.id} data-state={a.state}>
                <td>{a.id}</td>
                <td>{a.description}</td>
                <td className="num">{formatAmount(a.amount)}</td>
                <td>
                  <span className={`state state-${a.state}`}>{STATE_LABEL[a.state]}</span>
                </td>
                <td>{a.proposed_by}</td>
                <td>{a.approvers.join(", ") || "—"}</td>
                <td>
                  <code className="key">{a.key}</code>
                </td>
                <td>{shortInstant(a.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
