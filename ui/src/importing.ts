// The Import screen's logic, apart from React so Vitest can hold it to account: what the
// "kind of file" choice means as a request, how a browser's file travels (its bytes as
// base64: the core, not the browser, decides whether it is valid UTF-8), where a problem
// is in the file, and the column-mapping form as the core's MappingDraft.
import type {
  ImportCsvRequest,
  ImportKind,
  ImportOutcome,
  ImportProblem,
  MappingDraft,
  MappingLayout,
  MappingSummary,
} from "./generated";

/** One choice of the "What is this file?" select; `value` is what the <option> holds. */
export interface KindChoice {
  value: string;
  label: string;
  kind: ImportKind;
  mapping?: string;
}

const KIND_LABELS: Record<ImportKind, string> = {
  invoices: "Invoices",
  payments: "Payments (the app's ledger)",
  stripe_payments: "Stripe payments export",
  stripe_report: "Stripe balance or payout report",
  bank_statement: "Bank statement (OFX, camt.053 or the bank's CSV)",
};

/** Every kind of file, then each saved mapping as "Invoices — mapping acme". */
export function kindChoices(mappings: MappingSummary[]): KindChoice[] {
  const plain: KindChoice[] = (Object.keys(KIND_LABELS) as ImportKind[]).map((kind) => ({
    value: kind,
    label: KIND_LABELS[kind],
    kind,
  }));
  const mapped = mappings.map((m) => ({
    value: `mapping:${m.name}`,
    label: `${KIND_LABELS[m.layout]} — mapping “${m.name}”`,
    kind: m.layout as ImportKind,
    mapping: m.name,
  }));
  return [...plain, ...mapped];
}

/** The request for a choice; an unknown choice (a mapping deleted since) is null. A bank
 *  statement carries the account name typed, a Stripe report the date order chosen. */
export function importRequest(
  choices: KindChoice[],
  value: string,
  path: string,
  dryRun: boolean,
  details: { account?: string; dates?: string } = {},
): ImportCsvRequest | null {
  const choice = choices.find((c) => c.value === value);
  if (!choice) return null;
  const account = details.account?.trim();
  return {
    kind: choice.kind,
    path,
    dry_run: dryRun,
    ...(choice.mapping ? { mapping: choice.mapping } : {}),
    ...(choice.kind === "bank_statement" && account ? { account } : {}),
    ...(choice.kind === "stripe_report" && details.dates ? { dates: details.dates } : {}),
  };
}

/** Bytes as standard, padded base64, in chunks (a spread of a large file would overflow). */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/** "october.csv:4:3", the place an editor jumps to; a missing column has no column. */
export function problemPlace(p: ImportProblem): string {
  return p.column === null ? `${p.file}:${p.line}` : `${p.file}:${p.line}:${p.column}`;
}

/** "1,204": counts for people, grouped like the core's reports. */
export function formatCount(n: number, locale?: string): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(n);
}

/** The outcome's headline in the screen's words: what happened, not how. */
export function outcomeHeadline(o: ImportOutcome): string {
  if (o.problems.length > 0) return "Refused: nothing was imported";
  if (o.dry_run) return "Dry run: nothing was written";
  return o.written ? "Imported" : "Nothing new: the store already holds every row";
}

/** One "their value → our value" row of the mapping form. */
export interface ValueRow {
  column: string;
  theirs: string;
  ours: string;
}

/** The mapping form: for each of our columns the header it reads ("" = our own name). */
export interface MappingForm {
  layout: MappingLayout;
  columns: Record<string, string>;
  values: ValueRow[];
}

export function emptyForm(layout: MappingLayout): MappingForm {
  return { layout, columns: {}, values: [] };
}

/** The form as the core's draft; blank rows go along and the core leaves them out. */
export function draftOf(form: MappingForm): MappingDraft {
  return {
    layout: form.layout,
    columns: Object.entries(form.columns).map(([ours, theirs]) => ({ ours, theirs })),
    values: form.values.map((v) => ({ ...v })),
  };
}

/** A saved mapping back into the form. */
export function formOf(draft: MappingDraft): MappingForm {
  const columns: Record<string, string> = {};
  for (const c of draft.columns) columns[c.ours] = c.theirs;
  return { layout: draft.layout, columns, values: draft.values.map((v) => ({ ...v })) };
}
