#!/usr/bin/env python3
"""Two awcopy builds side by side on the service at a round trip: `awcopy serve --agents 4`
(bench.Service) and `cp --via --wait` copying N tiny objects S3 -> S3 on bench/s3mem, every
request (the service's, its agents' and the client's) through the fault proxy's delay. The
builds alternate; each run goes into a bucket of its own, verified by the server's digest.

    bench/serve_rtt_ab.py --before /tmp/awcopy-before --after target/release/awcopy \\
        [--objects 20000] [--delay-ms 50] [--reps 2]

Needs what `bench/run.sh scale` sets up (its venv's python, bench/s3mem built). Prints one
JSON row per run.
"""
import argparse
import json
import os
import tempfile

import bench
import scale


class Behind:
    """The server as the tools see it: at the proxy's URL; stats and buckets from the server."""

    def __init__(self, server, url):
        self.server, self.url = server, url

    def __getattr__(self, name):
        return getattr(self.server, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the awcopy binary before the change")
    parser.add_argument("--after", required=True, help="the awcopy binary after it")
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--delay-ms", type=int, default=50)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    builds = [("before", os.path.abspath(args.before)), ("after", os.path.abspath(args.after))]
    server = scale.Server(args.objects)
    os.environ.update(server.env())
    proxy = bench.Proxy(server.url, ["--delay-ms", str(args.delay_ms)])
    behind = Behind(server, proxy.url)
    try:
        with tempfile.TemporaryDirectory(prefix="awcopy-serve-rtt-") as scratch:
            for rep in range(args.reps):
                for name, path in (builds if rep % 2 == 0 else builds[::-1]):
                    bench.AWCOPY = scale.AWCOPY = path
                    dest = f"dst-{name}-{rep}"
                    server.create(dest)
                    service = bench.Service(scratch, proxy.url)
                    command, env = scale.copy_command("awcopy-serve", behind, dest, service)
                    env["AWCOPY_DB"] = os.path.join(scratch, f"{dest}.db")
                    status, wall, cpu, _ = bench.measured(command, env,
                                                          stdout=bench.subprocess.DEVNULL)[:4]
                    service_cpu, _ = service.stop()
                    stats = server.stats()
                    held = stats["buckets"][dest]
                    verified = (held["digest"] == stats["buckets"]["src"]["digest"]
                                and held["objects"] == args.objects)
                    print(json.dumps({"build": name, "rep": rep, "status": status,
                                      "wall": round(wall, 2),
                                      "cpu_us_per_object": round((cpu + service_cpu)
                                                                 / args.objects * 1e6),
                                      "verified": verified}), flush=True)
    finally:
        proxy.stop()
        server.stop()


if __name__ == "__main__":
    main()
