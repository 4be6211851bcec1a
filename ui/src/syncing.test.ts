import { describe, expect, it } from "vitest";
import type { SyncStatus } from "./generated";
import { finalMessage, nextPoll } from "./syncing";

const status = (over: Partial<SyncStatus>): SyncStatus => ({
  run: 1,
  state: "running",
  phase: "charges",
  charges: { pages: 1, fetched: 100, new: 100, changed: 0 },
  refunds: { pages: 0, fetched: 0, new: 0, changed: 0 },
  percent: 10,
  words: "Charges: page 1, 100 fetched (100 new, 0 changed)",
  synced: null,
  error: null,
  ...over,
});

describe("Sync now", () => {
  it("asks again while the run goes on, quickly at first", () => {
    expect(nextPoll(status({}), 0)).toBe(100);
    expect(nextPoll(status({}), 50)).toBe(500);
  });

  it("stops asking once the run is over, with its result or its reason", () => {
    const done = status({
      state: "succeeded",
      synced: { new: 1, changed: 0, unchanged: 0, open_findings: 16, message: "synced: 1 new charges" },
    });
    expect(nextPoll(done, 3)).toBeNull();
    expect(finalMessage(done)).toBe("synced: 1 new charges");
    const failed = status({
      state: "failed",
      error: { code: "not_connected", message: "connect one in Settings first" },
    });
    expect(nextPoll(failed, 3)).toBeNull();
    expect(finalMessage(failed)).toBe("connect one in Settings first");
    expect(finalMessage(status({}))).toBeNull();
  });
});
