// Drives the dashboard in headless Chromium (Debian's, through playwright-core): signs in with
// a token, watches a running job's counters change, opens the job and pauses it, then signs in
// as an admin and counts the jobs table; a failed job's page says why. Prints what it saw as one
// JSON line; exits non-zero on the first thing that is not as expected. Run by dashboard.rs.
import { launch } from "./browser.mjs";

const { URL: base, TOKEN, ADMIN_TOKEN, JOB, FAILED_JOB, SHOTS } = process.env;

const browser = await launch();
const seen = {};
try {
  const alice = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await alice.newPage();
  await page.goto(base + "/");
  await page.waitForSelector("#sign-in-form", { state: "visible" });
  await page.screenshot({ path: `${SHOTS}/1-sign-in.png` });

  // A wrong token is refused, and said so.
  await page.fill("#token", "not-a-token");
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#sign-in-error").textContent.length > 0);
  seen.wrongToken = await page.textContent("#sign-in-error");

  await page.fill("#token", TOKEN);
  await page.click("#sign-in-form button[type=submit]");
  const row = `#jobs tbody tr[data-id="${JOB}"]`;
  await page.waitForSelector(row);
  seen.who = await page.textContent("#who");
  const bytes = () => page.textContent(`${row} td:nth-child(6)`);
  seen.firstBytes = await bytes();
  // Live by server-sent events: the counters change without a reload.
  await page.waitForFunction(
    ([sel, first]) => document.querySelector(sel) && document.querySelector(sel).textContent !== first,
    [`${row} td:nth-child(6)`, seen.firstBytes],
    { timeout: 60000 },
  );
  seen.laterBytes = await bytes();
  seen.rowStatus = await page.textContent(`${row} td:nth-child(4)`);
  seen.cookieVisibleToScripts = await page.evaluate(() => document.cookie.includes("awcopy_session"));
  await page.screenshot({ path: `${SHOTS}/2-jobs.png` });

  // The job's page: pause it and see its state change.
  await page.click(`${row} a`);
  await page.waitForSelector("#job-page", { state: "visible" });
  await page.waitForFunction(() => document.querySelector("#job-status").textContent === "running");
  await page.waitForTimeout(1500);
  await page.screenshot({ path: `${SHOTS}/3-job-running.png` });
  seen.runningCounters = await page.textContent("#job-counters");
  await page.click("button[data-action=pause]");
  await page.waitForFunction(() => document.querySelector("#job-status").textContent === "paused", null, { timeout: 90000 });
  seen.afterPause = await page.textContent("#job-status");
  await page.waitForSelector("#job-runs tbody tr");
  seen.runStarted = await page.textContent("#job-runs tbody tr td:nth-child(3)");
  // The chart's bytes (the job's, as GET has them) never went backwards, the pause included.
  seen.bytesSamples = await page.evaluate((id) => (state.samples.get(id) || []).map((s) => s.bytes), JOB);
  seen.pausedActions = await page.evaluate(() =>
    [...document.querySelectorAll("button[data-action]")].filter((b) => !b.hidden).map((b) => b.dataset.action));
  seen.agentRows = await page.locator("#job-agents tbody tr").count();
  await page.screenshot({ path: `${SHOTS}/4-job-paused.png` });
  seen.pageText = await page.textContent("body");

  // Resumed from the page: its counters are the job's as GET has them (between GET a moment
  // before and GET after, an event interval apart), and "Started" stays the first run's.
  await page.click("button[data-action=resume]");
  await page.waitForFunction(() => document.querySelector("#job-status").textContent === "running", null, { timeout: 30000 });
  await page.waitForTimeout(1500);
  seen.afterResume = await page.evaluate(async (id) => {
    const get = async () => (await (await fetch("/api/v1/jobs/" + id)).json());
    const before = (await get()).counters;
    await new Promise((done) => setTimeout(done, 1200));
    const shown = state.jobs.get(id).counters;
    const job = await get();
    const pick = (c) => [c.objects_done, c.objects_listed, c.bytes_done, c.bytes_listed];
    return { before: pick(before), shown: pick(shown), after: pick(job.counters),
      started: state.jobs.get(id).started_at, firstRun: job.runs[0].started_at, runs: job.runs.length };
  }, JOB);
  await page.click("button[data-action=pause]");
  await page.waitForFunction(() => document.querySelector("#job-status").textContent === "paused", null, { timeout: 90000 });

  // No page scrolls sideways, on a laptop or a phone: the jobs list and a job's page.
  seen.sideways = [];
  for (const [width, height] of [[1400, 900], [390, 844]]) {
    await page.setViewportSize({ width, height });
    for (const hash of ["#/", `#/jobs/${JOB}`]) {
      await page.goto(`${base}/${hash}`);
      await page.waitForSelector(hash === "#/" ? "#jobs-page" : "#job-page", { state: "visible" });
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
      if (wide > 0) seen.sideways.push(`${hash} at ${width}: ${wide} px too wide`);
    }
    await page.screenshot({ path: `${SHOTS}/8-job-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1400, height: 900 });

  // A failed job's page (opened in a tab of its own, signed in by the same cookie) says why,
  // in the error colour.
  const failed = await alice.newPage();
  await failed.goto(`${base}/#/jobs/${FAILED_JOB}`);
  await failed.waitForFunction((id) => document.querySelector("#job-title").textContent.endsWith(id)
    && document.querySelector("#job-status").textContent === "failed"
    && document.querySelector("#job-error").textContent.length > 0, FAILED_JOB);
  seen.failedError = await failed.textContent("#job-error");
  seen.failedErrorColour = await failed.evaluate(() => getComputedStyle(document.querySelector("#job-error")).color);
  seen.failedActions = await failed.evaluate(() =>
    [...document.querySelectorAll("button[data-action]")].filter((b) => !b.hidden).map((b) => b.dataset.action));
  await failed.screenshot({ path: `${SHOTS}/7-job-failed.png` });

  // An admin sees every user's jobs.
  const admin = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await admin.goto(base + "/");
  await admin.waitForSelector("#sign-in-form", { state: "visible" });
  await admin.fill("#token", ADMIN_TOKEN);
  await admin.click("#sign-in-form button[type=submit]");
  await admin.waitForSelector(row);
  seen.adminRows = await admin.locator("#jobs tbody tr").count();
  seen.adminUsers = [...new Set(await admin.locator("#jobs tbody tr td:nth-child(2)").allTextContents())].sort();
  // Paging, a status filter and a search.
  const rows = () => admin.locator("#jobs tbody tr").count();
  seen.adminPage = await admin.textContent("#page-info");
  await admin.click("#next-page");
  seen.adminSecondPageRows = await rows();
  await admin.click("#prev-page");
  await admin.selectOption("#job-status-filter", "failed");
  seen.failedRows = await rows();
  await admin.selectOption("#job-status-filter", "");
  await admin.fill("#job-search", "dashboard alice");
  seen.searchRows = await rows();
  await admin.fill("#job-search", "");
  await admin.screenshot({ path: `${SHOTS}/5-admin.png`, fullPage: true });
  await admin.click("a[href='#/schedules']");
  await admin.waitForSelector("#schedules-page", { state: "visible" });
  await admin.screenshot({ path: `${SHOTS}/6-schedules.png` });
  seen.adminPageText = await admin.textContent("body");
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
