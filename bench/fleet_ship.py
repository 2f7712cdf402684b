"""How fast a fleet ships a user's GGUF to its nodes through Ray's object store, against the same bytes
copied and hashed on this disk (what a node does with a copy it already has), in one invocation.

A local Ray cluster (a head and two labelled nodes, each its own raylet on 127.0.0.1) runs a fleet
whose models file names a copy of an embedded GGUF, with ``ship_models: always`` on both groups, so
every run ships it to both nodes; each node's note says how many MB arrived in how many seconds,
sha256 checked. The baseline copies the file and hashes the copy (``shutil.copyfile`` + sha256).

    .venv/bin/python bench/fleet_ship.py [--model qwen2.5-coder-0.5b] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # Ray's own address lookup answers 127.0.0.1
LOOPBACK = "127.0.0.1"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen2.5-coder-0.5b", help="the embedded model whose GGUF is shipped")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from ray.cluster_utils import Cluster

    from bakeoff.fleet.driver import run_fleet
    from bakeoff.fleet.spec import load_fleet_file
    from bakeoff.models import embedded
    from bakeoff.models.embedded import sha256_file

    model = embedded.EMBEDDED[args.model]
    embedded.ensure(model)
    work = Path(tempfile.mkdtemp(prefix="bakeoff-ship-"))
    gguf = work / "mine.gguf"
    shutil.copyfile(embedded.model_path(model), gguf)
    mb = gguf.stat().st_size / 1e6
    (work / "models.json").write_text(json.dumps({"mine": {"path": str(gguf)}}))
    groups = {
        g: {"labels": {"bakeoff-group": g}, "models": ["mine"], "ship_models": "always"} for g in ("a", "b")
    }
    (work / "fleet.json").write_text(json.dumps({
        "groups": groups, "settings": {"rounds": 1, "warmup": 0, "max_tokens": 1},
        "prompts": "suite:session", "models_file": "models.json",
    }))  # fmt: skip
    spec, settings, prompts, _ = load_fleet_file(work / "fleet.json")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": LOOPBACK})
    for g in groups:
        cluster.add_node(num_cpus=1, labels={"bakeoff-group": g}, node_ip_address=LOOPBACK)
    cluster.wait_for_nodes()
    local, shipped = [], []
    try:
        for i in range(args.repeats):
            t0 = time.perf_counter()
            shutil.copyfile(gguf, work / "copy.gguf")
            sha256_file(work / "copy.gguf")
            local.append(time.perf_counter() - t0)
            (work / "copy.gguf").unlink()
            fs = run_fleet(spec, settings, prompts, work / f"run{i}", cluster.address, overwrite=True)
            for g in fs.groups:
                for n in g.nodes:
                    note = n.model_files.get("mine", "")
                    m = re.match(r"shipped from the driver: ([\d.]+) MB in ([\d.]+) s", note)
                    if m is None:
                        print(f"node {n.node_id[:8]}: {note or n.error}", file=sys.stderr)
                        return 1
                    shipped.append(float(m[2]))
            print(f"run {i + 1}: local copy+sha256 {local[-1]:.2f} s; shipped to 2 nodes: "
                  + ", ".join(f"{s:.2f} s" for s in shipped[-2:]), flush=True)  # fmt: skip
    finally:
        cluster.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    ship, copy = statistics.median(shipped), statistics.median(local)
    print(f"\n{args.model}: {mb:.1f} MB. Median over {args.repeats} runs: shipped to a node in {ship:.2f} s "
          f"({mb / ship:.0f} MB/s, two nodes at once); local copy+sha256 {copy:.2f} s "
          f"({mb / copy:.0f} MB/s); ratio {ship / copy:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
