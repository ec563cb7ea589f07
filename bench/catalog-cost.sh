#!/usr/bin/env bash
# What the job catalogue costs per object: a local -> local copy of 100,000 tiny files in
# tmpfs (no emulator, so the client's own work is all there is), with and without the
# catalogue, for each awcopy binary given (default target/release/awcopy), REPS times.
# The catalogue is on disk, fresh per run. Prints wall, user and sys seconds and peak RSS.
#
#   bench/catalog-cost.sh [AWCOPY...]        e.g. an older build beside the current one
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- target/release/awcopy
[ -x /usr/bin/time ] || { echo "bench/catalog-cost.sh needs GNU time: apt-get install time" >&2; exit 2; }
scratch=$(mktemp -d -p "${AWCOPY_BENCH_SCRATCH:-/dev/shm}" awcopy-catalog-cost.XXXXXX)
db=$(mktemp -d -t awcopy-catalog-cost-db.XXXXXX)
trap 'rm -rf "$scratch" "$db"' EXIT
python3 - "$scratch/src" <<'PY'
import os, sys
for i in range(100_000):
    folder = os.path.join(sys.argv[1], f"q{i % 100:04d}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"key-{i:07d}"), "wb") as out:
        out.write(b"x" * (i % 1000 + 1))
PY
printf '%-4s %-28s %-11s %8s %8s %8s %8s\n' rep binary catalogue wall_s user_s sys_s rss_mib
for rep in $(seq "${REPS:-2}"); do
  for bin in "$@"; do
    for mode in on off; do
      rm -rf "$scratch/dst" "$db"/*
      flag=(); [ $mode = off ] && flag=(--no-catalog)
      t=$( { /usr/bin/time -f "%e %U %S %M" "$bin" cp -r ${flag[@]+"${flag[@]}"} --db "$db/awcopy.db" \
             "$scratch/src/" "$scratch/dst/" >/dev/null; } 2>&1 | tail -1)
      files=$(find "$scratch/dst" -type f | wc -l)
      [ "$files" = 100000 ] || { echo "$bin copied $files files, not 100000" >&2; exit 1; }
      read -r wall user sys rss <<<"$t"
      printf '%-4s %-28s %-11s %8s %8s %8s %8d\n' "$rep" "$bin" "$mode" "$wall" "$user" "$sys" $((rss / 1024))
    done
  done
done
