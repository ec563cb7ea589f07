#!/usr/bin/env bash
# The test command: installs and starts the emulators, runs every test, stops what it started,
# and ends with one line totalling every test binary's results.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh -p awcopy-store).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/emulators.sh

install_emulators
install_browser
install_nats
install_postgres
start_emulators
start_postgres
log=$(mktemp -t awcopy-test.XXXXXX)
status=0
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
