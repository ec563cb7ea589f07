"""The round-trip bench (issue #31): awcopy as a user far from the bucket meets it. The fault
proxy adds 10, 50 or 150 ms to every request in front of bench/s3mem (an in-memory S3 server,
seeded with objects of 4 bytes under hexadecimal keys); each tool copies 2,000, 20,000 and
200,000 objects S3 -> S3 (server-side) and S3 -> local (files in /dev/shm), one after another
in the same run: awcopy with `--concurrency auto` and `--concurrency 256`, s5cmd (its default
256 workers) and rclone (`--transfers 64 --checkers 64`). S3 -> Azure goes from the far bucket
to Azurite on loopback, without a delay (Azurite's own ceiling: one Node.js process), at
2,000 and 20,000 objects (Azurite in memory slows down past some tens of thousands of blobs),
for awcopy and rclone (s5cmd speaks only S3).

Every destination is checked: a bucket by the server's digest of keys and ETags (equal to the
source's), a directory file by file, a container blob by blob (every key of the seeded set,
every object's 4 bytes).
Reports wall, objects/s, client CPU per object, and each tool's wall over awcopy auto's. Called
by `bench/run.sh rtt` (which installs and builds everything); writes a Markdown report and a
JSON file beside it.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from bench import (AWCOPY_TOOLS, AZURE, ROOT, Proxy, awcopy_copy, azure_client, measured,
                   rclone_azure_env)
from scale import Server, save

DELAYS_MS = [10, 50, 150]
SIZES = [2_000, 20_000, 200_000]
TOOLS = ["awcopy", "awcopy-256", "s5cmd", "rclone"]
ROUTES = ["s3-s3", "s3-local", "s3-azure"]
AZURE_MOST_OBJECTS = 20_000
SCRATCH = os.environ.get("AWCOPY_BENCH_SCRATCH", "/dev/shm")


def mix(i):
    """bench/s3mem's SplitMix64: the seeded set's keys."""
    mask = (1 << 64) - 1
    z = (i + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def seeded_set(objects):
    """The seeded bucket's keys and contents."""
    return {f"{mix(i):016x}": i.to_bytes(4, "little") for i in range(objects)}


def local_holds_the_set(directory, objects):
    """Whether `directory` holds exactly the seeded set: every key, every file's bytes."""
    expected = seeded_set(objects)
    found = 0
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if name == ".awcopy-staging" and not os.listdir(path):
            continue  # awcopy's staging directory, left empty (issue #33)
        if not os.path.isfile(path) or name not in expected:
            return False
        with open(path, "rb") as f:
            if f.read() != expected[name]:
                return False
        found += 1
    return found == objects


def container_holds_the_set(container, objects):
    """Whether Azure `container` holds exactly the seeded set: every name, every blob's bytes
    (read back, 32 at a time)."""
    from concurrent.futures import ThreadPoolExecutor
    expected = seeded_set(objects)
    client = azure_client().get_container_client(container)
    names = [blob.name for blob in client.list_blobs()]
    if sorted(names) != sorted(expected):
        return False

    def holds(name):
        return client.download_blob(name).readall() == expected[name]

    with ThreadPoolExecutor(32) as pool:
        return all(pool.map(holds, names))


def command(tool, endpoint, dest, server):
    """The copy `tool` makes from the seeded bucket to `dest`, with its environment."""
    env = server.env()
    if tool in AWCOPY_TOOLS:
        return awcopy_copy(tool, endpoint, "s3://src/", dest), env
    if tool == "s5cmd":
        return ["s5cmd", "--endpoint-url", endpoint, "cp", "s3://src/*", dest], env
    if tool == "rclone":
        env = server.rclone_env(endpoint)
        if dest.startswith(AZURE) and AZURE:
            env.update(rclone_azure_env(AZURE))
            target = "az:" + dest[len(AZURE) + 1:]
        else:
            target = dest.replace("s3://", "s3:") if dest.startswith("s3://") else dest
        return ["rclone", "copy", "s3:src", target, "--transfers", "64", "--checkers", "64"], env
    raise SystemExit(f"unknown tool {tool}")


def in_turn(tools, turn):
    """`tools` starting at a different one each turn: what a run leaves behind (Azurite
    freeing a deleted container of 20,000 blobs slows whatever runs next) falls on each tool
    in turn, not always on the first."""
    turn %= len(tools)
    return tools[turn:] + tools[:turn]


def run(tool, route, server, proxy, objects, delay_ms, scratch, n):
    """One copy; its row."""
    if route == "s3-s3":
        bucket = f"dst-{n}"
        server.create(bucket)
        dest = f"s3://{bucket}/"
    elif route == "s3-azure":
        container = f"dst-{n}"
        azure_client().create_container(container)
        dest = f"{AZURE}/{container}/"
    else:
        dest = os.path.join(SCRATCH, f"awcopy-rtt-{os.getpid()}-{n}") + "/"
        os.makedirs(dest)
    args, env = command(tool, proxy.url, dest, server)
    env["AWCOPY_DB"] = os.path.join(scratch, f"{n}.db")
    status, wall, cpu, rss, _ = measured(args, env)
    if route == "s3-s3":
        stats = server.stats()["buckets"]
        verified = stats[bucket]["digest"] == stats["src"]["digest"] \
            and stats[bucket]["objects"] == objects
    elif route == "s3-azure":
        verified = container_holds_the_set(container, objects)
        azure_client().delete_container(container)
    else:
        verified = local_holds_the_set(dest, objects)
        shutil.rmtree(dest, ignore_errors=True)
    return {"tool": tool, "route": route, "objects": objects, "delay_ms": delay_ms,
            "status": status, "wall": wall, "cpu": cpu, "rss": rss, "verified": verified}


def report(rows, command_line):
    """The Markdown report: one table per route and size, a column per delay."""
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    lines = [
        "# Round-trip bench", "",
        f"`{command_line}` at {commit} on {os.cpu_count()} cores: the fault proxy adds a delay "
        "to every request in front of bench/s3mem (S3 -> Azure writes to Azurite on loopback, "
        "without a delay); objects of 4 bytes. Wall seconds "
        "(objects/s), client CPU per object, and each tool's wall over awcopy auto's (above 1: "
        "awcopy is faster); every destination verified (a bucket by the server's digest of "
        "keys and ETags, a directory file by file, a container blob by blob). Tools run in "
        "an order that turns with each delay. One run each: on this machine single runs move "
        "by about 10%.", ""]
    sizes = sorted({r["objects"] for r in rows})
    delays = sorted({r["delay_ms"] for r in rows})
    for route in ROUTES:
        for objects in sizes:
            mine = [r for r in rows if r["route"] == route and r["objects"] == objects]
            if not mine:
                continue
            lines += [f"## {route}, {objects:,} objects", "",
                      "| tool | " + " | ".join(f"{d} ms: wall (objects/s) | CPU us/object | vs auto"
                                               for d in delays) + " |",
                      "|---|" + "---|---|---|" * len(delays)]
            for tool in TOOLS:
                if not any(r["tool"] == tool for r in mine):
                    continue
                cells = []
                for delay in delays:
                    row = next((r for r in mine if r["tool"] == tool and r["delay_ms"] == delay),
                               None)
                    base = next((r for r in mine if r["tool"] == "awcopy"
                                 and r["delay_ms"] == delay), None)
                    if row is None:
                        cells += ["", "", ""]
                        continue
                    ok = "" if row["verified"] and row["status"] == 0 else " **not verified**"
                    rate = objects / row["wall"]
                    ratio = row["wall"] / base["wall"] if base else 0
                    cells += [f"{row['wall']:.2f} s ({rate:,.0f}){ok}",
                              f"{row['cpu'] / objects * 1e6:.0f}", f"{ratio:.2f}"]
                lines.append(f"| {tool} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--delays", default=",".join(map(str, DELAYS_MS)))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench/RESULTS-rtt.md"))
    parser.add_argument("--command", default="bench/run.sh rtt")
    parser.add_argument("--quick", action="store_true", help="2,000 and 20,000 objects")
    parser.add_argument("--reps", type=int, default=1, choices=[1],
                        help="one pass: the whole grid takes most of an hour")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes = [s for s in sizes if s <= 20_000]
    rows, n = [], 0
    with tempfile.TemporaryDirectory(prefix="awcopy-rtt-") as scratch:
        for objects in sizes:
            server = Server(objects)
            try:
                delays = [int(d) for d in args.delays.split(",")]
                for turn, delay_ms in enumerate(delays):
                    proxy = Proxy(server.url, ["--delay-ms", str(delay_ms)])
                    try:
                        for route in args.routes.split(","):
                            if route == "s3-azure" and objects > AZURE_MOST_OBJECTS:
                                continue
                            for tool in in_turn(args.tools.split(","), turn):
                                if route == "s3-azure" and tool == "s5cmd":
                                    continue
                                n += 1
                                print(f"{objects} objects, {delay_ms} ms, {route}: {tool}",
                                      file=sys.stderr)
                                rows.append(run(tool, route, server, proxy, objects, delay_ms,
                                                scratch, n))
                                print(f"  {json.dumps(rows[-1])}", file=sys.stderr)
                    finally:
                        proxy.stop()
            finally:
                server.stop()
    save(args.out, report(rows, args.command), rows)


if __name__ == "__main__":
    main()
