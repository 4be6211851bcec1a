// The bookkeeper's morning in a real browser (Debian's Chromium through playwright-core),
// against the web build served by the real `chargeguard ui-server` on a demo store whose
// sandbox gateway runs inside it: sync, open a double charge, see the evidence, approve,
// execute with a double click, see it resolved — and exactly one refund at the sandbox.
//
// Usage: node e2e/morning.mjs   (after `npm run build`; CHARGEGUARD_BIN names the binary,
// default ../target/debug/chargeguard or $CARGO_TARGET_DIR/debug/chargeguard).
// Screenshots go to ui/test-results/. The last line is "N passed, N failed".
import { join } from "node:path";
import { PASSPHRASE, demoStore, expect, launchBrowser, sandboxStats, shots, startServer, steps } from "./support.mjs";

const store = demoStore({ approver: true });
const server = await startServer(store);
const browser = await launchBrowser();
const { step, summary } = steps();

try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US" });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const consoleErrors = [];
  // Uncaught exceptions only: refused requests (the wrong passphrase's 403) are expected.
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  await step("Today opens on the demo store under a Demo data banner", async () => {
    await page.goto(server.page);
    await page.getByRole("status").filter({ hasText: "Demo data" }).waitFor();
    await page.getByTestId("open-findings").filter({ hasText: "21" }).waitFor();
    await page.screenshot({ path: join(shots, "1-today.png"), fullPage: true });
  });

  await step("Sync now pulls from the sandbox and keeps the same findings", async () => {
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByRole("status").filter({ hasText: "synced:" }).waitFor();
    await page.getByTestId("open-findings").filter({ hasText: "21" }).waitFor();
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
    // The approval screen says what it takes, in the action's own currency.
    await form.getByTestId("approval-rule").filter({ hasText: "under the EUR threshold of 450.00 EUR" }).waitFor();
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
        server.post("execute", { action_id: actionId, by: "other-window" }).then((r) => r.json()),
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
    await page.getByTestId("open-findings").filter({ hasText: "20" }).waitFor();
    expect(consoleErrors.length === 0, `console errors: ${consoleErrors.join("\n")}`);
    expect(findingId !== null, "a finding was opened");
  });
} catch {
  // Reported by `step`; fall through to the summary.
} finally {
  await browser.close();
  server.child.kill("SIGKILL");
}
summary();
