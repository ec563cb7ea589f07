// The awcopy dashboard: plain DOM, no framework, no build step. Every value from the server
// is set with textContent, never as HTML.
"use strict";

const state = {
  me: null,
  jobs: new Map(),      // id -> job view
  samples: new Map(),   // id -> [{t, bytes}] (progress over time, for rate, ETA and chart)
  agents: new Map(),    // id -> [[name, bytes]]
  inFlight: new Map(),  // id -> requests in flight, where the service knows them
  runs: new Map(),      // id -> the job's runs, from the catalogue (the chart of a job not running)
  events: null,
  page: 0,              // the jobs list's page, of JOBS_PER_PAGE
  schedule: null,       // the jobs list shows only this schedule's runs, if set
};

/// Jobs on one page of the list.
const JOBS_PER_PAGE = 50;

const $ = (sel) => document.querySelector(sel);

/// Every time on the page in one format, with its zone: "Dec 6, 2026, 7:16:36 PM UTC" (a
/// date style and a zone name cannot go in one format: the zone comes from a second one).
const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const ZONE_FORMAT = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" });
function when(text) {
  const at = new Date(text);
  const zone = ZONE_FORMAT.formatToParts(at).find((p) => p.type === "timeZoneName");
  return TIME_FORMAT.format(at) + (zone ? " " + zone.value : "");
}

async function api(method, path, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  // Every change is sent as JSON: the service refuses a cookie's change in any other form.
  if (body !== undefined || method !== "GET") {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body === undefined ? {} : body);
  }
  const response = await fetch(path, options);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(data && data.message ? data.message : response.statusText);
    error.status = response.status;
    throw error;
  }
  return data;
}

// A job's source and destination, each with the endpoint it is reached at when that is not
// the cloud's own.
function jobRoute(job) {
  const at = (location, endpoint) => endpoint ? location + " (at " + endpoint + ")" : location;
  return at(job.source, job.source_endpoint) + " \u2192 " + at(job.dest, job.dest_endpoint);
}

function human(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
}

function duration(seconds) {
  if (!isFinite(seconds) || seconds < 0) return "unknown";
  seconds = Math.round(seconds);
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
}

function since(time) {
  return time ? (Date.now() - Date.parse(time)) / 1000 : NaN;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

/// A link to `href` saying `text`.
function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

/// A named value of a definition list: its term and its description, in one box.
function term(name, value) {
  const div = document.createElement("div");
  const dt = document.createElement("dt"); dt.textContent = name;
  const dd = document.createElement("dd"); dd.textContent = String(value);
  div.append(dt, dd);
  return div;
}

/// A list item for each of `texts`.
function listItems(texts) {
  return texts.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  });
}

function addSample(id, bytes, objects = 0) {
  const list = state.samples.get(id) || [];
  list.push({ t: Date.now(), bytes, objects });
  if (list.length > 600) list.shift();
  state.samples.set(id, list);
}

/// Bytes (or objects) per second over the last ten seconds of samples.
function rate(id, field = "bytes") {
  const list = state.samples.get(id) || [];
  if (list.length < 2) return NaN;
  const last = list[list.length - 1];
  const first = list.find((s) => last.t - s.t <= 10000) || list[0];
  return last.t > first.t ? (last[field] - first[field]) * 1000 / (last.t - first.t) : NaN;
}

/// The time left: the longer of what the objects left and the bytes left need at their
/// rates; "listing" while the totals still grow; never 0 s while objects are left.
function eta(job) {
  if (job.status !== "running") return "";
  const c = job.counters;
  if (!c.listing_done) return "listing\u2026";
  const objectsLeft = c.objects_listed - c.objects_done - c.objects_failed;
  const bytesLeft = c.bytes_listed - c.bytes_done;
  const need = (left, r) => (left <= 0 ? 0 : r > 0 ? left / r : NaN);
  const objects = need(objectsLeft, rate(job.id, "objects")), bytes = need(bytesLeft, rate(job.id));
  // No object finished lately (large ones in progress): their bytes tell.
  const seconds = Number.isNaN(objects) && bytesLeft > 0 ? bytes : Math.max(objects, bytes);
  if (Number.isNaN(seconds)) return "unknown";
  return duration(objectsLeft > 0 ? Math.max(1, seconds) : seconds);
}

/// The jobs the filters keep: a status, and words found in the name, user, id or locations.
function filteredJobs() {
  const status = $("#job-status-filter").value;
  const schedule = state.schedule;
  const words = $("#job-search").value.toLowerCase().split(/\s+/).filter(Boolean);
  return [...state.jobs.values()]
    .filter((job) => !status || job.status === status)
    .filter((job) => !schedule || job.schedule === schedule)
    .filter((job) => {
      const text = [job.name || "", job.user, job.id, job.source, job.dest].join(" ").toLowerCase();
      return words.every((w) => text.includes(w));
    })
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
}

function renderJobs() {
  const body = $("#jobs tbody");
  const all = filteredJobs();
  const pages = Math.max(1, Math.ceil(all.length / JOBS_PER_PAGE));
  state.page = Math.min(state.page, pages - 1);
  const jobs = all.slice(state.page * JOBS_PER_PAGE, (state.page + 1) * JOBS_PER_PAGE);
  $("#page-info").textContent = all.length + " jobs, page " + (state.page + 1) + " of " + pages;
  $("#prev-page").disabled = state.page === 0;
  $("#next-page").disabled = state.page >= pages - 1;
  $("#no-jobs").hidden = state.jobs.size > 0;
  $("#schedule-filter").hidden = !state.schedule;
  $("#schedule-filter strong").textContent = state.schedule || "";
  const rows = jobs.map((job) => {
    const c = job.counters;
    const tr = document.createElement("tr");
    tr.dataset.id = job.id;
    const short = job.id.slice(0, 8);
    cell(tr, "").appendChild(link("#/jobs/" + job.id, job.name ? job.name + " (" + short + ")" : short));
    cell(tr, job.user);
    cell(tr, jobRoute(job), "route");
    cell(tr, job.status, "status status-" + job.status);
    cell(tr, c.objects_done + " / " + c.objects_listed + (c.listing_done ? "" : "+"));
    cell(tr, human(c.bytes_done) + " / " + human(c.bytes_listed));
    cell(tr, String(c.objects_skipped));
    cell(tr, String(c.objects_failed));
    const r = rate(job.id);
    cell(tr, job.status === "running" && r >= 0 ? human(r) + "/s" : "");
    cell(tr, eta(job));
    cell(tr, job.started_at ? when(job.started_at) : "");
    const end = job.finished_at ? Date.parse(job.finished_at) : Date.now();
    cell(tr, job.started_at ? duration((end - Date.parse(job.started_at)) / 1000) : "");
    return tr;
  });
  body.replaceChildren(...rows);
}

function renderJob(id) {
  const job = state.jobs.get(id);
  if (!job) { $("#job-title").textContent = "No job " + id; return; }
  $("#job-title").textContent = (job.name ? job.name + " \u2014 " : "") + "job " + job.id;
  $("#job-route").textContent = job.command + " " + jobRoute(job) + " (user " + job.user + ")";
  $("#job-schedule").hidden = !job.schedule;
  if (job.schedule) {
    const a = $("#job-schedule a");
    a.href = "#/runs/" + job.schedule;
    a.textContent = job.schedule + " (all its runs)";
  }
  const status = $("#job-status");
  status.textContent = job.status;
  status.className = "status-" + job.status;
  // Only the actions its state allows.
  const allowed = {
    pause: job.status === "running",
    resume: job.status === "paused" || job.status === "failed",
    cancel: job.status === "running" || job.status === "paused" || job.status === "failed",
    retry: job.status === "completed-with-failures",
  };
  for (const button of document.querySelectorAll("#job-page button[data-action]")) {
    button.hidden = !allowed[button.dataset.action];
  }
  // Why its last run stopped, in the error colour, where the status is.
  const error = $("#job-error");
  error.hidden = !job.error;
  error.textContent = job.error
    ? (job.status === "failed" ? "Failed: " : "Stopped: ") + job.error + (job.error_kind ? " (" + job.error_kind + ")" : "")
    : "";
  const c = job.counters;
  const counters = [
    ["Objects listed", c.objects_listed + (c.listing_done ? "" : "+ (listing)")], ["Objects done", c.objects_done],
    ["Objects skipped", c.objects_skipped], ["Objects failed", c.objects_failed],
    ["Bytes listed", human(c.bytes_listed)], ["Bytes done", human(c.bytes_done)],
    ["Rate", job.status === "running" && rate(id) >= 0 ? human(rate(id)) + "/s" : ""], ["ETA", eta(job)],
    ["Retries", c.retries], ["Throttled", c.throttled], ["Concurrency", c.concurrency],
  ];
  if (job.status === "running" && state.inFlight.has(id)) counters.push(["Requests in flight", state.inFlight.get(id)]);
  $("#job-counters").replaceChildren(...counters.map(([name, value]) => term(name, value)));
  const agents = state.agents.get(id) || [];
  $("#job-agents tbody").replaceChildren(...agents.map(([name, bytes]) => {
    const tr = document.createElement("tr");
    cell(tr, name); cell(tr, human(bytes));
    const key = id + "/" + name;
    cell(tr, rate(key) >= 0 ? human(rate(key)) + "/s" : "");
    return tr;
  }));
  renderSettings(job);
  drawChart(id);
}

/// The job's settings: every field of its spec that is set, by its name in the spec.
function renderSettings(job) {
  const rows = [];
  const walk = (value, path) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) walk(inner, path ? path + "." + key : key);
    } else if (value !== null && value !== undefined && !(Array.isArray(value) && value.length === 0)) {
      rows.push([path, Array.isArray(value) ? value.join(", ") : String(value)]);
    }
  };
  walk(job.spec, "");
  const settings = rows.filter(([name]) => name !== "version").map(([name, value]) => term(name, value));
  const again = document.createElement("div");
  again.appendChild(link("#/new/from/" + job.id, "Start a job like this"));
  $("#job-settings").replaceChildren(...settings, again);
}

/// The bytes the job copied over time: the page's samples while it runs, else its runs as
/// the catalogue recorded them (each from its start to its end).
function chartSeries(id) {
  const job = state.jobs.get(id), live = state.samples.get(id) || [];
  const runs = state.runs.get(id) || [];
  if ((job && job.status === "running") || runs.length === 0) return live;
  const series = [];
  let bytes = 0;
  for (const run of runs) {
    series.push({ t: Date.parse(run.started_at), bytes });
    bytes += run.bytes_copied;
    series.push({ t: run.finished_at ? Date.parse(run.finished_at) : Date.now(), bytes });
  }
  return series;
}

/// A time of day for the chart's axis.
const AXIS_TIME = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

function drawChart(id) {
  const canvas = $("#chart"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const list = chartSeries(id);
  const ink = getComputedStyle(canvas).color;
  ctx.fillStyle = ink; ctx.strokeStyle = ink; ctx.lineWidth = 1; ctx.font = "12px system-ui, sans-serif";
  if (list.length < 2) { ctx.fillText("No progress to draw yet.", 70, canvas.height / 2); return; }
  // The plot's box, inside room for the axes' labels.
  const left = 70, right = canvas.width - 10, top = 10, bottom = canvas.height - 40;
  const t0 = list[0].t, t1 = list[list.length - 1].t;
  const max = Math.max(1, ...list.map((s) => s.bytes));
  ctx.beginPath(); ctx.moveTo(left, top); ctx.lineTo(left, bottom); ctx.lineTo(right, bottom); ctx.stroke();
  ctx.textAlign = "right";
  ctx.fillText(human(max), left - 4, top + 10);
  ctx.fillText("0 B", left - 4, bottom);
  ctx.textAlign = "left";
  ctx.fillText(AXIS_TIME.format(new Date(t0)), left, bottom + 15);
  ctx.textAlign = "right";
  ctx.fillText(AXIS_TIME.format(new Date(t1)), right, bottom + 15);
  ctx.textAlign = "center";
  ctx.fillText("time", (left + right) / 2, bottom + 32);
  ctx.save(); ctx.translate(14, (top + bottom) / 2); ctx.rotate(-Math.PI / 2);
  ctx.fillText("bytes copied", 0, 0); ctx.restore();
  ctx.strokeStyle = "#0a6"; ctx.lineWidth = 2; ctx.beginPath();
  list.forEach((s, i) => {
    const x = left + (right - left) * (s.t - t0) / Math.max(1, t1 - t0);
    const y = bottom - (bottom - top) * s.bytes / max;
    i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
  });
  ctx.stroke();
}

// The job's runs (submit, resumes, retries), from `GET /jobs/{id}`.
async function loadRuns(id) {
  const job = await api("GET", "/api/v1/jobs/" + id);
  state.runs.set(id, job.runs || []);
  drawChart(id);
  $("#job-runs tbody").replaceChildren(...(job.runs || []).map((r) => {
    const tr = document.createElement("tr");
    cell(tr, String(r.number)); cell(tr, r.trigger);
    cell(tr, when(r.started_at));
    cell(tr, r.finished_at ? when(r.finished_at) : "");
    cell(tr, r.status || "running");
    cell(tr, String(r.objects_copied)); cell(tr, human(r.bytes_copied));
    return tr;
  }));
}

async function loadFailures(id) {
  const failures = await api("GET", "/api/v1/jobs/" + id + "/failures");
  $("#failures tbody").replaceChildren(...failures.map((f) => {
    const tr = document.createElement("tr");
    cell(tr, f.key); cell(tr, String(f.attempts)); cell(tr, f.error_class); cell(tr, f.message);
    return tr;
  }));
  $("#failure-actions").hidden = failures.length === 0;
  $("#failures-csv").href = "/api/v1/jobs/" + id + "/failures?format=csv";
  $("#failures-jsonl").href = "/api/v1/jobs/" + id + "/failures?format=jsonl";
}

function show(page) {
  for (const id of ["sign-in", "jobs-page", "job-page", "new-page", "schedules-page", "agents-page", "replications-page"]) {
    $("#" + id).hidden = id !== page;
  }
}

async function route() {
  if (!state.me) { show("sign-in"); return; }
  const hash = location.hash || "#/";
  const job = hash.match(/^#\/jobs\/([0-9a-f-]+)$/);
  const from = hash.match(/^#\/new\/from\/([0-9a-f-]+)$/);
  const edit = hash.match(/^#\/schedules\/([0-9a-f-]+)\/edit$/);
  const runs = hash.match(/^#\/runs\/([0-9a-f-]+)$/);
  if (job) {
    show("job-page");
    if (!state.jobs.has(job[1])) {
      try { state.jobs.set(job[1], await api("GET", "/api/v1/jobs/" + job[1])); } catch (e) { /* shown as missing */ }
    }
    renderJob(job[1]);
    loadFailures(job[1]).catch(() => {});
    loadRuns(job[1]).catch(() => {});
  } else if (hash === "#/new" || from) {
    show("new-page");
    showForm("job");
    if (from) showForm("job", (await api("GET", "/api/v1/jobs/" + from[1]).catch(() => ({}))).spec);
  } else if (hash === "#/new-schedule" || edit) {
    show("new-page");
    showForm("schedule");
    if (edit) showForm("schedule", null, await api("GET", "/api/v1/schedules/" + edit[1]).catch(() => null));
  } else if (hash === "#/schedules") {
    show("schedules-page");
    renderSchedules().catch((e) => alert(e.message));
  } else if (hash === "#/replications") {
    show("replications-page");
    renderReplications().catch((e) => alert(e.message));
  } else if (hash === "#/agents") {
    show("agents-page");
    renderAgents().catch((e) => alert(e.message));
  } else {
    show("jobs-page");
    state.schedule = runs ? runs[1] : null;
    renderJobs();
  }
}

function currentJob() {
  const job = (location.hash || "").match(/^#\/jobs\/([0-9a-f-]+)$/);
  return job ? job[1] : null;
}

function listen() {
  if (state.events) state.events.close();
  const events = new EventSource("/api/v1/events");
  state.events = events;
  events.addEventListener("open", () => { $("#live").textContent = "live"; });
  events.addEventListener("error", () => { $("#live").textContent = "reconnecting\u2026"; });
  events.addEventListener("job", (e) => {
    const job = JSON.parse(e.data);
    state.jobs.set(job.id, job);
    addSample(job.id, job.counters.bytes_done, job.counters.objects_done);
    refresh();
    if (currentJob() === job.id) {
      loadFailures(job.id).catch(() => {});
      loadRuns(job.id).catch(() => {});
    }
  });
  events.addEventListener("progress", (e) => {
    for (const p of JSON.parse(e.data)) {
      const job = state.jobs.get(p.id);
      if (!job) continue;
      job.counters = p.counters;
      addSample(p.id, p.counters.bytes_done, p.counters.objects_done);
      state.agents.set(p.id, p.agents);
      if (p.requests_in_flight === undefined) state.inFlight.delete(p.id);
      else state.inFlight.set(p.id, p.requests_in_flight);
      for (const [name, bytes] of p.agents) addSample(p.id + "/" + name, bytes);
    }
    refresh();
  });
  events.addEventListener("failure", (e) => {
    const failure = JSON.parse(e.data);
    if (currentJob() === failure.job) loadFailures(failure.job).catch(() => {});
  });
}

function refresh() {
  const id = currentJob();
  if (id) renderJob(id); else if (!$("#jobs-page").hidden) renderJobs();
}

/// The agents page, read again every few seconds while shown.
setInterval(() => { if (!$("#agents-page").hidden) renderAgents().catch(() => {}); }, 3000);

async function start() {
  try {
    state.me = await api("GET", "/api/v1/session");
  } catch (e) {
    state.me = null;
  }
  $("#nav").hidden = !state.me;
  if (state.me) {
    $("#who").textContent = state.me.user + (state.me.admin ? " (admin)" : "");
    const jobs = await api("GET", "/api/v1/jobs");
    state.jobs = new Map(jobs.map((j) => [j.id, j]));
    for (const j of jobs) addSample(j.id, j.counters.bytes_done, j.counters.objects_done);
    listen();
  }
  route();
}

$("#sign-in-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", "/api/v1/session", { token: $("#token").value });
    $("#token").value = "";
    $("#sign-in-error").textContent = "";
    start();
  } catch (err) {
    $("#sign-in-error").textContent = err.status === 401 ? "That token is not known to this service." : err.message;
  }
});

$("#sign-out").addEventListener("click", async () => {
  await api("DELETE", "/api/v1/session").catch(() => {});
  if (state.events) state.events.close();
  state.me = null;
  state.jobs.clear();
  $("#nav").hidden = true;
  route();
});

for (const button of document.querySelectorAll("#job-page button[data-action]")) {
  button.addEventListener("click", async () => {
    const id = currentJob();
    const policy = $("#retry-name-policy").value;
    const options = button.dataset.action === "retry" && policy ? { name_policy: policy } : undefined;
    if (button.dataset.action === "cancel"
      && !confirm("Cancel job " + id + "? What it copied stays; it cannot be resumed.")) return;
    const error = $("#job-action-error");
    error.textContent = "";
    button.disabled = true;
    try {
      const job = await api("POST", "/api/v1/jobs/" + id + "/" + button.dataset.action, options);
      state.jobs.set(job.id, job);
      renderJob(job.id);
      loadFailures(job.id).catch(() => {});
    } catch (err) {
      error.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
}

window.addEventListener("hashchange", route);
for (const [id, event] of [["#job-search", "input"], ["#job-status-filter", "change"]]) {
  $(id).addEventListener(event, () => { state.page = 0; renderJobs(); });
}
$("#prev-page").addEventListener("click", () => { state.page -= 1; renderJobs(); });
$("#next-page").addEventListener("click", () => { state.page += 1; renderJobs(); });
setInterval(refresh, 1000);
// After every script of the page has run (the forms and the schedules are in scripts of their own).
window.addEventListener("DOMContentLoaded", start);
