//! The API's OpenAPI document (`/api/v1/openapi.json`): served without a token, every
//! reference in it resolves, every route it lists answers as it says (no route of the router
//! missing from it: the router is built from it), and every example in it is accepted.

use crate::harness::{self as svc, Service, ADMIN, ALICE};
use awcopy_testkit as kit;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route_and_its_examples_are_accepted() {
    // The examples name s3://example-raw/, az://examplestore/archive/ and the SQS queue
    // example-raw-events: granted here, the bucket and the queue made, the Azure account
    // reached at an address where nothing listens (a job from them is admitted, then fails
    // to write).
    let raw = awcopy_store::Location::parse("s3://example-raw/").unwrap();
    let _ = kit::open(&raw).await.create_root().await;
    kit::change_events::sqs()
        .await
        .create_queue()
        .queue_name("example-raw-events")
        .send()
        .await
        .expect("the example's queue");
    let (_guard, dir) = svc::service_dir();
    let read = vec!["s3://example-raw/".to_owned()];
    let write = vec!["az://examplestore/archive/".to_owned()];
    let unreachable =
        "[[azure]]\naccount = \"examplestore\"\nendpoint = \"https://127.0.0.1:9/examplestore\"\n\n";
    let queues = vec!["example-raw-events".to_owned()];
    svc::write_replication_config(&dir, &read, &write, &queues, unreachable);
    let service = svc::start(&dir, 2);

    let (status, document) = service
        .call("GET", "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, 200, "served without a token: {document}");
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{document}"
    );
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    every_reference_resolves(&document, &document);

    let operations = operations(&document);
    let listed: Vec<String> = operations
        .iter()
        .map(|o| format!("{} {}", o.method, o.path))
        .collect();
    for route in [
        "post /api/v1/jobs",
        "post /api/v1/estimate",
        "get /api/v1/jobs/{id}/failures",
        "post /api/v1/jobs/{id}/{action}",
        "post /api/v1/schedules/{id}/run",
        "post /api/v1/replications",
        "get /api/v1/replications/{id}/failures",
        "get /api/v1/events",
        "get /api/v1/openapi.json",
        "get /metrics",
    ] {
        assert!(
            listed.contains(&route.to_owned()),
            "{route} is in it: {listed:?}"
        );
    }
    let ids = examples_are_accepted(&service, &document, &operations).await;
    every_route_answers_as_it_says(&service, &operations, &ids).await;
}

/// One operation of the document.
#[derive(Debug)]
struct Operation {
    method: String,
    path: String,
    spec: Value,
}

impl Operation {
    /// The statuses it documents.
    fn statuses(&self) -> Vec<u16> {
        let responses = self.spec["responses"].as_object().unwrap();
        responses.keys().map(|s| s.parse().unwrap()).collect()
    }

    /// Its path with `{id}` and `{action}` filled in.
    fn path_with(&self, ids: &Ids) -> String {
        let id = if self.path.starts_with("/api/v1/schedules") {
            &ids.schedule
        } else if self.path.starts_with("/api/v1/replications") {
            &ids.replication
        } else {
            &ids.job
        };
        self.path.replace("{id}", id).replace("{action}", "pause")
    }
}

/// Ids of what the examples made.
struct Ids {
    job: String,
    schedule: String,
    replication: String,
}

/// Every operation, deletes last (they remove what the others use).
fn operations(document: &Value) -> Vec<Operation> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, spec) in item.as_object().unwrap() {
            all.push(Operation {
                method: method.clone(),
                path: path.clone(),
                spec: spec.clone(),
            });
        }
    }
    all.sort_by_key(|o| o.method == "delete");
    all
}

/// Fails on a `$ref` that names no part of `document`.
fn every_reference_resolves(document: &Value, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let pointer = target.strip_prefix('#').expect("a local reference");
                assert!(document.pointer(pointer).is_some(), "{target} resolves");
            }
            map.values()
                .for_each(|v| every_reference_resolves(document, v));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| every_reference_resolves(document, v)),
        _ => {}
    }
}

/// The example of an operation's JSON request body (its schema's, through a reference).
fn request_example(document: &Value, operation: &Operation) -> Option<Value> {
    let mut schema = operation.spec["requestBody"]["content"]["application/json"]["schema"].clone();
    if let Some(target) = schema["$ref"].as_str() {
        schema = document.pointer(&target[1..]).unwrap().clone();
    }
    schema
        .get("examples")
        .and_then(|e| e.get(0))
        .or_else(|| schema.get("example"))
        .cloned()
}

/// Sends each operation's request example: each is taken (a status the operation documents,
/// not a 400 or 422 about its body); the job and schedule they made are returned.
async fn examples_are_accepted(
    service: &Service,
    document: &Value,
    operations: &[Operation],
) -> Ids {
    let mut ids = Ids {
        job: String::new(),
        schedule: String::new(),
        replication: String::new(),
    };
    let mut sent = 0;
    // What makes things first, so that the others have ids to name.
    let mut ordered: Vec<&Operation> = operations.iter().collect();
    ordered.sort_by_key(|o| o.path.contains('{'));
    for operation in ordered {
        let Some(example) = request_example(document, operation) else {
            continue;
        };
        let path = operation.path_with(&ids);
        let method = operation.method.to_uppercase();
        let (status, answer) = service
            .call(&method, &path, Some(ALICE), Some(example.to_string()))
            .await;
        assert!(
            operation.statuses().contains(&status) && status != 400 && status != 422,
            "{method} {path} with its example {example}: {status} {answer}"
        );
        match (method.as_str(), path.as_str()) {
            ("POST", "/api/v1/jobs") => ids.job = answer["id"].as_str().unwrap().to_owned(),
            ("POST", "/api/v1/schedules") => {
                ids.schedule = answer["id"].as_str().unwrap().to_owned()
            }
            ("POST", "/api/v1/replications") => {
                ids.replication = answer["id"].as_str().unwrap().to_owned()
            }
            _ => {}
        }
        sent += 1;
    }
    assert!(sent >= 5, "the request bodies have examples: {sent}");
    assert!(!ids.job.is_empty() && !ids.schedule.is_empty() && !ids.replication.is_empty());
    ids
}

/// Calls every operation as the admin: none falls through to the dashboard or is refused its
/// method, and each answers with a status it documents.
async fn every_route_answers_as_it_says(service: &Service, operations: &[Operation], ids: &Ids) {
    for operation in operations {
        let path = operation.path_with(ids);
        let method = operation.method.to_uppercase();
        let body = (method != "GET" && method != "DELETE").then(|| "{}".to_owned());
        let status = match path.as_str() {
            // A stream that does not end: its status is enough.
            "/api/v1/events" => {
                let response = reqwest::Client::new()
                    .get(format!("{}{path}", service.url))
                    .bearer_auth(ADMIN)
                    .send()
                    .await
                    .unwrap();
                response.status().as_u16()
            }
            _ => {
                let (status, answer) = service.call(&method, &path, Some(ADMIN), body).await;
                let fell_through = answer["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("no API route"));
                assert!(
                    !fell_through && status != 405,
                    "{method} {path}: {status} {answer}"
                );
                status
            }
        };
        assert!(
            operation.statuses().contains(&status),
            "{method} {path} answered {status}, which it does not document: {:?}",
            operation.statuses()
        );
    }
}
