#!/usr/bin/env bash
# Peak RSS of `sync` (copying everything, then with nothing to do, both with --delete),
# `check`, `ls -r`, and the resume of a `cp` killed part way, for N tiny files local -> local
# in tmpfs (issue #18's measure).
#
#   bench/memory.sh [N]        (default 300000; builds awcopy in release mode first)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300000}
cargo build --release --locked --quiet
awcopy=$PWD/target/release/awcopy
work=$(mktemp -d -p /dev/shm awcopy-memory.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/catalogue"
python3 - "$N" "$work/src" <<'PY'
import os, sys
n, root = int(sys.argv[1]), sys.argv[2]
for d in range(1000):
    os.makedirs(f"{root}/{d:03x}", exist_ok=True)
for i in range(n):
    with open(f"{root}/{i % 1000:03x}/{i:07x}", "wb") as f:
        f.write(b"abcd")
PY
export AWCOPY_DB=$work/catalogue/awcopy.db
measure() {
  local what=$1; shift
  /usr/bin/time -f "%e s wall, %U+%S s CPU, peak RSS %M KiB" -o "$work/time" "$@" >/dev/null 2>&1 || true
  printf '%-28s %s\n' "$what:" "$(tail -1 "$work/time")"
}
echo "$N files of 4 bytes, local -> local in /dev/shm, $(git rev-parse --short HEAD)"
measure "sync (copies all)" "$awcopy" sync "$work/src/" "$work/dst/" --delete --yes
cp "$work/time" "$work/time.sync"
measure "sync (nothing to do)" "$awcopy" sync "$work/src/" "$work/dst/" --delete --yes
measure "check" "$awcopy" check "$work/src/" "$work/dst/"
measure "ls -r" "$awcopy" ls -r "$work/src/"

# A copy killed with kill -9 part way (after half the first sync's time), then resumed.
first=$(grep -o '^[0-9.]*' <(head -1 "$work/time.sync") 2>/dev/null || echo 4)
"$awcopy" cp -r "$work/src/" "$work/resumed/" >/dev/null 2>&1 &
sleep "$(python3 -c "print(max(1.0, $first / 2))")"
kill -9 $! 2>/dev/null || true
wait 2>/dev/null || true
job=$("$awcopy" jobs list --json | python3 -c "import json, sys; print(json.loads(sys.stdin.readline())['id'])")
measure "resume of a killed cp" "$awcopy" jobs resume "$job"
echo "check after the resume: $("$awcopy" check "$work/src/" "$work/resumed/" | tail -1)"
