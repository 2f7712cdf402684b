"""The fleet bake-off on a real local Ray cluster (issue 14): a head and two labelled worker nodes,
each a separate raylet on this machine, every server on 127.0.0.1. One report from the embedded
models with every record tagged with its node and a recommendation per group and fleet-wide; a node
removed mid-run keeps what it sent and the other finishes; no node matching a group is a clear error."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bakeoff.errors import UsageError
from bakeoff.testing import FakePlan, FakeServer
from tests.conftest import needs
from tests.test_cli import run

os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})  # Ray's address lookup: 127.0.0.1
LOOPBACK = "127.0.0.1"
pytestmark = needs(importlib.util.find_spec("ray") is not None, "ray (bakeoff[fleet])", "BAKEOFF_REQUIRE_RAY")


def start_cluster() -> tuple[Any, Any, Any]:
    """A head (no CPUs: nothing runs there) and two labelled nodes, each its own raylet on loopback."""
    from ray.cluster_utils import Cluster

    fast_health = {"health_check_period_ms": 500, "health_check_failure_threshold": 3}
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "node_ip_address": LOOPBACK,
                                                      "_system_config": fast_health})  # fmt: skip
    laptop = c.add_node(num_cpus=1, labels={"bakeoff-group": "laptop"}, node_ip_address=LOOPBACK)
    ws = c.add_node(num_cpus=1, labels={"bakeoff-group": "workstation"}, resources={"bakeoff-ws": 1},
                    node_ip_address=LOOPBACK)  # fmt: skip
    return c, laptop, ws


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Any, Any, Any]]:
    c, laptop, ws = start_cluster()
    try:
        yield c, laptop, ws
    finally:
        c.shutdown()


def test_a_fleet_bakeoff_of_the_embedded_models(cluster: tuple[Any, Any, Any], tmp_path: Path) -> None:
    c, laptop, ws = cluster
    (tmp_path / "prompts.json").write_text('["Summarize: the meeting moved to Tuesday."]')
    fleet_file = tmp_path / "fleet.json"
    laptop_group = {"labels": {"bakeoff-group": "laptop"}, "models": ["smollm2-135m"], "max_memory_mb": 8000}
    ws_group = {"labels": {"bakeoff-group": "workstation"}, "models": ["smollm2-135m", "gemma3-270m"]}
    fleet_file.write_text(json.dumps({
        "groups": {"laptop-8gb": laptop_group, "workstation": ws_group},
        "settings": {"rounds": 1, "max_tokens": 4, "warmup": 0},
        "prompts": "prompts.json",
    }))  # fmt: skip
    out = tmp_path / "fleet"
    r = run("fleet", str(fleet_file), "--address", c.address, "--out", str(out), timeout=400)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fleet-wide" in r.stdout and f"{out}/fleet.md" in r.stdout
    fs = json.loads((out / "fleet.json").read_text())
    groups = {g["name"]: g for g in fs["groups"]}
    (lap,) = groups["laptop-8gb"]["nodes"]
    (wks,) = groups["workstation"]["nodes"]
    assert lap["node_id"] == laptop.node_id and wks["node_id"] == ws.node_id  # each group on its own node
    assert lap["status"] == wks["status"] == "ok" and lap["labels"] == {"bakeoff-group": "laptop"}
    assert lap["environment"]["ram_gb"] > 0 and lap["bakeoff_version"] == fs["tool"]["version"]
    # every record tagged with the node that ran it; each node ran its own group's models
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert Counter((r["node"]["group"], r["model"]) for r in recs) == {
        ("laptop-8gb", "smollm2-135m"): 1,
        ("workstation", "smollm2-135m"): 1,
        ("workstation", "gemma3-270m"): 1,
    }
    for rec in recs:
        n = lap if rec["node"]["group"] == "laptop-8gb" else wks
        assert rec["node"]["id"] == n["node_id"] and rec["node"]["labels"] == n["labels"]
        assert rec["status"] == "ok" and len(rec["events"]) == 4 and rec["metrics"]["ttft_s"] > 0
    assert lap["records"] + wks["records"] == len(recs) == 3
    # each node's folder is a bench run of its own, with the same records
    for n in (lap, wks):
        folder = out / n["folder"]
        node_recs = (folder / "records.jsonl").read_text().splitlines()
        assert len(node_recs) == n["records"] and "node" not in json.loads(node_recs[0])
        assert run("report", str(folder), "--format", "md", "--no-write").returncode == 0
    # the matrix, a pick per group and one for the fleet
    cells = {(m["model"], m["group"]): m for m in fs["matrix"]}
    assert set(cells) == {("smollm2-135m", "laptop-8gb"), ("smollm2-135m", "workstation"),
                          ("gemma3-270m", "workstation")}  # fmt: skip
    assert all(m["status"] == "ok" and m["decode_tokens_per_s"] > 0 for m in cells.values())
    assert cells[("smollm2-135m", "laptop-8gb")]["fits"] is True
    assert groups["laptop-8gb"]["recommendation"]["winner"] == "smollm2-135m"  # its only model
    assert groups["workstation"]["recommendation"]["winner"] in ("smollm2-135m", "gemma3-270m")
    # only smollm2 ran on every group: the fleet-wide default, chosen on the laptops
    assert fs["fleet_recommendation"]["winner"] == "smollm2-135m"
    assert "laptop-8gb (the smallest)" in fs["fleet_recommendation"]["why"]
    md = (out / "fleet.md").read_text()
    assert (
        "## Decode tokens/s (p50)" in md
        and "| smollm2-135m |" in md
        and "Fleet-wide default: smollm2-135m" in md
    )
    assert (out / "fleet.csv").read_text().startswith("model,group,nodes,status,decode_tokens_per_s")
    assert "<h1>Fleet bake-off</h1>" in (out / "fleet.html").read_text()


def test_a_users_gguf_runs_from_the_nodes_copy_or_is_shipped_and_checked(
    cluster: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    """A models-file GGUF: the laptops (ship_models always) get it through the object store, checked
    against its sha256; the workstation (auto) holds the same bytes at the same path and uses them; a
    model no one has fails on that node only. With --ship-bakeoff every node imports the driver's
    bakeoff package, sent by Ray's runtime_env."""
    import hashlib
    import shutil

    import bakeoff
    from bakeoff.models import embedded

    c, laptop, ws = cluster
    smol = embedded.EMBEDDED["smollm2-135m"]
    embedded.ensure(smol)
    gguf = tmp_path / "models" / "my-smol.gguf"
    gguf.parent.mkdir()
    shutil.copyfile(embedded.model_path(smol), gguf)
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    (tmp_path / "models.json").write_text(json.dumps({
        "my-smol": {"path": "models/my-smol.gguf"},
        "elsewhere": {"path": str(tmp_path / "nowhere" / "other.gguf")},
    }))  # fmt: skip
    fleet_file = tmp_path / "fleet.json"
    fleet_file.write_text(json.dumps({
        "groups": {
            "laptop": {"labels": {"bakeoff-group": "laptop"}, "models": ["my-smol"], "ship_models": "always"},
            "workstation": {"resources": {"bakeoff-ws": 1}, "models": ["my-smol", "elsewhere"]},  # resource
        },
        "settings": {"rounds": 1, "max_tokens": 4, "warmup": 0},
        "prompts": "suite:session",
        "models_file": "models.json",
    }))  # fmt: skip
    out = tmp_path / "fleet"
    r = run(
        "fleet", str(fleet_file), "--address", c.address, "--out", str(out), "--ship-bakeoff", timeout=400
    )
    assert r.returncode == 0, r.stdout + r.stderr  # a model missing on a node is not a node's failure
    fs = json.loads((out / "fleet.json").read_text())
    (lap,) = next(g for g in fs["groups"] if g["name"] == "laptop")["nodes"]
    (wks,) = next(g for g in fs["groups"] if g["name"] == "workstation")["nodes"]
    assert (lap["node_id"], wks["node_id"]) == (laptop.node_id, ws.node_id)
    shipped = lap["model_files"]["my-smol"]
    assert (
        shipped.startswith("shipped from the driver: 98.4 MB in ")
        and f"sha256 {digest[:12]} checked" in shipped
    )
    kept = Path(shipped.rpartition("kept at ")[2])
    assert kept != gguf and kept.parent.name == digest[:32]
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == digest
    assert (
        wks["model_files"]["my-smol"]
        == f"found at {gguf} on the node (sha256 {digest[:12]} matches the driver's)"
    )
    missing = f"not on this node at {tmp_path / 'nowhere' / 'other.gguf'}, and the driver has no copy to ship"
    assert wks["model_files"]["elsewhere"] == missing
    # each node ran the file it was given: the laptop its shipped copy, the workstation its own
    paths = {}
    for n in (lap, wks):
        node_summary = json.loads((out / n["folder"] / "summary.json").read_text())
        paths[n["group"]] = {
            m["model"]: (m["status"], m["info"].get("path"), m["error"]) for m in node_summary["models"]
        }
        assert f"model my-smol: {n['model_files']['my-smol']}" in node_summary["run"]["notes"]
    assert paths["laptop"] == {"my-smol": ("ok", str(kept), None)}
    assert paths["workstation"]["my-smol"] == ("ok", str(gguf), None)
    assert paths["workstation"]["elsewhere"][0] == "error" and missing in paths["workstation"]["elsewhere"][2]
    cells = {(m["model"], m["group"]): m["status"] for m in fs["matrix"]}
    assert cells[("my-smol", "laptop")] == cells[("my-smol", "workstation")] == "ok"
    assert missing in cells[("elsewhere", "workstation")]
    # --ship-bakeoff: both nodes imported the driver's package from Ray's runtime resources
    here = str(Path(bakeoff.__file__).parent)
    for n in (lap, wks):
        assert n["bakeoff_path"] != here and "runtime_resources" in n["bakeoff_path"], n["bakeoff_path"]
        assert n["bakeoff_version"] == bakeoff.__version__
    md = (out / "fleet.md").read_text()
    assert (
        "## Model files" in md
        and f"| laptop | {lap['node_id'][:8]} | my-smol | shipped from the driver" in md
    )


def test_no_node_with_a_groups_labels_is_a_clear_error(cluster: tuple[Any, Any, Any], tmp_path: Path) -> None:
    from bakeoff.config.settings import BenchSettings, PromptCase
    from bakeoff.fleet.driver import run_fleet
    from bakeoff.fleet.spec import FleetSpec, GroupSpec

    c, _, _ = cluster
    spec = FleetSpec(groups={"arm": GroupSpec(labels={"bakeoff-group": "arm"}, models=["smollm2-135m"])})
    with pytest.raises(UsageError, match="no alive Ray node matches any group's labels") as exc:
        run_fleet(
            spec, BenchSettings(models=[]), [PromptCase(id="p", prompt="hi")], tmp_path / "f", c.address
        )
    assert "bakeoff-group=laptop" in str(exc.value) and "bakeoff-group=workstation" in str(exc.value)


def test_a_node_lost_mid_run_keeps_what_it_sent(tmp_path: Path) -> None:
    """Through the command a user types: the laptop node is removed after its second record; the run
    goes on, keeps what it sent, says `node lost`, and exits 1 as the README documents."""
    import subprocess
    import time

    from tests.test_cli import BAKEOFF

    slow, quick = FakePlan(ttft_ms=100, itl_ms=20, tokens=20), FakePlan(ttft_ms=20, itl_ms=2, tokens=8)
    c, laptop, _ = start_cluster()
    out = tmp_path / "f"
    try:
        with FakeServer(quick, {"slow": slow, "quick": quick}) as srv:
            fleet_file = tmp_path / "fleet.json"
            fleet_file.write_text(json.dumps({
                "groups": {"laptop": {"labels": {"bakeoff-group": "laptop"}, "models": ["slow"]},
                           "workstation": {"labels": {"bakeoff-group": "workstation"}, "models": ["quick"]}},
                "settings": {"endpoint": srv.base_url, "rounds": 20, "warmup": 0},
                "prompts": "prompts.json",
            }))  # fmt: skip
            (tmp_path / "prompts.json").write_text('["one", "two"]')
            proc = subprocess.Popen(
                [BAKEOFF, "fleet", str(fleet_file), "--address", c.address, "--out", str(out)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("BENCH_")},
            )  # fmt: skip
            rec, deadline = out / "records.jsonl", time.time() + 120
            while time.time() < deadline:  # after the laptop's second record, pull its plug
                lines = rec.read_text().splitlines() if rec.exists() else []
                if sum('"group":"laptop"' in line for line in lines) >= 2:
                    break
                time.sleep(0.05)
            c.remove_node(laptop, allow_graceful=False)
            stdout, stderr = proc.communicate(timeout=180)
    finally:
        c.shutdown()
    assert proc.returncode == 1, stdout + stderr  # a node lost: the others' results kept, exit 1
    assert "node lost" in stderr
    fs = json.loads((out / "fleet.json").read_text())
    groups = {g["name"]: g for g in fs["groups"]}
    (lost,) = groups["laptop"]["nodes"]
    (done,) = groups["workstation"]["nodes"]
    assert lost["status"] == "node lost" and lost["error"].startswith(
        f"node lost after {lost['records']} records"
    )
    assert 2 <= lost["records"] < 40
    assert done["status"] == "ok" and done["records"] == 40  # 2 prompts x 20 rounds: the other node finished
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    by_node = Counter(r["node"]["group"] for r in recs)
    assert by_node == {"laptop": lost["records"], "workstation": 40}  # what the lost node sent is kept
    assert all(r["status"] == "ok" for r in recs)
    # its rows say so: the matrix, the node's own rebuilt summary and the report
    cell = next(m for m in fs["matrix"] if m["group"] == "laptop")
    assert cell["status"] == "node lost" and cell["nodes"] == 1 and cell["latency_p50_s"] is not None
    node_summary = json.loads((out / lost["folder"] / "summary.json").read_text())
    assert node_summary["models"][0]["error"].startswith("node lost: node lost after")
    assert "node lost" in (out / "fleet.md").read_text()
    assert fs["fleet_recommendation"]["winner"] is None  # no model ran ok on both groups


def test_ctrl_c_on_the_driver_stops_every_node_and_keeps_what_arrived(
    cluster: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    import signal
    import subprocess
    import time

    from tests.test_cli import BAKEOFF

    c, _, _ = cluster
    slow = FakePlan(ttft_ms=100, itl_ms=20, tokens=20)
    with FakeServer(slow, {"slow": slow}) as srv:
        fleet_file = tmp_path / "fleet.json"
        fleet_file.write_text(json.dumps({
            "groups": {"laptop": {"labels": {"bakeoff-group": "laptop"}, "models": ["slow"]},
                       "workstation": {"labels": {"bakeoff-group": "workstation"}, "models": ["slow"]}},
            "settings": {"endpoint": srv.base_url, "rounds": 50, "warmup": 0},
        }))  # fmt: skip
        out = tmp_path / "fleet"
        proc = subprocess.Popen(
            [BAKEOFF, "fleet", str(fleet_file), "--address", c.address, "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        rec = out / "records.jsonl"
        deadline = time.time() + 120
        while time.time() < deadline and not (rec.exists() and rec.read_text().count("\n") >= 4):
            time.sleep(0.1)
        before = rec.read_text().splitlines()
        assert len(before) >= 4, "no records before Ctrl-C"
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("fleet did not stop within 60 s of Ctrl-C")
    assert proc.returncode == 130, err
    fs = json.loads((out / "fleet.json").read_text())
    assert fs["interrupted"] is True
    nodes = [n for g in fs["groups"] for n in g["nodes"]]
    assert [n["status"] for n in nodes] == ["interrupted", "interrupted"]
    after = rec.read_text().splitlines()
    assert after[: len(before)] == before and sum(n["records"] for n in nodes) == len(after)
    assert "interrupted" in (out / "fleet.md").read_text()
    # the nodes' actors are gone: no process of the cluster is still a NodeBench (Ray names each
    # actor's worker process after its class)
    import psutil

    def senders() -> list[str]:
        found = []
        for p in psutil.process_iter(["cmdline"]):
            line = " ".join(p.info["cmdline"] or [])
            if "ray::NodeBench" in line:
                found.append(line)
        return found

    deadline = time.time() + 20
    while senders() and time.time() < deadline:
        time.sleep(0.2)
    assert senders() == []


def test_one_open_loop_split_across_two_nodes(cluster: tuple[Any, Any, Any], tmp_path: Path) -> None:
    c, laptop, ws = cluster
    quick = FakePlan(ttft_ms=20, itl_ms=2, tokens=8)
    out = tmp_path / "split"
    with FakeServer(quick, {"quick": quick}) as srv:
        r = run("bench", "--endpoint", srv.base_url, "--models", "quick", "--prompt", "hi", "--rounds", "80",
                "--rate", "40", "--warmup", "0", "--load-nodes", "2", "--address", c.address,
                "--out", str(out), timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert sorted(rec["round"] for rec in recs) == list(range(1, 81))  # every request once
    assert Counter(rec["node"]["id"] for rec in recs) == {laptop.node_id: 40, ws.node_id: 40}
    assert all(rec["status"] == "ok" for rec in recs)
    # node 0 sent rounds 1, 3, 5...; node 1 rounds 2, 4, 6...: one schedule, 25 ms apart on one clock
    by_round = sorted(recs, key=lambda rec: rec["round"])
    assert (
        len({rec["node"]["id"] for rec in by_round[0::2]})
        == len({rec["node"]["id"] for rec in by_round[1::2]})
        == 1
    )
    gaps = [(b["t_scheduled_ns"] - a["t_scheduled_ns"]) / 1e6 for a, b in itertools.pairwise(by_round)]
    assert all(abs(g - 25.0) < 1.0 for g in gaps), (min(gaps), max(gaps))
    s = json.loads((out / "summary.json").read_text())
    m = s["models"][0]
    assert m["requests"]["ok"] == 80
    # the merged rate over the common window: 80 requests in 79 x 25 ms + the last answer's ~40 ms
    assert m["request_throughput_per_s"] == pytest.approx(40.0, rel=0.05)
    assert any("load split across 2 Ray nodes" in n and "clock" in n for n in s["run"]["notes"])
    assert s["run"]["settings"]["rate"] == 40.0


def test_a_sweep_split_across_two_nodes(cluster: tuple[Any, Any, Any], tmp_path: Path) -> None:
    """The synchronous stage is node 0's alone; the throughput stage's width and every rate stage's
    schedule are shared; each stage starts once both nodes finished the one before; the rates come
    from the merged stages (worked out here again from the records)."""
    c, laptop, ws = cluster
    plan = FakePlan(ttft_ms=40, itl_ms=5, tokens=6)
    out = tmp_path / "sweep"
    with FakeServer(plan, {"m": plan}) as srv:
        r = run("bench", "--endpoint", srv.base_url, "--models", "m", "--prompt", "hi", "--warmup", "0",
                "--profile", "sweep=4", "--stage-requests", "12", "--max-concurrency", "4",
                "--load-nodes", "2", "--address", c.address, "--out", str(out), timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert all(rec["status"] == "ok" and not rec["warmup"] for rec in recs)
    stages = list(dict.fromkeys(rec["stage"] for rec in sorted(recs, key=lambda rec: rec["t0_ns"])))
    assert stages[:2] == ["sync", "throughput c=4"] and len(stages) == 4
    by_stage = {st: [rec for rec in recs if rec["stage"] == st] for st in stages}
    nodes = {laptop.node_id, ws.node_id}
    (first,) = {rec["node"]["id"] for rec in by_stage["sync"]}  # one node, one request at a time
    assert first in nodes and len(by_stage["sync"]) == 12
    for st in stages[1:]:  # 12 requests a stage, 6 from each node
        assert Counter(rec["node"]["id"] for rec in by_stage[st]) == dict.fromkeys(nodes, 6), st
    for before, after in itertools.pairwise(stages):  # a stage starts once every node ended the last
        assert min(rec["t0_ns"] for rec in by_stage[after]) > max(rec["t_end_ns"] for rec in by_stage[before])

    def rate(st: str) -> float:  # completions per second between the first and the last answer
        ends = sorted(rec["t_end_ns"] for rec in by_stage[st])
        return (len(ends) - 1) / ((ends[-1] - ends[0]) / 1e9)

    sync, most = rate("sync"), rate("throughput c=4")
    assert most > 1.5 * sync  # 4 in flight from two nodes outpace one at a time
    step = (most - sync) / 2
    assert [float(st.removeprefix("rate=").removesuffix("/s")) for st in stages[2:]] == pytest.approx(
        [sync + step, sync + 2 * step], rel=1e-4
    )
    s = json.loads((out / "summary.json").read_text())
    assert [st["label"] for st in s["models"][0]["load"]["stages"]] == stages
    assert s["models"][0]["requests"]["ok"] == 48


def test_load_nodes_needs_an_endpoint_and_a_rate(tmp_path: Path) -> None:
    r = run("bench", "--models", "smollm2-135m", "--load-nodes", "2", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "--load-nodes splits one endpoint's load" in r.stderr
    r = run("bench", "--endpoint", "http://127.0.0.1:1/v1", "--models", "m", "--profile", "rates=1,2",
            "--max-seconds", "30", "--load-nodes", "2", "--out", str(tmp_path / "y"))  # fmt: skip
    assert r.returncode == 2 and "--load-nodes cannot take --max-seconds" in r.stderr
    assert "--stage-seconds or --stage-requests" in r.stderr and not (tmp_path / "y").exists()


def test_a_late_warm_up_never_bunches_the_schedule(cluster: tuple[Any, Any, Any], tmp_path: Path) -> None:
    """Each node warms up (a 2 s answer here) before the common start is set: the schedule holds."""
    c, _, _ = cluster
    slow_first = FakePlan(ttft_ms=2000, itl_ms=1, tokens=4)
    out = tmp_path / "late"
    with FakeServer(slow_first, {"slow-first": slow_first}) as srv:
        r = run("bench", "--endpoint", srv.base_url, "--models", "slow-first", "--prompt", "hi",
                "--rounds", "20", "--rate", "10", "--warmup", "1", "--load-nodes", "2",
                "--address", c.address,
                "--out", str(out), timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    measured = sorted((rec for rec in recs if not rec["warmup"]), key=lambda rec: rec["round"])
    assert len(measured) == 20 and sum(rec["warmup"] for rec in recs) == 2  # one warm-up per node
    warm_end = max(rec["t_end_ns"] for rec in recs if rec["warmup"])
    assert measured[0]["t_scheduled_ns"] > warm_end  # the schedule starts after both warm-ups
    delays = [(rec["t0_ns"] - rec["t_scheduled_ns"]) / 1e6 for rec in measured]
    # each sent at its time: no burst of requests overdue by the 2 s warm-up (one stall on a busy CI
    # machine is jitter, not a burst)
    assert sorted(delays)[len(delays) // 2] < 50 and max(delays) < 500, delays
    gaps = [(b["t_scheduled_ns"] - a["t_scheduled_ns"]) / 1e6 for a, b in itertools.pairwise(measured)]
    assert all(abs(g - 100.0) < 1.0 for g in gaps)


def test_a_cluster_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    fleet_file = tmp_path / "fleet.json"
    fleet_file.write_text(json.dumps({"groups": {"a": {"labels": {"k": "v"}, "models": ["smollm2-135m"]}}}))
    out = tmp_path / "prev"
    out.mkdir()
    (out / "fleet.json").write_text("{}")  # an earlier run: --overwrite must not remove it before starting
    for address in ("127.0.0.1:1", "garbage"):
        r = run("fleet", str(fleet_file), "--address", address, "--out", str(out), "--overwrite", timeout=60)
        assert r.returncode == 2 and f"no Ray cluster answers at {address}" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert (out / "fleet.json").read_text() == "{}"
