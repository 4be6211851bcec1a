// Import, Settings and Today's chart and sync progress in a real browser (Debian's
// Chromium through playwright-core), against the web build served by the real
// `chargeguard ui-server` on a demo store with its sandbox gateway inside.
//
// Usage: node e2e/import-settings-today.mjs (after `npm run build`; CHARGEGUARD_BIN names
// the binary). Screenshots go to ui/test-results/b-*.png. The last line is "N passed, N failed".
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { bin, demoStore, expect, launchBrowser, shots, startServer, steps } from "./support.mjs";

const INVOICES = [
  "invoice_number,customer_id,amount,currency,issued_at,due_at,status",
  "E2E-1,cus_e2e_1,49.00,USD,2026-10-01,2026-10-31,open",
  "E2E-2,cus_e2e_2,12000,JPY,2026-10-02,2026-11-01,open",
  "E2E-3,cus_e2e_3,12.500,KWD,2026-10-03,2026-11-02,open",
  "",
].join("\n");
const BAD = INVOICES.replace("49.00,USD", "49.001,USD").replace("E2E-3,cus_e2e_3,", "E2E-3,,");
const ACME = [
  "Invoice #,customer_id,Total,currency,issued_at,due_at,status,Salesperson",
  "ACME-1,cus_acme_1,10.00,USD,2026-10-01,2026-10-31,Unpaid,Kim",
  "ACME-2,cus_acme_2,20.00,USD,2026-10-02,2026-11-01,Settled,Lee",
  "",
].join("\n");
const CHASE = [
  "Details,Posting Date,Description,Amount,Type,Balance,Check or Slip #",
  "CREDIT,11/03/2026,\"STRIPE           TRANSFER   ST-E2E1   CCD ID: 1800948598\",1234.56,ACH_CREDIT,5234.56,,",
  "DEBIT,11/04/2026,\"MONTHLY SERVICE FEE\",-15.00,FEE_TRANSACTION,5219.56,,",
  "",
].join("\n");
const PAYOUTS = [
  "id,Amount,Created (UTC),Currency,Arrival Date (UTC),Status",
  "po_1E2EPayout000000000001,1234.56,2026-11-01 02:59,usd,2026-11-03 00:00,paid",
  "",
].join("\n");
const csv = (name, text) => ({ name, mimeType: "text/csv", buffer: Buffer.from(text) });

const { step, summary } = steps();
const store = demoStore();
const server = await startServer(store);
const browser = await launchBrowser();

try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US" });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(server.page);
  await page.getByTestId("open-findings").waitFor();

  const card = (name) => page.getByRole("article", { name });
  const outcome = (name) => card(name).getByTestId("import-outcome");

  await step("Import: a dry run says what would be added, the import adds it, again reads all unchanged", async () => {
    await page.keyboard.press("Alt+5");
    await page.getByRole("heading", { name: "Import" }).waitFor();
    await page.getByLabel("Choose CSV files").setInputFiles([csv("invoices.csv", INVOICES)]);
    const first = card("invoices.csv");
    expect((await first.getByLabel("What is this file?").inputValue()) === "invoices", "guessed from the header");
    await first.getByRole("button", { name: "Dry run" }).click();
    await outcome("invoices.csv").filter({ hasText: "invoices.csv: 3 new, 0 changed, 0 unchanged (dry run" }).waitFor();
    await first.getByRole("button", { name: "Import", exact: true }).click();
    await outcome("invoices.csv").and(page.locator('[data-written="true"]')).waitFor();
    await first.getByText("invoices.csv: 3 new, 0 changed, 0 unchanged").waitFor();
    // The same file again, as a bookkeeper re-running last month's export would.
    await first.getByRole("button", { name: "Import", exact: true }).click();
    await first.getByText("invoices.csv: 0 new, 0 changed, 3 unchanged").waitFor();
    await first.getByText("Nothing new: the store already holds every row").waitFor();
    await page.screenshot({ path: join(shots, "b-1-import-unchanged.png"), fullPage: true });
  });

  await step("Import: a bank's CSV export and Stripe's payouts export are told from their headers", async () => {
    await page.getByLabel("Choose CSV files").setInputFiles([
      csv("Chase1234_Activity.CSV", CHASE),
      csv("payouts.csv", PAYOUTS),
    ]);
    const bank = card("Chase1234_Activity.CSV");
    expect((await bank.getByLabel("What is this file?").inputValue()) === "bank_statement", "a bank statement");
    await bank.getByLabel("Account name").fill("Chase operating");
    await bank.getByRole("button", { name: "Import", exact: true }).click();
    await bank.getByText("Chase1234_Activity.CSV: 2 new, 0 changed, 0 unchanged bank lines").waitFor();
    await bank.getByText("Chase operating").waitFor();
    await bank.getByTestId("import-recognised").filter({ hasText: "Chase checking" }).waitFor();
    const payouts = card("payouts.csv");
    expect((await payouts.getByLabel("What is this file?").inputValue()) === "stripe_report", "a Stripe report");
    await payouts.getByRole("button", { name: "Import", exact: true }).click();
    await payouts.getByText("payouts.csv: 1 new, 0 changed, 0 unchanged payouts").waitFor();
    await page.screenshot({ path: join(shots, "b-1b-import-bank-and-payouts.png"), fullPage: true });
    // The payout met its deposit: the Payouts screen says so, and one click lists its
    // transactions (none stored for a payout from the export).
    await page.keyboard.press("Alt+9");
    await page.getByRole("heading", { name: "Payouts" }).waitFor();
    const row = page.locator('tr[data-payout="po_1E2EPayout000000000001"]');
    await row.getByTestId("payout-bank").filter({ hasText: "Deposited 2026-11-03" }).waitFor();
    await row.getByRole("button", { name: "0 transactions" }).click();
    await page.getByText("Its transactions are not in the store").waitFor();
    // The demo's dollar payout that never arrived is told apart from those not due yet.
    await page.locator('tr[data-bank="missing"]').first().waitFor();
    await page.screenshot({ path: join(shots, "b-1c-payouts.png"), fullPage: true });
    await page.keyboard.press("Alt+5");
  });

  await step("Import: a bad file is refused with file, line and column for each problem", async () => {
    await page.getByLabel("Choose CSV files").setInputFiles([csv("october.csv", BAD)]);
    await card("october.csv").getByRole("button", { name: "Import", exact: true }).click();
    const problems = card("october.csv").getByRole("table", { name: "Problems" });
    await problems.waitFor();
    await problems.getByText("october.csv:2:3").waitFor();
    await problems.getByText("october.csv:4:2").waitFor();
    await card("october.csv").getByText("Refused: nothing was imported").waitFor();
    await card("october.csv").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, "b-2-import-problems.png"), fullPage: true });
  });

  await step("Import: another app's layout is mapped in the editor, previewed, saved and imported", async () => {
    await page.getByLabel("Choose CSV files").setInputFiles([csv("acme.csv", ACME)]);
    await card("acme.csv").getByRole("button", { name: "Dry run" }).click();
    await card("acme.csv").getByText("the columns do not match").waitFor();
    const editor = page.getByRole("region", { name: "Column mapping for another app's layout" });
    await editor.getByLabel("File").selectOption({ label: "acme.csv" });
    await editor.getByTestId("mapping-missing").filter({ hasText: "invoice_number" }).waitFor();
    await editor.getByLabel("Header for invoice_number", { exact: true }).selectOption("Invoice #");
    await editor.getByLabel("Header for amount", { exact: true }).selectOption("Total");
    await editor.getByRole("button", { name: "Add a value translation" }).click();
    await editor.getByLabel("Their value 1").fill("Unpaid");
    await editor.getByLabel("Our value 1").fill("open");
    await editor.getByRole("button", { name: "Add a value translation" }).click();
    await editor.getByLabel("Their value 2").fill("Settled");
    await editor.getByLabel("Our value 2").fill("paid");
    const preview = editor.getByRole("table", { name: "Preview" });
    await preview.getByRole("cell", { name: "paid", exact: true }).waitFor();
    await preview.getByRole("cell", { name: "ACME-2", exact: true }).waitFor();
    expect((await editor.getByTestId("mapping-missing").count()) === 0, "nothing is missing any more");
    await editor.getByLabel("Save as").fill("acme");
    await editor.getByRole("button", { name: "Save mapping" }).click();
    await editor.getByRole("status").filter({ hasText: "Saved as “acme”" }).waitFor();
    await page.screenshot({ path: join(shots, "b-3-mapping-editor.png"), fullPage: true });
    const acme = card("acme.csv");
    expect((await acme.getByLabel("What is this file?").inputValue()) === "mapping:acme", "the saved mapping is picked");
    await acme.getByRole("button", { name: "Import", exact: true }).click();
    await acme.getByText("acme.csv: 2 new, 0 changed, 0 unchanged").waitFor();
    expect(pageErrors.length === 0, `page errors: ${pageErrors.join("\n")}`);
  });

  await step("Today: a chart of gateway vs ledger by day per currency, the differing days listed exactly", async () => {
    await page.keyboard.press("Alt+1");
    const eur = page.getByRole("img", { name: "Gateway vs ledger by day, EUR" });
    await eur.waitFor();
    // The demo's KWD double charges: three decimals, exact, with the currency's code.
    const kwd = page.getByRole("table", { name: "Days where gateway and ledger differ, KWD" });
    await kwd.waitFor();
    await kwd.getByRole("cell", { name: "12.500 KWD" }).first().waitFor();
    expect((await page.getByRole("img", { name: /^Gateway vs ledger by day, / }).count()) >= 4, "one chart per currency");
    await page.getByRole("heading", { name: "Gateway vs ledger by day" }).scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, "b-4-today-chart.png"), fullPage: true });
  });

  await step("Today: Sync now shows a real progress bar while the gateway answers, then the result", async () => {
    // The sandbox answers each charges page late (within the timeout): the bar has time to show.
    const armed = await fetch(`${server.sandbox}/_sandbox/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path: "/v1/charges", fault: "slow", times: 2, hold_ms: 1500 }),
    });
    expect(armed.ok, `arming the slow fault: ${armed.status}`);
    await page.getByRole("button", { name: "Sync now" }).click();
    const bar = page.getByTestId("sync-progress");
    await bar.waitFor();
    const value = Number(await bar.getByRole("progressbar", { name: "Sync progress" }).getAttribute("value"));
    expect(value > 0 && value < 100, `a determinate bar part-way: ${value}`);
    await page.screenshot({ path: join(shots, "b-5-sync-progress.png"), fullPage: true });
    await bar.filter({ hasText: /Charges: page [1-9]\d*, [\d,]+ fetched/ }).waitFor();
    await page.getByRole("status").filter({ hasText: "synced:" }).waitFor();
    expect((await bar.count()) === 0, "the bar goes once the sync is over");
    await page.getByTestId("open-findings").filter({ hasText: "21" }).waitFor();
  });

  await step("Settings: the demo window keeps its sandbox; people, threshold and time zone change as the core allows", async () => {
    await page.keyboard.press("Alt+8");
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    await page.getByText("The demo's sandbox gateway runs inside the app").waitFor();
    expect((await page.getByRole("form", { name: "Connect a gateway" }).count()) === 0, "no connect form in the demo");
    expect((await page.getByTestId("data-folder").innerText()) === store.work, "the data folder is the store's");
    const people = page.getByRole("form", { name: "Add a person" });
    await people.getByLabel("Name").fill("kim");
    await people.getByLabel("Role").selectOption("approver");
    await people.getByLabel("Passphrase (at least 8 characters)").fill("kim's long passphrase");
    await people.getByLabel("The passphrase again").fill("kim's long passphrase");
    // Nobody adds an approver alone: the demo's own approver vouches, with her passphrase.
    await people.getByLabel("Approver adding them").fill("ada");
    await people.getByLabel("The approver's passphrase").fill("not ada's passphrase");
    await people.getByRole("button", { name: "Add person" }).click();
    await page.getByRole("alert").filter({ hasText: "passphrase" }).waitFor();
    await people.getByLabel("The approver's passphrase").fill("ada-demo-passphrase");
    await people.getByRole("button", { name: "Add person" }).click();
    await page.getByRole("table", { name: "People" }).getByRole("cell", { name: "kim" }).waitFor();
    // The demo's books hold yen: its threshold is in yen's own terms until one is set.
    await page.getByTestId("threshold-JPY").filter({ hasText: "75,000 JPY" }).waitFor();
    const threshold = page.getByRole("form", { name: "Change a threshold" });
    await threshold.getByLabel(/Currency/).fill("JPY");
    await threshold.getByLabel(/New threshold/).fill("50,000");
    await threshold.getByLabel("Approver signing off").fill("kim");
    await threshold.getByLabel("Their passphrase").fill("not kim's passphrase");
    await threshold.getByRole("button", { name: "Change threshold" }).click();
    await page.getByRole("alert").filter({ hasText: "passphrase" }).waitFor();
    await threshold.getByLabel("Their passphrase").fill("kim's long passphrase");
    await threshold.getByRole("button", { name: "Change threshold" }).click();
    await page.getByTestId("threshold-JPY").filter({ hasText: "50,000 JPY" }).waitFor();
    await page.getByTestId("threshold-JPY").filter({ hasText: "set by an approver" }).waitFor();
    const zone = page.getByRole("form", { name: "Change the time zone" });
    await zone.getByLabel(/The zone you keep the books in/).fill("Mars/Olympus_Mons");
    await zone.getByRole("button", { name: "Set time zone" }).click();
    await page.getByRole("alert").filter({ hasText: "Europe/Berlin" }).waitFor();
    await zone.getByLabel(/The zone you keep the books in/).fill("europe/berlin");
    await zone.getByRole("button", { name: "Set time zone" }).click();
    await page.getByTestId("time-zone").filter({ hasText: "Europe/Berlin" }).waitFor();
    await page.screenshot({ path: join(shots, "b-6-settings-demo.png"), fullPage: true });
    expect(pageErrors.length === 0, `page errors: ${pageErrors.join("\n")}`);
  });
} catch {
  // Reported by `step`; fall through to the summary.
} finally {
  await browser.close();
  server.child.kill("SIGKILL");
}

// A store of one's own: connect a gateway in Settings with a key typed once. Under
// scripts/with-keyring.sh the key goes to a real (private) Secret Service; elsewhere the
// server takes it from CHARGEGUARD_API_KEY, the core's other way, and keeps none.
const KEY = "sk_test_51E2eTypedOnceNeverShownAgain4242";
const QBO_SECRET = "e2e-intuit-client-secret-never-shown";
const own = await ownStore();
const ownServer = await startServer(own.store, { sandbox: false, env: own.env });
const browser2 = await launchBrowser();
try {
  const page = await (await browser2.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
  page.setDefaultTimeout(20_000);
  const bodies = [];
  page.on("response", async (r) => {
    if (r.url().includes("/api/")) bodies.push(await r.text().catch(() => ""));
  });
  await step("Settings: a key typed once connects the gateway and is never shown or sent back", async () => {
    await page.goto(ownServer.page);
    // The window has read its secret and answered once before we move on.
    await page.getByRole("button", { name: "Sync now" }).waitFor();
    await page.getByRole("tab", { name: "Settings" }).click();
    const loaded = page.getByRole("heading", { name: "Settings" }).or(page.getByRole("alert"));
    await loaded.first().waitFor();
    const alert = page.getByRole("alert");
    if (await alert.count()) throw new Error(`Settings did not load: ${await alert.first().innerText()}`);
    const form = page.getByRole("form", { name: "Connect a gateway" });
    await form.getByLabel("Gateway address").fill(own.sandboxUrl);
    await form.getByLabel(/Secret key/).fill(KEY);
    await form.getByRole("button", { name: "Connect" }).click();
    await page.getByRole("status").filter({ hasText: "Connected to" }).waitFor();
    await page.getByTestId("gateway-api-base").filter({ hasText: own.sandboxUrl.replace(/\/$/, "") }).waitFor();
    expect((await form.getByLabel(/Secret key/).inputValue()) === "", "the key field is empty again");
    await page.screenshot({ path: join(shots, "b-7-settings-connected.png"), fullPage: true });
    await page.keyboard.press("Alt+1");
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByRole("status").filter({ hasText: "synced:" }).waitFor();
    const html = await page.content();
    const secret = "E2eTypedOnceNeverShownAgain";
    expect(!html.includes(secret), "the page holds the key");
    expect(bodies.length > 3 && bodies.every((b) => !b.includes(secret)), "an answer holds the key");
  });
  // Tokens live only in the keyring: this step needs the private Secret Service.
  if (process.env.CHARGEGUARD_IN_KEYRING_SESSION) {
    await step("Settings: QuickBooks connects when the browser comes back from its consent page, and disconnects", async () => {
      const company = await fetch(`${own.sandboxUrl.replace(/\/$/, "")}/_sandbox/qbo/companies`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ realm: "4620816365", currency: "USD", zone: "America/New_York" }),
      });
      expect(company.ok, `the stand-in's company: ${company.status}`);
      const port = await freePort();
      await page.keyboard.press("Alt+8");
      const form = page.getByRole("form", { name: "Connect an accounting system" });
      await page.getByTestId("books-connection").filter({ hasText: "Not connected" }).waitFor();
      await form.getByLabel("System", { exact: true }).selectOption("quickbooks");
      await form.getByLabel("Your app's client id").fill("cg-desktop");
      await form.getByLabel(/client secret/).fill(QBO_SECRET);
      await form.getByLabel("Redirect URI registered for the app").fill(`http://127.0.0.1:${port}/callback`);
      await form.getByLabel(/Local stand-in address/).fill(own.sandboxUrl);
      await form.getByRole("button", { name: "Connect" }).click();
      const link = page.getByTestId("books-consent-link");
      await link.waitFor();
      expect((await form.count()) === 0, "no second consent while one waits");
      await page.screenshot({ path: join(shots, "b-8-books-waiting.png"), fullPage: true });
      // The person's browser: the consent page, then its redirect back to the app's port.
      const [consent] = await Promise.all([page.waitForEvent("popup"), link.click()]);
      await consent.getByText("close this window").waitFor();
      await consent.close();
      await page.getByTestId("books-connection").filter({ hasText: "Connected to QuickBooks company 4620816365" }).waitFor();
      await page.getByTestId("books-connected").waitFor();
      await page.screenshot({ path: join(shots, "b-9-books-connected.png"), fullPage: true });
      expect(!(await page.content()).includes(QBO_SECRET), "the page holds the client secret");
      expect(bodies.every((b) => !b.includes(QBO_SECRET)), "an answer holds the client secret");
      // QuickBooks needs the account a refund is paid from before a fix can record one.
      const account = page.getByRole("form", { name: /payment account/ });
      await account.getByText("QuickBooks needs one before a fix can record a refund").waitFor();
      await account.getByLabel(/Id in QuickBooks/).fill("Undeposited");
      await account.getByRole("button", { name: "Set payment account" }).click();
      await account.getByRole("alert").filter({ hasText: "not an account id" }).waitFor();
      await account.getByLabel(/Id in QuickBooks/).fill("35");
      await account.getByRole("button", { name: "Set payment account" }).click();
      await page.getByTestId("books-payment-account").filter({ hasText: "paid from account 35" }).waitFor();
      await page.getByRole("button", { name: /Disconnect QuickBooks company/ }).click();
      await page.getByTestId("books-connection").filter({ hasText: "Not connected" }).waitFor();
      await page.getByRole("status").filter({ hasText: "already synced stay" }).waitFor();
    });
  } else {
    console.log("SKIPPED Settings' QuickBooks connection: no private Secret Service (run under scripts/with-keyring.sh)");
  }
} catch {
  // Reported by `step`.
} finally {
  await browser2.close();
  ownServer.child.kill("SIGKILL");
  own.sandbox.kill("SIGKILL");
}
summary();

/** A loopback port nothing listens on. */
function freePort() {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** A fresh store and a sandbox gateway of its own (`chargeguard sandbox serve`). */
async function ownStore() {
  const work = mkdtempSync(join(tmpdir(), "chargeguard-e2e-own-"));
  const child = spawn(bin, ["sandbox", "serve", "--addr", "127.0.0.1:0", "--state", join(work, "sandbox")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const sandboxUrl = await new Promise((resolveUrl, reject) => {
    createInterface({ input: child.stdout }).once("line", (line) => {
      const m = line.match(/^listening on (http:\/\/\S+)/);
      if (m) resolveUrl(m[1]);
      else reject(new Error(`the sandbox said: ${line}`));
    });
    child.on("exit", (code) => reject(new Error(`the sandbox exited early (${code})`)));
  });
  const env = process.env.CHARGEGUARD_IN_KEYRING_SESSION ? {} : { CHARGEGUARD_API_KEY: KEY };
  return { store: { db: join(work, "own.db"), sandboxState: null, work }, sandbox: child, sandboxUrl, env };
}
