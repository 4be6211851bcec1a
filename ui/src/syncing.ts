// "Sync now" as the window runs it: start, then ask for progress until the run is over.
// The core does the work and counts; this only decides when to ask again and what to say.
import type { SyncStatus } from "./generated";

/** How long to wait before asking again; null when the run is over. */
export function nextPoll(status: SyncStatus, polls: number): number | null {
  if (status.state !== "running") return null;
  // Quick at first (a small sync ends in a blink), then every half second.
  return polls < 10 ? 100 : 500;
}

/** What to leave on screen once the run is over. */
export function finalMessage(status: SyncStatus): string | null {
  if (status.state === "succeeded") return status.synced?.message ?? status.words;
  if (status.state === "failed") return status.error?.message ?? "The sync stopped.";
  return null;
}
