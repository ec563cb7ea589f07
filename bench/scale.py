"""The scale bench: 1,000,000 objects of 4 bytes under hexadecimal keys, S3 -> S3 server-side,
on one in-memory S3 server (bench/s3mem: the `s3s` crate's protocol over a map in memory),
every tool in the same run: the server's bare ceiling (a loop of CopyObject), awcopy `cp`,
`awcopy serve --agents 4` with its catalogue in SQLite and in PostgreSQL, s5cmd, rclone (--transfers 64 --checkers 64); `ls -r` of the
million keys: awcopy in one range and in 8 key ranges at once, and `aws s3 ls --recursive`,
straight and through the fault proxy adding 50 ms per request; and awcopy's peak RSS at this
size for a no-op `sync --delete`, a `check`, and the resume of a killed `cp`.

For each: wall, objects/s, CPU of the tool and of the server per object, peak RSS, requests per
object (counted by the server), and whether the destination holds every key with the source's
ETag (the server's digest of keys and ETags). Called by `bench/run.sh scale` (which installs
and builds everything); writes a Markdown report and a JSON file beside it.
"""

import argparse
import itertools
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request

from bench import AWCOPY, CEILING, ROOT, Proxy, Service, free_port, measured

S3MEM = os.path.join(ROOT, "target/s3mem/release/awcopy-s3mem")


def cpu_seconds(pid):
    """User + system CPU seconds of a running process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """bench/s3mem on a free port with fresh keys, its source bucket seeded."""

    def __init__(self, objects):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key, self.secret = "AKSCALE" + secrets.token_hex(6).upper(), secrets.token_hex(20)
        self.process = subprocess.Popen(
            [S3MEM, "--port", str(self.port), "--access-key", self.key, "--secret-key",
             self.secret, "--seed", f"src:{objects}"],
            stdout=subprocess.PIPE, text=True)
        self.process.stdout.readline()

    def env(self):
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": self.key, "AWS_SECRET_ACCESS_KEY": self.secret,
                    "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
        env.pop("AWS_CA_BUNDLE", None)
        return env

    def rclone_env(self, endpoint=None):
        """The environment that makes rclone's remote `s3:` this server (reached at
        `endpoint`, a proxy in front of it, if given)."""
        env = self.env()
        env.update({
            "RCLONE_CONFIG_S3_TYPE": "s3", "RCLONE_CONFIG_S3_PROVIDER": "Other",
            "RCLONE_CONFIG_S3_ENDPOINT": endpoint or self.url,
            "RCLONE_CONFIG_S3_REGION": "us-east-1",
            "RCLONE_CONFIG_S3_ACCESS_KEY_ID": self.key,
            "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": self.secret,
            "RCLONE_CONFIG_S3_FORCE_PATH_STYLE": "true", "RCLONE_CONFIG_S3_LIST_VERSION": "2",
        })
        return env

    def stats(self):
        with urllib.request.urlopen(f"{self.url}/_stats") as answer:
            return json.load(answer)

    def cpu(self):
        return cpu_seconds(self.process.pid)

    def create(self, bucket):
        subprocess.run(["aws", "--endpoint-url", self.url, "s3", "mb", f"s3://{bucket}"],
                       env=self.env(), check=True, capture_output=True)

    def stop(self):
        self.process.terminate()
        self.process.wait()


def save(out, text, data):
    """Writes the Markdown report `text` to `out` and `data` as JSON beside it; prints the
    report."""
    with open(out, "w") as f:
        f.write(text)
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(data, f, indent=1)
    print(text)


def copy_command(tool, server, dest, service=None):
    if tool == "ceiling":
        return [CEILING, "native", "s3://src", f"s3://{dest}", "--concurrency", "64",
                "--endpoint-url", server.url], server.env()
    if tool == "awcopy":
        return [AWCOPY, "--endpoint-url", server.url, "cp", "-r", "--json", "s3://src/",
                f"s3://{dest}/"], server.env()
    if tool.startswith("awcopy-serve"):
        env = server.env()
        env["AWCOPY_TOKEN"] = Service.TOKEN
        return [AWCOPY, "--endpoint-url", server.url, "cp", "-r", "--json", "--via",
                service.url, "--wait", "s3://src/", f"s3://{dest}/"], env
    if tool == "s5cmd":
        return ["s5cmd", "--endpoint-url", server.url, "cp", "s3://src/*", f"s3://{dest}/"], \
            server.env()
    if tool == "rclone":
        return ["rclone", "copy", "s3:src", f"s3:{dest}", "--transfers", "64", "--checkers",
                "64"], server.rclone_env()
    raise SystemExit(f"unknown tool {tool}")


def run_copy(tool, server, scratch, objects, dest=None):
    """One copy by `tool` of the seeded bucket into `dest` (default `dst-TOOL`), measured and
    verified by the server's digest."""
    dest = dest or f"dst-{tool}"
    server.create(dest)
    # The service inherits this process's environment: the server's keys (see main).
    db = postgres_database() if tool == "awcopy-serve-pg" else None
    service = Service(scratch, server.url, db) if tool.startswith("awcopy-serve") else None
    args, env = copy_command(tool, server, dest, service)
    env["AWCOPY_DB"] = os.path.join(scratch, f"{dest}.db")
    before, server_cpu = server.stats()["requests"], server.cpu()
    db_cpu = postgres_cpu() if db else None
    status, wall, cpu, rss = measured(args, env, stdout=subprocess.DEVNULL)[:4]
    server_cpu = server.cpu() - server_cpu
    db_cpu = postgres_cpu() - db_cpu if db else None
    catalogue = vacuumed = None
    db_rss = postgres_peak_rss() if db else None
    if service:
        catalogue = service.catalogue_bytes()
        if db:
            vacuumed = service.catalogue_bytes(vacuumed=True)
        service_cpu, service_rss = service.stop()
        cpu += service_cpu
        rss = max(rss, service_rss)
    elif tool == "awcopy":
        catalogue = sum(os.path.getsize(p) for p in [env["AWCOPY_DB"], env["AWCOPY_DB"] + "-wal"]
                        if os.path.exists(p))
    stats = server.stats()
    held = stats["buckets"][dest]
    verified = held["digest"] == stats["buckets"]["src"]["digest"] and held["objects"] == objects
    return {"tool": tool, "status": status, "wall": wall, "objects": held["objects"],
            "cpu": cpu, "server_cpu": server_cpu, "rss": rss,
            "requests": stats["requests"] - before, "verified": verified,
            "catalogue_bytes": catalogue, "catalogue_bytes_vacuumed": vacuumed, "db_cpu": db_cpu,
            "db_rss": db_rss, "server_rss": peak_rss_mib(server.process.pid)}


def postgres_database():
    """A new database on the bench's PostgreSQL server (`AWCOPY_TEST_POSTGRES`, started by
    bench/run.sh; the password in PGPASSWORD), as a URL without the password."""
    server = os.environ["AWCOPY_TEST_POSTGRES"]
    name = "scale_" + secrets.token_hex(6)
    subprocess.run(["psql", "-q", server, "-c", f"CREATE DATABASE {name}"], check=True)
    return server.rsplit("/", 1)[0] + "/" + name


def peak_rss_mib(pid):
    """The most memory process `pid` has held (VmHWM), in MiB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return 0


def postgres_processes():
    """Every running PostgreSQL process: its pid and the fields of its /proc stat after the
    name (state, ppid, ... utime, stime, cutime, cstime at 11-14)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                name, rest = f.read().split(") ", 1)
        except OSError:
            continue
        if name.endswith("(postgres"):
            found[int(pid)] = rest.split()
    return found


def postgres_peak_rss():
    """The most memory any running PostgreSQL process has held, in MiB (their shared buffers
    are counted in each that touched them, so this, not a sum)."""
    return max([0] + [peak_rss_mib(pid) for pid in postgres_processes()])


def postgres_cpu():
    """CPU seconds of every PostgreSQL process: each one's own, and the server's ended
    children's (backends of past connections) through the server's count of them."""
    stats = postgres_processes()
    total = 0
    for fields in stats.values():
        total += int(fields[11]) + int(fields[12])
        if int(fields[1]) not in stats:
            total += int(fields[13]) + int(fields[14])
    return total / os.sysconf("SC_CLK_TCK")


def run_memory(server, scratch, objects, kill_after):
    """awcopy's peak RSS at this size beyond `cp`: a no-op `sync --delete` and a `check` of
    the bucket awcopy copied, and the resume of a `cp` killed with SIGKILL after
    `kill_after` seconds (its destination then checked by the server's digest)."""
    env = server.env()
    env["AWCOPY_DB"] = os.path.join(scratch, "memory.db")
    aw = [AWCOPY, "--endpoint-url", server.url]
    rows = []
    for what, args in [
        ("sync --delete (nothing to do)",
         aw + ["sync", "s3://src/", "s3://dst-awcopy/", "--delete", "--yes"]),
        ("check", aw + ["check", "s3://src/", "s3://dst-awcopy/"]),
    ]:
        status, wall, cpu, rss = measured(args, env, stdout=subprocess.DEVNULL)[:4]
        rows.append({"what": what, "status": status, "wall": wall, "cpu": cpu, "rss": rss})
    server.create("dst-resume")
    killed = subprocess.Popen(aw + ["cp", "-r", "s3://src/", "s3://dst-resume/"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(kill_after)
    killed.kill()
    killed.wait()
    held_before = server.stats()["buckets"]["dst-resume"]["objects"]
    listed = subprocess.run(aw + ["jobs", "list", "--json"], env=env, capture_output=True,
                            text=True, check=True)
    job = json.loads(listed.stdout.splitlines()[0])["id"]
    status, wall, cpu, rss = measured(aw + ["jobs", "resume", job], env, stdout=subprocess.DEVNULL)[:4]
    stats = server.stats()
    held = stats["buckets"]["dst-resume"]
    verified = held["digest"] == stats["buckets"]["src"]["digest"] and held["objects"] == objects
    rows.append({"what": f"resume of a cp killed at {held_before:,} objects", "status": status,
                 "wall": wall, "cpu": cpu, "rss": rss, "verified": verified})
    return rows


LISTINGS = {
    "awcopy, one range": [AWCOPY, "ls", "-r", "s3://src/"],
    "awcopy, 8 ranges": [AWCOPY, "ls", "-r", "--list-parallelism", "8", "s3://src/"],
    "aws": ["aws", "s3", "ls", "--recursive", "s3://src"],
}


# A cloud answers a page of 1,000 keys in tens of milliseconds; the in-memory server at once.
LIST_DELAY_MS = 50


def run_listing(tool, server, endpoint, delay_ms):
    program, *rest = LISTINGS[tool]
    args = [program, "--endpoint-url", endpoint] + rest
    before, server_cpu = server.stats()["requests"], server.cpu()
    with tempfile.TemporaryFile("w+") as shown:
        status, wall, cpu, rss = measured(args, server.env(), stdout=shown)[:4]
        shown.seek(0)
        # One line per key; awcopy then prints a blank line and its summary.
        keys = sum(1 for _ in itertools.takewhile(lambda line: line.strip(), shown))
    return {"tool": tool, "delay_ms": delay_ms, "status": status, "wall": wall, "cpu": cpu,
            "rss": rss, "server_cpu": server.cpu() - server_cpu, "keys": keys,
            "requests": server.stats()["requests"] - before}


def report(copies, listings, memory, objects, command_line):
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "an unknown commit"
    lines = [f"# Scale bench: {objects:,} objects of 4 bytes, S3 -> S3 server-side", "",
             f"`{command_line}` at {commit} on {os.cpu_count()} cores. Server: bench/s3mem "
             "(the `s3s` crate's S3 protocol with SigV4 checks, objects in memory), the same process for "
             "every tool; each tool copies into a bucket of its own. CPU per object counts the "
             "tool's processes (for awcopy-serve: the service and the client); server CPU is "
             "the server's share of the same run. Verified: the destination holds every key "
             "with the source's ETag (the server's digest).", "",
             "| tool | wall s | objects/s | tool CPU µs/object | server CPU µs/object | "
             "peak RSS MiB | requests/object | verified |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in copies:
        lines.append(
            f"| {r['tool']} | {r['wall']:.1f} | {objects / r['wall']:,.0f} | "
            f"{r['cpu'] / objects * 1e6:.0f} | {r['server_cpu'] / objects * 1e6:.0f} | "
            f"{r['rss']:.0f} | {r['requests'] / objects:.3f} | "
            f"{'yes' if r['verified'] and r['status'] == 0 else 'NO (exit %d)' % r['status']} |")
    by = {r["tool"]: r for r in copies}
    lines.append("")
    if "awcopy" in by:
        aw = by["awcopy"]
        rate = objects / aw["wall"]
        for peer in ["ceiling", "s5cmd", "rclone"]:
            if peer in by:
                lines.append(f"- awcopy vs {peer}: {rate / (objects / by[peer]['wall']):.2f}x "
                             f"objects/s, {aw['cpu'] / by[peer]['cpu']:.2f}x CPU per object")
        if aw["catalogue_bytes"]:
            lines.append(f"- awcopy's catalogue after the run: "
                         f"{aw['catalogue_bytes'] / objects:.0f} bytes per object "
                         f"({aw['catalogue_bytes'] / 2**20:.0f} MiB)")
    for tool, on in [("awcopy-serve", "SQLite"), ("awcopy-serve-pg", "PostgreSQL")]:
        if tool in by and by[tool]["catalogue_bytes"]:
            r = by[tool]
            line = (f"- {tool}: the service's catalogue in {on}, "
                    f"{r['catalogue_bytes'] / objects:.0f} bytes per object")
            if r.get("catalogue_bytes_vacuumed"):
                line += f" ({r['catalogue_bytes_vacuumed'] / objects:.0f} after VACUUM)"
            if r.get("db_cpu") is not None:
                line += f"; PostgreSQL's CPU {r['db_cpu'] / objects * 1e6:.0f} µs/object"
            if r.get("db_rss"):
                line += f", its largest process's peak RSS {r['db_rss']:.0f} MiB"
            lines.append(line)
    if copies and copies[-1].get("server_rss"):
        lines.append(f"- the S3 server's peak RSS (every bucket in memory, the source's and each "
                     f"tool's copy): {copies[-1]['server_rss']:,.0f} MiB")
    if "awcopy-serve" in by and "awcopy-serve-pg" in by:
        lines.append(f"- the service on PostgreSQL vs on SQLite: "
                     f"{by['awcopy-serve']['wall'] / by['awcopy-serve-pg']['wall']:.2f}x objects/s")
    if memory:
        lines += ["", f"## awcopy at {objects:,} objects: sync, check, resume", "",
                  "| run | wall s | CPU s | peak RSS MiB | exit |", "|---|---:|---:|---:|---|"]
        for r in memory:
            done = "0" if r["status"] == 0 else str(r["status"])
            if "verified" in r:
                done += ", every object verified" if r["verified"] else ", NOT verified"
            lines.append(f"| {r['what']} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rss']:.0f} "
                         f"| {done} |")
    if listings:
        lines += ["", f"## `ls -r` of the {objects:,} keys", "",
                  f"Straight to the server, then through bench's fault proxy adding {LIST_DELAY_MS} "
                  "ms to every request (a cloud's time to answer a page).", "",
                  "| tool | added ms/request | wall s | CPU s | peak RSS MiB | requests | "
                  "server CPU s | keys shown |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in listings:
            shown = f"{r['keys']:,}" if r["keys"] == objects and r["status"] == 0 else \
                f"NO: {r['keys']:,} (exit {r['status']})"
            lines.append(f"| {r['tool']} | {r['delay_ms']} | {r['wall']:.1f} | {r['cpu']:.1f} | "
                         f"{r['rss']:.0f} | {r['requests']} | {r['server_cpu']:.1f} | {shown} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--tools",
                        default="ceiling,awcopy,awcopy-serve,awcopy-serve-pg,s5cmd,rclone")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench/RESULTS-scale.md"))
    parser.add_argument("--command", default="bench/run.sh scale")
    parser.add_argument("--quick", action="store_true", help="100,000 objects")
    parser.add_argument("--copies-only", action="store_true",
                        help="no listings: a run comparing copies (e.g. the service's catalogues)")
    parser.add_argument("--reps", type=int, default=1, choices=[1],
                        help="one pass: a repetition at this size costs minutes per tool")
    args = parser.parse_args()
    if args.quick:
        args.objects = min(args.objects, 100_000)
    server = Server(args.objects)
    os.environ.update(server.env())
    copies, listings, memory = [], [], []
    try:
        with tempfile.TemporaryDirectory(prefix="awcopy-scale-") as scratch:
            for delay_ms in [] if args.copies_only else [0, LIST_DELAY_MS]:
                proxy = Proxy(server.url, ["--delay-ms", str(delay_ms)]) if delay_ms else None
                try:
                    for tool in LISTINGS:
                        print(f"ls -r: {tool}, {delay_ms} ms added", file=sys.stderr)
                        endpoint = proxy.url if proxy else server.url
                        listings.append(run_listing(tool, server, endpoint, delay_ms))
                finally:
                    if proxy:
                        proxy.stop()
            for tool in args.tools.split(","):
                print(f"copy: {tool}", file=sys.stderr)
                copies.append(run_copy(tool, server, scratch, args.objects))
                print(f"  {json.dumps(copies[-1])}", file=sys.stderr)
            if "awcopy" in args.tools.split(","):
                print("awcopy: sync, check, resume", file=sys.stderr)
                kill_after = next(r["wall"] for r in copies if r["tool"] == "awcopy") / 3
                memory = run_memory(server, scratch, args.objects, kill_after)
                print(f"  {json.dumps(memory)}", file=sys.stderr)
    finally:
        server.stop()
    save(args.out, report(copies, listings, memory, args.objects, args.command),
         {"objects": args.objects, "copies": copies, "listings": listings, "memory": memory})


if __name__ == "__main__":
    main()
