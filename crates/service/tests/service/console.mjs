// Drives the dashboard's console in headless Chromium: a job made from the New job form (an
// estimate first), its page once finished (settings, a chart from the catalogue), a schedule
// made from the form, run now, edited, its runs listed and deleted, the agents page; no page
// scrolls sideways. Prints what it saw as one JSON line; exits non-zero on the first thing
// that is not as expected. Run by dashboard_console.rs.
import { launch } from "./browser.mjs";

const { URL: base, TOKEN, SOURCE, DEST, SCHEDULE_DEST, SHOTS } = process.env;

const browser = await launch();
const seen = { dialogs: [] };
let page;
const finished = (sel) => ["completed", "completed-with-failures", "failed"]
  .includes(document.querySelector(sel).textContent);
try {
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // Every dialog is recorded (a key that ran as script would show one) and accepted.
  page.on("dialog", (dialog) => { seen.dialogs.push(dialog.message()); dialog.accept(); });
  await page.goto(base + "/");
  await page.fill("#token", TOKEN);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#jobs-page", { state: "visible" });

  // A job from the form: the estimate first, then start it and follow it to its end.
  await page.click("a[href='#/new']");
  await page.waitForSelector("#new-page", { state: "visible" });
  await page.fill("#job-form [name=source]", SOURCE);
  await page.fill("#job-form [name=dest]", DEST);
  await page.fill("#job-form [name=include]", "*.bin");
  await page.fill("#job-form [name=name]", "from the form");
  await page.selectOption("#job-form [name=name_policy]", "fail");
  await page.fill("#job-form [name=get_cutoff]", "1048576");
  await page.click("#estimate");
  await page.waitForSelector("#estimate-total");
  seen.estimate = await page.textContent("#estimate-result");
  await page.screenshot({ path: `${SHOTS}/c1-new-job.png`, fullPage: true });
  await page.click("#start-job");
  await page.waitForFunction(() => /^#\/jobs\/[0-9a-f-]+$/.test(location.hash));
  seen.job = await page.evaluate(() => location.hash.slice("#/jobs/".length));
  await page.waitForFunction(finished, "#job-status", { timeout: 90000 });
  seen.jobStatus = await page.textContent("#job-status");
  // A name Azure cannot hold failed under "fail": listed, downloadable, retried under "map".
  await page.waitForSelector("#failures tbody tr");
  seen.failedKeys = await page.locator("#failures tbody tr td:first-child").allTextContents();
  seen.downloads = [await page.getAttribute("#failures-csv", "href"), await page.getAttribute("#failures-jsonl", "href")];
  const [csv] = await Promise.all([page.waitForEvent("download"), page.click("#failures-csv")]);
  seen.csvName = csv.suggestedFilename();
  seen.csvText = (await import("node:fs")).readFileSync(await csv.path(), "utf8");
  await page.selectOption("#retry-name-policy", "map");
  await page.click("#retry");
  await page.waitForFunction(() => document.querySelector("#job-status").textContent === "completed", null, { timeout: 90000 });
  seen.retried = await page.textContent("#job-status");
  // The page's counters are the job's, as GET has them, within one event interval.
  seen.afterRetry = await page.evaluate(async (id) => {
    await new Promise((done) => setTimeout(done, 1500));
    const shown = state.jobs.get(id).counters;
    const got = (await (await fetch("/api/v1/jobs/" + id)).json()).counters;
    const pick = (c) => [c.objects_done, c.objects_listed, c.bytes_done, c.bytes_listed];
    return { shown: pick(shown), got: pick(got),
      doneCell: [...document.querySelectorAll("#job-counters div")].find((d) => d.textContent.startsWith("Objects done")).textContent };
  }, seen.job);
  seen.runsAfterRetry = await page.locator("#job-runs tbody tr").allTextContents();
  await page.waitForFunction(() => document.querySelector("#job-runs tbody tr"));
  seen.settings = await page.textContent("#job-settings");
  // A job not running is drawn from its runs as the catalogue has them.
  seen.chart = await page.evaluate((id) => chartSeries(id).map((s) => s.bytes), seen.job);
  seen.chartInked = await page.evaluate(() => {
    const canvas = document.querySelector("#chart");
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
    return inked;
  });
  await page.screenshot({ path: `${SHOTS}/c2-job-done.png`, fullPage: true });
  // "Start a job like this" fills the form with the job's settings.
  await page.click("#job-settings a");
  await page.waitForSelector("#new-page", { state: "visible" });
  await page.waitForFunction(() => document.querySelector("#job-form [name=include]").value === "*.bin");
  seen.againName = await page.inputValue("#job-form [name=name]");
  seen.againSource = await page.inputValue("#job-form [name=source]");

  // A schedule from the form: every hour (so it runs at once), then run again by hand.
  await page.goto(`${base}/#/new-schedule`);
  await page.waitForSelector("#new-page", { state: "visible" });
  seen.startHidden = await page.evaluate(() => document.querySelector("#start-job").hidden);
  await page.fill("#job-form [name=source]", SOURCE);
  await page.fill("#job-form [name=dest]", SCHEDULE_DEST);
  await page.fill("#job-form [name=every]", "1h");
  await page.fill("#job-form [name=schedule_name]", "from-the-form");
  await page.click("#save-schedule");
  await page.waitForSelector("#schedules-page", { state: "visible" });
  const row = "#schedules tbody tr:has-text('from-the-form')";
  await page.waitForSelector(row);
  const lastRun = `${row} td:nth-child(7)`;
  const lastRunEnded = async () => {
    for (let tries = 0; tries < 120; tries++) {
      await page.goto(`${base}/#/`);
      await page.goto(`${base}/#/schedules`);
      await page.waitForSelector(row);
      const said = await page.textContent(lastRun);
      if (["completed", "completed-with-failures", "failed"].includes(said)) return;
      await page.waitForTimeout(500);
    }
    throw new Error("the schedule's last run never ended: " + await page.textContent(row));
  };
  await lastRunEnded();
  seen.firstRun = await page.textContent(lastRun);
  await page.click(`${row} button:has-text('Run now')`);
  await page.waitForFunction(() => /^#\/jobs\/[0-9a-f-]+$/.test(location.hash));
  seen.runNow = await page.evaluate(() => location.hash.slice("#/jobs/".length));
  await page.waitForFunction(finished, "#job-status", { timeout: 90000 });
  seen.runNowSchedule = await page.textContent("#job-schedule");
  await page.goto(`${base}/#/schedules`);
  await page.waitForSelector(row);
  await lastRunEnded();
  seen.lastRunLink = await page.getAttribute(`${lastRun} a`, "href");
  await page.screenshot({ path: `${SHOTS}/c3-schedules.png`, fullPage: true });

  // Edit: the form holds the schedule; a new name is kept.
  await page.click(`${row} button:has-text('Edit')`);
  await page.waitForSelector("#new-page", { state: "visible" });
  await page.waitForFunction(() => document.querySelector("#form-title").textContent === "Schedule from-the-form");
  seen.editEvery = await page.inputValue("#job-form [name=every]");
  seen.editSource = await page.inputValue("#job-form [name=source]");
  await page.fill("#job-form [name=schedule_name]", "renamed-in-the-form");
  await page.click("#save-schedule");
  await page.waitForSelector("#schedules tbody tr:has-text('renamed-in-the-form')");
  const renamed = "#schedules tbody tr:has-text('renamed-in-the-form')";

  // Its runs: the jobs list filtered to them.
  await page.click(`${renamed} a:has-text('Runs')`);
  await page.waitForSelector("#jobs-page", { state: "visible" });
  await page.waitForFunction(() => !document.querySelector("#schedule-filter").hidden);
  seen.runRows = await page.locator("#jobs tbody tr").count();
  seen.allRows = await page.evaluate(() => state.jobs.size);

  // The agents page.
  await page.click("a[href='#/agents']");
  await page.waitForSelector("#agents tbody tr");
  seen.agents = await page.locator("#agents tbody tr").allTextContents();
  await page.screenshot({ path: `${SHOTS}/c4-agents.png` });

  // No page scrolls sideways, on a laptop or a phone.
  seen.sideways = [];
  for (const [width, height] of [[1400, 900], [390, 844]]) {
    await page.setViewportSize({ width, height });
    for (const hash of ["#/new", "#/schedules", "#/agents", `#/jobs/${seen.job}`]) {
      await page.goto(`${base}/${hash}`);
      await page.waitForTimeout(300);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
      if (wide > 0) seen.sideways.push(`${hash} at ${width}: ${wide} px too wide`);
    }
    await page.goto(`${base}/#/new`);
    await page.screenshot({ path: `${SHOTS}/c5-new-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1400, height: 900 });
  // The system's dark mode: the form and the finished job's page.
  await page.emulateMedia({ colorScheme: "dark" });
  for (const [hash, shot] of [["#/new", "c6-new-dark"], [`#/jobs/${seen.job}`, "c6-job-dark"]]) {
    await page.goto(`${base}/${hash}`);
    await page.waitForTimeout(500);
    await page.screenshot({ path: `${SHOTS}/${shot}.png`, fullPage: true });
  }
  seen.darkBackground = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: "light" });

  // Delete, after a confirmation.
  await page.goto(`${base}/#/schedules`);
  await page.waitForSelector(renamed);
  await page.click(`${renamed} button:has-text('Delete')`);
  await page.waitForSelector(renamed, { state: "detached" });
  seen.pageText = await page.textContent("body");
} catch (err) {
  if (page) await page.screenshot({ path: `${SHOTS}/c-failed.png`, fullPage: true });
  throw err;
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
