"""The fleet's figures worked by hand (issue 14): which nodes a group selects, the model x group
matrix (medians over a group's nodes, a lost node's cells), each group's pick and the fleet-wide
default under the smallest group's budget; and the fleet file's errors naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.errors import ConfigError
from bakeoff.fleet.driver import select_nodes, user_labels
from bakeoff.fleet.matrix import cell, fleet_pick, group_pick, matrix, smallest
from bakeoff.fleet.results import FleetGroup, FleetNode
from bakeoff.fleet.spec import GroupSpec, load_fleet_file
from bakeoff.metrics.stats import stats
from bakeoff.results import ModelSummary, RunInfo, Summary


def row(name: str, decode: float, ttft: float, latency: float, mem: float | None, fits: bool | None = None,
        status: str = "ok") -> ModelSummary:  # fmt: skip
    resources: dict[str, object] = {} if mem is None else {"peak_rss_mb": mem}
    if fits is not None:
        resources["fits_memory"] = fits
    return ModelSummary(
        model=name, backend="llamacpp", status=status,  # type: ignore[arg-type]
        error=None if status == "ok" else "load failed: boom",
        latency_s=stats([latency, latency]), decode_tokens_per_s=stats([decode, decode]),
        ttft_s=stats([ttft, ttft]), resources=resources,
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
    assert [n["NodeID"] for n in select_nodes(nodes, laptop)] == ["a1", "c3"]  # in node-id order
    both = GroupSpec(labels={"bakeoff-group": "laptop", "os": "linux"}, models=["m"])
    assert [n["NodeID"] for n in select_nodes(nodes, both)] == ["c3"]  # every label must match
    one = GroupSpec(labels={"bakeoff-group": "laptop"}, models=["m"], nodes=1)
    assert [n["NodeID"] for n in select_nodes(nodes, one)] == ["a1"]
    assert select_nodes(nodes, GroupSpec(labels={"bakeoff-group": "arm"}, models=["m"])) == []
    assert user_labels(nodes[0]) == {"bakeoff-group": "laptop", "os": "linux"}  # Ray's own left out


def test_a_cell_is_the_median_over_the_groups_nodes() -> None:
    g = FleetGroup(name="laptop", labels={"g": "l"}, models=["A"], max_memory_mb=8000,
                   nodes=[node("laptop", "x"), node("laptop", "y"), node("laptop", "z")])  # fmt: skip
    sums = {
        "nodes/laptop-x": summary(row("A", 10.0, 0.5, 2.0, 300.0, True)),
        "nodes/laptop-y": summary(row("A", 30.0, 0.1, 4.0, 100.0, True)),
        "nodes/laptop-z": summary(row("A", 20.0, 0.3, 9.0, 200.0, True)),
    }
    c = cell(g, "A", sums)
    # decode 10, 30, 20 -> 20; TTFT 0.5, 0.1, 0.3 -> 0.3; latency 2, 4, 9 -> 4; memory -> 200
    assert (c.nodes, c.status, c.decode_tokens_per_s, c.ttft_p50_s, c.latency_p50_s, c.peak_memory_mb) == (
        3, "ok", 20.0, 0.3, 4.0, 200.0)  # fmt: skip
    assert c.fits is True and c.quality is None
    # an even count: the mean of the middle two (10, 30 -> 20 with the third gone)
    two = cell(g, "A", {k: v for k, v in sums.items() if k != "nodes/laptop-z"})
    assert two.decode_tokens_per_s == 20.0 and two.latency_p50_s == 3.0 and two.nodes == 2
    assert two.status == "not run"  # node z finished without a row for A
    # one node does not fit: the group does not; one unknown: unknown
    sums["nodes/laptop-y"] = summary(row("A", 30.0, 0.1, 4.0, 9000.0, False))
    assert cell(g, "A", sums).fits is False
    sums["nodes/laptop-y"] = summary(row("A", 30.0, 0.1, 4.0, None, None))
    assert cell(g, "A", sums).fits is None


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


def test_group_pick_is_the_majority_of_its_nodes() -> None:
    # A: 1 s, 50 tok/s, 200 MB; B: 2 s, 100 tok/s, 100 MB: B wins (0.80 against 0.70, worked by hand in
    # test_recommend_scoring); on node z, A is faster everywhere, so A wins there
    fast_b = summary(row("A", 50.0, 0.2, 1.0, 200.0), row("B", 100.0, 0.2, 2.0, 100.0))
    fast_a = summary(row("A", 200.0, 0.2, 0.5, 50.0), row("B", 100.0, 0.2, 2.0, 100.0))
    nodes = [node("ws", "x"), node("ws", "y"), node("ws", "z"), node("ws", "q", "node lost")]
    g = FleetGroup(name="ws", labels={"g": "w"}, models=["A", "B"], nodes=nodes)
    sums = {"nodes/ws-x": fast_b, "nodes/ws-y": fast_b, "nodes/ws-z": fast_a, "nodes/ws-q": fast_a}
    p = group_pick(g, sums)
    assert (p.winner, p.picked_on, p.of_nodes) == ("B", 2, 3)  # the lost node's partial run does not vote
    # the group's budget applies: 150 MB leaves B on every node
    g.max_memory_mb = 150.0
    assert group_pick(g, sums).winner == "B"
    g.max_memory_mb = 40.0
    nobody = group_pick(g, sums)
    assert nobody.winner is None and nobody.why == "no model meets the group's constraints"
    lost = FleetGroup(name="x", labels={"g": "x"}, models=["A"], nodes=[node("x", "q", "node lost")])
    assert group_pick(lost, sums).why == "no node of this group finished"


def test_the_fleet_default_is_chosen_on_the_smallest_group() -> None:
    big = FleetGroup(name="ws", labels={"g": "w"}, models=["A", "B", "C"], nodes=[node("ws", "x", ram_gb=64)])
    small = FleetGroup(name="laptop", labels={"g": "l"}, models=["A", "B", "C"], max_memory_mb=150.0,
                       nodes=[node("laptop", "y", ram_gb=8)])  # fmt: skip
    sums = {
        # on the workstation A is best; C ran only here
        "nodes/ws-x": summary(
            row("A", 200.0, 0.1, 0.5, 200.0),
            row("B", 100.0, 0.2, 2.0, 100.0),
            row("C", 300.0, 0.1, 0.2, 90.0),
        ),
        # on the laptop A (200 MB) is over the 150 MB budget; C failed there
        "nodes/laptop-y": summary(
            row("A", 200.0, 0.1, 0.5, 200.0),
            row("B", 100.0, 0.2, 2.0, 100.0),
            row("C", 1.0, 0.1, 0.2, 90.0, status="error"),
        ),
    }
    groups = [big, small]
    assert smallest(groups).name == "laptop"
    cells = matrix(groups, sums)
    p = fleet_pick(groups, cells, sums)
    assert p.winner == "B" and p.why is not None and "laptop" in p.why  # A does not fit, C not everywhere
    # without budgets, the least RAM decides which group is the smallest
    small.max_memory_mb = None
    assert smallest(groups).name == "laptop"
    small.nodes[0].environment["ram_gb"] = 128
    assert smallest(groups).name == "ws"
    nothing = fleet_pick(groups, [c.model_copy(update={"status": "node lost"}) for c in cells], sums)
    assert nothing.winner is None and nothing.why == "no model ran ok on every group"


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
        f"{f}:3 [groups.laptop.labels]: Field required"
    )
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


def test_bakeoff_works_without_ray_and_fleet_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from bakeoff.errors import UsageError
    from bakeoff.fleet.driver import ray_module

    code = "import sys; import bakeoff.cli, bakeoff.bench, bakeoff.fleet.spec; print('ray' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    with pytest.raises(UsageError, match="not installed") as exc:
        ray_module()
    assert exc.value.hint == "pip install 'bakeoff[fleet]'"
