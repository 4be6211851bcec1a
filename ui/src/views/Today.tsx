// Today: last sync and its coverage, "Sync now", and the open findings by kind with the
// money at stake per currency.
import { useState } from "react";
import type { Today as TodayData } from "../generated";
import { call, CommandError } from "../transport";
import { formatAmounts } from "../money";
import { KIND_LABEL, shortInstant } from "../labels";

export function Today(props: {
  today: TodayData | null;
  onRefresh: () => Promise<void>;
  onOpenFindings: () => void;
}) {
  const { today } = props;
  const [syncing, setSyncing] = useState(false);
  const [message, setMessage] = useState<string | null>(null);

  if (!today) return <p aria-busy="true">Loading…</p>;

  const syncNow = async () => {
    setSyncing(true);
    setMessage(null);
    try {
      const synced = await call("sync_now", null);
      setMessage(synced.message);
    } catch (e) {
      setMessage(e instanceof CommandError ? e.message : String(e));
    } finally {
      setSyncing(false);
      await props.onRefresh();
    }
  };

  return (
    <section aria-labelledby="today-title">
      <h2 id="today-title">Today</h2>
      <div className="cards">
        <div className="card">
          <h3>Gateway</h3>
          <p>{today.gateway ?? "Not connected"}</p>
          <p>
            Last sync: {today.last_sync ? shortInstant(today.last_sync.at) : "never"}
            {today.last_sync && ` (${today.last_sync.new} new, ${today.last_sync.changed} changed)`}
          </p>
          <p>
            Covered:{" "}
            {today.coverage.length === 0
              ? "nothing yet"
              : today.coverage.map((c) => `${shortInstant(c.from)} – ${shortInstant(c.to)}`).join("; ")}
          </p>
          <button onClick={syncNow} disabled={syncing || !today.gateway} aria-busy={syncing}>
            {syncing ? "Syncing…" : "Sync now"}
          </button>
          {syncing && <progress aria-label="Sync progress" />}
          {message && <p role="status">{message}</p>}
        </div>
        <div className="card">
          <h3>Actions</h3>
          <p>{today.waiting_actions} waiting for approval or execution</p>
          <p>{today.undecided_actions} checking with the gateway</p>
        </div>
      </div>
      <h3>
        Open findings: <span data-testid="open-findings">{today.open_findings}</span>
      </h3>
      <table className="grid">
        <thead>
          <tr>
            <th scope="col">Kind</th>
            <th scope="col">Open</th>
            <th scope="col">Money at stake</th>
          </tr>
        </thead>
        <tbody>
          {today.open_by_kind.map((k) => (
            <tr key={k.kind}>
              <th scope="row">{KIND_LABEL[k.kind]}</th>
              <td className="num">{k.count}</td>
              <td className="num">{formatAmounts(k.amounts)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <button onClick={props.onOpenFindings}>Work the findings queue</button>
    </section>
  );
}
