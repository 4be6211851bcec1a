// Import: choose or drop CSV files, say what each one is (a documented layout or a saved
// column mapping), try it with a dry run, then import it. Results read like the command
// line's ("0 new, 3,000 unchanged"); a refused file lists every problem with its file,
// line and column. Below, a column-mapping editor for other apps' layouts, with a preview
// of the file's first rows as Chargeguard will read them, saved by name.
//
// The browser has no path for a file, so its bytes go to the core first (`upload_csv`,
// kept beside the store) and the import runs on that file; see src/api/imports.rs.
import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import type {
  ImportOutcome,
  MappingLayout,
  MappingPreviewView,
  MappingSummary,
} from "../generated";
import { call, CommandError } from "../transport";
import {
  type KindChoice,
  type MappingForm,
  draftOf,
  emptyForm,
  formOf,
  formatCount,
  guessKind,
  importRequest,
  kindChoices,
  outcomeHeadline,
  problemPlace,
  toBase64,
} from "../importing";

interface FileItem {
  id: number;
  file: File;
  /** Where the core keeps its bytes; null until uploaded, and again after the import. */
  path: string | null;
  choice: string;
  busy: boolean;
  outcome: ImportOutcome | null;
  error: string | null;
}

const message = (e: unknown) => (e instanceof CommandError ? e.message : String(e));

async function firstLine(file: File): Promise<string> {
  const head = await file.slice(0, 4096).text();
  return head.split(/\r?\n/)[0] ?? "";
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

  const add = async (list: FileList | File[]) => {
    const added: FileItem[] = [];
    for (const file of Array.from(list)) {
      const guessed = guessKind(await firstLine(file));
      added.push({
        id: nextId.current++,
        file,
        path: null,
        choice: guessed ?? "invoices",
        busy: false,
        outcome: null,
        error: null,
      });
    }
    setFiles((all) => [...all, ...added]);
  };

  /** The file's path at the core, uploading its bytes when it has none. */
  const pathOf = async (item: FileItem): Promise<string> => {
    if (item.path) return item.path;
    const bytes = new Uint8Array(await item.file.arrayBuffer());
    const up = await call("upload_csv", { name: item.file.name, content_base64: toBase64(bytes) });
    update(item.id, { path: up.path });
    return up.path;
  };

  const run = async (item: FileItem, dryRun: boolean) => {
    update(item.id, { busy: true, error: null, outcome: null });
    try {
      const path = await pathOf(item);
      const request = importRequest(choices, item.choice, path, dryRun);
      if (!request) throw new Error("That mapping is gone; pick the kind of file again.");
      const outcome = await call("import_csv", request);
      // After a real import the core removed its copy: upload again if asked again.
      update(item.id, { busy: false, outcome, ...(dryRun ? {} : { path: null }) });
      if (!dryRun) await props.onChanged();
    } catch (e) {
      update(item.id, { busy: false, error: message(e), ...(dryRun ? {} : { path: null }) });
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
          void add(e.dataTransfer.files);
        }}
      >
        <label>
          Choose CSV files
          <input
            type="file"
            accept=".csv,text/csv"
            multiple
            aria-label="Choose CSV files"
            onChange={(e) => {
              if (e.target.files) void add(e.target.files);
              e.target.value = "";
            }}
          />
        </label>
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
  onRun: (dryRun: boolean) => void;
  onRemove: () => void;
}) {
  const { item } = props;
  const selectId = useId();
  const o = item.outcome;
  return (
    <article className="card file-card" aria-label={item.file.name} data-testid="import-file">
      <header className="file-head">
        <h3>{item.file.name}</h3>
        <span className="muted">{formatCount(item.file.size)} bytes</span>
        <label htmlFor={selectId}>What is this file?</label>
        <select id={selectId} value={item.choice} onChange={(e) => props.onChoose(e.target.value)}>
          {props.choices.map((c) => (
            <option key={c.value} value={c.value}>
              {c.label}
            </option>
          ))}
        </select>
        <button onClick={() => props.onRun(true)} disabled={item.busy}>
          Dry run
        </button>
        <button className="primary" onClick={() => props.onRun(false)} disabled={item.busy}>
          Import
        </button>
        <button onClick={props.onRemove} disabled={item.busy} aria-label={`Remove ${item.file.name}`}>
          Remove
        </button>
      </header>
      {item.busy && <progress aria-label={`Importing ${item.file.name}`} />}
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
                    {f.file.name}
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
