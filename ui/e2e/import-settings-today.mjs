// Import, Settings and Today's chart and sync progress in a real browser (Debian's
// Chromium through playwright-core), against the web build served by the real
// `chargeguard ui-server` on a demo store with its sandbox gateway inside.
//
// Usage: node e2e/import-settings-today.mjs (after `npm run build`; CHARGEGUARD_BIN names
// the binary). Screenshots go to ui/test-results/b-*.png. The last line is "N passed, N failed".
import { join } from "node:path";
import { demoStore, expect, launchBrowser, shots, startServer, steps } from "./support-b.mjs";

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
  await page.goto(server.url);
  await page.getByTestId("open-findings").waitFor();

  const card = (name) => page.getByRole("article", { name });
  const outcome = (name) => card(name).getByTestId("import-outcome");

  await step("Import: a dry run says what would be added, the import adds it, again reads all unchanged", async () => {
    await page.keyboard.press("Alt+4");
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
    await editor.getByLabel("Header for invoice_number").selectOption("Invoice #");
    await editor.getByLabel("Header for amount").selectOption("Total");
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
} catch {
  // Reported by `step`; fall through to the summary.
} finally {
  await browser.close();
  server.child.kill("SIGKILL");
}
summary();
