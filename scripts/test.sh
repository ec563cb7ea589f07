#!/usr/bin/env bash
# The test command: installs and starts the emulators, runs every test, stops what it started.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh -p awcopy-store).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/emulators.sh

install_emulators
start_emulators
cargo test --workspace --locked "$@"
