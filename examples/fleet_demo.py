"""``make fleet-demo``: a local Ray cluster (a head and two labelled nodes, each its own raylet, all on
127.0.0.1), the fleet bake-off of examples/fleet.json on the embedded models through the command a
user types, then the cluster stopped. Prints where the report is and how long each part took.

    .venv/bin/python examples/fleet_demo.py [--out bakeoff-runs/fleet-demo]

On real machines the cluster is started by hand instead (README, "The fleet bake-off"):
``ray start --head`` on the coordinator, ``ray start --address HEAD:6379 --labels bakeoff-group=...``
on each machine, then ``bakeoff fleet examples/fleet.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # Ray's own address lookup answers 127.0.0.1
LOOPBACK = "127.0.0.1"
HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bakeoff-runs/fleet-demo")
    ap.add_argument("--fleet", default=str(HERE / "fleet.json"))
    args = ap.parse_args()
    try:
        from ray.cluster_utils import Cluster
    except ImportError:
        print("the fleet demo needs Ray: pip install 'bakeoff[fleet]' (make install does)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": LOOPBACK})
    for group in ("laptop-8gb", "workstation"):
        cluster.add_node(num_cpus=1, labels={"bakeoff-group": group}, node_ip_address=LOOPBACK)
    cluster.wait_for_nodes()
    started = time.perf_counter() - t0
    print(
        f"cluster: a head and 2 labelled nodes at {cluster.address}, started in {started:.1f} s", flush=True
    )
    try:
        bakeoff = Path(sys.executable).with_name("bakeoff")
        cmd = [
            str(bakeoff),
            "fleet",
            args.fleet,
            "--address",
            cluster.address,
            "--out",
            args.out,
            "--overwrite",
        ]
        print("$ " + " ".join(cmd), flush=True)
        t1 = time.perf_counter()
        code = subprocess.call(cmd)
        ran = time.perf_counter() - t1
    finally:
        t2 = time.perf_counter()
        cluster.shutdown()
        stopped = time.perf_counter() - t2
    print(f"\nfleet run: {ran:.1f} s (exit {code}); cluster start {started:.1f} s, stop {stopped:.1f} s")
    print(f"report: {args.out}/fleet.md (also fleet.html, .csv, .json; each node's run: {args.out}/nodes/)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
