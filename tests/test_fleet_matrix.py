"""The fleet's figures worked by hand (issue 14): which nodes a group selects, the model x group
matrix (medians over a group's nodes, a lost node's cells), each group's pick and the fleet-wide
default under the smallest group's budget; and the fleet file's errors naming file, line and key."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bakeoff.analysis.recommend import Constraints
from bakeoff.errors import ConfigError
from bakeoff.fleet.driver import select_nodes, user_labels
from bakeoff.fleet.matrix import apply_picks, cell, fleet_pick, group_pick, matrix, meets, smallest
from bakeoff.fleet.results import FleetGroup, FleetNode, GroupPick
from bakeoff.fleet.spec import FleetSpec, GroupSpec, fleet_models, load_fleet_file
from bakeoff.metrics.stats import stats
from bakeoff.results.schema import ModelSummary, RunInfo, Summary


def row(name: str, decode: float, ttft: float, latency: float, mem: float | None, fits: bool | None = None,
        status: str = "ok", ceiling: float | None = None,
        quality: float | None = None) -> ModelSummary:  # fmt: skip
    resources: dict[str, object] = {} if mem is None else {"peak_rss_mb": mem}
    if fits is not None:
        resources["fits_memory"] = fits
    if ceiling is not None:
        resources["decode_ceiling_tok_s"] = ceiling
    return ModelSummary(
        model=name, backend="llamacpp", status=status,  # type: ignore[arg-type]
        error=None if status == "ok" else "load failed: boom",
        latency_s=stats([latency, latency]), decode_tokens_per_s=stats([decode, decode]),
        ttft_s=stats([ttft, ttft]), resources=resources, quality={} if quality is None else {"mean": quality},
        info={"license": "Apache-2.0", "capabilities": ["summarize"]},
    )  # fmt: skip


def summary(*models: ModelSummary, ram_gb: float | None = None) -> Summary:
    env = {} if ram_gb is None else {"ram_gb": ram_gb}
    return Summary(run=RunInfo(settings={}, environment=env, started_at="t"), models=list(models))


def node(group: str, key: str, status: str = "ok", ram_gb: float | None = None) -> FleetNode:
    env = {} if ram_gb is None else {"ram_gb": ram_gb}
    return FleetNode(group=group, node_id=key * 8, folder=f"nodes/{group}-{key}", status=status,  # type: ignore[arg-type]
                     environment=env)  # fmt: skip


def test_select_nodes_by_labels() -> None:
    nodes = [
        {
            "NodeID": "c3",
            "Alive": True,
            "Labels": {"bakeoff-group": "laptop", "os": "linux", "ray.io/node-id": "c3"},
        },
        {"NodeID": "a1", "Alive": True, "Labels": {"bakeoff-group": "laptop"}},
        {"NodeID": "b2", "Alive": False, "Labels": {"bakeoff-group": "laptop"}},  # dead: never selected
        {"NodeID": "d4", "Alive": True, "Labels": {"bakeoff-group": "workstation"}},
        {"NodeID": "e5", "Alive": True},  # the head, no labels
    ]
    laptop = GroupSpec(labels={"bakeoff-group": "laptop"}, models=["m"])
    assert [n["NodeID"] for n in select_nodes(nodes, laptop.labels)] == ["a1", "c3"]  # in node-id order
    both = GroupSpec(labels={"bakeoff-group": "laptop", "os": "linux"}, models=["m"])
    assert [n["NodeID"] for n in select_nodes(nodes, both.labels)] == ["c3"]  # every label must match
    one = GroupSpec(labels={"bakeoff-group": "laptop"}, models=["m"], nodes=1)
    assert [n["NodeID"] for n in select_nodes(nodes, one.labels, one.nodes)] == ["a1"]
    assert select_nodes(nodes, GroupSpec(labels={"bakeoff-group": "arm"}, models=["m"]).labels) == []
    assert user_labels(nodes[0]) == {"bakeoff-group": "laptop", "os": "linux"}  # Ray's own left out


def test_select_nodes_by_custom_resources() -> None:
    from bakeoff.fleet.driver import selectors

    nodes = [
        {"NodeID": "a1", "Alive": True, "Resources": {"CPU": 4.0, "laptop-8gb": 1.0}},
        {"NodeID": "b2", "Alive": True, "Resources": {"CPU": 8.0, "GPU": 1.0, "gpu-box": 2.0},
         "Labels": {"os": "linux"}},
        {"NodeID": "c3", "Alive": True, "Resources": {"CPU": 2.0, "gpu-box": 0.5}},  # less than asked
        {"NodeID": "d4", "Alive": False, "Resources": {"gpu-box": 4.0}, "Labels": {"os": "mac"}},
    ]  # fmt: skip
    assert [n["NodeID"] for n in select_nodes(nodes, {}, None, {"gpu-box": 1})] == ["b2"]
    assert [n["NodeID"] for n in select_nodes(nodes, {}, None, {"gpu-box": 0.5})] == ["b2", "c3"]  # at least
    assert [n["NodeID"] for n in select_nodes(nodes, {}, None, {"laptop-8gb": 1})] == ["a1"]
    assert [n["NodeID"] for n in select_nodes(nodes, {}, None, {"GPU": 1, "CPU": 8})] == ["b2"]  # every one
    assert select_nodes(nodes, {"os": "mac"}, None, {"gpu-box": 1}) == []  # labels and resources, alive
    assert [n["NodeID"] for n in select_nodes(nodes, {"os": "linux"}, None, {"gpu-box": 2})] == ["b2"]
    # the hint: labels, then custom resources, never Ray's own (CPU, GPU, memory...) or a dead node's
    assert selectors(nodes) == "os=linux, resource gpu-box, resource laptop-8gb"
    assert selectors([{"NodeID": "h", "Alive": True, "Resources": {"CPU": 1.0, "node:127.0.0.1": 1.0}}]) == (
        "no labels and no custom resources"
    )


def test_a_cell_is_the_median_over_the_groups_nodes() -> None:
    g = FleetGroup(name="laptop", labels={"g": "l"}, models=["A"], max_memory_mb=8000,
                   nodes=[node("laptop", "x"), node("laptop", "y"), node("laptop", "z")])  # fmt: skip
    sums = {
        "nodes/laptop-x": summary(row("A", 10.0, 0.5, 2.0, 300.0, True, ceiling=90.0, quality=4.0)),
        "nodes/laptop-y": summary(row("A", 30.0, 0.1, 4.0, 100.0, True, ceiling=50.0, quality=3.0)),
        "nodes/laptop-z": summary(row("A", 20.0, 0.3, 9.0, 200.0, True, ceiling=70.0)),
    }
    c = cell(g, "A", sums)
    # decode 10, 30, 20 -> 20; TTFT 0.5, 0.1, 0.3 -> 0.3; latency 2, 4, 9 -> 4; memory -> 200;
    # ceiling 90, 50, 70 -> 70; quality 4, 3 (z not judged) -> 3.5
    assert (c.nodes, c.status, c.decode_tokens_per_s, c.ttft_p50_s, c.latency_p50_s, c.peak_memory_mb) == (
        3, "ok", 20.0, 0.3, 4.0, 200.0)  # fmt: skip
    assert c.decode_ceiling_tok_s == 70.0 and c.quality == 3.5 and c.fits is True
    # an even count: the mean of the middle two (10, 30 -> 20 with the third gone)
    two = cell(g, "A", {k: v for k, v in sums.items() if k != "nodes/laptop-z"})
    assert two.decode_tokens_per_s == 20.0 and two.latency_p50_s == 3.0 and two.nodes == 2
    assert two.status == "not run"  # node z finished without a row for A
    # one node does not fit: the group does not; one unknown: unknown
    sums["nodes/laptop-y"] = summary(row("A", 30.0, 0.1, 4.0, 9000.0, False))
    assert cell(g, "A", sums).fits is False
    sums["nodes/laptop-y"] = summary(row("A", 30.0, 0.1, 4.0, None, None))
    assert cell(g, "A", sums).fits is None
    sums["nodes/laptop-z"] = summary(row("A", 20.0, 0.3, 9.0, 9000.0, False))
    assert cell(g, "A", sums).fits is False  # a known "does not fit" stands beside an unknown


def test_a_lost_node_and_a_failed_model_show_in_the_cell() -> None:
    g = FleetGroup(name="ws", labels={"g": "w"}, models=["A", "B"],
                   nodes=[node("ws", "x"), node("ws", "y", status="node lost")])  # fmt: skip
    sums = {
        "nodes/ws-x": summary(row("A", 10.0, 0.5, 2.0, 300.0), row("B", 5.0, 1.0, 3.0, 50.0, status="error")),
        "nodes/ws-y": summary(row("A", 40.0, 0.1, 1.0, 100.0)),  # what arrived before the node was lost
    }
    a = cell(g, "A", sums)
    assert a.status == "node lost" and a.nodes == 2 and a.decode_tokens_per_s == 25.0
    b = cell(g, "B", sums)
    assert b.nodes == 0 and b.status == "load failed: boom; node lost" and b.decode_tokens_per_s is None
    cells = matrix([g], sums)
    assert [(c.model, c.group) for c in cells] == [("A", "ws"), ("B", "ws")]
    empty = FleetGroup(name="arm", labels={"g": "a"}, models=["A"])
    assert cell(empty, "A", {}).status == "no node" and cell(empty, "A", {}).nodes == 0
    # a node whose run failed as a whole says so; a node without a row for the model does not stop the
    # nodes after it from counting
    g2 = FleetGroup(name="ws", labels={"g": "w"}, models=["A"],
                    nodes=[node("ws", "e", status="error"), node("ws", "x"), node("ws", "y")])  # fmt: skip
    two = {
        "nodes/ws-x": summary(row("B", 1.0, 1.0, 1.0, 1.0)),
        "nodes/ws-y": summary(row("A", 8.0, 0.2, 1.0, 9.0)),
    }
    c2 = cell(g2, "A", two)
    assert c2.status == "node error; not run" and c2.nodes == 1 and c2.decode_tokens_per_s == 8.0


def test_group_pick_is_the_majority_of_its_nodes(tmp_path: Path) -> None:
    # A: 1 s, 50 tok/s, 200 MB; B: 2 s, 100 tok/s, 100 MB: B wins (0.80 against 0.70, worked by hand in
    # test_recommend_scoring); on node z, A is faster everywhere, so A wins there
    fast_b = summary(row("A", 50.0, 0.2, 1.0, 200.0), row("B", 100.0, 0.2, 2.0, 100.0))
    fast_a = summary(row("A", 200.0, 0.2, 0.5, 50.0), row("B", 100.0, 0.2, 2.0, 100.0))
    nodes = [node("ws", "q", "node lost"), node("ws", "z"), node("ws", "x"), node("ws", "y")]
    g = FleetGroup(name="ws", labels={"g": "w"}, models=["A", "B"], nodes=nodes)
    sums = {"nodes/ws-x": fast_b, "nodes/ws-y": fast_b, "nodes/ws-z": fast_a, "nodes/ws-q": fast_a}
    p = group_pick(g, sums)
    # the lost node's partial run does not vote; B on 2 of 3, with a node's own confidence (points only)
    assert (p.winner, p.picked_on, p.of_nodes, p.why) == ("B", 2, 3, None)
    assert p.confidence == "clear: the runner-up's 95% interval lies below the winner's (0.700 < 0.800)"
    # equal votes: the first node's winner (z: A), not the name that sorts last
    g.nodes = [node("ws", "z"), node("ws", "x")]
    tie = group_pick(g, sums)
    assert (tie.winner, tie.picked_on, tie.of_nodes) == ("A", 1, 2)
    assert tie.confidence is not None and tie.confidence.startswith("clear")  # z's own, where A won
    # with the node's records, its confidence has intervals: A and B's latencies overlap widely -> a tie
    g.nodes = [node("ws", "x")]
    run = tmp_path / "nodes" / "ws-x"
    run.mkdir(parents=True)
    samples = (("A", (0.2, 1.0, 3.0), 50.0), ("B", (0.3, 2.0, 4.0), 100.0))
    lines = [{"model": m, "status": "ok", "warmup": False,
              "metrics": {"latency_s": v, "decode_tokens_per_s": d}}
             for m, vs, d in samples for v in vs]  # fmt: skip
    (run / "records.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    with_records = group_pick(g, {"nodes/ws-x": fast_b}, tmp_path)
    assert with_records.winner == "B" and with_records.confidence is not None
    assert with_records.confidence.startswith("tie: A within the winner's 95% interval")
    assert group_pick(g, {"nodes/ws-x": fast_b}).confidence.startswith("clear")  # type: ignore[union-attr]
    # the fleet-wide pick reads the smallest group's records the same way
    fleet_tie = fleet_pick([g], {"nodes/ws-x": fast_b}, tmp_path)
    assert (
        fleet_tie.winner == "B"
        and fleet_tie.confidence is not None
        and fleet_tie.confidence.startswith("tie")
    )
    assert fleet_pick([g], {"nodes/ws-x": fast_b}).confidence.startswith("clear")  # type: ignore[union-attr]
    both = apply_picks([g], {"nodes/ws-x": fast_b}, tmp_path)  # the group's and the fleet's, from records
    assert both.confidence.startswith("tie") and g.recommendation.confidence.startswith("tie")  # type: ignore[union-attr]
    # the group's budget applies: 150 MB leaves B on every node; 40 MB leaves nothing
    g.nodes = nodes
    g.max_memory_mb = 150.0
    assert group_pick(g, sums).winner == "B"
    g.max_memory_mb = 40.0
    nobody = group_pick(g, sums)
    assert nobody.winner is None and nobody.why == "no model meets the group's constraints"
    lost = FleetGroup(name="x", labels={"g": "x"}, models=["A"], nodes=[node("x", "q", "node lost")])
    assert group_pick(lost, sums) == GroupPick(why="no node of this group finished")


def test_a_groups_pick_under_the_users_weights_and_constraints() -> None:
    """As `bakeoff recommend FLEET_DIR` asks: A is 1 s / 200 MB on x and y (0.5 s / 50 MB on z), B 2 s /
    100 MB everywhere; the defaults pick B on x and y (as worked above)."""
    fast_b = summary(row("A", 50.0, 0.2, 1.0, 200.0), row("B", 100.0, 0.2, 2.0, 100.0))
    fast_a = summary(row("A", 200.0, 0.2, 0.5, 50.0), row("B", 100.0, 0.2, 2.0, 100.0))
    g = FleetGroup(name="ws", labels={"g": "w"}, models=["A", "B"],
                   nodes=[node("ws", "x"), node("ws", "y"), node("ws", "z")])  # fmt: skip
    sums = {"nodes/ws-x": fast_b, "nodes/ws-y": fast_b, "nodes/ws-z": fast_a}
    assert group_pick(g, sums).winner == "B"
    latency_only = group_pick(g, sums, weights={"latency": 1.0})  # A is faster on every node
    assert (latency_only.winner, latency_only.picked_on) == ("A", 3)
    slo = group_pick(g, sums, constraints=Constraints(max_p95_s=1.5))  # B's 2 s is over the SLO
    assert (slo.winner, slo.picked_on) == ("A", 3)
    lic = group_pick(g, sums, constraints=Constraints(licenses=("mit",)))  # both are Apache-2.0
    assert lic.winner is None and lic.why == "no model meets the group's constraints"
    # the lower of the group's budget and the user's: 80 MB leaves A on z alone, nothing on x and y
    assert group_pick(g, sums, constraints=Constraints(max_memory_mb=80.0)).winner is None
    g.max_memory_mb = 150.0
    assert group_pick(g, sums, constraints=Constraints(max_memory_mb=300.0)).winner == "B"  # 150 applies
    assert group_pick(g, sums, constraints=Constraints(max_memory_mb=80.0)).winner is None  # 80 applies
    g.max_memory_mb = None
    # the fleet-wide default takes the same weights and constraints
    assert fleet_pick([g], sums).winner == "B"
    assert fleet_pick([g], sums, None, {"latency": 1.0}).winner == "A"
    assert fleet_pick([g], sums, None, None, Constraints(max_p95_s=1.5)).winner == "A"
    # judged only by a judge that did not qualify: its scores count with trust_judge alone
    judged = summary(
        ModelSummary.model_validate({**row("A", 50.0, 0.2, 1.0, 200.0).model_dump(),
                                     "quality": {"mean_trusting_judges": 4.5}}),
        ModelSummary.model_validate({**row("B", 100.0, 0.2, 2.0, 100.0).model_dump(),
                                     "quality": {"mean_trusting_judges": 2.0}}),
    )  # fmt: skip
    one = FleetGroup(name="j", labels={"g": "j"}, models=["A", "B"], nodes=[node("j", "x")])
    good = Constraints(min_quality=3.0)
    assert group_pick(one, {"nodes/j-x": judged}, constraints=good).winner is None  # quality unknown
    assert group_pick(one, {"nodes/j-x": judged}, None, None, good, True).winner == "A"
    assert fleet_pick([one], {"nodes/j-x": judged}, None, None, good).winner is None
    assert fleet_pick([one], {"nodes/j-x": judged}, None, None, good, True).winner == "A"
    # apply_picks sets each group's pick and gives the fleet's, with the same rules
    assert apply_picks([g], sums, None, {"latency": 1.0}).winner == g.recommendation.winner == "A"
    assert apply_picks([g], sums, None, None, Constraints(max_p95_s=1.5)).winner == "A"
    assert g.recommendation.winner == "A"
    assert apply_picks([g], sums).winner == g.recommendation.winner == "B"
    assert apply_picks([one], {"nodes/j-x": judged}, None, None, good, True).winner == "A"
    assert one.recommendation.winner == "A"
    assert apply_picks([one], {"nodes/j-x": judged}, None, None, good).winner is None
    assert one.recommendation.winner is None


def test_the_fleet_default_meets_every_groups_limits() -> None:
    """X is best on the GPU boxes (the smallest group, by budget) but takes 6 s on 2 of the 3 old CPUs;
    with a 2 s SLO the default is Y, which meets it on most of every group's nodes."""
    gpu = FleetGroup(name="gpu", labels={"g": "g"}, models=["X", "Y"], max_memory_mb=16000.0,
                     nodes=[node("gpu", "a")])  # fmt: skip
    cpu = FleetGroup(name="cpu", labels={"g": "c"}, models=["X", "Y"],
                     nodes=[node("cpu", "p"), node("cpu", "q"), node("cpu", "r")])  # fmt: skip
    fast = summary(row("X", 200.0, 0.1, 0.5, 100.0), row("Y", 100.0, 0.1, 1.0, 100.0))
    slow_x = summary(row("X", 20.0, 0.1, 6.0, 100.0), row("Y", 50.0, 0.1, 1.5, 100.0))
    sums = {"nodes/gpu-a": fast, "nodes/cpu-p": slow_x, "nodes/cpu-q": slow_x, "nodes/cpu-r": fast}
    assert fleet_pick([gpu, cpu], sums).winner == "X"  # no SLO: the GPU boxes' pick
    slo = Constraints(max_p95_s=2.0)
    assert meets(cpu, sums, slo) == {"Y"} and meets(gpu, sums, slo) == {"X", "Y"}
    assert fleet_pick([gpu, cpu], sums, None, None, slo).winner == "Y"
    sums["nodes/cpu-q"] = fast  # now X is over the SLO on 1 of 3: most of the group's nodes are fine
    assert meets(cpu, sums, slo) == {"X", "Y"} and fleet_pick([gpu, cpu], sums, None, None, slo).winner == "X"
    sums["nodes/cpu-r"] = slow_x
    cpu.nodes = [node("cpu", "q"), node("cpu", "r")]  # 1 of 2 is not most
    assert meets(cpu, sums, slo) == {"Y"}
    assert meets(cpu, sums, Constraints(max_p95_s=1.2)) == set()  # Y's 1.5 s on r: 1 of 2 again
    assert fleet_pick([gpu, cpu], sums, None, None, Constraints(max_p95_s=1.2)) == GroupPick(
        why="no model ok on every group meets every other group's constraints"
    )
    # the group's own budget counts too: 50 MB leaves nothing on the CPUs
    cpu.max_memory_mb = 50.0
    assert meets(cpu, sums) == set()
    # a judge that did not qualify counts only with trust_judge
    judged = summary(ModelSummary.model_validate({**row("X", 200.0, 0.1, 0.5, 100.0).model_dump(),
                                                 "quality": {"mean_trusting_judges": 4.5}}))  # fmt: skip
    one = FleetGroup(name="j", labels={"g": "j"}, models=["X"], nodes=[node("j", "x")])
    assert meets(one, {"nodes/j-x": judged}, Constraints(min_quality=3.0)) == set()
    assert meets(one, {"nodes/j-x": judged}, Constraints(min_quality=3.0), True) == {"X"}
    two = FleetGroup(name="k", labels={"g": "k"}, models=["X"], max_memory_mb=1000.0, nodes=[node("k", "y")])
    both = {"nodes/j-x": judged, "nodes/k-y": judged}  # k is the smallest; j's limits are checked too
    assert fleet_pick([two, one], both, None, None, Constraints(min_quality=3.0), True).winner == "X"
    assert fleet_pick([two, one], both, None, None, Constraints(min_quality=3.0)).winner is None


def test_the_fleet_default_is_a_model_ok_on_every_group() -> None:
    """Every other group's limits narrow the models one after the other: a model one group allows
    stays out when another does not, whatever the order."""
    small = FleetGroup(name="s", labels={"g": "s"}, models=["X", "Z"], max_memory_mb=1000.0,
                       nodes=[node("s", "a")])  # fmt: skip
    c = FleetGroup(name="c", labels={"g": "c"}, models=["X", "Z"], nodes=[node("c", "b")])
    big = FleetGroup(name="b", labels={"g": "b"}, models=["X", "Z"], nodes=[node("b", "c")])
    z_best = summary(row("X", 50.0, 0.1, 2.0, 100.0), row("Z", 200.0, 0.1, 0.5, 100.0))
    z_failed = summary(row("X", 50.0, 0.1, 2.0, 100.0), row("Z", 1.0, 0.1, 0.5, 100.0, status="error"))
    sums = {"nodes/s-a": z_best, "nodes/c-b": z_failed, "nodes/b-c": z_best}
    assert fleet_pick([small, big], sums).winner == "Z"
    assert fleet_pick([small, c, big], sums).winner == "X"  # Z failed on c: big's leave cannot bring it back
    assert fleet_pick([small, big, c], sums).winner == "X"
    # X ran ok everywhere, Y failed everywhere: X, though Y is named first
    y_failed = summary(row("Y", 1.0, 0.1, 0.1, 10.0, status="error"), row("X", 50.0, 0.1, 2.0, 100.0))
    g1 = FleetGroup(
        name="g1", labels={"g": "1"}, models=["Y", "X"], max_memory_mb=500.0, nodes=[node("g1", "p")]
    )
    g2 = FleetGroup(name="g2", labels={"g": "2"}, models=["Y", "X"], nodes=[node("g2", "q")])
    assert fleet_pick([g1, g2], {"nodes/g1-p": y_failed, "nodes/g2-q": y_failed}).winner == "X"
    # each model ran ok on one group only: none on every group
    x_only = summary(row("X", 50.0, 0.1, 2.0, 100.0), row("Y", 1.0, 0.1, 0.1, 10.0, status="error"))
    y_only = summary(row("X", 50.0, 0.1, 2.0, 100.0, status="error"), row("Y", 9.0, 0.1, 0.1, 10.0))
    assert fleet_pick([g1, g2], {"nodes/g1-p": x_only, "nodes/g2-q": y_only}) == GroupPick(
        why="no model ran ok on every group"
    )


def test_recommend_on_a_fleet_folder(tmp_path: Path) -> None:
    """`bakeoff recommend FLEET_DIR` as a user types it: a pick per group and the fleet-wide default,
    from the saved node runs, with the weights and constraints given."""
    from bakeoff.fleet.results import FleetSummary, save_fleet
    from bakeoff.results.schema import save_summary
    from tests.test_cli import run

    fast_b = summary(row("A", 50.0, 0.2, 1.0, 200.0), row("B", 100.0, 0.2, 2.0, 100.0))
    ws = FleetGroup(name="ws", labels={"g": "w"}, models=["A", "B"], nodes=[node("ws", "x"), node("ws", "y")])
    lap = FleetGroup(name="laptop", labels={"g": "l"}, models=["A", "B"], max_memory_mb=8000.0,
                     nodes=[node("laptop", "l")])  # fmt: skip
    for n in [*ws.nodes, *lap.nodes]:
        (tmp_path / n.folder).mkdir(parents=True)
        save_summary(fast_b, tmp_path / n.folder)
    (tmp_path / "nodes" / "ws-y" / "summary.json").unlink()  # a node without a summary did not finish
    save_fleet(FleetSummary(groups=[ws, lap], started_at="t"), tmp_path)
    r = run("recommend", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "Fleet-wide default: B, confidence: clear: the runner-up's 95% interval lies below the winner's "
        "(0.700 < 0.800)",
        "  chosen on group laptop (the smallest) among the models ok on every group",
        "ws: B, confidence: clear: the runner-up's 95% interval lies below the winner's (0.700 < 0.800)",
        "laptop (budget 8000 MB): B, confidence: clear: the runner-up's 95% interval lies below the "
        "winner's (0.700 < 0.800)",
    ]
    r = run("recommend", str(tmp_path), "--weights", "latency=1,throughput=0,memory=0")
    assert r.returncode == 0 and r.stdout.startswith("Fleet-wide default: A")
    r = run("recommend", str(tmp_path), "--max-memory-mb", "50")
    assert (r.returncode, r.stdout.splitlines()) == (1, [
        "Fleet-wide default: none (no model ok on every group meets every other group's constraints)",
        "ws: none (no model meets the group's constraints)",
        "laptop (budget 8000 MB): none (no model meets the group's constraints)",
    ])  # fmt: skip


def test_the_fleet_default_is_chosen_on_the_smallest_group() -> None:
    four = ["A", "B", "C", "D"]
    big = FleetGroup(name="ws", labels={"g": "w"}, models=four, nodes=[node("ws", "x", ram_gb=64)])
    small = FleetGroup(name="laptop", labels={"g": "l"}, models=four, max_memory_mb=150.0,
                       nodes=[node("laptop", "y", ram_gb=8)])  # fmt: skip
    sums = {
        # on the workstation A is best; D failed there
        "nodes/ws-x": summary(row("A", 200.0, 0.1, 0.5, 200.0), row("B", 100.0, 0.2, 2.0, 100.0),
                              row("C", 90.0, 0.1, 2.5, 90.0), row("D", 1.0, 0.1, 0.2, 90.0, status="error")),
        # on the laptop A (200 MB) is over the 150 MB budget; D is the best there, but failed on ws
        "nodes/laptop-y": summary(row("A", 200.0, 0.1, 0.5, 200.0), row("B", 100.0, 0.2, 2.0, 100.0),
                                  row("C", 90.0, 0.1, 2.5, 90.0), row("D", 300.0, 0.1, 0.2, 20.0)),
    }  # fmt: skip
    groups = [big, small]
    p = fleet_pick(groups, sums)
    # among A, B, C (ok on both), with A over budget: B (latency 2 s, 100 tok/s, 100 MB) against
    # C (2.5 s, 90 tok/s, 90 MB): B = (1 + 1 + 0.5 x 90/100) / 2.5 = 0.98, C = (0.8 + 0.9 + 0.5) / 2.5 = 0.88
    assert (p.winner, p.picked_on, p.of_nodes) == ("B", 1, 1)
    assert p.why == "chosen on group laptop (the smallest) among the models ok on every group"
    assert p.confidence == "clear: the runner-up's 95% interval lies below the winner's (0.880 < 0.980)"
    # the smallest group's first node was lost: its second, finished one decides
    small.nodes = [node("laptop", "q", "node lost", ram_gb=8), node("laptop", "y", ram_gb=8)]
    sums["nodes/laptop-q"] = summary(row("C", 900.0, 0.1, 0.1, 10.0))
    assert fleet_pick(groups, sums).winner == "B"  # and the lost node's C does not count
    small.nodes = [node("laptop", "q", "node lost", ram_gb=8)]
    assert fleet_pick(groups, sums) == GroupPick(why="no model ran ok on every group")  # none finished there
    # the smallest group's own pick, by the majority of its nodes: one node prefers C, two B -> B
    small.nodes = [
        node("laptop", "c", ram_gb=8),
        node("laptop", "y", ram_gb=8),
        node("laptop", "y2", ram_gb=8),
    ]
    sums["nodes/laptop-c"] = summary(row("B", 100.0, 0.2, 2.0, 100.0), row("C", 900.0, 0.1, 0.1, 10.0))
    sums["nodes/laptop-y2"] = sums["nodes/laptop-y"]
    majority = fleet_pick(groups, sums)
    assert (majority.winner, majority.picked_on, majority.of_nodes) == ("B", 2, 3)
    small.nodes = [node("laptop", "y", ram_gb=8)]
    small.max_memory_mb = 50.0  # nothing ok everywhere fits 50 MB
    none = fleet_pick(groups, sums)
    assert none.winner is None and none.of_nodes == 1 and none.picked_on == 1
    assert none.why == "no model ok on every group meets laptop's constraints"
    big.nodes = [node("ws", "x", "node lost", ram_gb=64)]  # its partial run: nothing ran ok there
    assert fleet_pick(groups, sums) == GroupPick(why="no model ran ok on every group")


def test_the_smallest_group() -> None:
    def group(name: str, budget: float | None, *rams: float | None) -> FleetGroup:
        nodes = [node(name, str(i), ram_gb=r) for i, r in enumerate(rams)]
        return FleetGroup(name=name, labels={"g": name}, models=["A"], max_memory_mb=budget, nodes=nodes)

    # the budget decides before RAM: a 4000 MB budget on 64 GB machines is smaller than no budget on 8 GB
    assert smallest([group("big", 4000.0, 64.0), group("laptop", None, 8.0)]).name == "big"
    assert smallest([group("a", 9000.0, 8.0), group("b", 4000.0, 64.0)]).name == "b"
    # no budgets: the least RAM of a group's nodes; a group without RAM figures counts as unbounded
    assert smallest([group("ws", None, 64.0, 32.0), group("lap", None, 8.0, 128.0)]).name == "lap"
    assert smallest([group("unknown", None), group("known", None, 512.0)]).name == "known"
    assert smallest([group("unknown", None, None), group("known", None, 512.0)]).name == "known"


def test_shards_of_one_schedule() -> None:
    from bakeoff.load.schedule import shard_of

    assert shard_of(10, "0/3") == [0, 3, 6, 9] and shard_of(10, "2/3") == [2, 5, 8]
    assert shard_of(10, "1/3") == [1, 4, 7] and shard_of(3, "0/1") == [0, 1, 2] and shard_of(2, "2/3") == []
    every = sorted(i for k in range(4) for i in shard_of(11, f"{k}/4"))
    assert every == list(range(11))  # each request sent once, by exactly one shard
    for bad in ("3/3", "0/0", "5/2"):
        with pytest.raises(ValueError, match=r"i must be in 0\.\.K-1"):
            shard_of(10, bad)


def test_a_nodes_part_of_a_closed_loop() -> None:
    """Slot s is node s mod K's; request j is slot j mod width's: each node sends its slots' requests."""
    from bakeoff.load.schedule import closed_share, owns_request

    assert closed_share(1, 10, "0/2") == (1, 10)  # a synchronous stage: node 0's alone, all of it
    assert closed_share(1, 10, "1/2") == (0, 0)
    # width 4 over 2 nodes: node 0 has slots 0, 2 (requests 0,4,8 and 2,6), node 1 slots 1, 3 (1,5,9; 3,7)
    assert closed_share(4, 10, "0/2") == (2, 5) and closed_share(4, 10, "1/2") == (2, 5)
    # width 5, 11 requests: node 0 slots 0, 2, 4 (0,5,10; 2,7; 4,9) = 7, node 1 slots 1, 3 (1,6; 3,8) = 4
    assert closed_share(5, 11, "0/2") == (3, 7) and closed_share(5, 11, "1/2") == (2, 4)
    # width 5, 100 requests, 4 nodes: node 0 has two slots of 20 each, the others one
    assert [closed_share(5, 100, f"{i}/4") for i in range(4)] == [(2, 40), (1, 20), (1, 20), (1, 20)]
    # width 3, 7 requests over 4 nodes: slots 0 (0,3,6), 1 (1,4), 2 (2,5); node 3 has none
    assert [closed_share(3, 7, f"{i}/4") for i in range(4)] == [(1, 3), (1, 2), (1, 2), (0, 0)]
    assert closed_share(4, None, "1/2") == (2, None) and closed_share(1, None, "1/2") == (0, None)
    for width, count, k in ((32, 100, 3), (2, 9, 5), (7, 7, 7), (6, 1, 4)):
        parts = [closed_share(width, count, f"{i}/{k}") for i in range(k)]
        assert sum(w for w, _ in parts) == width and sum(c or 0 for _, c in parts) == count

    # which requests: width 5 over 2 nodes, requests 0..10 go to slots 0,1,2,3,4,0,1,2,3,4,0
    assert [j for j in range(11) if owns_request(j, 5, "0/2")] == [0, 2, 4, 5, 7, 9, 10]
    assert [j for j in range(11) if owns_request(j, 5, "1/2")] == [1, 3, 6, 8]
    assert [j for j in range(5) if owns_request(j, 1, "0/2")] == [0, 1, 2, 3, 4]  # sync: all node 0's
    for width, count, k in ((32, 100, 3), (3, 7, 4), (6, 1, 4)):
        for i in range(k):
            mine = sum(owns_request(j, width, f"{i}/{k}") for j in range(count))
            assert closed_share(width, count, f"{i}/{k}")[1] == mine


def _line(stage: str, end_s: float, status: str = "ok") -> dict[str, Any]:
    """A record line of ``stage`` that ended at ``end_s`` (sent 0.1 s before)."""
    from bakeoff.records import RequestRecord

    end = int(end_s * 1e9)
    return RequestRecord(model="m", backend="openai", prompt_id="p", round=1, warmup=False, stream=True,
                         status=status, t_scheduled_ns=end - 10**8, t0_ns=end - 10**8, t_end_ns=end,
                         stage=stage).to_json()  # fmt: skip


def test_a_split_sweeps_rates_come_from_every_nodes_stages() -> None:
    """sync: 3 answers 0.5 s apart = 2/s; throughput (both nodes, one failure left out): 6 answers in
    0.5 s = 10/s; 4 rate stages evenly above 2/s up to 10/s: 4, 6, 8, 10."""
    from bakeoff.fleet.split_load import split_sweep_rates

    line = _line

    sync = [line("sync", t) for t in (0.0, 0.5, 1.0)]
    most = [line("throughput c=4", 1.2 + 0.1 * i) for i in range(6)] + [line("throughput c=4", 9.0, "error")]
    assert split_sweep_rates(sync + most, 6) == pytest.approx((4.0, 6.0, 8.0, 10.0))
    assert split_sweep_rates(sync + most[:1], 6) == ()  # one throughput answer: no rate
    assert split_sweep_rates(most, 6) == ()  # no synchronous stage


GOOD = """{
  "groups": {
    "laptop": {"labels": {"bakeoff-group": "laptop"}, "models": ["smollm2-135m"], "max_memory_mb": 8000},
    "ws": {"labels": {"bakeoff-group": "workstation"}, "models": ["smollm2-135m", "gemma3-270m"]}
  },
  "settings": {"rounds": 2, "max_tokens": 16},
  "prompts": "prompts.json"
}
"""


def test_a_fleet_file_reads_and_its_errors_name_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "prompts.json").write_text('["one", "two"]')
    f = tmp_path / "fleet.json"
    f.write_text(GOOD)
    spec, settings, prompts, source = load_fleet_file(f)
    assert list(spec.groups) == ["laptop", "ws"] and spec.groups["laptop"].max_memory_mb == 8000
    assert (settings.rounds, settings.max_tokens, settings.models) == (2, 16, [])
    assert [p.prompt for p in prompts] == ["one", "two"] and source == str(tmp_path / "prompts.json")

    def error(text: str) -> str:
        f.write_text(text)
        with pytest.raises(ConfigError) as exc:
            load_fleet_file(f)
        return str(exc.value)

    assert error(GOOD.replace('"max_memory_mb": 8000', '"max_memory": 8000')).startswith(
        f"{f}:3 [groups.laptop.max_memory]: unknown key 'max_memory'"
    )
    assert error(GOOD.replace('"rounds": 2', '"rounds": 0')).startswith(f"{f}:6 [settings.rounds]:")
    assert error(GOOD.replace('"rounds": 2', '"models": ["x"]')).startswith(
        f"{f}:6 [settings.models]: 'models' is not a fleet setting: each group names its own models"
    )
    assert error(GOOD.replace('"labels": {"bakeoff-group": "laptop"}, ', "")).startswith(
        f"{f}:3 [groups.laptop]: a group needs 'labels' or 'resources' to select its nodes"
    )
    assert error(
        GOOD.replace('"labels": {"bakeoff-group": "laptop"}', '"resources": {"laptop": 0}')
    ).startswith(f"{f}:3 [groups.laptop]: each of 'resources' must be above 0")
    assert error(GOOD.replace('"models": ["smollm2-135m"], "max', '"models": [], "max')).startswith(
        f"{f}:3 [groups.laptop.models]:"
    )
    assert error('{"groups": {}}').startswith(f"{f}:1 [groups]:")
    assert error("[1, 2]").startswith(f"{f}:1: expected an object with 'groups'")
    assert error(GOOD.replace("prompts.json", "missing.json")).startswith(
        f"{f}:7 [prompts]: {tmp_path / 'missing.json'}: file not found"
    )
    yml = tmp_path / "fleet.yaml"
    yml.write_text("groups:\n  arm:\n    labels: {bakeoff-group: arm}\n    models: [smollm2-135m]\n"
                   "settings:\n  max_tokens: 4\n")  # fmt: skip
    spec, settings, _, source = load_fleet_file(yml)
    assert spec.groups["arm"].labels == {"bakeoff-group": "arm"} and settings.max_tokens == 4
    assert source == "built-in session prompts"
    yml.write_text("groups:\n  arm:\n    labels: {bakeoff-group: arm}\n    modles: [x]\n")
    with pytest.raises(ConfigError, match=r"fleet.yaml.*\[groups.arm.modles\]: unknown key 'modles'"):
        load_fleet_file(yml)


def test_a_fleet_models_file_is_read_from_beside_the_fleet_file(tmp_path: Path) -> None:
    (tmp_path / "prompts.json").write_text('["one"]')
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "models.json").write_text('{\n  "mine": {"path": "mine.gguf"}\n}\n')
    f = tmp_path / "fleet.json"
    with_models = GOOD.replace(
        '"prompts": "prompts.json"', '"prompts": "prompts.json",\n  "models_file": "models/models.json"'
    )
    f.write_text(
        with_models.replace('"max_memory_mb": 8000}', '"max_memory_mb": 8000, "ship_models": "never"}')
    )
    spec, _, _, _ = load_fleet_file(f)
    assert spec.models_file == str(tmp_path / "models" / "models.json")
    assert (spec.groups["laptop"].ship_models, spec.groups["ws"].ship_models) == ("never", "auto")
    assert fleet_models(spec)["mine"].path == str(tmp_path / "models" / "mine.gguf")  # beside the models file
    assert fleet_models(FleetSpec.model_validate({"groups": spec.model_dump()["groups"]})) == {}
    # a path from ~ is each node's own home: sent as written (the driver expands it to hash its copy)
    (tmp_path / "models" / "models.json").write_text(
        '{"mine": {"path": "mine.gguf"}, "home": {"path": "~/m/h.gguf"}}'
    )
    assert fleet_models(spec)["home"].path == "~/m/h.gguf"
    assert fleet_models(spec)["mine"].path == str(tmp_path / "models" / "mine.gguf")
    f.write_text(with_models.replace('"rounds": 2', '"rounds": 2, "models_file": "m.json"'))
    with pytest.raises(ConfigError) as exc:
        load_fleet_file(f)
    assert str(exc.value).startswith(
        f"{f}:6 [settings.models_file]: 'models_file' is not a fleet setting: give it at the top level"
    )

    f.write_text(with_models.replace("models/models.json", "nope.json"))
    with pytest.raises(ConfigError) as exc:
        load_fleet_file(f)
    assert str(exc.value).startswith(f"{f}:8 [models_file]: models file {tmp_path / 'nope.json'} not found")
    (tmp_path / "models" / "models.json").write_text('{\n  "mine": {"paht": "mine.gguf"}\n}\n')
    f.write_text(with_models)
    with pytest.raises(ConfigError) as exc:
        load_fleet_file(f)
    assert str(exc.value).startswith(
        f"{tmp_path / 'models' / 'models.json'}:2 [mine.paht]: unknown key 'paht'"
    )
    f.write_text(GOOD.replace('"max_memory_mb": 8000}', '"max_memory_mb": 8000, "ship_models": "sometimes"}'))
    with pytest.raises(ConfigError) as exc:
        load_fleet_file(f)
    assert str(exc.value).startswith(f"{f}:3 [groups.laptop.ship_models]:")


def test_bakeoff_works_without_ray_and_fleet_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from bakeoff.errors import UsageError
    from bakeoff.fleet.driver import ray_module

    code = (
        "import sys; import bakeoff.cli, bakeoff.run.bench, bakeoff.fleet.spec; print('ray' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    with pytest.raises(UsageError, match="not installed") as exc:
        ray_module()
    assert exc.value.hint == "pip install 'bakeoff[fleet]'"


def test_clocks_by_hand() -> None:
    from bakeoff.fleet.split_load import clock_offset, to_driver_clock

    # the driver read 1000 before and 1400 after; the node said 5_000_000_1200: it is 5 s + 1000 ns ahead
    # of the midpoint (1200), within half the 400 ns trip
    assert clock_offset(1000, 5_000_001_200, 1400) == (5_000_000_000, 400)
    assert clock_offset(10_000, 2_000, 10_100) == (-8_050, 100)  # a node behind: a negative offset
    line = {"t_scheduled_ns": 5_000_000_100, "t0_ns": 5_000_000_150, "t_end_ns": 5_000_009_000,
            "events": [[5, 1]], "model": "m"}  # fmt: skip
    moved = to_driver_clock(line, 5_000_000_000)
    assert (moved["t_scheduled_ns"], moved["t0_ns"], moved["t_end_ns"]) == (100, 150, 9_000)
    assert moved["events"] == [[5, 1]] and moved["model"] == "m" and line["t0_ns"] == 5_000_000_150
    assert to_driver_clock(line, -100)["t0_ns"] == 5_000_000_250


def test_a_nodes_share_of_the_load() -> None:
    from bakeoff.config.settings import BenchSettings
    from bakeoff.load.worker_count import node_share, workers_for

    assert node_share(64, BenchSettings(models=["m"])) == 64
    assert node_share(64, BenchSettings(models=["m"], shard="1/4")) == 16
    assert node_share(65, BenchSettings(models=["m"], shard="0/4")) == 17  # rounded up
    # 200/s uncapped is 200 in flight: 7 workers on 16 cores alone, 2 per node when 4 nodes share it
    assert workers_for(BenchSettings(models=["m"], rate=200.0), False, 16) == 7
    assert workers_for(BenchSettings(models=["m"], rate=200.0, shard="3/4"), False, 16) == 2


class _FakeNode:
    """A ``--load-nodes`` node as the driver sees it: it waits at each of its points in turn and, once
    told to go, sends that stage's records; ``stop_after`` points in, it ends early."""

    def __init__(self, stages: list[tuple[str, list[dict[str, Any]]]], stop_after: int | None = None) -> None:
        self.stages, self.stop_after = stages, stop_after
        self.went: list[tuple[str, int, tuple[float, ...]]] = []
        self.sent = 0
        self.take = SimpleNamespace(remote=self._take)
        self.go = SimpleNamespace(remote=lambda point, start, rates: self.went.append((point, start, rates)))

    def _take(self) -> dict[str, Any]:
        if self.sent < len(self.went):  # told to go: the stage's records
            lines = self.stages[self.sent][1]
            self.sent += 1
            return {"lines": lines, "done": False, "waiting": None}
        if self.sent == len(self.stages) or self.sent == self.stop_after:
            why = "3 failures in a row" if self.stop_after is not None else None
            return {"lines": [], "done": True, "error": None, "summary": {"models": [{"error": why}]}}
        return {"lines": [], "done": False, "waiting": self.stages[self.sent][0]}


def test_the_driver_starts_each_stage_once_every_node_waits_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bakeoff.fleet import split_load
    from bakeoff.fleet.split_load import NodeClock, _collect, _Shard
    from bakeoff.load.runner import SWEEP_RATES

    monkeypatch.setattr(split_load.time, "sleep", lambda s: None)
    # node A's clock reads 5 ms ahead of the driver's, B's 2 ms behind; A sends the sync stage alone
    sync = [_line("sync", t) for t in (0.0, 0.5, 1.0)]  # 2/s
    most = [_line("throughput c=4", 1.2 + 0.1 * i) for i in range(6)]  # 10/s
    a = _FakeNode([("sync", sync), ("throughput c=4", most[:3]), (SWEEP_RATES, []), ("rate=4/s", [])])
    b = _FakeNode([("sync", []), ("throughput c=4", most[3:]), (SWEEP_RATES, []), ("rate=4/s", [])])
    shards = [
        _Shard(a, NodeClock("a" * 8, "h", 5_000_000, 100)),
        _Shard(b, NodeClock("b" * 8, "h", -2_000_000, 100)),
    ]
    fake_ray = SimpleNamespace(
        get=lambda x, timeout=None: x, exceptions=SimpleNamespace(RayError=RuntimeError)
    )
    lines, released = _collect(fake_ray, shards, tmp_path / "records.jsonl", None, sweep=4)
    assert released == ["sync", "throughput c=4", SWEEP_RATES, "rate=4/s"]
    assert [p for p, _, _ in a.went] == [p for p, _, _ in b.went] == released  # each point once, to both
    for (_, start_a, rates_a), (_, start_b, rates_b) in zip(a.went, b.went, strict=True):
        assert start_a - start_b == 7_000_000  # one start, in each node's own clock
        assert rates_a == rates_b
    # the sweep's 2 rate stages, from both nodes' stages merged on the driver's clock: sync 2/s (A's
    # alone); throughput 5 answers from A's first (1.2 s - 5 ms) to B's last (1.7 s + 2 ms) = 5 / 0.507 s
    most_rate = 5 / 0.507
    assert a.went[2][2] == pytest.approx((2 + (most_rate - 2) / 2, most_rate)) and a.went[0][2] == ()
    assert len(lines) == 9 and len((tmp_path / "records.jsonl").read_text().splitlines()) == 9
    assert lines[0]["t0_ns"] == sync[0]["t0_ns"] - 5_000_000  # moved to the driver's clock
    assert all(s.ended_at == 4 and s.stopped is None for s in shards)


def test_a_node_that_ends_early_lets_the_others_go_on_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bakeoff.fleet import split_load
    from bakeoff.fleet.split_load import NodeClock, _collect, _Shard

    monkeypatch.setattr(split_load.time, "sleep", lambda s: None)
    points = [("c=2", []), ("c=4", []), ("c=8", [])]
    a, b = _FakeNode(points), _FakeNode(points, stop_after=1)
    shards = [_Shard(a, NodeClock("a" * 8, "h", 0, 100)), _Shard(b, NodeClock("b" * 8, "h", 0, 100))]
    fake_ray = SimpleNamespace(
        get=lambda x, timeout=None: x, exceptions=SimpleNamespace(RayError=RuntimeError)
    )
    _, released = _collect(fake_ray, shards, tmp_path / "records.jsonl", None)
    assert released == ["c=2", "c=4", "c=8"] and len(a.went) == 3 and len(b.went) == 1
    assert (shards[1].ended_at, shards[1].stopped) == (1, "3 failures in a row")


def test_a_node_of_another_bakeoff_is_named_with_both_versions() -> None:
    from bakeoff import __version__
    from bakeoff.fleet.driver import version_mismatch
    from bakeoff.fleet.node import PROTOCOL

    assert version_mismatch({"bakeoff_version": __version__}) == (
        f"bakeoff {__version__} (protocol 1) on the node, bakeoff {__version__} (protocol {PROTOCOL}) here"
    )  # the same version number, an older protocol (a node from before the protocol was numbered)
    assert version_mismatch({"bakeoff_version": "0.0.9", "protocol": 7}).startswith(
        "bakeoff 0.0.9 (protocol 7) on the node"
    )


def test_a_node_that_ended_early_is_named_with_what_was_sent_without_it() -> None:
    from bakeoff.fleet.split_load import NodeClock, _Shard, early_notes
    from bakeoff.load.runner import MEASURE, SWEEP_RATES

    def shard(key: str, ended_at: int, error: str | None = None, stopped: str | None = None,
              waiting: str | None = None) -> _Shard:  # fmt: skip
        return _Shard(None, NodeClock(key * 8, "h", 0, 0), True, waiting, error, stopped, ended_at)

    points = ["sync", "throughput c=4", SWEEP_RATES, "rate=3/s", "rate=5/s"]
    assert early_notes([shard("a", 5), shard("b", 5)], points) == []  # both ran to the end
    # b stopped in the throughput stage (after its release): that stage in part, then the rates
    assert early_notes([shard("a", 5), shard("b", 2, stopped="5 failures in a row")], points) == [
        "node bbbbbbbb ended early (5 failures in a row); sent without its share: throughput c=4 (in part), "
        "rate=3/s, rate=5/s"
    ]
    # b was lost while it waited for the first rate stage: the throughput stage was whole
    lost = shard("b", 3, error="node bbbbbbbb lost: gone", waiting="rate=3/s")
    assert early_notes([shard("a", 5), lost], points) == [
        "node bbbbbbbb ended early; sent without its share: rate=3/s, rate=5/s"
    ]
    # a --rate run: a node lost while sending
    assert early_notes([shard("a", 1), shard("b", 1, error="node bbbbbbbb lost: x")], [MEASURE]) == [
        "node bbbbbbbb ended early; sent without its share: the measured requests (in part)"
    ]
    # a node whose run ended before any point was released sent nothing: every point without it
    assert early_notes([shard("a", 2), shard("b", 0, stopped="load failed")], ["c=2", "c=4"]) == [
        "node bbbbbbbb ended early (load failed); sent without its share: c=2, c=4"
    ]


def test_a_fleet_report_of_version_1_reads_and_a_damaged_one_is_a_clear_error(tmp_path: Path) -> None:
    from bakeoff.errors import ReportError
    from bakeoff.fleet.results import FleetSummary, load_fleet, save_fleet

    save_fleet(FleetSummary(groups=[FleetGroup(name="g", labels={"a": "b"}, models=["m"])]), tmp_path)
    data = json.loads((tmp_path / "fleet.json").read_text())
    data["schema_version"] = 1
    del data["groups"][0]["resources"]  # as the first version wrote it
    (tmp_path / "fleet.json").write_text(json.dumps(data))
    assert load_fleet(tmp_path).groups[0].resources == {}
    data["groups"][0]["labels"] = "not a mapping"
    (tmp_path / "fleet.json").write_text(json.dumps(data))
    with pytest.raises(ReportError) as exc:
        load_fleet(tmp_path)
    assert exc.value.message.startswith(
        f"{tmp_path / 'fleet.json'} is not a fleet report this bakeoff can read"
    )
    assert "groups.0.labels" in exc.value.message
