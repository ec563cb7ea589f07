"""The replication bench: end-to-end lag from a write at the source to its copy at the
destination, while `awcopy serve` replicates from the clouds' change events, at a steady
`--rates` of writes per second (default 50 and 500) for `--seconds` each, on the emulators, by
`--routes`:
- `s3-azure`: moto's S3 sends its real event notifications to moto's SQS; Azurite is the
  destination. moto is a Python server: its SQS slows down as its queue grows (seconds per
  call at a few thousand messages), so this route shows moto's ceiling at 500 writes/s.
- `azure-azure`: blobs written to Azurite, each followed by the Event Grid `BlobCreated`
  message Event Grid would deliver, written to Azurite's Queue service; copied to another
  container of the same account (server-side).

A writer thread pool puts 1 KiB objects at the rate asked (and reports the rate it reached:
moto is a Python server, and its own ceiling shows); a poller lists the destination every
100 ms and notes when each key first appears. Lag = first seen - the moment its put returned
(so it includes the listing's own period: up to 100 ms plus one listing). Reported: p50, p99
and max lag, the rate reached, and the service's CPU per replicated object beside an
`awcopy cp -r` of the same objects (CPU per object copied). Called by `bench/run.sh replicate`,
which installs the tools and starts the emulators; writes bench/RESULTS-replicate.md (and
.json).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench import AWCOPY, S3, AZURE, azure_client, measured, s3_client

ACCOUNT = "devstoreaccount1"
from scale import cpu_seconds, save

TOKEN = "bench-replicate-token"


def api(url, method, path, body=None):
    """Calls the service's API as the bench's admin."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers={
        "authorization": f"Bearer {TOKEN}", "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read() or b"null")


class Served:
    """`awcopy serve --agents 4` of an admin, its process id known for its CPU."""

    def __init__(self, scratch):
        config = os.path.join(scratch, "service.toml")
        with open(config, "w") as out:
            digest = hashlib.sha256(TOKEN.encode()).hexdigest()
            out.write(f'[[user]]\nname = "bench"\ntoken_sha256 = "{digest}"\nadmin = true\n')
        # Its log (-v) beside its catalogue, for a run to be looked into.
        self.log = open(os.path.join(scratch, "service.log"), "w")
        self.process = subprocess.Popen(
            [AWCOPY, "-v", "--endpoint-url", S3, "serve", "--listen", "127.0.0.1:0", "--agents",
             "4", "--config", config, "--db", os.path.join(scratch, "service.db")],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()
        self.url = next(w for w in line.split() if w.startswith("http://")).rstrip("/")

    def cpu(self):
        return cpu_seconds(self.process.pid)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def source_with_queue(name):
    """A bucket whose created and removed events go to an SQS queue of the same name."""
    import boto3
    s3 = s3_client()
    s3.create_bucket(Bucket=name)
    sqs = boto3.client("sqs", endpoint_url=S3, region_name="us-east-1")
    sqs.create_queue(QueueName=name)
    s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={
        "QueueConfigurations": [{
            "QueueArn": f"arn:aws:sqs:us-east-1:123456789012:{name}",
            "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})


def s3_writer(bucket):
    """Puts one object into `bucket`; S3 announces it."""
    s3 = s3_client()

    def put(key, body):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return put


def blob_event(container, key, sequencer):
    """The Event Grid `BlobCreated` event of blob `key`, as Event Grid delivers it."""
    return json.dumps({
        "topic": "/subscriptions/0/resourceGroups/bench/providers/Microsoft.Storage/"
                 f"storageAccounts/{ACCOUNT}",
        "subject": f"/blobServices/default/containers/{container}/blobs/{key}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "id": str(uuid.uuid4()),
        "data": {"api": "PutBlob", "eTag": "0x0", "contentLength": 1024,
                 "blobType": "BlockBlob", "sequencer": f"{sequencer:032X}"},
        "dataVersion": "", "metadataVersion": "1"})


def azure_writer(container, queue):
    """Puts one blob into `container`, then the event Event Grid would deliver to `queue`."""
    blobs = azure_client().get_container_client(container)
    queue = queue_client(queue)
    counter = iter(range(1 << 62))
    lock = threading.Lock()

    def put(key, body):
        blobs.upload_blob(key, body, overwrite=True)
        with lock:
            sequencer = next(counter)
        queue.send_message(blob_event(container, key, sequencer))
    return put


def queue_client(name):
    from azure.storage.queue import QueueClient
    return QueueClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"], name)


def write_steadily(put_object, rate, seconds, done):
    """Writes `rate` x `seconds` objects of 1 KiB with `put_object`, each started at its slot
    (a pool of threads keeps up as far as the server lets it), noting in `done` when each
    write returned; returns the rate reached."""
    body = os.urandom(1024)
    lock = threading.Lock()

    def put(key):
        put_object(key, body)
        with lock:
            done[key] = time.monotonic()

    count = int(rate * seconds)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(64, max(4, rate // 5))) as pool:
        for n in range(count):
            slot = started + n / rate
            wait = slot - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            pool.submit(put, f"w/{n:06d}")
    return count / (max(done.values()) - started)


def watch(container, written, expected, seen, stop):
    """Notes when each written key first appears in `container`, until `stop` is set or
    `expected` keys were seen: every 100 ms it lists only the groups of 100 keys (`w/0012`...)
    that have a key written and not yet seen, so that listing stays light however many
    objects arrive."""
    client = azure_client().get_container_client(container)
    while not stop.is_set() and len(seen) < expected:
        waiting = {key[:6] for key in list(written) if key not in seen}
        for prefix in sorted(waiting):
            now = time.monotonic()
            for blob in client.list_blobs(name_starts_with=prefix):
                seen.setdefault(blob.name, now)
        time.sleep(0.1)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_rate(url, scratch, route, rate, seconds):
    name = f"repl-{rate}-{uuid.uuid4().hex[:8]}"
    dest = name + "-copy"
    azure_client().create_container(dest)
    if route == "s3-azure":
        source_with_queue(name)
        source, put_object = f"s3://{name}/", s3_writer(name)
    else:
        azure_client().create_container(name)
        queue_client(name).create_queue()
        source, put_object = f"{AZURE}/{name}/", azure_writer(name, name)
    replication = api(url, "POST", "/api/v1/replications", {
        "name": f"bench {route} {rate}/s",
        "spec": {"version": 1, "mode": "sync", "source": source, "dest": f"{AZURE}/{dest}/"},
        "queue": name})
    seen, stop, written = {}, threading.Event(), {}
    expected = int(rate * seconds)
    watcher = threading.Thread(target=watch, args=(dest, written, expected, seen, stop))
    watcher.start()
    cpu_before = SERVED.cpu()
    reached = write_steadily(put_object, rate, seconds, written)
    deadline = time.monotonic() + 300
    while len(seen) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    watcher.join()
    # The last round's record, then its CPU.
    time.sleep(2)
    cpu = SERVED.cpu() - cpu_before
    view = api(url, "GET", f"/api/v1/replications/{replication['id']}")
    lags = [seen[k] - t for k, t in written.items() if k in seen]
    # The same objects copied once by `awcopy cp -r`, for its CPU per object.
    env = dict(os.environ)
    status, wall, cp_cpu, _, _ = measured(
        [AWCOPY, "--endpoint-url", S3, "cp", "-r", source, f"{AZURE}/{name}-cp/",
         "--db", os.path.join(scratch, "cp.db")], env)
    api(url, "DELETE", f"/api/v1/replications/{replication['id']}")
    return {
        "route": route, "rate": rate, "seconds": seconds, "objects": expected, "rate_reached": round(reached, 1),
        "arrived": len(lags), "lag_p50": round(percentile(lags, 50), 3) if lags else None,
        "lag_p99": round(percentile(lags, 99), 3) if lags else None,
        "lag_max": round(max(lags), 3) if lags else None,
        "service_cpu_ms_per_object": round(cpu * 1000 / expected, 3),
        "cp_cpu_ms_per_object": round(cp_cpu * 1000 / expected, 3) if status == 0 else None,
        "cp_wall": round(wall, 2),
        "events": view["events"], "objects_copied": view["objects_copied"],
    }


def report(rows, command_line):
    lines = [
        "# Replication: lag from a write to its copy",
        "",
        f"`{command_line}` on {os.uname().nodename} ({os.cpu_count()} cores), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. `s3-azure`: moto's S3, its "
        "event notifications in moto's SQS, to Azurite; `azure-azure`: Azurite, each blob's "
        "Event Grid message written to Azurite's Queue service right after it, to another "
        "container (server-side); `awcopy serve --agents 4` on SQLite. Lag = when the "
        "destination's listing (every 100 ms) first shows the object - when its write "
        "returned. CPU: the service's (user + sys) over the run per object written, beside "
        "`awcopy cp -r` of the same objects afterwards.",
        "",
        "| route | writes/s asked | reached | objects | arrived | lag p50 | lag p99 | lag max "
        "| service CPU/object | cp CPU/object | events received / applied / ignored / failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        e = r["events"]
        lines.append(
            f"| {r['route']} | {r['rate']} | {r['rate_reached']} | {r['objects']} | {r['arrived']} "
            f"| {r['lag_p50']} s | {r['lag_p99']} s | {r['lag_max']} s "
            f"| {r['service_cpu_ms_per_object']} ms | {r['cp_cpu_ms_per_object']} ms "
            f"| {e['received']} / {e['applied']} / {e['ignored']} / {e['failed']} |")
    return "\n".join(lines) + "\n"


def main():
    global SERVED
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="50,500")
    parser.add_argument("--routes", default="azure-azure,s3-azure")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--out", default=None)
    parser.add_argument("--command-line", default="bench/run.sh replicate")
    args = parser.parse_args()
    scratch = os.path.join("/tmp", f"awcopy-replicate-{uuid.uuid4().hex[:8]}")
    os.makedirs(scratch)
    print(f"service log: {scratch}/service.log", file=sys.stderr)
    SERVED = Served(scratch)
    rows = []
    try:
        for route in args.routes.split(","):
            for rate in [int(r) for r in args.rates.split(",")]:
                row = run_rate(SERVED.url, scratch, route, rate, args.seconds)
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
    finally:
        SERVED.stop()
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   "RESULTS-replicate.md")
    save(out, report(rows, args.command_line), {"rows": rows})


if __name__ == "__main__":
    main()
