// What every browser and desktop scenario shares: where the built binary, the web build and
// the screenshots are; a demo store made by the real binary; the real `chargeguard
// ui-server` on it with the demo's sandbox inside; Debian's Chromium through
// playwright-core; and a small reporter of named steps whose last line is
// "N passed, N failed" (the exit code says the same).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const PASSPHRASE = "correct horse battery";
export const ui = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const shots = join(ui, "test-results");
mkdirSync(shots, { recursive: true });
const targetDir = process.env.CARGO_TARGET_DIR ?? resolve(ui, "..", "target");
export const bin = process.env.CHARGEGUARD_BIN ?? join(targetDir, "debug", "chargeguard");

function needBuilds() {
  if (!existsSync(bin)) throw new Error(`no chargeguard binary at ${bin}; build it or set CHARGEGUARD_BIN`);
  if (!existsSync(join(ui, "dist", "index.html"))) throw new Error("no web build: run `npm run build` first");
}

/**
 * A fresh folder with a demo store and its sandbox state, and `run(args, input, env)` =
 * `chargeguard --db STORE ARGS…` over it. `approver` adds alice as an approver.
 */
export function demoStore({ approver = false } = {}) {
  needBuilds();
  const work = mkdtempSync(join(tmpdir(), "chargeguard-e2e-"));
  const db = join(work, "demo.db");
  const sandboxState = join(work, "sandbox");
  const run = (args, input, env = {}) => {
    const r = spawnSync(bin, ["--db", db, ...args], { input, encoding: "utf8", env: { ...process.env, ...env } });
    if (r.status !== 0) throw new Error(`chargeguard ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  run(["demo", "--sandbox-state", sandboxState]);
  // The demo's own approver vouches for alice (nobody adds an approver alone).
  if (approver) run(["user", "add", "alice", "--role", "approver", "--by", "ada"], `${PASSPHRASE}\nada-demo-passphrase\n`);
  return { work, db, sandboxState, run };
}

/**
 * Starts ui-server on `store`; resolves once it listens with `page` (the address it printed,
 * `#token=…` included: the window to open), `url` (the same without the secret), `post`
 * (an API call as the window makes it, secret included) and the sandbox's URL.
 */
export function startServer(store, { env = {}, sandbox = true } = {}) {
  needBuilds();
  const args = ["--db", store.db, "--http-timeout", "5", "ui-server", "--static", join(ui, "dist")];
  if (sandbox) args.push("--sandbox-state", store.sandboxState);
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
  return new Promise((ready, reject) => {
    const timer = setTimeout(() => reject(new Error("ui-server did not start within 60 s")), 60_000);
    let sandboxUrl = null;
    createInterface({ input: child.stdout }).on("line", (line) => {
      sandboxUrl = line.match(/^sandbox on (http:\/\/\S+)/)?.[1] ?? sandboxUrl;
      const page = line.match(/^listening on (http:\/\/\S+)/)?.[1];
      if (page) {
        clearTimeout(timer);
        const url = page.replace(/\/?#.*$/, "");
        const token = page.match(/#token=([0-9a-f]+)/)?.[1];
        if (!token) reject(new Error(`ui-server printed no secret: ${line}`));
        const post = (command, body) =>
          fetch(`${url}/api/${command}`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
            body: JSON.stringify(body ?? null),
          });
        ready({ child, url, page, token, post, sandbox: sandboxUrl });
      }
    });
    child.on("exit", (code) => reject(new Error(`ui-server exited early (${code})`)));
  });
}

/** Debian's Chromium, headless, kept off the network it cannot reach. */
export async function launchBrowser() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** Named steps; the first failure stops the run, and `summary()` exits with the verdict. */
export function steps() {
  let passed = 0;
  let failed = 0;
  return {
    async step(name, body) {
      console.log(`… ${name}`);
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
    get failed() {
      return failed;
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

/** The sandbox's object counts (refunds, payment intents, …). */
export async function sandboxStats(sandbox) {
  return (await fetch(`${sandbox}/_sandbox/stats`)).json();
}
