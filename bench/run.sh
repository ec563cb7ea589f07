#!/usr/bin/env bash
# The benchmark, in one command: installs what it needs (rclone from Debian, the AWS CLI from
# PyPI, the emulators), builds awcopy in release mode, starts the emulators, generates the data
# sets and runs every tool on every scenario, then writes bench/RESULTS.md (and .json).
#
#   bench/run.sh [--quick] [--reps N] [scenario...]     scenarios: small large mixed
#                                                       small-rtt25 mixed-faults many
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/emulators.sh

install_emulators
if ! command -v rclone >/dev/null; then
  log "installing rclone (Debian)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq rclone >&2
  else sudo apt-get update -qq && sudo apt-get install -y -qq rclone >&2; fi
fi
BENCH_VENV="$AWCOPY_TOOLS_DIR/bench-venv"
if [ ! -x "$BENCH_VENV/bin/aws" ]; then
  log "installing the AWS CLI, boto3 and azure-storage-blob (PyPI)"
  python3 -m venv "$BENCH_VENV" >&2
  "$BENCH_VENV/bin/pip" install --quiet --disable-pip-version-check awscli boto3 azure-storage-blob >&2
fi
export PATH="$BENCH_VENV/bin:$PATH"
cargo build --release --locked -p awcopy -p awcopy-bench >&2
start_emulators
log "rclone $(rclone version | head -1), $(aws --version 2>&1)"
"$BENCH_VENV/bin/python" bench/bench.py "$@"
