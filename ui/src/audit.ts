// The Audit log screen's front-end rules: what the "About" filter means (an action number,
// or a subject as the log writes it), how an entry's details read in one line, and the
// keyset paging (a stack of `before` marks, so Newer goes back exactly where it was).
import type { AuditQuery } from "./generated";
import type { FormCheck } from "./state";

/** "12" or "#12" → "action:12"; "finding:3", "period:2026-10" as they are; "" → none. */
export function subjectFilter(text: string): { subject?: string; check: FormCheck } {
  const t = text.trim();
  if (t === "") return { check: { ok: true } };
  const number = t.match(/^#?(\d+)$/);
  if (number) return { subject: `action:${number[1]}`, check: { ok: true } };
  if (/^(action|finding|period|invoice|user|setting):\S+$/.test(t)) return { subject: t, check: { ok: true } };
  return {
    check: { ok: false, problem: "Type an action number (12), or what the entry is about: finding:3, period:2026-10." },
  };
}

/** An entry's details as one readable line: `key: value · key: value`, long values cut. */
export function detailsLine(details: string, max = 160): string {
  let value: unknown;
  try {
    value = JSON.parse(details);
  } catch {
    return cut(details, max);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return cut(JSON.stringify(value), max);
  const parts = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  return cut(parts.join(" · "), max);
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Keyset paging: the `before` of every page shown so far; the last one is on screen. */
export interface Paging {
  marks: (number | undefined)[];
}

export const FIRST_PAGE: Paging = { marks: [undefined] };

export function older(p: Paging, nextBefore: number | null): Paging {
  return nextBefore == null ? p : { marks: [...p.marks, nextBefore] };
}

export function newer(p: Paging): Paging {
  return p.marks.length <= 1 ? p : { marks: p.marks.slice(0, -1) };
}

export function pageQuery(filters: Omit<AuditQuery, "before" | "limit">, p: Paging, limit: number): AuditQuery {
  const before = p.marks[p.marks.length - 1];
  return { ...filters, limit, ...(before === undefined ? {} : { before }) };
}

/** "Entries 201–400 of 1,234" (newest first). */
export function rangeText(p: Paging, shown: number, total: number, limit: number): string {
  if (total === 0) return "No entries match.";
  const first = (p.marks.length - 1) * limit + 1;
  return `Entries ${first.toLocaleString("en")}–${(first + shown - 1).toLocaleString("en")} of ${total.toLocaleString("en")}, newest first`;
}
