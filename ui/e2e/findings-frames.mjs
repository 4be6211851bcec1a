// Benchmark (browser tier of issue 17): does the Findings screen keep every frame while it
// loads and scrolls 100,000 findings? Two stores are made by the real binary from a Stripe
// export nobody invoiced (each charge an orphan finding): a small one (default 5,000
// findings) and a big one (default 100,000; CHARGEGUARD_FRAMES_ROWS=small,big overrides).
// The small one is long enough to scroll as far as the big one is scrolled (240 frames of
// 600 px are about 4,200 rows), so both scrolls render the same number of rows.
// For each, the real `chargeguard ui-server` serves the built front end to Debian's
// Chromium; a requestAnimationFrame loop records every frame and a PerformanceObserver
// every long task (over 50 ms) while the screen
//   1. loads the queue (from the tab's click until the count shows every finding), and
//   2. scrolls it (the grid scrolled 600 px a frame for 240 frames, top to far down).
// It prints each phase's frames, frames later than 1.5 intervals of the browser's own
// frame rate (measured on the same page while idle, in the same run), the worst frame
// and the long tasks, the big store beside the small one. A dropped frame is one the
// bookkeeper would see stutter.
//
// Usage: node e2e/findings-frames.mjs   (after `npm run build`; CHARGEGUARD_BIN names the
// binary, as for the e2e scenarios). Exits 0 when it measured; it asserts nothing.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, launchBrowser, startServer } from "./support.mjs";

const [SMALL, BIG] = (process.env.CHARGEGUARD_FRAMES_ROWS ?? "5000,100000").split(",").map(Number);

/** A store holding `n` open findings: a Stripe export of `n` charges no invoice names. */
function storeWithFindings(n) {
  const work = mkdtempSync(join(tmpdir(), "chargeguard-frames-"));
  const db = join(work, "frames.db");
  const lines = [
    "id,Description,Created date (UTC),Amount,Amount Refunded,Currency,Fee,Status,Customer ID,Customer Email,Captured,PaymentIntent ID",
  ];
  for (let i = 0; i < n; i++) {
    const day = String(1 + (i % 28)).padStart(2, "0");
    const hour = String(i % 24).padStart(2, "0");
    const minute = String(i % 60).padStart(2, "0");
    const id = String(i).padStart(8, "0");
    lines.push(
      `ch_frames${id},Subscription,2026-10-${day} ${hour}:${minute}:00,${10 + (i % 90)}.00,0.00,usd,0.59,Paid,cus_${i % 5000},,true,pi_frames${id}`,
    );
  }
  const csv = join(work, "stripe.csv");
  writeFileSync(csv, lines.join("\n") + "\n");
  for (const args of [["import", "stripe-payments", csv], ["reconcile"]]) {
    const r = spawnSync(bin, ["--db", db, ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`chargeguard ${args.join(" ")} failed: ${r.stderr}`);
  }
  return { work, db, sandboxState: join(work, "sandbox") };
}

// Installed before the app: every frame's time and every long task, kept on `window`.
function recordFrames() {
  window.__frames = [];
  window.__long = [];
  const tick = (t) => {
    window.__frames.push(t);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__long.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: "longtask", buffered: true });
}

const now = (page) => page.evaluate(() => performance.now());

/** The frames and long tasks recorded between two instants of the page's clock. */
async function between(page, from, to, interval) {
  const { frames, long } = await page.evaluate(([a, b]) => ({
    frames: window.__frames.filter((t) => t >= a && t <= b),
    long: window.__long.filter((e) => e.start >= a && e.start <= b),
  }), [from, to]);
  const gaps = frames.slice(1).map((t, i) => t - frames[i]);
  return {
    frames: frames.length,
    dropped: gaps.filter((g) => g > 1.5 * interval).length,
    worst: gaps.length ? Math.max(...gaps) : 0,
    long: long.length,
    longest: long.length ? Math.max(...long.map((e) => e.duration)) : 0,
    ms: to - from,
  };
}

async function measure(browser, n) {
  const store = storeWithFindings(n);
  const server = await startServer(store, { sandbox: false });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US" });
    const page = await context.newPage();
    page.setDefaultTimeout(120_000);
    await page.addInitScript(recordFrames);
    await page.goto(server.page);
    await page.getByRole("tab", { name: "Findings" }).waitFor();
    // The browser's own frame interval, idle on this page.
    const idleFrom = await now(page);
    await page.waitForTimeout(1000);
    const idleGaps = await page.evaluate((a) => {
      const f = window.__frames.filter((t) => t >= a);
      return f.slice(1).map((t, i) => t - f[i]).sort((x, y) => x - y);
    }, idleFrom);
    const interval = idleGaps[Math.floor(idleGaps.length / 2)];

    const loadFrom = await now(page);
    await page.getByRole("tab", { name: "Findings" }).click();
    await page.locator(".count").filter({ hasText: `${n.toLocaleString("en-US")} findings` }).waitFor();
    const load = await between(page, loadFrom, await now(page), interval);

    const scrollFrom = await now(page);
    await page.evaluate(
      () =>
        new Promise((done) => {
          const grid = document.querySelector('[aria-label="Findings queue"]');
          let left = 240;
          const step = () => {
            grid.scrollTop += 600;
            if (--left === 0) done();
            else requestAnimationFrame(step);
          };
          requestAnimationFrame(step);
        }),
    );
    const scroll = await between(page, scrollFrom, await now(page), interval);
    const rendered = await page.locator('[role="row"][data-finding-id]').count();
    await context.close();
    return { n, interval, load, scroll, rendered };
  } finally {
    server.child.kill();
  }
}

const browser = await launchBrowser();
try {
  const small = await measure(browser, SMALL);
  const big = await measure(browser, BIG);
  const row = (phase, r, p) =>
    `| ${phase} | ${r.n.toLocaleString("en-US")} | ${(p.ms / 1000).toFixed(2)} s | ${p.frames} | ${p.dropped} | ${p.worst.toFixed(1)} ms | ${p.long} (longest ${p.longest.toFixed(0)} ms) |`;
  console.log(`frame interval while idle: ${small.interval.toFixed(1)} ms (small), ${big.interval.toFixed(1)} ms (big)`);
  console.log("| phase | findings | took | frames | dropped (> 1.5 intervals) | worst frame | long tasks |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const phase of ["load", "scroll"]) {
    console.log(row(phase, small, small[phase]));
    console.log(row(phase, big, big[phase]));
  }
  console.log(`rows in the DOM after scrolling: ${small.rendered} (small), ${big.rendered} (big)`);
} finally {
  await browser.close();
}
