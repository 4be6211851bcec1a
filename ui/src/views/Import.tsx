// Import: choose or drop CSV files, say what each one is (a documented layout or a saved
// column mapping), try it with a dry run, then import it. Results read like the command
// line's ("0 new, 3,000 unchanged"); a refused file lists every problem with its file,
// line and column. Below, a column-mapping editor for other apps' layouts, with a preview
// of the file's first rows as Chargeguard will read them, saved by name.
//
// The desktop app picks files with the platform's dialog or takes them dropped on the
// window, as paths the core reads (src/desktop.ts). A browser has no path for a file, so
// its bytes go to the core first (`upload_csv`, kept beside the store) and the import runs
// on that copy; see src/api/imports.rs. Either way the core says from the header which kind
// of file it is (`file_kind`), and the person can change it.
import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import type {
  ImportOutcome,
  MappingLayout,
  MappingPreviewView,
  MappingSummary,
} from "../generated";
import { call, CommandError } from "../transport";
import { isDesktop, onFileDrop, pickCsvPaths } from "../desktop";
import {
  type KindChoice,
  type MappingForm,
  draftOf,
  emptyForm,
  formOf,
  formatCount,
  importRequest,
  kindChoices,
  outcomeHeadline,
  problemPlace,
  toBase64,
} from "../importing";

interface FileItem {
  id: number;
  name: string;
  /** Bytes a browser holds; null for a file the desktop app has by path. */
  file: File | null;
  /** Where the core reads it: the desktop's path, or an upload's (null again after an
   *  upload's import, which removes the copy). */
  path: string | null;
  choice: string;
  /** The app whose export it is, when the core recognised one. */
  layout: string | null;
  /** A bank statement's account name (two accounts of one bank are told apart by it). */
  account: string;
  /** A Stripe file's date order, when a spreadsheet left its dates reading both ways. */
  dates: string;
  busy: boolean;
  outcome: ImportOutcome | null;
  error: string | null;
}

const message = (e: unknown) => (e instanceof CommandError ? e.message : String(e));

async function upload(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const up = await call("upload_csv", { name: file.name, content_base64: toBase64(bytes) });
  return up.path;
}

export function Import(props: { onChanged: () => Promise<void> }) {
  const [files, setFiles] = useState<FileItem[]>([]);
  const [mappings, setMappings] = useState<MappingSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const nextId = useRef(1);
  const choices = useMemo(() => kindChoices(mappings), [mappings]);

  const loadMappings = useCallback(async () => {
    try {
      setMappings(await call("mappings", null));
    } catch (e) {
      setError(message(e));
    }
  }, []);
  useEffect(() => {
    void loadMappings();
  }, [loadMappings]);

  const update = (id: number, change: Partial<FileItem>) =>
    setFiles((all) => all.map((f) => (f.id === id ? { ...f, ...change } : f)));

  /** Adds files the core can read at `paths`, each with the kind its header suggests. */
  const addAt = async (entries: { path: string; file: File | null }[]) => {
    const added: FileItem[] = [];
    for (const { path, file } of entries) {
      try {
        const seen = await call("file_kind", { path });
        added.push({
          id: nextId.current++,
          name: seen.name,
          file,
          path,
          choice: seen.kind ?? "invoices",
          layout: seen.layout,
          account: "",
          dates: "",
          busy: false,
          outcome: null,
          error: null,
        });
      } catch (e) {
        setError(message(e));
      }
    }
    setFiles((all) => [...all, ...added]);
  };

  /** A browser's files: their bytes go to the core, then they are read like any path. */
  const add = async (list: FileList | File[]) => {
    const entries = [];
    for (const file of Array.from(list)) {
      try {
        entries.push({ path: await upload(file), file });
      } catch (e) {
        setError(message(e));
      }
    }
    await addAt(entries);
  };

  const desktop = isDesktop();
  useEffect(() => {
    if (!desktop) return;
    let stop: (() => void) | null = null;
    let gone = false;
    void onFileDrop((state) => {
      setDragging(state.kind === "over");
      if (state.kind === "dropped") void addAt(state.paths.map((path) => ({ path, file: null })));
    }).then((unlisten) => {
      if (gone) unlisten();
      else stop = unlisten;
    });
    return () => {
      gone = true;
      stop?.();
    };
    // `addAt` only reads refs and setters, so one listener serves the screen's life.
  }, [desktop]);

  const choose = async () => {
    try {
      const paths = await pickCsvPaths();
      await addAt(paths.map((path) => ({ path, file: null })));
    } catch (e) {
      setError(message(e));
    }
  };

  /** The file's path at the core, uploading a browser's bytes again when it has none. */
  const pathOf = async (item: FileItem): Promise<string> => {
    if (item.path) return item.path;
    if (!item.file) throw new Error("That file is no longer there; choose it again.");
    const path = await upload(item.file);
    update(item.id, { path });
    return path;
  };

  const run = async (item: FileItem, dryRun: boolean) => {
    update(item.id, { busy: true, error: null, outcome: null });
    try {
      const path = await pathOf(item);
      const request = importRequest(choices, item.choice, path, dryRun, {
        account: item.account,
        dates: item.dates,
      });
      if (!request) throw new Error("That mapping is gone; pick the kind of file again.");
      const outcome = await call("import_csv", request);
      // After a real import the core removed an upload's copy: upload again if asked
      // again. A desktop path stays the person's file.
      const forget = dryRun || !item.file ? {} : { path: null };
      update(item.id, { busy: false, outcome, ...forget });
      if (!dryRun) await props.onChanged();
    } catch (e) {
      update(item.id, { busy: false, error: message(e), ...(dryRun || !item.file ? {} : { path: null }) });
    }
  };

  return (
    <section aria-labelledby="import-title" className="import">
      <h2 id="import-title">Import</h2>
      <p className="hint">
        Invoices and payments from your invoicing app, or Stripe's payments export (CSV). Try a file
        with a dry run first: it says what would be added, changed and refused, and writes nothing.
      </p>
      <div
        className={dragging ? "dropzone dragging" : "dropzone"}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          // The desktop app hears drops as paths (above); a browser gets the bytes.
          if (!desktop) void add(e.dataTransfer.files);
        }}
      >
        {desktop ? (
          <button type="button" onClick={() => void choose()}>
            Choose CSV files
          </button>
        ) : (
          <label>
            Choose CSV files
            <input
              type="file"
              accept=".csv,text/csv,.ofx,.qfx,.xml,.txt"
              multiple
              aria-label="Choose CSV files"
              onChange={(e) => {
                if (e.target.files) void add(e.target.files);
                e.target.value = "";
              }}
            />
          </label>
        )}
        <span className="hint">or drop them here</span>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {files.map((item) => (
        <FileCard
          key={item.id}
          item={item}
          choices={choices}
          onChoose={(choice) => update(item.id, { choice, outcome: null, error: null })}
          onDetail={(change) => update(item.id, { ...change, outcome: null })}
          onRun={(dryRun) => void run(item, dryRun)}
          onRemove={() => setFiles((all) => all.filter((f) => f.id !== item.id))}
        />
      ))}
      <MappingEditor
        files={files}
        pathOf={pathOf}
        mappings={mappings}
        onSaved={async (name, layout) => {
          await loadMappings();
          // Files of that layout that the documented columns did not fit get the mapping.
          setFiles((all) =>
            all.map((f) =>
              f.choice === layout && f.outcome?.problems.some((p) => p.column === null)
                ? { ...f, choice: `mapping:${name}`, outcome: null }
                : f,
            ),
          );
        }}
      />
    </section>
  );
}

function FileCard(props: {
  item: FileItem;
  choices: KindChoice[];
  onChoose: (choice: string) => void;
  onDetail: (change: { account?: string; dates?: string }) => void;
  onRun: (dryRun: boolean) => void;
  onRemove: () => void;
}) {
  const { item } = props;
  const selectId = useId();
  const o = item.outcome;
  return (
    <article className="card file-card" aria-label={item.name} data-testid="import-file">
      <header className="file-head">
        <h3>{item.name}</h3>
        {item.file && <span className="muted">{formatCount(item.file.size)} bytes</span>}
        {item.layout && <span className="muted">recognised: {item.layout}</span>}
        <label htmlFor={selectId}>What is this file?</label>
        <select id={selectId} value={item.choice} onChange={(e) => props.onChoose(e.target.value)}>
          {props.choices.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
        {item.choice === "bank_statement" && (
          <label>
            Account name
            <input
              value={item.account}
              placeholder={item.layout ?? "as the statement names it"}
              onChange={(e) => props.onDetail({ account: e.target.value })}
            />
          </label>
        )}
        {item.choice === "stripe_report" && (
          <label>
            Dates written as
            <select value={item.dates} onChange={(e) => props.onDetail({ dates: e.target.value })}>
              <option value="">as Stripe writes them</option>
              <option value="mdy">month first (6/22/2026)</option>
              <option value="dmy">day first (22/6/2026)</option>
            </select>
          </label>
        )}
        <button onClick={() => props.onRun(true)} disabled={item.busy}>
          Dry run
        </button>
        <button className="primary" onClick={() => props.onRun(false)} disabled={item.busy}>
          Import
        </button>
        <button onClick={props.onRemove} disabled={item.busy} aria-label={`Remove ${item.name}`}>
          Remove
        </button>
      </header>
      {item.busy && <progress aria-label={`Importing ${item.name}`} />}
      {item.error && (
        <p className="error" role="alert">
          {item.error}
        </p>
      )}
      {o && (
        <div className="outcome" data-testid="import-outcome" data-written={o.written}>
          <p>
            <strong>{outcomeHeadline(o)}</strong>
            {" — "}
            <span role="status">{o.message}</span>
          </p>
          {o.problems.length === 0 && (
            <dl className="counts">
              <dt>New</dt>
              <dd>{formatCount(o.new)}</dd>
              <dt>Changed</dt>
              <dd>{formatCount(o.changed)}</dd>
              <dt>Unchanged</dt>
              <dd>{formatCount(o.unchanged)}</dd>
            </dl>
          )}
          {o.recognised && (
            <p data-testid="import-recognised">
              Recognised: <strong>{o.recognised}</strong>
            </p>
          )}
          {o.skipped.map((line) => (
            <p key={line} className="hint" data-testid="import-skipped">
              {line}
            </p>
          ))}
          {o.preview.length > 0 && (
            <ul className="preview" aria-label="First records as read" data-testid="import-preview">
              {o.preview.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          )}
          <p className="hint">Dates without a time zone were read in {o.zone}.</p>
          {o.changed_rows.length > 0 && (
            <table className="grid" aria-label="Changed rows">
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Row</th>
                  <th scope="col">What changed</th>
                </tr>
              </thead>
              <tbody>
                {o.changed_rows.map((r) => (
                  <tr key={r.line}>
                    <td className="num">{r.line}</td>
                    <td>{r.key}</td>
                    <td>{r.changes}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {o.problems.length > 0 && (
            <table className="grid problems" aria-label="Problems">
              <thead>
                <tr>
                  <th scope="col">Where</th>
                  <th scope="col">Column</th>
                  <th scope="col">Value</th>
                  <th scope="col">What to fix</th>
                </tr>
              </thead>
              <tbody>
                {o.problems.map((p, i) => (
                  <tr key={i}>
                    <td>
                      <code>{problemPlace(p)}</code>
                    </td>
                    <td>{p.column_name}</td>
                    <td>
                      <code>{p.value}</code>
                    </td>
                    <td>{p.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {o.problems_more > 0 && <p>… and {formatCount(o.problems_more)} more problems.</p>}
        </div>
      )}
    </article>
  );
}

function MappingEditor(props: {
  files: FileItem[];
  pathOf: (item: FileItem) => Promise<string>;
  mappings: MappingSummary[];
  onSaved: (name: string, layout: MappingLayout) => Promise<void>;
}) {
  const [fileId, setFileId] = useState<number | null>(null);
  const [form, setForm] = useState<MappingForm>(emptyForm("invoices"));
  const [name, setName] = useState("");
  const [preview, setPreview] = useState<MappingPreviewView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const ids = { file: useId(), layout: useId(), load: useId(), name: useId() };
  const item = props.files.find((f) => f.id === fileId) ?? props.files[0] ?? null;

  // Every change of the file or the form previews again: the table is what an import reads.
  useEffect(() => {
    if (!item) return;
    let current = true;
    (async () => {
      try {
        const path = await props.pathOf(item);
        const answer = await call("mapping_preview", { path, draft: draftOf(form) });
        if (current) {
          setPreview(answer);
          setError(null);
        }
      } catch (e) {
        if (current) setError(message(e));
      }
    })();
    return () => {
      current = false;
    };
    // pathOf changes identity each render; the file and the form are what matter.
  }, [item?.id, form]);

  const load = async (saved: string) => {
    if (!saved) return;
    try {
      const view = await call("mapping_get", { name: saved });
      setForm(formOf(view.draft));
      setName(view.name);
    } catch (e) {
      setError(message(e));
    }
  };

  const save = async () => {
    setSaved(null);
    try {
      const view = await call("mapping_save", { name, draft: draftOf(form) });
      setSaved(`Saved as “${view.name}”: it is now a kind of file to import with (files it fits were switched to it).`);
      setError(null);
      await props.onSaved(view.name, view.draft.layout);
    } catch (e) {
      setError(message(e));
    }
  };

  const setColumn = (ours: string, theirs: string) =>
    setForm((f) => ({ ...f, columns: { ...f.columns, [ours]: theirs } }));
  const setValue = (i: number, change: Partial<MappingForm["values"][number]>) =>
    setForm((f) => ({ ...f, values: f.values.map((v, j) => (j === i ? { ...v, ...change } : v)) }));

  return (
    <section aria-labelledby="mapping-title" className="panel mapping">
      <h2 id="mapping-title">Column mapping for another app's layout</h2>
      <p className="hint">
        When your invoicing app names its columns differently, say which of its headers feeds each
        of ours, and which of its words mean ours. The preview shows the first rows as Chargeguard
        will read them.
      </p>
      {!item ? (
        <p>Choose a CSV file above to map its columns.</p>
      ) : (
        <>
          <div className="filters">
            <label htmlFor={ids.file}>
              File
              <select id={ids.file} value={item.id} onChange={(e) => setFileId(Number(e.target.value))}>
                {props.files.map((f) => (
                  <option key={f.id} value={f.id}>
                    {f.name}
                  </option>
                ))}
              </select>
            </label>
            <label htmlFor={ids.layout}>
              It holds
              <select
                id={ids.layout}
                value={form.layout}
                onChange={(e) => setForm(emptyForm(e.target.value as MappingLayout))}
              >
                <option value="invoices">Invoices</option>
                <option value="payments">Payments</option>
              </select>
            </label>
            <label htmlFor={ids.load}>
              Start from a saved mapping
              <select id={ids.load} value="" onChange={(e) => void load(e.target.value)}>
                <option value="">—</option>
                {props.mappings.map((m) => (
                  <option key={m.name} value={m.name}>
                    {m.name} ({m.layout})
                  </option>
                ))}
              </select>
            </label>
          </div>
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
          {preview && (
            <>
              <table className="grid" aria-label="Columns">
                <thead>
                  <tr>
                    <th scope="col">Our column</th>
                    <th scope="col">Read from their header</th>
                    <th scope="col">Found</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.columns.map((c) => (
                    <tr key={c.name} className={c.position === null && c.required ? "missing" : ""}>
                      <th scope="row">
                        {c.name}
                        {!c.required && <span className="muted"> (optional)</span>}
                      </th>
                      <td>
                        <select
                          aria-label={`Header for ${c.name}`}
                          value={form.columns[c.name] ?? ""}
                          onChange={(e) => setColumn(c.name, e.target.value)}
                        >
                          <option value="">(same name: {c.name})</option>
                          {preview.headers
                            .filter((h) => h !== "")
                            .map((h) => (
                              <option key={h} value={h}>
                                {h}
                              </option>
                            ))}
                        </select>
                      </td>
                      <td>
                        {c.position !== null
                          ? `column ${c.position}`
                          : c.required
                            ? "missing: the import would refuse the file"
                            : "not in the file"}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <h3>Their words for ours</h3>
              {form.values.map((v, i) => (
                <div className="value-row" key={i}>
                  <select
                    aria-label={`Column of translation ${i + 1}`}
                    value={v.column}
                    onChange={(e) => setValue(i, { column: e.target.value })}
                  >
                    {preview.columns.map((c) => (
                      <option key={c.name} value={c.name}>
                        {c.name}
                      </option>
                    ))}
                  </select>
                  <input
                    aria-label={`Their value ${i + 1}`}
                    placeholder="their value (Unpaid)"
                    value={v.theirs}
                    onChange={(e) => setValue(i, { theirs: e.target.value })}
                  />
                  →
                  <input
                    aria-label={`Our value ${i + 1}`}
                    placeholder="our value (open)"
                    value={v.ours}
                    onChange={(e) => setValue(i, { ours: e.target.value })}
                  />
                </div>
              ))}
              <button
                onClick={() =>
                  setForm((f) => ({ ...f, values: [...f.values, { column: "status", theirs: "", ours: "" }] }))
                }
              >
                Add a value translation
              </button>
              <h3>Preview: the first rows as they will be read</h3>
              {preview.missing.length > 0 && (
                <p className="error" role="alert" data-testid="mapping-missing">
                  Missing: {preview.missing.join(", ")}. Pick the header that holds each.
                </p>
              )}
              <div className="preview-scroll">
                <table className="grid" aria-label="Preview">
                  <thead>
                    <tr>
                      <th scope="col">Line</th>
                      {preview.columns.map((c) => (
                        <th scope="col" key={c.name}>
                          {c.name}
                          {c.header !== c.name && <div className="muted">← {c.header}</div>}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {preview.rows.map((r) => (
                      <tr key={r.line}>
                        <td className="num">{r.line}</td>
                        {r.cells.map((cell, i) => (
                          <td key={i} className={cell === null ? "absent" : ""}>
                            {cell ?? "—"}
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {preview.unused_headers.length > 0 && (
                <p className="hint">Kept with each row as extra columns: {preview.unused_headers.join(", ")}.</p>
              )}
              <div className="filters">
                <label htmlFor={ids.name}>
                  Save as
                  <input
                    id={ids.name}
                    value={name}
                    placeholder="acme"
                    onChange={(e) => setName(e.target.value)}
                  />
                </label>
                <button className="primary" onClick={() => void save()} disabled={name.trim() === ""}>
                  Save mapping
                </button>
              </div>
              {saved && <p role="status">{saved}</p>}
            </>
          )}
        </>
      )}
    </section>
  );
}
