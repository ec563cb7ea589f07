//! `awcopy ls` as a user runs it: a child process against the emulators (started by
//! scripts/test.sh) and local directories. Counts, bytes and JSON are checked against what the
//! test wrote; bad input must give one clear line, a documented exit code and no secret.

use crate::common::{assert_fails, awcopy, awcopy_with_env, stderr, stdout};
use awcopy_store::{Location, ObjectAttributes, Store};
use awcopy_testkit as kit;

use serde_json::Value;
use std::process::Output;
use std::sync::Arc;

/// Objects of these sizes under `data/`, one level deeper under `data/sub/`, and one outside.
const SIZES: [usize; 6] = [0, 1, 1023, 4096, 70_000, 2_000_000];

async fn fill(store: &Arc<dyn Store>) -> (Vec<String>, u64) {
    let mut keys = Vec::new();
    for (i, size) in SIZES.iter().enumerate() {
        let key = if i % 2 == 0 {
            format!("data/f{i}.bin")
        } else {
            format!("data/sub/f{i}.bin")
        };
        store
            .put(
                &key,
                kit::pattern(*size, i as u64).into(),
                &ObjectAttributes::default(),
                None,
            )
            .await
            .expect("put");
        keys.push(key);
    }
    store
        .put(
            "outside.txt",
            "x".into(),
            &ObjectAttributes::default(),
            None,
        )
        .await
        .unwrap();
    keys.sort();
    (keys, SIZES.iter().sum::<usize>() as u64)
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// `ls -r --json` and text `ls -r` report exactly the objects and bytes written.
/// Keys are shown relative to the bucket or container, and to the directory for local paths.
async fn check_listing(location: &str) {
    let parsed = Location::parse(location).unwrap();
    let store = kit::open(&parsed).await;
    let (mut keys, bytes) = fill(&store).await;
    let prefix = format!("{location}data/");
    let shown_prefix = match parsed.provider() {
        awcopy_store::Provider::Local => "",
        _ => "data/",
    };
    for key in &mut keys {
        *key = format!("{shown_prefix}{}", key.strip_prefix("data/").unwrap());
    }

    let output = awcopy(&["ls", "-r", "--json", &prefix]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines = json_lines(&output);
    let listed: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "object")
        .map(|l| l["key"].as_str().unwrap())
        .collect();
    assert_eq!(listed, keys);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["objects"], SIZES.len() as u64);
    assert_eq!(summary["bytes"], bytes);
    let histogram: u64 = summary["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["objects"].as_u64().unwrap())
        .sum();
    assert_eq!(histogram, SIZES.len() as u64);

    let output = awcopy(&["ls", "-r", &prefix]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains(&format!("Total: {} objects", SIZES.len()))
            && text.contains(&format!("({bytes} bytes)")),
        "{text}"
    );

    // Without -r: the first level only, with the sub-directory as a prefix.
    let output = awcopy(&["ls", "--json", &prefix]);
    let lines = json_lines(&output);
    let prefixes: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "prefix")
        .map(|l| l["prefix"].as_str().unwrap())
        .collect();
    assert_eq!(prefixes, [format!("{shown_prefix}sub/")]);
    assert_eq!(lines.last().unwrap()["objects"], 3);
}

#[tokio::test]
async fn ls_counts_objects_and_bytes_on_s3() {
    let location = kit::new_s3_bucket("ls").await;
    check_listing(&location.to_string()).await;
}

#[tokio::test]
async fn ls_counts_objects_and_bytes_on_azure() {
    let location = kit::new_azure_container("ls").await;
    check_listing(&location.to_string()).await;
    // The emulator URL form names the same container.
    let Location::Azure { container, .. } = &location else {
        unreachable!()
    };
    let url = format!("{}/{container}/data/", kit::azure_endpoint());
    let output = awcopy(&["ls", "-r", "--json", &url]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        json_lines(&output).last().unwrap()["objects"],
        SIZES.len() as u64
    );
}

/// `ls -r --list-parallelism 8` lists key ranges at once: every key exactly once, on S3 and
/// Azure, keys whose UTF-8 and UTF-16 orders differ and the naughty list included, over more
/// than a page so that ranges are cut; one range (the default) shows them in the store's
/// order. The summary and the estimate count them all either way.
#[tokio::test]
async fn ls_in_parallel_ranges_shows_every_key_once() {
    for location in [
        kit::new_s3_bucket("ls-ranges").await,
        kit::new_azure_container("ls-ranges").await,
    ] {
        let store = kit::open(&location).await;
        let wanted = kit::order_sensitive_keys(2_400)
            .into_iter()
            .map(|key| (key, b"x".to_vec()))
            .collect();
        let held: Vec<String> = kit::put_what_fits(&store, &store, wanted)
            .await
            .into_keys()
            .collect();
        let url = kit::location_text(&location);
        let listed = |output: &Output| -> Vec<String> {
            assert!(output.status.success(), "{}", stderr(output));
            let lines = json_lines(output);
            let summary = lines.last().unwrap();
            assert_eq!(summary["objects"], held.len() as u64, "{location}");
            lines
                .iter()
                .filter(|l| l["type"] == "object")
                .map(|l| l["key"].as_str().unwrap().to_owned())
                .collect()
        };

        let mut in_ranges = listed(&awcopy(&[
            "ls",
            "-r",
            "--json",
            "--list-parallelism",
            "8",
            &url,
        ]));
        in_ranges.sort();
        assert_eq!(in_ranges, held, "{location}: every key once");

        let in_order = listed(&awcopy(&["ls", "-r", "--json", &url]));
        let order = store.capabilities().key_order;
        let mut expected = held.clone();
        expected.sort_by(|a, b| order.compare(a, b));
        assert_eq!(in_order, expected, "{location}: one range, in key order");

        let priced = awcopy(&[
            "ls",
            "--estimate",
            "--json",
            "--list-parallelism",
            "4",
            &url,
        ]);
        assert!(priced.status.success(), "{}", stderr(&priced));
        let summary = json_lines(&priced).pop().unwrap();
        assert_eq!(summary["estimate"]["objects"], held.len() as u64);
    }
}

#[tokio::test]
async fn ls_counts_objects_and_bytes_on_local_disk() {
    let dir = tempfile::tempdir().unwrap();
    let root = format!("{}/", dir.path().display());
    check_listing(&root).await;
}

/// Azure to local, priced: one GET per object up to the get cutoff (local files are written
/// as the bytes arrive; none for empty objects); egress is every byte at the internet rate.
#[tokio::test]
async fn ls_estimate_prices_the_listing() {
    let location = kit::new_azure_container("est").await;
    let store = kit::open(&location).await;
    let (_, bytes) = fill(&store).await;
    let dest = tempfile::tempdir().unwrap();
    let prefix = format!("{location}data/");
    let output = awcopy(&[
        "ls",
        "--estimate",
        "--json",
        "--block-size",
        "1MiB",
        "--source-region",
        "westeurope",
        &prefix,
        "--to",
        dest.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = json_lines(&output).pop().unwrap();
    let estimate = &summary["estimate"];
    assert_eq!(estimate["objects"], SIZES.len() as u64);
    assert_eq!(estimate["bytes"], bytes);
    assert_eq!(estimate["route"], "streamed");
    let line = |needle: &str| -> Value {
        estimate["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["item"].as_str().unwrap().contains(needle))
            .cloned()
            .unwrap()
    };
    // 1 B, 1023 B, 4096 B, 70,000 B and 2,000,000 B (two blocks, under the 256 MiB get
    // cutoff): one GET each; empty: none.
    assert_eq!(line("GET")["quantity"], 5.0);
    assert!((line("GET")["cost"].as_f64().unwrap() - 5.0 * 0.0004 / 1000.0).abs() < 1e-12);
    // A few MB out of Azure: within the month's free 100 GB, said so by its source.
    let egress = line("egress to the internet");
    assert_eq!(egress["cost"].as_f64().unwrap(), 0.0, "{egress}");
    assert!(egress["quantity"].as_f64().unwrap() > 0.0, "{egress}");
    assert!(egress["source"]
        .as_str()
        .unwrap()
        .contains("first 100 GB a month free"));
    assert!(line("azure-blob westeurope").is_object());
    let total: f64 = estimate["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["cost"].as_f64().unwrap())
        .sum();
    assert!((estimate["total"].as_f64().unwrap() - total).abs() < 1e-12);

    // Text form names the route and the total.
    let output = awcopy(&[
        "ls",
        "--estimate",
        &prefix,
        "--to",
        dest.path().to_str().unwrap(),
    ]);
    let text = stdout(&output);
    assert!(
        text.contains("streamed through this machine") && text.contains("Total"),
        "{text}"
    );
}

#[tokio::test]
async fn ls_estimate_uses_a_price_file() {
    let location = kit::new_azure_container("prices").await;
    let store = kit::open(&location).await;
    fill(&store).await;
    let mut book: Value =
        serde_json::from_str(include_str!("../../../engine/prices/prices.json")).unwrap();
    book["providers"]["azure-blob"]["requests_per_1000"]["list"] = 1000.0.into();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), book.to_string()).unwrap();
    let output = awcopy(&[
        "ls",
        "--estimate",
        "--json",
        "--prices",
        file.path().to_str().unwrap(),
        &location.to_string(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = json_lines(&output).pop().unwrap();
    let list = summary["estimate"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["item"].as_str().unwrap().contains("LIST"))
        .cloned()
        .unwrap();
    assert_eq!(list["cost"], 1.0, "one LIST request at 1000 per 1000");

    std::fs::write(file.path(), "{ not json").unwrap();
    let output = awcopy(&[
        "ls",
        "--estimate",
        "--prices",
        file.path().to_str().unwrap(),
        &location.to_string(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--prices"), "{}", stderr(&output));
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_exit_code() {
    assert_fails(
        &awcopy(&["ls", "gs://bucket/x"]),
        2,
        &["LOCATION", "unknown scheme 'gs://'"],
    );
    assert_fails(&awcopy(&["ls", "s3://"]), 2, &["missing bucket"]);
    assert_fails(
        &awcopy(&["ls", "--list-parallelism", "4", "s3://bkt"]),
        2,
        &["--list-parallelism", "-r"],
    );
    assert_fails(
        &awcopy(&["ls", "-r", "--list-parallelism", "0", "s3://bkt"]),
        2,
        &["--list-parallelism"],
    );
    assert_fails(
        &awcopy(&["ls", "az://devstoreaccount1"]),
        2,
        &["missing container"],
    );
    assert_fails(
        &awcopy(&["ls", "--block-size", "4XB", "s3://bkt"]),
        2,
        &["--block-size", "unknown size unit"],
    );
    assert_fails(
        &awcopy(&["ls", "--to", "s3://bkt", "s3://akt"]),
        2,
        &["--estimate"],
    );
    let missing = format!("s3://{}/", kit::unique_name("nosuch"));
    assert_fails(
        &awcopy(&["ls", &missing]),
        4,
        &["LOCATION", "bucket does not exist"],
    );
    let missing = format!("az://devstoreaccount1/{}/", kit::unique_name("nosuch"));
    assert_fails(&awcopy(&["ls", &missing]), 4, &["ContainerNotFound"]);
    let missing_dir = tempfile::tempdir().unwrap().path().join("absent");
    assert_fails(
        &awcopy(&["ls", missing_dir.to_str().unwrap()]),
        4,
        &["does not exist"],
    );
    assert_fails(
        &awcopy(&["--endpoint-url", "127.0.0.1:9000", "ls", "s3://bucket"]),
        2,
        &["--endpoint-url", "e.g. http://127.0.0.1:9000"],
    );
    assert_fails(
        &awcopy(&["--endpoint-url", "http://127.0.0.1:9", "ls", "s3://bucket"]),
        5,
        &["cannot reach the S3 endpoint", "AWS_ENDPOINT_URL"],
    );
    assert_fails(
        &awcopy(&["ls", "http://127.0.0.1:9/devstoreaccount1/cont/"]),
        5,
        &["Azure list"],
    );
}

#[tokio::test]
async fn wrong_azure_key_is_an_auth_error_that_never_shows_the_key() {
    let location = kit::new_azure_container("auth").await;
    let wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5";
    let connection = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={wrong_key};BlobEndpoint={};",
        kit::azure_endpoint()
    );
    let started = std::time::Instant::now();
    let output = awcopy_with_env(
        &["-v", "ls", &location.to_string()],
        &[
            ("AZURE_STORAGE_CONNECTION_STRING", &connection),
            ("AWCOPY_LOG", "trace"),
        ],
    );
    assert_fails(&output, 3, &["AuthorizationFailure", "account key"]);
    assert!(!stderr(&output).contains(wrong_key), "the wrong key leaked");
    assert!(
        started.elapsed().as_secs() < 10,
        "no retry storm on auth errors"
    );
}

#[tokio::test]
async fn sas_in_the_url_works_and_is_never_printed() {
    let location = kit::new_azure_container("sas").await;
    let store = kit::open(&location).await;
    fill(&store).await;
    let Location::Azure {
        account, container, ..
    } = &location
    else {
        unreachable!()
    };
    let sas = kit::account_sas(account, "rl");
    let url = format!(
        "{}/{container}/data/?{}",
        kit::azure_endpoint(),
        sas.expose()
    );
    // No connection string: the SAS in the URL is the only credential.
    let output = awcopy_with_env(
        &["-v", "ls", "-r", "--json", &url],
        &[
            ("AZURE_STORAGE_CONNECTION_STRING", ""),
            ("AWCOPY_LOG", "trace"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        json_lines(&output).last().unwrap()["objects"],
        SIZES.len() as u64
    );
    let signature = sas.expose().split("sig=").nth(1).unwrap().to_owned();
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!all.contains(&signature), "the SAS signature leaked");
}

/// Help texts say what a flag does (no internal shorthand), and completion scripts print for
/// every shell clap_complete knows.
#[test]
fn help_speaks_to_users_and_completions_print() {
    for command in ["cp", "sync", "mv", "jobs"] {
        let output = awcopy(&[command, "--help"]);
        assert!(output.status.success(), "{}", stderr(&output));
        let help = stdout(&output).to_lowercase();
        assert!(!help.contains("seed"), "{command} --help: {help}");
    }
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = awcopy(&["completions", shell]);
        assert!(output.status.success(), "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        assert!(
            script.contains("awcopy") && script.contains("resume"),
            "{shell}"
        );
    }
    assert_fails(&awcopy(&["completions", "tcsh"]), 2, &["tcsh"]);
}
