"""The block bench (the guard for the block paths, issue #32): 4 objects of 1 GiB
uploaded (local -> S3), downloaded (S3 -> local) and copied S3 -> S3 on bench/s3mem (an
in-memory S3 server with multipart uploads, so the blocks move at the protocol's speed, not a
disk's or an interpreter's), by awcopy, s5cmd and rclone, one after another in the same run.

The source files are random bytes in /dev/shm (`AWCOPY_BENCH_SCRATCH` sets another place);
the source bucket is filled by the AWS CLI. Every destination is checked: a bucket by the
server's digest of keys and contents' CRC-64/NVME (equal to the source bucket's whatever part
sizes the tool chose), a directory file by file against the source files. With `--delay-ms`,
the tools reach the server through the fault proxy, which adds that delay to every request
(a bucket a round trip away, issue #31). Reports wall,
MiB/s, client CPU seconds per GiB, peak RSS and each tool's wall over awcopy's. Called by
`bench/run.sh blocks` (which installs and builds everything); writes a Markdown report and a
JSON file beside it.
"""

import argparse
import filecmp
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from bench import AWCOPY_TOOLS, ROOT, Proxy, awcopy_copy, measured
from scale import Server, save

TOOLS = ["awcopy", "s5cmd", "rclone"]  # and "awcopy-256": --concurrency 256
ROUTES = ["local-s3", "s3-local", "s3-s3"]
SCRATCH = os.environ.get("AWCOPY_BENCH_SCRATCH", "/dev/shm")
MIB = 1 << 20


def write_sources(directory, count, size):
    """`count` files of `size` random bytes (seeded: the same every run)."""
    generator = random.Random(32)
    for i in range(count):
        with open(os.path.join(directory, f"large-{i}.bin"), "wb") as f:
            left = size
            while left:
                chunk = min(left, 64 * MIB)
                f.write(generator.randbytes(chunk))
                left -= chunk


def make_room(total):
    """Writes and deletes `total` bytes in SCRATCH before the first timed run: the kernel then
    frees page cache for the runs' files now, not during the first run (which took 2-3x longer
    than the same tool run again: 9.0 s against 3.2 s for awcopy, 6.7 s against 2.7 s for
    s5cmd, 4 x 1 GiB S3 -> local)."""
    block = bytes(64 * MIB)
    with tempfile.NamedTemporaryFile(dir=SCRATCH, prefix="awcopy-room-") as room:
        for _ in range(0, total, len(block)):
            room.write(block)
        room.flush()


def command(tool, server, endpoint, source, dest):
    """The command line and environment of `tool` copying the directory or bucket `source`
    (a path, or `s3://BUCKET/`) to `dest`, reaching `server` at `endpoint`."""
    if tool in AWCOPY_TOOLS:
        return awcopy_copy(tool, endpoint, source, dest), server.env()
    if tool == "s5cmd":
        pattern = source + "*" if source.startswith("s3://") else os.path.join(source, "*")
        return ["s5cmd", "--endpoint-url", endpoint, "cp", pattern, dest], server.env()
    if tool == "rclone":
        def remote(location):
            return "s3:" + location[len("s3://"):] if location.startswith("s3://") else location
        return ["rclone", "copy", remote(source), remote(dest)], server.rclone_env(endpoint)
    raise SystemExit(f"unknown tool {tool}")


def drop_bucket(server, bucket):
    subprocess.run(["aws", "--endpoint-url", server.url, "s3", "rb", "--force", f"s3://{bucket}"],
                   env=server.env(), check=True, capture_output=True)


def run(tool, route, server, endpoint, sources, expected, scratch, n):
    """One copy; its row."""
    if route == "s3-local":
        dest = os.path.join(SCRATCH, f"awcopy-large-{os.getpid()}-{n}") + "/"
        os.makedirs(dest)
    else:
        bucket = f"dst-{n}"
        server.create(bucket)
        dest = f"s3://{bucket}/"
    source = sources if route == "local-s3" else "s3://src/"
    args, env = command(tool, server, endpoint, source, dest)
    env["AWCOPY_DB"] = os.path.join(scratch, f"{n}.db")
    server_cpu = server.cpu()
    status, wall, cpu, rss, _ = measured(args, env)
    server_cpu = server.cpu() - server_cpu
    if route == "s3-local":
        names = sorted(os.listdir(sources))
        found = sorted(n for n in os.listdir(dest) if n != ".awcopy-staging")
        verified = found == names and all(
            filecmp.cmp(os.path.join(sources, name), os.path.join(dest, name), shallow=False)
            for name in names)
        shutil.rmtree(dest, ignore_errors=True)
    else:
        verified = server.stats()["buckets"][bucket]["content"] == expected
        drop_bucket(server, bucket)
    return {"tool": tool, "route": route, "status": status, "wall": wall, "cpu": cpu,
            "server_cpu": server_cpu, "rss": rss, "verified": verified}


def report(rows, command_line, count, size, delay_ms):
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    total = count * size
    lines = [
        "# Block bench (large objects)", "",
        f"`{command_line}` at {commit} on {os.cpu_count()} cores: {count} objects of "
        f"{size // MIB:,} MiB on bench/s3mem (in memory, multipart uploads)"
        + (f", {delay_ms} ms added to every request by the fault proxy" if delay_ms else "")
        + f", local files in "
        f"{SCRATCH}. Wall seconds (MiB/s), client CPU seconds per GiB, the server's CPU seconds, "
        "peak RSS, and each tool's wall over awcopy's (above 1: awcopy is faster); every "
        "destination verified (a bucket by the server's digest of keys and contents' "
        "CRC-64/NVME, a directory file by file). One run each.", "",
        "| route | tool | wall (MiB/s) | CPU s/GiB | server CPU s | peak RSS MiB | vs awcopy |",
        "|---|---|---|---|---|---|---|"]
    for route in ROUTES:
        base = next((r for r in rows if r["route"] == route and r["tool"] == "awcopy"), None)
        for row in (r for r in rows if r["route"] == route):
            ok = "" if row["verified"] and row["status"] == 0 else " **not verified**"
            ratio = row["wall"] / base["wall"] if base else 0
            lines.append(
                f"| {route} | {row['tool']} | {row['wall']:.2f} s "
                f"({total / MIB / row['wall']:,.0f}){ok} | {row['cpu'] / (total / (1 << 30)):.2f} "
                f"| {row['server_cpu']:.1f} | {row['rss']:.0f} | {ratio:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench/RESULTS-blocks.md"))
    parser.add_argument("--command", default="bench/run.sh blocks")
    parser.add_argument("--quick", action="store_true", help="4 objects of 64 MiB")
    parser.add_argument("--delay-ms", type=int, default=0,
                        help="reach the server through the fault proxy, this much later")
    parser.add_argument("--reps", type=int, default=1, choices=[1], help="one pass")
    args = parser.parse_args()
    size = (64 if args.quick else args.size_mib) * MIB
    rows, n = [], 0
    with tempfile.TemporaryDirectory(prefix="awcopy-large-") as scratch, \
            tempfile.TemporaryDirectory(prefix="awcopy-large-src-", dir=SCRATCH) as sources:
        write_sources(sources, args.count, size)
        server = Server(0)
        try:
            subprocess.run(["aws", "--endpoint-url", server.url, "s3", "cp", "--recursive",
                            "--only-show-errors", sources, "s3://src/"],
                           env=server.env(), check=True)
            expected = server.stats()["buckets"]["src"]["content"]
            make_room(args.count * size)
            proxy = Proxy(server.url, ["--delay-ms", str(args.delay_ms)]) \
                if args.delay_ms else None
            endpoint = proxy.url if proxy else server.url
            try:
                for route in args.routes.split(","):
                    for tool in args.tools.split(","):
                        n += 1
                        print(f"{route}: {tool}", file=sys.stderr)
                        rows.append(run(tool, route, server, endpoint, sources, expected,
                                        scratch, n))
                        print(f"  {json.dumps(rows[-1])}", file=sys.stderr)
            finally:
                if proxy:
                    proxy.stop()
        finally:
            server.stop()
    save(args.out, report(rows, args.command, args.count, size, args.delay_ms), rows)


if __name__ == "__main__":
    main()
