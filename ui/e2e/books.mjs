// The bookkeeper's other screens in a real browser (Debian's Chromium through
// playwright-core) against the real `chargeguard ui-server` on a demo store with its
// sandbox gateway inside: Re-charge (every guard shown before Propose; one payment at the
// sandbox however often Propose and Execute are pressed), Month-end (export, verify,
// close, reopen) and the Audit log (filters, the chain verified, then broken on purpose).
//
// Usage: node e2e/books.mjs   (after `npm run build`; CHARGEGUARD_BIN names the binary).
// Screenshots go to ui/test-results/books-*.png. The last line is "N passed, N failed".
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import {
  PASSPHRASE,
  demoStore,
  expect,
  launchBrowser,
  steps,
  sandboxStats,
  shots,
  startServer,
} from "./support.mjs";

const world = demoStore({ approver: true });
// A second approver, for amounts above the approval threshold.
world.run(["user", "add", "bob", "--role", "approver", "--by", "alice"], `${PASSPHRASE}\n${PASSPHRASE}\n`);
const server = await startServer(world);
const browser = await launchBrowser();
const { step, summary } = steps();
const shot = (page, name) => page.screenshot({ path: join(shots, `books-${name}.png`), fullPage: true });

async function api(command, body) {
  const r = await server.post(command, body);
  return r.json();
}

try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US" });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(server.page);
  await page.getByRole("status").filter({ hasText: "Demo data" }).waitFor();

  // ------------------------------------------------------------------ Re-charge
  let invoice;
  await step("Re-charge lists the demo's unpaid invoices whose card was declined", async () => {
    await page.getByRole("tab", { name: "Re-charge" }).click();
    const table = page.getByRole("table", { name: "Unpaid invoices with a failed attempt" });
    await table.waitFor();
    const rows = table.locator("tbody tr");
    expect((await rows.count()) === 2, `two declined, unpaid invoices; saw ${await rows.count()}`);
    expect((await rows.nth(1).innerText()).includes("2 failed attempts"), "the second was declined twice");
    invoice = await rows.first().getAttribute("data-invoice");
    await shot(page, "1-recharge-list");
  });

  await step("Opening one by keyboard shows every guard's result before Propose can be pressed", async () => {
    const row = page.locator(`tr[data-invoice="${invoice}"]`);
    await row.focus();
    await page.keyboard.press("Enter");
    const guards = page.getByRole("region", { name: "Guards" });
    for (const guard of ["unpaid_in_ledger", "no_succeeded_charge", "nothing_in_flight", "card_on_file"]) {
      await guards.locator(`[data-guard="${guard}"][data-outcome="passed"]`).waitFor();
    }
    expect((await guards.innerText()).includes("asked just now"), "the gateway guard asked the gateway");
    const propose = page.getByRole("button", { name: "Propose this re-charge" });
    await page.waitForFunction(() => {
      const b = [...document.querySelectorAll("button")].find((x) => x.textContent === "Propose this re-charge");
      return b && !b.disabled;
    });
    expect(await propose.isEnabled(), "Propose is pressable once all guards passed");
    await shot(page, "2-recharge-guards");
  });

  let actionId;
  await step("A double click on Propose proposes one re-charge; approving it needs the passphrase", async () => {
    await page.getByRole("button", { name: "Propose this re-charge" }).dblclick();
    const form = page.getByRole("form", { name: "Approve" });
    await form.waitFor();
    const recharges = (await api("actions")).filter((a) => a.kind === "recharge" && a.invoice_number === invoice);
    expect(recharges.length === 1, `one re-charge action, saw ${recharges.length}`);
    actionId = recharges[0].id;
    // While it is proposed, the in-flight guard names it.
    await page.locator('[data-guard="nothing_in_flight"][data-outcome="refused"]').waitFor();
    await form.getByLabel("Approver").fill("alice");
    await form.getByLabel("Passphrase").fill(PASSPHRASE);
    await form.getByRole("button", { name: "Approve" }).click();
    // Above the threshold a second, different approver signs too.
    const execute = page.getByRole("button", { name: "Execute" });
    const second = form.getByRole("status").filter({ hasText: "second, different approver" });
    await Promise.race([execute.waitFor(), second.waitFor()]);
    if (await second.isVisible().catch(() => false)) {
      await form.getByLabel("Approver").fill("bob");
      await form.getByLabel("Passphrase").fill(PASSPHRASE);
      await form.getByRole("button", { name: "Approve" }).click();
    }
    await execute.waitFor();
  });

  await step("A double click on Execute charges the customer exactly once; the invoice leaves the list", async () => {
    const before = (await sandboxStats(server.sandbox)).payment_intents;
    await page.getByRole("button", { name: "Execute" }).dblclick();
    await page.locator('[data-testid="action-state"][data-state="succeeded"]').waitFor();
    const again = await api("execute", { action_id: actionId, by: "other-window" });
    expect(again.action?.state === "succeeded" || again.code === "already_in_progress", JSON.stringify(again));
    const after = (await sandboxStats(server.sandbox)).payment_intents;
    expect(after - before === 1, `one payment at the sandbox, saw ${after - before}`);
    await page.locator(`tr[data-invoice="${invoice}"]`).waitFor({ state: "detached" });
    await page.locator('[data-guard="unpaid_in_ledger"][data-outcome="refused"]').waitFor();
    await shot(page, "3-recharge-done");
  });

  // ------------------------------------------------------------------ Month-end
  await step("Month-end opens on last month in the demo's own zone, and reads it in another on request", async () => {
    await page.getByRole("tab", { name: "Month-end" }).click();
    const now = new Date();
    const last = new Date(Date.UTC(now.getFullYear(), now.getMonth() - 1, 1)).toISOString().slice(0, 7);
    const shown = await page.getByLabel("Month", { exact: true }).inputValue();
    expect(shown === last, `the screen opens on last month (${last}), saw ${shown}`);
    // The demo's books are of autumn 2026: read October.
    await page.getByLabel("Month", { exact: true }).fill("2026-10");
    // The demo comes with its zone set: a newcomer exports without visiting Settings.
    await page.getByText("the business's zone (UTC)").waitFor();
    await page.getByLabel("Time zone").fill("Europe/Berlin");
    await page.getByRole("button", { name: "Show", exact: true }).click();
    await page.getByTestId("ties-out").waitFor();
    const state = await page.getByTestId("period-state").innerText();
    expect(state.includes("2026-10-01T00:00:00+02:00"), `October starts at Berlin midnight: ${state}`);
    const tieOut = page.getByRole("table", { name: "Tie-out" });
    expect((await tieOut.innerText()).includes("JPY"), "a column per currency");
    await shot(page, "4-monthend");
  });

  await step("Export writes the package into the data folder, and it verifies", async () => {
    const form = page.getByRole("form", { name: "Export" });
    await form.getByRole("button", { name: "Export 2026-10" }).click();
    const done = page.getByTestId("exported");
    await done.waitFor();
    expect((await done.innerText()).includes(`${world.work}/chargeguard-2026-10`), await done.innerText());
    await done.getByRole("button", { name: "Verify this package" }).click();
    await done.locator('[data-testid="verified"][data-holds="yes"]').waitFor();
    await shot(page, "5-monthend-exported");
  });

  await step("Closing needs the approver's passphrase; reopening needs a reason", async () => {
    const close = page.getByRole("form", { name: "Close the month" });
    await close.getByLabel("Approver").fill("alice");
    await close.getByLabel("Passphrase").fill("not it at all");
    await close.getByRole("button", { name: "Close 2026-10" }).click();
    await close.getByRole("alert").filter({ hasText: "passphrase" }).waitFor();
    await close.getByLabel("Passphrase").fill(PASSPHRASE);
    await close.getByRole("button", { name: "Close 2026-10" }).click();
    await page.locator('[data-testid="period-state"][data-closed="yes"]').waitFor();
    expect((await page.getByTestId("period-state").innerText()).includes("Closed by alice"), "closed by alice");
    await shot(page, "6-monthend-closed");
    const reopen = page.getByRole("form", { name: "Reopen the month" });
    await reopen.getByLabel("Approver").fill("alice");
    await reopen.getByLabel("Passphrase").fill(PASSPHRASE);
    await reopen.getByRole("button", { name: "Reopen 2026-10" }).click();
    await reopen.getByRole("alert").filter({ hasText: "Say why" }).waitFor();
    await reopen.getByLabel("Reason to reopen").fill("late refund found");
    await reopen.getByRole("button", { name: "Reopen 2026-10" }).click();
    await page.locator('[data-testid="period-state"][data-closed="no"]').waitFor();
    const history = page.getByRole("table", { name: "Closes of this month" });
    expect((await history.innerText()).includes("late refund found"), "the reason is in the history");
  });

  // ------------------------------------------------------------------ Audit log
  await step("The audit log filters by kind and by action, and the chain holds", async () => {
    await page.getByRole("tab", { name: "Audit log" }).click();
    const rows = page.getByRole("table", { name: "Audit entries" }).locator("tbody tr");
    await rows.first().waitFor();
    await page.getByLabel("Kind").selectOption("period_reopened");
    await page.locator('tbody tr[data-event="period_reopened"]').waitFor();
    await page.getByTestId("range").filter({ hasText: "of 1," }).waitFor();
    await page.getByLabel("Kind").selectOption("");
    await page.getByLabel("Action # or about").fill(String(actionId));
    await page.getByTestId("range").filter({ hasText: "Entries 1–" }).waitFor();
    await page.waitForFunction(
      (id) => {
        const subjects = [...document.querySelectorAll('table[aria-label="Audit entries"] tbody tr td:nth-child(5)')];
        return subjects.length >= 3 && subjects.every((td) => td.textContent === `action:${id}`);
      },
      actionId,
    );
    await page.getByRole("button", { name: "Verify the chain" }).click();
    await page.locator('[data-testid="chain"][data-holds="yes"]').waitFor();
    await shot(page, "7-audit");
  });

  await step("An entry changed outside Chargeguard breaks the chain, and verify says where", async () => {
    const r = spawnSync("python3", [
      "-c",
      "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE audit_log SET actor='mallory' WHERE seq=2\"); c.commit()",
      world.db,
    ]);
    expect(r.status === 0, `tampering failed: ${r.stderr}`);
    await page.getByRole("button", { name: "Verify the chain" }).click();
    const broken = page.locator('[data-testid="chain"][data-holds="no"]');
    await broken.waitFor();
    expect((await broken.innerText()).includes("entry 2"), await broken.innerText());
    await shot(page, "8-audit-broken");
  });

  await step("The page threw no errors", async () => {
    expect(pageErrors.length === 0, `page errors: ${pageErrors.join("\n")}`);
  });
} catch {
  // Reported by `step`; fall through to the summary.
} finally {
  await browser.close();
  server.child.kill("SIGKILL");
}
summary();
