// Findings: the queue, filtered by kind, status and confidence, virtualized so that
// 100,000 rows scroll as fast as 10; arrow keys move through it, Enter opens one. The
// opened finding shows its evidence side by side with the one proposed fix.
//
// Only the rows on screen are ever made into elements or cells, and nothing rebuilds a
// model of the whole queue when a page of it arrives (a table model rebuilt per page held
// the main thread for up to a second at a time while 100,000 findings loaded;
// `e2e/findings-frames.mjs` measures it).
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { Confidence, FindingKind, FindingRow, FindingsQuery, FindingStatus } from "../generated";
import { call, CommandError } from "../transport";
import { formatAmount } from "../money";
import { KIND_LABEL, KINDS } from "../labels";
import { FindingPanel } from "./FindingPanel";

/** What the queue keeps of a finding: what its columns show. A page arrives as whole rows
 * (the reason, the charges, when it was first seen), which the detail reads again; holding
 * them for 100,000 findings left the collector that much more to walk mid-scroll. */
type QueueRow = Pick<FindingRow, "id" | "kind" | "invoice_number" | "amount" | "confidence" | "status" | "resolution">;

const queueRow = (f: FindingRow): QueueRow => ({
  id: f.id,
  kind: f.kind,
  invoice_number: f.invoice_number,
  amount: f.amount,
  confidence: f.confidence,
  status: f.status,
  resolution: f.resolution,
});

/** A column of the queue: its header and how one finding reads in it. */
type Column = { id: string; header: string; cell: (f: QueueRow) => ReactNode };
const COLUMNS: Column[] = [
  { id: "id", header: "#", cell: (f) => f.id },
  { id: "kind", header: "Kind", cell: (f) => KIND_LABEL[f.kind] },
  { id: "invoice_number", header: "Invoice", cell: (f) => f.invoice_number ?? "—" },
  { id: "amount", header: "Amount", cell: (f) => formatAmount(f.amount) },
  {
    id: "confidence",
    header: "Match",
    cell: (f) => (f.confidence === "heuristic" ? <span className="badge heuristic">heuristic</span> : "exact"),
  },
  { id: "status", header: "Status", cell: (f) => f.status + (f.resolution ? ` (${f.resolution})` : "") },
];

const ROW_HEIGHT = 34;
const NO_FINDINGS: QueueRow[] = [];
// Findings asked for at a time.
const PAGE = 500;

export function Findings(props: { user: string; onChanged: () => Promise<void> }) {
  const [query, setQuery] = useState<FindingsQuery>({ status: "open" });
  // The queue read so far: one array that pages are appended to in place (a copy per page
  // left the collector 100,000-row arrays to sweep mid-scroll) and how much of it to show.
  const [rows, setRows] = useState<{ list: QueueRow[]; count: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const scroller = useRef<HTMLDivElement>(null);

  // The queue arrives a page at a time: on a new query the first page shows at once,
  // whatever the books' size, and the rest is appended behind it; a refresh after a change
  // keeps the rows on screen (and the selection's place) until the whole queue is read. A
  // newer load, or leaving the screen, stops an older one's paging.
  const generation = useRef(0);
  const load = useCallback(
    async (progressive: boolean) => {
      const mine = ++generation.current;
      try {
        const all: QueueRow[] = [];
        let after: number | undefined;
        for (;;) {
          const page = await call("findings", { ...query, limit: PAGE, after });
          if (generation.current !== mine) return;
          for (const finding of page) all.push(queueRow(finding));
          if (progressive) setRows({ list: all, count: all.length });
          setError(null);
          if (page.length < PAGE) break;
          after = page[page.length - 1].id;
        }
        setRows({ list: all, count: all.length });
      } catch (e) {
        if (generation.current === mine) setError(e instanceof CommandError ? e.message : String(e));
      }
    },
    [query],
  );
  useEffect(() => {
    void load(true);
    return () => {
      generation.current++;
    };
  }, [load]);

  const queue = rows?.list ?? NO_FINDINGS;
  const count = rows?.count ?? 0;
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const selectedIndex = useMemo(
    () => {
      const i = queue.findIndex((f) => f.id === selected);
      return i < count ? i : -1;
    },
    [queue, count, selected],
  );

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (count === 0) return;
    let next = selectedIndex;
    if (e.key === "ArrowDown" || e.key === "j") next = Math.min(count - 1, selectedIndex + 1);
    else if (e.key === "ArrowUp" || e.key === "k") next = Math.max(0, selectedIndex - 1);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = count - 1;
    else return;
    e.preventDefault();
    setSelected(queue[next].id);
    virtualizer.scrollToIndex(next);
  };

  const set = <K extends keyof FindingsQuery>(key: K, value: string) =>
    setQuery((q) => ({ ...q, [key]: value === "" ? undefined : (value as FindingsQuery[K]) }));

  return (
    <section aria-labelledby="findings-title" className="findings">
      <div className="queue">
        <h2 id="findings-title">Findings</h2>
        <div className="filters" role="group" aria-label="Filters">
          <label>
            Kind
            <select value={query.kind ?? ""} onChange={(e) => set("kind", e.target.value)}>
              <option value="">All kinds</option>
              {KINDS.map((k: FindingKind) => (
                <option key={k} value={k}>
                  {KIND_LABEL[k]}
                </option>
              ))}
            </select>
          </label>
          <label>
            Status
            <select value={query.status ?? ""} onChange={(e) => set("status", e.target.value)}>
              <option value="">Any status</option>
              {(["open", "resolved"] as FindingStatus[]).map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Match
            <select value={query.confidence ?? ""} onChange={(e) => set("confidence", e.target.value)}>
              <option value="">Any match</option>
              {(["exact", "heuristic"] as Confidence[]).map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </label>
          <span className="count">{rows ? `${count.toLocaleString()} findings` : "…"}</span>
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div
          className="table-scroll"
          ref={scroller}
          tabIndex={0}
          role="grid"
          aria-label="Findings queue"
          aria-rowcount={count}
          onKeyDown={onKeyDown}
        >
          <div className="thead" role="row">
            {COLUMNS.map((c) => (
              <div key={c.id} role="columnheader" className={`cell col-${c.id}`}>
                {c.header}
              </div>
            ))}
          </div>
          <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {virtualizer.getVirtualItems().map((v) => {
              const finding = queue[v.index];
              const isSelected = finding.id === selected;
              return (
                <div
                  key={finding.id}
                  role="row"
                  aria-rowindex={v.index + 1}
                  aria-selected={isSelected}
                  data-finding-id={finding.id}
                  data-kind={finding.kind}
                  className={isSelected ? "trow selected" : "trow"}
                  style={{ position: "absolute", top: 0, transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}
                  onClick={() => setSelected(finding.id)}
                >
                  {COLUMNS.map((c) => (
                    <div key={c.id} role="gridcell" className={`cell col-${c.id}`}>
                      {c.cell(finding)}
                    </div>
                  ))}
                </div>
              );
            })}
          </div>
        </div>
      </div>
      <div className="detail">
        {selected === null ? (
          <p className="hint">Open a finding (click it, or arrow keys in the queue) to see its evidence.</p>
        ) : (
          <FindingPanel
            key={selected}
            id={selected}
            user={props.user}
            onChanged={async () => {
              await Promise.all([load(false), props.onChanged()]);
            }}
          />
        )}
      </div>
    </section>
  );
}
