#!/usr/bin/env bash
# The main job on a fresh machine: starts the emulators (Azurite for Azure Blob, moto for S3),
# fills an S3 bucket with sample data, prices and runs a real copy S3 -> Azure with awcopy,
# verifies it with `awcopy check`, then runs the same copy as a job of `awcopy serve`
# (submitted with --via, followed with --wait), and once more with two `awcopy agent`
# processes taking the work from a nats-server (JetStream). Everything it starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/emulators.sh

install_emulators
install_nats
start_emulators
cargo build --release --locked --quiet
awcopy=target/release/awcopy
export AWS_ENDPOINT_URL=$AWCOPY_TEST_S3_ENDPOINT

"$TOOLS_PYTHON" - <<'PY'
import os, random, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.create_bucket(Bucket="demo-source")
rng = random.Random(7)
for i in range(300):
    size = int(2 ** rng.uniform(0, 21))
    s3.put_object(Bucket="demo-source", Key=f"logs/2026/11/{i:04d}.log", Body=rng.randbytes(size),
                  ContentType="text/plain", Metadata={"source": "demo"})
s3.put_object(Bucket="demo-source", Key="exports/large.parquet", Body=rng.randbytes(48 * 1024 * 1024))
s3.put_object(Bucket="demo-source", Key="日本/データ.csv", Body=b"a,b\n1,2\n", ContentType="text/csv")
print("filled s3://demo-source with 302 objects")
PY

section() { printf '\n== %s\n' "$*"; }
section "awcopy ls s3://demo-source/"
"$awcopy" ls s3://demo-source/
section "awcopy ls --estimate s3://demo-source/ --to az://devstoreaccount1/demo-dest/"
"$awcopy" ls --estimate --source-region us-east-1 --dest-region eastus \
  s3://demo-source/ --to az://devstoreaccount1/demo-dest/
section "awcopy cp -r s3://demo-source/ az://devstoreaccount1/demo-dest/"
"$awcopy" cp -r s3://demo-source/ az://devstoreaccount1/demo-dest/
section "awcopy check s3://demo-source/ az://devstoreaccount1/demo-dest/"
"$awcopy" check s3://demo-source/ az://devstoreaccount1/demo-dest/
section "awcopy ls -r az://devstoreaccount1/demo-dest/exports/"
"$awcopy" ls -r az://devstoreaccount1/demo-dest/exports/

# The same copy as a job of the service: `awcopy serve` with 4 in-process agents, a user whose
# token's hash is in its config, the job submitted with --via and followed with --wait.
section "awcopy serve (the job service, its dashboard and 4 agents)"
service_dir=$(mktemp -d -t awcopy-demo-service.XXXXXX)
export AWCOPY_TOKEN=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
cat >"$service_dir/service.toml" <<TOML
[[user]]
name = "demo"
token_sha256 = "$(printf %s "$AWCOPY_TOKEN" | "$awcopy" serve --hash-token)"
read = ["s3://demo-source/"]
write = ["az://devstoreaccount1/demo-via-service/", "az://devstoreaccount1/demo-via-agents/"]
TOML
"$awcopy" serve --listen 127.0.0.1:0 --config "$service_dir/service.toml" --db "$service_dir/service.db" \
  --endpoint-url "$AWS_ENDPOINT_URL" >"$service_dir/serve.log" 2>&1 &
pids=($!)
stop_demo_service() {
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$service_dir"
  stop_emulators
}
trap stop_demo_service EXIT
# The address a process printed in its log (waits for it).
address_in() {
  for _ in $(seq 100); do grep -q "$2" "$1" && break; sleep 0.1; done
  grep -o 'http://[0-9.:]*' "$1" | head -1
}
url=$(address_in "$service_dir/serve.log" listening)
echo "dashboard: $url/ (sign in with the token in \$AWCOPY_TOKEN)"
section "awcopy cp -r s3://demo-source/ az://devstoreaccount1/demo-via-service/ --via $url --wait"
"$awcopy" cp -r s3://demo-source/ az://devstoreaccount1/demo-via-service/ --via "$url" --wait
summarise_jobs() {
  curl -s -H "Authorization: Bearer $AWCOPY_TOKEN" "$1/api/v1/jobs" | "$TOOLS_PYTHON" -c '
import json, sys
for job in json.load(sys.stdin):
    c = job["counters"]
    print("job %s of %s: %s, %d/%d objects, %d bytes, %d failed" % (job["id"], job["user"], job["status"],
          c["objects_done"], c["objects_listed"], c["bytes_done"], c["objects_failed"]))
'
}
section "the job, from the API"
summarise_jobs "$url"

# Once more with the work on NATS JetStream: a service with no agent of its own and two
# `awcopy agent` processes (on one machine here; on any machine that reaches the server).
section "awcopy serve --agents 0 --nats, and two awcopy agent processes"
nats_port=$(free_port)
"$AWCOPY_NATS_SERVER" -js -a 127.0.0.1 -p "$nats_port" -sd "$service_dir/nats" >"$service_dir/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "Server is ready" "$service_dir/nats.log" && break; sleep 0.1; done
nats_url=nats://127.0.0.1:$nats_port
# The key the service and its agents seal every message with (each reads the same file).
head -c 32 /dev/urandom | base64 >"$service_dir/nats.key"
"$awcopy" serve --listen 127.0.0.1:0 --agents 0 --nats "$nats_url" --nats-key "$service_dir/nats.key" \
  --config "$service_dir/service.toml" --db "$service_dir/agents.db" --endpoint-url "$AWS_ENDPOINT_URL" \
  >"$service_dir/serve-nats.log" 2>&1 &
pids+=($!)
nats_service=$(address_in "$service_dir/serve-nats.log" listening)
for name in agent-a agent-b; do
  "$awcopy" agent --nats "$nats_url" --nats-key "$service_dir/nats.key" --name "$name" \
    --endpoint-url "$AWS_ENDPOINT_URL" >"$service_dir/$name.log" 2>&1 &
  pids+=($!)
done
section "awcopy cp -r s3://demo-source/ az://devstoreaccount1/demo-via-agents/ --via $nats_service --wait"
"$awcopy" cp -r s3://demo-source/ az://devstoreaccount1/demo-via-agents/ --via "$nats_service" --wait
section "the job and the agents, from the API"
summarise_jobs "$nats_service"
sleep 3 # the agents' counts come with their heartbeats, every 2 s
curl -s -H "Authorization: Bearer $AWCOPY_TOKEN" "$nats_service/api/v1/agents" | "$TOOLS_PYTHON" -c '
import json, sys
for agent in json.load(sys.stdin):
    print("agent %s on %s: %d items done, %d failed, %d bytes" % (agent["name"], agent["host"],
          agent["items_done"], agent["items_failed"], agent["bytes"]))
'
section "awcopy check s3://demo-source/ az://devstoreaccount1/demo-via-agents/"
"$awcopy" check s3://demo-source/ az://devstoreaccount1/demo-via-agents/
