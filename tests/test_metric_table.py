"""One home per metric: a metric added in one place reaches every output, and a summary written
before the metrics table still renders and compares."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from bakeoff.analysis.compare import compare, parse_rules
from bakeoff.metrics.definitions import Column, Metric, all_metrics, register, registered, unregister
from bakeoff.reporters.diff import render_diff
from bakeoff.results.schema import load_summary

from .conftest import bench, read_records
from .test_cli import run

DOUBLE = Metric(
    "double_ttft_s",
    "2x TTFT",
    "s",
    False,
    "request",
    per_request=lambda m: None if m.ttft_s is None else 2 * m.ttft_s,
    columns=(Column("p50", "2x TTFT p50"),),
    compare_view=("p50",),
)


def test_a_metric_added_in_one_place_reaches_every_output(fake, tmp_path: Path) -> None:
    with registered(DOUBLE):
        s = bench(fake.base_url, ["good"], tmp_path / "a", rounds=2)
        bench(fake.base_url, ["good"], tmp_path / "b", rounds=2)
        row = json.loads((tmp_path / "a" / "summary.json").read_text())["models"][0]
        assert row["double_ttft_s"]["n"] == row["ttft_s"]["n"] == 4
        assert row["double_ttft_s"]["p50"] == pytest.approx(2 * row["ttft_s"]["p50"], rel=1e-12)
        assert s.models[0].stat("double_ttft_s").p50 == row["double_ttft_s"]["p50"]
        for rec in read_records(tmp_path / "a"):
            m = rec["metrics"]
            assert m["double_ttft_s"] == pytest.approx(2 * m["ttft_s"], rel=1e-12)  # type: ignore[index,operator]
        header = next(csv.reader(io.StringIO((tmp_path / "a" / "report.csv").read_text())))
        assert "double_ttft_s_p50" in header and "double_ttft_s_n" in header
        assert "| 2x TTFT p50 |" in (tmp_path / "a" / "report.md").read_text()
        assert "<th>2x TTFT p50</th>" in (tmp_path / "a" / "report.html").read_text()
        c = compare(tmp_path / "a", tmp_path / "b", parse_rules("double_ttft_s.p95>+50%"))
        text = render_diff(c, tmp_path / "a", tmp_path / "b")
        assert "| good | double_ttft_s.p50 |" in text and "| good | double_ttft_s.p95 |" in text
        assert load_summary(tmp_path / "a").models[0].stat("double_ttft_s").n == 4  # read back
    assert "double_ttft_s" not in {m.name for m in all_metrics()}


def test_registration_rules() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(Metric("ttft_s", "x", "s", False, "request", per_request=lambda m: None))
    with pytest.raises(ValueError, match="built in"):
        unregister("latency_s")
    with pytest.raises(ValueError, match="needs exactly its own function"):
        Metric("w", "w", "s", False, "window", per_request=lambda m: None)


def test_a_summary_written_before_the_metrics_table_still_renders_and_compares(tmp_path: Path) -> None:
    old = Path(__file__).parent.parent / "bench" / "embedded-run-summary.json"  # saved by an earlier bakeoff
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    shutil.copy(old, run_dir / "summary.json")
    before = json.loads(old.read_text())["models"][0]
    s = load_summary(run_dir)
    assert s.models[0].ttft_s.p50 == before["ttft_s"]["p50"]
    assert s.models[0].aggregate_output_tokens_per_s == before["aggregate_output_tokens_per_s"]
    after = s.models[0].model_dump(mode="json")["ttft_s"]
    # the contract keys unchanged; the one key added since (std) is unknown for an old run
    assert {k: after[k] for k in before["ttft_s"]} == before["ttft_s"] and set(after) - set(
        before["ttft_s"]
    ) == {"std"}
    assert after["std"] is None
    r = run("report", str(run_dir), "--format", "md")
    assert r.returncode == 0, r.stderr
    assert f"| {before['model']} | ok |" in r.stdout
    r = run("compare", str(run_dir), str(run_dir))
    assert r.returncode == 0, r.stderr
    assert f"| {before['model']} | latency_s.p50 |" in r.stdout


def test_the_library_front_door(fake, tmp_path: Path) -> None:
    from bakeoff.config.settings import BenchSettings, PromptCase
    from bakeoff.run.api import benchmark

    settings = BenchSettings(models=["good", "missing-at-server"], endpoint=fake.base_url, rounds=1, warmup=0)
    s = benchmark(settings, [PromptCase(id="p", prompt="one two")], tmp_path / "run")
    good, missing = s.models
    assert good.status == "ok" and good.ttft_s.n == 1 and good.tokens.completion_mean == 64
    assert missing.status == "error" and missing.error  # a failed model is a row, not an exception
    assert load_summary(tmp_path / "run").models[0].model == "good"


def test_a_registered_renderer_is_written_by_every_run(fake, tmp_path: Path) -> None:
    from bakeoff.reporters import RENDERERS, register_renderer
    from bakeoff.reporters.report import RunReport

    def models_txt(report: RunReport) -> str:
        n = sum(1 for _ in report.iter_records())  # read from records.jsonl as the renderer asks
        return "".join(f"{m.model} {m.status} {n}\n" for m in report.summary.models)

    register_renderer("txt", "models.txt", models_txt)
    try:
        bench(fake.base_url, ["good"], tmp_path / "run", rounds=1)
        assert (tmp_path / "run" / "models.txt").read_text() == "good ok 3\n"  # warm-up + 2 prompts
        with pytest.raises(ValueError, match="already registered"):
            register_renderer("md", "x.md", models_txt)
    finally:
        RENDERERS.pop("txt")


def test_a_summary_with_a_metric_from_an_absent_plugin_still_loads(tmp_path: Path) -> None:
    from bakeoff.results.schema import ModelSummary

    with registered(DOUBLE):
        row = ModelSummary(
            model="m", backend="x", status="ok", double_ttft_s={"n": 2, "mean": 0.4, "p50": 0.4}
        )
        saved = row.model_dump(mode="json")
    assert saved["double_ttft_s"]["n"] == 2
    back = ModelSummary.model_validate(saved)  # the plugin is not registered now
    assert back.stat("double_ttft_s").n == 2 and back.model_dump(mode="json") == saved
    with pytest.raises(ValueError, match="bogus"):
        ModelSummary.model_validate({**saved, "bogus": 1})  # anything that is not STATS-shaped is refused


def test_python_m_bakeoff_cli() -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "bakeoff.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("bakeoff ")


def test_benchmark_records_where_its_prompts_came_from(fake, tmp_path: Path) -> None:
    from bakeoff.config.settings import BenchSettings, PromptCase
    from bakeoff.run.api import benchmark

    settings = BenchSettings(models=["good"], endpoint=fake.base_url, rounds=1, warmup=0)
    s = benchmark(settings, [PromptCase(id="p", prompt="x")], tmp_path)
    assert s.run.settings["prompts_source"] == "prompts passed to benchmark()"
