// Month-end: pick a month (and the zone the books are kept in), see whether its books tie
// out, export the audit package (a folder in the data folder, or one you name, and its
// zip), verify a package, and close the month with an approver's passphrase — or reopen a
// closed one with a reason. Every rule is the core's; this screen asks and shows.
import { useCallback, useEffect, useState } from "react";
import type { ClearingView, ExportedPackage, PackageVerified, PeriodView } from "../generated";
import { formatAmount } from "../money";
import { call } from "../transport";
import { shortInstant } from "../labels";
import { checkClose, checkMonth, checkReopen, computerZone, previousMonth, statement } from "../monthend";
import { errorMessage } from "./ActionSteps";

/** How often the screen asks whether the tie-out being computed is ready. */
const TIE_OUT_POLL_MS = 500;

export function MonthEnd(props: { onChanged: () => Promise<void> }) {
  const [month, setMonth] = useState(() => previousMonth(new Date()));
  const [zone, setZone] = useState("");
  const [view, setView] = useState<PeriodView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  const load = useCallback(async () => {
    if (!checkMonth(month).ok) return;
    setLoading(true);
    try {
      const v = await call("period_status", { month, tz: zone.trim() || undefined });
      setView(v);
      setError(null);
    } catch (e) {
      setView(null);
      setError(errorMessage(e));
    } finally {
      setLoading(false);
    }
  }, [month, zone]);
  useEffect(() => {
    void load();
  }, [load]);
  // The tie-out is computed in the background after a write: ask again until it is the
  // books' as they are now.
  const current = view === null || view.tie_out_state === "current";
  useEffect(() => {
    if (current) return;
    const timer = setTimeout(() => void load(), TIE_OUT_POLL_MS);
    return () => clearTimeout(timer);
  }, [current, view, load]);

  const changed = async () => {
    await load();
    await props.onChanged();
  };

  const suggested = computerZone();
  return (
    <section aria-labelledby="monthend-title">
      <h2 id="monthend-title">Month-end</h2>
      <form className="filters" aria-label="Which month" onSubmit={(e) => { e.preventDefault(); void load(); }}>
        <label>
          Month
          <input type="month" value={month} onChange={(e) => setMonth(e.target.value)} required />
        </label>
        <label>
          Time zone
          <input
            value={zone}
            placeholder={view?.business_zone ?? "e.g. Europe/Berlin"}
            onChange={(e) => setZone(e.target.value)}
            aria-describedby="zone-hint"
          />
        </label>
        <button type="submit">Show</button>
        <span id="zone-hint" className="muted">
          Empty: the business's zone{view?.business_zone ? ` (${view.business_zone})` : " (none set yet)"}. A
          closed month keeps the zone it was closed in.
        </span>
      </form>
      {error && (
        <div className="error" role="alert">
          <p>{error}</p>
          {!zone && (
            <button type="button" onClick={() => setZone(suggested)}>
              Use this computer's zone ({suggested})
            </button>
          )}
        </div>
      )}
      {loading && !view && <p aria-busy="true">Loading…</p>}
      {view && (
        <>
          <PeriodSummary view={view} onReconciled={changed} />
          <div className="cards">
            <ExportCard view={view} zone={zone} />
            <VerifyCard />
            {view.closed ? <ReopenCard view={view} onChanged={changed} /> : <CloseCard view={view} zone={zone} onChanged={changed} />}
          </div>
          <History view={view} />
        </>
      )}
    </section>
  );
}

function PeriodSummary(props: { view: PeriodView; onReconciled: () => Promise<void> }) {
  const { view } = props;
  const s = statement(view.tie_out);
  const [note, setNote] = useState<string | null>(null);
  const reconcile = async () => {
    try {
      const open = await call("reconcile", null);
      setNote(`Reconciled: ${open.toLocaleString("en")} open findings.`);
    } catch (e) {
      setNote(errorMessage(e));
    }
    await props.onReconciled();
  };
  return (
    <div className="panel" aria-label="The month">
      <p data-testid="period-state" data-closed={view.closed ? "yes" : "no"}>
        <strong>{view.month}</strong> in {view.time_zone}: {view.starts_at} to {view.ends_at} ·{" "}
        {view.closed ? (
          <span className="state state-succeeded">
            Closed by {view.closed.closed_by} on {shortInstant(view.closed.closed_at)}
          </span>
        ) : view.ended ? (
          <span className="state">Open, ended</span>
        ) : (
          <span className="state state-unknown">Open, not ended yet</span>
        )}
      </p>
      {view.tie_out_state === "computing" ? (
        <p aria-busy="true" data-testid="tie-out-computing">
          Computing the month's tie-out…
        </p>
      ) : view.tie_out_problem ? (
        <div role="alert" className="error">
          <p>{view.tie_out_problem}</p>
          <button onClick={reconcile}>Reconcile</button>
        </div>
      ) : (
        <p className="state state-succeeded" data-testid="ties-out">
          The books tie out: every difference between the gateway and the ledger is explained.
        </p>
      )}
      {view.tie_out_state === "updating" && (
        <p role="status" className="muted" data-testid="tie-out-updating">
          Shown as the books were before the latest change; bringing it up to date…
        </p>
      )}
      {note && <p role="status">{note}</p>}
      {s.rows.length > 0 && (
        <table className="grid" aria-label="Tie-out">
          <thead>
            <tr>
              <th scope="col">Total</th>
              {s.currencies.map((c) => (
                <th scope="col" key={c} className="num">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {s.rows.map((r) => (
              <tr key={r.key} className={r.key === "difference" || r.key.endsWith("_net") ? "total" : undefined}>
                <th scope="row">{r.label}</th>
                {r.cells.map((cell, i) => (
                  <td key={s.currencies[i]} className="num">
                    {cell}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {view.clearing_problem && (
        <p role="alert" className="error">
          {view.clearing_problem}
        </p>
      )}
      {view.clearing.length > 0 && <Clearing clearing={view.clearing} />}
    </div>
  );
}

// The Stripe clearing account: each currency's opening balance, the month's balance
// transactions by line, and the closing balance (the package's clearing.csv).
function Clearing(props: { clearing: ClearingView[] }) {
  const { clearing } = props;
  const keys = clearing[0].lines.map((l) => ({ key: l.key, label: l.label }));
  return (
    <table className="grid" aria-label="Stripe clearing account">
      <caption>Stripe clearing account: opening + the month's lines = closing</caption>
      <thead>
        <tr>
          <th scope="col">Line</th>
          {clearing.map((c) => (
            <th scope="col" key={c.currency} className="num">
              {c.currency}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        <tr>
          <th scope="row">Opening balance</th>
          {clearing.map((c) => (
            <td key={c.currency} className="num">
              {formatAmount(c.opening)}
            </td>
          ))}
        </tr>
        {keys.map(({ key, label }) => (
          <tr key={key}>
            <th scope="row">{label}</th>
            {clearing.map((c) => {
              const line = c.lines.find((l) => l.key === key);
              return (
                <td key={c.currency} className="num">
                  {line ? formatAmount(line.amount) : ""}
                </td>
              );
            })}
          </tr>
        ))}
        <tr className="total">
          <th scope="row">Closing balance</th>
          {clearing.map((c) => (
            <td key={c.currency} className="num" data-testid={`clearing-closing-${c.currency}`}>
              {formatAmount(c.closing)}
            </td>
          ))}
        </tr>
      </tbody>
    </table>
  );
}

function ExportCard(props: { view: PeriodView; zone: string }) {
  const [folder, setFolder] = useState("");
  const [done, setDone] = useState<ExportedPackage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const exportIt = async (e: React.FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    try {
      setDone(
        await call("monthend_export", {
          month: props.view.month,
          tz: props.zone.trim() || undefined,
          folder: folder.trim() || undefined,
        }),
      );
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" aria-label="Export" onSubmit={exportIt}>
      <h3>Export the audit package</h3>
      <label className="stack">
        Package folder
        <input
          value={folder}
          onChange={(e) => setFolder(e.target.value)}
          placeholder="empty: a new folder in the data folder"
        />
      </label>
      <button type="submit" className="primary" disabled={busy} aria-busy={busy}>
        {busy ? "Exporting…" : `Export ${props.view.month}`}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {done && (
        <div role="status" data-testid="exported">
          <p>
            Exported {done.month} ({done.time_zone}) to <code>{done.folder}</code> and <code>{done.zip}</code>
            {done.as_of ? `, as of its close ${done.as_of}` : ""}.
          </p>
          <details>
            <summary>{done.files.length} files besides manifest.json</summary>
            <ul>
              {done.files.map((f) => (
                <li key={f}>
                  <code>{f}</code>
                </li>
              ))}
            </ul>
          </details>
          <VerifyCard initial={done.folder} embedded />
        </div>
      )}
    </form>
  );
}

function VerifyCard(props: { initial?: string; embedded?: boolean }) {
  const [path, setPath] = useState(props.initial ?? "");
  const [result, setResult] = useState<PackageVerified | null>(null);
  const [error, setError] = useState<string | null>(null);
  const verify = async () => {
    try {
      setResult(await call("monthend_verify", { path }));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  const body = (
    <>
      {!props.embedded && <h3>Verify a package</h3>}
      {!props.embedded && (
        <label className="stack">
          Package folder or zip
          <input value={path} onChange={(e) => setPath(e.target.value)} />
        </label>
      )}
      <button type="button" onClick={verify} disabled={path.trim() === ""}>
        {props.embedded ? "Verify this package" : "Verify"}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {result && (
        <div data-testid="verified" data-holds={result.holds ? "yes" : "no"}>
          {result.holds ? (
            <p className="state state-succeeded">
              ✓ The package of {result.month} holds: {result.files} files, {result.records.toLocaleString("en")}{" "}
              records; every hash matches and every total adds up again.
            </p>
          ) : (
            <p className="state state-failed">
              ✗ Does not hold: {result.problem?.file}
              {result.problem?.line != null && ` line ${result.problem.line}`}: {result.problem?.problem}
            </p>
          )}
          {result.differences.length > 0 && <p className="muted">{result.differences.join(" · ")}</p>}
        </div>
      )}
    </>
  );
  return props.embedded ? (
    <div className="verify-inline">{body}</div>
  ) : (
    <div className="card" role="group" aria-label="Verify">
      {body}
    </div>
  );
}

function CloseCard(props: { view: PeriodView; zone: string; onChanged: () => Promise<void> }) {
  const [name, setName] = useState("");
  const [passphrase, setPassphrase] = useState("");
  const [error, setError] = useState<string | null>(null);
  const check = checkClose(props.view, name, passphrase);
  const close = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!check.ok) {
      setError(check.problem ?? null);
      return;
    }
    try {
      await call("period_close", {
        month: props.view.month,
        tz: props.zone.trim() || undefined,
        name,
        passphrase,
      });
      setPassphrase("");
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
    await props.onChanged();
  };
  return (
    <form className="card" aria-label="Close the month" onSubmit={close}>
      <h3>Close {props.view.month}</h3>
      <p className="muted">An approver's sign-off. Afterwards, nothing dated inside the month can change until it is reopened with a reason.</p>
      <ApproverFields name={name} passphrase={passphrase} onName={setName} onPassphrase={setPassphrase} />
      <button type="submit" className="primary">
        Close {props.view.month}
      </button>
      {!error && !check.ok && <p className="muted">{check.problem}</p>}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function ReopenCard(props: { view: PeriodView; onChanged: () => Promise<void> }) {
  const [name, setName] = useState("");
  const [passphrase, setPassphrase] = useState("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const reopen = async (e: React.FormEvent) => {
    e.preventDefault();
    const check = checkReopen(name, passphrase, reason);
    if (!check.ok) {
      setError(check.problem ?? null);
      return;
    }
    try {
      await call("period_reopen", { month: props.view.month, name, passphrase, reason });
      setPassphrase("");
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
    await props.onChanged();
  };
  return (
    <form className="card" aria-label="Reopen the month" onSubmit={reopen}>
      <h3>Reopen {props.view.month}</h3>
      <ApproverFields name={name} passphrase={passphrase} onName={setName} onPassphrase={setPassphrase} />
      <label className="stack">
        Reason to reopen
        <input value={reason} onChange={(e) => setReason(e.target.value)} aria-required="true" />
      </label>
      <button type="submit">Reopen {props.view.month}</button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function History({ view }: { view: PeriodView }) {
  if (view.history.length === 0) return null;
  return (
    <table className="grid" aria-label="Closes of this month">
      <thead>
        <tr>
          <th scope="col">Closed</th>
          <th scope="col">By</th>
          <th scope="col">Zone</th>
          <th scope="col">Reopened</th>
          <th scope="col">Reason</th>
        </tr>
      </thead>
      <tbody>
        {view.history.map((c) => (
          <tr key={c.closed_at}>
            <td>{shortInstant(c.closed_at)}</td>
            <td>{c.closed_by}</td>
            <td>{c.time_zone}</td>
            <td>{c.reopened_at ? `${shortInstant(c.reopened_at)} by ${c.reopened_by}` : "—"}</td>
            <td>{c.reopen_reason ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The approver's name and passphrase: a sign-off, checked by the core. */
function ApproverFields(props: {
  name: string;
  passphrase: string;
  onName: (v: string) => void;
  onPassphrase: (v: string) => void;
}) {
  return (
    <>
      <label className="stack">
        Approver
        <input value={props.name} onChange={(e) => props.onName(e.target.value)} autoComplete="username" />
      </label>
      <label className="stack">
        Passphrase
        <input
          type="password"
          value={props.passphrase}
          onChange={(e) => props.onPassphrase(e.target.value)}
          autoComplete="current-password"
        />
      </label>
    </>
  );
}
