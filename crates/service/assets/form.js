// The job form: a new job, a new schedule, or a schedule's edit. It builds a job spec as
// `POST /api/v1/jobs` takes it and checks nothing of its own: the service's answer (the
// same checks as the API's, naming the field) is shown as it comes.
"use strict";

const form = $("#job-form");
const field = (name) => form.elements[name];

/// What the form is for: { kind: "job" | "schedule", schedule: (the one edited) }.
let formFor = { kind: "job", schedule: null };

/// The lines of a text area, blank ones left out.
function linesOf(name) {
  return field(name).value.split("\n").map((line) => line.trim()).filter(Boolean);
}

/// A number field's value, or undefined when empty (the spec's default then holds).
function numberOf(name) {
  const text = field(name).value.trim();
  return text === "" ? undefined : Number(text);
}

/// A local date and time field as an RFC 3339 time, or undefined.
function timeOf(name) {
  const text = field(name).value;
  return text ? new Date(text).toISOString() : undefined;
}

/// An RFC 3339 time as a local date and time field's value.
function localTime(text) {
  if (!text) return "";
  const at = new Date(text);
  return new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

/// The encryption the form names, as a spec's `encryption`.
function encryptionOf() {
  const kind = field("encryption").value, ref = field("encryption_ref").value.trim() || undefined;
  switch (kind) {
    case "": return undefined;
    case "sse-kms": return { kind, key_id: ref };
    case "sse-c": case "cpk": return { kind, key_name: ref };
    case "scope": return { kind, name: ref };
    default: return { kind };
  }
}

/// The job spec the form describes.
function specOfForm() {
  const concurrency = field("concurrency").value.trim();
  const text = (name) => field(name).value.trim() || undefined;
  return {
    version: 1,
    mode: field("mode").value,
    source: field("source").value.trim(),
    dest: field("dest").value.trim(),
    recursive: field("recursive").checked,
    delete: field("delete").checked,
    name: text("name"),
    filters: {
      include: linesOf("include"), exclude: linesOf("exclude"),
      include_regex: linesOf("include_regex"), exclude_regex: linesOf("exclude_regex"),
      modified_since: timeOf("modified_since"), modified_before: timeOf("modified_before"),
      min_size: numberOf("min_size"), max_size: numberOf("max_size"),
    },
    sizes: { block_size: numberOf("block_size"), copy_cutoff: numberOf("copy_cutoff"), get_cutoff: numberOf("get_cutoff") },
    tuning: {
      concurrency: concurrency === "" || concurrency === "auto" ? "auto" : Number(concurrency),
      max_rps: numberOf("max_rps"), bandwidth: numberOf("bandwidth"), max_memory: numberOf("max_memory"),
      retries: numberOf("retries"), list_parallelism: numberOf("list_parallelism"), agents: numberOf("agents"),
    },
    overwrite: text("overwrite"),
    name_policy: field("name_policy").value,
    encryption: encryptionOf(),
  };
}

/// Sets the form to `spec` (a job's or a schedule's template).
function fillForm(spec) {
  form.reset();
  const filters = spec.filters || {}, tuning = spec.tuning || {}, sizes = spec.sizes || {};
  const set = (name, value) => { field(name).value = value === undefined || value === null ? "" : String(value); };
  for (const name of ["mode", "source", "dest", "name"]) set(name, spec[name]);
  field("recursive").checked = !!spec.recursive;
  field("delete").checked = !!spec.delete;
  for (const name of ["include", "exclude", "include_regex", "exclude_regex"]) set(name, (filters[name] || []).join("\n"));
  set("modified_since", localTime(filters.modified_since));
  set("modified_before", localTime(filters.modified_before));
  for (const name of ["min_size", "max_size"]) set(name, filters[name]);
  for (const name of ["max_rps", "bandwidth", "max_memory", "retries", "list_parallelism", "agents", "concurrency"]) set(name, tuning[name]);
  for (const name of ["block_size", "copy_cutoff", "get_cutoff"]) set(name, sizes[name]);
  set("overwrite", spec.overwrite || "");
  set("name_policy", spec.name_policy || "map");
  const encryption = spec.encryption || {};
  set("encryption", encryption.kind || "");
  set("encryption_ref", encryption.key_id || encryption.key_name || encryption.name || "");
}

/// Seconds as the period a schedule takes (`90m`, `6h`, `1d`): the largest unit that divides them.
function period(seconds) {
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (seconds % size === 0) return seconds / size + unit;
  }
  return seconds + "s";
}

/// Shows the form for `kind`: a new job (from `spec` if given), a new schedule, or the
/// edit of `schedule`.
function showForm(kind, spec, schedule) {
  formFor = { kind, schedule: schedule || null };
  if (schedule) spec = schedule.template;
  if (spec) fillForm(spec); else form.reset();
  $("#form-title").textContent = schedule ? "Schedule " + (schedule.name || schedule.id)
    : kind === "schedule" ? "New schedule" : "New job";
  $("#start-job").hidden = kind !== "job";
  $("#save-schedule").textContent = schedule ? "Save the schedule" : "Save as a schedule";
  if (schedule) {
    field("every").value = schedule.every_secs ? period(schedule.every_secs) : "";
    field("cron").value = schedule.cron || "";
    field("schedule_name").value = schedule.name || "";
  }
  // A schedule's first watermark cannot change.
  field("schedule_since").disabled = !!schedule;
  $("#form-error").textContent = "";
  $("#estimate-result").replaceChildren();
}

/// Runs `action`, showing its error under the form.
async function withFormError(action) {
  $("#form-error").textContent = "";
  try { await action(); } catch (err) { $("#form-error").textContent = err.message; }
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  withFormError(async () => {
    const job = await api("POST", "/api/v1/jobs", specOfForm());
    state.jobs.set(job.id, job);
    location.hash = "#/jobs/" + job.id;
  });
});

$("#save-schedule").addEventListener("click", () => withFormError(async () => {
  const every = field("every").value.trim(), cron = field("cron").value.trim();
  const input = {
    name: field("schedule_name").value.trim() || undefined,
    template: specOfForm(),
    every: every || undefined,
    cron: cron || undefined,
  };
  if (formFor.schedule) {
    await api("PATCH", "/api/v1/schedules/" + formFor.schedule.id, input);
  } else {
    input.modified_since = timeOf("schedule_since");
    await api("POST", "/api/v1/schedules", input);
  }
  location.hash = "#/schedules";
}));

$("#estimate").addEventListener("click", () => withFormError(async () => {
  const result = $("#estimate-result");
  result.textContent = "Listing the source\u2026";
  try {
    const preview = await api("POST", "/api/v1/estimate", {
      spec: specOfForm(),
      source_region: field("source_region").value.trim() || undefined,
      dest_region: field("dest_region").value.trim() || undefined,
    });
    showEstimate(preview);
  } catch (err) {
    result.textContent = "";
    throw err;
  }
}));

/// The estimate as a table: what is counted, each charge, the total and the assumptions.
function showEstimate(preview) {
  const e = preview.estimate;
  const counted = document.createElement("p");
  counted.textContent = preview.objects + " objects, " + human(preview.bytes)
    + (preview.filtered_out ? " (" + preview.filtered_out + " more left out by the filters)" : "")
    + (preview.complete ? "" : " \u2014 the first ones only: the source holds more, so the job costs more");
  const table = document.createElement("table");
  table.id = "estimate-lines";
  const rows = e.lines.map((line) => {
    const tr = document.createElement("tr");
    cell(tr, line.item);
    cell(tr, line.quantity.toLocaleString(undefined, { maximumFractionDigits: 3 }) + " " + line.unit);
    cell(tr, money(line.cost, e.currency));
    tr.title = line.source;
    return tr;
  });
  const total = document.createElement("tr");
  cell(total, "Total"); cell(total, ""); cell(total, money(e.total, e.currency)).id = "estimate-total";
  table.replaceChildren(...rows, total);
  const notes = document.createElement("ul");
  notes.replaceChildren(...listItems(e.notes));
  const asOf = document.createElement("p");
  asOf.className = "muted";
  asOf.textContent = "List prices as of " + e.prices_as_of + "; discounts of your account are not known here. Prices from:";
  const sources = document.createElement("ul");
  sources.className = "muted";
  sources.replaceChildren(...listItems([...new Set(e.lines.map((line) => line.source))]));
  $("#estimate-result").replaceChildren(counted, table, notes, asOf, sources);
}

function money(amount, currency) {
  return amount.toLocaleString(undefined, { style: "currency", currency, maximumFractionDigits: 4 });
}
