import { afterEach, describe, expect, it, vi } from "vitest";
import { call, CommandError } from "./transport";

afterEach(() => {
  vi.unstubAllGlobals();
  delete (globalThis as { __TAURI_INTERNALS__?: unknown }).__TAURI_INTERNALS__;
});

describe("transport", () => {
  it("posts the command to the HTTP wrapper and returns its answer", async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify([]), { status: 200 }));
    vi.stubGlobal("fetch", fetch);
    await expect(call("findings", { status: "open" })).resolves.toEqual([]);
    expect(fetch).toHaveBeenCalledWith("/api/findings", expect.objectContaining({ method: "POST", body: '{"status":"open"}' }));
  });

  it("carries the secret of the address the window was opened with, and takes it out of the address bar", async () => {
    window.sessionStorage.clear();
    window.history.replaceState(null, "", "/#token=0123abcd");
    const fetch = vi.fn(async () => new Response(JSON.stringify(3), { status: 200 }));
    vi.stubGlobal("fetch", fetch);
    await call("reconcile", null);
    await call("reconcile", null);
    expect(window.location.hash).toBe("");
    for (const [, init] of fetch.mock.calls as unknown as [string, RequestInit][]) {
      expect(init.headers).toMatchObject({ authorization: "Bearer 0123abcd", "content-type": "application/json" });
    }
    window.sessionStorage.clear();
  });

  it("turns the wrapper's {code, message} into a CommandError", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(JSON.stringify({ code: "already_in_progress", message: "busy" }), { status: 409 })),
    );
    const e = await call("execute", { action_id: 1, by: "bob" }).catch((x) => x);
    expect(e).toBeInstanceOf(CommandError);
    expect(e.code).toBe("already_in_progress");
  });

  it("uses Tauri's one `api` command inside the desktop app, naming the command", async () => {
    const invoke = vi.fn(async () => ({ holds: true }));
    (globalThis as { __TAURI_INTERNALS__?: unknown }).__TAURI_INTERNALS__ = { invoke };
    const fetch = vi.fn();
    vi.stubGlobal("fetch", fetch);
    await call("finding", { id: 3 });
    expect(invoke).toHaveBeenCalledWith("api", { command: "finding", request: { id: 3 } });
    await call("audit_verify", null);
    expect(invoke).toHaveBeenLastCalledWith("api", { command: "audit_verify", request: null });
    expect(fetch).not.toHaveBeenCalled();
  });
});
