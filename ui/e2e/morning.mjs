// The bookkeeper's morning in a real browser (Debian's Chromium through playwright-core),
// against the web build served by the real `chargeguard ui-server` on a demo store whose
// sandbox gateway runs inside it: sync, open a double charge, see the evidence, approve,
// execute with a double click, see it resolved — and exactly one refund at the sandbox.
//
// Usage: node e2e/morning.mjs   (after `npm run build`; CHARGEGUARD_BIN names the binary,
// default ../target/debug/chargeguard or $CARGO_TARGET_DIR/debug/chargeguard).
// Screenshots go to ui/test-results/. The last line is "N passed, N failed".
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const ui = resolve(here, "..");
const targetDir = process.env.CARGO_TARGET_DIR ?? resolve(ui, "..", "target");
const bin = process.env.CHARGEGUARD_BIN ?? join(targetDir, "debug", "chargeguard");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shots = join(ui, "test-results");
mkdirSync(shots, { recursive: true });
if (!existsSync(bin)) throw new Error(`no chargeguard binary at ${bin}; build it or set CHARGEGUARD_BIN`);
if (!existsSync(join(ui, "dist", "index.html"))) throw new Error("no web build: run `npm run build` first");

const PASSPHRASE = "correct horse battery";
const work = mkdtempSync(join(tmpdir(), "chargeguard-e2e-"));
const db = join(work, "demo.db");
const sandboxState = join(work, "sandbox");

function run(args, input) {
  const r = spawnSync(bin, ["--db", db, ...args], { input, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`chargeguard ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/** Starts ui-server and resolves with its URLs once it prints "listening on". */
function startServer() {
  const child = spawn(
    bin,
    ["--db", db, "--http-timeout", "5", "ui-server", "--sandbox-state", sandboxState, "--static", join(ui, "dist")],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error("ui-server did not start within 60 s")), 60_000);
    let sandbox = null;
    createInterface({ input: child.stdout }).on("line", (line) => {
      const s = line.match(/^sandbox on (http:\/\/\S+)/);
      if (s) sandbox = s[1];
      const l = line.match(/^listening on (http:\/\/\S+)/);
      if (l) {
        clearTimeout(timer);
        resolveStart({ child, url: l[1], sandbox });
      }
    });
    child.on("exit", (code) => reject(new Error(`ui-server exited early (${code})`)));
  });
}

async function sandboxStats(sandbox) {
  const r = await fetch(`${sandbox}/_sandbox/stats`);
  return r.json();
}

let passed = 0;
let failed = 0;
async function step(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAILED - ${name}: ${e.stack ?? e}`);
    throw e;
  }
}
function expect(condition, what) {
  if (!condition) throw new Error(what);
}

run(["demo", "--sandbox-state", sandboxState]);
run(["user", "add", "alice", "--role", "approver"], `${PASSPHRASE}\n`);
const server = await startServer();
const browser = await chromium.launch({
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

try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US" });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const consoleErrors = [];
  // Uncaught exceptions only: refused requests (the wrong passphrase's 403) are expected.
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  await step("Today opens on the demo store under a Demo data banner", async () => {
    await page.goto(server.url);
    await page.getByRole("status").filter({ hasText: "Demo data" }).waitFor();
    await page.getByTestId("open-findings").filter({ hasText: "16" }).waitFor();
    await page.screenshot({ path: join(shots, "1-today.png"), fullPage: true });
  });

  await step("Sync now pulls from the sandbox and keeps the same findings", async () => {
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByRole("status").filter({ hasText: "synced:" }).waitFor();
    await page.getByTestId("open-findings").filter({ hasText: "16" }).waitFor();
  });

  let findingId;
  await step("A double charge opens with its evidence side by side", async () => {
    await page.getByRole("tab", { name: "Findings" }).click();
    await page.getByLabel("Kind").selectOption("double_charge");
    const row = page.locator('[role="row"][data-kind="double_charge"]').filter({ hasText: "45.00 EUR" }).first();
    findingId = await row.getAttribute("data-finding-id");
    await row.click();
    await page.getByRole("heading", { name: /Double charge/ }).waitFor();
    const gateway = page.getByRole("region", { name: "Gateway" });
    await gateway.getByText("surplus").waitFor();
    await gateway.getByText("kept").waitFor();
    expect((await page.getByTestId("fix").innerText()).startsWith("Refund 45.00 EUR"), "the fix is one refund");
    await page.screenshot({ path: join(shots, "2-evidence.png"), fullPage: true });
  });

  await step("A wrong passphrase is refused; the right one approves", async () => {
    await page.getByRole("button", { name: "Propose this fix" }).click();
    const form = page.getByRole("form", { name: "Approve" });
    await form.getByLabel("Approver").fill("alice");
    await form.getByLabel("Passphrase").fill("not it at all");
    await form.getByRole("button", { name: "Approve" }).click();
    await form.getByRole("alert").filter({ hasText: "passphrase" }).waitFor();
    await form.getByLabel("Passphrase").fill(PASSPHRASE);
    await form.getByRole("button", { name: "Approve" }).click();
    await page.getByRole("button", { name: "Execute" }).waitFor();
  });

  await step("A double click on Execute makes exactly one refund, and the finding is resolved", async () => {
    const before = (await sandboxStats(server.sandbox)).refunds;
    await page.getByRole("button", { name: "Execute" }).dblclick();
    const state = page.locator('[data-testid="action-state"][data-state="succeeded"]');
    await state.waitFor();
    const actionId = Number((await state.innerText()).match(/Action #(\d+)/)[1]);
    await page.getByText(/resolved \(fixed\)/).first().waitFor();
    await page.screenshot({ path: join(shots, "3-resolved.png"), fullPage: true });
    // Two more presses straight at the API, as two other windows would: nothing more is sent.
    const again = await Promise.all(
      [1, 2].map(() =>
        fetch(`${server.url}/api/execute`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ action_id: actionId, by: "other-window" }),
        }).then((r) => r.json()),
      ),
    );
    for (const a of again) expect(a.action?.state === "succeeded" || a.code === "already_in_progress", JSON.stringify(a));
    const after = (await sandboxStats(server.sandbox)).refunds;
    expect(after - before === 1, `expected one refund at the sandbox, saw ${after - before}`);
  });

  await step("Actions lists the refund as succeeded with its key and approver", async () => {
    await page.getByRole("tab", { name: "Actions" }).click();
    const row = page.locator('tr[data-state="succeeded"]');
    await row.waitFor();
    expect((await row.innerText()).includes("alice"), "alice approved it");
    await page.screenshot({ path: join(shots, "4-actions.png"), fullPage: true });
  });

  await step("Today counts one double charge fewer; the page threw no errors", async () => {
    await page.keyboard.press("Alt+1");
    await page.getByTestId("open-findings").filter({ hasText: "15" }).waitFor();
    expect(consoleErrors.length === 0, `console errors: ${consoleErrors.join("\n")}`);
    expect(findingId !== null, "a finding was opened");
  });
} catch {
  // Reported by `step`; fall through to the summary.
} finally {
  await browser.close();
  server.child.kill("SIGKILL");
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
