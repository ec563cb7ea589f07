#!/usr/bin/env python3
"""Two awcopy builds side by side on the scale bench's copy rows: one bench/s3mem seeded with
N tiny objects, the builds alternating (before, after, after, before, ...), each run into a
bucket of its own and verified by the server's digest. For a change that must not make the
hot path slower (issue #32): CPU per object of each build, in one sitting.

    bench/scale_ab.py --before /tmp/awcopy-before --after target/release/awcopy \\
        [--objects 1000000] [--reps 2] [--tools awcopy,awcopy-serve]

Needs what `bench/run.sh scale` sets up (its venv on PATH, bench/s3mem built). Prints one
JSON row per run.
"""
import argparse
import json
import os
import tempfile

import bench
import scale


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the awcopy binary before the change")
    parser.add_argument("--after", required=True, help="the awcopy binary after it")
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--tools", default="awcopy,awcopy-serve")
    args = parser.parse_args()
    builds = [("before", os.path.abspath(args.before)), ("after", os.path.abspath(args.after))]
    server = scale.Server(args.objects)
    os.environ.update(server.env())
    try:
        with tempfile.TemporaryDirectory(prefix="awcopy-ab-") as scratch:
            for rep in range(args.reps):
                for name, path in (builds if rep % 2 == 0 else builds[::-1]):
                    bench.AWCOPY = scale.AWCOPY = path
                    for tool in args.tools.split(","):
                        row = scale.run_copy(tool, server, scratch, args.objects,
                                             dest=f"dst-{tool}-{name}-{rep}")
                        row["cpu_us_per_object"] = round(row["cpu"] / args.objects * 1e6, 1)
                        print(json.dumps({"build": name, "rep": rep, **row}), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
