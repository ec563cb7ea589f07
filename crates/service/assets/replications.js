// The replications page: each replication's state, events, lag and queue depth, live (read
// again every two seconds while the page shows), with pause, resume and delete.
"use strict";

/// `pairs` of (what, how many) as "N what" lines into `td`, each number in a span of its class.
function counts(td, pairs) {
  for (const [what, n] of pairs) {
    const line = document.createElement("div");
    const number = document.createElement("span");
    number.className = what;
    number.textContent = String(n);
    line.append(number, " " + what);
    td.appendChild(line);
  }
}

async function renderReplications() {
  const replications = await api("GET", "/api/v1/replications");
  $("#no-replications").hidden = replications.length > 0;
  $("#replications tbody").replaceChildren(...replications.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.id = r.id;
    cell(tr, r.name || r.id.slice(0, 8));
    // Beside the name: a wide row scrolls, and its buttons stay in sight.
    const actions = cell(tr, "", "actions");
    rowButton(actions, r.enabled ? "Pause" : "Resume", async () => {
      await api("PATCH", "/api/v1/replications/" + r.id, { enabled: !r.enabled });
      renderReplications();
    });
    rowButton(actions, "Delete", async () => {
      if (!confirm("Delete replication " + (r.name || r.id) + " and its reconcile schedule?")) return;
      await api("DELETE", "/api/v1/replications/" + r.id);
      renderReplications();
    });
    if (r.schedule) actions.appendChild(link("#/runs/" + r.schedule, "Reconcile runs"));
    cell(tr, r.user);
    cell(tr, r.source + " \u2192 " + r.dest, "route");
    cell(tr, r.queue);
    const stateCell = cell(tr, r.error ? r.state + ": " + r.error : r.state,
      "state status-" + (r.state === "running" ? "running" : r.state === "failing" ? "failed" : "paused"));
    if (r.error) stateCell.title = r.error;
    cell(tr, r.deletions ? "on" : "off");
    const events = cell(tr, "", "events");
    counts(events, [["received", r.events.received], ["applied", r.events.applied],
      ["ignored", r.events.ignored], ["failed", r.events.failed]]);
    const objects = cell(tr, "", "objects");
    counts(objects, [["copied", r.objects_copied], ["deleted", r.objects_deleted]]);
    objects.append(" (" + human(r.bytes_copied) + ")");
    cell(tr, r.lag_seconds.toFixed(1) + " s", "lag");
    cell(tr, r.queue_depth === null || r.queue_depth === undefined ? "" : String(r.queue_depth));
    cell(tr, r.last_applied_at ? when(r.last_applied_at) : "not yet");
    return tr;
  }));
}

setInterval(() => { if (!$("#replications-page").hidden) renderReplications().catch(() => {}); }, 2000);
