// Audit log: every state change, approval, close and reopen, newest first, a page at a
// time; filtered by kind of event, by person and by what it is about (an action number,
// finding:3, period:2026-10); and "Verify the chain", which re-computes every entry's hash
// and says where the chain breaks if it does.
import { useCallback, useEffect, useState } from "react";
import type { AuditPage, AuditVerified } from "../generated";
import { call } from "../transport";
import { shortInstant } from "../labels";
import { detailsLine, FIRST_PAGE, newer, older, pageQuery, rangeText, subjectFilter, type Paging } from "../audit";
import { errorMessage } from "./ActionSteps";

const PAGE = 100;

export function AuditLog() {
  const [event, setEvent] = useState("");
  const [actor, setActor] = useState("");
  const [about, setAbout] = useState("");
  const [paging, setPaging] = useState<Paging>(FIRST_PAGE);
  const [page, setPage] = useState<AuditPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [verified, setVerified] = useState<AuditVerified | null>(null);
  const [open, setOpen] = useState<number | null>(null);

  const subject = subjectFilter(about);
  const load = useCallback(async () => {
    if (!subject.check.ok) return;
    try {
      const filters = { event: event || undefined, actor: actor || undefined, subject: subject.subject };
      setPage(await call("audit_log", pageQuery(filters, paging, PAGE)));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [event, actor, subject.subject, subject.check.ok, paging]);
  useEffect(() => {
    void load();
  }, [load]);

  // A new filter starts from the newest entry again.
  const filter = (set: (v: string) => void) => (v: string) => {
    set(v);
    setPaging(FIRST_PAGE);
  };

  const verify = async () => {
    try {
      setVerified(await call("audit_verify", null));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <div className="filters" role="group" aria-label="Filters">
        <label>
          Kind
          <select value={event} onChange={(e) => filter(setEvent)(e.target.value)}>
            <option value="">All kinds</option>
            {(page?.events ?? []).map((k) => (
              <option key={k} value={k}>
                {k.replace(/_/g, " ")}
              </option>
            ))}
          </select>
        </label>
        <label>
          User
          <select value={actor} onChange={(e) => filter(setActor)(e.target.value)}>
            <option value="">Everyone</option>
            {(page?.actors ?? []).map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          Action # or about
          <input
            value={about}
            onChange={(e) => filter(setAbout)(e.target.value)}
            placeholder="12, finding:3, period:2026-10"
            aria-invalid={!subject.check.ok}
            aria-describedby="about-problem"
          />
        </label>
        <button onClick={verify}>Verify the chain</button>
      </div>
      {!subject.check.ok && (
        <p id="about-problem" className="error" role="alert">
          {subject.check.problem}
        </p>
      )}
      {verified && (
        <p
          role="status"
          data-testid="chain"
          data-holds={verified.holds ? "yes" : "no"}
          className={verified.holds ? "state state-succeeded" : "state state-failed"}
        >
          {verified.holds
            ? `✓ The chain holds: ${verified.entries.toLocaleString("en")} entries, head ${verified.head_hash?.slice(0, 16)}…`
            : `✗ The chain does NOT hold: ${verified.problem}. Someone changed the store outside Chargeguard; keep a copy of it and restore from a backup.`}
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {page && (
        <>
          <div className="pager">
            <span data-testid="range">{rangeText(paging, page.entries.length, page.total, PAGE)}</span>
            <button onClick={() => setPaging(newer(paging))} disabled={paging.marks.length <= 1}>
              Newer
            </button>
            <button onClick={() => setPaging(older(paging, page.next_before))} disabled={page.next_before == null}>
              Older
            </button>
          </div>
          <table className="grid audit" aria-label="Audit entries">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Kind</th>
                <th scope="col">About</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {page.entries.map((e) => (
                <tr
                  key={e.seq}
                  data-seq={e.seq}
                  data-event={e.event}
                  tabIndex={0}
                  className="selectable"
                  aria-expanded={open === e.seq}
                  onClick={() => setOpen(open === e.seq ? null : e.seq)}
                  onKeyDown={(k) => {
                    if (k.key === "Enter" || k.key === " ") {
                      k.preventDefault();
                      setOpen(open === e.seq ? null : e.seq);
                    }
                  }}
                >
                  <td className="num">{e.seq}</td>
                  <td>{shortInstant(e.at)}</td>
                  <td>{e.actor}</td>
                  <td>{e.event.replace(/_/g, " ")}</td>
                  <td>
                    <code>{e.subject}</code>
                  </td>
                  <td className="details">
                    {open === e.seq ? (
                      <>
                        <pre>{pretty(e.details)}</pre>
                        <span className="muted">
                          hash <code className="key">{e.hash}</code>
                          <br />
                          after <code className="key">{e.prev_hash}</code>
                        </span>
                      </>
                    ) : (
                      detailsLine(e.details)
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function pretty(details: string): string {
  try {
    return JSON.stringify(JSON.parse(details), null, 2);
  } catch {
    return details;
  }
}
