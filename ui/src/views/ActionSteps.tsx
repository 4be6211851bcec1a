// The steps of one proposed action, wherever it came from (a finding's fix, a re-charge):
// approve with a name and passphrase (a second, different approver above the threshold),
// then execute — one press in flight at a time, "already in progress" when another window
// holds it, and an undecided outcome read as "checking with the gateway".
import { useRef, useState } from "react";
import type { ActionView } from "../generated";
import { call, CommandError } from "../transport";
import { approvalRule, checkApprove, executeView, type ExecuteView } from "../state";
import { STATE_LABEL } from "../labels";

/** An error as the bookkeeper reads it. */
export function errorMessage(e: unknown): string {
  if (e instanceof CommandError) {
    return e.code === "already_in_progress" ? `Already in progress: ${e.message}` : e.message;
  }
  return String(e);
}

export function ActionSteps(props: {
  action: ActionView;
  user: string;
  heuristic: boolean;
  onChanged: () => Promise<void>;
}) {
  const { action } = props;
  const message = errorMessage;
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [passphrase, setPassphrase] = useState("");
  const [checked, setChecked] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const [inFlight, setInFlight] = useState(false);
  const flying = useRef(false);
  const [last, setLast] = useState<ExecuteView | undefined>(undefined);

  if (action.state === "proposed") {
    const check = checkApprove(name, passphrase, props.heuristic, checked);
    const approve = async (e: React.FormEvent) => {
      e.preventDefault();
      if (!check.ok) {
        setError(check.problem ?? null);
        return;
      }
      try {
        const done = await call("approve", {
          action_id: action.id,
          name,
          passphrase,
          heuristic_checked: checked,
        });
        setPassphrase("");
        setError(null);
        setNote(
          done.approvals < done.needed
            ? `Approval ${done.approvals} of ${done.needed}: a second, different approver is needed.`
            : null,
        );
      } catch (err) {
        setError(message(err));
      }
      await props.onChanged();
    };
    return (
      <form onSubmit={approve} aria-label="Approve" className="approve">
        <p className="muted" data-testid="approval-rule">
          {approvalRule(action)}
        </p>
        <label>
          Approver
          <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="username" />
        </label>
        <label>
          Passphrase
          <input
            type="password"
            value={passphrase}
            onChange={(e) => setPassphrase(e.target.value)}
            autoComplete="current-password"
          />
        </label>
        {props.heuristic && (
          <label className="check">
            <input type="checkbox" checked={checked} onChange={(e) => setChecked(e.target.checked)} />I checked
            this match
          </label>
        )}
        <button type="submit">Approve</button>
        {note && <p role="status">{note}</p>}
        {error && <p className="error" role="alert">{error}</p>}
      </form>
    );
  }

  const view = executeView(action, inFlight, last);
  const execute = async () => {
    // A second press while the first is answered sends nothing (the core would refuse it
    // anyway: one action, one key, one effect).
    if (flying.current) return;
    flying.current = true;
    setInFlight(true);
    try {
      const done = await call("execute", { action_id: action.id, by: props.user });
      setLast({ kind: "done", message: done.message });
    } catch (e) {
      setLast({ kind: "error", message: message(e) });
    } finally {
      flying.current = false;
      setInFlight(false);
      await props.onChanged();
    }
  };
  return (
    <div className="execute">
      {(view.kind === "ready" || view.kind === "error") && (
        <button onClick={execute} className="primary">
          Execute
        </button>
      )}
      {view.kind === "in_flight" && (
        <p role="status" aria-busy="true">
          <progress aria-label="Request in flight" /> Sending to the gateway…
        </p>
      )}
      {view.kind === "checking" && <p role="status">Checking with the gateway: {view.message}</p>}
      {view.kind === "error" && <p className="error" role="alert">{view.message}</p>}
      {last?.kind === "done" && (
        // A refund's books' side follows it, a line each.
        <p role="status" className="outcome">
          {last.message}
        </p>
      )}
    </div>
  );
}

/** One line: the action's state in words, its approvers, its gateway object and key. */
export function ActionSummary({ action }: { action: ActionView }) {
  return (
    <p className="action-summary" data-testid="action-state" data-state={action.state}>
      Action #{action.id}: <span className={`state state-${action.state}`}>{STATE_LABEL[action.state]}</span>{" "}
      — {action.state_words}
      {action.follow_up_of !== null && (
        <span data-testid="action-follow-up-of"> · the books' side of action #{action.follow_up_of}</span>
      )}
      {action.approvers.length > 0 && ` · approved by ${action.approvers.join(", ")}`}
      {action.gateway_object_id && (
        <>
          {" "}
          · {action.destination === "Stripe" ? "gateway" : action.destination}{" "}
          {action.object_link ? (
            <a href={action.object_link} target="_blank" rel="noreferrer" data-testid="action-object-link">
              <code>{action.gateway_object_id}</code>
            </a>
          ) : (
            <code>{action.gateway_object_id}</code>
          )}
        </>
      )}
      <br />
      <span className="muted">
        key <code className="key">{action.key}</code>
      </span>
    </p>
  );
}
