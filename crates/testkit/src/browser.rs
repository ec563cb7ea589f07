//! Browser scripts: a Node script driving Debian's Chromium (headless) through playwright-core,
//! both where `scripts/test.sh` installed them (`AWCOPY_CHROMIUM`, `AWCOPY_PLAYWRIGHT`).

use std::path::Path;

/// Runs the browser script `script` with `env`, its screenshots going to `shots`; the JSON
/// line it printed last (what it saw). Fails the test if the script fails.
pub async fn run_script(script: &Path, shots: &Path, env: &[(&str, String)]) -> serde_json::Value {
    let needed = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the tests through scripts/test.sh, which installs Chromium and playwright-core")
        })
    };
    std::fs::create_dir_all(shots).expect("a directory for the screenshots");
    let mut node = std::process::Command::new("node");
    node.arg(script)
        .env("AWCOPY_PLAYWRIGHT", needed("AWCOPY_PLAYWRIGHT"))
        .env("CHROMIUM", needed("AWCOPY_CHROMIUM"))
        .env("SHOTS", shots)
        .envs(env.iter().map(|(k, v)| (k, v)));
    let run = tokio::task::spawn_blocking(move || node.output().expect("run node"))
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "the browser script failed: {out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_str(out.lines().last().unwrap_or("")).expect("the script's JSON line")
}
