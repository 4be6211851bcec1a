// Findings: the queue, filtered by kind, status and confidence, virtualized so that
// 100,000 rows scroll as fast as 10; arrow keys move through it, Enter opens one. The
// opened finding shows its evidence side by side with the one proposed fix.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  createColumnHelper,
  flexRender,
  getCoreRowModel,
  useReactTable,
} from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import type { Confidence, FindingKind, FindingRow, FindingsQuery, FindingStatus } from "../generated";
import { call, CommandError } from "../transport";
import { formatAmount } from "../money";
import { KIND_LABEL, KINDS } from "../labels";
import { FindingPanel } from "./FindingPanel";

const column = createColumnHelper<FindingRow>();
const COLUMNS = [
  column.accessor("id", { header: "#" }),
  column.accessor("kind", { header: "Kind", cell: (c) => KIND_LABEL[c.getValue()] }),
  column.accessor("invoice_number", { header: "Invoice", cell: (c) => c.getValue() ?? "—" }),
  column.accessor("amount", { header: "Amount", cell: (c) => formatAmount(c.getValue()) }),
  column.accessor("confidence", {
    header: "Match",
    cell: (c) =>
      c.getValue() === "heuristic" ? <span className="badge heuristic">heuristic</span> : "exact",
  }),
  column.accessor("status", {
    header: "Status",
    cell: (c) => c.getValue() + (c.row.original.resolution ? ` (${c.row.original.resolution})` : ""),
  }),
];

const ROW_HEIGHT = 34;
// Findings asked for at a time.
const PAGE = 500;

export function Findings(props: { user: string; onChanged: () => Promise<void> }) {
  const [query, setQuery] = useState<FindingsQuery>({ status: "open" });
  const [rows, setRows] = useState<FindingRow[] | null>(null);
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
        let all: FindingRow[] = [];
        let after: number | undefined;
        for (;;) {
          const page = await call("findings", { ...query, limit: PAGE, after });
          if (generation.current !== mine) return;
          all = all.concat(page);
          if (progressive) setRows(all);
          setError(null);
          if (page.length < PAGE) break;
          after = page[page.length - 1].id;
        }
        setRows(all);
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

  const table = useReactTable({
    data: rows ?? [],
    columns: COLUMNS,
    getCoreRowModel: getCoreRowModel(),
  });
  const tableRows = table.getRowModel().rows;
  const virtualizer = useVirtualizer({
    count: tableRows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const selectedIndex = useMemo(
    () => tableRows.findIndex((r) => r.original.id === selected),
    [tableRows, selected],
  );

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (tableRows.length === 0) return;
    let next = selectedIndex;
    if (e.key === "ArrowDown" || e.key === "j") next = Math.min(tableRows.length - 1, selectedIndex + 1);
    else if (e.key === "ArrowUp" || e.key === "k") next = Math.max(0, selectedIndex - 1);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = tableRows.length - 1;
    else return;
    e.preventDefault();
    setSelected(tableRows[next].original.id);
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
          <span className="count">{rows ? `${rows.length.toLocaleString()} findings` : "…"}</span>
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
          aria-rowcount={tableRows.length}
          onKeyDown={onKeyDown}
        >
          <div className="thead" role="row">
            {table.getFlatHeaders().map((h) => (
              <div key={h.id} role="columnheader" className={`cell col-${h.id}`}>
                {flexRender(h.column.columnDef.header, h.getContext())}
              </div>
            ))}
          </div>
          <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {virtualizer.getVirtualItems().map((v) => {
              const row = tableRows[v.index];
              const isSelected = row.original.id === selected;
              return (
                <div
                  key={row.id}
                  role="row"
                  aria-rowindex={v.index + 1}
                  aria-selected={isSelected}
                  data-finding-id={row.original.id}
                  data-kind={row.original.kind}
                  className={isSelected ? "trow selected" : "trow"}
                  style={{ position: "absolute", top: 0, transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}
                  onClick={() => setSelected(row.original.id)}
                >
                  {row.getVisibleCells().map((cell) => (
                    <div key={cell.id} role="gridcell" className={`cell col-${cell.column.id}`}>
                      {flexRender(cell.column.columnDef.cell, cell.getContext())}
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
