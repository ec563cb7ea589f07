// Watches one job's page on a service replica in headless Chromium until the job ends: signs
// in, opens the job's page, and reads its status and "Objects done" every 250 ms, through the
// replica that ran it being killed and another taking it over. Prints the readings as one JSON
// line. Run by replicas.rs.
import { launch } from "../../../service/tests/service/browser.mjs";

const { URL: base, TOKEN, JOB, SHOTS } = process.env;

const browser = await launch();
try {
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  await page.goto(base + "/");
  await page.waitForSelector("#sign-in-form", { state: "visible" });
  await page.fill("#token", TOKEN);
  await page.click("#sign-in-form button[type=submit]");
  const row = `#jobs tbody tr[data-id="${JOB}"]`;
  await page.waitForSelector(row);
  await page.click(`${row} a`);
  await page.waitForSelector("#job-page", { state: "visible" });
  const readings = [];
  const deadline = Date.now() + 240000;
  for (;;) {
    const reading = await page.evaluate(() => {
      const done = [...document.querySelectorAll("#job-counters div")]
        .find((d) => d.querySelector("dt").textContent === "Objects done");
      return {
        status: document.querySelector("#job-status").textContent,
        done: done ? Number(done.querySelector("dd").textContent) : null,
      };
    });
    readings.push(reading);
    if (!["running", ""].includes(reading.status) || Date.now() > deadline) break;
    await page.waitForTimeout(250);
  }
  await page.screenshot({ path: `${SHOTS}/survivor-job.png` });
  console.log(JSON.stringify({ readings }));
} finally {
  await browser.close();
}
