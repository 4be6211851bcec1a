// Today: last sync and its coverage, "Sync now" with a progress bar (the core's sync runs in
// the background; the window polls `sync_progress`), the open findings by kind with the
// money at stake per currency, and a chart of gateway vs ledger by day.
import { useEffect, useRef, useState } from "react";
import type { SyncStatus, Today as TodayData } from "../generated";
import { call, CommandError } from "../transport";
import { formatAmounts } from "../money";
import { KIND_LABEL, shortInstant } from "../labels";
import { finalMessage, nextPoll } from "../syncing";
import { DailyChart } from "./DailyChart";

export function Today(props: {
  today: TodayData | null;
  onRefresh: () => Promise<void>;
  onOpenFindings: () => void;
}) {
  const { today } = props;
  const [sync, setSync] = useState<SyncStatus | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [chartVersion, setChartVersion] = useState(0);
  const polls = useRef(0);
  const { onRefresh } = props;

  // While a run goes on (started here, or before a reload), ask for its progress.
  useEffect(() => {
    if (!sync) return;
    const wait = nextPoll(sync, polls.current);
    if (wait === null) {
      setMessage(finalMessage(sync));
      if (polls.current > 0) {
        polls.current = 0;
        setChartVersion((v) => v + 1);
        void onRefresh();
      }
      return;
    }
    const timer = setTimeout(async () => {
      polls.current += 1;
      try {
        setSync(await call("sync_progress", null));
      } catch (e) {
        setMessage(e instanceof CommandError ? e.message : String(e));
        setSync(null);
      }
    }, wait);
    return () => clearTimeout(timer);
  }, [sync, onRefresh]);

  useEffect(() => {
    // A sync started before this window was opened (or reloaded) shows its progress too.
    call("sync_progress", null)
      .then((s) => s.state === "running" && setSync(s))
      .catch(() => undefined);
  }, []);

  if (!today) return <p aria-busy="true">Loading…</p>;

  const syncing = sync?.state === "running";
  const syncNow = async () => {
    setMessage(null);
    try {
      polls.current = 0;
      const started = await call("sync_start", null);
      polls.current = started.state === "running" ? 1 : 0;
      setSync(started);
    } catch (e) {
      setMessage(e instanceof CommandError ? e.message : String(e));
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
          {syncing && sync && (
            <div className="sync-progress" data-testid="sync-progress">
              <progress aria-label="Sync progress" max={100} value={sync.percent} />
              <span>{sync.words}</span>
            </div>
          )}
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
      <DailyChart version={chartVersion} />
    </section>
  );
}
