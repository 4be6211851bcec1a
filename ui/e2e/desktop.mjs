// The real desktop app, smoke-tested through WebDriver: the built Tauri binary in WebKitGTK,
// driven by `tauri-driver` (which starts Debian's WebKitWebDriver) under Xvfb. It runs with a
// test app identifier and a fresh data folder, so no real user's data is touched.
//
// It checks what a bookkeeper sees on first launch: the demo store built inside the app
// with its sandbox gateway, the demo banner and findings; then approves and executes one
// double charge's refund with a double click, and asks the in-app sandbox how many refunds
// it made (exactly one).
//
// Usage (scripts/test-desktop.sh does all of it): xvfb-run node e2e/desktop.mjs, with
// CHARGEGUARD_DESKTOP_BIN (the built app), CHARGEGUARD_BIN (the CLI, to add an approver)
// and TAURI_DRIVER (default: tauri-driver on PATH). Screenshots go to ui/test-results/.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, existsSync, writeFileSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { Builder, By, Capabilities, until } from "selenium-webdriver";
import { PASSPHRASE, expect, shots, steps } from "./support.mjs";

const KEY_ENV = "CHARGEGUARD_API_KEY";
const OWN_KEY = "sk_test_51DesktopOwnBooksKey0123456789";
const app = process.env.CHARGEGUARD_DESKTOP_BIN;
const cli = process.env.CHARGEGUARD_BIN;
const tauriDriver = process.env.TAURI_DRIVER ?? "tauri-driver";
for (const [name, path] of [["CHARGEGUARD_DESKTOP_BIN", app], ["CHARGEGUARD_BIN", cli]]) {
  if (!path || !existsSync(path)) throw new Error(`${name} must name a built binary (got ${path})`);
}

const dataDir = mkdtempSync(join(tmpdir(), "chargeguard-desktop-"));
const demoDb = join(dataDir, "demo", "chargeguard-demo.db");

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
    server.on("error", reject);
  });
}

async function waitFor(what, condition, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// tauri-driver starts WebKitWebDriver, which starts the app: all inherit this environment.
const port = await freePort();
const nativePort = await freePort();
// The app's log goes to a file (it names the in-app sandbox's address).
const logPath = join(dataDir, "app.log");
const logFd = openSync(logPath, "a");
const appLog = () => readFileSync(logPath, "utf8");
const driverProcess = spawn(tauriDriver, ["--port", String(port), "--native-port", String(nativePort)], {
  env: {
    ...process.env,
    CHARGEGUARD_APP_ID: "app.chargeguard.desktop.test",
    CHARGEGUARD_DATA_DIR: dataDir,
    // The bookkeeper's own gateway below is a second sandbox; no Secret Service runs here,
    // so the app takes the key from the environment, as `chargeguard connect` does in CI.
    [KEY_ENV]: OWN_KEY,
  },
  stdio: ["ignore", logFd, logFd],
});
await waitFor("tauri-driver to listen", async () => {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/status`);
    return r.ok || r.status < 500;
  } catch {
    return false;
  }
});

const report = steps();
const { step } = report;

const capabilities = new Capabilities();
capabilities.set("tauri:options", { application: app });
capabilities.setBrowserName("wry");
let driver;

async function shot(name) {
  writeFileSync(join(shots, name), await driver.takeScreenshot(), "base64");
}
/**
 * Runs `body` again while React replaces the element under it (a filter answering, the
 * virtualized table redrawing): WebKitWebDriver then calls the old node stale.
 */
async function unlessStale(body, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await body();
    } catch (e) {
      if (e?.name !== "StaleElementReferenceError" || Date.now() > deadline) throw e;
    }
  }
}
async function visible(locator, timeoutMs = 60_000) {
  return unlessStale(async () => {
    const element = await driver.wait(until.elementLocated(locator), timeoutMs);
    await driver.wait(until.elementIsVisible(element), timeoutMs);
    return element;
  }, timeoutMs);
}
/** Finds the element at `locator` and clicks it, again if it was replaced meanwhile. */
async function clickOn(locator) {
  await unlessStale(async () => (await visible(locator)).click());
}
async function textOf(locator) {
  return unlessStale(async () => (await visible(locator)).getText());
}
/** Waits until the first element at `locator` has text for which `wanted` holds. */
async function textWhere(locator, wanted, timeoutMs = 60_000) {
  // One flat wait: a driver.wait nested in another's condition never returns.
  return driver.wait(
    () =>
      unlessStale(async () => {
        const [element] = await driver.findElements(locator);
        if (!element) return false;
        const text = await element.getText();
        return wanted(text) ? text : false;
      }),
    timeoutMs,
    `waiting for ${locator}`,
  );
}
/** A second sandbox, standing in for the bookkeeper's own Stripe account. */
async function ownGateway() {
  const child = spawn(cli, ["sandbox", "serve", "--addr", "127.0.0.1:0", "--state", join(dataDir, "own-gateway")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((ready, reject) => {
    child.on("exit", (code) => reject(new Error(`the sandbox exited early (${code})`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const found = line.match(/listening on (http:\/\/\S+)/)?.[1];
      if (found) ready(found);
    });
  });
  return { child, url };
}

async function sandboxRefunds() {
  const url = appLog().match(/sandbox="?(http:\/\/127\.0\.0\.1:\d+)/)?.[1];
  expect(url, `the app did not log its sandbox's address:\n${appLog()}`);
  const stats = await (await fetch(`${url}/_sandbox/stats`)).json();
  return stats.refunds;
}

try {
  console.log("… starting the app through tauri-driver");
  driver = await new Builder().withCapabilities(capabilities).usingServer(`http://127.0.0.1:${port}/`).build();

  await step("first launch builds the demo store and shows it under a Demo data banner", async () => {
    const banner = await textOf(By.css(".demo-banner"));
    expect(banner.includes("Demo data"), `banner reads: ${banner}`);
    await textWhere(By.css('[data-testid="open-findings"]'), (t) => t === "21");
    expect(existsSync(demoDb), "the demo store lives in the test data folder");
    await shot("desktop-1-today.png");
  });

  await step("the Findings screen lists the demo's double charges", async () => {
    await clickOn(By.xpath('//button[@role="tab"][normalize-space()="Findings"]'));
    await clickOn(By.xpath('//label[starts-with(normalize-space(.), "Kind")]//select/option[@value="double_charge"]'));
    await textWhere(By.css(".filters .count"), (t) => t === "4 findings");
    // A EUR one: under the approval threshold, so one approver is enough.
    await clickOn(By.xpath('//div[@role="row"][@data-kind="double_charge"][contains(., "45.00 EUR")]'));
    await visible(By.xpath('//h2[@id="finding-title"][contains(., "Double charge")]'));
    const fix = await textOf(By.css('[data-testid="fix"]'));
    expect(fix.startsWith("Refund "), `the fix is a refund: ${fix}`);
    await shot("desktop-2-evidence.png");
  });

  await step("an approver approves, and a double click on Execute refunds exactly once", async () => {
    // The approver is added the way an administrator would, with the command line, into
    // the store the app has open, vouched for by the demo's own approver.
    const added = spawnSync(cli, ["--db", demoDb, "user", "add", "alice", "--role", "approver", "--by", "ada"], {
      input: `${PASSPHRASE}\nada-demo-passphrase\n`,
      encoding: "utf8",
    });
    expect(added.status === 0, `user add failed: ${added.stderr}`);
    const before = await sandboxRefunds();
    await clickOn(By.xpath('//button[normalize-space()="Propose this fix"]'));
    const form = await visible(By.css('form[aria-label="Approve"]'));
    const approver = await form.findElement(By.xpath('.//label[contains(., "Approver")]//input'));
    await approver.clear();
    await approver.sendKeys("alice");
    await form.findElement(By.xpath('.//label[contains(., "Passphrase")]//input')).sendKeys(PASSPHRASE);
    await form.findElement(By.xpath('.//button[normalize-space()="Approve"]')).click();
    const execute = await visible(By.xpath('//button[normalize-space()="Execute"]'));
    await driver.actions().doubleClick(execute).perform();
    await visible(By.css('[data-testid="action-state"][data-state="succeeded"]'));
    await shot("desktop-3-resolved.png");
    const after = await waitFor("the refund to reach the sandbox", async () => {
      const n = await sandboxRefunds();
      return n > before ? n : null;
    });
    expect(after - before === 1, `expected one refund at the sandbox, saw ${after - before}`);
  });

  await step("Import takes files by path through the platform's dialog; the window may do nothing else with files", async () => {
    await clickOn(By.xpath('//button[@role="tab"][normalize-space()="Import"]'));
    await visible(By.xpath('//button[normalize-space()="Choose CSV files"]'));
    expect((await driver.findElements(By.css('input[type="file"]'))).length === 0, "no browser upload in the desktop app");
    // What the dialog or a drop hands the window is a path; the core reads the file there.
    const csv = join(dataDir, "picked", "October invoices.csv");
    mkdirSync(dirname(csv), { recursive: true });
    writeFileSync(csv, "invoice_number,customer_id,amount,currency,issued_at,due_at,status\nD-1,cus_d,10.00,EUR,2026-10-01,2026-10-31,open\n");
    const invoke = (cmd, args) =>
      driver.executeAsyncScript(
        `const done = arguments[arguments.length - 1];
         window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])
           .then((value) => done({ ok: value }), (error) => done({ error: String(error?.message ?? error) }));`,
        cmd,
        args,
      );
    const kind = await invoke("api", { command: "file_kind", request: { path: csv } });
    expect(kind.ok?.kind === "invoices" && kind.ok?.name === "October invoices.csv", `file_kind: ${JSON.stringify(kind)}`);
    const tried = await invoke("api", { command: "import_csv", request: { kind: "invoices", path: csv, dry_run: true } });
    expect(tried.ok?.new === 1, `a dry run by path: ${JSON.stringify(tried)}`);
    // The capability grants the dialog's `open` only: no save dialog, no file system.
    const save = await invoke("plugin:dialog|save", { options: {} });
    expect(save.error && /not allowed|denied|forbidden/i.test(save.error), `the save dialog was allowed: ${JSON.stringify(save)}`);
    const read = await invoke("plugin:fs|read_text_file", { path: csv });
    expect(read.error !== undefined, `the window read a file itself: ${JSON.stringify(read)}`);
    await shot("desktop-4-import.png");
  });

  await step("Settings connects the bookkeeper's own gateway; the next start opens their own books", async () => {
    const own = await ownGateway();
    await clickOn(By.xpath('//button[@role="tab"][normalize-space()="Settings"]'));
    await visible(By.css('[data-testid="own-books"]'));
    const field = async (label) => {
      const id = await (await visible(By.xpath(`//label[normalize-space()="${label}"]`))).getAttribute("for");
      const input = await driver.findElement(By.id(id));
      await input.clear();
      return input;
    };
    // The accounting system's card: the demo keeps its books in its sandbox's Xero
    // stand-in, connected by the window; no form offers to connect real books here.
    await textWhere(
      By.css('[data-testid="books-connection"]'),
      (t) => t === "Connected to Xero organisation Chargeguard Demo Company (Xero stand-in)",
    );
    await textWhere(By.css('[data-testid="books-hint"]'), (t) => t.includes("no real Xero is touched"));
    expect(
      (await driver.findElements(By.css('form[aria-label="Connect an accounting system"]'))).length === 0,
      "the demo window offers no form to connect real books",
    );
    await (await field("Gateway address")).sendKeys(own.url);
    await (await field("Secret key (sk_live_… or sk_test_…)")).sendKeys(OWN_KEY);
    await clickOn(By.xpath('//form[@aria-label="Connect a gateway"]//button[@type="submit"]'));
    await textWhere(By.xpath('//*[contains(., "close and reopen Chargeguard")][not(*)]'), (t) => t.length > 0);
    expect(existsSync(join(dataDir, "chargeguard.db")), "the own books were created in the data folder");
    const page = await driver.getPageSource();
    expect(!page.includes(OWN_KEY.slice(8)), "the window never shows the key");
    await shot("desktop-5-own-books.png");

    await driver.quit();
    driver = await new Builder().withCapabilities(capabilities).usingServer(`http://127.0.0.1:${port}/`).build();
    await visible(By.xpath('//button[@role="tab"][normalize-space()="Today"]'));
    await textWhere(By.css('[data-testid="open-findings"]'), (t) => t === "0");
    expect((await driver.findElements(By.css(".demo-banner"))).length === 0, "no demo banner on one's own books");
    await shot("desktop-6-reopened.png");
    own.child.kill("SIGKILL");
  });
} catch {
  // Reported by `step`; keep what the window showed, then fall through to the summary.
  if (driver) {
    await shot("desktop-failure.png").catch(() => {});
    const source = await driver.getPageSource().catch((e) => `(no page source: ${e})`);
    console.log(`The window's page when it failed:\n${source.slice(0, 3000)}`);
  }
} finally {
  if (driver) await driver.quit().catch(() => {});
  driverProcess.kill("SIGKILL");
}
if (report.failed > 0) console.log(appLog().slice(-4000));
report.summary();
