//! `GET /metrics`: Prometheus text, read from the service's counters when scraped (runs that
//! ended plus the live ones, the agents, the queue). No user data: counts only.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;

use crate::service::Service;

/// Reads one counter of an agent.
type AgentCounter = fn(&crate::wire::AgentView) -> u64;

/// Reads one counter of a replication.
type ReplicationCounter = fn(&crate::wire::ReplicationView) -> i64;

/// `text` as a label value the exposition format reads back whole: `\`, `"` and line
/// breaks escaped, other control characters as `?` (prometheus-client writes label values
/// as they are).
fn label(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c if c.is_control() => escaped.push('?'),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A counter holding `value`.
fn counter(value: u64) -> Counter {
    let counter = Counter::default();
    counter.inc_by(value);
    counter
}

/// A gauge holding `value`.
fn gauge(value: u64) -> Gauge {
    let gauge = Gauge::default();
    gauge.set(value as i64);
    gauge
}

/// The metrics, as Prometheus scrapes them (counts only: no user data, no token needed).
#[utoipa::path(get, path = "/metrics", tag = "service", security(()),
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
pub async fn render(State(service): State<Arc<Service>>) -> impl IntoResponse {
    let all = service.totals() + service.live_totals();
    let mut registry = Registry::with_prefix("awcopy");
    let counters = [
        ("objects_copied", "Objects copied", all.objects_done),
        ("bytes_copied", "Bytes copied", all.bytes_done),
        ("objects_failed", "Objects that failed", all.objects_failed),
        ("retries", "Requests retried", all.retries),
        (
            "throttled",
            "Requests the services asked to slow down",
            all.throttled,
        ),
    ];
    let rejected = (
        "nats_rejected",
        "NATS messages (outcomes, heartbeats) dropped for a missing or wrong seal, a subject that does not match, or their age",
        service.rejected_messages(),
    );
    for (name, help, value) in counters.into_iter().chain([rejected]) {
        registry.register(name, help, counter(value));
    }
    let agents = service.agent_views();
    registry.register(
        "jobs_running",
        "Jobs this service runs now",
        gauge(service.live_count() as u64),
    );
    registry.register(
        "queue_depth",
        "Work items waiting for an agent",
        gauge(service.queue_depth()),
    );
    registry.register(
        "in_flight",
        "Requests agents have sent to the stores and not yet had answered",
        gauge(agents.iter().map(|a| a.in_flight).sum()),
    );
    let per_agent: [(&str, &str, AgentCounter); 4] = [
        ("agent_items", "Work items an agent finished", |a| {
            a.items_done
        }),
        (
            "agent_items_failed",
            "Work items that failed on an agent",
            |a| a.items_failed,
        ),
        ("agent_bytes", "Bytes an agent moved or had copied", |a| {
            a.bytes
        }),
        (
            "agent_rejected",
            "Messages an agent dropped for a missing or wrong seal",
            |a| a.rejected.unwrap_or(0),
        ),
    ];
    for (name, help, read) in per_agent {
        let family = Family::<Vec<(String, String)>, Counter>::default();
        for agent in &agents {
            family
                .get_or_create(&vec![("agent".to_owned(), label(&agent.name))])
                .inc_by(read(agent));
        }
        registry.register(name, help, family);
    }
    let per_agent_now: [(&str, &str, AgentCounter); 2] = [
        (
            "agent_in_flight",
            "Requests an agent has sent to the stores and not yet had answered",
            |a| a.in_flight,
        ),
        (
            "agent_items_held",
            "Work items given to an agent and not yet answered",
            |a| a.items_held,
        ),
    ];
    for (name, help, read) in per_agent_now {
        let family = Family::<Vec<(String, String)>, Gauge>::default();
        for agent in &agents {
            family
                .get_or_create(&vec![("agent".to_owned(), label(&agent.name))])
                .set(read(agent) as i64);
        }
        registry.register(name, help, family);
    }
    register_replications(&mut registry, &service).await;
    let mut text = String::new();
    encode(&mut text, &registry).expect("metrics encode into a string");
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

/// Each replication's events, objects, lag and queue depth, labelled by its id (a catalogue
/// that cannot be read leaves them out: the rest of the metrics still answer).
async fn register_replications(registry: &mut Registry, service: &Service) {
    let Ok(all) = service.catalog().replications(None).await else {
        return;
    };
    let views: Vec<_> = all
        .into_iter()
        .map(|r| service.replication_view(r))
        .collect();
    let of = |id: &str| vec![("replication".to_owned(), label(id))];
    let events = Family::<Vec<(String, String)>, Counter>::default();
    for view in &views {
        let counts = view.events;
        for (outcome, n) in [
            ("received", counts.received),
            ("applied", counts.applied),
            ("ignored", counts.ignored),
            ("failed", counts.failed),
        ] {
            let mut labels = of(&view.id);
            labels.push(("outcome".to_owned(), outcome.to_owned()));
            events.get_or_create(&labels).inc_by(n.max(0) as u64);
        }
    }
    registry.register(
        "replication_events",
        "Change events a replication took from its queue, by what became of them (received = applied + ignored + failed)",
        events,
    );
    let objects: [(&str, &str, ReplicationCounter); 2] = [
        (
            "replication_objects_copied",
            "Objects a replication copied",
            |v| v.objects_copied,
        ),
        (
            "replication_objects_deleted",
            "Destination objects a replication deleted",
            |v| v.objects_deleted,
        ),
    ];
    for (name, help, read) in objects {
        let family = Family::<Vec<(String, String)>, Counter>::default();
        for view in &views {
            family
                .get_or_create(&of(&view.id))
                .inc_by(read(view).max(0) as u64);
        }
        registry.register(name, help, family);
    }
    let lag = Family::<Vec<(String, String)>, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let depth = Family::<Vec<(String, String)>, Gauge>::default();
    for view in &views {
        lag.get_or_create(&of(&view.id)).set(view.lag_seconds);
        if let Some(d) = view.queue_depth {
            depth.get_or_create(&of(&view.id)).set(d);
        }
    }
    registry.register(
        "replication_lag_seconds",
        "Seconds since the oldest change a replication took and has not applied happened (0: none waits)",
        lag,
    );
    registry.register(
        "replication_queue_depth",
        "About how many messages wait in a replication's queue",
        depth,
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_cannot_end_their_line_or_quote() {
        assert_eq!(super::label("agent-1"), "agent-1");
        assert_eq!(
            super::label("a\"} 1\nevil{x=\"\\"),
            "a\\\"} 1\\nevil{x=\\\"\\\\"
        );
        assert_eq!(super::label("a\u{1b}b"), "a?b");
    }
}
