// Start-up for the browser scenarios of e2e/books.mjs: a fresh demo store with its sandbox
// made by the real binary, an approver, the real `chargeguard ui-server` serving the web
// build, Debian's Chromium, and a tiny step/expect reporter that ends with
// "N passed, N failed". (morning.mjs keeps its own copy until the two are merged.)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const PASSPHRASE = "correct horse battery";
export const ui = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const shots = join(ui, "test-results");

const targetDir = process.env.CARGO_TARGET_DIR ?? resolve(ui, "..", "target");
const bin = process.env.CHARGEGUARD_BIN ?? join(targetDir, "debug", "chargeguard");

/** A demo store in a temporary folder, and `chargeguard --db STORE ARGS…` over it. */
export function demoWorld() {
  if (!existsSync(bin)) throw new Error(`no chargeguard binary at ${bin}; build it or set CHARGEGUARD_BIN`);
  if (!existsSync(join(ui, "dist", "index.html"))) throw new Error("no web build: run `npm run build` first");
  mkdirSync(shots, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "chargeguard-books-"));
  const db = join(work, "demo.db");
  const sandboxState = join(work, "sandbox");
  const run = (args, input) => {
    const r = spawnSync(bin, ["--db", db, ...args], { input, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`chargeguard ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  run(["demo", "--sandbox-state", sandboxState]);
  run(["user", "add", "alice", "--role", "approver"], `${PASSPHRASE}\n`);
  return { work, db, sandboxState, run };
}

/** Starts ui-server on the world's store; resolves once it prints "listening on". */
export function startServer(world) {
  const child = spawn(
    bin,
    ["--db", world.db, "--http-timeout", "5", "ui-server", "--sandbox-state", world.sandboxState, "--static", join(ui, "dist")],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((ready, reject) => {
    const timer = setTimeout(() => reject(new Error("ui-server did not start within 60 s")), 60_000);
    let sandbox = null;
    createInterface({ input: child.stdout }).on("line", (line) => {
      sandbox = line.match(/^sandbox on (http:\/\/\S+)/)?.[1] ?? sandbox;
      const url = line.match(/^listening on (http:\/\/\S+)/)?.[1];
      if (url) {
        clearTimeout(timer);
        ready({ child, url, sandbox });
      }
    });
    child.on("exit", (code) => reject(new Error(`ui-server exited early (${code})`)));
  });
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** Named steps; the first failure stops the run, and `summary()` exits with the verdict. */
export function reporter() {
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

/** The sandbox's object counts. */
export async function sandboxStats(sandbox) {
  return (await fetch(`${sandbox}/_sandbox/stats`)).json();
}
