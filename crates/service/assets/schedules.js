// The schedules page (on/off, run now, edit, delete, last run, their runs) and the agents page.
"use strict";

/// A button in `row`'s last cell doing `action`, its error shown in an alert.
function rowButton(td, text, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = text;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try { await action(); } catch (err) { alert(err.message); } finally { button.disabled = false; }
  });
  td.appendChild(button);
  return button;
}

async function renderSchedules() {
  const schedules = await api("GET", "/api/v1/schedules");
  $("#no-schedules").hidden = schedules.length > 0;
  $("#schedules tbody").replaceChildren(...schedules.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.id = s.id;
    cell(tr, s.name || s.id.slice(0, 8));
    cell(tr, s.user);
    cell(tr, (s.template.source || "") + " \u2192 " + (s.template.dest || ""), "route");
    cell(tr, s.cron ? "cron " + s.cron : "every " + duration(s.every_secs));
    const toggle = document.createElement("input");
    toggle.type = "checkbox";
    toggle.checked = s.enabled;
    toggle.setAttribute("aria-label", "on");
    toggle.addEventListener("change", async () => {
      try { await api("PATCH", "/api/v1/schedules/" + s.id, { enabled: toggle.checked }); }
      catch (e) { alert(e.message); }
      renderSchedules();
    });
    cell(tr, "").appendChild(toggle);
    cell(tr, s.enabled && s.next_run ? when(s.next_run) : "");
    const last = cell(tr, "", s.last_run ? "status status-" + s.last_run.status : "");
    if (s.last_run) {
      last.appendChild(link("#/jobs/" + s.last_run.job, s.last_run.status));
      if (s.last_run.error) last.title = s.last_run.error;
    } else {
      last.textContent = "not yet";
    }
    const from = s.watermark || s.modified_since;
    cell(tr, from ? when(from) : "the beginning");
    cell(tr, String(s.failures_in_a_row));
    cell(tr, s.disabled_reason || "");
    const actions = cell(tr, "", "actions");
    rowButton(actions, "Run now", async () => {
      const job = await api("POST", "/api/v1/schedules/" + s.id + "/run");
      state.jobs.set(job.id, job);
      location.hash = "#/jobs/" + job.id;
    });
    rowButton(actions, "Edit", async () => { location.hash = "#/schedules/" + s.id + "/edit"; });
    rowButton(actions, "Delete", async () => {
      if (!confirm("Delete schedule " + (s.name || s.id) + "? Its runs stay as jobs.")) return;
      await api("DELETE", "/api/v1/schedules/" + s.id);
      renderSchedules();
    });
    actions.appendChild(link("#/runs/" + s.id, "Runs"));
    return tr;
  }));
}

async function renderAgents() {
  const agents = await api("GET", "/api/v1/agents");
  $("#agents tbody").replaceChildren(...agents.map((a) => {
    const tr = document.createElement("tr");
    cell(tr, a.name); cell(tr, a.host || "this service"); cell(tr, a.version || "");
    cell(tr, String(a.in_flight)); cell(tr, String(a.items_held)); cell(tr, String(a.items_done)); cell(tr, String(a.items_failed));
    cell(tr, human(a.bytes)); cell(tr, a.bytes_per_sec === null || a.bytes_per_sec === undefined ? "" : human(a.bytes_per_sec) + "/s");
    cell(tr, a.rejected === null || a.rejected === undefined ? "" : String(a.rejected));
    cell(tr, a.lost ? "lost: no heartbeat, its items go to others" : "ok", a.lost ? "status-failed" : "status-running");
    return tr;
  }));
}
