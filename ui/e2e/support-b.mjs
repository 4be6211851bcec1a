// Start-up shared by the Import / Settings / Today scenarios (import-settings-today.mjs):
// a demo store made by the real binary, `chargeguard ui-server` on it with the demo's
// sandbox inside, and Debian's Chromium through playwright-core. morning.mjs keeps its
// own copy so the two scripts can change apart.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const ui = resolve(here, "..");
const targetDir = process.env.CARGO_TARGET_DIR ?? resolve(ui, "..", "target");
export const bin = process.env.CHARGEGUARD_BIN ?? join(targetDir, "debug", "chargeguard");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const shots = join(ui, "test-results");
mkdirSync(shots, { recursive: true });
if (!existsSync(bin)) throw new Error(`no chargeguard binary at ${bin}; build it or set CHARGEGUARD_BIN`);
if (!existsSync(join(ui, "dist", "index.html"))) throw new Error("no web build: run `npm run build` first");

/** A fresh folder with a demo store and its sandbox state. */
export function demoStore() {
  const work = mkdtempSync(join(tmpdir(), "chargeguard-e2e-b-"));
  const db = join(work, "demo.db");
  const sandboxState = join(work, "sandbox");
  const run = (args, input, env) => {
    const r = spawnSync(bin, ["--db", db, ...args], { input, encoding: "utf8", env: { ...process.env, ...env } });
    if (r.status !== 0) throw new Error(`chargeguard ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  run(["demo", "--sandbox-state", sandboxState]);
  return { work, db, sandboxState, run };
}

/** Starts ui-server and resolves with its URLs once it prints "listening on". */
export function startServer(store, { env = {}, sandbox = true } = {}) {
  const args = ["--db", store.db, "--http-timeout", "5", "ui-server", "--static", join(ui, "dist")];
  if (sandbox) args.push("--sandbox-state", store.sandboxState);
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error("ui-server did not start within 60 s")), 60_000);
    let sandboxUrl = null;
    createInterface({ input: child.stdout }).on("line", (line) => {
      const s = line.match(/^sandbox on (http:\/\/\S+)/);
      if (s) sandboxUrl = s[1];
      const l = line.match(/^listening on (http:\/\/\S+)/);
      if (l) {
        clearTimeout(timer);
        resolveStart({ child, url: l[1], sandbox: sandboxUrl });
      }
    });
    child.on("exit", (code) => reject(new Error(`ui-server exited early (${code})`)));
  });
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: browserPath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** `step` runs one named check and counts it; `summary` prints the last line and exits. */
export function steps() {
  let passed = 0;
  let failed = 0;
  return {
    async step(name, body) {
      try {
        await body();
        passed += 1;
        console.log(`ok - ${name}`);
      } catch (e) {
        failed += 1;
        console.log(`FAILED - ${name}: ${e.stack ?? e}`);
        throw e;
      }
    },
    summary() {
      console.log(`${passed} passed, ${failed} failed`);
      process.exit(failed === 0 && passed > 0 ? 0 : 1);
    },
  };
}

export function expect(condition, what) {
  if (!condition) throw new Error(what);
}
