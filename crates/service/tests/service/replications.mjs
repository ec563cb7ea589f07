// Drives the replications page in headless Chromium: signs in, opens the page, waits for the
// replication's counters to show the objects the test wrote (read live, no reload), pauses it
// with its button and sees its state change. Prints what it saw as one JSON line. Run by
// replication.rs.
import { launch } from "./browser.mjs";

const { URL: base, TOKEN, REPLICATION, APPLIED, SHOTS } = process.env;

const browser = await launch();
const seen = {};
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto(base + "/");
  await page.fill("#token", TOKEN);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#jobs-page", { state: "visible" });
  await page.click("a[href='#/replications']");
  const row = `#replications tbody tr[data-id="${REPLICATION}"]`;
  await page.waitForSelector(row);
  const applied = `${row} .events .applied`;
  const state = `${row} td.state`;
  seen.firstApplied = await page.textContent(applied);
  // Live: the applied count reaches what the test wrote without a reload.
  await page.waitForFunction(
    ([sel, want]) => Number(document.querySelector(sel).textContent) >= want,
    [applied, Number(APPLIED)],
    { timeout: 60000 },
  );
  seen.applied = await page.textContent(applied);
  seen.state = await page.textContent(state);
  seen.lag = await page.textContent(`${row} td.lag`);
  await page.screenshot({ path: `${SHOTS}/9-replications.png` });
  await page.click(`${row} button:has-text("Pause")`);
  await page.waitForFunction((sel) => document.querySelector(sel).textContent.startsWith("paused"), state);
  seen.afterPause = await page.textContent(state);
  seen.pageText = await page.textContent("body");
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
